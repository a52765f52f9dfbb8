"""Stages and actions on the offline engine: state, retry, rollback, condition overrides, action runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

from pipepilot import PollPolicy
from pipepilot._calls import RetryPolicy
from pipepilot.errors import (
    ConditionNotOverridableError,
    ConnectionFailure,
    ExecutionFailed,
    NotLatestPipelineExecutionError,
    RequestValidationError,
    StageNotFoundError,
    StageNotRetryableError,
)
from pipepilot.model.runtime import ActionExecutionDetail, ActionState, StageState
from pipepilot.pipelines import CodePipeline

from .offline_world import (
    PIPELINE,
    REGION,
    World,
    call_counter,
    codebuild,
    deploy,
    s3_source,
    stage,
)

if TYPE_CHECKING:
    from pipepilot.pipelines import Pipeline


def deploy_from_source(name: str) -> dict[str, Any]:
    return {**deploy(name), "inputArtifacts": [{"name": "SourceOutput"}]}


def gate(result: str = "FAIL") -> dict[str, Any]:
    """A condition with one VariableCheck rule that passes when #{variables.GATE} is 'open'."""
    return {
        "conditions": [
            {
                "result": result,
                "rules": [
                    {
                        "name": "GateIsOpen",
                        "ruleTypeId": {
                            "category": "Rule",
                            "owner": "AWS",
                            "provider": "VariableCheck",
                            "version": "1",
                        },
                        "configuration": {"Variable": "#{variables.GATE}", "Value": "open", "Operator": "EQ"},
                    }
                ],
            }
        ]
    }


def staging_prod(
    world: World, *, staging_fails_once: bool = False, staging: float = 60, prod: float = 60
) -> Pipeline:
    if staging_fails_once:
        world.aws.script_action(
            PIPELINE, "Staging", "Staging", outcome="Failed", error_message="flaky", times=1
        )
    world.aws.script_action(PIPELINE, "Staging", "Staging", duration=staging)
    world.aws.script_action(PIPELINE, "Prod", "Prod", duration=prod)
    return world.create(
        PIPELINE,
        [
            stage("Source", s3_source()),
            stage("Staging", deploy_from_source("Staging")),
            stage("Prod", deploy_from_source("Prod")),
        ],
    )


def test_stage_state_is_typed_and_unknown_stages_are_reported(world: World) -> None:
    """stage().state() is the StageState; an unknown stage lists those that exist."""
    pipeline = staging_prod(world)
    execution = pipeline.start()
    world.aws.clock.advance(30)
    state = pipeline.stage("Staging").state()
    assert isinstance(state, StageState)
    assert state.latest_execution is not None
    assert state.latest_execution.pipeline_execution_id == execution.id
    with pytest.raises(StageNotFoundError) as raised:
        pipeline.stage("QA").state()
    assert raised.value.available == ("Source", "Staging", "Prod")


def test_retry_resumes_the_failed_execution_by_default(world: World) -> None:
    """retry() reruns the failed actions of the stage's latest execution; the same execution then succeeds."""
    pipeline = staging_prod(world, staging_fails_once=True)
    execution = pipeline.start()
    with pytest.raises(ExecutionFailed):
        execution.wait()
    retried = pipeline.stage("Staging").retry()
    assert retried == execution
    assert execution.wait().status == "Succeeded"
    metadata = pipeline.stage("Staging").state().retry_stage_metadata
    assert metadata is not None
    assert metadata.manual_stage_retry_attempt == 1


def test_retry_all_actions_of_a_named_execution(world: World) -> None:
    """retry(execution, mode="ALL_ACTIONS") reruns the whole stage for that execution."""
    pipeline = staging_prod(world, staging_fails_once=True)
    execution = pipeline.start()
    with pytest.raises(ExecutionFailed):
        execution.wait()
    pipeline.stage("Staging").retry(execution=execution.id, mode="ALL_ACTIONS")
    assert execution.wait().status == "Succeeded"


def test_retrying_a_running_stage_says_to_wait(world: World) -> None:
    """A stage still running is not retryable; the error says so (and what to do)."""
    pipeline = staging_prod(world, staging=600)
    pipeline.start()
    world.aws.clock.advance(60)
    with pytest.raises(StageNotRetryableError, match="still running"):
        pipeline.stage("Staging").retry()


def test_retrying_a_succeeded_stage_says_nothing_failed(world: World) -> None:
    """A succeeded stage is not retryable: nothing failed."""
    pipeline = staging_prod(world)
    execution = pipeline.start()
    execution.wait()
    with pytest.raises(StageNotRetryableError, match="nothing failed"):
        pipeline.stage("Staging").retry(execution=execution)


