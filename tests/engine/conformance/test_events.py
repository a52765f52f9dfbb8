"""EventBridge events: envelope, detail fields, state names (CANCELED spelling) and their order."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import attrs

from pipepilot.local._events import BLOCK_EVENTS

from ._support import (
    ACTION_STATE_CHANGE,
    HOUR,
    PIPELINE,
    PIPELINE_STATE_CHANGE,
    STAGE_STATE_CHANGE,
    Env,
    approval_action,
    s3_source,
    stage,
)

if TYPE_CHECKING:
    import pytest

PIPELINE_STATES = {
    "CANCELED",
    "FAILED",
    "RESUMED",
    "STARTED",
    "STOPPED",
    "STOPPING",
    "SUCCEEDED",
    "SUPERSEDED",
}
STAGE_STATES = {"CANCELED", "FAILED", "RESUMED", "STARTED", "STOPPED", "STOPPING", "SUCCEEDED"}
ACTION_STATES = {"ABANDONED", "CANCELED", "FAILED", "STARTED", "SUCCEEDED"}


def _keys(env: Env, execution: str) -> list[tuple[str, ...]]:
    """(level, stage/action, state) of every event of one execution, in emission order."""
    keys: list[tuple[str, ...]] = []
    for event in env.events(execution_id=execution):
        detail = event["detail"]
        if event["detail-type"] == PIPELINE_STATE_CHANGE:
            keys.append(("pipeline", detail["state"]))
        elif event["detail-type"] == STAGE_STATE_CHANGE:
            keys.append(("stage", detail["stage"], detail["state"]))
        else:
            keys.append(("action", detail["stage"], detail["action"], detail["state"]))
    return keys


def test_events_envelope(env: Env) -> None:
    """Every event has the EventBridge envelope: version 0, id, detail-type, source, account, time, region."""
    execution = env.create(env.linear(("Deploy", 60)))
    env.run_until_status(execution, "Succeeded")
    arn = f"arn:aws:codepipeline:us-east-1:{env.aws.account_id}:{PIPELINE}"
    assert env.aws.events
    ids = set()
    for raw in env.aws.events:
        assert raw["version"] == "0"
        assert raw["source"] == "aws.codepipeline"
        assert raw["account"] == env.aws.account_id
        assert raw["region"] == "us-east-1"
        assert raw["resources"] == [arn]
        assert raw["detail-type"] in {PIPELINE_STATE_CHANGE, STAGE_STATE_CHANGE, ACTION_STATE_CHANGE}
        assert raw["time"]
        assert isinstance(raw["detail"], dict)
        ids.add(raw["id"])
    assert len(ids) == len(env.aws.events)


def test_events_successful_run_in_order(env: Env) -> None:
    """A successful run emits STARTED/SUCCEEDED for pipeline, each stage and each action, nested in order."""
    execution = env.create(env.linear(("Build", 60), ("Deploy", 60)))
    env.run_until_status(execution, "Succeeded")
    expected: list[tuple[str, ...]] = [("pipeline", "STARTED")]
    for name in ("Source", "Build", "Deploy"):
        expected += [
            ("stage", name, "STARTED"),
            ("action", name, name, "STARTED"),
            ("action", name, name, "SUCCEEDED"),
            ("stage", name, "SUCCEEDED"),
        ]
    expected.append(("pipeline", "SUCCEEDED"))
    assert _keys(env, execution) == expected


def test_events_detail_fields(env: Env) -> None:
    """Pipeline STARTED carries the trigger and version; action events the type, region and artifacts."""
    execution = env.create(env.linear(("Deploy", 60)))
    env.run_until_status(execution, "Succeeded")
    started = env.events(PIPELINE_STATE_CHANGE, execution_id=execution)[0]["detail"]
    assert started["pipeline"] == PIPELINE
    assert started["execution-id"] == execution
    assert started["execution-trigger"]["trigger-type"] == "CreatePipeline"
    assert int(started["version"]) == 1

    stage_event = env.events(STAGE_STATE_CHANGE, execution_id=execution, stage="Deploy")[0]["detail"]
    assert stage_event["pipeline"] == PIPELINE
    assert int(stage_event["version"]) == 1

    deploy = env.events(ACTION_STATE_CHANGE, execution_id=execution, action="Deploy")
    assert [event["detail"]["state"] for event in deploy] == ["STARTED", "SUCCEEDED"]
    detail = deploy[0]["detail"]
    assert detail["type"] == {"owner": "AWS", "category": "Deploy", "provider": "CodeDeploy", "version": "1"}
    assert detail["region"] == "us-east-1"
    assert detail["stage"] == "Deploy"
    assert detail["input-artifacts"][0]["name"] == "SourceOutput"
    assert detail["input-artifacts"][0]["s3location"]["bucket"] == env.bucket
    source = env.events(ACTION_STATE_CHANGE, execution_id=execution, action="Source")[-1]["detail"]
    assert source["state"] == "SUCCEEDED"
    assert source["output-artifacts"][0]["name"] == "SourceOutput"


def test_events_failure_carries_error_code(env: Env) -> None:
    """A failed action emits FAILED with execution-result.error-code; stage and pipeline emit FAILED."""
    declaration = env.linear(("Deploy", 60))
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=60, error_code="JobFailed")
    execution = env.create(declaration)
    env.run_until_status(execution, "Failed")
    action = env.events(ACTION_STATE_CHANGE, execution_id=execution, action="Deploy")[-1]["detail"]
    assert action["state"] == "FAILED"
    assert action["execution-result"]["error-code"] == "JobFailed"
    assert env.states(STAGE_STATE_CHANGE, execution_id=execution, stage="Deploy") == ["STARTED", "FAILED"]
    assert env.states(PIPELINE_STATE_CHANGE, execution_id=execution) == ["STARTED", "FAILED"]


def test_events_superseded(env: Env) -> None:
    """A superseded execution emits a pipeline SUPERSEDED event and nothing after it."""
    first = env.create(env.linear(("Build", 60), ("Deploy", 10 * HOUR)))
    env.run_until_in_stage(first, "Deploy")
    superseded = env.start()
    env.run_until_waiting(superseded, "Deploy")
    newer = env.start()
    env.run_until_waiting(newer, "Deploy")
    keys = _keys(env, superseded)
    assert keys[-1] == ("pipeline", "SUPERSEDED")
    assert keys.count(("pipeline", "SUPERSEDED")) == 1


def test_events_stop_and_abandon(env: Env) -> None:
    """Stop-and-abandon emits pipeline STOPPING (with comments), action ABANDONED, stage and pipeline STOPPED."""
    execution = env.create(env.linear(("Build", 600), ("Deploy", 60)))
    env.run_until_in_stage(execution, "Build")
    env.cp.stop_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=execution, abandon=True, reason="Bad commit"
    )
    env.run_until_status(execution, "Stopped", limit=HOUR)
    assert env.states(PIPELINE_STATE_CHANGE, execution_id=execution) == ["STARTED", "STOPPING", "STOPPED"]
    stopping = env.events(PIPELINE_STATE_CHANGE, execution_id=execution)[1]["detail"]
    assert stopping["stop-execution-comments"] == "Bad commit"
    assert env.states(ACTION_STATE_CHANGE, execution_id=execution, action="Build") == ["STARTED", "ABANDONED"]
    assert env.states(STAGE_STATE_CHANGE, execution_id=execution, stage="Build")[-1] == "STOPPED"


def test_events_canceled_spelling_on_update_mid_run(env: Env) -> None:
    """A run cancelled by UpdatePipeline emits CANCELED (one L, upper case), never CANCELLED."""
    execution = env.create(env.linear(("Build", 600), ("Deploy", 60)))
    env.run_until_in_stage(execution, "Build")
    declaration = env.stored()
    declaration["stages"][2]["actions"][0]["configuration"]["DeploymentGroupName"] = "edited"
    env.update(declaration)
    env.run_until_status(execution, "Cancelled", limit=HOUR)

    assert env.states(PIPELINE_STATE_CHANGE, execution_id=execution)[-1] == "CANCELED"
    assert env.states(STAGE_STATE_CHANGE, execution_id=execution, stage="Build")[-1] == "CANCELED"
    assert all("CANCELLED" not in json.dumps(event) for event in env.aws.events)


def test_events_approval_category_and_rejection(env: Env) -> None:
    """Approval action events have type.category Approval; a rejection shows as FAILED."""
    execution = env.create(
        env.declaration(stage("Source", s3_source()), stage("Approval", approval_action()))
    )
    env.run_until(lambda: env.action_status("Approval", "Approve") == "InProgress", limit=HOUR)
    token = env.action_state("Approval", "Approve")["latestExecution"]["token"]
    env.cp.put_approval_result(
        pipelineName=PIPELINE,
        stageName="Approval",
        actionName="Approve",
        result={"summary": "no", "status": "Rejected"},
        token=token,
    )
    env.run_until_status(execution, "Failed", limit=HOUR)
    approval = env.events(ACTION_STATE_CHANGE, execution_id=execution, action="Approve")
    assert [event["detail"]["state"] for event in approval] == ["STARTED", "FAILED"]
    assert all(event["detail"]["type"]["category"] == "Approval" for event in approval)


def test_events_retry_resumes(env: Env) -> None:
    """A stage retry emits RESUMED for the pipeline and the stage (the engine's choice)."""
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=60, times=1)
    execution = env.create(env.linear(("Deploy", 60)))
    env.run_until_status(execution, "Failed")
    env.cp.retry_stage_execution(
        pipelineName=PIPELINE, stageName="Deploy", pipelineExecutionId=execution, retryMode="FAILED_ACTIONS"
    )
    env.run_until_status(execution, "Succeeded")
    assert env.states(PIPELINE_STATE_CHANGE, execution_id=execution) == [
        "STARTED",
        "FAILED",
        "RESUMED",
        "SUCCEEDED",
    ]
    assert env.states(STAGE_STATE_CHANGE, execution_id=execution, stage="Deploy") == [
        "STARTED",
        "FAILED",
        "RESUMED",
        "SUCCEEDED",
    ]


