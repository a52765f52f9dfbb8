"""Stage transitions: the gates in front of (and behind) each stage, and switching them.

Disabling the *inbound* transition of a stage stops new executions from entering it: the next one waits in
front of the stage (``StageState.inbound_execution``) until the transition is enabled again. Executions
already in the stage, or past it, go on. This is how a change freeze holds releases
(:mod:`pipepilot.freeze`).

CodePipeline also accepts *outbound* transitions, but ``GetPipelineState`` reports only inbound ones, so
pipepilot can switch an outbound transition but cannot read it back (:meth:`Transition.state` returns
``None`` for it).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import attrs

from pipepilot._handles import check_request, pipeline_state
from pipepilot.model.runtime import StageTransitionType, TransitionState

if TYPE_CHECKING:
    from pipepilot._calls import Caller
    from pipepilot.model.runtime import PipelineState

__all__ = ["ENABLED", "Transition", "TransitionType"]

logger = logging.getLogger(__name__)

TransitionType = StageTransitionType
"""``Inbound`` or ``Outbound`` (alias of :class:`pipepilot.model.runtime.StageTransitionType`)."""

#: The state of a transition AWS reports nothing about: enabled (transitions are enabled by default).
ENABLED = TransitionState(enabled=True)


def _kind(value: StageTransitionType | str) -> StageTransitionType:
    try:
        return StageTransitionType(value)
    except ValueError:
        raise ValueError(f"a transition is 'Inbound' or 'Outbound', not {value!r}") from None


@attrs.frozen(kw_only=True)
class Transition:
    """The inbound or outbound transition of one stage of one pipeline (a handle: no state is cached).

    Get one from ``pipeline.stage("Deploy").inbound`` (or ``.outbound``), or ``pipeline.transitions()``.
    """

    caller: Caller[Any] = attrs.field(repr=False, eq=False)
    pipeline: str
    stage: str
    kind: StageTransitionType = attrs.field(converter=_kind)

    def state(self) -> TransitionState | None:
        """Whether the transition is enabled, and when disabled: who disabled it, when, and why.

        One ``GetPipelineState`` call. For an inbound transition AWS may leave the state out (it does for
        some first stages); that means enabled, and :data:`ENABLED` is returned. For an outbound transition
        the result is ``None``: ``GetPipelineState`` has no field for it, so its state is unknown.

        Raises:
            StageNotFoundError: the pipeline has no such stage (``available`` lists the stages it has).
            PipelineNotFoundError: no such pipeline.
        """
        return self.state_in(pipeline_state(self.caller, self.pipeline))

    def state_in(self, state: PipelineState) -> TransitionState | None:
        """This transition's state as ``state`` (a ``GetPipelineState`` reading) shows it; see :meth:`state`.

        Raises:
            StageNotFoundError: ``state`` has no such stage.
        """
        stage = state.stage(self.stage)
        if self.kind is StageTransitionType.OUTBOUND:
            return None
        return stage.inbound_transition_state or ENABLED

    def disable(self, reason: str) -> None:
        """Disable the transition, recording ``reason`` (shown in the console and in :meth:`state`).

        ``reason`` is checked against the API's rules before anything is sent: 1 to 300 characters, only
        letters, digits, spaces and ``! @ ( ) . * ? -``. Disabling an already disabled transition succeeds
        and replaces its reason, author and time.

        Raises:
            ValidationError: the reason breaks the rules; the message names the characters not allowed.
            StageNotFoundError / PipelineNotFoundError: no such stage or pipeline.
        """
        params = {
            "pipelineName": self.pipeline,
            "stageName": self.stage,
            "transitionType": self.kind.value,
            "reason": reason,
        }
        check_request("DisableStageTransition", params, doing=f"disable {self.describe()}")
        # Disabling is a plain "set" (the same request twice leaves the same state), so a lost response
        # may safely be retried.
        self.caller.call("disable_stage_transition", idempotent=True, **params)
        logger.info("disabled %s: %s", self.describe(), reason)

    def enable(self) -> None:
        """Enable the transition (a no-op when it is enabled already).

        A waiting execution then enters the stage, unless another execution occupies it (after 30 days
        disabled, AWS does not resume the waiting execution: start a new one).

        Raises:
            ValidationError: the pipeline or stage name breaks the API's rules (nothing was sent).
            StageNotFoundError / PipelineNotFoundError: no such stage or pipeline.
        """
        params = {"pipelineName": self.pipeline, "stageName": self.stage, "transitionType": self.kind.value}
        check_request("EnableStageTransition", params, doing=f"enable {self.describe()}")
        self.caller.call("enable_stage_transition", idempotent=True, **params)
        logger.info("enabled %s", self.describe())

    def describe(self) -> str:
        """A short human description: ``the inbound transition of stage 'Deploy' of pipeline 'web'``."""
        return (
            f"the {self.kind.value.lower()} transition of stage {self.stage!r} of pipeline {self.pipeline!r}"
        )
