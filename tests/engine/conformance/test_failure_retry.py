"""Failure handling inside a stage (F1-F8) and RetryStageExecution with its errors."""

from __future__ import annotations

from typing import Any, cast

import pytest

from ._support import (
    HOUR,
    PIPELINE,
    Env,
    approval_action,
    codedeploy_action,
    expect_error,
    s3_source,
    stage,
    ts,
)


def _two_action_deploy(
    env: Env, *, fail_seconds: float = 60, sibling_seconds: float = 300, **kwargs: Any
) -> str:
    """Source -> Deploy{Failing (fails its first run), Sibling; then Later} -> After; the first execution.

    Runs after the first of ``Failing`` are not scripted: they succeed after the provider's default duration.
    """
    declaration = env.declaration(
        stage("Source", s3_source()),
        stage(
            "Deploy",
            codedeploy_action("Failing", input_artifact="SourceOutput"),
            codedeploy_action("Sibling", input_artifact="SourceOutput"),
            codedeploy_action("Later", input_artifact="SourceOutput", run_order=2),
            **kwargs,
        ),
        stage("After", codedeploy_action("After", input_artifact="SourceOutput")),
    )
    env.aws.script_action(
        PIPELINE,
        "Deploy",
        "Failing",
        outcome="Failed",
        duration=fail_seconds,
        error_code="JobFailed",
        error_message="Deployment d-123 failed",
        times=1,
    )
    env.aws.script_action(PIPELINE, "Deploy", "Sibling", duration=sibling_seconds)
    env.aws.script_action(PIPELINE, "Deploy", "Later", duration=30)
    env.aws.script_action(PIPELINE, "After", "After", duration=30)
    return env.create(declaration)


def _retry(env: Env, execution: str, mode: str = "FAILED_ACTIONS", stage_name: str = "Deploy") -> str:
    return env.cp.retry_stage_execution(
        pipelineName=PIPELINE,
        stageName=stage_name,
        pipelineExecutionId=execution,
        retryMode=cast("Any", mode),
    )["pipelineExecutionId"]


# -- failures inside a stage (F1-F8) -------------------------------------------------------------------------


def test_a_failed_action_does_not_cancel_running_siblings(env: Env) -> None:
    """When one action fails, its still-running siblings in the same group run on to their own outcome."""
    execution = _two_action_deploy(env)
    env.run_until(lambda: env.action_status("Deploy", "Failing") == "Failed")

    assert env.action_status("Deploy", "Sibling") == "InProgress"
    assert env.stage_latest("Deploy") == (execution, "InProgress")
    assert env.status(execution) == "InProgress"
    env.run_until(lambda: env.action_status("Deploy", "Sibling") != "InProgress")
    sibling = env.runs_of("Deploy", "Sibling", execution)[0]
    assert sibling["status"] == "Succeeded"
    assert ts(sibling["lastUpdateTime"]) - ts(sibling["startTime"]) == pytest.approx(300)


def test_no_later_group_starts_after_a_failure(env: Env) -> None:
    """After a failure in a group, no later runOrder group of the stage starts, nor any later stage."""
    execution = _two_action_deploy(env)
    env.run_until_status(execution, "Failed")
    env.aws.clock.advance(HOUR)
    assert env.runs_of("Deploy", "Later", execution) == []
    assert not env.entered("After", execution)


def test_stage_and_execution_fail_once_nothing_runs_and_the_stage_is_freed(env: Env) -> None:
    """Once the last sibling ends, the stage and the execution are Failed and the waiting execution enters."""
    execution = _two_action_deploy(env)
    env.run_until_in_stage(execution, "Deploy")
    waiting = env.start()
    env.run_until_waiting(waiting, "Deploy")
    sibling_start = ts(env.runs_of("Deploy", "Sibling", execution)[0]["startTime"])

    env.run_until_status(execution, "Failed")
    assert env.now() == pytest.approx(sibling_start + 300)  # not at the failure (t+60) but when all ended
    env.flush()
    assert env.stage_latest("Deploy") == (waiting, "InProgress")
    assert ts(env.runs_of("Deploy", "Sibling", waiting)[0]["startTime"]) == pytest.approx(sibling_start + 300)


