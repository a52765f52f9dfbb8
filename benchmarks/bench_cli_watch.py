"""Benchmark: what ``pipepilot watch`` costs over a 30-minute release, against a fixed 5-second loop.

A CI job that waits for a release with ``while sleep 5; do aws codepipeline get-pipeline-execution ...``
sends one request every 5 seconds. ``pipepilot watch`` follows the same execution with the library's
economical waits and still prints every change. On :func:`pipepilot.local.offline`, a pipeline whose
deploy takes 30 virtual minutes is watched (plain-line mode, as in CI) twice: the first execution with no
history, the second after it. Every CodePipeline request the command sends is counted, its own reads
included (the latest execution, the history); the fixed loop's count is one request per 5 s of the
execution. Lateness is the virtual time between the execution's end and the command printing its last line.

Target (issue 11): at most 0.20 of the fixed loop's requests, and the last line within 30 s of the end.

Run: ``python benchmarks/bench_cli_watch.py`` (``--quick``: a 10-minute execution, once, to check that it
works; no verdict).
"""

from __future__ import annotations

import contextlib
import io
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

MAX_RATIO = 0.20
MAX_LATENESS = 30.0
FIXED_INTERVAL = 5.0


def _declaration(name: str, role_arn: str, bucket: str) -> dict[str, Any]:
    """Source (an S3 object) -> Deploy (one CodeDeploy action, as long as the engine is told)."""

    def action(name: str, category: str, provider: str, configuration: dict[str, str]) -> dict[str, Any]:
        return {
            "name": name,
            "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
            "configuration": configuration,
            "outputArtifacts": [{"name": "Src"}] if category == "Source" else [],
            "inputArtifacts": [{"name": "Src"}] if category == "Deploy" else [],
        }

    return {
        "name": name,
        "roleArn": role_arn,
        "artifactStore": {"type": "S3", "location": bucket},
        "stages": [
            {
                "name": "Source",
                "actions": [
                    action(
                        "Source",
                        "Source",
                        "S3",
                        {"S3Bucket": bucket, "S3ObjectKey": "app.zip", "PollForSourceChanges": "false"},
                    )
                ],
            },
            {
                "name": "Deploy",
                "actions": [
                    action(
                        "Deploy",
                        "Deploy",
                        "CodeDeploy",
                        {"ApplicationName": "app", "DeploymentGroupName": "group"},
                    )
                ],
            },
        ],
        "pipelineType": "V2",
        "executionMode": "SUPERSEDED",
    }


class _StampedOutput(io.StringIO):
    """stdout that notes the virtual time of each write (the last one is the closing line)."""

    def __init__(self, now: Callable[[], float]) -> None:
        super().__init__()
        self.now = now
        self.last_write = 0.0

    def write(self, text: str) -> int:
        self.last_write = self.now()
        return super().write(text)


def measure(minutes: int, *, runs: int) -> list[tuple[int, int, float, float]]:
    """Watch ``runs`` executions whose deploy lasts ``minutes``: (fixed, requests, ratio, lateness) each."""
    import boto3

    import pipepilot.local
    from pipepilot import CodePipeline, PipelineDeclaration
    from pipepilot.cli._app import Services, run

    results = []
    with pipepilot.local.offline(region="us-east-1", seed=0) as aws:
        session = boto3.session.Session(region_name="us-east-1")
        role_arn = aws.service_role("bench")
        session.client("s3").create_bucket(Bucket="bench-artifacts")
        cp = CodePipeline(session=session)
        requests = [0]

        def count(**_: object) -> None:
            requests[0] += 1

        cp.client.meta.events.register("before-call.codepipeline", count)
        aws.script_action("web", "Deploy", "Deploy", duration=minutes * 60.0)
        pipeline = cp.create_pipeline(
            PipelineDeclaration.from_api(_declaration("web", role_arn, "bench-artifacts"))
        )
        for number in range(runs):
            execution = pipeline.latest_execution() if number == 0 else pipeline.start()
            assert execution is not None
            requests[0] = 0
            out = _StampedOutput(aws.clock.now)
            with contextlib.redirect_stdout(out):
                code = run(["watch", "web", execution.id, "--plain"], services=Services(codepipeline=cp))
            assert code == 0, out.getvalue()
            sent = requests[0]
            summary = next(s for s in pipeline.executions() if s.pipeline_execution_id == execution.id)
            assert summary.last_update_time is not None
            assert summary.start_time is not None
            duration = (summary.last_update_time - summary.start_time).total_seconds()
            lateness = out.last_write - summary.last_update_time.timestamp()
            fixed = int(duration // FIXED_INTERVAL) + 1
            results.append((fixed, sent, sent / fixed, lateness))
    return results


def main(argv: Sequence[str] = ()) -> int:
    """Print the figures; exit status 1 if one misses its target (never with ``--quick``)."""
    quick = "--quick" in argv
    minutes = 10 if quick else 30
    rows = measure(minutes, runs=1 if quick else 2)
    print(f"pipepilot watch over a {minutes}-minute offline execution (plain lines), requests counted")
    print(f"{'run':<22} {'fixed 5 s':>9} {'watch':>6} {'ratio':>6} {'late':>7}")
    within = True
    for label, (fixed, sent, ratio, lateness) in zip(
        ("first (no history)", "second (after one)"), rows, strict=False
    ):
        print(f"{label:<22} {fixed:>9} {sent:>6} {ratio:>6.3f} {lateness:>6.1f}s")
        within = within and ratio <= MAX_RATIO and lateness <= MAX_LATENESS
    if quick:
        print("--quick: figures only, no verdict")
        return 0
    print(
        f"target: ratio <= {MAX_RATIO}, last line <= {MAX_LATENESS:.0f} s after the end -> {'OK' if within else 'MISSED'}"
    )
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
