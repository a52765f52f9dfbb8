"""Waiting for executions, stages and approvals on the offline engine's virtual clock.

Covers the outcome (success returned, every unsuccessful ending raised as its own error with the details),
progress events (each change once, in order), economy (one call per poll, forecasts from history) and
resilience (throttling slows polling instead of failing).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import pytest

from pipepilot import CodePipeline
from pipepilot.errors import (
    ExecutionCancelled,
    ExecutionFailed,
    ExecutionStopped,
    ExecutionSuperseded,
    NoApprovalWaitingError,
    PipelineExecutionNotFoundError,
    StageNotFoundError,
    WaitTimeout,
)
from pipepilot.events import ApprovalRequested, print_progress
from pipepilot.model.runtime import PipelineExecution, PipelineState
from pipepilot.polling import (
    ActionFailed,
    ActionStarted,
    ActionSucceeded,
    ExecutionHeldAtTransition,
    PollPolicy,
    StageFailed,
    StageStarted,
    StageSucceeded,
)

from .offline_world import (
    PIPELINE,
    World,
    approval,
    call_counter,
    codebuild,
    deploy,
    s3_source,
    stage,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipepilot.pipelines import Pipeline


def timed(
    pipeline: Pipeline,
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Pipeline:
    """The same pipeline through a facade with ``clock=``/``sleep=`` injected (the one way to inject time)."""
    return CodePipeline(client=pipeline.service.client, clock=clock, sleep=sleep).pipeline(pipeline.name)


def deploy_from_source(name: str) -> dict[str, Any]:
    return {**deploy(name), "inputArtifacts": [{"name": "SourceOutput"}]}


def linear(world: World, *stages: tuple[str, float], name: str = PIPELINE) -> Pipeline:
    """Source, then one stage per (name, seconds): a CodeDeploy action of that name lasting so long."""
    declared = [stage("Source", s3_source())]
    for stage_name, seconds in stages:
        declared.append(stage(stage_name, deploy_from_source(stage_name)))
        world.aws.script_action(name, stage_name, stage_name, duration=seconds)
    return world.create(name, declared)


class Sleeps:
    """An injected sleep that records each sleep and moves the virtual clock."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        self.world.aws.clock.advance(seconds)


def test_wait_returns_the_succeeded_execution(world: World) -> None:
    """wait() returns the final PipelineExecution once it succeeded, within 30 s of the end."""
    pipeline = linear(world, ("Deploy", 600))
    execution = pipeline.start()
    started = world.aws.clock.now()
    final = execution.wait()
    assert isinstance(final, PipelineExecution)
    assert final.status == "Succeeded"
    assert final.pipeline_execution_id == execution.id
    end = next(s for s in pipeline.executions() if s.pipeline_execution_id == execution.id).last_update_time
    assert end is not None
    assert 0 <= world.aws.clock.now() - end.timestamp() <= 30
    assert world.aws.clock.now() - started >= 600


def test_one_call_per_poll_without_progress(world: World) -> None:
    """Without on_progress a wait makes exactly one call per poll: the history read is the first poll (it
    shows the execution running), then one GetPipelineExecution per poll; GetPipelineState is never used."""
    pipeline = linear(world, ("Deploy", 900))
    execution = pipeline.start()
    calls = call_counter(world.cp)
    sleeps = Sleeps(world)
    timed(pipeline, sleep=sleeps).execution(execution.id).wait()
    polls = len(sleeps.seconds) + 1
    assert calls["ListPipelineExecutions"] == 1
    assert calls["GetPipelineExecution"] == polls - 1
    assert sum(calls.values()) == polls
    assert set(calls) == {"GetPipelineExecution", "ListPipelineExecutions"}


def test_progress_lines_are_stamped_with_the_service_clock(world: World) -> None:
    """print_progress stamps an event that has no time of its own (a stage started) with when the wait saw
    it on the service's clock: the virtual clock offline, not the machine's."""
    from datetime import datetime, timezone

    pipeline = linear(world, ("Deploy", 60))
    world.aws.clock.advance(5 * 3600 + 17)  # move the virtual clock well away from the machine's
    execution = pipeline.start()
    events: list[Any] = []
    execution.wait(on_progress=events.append)
    started = next(e for e in events if isinstance(e, StageStarted) and e.stage_name == "Deploy")
    assert started.observed_at is not None
    virtual_now = datetime.fromtimestamp(world.aws.clock.now(), tz=timezone.utc)
    assert abs((virtual_now - started.observed_at).total_seconds()) < 600
    out = io.StringIO()
    print_progress(started, file=out)
    assert out.getvalue().startswith(started.observed_at.strftime("%H:%M:%S"))


