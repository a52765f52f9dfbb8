"""Stage transitions on the offline engine: reading, disabling (with the reason checked first), enabling."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest

from pipepilot.errors import RequestValidationError, ServiceUnavailableError, StageNotFoundError
from pipepilot.polling import ExecutionHeldAtTransition
from pipepilot.transitions import ENABLED, Transition, TransitionType

from .offline_world import PIPELINE, World, call_counter, deploy, s3_source, stage

if TYPE_CHECKING:
    from pipepilot.pipelines import Pipeline


def three_stages(world: World) -> Pipeline:
    for name in ("Staging", "Prod"):
        world.aws.script_action(PIPELINE, name, name, duration=60)
    return world.create(
        PIPELINE,
        [
            stage("Source", s3_source()),
            stage("Staging", {**deploy("Staging"), "inputArtifacts": [{"name": "SourceOutput"}]}),
            stage("Prod", {**deploy("Prod"), "inputArtifacts": [{"name": "SourceOutput"}]}),
        ],
    )


def test_transitions_are_enabled_by_default(world: World) -> None:
    """A fresh pipeline's inbound transitions read as enabled."""
    pipeline = three_stages(world)
    state = pipeline.stage("Prod").inbound.state()
    assert state is not None
    assert state.enabled is True


def test_disable_records_reason_author_and_time_then_enable_clears_it(world: World) -> None:
    """disable(reason) shows enabled=False with the reason, who and when; enable() turns it back on."""
    pipeline = three_stages(world)
    inbound = pipeline.stage("Prod").inbound
    inbound.disable("Change freeze until Monday (INC-42)")
    disabled_at = world.aws.clock.now()  # a call is applied at the end of its latency, just before it returns
    state = inbound.state()
    assert state is not None
    assert state.enabled is False
    assert state.disabled_reason == "Change freeze until Monday (INC-42)"
    assert state.last_changed_by
    assert state.last_changed_by.startswith("arn:aws:")
    assert state.last_changed_at == datetime.fromtimestamp(disabled_at, tz=timezone.utc)
    inbound.enable()
    after = inbound.state()
    assert after is not None
    assert after.enabled is True


def test_a_reason_with_characters_the_api_refuses_names_them_and_sends_nothing(world: World) -> None:
    """Commas, colons, underscores and apostrophes are refused before sending, each named in the message."""
    pipeline = three_stages(world)
    calls = call_counter(world.cp)
    with pytest.raises(RequestValidationError) as raised:
        pipeline.stage("Prod").inbound.disable("freeze: week_42, Ben's call")
    message = str(raised.value)
    for char in (":", "_", ",", "'"):
        assert repr(char) in message
    assert "allowed: letters, digits, space and ! @ ( ) . * ? -" in message
    assert "DisableStageTransition" not in calls
    state = pipeline.stage("Prod").inbound.state()
    assert state is not None
    assert state.enabled is True


@pytest.mark.parametrize(("reason", "fragment"), [("", "at least 1"), ("x" * 301, "at most 300")])
def test_a_reason_of_the_wrong_length_is_refused_before_sending(
    world: World, reason: str, fragment: str
) -> None:
    """The reason must be 1 to 300 characters; nothing is sent otherwise."""
    pipeline = three_stages(world)
    calls = call_counter(world.cp)
    with pytest.raises(RequestValidationError, match=fragment):
        pipeline.stage("Prod").inbound.disable(reason)
    assert "DisableStageTransition" not in calls


def test_a_disabled_transition_holds_the_execution_until_enabled(world: World) -> None:
    """An execution waits in front of a disabled stage (reported as held) and goes on once enabled."""
    pipeline = three_stages(world)
    pipeline.stage("Prod").inbound.disable("hold for review")
    execution = pipeline.start()
    events: list[Any] = []

    def on_progress(event: Any) -> None:
        events.append(event)
        if isinstance(event, ExecutionHeldAtTransition):
            pipeline.stage("Prod").inbound.enable()

    assert execution.wait(on_progress=on_progress).status == "Succeeded"
    held = [e for e in events if isinstance(e, ExecutionHeldAtTransition)]
    assert len(held) == 1
    assert held[0].stage_name == "Prod"
    assert held[0].reason == "hold for review"


def test_outbound_transitions_can_be_switched_but_not_read(world: World) -> None:
    """An outbound transition's state is not reported by AWS: state() is None; disable/enable work."""
    pipeline = three_stages(world)
    outbound = pipeline.stage("Staging").outbound
    assert outbound.kind is TransitionType.OUTBOUND
    assert outbound.state() is None
    outbound.disable("hold after staging")
    outbound.enable()


