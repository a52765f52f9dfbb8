"""``pipepilot.local`` used from threads: callbacks outside the lock, per-thread deadlines, call latency."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

import pipepilot.local
from pipepilot import CodePipeline
from pipepilot.errors import ExecutionSuperseded

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipepilot.local import OfflineAWS

_T = TypeVar("_T")

ROLE = "arn:aws:iam::123456789012:role/release"
TOPIC = "arn:aws:sns:us-east-1:123456789012:approvals"
# Wall seconds a scenario may take before the test calls it hung (they take well under a second).
HANG = 60.0


def _stage(name: str, category: str, provider: str, **configuration: str) -> dict[str, Any]:
    action_type = {"category": category, "owner": "AWS", "provider": provider, "version": "1"}
    outputs = [{"name": "App"}] if category == "Source" else []
    action = {"name": name, "actionTypeId": action_type, "configuration": configuration}
    return {"name": name, "actions": [{**action, "outputArtifacts": outputs}]}


def _pipeline(name: str, *stages: dict[str, Any]) -> dict[str, Any]:
    source = _stage("Source", "Source", "S3", S3Bucket="app", S3ObjectKey="app.zip")
    stages = stages or (_stage("Deploy", "Deploy", "CloudFormation"),)
    return {
        "name": name,
        "roleArn": ROLE,
        "artifactStore": {"type": "S3", "location": "artifacts"},
        "stages": [source, *stages],
    }


def _open(aws: OfflineAWS) -> None:
    """No IAM role checks; the artifact bucket every pipeline here uses."""
    aws.verify_roles = False
    aws.client("s3").create_bucket(Bucket="artifacts")


def _in_a_thread(scenario: Callable[[], _T]) -> _T:
    """Run ``scenario`` in a thread and return its result; fail (instead of hanging) after HANG seconds."""
    outcome: list[_T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(scenario())
        except BaseException as error:  # handed to the test thread below
            errors.append(error)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(HANG)
    assert not runner.is_alive(), f"the scenario still runs after {HANG:g} s: the engine deadlocked"
    if errors:
        raise errors[0]
    return outcome[0]


# -- callbacks run outside the engine's lock ------------------------------------------------------------


def test_an_sns_subscriber_can_read_the_fleet() -> None:
    """An approval bot subscribed to the notification topic reads the fleet (worker threads calling the
    engine) and approves: the delivery runs outside the engine's lock, so nothing deadlocks."""

    def scenario() -> tuple[str, list[str]]:
        with pipepilot.local.offline() as aws:
            _open(aws)
            aws.client("sns").create_topic(Name="approvals")
            client = aws.client("codepipeline")
            for name in ("api", "web", "batch"):
                client.create_pipeline(pipeline=_pipeline(name))
            seen: list[str] = []

            def bot(event: dict[str, Any], context: Any) -> None:
                states = CodePipeline(client=aws.client("codepipeline")).states("*")
                seen.extend(sorted(states.states))
                approval = json.loads(event["Records"][0]["Sns"]["Message"])["approval"]
                aws.client("codepipeline").put_approval_result(
                    pipelineName=approval["pipelineName"],
                    stageName=approval["stageName"],
                    actionName=approval["actionName"],
                    token=approval["token"],
                    result={"status": "Approved", "summary": "fleet looks calm"},
                )

            aws.subscribe(TOPIC, bot)
            client.create_pipeline(
                pipeline=_pipeline("release", _stage("Approve", "Approval", "Manual", NotificationArn=TOPIC))
            )
            aws.clock.advance(600)
            (run,) = client.list_pipeline_executions(pipelineName="release")["pipelineExecutionSummaries"]
            return run["status"], seen

    status, seen = _in_a_thread(scenario)
    assert seen == ["api", "batch", "release", "web"]
    assert status == "Succeeded"


def test_a_lambda_handler_can_read_the_fleet() -> None:
    """A Lambda invoke action's handler reads the fleet from worker threads, then reports success: the
    handler runs outside the engine's lock, so nothing deadlocks."""

    def scenario() -> tuple[str, int]:
        with pipepilot.local.offline() as aws:
            _open(aws)
            client = aws.client("codepipeline")
            for name in ("api", "web"):
                client.create_pipeline(pipeline=_pipeline(name))
            counted: list[int] = []

            @aws.lambda_function("census")
            def census(event: dict[str, Any], context: Any) -> None:
                states = CodePipeline(client=aws.client("codepipeline")).states("*")
                counted.append(len(states.states))
                aws.client("codepipeline").put_job_success_result(jobId=event["CodePipeline.job"]["id"])

            client.create_pipeline(
                pipeline=_pipeline("release", _stage("Census", "Invoke", "Lambda", FunctionName="census"))
            )
            aws.clock.advance(600)
            (run,) = client.list_pipeline_executions(pipelineName="release")["pipelineExecutionSummaries"]
            return run["status"], counted[0]

    status, counted = _in_a_thread(scenario)
    assert (status, counted) == ("Succeeded", 3)


