"""An approval bot for AWS Lambda: the user writes the decision, pipepilot does everything else.

::

    from pipepilot.awslambda import Approve, Leave, approval_bot

    @approval_bot
    def handler(request):
        if request.custom_data == "branch=main":
            return Approve("main is green")
        return Leave("not main: a human decides")

Subscribe the function to the approval's SNS topic (or point an EventBridge rule for approval events at
it). Each invocation reads every notification in the event, skips a notification already handled in the
same invocation (same SNS ``MessageId`` or EventBridge ``id``), asks ``decide`` about each, and answers the
notified approval exactly once with :func:`~pipepilot.awslambda.answer`: never another execution's, never
"whatever is waiting now". It logs one line per notification, never the event, the token or the review
link, and returns normally for every outcome (answered, already answered, conflict, expired, left for a
human), so Lambda retries only what raised: a transient AWS failure, an approval that did not appear
within the bounded wait, a malformed event, or an error in ``decide`` itself.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, overload

import attrs

from pipepilot.awslambda._notifications import ApprovalNotification, read_notifications

if TYPE_CHECKING:
    from collections.abc import Callable, Collection
    from datetime import datetime

    from pipepilot.approvals import Approval
    from pipepilot.model.runtime import ArtifactRevision, PipelineExecution
    from pipepilot.pipelines import CodePipeline

__all__ = ["ApprovalBot", "ApprovalRequest", "Approve", "Decision", "Leave", "Reject", "approval_bot"]

logger = logging.getLogger(__name__)

#: Seconds the bot waits for an approval an EventBridge event announced before it shows as waiting.
DEFAULT_APPROVAL_WAIT = 30.0

# Seconds of the invocation's remaining time kept for answering after a wait.
_ANSWER_RESERVE = 10.0


@attrs.frozen
class Approve:
    """``decide``'s answer: approve, with ``summary`` saying why (recorded with the approval)."""

    summary: str = ""


@attrs.frozen
class Reject:
    """``decide``'s answer: reject, with ``summary`` saying why (recorded with the rejection)."""

    summary: str = ""


@attrs.frozen
class Leave:
    """``decide``'s answer: answer nothing and leave the approval to a human; ``reason`` is logged."""

    reason: str = ""


#: What ``decide`` returns.
Decision = Approve | Reject | Leave


class ApprovalRequest:
    """What ``decide`` sees: the notified approval's fields, and (lazily) its pipeline and execution.

    ``pipeline``, ``stage``, ``action``, ``custom_data``, ``external_entity_link``, ``expires``, ``region``,
    ``account_id``, ``message_id`` and ``topic_arn`` come from the notification at no cost. The token is
    not here: only the bot answers. :attr:`execution_id`, :meth:`execution` and :attr:`revisions` read
    AWS the first time they are asked for (and are cached): rules that only look at the notification
    cost no call.
    """

    __slots__ = ("_approval", "_codepipeline", "_execution", "_notification", "_wait")

    def __init__(
        self, notification: ApprovalNotification, codepipeline: CodePipeline, *, wait: float
    ) -> None:
        self._notification = notification
        self._codepipeline = codepipeline
        self._wait = wait
        self._approval: Approval | None = None
        self._execution: PipelineExecution | None = None

    @property
    def pipeline(self) -> str:
        """The pipeline's name."""
        return self._notification.pipeline

    @property
    def stage(self) -> str:
        """The approval's stage."""
        return self._notification.stage

    @property
    def action(self) -> str:
        """The approval action's name."""
        return self._notification.action

    @property
    def custom_data(self) -> str | None:
        """The action's ``CustomData`` (``None`` when unset, or for an EventBridge event)."""
        return self._notification.custom_data

    @property
    def external_entity_link(self) -> str | None:
        """The action's ``ExternalEntityLink`` (``None`` when unset)."""
        return self._notification.external_entity_link

    @property
    def expires(self) -> datetime | None:
        """When the approval fails unanswered (UTC), when the notification says."""
        return self._notification.expires

    @property
    def region(self) -> str | None:
        """The pipeline's region, when the notification says."""
        return self._notification.region

    @property
    def account_id(self) -> str | None:
        """The pipeline's account, when the notification says."""
        return self._notification.account_id

    @property
    def message_id(self) -> str | None:
        """The SNS ``MessageId`` or EventBridge ``id`` of the notification."""
        return self._notification.message_id

    @property
    def topic_arn(self) -> str | None:
        """The SNS topic the notification came through."""
        return self._notification.topic_arn

    @property
    def codepipeline(self) -> CodePipeline:
        """The facade the bot answers with (in the pipeline's region), for rules that read more."""
        return self._codepipeline

    @property
    def execution_id(self) -> str | None:
        """The execution the approval belongs to; ``None`` when it no longer waits (expired, answered).

        An SNS notification carries no execution id: the first use matches its token to the approval
        waiting (one ``GetPipeline``, one ``GetPipelineState``), never to another execution.
        """
        if self._notification.execution_id is not None:
            return self._notification.execution_id
        return self._answerable().execution_id

    def execution(self) -> PipelineExecution | None:
        """The approval's execution (one ``GetPipelineExecution``), or ``None`` when it is not known."""
        if self._execution is None:
            execution_id = self.execution_id
            if execution_id is None:
                return None
            self._execution = self._codepipeline.pipeline(self.pipeline).execution(execution_id).get()
        return self._execution

    @property
    def revisions(self) -> tuple[ArtifactRevision, ...]:
        """The source revisions the execution processes (commit ids, summaries); empty when unknown."""
        execution = self.execution()
        return () if execution is None else execution.artifact_revisions

    def _answerable(self) -> Approval:
        """The handle the bot answers with (pinned to the token, or to the execution), cached.

        Private: it holds the token, which ``decide`` has no use for.

        Raises:
            NoApprovalWaitingError / ExecutionUnsuccessful / WaitTimeout: see
                :meth:`ApprovalNotification.approval`.
        """
        if self._approval is None:
            from pipepilot.awslambda._outcomes import pin_to_waiting

            self._approval = pin_to_waiting(self._notification.approval(self._codepipeline, wait=self._wait))
        return self._approval

    def describe(self) -> str:
        """``approval Prod/Approve of pipeline 'web'`` (never the token)."""
        return self._notification.describe()

    def __repr__(self) -> str:
        return f"ApprovalRequest({self._notification!r})"  # the notification's repr leaves the token out