def test_a_wait_on_an_execution_that_already_ended_reads_it_in_full(world: World) -> None:
    """When the history shows the execution already ended, the wait still returns the full execution."""
    pipeline = linear(world, ("Deploy", 60))
    execution = pipeline.start()
    world.aws.clock.advance(3600)
    calls = call_counter(world.cp)
    final = execution.wait()
    assert isinstance(final, PipelineExecution)
    assert final.status == "Succeeded"
    assert calls == {"ListPipelineExecutions": 1, "GetPipelineExecution": 1}


def test_progress_events_arrive_once_each_in_order(world: World) -> None:
    """With on_progress each poll is one GetPipelineState, and every change is reported once, in order."""
    pipeline = linear(world, ("Staging", 300), ("Prod", 300))
    execution = pipeline.start()
    calls = call_counter(world.cp)
    sleeps = Sleeps(world)
    events: list[Any] = []
    timed(pipeline, sleep=sleeps).execution(execution.id).wait(on_progress=events.append)
    assert [(type(e).__name__, e.stage_name, getattr(e, "action_name", None)) for e in events] == [
        ("StageStarted", "Source", None),
        ("ActionStarted", "Source", "Source"),
        ("ActionSucceeded", "Source", "Source"),
        ("StageSucceeded", "Source", None),
        ("StageStarted", "Staging", None),
        ("ActionStarted", "Staging", "Staging"),
        ("ActionSucceeded", "Staging", "Staging"),
        ("StageSucceeded", "Staging", None),
        ("StageStarted", "Prod", None),
        ("ActionStarted", "Prod", "Prod"),
        ("ActionSucceeded", "Prod", "Prod"),
        ("StageSucceeded", "Prod", None),
    ]
    assert all(e.execution_id == execution.id for e in events)
    polls = len(sleeps.seconds) + 1
    assert calls["GetPipelineState"] == polls
    assert calls.get("GetPipelineExecution", 0) == 1  # only to confirm the end


def test_a_second_wait_on_the_handle_reports_only_what_is_new(world: World) -> None:
    """After a failure and stage.retry(execution), a wait on the same handle reports the retried stage and
    what follows once, not Source again; a new handle on the execution reports its whole history."""
    pipeline = linear(world, ("Staging", 300), ("Prod", 300))
    world.aws.script_action(PIPELINE, "Staging", "Staging", outcome="Failed", duration=60, times=1)
    execution = pipeline.start()
    first: list[Any] = []
    with pytest.raises(ExecutionFailed):
        execution.wait(on_progress=first.append)
    assert [(type(e).__name__, e.stage_name) for e in first][-2:] == [
        ("ActionFailed", "Staging"),
        ("StageFailed", "Staging"),
    ]

    assert pipeline.stage("Staging").retry(execution=execution) is execution
    second: list[Any] = []
    execution.wait(on_progress=second.append)
    assert [(type(e).__name__, e.stage_name) for e in second] == [
        ("StageStarted", "Staging"),
        ("ActionStarted", "Staging"),
        ("ActionSucceeded", "Staging"),
        ("StageSucceeded", "Staging"),
        ("StageStarted", "Prod"),
        ("ActionStarted", "Prod"),
        ("ActionSucceeded", "Prod"),
        ("StageSucceeded", "Prod"),
    ]

    third: list[Any] = []
    execution.wait(on_progress=third.append)
    assert third == []  # nothing happened since

    fresh: list[Any] = []
    pipeline.execution(execution.id).wait(on_progress=fresh.append)
    assert ("StageSucceeded", "Source") in [(type(e).__name__, e.stage_name) for e in fresh]