def test_failed_actions_may_be_retried_while_siblings_still_run(env: Env) -> None:
    """FAILED_ACTIONS retry may be asked while a sibling still runs; only the failed action starts again."""
    execution = _two_action_deploy(env)
    env.run_until(lambda: env.action_status("Deploy", "Failing") == "Failed")
    sibling_before = env.action_state("Deploy", "Sibling")["latestExecution"]["actionExecutionId"]

    assert _retry(env, execution) == execution
    env.run_until_status(execution, "Succeeded")
    assert len(env.runs_of("Deploy", "Failing", execution)) == 2
    sibling_runs = env.runs_of("Deploy", "Sibling", execution)
    assert [run["actionExecutionId"] for run in sibling_runs] == [sibling_before]
    assert env.entered("After", execution)


@pytest.mark.parametrize("how", ["rejected", "timed-out"])
def test_a_rejected_or_expired_approval_fails_like_an_action(env: Env, how: str) -> None:
    """A rejected or expired approval fails the action, the stage and the execution; a retry is possible."""
    execution = env.create(
        env.declaration(
            stage("Source", s3_source()),
            stage("Approval", approval_action(timeout_minutes=30)),
        )
    )
    env.run_until(lambda: env.action_status("Approval", "Approve") == "InProgress")
    if how == "rejected":
        token = env.action_state("Approval", "Approve")["latestExecution"]["token"]
        env.cp.put_approval_result(
            pipelineName=PIPELINE,
            stageName="Approval",
            actionName="Approve",
            result={"summary": "no", "status": "Rejected"},
            token=token,
        )
    env.run_until_status(execution, "Failed", limit=HOUR)

    assert env.action_status("Approval", "Approve") == "Failed"
    assert env.stage_latest("Approval") == (execution, "Failed")
    assert _retry(env, execution, stage_name="Approval") == execution
    assert env.status(execution) == "InProgress"


def test_an_update_mid_run_cancels_once_running_actions_finish(env: Env) -> None:
    """UpdatePipeline during a run lets running actions finish, then cancels stage and execution."""
    execution = env.create(env.linear(("Build", 600), ("Deploy", 60)))
    env.run_until_in_stage(execution, "Build")
    build_start = ts(env.runs_of("Build", "Build", execution)[0]["startTime"])
    declaration = env.stored()
    declaration["stages"][2]["actions"][0]["configuration"]["DeploymentGroupName"] = "edited"
    env.update(declaration)
    env.flush()

    assert env.action_status("Build", "Build") == "InProgress"
    env.run_until(lambda: env.status(execution) != "InProgress", limit=HOUR)
    run = env.runs_of("Build", "Build", execution)[0]
    assert run["status"] == "Succeeded"
    assert ts(run["lastUpdateTime"]) == pytest.approx(build_start + 600)
    assert env.status(execution) == "Cancelled"
    assert env.stage_latest("Build") == (execution, "Cancelled")
    assert not env.entered("Deploy", execution)
    assert len(env.summaries()) == 1  # editing starts no execution


def test_on_failure_retry_configuration_retries_once_automatically(env: Env) -> None:
    """V2 onFailure retryConfiguration: one automatic stage retry, recorded in retryStageMetadata."""
    execution = _two_action_deploy(
        env, onFailure={"result": "RETRY", "retryConfiguration": {"retryMode": "FAILED_ACTIONS"}}
    )
    env.run_until_status(execution, "Succeeded")

    assert len(env.runs_of("Deploy", "Failing", execution)) == 2
    metadata = env.stage_state("Deploy")["retryStageMetadata"]
    assert metadata["autoStageRetryAttempt"] == 1
    assert metadata["latestRetryTrigger"] == "AutomatedStageRetry"


def test_the_automatic_retry_is_attempted_only_once(env: Env) -> None:
    """When the automatic retry fails too, the stage stays Failed: only one automatic attempt per failure."""
    declaration = env.linear(("Deploy", 60))
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=60)
    declaration["stages"][1]["onFailure"] = {
        "result": "RETRY",
        "retryConfiguration": {"retryMode": "ALL_ACTIONS"},
    }
    execution = env.create(declaration)
    env.run_until_status(execution, "Failed")
    env.aws.clock.advance(HOUR)

    assert env.status(execution) == "Failed"
    assert len(env.runs_of("Deploy", "Deploy", execution)) == 2


