"""Disabled transitions (T1-T6) and the stage-transition API with its errors."""

from __future__ import annotations

from typing import Any, cast

import pytest
from botocore.exceptions import ParamValidationError

from ._support import DAY, HOUR, PIPELINE, Env, expect_error, ts


def _disable(env: Env, stage_name: str, reason: str = "Hold for review", direction: str = "Inbound") -> None:
    env.cp.disable_stage_transition(
        pipelineName=PIPELINE, stageName=stage_name, transitionType=cast("Any", direction), reason=reason
    )


def _enable(env: Env, stage_name: str, direction: str = "Inbound") -> None:
    env.cp.enable_stage_transition(
        pipelineName=PIPELINE, stageName=stage_name, transitionType=cast("Any", direction)
    )


# -- rules ---------------------------------------------------------------------------------------------------


def test_a_disabled_inbound_transition_keeps_newcomers_out_but_not_the_running_execution(env: Env) -> None:
    """Disabling Deploy's inbound transition keeps newcomers out; the execution already inside finishes."""
    first = env.create(env.linear(("Build", 60), ("Deploy", 3600)))
    for entry in env.state()["stageStates"][1:]:
        assert entry["inboundTransitionState"]["enabled"] is True  # enabled by default
    env.run_until_in_stage(first, "Deploy")
    _disable(env, "Deploy")
    second = env.start()
    env.run_until_waiting(second, "Deploy")

    env.run_until_status(first, "Succeeded")
    env.aws.clock.advance(2 * HOUR)
    inbound = env.stage_state("Deploy")["inboundExecution"]
    assert inbound["pipelineExecutionId"] == second
    assert inbound["status"] == "InProgress"
    assert env.stage_latest("Deploy") == (first, "Succeeded")
    assert not env.entered("Deploy", second)


def test_newer_arrivals_supersede_while_disabled_and_only_the_latest_enters(env: Env) -> None:
    """While disabled, newer arrivals supersede the waiting one; on enable only the latest enters."""
    first = env.create(env.linear(("Build", 60), ("Deploy", 60)))
    _disable(env, "Deploy")
    env.run_until_waiting(first, "Deploy")
    second = env.start()
    env.run_until_waiting(second, "Deploy")
    third = env.start()
    env.run_until_waiting(third, "Deploy")
    assert [env.status(e) for e in (first, second)] == ["Superseded", "Superseded"]

    _enable(env, "Deploy")
    env.run_until_status(third, "Succeeded")
    assert env.entered("Deploy", third)
    assert not env.entered("Deploy", first)
    assert not env.entered("Deploy", second)


def test_a_stopped_waiting_execution_never_enters_and_is_not_retryable(env: Env) -> None:
    """A waiting execution can be stopped; it then never enters the stage, even after enable, nor retries."""
    execution = env.create(env.linear(("Build", 60), ("Deploy", 60)))
    _disable(env, "Deploy")
    env.run_until_waiting(execution, "Deploy")
    assert env.status(execution) == "InProgress"

    env.cp.stop_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution, reason="not today")
    env.run_until_status(execution, "Stopped", limit=HOUR)
    _enable(env, "Deploy")
    env.aws.clock.advance(DAY)

    assert env.status(execution) == "Stopped"
    assert not env.entered("Deploy", execution)
    assert env.stage_latest("Deploy") == (None, None)
    with expect_error(("StageNotRetryableException", "NotLatestPipelineExecutionException")):
        env.cp.retry_stage_execution(
            pipelineName=PIPELINE,
            stageName="Deploy",
            pipelineExecutionId=execution,
            retryMode="FAILED_ACTIONS",
        )


def test_reenabling_after_30_days_does_not_resume_the_waiting_execution(env: Env) -> None:
    """After more than 30 days disabled, enabling the transition does not let the old waiter in."""
    execution = env.create(env.linear(("Build", 60), ("Deploy", 60)))
    _disable(env, "Deploy")
    env.run_until_waiting(execution, "Deploy")
    env.aws.clock.advance(31 * DAY)

    _enable(env, "Deploy")
    env.aws.clock.advance(DAY)
    assert not env.entered("Deploy", execution)
    assert env.stage_latest("Deploy") == (None, None)
    assert env.status(execution) == "Cancelled"  # the engine's documented choice