def test_retrying_an_outdated_execution_says_to_retry_the_latest(world: World) -> None:
    """Once a newer execution entered the stage, the older failure cannot be retried; the error says why."""
    pipeline = staging_prod(world, staging_fails_once=True)
    older = pipeline.start()
    with pytest.raises(ExecutionFailed):
        older.wait()
    newer = pipeline.start()
    newer.wait()
    with pytest.raises(NotLatestPipelineExecutionError) as raised:
        pipeline.stage("Staging").retry(execution=older)
    assert newer.id in str(raised.value)
    assert "latest" in str(raised.value)


def test_a_bad_retry_mode_is_refused_before_sending(world: World) -> None:
    """Only FAILED_ACTIONS and ALL_ACTIONS exist; nothing is sent otherwise."""
    pipeline = staging_prod(world)
    calls = call_counter(world.cp)
    with pytest.raises(RequestValidationError, match="FAILED_ACTIONS"):
        pipeline.stage("Staging").retry(execution="00000000-0000-4000-8000-000000000000", mode="SOME_ACTIONS")
    assert calls == {}


def test_a_lost_retry_is_confirmed_by_the_stage_state(world: World) -> None:
    """A retry applied but unanswered is recognised (the stage runs again) rather than sent twice."""
    pipeline = staging_prod(world, staging_fails_once=True)
    execution = pipeline.start()
    with pytest.raises(ExecutionFailed):
        execution.wait()
    world.aws.faults.add(operation="RetryStageExecution", error="lost-response", nth=1)
    calls = call_counter(world.cp)
    assert pipeline.stage("Staging").retry(execution=execution) == execution
    assert calls["RetryStageExecution"] == 1
    assert execution.wait().status == "Succeeded"


def test_rollback_starts_a_rollback_execution_to_the_target(world: World) -> None:
    """rollback(to=) creates a new ROLLBACK execution of that stage, pointing at the target."""
    pipeline = staging_prod(world)
    good = pipeline.start()
    good.wait()
    pipeline.start().wait()
    rollback = pipeline.stage("Prod").rollback(to=good)
    data = rollback.get()
    assert rollback.id not in (good.id,)
    assert data.execution_type == "ROLLBACK"
    assert data.rollback_metadata is not None
    assert data.rollback_metadata.rollback_target_pipeline_execution_id == good.id


def test_a_lost_rollback_is_found_among_recent_executions(world: World) -> None:
    """A rollback applied but unanswered is recognised by its target; no second rollback is started."""
    pipeline = staging_prod(world)
    good = pipeline.start()
    good.wait()
    pipeline.start().wait()
    world.aws.faults.add(operation="RollbackStage", error="lost-response", nth=1)
    rollback = pipeline.stage("Prod").rollback(to=good.id)
    rollbacks = [s for s in pipeline.executions() if s.execution_type == "ROLLBACK"]
    assert [s.pipeline_execution_id for s in rollbacks] == [rollback.id]


def test_override_lets_a_pending_condition_pass(world: World) -> None:
    """override_condition() on an in-progress beforeEntry condition lets the execution enter the stage."""
    world.aws.default_durations["Rule:VariableCheck"] = 3600.0
    world.aws.script_action(PIPELINE, "Prod", "Prod", duration=60)
    pipeline = world.create(
        PIPELINE,
        [stage("Source", s3_source()), {**stage("Prod", deploy_from_source("Prod")), "beforeEntry": gate()}],
        variables={"GATE": "closed"},
    )
    execution = pipeline.start()
    world.aws.clock.advance(60)
    pipeline.stage("Prod").override_condition("BEFORE_ENTRY")
    assert execution.wait(poll=PollPolicy(timeout=600)).status == "Succeeded"


def test_override_errors(world: World) -> None:
    """A condition not being evaluated is ConditionNotOverridableError; a bad type is refused first."""
    pipeline = staging_prod(world)
    execution = pipeline.start()
    execution.wait()
    with pytest.raises(ConditionNotOverridableError):
        pipeline.stage("Prod").override_condition("BEFORE_ENTRY", execution)
    with pytest.raises(RequestValidationError, match="BEFORE_ENTRY"):
        pipeline.stage("Prod").override_condition("ON_FAILURE", execution)