class ApprovalBot:
    """A Lambda handler that answers approval notifications with ``decide``'s decisions (see the module).

    ``name`` leads every summary it records (``Approved by release-bot: main is green``), so the approval's
    record says who decided. ``pipelines``, when given, is the only pipelines it answers for; others are
    left alone (logged), which keeps a mis-subscribed topic harmless. ``codepipeline`` is the facade to
    answer with (default: one per region, made on first use and kept for warm invocations; a callable
    gets the region and returns a facade). ``wait`` bounds, in seconds, how long it waits for an approval
    an EventBridge event announced before it shows as waiting; the wait also ends 10 s before the
    invocation's own timeout (``context.get_remaining_time_in_millis()``), so the function raises
    ``WaitTimeout`` and Lambda retries, instead of being killed.

    Calling it (``bot(event, context)``) returns ``{"results": [...]}``: per notification, where it was,
    the decision and the outcome (``answered``, ``already-answered``, ``conflict``, ``expired``, ``left``,
    ``ignored``, ``duplicate``) with a one-line text.

    Raises (from a call):
        MalformedEventError: the event holds something that is not a notification; nothing was answered.
        TransientError: AWS failed in a way worth retrying (Lambda then retries the invocation).
        WaitTimeout: an approval an EventBridge event announced did not show within ``wait``
            (NoApprovalWaitingError when no time was left to wait at all).
        ArgumentTypeError: ``decide`` returned something other than Approve, Reject or Leave.
    """

    def __init__(
        self,
        decide: Callable[[ApprovalRequest], Decision],
        *,
        name: str | None = None,
        pipelines: Collection[str] | None = None,
        codepipeline: CodePipeline | Callable[[str | None], CodePipeline] | None = None,
        wait: float = DEFAULT_APPROVAL_WAIT,
    ) -> None:
        from pipepilot.errors import ArgumentTypeError, InvalidArgumentError

        if not callable(decide):
            raise ArgumentTypeError(
                f"decide must be callable, not {type(decide).__name__}", parameter="decide"
            )
        if isinstance(pipelines, str):
            raise ArgumentTypeError(
                "pipelines must be a collection of names, not one string", parameter="pipelines"
            )
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or wait < 0:
            raise InvalidArgumentError(f"wait must be seconds (0 or more), not {wait!r}", parameter="wait")
        self.decide = decide
        # The function's name is who decided, in the approval's record (Lambda sets the variable).
        self.name = name or os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "approval-bot"
        self.pipelines = None if pipelines is None else frozenset(pipelines)
        self.wait = float(wait)
        self._codepipeline = codepipeline
        self._facades: dict[str | None, CodePipeline] = {}
        self.__doc__ = getattr(decide, "__doc__", None)

    def __repr__(self) -> str:
        return (
            f"ApprovalBot(name={self.name!r}, pipelines={sorted(self.pipelines) if self.pipelines else None})"
        )

    def facade(self, region: str | None) -> CodePipeline:
        """The facade that answers approvals of ``region`` (made once, then reused by warm invocations)."""
        found = self._facades.get(region)
        if found is None:
            given = self._codepipeline
            if given is None:
                from pipepilot.pipelines import CodePipeline

                found = CodePipeline(region_name=region)
            elif callable(given):
                found = given(region)
            else:
                found = given
            self._facades[region] = found
        return found

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        notifications = read_notifications(event)
        seen: set[str] = set()
        results = []
        for notification in notifications:
            if notification.message_id is not None and notification.message_id in seen:
                logger.info(
                    "%s: notification %s delivered twice in one event; handled once",
                    notification.describe(),
                    notification.message_id,
                )
                results.append(self._result(notification, None, "duplicate", "delivered twice; handled once"))
                continue
            if notification.message_id is not None:
                seen.add(notification.message_id)
            results.append(self._handle(notification, wait=self._wait_within(context)))
        return {"results": results}

    def _wait_within(self, context: Any) -> float:
        """``wait``, cut so that the function ends the wait (and raises) before Lambda's timeout kills it."""
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if not callable(remaining):
            return self.wait
        try:
            seconds = float(remaining()) / 1000.0
        except (TypeError, ValueError):
            return self.wait
        # Leave time for the answer itself after the wait (a few calls, perhaps throttled).
        return max(0.0, min(self.wait, seconds - _ANSWER_RESERVE))

    def _handle(self, notification: ApprovalNotification, *, wait: float) -> dict[str, Any]:
        from pipepilot.errors import ArgumentTypeError, ExecutionUnsuccessful, NoApprovalWaitingError

        where = notification.describe()
        if self.pipelines is not None and notification.pipeline not in self.pipelines:
            logger.info("%s: not one of this bot's pipelines; left alone", where)
            return self._result(notification, None, "ignored", "not one of this bot's pipelines")
        request = ApprovalRequest(notification, self.facade(notification.region), wait=wait)
        decision = self.decide(request)
        if not isinstance(decision, (Approve, Reject, Leave)):
            raise ArgumentTypeError(
                f"{self.name} must return Approve, Reject or Leave, not {type(decision).__name__}",
                parameter="decide",
            )
        if isinstance(decision, Leave):
            logger.info("%s: left for a human (%s)", where, decision.reason or "no reason given")
            return self._result(notification, decision, "left", decision.reason)
        try:
            approval = request._answerable()
        except (NoApprovalWaitingError, ExecutionUnsuccessful) as error:
            if isinstance(error, NoApprovalWaitingError) and wait <= 0:
                raise  # not waited for (no time left): maybe not there *yet*, so let Lambda retry
            # An EventBridge event of an execution that no longer reaches the approval: nothing to answer.
            text = f"{where} no longer waits: {type(error).__name__}; nothing was answered"
            logger.warning("%s", text)
            return self._result(notification, decision, "expired", text)
        from pipepilot.awslambda._outcomes import answer

        verb = "Approved" if isinstance(decision, Approve) else "Rejected"
        summary = f"{verb} by {self.name}" + (f": {decision.summary}" if decision.summary else "")
        outcome = answer(approval, approve=isinstance(decision, Approve), summary=summary)
        logger.info("%s: %s -> %s", where, verb.lower(), outcome.kind.value)
        return self._result(notification, decision, outcome.kind.value, outcome.text)

    @staticmethod
    def _result(
        notification: ApprovalNotification, decision: Decision | None, outcome: str, text: str
    ) -> dict[str, Any]:
        return {
            "message_id": notification.message_id,
            "pipeline": notification.pipeline,
            "stage": notification.stage,
            "action": notification.action,
            "execution_id": notification.execution_id,
            "decision": None if decision is None else type(decision).__name__.lower(),
            "outcome": outcome,
            "text": text,
        }


