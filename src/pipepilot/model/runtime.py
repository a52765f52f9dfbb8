"""Typed, read-only views of what a pipeline is doing: executions, stage and action states, approvals.

These classes mirror CodePipeline's read APIs (``GetPipelineExecution``, ``ListPipelineExecutions``,
``GetPipelineState``, ``ListActionExecutions``) member for member, with snake_case names. They are pure
data: no clients, no I/O. Build them with ``from_api`` from what boto3 returned; ``to_api`` gives the same
dict back (members pipepilot does not know yet ride along in ``extra``; see :mod:`pipepilot.model._wire`).

Status values are tolerant: a known string becomes its enum member, a value AWS added later stays a plain
``str``. Each enum is a ``str`` subclass, so ``execution.status == "Succeeded"`` works either way.

Timestamps are aware UTC ``datetime`` objects (boto3 returns them in the machine's zone; an aware datetime
equals the same moment in any zone, so ``to_api`` still gives back what was read). Any other value in a
timestamp member (a raw epoch number, say) is not converted but kept verbatim in ``extra``.

Approval tokens are secrets (anyone holding one can approve a release): they are never part of a
``repr`` and pipepilot never logs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from pipepilot.errors import NoSuchActionError, NoSuchStageError
from pipepilot.model import _wire as wire
from pipepilot.model._wire import (
    ABSENT_STR,
    ABSENT_TUPLE,
    WireEnum,
    WireModel,
    concealed_repr,
    extra_field,
    keys_only_repr,
    require_mapping,
)
from pipepilot.model.declaration import ActionCategory, ActionOwner, ActionTypeId, ExecutionMode

if TYPE_CHECKING:
    import enum
    from collections.abc import Iterator
    from datetime import datetime

__all__ = [
    "ActionExecution",
    "ActionExecutionDetail",
    "ActionExecutionInput",
    "ActionExecutionOutput",
    "ActionExecutionResult",
    "ActionExecutionStatus",
    "ActionRevision",
    "ActionState",
    "ApprovalStatus",
    "ArtifactDetail",
    "ArtifactRevision",
    "ConditionExecution",
    "ConditionExecutionStatus",
    "ConditionState",
    "ConditionType",
    "ErrorDetails",
    "ExecutionTrigger",
    "ExecutionType",
    "PipelineExecution",
    "PipelineExecutionStatus",
    "PipelineExecutionSummary",
    "PipelineRollbackMetadata",
    "PipelineState",
    "ResolvedPipelineVariable",
    "RetryStageMetadata",
    "RetryTrigger",
    "RuleExecution",
    "RuleExecutionStatus",
    "RuleRevision",
    "RuleState",
    "S3Location",
    "SourceRevision",
    "StageConditionState",
    "StageConditionsExecution",
    "StageExecution",
    "StageExecutionStatus",
    "StageState",
    "StageTransitionType",
    "StopExecutionTrigger",
    "TransitionState",
    "TriggerType",
    "is_terminal_status",
]


# ---------------------------------------------------------------------------------------------- enums


class PipelineExecutionStatus(WireEnum):
    """Status of a pipeline execution (``PipelineExecution.status``)."""

    CANCELLED = "Cancelled"
    IN_PROGRESS = "InProgress"
    STOPPED = "Stopped"
    STOPPING = "Stopping"
    SUCCEEDED = "Succeeded"
    SUPERSEDED = "Superseded"
    FAILED = "Failed"

    @property
    def is_terminal(self) -> bool:
        """The execution has ended (a wait can stop). ``Failed`` and ``Stopped`` may resume on a retry."""
        return self in _TERMINAL_EXECUTION

    @property
    def is_retryable(self) -> bool:
        """A stage retry can bring the execution back to ``InProgress`` (``Failed`` or ``Stopped``)."""
        return self is PipelineExecutionStatus.FAILED or self is PipelineExecutionStatus.STOPPED


_TERMINAL_EXECUTION = frozenset(
    {
        PipelineExecutionStatus.SUCCEEDED,
        PipelineExecutionStatus.FAILED,
        PipelineExecutionStatus.STOPPED,
        PipelineExecutionStatus.SUPERSEDED,
        PipelineExecutionStatus.CANCELLED,
    }
)


class StageExecutionStatus(WireEnum):
    """Status of one execution's run through a stage (``StageExecution.status``)."""

    CANCELLED = "Cancelled"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    STOPPED = "Stopped"
    STOPPING = "Stopping"
    SUCCEEDED = "Succeeded"
    SKIPPED = "Skipped"

    @property
    def is_terminal(self) -> bool:
        """The stage run has ended (``Failed`` and ``Stopped`` may resume on a retry)."""
        return self not in (StageExecutionStatus.IN_PROGRESS, StageExecutionStatus.STOPPING)