def test_an_approval_in_progress_comes_with_its_handle(world: World) -> None:
    """The approval-waiting event carries an Approval that can answer it on the spot."""
    world.aws.script_action(PIPELINE, "Staging", "DeployStaging", duration=60)
    world.aws.script_action(PIPELINE, "Prod", "DeployProd", duration=60)
    pipeline = world.create()
    execution = pipeline.start()
    seen: list[Any] = []

    def on_progress(event: Any) -> None:
        seen.append(event)
        if isinstance(event, ApprovalRequested):
            assert event.approval is not None
            event.approval.approve("ship it")

    assert execution.wait(on_progress=on_progress).status == "Succeeded"
    pending = [e for e in seen if isinstance(e, ApprovalRequested)]
    assert len(pending) == 1
    approval = pending[0].approval
    assert approval is not None
    assert (approval.stage, approval.action, approval.execution_id) == ("Approval", "Approve", execution.id)
    assert approval.custom_data == "Check staging first"
    assert approval.token
    assert approval.token not in repr(pending[0])


def test_a_failed_action_raises_execution_failed_with_where_and_why(world: World) -> None:
    """ExecutionFailed names the stage, action, error code and message of the failure."""
    world.aws.script_action(
        PIPELINE,
        "Staging",
        "Staging",
        outcome="Failed",
        error_code="JobFailed",
        error_message="health check failed",
        times=1,
    )
    pipeline = linear(world, ("Staging", 120), ("Prod", 60))
    execution = pipeline.start()
    with pytest.raises(ExecutionFailed) as raised:
        execution.wait()
    error = raised.value
    assert (error.stage, error.action, error.error_code, error.error_message) == (
        "Staging",
        "Staging",
        "JobFailed",
        "health check failed",
    )
    assert isinstance(error.execution, PipelineExecution)
    assert error.execution.status == "Failed"
    assert "Staging" in str(error)
    assert "health check failed" in str(error)


def test_a_failed_build_links_to_the_build(world: World) -> None:
    """A CodeBuild failure carries the build's external link, with progress events showing the failure."""
    world.aws.script_build("release-build", fail_in="BUILD")
    pipeline = world.create(PIPELINE, [stage("Source", s3_source()), stage("Build", codebuild())])
    execution = pipeline.start()
    events: list[Any] = []
    with pytest.raises(ExecutionFailed) as raised:
        execution.wait(on_progress=events.append)
    error = raised.value
    assert (error.stage, error.action) == ("Build", "Build")
    assert error.external_execution_url
    assert "codebuild" in error.external_execution_url
    kinds = [type(e) for e in events]
    assert kinds[-2:] == [ActionFailed, StageFailed]


def test_a_stopped_execution_raises_execution_stopped(world: World) -> None:
    """Stopping the execution while waiting ends the wait with ExecutionStopped."""
    pipeline = linear(world, ("Staging", 300), ("Prod", 300))
    execution = pipeline.start()

    def on_progress(event: Any) -> None:
        if isinstance(event, StageStarted) and event.stage_name == "Staging":
            execution.stop(abandon=True, reason="bad change")

    with pytest.raises(ExecutionStopped) as raised:
        execution.wait(on_progress=on_progress)
    assert raised.value.stage == "Staging"
    assert raised.value.execution.status == "Stopped"  # type: ignore[attr-defined]


def test_a_superseded_execution_raises_execution_superseded(world: World) -> None:
    """A newer execution overtaking one that waits at a disabled transition supersedes it."""
    pipeline = linear(world, ("Staging", 60), ("Prod", 60))
    pipeline.stage("Staging").inbound.disable("hold")
    older = pipeline.start()
    world.aws.clock.advance(60)  # older now waits in front of Staging
    pipeline.start()  # newer arrives there after its Source and supersedes older
    with pytest.raises(ExecutionSuperseded) as raised:
        older.wait()
    assert raised.value.execution.status == "Superseded"  # type: ignore[attr-defined]


def test_a_superseded_execution_is_noticed_with_progress_too(world: World) -> None:
    """With on_progress, the held event is reported and the vanishing execution is confirmed superseded."""
    pipeline = linear(world, ("Staging", 60), ("Prod", 60))
    pipeline.stage("Staging").inbound.disable("hold")
    older = pipeline.start()
    world.aws.clock.advance(60)
    pipeline.start()
    events: list[Any] = []
    with pytest.raises(ExecutionSuperseded):
        older.wait(on_progress=events.append)
    assert any(isinstance(e, ExecutionHeldAtTransition) and e.reason == "hold" for e in events)


