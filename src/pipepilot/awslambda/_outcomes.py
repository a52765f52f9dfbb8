"""Answering an approval from a Lambda function: outcomes instead of crashes, raising only what a retry fixes.

A Lambda function subscribed to SNS (or an EventBridge rule) is invoked at least once per notification, and
Lambda retries an invocation that raised. So :func:`answer` sorts what can happen into an
:class:`AnswerOutcome` and returns normally for all of it: the answer was recorded now
(:attr:`OutcomeKind.ANSWERED`), it was recorded already the same way (a redelivery:
:attr:`OutcomeKind.ALREADY_ANSWERED`), someone answered the other way first (:attr:`OutcomeKind.CONFLICT`), or
the approval can no longer be answered: it timed out, its execution was stopped or superseded, it was run
again with a new token, or the token names another approval (:attr:`OutcomeKind.EXPIRED`). None of these
gets better by retrying. Only transient failures (throttling that outlived pipepilot's retries, AWS errors
on its side, no answer at all) raise, so that Lambda's own retry is the retry; by then pipepilot has read
the approval back, so a retried answer is never recorded twice.
"""

from __future__ import annotations

import enum
import logging
import unicodedata
from datetime import timedelta
from typing import TYPE_CHECKING

import attrs

from pipepilot.model.runtime import ActionExecutionStatus, ApprovalStatus

if TYPE_CHECKING:
    from datetime import datetime

    from pipepilot.approvals import Approval
    from pipepilot.model.runtime import ActionExecutionDetail

__all__ = ["SUMMARY_LIMIT", "AnswerOutcome", "OutcomeKind", "answer", "fit_summary", "pin_to_waiting"]

logger = logging.getLogger(__name__)

#: The longest ``summary`` PutApprovalResult accepts, in characters.
SUMMARY_LIMIT = 512

# How far a run's start may be from the one a notification's expiry implies (the expiry is to the minute).
_START_TOLERANCE = timedelta(minutes=2)


class OutcomeKind(enum.Enum):
    """How answering an approval ended (every kind but a transient failure, which raises)."""

    #: The answer was recorded by this call.
    ANSWERED = "answered"
    #: The same answer was recorded already (a redelivered notification, a double click): a success.
    ALREADY_ANSWERED = "already-answered"
    #: The approval was answered the other way first; nothing changed.
    CONFLICT = "conflict"
    #: The approval can no longer be answered (timed out, stopped, superseded, run again, or the token
    #: belongs to another approval); nothing changed.
    EXPIRED = "expired"


@attrs.frozen(kw_only=True)
class AnswerOutcome:
    """What answering an approval did: ``kind``, the ``decision`` asked for, the answer ``recorded``.

    ``recorded`` is the answer the approval holds now (``None`` when it holds none: expired, or not
    found). ``text`` is one line for people and logs (never the token).
    """

    kind: OutcomeKind
    decision: ApprovalStatus
    recorded: ApprovalStatus | None
    text: str

    @property
    def succeeded(self) -> bool:
        """The approval holds the decision asked for (answered now, or already)."""
        return self.kind in (OutcomeKind.ANSWERED, OutcomeKind.ALREADY_ANSWERED)


def answer(approval: Approval, *, approve: bool, summary: str) -> AnswerOutcome:
    """Approve or reject ``approval`` exactly once, and say how it went instead of raising.

    ``summary`` is recorded with the answer, led by the decision (``Approved: ...`` / ``Rejected: ...``,
    unless it already starts with it) and cut to 512 characters with ``…`` (:func:`fit_summary`).
    A handle pinned only to a token (from an SNS notification) is first matched to the approval waiting
    with that token (one ``GetPipeline``, one ``GetPipelineState``; in PARALLEL mode ``ListActionExecutions``
    of the running executions), so that a lost response is confirmed by reading that exact run. When the
    answer is refused, the approval's run is read (``ListActionExecutions``) to tell a redelivery
    (:attr:`~OutcomeKind.ALREADY_ANSWERED`) from a :attr:`~OutcomeKind.CONFLICT` and an
    :attr:`~OutcomeKind.EXPIRED` approval; a run that failed with no reviewer recorded timed out.
    A pipeline, stage or action that no longer exists is :attr:`~OutcomeKind.EXPIRED` too.

    Raises:
        TransientError: throttling, an AWS failure or no answer outlived pipepilot's retries: raise it
            out of the handler, so Lambda retries the invocation (nothing is recorded twice).
        ArgumentTypeError: ``approve`` is not a bool or ``summary`` not a string; nothing was sent.
        RequestValidationError: the request breaks the API's rules (a token of the wrong form).
        AccessDeniedError: the function's role may not make a call it needs.
    """
    from pipepilot.approvals import answer_approval
    from pipepilot.errors import ApprovalError, ArgumentTypeError, NotFoundError

    if not isinstance(approve, bool):
        raise ArgumentTypeError(f"approve must be a bool, not {type(approve).__name__}", parameter="approve")
    if not isinstance(summary, str):
        raise ArgumentTypeError(
            f"summary must be a string, not {type(summary).__name__}", parameter="summary"
        )
    decision = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
    verb = "approve" if approve else "reject"
    text = fit_summary(_with_decision(summary, decision))
    try:
        pinned = pin_to_waiting(approval)
        if answer_approval(pinned, decision, text):
            return AnswerOutcome(
                kind=OutcomeKind.ANSWERED,
                decision=decision,
                recorded=decision,
                text=f"{_past(decision)} {pinned.describe()}",
            )
        return AnswerOutcome(
            kind=OutcomeKind.ALREADY_ANSWERED,
            decision=decision,
            recorded=decision,
            text=f"{pinned.describe()} was already {_past(decision).lower()}; nothing to do",
        )
    except NotFoundError as error:
        return _logged(
            AnswerOutcome(
                kind=OutcomeKind.EXPIRED,
                decision=decision,
                recorded=None,
                text=f"cannot {verb} {approval.describe()}: {type(error).__name__} (it no longer exists)",
            )
        )
    except ApprovalError:
        pass  # refused: read the run to tell which outcome it is (outside the except: no chained error)
    return _logged(_classify(approval, decision))