class ActionExecutionStatus(WireEnum):
    """Status of one run of an action (``ActionExecution.status``)."""

    IN_PROGRESS = "InProgress"
    ABANDONED = "Abandoned"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def is_terminal(self) -> bool:
        """The action run has ended."""
        return self is not ActionExecutionStatus.IN_PROGRESS


class ExecutionType(WireEnum):
    """Whether an execution is an ordinary run or a rollback."""

    STANDARD = "STANDARD"
    ROLLBACK = "ROLLBACK"


class TriggerType(WireEnum):
    """What started an execution (``ExecutionTrigger.triggerType``)."""

    CREATE_PIPELINE = "CreatePipeline"
    START_PIPELINE_EXECUTION = "StartPipelineExecution"
    POLL_FOR_SOURCE_CHANGES = "PollForSourceChanges"
    WEBHOOK = "Webhook"
    CLOUD_WATCH_EVENT = "CloudWatchEvent"
    PUT_ACTION_REVISION = "PutActionRevision"
    WEBHOOK_V2 = "WebhookV2"
    MANUAL_ROLLBACK = "ManualRollback"
    AUTOMATED_ROLLBACK = "AutomatedRollback"


class StageTransitionType(WireEnum):
    """Which side of a stage a transition guards."""

    INBOUND = "Inbound"
    OUTBOUND = "Outbound"


class ApprovalStatus(WireEnum):
    """The answer to a manual approval (case-sensitive on the wire)."""

    APPROVED = "Approved"
    REJECTED = "Rejected"


class RetryTrigger(WireEnum):
    """Who retried a stage last."""

    AUTOMATED_STAGE_RETRY = "AutomatedStageRetry"
    MANUAL_STAGE_RETRY = "ManualStageRetry"


class ConditionType(WireEnum):
    """Which stage condition an override targets."""

    BEFORE_ENTRY = "BEFORE_ENTRY"
    ON_SUCCESS = "ON_SUCCESS"


class ConditionExecutionStatus(WireEnum):
    """Status of a stage condition's evaluation."""

    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    ERRORED = "Errored"
    SUCCEEDED = "Succeeded"
    CANCELLED = "Cancelled"
    ABANDONED = "Abandoned"
    OVERRIDDEN = "Overridden"


class RuleExecutionStatus(WireEnum):
    """Status of one rule's evaluation inside a condition."""

    IN_PROGRESS = "InProgress"
    ABANDONED = "Abandoned"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


def is_terminal_status(status: enum.Enum | str | None) -> bool:
    """Whether an execution, stage or action ``status`` has ended; unknown strings count as not ended.

    An unknown status is most likely a new kind of "still going" (the known terminal ones are listed), so
    a wait keeps polling rather than returning early.
    """
    terminal = getattr(status, "is_terminal", None)
    return bool(terminal)


# ------------------------------------------------------------------------------------ small records