def test_events_states_are_from_the_documented_sets(env: Env) -> None:
    """Across runs that succeed, fail and stop, every state is one of AWS's spellings for its level."""
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=60, times=1)
    first = env.create(env.linear(("Build", 60), ("Deploy", 60)))
    env.run_until_status(first, "Failed")
    second = env.start()
    env.run_until_status(second, "Succeeded")
    third = env.start()
    env.run_until_in_stage(third, "Build")
    env.cp.stop_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=third, abandon=True)
    env.run_until_status(third, "Stopped", limit=HOUR)

    allowed = {
        PIPELINE_STATE_CHANGE: PIPELINE_STATES,
        STAGE_STATE_CHANGE: STAGE_STATES,
        ACTION_STATE_CHANGE: ACTION_STATES,
    }
    for event in env.events():
        assert event["detail"]["state"] in allowed[event["detail-type"]], event


def test_events_reach_moto_eventbridge_default_bus(env: Env) -> None:
    """The events are put on EventBridge's default bus: a rule on source aws.codepipeline delivers them to SQS."""
    queue_url: str = env.sqs.create_queue(QueueName="pipeline-events")["QueueUrl"]
    queue_arn = env.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    env.eventbridge.put_rule(
        Name="pipeline-state", EventPattern=json.dumps({"source": ["aws.codepipeline"]}), State="ENABLED"
    )
    env.eventbridge.put_targets(Rule="pipeline-state", Targets=[{"Id": "queue", "Arn": queue_arn}])
    execution = env.create(env.linear(("Deploy", 60)))
    env.run_until_status(execution, "Succeeded")

    received: list[dict[str, Any]] = []
    while True:
        batch = env.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        received.extend(json.loads(message["Body"]) for message in batch)
    assert len(received) == len(env.aws.events)
    assert {event["detail-type"] for event in received} == {
        PIPELINE_STATE_CHANGE,
        STAGE_STATE_CHANGE,
        ACTION_STATE_CHANGE,
    }