def test_an_update_mid_run_raises_execution_cancelled(world: World) -> None:
    """Updating the pipeline while an execution runs cancels it (AWS ends it Cancelled): ExecutionCancelled."""
    pipeline = linear(world, ("Staging", 300), ("Prod", 300))
    execution = pipeline.start()

    def on_progress(event: Any) -> None:
        if isinstance(event, StageStarted) and event.stage_name == "Staging":
            declaration = pipeline.declaration()
            pipeline.update(declaration.evolve(stages=declaration.stages[:2]))

    with pytest.raises(ExecutionCancelled):
        execution.wait(on_progress=on_progress)


def test_timeout_raises_wait_timeout_with_the_last_state(world: World) -> None:
    """A wait that outlasts its timeout raises WaitTimeout; last is the last execution seen, still running."""
    pipeline = linear(world, ("Deploy", 3600))
    execution = pipeline.start()
    started = world.aws.clock.now()
    with pytest.raises(WaitTimeout) as raised:
        execution.wait(poll=PollPolicy(timeout=600))
    assert isinstance(raised.value.last, PipelineExecution)
    assert raised.value.last.status == "InProgress"
    assert 600 <= world.aws.clock.now() - started <= 601


def test_timeout_with_progress_keeps_the_last_pipeline_state(world: World) -> None:
    """With on_progress the last value kept is the last PipelineState read."""
    pipeline = linear(world, ("Deploy", 3600))
    execution = pipeline.start()
    with pytest.raises(WaitTimeout) as raised:
        execution.wait(poll=PollPolicy(timeout=300), on_progress=lambda event: None)
    assert isinstance(raised.value.last, PipelineState)


def test_throttling_slows_polling_instead_of_failing(world: World) -> None:
    """Polls throttled past the retry policy make the wait back off (>= max_interval), not fail."""
    pipeline = linear(world, ("Deploy", 1200))
    execution = pipeline.start()
    rule = world.aws.faults.add(
        operation="GetPipelineExecution", error="ThrottlingException", nth=range(2, 20)
    )
    sleeps = Sleeps(world)
    assert timed(pipeline, sleep=sleeps).execution(execution.id).wait().status == "Succeeded"
    assert rule.fired == 18
    assert max(sleeps.seconds) >= PollPolicy().max_interval


def test_history_of_earlier_runs_saves_polls_when_sparse_polling_is_asked_for(world: World) -> None:
    """With earlier successful runs to learn from and a policy with sparse_interval, a wait for a run as
    long makes fewer calls; the default policy makes as many as without history."""
    pipeline = linear(world, ("Deploy", 3000))

    def calls_to_wait(poll: PollPolicy | None = None) -> int:
        execution = pipeline.start()
        counts = call_counter(world.cp)
        execution.wait(poll=poll)
        return counts["GetPipelineExecution"]

    without_history = calls_to_wait()
    assert calls_to_wait() == without_history
    with_history = calls_to_wait(PollPolicy(sparse_interval=120.0))
    assert with_history < without_history


def test_an_early_failure_after_long_runs_is_noticed_within_30_s(world: World) -> None:
    """After runs of two hours, an execution that fails in its first minutes is noticed within 30 s: the
    history does not make the wait poll sparsely while an early end may come."""
    pipeline = linear(world, ("Deploy", 7200))
    for _ in range(3):
        pipeline.start().wait()
    world.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=200, times=1)
    execution = pipeline.start()
    with pytest.raises(ExecutionFailed):
        execution.wait()
    ended = next(s for s in pipeline.executions() if s.pipeline_execution_id == execution.id)
    assert ended.last_update_time is not None
    assert 0 <= world.aws.clock.now() - ended.last_update_time.timestamp() <= 30


