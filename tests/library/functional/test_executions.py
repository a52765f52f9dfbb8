"""Executions on the offline engine: start (idempotent), read, list, stop (safely), action runs."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from pipepilot.errors import (
    DuplicatedStopRequestError,
    PipelineExecutionNotFoundError,
    PipelineExecutionNotStoppableError,
    RequestValidationError,
)
from pipepilot.executions import Execution, RevisionOverride
from pipepilot.model.runtime import ActionExecutionDetail, PipelineExecutionSummary

from .offline_world import PIPELINE, World, call_counter, deploy, s3_source, stage

SLOW_DEPLOY = 600.0

if TYPE_CHECKING:
    from pipepilot.pipelines import Pipeline


def two_stage(world: World, name: str = PIPELINE, *, seconds: float = SLOW_DEPLOY, **create: Any) -> Pipeline:
    """Source -> Deploy (one CodeDeploy action lasting ``seconds``)."""
    world.aws.script_action(name, "Deploy", "Deploy", duration=seconds)
    stages = [
        stage("Source", s3_source()),
        stage("Deploy", {**deploy("Deploy"), "inputArtifacts": [{"name": "SourceOutput"}]}),
    ]
    return world.create(name, stages, **create)


def test_start_returns_a_handle_on_the_new_running_execution(world: World) -> None:
    """start() returns an Execution whose get() is the new InProgress run, triggered by the API."""
    pipeline = two_stage(world)
    execution = pipeline.start()
    assert isinstance(execution, Execution)
    data = execution.get()
    assert data.pipeline_execution_id == execution.id
    assert data.status == "InProgress"
    assert data.trigger is not None
    assert data.trigger.trigger_type == "StartPipelineExecution"
    assert pipeline.latest_execution() == execution


def test_start_passes_variables_and_pins_source_revisions(world: World) -> None:
    """Variables override the declared defaults; a revision override is what the source delivers."""
    world.aws.script_action(PIPELINE, "Deploy", "Deploy", duration=60)
    pipeline = world.create(
        PIPELINE,
        [
            stage("Source", s3_source()),
            stage("Deploy", {**deploy("Deploy"), "inputArtifacts": [{"name": "SourceOutput"}]}),
        ],
        variables={"TARGET": "dev"},
    )
    execution = pipeline.start(
        variables={"TARGET": "prod"},
        source_revisions=[
            RevisionOverride(action="Source", revision_type="S3_OBJECT_VERSION_ID", value="v42")
        ],
    )
    world.aws.clock.advance(30)
    data = execution.get()
    assert data.resolved_variables == {"TARGET": "prod"}
    assert [revision.revision_id for revision in data.artifact_revisions] == ["v42"]


def test_start_always_sends_a_token_and_a_lost_response_starts_only_one_execution(world: World) -> None:
    """The first answer is lost; the retry carries the same clientRequestToken, so one execution starts."""
    pipeline = two_stage(world)
    before = len(list(pipeline.executions()))
    sent: list[str] = []
    world.cp.client.meta.events.register(
        "before-parameter-build.codepipeline.StartPipelineExecution",
        lambda params, **_: sent.append(params["clientRequestToken"]),
    )
    world.aws.faults.add(operation="StartPipelineExecution", error="lost-response", nth=1)
    execution = pipeline.start()
    assert len(sent) == 2
    assert sent[0] == sent[1]
    summaries = list(pipeline.executions())
    assert len(summaries) == before + 1
    assert summaries[0].pipeline_execution_id == execution.id


def test_start_with_the_callers_token_twice_is_one_execution(world: World) -> None:
    """The caller's own token makes a repeated start (after a crash, say) return the first execution."""
    pipeline = two_stage(world)
    token = str(uuid.uuid4())
    first = pipeline.start(token=token)
    second = pipeline.start(token=token)
    assert first == second


def test_bad_start_requests_are_refused_before_sending(world: World) -> None:
    """An empty variable value or a malformed token is a RequestValidationError, and nothing is sent."""
    pipeline = two_stage(world)
    calls = call_counter(world.cp)
    with pytest.raises(RequestValidationError, match="value"):
        pipeline.start(variables={"TARGET": ""})
    with pytest.raises(RequestValidationError, match="clientRequestToken"):
        pipeline.start(token="not a token!")
    assert calls.get("StartPipelineExecution", 0) == 0


def test_executions_lists_summaries_lazily_newest_first_and_filters(world: World) -> None:
    """executions() pages lazily; status= and succeeded_in_stage= keep the matching ones."""
    pipeline = two_stage(world, seconds=30)
    first = pipeline.start()
    world.aws.clock.advance(300)  # first succeeds
    second = pipeline.start()
    calls = call_counter(world.cp)
    listing = pipeline.executions()
    assert calls.get("ListPipelineExecutions", 0) == 0  # nothing asked yet
    summaries = list(listing)
    assert all(isinstance(s, PipelineExecutionSummary) for s in summaries)
    assert [s.pipeline_execution_id for s in summaries[:2]] == [second.id, first.id]
    running = [s.pipeline_execution_id for s in pipeline.executions(status="InProgress")]
    assert running == [second.id]
    deployed = [s.pipeline_execution_id for s in pipeline.executions(succeeded_in_stage="Deploy")]
    assert deployed == [first.id]


