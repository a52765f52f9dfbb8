"""Benchmark: how many calls a wait costs, and how late it returns, in virtual time.

First the policy alone: a fake execution ends ``duration`` seconds after it starts; a wait that begins
with it polls until it sees the end. The default :class:`pipepilot.polling.PollPolicy` (with and without a
history of earlier durations) is compared with a fixed 5-second loop. Then end to end: ``Execution.wait()``
on :func:`pipepilot.local.offline`, counting every request it sends (the history read included), against
a pipeline whose one deploy takes that long, first with no earlier run and then after one. Target
(issue 4): for executions of 10 minutes to 2 hours, at most 20% of the fixed loop's calls, and at most
30 s of lateness.

Run: ``python benchmarks/bench_wait.py`` (``--quick``: one duration and two seeds, to check that it works;
no verdict).
"""

from __future__ import annotations

import random
import sys
from typing import TYPE_CHECKING, Any

import attrs

from pipepilot.polling import Done, Forecast, PollPolicy, PollSchedule, Sleep, wait_until

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pipepilot import PipelineDeclaration

DURATIONS_MINUTES = (10, 20, 30, 60, 90, 120)
SEEDS = range(20)
MAX_RATIO = 0.20
MAX_LATENESS = 30.0
FIXED_INTERVAL = 5.0


@attrs.frozen(kw_only=True)
class Outcome:
    """Calls made and seconds between the end and the poll that saw it."""

    calls: int
    lateness: float


class _VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def simulate_policy(
    duration: float, *, policy: PollPolicy | None = None, history: Sequence[float] = (), seed: int = 0
) -> Outcome:
    """Wait with ``policy`` (default: the default) for an execution ending at ``duration``."""
    time = _VirtualTime()
    schedule = PollSchedule(
        policy=policy or PollPolicy(),
        started=0.0,
        forecast=Forecast.from_history(history),
        rng=random.Random(seed),
    )
    calls = 0

    def fetch() -> bool:
        nonlocal calls
        calls += 1
        return time.now >= duration

    wait_until(
        fetch, lambda finished, now: schedule.decide(finished, now), clock=time.clock, sleep=time.sleep
    )
    return Outcome(calls=calls, lateness=time.now - duration)


def simulate_fixed(duration: float, *, interval: float = FIXED_INTERVAL) -> Outcome:
    """The naive loop: poll, and if not done, sleep ``interval``."""
    time = _VirtualTime()
    calls = 0

    def fetch() -> bool:
        nonlocal calls
        calls += 1
        return time.now >= duration

    wait_until(
        fetch,
        lambda finished, _now: Done() if finished else Sleep(interval),
        clock=time.clock,
        sleep=time.sleep,
    )
    return Outcome(calls=calls, lateness=time.now - duration)


def noisy_history(duration: float, *, seed: int, runs: int = 5, noise: float = 0.15) -> list[float]:
    """``runs`` earlier durations within ``±noise`` of ``duration``."""
    rng = random.Random(f"history-{seed}-{duration}")
    return [duration * (1 + noise * (2 * rng.random() - 1)) for _ in range(runs)]


def _one_deploy(name: str, role_arn: str, *, bucket: str) -> PipelineDeclaration:
    """Source (an S3 object) -> Deploy (one CodeDeploy action, as long as the engine is told)."""
    from pipepilot import PipelineDeclaration

    def action(name: str, category: str, provider: str, configuration: dict[str, str]) -> dict[str, Any]:
        return {
            "name": name,
            "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
            "configuration": configuration,
        }

    source = action(
        "Source",
        "Source",
        "S3",
        {"S3Bucket": bucket, "S3ObjectKey": "app.zip", "PollForSourceChanges": "false"},
    )
    deploy = action(
        "Deploy", "Deploy", "CodeDeploy", {"ApplicationName": "app", "DeploymentGroupName": "group"}
    )
    return PipelineDeclaration.from_api(
        {
            "name": name,
            "roleArn": role_arn,
            "artifactStore": {"type": "S3", "location": bucket},
            "stages": [
                {"name": "Source", "actions": [{**source, "outputArtifacts": [{"name": "Out"}]}]},
                {"name": "Deploy", "actions": [{**deploy, "inputArtifacts": [{"name": "Out"}]}]},
            ],
            "pipelineType": "V2",
        }
    )