@attrs.frozen(kw_only=True)
class ErrorDetails(WireModel):
    """Why an action (or rule) failed: a code such as ``JobFailed`` and the provider's message."""

    code: str | None = attrs.field(default=None, metadata=wire.string())
    message: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ExecutionTrigger(WireModel):
    """What started an execution, and its detail (a caller ARN, a webhook or rule ARN ...)."""

    trigger_type: TriggerType | str | None = attrs.field(default=None, metadata=wire.enum_of(TriggerType))
    trigger_detail: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class StopExecutionTrigger(WireModel):
    """Why an execution was stopped (the ``reason`` given to ``StopPipelineExecution``)."""

    reason: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ArtifactRevision(WireModel):
    """The source revision an execution's artifact came from (commit, object version, image digest)."""

    name: str | None = attrs.field(default=None, metadata=wire.string())
    revision_id: str | None = attrs.field(default=None, metadata=wire.string())
    revision_change_identifier: str | None = attrs.field(default=None, metadata=wire.string())
    revision_summary: str | None = attrs.field(default=None, metadata=wire.string())
    created: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    revision_url: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class SourceRevision(WireModel):
    """The revision one source action delivered to an execution (in execution summaries)."""

    action_name: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    revision_id: str | None = attrs.field(default=None, metadata=wire.string())
    revision_summary: str | None = attrs.field(default=None, metadata=wire.string())
    revision_url: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ResolvedPipelineVariable(WireModel):
    """A pipeline variable as this execution resolved it."""

    name: str | None = attrs.field(default=None, metadata=wire.string())
    resolved_value: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class PipelineRollbackMetadata(WireModel):
    """For a rollback execution: the earlier execution it rolled back to."""

    rollback_target_pipeline_execution_id: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


# ------------------------------------------------------------------------------------------ executions


@attrs.frozen(kw_only=True)
class PipelineExecution(WireModel):
    """One execution of a pipeline, as ``GetPipelineExecution`` describes it.

    ``variables`` are the pipeline variables as resolved for this run; ``artifact_revisions`` the source
    revisions it processes. ``status`` is a :class:`PipelineExecutionStatus` (or a raw string for a status
    AWS added later); :attr:`is_terminal` says whether a wait may stop.
    """

    pipeline_name: str | None = attrs.field(default=None, metadata=wire.string())
    pipeline_version: int | None = attrs.field(default=None, metadata=wire.integer())
    pipeline_execution_id: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    status: PipelineExecutionStatus | str = attrs.field(
        default=ABSENT_STR, metadata=wire.enum_of(PipelineExecutionStatus)
    )
    status_summary: str | None = attrs.field(default=None, metadata=wire.string())
    artifact_revisions: tuple[ArtifactRevision, ...] = attrs.field(
        default=ABSENT_TUPLE, metadata=wire.structs(ArtifactRevision)
    )
    variables: tuple[ResolvedPipelineVariable, ...] = attrs.field(
        default=ABSENT_TUPLE, metadata=wire.structs(ResolvedPipelineVariable)
    )
    trigger: ExecutionTrigger | None = attrs.field(default=None, metadata=wire.struct(ExecutionTrigger))
    execution_mode: ExecutionMode | str | None = attrs.field(
        default=None, metadata=wire.enum_of(ExecutionMode)
    )
    execution_type: ExecutionType | str | None = attrs.field(
        default=None, metadata=wire.enum_of(ExecutionType)
    )
    rollback_metadata: PipelineRollbackMetadata | None = attrs.field(
        default=None, metadata=wire.struct(PipelineRollbackMetadata)
    )
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PipelineExecution:
        """Read a ``PipelineExecution`` wire dict (the ``pipelineExecution`` member of the response).

        A whole ``GetPipelineExecution`` response is accepted too: its ``pipelineExecution`` is used.

        Raises:
            MalformedInputError: *data* is not a mapping.
        """
        if type(data) is not dict:
            data = require_mapping(data, cls)
        inner = data.get("pipelineExecution")
        if isinstance(inner, Mapping):
            data = inner
        return super().from_api(data)

    @property
    def is_terminal(self) -> bool:
        """The execution has ended (``Failed``/``Stopped`` may still resume after a stage retry)."""
        return is_terminal_status(self.status)

    @property
    def succeeded(self) -> bool:
        """The execution ended ``Succeeded``."""
        return self.status == PipelineExecutionStatus.SUCCEEDED

    @property
    def resolved_variables(self) -> dict[str, str]:
        """The resolved pipeline variables as a ``name -> value`` dict."""
        return {v.name: v.resolved_value or "" for v in self.variables if v.name is not None}