def test_nothing_to_override_or_retry_in_a_stage_no_execution_entered(world: World) -> None:
    """With no execution given and none ever in the stage, override_condition() raises
    ConditionNotOverridableError and retry() StageNotRetryableError, each saying to start one; nothing is
    sent."""
    pipeline = staging_prod(world)  # the creation run was stopped before Prod
    calls = call_counter(world.cp)
    with pytest.raises(ConditionNotOverridableError, match="no execution has entered it yet; start one"):
        pipeline.stage("Prod").override_condition("BEFORE_ENTRY")
    with pytest.raises(StageNotRetryableError, match="start one"):
        pipeline.stage("Prod").retry()
    assert set(calls) == {"GetPipelineState"}


def test_action_runs_are_listed_per_action_newest_first(world: World) -> None:
    """action.executions() lists only that action's runs (typed), each retry as its own run."""
    pipeline = staging_prod(world, staging_fails_once=True)
    execution = pipeline.start()
    with pytest.raises(ExecutionFailed):
        execution.wait()
    pipeline.stage("Staging").retry()
    execution.wait()
    runs = list(pipeline.stage("Staging").action("Staging").executions())
    assert all(isinstance(run, ActionExecutionDetail) for run in runs)
    assert {(run.stage_name, run.action_name) for run in runs} == {("Staging", "Staging")}
    assert sorted(str(run.status) for run in runs) == ["Failed", "Succeeded"]
    latest = pipeline.stage("Staging").action("Staging").latest_execution(execution=execution)
    assert latest is not None
    assert latest.status == "Succeeded"
    assert isinstance(pipeline.stage("Staging").action("Staging").state(), ActionState)


def test_action_build_of_a_codebuild_action(world: World) -> None:
    """build() finds the build behind a CodeBuild action's latest run."""
    pipeline = world.create(PIPELINE, [stage("Source", s3_source()), stage("Build", codebuild())])
    execution = pipeline.start()
    execution.wait()
    action = pipeline.stage("Build").action("Build")
    run = action.latest_execution()
    assert run is not None
    assert run.output is not None
    assert run.output.execution_result is not None
    build_id = run.output.execution_result.external_execution_id
    build = action.build()
    assert build.id == build_id
    assert build.get().succeeded


def test_action_build_reads_through_a_codebuild_facade_configured_like_the_pipelines(world: World) -> None:
    """build() reads the build through cp.codebuild(): made once, from the pipeline facade's session
    (its credentials), region, botocore config, retry policy and sleep."""
    session = boto3.session.Session(
        aws_access_key_id="AKIDFROMTHESESSION", aws_secret_access_key="secret", region_name=REGION
    )
    policy = RetryPolicy(max_attempts=9, base_delay=0.5)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        world.aws.clock.sleep(seconds)

    world.cp = CodePipeline(
        session=session, config=Config(user_agent_extra="release-bot/1"), retry=policy, sleep=sleep
    )
    pipeline = world.create(PIPELINE, [stage("Source", s3_source()), stage("Build", codebuild())])
    pipeline.start().wait()
    action = pipeline.stage("Build").action("Build")

    build = action.build()
    facade = build.service
    assert facade is world.cp.codebuild()
    assert action.build().service is facade  # one facade (and one set of clients) per pipeline facade
    assert facade.retry is policy
    client: Any = facade.client
    assert client.meta.region_name == world.cp.client.meta.region_name == REGION
    assert "release-bot/1" in client.meta.config.user_agent_extra
    assert client._request_signer._credentials.access_key == "AKIDFROMTHESESSION"

    sleeps.clear()
    world.aws.faults.add(service="codebuild", operation="BatchGetBuilds", error="ThrottlingException", nth=1)
    assert build.get().succeeded
    assert len(sleeps) == 1  # the throttled read was retried after the facade's own sleep


def test_action_build_follows_an_injected_pipeline_clients_region(world: World) -> None:
    """With an injected CodePipeline client, the CodeBuild facade lives in that client's region and keeps
    the retry policy; its client comes from a default boto3 session."""
    policy = RetryPolicy(max_attempts=2)
    cp = CodePipeline(boto3.client("codepipeline", region_name="eu-west-1"), retry=policy)
    facade = cp.codebuild()
    assert facade.retry is policy
    assert facade.client.meta.region_name == "eu-west-1"
    assert facade.logs_client.meta.region_name == "eu-west-1"
    assert cp.codebuild() is facade


