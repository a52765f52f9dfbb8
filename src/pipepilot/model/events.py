"""Typed views of the EventBridge events CodePipeline and CodeBuild emit.

A Lambda function or EventBridge consumer gets these as plain dicts; :func:`parse_event` turns one into
a :class:`PipelineExecutionStateChange`, :class:`StageExecutionStateChange` or
:class:`ActionExecutionStateChange` (CodePipeline), or a :class:`BuildStateChange` or
:class:`BuildPhaseChange` (CodeBuild), each with the envelope (``event_id``, ``account``, ``region``,
``time`` ...) and the ``detail`` members as snake_case attributes::

    event = parse_event(lambda_event)
    if isinstance(event, ActionExecutionStateChange) and event.state == EventState.FAILED:
        notify(event.pipeline, event.stage, event.action, event.execution_result)

Event states are upper case (``STARTED``, ``SUCCEEDED``, ``CANCELED`` with one L), unlike the API's
``InProgress``/``Cancelled``; states CodePipeline adds later stay plain strings. Events re-delivered by
CodeStar Notifications (``detailType`` instead of ``detail-type``, plus ``additionalAttributes``) are
read too. The event as received stays available as ``raw``. Pure data, no I/O.

EventBridge delivers at least once: the same event can arrive twice, with the same envelope id, which
every view exposes as ``event_id`` for deduplication.

CodeBuild writes the times inside its events the way its console shows them (``Sep 1, 2017 4:12:29 PM``,
UTC) rather than in ISO form; both read as aware UTC datetimes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, ClassVar

import attrs

from pipepilot.errors import InvalidRequestError
from pipepilot.model import _wire as wire
from pipepilot.model._wire import (
    WireEnum,
    concealed_repr,
    copy_json,
    enum_table,
    keys_only_repr,
    parse_iso_timestamp,
    view_fields,
)
from pipepilot.model.build import BuildPhaseType, BuildStatus
from pipepilot.model.declaration import ActionTypeId
from pipepilot.model.runtime import ExecutionTrigger, TriggerType

__all__ = [
    "BUILD_EVENT_SOURCE",
    "PIPELINE_EVENT_SOURCE",
    "ActionExecutionStateChange",
    "BuildPhaseChange",
    "BuildStateChange",
    "CodeBuildEvent",
    "CodePipelineEvent",
    "EventArtifact",
    "EventBuildLogs",
    "EventBuildPhase",
    "EventExecutionResult",
    "EventState",
    "PipelineExecutionStateChange",
    "StageExecutionStateChange",
    "parse_event",
]

#: The ``source`` of every CodePipeline event.
PIPELINE_EVENT_SOURCE = "aws.codepipeline"

#: The ``source`` of every CodeBuild event.
BUILD_EVENT_SOURCE = "aws.codebuild"

_PIPELINE_DETAIL_TYPE = "CodePipeline Pipeline Execution State Change"
_STAGE_DETAIL_TYPE = "CodePipeline Stage Execution State Change"
_ACTION_DETAIL_TYPE = "CodePipeline Action Execution State Change"
_BUILD_STATE_DETAIL_TYPE = "CodeBuild Build State Change"
_BUILD_PHASE_DETAIL_TYPE = "CodeBuild Build Phase Change"


class EventState(WireEnum):
    """The ``state`` of a pipeline, stage or action event (not every level uses every state)."""

    STARTED = "STARTED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    SUPERSEDED = "SUPERSEDED"
    CANCELED = "CANCELED"
    RESUMED = "RESUMED"
    ABANDONED = "ABANDONED"

    @property
    def is_terminal(self) -> bool:
        """The pipeline, stage or action run ended (``FAILED``/``STOPPED`` runs may resume on a retry)."""
        return self not in (EventState.STARTED, EventState.STOPPING, EventState.RESUMED)


_TRIGGER_TYPE = enum_table(TriggerType)


def _bad(message: str) -> InvalidRequestError:
    return InvalidRequestError(f"not a CodePipeline event: {message}")


def _bad_build_event(message: str) -> InvalidRequestError:
    return InvalidRequestError(f"not a CodeBuild event: {message}")


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if type(value) is str else None


def _version(value: Any) -> int | None:
    # AWS samples show the pipeline version both as a number and as a string ("1").
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is str and value.isdigit():
        return int(value)
    return None


def _timestamp(value: Any) -> datetime | None:
    if type(value) is not str:
        return None
    try:
        return parse_iso_timestamp(value)
    except (ValueError, OverflowError):
        pass
    match = _CONSOLE_TIME.fullmatch(value.strip())
    if match is None or match["month"] not in _MONTHS:
        return None
    hour = int(match["hour"]) % 12 + (12 if match["half"] == "PM" else 0)
    try:
        return datetime(
            int(match["year"]),
            _MONTHS.index(match["month"]) + 1,
            int(match["day"]),
            hour,
            int(match["minute"]),
            int(match["second"]),
            tzinfo=timezone.utc,
        )
    except ValueError:
        return None


# CodeBuild's events write times as its console shows them, in UTC and with English month names.
_CONSOLE_TIME = re.compile(
    r"(?P<month>[A-Z][a-z]{2}) (?P<day>\d{1,2}), (?P<year>\d{4}) "
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2}):(?P<second>\d{2}) (?P<half>AM|PM)"
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _integer(value: Any) -> int | None:
    # CodeBuild's own samples write counts both as integers and as floats ("build-number": 55.0).
    return _version(value)


def _envelope(
    event: Any, *, source: str, detail_type: str, refuse: Any
) -> tuple[dict[str, Any], Mapping[str, Any]]:
    """The envelope members every view has, and the event's ``detail``, checked against ``source`` and
    ``detail_type``."""
    if not isinstance(event, Mapping):
        raise refuse(f"expected a mapping, got {type(event).__name__}")
    event_source = event.get("source")
    if event_source is not None and event_source != source:
        raise refuse(f"source is {event_source!r}, not {source!r}")
    event_detail_type = event.get("detail-type", event.get("detailType"))
    if event_detail_type != detail_type:
        raise refuse(f"detail-type is {event_detail_type!r}, expected {detail_type!r}")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise refuse(f"'detail' must be a mapping, not {type(detail).__name__}")
    resources = event.get("resources")
    envelope: dict[str, Any] = {
        "detail_type": detail_type,
        "event_id": _optional_text(event, "id"),
        "account": _optional_text(event, "account"),
        "region": _optional_text(event, "region"),
        "time": _timestamp(event.get("time")),
        "resources": tuple(r for r in resources if type(r) is str) if isinstance(resources, list) else (),
        "raw": copy_json(dict(event)),
    }
    return envelope, detail


@attrs.frozen(kw_only=True)
class EventArtifact:
    """An input or output artifact named in an action event, and where it is in S3."""

    name: str | None = attrs.field(default=None, metadata=wire.string())
    # bucket and key sit one level down, in the entry's ``s3location``.
    bucket: str | None = None
    key: str | None = None

    @classmethod
    def from_detail(cls, data: Mapping[str, Any]) -> EventArtifact:
        """Read one ``input-artifacts`` / ``output-artifacts`` entry."""
        location = data.get("s3location")
        location = location if isinstance(location, Mapping) else {}
        return cls(
            **view_fields(cls, data, where="", refuse=_bad),
            bucket=_optional_text(location, "bucket"),
            key=_optional_text(location, "key"),
        )


def _result_repr(result: EventExecutionResult) -> str:
    shown = concealed_repr(result.external_execution_id, conceal=result.conceals_external_id)
    return (
        f"EventExecutionResult(external_execution_id={shown}, "
        f"external_execution_summary={result.external_execution_summary!r}, "
        f"external_execution_url={result.external_execution_url!r}, error_code={result.error_code!r})"
    )


@attrs.frozen(kw_only=True, repr=False)
class EventExecutionResult:
    """The ``execution-result`` of an action event: provider id, summary, link, and error code on failure.

    For a manual approval the external id can be the approval token, so ``repr`` hides it there.
    """

    external_execution_id: str | None = attrs.field(
        default=None, metadata=wire.string(key="external-execution-id")
    )
    external_execution_summary: str | None = attrs.field(
        default=None, metadata=wire.string(key="external-execution-summary")
    )
    external_execution_url: str | None = attrs.field(
        default=None, metadata=wire.string(key="external-execution-url")
    )
    error_code: str | None = attrs.field(default=None, metadata=wire.string(key="error-code"))
    conceals_external_id: bool = attrs.field(default=False, eq=False)

    @classmethod
    def from_detail(cls, data: Mapping[str, Any], *, conceal: bool = False) -> EventExecutionResult:
        """Read an ``execution-result`` object (``conceal`` for approval actions)."""
        return cls(**view_fields(cls, data, where="", refuse=_bad), conceals_external_id=conceal)

    def __repr__(self) -> str:
        return _result_repr(self)


@attrs.frozen(kw_only=True)
class CodePipelineEvent:
    """What every CodePipeline state-change event has: the envelope, the pipeline, execution and state.

    ``state`` is an :class:`EventState` (or the raw string of a state added later). ``version`` is the
    pipeline's structure version. ``raw`` is the event as received (a copy).
    """

    detail_type: str
    event_id: str | None
    account: str | None
    region: str | None
    time: datetime | None
    resources: tuple[str, ...]
    pipeline: str = attrs.field(metadata=wire.string())
    execution_id: str = attrs.field(metadata=wire.string(key="execution-id"))
    state: EventState | str = attrs.field(metadata=wire.enum_of(EventState))
    version: int | None
    additional_attributes: Mapping[str, Any] | None = attrs.field(
        default=None, repr=keys_only_repr, hash=False
    )
    raw: Mapping[str, Any] = attrs.field(repr=False, eq=False, hash=False)

    # Each subclass names the detail-type it reads (a ClassVar, so attrs does not make it a field).
    _DETAIL_TYPE: ClassVar[str] = ""

    @classmethod
    def _common(cls, event: Any) -> tuple[dict[str, Any], Mapping[str, Any]]:
        envelope, detail = _envelope(
            event, source=PIPELINE_EVENT_SOURCE, detail_type=cls._DETAIL_TYPE, refuse=_bad
        )
        additional = event.get("additionalAttributes")
        common: dict[str, Any] = {
            **envelope,
            # The members each event class declares (this one's and its own) come from ``detail``.
            **view_fields(cls, detail, where="detail.", refuse=_bad),
            "version": _version(detail.get("version")),
            "additional_attributes": dict(additional) if isinstance(additional, Mapping) else None,
        }
        return common, detail

    @property
    def is_terminal(self) -> bool:
        """The run the event reports on has ended (unknown states count as not ended)."""
        state = self.state
        return isinstance(state, EventState) and state.is_terminal


@attrs.frozen(kw_only=True)
class PipelineExecutionStateChange(CodePipelineEvent):
    """``CodePipeline Pipeline Execution State Change``: an execution started, ended, was stopped ...

    ``execution_trigger`` is set on ``STARTED``; ``stop_execution_comments`` on ``STOPPING``;
    ``execution_attempt`` on events re-delivered by CodeStar Notifications.
    """

    execution_trigger: ExecutionTrigger | None = None
    stop_execution_comments: str | None = attrs.field(
        default=None, metadata=wire.string(key="stop-execution-comments")
    )
    execution_attempt: int | None = None

    _DETAIL_TYPE = _PIPELINE_DETAIL_TYPE

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> PipelineExecutionStateChange:
        """Read a pipeline execution event.

        Raises:
            InvalidRequestError: the dict is not such an event (wrong source or detail-type, or a required
                ``detail`` member missing).
        """
        common, detail = cls._common(event)
        trigger = detail.get("execution-trigger")
        attempt = detail.get("pipeline-execution-attempt")
        return cls(
            **common,
            execution_trigger=(
                ExecutionTrigger(
                    trigger_type=_trigger_type(trigger.get("trigger-type")),
                    trigger_detail=_optional_text(trigger, "trigger-detail"),
                )
                if isinstance(trigger, Mapping)
                else None
            ),
            execution_attempt=_version(attempt),
        )


def _trigger_type(value: Any) -> TriggerType | str | None:
    return _TRIGGER_TYPE.get(value, value) if type(value) is str else None


@attrs.frozen(kw_only=True)
class StageExecutionStateChange(CodePipelineEvent):
    """``CodePipeline Stage Execution State Change``: an execution entered, left or failed a stage."""

    stage: str = attrs.field(metadata=wire.string())

    _DETAIL_TYPE = _STAGE_DETAIL_TYPE

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> StageExecutionStateChange:
        """Read a stage execution event.

        Raises:
            InvalidRequestError: the dict is not such an event.
        """
        common, _detail = cls._common(event)
        return cls(**common)


@attrs.frozen(kw_only=True)
class ActionExecutionStateChange(CodePipelineEvent):
    """``CodePipeline Action Execution State Change``: an action run started, succeeded, failed ...

    ``action_region`` is the region the action ran in (it may differ from the event's ``region``);
    ``input_artifacts`` come with ``STARTED``, ``output_artifacts`` with ``SUCCEEDED``, and
    ``execution_result`` (with ``error_code`` on ``FAILED``) when the action reported one.
    """

    stage: str = attrs.field(metadata=wire.string())
    action: str = attrs.field(metadata=wire.string())
    action_region: str | None = attrs.field(default=None, metadata=wire.string(key="region"))
    action_type: ActionTypeId | None = None
    input_artifacts: tuple[EventArtifact, ...] = ()
    output_artifacts: tuple[EventArtifact, ...] = ()
    execution_result: EventExecutionResult | None = None

    _DETAIL_TYPE = _ACTION_DETAIL_TYPE

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> ActionExecutionStateChange:
        """Read an action execution event.

        Raises:
            InvalidRequestError: the dict is not such an event.
        """
        common, detail = cls._common(event)
        raw_type = detail.get("type")
        action_type = None
        if isinstance(raw_type, Mapping) and all(
            type(raw_type.get(k)) is str for k in ("category", "owner", "provider", "version")
        ):
            action_type = ActionTypeId.from_api(raw_type)
        result = detail.get("execution-result")
        approval = action_type is not None and action_type.category == "Approval"
        return cls(
            **common,
            action_type=action_type,
            input_artifacts=_artifacts(detail.get("input-artifacts")),
            output_artifacts=_artifacts(detail.get("output-artifacts")),
            execution_result=(
                EventExecutionResult.from_detail(result, conceal=approval)
                if isinstance(result, Mapping)
                else None
            ),
        )


def _artifacts(value: Any) -> tuple[EventArtifact, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(EventArtifact.from_detail(item) for item in value if isinstance(item, Mapping))


@attrs.frozen(kw_only=True)
class EventBuildLogs:
    """Where a build's log is, as a CodeBuild event names it: CloudWatch Logs group, stream and console link."""

    group_name: str | None = None
    stream_name: str | None = None
    deep_link: str | None = None


@attrs.frozen(kw_only=True)
class EventBuildPhase:
    """One phase of a build as a CodeBuild event lists it; ``contexts`` are ``"STATUS_CODE: message"`` lines."""

    phase_type: BuildPhaseType | str | None = None
    phase_status: BuildStatus | str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_in_seconds: int | None = None
    contexts: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class CodeBuildEvent:
    """What both CodeBuild events have: the envelope, the build, and its ``additional-information``.

    ``build_id`` is the build's ARN (``BatchGetBuilds`` takes it as it is); ``initiator`` is
    ``codepipeline/<pipeline>`` for a build a pipeline started, which :attr:`pipeline` reads. ``logs``,
    ``phases`` and the other members of ``additional-information`` are typed where pipepilot reads them;
    the whole mapping stays in ``additional_information`` (its ``repr`` shows keys only: environment
    variables may carry values). ``raw`` is the event as received (a copy).
    """

    detail_type: str
    event_id: str | None
    account: str | None
    region: str | None
    time: datetime | None
    resources: tuple[str, ...]
    project: str = attrs.field(metadata=wire.string(key="project-name"))
    build_id: str = attrs.field(metadata=wire.string(key="build-id"))
    version: int | None
    build_complete: bool | None
    build_number: int | None
    initiator: str | None
    build_start_time: datetime | None
    source_version: str | None
    timeout_in_minutes: int | None
    logs: EventBuildLogs | None
    phases: tuple[EventBuildPhase, ...]
    additional_information: Mapping[str, Any] | None = attrs.field(repr=keys_only_repr, hash=False)
    raw: Mapping[str, Any] = attrs.field(repr=False, eq=False, hash=False)

    _DETAIL_TYPE: ClassVar[str] = ""

    @classmethod
    def _common(cls, event: Any) -> tuple[dict[str, Any], Mapping[str, Any]]:
        envelope, detail = _envelope(
            event, source=BUILD_EVENT_SOURCE, detail_type=cls._DETAIL_TYPE, refuse=_bad_build_event
        )
        information = detail.get("additional-information")
        information = information if isinstance(information, Mapping) else {}
        logs = information.get("logs")
        phases = information.get("phases")
        complete = information.get("build-complete")
        common: dict[str, Any] = {
            **envelope,
            **view_fields(cls, detail, where="detail.", refuse=_bad_build_event),
            "version": _version(detail.get("version")),
            "build_complete": complete if type(complete) is bool else None,
            "build_number": _integer(information.get("build-number")),
            "initiator": _optional_text(information, "initiator"),
            "build_start_time": _timestamp(information.get("build-start-time")),
            "source_version": _optional_text(information, "source-version"),
            "timeout_in_minutes": _integer(information.get("timeout-in-minutes")),
            "logs": (
                EventBuildLogs(
                    group_name=_optional_text(logs, "group-name"),
                    stream_name=_optional_text(logs, "stream-name"),
                    deep_link=_optional_text(logs, "deep-link"),
                )
                if isinstance(logs, Mapping)
                else None
            ),
            "phases": tuple(_build_phase(p) for p in phases if isinstance(p, Mapping))
            if isinstance(phases, list)
            else (),
            "additional_information": copy_json(dict(information)) if information else None,
        }
        return common, detail

    @property
    def is_terminal(self) -> bool:
        """The build has ended (a phase change says so from the end of its last phase on)."""
        return self.build_complete is True

    @property
    def pipeline(self) -> str | None:
        """The pipeline that started the build (from ``initiator``), or ``None`` for any other initiator."""
        initiator = self.initiator
        if initiator is None or not initiator.startswith("codepipeline/"):
            return None
        return initiator.removeprefix("codepipeline/") or None

    @property
    def short_id(self) -> str:
        """The build's ``project:uuid`` id (the part of :attr:`build_id` after ``build/``)."""
        _, _, rest = self.build_id.partition(":build/")
        return rest or self.build_id


def _build_phase(data: Mapping[str, Any]) -> EventBuildPhase:
    phase_type = data.get("phase-type")
    status = data.get("phase-status")
    contexts = data.get("phase-context")
    return EventBuildPhase(
        phase_type=_BUILD_PHASE_TYPE.get(phase_type, phase_type) if type(phase_type) is str else None,
        phase_status=_BUILD_STATUS.get(status, status) if type(status) is str else None,
        start_time=_timestamp(data.get("start-time")),
        end_time=_timestamp(data.get("end-time")),
        duration_in_seconds=_integer(data.get("duration-in-seconds")),
        contexts=tuple(c for c in contexts if type(c) is str) if isinstance(contexts, list) else (),
    )


_BUILD_PHASE_TYPE = enum_table(BuildPhaseType)
_BUILD_STATUS = enum_table(BuildStatus)


@attrs.frozen(kw_only=True)
class BuildStateChange(CodeBuildEvent):
    """``CodeBuild Build State Change``: a build started (``IN_PROGRESS``) or ended (its final status)."""

    build_status: BuildStatus | str = attrs.field(metadata=wire.enum_of(BuildStatus, key="build-status"))
    current_phase: BuildPhaseType | str | None = attrs.field(
        default=None, metadata=wire.enum_of(BuildPhaseType, key="current-phase")
    )
    current_phase_context: str | None = attrs.field(
        default=None, metadata=wire.string(key="current-phase-context")
    )

    _DETAIL_TYPE = _BUILD_STATE_DETAIL_TYPE

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> BuildStateChange:
        """Read a build state-change event.

        Raises:
            InvalidRequestError: the dict is not such an event (wrong source or detail-type, or
                ``project-name``, ``build-id`` or ``build-status`` missing).
        """
        common, _detail = cls._common(event)
        return cls(**common)

    @property
    def is_terminal(self) -> bool:
        """The build has ended (unknown statuses count as not ended)."""
        status = self.build_status
        return isinstance(status, BuildStatus) and status.is_terminal


@attrs.frozen(kw_only=True)
class BuildPhaseChange(CodeBuildEvent):
    """``CodeBuild Build Phase Change``: a phase of a build ended; the next one starts."""

    completed_phase: BuildPhaseType | str = attrs.field(
        metadata=wire.enum_of(BuildPhaseType, key="completed-phase")
    )
    completed_phase_status: BuildStatus | str | None = attrs.field(
        default=None, metadata=wire.enum_of(BuildStatus, key="completed-phase-status")
    )
    completed_phase_context: str | None = attrs.field(
        default=None, metadata=wire.string(key="completed-phase-context")
    )
    completed_phase_duration_seconds: int | None = None
    completed_phase_start: datetime | None = None
    completed_phase_end: datetime | None = None

    _DETAIL_TYPE = _BUILD_PHASE_DETAIL_TYPE

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> BuildPhaseChange:
        """Read a build phase-change event.

        Raises:
            InvalidRequestError: the dict is not such an event (wrong source or detail-type, or
                ``project-name``, ``build-id`` or ``completed-phase`` missing).
        """
        common, detail = cls._common(event)
        return cls(
            **common,
            completed_phase_duration_seconds=_integer(detail.get("completed-phase-duration-seconds")),
            completed_phase_start=_timestamp(detail.get("completed-phase-start")),
            completed_phase_end=_timestamp(detail.get("completed-phase-end")),
        )


_BY_DETAIL_TYPE: dict[
    str,
    type[PipelineExecutionStateChange]
    | type[StageExecutionStateChange]
    | type[ActionExecutionStateChange]
    | type[BuildStateChange]
    | type[BuildPhaseChange],
] = {
    _PIPELINE_DETAIL_TYPE: PipelineExecutionStateChange,
    _STAGE_DETAIL_TYPE: StageExecutionStateChange,
    _ACTION_DETAIL_TYPE: ActionExecutionStateChange,
    _BUILD_STATE_DETAIL_TYPE: BuildStateChange,
    _BUILD_PHASE_DETAIL_TYPE: BuildPhaseChange,
}


def parse_event(
    event: Mapping[str, Any],
) -> (
    PipelineExecutionStateChange
    | StageExecutionStateChange
    | ActionExecutionStateChange
    | BuildStateChange
    | BuildPhaseChange
):
    """Read any CodePipeline or CodeBuild state-change event into its typed view, chosen by its ``detail-type``.

    Raises:
        InvalidRequestError: the dict is not a CodePipeline or CodeBuild event: not a mapping, another
            ``source``, an unknown ``detail-type``, or ``detail`` lacking a required member.
    """
    if not isinstance(event, Mapping):
        raise _bad(f"expected a mapping, got {type(event).__name__}")
    detail_type = event.get("detail-type", event.get("detailType"))
    model = _BY_DETAIL_TYPE.get(detail_type) if type(detail_type) is str else None
    if model is None:
        raise _bad(f"unknown detail-type {detail_type!r} (expected one of: {', '.join(_BY_DETAIL_TYPE)})")
    return model.from_event(event)