@attrs.frozen(kw_only=True)
class PipelineExecutionSummary(WireModel):
    """One line of ``ListPipelineExecutions``: status, timing, source revisions, trigger, stop reason."""

    pipeline_execution_id: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    status: PipelineExecutionStatus | str = attrs.field(
        default=ABSENT_STR, metadata=wire.enum_of(PipelineExecutionStatus)
    )
    status_summary: str | None = attrs.field(default=None, metadata=wire.string())
    start_time: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    last_update_time: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    source_revisions: tuple[SourceRevision, ...] = attrs.field(
        default=ABSENT_TUPLE, metadata=wire.structs(SourceRevision)
    )
    trigger: ExecutionTrigger | None = attrs.field(default=None, metadata=wire.struct(ExecutionTrigger))
    stop_trigger: StopExecutionTrigger | None = attrs.field(
        default=None, metadata=wire.struct(StopExecutionTrigger)
    )
    execution_mode: ExecutionMode | str | None = attrs.field(
        default=None, metadata=wire.enum_of(ExecutionMode)
    )
    execution_type: ExecutionType | str | None = attrs.field(
        default=None, metadata=wire.enum_of(ExecutionType)
    )
    rollback_metadata: PipelineRollbackMetadata | None = attrs.field(
        default=None, metadata=wire.struct(PipelineRollbackMetadata)
    )
    extra: Mapping[str, Any] = extra_field()

    @property
    def is_terminal(self) -> bool:
        """The execution has ended (``Failed``/``Stopped`` may still resume after a stage retry)."""
        return is_terminal_status(self.status)

    @property
    def duration(self) -> float | None:
        """Seconds from start to last update: the run time of a finished execution (``None`` if unknown)."""
        if self.start_time is None or self.last_update_time is None:
            return None
        return (self.last_update_time - self.start_time).total_seconds()


# ---------------------------------------------------------------------------------------- state pieces


@attrs.frozen(kw_only=True)
class StageExecution(WireModel):
    """Which execution is (or was last) in a stage, or waits in front of it, and with what status."""

    pipeline_execution_id: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    status: StageExecutionStatus | str = attrs.field(
        default=ABSENT_STR, metadata=wire.enum_of(StageExecutionStatus)
    )
    type: ExecutionType | str | None = attrs.field(default=None, metadata=wire.enum_of(ExecutionType))
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class TransitionState(WireModel):
    """Whether executions may enter a stage; when disabled, who disabled it, when and why."""

    enabled: bool | None = attrs.field(default=None, metadata=wire.boolean())
    last_changed_by: str | None = attrs.field(default=None, metadata=wire.string())
    last_changed_at: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    disabled_reason: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ActionRevision(WireModel):
    """The revision a source action currently sees."""

    revision_id: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    revision_change_id: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    created: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ActionExecution(WireModel):
    """The latest run of an action as ``GetPipelineState`` shows it.

    ``token`` is set while a manual approval waits for an answer; it is a secret (never in ``repr``).
    ``external_execution_id`` / ``external_execution_url`` point at the provider's side of the run (a
    CodeBuild build id, a CodeDeploy deployment, a commit).
    """

    action_execution_id: str | None = attrs.field(default=None, metadata=wire.string())
    status: ActionExecutionStatus | str | None = attrs.field(
        default=None, metadata=wire.enum_of(ActionExecutionStatus)
    )
    summary: str | None = attrs.field(default=None, metadata=wire.string())
    last_status_change: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    token: str | None = attrs.field(default=None, repr=False, metadata=wire.string())
    last_updated_by: str | None = attrs.field(default=None, metadata=wire.string())
    external_execution_id: str | None = attrs.field(default=None, metadata=wire.string())
    external_execution_url: str | None = attrs.field(default=None, metadata=wire.string())
    percent_complete: int | None = attrs.field(default=None, metadata=wire.integer())
    error_details: ErrorDetails | None = attrs.field(default=None, metadata=wire.struct(ErrorDetails))
    log_stream_arn: str | None = attrs.field(default=None, metadata=wire.string(key="logStreamARN"))
    extra: Mapping[str, Any] = extra_field()

    @property
    def is_terminal(self) -> bool:
        """The run has ended."""
        return is_terminal_status(self.status)