def test_transitions_lists_every_gate_in_stage_order(world: World) -> None:
    """transitions(): each stage's inbound, and the outbound of every stage but the last."""
    pipeline = three_stages(world)
    listed = [(t.stage, t.kind.value) for t in pipeline.transitions()]
    assert listed == [
        ("Source", "Inbound"),
        ("Source", "Outbound"),
        ("Staging", "Inbound"),
        ("Staging", "Outbound"),
        ("Prod", "Inbound"),
    ]
    assert all(isinstance(t, Transition) for t in pipeline.transitions())


def test_an_unknown_stage_is_reported(world: World) -> None:
    """state() and disable() on a stage the pipeline lacks raise StageNotFoundError."""
    pipeline = three_stages(world)
    with pytest.raises(StageNotFoundError) as raised:
        pipeline.stage("Nope").inbound.state()
    assert raised.value.available == ("Source", "Staging", "Prod")
    with pytest.raises(StageNotFoundError):
        pipeline.stage("Nope").inbound.disable("freeze")


def test_enabling_a_badly_named_stage_is_refused_before_sending(world: World) -> None:
    """enable() checks the names against the API's rules first, as disable() does: nothing is sent."""
    pipeline = three_stages(world)
    calls = call_counter(world.cp)
    with pytest.raises(RequestValidationError, match="'/'"):
        pipeline.stage("Bad/Name").inbound.enable()
    assert calls.get("EnableStageTransition", 0) == 0


@pytest.mark.parametrize(
    "fault", [{"error": "lost-response"}, {"error": "InternalFailure", "applied": True}], ids=["lost", "5xx"]
)
def test_a_disable_applied_but_unanswered_is_read_back_not_resent(
    world: World, fault: dict[str, Any]
) -> None:
    """A disable whose answer was lost (or a 5xx after the fact) is confirmed by reading the transition back
    (disabled with the reason sent, changed since): it is not sent a second time."""
    pipeline = three_stages(world)
    world.aws.faults.add(operation="DisableStageTransition", nth=1, **fault)
    calls = call_counter(world.cp)
    pipeline.stage("Prod").inbound.disable("freeze")
    assert calls["DisableStageTransition"] == 1
    assert calls["GetPipelineState"] == 1
    state = pipeline.stage("Prod").inbound.state()
    assert state is not None
    assert state.enabled is False
    assert state.disabled_reason == "freeze"


def test_a_disable_that_failed_unapplied_is_sent_again(world: World) -> None:
    """A 5xx that changed nothing is read back (still enabled) and the disable is sent again under the policy."""
    pipeline = three_stages(world)
    world.aws.faults.add(operation="DisableStageTransition", error="ServiceUnavailable", nth=1)
    calls = call_counter(world.cp)
    pipeline.stage("Prod").inbound.disable("freeze")
    assert calls["DisableStageTransition"] == 2
    state = pipeline.stage("Prod").inbound.state()
    assert state is not None
    assert state.disabled_reason == "freeze"


def test_a_lost_disable_never_overwrites_someone_elses(world: World) -> None:
    """When the reading shows another reason (someone disabled it meanwhile), the disable is not resent:
    the error is raised and their change stays."""
    pipeline = three_stages(world)
    gate = pipeline.stage("Prod").inbound

    def someone_else(**_: Any) -> None:
        world.aws.client("codepipeline").disable_stage_transition(
            pipelineName=PIPELINE, stageName="Prod", transitionType="Inbound", reason="Incident 9"
        )

    world.aws.faults.add(operation="DisableStageTransition", error="ServiceUnavailable", nth=1)
    world.cp.client.meta.events.register("after-call.codepipeline.DisableStageTransition", someone_else)
    with pytest.raises(ServiceUnavailableError):
        gate.disable("freeze")
    state = gate.state()
    assert state is not None
    assert state.disabled_reason == "Incident 9"


@pytest.mark.parametrize(
    "fault", [{"error": "lost-response"}, {"error": "InternalFailure", "applied": True}], ids=["lost", "5xx"]
)
def test_an_enable_applied_but_unanswered_is_read_back_not_resent(
    world: World, fault: dict[str, Any]
) -> None:
    """An enable whose answer was lost is confirmed by reading the transition back (enabled)."""
    pipeline = three_stages(world)
    gate = pipeline.stage("Prod").inbound
    gate.disable("freeze")
    world.aws.faults.add(operation="EnableStageTransition", nth=1, **fault)
    calls = call_counter(world.cp)
    gate.enable()
    assert calls["EnableStageTransition"] == 1
    state = gate.state()
    assert state is not None
    assert state.enabled is True


def test_a_bad_transition_kind_is_refused() -> None:
    """Only Inbound and Outbound exist."""
    with pytest.raises(ValueError, match="Inbound"):
        Transition(caller=None, pipeline="p", stage="s", kind="Sideways")  # type: ignore[arg-type]


def test_enabled_constant_reads_enabled() -> None:
    """ENABLED is what an inbound transition without a reported state means."""
    assert ENABLED.enabled is True
    assert ENABLED.disabled_reason is None