def pin_to_waiting(approval: Approval) -> Approval:
    """``approval``, matched to its waiting run when only its token is known; else as it is.

    The match (one ``GetPipeline``, one ``GetPipelineState``; in PARALLEL mode ``ListActionExecutions`` of
    the running executions) adds the execution and the run, so a lost answer is confirmed on that exact
    run. A token no longer waiting (answered, expired) leaves the handle as it is.

    Raises:
        PipelineNotFoundError: no such pipeline.
        TransientError: the reads failed for good.
    """
    if approval.execution_id is not None or approval.token is None:
        return approval
    from pipepilot.approvals import pending_approvals

    for waiting in pending_approvals(approval.caller, approval.pipeline):
        if (waiting.stage, waiting.action, waiting.token) == (
            approval.stage,
            approval.action,
            approval.token,
        ):
            return attrs.evolve(
                approval,
                execution_id=waiting.execution_id,
                action_execution_id=waiting.action_execution_id,
                expires=approval.expires or waiting.expires,
            )
    return approval  # not waiting (answered, expired) or not visible yet: the answer will tell


def _classify(approval: Approval, decision: ApprovalStatus) -> AnswerOutcome:
    verb = "approve" if decision is ApprovalStatus.APPROVED else "reject"
    run = _find_run(approval)
    recorded: ApprovalStatus | None = None
    reason = "it no longer waits for an answer"
    if run is not None:
        status = run.status
        if status == ActionExecutionStatus.SUCCEEDED:
            recorded = ApprovalStatus.APPROVED
        elif status == ActionExecutionStatus.FAILED and run.updated_by:
            recorded = ApprovalStatus.REJECTED  # a reviewer's answer; a timeout records no reviewer
        elif status == ActionExecutionStatus.FAILED:
            reason = "it timed out unanswered"
        elif status == ActionExecutionStatus.ABANDONED:
            reason = "its execution was stopped"
        elif status == ActionExecutionStatus.IN_PROGRESS:
            reason = "the token does not name the approval waiting there (it was run again since)"
    if recorded is decision:
        return AnswerOutcome(
            kind=OutcomeKind.ALREADY_ANSWERED,
            decision=decision,
            recorded=recorded,
            text=f"{approval.describe()} was already {_past(decision).lower()}; nothing to do",
        )
    if recorded is not None:
        return AnswerOutcome(
            kind=OutcomeKind.CONFLICT,
            decision=decision,
            recorded=recorded,
            text=f"cannot {verb} {approval.describe()}: it was already {_past(recorded).lower()}",
        )
    return AnswerOutcome(
        kind=OutcomeKind.EXPIRED,
        decision=decision,
        recorded=None,
        text=f"cannot {verb} {approval.describe()}: {reason} (expired or superseded); nothing was answered",
    )