@attrs.frozen(kw_only=True)
class ActionState(WireModel):
    """One action in a stage: its latest run, the revision it sees (sources), console links."""

    action_name: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    current_revision: ActionRevision | None = attrs.field(default=None, metadata=wire.struct(ActionRevision))
    latest_execution: ActionExecution | None = attrs.field(
        default=None, metadata=wire.struct(ActionExecution)
    )
    entity_url: str | None = attrs.field(default=None, metadata=wire.string())
    revision_url: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()

    @property
    def awaiting_approval(self) -> bool:
        """The action is a manual approval waiting for an answer (in progress, with a token)."""
        latest = self.latest_execution
        return (
            latest is not None
            and latest.token is not None
            and latest.status == ActionExecutionStatus.IN_PROGRESS
        )


@attrs.frozen(kw_only=True)
class RuleRevision(WireModel):
    """The revision a condition rule currently sees."""

    revision_id: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    revision_change_id: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    created: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class RuleExecution(WireModel):
    """The latest evaluation of a condition rule (``token`` is a secret, never in ``repr``)."""

    rule_execution_id: str | None = attrs.field(default=None, metadata=wire.string())
    status: RuleExecutionStatus | str | None = attrs.field(
        default=None, metadata=wire.enum_of(RuleExecutionStatus)
    )
    summary: str | None = attrs.field(default=None, metadata=wire.string())
    last_status_change: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    token: str | None = attrs.field(default=None, repr=False, metadata=wire.string())
    last_updated_by: str | None = attrs.field(default=None, metadata=wire.string())
    external_execution_id: str | None = attrs.field(default=None, metadata=wire.string())
    external_execution_url: str | None = attrs.field(default=None, metadata=wire.string())
    error_details: ErrorDetails | None = attrs.field(default=None, metadata=wire.struct(ErrorDetails))
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class RuleState(WireModel):
    """One rule of a stage condition: its latest evaluation and links."""

    rule_name: str | None = attrs.field(default=None, metadata=wire.string())
    current_revision: RuleRevision | None = attrs.field(default=None, metadata=wire.struct(RuleRevision))
    latest_execution: RuleExecution | None = attrs.field(default=None, metadata=wire.struct(RuleExecution))
    entity_url: str | None = attrs.field(default=None, metadata=wire.string())
    revision_url: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ConditionExecution(WireModel):
    """The latest evaluation of one condition."""

    status: ConditionExecutionStatus | str | None = attrs.field(
        default=None, metadata=wire.enum_of(ConditionExecutionStatus)
    )
    summary: str | None = attrs.field(default=None, metadata=wire.string())
    last_status_change: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ConditionState(WireModel):
    """One condition of a stage: its latest evaluation and the state of each rule."""

    latest_execution: ConditionExecution | None = attrs.field(
        default=None, metadata=wire.struct(ConditionExecution)
    )
    rule_states: tuple[RuleState, ...] = attrs.field(default=ABSENT_TUPLE, metadata=wire.structs(RuleState))
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class StageConditionsExecution(WireModel):
    """The overall status of a stage's conditions block."""

    status: ConditionExecutionStatus | str | None = attrs.field(
        default=None, metadata=wire.enum_of(ConditionExecutionStatus)
    )
    summary: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class StageConditionState(WireModel):
    """A stage's ``beforeEntry``, ``onSuccess`` or ``onFailure`` conditions, as last evaluated."""

    latest_execution: StageConditionsExecution | None = attrs.field(
        default=None, metadata=wire.struct(StageConditionsExecution)
    )
    condition_states: tuple[ConditionState, ...] = attrs.field(
        default=ABSENT_TUPLE, metadata=wire.structs(ConditionState)
    )
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class RetryStageMetadata(WireModel):
    """How often a stage was retried (automatically and by hand) and what triggered the last retry."""

    auto_stage_retry_attempt: int | None = attrs.field(default=None, metadata=wire.integer())
    manual_stage_retry_attempt: int | None = attrs.field(default=None, metadata=wire.integer())
    latest_retry_trigger: RetryTrigger | str | None = attrs.field(
        default=None, metadata=wire.enum_of(RetryTrigger)
    )
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class StageState(WireModel):
    """One stage as ``GetPipelineState`` shows it.

    ``latest_execution`` is the execution now in the stage (or the last one that was); executions waiting
    in front of it are ``inbound_execution`` (SUPERSEDED mode) or ``inbound_executions`` (QUEUED mode).
    ``inbound_transition_state`` says whether executions may enter.
    """

    stage_name: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    inbound_execution: StageExecution | None = attrs.field(default=None, metadata=wire.struct(StageExecution))
    inbound_executions: tuple[StageExecution, ...] = attrs.field(
        default=ABSENT_TUPLE, metadata=wire.structs(StageExecution)
    )
    inbound_transition_state: TransitionState | None = attrs.field(
        default=None, metadata=wire.struct(TransitionState)
    )
    action_states: tuple[ActionState, ...] = attrs.field(
        default=ABSENT_TUPLE, metadata=wire.structs(ActionState)
    )
    latest_execution: StageExecution | None = attrs.field(default=None, metadata=wire.struct(StageExecution))
    before_entry_condition_state: StageConditionState | None = attrs.field(
        default=None, metadata=wire.struct(StageConditionState)
    )
    on_success_condition_state: StageConditionState | None = attrs.field(
        default=None, metadata=wire.struct(StageConditionState)
    )
    on_failure_condition_state: StageConditionState | None = attrs.field(
        default=None, metadata=wire.struct(StageConditionState)
    )
    retry_stage_metadata: RetryStageMetadata | None = attrs.field(
        default=None, metadata=wire.struct(RetryStageMetadata)
    )
    extra: Mapping[str, Any] = extra_field()

    def action(self, name: str) -> ActionState:
        """The state of the action called ``name``.

        Raises:
            ActionNotFoundError: the stage has no such action (``available`` lists those it has).
        """
        for action in self.action_states:
            if action.action_name == name:
                return action
        available = [a.action_name for a in self.action_states]
        raise NoSuchActionError(
            f"stage {self.stage_name!r} has no action {name!r} (it has: {', '.join(available) or 'none'})",
            name=name,
            available=available,
        )

    @property
    def inbound_enabled(self) -> bool:
        """Executions may enter the stage (no transition state, or an enabled one)."""
        transition = self.inbound_transition_state
        return transition is None or transition.enabled is not False

    def waiting_executions(self) -> tuple[StageExecution, ...]:
        """The executions waiting in front of the stage: the inbound execution, then the queued ones."""
        waiting = list(self.inbound_executions)
        inbound = self.inbound_execution
        if inbound is not None and all(
            e.pipeline_execution_id != inbound.pipeline_execution_id for e in waiting
        ):
            waiting.insert(0, inbound)
        return tuple(waiting)