def test_reenabling_within_30_days_resumes_the_waiting_execution(env: Env) -> None:
    """Counterpart of T4: within 30 days, enabling admits the waiting execution."""
    execution = env.create(env.linear(("Build", 60), ("Deploy", 60)))
    _disable(env, "Deploy")
    env.run_until_waiting(execution, "Deploy")
    env.aws.clock.advance(29 * DAY)

    _enable(env, "Deploy")
    env.run_until_status(execution, "Succeeded", limit=HOUR)


def test_disabling_the_first_stages_inbound_transition_is_accepted(env: Env) -> None:
    """The first stage's inbound transition can be disabled; new executions wait in front of it (a choice)."""
    first = env.create(env.linear(("Deploy", 60)))
    env.run_until_status(first, "Succeeded")
    _disable(env, "Source", reason="No automatic runs")
    assert env.stage_state("Source")["inboundTransitionState"]["enabled"] is False

    waiting = env.start()
    env.aws.clock.advance(HOUR)
    assert env.status(waiting) == "InProgress"
    assert env.inbound_id("Source") == waiting
    assert not env.entered("Source", waiting)

    _enable(env, "Source")
    env.run_until_status(waiting, "Succeeded", limit=HOUR)


def test_editing_the_pipeline_cancels_the_waiting_execution(env: Env) -> None:
    """UpdatePipeline while an execution waits at a transition ends it as Cancelled (the engine's choice)."""
    execution = env.create(env.linear(("Build", 60), ("Deploy", 60)))
    _disable(env, "Deploy")
    env.run_until_waiting(execution, "Deploy")

    declaration = env.stored()
    declaration["stages"][1]["actions"][0]["configuration"]["DeploymentGroupName"] = "edited"
    env.update(declaration)
    env.run_until(lambda: env.status(execution) != "InProgress", limit=HOUR)

    assert env.status(execution) == "Cancelled"
    _enable(env, "Deploy")
    env.aws.clock.advance(HOUR)
    assert not env.entered("Deploy", execution)


# -- transition API facts ------------------------------------------------------------------------------------


def test_transition_disable_records_reason_by_and_at_enable_clears(env: Env) -> None:
    """Disabling records disabledReason, lastChangedBy and lastChangedAt; enabling sets enabled again."""
    env.create(env.linear(("Deploy", 60)))
    env.aws.clock.advance(120)
    _disable(env, "Deploy", reason="Freeze (release 1.2) ok!")
    state = env.stage_state("Deploy")["inboundTransitionState"]
    assert state["enabled"] is False
    assert state["disabledReason"] == "Freeze (release 1.2) ok!"
    assert state.get("lastChangedBy")
    assert ts(state["lastChangedAt"]) == pytest.approx(env.now())

    env.aws.clock.advance(60)
    _enable(env, "Deploy")
    state = env.stage_state("Deploy")["inboundTransitionState"]
    assert state["enabled"] is True
    assert ts(state["lastChangedAt"]) == pytest.approx(env.now())
    assert not state.get("disabledReason")


def test_transition_repeat_disable_and_enable_succeed(env: Env) -> None:
    """Disabling twice or enabling an enabled transition is accepted (the engine's choice: success)."""
    env.create(env.linear(("Deploy", 60)))
    _enable(env, "Deploy")
    _disable(env, "Deploy", reason="first")
    _disable(env, "Deploy", reason="second")
    assert env.stage_state("Deploy")["inboundTransitionState"]["disabledReason"] == "second"


