"""The Slack interaction path against Slack's 3-second limit, and what hostile requests achieve (nothing).

Slack shows the user an error unless the interactivity request is answered within 3 seconds, and the
handler answers only after its AWS work (a Python Lambda function cannot keep working once it has
responded). So this measures, in wall time, one click through ``SlackInteractions`` inside
``pipepilot.local.offline()`` with **every AWS call delayed 50 ms** (a wall-clock latency fault on every
call, Secrets Manager included) and the ``response_url`` update delayed 50 ms too: verify the signature,
find the approval of the execution the button names, answer it, update the message. Figures:

* a cold click (a new container: the signing secret read from Secrets Manager, the first client made), a
  warm click (median), a double click ("already decided") and a stale click (a stopped execution): AWS
  calls made and wall time, next to the 3 s budget and as a ratio to one bare 50 ms call (the baseline,
  measured in the same run: the least any handler that answers an approval must spend);
* forged, stale (stamped 2001, and six minutes old), replayed, unsigned (legacy verification token only),
  tampered, unauthorised and other-workspace requests tried, and the approvals they caused.

    .venv/bin/python benchmarks/bench_slack_path.py           # exits 1 if a target is missed
    .venv/bin/python benchmarks/bench_slack_path.py --quick   # a smoke run: figures mean little

For the record, the cold-start import of ``pipepilot.awslambda.slack`` (which loads ``slack_sdk``) against
``import boto3``, in fresh interpreters.

Targets: a warm click within half of Slack's budget (1.5 s) and a cold one within 2.5 s; 0 approvals from
hostile requests.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the simulated Slack of the tests (tests/_slack.py)

from tests._slack import (  # noqa: E402
    APPROVER_ID,
    OTHER_TEAM_ID,
    SIGNING_SECRET,
    STRANGER_ID,
    TEAM_ID,
    click_payload,
    form_body,
    http_event,
    sign,
)

import pipepilot.local  # noqa: E402
from pipepilot.awslambda import Secret, forget_secrets  # noqa: E402
from pipepilot.awslambda.slack import Approvers, SlackInteractions  # noqa: E402

if TYPE_CHECKING:
    from pipepilot.local import OfflineAWS

LATENCY = 0.05
BUDGET = 3.0
WARM_TARGET = 1.5
COLD_TARGET = 2.5
PIPELINE = "release"


def _stages(topic: str) -> list[dict[str, Any]]:
    def action(name: str, category: str, provider: str, **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
            "runOrder": 1,
            **extra,
        }

    return [
        {
            "name": "Source",
            "actions": [
                action(
                    "Source",
                    "Source",
                    "S3",
                    configuration={
                        "S3Bucket": "src",
                        "S3ObjectKey": "app.zip",
                        "PollForSourceChanges": "false",
                    },
                    outputArtifacts=[{"name": "SourceOutput"}],
                )
            ],
        },
        {
            "name": "Gate",
            "actions": [action("Approve", "Approval", "Manual", configuration={"NotificationArn": topic})],
        },
        {
            "name": "Prod",
            "actions": [
                action(
                    "Deploy",
                    "Deploy",
                    "CodeDeploy",
                    configuration={"ApplicationName": "app", "DeploymentGroupName": "prod"},
                    inputArtifacts=[{"name": "SourceOutput"}],
                )
            ],
        },
    ]


class World:
    """An offline account with a gated pipeline, Slack's messages captured, and a latency fault on AWS."""

    def __init__(self, aws: OfflineAWS) -> None:
        self.aws = aws
        role = aws.service_role("pipeline")
        s3 = aws.client("s3")
        for bucket in ("src", "artifacts"):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket="src", Key="app.zip", Body=b"PK\x05\x06" + b"\x00" * 18)
        topic = aws.client("sns").create_topic(Name="approvals")["TopicArn"]
        self.codepipeline = aws.client("codepipeline")
        self.codepipeline.create_pipeline(
            pipeline={
                "name": PIPELINE,
                "roleArn": role,
                "artifactStore": {"type": "S3", "location": "artifacts"},
                "stages": _stages(topic),
                "version": 1,
            }
        )
        aws.script_action(PIPELINE, "Prod", "Deploy", duration=60)
        # Creating a pipeline starts it; each measured click gets an execution of its own instead.
        for summary in self.codepipeline.list_pipeline_executions(pipelineName=PIPELINE)[
            "pipelineExecutionSummaries"
        ]:
            self.codepipeline.stop_pipeline_execution(
                pipelineName=PIPELINE, pipelineExecutionId=summary["pipelineExecutionId"], abandon=True
            )
        aws.clock.advance(5)
        self.secret_arn = aws.client("secretsmanager").create_secret(
            Name="slack", SecretString=json.dumps({"signing_secret": SIGNING_SECRET})
        )["ARN"]
        self.updates: list[dict[str, Any]] = []
        self.rule: Any = None
        self.put_rule: Any = None

    def handler(self) -> SlackInteractions:
        """A handler as a new Lambda container makes it (its own CodePipeline client, secret not read yet)."""

        def respond(url: str, body: Any) -> None:
            time.sleep(LATENCY)  # the response_url post, 50 ms away
            self.updates.append(dict(body))

        return SlackInteractions(
            signing_secret=Secret.secrets_manager(self.secret_arn, key="signing_secret"),
            team_id=TEAM_ID,
            approvers=Approvers({APPROVER_ID: f"{PIPELINE}/Gate"}),
            respond=respond,
            clock=self.aws.clock.now,
        )

    def slow_aws(self) -> None:
        self.rule = self.aws.faults.add(latency=LATENCY)
        # Only counts: every PutApprovalResult request (a microsecond more is nothing next to 50 ms).
        self.put_rule = self.aws.faults.add(operation="PutApprovalResult", latency=1e-6)

    def puts(self) -> int:
        """PutApprovalResult requests made so far (every attempt)."""
        return int(self.put_rule.calls)

    def calls(self) -> int:
        return int(self.rule.calls)

    def waiting(self) -> tuple[str, str]:
        """Start an execution and wait (virtual time) until its approval waits: (execution id, button value)."""
        execution = self.codepipeline.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
        for _ in range(600):
            self.aws.clock.advance(1)
            for stage in self.codepipeline.get_pipeline_state(name=PIPELINE)["stageStates"]:
                latest = (
                    (stage["actionStates"][0].get("latestExecution") or {})
                    if stage["stageName"] == "Gate"
                    else {}
                )
                holder = (stage.get("latestExecution") or {}).get("pipelineExecutionId")
                if latest.get("status") == "InProgress" and latest.get("token") and holder == execution:
                    run = latest["actionExecutionId"]
                    value = json.dumps(
                        {"v": 1, "p": PIPELINE, "s": "Gate", "a": "Approve", "e": execution, "r": run},
                        separators=(",", ":"),
                    )
                    return execution, value
        raise RuntimeError("the approval never started waiting")

    def still_waiting(self, execution: str) -> bool:
        runs = self.codepipeline.list_action_executions(
            pipelineName=PIPELINE, filter={"pipelineExecutionId": execution}
        )["actionExecutionDetails"]
        return any(r["stageName"] == "Gate" and r["status"] == "InProgress" for r in runs)