# GetPipelineState's response carries HTTP metadata next to the state; it is not part of the state.
_RESPONSE_METADATA = "ResponseMetadata"


@attrs.frozen(kw_only=True)
class PipelineState(WireModel):
    """A whole pipeline as ``GetPipelineState`` shows it: every stage in declared order.

    ``stage("Deploy")`` finds a stage. The approvals waiting for an answer are handles, not models: see
    ``Pipeline.approvals()``.
    """

    pipeline_name: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    pipeline_version: int | None = attrs.field(default=None, metadata=wire.integer())
    stage_states: tuple[StageState, ...] = attrs.field(
        default=ABSENT_TUPLE, metadata=wire.structs(StageState)
    )
    created: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    updated: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PipelineState:
        """Read a ``GetPipelineState`` response (its ``ResponseMetadata``, if present, is dropped).

        Raises:
            MalformedInputError: *data* is not a mapping.
        """
        if type(data) is not dict:
            data = require_mapping(data, cls)
        if _RESPONSE_METADATA in data:
            data = {k: v for k, v in data.items() if k != _RESPONSE_METADATA}
        return super().from_api(data)

    def stage(self, name: str) -> StageState:
        """The state of the stage called ``name``.

        Raises:
            StageNotFoundError: the pipeline has no such stage (``available`` lists those it has).
        """
        for stage in self.stage_states:
            if stage.stage_name == name:
                return stage
        available = [s.stage_name for s in self.stage_states]
        raise NoSuchStageError(
            f"pipeline {self.pipeline_name!r} has no stage {name!r} (it has: {', '.join(available) or 'none'})",
            name=name,
            available=available,
        )

    def __iter__(self) -> Iterator[StageState]:
        return iter(self.stage_states)


