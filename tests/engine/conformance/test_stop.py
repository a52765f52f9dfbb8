"""StopPipelineExecution: stop-and-wait, stop-and-abandon, and every error row."""

from __future__ import annotations

import pytest

from ._support import HOUR, PIPELINE, Env, codebuild_action, expect_error, s3_source, stage, ts

UNKNOWN_ID = "3b7a1c52-9d1e-4f0a-8b6c-2e5d4f3a1b0c"


def _stop(env: Env, execution: str, *, abandon: bool = False, reason: str = "Stopped by the test") -> str:
    return env.cp.stop_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=execution, abandon=abandon, reason=reason
    )["pipelineExecutionId"]


def test_stop_and_wait_lets_running_actions_finish_then_stops(env: Env) -> None:
    """Stop-and-wait: Stopping while the running action finishes (Succeeded), then Stopped; nothing else starts."""
    execution = env.create(env.linear(("Build", 600), ("Deploy", 60)))
    env.run_until_in_stage(execution, "Build")
    build_start = ts(env.runs_of("Build", "Build", execution)[0]["startTime"])

    assert _stop(env, execution) == execution
    env.flush()
    assert env.status(execution) == "Stopping"
    assert env.stage_latest("Build") == (execution, "Stopping")
    assert env.action_status("Build", "Build") == "InProgress"

    env.run_until_status(execution, "Stopped", limit=HOUR)
    assert env.now() == pytest.approx(build_start + 600)
    run = env.runs_of("Build", "Build", execution)[0]
    assert run["status"] == "Succeeded"
    assert env.stage_latest("Build") == (execution, "Stopped")
    env.aws.clock.advance(HOUR)
    assert not env.entered("Deploy", execution)
    assert env.summary(execution)["stopTrigger"]["reason"] == "Stopped by the test"


def test_stop_and_wait_running_action_may_still_fail(env: Env) -> None:
    """Stop-and-wait: a running action keeps its own outcome (Failed); the execution still ends Stopped."""
    declaration = env.linear(("Build", 600), ("Deploy", 60))
    env.aws.script_action(PIPELINE, "Build", "Build", outcome="Failed", duration=600)
    execution = env.create(declaration)
    env.run_until_in_stage(execution, "Build")
    _stop(env, execution)
    env.run_until_status(execution, "Stopped", "Failed", limit=HOUR)
    assert env.status(execution) == "Stopped"
    assert env.runs_of("Build", "Build", execution)[0]["status"] == "Failed"


def test_stop_and_abandon_marks_running_actions_abandoned_at_once(env: Env) -> None:
    """Stop-and-abandon: running actions become Abandoned immediately and the execution ends Stopped."""
    execution = env.create(env.linear(("Build", 600), ("Deploy", 60)))
    env.run_until_in_stage(execution, "Build")
    stopped_at = env.now()

    _stop(env, execution, abandon=True)
    env.run_until_status(execution, "Stopped", limit=60)
    assert env.runs_of("Build", "Build", execution)[0]["status"] == "Abandoned"
    assert env.action_status("Build", "Build") == "Abandoned"
    assert env.stage_latest("Build") == (execution, "Stopped")
    assert env.now() < stopped_at + 600


def test_stop_and_abandon_does_not_stop_the_codebuild_build(env: Env) -> None:
    """Abandoning leaves the external work alone: the CodeBuild build started by the action runs to its end."""
    execution = env.create(
        env.declaration(
            stage("Source", s3_source()),
            stage("Build", codebuild_action()),
            stage("Test", codebuild_action("Test", inputs=("BuildOutput",), outputs=(), category="Test")),
        )
    )
    env.run_until_in_stage(execution, "Build")
    env.run_until(
        lambda: bool(env.action_state("Build", "Build")["latestExecution"].get("externalExecutionId"))
    )
    build_id = env.action_state("Build", "Build")["latestExecution"]["externalExecutionId"]

    _stop(env, execution, abandon=True)
    env.run_until_status(execution, "Stopped", limit=60)
    assert env.build(build_id)["buildStatus"] == "IN_PROGRESS"
    env.run_until(lambda: env.build(build_id)["buildComplete"], limit=HOUR)
    assert env.build(build_id)["buildStatus"] == "SUCCEEDED"