def test_error_details_show_in_state_and_in_action_executions(env: Env) -> None:
    """The failure code and message appear in GetPipelineState and in ListActionExecutions."""
    execution = _two_action_deploy(env)
    env.run_until_status(execution, "Failed")

    details = env.action_state("Deploy", "Failing")["latestExecution"]["errorDetails"]
    assert details == {"code": "JobFailed", "message": "Deployment d-123 failed"}
    run = env.runs_of("Deploy", "Failing", execution)[0]
    assert run["status"] == "Failed"
    assert run["output"]["executionResult"]["errorDetails"] == details


# -- retry modes ---------------------------------------------------------------------------------------------


def test_retry_FAILED_ACTIONS_reruns_only_failed_actions_in_same_execution(env: Env) -> None:
    """FAILED_ACTIONS starts only the failed action again (new actionExecutionId), keeping the execution id."""
    execution = _two_action_deploy(env, sibling_seconds=30)
    env.run_until_status(execution, "Failed")
    first_failing = env.runs_of("Deploy", "Failing", execution)[0]["actionExecutionId"]

    assert _retry(env, execution) == execution
    env.run_until_status(execution, "Succeeded")
    failing_runs = env.runs_of("Deploy", "Failing", execution)
    assert [run["status"] for run in failing_runs] == ["Failed", "Succeeded"]
    assert failing_runs[1]["actionExecutionId"] != first_failing
    assert len(env.runs_of("Deploy", "Sibling", execution)) == 1
    assert len(env.summaries()) == 1  # no new execution
    metadata = env.stage_state("Deploy")["retryStageMetadata"]
    assert metadata["manualStageRetryAttempt"] == 1
    assert metadata["latestRetryTrigger"] == "ManualStageRetry"


def test_retry_ALL_ACTIONS_reruns_the_whole_stage(env: Env) -> None:
    """ALL_ACTIONS reruns every action of the stage from the first group; the old runs stay listed."""
    execution = _two_action_deploy(env, sibling_seconds=30)
    env.run_until_status(execution, "Failed")

    assert _retry(env, execution, "ALL_ACTIONS") == execution
    env.run_until_status(execution, "Succeeded")
    assert len(env.runs_of("Deploy", "Failing", execution)) == 2
    assert [run["status"] for run in env.runs_of("Deploy", "Sibling", execution)] == [
        "Succeeded",
        "Succeeded",
    ]
    assert len(env.runs_of("Deploy", "Later", execution)) == 1


def test_retry_ALL_ACTIONS_refused_while_an_action_runs(env: Env) -> None:
    """ALL_ACTIONS needs a stage with no action InProgress: StageNotRetryableException otherwise."""
    execution = _two_action_deploy(env)
    env.run_until(lambda: env.action_status("Deploy", "Failing") == "Failed")
    with expect_error("StageNotRetryableException"):
        _retry(env, execution, "ALL_ACTIONS")
    assert env.action_status("Deploy", "Sibling") == "InProgress"


def test_retry_of_stopped_stage_resumes_execution(env: Env) -> None:
    """The stage where an execution was stopped can be retried; the execution runs on."""
    execution = env.create(env.linear(("Build", 600), ("Deploy", 60)))
    env.run_until_in_stage(execution, "Build")
    env.cp.stop_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=execution, abandon=True, reason="x"
    )
    env.run_until_status(execution, "Stopped", limit=HOUR)

    assert _retry(env, execution, "ALL_ACTIONS", stage_name="Build") == execution
    assert env.status(execution) == "InProgress"
    env.run_until_status(execution, "Succeeded")