# ---------------------------------------------------------------------------------- action executions


@attrs.frozen(kw_only=True)
class S3Location(WireModel):
    """Where an artifact is stored in S3."""

    bucket: str | None = attrs.field(default=None, metadata=wire.string())
    key: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ArtifactDetail(WireModel):
    """An artifact an action run read or wrote, and where it lives."""

    name: str | None = attrs.field(default=None, metadata=wire.string())
    s3location: S3Location | None = attrs.field(default=None, metadata=wire.struct(S3Location))
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ActionExecutionInput(WireModel):
    """What an action run was given: its type, configuration (as declared and as resolved), role, inputs.

    Configuration values can hold secrets, so ``repr`` shows only their keys.
    """

    action_type_id: ActionTypeId | None = attrs.field(default=None, metadata=wire.struct(ActionTypeId))
    configuration: Mapping[str, str] | None = attrs.field(
        default=None, repr=keys_only_repr, hash=False, metadata=wire.string_map()
    )
    resolved_configuration: Mapping[str, str] | None = attrs.field(
        default=None, repr=keys_only_repr, hash=False, metadata=wire.string_map()
    )
    role_arn: str | None = attrs.field(default=None, metadata=wire.string())
    region: str | None = attrs.field(default=None, metadata=wire.string())
    input_artifacts: tuple[ArtifactDetail, ...] = attrs.field(
        default=ABSENT_TUPLE, metadata=wire.structs(ArtifactDetail)
    )
    namespace: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


def _result_repr(result: ActionExecutionResult) -> str:
    shown = concealed_repr(result.external_execution_id, conceal=result.conceals_external_id)
    return (
        f"ActionExecutionResult(external_execution_id={shown}, "
        f"external_execution_summary={result.external_execution_summary!r}, "
        f"external_execution_url={result.external_execution_url!r}, "
        f"error_details={result.error_details!r}, log_stream_arn={result.log_stream_arn!r}, "
        f"extra={keys_only_repr(result.extra)})"
    )