def test_stop_and_wait_may_be_upgraded_to_abandon(env: Env) -> None:
    """A pending stop-and-wait can be upgraded to stop-and-abandon."""
    execution = env.create(env.linear(("Build", 600), ("Deploy", 60)))
    env.run_until_in_stage(execution, "Build")
    _stop(env, execution)
    _stop(env, execution, abandon=True)
    env.run_until_status(execution, "Stopped", limit=60)
    assert env.runs_of("Build", "Build", execution)[0]["status"] == "Abandoned"


def test_stop_error_DuplicatedStopRequestException(env: Env) -> None:
    """Repeating a stop-and-wait while the execution is Stopping answers DuplicatedStopRequestException."""
    execution = env.create(env.linear(("Build", 600), ("Deploy", 60)))
    env.run_until_in_stage(execution, "Build")
    _stop(env, execution)
    with expect_error("DuplicatedStopRequestException"):
        _stop(env, execution)
    assert env.status(execution) == "Stopping"


@pytest.mark.parametrize("final", ["Succeeded", "Failed", "Stopped"])
def test_stop_error_PipelineExecutionNotStoppableException(env: Env, final: str) -> None:
    """An execution that is no longer in progress cannot be stopped."""
    declaration = env.linear(("Deploy", 60))
    if final == "Failed":
        env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=60)
    execution = env.create(declaration)
    if final == "Stopped":
        env.run_until_in_stage(execution, "Deploy")
        _stop(env, execution, abandon=True)
    env.run_until_status(execution, final)
    with expect_error("PipelineExecutionNotStoppableException"):
        _stop(env, execution)
    assert env.status(execution) == final


def test_stop_error_PipelineNotFoundException(env: Env) -> None:
    """Stopping in an unknown pipeline answers PipelineNotFoundException."""
    with expect_error("PipelineNotFoundException"):
        env.cp.stop_pipeline_execution(pipelineName="missing", pipelineExecutionId=UNKNOWN_ID)


@pytest.mark.parametrize(
    ("execution_id", "reason"),
    [pytest.param("not-a-uuid", "fine", id="bad-id"), pytest.param(None, "x" * 201, id="reason-too-long")],
)
def test_stop_error_ValidationException(env: Env, execution_id: str | None, reason: str) -> None:
    """A malformed execution id or a reason over 200 characters answers ValidationException."""
    execution = env.create(env.linear(("Deploy", 600)))
    with expect_error("ValidationException"):
        _stop(env, execution_id or execution, reason=reason)
    assert env.status(execution) == "InProgress"


def test_stop_unknown_execution_id(env: Env) -> None:
    """An unknown execution id is refused with PipelineExecutionNotFoundException (AWS's code is unconfirmed)."""
    env.create(env.linear(("Deploy", 60)))
    with expect_error("PipelineExecutionNotFoundException"):
        _stop(env, UNKNOWN_ID)


def test_stop_reason_in_stopping_event(env: Env) -> None:
    """The stop reason comes back as ``stop-execution-comments`` on the STOPPING event."""
    execution = env.create(env.linear(("Build", 600), ("Deploy", 60)))
    env.run_until_in_stage(execution, "Build")
    _stop(env, execution, reason="Bad commit")
    env.run_until_status(execution, "Stopped", limit=HOUR)
    stopping = [
        event
        for event in env.events("CodePipeline Pipeline Execution State Change", execution_id=execution)
        if event["detail"]["state"] == "STOPPING"
    ]
    assert len(stopping) == 1
    assert stopping[0]["detail"]["stop-execution-comments"] == "Bad commit"
