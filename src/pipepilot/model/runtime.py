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
from pipepilot.model._wire import (
    ABSENT_STR,
    ABSENT_TUPLE,
    Member,
    WireEnum,
    WireModel,
    concealed_repr,
    extra_field,
    keys_only_repr,
    members,
    read_members,
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

    code: str | None = None
    message: str | None = None
    extra: Mapping[str, Any] = extra_field()


ErrorDetails._members = members(Member.string("code", "code"), Member.string("message", "message"))


@attrs.frozen(kw_only=True)
class ExecutionTrigger(WireModel):
    """What started an execution, and its detail (a caller ARN, a webhook or rule ARN ...)."""

    trigger_type: TriggerType | str | None = None
    trigger_detail: str | None = None
    extra: Mapping[str, Any] = extra_field()


ExecutionTrigger._members = members(
    Member.enum("trigger_type", "triggerType", TriggerType),
    Member.string("trigger_detail", "triggerDetail"),
)


@attrs.frozen(kw_only=True)
class StopExecutionTrigger(WireModel):
    """Why an execution was stopped (the ``reason`` given to ``StopPipelineExecution``)."""

    reason: str | None = None
    extra: Mapping[str, Any] = extra_field()


StopExecutionTrigger._members = members(Member.string("reason", "reason"))


@attrs.frozen(kw_only=True)
class ArtifactRevision(WireModel):
    """The source revision an execution's artifact came from (commit, object version, image digest)."""

    name: str | None = None
    revision_id: str | None = None
    revision_change_identifier: str | None = None
    revision_summary: str | None = None
    created: datetime | None = None
    revision_url: str | None = None
    extra: Mapping[str, Any] = extra_field()


ArtifactRevision._members = members(
    Member.string("name", "name"),
    Member.string("revision_id", "revisionId"),
    Member.string("revision_change_identifier", "revisionChangeIdentifier"),
    Member.string("revision_summary", "revisionSummary"),
    Member.timestamp("created", "created"),
    Member.string("revision_url", "revisionUrl"),
)


@attrs.frozen(kw_only=True)
class SourceRevision(WireModel):
    """The revision one source action delivered to an execution (in execution summaries)."""

    action_name: str = ABSENT_STR
    revision_id: str | None = None
    revision_summary: str | None = None
    revision_url: str | None = None
    extra: Mapping[str, Any] = extra_field()


SourceRevision._members = members(
    Member.string("action_name", "actionName", required=True),
    Member.string("revision_id", "revisionId"),
    Member.string("revision_summary", "revisionSummary"),
    Member.string("revision_url", "revisionUrl"),
)


@attrs.frozen(kw_only=True)
class ResolvedPipelineVariable(WireModel):
    """A pipeline variable as this execution resolved it."""

    name: str | None = None
    resolved_value: str | None = None
    extra: Mapping[str, Any] = extra_field()


ResolvedPipelineVariable._members = members(
    Member.string("name", "name"), Member.string("resolved_value", "resolvedValue")
)


@attrs.frozen(kw_only=True)
class PipelineRollbackMetadata(WireModel):
    """For a rollback execution: the earlier execution it rolled back to."""

    rollback_target_pipeline_execution_id: str | None = None
    extra: Mapping[str, Any] = extra_field()


PipelineRollbackMetadata._members = members(
    Member.string("rollback_target_pipeline_execution_id", "rollbackTargetPipelineExecutionId")
)


# ------------------------------------------------------------------------------------------ executions


@attrs.frozen(kw_only=True)
class PipelineExecution(WireModel):
    """One execution of a pipeline, as ``GetPipelineExecution`` describes it.

    ``variables`` are the pipeline variables as resolved for this run; ``artifact_revisions`` the source
    revisions it processes. ``status`` is a :class:`PipelineExecutionStatus` (or a raw string for a status
    AWS added later); :attr:`is_terminal` says whether a wait may stop.
    """

    pipeline_name: str | None = None
    pipeline_version: int | None = None
    pipeline_execution_id: str = ABSENT_STR
    status: PipelineExecutionStatus | str = ABSENT_STR
    status_summary: str | None = None
    artifact_revisions: tuple[ArtifactRevision, ...] = ABSENT_TUPLE
    variables: tuple[ResolvedPipelineVariable, ...] = ABSENT_TUPLE
    trigger: ExecutionTrigger | None = None
    execution_mode: ExecutionMode | str | None = None
    execution_type: ExecutionType | str | None = None
    rollback_metadata: PipelineRollbackMetadata | None = None
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PipelineExecution:
        """Read a ``PipelineExecution`` wire dict (the ``pipelineExecution`` member of the response).

        A whole ``GetPipelineExecution`` response is accepted too: its ``pipelineExecution`` is used.

        Raises:
            InvalidStructureError: *data* is not a mapping.
        """
        if type(data) is not dict:
            data = require_mapping(data, cls)
        inner = data.get("pipelineExecution")
        if isinstance(inner, Mapping):
            data = inner
        return cls(**read_members(data, *cls._members))

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


PipelineExecution._members = members(
    Member.string("pipeline_name", "pipelineName"),
    Member.integer("pipeline_version", "pipelineVersion"),
    Member.string("pipeline_execution_id", "pipelineExecutionId", required=True),
    Member.enum("status", "status", PipelineExecutionStatus, required=True),
    Member.string("status_summary", "statusSummary"),
    Member.structs("artifact_revisions", "artifactRevisions", ArtifactRevision, required=True),
    Member.structs("variables", "variables", ResolvedPipelineVariable, required=True),
    Member.struct("trigger", "trigger", ExecutionTrigger),
    Member.enum("execution_mode", "executionMode", ExecutionMode),
    Member.enum("execution_type", "executionType", ExecutionType),
    Member.struct("rollback_metadata", "rollbackMetadata", PipelineRollbackMetadata),
)


@attrs.frozen(kw_only=True)
class PipelineExecutionSummary(WireModel):
    """One line of ``ListPipelineExecutions``: status, timing, source revisions, trigger, stop reason."""

    pipeline_execution_id: str = ABSENT_STR
    status: PipelineExecutionStatus | str = ABSENT_STR
    status_summary: str | None = None
    start_time: datetime | None = None
    last_update_time: datetime | None = None
    source_revisions: tuple[SourceRevision, ...] = ABSENT_TUPLE
    trigger: ExecutionTrigger | None = None
    stop_trigger: StopExecutionTrigger | None = None
    execution_mode: ExecutionMode | str | None = None
    execution_type: ExecutionType | str | None = None
    rollback_metadata: PipelineRollbackMetadata | None = None
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


PipelineExecutionSummary._members = members(
    Member.string("pipeline_execution_id", "pipelineExecutionId", required=True),
    Member.enum("status", "status", PipelineExecutionStatus, required=True),
    Member.string("status_summary", "statusSummary"),
    Member.timestamp("start_time", "startTime"),
    Member.timestamp("last_update_time", "lastUpdateTime"),
    Member.structs("source_revisions", "sourceRevisions", SourceRevision, required=True),
    Member.struct("trigger", "trigger", ExecutionTrigger),
    Member.struct("stop_trigger", "stopTrigger", StopExecutionTrigger),
    Member.enum("execution_mode", "executionMode", ExecutionMode),
    Member.enum("execution_type", "executionType", ExecutionType),
    Member.struct("rollback_metadata", "rollbackMetadata", PipelineRollbackMetadata),
)


# ---------------------------------------------------------------------------------------- state pieces


@attrs.frozen(kw_only=True)
class StageExecution(WireModel):
    """Which execution is (or was last) in a stage, or waits in front of it, and with what status."""

    pipeline_execution_id: str = ABSENT_STR
    status: StageExecutionStatus | str = ABSENT_STR
    type: ExecutionType | str | None = None
    extra: Mapping[str, Any] = extra_field()


StageExecution._members = members(
    Member.string("pipeline_execution_id", "pipelineExecutionId", required=True),
    Member.enum("status", "status", StageExecutionStatus, required=True),
    Member.enum("type", "type", ExecutionType),
)


@attrs.frozen(kw_only=True)
class TransitionState(WireModel):
    """Whether executions may enter a stage; when disabled, who disabled it, when and why."""

    enabled: bool | None = None
    last_changed_by: str | None = None
    last_changed_at: datetime | None = None
    disabled_reason: str | None = None
    extra: Mapping[str, Any] = extra_field()


TransitionState._members = members(
    Member.boolean("enabled", "enabled"),
    Member.string("last_changed_by", "lastChangedBy"),
    Member.timestamp("last_changed_at", "lastChangedAt"),
    Member.string("disabled_reason", "disabledReason"),
)


@attrs.frozen(kw_only=True)
class ActionRevision(WireModel):
    """The revision a source action currently sees."""

    revision_id: str = ABSENT_STR
    revision_change_id: str = ABSENT_STR
    created: datetime | None = None
    extra: Mapping[str, Any] = extra_field()


ActionRevision._members = members(
    Member.string("revision_id", "revisionId", required=True),
    Member.string("revision_change_id", "revisionChangeId", required=True),
    Member.timestamp("created", "created"),
)


@attrs.frozen(kw_only=True)
class ActionExecution(WireModel):
    """The latest run of an action as ``GetPipelineState`` shows it.

    ``token`` is set while a manual approval waits for an answer; it is a secret (never in ``repr``).
    ``external_execution_id`` / ``external_execution_url`` point at the provider's side of the run (a
    CodeBuild build id, a CodeDeploy deployment, a commit).
    """

    action_execution_id: str | None = None
    status: ActionExecutionStatus | str | None = None
    summary: str | None = None
    last_status_change: datetime | None = None
    token: str | None = attrs.field(default=None, repr=False)
    last_updated_by: str | None = None
    external_execution_id: str | None = None
    external_execution_url: str | None = None
    percent_complete: int | None = None
    error_details: ErrorDetails | None = None
    log_stream_arn: str | None = None
    extra: Mapping[str, Any] = extra_field()

    @property
    def is_terminal(self) -> bool:
        """The run has ended."""
        return is_terminal_status(self.status)


ActionExecution._members = members(
    Member.string("action_execution_id", "actionExecutionId"),
    Member.enum("status", "status", ActionExecutionStatus),
    Member.string("summary", "summary"),
    Member.timestamp("last_status_change", "lastStatusChange"),
    Member.string("token", "token"),
    Member.string("last_updated_by", "lastUpdatedBy"),
    Member.string("external_execution_id", "externalExecutionId"),
    Member.string("external_execution_url", "externalExecutionUrl"),
    Member.integer("percent_complete", "percentComplete"),
    Member.struct("error_details", "errorDetails", ErrorDetails),
    Member.string("log_stream_arn", "logStreamARN"),
)


@attrs.frozen(kw_only=True)
class ActionState(WireModel):
    """One action in a stage: its latest run, the revision it sees (sources), console links."""

    action_name: str = ABSENT_STR
    current_revision: ActionRevision | None = None
    latest_execution: ActionExecution | None = None
    entity_url: str | None = None
    revision_url: str | None = None
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


ActionState._members = members(
    Member.string("action_name", "actionName", required=True),
    Member.struct("current_revision", "currentRevision", ActionRevision),
    Member.struct("latest_execution", "latestExecution", ActionExecution),
    Member.string("entity_url", "entityUrl"),
    Member.string("revision_url", "revisionUrl"),
)


@attrs.frozen(kw_only=True)
class RuleRevision(WireModel):
    """The revision a condition rule currently sees."""

    revision_id: str = ABSENT_STR
    revision_change_id: str = ABSENT_STR
    created: datetime | None = None
    extra: Mapping[str, Any] = extra_field()


RuleRevision._members = members(
    Member.string("revision_id", "revisionId", required=True),
    Member.string("revision_change_id", "revisionChangeId", required=True),
    Member.timestamp("created", "created"),
)


@attrs.frozen(kw_only=True)
class RuleExecution(WireModel):
    """The latest evaluation of a condition rule (``token`` is a secret, never in ``repr``)."""

    rule_execution_id: str | None = None
    status: RuleExecutionStatus | str | None = None
    summary: str | None = None
    last_status_change: datetime | None = None
    token: str | None = attrs.field(default=None, repr=False)
    last_updated_by: str | None = None
    external_execution_id: str | None = None
    external_execution_url: str | None = None
    error_details: ErrorDetails | None = None
    extra: Mapping[str, Any] = extra_field()


RuleExecution._members = members(
    Member.string("rule_execution_id", "ruleExecutionId"),
    Member.enum("status", "status", RuleExecutionStatus),
    Member.string("summary", "summary"),
    Member.timestamp("last_status_change", "lastStatusChange"),
    Member.string("token", "token"),
    Member.string("last_updated_by", "lastUpdatedBy"),
    Member.string("external_execution_id", "externalExecutionId"),
    Member.string("external_execution_url", "externalExecutionUrl"),
    Member.struct("error_details", "errorDetails", ErrorDetails),
)


@attrs.frozen(kw_only=True)
class RuleState(WireModel):
    """One rule of a stage condition: its latest evaluation and links."""

    rule_name: str | None = None
    current_revision: RuleRevision | None = None
    latest_execution: RuleExecution | None = None
    entity_url: str | None = None
    revision_url: str | None = None
    extra: Mapping[str, Any] = extra_field()


RuleState._members = members(
    Member.string("rule_name", "ruleName"),
    Member.struct("current_revision", "currentRevision", RuleRevision),
    Member.struct("latest_execution", "latestExecution", RuleExecution),
    Member.string("entity_url", "entityUrl"),
    Member.string("revision_url", "revisionUrl"),
)


@attrs.frozen(kw_only=True)
class ConditionExecution(WireModel):
    """The latest evaluation of one condition."""

    status: ConditionExecutionStatus | str | None = None
    summary: str | None = None
    last_status_change: datetime | None = None
    extra: Mapping[str, Any] = extra_field()


ConditionExecution._members = members(
    Member.enum("status", "status", ConditionExecutionStatus),
    Member.string("summary", "summary"),
    Member.timestamp("last_status_change", "lastStatusChange"),
)


@attrs.frozen(kw_only=True)
class ConditionState(WireModel):
    """One condition of a stage: its latest evaluation and the state of each rule."""

    latest_execution: ConditionExecution | None = None
    rule_states: tuple[RuleState, ...] = ABSENT_TUPLE
    extra: Mapping[str, Any] = extra_field()


ConditionState._members = members(
    Member.struct("latest_execution", "latestExecution", ConditionExecution),
    Member.structs("rule_states", "ruleStates", RuleState, required=True),
)


@attrs.frozen(kw_only=True)
class StageConditionsExecution(WireModel):
    """The overall status of a stage's conditions block."""

    status: ConditionExecutionStatus | str | None = None
    summary: str | None = None
    extra: Mapping[str, Any] = extra_field()


StageConditionsExecution._members = members(
    Member.enum("status", "status", ConditionExecutionStatus), Member.string("summary", "summary")
)


@attrs.frozen(kw_only=True)
class StageConditionState(WireModel):
    """A stage's ``beforeEntry``, ``onSuccess`` or ``onFailure`` conditions, as last evaluated."""

    latest_execution: StageConditionsExecution | None = None
    condition_states: tuple[ConditionState, ...] = ABSENT_TUPLE
    extra: Mapping[str, Any] = extra_field()


StageConditionState._members = members(
    Member.struct("latest_execution", "latestExecution", StageConditionsExecution),
    Member.structs("condition_states", "conditionStates", ConditionState, required=True),
)


@attrs.frozen(kw_only=True)
class RetryStageMetadata(WireModel):
    """How often a stage was retried (automatically and by hand) and what triggered the last retry."""

    auto_stage_retry_attempt: int | None = None
    manual_stage_retry_attempt: int | None = None
    latest_retry_trigger: RetryTrigger | str | None = None
    extra: Mapping[str, Any] = extra_field()


RetryStageMetadata._members = members(
    Member.integer("auto_stage_retry_attempt", "autoStageRetryAttempt"),
    Member.integer("manual_stage_retry_attempt", "manualStageRetryAttempt"),
    Member.enum("latest_retry_trigger", "latestRetryTrigger", RetryTrigger),
)


@attrs.frozen(kw_only=True)
class StageState(WireModel):
    """One stage as ``GetPipelineState`` shows it.

    ``latest_execution`` is the execution now in the stage (or the last one that was); executions waiting
    in front of it are ``inbound_execution`` (SUPERSEDED mode) or ``inbound_executions`` (QUEUED mode).
    ``inbound_transition_state`` says whether executions may enter.
    """

    stage_name: str = ABSENT_STR
    inbound_execution: StageExecution | None = None
    inbound_executions: tuple[StageExecution, ...] = ABSENT_TUPLE
    inbound_transition_state: TransitionState | None = None
    action_states: tuple[ActionState, ...] = ABSENT_TUPLE
    latest_execution: StageExecution | None = None
    before_entry_condition_state: StageConditionState | None = None
    on_success_condition_state: StageConditionState | None = None
    on_failure_condition_state: StageConditionState | None = None
    retry_stage_metadata: RetryStageMetadata | None = None
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


StageState._members = members(
    Member.string("stage_name", "stageName", required=True),
    Member.struct("inbound_execution", "inboundExecution", StageExecution),
    Member.structs("inbound_executions", "inboundExecutions", StageExecution, required=True),
    Member.struct("inbound_transition_state", "inboundTransitionState", TransitionState),
    Member.structs("action_states", "actionStates", ActionState, required=True),
    Member.struct("latest_execution", "latestExecution", StageExecution),
    Member.struct("before_entry_condition_state", "beforeEntryConditionState", StageConditionState),
    Member.struct("on_success_condition_state", "onSuccessConditionState", StageConditionState),
    Member.struct("on_failure_condition_state", "onFailureConditionState", StageConditionState),
    Member.struct("retry_stage_metadata", "retryStageMetadata", RetryStageMetadata),
)

# GetPipelineState's response carries HTTP metadata next to the state; it is not part of the state.
_RESPONSE_METADATA = "ResponseMetadata"


@attrs.frozen(kw_only=True)
class PipelineState(WireModel):
    """A whole pipeline as ``GetPipelineState`` shows it: every stage in declared order.

    ``stage("Deploy")`` finds a stage. The approvals waiting for an answer are handles, not models: see
    ``Pipeline.approvals()``.
    """

    pipeline_name: str = ABSENT_STR
    pipeline_version: int | None = None
    stage_states: tuple[StageState, ...] = ABSENT_TUPLE
    created: datetime | None = None
    updated: datetime | None = None
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PipelineState:
        """Read a ``GetPipelineState`` response (its ``ResponseMetadata``, if present, is dropped).

        Raises:
            InvalidStructureError: *data* is not a mapping.
        """
        if type(data) is not dict:
            data = require_mapping(data, cls)
        if _RESPONSE_METADATA in data:
            data = {k: v for k, v in data.items() if k != _RESPONSE_METADATA}
        return cls(**read_members(data, *cls._members))

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


PipelineState._members = members(
    Member.string("pipeline_name", "pipelineName", required=True),
    Member.integer("pipeline_version", "pipelineVersion"),
    Member.structs("stage_states", "stageStates", StageState, required=True),
    Member.timestamp("created", "created"),
    Member.timestamp("updated", "updated"),
)


# ---------------------------------------------------------------------------------- action executions


@attrs.frozen(kw_only=True)
class S3Location(WireModel):
    """Where an artifact is stored in S3."""

    bucket: str | None = None
    key: str | None = None
    extra: Mapping[str, Any] = extra_field()


S3Location._members = members(Member.string("bucket", "bucket"), Member.string("key", "key"))


@attrs.frozen(kw_only=True)
class ArtifactDetail(WireModel):
    """An artifact an action run read or wrote, and where it lives."""

    name: str | None = None
    s3location: S3Location | None = None
    extra: Mapping[str, Any] = extra_field()


ArtifactDetail._members = members(
    Member.string("name", "name"), Member.struct("s3location", "s3location", S3Location)
)


@attrs.frozen(kw_only=True)
class ActionExecutionInput(WireModel):
    """What an action run was given: its type, configuration (as declared and as resolved), role, inputs.

    Configuration values can hold secrets, so ``repr`` shows only their keys.
    """

    action_type_id: ActionTypeId | None = None
    configuration: Mapping[str, str] | None = attrs.field(default=None, repr=keys_only_repr, hash=False)
    resolved_configuration: Mapping[str, str] | None = attrs.field(
        default=None, repr=keys_only_repr, hash=False
    )
    role_arn: str | None = None
    region: str | None = None
    input_artifacts: tuple[ArtifactDetail, ...] = ABSENT_TUPLE
    namespace: str | None = None
    extra: Mapping[str, Any] = extra_field()


ActionExecutionInput._members = members(
    Member.struct("action_type_id", "actionTypeId", ActionTypeId),
    Member.string_map("configuration", "configuration"),
    Member.string_map("resolved_configuration", "resolvedConfiguration"),
    Member.string("role_arn", "roleArn"),
    Member.string("region", "region"),
    Member.structs("input_artifacts", "inputArtifacts", ArtifactDetail, required=True),
    Member.string("namespace", "namespace"),
)


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

    external_execution_id: str | None = None
    external_execution_summary: str | None = None
    external_execution_url: str | None = None
    error_details: ErrorDetails | None = None
    log_stream_arn: str | None = None
    extra: Mapping[str, Any] = extra_field()
    conceals_external_id: bool = attrs.field(default=False, eq=False)

    def __repr__(self) -> str:
        return _result_repr(self)


ActionExecutionResult._members = members(
    Member.string("external_execution_id", "externalExecutionId"),
    Member.string("external_execution_summary", "externalExecutionSummary"),
    Member.string("external_execution_url", "externalExecutionUrl"),
    Member.struct("error_details", "errorDetails", ErrorDetails),
    Member.string("log_stream_arn", "logStreamARN"),
)


@attrs.frozen(kw_only=True)
class ActionExecutionOutput(WireModel):
    """What an action run produced: artifacts, the provider's result, output variables."""

    output_artifacts: tuple[ArtifactDetail, ...] = ABSENT_TUPLE
    execution_result: ActionExecutionResult | None = None
    output_variables: Mapping[str, str] | None = attrs.field(default=None, hash=False)
    extra: Mapping[str, Any] = extra_field()


ActionExecutionOutput._members = members(
    Member.structs("output_artifacts", "outputArtifacts", ArtifactDetail, required=True),
    Member.struct("execution_result", "executionResult", ActionExecutionResult),
    Member.string_map("output_variables", "outputVariables"),
)


@attrs.frozen(kw_only=True)
class ActionExecutionDetail(WireModel):
    """One run of one action, as ``ListActionExecutions`` lists it (inputs, outputs, status, timing)."""

    pipeline_execution_id: str | None = None
    action_execution_id: str | None = None
    pipeline_version: int | None = None
    stage_name: str | None = None
    action_name: str | None = None
    start_time: datetime | None = None
    last_update_time: datetime | None = None
    updated_by: str | None = None
    status: ActionExecutionStatus | str | None = None
    input: ActionExecutionInput | None = None
    output: ActionExecutionOutput | None = None
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ActionExecutionDetail:
        """Read an ``ActionExecutionDetail`` wire dict.

        Raises:
            InvalidStructureError: *data* is not a mapping.
        """
        if type(data) is not dict:
            data = require_mapping(data, cls)
        detail = cls(**read_members(data, *cls._members))
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


ActionExecutionDetail._members = members(
    Member.string("pipeline_execution_id", "pipelineExecutionId"),
    Member.string("action_execution_id", "actionExecutionId"),
    Member.integer("pipeline_version", "pipelineVersion"),
    Member.string("stage_name", "stageName"),
    Member.string("action_name", "actionName"),
    Member.timestamp("start_time", "startTime"),
    Member.timestamp("last_update_time", "lastUpdateTime"),
    Member.string("updated_by", "updatedBy"),
    Member.enum("status", "status", ActionExecutionStatus),
    Member.struct("input", "input", ActionExecutionInput),
    Member.struct("output", "output", ActionExecutionOutput),
)