def test_injected_clock_and_sleep_are_used(world: World) -> None:
    """A wait sleeps only through the injected sleep and reads the injected clock."""
    pipeline = linear(world, ("Deploy", 120))
    execution = pipeline.start()
    readings: list[float] = []

    def clock() -> float:
        readings.append(world.aws.clock.now())
        return readings[-1]

    sleeps = Sleeps(world)
    timed(pipeline, clock=clock, sleep=sleeps).execution(execution.id).wait()
    assert sleeps.seconds
    assert readings


# ----------------------------------------------------------------------------------------- stage and approval


def test_wait_for_stage_returns_its_state_once_the_execution_passed_it(world: World) -> None:
    """wait_for_stage() returns the StageState as soon as the execution succeeded in that stage."""
    pipeline = linear(world, ("Staging", 300), ("Prod", 3600))
    execution = pipeline.start()
    state = pipeline.wait_for_stage("Staging", execution=execution)
    assert state.stage_name == "Staging"
    assert state.latest_execution is not None
    assert state.latest_execution.status == "Succeeded"
    assert execution.get().status == "InProgress"  # Prod is still running


def test_wait_for_stage_defaults_to_the_latest_execution(world: World) -> None:
    """Without an execution, the pipeline's latest one is awaited."""
    pipeline = linear(world, ("Staging", 300))
    execution = pipeline.start()
    state = pipeline.wait_for_stage("Staging")
    assert state.latest_execution is not None
    assert state.latest_execution.pipeline_execution_id == execution.id


def test_wait_for_stage_raises_when_the_execution_fails_before_it(world: World) -> None:
    """A failure in an earlier stage ends the wait with ExecutionFailed naming that stage."""
    world.aws.script_action(PIPELINE, "Staging", "Staging", outcome="Failed", error_message="boom", times=1)
    pipeline = linear(world, ("Staging", 60), ("Prod", 60))
    execution = pipeline.start()
    with pytest.raises(ExecutionFailed) as raised:
        pipeline.wait_for_stage("Prod", execution=execution)
    assert (raised.value.stage, raised.value.action, raised.value.error_message) == (
        "Staging",
        "Staging",
        "boom",
    )


def test_wait_for_stage_raises_when_superseded_before_it(world: World) -> None:
    """An execution superseded before the stage ends the wait with ExecutionSuperseded."""
    pipeline = linear(world, ("Staging", 60), ("Prod", 60))
    pipeline.stage("Staging").inbound.disable("hold")
    older = pipeline.start()
    world.aws.clock.advance(60)
    pipeline.start()
    with pytest.raises(ExecutionSuperseded):
        pipeline.wait_for_stage("Prod", execution=older)


def test_wait_for_stage_of_an_unknown_stage_fails_at_once(world: World) -> None:
    """An unknown stage name raises StageNotFoundError listing the stages."""
    pipeline = linear(world, ("Staging", 60))
    pipeline.start()
    with pytest.raises(StageNotFoundError) as raised:
        pipeline.wait_for_stage("Nope")
    assert raised.value.available == ("Source", "Staging")


def test_wait_for_stage_needs_an_execution(world: World) -> None:
    """A pipeline with no execution at all has nothing to wait for."""
    pipeline = linear(world, ("Staging", 60))
    # Every pipeline ran once at creation, so point the wait at an id that does not exist.
    with pytest.raises(PipelineExecutionNotFoundError):
        pipeline.wait_for_stage(
            "Staging", execution="00000000-0000-4000-8000-000000000000", poll=PollPolicy(timeout=60)
        )


def test_wait_for_approval_returns_the_approval_as_soon_as_it_appears(world: World) -> None:
    """wait_for_approval() returns the pending Approval within max_interval of its start."""
    world.aws.script_action(PIPELINE, "Staging", "DeployStaging", duration=900)
    pipeline = world.create()
    execution = pipeline.start()
    approval = pipeline.wait_for_approval("Approval", "Approve", execution=execution)
    assert approval.execution_id == execution.id
    state = pipeline.state().stage("Approval").action("Approve")
    assert state.latest_execution is not None
    assert state.latest_execution.last_status_change is not None
    lateness = world.aws.clock.now() - state.latest_execution.last_status_change.timestamp()
    assert 0 <= lateness <= PollPolicy().max_interval