def _event(value: str, now: float, **options: Any) -> dict[str, Any]:
    payload_options = {key: options.pop(key) for key in ("user_id", "team_id", "action_id") if key in options}
    payload = click_payload(value, **payload_options)
    return http_event(form_body(payload), timestamp=int(now), **options)


def _timed(world: World, handler: SlackInteractions, event: dict[str, Any]) -> tuple[float, int, int]:
    before = world.calls()
    started = time.perf_counter()
    status = handler(event, None)["statusCode"]
    return time.perf_counter() - started, world.calls() - before, status


def run(*, quick: bool) -> int:
    rounds = 2 if quick else 7
    hostile_each = 2 if quick else 20
    failures: list[str] = []
    with pipepilot.local.offline(seed=3) as aws:
        world = World(aws)
        world.slow_aws()
        forget_secrets()

        # Baseline: one bare CodePipeline call, 50 ms away.
        started = time.perf_counter()
        world.codepipeline.get_pipeline_state(name=PIPELINE)
        baseline = time.perf_counter() - started

        execution, value = world.waiting()
        handler = world.handler()
        cold, cold_calls, status = _timed(world, handler, _event(value, aws.clock.now()))
        assert status == 200, "the cold click was refused"
        assert not world.still_waiting(execution), "the cold click did not approve"
        aws.clock.advance(2)
        double, double_calls, _ = _timed(world, handler, _event(value, aws.clock.now()))
        assert "Already decided" in world.updates[-1]["text"], world.updates[-1]

        warm_times: list[float] = []
        warm_calls: list[int] = []
        for _ in range(rounds):
            execution, value = world.waiting()
            elapsed, calls, status = _timed(world, handler, _event(value, aws.clock.now()))
            assert status == 200, "a warm click was refused"
            assert not world.still_waiting(execution), "a warm click did not approve"
            warm_times.append(elapsed)
            warm_calls.append(calls)

        execution, value = world.waiting()
        world.codepipeline.stop_pipeline_execution(
            pipelineName=PIPELINE, pipelineExecutionId=execution, abandon=True
        )
        aws.clock.advance(5)
        stale, stale_calls, _ = _timed(world, handler, _event(value, aws.clock.now()))
        assert "no longer waiting" in world.updates[-1]["text"]

        # Hostile requests against a waiting approval.
        execution, value = world.waiting()
        puts_before = world.puts()
        tried = 0
        refused: dict[str, int] = {}

        def attempt(kind: str, event: dict[str, Any]) -> None:
            nonlocal tried
            tried += 1
            status = handler(event, None)["statusCode"]
            refused[kind] = refused.get(kind, 0) + (status != 200 or not _answered(world, execution))

        for _ in range(hostile_each):
            now = aws.clock.now()
            attempt("forged", _event(value, now, secret="guessed-secret"))
            attempt("stamped 2001", _event(value, 978_307_200))
            attempt("six minutes old", _event(value, now - 360))
            unsigned = _event(value, now)
            for header in ("x-slack-signature", "x-slack-request-timestamp"):
                unsigned["headers"].pop(header)
            attempt("unsigned (legacy token only)", unsigned)
            body = form_body(click_payload(value))
            tampered = http_event(
                body.replace(b"U0APPROVER", b"U0APPROVEX"), timestamp=int(now), signature=sign(body, int(now))
            )
            attempt("tampered body", tampered)
            attempt("unauthorised user", _event(value, now, user_id=STRANGER_ID))
            attempt("other workspace", _event(value, now, team_id=OTHER_TEAM_ID))
            # A replay of a request this container accepted (an unauthorised click, answered with a refusal).
            accepted = _event(value, now, user_id=STRANGER_ID)
            handler(accepted, None)
            attempt("replayed", accepted)
            aws.clock.advance(1)
        approvals_caused = world.puts() - puts_before + (0 if world.still_waiting(execution) else 1)

    warm = statistics.median(warm_times)
    print(f"Slack interaction path, every AWS call and the response_url post {LATENCY * 1000:.0f} ms away")
    print(f"  baseline: one bare AWS call            {baseline * 1000:7.1f} ms")
    for name, elapsed, calls in (
        ("cold click (secret read, new client)", cold, cold_calls),
        (f"warm click (median of {rounds})", warm, int(statistics.median(warm_calls))),
        ("double click (already decided)", double, double_calls),
        ("stale click (stopped execution)", stale, stale_calls),
    ):
        print(
            f"  {name:<38} {elapsed * 1000:7.1f} ms  {calls:>4} AWS calls  "
            f"{elapsed / baseline:5.1f} x baseline  {elapsed / BUDGET:5.1%} of Slack's 3 s"
        )
    print(f"Hostile requests: {tried} tried, approvals caused: {approvals_caused}")
    for kind, count in refused.items():
        print(f"  {kind:<30} {count} refused")
    if approvals_caused:
        failures.append(f"{approvals_caused} approvals caused by hostile requests (target 0)")
    if sum(refused.values()) != tried:
        failures.append("a hostile request was accepted")
    if warm > WARM_TARGET:
        failures.append(f"warm click {warm:.2f} s > {WARM_TARGET} s")
    if cold > COLD_TARGET:
        failures.append(f"cold click {cold:.2f} s > {COLD_TARGET} s")
    if failures and not quick:
        print("MISSED: " + "; ".join(failures))
        return 1
    print("OK" if not failures else "(quick run: targets not enforced) " + "; ".join(failures))
    return 0


def _answered(world: World, execution: str) -> bool:
    return not world.still_waiting(execution)


def _import_seconds(statement: str, runs: int) -> float:
    """Median wall time of ``statement`` in fresh interpreters (what a cold start pays to import)."""
    import subprocess

    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    times = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(times)


def imports(*, quick: bool) -> None:
    """Cold-start import of the Slack handlers against ``import boto3``, interleaved, fresh interpreters."""
    runs = 1 if quick else 5
    boto3_time = _import_seconds("import boto3", runs)
    slack_time = _import_seconds("import pipepilot.awslambda.slack", runs)
    sdk_time = _import_seconds("import slack_sdk", runs)
    print(
        f"Cold import: pipepilot.awslambda.slack {slack_time * 1000:.0f} ms = {slack_time / boto3_time:.2f} x "
        f"import boto3 ({boto3_time * 1000:.0f} ms); of which slack_sdk alone {sdk_time * 1000:.0f} ms"
    )


def main() -> int:
    logging.basicConfig(level=logging.ERROR)  # the refusals are logged at WARNING: expected here
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run; targets are not enforced")
    quick = parser.parse_args().quick
    imports(quick=quick)
    return run(quick=quick)


if __name__ == "__main__":
    sys.exit(main())