def test_transition_redisable_records_its_own_moment_but_keeps_the_30_day_clock(env: Env) -> None:
    """A second disable (a new reason) is a change: lastChangedAt moves with lastChangedBy and the reason,
    while T4's 30 days still count from the first disable."""
    execution = env.create(env.linear(("Build", 60), ("Deploy", 60)))
    _disable(env, "Deploy", reason="first")
    env.aws.clock.advance(20 * DAY)
    _disable(env, "Deploy", reason="second")
    state = env.stage_state("Deploy")["inboundTransitionState"]
    assert state["disabledReason"] == "second"
    assert ts(state["lastChangedAt"]) == pytest.approx(env.now())

    env.aws.clock.advance(11 * DAY)  # 31 days after the first disable, 11 after the second
    _enable(env, "Deploy")
    env.aws.clock.advance(HOUR)
    assert not env.entered("Deploy", execution)
    assert env.status(execution) == "Cancelled"


def test_transition_outbound_blocks_entry_to_next_stage(env: Env) -> None:
    """Disabling Build's Outbound transition keeps executions from moving on to Deploy (the engine's choice)."""
    execution = env.create(env.linear(("Build", 60), ("Deploy", 60)))
    _disable(env, "Build", direction="Outbound")
    env.aws.clock.advance(HOUR)
    assert env.stage_latest("Build") == (execution, "Succeeded")
    assert not env.entered("Deploy", execution)
    assert env.status(execution) == "InProgress"

    _enable(env, "Build", direction="Outbound")
    env.run_until_status(execution, "Succeeded", limit=HOUR)


# -- error rows ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["disable", "enable"])
def test_transition_error_PipelineNotFoundException(env: Env, operation: str) -> None:
    """Transitions of an unknown pipeline answer PipelineNotFoundException."""
    with expect_error("PipelineNotFoundException"):
        if operation == "disable":
            env.cp.disable_stage_transition(
                pipelineName="missing", stageName="Deploy", transitionType="Inbound", reason="x"
            )
        else:
            env.cp.enable_stage_transition(
                pipelineName="missing", stageName="Deploy", transitionType="Inbound"
            )


@pytest.mark.parametrize("operation", ["disable", "enable"])
def test_transition_error_StageNotFoundException(env: Env, operation: str) -> None:
    """Transitions of an unknown stage answer StageNotFoundException."""
    env.create(env.linear(("Deploy", 60)))
    with expect_error("StageNotFoundException"):
        if operation == "disable":
            _disable(env, "Nowhere")
        else:
            _enable(env, "Nowhere")


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param("hold, please", id="comma"),
        pytest.param("ticket: 42", id="colon"),
        pytest.param("snake_case", id="underscore"),
        pytest.param("don't", id="apostrophe"),
        pytest.param("a/b", id="slash"),
        pytest.param("café", id="non-ascii"),
        pytest.param("x" * 301, id="too-long"),
    ],
)
def test_transition_error_ValidationException_reason(env: Env, reason: str) -> None:
    """A reason outside ``[a-zA-Z0-9!@ ().*?-]{1,300}`` (matched whole) is refused; nothing changes."""
    env.create(env.linear(("Deploy", 60)))
    with expect_error("ValidationException"):
        _disable(env, "Deploy", reason=reason)
    assert env.stage_state("Deploy")["inboundTransitionState"]["enabled"] is True


def test_transition_error_ValidationException_transition_type(env: Env) -> None:
    """A transitionType outside the enum (Inbound, Outbound) is refused by the service."""
    env.create(env.linear(("Deploy", 60)))
    with expect_error("ValidationException"):
        _disable(env, "Deploy", direction="Sideways")


def test_transition_error_ValidationException_pipeline_name(env: Env) -> None:
    """A pipeline name breaking the name pattern is refused with ValidationException."""
    with expect_error("ValidationException"):
        env.cp.enable_stage_transition(pipelineName="has space", stageName="Deploy", transitionType="Inbound")


def test_transition_empty_reason_rejected_client_side(env: Env) -> None:
    """An empty reason fails botocore's own ``min`` check before any request is sent."""
    env.create(env.linear(("Deploy", 60)))
    with pytest.raises(ParamValidationError):
        _disable(env, "Deploy", reason="")