@attrs.frozen(kw_only=True, repr=False)
class ActionExecutionResult(WireModel):
    """What the provider reported for an action run: its own id, summary, link, error.

    For a manual approval, ``external_execution_id`` is the approval token (PARALLEL mode answers
    approvals with it), so ``repr`` hides it there (``conceals_external_id``); for other actions it is a
    harmless provider id (a CodeBuild build id, a deployment id) and is shown.
    """

    external_execution_id: str | None = attrs.field(default=None, metadata=wire.string())
    external_execution_summary: str | None = attrs.field(default=None, metadata=wire.string())
    external_execution_url: str | None = attrs.field(default=None, metadata=wire.string())
    error_details: ErrorDetails | None = attrs.field(default=None, metadata=wire.struct(ErrorDetails))
    log_stream_arn: str | None = attrs.field(default=None, metadata=wire.string(key="logStreamARN"))
    extra: Mapping[str, Any] = extra_field()
    conceals_external_id: bool = attrs.field(default=False, eq=False)

    def __repr__(self) -> str:
        return _result_repr(self)


@attrs.frozen(kw_only=True)
class ActionExecutionOutput(WireModel):
    """What an action run produced: artifacts, the provider's result, output variables."""

    output_artifacts: tuple[ArtifactDetail, ...] = attrs.field(
        default=ABSENT_TUPLE, metadata=wire.structs(ArtifactDetail)
    )
    execution_result: ActionExecutionResult | None = attrs.field(
        default=None, metadata=wire.struct(ActionExecutionResult)
    )
    output_variables: Mapping[str, str] | None = attrs.field(
        default=None, hash=False, metadata=wire.string_map()
    )
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ActionExecutionDetail(WireModel):
    """One run of one action, as ``ListActionExecutions`` lists it (inputs, outputs, status, timing)."""

    pipeline_execution_id: str | None = attrs.field(default=None, metadata=wire.string())
    action_execution_id: str | None = attrs.field(default=None, metadata=wire.string())
    pipeline_version: int | None = attrs.field(default=None, metadata=wire.integer())
    stage_name: str | None = attrs.field(default=None, metadata=wire.string())
    action_name: str | None = attrs.field(default=None, metadata=wire.string())
    start_time: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    last_update_time: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    updated_by: str | None = attrs.field(default=None, metadata=wire.string())
    status: ActionExecutionStatus | str | None = attrs.field(
        default=None, metadata=wire.enum_of(ActionExecutionStatus)
    )
    input: ActionExecutionInput | None = attrs.field(default=None, metadata=wire.struct(ActionExecutionInput))
    output: ActionExecutionOutput | None = attrs.field(
        default=None, metadata=wire.struct(ActionExecutionOutput)
    )
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ActionExecutionDetail:
        """Read an ``ActionExecutionDetail`` wire dict.

        Raises:
            MalformedInputError: *data* is not a mapping.
        """
        if type(data) is not dict:
            data = require_mapping(data, cls)
        detail = super().from_api(data)
        # A manual approval's externalExecutionId is its token: mark it so repr hides it.
        output = detail.output
        result = None if output is None else output.execution_result
        if output is not None and result is not None and detail.is_manual_approval:
            result = attrs.evolve(result, conceals_external_id=True)
            detail = attrs.evolve(detail, output=attrs.evolve(output, execution_result=result))
        return detail

    @property
    def is_manual_approval(self) -> bool:
        """The run is a manual approval's."""
        type_id = None if self.input is None else self.input.action_type_id
        return (
            type_id is not None
            and type_id.category == ActionCategory.APPROVAL
            and type_id.owner == ActionOwner.AWS
            and type_id.provider == "Manual"
        )

    @property
    def is_terminal(self) -> bool:
        """The run has ended."""
        return is_terminal_status(self.status)

    @property
    def error_details(self) -> ErrorDetails | None:
        """The provider's error for a failed run, if any."""
        result = None if self.output is None else self.output.execution_result
        return None if result is None else result.error_details