def _find_run(approval: Approval) -> ActionExecutionDetail | None:
    """The run of ``approval``: by its run id, its token, its execution, or the start its expiry implies.

    AWS lists runs newest first; without an execution only the runs since shortly before that start are
    read, so an old pipeline's whole history is not.
    """
    from pipepilot._handles import action_runs, latest_run

    hint = _start_hint(approval) if approval.execution_id is None else None
    runs = []
    for run in action_runs(approval.caller, approval.pipeline, approval.execution_id):
        if hint is not None and run.start_time is not None and run.start_time < hint - _START_TOLERANCE:
            break
        if run.stage_name == approval.stage and run.action_name == approval.action:
            runs.append(run)
    if approval.action_execution_id is not None:
        return next((run for run in runs if run.action_execution_id == approval.action_execution_id), None)
    if approval.token is not None:
        for run in runs:
            result = None if run.output is None else run.output.execution_result
            if result is not None and result.external_execution_id == approval.token:
                return run
    if approval.execution_id is not None:
        return latest_run(runs, approval.stage, approval.action)
    if hint is None:
        return None
    # Outside PARALLEL mode one execution at a time holds the approval's stage, so its runs never start
    # within minutes of each other: the one that started when the expiry says is the notified one.
    near = [
        run for run in runs if run.start_time is not None and abs(run.start_time - hint) <= _START_TOLERANCE
    ]
    return min(
        near, key=lambda run: abs(run.start_time - hint) if run.start_time else _START_TOLERANCE, default=None
    )


def _start_hint(approval: Approval) -> datetime | None:
    """When the approval started, from its expiry and the declared timeout (to the minute)."""
    if approval.expires is None:
        return None
    from pipepilot.approvals import DEFAULT_APPROVAL_TIMEOUT_MINUTES, read_declaration
    from pipepilot.errors import NotFoundError, PipepilotError

    minutes = DEFAULT_APPROVAL_TIMEOUT_MINUTES
    try:
        declared = read_declaration(approval.caller, approval.pipeline).action(
            approval.stage, approval.action
        )
    except NotFoundError:
        declared = None
    except PipepilotError as error:
        if _transient(error):
            raise
        declared = None
    if declared is not None and declared.timeout_in_minutes is not None:
        minutes = declared.timeout_in_minutes
    return approval.expires - timedelta(minutes=minutes)


def _transient(error: Exception) -> bool:
    from pipepilot.errors import TransientError

    return isinstance(error, TransientError)


def _logged(outcome: AnswerOutcome) -> AnswerOutcome:
    # One line per outcome the answer itself did not log: a redelivery at INFO (it is a success), a
    # conflict or an expired approval at WARNING (someone may want to know).
    if outcome.kind is OutcomeKind.ALREADY_ANSWERED:
        logger.info("%s", outcome.text)
    else:
        logger.warning("%s", outcome.text)
    return outcome


def _past(status: ApprovalStatus) -> str:
    return "Approved" if status is ApprovalStatus.APPROVED else "Rejected"


def _with_decision(summary: str, decision: ApprovalStatus) -> str:
    """``summary`` led by the decision, so the answer's record says which it was whoever reads it."""
    stripped = summary.strip()
    if not stripped:
        return decision.value
    if stripped.lower().startswith(decision.value.lower()):
        return stripped
    return f"{decision.value}: {stripped}"


# ------------------------------------------------------------------------------------------- truncation

_ELLIPSIS = "\u2026"
_ZWJ = "\u200d"


def fit_summary(text: str, *, limit: int = SUMMARY_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, ending with ``…`` when cut; never in the middle of a character.

    Characters are counted as UTF-16 code units (what a character is to many AWS services), which is
    never fewer than Python counts, so the result fits either way. A cut never separates a letter from
    its combining accents, a variation selector or skin tone from its emoji, the parts of a ZWJ sequence,
    or the two halves of a flag; lone surrogates become U+FFFD.

    Raises:
        ArgumentTypeError: ``text`` is not a string.
        InvalidArgumentError: ``limit`` is below 1.
    """
    from pipepilot.errors import ArgumentTypeError, InvalidArgumentError

    if not isinstance(text, str):
        raise ArgumentTypeError(f"text must be a string, not {type(text).__name__}", parameter="text")
    if type(limit) is not int or limit < 1:
        raise InvalidArgumentError(f"limit must be a positive int, not {limit!r}", parameter="limit")
    text = "".join("\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in text)
    if _units(text) <= limit:
        return text
    budget, cut = limit - 1, 0  # one unit for the ellipsis
    for char in text:
        budget -= _units(char)
        if budget < 0:
            break
        cut += 1
    while 0 < cut < len(text) and (_extends(text[cut]) or text[cut - 1] == _ZWJ or _splits_flag(text, cut)):
        cut -= 1
    return text[:cut].rstrip() + _ELLIPSIS


def _units(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _extends(char: str) -> bool:
    """``char`` belongs to the character before it (accent, joiner, variation selector, skin tone, tag)."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")
        or char == _ZWJ
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
    )


def _is_regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _splits_flag(text: str, cut: int) -> bool:
    """Whether cutting before ``text[cut]`` leaves half a flag (an odd run of regional indicators)."""
    if not (_is_regional(text[cut]) and _is_regional(text[cut - 1])):
        return False
    run, index = 0, cut - 1
    while index >= 0 and _is_regional(text[index]):
        run += 1
        index -= 1
    return run % 2 == 1
