"""A whole release survives a hostile network: throttling and lost responses, seed after seed.

The release of issue 4 (Source -> Build on CodeBuild -> Staging -> manual approval -> Prod) is driven with
pipepilot only (start, wait for the approval, approve, wait for the end) while the fault plan throttles 30%
of CodePipeline requests and loses the response of 5% (the request is applied, the answer never arrives).
For every seed it must end exactly as a fault-free run does: one execution started, one approval recorded,
the same final state. Everything runs on the virtual clock, so hours of polling take milliseconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import pytest

import pipepilot.local
from pipepilot._calls import RetryPolicy
from pipepilot.pipelines import CodePipeline

from .offline_world import REGION, World, shared_session

if TYPE_CHECKING:
    from pipepilot.model.runtime import ActionExecutionDetail, PipelineState

SEEDS = range(50)
THROTTLED = 0.30
LOST = 0.05
SUMMARY = "staging verified"

# Throttling outlasting a handful of attempts is likely at 30% over hundreds of calls; a caller who knows
# the network is this bad gives the retry policy more room (and time), which is what this one does.
PATIENT = RetryPolicy(max_attempts=12, deadline=600.0)


@attrs.frozen(kw_only=True)
class Outcome:
    """What a release run left behind, without ids or times (they differ between runs)."""

    status: str
    execution_id: str
    started: int
    approvals: tuple[tuple[str, str | None], ...]
    state: tuple[tuple[Any, ...], ...]
    injected: int
    faulted: frozenset[tuple[str, str | None]]


def _normalized(state: PipelineState) -> tuple[tuple[Any, ...], ...]:
    stages = []
    for stage in state.stage_states:
        latest = stage.latest_execution
        actions = tuple(
            (
                action.action_name,
                None if action.latest_execution is None else str(action.latest_execution.status),
                None if action.latest_execution is None else action.latest_execution.summary,
            )
            for action in stage.action_states
        )
        stages.append(
            (stage.stage_name, None if latest is None else str(latest.status), stage.inbound_enabled, actions)
        )
    return tuple(stages)


def _summary(run: ActionExecutionDetail) -> str | None:
    result = None if run.output is None else run.output.execution_result
    return None if result is None else result.external_execution_summary


def release(seed: int, *, faults: bool) -> Outcome:
    """Run the release once on a fresh offline account; with ``faults``, under the hostile fault plan.

    Odd seeds wait with progress events (GetPipelineState polls), even seeds without (GetPipelineExecution).
    """
    with pipepilot.local.offline(seed=seed) as aws:
        world = World.open(aws, retry=PATIENT)
        pipeline = world.create()  # set-up is fault-free: the release itself is under test
        before = {summary.pipeline_execution_id for summary in pipeline.executions()}
        if faults:
            # The first rule that fires decides a call: 5% lost, then 30% of all calls throttled.
            aws.faults.add(service="codepipeline", error="lost-response", rate=LOST)
            aws.faults.add(service="codepipeline", error="ThrottlingException", rate=THROTTLED / (1 - LOST))

        execution = pipeline.start()
        approval = pipeline.wait_for_approval("Approval", "Approve", execution=execution)
        approval.approve(SUMMARY)
        final = execution.wait(on_progress=(lambda event: None) if seed % 2 else None)

        injected = len(aws.faults.log)
        faulted = frozenset((fault.operation, fault.error) for fault in aws.faults.log)
        aws.faults.clear()  # the checks below read a calm network
        started = [s for s in pipeline.executions() if s.pipeline_execution_id not in before]
        runs = list(pipeline.stage("Approval").action("Approve").executions(execution=execution))
        return Outcome(
            status=str(final.status),
            execution_id=execution.id,
            started=len(started),
            approvals=tuple((str(run.status), _summary(run)) for run in runs),
            state=_normalized(pipeline.state()),
            injected=injected,
            faulted=faulted,
        )


def test_the_fault_free_release_succeeds() -> None:
    """Without faults the release succeeds with one execution and one approval."""
    calm = release(0, faults=False)
    assert calm.injected == 0
    assert calm.status == "Succeeded"
    assert calm.started == 1
    assert calm.approvals == (("Succeeded", SUMMARY),)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_the_release_survives_throttling_and_lost_responses(seed: int) -> None:
    """Under 30% throttling and 5% lost responses: one execution, one approval, the calm run's end state.

    The calm run uses the same seed, so even the ids and revisions the engine draws are the same.
    """
    calm = release(seed, faults=False)
    hostile = release(seed, faults=True)
    assert hostile.injected > 0
    assert hostile.status == calm.status == "Succeeded"
    assert hostile.started == calm.started == 1
    assert hostile.approvals == calm.approvals == (("Succeeded", SUMMARY),)
    assert hostile.state == calm.state
    assert hostile.execution_id == calm.execution_id


def sleeps_of_a_release(seed: int) -> tuple[list[tuple[float, float]], int]:
    """Every sleep (virtual time, seconds) of a release under 30% throttling of CodePipeline and CodeBuild,
    with a build followed phase by phase; and how many faults were injected."""
    with pipepilot.local.offline(seed=seed) as aws:
        world = World.open(aws)
        sleeps: list[tuple[float, float]] = []

        def sleep(seconds: float) -> None:
            sleeps.append((aws.clock.now(), seconds))
            aws.clock.sleep(seconds)

        world.cp = CodePipeline(session=shared_session(), region_name=REGION, retry=PATIENT, sleep=sleep)
        pipeline = world.create()
        aws.faults.add(service="codepipeline", error="ThrottlingException", rate=THROTTLED)
        aws.faults.add(service="codebuild", error="ThrottlingException", rate=THROTTLED)
        execution = pipeline.start()
        pipeline.wait_for_stage("Source", execution=execution)
        pipeline.stage("Build").action("Build").build().wait()
        pipeline.wait_for_approval("Approval", "Approve", execution=execution).approve(SUMMARY)
        execution.wait(on_progress=lambda event: None)
        return sleeps, len(aws.faults.log)


def test_a_seeded_run_replays_exactly() -> None:
    """Two offline runs with the same seed sleep the same (retry back-offs and poll waits, at the same
    virtual times); another seed sleeps otherwise. Nothing random escapes the seed."""
    sleeps, injected = sleeps_of_a_release(5)
    assert injected > 0
    assert len(sleeps) > injected  # retry back-offs and poll sleeps alike
    assert sleeps_of_a_release(5) == (sleeps, injected)
    assert sleeps_of_a_release(6)[0] != sleeps