def end_to_end(minutes_list: Sequence[int] = DURATIONS_MINUTES) -> None:
    """``Execution.wait()`` on the offline engine: print calls and lateness per duration, and a verdict.

    Each duration gets its own pipeline (Source, then one deploy lasting that long) and two runs: the
    first waits with no history to learn from, the second after the first one succeeded. Every request
    counts, the history read (``ListPipelineExecutions``) included, so this is what a wait really costs.
    """
    import json

    import boto3

    import pipepilot.local
    from pipepilot import CodePipeline

    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codepipeline.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    header = f"{'minutes':>7} {'fixed':>6} | {'calls':>5} {'ratio':>6} {'late':>6} | {'calls*':>6} {'ratio*':>6} {'late*':>6}"
    print(
        "\nend to end: Execution.wait() on pipepilot.local, every request counted; * = after one earlier run"
    )
    print(header)
    print("-" * len(header))
    worst_ratio = worst_late = 0.0
    with pipepilot.local.offline(region="us-east-1", seed=0) as aws:
        session = boto3.session.Session(region_name="us-east-1")
        role = session.client("iam").create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(trust))
        session.client("s3").create_bucket(Bucket="bench-artifacts")
        cp = CodePipeline(session=session)
        calls = [0]

        def count(**_: object) -> None:
            calls[0] += 1

        cp.client.meta.events.register("before-call.codepipeline", count)
        for minutes in minutes_list:
            name = f"bench-{minutes}"
            aws.script_action(name, "Deploy", "Deploy", duration=minutes * 60.0)
            declaration = _one_deploy(name, role["Role"]["Arn"], bucket="bench-artifacts")
            pipeline = cp.create_pipeline(declaration)
            first = pipeline.latest_execution()
            assert first is not None
            row = []
            for run in range(2):
                # The second execution starts once the first ended, so its wait has the first as history.
                execution = first if run == 0 else pipeline.start()
                calls[0] = 0
                final = execution.wait()
                summary = next(
                    s for s in pipeline.executions() if s.pipeline_execution_id == final.pipeline_execution_id
                )
                assert summary.last_update_time is not None
                assert summary.start_time is not None
                lateness = aws.clock.now() - summary.last_update_time.timestamp()
                fixed = simulate_fixed((summary.last_update_time - summary.start_time).total_seconds()).calls
                ratio = calls[0] / fixed
                worst_ratio, worst_late = max(worst_ratio, ratio), max(worst_late, lateness)
                row.append((fixed, calls[0], ratio, lateness))
            (fixed, c1, r1, l1), (_, c2, r2, l2) = row
            print(
                f"{minutes:>7} {fixed:>6} | {c1:>5} {r1:>6.3f} {l1:>5.1f}s | {c2:>6} {r2:>6.3f} {l2:>5.1f}s"
            )
    met = worst_ratio <= MAX_RATIO and worst_late <= MAX_LATENESS
    print(
        f"end to end: worst ratio {worst_ratio:.3f}, worst lateness {worst_late:.1f}s -> "
        f"{'within' if met else 'NOT within'} the policy's target (the history read is one of the calls)"
    )


def main(argv: Sequence[str] = ()) -> int:
    """Print the tables; exit status 1 if any row misses the target (never with ``--quick``)."""
    quick = "--quick" in argv
    durations = DURATIONS_MINUTES[:1] if quick else DURATIONS_MINUTES
    seeds = SEEDS[:2] if quick else SEEDS
    header = (
        f"{'minutes':>7} {'fixed':>6} | {'calls':>5} {'ratio':>6} {'late max':>8}"
        f" | {'calls*':>6} {'ratio*':>6} {'late* max':>9}"
    )
    print("default PollPolicy vs a fixed 5 s loop; * = with a history of 5 runs (±15%);")
    print(f"worst case over {len(seeds)} seeds (jitter and history vary with the seed)")
    print(header)
    print("-" * len(header))
    ok = True
    for minutes in durations:
        duration = minutes * 60.0
        fixed = simulate_fixed(duration)
        plain = [simulate_policy(duration, seed=s) for s in seeds]
        learned = [simulate_policy(duration, history=noisy_history(duration, seed=s), seed=s) for s in seeds]
        rows = []
        for outcomes in (plain, learned):
            calls = max(o.calls for o in outcomes)
            late = max(o.lateness for o in outcomes)
            ratio = calls / fixed.calls
            ok = ok and ratio <= MAX_RATIO and late <= MAX_LATENESS
            rows.append((calls, ratio, late))
        (c1, r1, l1), (c2, r2, l2) = rows
        print(
            f"{minutes:>7} {fixed.calls:>6} | {c1:>5} {r1:>6.3f} {l1:>7.1f}s | {c2:>6} {r2:>6.3f} {l2:>8.1f}s"
        )
    print(f"target: ratio <= {MAX_RATIO}, lateness <= {MAX_LATENESS:.0f}s -> {'met' if ok else 'MISSED'}")
    end_to_end(durations)
    return 0 if ok or quick else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