def test_retry_superseded_execution_is_refused(env: Env) -> None:
    """A superseded execution cannot be retried."""
    first = env.create(env.linear(("Build", 60), ("Deploy", 10 * HOUR)))
    env.run_until_in_stage(first, "Deploy")
    superseded = env.start()
    env.run_until_waiting(superseded, "Deploy")
    newer = env.start()
    env.run_until_waiting(newer, "Deploy")
    assert env.status(superseded) == "Superseded"
    with expect_error(("StageNotRetryableException", "NotLatestPipelineExecutionException")):
        _retry(env, superseded, stage_name="Deploy")
    with expect_error(("StageNotRetryableException", "NotLatestPipelineExecutionException")):
        _retry(env, superseded, stage_name="Build")
    assert env.status(superseded) == "Superseded"


# -- error rows ----------------------------------------------------------------------------------------------


def test_retry_error_NotLatestPipelineExecutionException(env: Env) -> None:
    """Retrying an execution that is no longer the stage's latest is refused as out of date."""
    declaration = env.linear(("Deploy", 60))
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=60)
    first = env.create(declaration)
    env.run_until_status(first, "Failed")
    second = env.start()
    env.run_until_status(second, "Failed")
    with expect_error("NotLatestPipelineExecutionException"):
        _retry(env, first)
    assert env.status(first) == "Failed"


@pytest.mark.parametrize("situation", ["succeeded", "running", "retry-already-running", "structure-changed"])
def test_retry_error_StageNotRetryableException(env: Env, situation: str) -> None:
    """No failed action, a retry already running, or a changed structure: StageNotRetryableException."""
    if situation in ("succeeded", "running"):
        execution = env.create(env.linear(("Deploy", 600)))
        if situation == "succeeded":
            env.run_until_status(execution, "Succeeded")
        else:
            env.run_until_in_stage(execution, "Deploy")
    else:
        env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=60, times=1)
        execution = env.create(env.linear(("Deploy", 600)))
        env.run_until_status(execution, "Failed")
        if situation == "retry-already-running":
            _retry(env, execution)
        else:
            declaration = env.stored()
            declaration["stages"][1]["actions"][0]["configuration"]["DeploymentGroupName"] = "edited"
            env.update(declaration)
    with expect_error("StageNotRetryableException"):
        _retry(env, execution)


def test_retry_error_StageNotFoundException(env: Env) -> None:
    """Retrying an unknown stage answers StageNotFoundException."""
    execution = env.create(env.linear(("Deploy", 60)))
    with expect_error("StageNotFoundException"):
        _retry(env, execution, stage_name="Nowhere")


def test_retry_error_PipelineNotFoundException(env: Env) -> None:
    """Retrying in an unknown pipeline answers PipelineNotFoundException."""
    with expect_error("PipelineNotFoundException"):
        env.cp.retry_stage_execution(
            pipelineName="missing",
            stageName="Deploy",
            pipelineExecutionId="3b7a1c52-9d1e-4f0a-8b6c-2e5d4f3a1b0c",
            retryMode="FAILED_ACTIONS",
        )


@pytest.mark.parametrize(
    ("execution_id", "mode"),
    [
        pytest.param("not-a-uuid", "FAILED_ACTIONS", id="bad-id"),
        pytest.param(None, "SOME_ACTIONS", id="bad-mode"),
    ],
)
def test_retry_error_ValidationException(env: Env, execution_id: str | None, mode: str) -> None:
    """A malformed execution id or a retryMode outside the enum answers ValidationException."""
    execution = env.create(env.linear(("Deploy", 60)))
    with expect_error("ValidationException"):
        _retry(env, execution_id or execution, mode)


def test_retry_error_ConcurrentPipelineExecutionsLimitExceededException(env: Env) -> None:
    """Retrying on a QUEUED pipeline that already has 50 live executions hits the engine's concurrency cap."""
    declaration = env.linear(("Deploy", 60), execution_mode="QUEUED")
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=60, times=1)
    failed = env.create(declaration)
    env.run_until_in_stage(failed, "Deploy")
    env.cp.disable_stage_transition(
        pipelineName=PIPELINE, stageName="Deploy", transitionType="Inbound", reason="Hold the queue"
    )
    env.run_until_status(failed, "Failed")
    for _ in range(50):
        env.start()
    with expect_error("ConcurrentPipelineExecutionsLimitExceededException"):
        _retry(env, failed)
    assert env.status(failed) == "Failed"
