"""Stage transitions: the gates in front of (and behind) each stage, and switching them.

Disabling the *inbound* transition of a stage stops new executions from entering it: the next one waits in
front of the stage (``StageState.inbound_execution``) until the transition is enabled again. Executions
already in the stage, or past it, go on. This is how a change freeze holds releases
(:mod:`pipepilot.freeze`).

CodePipeline also accepts *outbound* transitions, but ``GetPipelineState`` reports only inbound ones, so
pipepilot can switch an outbound transition but cannot read it back (:meth:`Transition.state` returns
``None`` for it).

A switch whose answer is lost (a 5xx, a dropped connection) may have been applied. For an inbound
transition pipepilot reads the state back before sending it again, because a
blind resend of a disable would overwrite a change someone else made in between. What the reading proves:

* a **disable** took effect when the transition is disabled with the reason that was sent, changed no
  earlier than the request was sent (less five minutes for the difference between this machine's clock and
  AWS's). Disabled with another reason is someone else's change: it is not overwritten, and the error is
  raised. Enabled, or disabled with that reason before the request: not applied, sent again.
* an **enable** took effect when the transition is enabled (the state asked for holds; whether another
  party enabled it in the same moments cannot be told apart, and makes no difference to the handle).

Outbound transitions cannot be read back: a switch of one is resent blindly (both are plain "set" calls).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs

from pipepilot._handles import check_request, pipeline_state
from pipepilot._writes import send_checked
from pipepilot.model.runtime import StageTransitionType, TransitionState

if TYPE_CHECKING:
    from pipepilot._calls import Caller
    from pipepilot._time import TimeSource
    from pipepilot.model.runtime import PipelineState

__all__ = ["ENABLED", "Transition", "TransitionType"]

logger = logging.getLogger(__name__)

TransitionType = StageTransitionType
"""``Inbound`` or ``Outbound`` (alias of :class:`pipepilot.model.runtime.StageTransitionType`)."""

#: The state of a transition AWS reports nothing about: enabled (transitions are enabled by default).
ENABLED = TransitionState(enabled=True)

# How far AWS's clock (lastChangedAt) may be behind ours when recognising a change as the one just sent.
CLOCK_SLACK = timedelta(minutes=5)


def now_utc(source: TimeSource) -> datetime:
    """``source``'s wall clock (a caller's :attr:`~pipepilot._calls.Caller.time`: virtual inside
    ``offline()``), as an aware UTC datetime."""
    return datetime.fromtimestamp(source.time(), tz=timezone.utc)


def changed_since(state: TransitionState, moment: datetime) -> bool:
    """Whether ``state`` was last changed at or after ``moment`` (our clock), allowing for clock slack.

    A state without ``lastChangedAt`` proves nothing either way: it counts as changed since.
    """
    changed_at = state.last_changed_at
    return changed_at is None or changed_at >= moment - CLOCK_SLACK


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
        and replaces its reason, author and time. A disable whose answer is lost is read back rather than
        resent blindly (see the module docstring).

        Raises:
            RequestValidationError: the reason breaks the rules; the message names the characters not allowed.
            StageNotFoundError / PipelineNotFoundError: no such stage or pipeline.
            TransientError: the request failed past the retry policy, or its answer was lost and reading
                back could not show it took effect (it may have).
        """
        self._switch_off(reason)

    def _switch_off(self, reason: str) -> TransitionState | None:
        """:meth:`disable`, returning the state read back when the answer was lost (``None`` when AWS answered).

        Raises:
            The errors of :meth:`disable`.
        """
        params = {
            "pipelineName": self.pipeline,
            "stageName": self.stage,
            "transitionType": self.kind.value,
            "reason": reason,
        }
        check_request("DisableStageTransition", params, doing=f"disable {self.describe()}")
        if self.kind is StageTransitionType.OUTBOUND:
            # Not readable: a plain "set", resent as it is.
            self.caller.call("disable_stage_transition", idempotent=True, **params)
            logger.info("disabled %s: %s", self.describe(), reason)
            return None
        sent_at = now_utc(self.caller.time)
        seen: list[TransitionState] = []

        def confirm() -> bool | None:
            found = self.state()
            assert found is not None  # inbound
            seen.append(found)
            if found.enabled is not False:
                return False
            if found.disabled_reason != reason:
                return None  # someone else's disable: never overwritten blindly
            return changed_since(found, sent_at) or False

        answer = send_checked(
            self.caller,
            "disable_stage_transition",
            confirm=confirm,
            doing=f"disable {self.describe()}",
            **params,
        )
        logger.info("disabled %s: %s", self.describe(), reason)
        return seen[-1] if answer is None else None

    def enable(self) -> None:
        """Enable the transition (a no-op when it is enabled already).

        A waiting execution then enters the stage, unless another execution occupies it (after 30 days
        disabled, AWS does not resume the waiting execution: start a new one). An enable whose answer is
        lost is read back rather than resent blindly (see the module docstring).

        Raises:
            RequestValidationError: the pipeline or stage name breaks the API's rules (nothing was sent).
            StageNotFoundError / PipelineNotFoundError: no such stage or pipeline.
            TransientError: the request failed past the retry policy, or its answer was lost and reading
                back could not show it took effect (it may have).
        """
        self._switch_on()

    def _switch_on(self) -> TransitionState | None:
        """:meth:`enable`, returning the state read back when the answer was lost (``None`` when AWS answered).

        Raises:
            The errors of :meth:`enable`.
        """
        params = {"pipelineName": self.pipeline, "stageName": self.stage, "transitionType": self.kind.value}
        check_request("EnableStageTransition", params, doing=f"enable {self.describe()}")
        if self.kind is StageTransitionType.OUTBOUND:
            self.caller.call("enable_stage_transition", idempotent=True, **params)
            logger.info("enabled %s", self.describe())
            return None
        seen: list[TransitionState] = []

        def confirm() -> bool:
            found = self.state()
            assert found is not None  # inbound
            seen.append(found)
            return found.enabled is not False

        answer = send_checked(
            self.caller,
            "enable_stage_transition",
            confirm=confirm,
            doing=f"enable {self.describe()}",
            **params,
        )
        logger.info("enabled %s", self.describe())
        return seen[-1] if answer is None else None

    def describe(self) -> str:
        """A short human description: ``the inbound transition of stage 'Deploy' of pipeline 'web'``."""
        return (
            f"the {self.kind.value.lower()} transition of stage {self.stage!r} of pipeline {self.pipeline!r}"
        )