def test_wait_for_approval_raises_when_the_execution_fails_first(world: World) -> None:
    """If the execution fails before reaching the approval, the wait says so instead of timing out."""
    world.aws.script_action(PIPELINE, "Staging", "DeployStaging", outcome="Failed")
    pipeline = world.create()
    execution = pipeline.start()
    with pytest.raises(ExecutionFailed):
        pipeline.wait_for_approval(execution=execution, poll=PollPolicy(timeout=7200))


def test_wait_for_approval_times_out(world: World) -> None:
    """No approval within the timeout raises WaitTimeout."""
    world.aws.script_action(PIPELINE, "Staging", "DeployStaging", duration=7200)
    pipeline = world.create()
    pipeline.start()
    with pytest.raises(WaitTimeout):
        pipeline.wait_for_approval(poll=PollPolicy(timeout=600))


def test_events_are_the_polling_module_types(world: World) -> None:
    """Progress events are pipepilot.polling's types (ActionStarted, ActionSucceeded, StageSucceeded ...)."""
    pipeline = linear(world, ("Deploy", 60))
    execution = pipeline.start()
    events: list[Any] = []
    execution.wait(on_progress=events.append)
    assert {type(e) for e in events} == {StageStarted, ActionStarted, ActionSucceeded, StageSucceeded}


def test_wait_for_stage_of_an_execution_already_past_it_returns_at_once(world: World) -> None:
    """An execution that went on to a later stage has passed this one, even when a newer execution has
    entered it since (so the stage no longer shows the awaited one): the wait returns at the first poll."""
    pipeline = linear(world, ("Staging", 60), ("Prod", 1800))
    older = pipeline.start()
    pipeline.wait_for_stage("Staging", execution=older)
    world.aws.clock.advance(120)
    pipeline.start()  # passes Staging, then waits for Prod, which the older one holds
    world.aws.clock.advance(300)
    staging = pipeline.state().stage("Staging").latest_execution
    assert staging is not None
    assert staging.pipeline_execution_id != older.id
    before = world.aws.clock.now()
    pipeline.wait_for_stage("Staging", execution=older, poll=PollPolicy(timeout=7200))
    assert world.aws.clock.now() - before < 1  # the latency of its few calls: no poll interval slept


def test_wait_for_stage_of_an_execution_that_succeeded_returns(world: World) -> None:
    """An execution that succeeded passed every stage: the wait returns rather than poll until its timeout."""
    pipeline = linear(world, ("Staging", 60))
    older = pipeline.start()
    older.wait()
    pipeline.start()
    world.aws.clock.advance(120)  # the newer execution now shows in every stage
    before = world.aws.clock.now()
    pipeline.wait_for_stage("Staging", execution=older, poll=PollPolicy(timeout=7200))
    assert world.aws.clock.now() - before <= PollPolicy().max_interval


def test_wait_for_approval_of_an_execution_that_succeeded_without_one(world: World) -> None:
    """When the awaited execution succeeds without the approval ever waiting, NoApprovalWaitingError says so
    soon after the end, instead of a WaitTimeout hours later."""
    pipeline = linear(world, ("Staging", 60))
    execution = pipeline.start()
    with pytest.raises(NoApprovalWaitingError, match="Succeeded") as raised:
        pipeline.wait_for_approval(execution=execution, poll=PollPolicy(timeout=7200))
    assert raised.value.execution_id == execution.id
    summary = next(s for s in pipeline.executions() if s.pipeline_execution_id == execution.id)
    assert summary.status == "Succeeded"
    ended = summary.last_update_time
    assert ended is not None
    assert world.aws.clock.now() - ended.timestamp() <= PollPolicy().max_interval


# ----------------------------------------------------------------------------------------- long waits


def s3_deploy(name: str) -> dict[str, Any]:
    """An S3 deploy action (AWS gives it 90 minutes at most) reading ``SourceOutput``."""
    return {
        "name": name,
        "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {"BucketName": "site", "Extract": "true"},
        "inputArtifacts": [{"name": "SourceOutput"}],
    }


def bounded_sleep(world: World, *, days: float = 8) -> Callable[[float], None]:
    """A sleep on the virtual clock that fails the test once a wait has slept ``days``, so a wait that
    would poll forever fails instead of hanging."""
    started = world.aws.clock.now()

    def sleep(seconds: float) -> None:
        world.aws.clock.advance(seconds)
        assert world.aws.clock.now() - started < days * 24 * 3600, "the wait never ended"

    return sleep


