"""Fault soak: freeze, thaw and stage retries never double an effect, and their records never lie.

Each run (one seed) builds a fresh offline account with six small pipelines (one already disabled by
"someone else", for an incident) and one pipeline whose Staging action fails at once twice, then succeeds.
With the fault plan throttling, failing (5xx, before and after applying the call), dropping connections
and losing responses on the calls these operations make, a persistent user then

* freezes the six (resuming the freeze while it is not complete, at most three times), then thaws the
  record (again while it is not thawed, at most three times);
* retries the failed stage until the execution succeeds (each ``retry()`` call once, whatever it raised).

The engine's dispatch is instrumented to count what was *applied* (a call whose response was lost or
answered with an error after the fact counts; one refused before it was applied does not). With the faults
cleared, the run is judged:

* **duplicate effects** (must be 0): a transition disabled or enabled twice by the same freeze/thaw, the
  incident's transition touched at all, one ``retry()`` call that retried the stage twice;
* **lies** (must be 0): an entry ``DISABLED`` whose disable was never applied (or not ``DISABLED`` though
  it was applied, once the record claims to be complete or thawed), ``ENABLED`` without an applied enable,
  ``ALREADY_ENABLED`` (nobody else enables here), a record that says ``thawed`` with a transition of the
  freeze still disabled, a ``retry()`` that returned although nothing was applied, or that raised a
  definite refusal although it was applied.

``benchmarks/bench_fault_soak.py`` runs the same scenario over hundreds of seeds and prints the figures.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

import attrs
import pytest

import pipepilot.local
from pipepilot.errors import PipepilotError, TransientError
from pipepilot.freeze import FreezeOutcome, ThawOutcome

from .offline_world import World, deploy, s3_source, stage

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipepilot.freeze import FreezeRecord
    from pipepilot.local import OfflineAWS

SEEDS = range(12)
REASON = "Soak freeze"
INCIDENT = "Incident 7"
FLEET = ("svc-0", "svc-1", "svc-2", "svc-3", "svc-4", "held")
RETRIED = "flaky"
FAILURES = 2  # the Staging action of RETRIED fails this many times, then succeeds

# About two calls in five meet a fault, of every kind the network and AWS produce.
FAULTS: tuple[dict[str, Any], ...] = (
    {"error": "lost-response", "rate": 0.10},
    {"error": "InternalFailure", "applied": True, "rate": 0.08},
    {"error": "ServiceUnavailable", "rate": 0.08},
    {"error": "connection", "rate": 0.05},
    {"error": "ThrottlingException", "rate": 0.15},
)
FAULTED = (
    "DisableStageTransition",
    "EnableStageTransition",
    "RetryStageExecution",
    "GetPipelineState",
    "ListActionExecutions",
)

_WRITES = frozenset({"DisableStageTransition", "EnableStageTransition", "RetryStageExecution"})
_AMBIGUOUS = frozenset({"lost-response", "InternalFailure", "ServiceUnavailable"})


@attrs.define
class SoakOutcome:
    """What one seeded run did and how it is judged."""

    seed: int
    injected: int = 0
    duplicates: list[str] = attrs.Factory(list)
    lies: list[str] = attrs.Factory(list)
    freeze_complete: bool = False
    thawed: bool = False
    freeze_runs: int = 0
    thaw_runs: int = 0
    ambiguous_writes: int = 0  # writes answered with a 5xx or a lost response: the caller cannot tell
    applied_unanswered: int = 0  # ... of which AWS had applied the call (lost response, 5xx after the fact)
    retry_calls: int = 0
    retry_unknown: int = 0  # retry() raised an error that left its fate open (it may have been applied)
    retry_succeeded: bool = False


class Applied:
    """Counts the transition switches and stage retries the engine applied, per operation and pipeline."""

    def __init__(self, aws: OfflineAWS) -> None:
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()
        engine = aws.world.engine("codepipeline")
        dispatch = engine.dispatch

        def counting(operation: str, params: dict[str, Any]) -> dict[str, Any]:
            answer = dispatch(operation, params)  # raises when AWS refuses: nothing applied
            if operation in ("DisableStageTransition", "EnableStageTransition", "RetryStageExecution"):
                self.counts[(operation, params["pipelineName"])] += 1
            return answer

        engine.dispatch = counting  # type: ignore[method-assign]

    def __call__(self, operation: str, pipeline: str) -> int:
        return self.counts[(operation, pipeline)]


def _build(world: World) -> None:
    aws = world.aws
    for name in FLEET:
        world.create(
            name,
            [
                stage("Source", s3_source()),
                stage("Prod", {**deploy("Prod"), "inputArtifacts": [{"name": "SourceOutput"}]}),
            ],
            settle=False,
        )
    aws.client("codepipeline").disable_stage_transition(
        pipelineName="held", stageName="Prod", transitionType="Inbound", reason=INCIDENT
    )
    aws.script_action(
        RETRIED, "Staging", "Staging", outcome="Failed", error_message="flaky", duration=0, times=FAILURES
    )
    aws.script_action(RETRIED, "Staging", "Staging", duration=0)
    world.create(
        RETRIED,
        [
            stage("Source", s3_source()),
            stage("Staging", {**deploy("Staging"), "inputArtifacts": [{"name": "SourceOutput"}]}),
        ],
        settle=False,
    )


def _gate(aws: OfflineAWS, pipeline: str) -> dict[str, Any]:
    state = aws.client("codepipeline").get_pipeline_state(name=pipeline)
    prod = next(s for s in state["stageStates"] if s["stageName"] == "Prod")
    gate: dict[str, Any] = prod.get("inboundTransitionState") or {"enabled": True}
    return gate


def _judge_freeze(aws: OfflineAWS, record: FreezeRecord, applied: Applied, outcome: SoakOutcome) -> None:
    disabled_by_us = {name for name in FLEET if _gate(aws, name).get("disabledReason") == REASON}
    for name in FLEET:
        disables = applied("DisableStageTransition", name)
        enables = applied("EnableStageTransition", name)
        if disables > 1:
            outcome.duplicates.append(f"{name}: disabled {disables} times")
        if enables > 1:
            outcome.duplicates.append(f"{name}: enabled {enables} times")
        entry = record.entry(name)
        if name == "held":
            if disables or enables:
                outcome.duplicates.append("the incident's transition was touched")
            if entry.outcome is FreezeOutcome.DISABLED:
                outcome.lies.append("held: recorded as disabled by the freeze")
            continue
        if entry.outcome is FreezeOutcome.DISABLED and not disables:
            outcome.lies.append(f"{name}: DISABLED, but no disable was applied")
        if entry.outcome is FreezeOutcome.ALREADY_DISABLED:
            outcome.lies.append(f"{name}: ALREADY_DISABLED, but only the freeze disabled it")
        if entry.thaw is ThawOutcome.ENABLED and not enables:
            outcome.lies.append(f"{name}: ENABLED, but no enable was applied")
        if entry.thaw is ThawOutcome.ALREADY_ENABLED:
            outcome.lies.append(f"{name}: ALREADY_ENABLED, but nobody else enables")
        if record.thawed and name in disabled_by_us:
            outcome.lies.append(f"{name}: the record says thawed, the transition is still disabled")
        if record.thawed and disables and entry.outcome is not FreezeOutcome.DISABLED:
            outcome.lies.append(
                f"{name}: disabled by the freeze, recorded {entry.outcome.value} after the thaw"
            )
    if _gate(aws, "held").get("disabledReason") != INCIDENT:
        outcome.lies.append("held: the incident's disable is gone")


def _retry_until_done(world: World, applied: Applied, outcome: SoakOutcome) -> None:
    aws = world.aws
    pipeline = world.cp.pipeline(RETRIED)
    execution_id = aws.client("codepipeline").list_pipeline_executions(pipelineName=RETRIED)[
        "pipelineExecutionSummaries"
    ][0]["pipelineExecutionId"]
    for _ in range(FAILURES + 3):
        status = aws.client("codepipeline").get_pipeline_execution(
            pipelineName=RETRIED, pipelineExecutionId=execution_id
        )["pipelineExecution"]["status"]
        if status == "Succeeded":
            outcome.retry_succeeded = True
            return
        before = applied("RetryStageExecution", RETRIED)
        outcome.retry_calls += 1
        raised: PipepilotError | None = None
        try:
            pipeline.stage("Staging").retry(execution=execution_id)
        except PipepilotError as error:
            raised = error
        delta = applied("RetryStageExecution", RETRIED) - before
        if delta > 1:
            outcome.duplicates.append(f"one retry() call retried the stage {delta} times")
        if raised is None and delta == 0:
            outcome.lies.append("retry() returned, but no retry was applied")
        if raised is not None and not isinstance(raised, TransientError) and delta:
            outcome.lies.append(f"retry() raised {type(raised).__name__}, but the retry was applied")
        if isinstance(raised, TransientError):
            outcome.retry_unknown += 1


def _faulted(aws: OfflineAWS, faults: tuple[dict[str, Any], ...]) -> None:
    for fault in faults:
        aws.faults.add(service="codepipeline", operation=FAULTED, **fault)


def soak_run(
    seed: int,
    *,
    faults: tuple[dict[str, Any], ...] = FAULTS,
    max_workers: int = 1,
    open_world: Callable[[OfflineAWS], World] = World.open,
) -> SoakOutcome:
    """Run the scenario once under the fault plan seeded with ``seed`` (see the module docstring).

    ``faults`` are the rules (``FaultPlan.add`` keywords) applied to the calls in ``FAULTED``, in order.
    """
    outcome = SoakOutcome(seed=seed)
    with pipepilot.local.offline(seed=seed) as aws:
        world = open_world(aws)
        _build(world)
        aws.clock.advance(600)  # the flaky execution has failed at Staging by now
        applied = Applied(aws)
        _faulted(aws, faults)

        record = world.cp.freeze(list(FLEET), stage="Prod", reason=REASON, max_workers=max_workers)
        outcome.freeze_runs = 1
        while not record.complete and outcome.freeze_runs < 4:
            record = world.cp.freeze(
                list(FLEET), stage="Prod", reason=REASON, resume=record, max_workers=max_workers
            )
            outcome.freeze_runs += 1
        outcome.freeze_complete = record.complete
        aws.clock.advance(3600)
        record = world.cp.thaw(record, max_workers=max_workers)
        outcome.thaw_runs = 1
        while not record.thawed and outcome.thaw_runs < 4:
            record = world.cp.thaw(record, max_workers=max_workers)
            outcome.thaw_runs += 1
        outcome.thawed = record.thawed

        aws.faults.clear()
        _judge_freeze(aws, record, applied, outcome)
        _faulted(aws, faults)
        _retry_until_done(world, applied, outcome)
        aws.faults.clear()
        outcome.injected = len(aws.faults.log)
        for fault in aws.faults.log:
            kind = faults[fault.rule]
            if fault.operation in _WRITES and kind["error"] in _AMBIGUOUS:
                outcome.ambiguous_writes += 1
                outcome.applied_unanswered += kind["error"] == "lost-response" or bool(kind.get("applied"))
    return outcome


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_freeze_thaw_and_retries_never_double_an_effect_or_lie(seed: int) -> None:
    """Under ~40% faults of every kind: no duplicate effect, no lying record, and the stage retry ends the
    execution Succeeded (each run's details are in the assertion message)."""
    outcome = soak_run(seed)
    assert outcome.injected > 0
    assert outcome.duplicates == [], outcome
    assert outcome.lies == [], outcome
    assert outcome.retry_succeeded, outcome