def test_action_build_of_another_action_is_refused(world: World) -> None:
    """An action that is not a CodeBuild one has no build."""
    pipeline = staging_prod(world)
    pipeline.start().wait()
    with pytest.raises(ValueError, match="no CodeBuild build"):
        pipeline.stage("Staging").action("Staging").build()


def failing_staging(world: World, *, failures: int) -> Pipeline:
    """Source -> Staging, whose action fails at once ``failures`` times, then succeeds at once."""
    world.aws.script_action(
        PIPELINE, "Staging", "Staging", outcome="Failed", error_message="flaky", duration=0, times=failures
    )
    world.aws.script_action(PIPELINE, "Staging", "Staging", duration=0)
    return world.create(
        PIPELINE, [stage("Source", s3_source()), stage("Staging", deploy_from_source("Staging"))]
    )


def manual_retries(pipeline: Pipeline) -> int:
    metadata = pipeline.stage("Staging").state().retry_stage_metadata
    return 0 if metadata is None else metadata.manual_stage_retry_attempt or 0


@pytest.mark.parametrize(
    "fault", [{"error": "lost-response"}, {"error": "InternalFailure", "applied": True}], ids=["lost", "5xx"]
)
def test_a_retry_applied_without_an_answer_is_never_sent_twice(world: World, fault: dict[str, Any]) -> None:
    """A retry whose answer is lost (or a 5xx after the fact) is recognised by the stage's manual retry
    count, even when the rerun already ended (here: failed again at once); it is not sent again, and the
    stage ran exactly once more."""
    pipeline = failing_staging(world, failures=2)
    execution = pipeline.start()
    with pytest.raises(ExecutionFailed):
        execution.wait()
    world.aws.faults.add(operation="RetryStageExecution", nth=1, **fault)
    calls = call_counter(world.cp)
    assert pipeline.stage("Staging").retry(execution=execution) == execution
    assert calls["RetryStageExecution"] == 1
    assert manual_retries(pipeline) == 1
    runs = list(pipeline.stage("Staging").action("Staging").executions(execution=execution))
    assert [str(run.status) for run in runs] == ["Failed", "Failed"]


def test_a_retry_refused_with_a_5xx_is_sent_again_under_the_policy(world: World) -> None:
    """A RetryStageExecution 5xx that the stage shows was not applied is sent again (not raised)."""
    pipeline = failing_staging(world, failures=1)
    execution = pipeline.start()
    with pytest.raises(ExecutionFailed):
        execution.wait()
    world.aws.faults.add(operation="RetryStageExecution", error="ServiceUnavailable", nth=(1, 2))
    calls = call_counter(world.cp)
    pipeline.stage("Staging").retry(execution=execution)
    assert calls["RetryStageExecution"] == 3
    assert manual_retries(pipeline) == 1
    assert execution.wait().status == "Succeeded"


def test_a_retry_whose_fate_cannot_be_read_is_raised_not_resent(world: World) -> None:
    """When the stage cannot be read back after a lost answer, the error is raised and nothing is resent."""
    pipeline = failing_staging(world, failures=1)
    execution = pipeline.start()
    with pytest.raises(ExecutionFailed):
        execution.wait()
    world.aws.faults.add(operation="RetryStageExecution", error="lost-response", nth=1)
    world.aws.faults.add(operation="GetPipelineState", error="ServiceUnavailable", nth=range(2, 100))
    calls = call_counter(world.cp)
    with pytest.raises(ConnectionFailure):
        pipeline.stage("Staging").retry(execution=execution)
    assert calls["RetryStageExecution"] == 1


def test_a_retry_confirmed_after_another_execution_entered_the_stage(world: World) -> None:
    """If a newer execution has entered the stage by the time the lost retry is checked, the retried
    execution's action runs show it ran again: confirmed, not resent."""
    pipeline = failing_staging(world, failures=2)
    execution = pipeline.start()
    with pytest.raises(ExecutionFailed):
        execution.wait()
    world.aws.clock.advance(60)

    def newer_execution(**_: Any) -> None:
        world.aws.client("codepipeline").start_pipeline_execution(name=PIPELINE)
        world.aws.clock.advance(60)

    world.aws.faults.add(operation="RetryStageExecution", error="lost-response", nth=1)
    world.cp.client.meta.events.register("after-call-error.codepipeline.RetryStageExecution", newer_execution)
    calls = call_counter(world.cp)
    pipeline.stage("Staging").retry(execution=execution)
    assert calls["RetryStageExecution"] == 1
    latest = pipeline.stage("Staging").state().latest_execution
    assert latest is not None
    assert latest.pipeline_execution_id != execution.id