@pytest.mark.slow
def test_a_seven_day_wait_behind_another_approval_stays_cheap(world: World) -> None:
    """An approval wait held for 7 days behind another execution's approval costs at most 2,500 calls and
    returns within 5 minutes of the approval appearing (when the one ahead expired); the default timeout
    (7 days plus the actions before it) lets it get there."""
    pipeline = world.create(stages=[stage("Source", s3_source()), stage("Approval", approval())])
    ahead = pipeline.start()
    pipeline.wait_for_approval("Approval", execution=ahead)
    held = pipeline.start()
    world.aws.clock.advance(60)
    assert pipeline.state().stage("Approval").waiting_executions()
    calls = call_counter(world.cp)
    started = world.aws.clock.now()
    found = timed(pipeline, sleep=bounded_sleep(world)).wait_for_approval("Approval", execution=held)
    assert found.execution_id == held.id
    assert world.aws.clock.now() - started >= 7 * 24 * 3600 - 120
    assert sum(calls.values()) <= 2500
    run = pipeline.state().stage("Approval").action("Approve").latest_execution
    assert run is not None
    assert run.last_status_change is not None
    assert 0 <= world.aws.clock.now() - run.last_status_change.timestamp() <= 300


def test_a_wait_without_timeout_ends_at_its_default_and_says_so(world: World) -> None:
    """An execution held at a disabled transition does not keep a wait polling forever: without a timeout
    the wait ends after twice the longest the pipeline's actions may run (here Source 1 h + S3 deploy
    90 min, so 5 h), reads the pipeline once to learn that, and its WaitTimeout says so."""
    pipeline = world.create(stages=[stage("Source", s3_source()), stage("Deploy", s3_deploy("Deploy"))])
    pipeline.stage("Deploy").inbound.disable("freeze for the test")
    execution = pipeline.start()
    calls = call_counter(world.cp)
    started = world.aws.clock.now()
    with pytest.raises(WaitTimeout) as raised:
        timed(pipeline, sleep=bounded_sleep(world)).execution(execution.id).wait()
    assert world.aws.clock.now() - started == pytest.approx(5 * 3600, abs=1)
    text = str(raised.value)
    assert "the default timeout for this wait, 5 h: twice the longest an execution of pipeline" in text
    assert "PollPolicy.FOREVER" in text
    assert calls["GetPipeline"] == 1
    assert isinstance(raised.value.last, PipelineExecution)


def test_a_stage_wait_without_timeout_ends_at_its_default(world: World) -> None:
    """wait_for_stage without a timeout ends after the stage's default (twice Source + Deploy here)."""
    pipeline = world.create(stages=[stage("Source", s3_source()), stage("Deploy", s3_deploy("Deploy"))])
    pipeline.stage("Deploy").inbound.disable("freeze for the test")
    execution = pipeline.start()
    started = world.aws.clock.now()
    with pytest.raises(WaitTimeout, match="to pass stage 'Deploy'"):
        timed(pipeline, sleep=bounded_sleep(world)).wait_for_stage("Deploy", execution=execution)
    assert world.aws.clock.now() - started == pytest.approx(5 * 3600, abs=1)


def test_forever_means_no_default_timeout(world: World) -> None:
    """timeout=PollPolicy.FOREVER waits past the default (5 h here): until the transition opens 6 h in."""
    pipeline = world.create(stages=[stage("Source", s3_source()), stage("Deploy", s3_deploy("Deploy"))])
    transition = pipeline.stage("Deploy").inbound
    transition.disable("freeze for the test")
    execution = pipeline.start()
    started = world.aws.clock.now()

    def sleep(seconds: float) -> None:
        world.aws.clock.advance(seconds)
        state = transition.state()
        if world.aws.clock.now() - started >= 6 * 3600 and state is not None and not state.enabled:
            transition.enable()

    final = (
        timed(pipeline, sleep=sleep).execution(execution.id).wait(poll=PollPolicy(timeout=PollPolicy.FOREVER))
    )
    assert final.status == "Succeeded"
    assert world.aws.clock.now() - started > 6 * 3600