def test_engine_entry_points_answer_other_threads_while_a_handler_runs() -> None:
    """While a subscriber runs, another thread's request, scripting call and clock reads go through."""

    def scenario() -> list[str]:
        with pipepilot.local.offline() as aws:
            _open(aws)
            aws.client("sns").create_topic(Name="approvals")
            answered: list[str] = []

            def handler(event: dict[str, Any], context: Any) -> None:
                def other() -> None:
                    aws.client("codepipeline").list_pipelines()
                    aws.script_action("release", "Approve", "Approve", times=1)
                    aws.clock.now()
                    answered.append("other thread")

                worker = threading.Thread(target=other)
                worker.start()
                worker.join(HANG)
                answered.append("handler")

            aws.subscribe(TOPIC, handler)
            aws.world.publish_sns(TOPIC, "{}")
            aws.clock.advance(1)
            return answered

    assert _in_a_thread(scenario) == ["other thread", "handler"]


# -- each thread's deadline is its own ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10))
def test_a_throttled_start_keeps_its_retry_budget_next_to_eight_waiting_threads(seed: int) -> None:
    """Eight threads wait (polling, sleeping) on an hour-long execution while a ninth starts the pipeline
    through five throttled attempts: the start succeeds on its sixth attempt, within its own 60 s deadline,
    because the waiters' sleeps do not use up the starter's time."""

    def scenario() -> tuple[bool, int, list[str]]:
        with pipepilot.local.offline(seed=seed) as aws:
            _open(aws)
            aws.default_durations["Deploy"] = 3600.0
            aws.client("codepipeline").create_pipeline(
                pipeline=_pipeline("release", _stage("Deploy", "Deploy", "CloudFormation"))
            )
            pipeline = CodePipeline().pipeline("release")
            running = pipeline.start()
            ends: list[str] = []
            started: list[bool] = []

            def wait() -> None:
                try:
                    ends.append(str(running.wait().status))
                except ExecutionSuperseded:  # the ninth thread's execution may overtake it: an end too
                    ends.append("Superseded")

            def start() -> None:
                started.append(bool(pipeline.start().id))

            waiters = [threading.Thread(target=wait) for _ in range(8)]
            for waiter in waiters:
                waiter.start()
            aws.faults.add(
                operation="StartPipelineExecution", error="ThrottlingException", nth=[1, 2, 3, 4, 5]
            )
            starter = threading.Thread(target=start)
            starter.start()
            for thread in (*waiters, starter):  # a plain join: the clock presumes this thread blocked
                thread.join(HANG)
            return bool(started and started[0]), len(aws.faults.log), ends

    started, throttled, ends = _in_a_thread(scenario)
    assert started, "the start gave up before its sixth attempt"
    assert throttled == 5
    assert len(ends) == 8
    assert len(set(ends)) == 1


# -- calls take virtual time ----------------------------------------------------------------------------


def _metadata(aws: OfflineAWS, name: str) -> dict[str, Any]:
    return aws.client("codepipeline").get_pipeline(name=name)["metadata"]  # type: ignore[no-any-return]


def test_an_update_is_stamped_after_the_create() -> None:
    """With the default call latency, update_pipeline leaves metadata.updated later than metadata.created."""
    with pipepilot.local.offline() as aws:
        _open(aws)
        client = aws.client("codepipeline")
        declaration = client.create_pipeline(pipeline=_pipeline("release"))["pipeline"]
        client.update_pipeline(pipeline=declaration)
        metadata = _metadata(aws, "release")
    assert metadata["updated"] > metadata["created"]


def test_consecutive_calls_are_stamped_one_call_latency_apart() -> None:
    """Each CodePipeline or CodeBuild call takes its caller exactly ``call_latency`` virtual seconds, and
    the engine applies it at the end of that time: timestamps of calls in a row step by the latency."""
    with pipepilot.local.offline(call_latency=0.25) as aws:
        _open(aws)
        client = aws.client("codepipeline")
        before = aws.clock.now()
        declaration = client.create_pipeline(pipeline=_pipeline("release"))["pipeline"]
        created = _metadata(aws, "release")["created"].timestamp()
        client.update_pipeline(pipeline=declaration)
        first = _metadata(aws, "release")["updated"].timestamp()
        client.update_pipeline(pipeline=declaration)
        second = _metadata(aws, "release")["updated"].timestamp()
        aws.client("codebuild").list_projects()
        after = aws.clock.now()
    assert created == before + 0.25
    assert first == created + 0.5  # a get_pipeline in between
    assert second == first + 0.5
    assert after == before + 7 * 0.25


def test_call_latency_zero_keeps_every_call_at_one_moment() -> None:
    """With call_latency=0, calls take no virtual time (time moves only when advanced or slept)."""
    with pipepilot.local.offline(call_latency=0) as aws:
        _open(aws)
        before = aws.clock.now()
        aws.client("codepipeline").create_pipeline(pipeline=_pipeline("release"))
        aws.client("codepipeline").list_pipelines()
        metadata = _metadata(aws, "release")
        assert aws.clock.now() == before
    assert metadata["created"] == metadata["updated"]
    assert metadata["created"].timestamp() == before


@pytest.mark.parametrize("latency", [-0.001, float("inf"), float("nan"), "1ms", True])
def test_call_latency_must_be_a_non_negative_number(latency: Any) -> None:
    """A negative, infinite, non-number (or bool) call_latency is refused when offline() is called."""
    with pytest.raises(ValueError, match="call_latency"):
        pipepilot.local.offline(call_latency=latency)