def test_an_unknown_execution_is_not_found(world: World) -> None:
    """get() of an id the pipeline does not have raises PipelineExecutionNotFoundError."""
    pipeline = two_stage(world)
    with pytest.raises(PipelineExecutionNotFoundError):
        pipeline.execution(str(uuid.uuid4())).get()


def test_actions_lists_typed_action_runs_of_this_execution_only(world: World) -> None:
    """actions() yields ActionExecutionDetail for this execution's runs (Source, then Deploy)."""
    pipeline = two_stage(world, seconds=30)
    execution = pipeline.start()
    world.aws.clock.advance(300)
    runs = list(execution.actions())
    assert all(isinstance(run, ActionExecutionDetail) for run in runs)
    assert {run.pipeline_execution_id for run in runs} == {execution.id}
    assert sorted((run.stage_name, run.action_name, str(run.status)) for run in runs) == [
        ("Deploy", "Deploy", "Succeeded"),
        ("Source", "Source", "Succeeded"),
    ]


# ------------------------------------------------------------------------------------------------------ stop


def running_in_deploy(world: World) -> tuple[Pipeline, Execution]:
    pipeline = two_stage(world)
    execution = pipeline.start()
    world.aws.clock.advance(60)  # Source done, Deploy running for 10 minutes
    latest = pipeline.state().stage("Deploy").latest_execution
    assert latest is not None
    assert latest.status == "InProgress"
    return pipeline, execution


def test_stop_and_wait_lets_the_running_action_finish(world: World) -> None:
    """stop() leaves the execution Stopping until the running action ends, then Stopped, with the reason."""
    pipeline, execution = running_in_deploy(world)
    execution.stop(reason="wrong build")
    assert execution.get().status == "Stopping"
    world.aws.clock.advance(SLOW_DEPLOY)
    assert execution.get().status == "Stopped"
    summary = next(s for s in pipeline.executions() if s.pipeline_execution_id == execution.id)
    assert summary.stop_trigger is not None
    assert summary.stop_trigger.reason == "wrong build"


def test_a_repeated_stop_is_reported_clearly_and_can_be_upgraded_to_abandon(world: World) -> None:
    """A second stop-and-wait raises DuplicatedStopRequestError saying what to do; abandon then works."""
    _, execution = running_in_deploy(world)
    execution.stop()
    with pytest.raises(DuplicatedStopRequestError, match=r"already stopping.*abandon=True"):
        execution.stop()
    execution.stop(abandon=True)
    world.aws.clock.advance(1)
    assert execution.get().status == "Stopped"
    with pytest.raises(PipelineExecutionNotStoppableError):
        execution.stop(abandon=True)


def test_a_lost_stop_is_confirmed_by_reading_not_resent(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The stop is applied but its answer lost: pipepilot reads Stopping, reports success, sends no second stop."""
    _, execution = running_in_deploy(world)
    calls = call_counter(world.cp)
    world.aws.faults.add(operation="StopPipelineExecution", error="lost-response", nth=1)
    with caplog.at_level(logging.INFO, logger="pipepilot.executions"):
        execution.stop()
    assert calls["StopPipelineExecution"] == 1
    assert execution.get().status == "Stopping"
    assert "confirmed" in caplog.text


def test_a_lost_abandon_is_confirmed(world: World) -> None:
    """An abandon whose answer was lost ends in Stopped without any error."""
    _, execution = running_in_deploy(world)
    world.aws.faults.add(operation="StopPipelineExecution", error="lost-response", nth=1)
    execution.stop(abandon=True)
    world.aws.clock.advance(1)
    assert execution.get().status == "Stopped"


def test_a_stop_that_never_arrived_is_sent_again(world: World) -> None:
    """A connection that failed before the request arrived: the stop is sent again and takes effect."""
    _, execution = running_in_deploy(world)
    world.aws.faults.add(operation="StopPipelineExecution", error="ServiceUnavailable", nth=1)
    execution.stop()
    assert execution.get().status == "Stopping"


def test_a_stop_reason_over_200_characters_is_refused_before_sending(world: World) -> None:
    """The reason is checked against the API's limit first; nothing is sent."""
    _, execution = running_in_deploy(world)
    calls = call_counter(world.cp)
    with pytest.raises(RequestValidationError, match="200"):
        execution.stop(reason="x" * 201)
    assert calls.get("StopPipelineExecution", 0) == 0
    assert execution.get().status == "InProgress"


def test_a_lost_abandon_that_cannot_be_read_back_is_still_confirmed(world: World) -> None:
    """The abandon lands but its answer is lost, and the execution cannot be read either: the abandon is sent
    again, meets "not stoppable" (it is Stopped: the first one worked), and that counts as success."""
    _, execution = running_in_deploy(world)
    world.aws.faults.add(operation="StopPipelineExecution", error="lost-response", nth=1)
    world.aws.faults.add(operation="GetPipelineExecution", error="ServiceUnavailable", times=6)
    execution.stop(abandon=True)
    world.aws.faults.clear()
    assert execution.get().status == "Stopped"