def test_event_log_reads_the_events_as_emitted(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """aws.events holds the envelopes the engines emitted, equal and in order, over many compressed blocks:
    read whole, by index (from either end), by slice and backwards."""
    emitted: list[dict[str, Any]] = []
    put_event = env.aws.world.put_event

    def record(event: dict[str, Any], /) -> None:
        emitted.append(copy.deepcopy(event))
        put_event(event)

    monkeypatch.setattr(env.aws.world, "put_event", record)
    executions = [env.create(env.three_stage())]
    env.run_until_status(executions[0], "Succeeded")
    while len(emitted) <= 2 * BLOCK_EVENTS + 10:
        executions.append(env.start())
        env.run_until_status(executions[-1], "Succeeded")

    log = env.aws.events
    assert list(log) == emitted
    assert log == emitted
    assert len(log) == len(emitted)
    assert [log[i] for i in (0, BLOCK_EVENTS - 1, BLOCK_EVENTS, -1, -len(emitted))] == [
        emitted[i] for i in (0, BLOCK_EVENTS - 1, BLOCK_EVENTS, -1, -len(emitted))
    ]
    assert log[5 : 2 * BLOCK_EVENTS + 3 : 7] == emitted[5 : 2 * BLOCK_EVENTS + 3 : 7]
    assert list(reversed(log)) == emitted[::-1]
    assert json.dumps(log[-1]) == json.dumps(emitted[-1])  # the same types, key order included


def test_event_log_stays_bounded(env: Env) -> None:
    """Under event_history_limit the log keeps the newest events only, however many the engines emit."""
    env.aws.codepipeline_settings = attrs.evolve(env.aws.codepipeline_settings, event_history_limit=300)
    first = env.create(env.three_stage())
    env.run_until_status(first, "Succeeded")
    for _ in range(60):
        env.run_until_status(env.start(), "Succeeded")
    last = env.start()
    env.run_until_status(last, "Succeeded")

    log = env.aws.events
    assert 300 <= len(log) <= 303
    assert log[-1]["detail"]["execution-id"] == last
    assert log[-1]["detail"]["state"] == "SUCCEEDED"
    assert all(event["detail"].get("execution-id") != first for event in log)
