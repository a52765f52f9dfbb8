"""Manual approvals: find the ones waiting, and answer them exactly once.

An :class:`Approval` is one manual approval action waiting for an answer in one execution, and
answering it (``approval.approve(summary)``, ``approval.reject(summary)``) is the one way pipepilot
answers approvals. Handles come from ``Pipeline.approvals()`` (the one listing), ``Pipeline.wait_for_approval()``,
a wait's :class:`~pipepilot.events.ApprovalRequested` event, or ``Pipeline.approval(stage, action, ...)``,
pinned to an execution id or to a token (as a notification carries). It holds the
approval token ``PutApprovalResult`` needs; the token is a secret (whoever holds it can release to
production), so it is never in ``repr``, pipepilot never logs it, and when AWS echoes a refused token in
its error message, the error pipepilot raises has it masked.

Finding approvals (:func:`pending_approvals`): ``GetPipelineState`` shows the token of each waiting
approval, except in PARALLEL mode, where it cannot represent concurrent executions. There
pipepilot reads ``ListActionExecutions`` of each running execution instead and uses the approval run's
``externalExecutionId`` as the token, as AWS documents. The caller sees no difference.

Answering exactly once: ``PutApprovalResult`` is not idempotent; a second answer fails with
``ApprovalAlreadyCompletedException`` (or ``InvalidApprovalTokenException``). That happens legitimately when
an answer's response was lost and it is sent again, or when SNS or Lambda redeliver a request. So when an
answer meets one of those errors, or gets no answer at all, pipepilot reads the approval's run in *its*
execution: the outcome asked for means success (logged at INFO, without the token); the other outcome
raises :class:`~pipepilot.errors.ApprovalConflict`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import attrs

from pipepilot._handles import action_runs, check_request, latest_run, pipeline_state, without_secret
from pipepilot.errors import (
    AmbiguousApprovalError,
    ApprovalAlreadyCompletedError,
    ApprovalConflict,
    ArgumentTypeError,
    InvalidApprovalTokenError,
    NoApprovalWaitingError,
    PipepilotError,
    TransientError,
)
from pipepilot.model._wire import utc_datetime
from pipepilot.model.declaration import ActionCategory, ExecutionMode
from pipepilot.model.runtime import (
    ActionExecutionStatus,
    ApprovalStatus,
    PipelineExecutionStatus,
    PipelineState,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from pipepilot._calls import Caller
    from pipepilot.events import ApprovalRequested
    from pipepilot.model.declaration import ActionDeclaration, PipelineDeclaration
    from pipepilot.model.runtime import ActionExecutionDetail

__all__ = [
    "DEFAULT_APPROVAL_TIMEOUT_MINUTES",
    "Approval",
    "WaitingApproval",
    "answer_approval",
    "approvals_in_state",
    "check_is_approval",
    "find_approval",
    "is_parallel",
    "pending_approvals",
    "read_declaration",
    "waiting_in_state",
    "with_approval",
]

logger = logging.getLogger(__name__)

#: Minutes a manual approval waits when its declaration sets no ``timeoutInMinutes`` (7 days).
DEFAULT_APPROVAL_TIMEOUT_MINUTES = 7 * 24 * 60

# How many times an unanswered PutApprovalResult is checked and sent again before giving up.
_ANSWER_ROUNDS = 4

# A well-formed token, to check the rest of an answer before the real token is known.
_PLACEHOLDER_TOKEN = "00000000-0000-0000-0000-000000000000"


def _answer_request(
    pipeline: str, stage: str, action: str, status: ApprovalStatus, summary: str, token: str, *, doing: str
) -> dict[str, Any]:
    """The ``PutApprovalResult`` request, checked against the API's rules (summary up to 512 characters).

    Raises:
        ArgumentTypeError: ``summary`` is not a string.
        RequestValidationError: the request breaks the API's rules; nothing was sent.
    """
    if not isinstance(summary, str):
        raise ArgumentTypeError(
            f"summary must be a string (the approval's comment), not {type(summary).__name__}",
            parameter="summary",
        )
    params = {
        "pipelineName": pipeline,
        "stageName": stage,
        "actionName": action,
        "result": {"summary": summary, "status": status.value},
        "token": token,
    }
    check_request("PutApprovalResult", params, doing=f"answer {doing}")
    return params


@attrs.frozen(kw_only=True)
class Approval:
    """A manual approval waiting for an answer: where it is, what the reviewer should look at, its token.

    ``execution_id`` is the execution the approval belongs to; answering it never touches another one.
    ``action_execution_id`` is the approval's run (a retried stage runs it again, with a new token).
    ``custom_data`` and ``external_entity_link`` come from the action's configuration (``CustomData``,
    ``ExternalEntityLink``); ``expires`` is when AWS fails the approval if nobody answered (the action's
    ``timeoutInMinutes``, 7 days by default), when known, in UTC. ``token`` and :attr:`review_link` (which embeds
    it) are secrets: not in ``repr``, never logged.

    Get one from ``Pipeline.approvals()``, ``Pipeline.wait_for_approval()``, a wait's
    :class:`~pipepilot.events.ApprovalRequested` event, or ``Pipeline.approval(stage, action, ...)``,
    pinned to an execution or a token. ``token`` is ``None`` only for a handle on an approval that was
    already answered (``Pipeline.approval(..., execution=...)`` after the fact): answering it again the same
    way is a logged success, the other way an :class:`~pipepilot.errors.ApprovalConflict`.
    """

    caller: Caller[Any] = attrs.field(repr=False, eq=False)
    pipeline: str
    stage: str
    action: str
    execution_id: str | None
    token: str | None = attrs.field(repr=False)
    action_execution_id: str | None = None
    custom_data: str | None = None
    external_entity_link: str | None = None
    expires: datetime | None = None
    region: str | None = None

    @property
    def review_link(self) -> str:
        """The console page where a reviewer approves or rejects (it contains the token: keep it private)."""
        region = self.region or "us-east-1"
        pipeline, stage, action = (quote(part, safe="") for part in (self.pipeline, self.stage, self.action))
        page = (
            f"https://console.aws.amazon.com/codesuite/codepipeline/pipelines/{pipeline}/view?region={region}"
        )
        if self.token is None:
            return page  # an approval already answered: the pipeline's page shows how
        # The form of AWS's own approval notifications (they moved from ``codepipeline/home#/view/...``).
        return f"{page}#/{stage}/{action}/approve/{self.token}"

    def approve(self, summary: str = "") -> None:
        """Approve: the execution goes on past this action.

        Raises:
            RequestValidationError: ``summary`` is longer than 512 characters (nothing was sent).
            ApprovalConflict: the approval was already rejected (or it timed out).
            InvalidApprovalTokenError: the token no longer names a waiting approval (the approval was
                run again since, with a new token): read the approvals again.
        """
        self._answer(ApprovalStatus.APPROVED, summary)

    def reject(self, summary: str) -> None:
        """Reject: the action fails, and with it the stage and the execution (retryable like any failure).

        Raises:
            RequestValidationError: ``summary`` is longer than 512 characters (nothing was sent).
            ApprovalConflict: the approval was already approved.
            InvalidApprovalTokenError: the token no longer names a waiting approval.
        """
        self._answer(ApprovalStatus.REJECTED, summary)

    # ---------------------------------------------------------------------------------------- internals

    def _answer(self, status: ApprovalStatus, summary: str) -> bool:
        """Answer with ``status``: True when this call recorded it, False when it was recorded already."""
        verb = "approved" if status is ApprovalStatus.APPROVED else "rejected"
        token = self.token
        params = _answer_request(
            self.pipeline,
            self.stage,
            self.action,
            status,
            summary,
            _PLACEHOLDER_TOKEN if token is None else token,
            doing=self.describe(),
        )
        if token is None:
            # A handle on an approval already answered: only the same answer again can succeed.
            recorded = self._recorded_outcome()
            if recorded is status:
                logger.info("%s was already %s; nothing to do", self.describe(), verb)
                return False
            if recorded is not None:
                raise self._conflict(status, recorded)
            raise NoApprovalWaitingError(
                f"{self.describe()} is not waiting for an answer",
                pipeline=self.pipeline,
                stage=self.stage,
                action=self.action,
                execution_id=self.execution_id,
            )
        for round_number in range(1, _ANSWER_ROUNDS + 1):
            try:
                self._put(params)
            except (ApprovalAlreadyCompletedError, InvalidApprovalTokenError) as error:
                # A redelivered request, or a resend after a lost response: see what the approval says.
                recorded = self._recorded_outcome()
                if recorded is status:
                    logger.info("%s was already %s (%s); nothing to do", self.describe(), verb, error.code)
                    return False
                if recorded is not None:
                    raise self._conflict(status, recorded) from error
                raise
            except TransientError as error:
                logger.warning(
                    "answering %s got no answer (%s); reading the approval",
                    self.describe(),
                    error.code or type(error).__name__,
                )
                try:
                    recorded = self._recorded_outcome()
                except TransientError:
                    recorded = None
                if recorded is status:
                    logger.info("%s confirmed %s by reading its action run", self.describe(), verb)
                    return True
                if recorded is not None:
                    raise self._conflict(status, recorded) from error
                if round_number == _ANSWER_ROUNDS:
                    raise
                continue
            logger.info("%s %s", self.describe(), verb)
            return True
        raise AssertionError("unreachable: the last round returns or raises")  # pragma: no cover

    def _put(self, params: dict[str, Any]) -> None:
        """Send ``PutApprovalResult``; an error that echoes the token is raised with the token masked."""
        try:
            self.caller.call("put_approval_result", idempotent=False, **params)
            return
        except PipepilotError as error:
            masked = without_secret(error, params["token"])
            if masked is None:
                raise
        raise masked  # outside the except block, so the error echoing the token is not chained to it

    def _recorded_outcome(self) -> ApprovalStatus | None:
        """The answer this approval's run records; ``None`` while it still waits.

        The run is the one this approval was read from (by its action execution id), else the one its
        token names (an approval run's ``externalExecutionId`` is its token), else the latest run of the
        action in the approval's execution. A handle pinned to a token alone never looks at a run of
        another token. A failed run counts as rejected: AWS fails an approval that was rejected, and one
        that timed out. An abandoned run (its execution was stopped while it waited) records no answer:
        answering it is refused, never taken for a redelivery.
        """
        runs = [
            run
            for run in action_runs(self.caller, self.pipeline, self.execution_id)
            if run.stage_name == self.stage and run.action_name == self.action
        ]
        run = None
        if self.action_execution_id is not None:
            run = next((r for r in runs if r.action_execution_id == self.action_execution_id), None)
        if run is None and self.token is not None:
            run = next((r for r in runs if _external_id(r) == self.token), None)
        if run is None and self.execution_id is not None:
            run = latest_run(runs, self.stage, self.action)
        if run is None:
            return None
        if run.status == ActionExecutionStatus.SUCCEEDED:
            return ApprovalStatus.APPROVED
        if run.status == ActionExecutionStatus.FAILED:
            return ApprovalStatus.REJECTED
        # ABANDONED: the execution was stopped while the approval waited; nobody answered it.
        return None

    def _conflict(self, requested: ApprovalStatus, recorded: ApprovalStatus) -> ApprovalConflict:
        actual = "rejected (or timed out)" if recorded is ApprovalStatus.REJECTED else "approved"
        return ApprovalConflict(
            f"cannot {'approve' if requested is ApprovalStatus.APPROVED else 'reject'} {self.describe()}: "
            f"it was already {actual}",
            requested=requested.value,
            actual=recorded.value,
        )

    def describe(self) -> str:
        """``approval Prod/Approve of pipeline 'web' (execution 1a2b...)`` (never the token)."""
        text = f"approval {self.stage}/{self.action} of pipeline {self.pipeline!r}"
        if self.execution_id:
            text += f" (execution {self.execution_id})"
        return text


def answer_approval(approval: Approval, status: ApprovalStatus, summary: str) -> bool:
    """Answer ``approval`` as :meth:`Approval.approve` / :meth:`Approval.reject` do, and tell which way it went.

    True when this call recorded the answer (including when its response was lost and reading the
    approval's run confirmed it), False when the same answer was found recorded already (a redelivered
    request): callers that report outcomes (:mod:`pipepilot.awslambda`) need the difference.

    Raises:
        The errors of :meth:`Approval.approve` and :meth:`Approval.reject`.
    """
    return approval._answer(status, summary)


def with_approval(
    event: ApprovalRequested, *, caller: Caller[Any], declaration: PipelineDeclaration | None
) -> ApprovalRequested:
    """``event`` with its :class:`Approval` attached (custom data, link and expiry from ``declaration``)."""
    approval = _approval(
        caller,
        declaration,
        pipeline=event.pipeline_name,
        stage=event.stage_name,
        action=event.action_name,
        execution_id=event.execution_id,
        token=event.token or "",
        action_execution_id=event.action_execution_id,
        since=event.run.last_status_change,
    )
    return attrs.evolve(event, approval=approval)


def _external_id(run: ActionExecutionDetail) -> str | None:
    result = None if run.output is None else run.output.execution_result
    return None if result is None else result.external_execution_id


# ------------------------------------------------------------------------------------------- discovery


def _approval(
    caller: Caller[Any],
    declaration: PipelineDeclaration | None,
    *,
    pipeline: str,
    stage: str,
    action: str,
    execution_id: str | None,
    token: str,
    action_execution_id: str | None,
    since: datetime | None,
    configuration: Mapping[str, str] | None = None,
) -> Approval:
    """An :class:`Approval` waiting since ``since``; custom data and link come from ``configuration`` (the
    run's own, when known) or else the declared action's, the expiry from the declared timeout."""
    declared = _declared_action(declaration, stage, action)
    if not configuration:
        configuration = (declared.configuration if declared is not None else None) or {}
    return Approval(
        caller=caller,
        pipeline=pipeline,
        stage=stage,
        action=action,
        execution_id=execution_id,
        token=token,
        action_execution_id=action_execution_id,
        custom_data=configuration.get("CustomData"),
        external_entity_link=configuration.get("ExternalEntityLink"),
        expires=_expiry(since, declared),
        region=_region(caller),
    )


def _expiry(since: datetime | None, action: ActionDeclaration | None) -> datetime | None:
    """When the approval that has waited since ``since`` times out, as an aware UTC datetime."""
    if since is None:
        return None
    minutes = DEFAULT_APPROVAL_TIMEOUT_MINUTES
    if action is not None and action.timeout_in_minutes is not None:
        minutes = action.timeout_in_minutes
    # botocore hands over times in the machine's local zone; AWS's times are UTC, and so is ours.
    return utc_datetime(since) + timedelta(minutes=minutes)


def _declared_action(
    declaration: PipelineDeclaration | None, stage: str, action: str
) -> ActionDeclaration | None:
    if declaration is None:
        return None
    try:
        return declaration.action(stage, action)
    except PipepilotError:
        return None  # the pipeline changed since the execution started: its old action is gone


def read_declaration(caller: Caller[Any], pipeline: str) -> PipelineDeclaration:
    """The pipeline's current declaration (one ``GetPipeline`` call)."""
    from pipepilot.model.declaration import PipelineDeclaration

    return PipelineDeclaration.from_api(
        caller.call("get_pipeline", idempotent=True, name=pipeline)["pipeline"]
    )


def check_is_approval(declaration: PipelineDeclaration, stage: str | None, action: str | None) -> None:
    """Refuse to look for an approval at ``stage``/``action`` when the declaration says it is something
    else (an action of another category), which no wait or answer could change.

    A stage or action the declaration does not have is let through: an execution that started before the
    pipeline changed may still run it.

    Raises:
        NoApprovalWaitingError: the action is declared, and is not a manual approval (the text says which
            category and provider it is).
    """
    if stage is None or action is None:
        return
    declared = _declared_action(declaration, stage, action)
    if declared is None:
        return
    type_id = declared.action_type_id
    if str(type_id.category) == ActionCategory.APPROVAL.value:
        return
    raise NoApprovalWaitingError(
        f"{stage}/{action} of pipeline {declaration.name!r} is not an approval: it is a "
        f"{type_id.category} action ({type_id.owner} {type_id.provider}); only Approval actions "
        "(provider Manual) can be approved or rejected",
        pipeline=declaration.name,
        stage=stage,
        action=action,
    )


def is_parallel(declaration: PipelineDeclaration) -> bool:
    """Whether the pipeline runs executions in PARALLEL mode (its state then hides approval tokens)."""
    return declaration.execution_mode == ExecutionMode.PARALLEL


def pending_approvals(
    caller: Caller[Any],
    pipeline: str,
    *,
    declaration: PipelineDeclaration | None = None,
    execution_id: str | None = None,
) -> list[Approval]:
    """The approvals of ``pipeline`` waiting for an answer, in stage and action order.

    ``declaration`` (read with ``GetPipeline`` when not given) supplies the execution mode and each
    action's custom data, link and timeout. Outside PARALLEL mode one ``GetPipelineState`` finds them; in
    PARALLEL mode ``ListPipelineExecutions`` and one ``ListActionExecutions`` per running execution do.
    ``execution_id`` keeps only that execution's approvals.

    Raises:
        PipelineNotFoundError: no such pipeline.
    """
    if declaration is None:
        declaration = read_declaration(caller, pipeline)
    if is_parallel(declaration):
        return _parallel_approvals(caller, pipeline, declaration, execution_id)
    state = pipeline_state(caller, pipeline)
    return approvals_in_state(caller, state, declaration=declaration, execution_id=execution_id)


def _region(caller: Caller[Any]) -> str | None:
    region = getattr(caller.client.meta, "region_name", None)
    return region if isinstance(region, str) else None


@attrs.frozen(kw_only=True)
class WaitingApproval:
    """Where a ``GetPipelineState`` reading shows an approval waiting, with its token (pure data).

    ``execution_id`` is the execution in the approval's stage; ``since`` when the approval started
    waiting. The token is a secret: never in ``repr``.
    """

    stage: str
    action: str
    execution_id: str | None
    action_execution_id: str | None
    token: str = attrs.field(repr=False)
    since: datetime | None = None


def waiting_in_state(state: PipelineState) -> list[WaitingApproval]:
    """The approvals ``state`` shows waiting for an answer, in stage and action order.

    Only approvals whose token ``GetPipelineState`` shows are found: none in PARALLEL mode, where the
    state cannot represent concurrent executions (:func:`pending_approvals` reads their runs instead).
    """
    found = []
    for stage in state.stage_states:
        latest = stage.latest_execution
        for action in stage.action_states:
            run = action.latest_execution
            if run is not None and run.token is not None and action.awaiting_approval:
                found.append(
                    WaitingApproval(
                        stage=stage.stage_name,
                        action=action.action_name,
                        execution_id=None if latest is None else latest.pipeline_execution_id,
                        action_execution_id=run.action_execution_id,
                        token=run.token,
                        since=run.last_status_change,
                    )
                )
    return found


def approvals_in_state(
    caller: Caller[Any],
    state: PipelineState,
    *,
    declaration: PipelineDeclaration | None,
    execution_id: str | None = None,
) -> list[Approval]:
    """The approvals a ``GetPipelineState`` reading shows waiting (none for PARALLEL pipelines).

    ``declaration`` supplies custom data, links and timeouts (left empty when ``None``).
    """
    return [
        _approval(
            caller,
            declaration,
            pipeline=state.pipeline_name,
            stage=waiting.stage,
            action=waiting.action,
            execution_id=waiting.execution_id,
            token=waiting.token,
            action_execution_id=waiting.action_execution_id,
            since=waiting.since,
        )
        for waiting in waiting_in_state(state)
        if execution_id is None or waiting.execution_id == execution_id
    ]


def _parallel_approvals(
    caller: Caller[Any], pipeline: str, declaration: PipelineDeclaration, execution_id: str | None
) -> list[Approval]:
    from pipepilot.model.runtime import PipelineExecutionSummary

    if execution_id is not None:
        running: Iterable[str] = [execution_id]
    else:
        summaries = (
            PipelineExecutionSummary.from_api(item)
            for item in caller.paginate(
                "list_pipeline_executions", "pipelineExecutionSummaries", pipelineName=pipeline
            )
        )
        running = [
            s.pipeline_execution_id for s in summaries if s.status == PipelineExecutionStatus.IN_PROGRESS
        ]
    order = {(stage.name, action.name): index for index, (stage, action) in enumerate(declaration.actions())}
    found: list[Approval] = []
    for run_id in running:
        runs = [run for run in action_runs(caller, pipeline, run_id) if run.is_manual_approval]
        for stage, action in dict.fromkeys((run.stage_name, run.action_name) for run in runs):
            if not stage or not action:
                continue
            run = latest_run(runs, stage, action)
            result = None if run is None or run.output is None else run.output.execution_result
            # In PARALLEL mode the approval's token is its run's externalExecutionId, as AWS documents.
            token = None if result is None else result.external_execution_id
            if run is None or run.status != ActionExecutionStatus.IN_PROGRESS or not token:
                continue
            found.append(
                _approval(
                    caller,
                    declaration,
                    pipeline=pipeline,
                    stage=stage,
                    action=action,
                    execution_id=run.pipeline_execution_id or run_id,
                    token=token,
                    action_execution_id=run.action_execution_id,
                    since=run.start_time,
                    configuration=None if run.input is None else run.input.configuration,
                )
            )
    found.sort(key=lambda approval: order.get((approval.stage, approval.action), len(order)))
    return found


def find_approval(
    caller: Caller[Any],
    pipeline: str,
    stage: str,
    action: str,
    *,
    execution_id: str | None,
    token: str | None,
) -> Approval:
    """The approval ``stage``/``action`` of ``pipeline`` as a handle (``Pipeline.approval`` calls this).

    With ``token`` the handle is pinned to it and nothing is read: answering it can only ever answer the
    approval run that token belongs to. Otherwise the approval waiting there is looked up (of
    ``execution_id``, when given). When ``execution_id``'s approval no longer waits because it was already
    answered (a redelivered request), the handle still comes back: answering it the same way is a logged
    success, the other way an :class:`~pipepilot.errors.ApprovalConflict`.

    Raises:
        NoApprovalWaitingError: no approval waits there (for that execution), or the action there is not
            an approval (the text says what it is).
        AmbiguousApprovalError: several executions wait there (PARALLEL mode) and none was named.
    """
    if token is not None:
        return Approval(
            caller=caller,
            pipeline=pipeline,
            stage=stage,
            action=action,
            execution_id=execution_id,
            token=token,
            region=_region(caller),
        )
    declaration = read_declaration(caller, pipeline)
    check_is_approval(declaration, stage, action)
    waiting = [
        approval
        for approval in pending_approvals(
            caller, pipeline, declaration=declaration, execution_id=execution_id
        )
        if approval.stage == stage and approval.action == action
    ]
    where = f"{stage}/{action} of pipeline {pipeline!r}"
    if len(waiting) > 1:
        ids = [str(approval.execution_id) for approval in waiting]
        raise AmbiguousApprovalError(
            f"several executions wait at approval {where} ({', '.join(ids)}); "
            "name the one to answer with execution=",
            pipeline=pipeline,
            stage=stage,
            action=action,
            execution_ids=ids,
        )
    if waiting:
        return waiting[0]
    if execution_id is None:
        raise NoApprovalWaitingError(
            f"no approval is waiting at {where}", pipeline=pipeline, stage=stage, action=action
        )
    # Not waiting for that execution: maybe it was answered already (a redelivered request).
    answered = Approval(
        caller=caller,
        pipeline=pipeline,
        stage=stage,
        action=action,
        execution_id=execution_id,
        token=None,
        region=_region(caller),
    )
    if answered._recorded_outcome() is not None:
        return answered
    raise NoApprovalWaitingError(
        f"no approval is waiting at {where} for execution {execution_id} (it has not reached it yet)",
        pipeline=pipeline,
        stage=stage,
        action=action,
        execution_id=execution_id,
    )