@overload
def approval_bot(
    decide: Callable[[ApprovalRequest], Decision],
    /,
    *,
    name: str | None = None,
    pipelines: Collection[str] | None = None,
    codepipeline: CodePipeline | Callable[[str | None], CodePipeline] | None = None,
    wait: float = DEFAULT_APPROVAL_WAIT,
) -> ApprovalBot: ...


@overload
def approval_bot(
    decide: None = None,
    /,
    *,
    name: str | None = None,
    pipelines: Collection[str] | None = None,
    codepipeline: CodePipeline | Callable[[str | None], CodePipeline] | None = None,
    wait: float = DEFAULT_APPROVAL_WAIT,
) -> Callable[[Callable[[ApprovalRequest], Decision]], ApprovalBot]: ...


def approval_bot(
    decide: Callable[[ApprovalRequest], Decision] | None = None,
    /,
    *,
    name: str | None = None,
    pipelines: Collection[str] | None = None,
    codepipeline: CodePipeline | Callable[[str | None], CodePipeline] | None = None,
    wait: float = DEFAULT_APPROVAL_WAIT,
) -> ApprovalBot | Callable[[Callable[[ApprovalRequest], Decision]], ApprovalBot]:
    """Make ``decide`` an SNS-subscribed Lambda handler: ``@approval_bot`` or ``@approval_bot(name=...)``.

    Returns an :class:`ApprovalBot` (used as a decorator with options, a decorator that makes one); the
    options are the bot's.

    Raises:
        ArgumentTypeError / InvalidArgumentError: an option has the wrong type or value.
    """
    options: dict[str, Any] = {
        "name": name,
        "pipelines": pipelines,
        "codepipeline": codepipeline,
        "wait": wait,
    }
    if decide is None:

        def make(function: Callable[[ApprovalRequest], Decision]) -> ApprovalBot:
            return ApprovalBot(function, **options)

        return make
    return ApprovalBot(decide, **options)
