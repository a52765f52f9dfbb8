"""Typed, read-only views of CodeBuild builds: status, phases, logs location, exported variables.

:class:`BuildDetails` mirrors the ``Build`` shape ``BatchGetBuilds`` / ``StartBuild`` return, member for member,
with snake_case names; members not modelled here (source, artifacts, cache, VPC settings ...) ride along in
``extra``, so ``BuildDetails.from_api(d).to_api() == d``. Pure data, no I/O.

Statuses are tolerant: CodeBuild reports values outside its published enum (``CLIENT_ERROR`` on a
``QUEUED`` phase has been seen), which stay plain strings rather than failing the read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from pipepilot.model import _wire as wire
from pipepilot.model._wire import ABSENT_STR, ABSENT_TUPLE, WireEnum, WireModel, extra_field

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

__all__ = [
    "BuildDetails",
    "BuildEnvironmentVariable",
    "BuildPhase",
    "BuildPhaseType",
    "BuildStatus",
    "CloudWatchLogsConfig",
    "ExportedEnvironmentVariable",
    "LogsLocation",
    "PhaseContext",
    "ProjectEnvironment",
    "S3LogsConfig",
]


class BuildStatus(WireEnum):
    """Status of a build or of one of its phases (CodeBuild's ``StatusType``)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    FAULT = "FAULT"
    TIMED_OUT = "TIMED_OUT"
    IN_PROGRESS = "IN_PROGRESS"
    STOPPED = "STOPPED"

    @property
    def is_terminal(self) -> bool:
        """The build (or phase) has ended."""
        return self is not BuildStatus.IN_PROGRESS


class BuildPhaseType(WireEnum):
    """A build phase, in the order CodeBuild runs them."""

    SUBMITTED = "SUBMITTED"
    QUEUED = "QUEUED"
    PROVISIONING = "PROVISIONING"
    DOWNLOAD_SOURCE = "DOWNLOAD_SOURCE"
    INSTALL = "INSTALL"
    PRE_BUILD = "PRE_BUILD"
    BUILD = "BUILD"
    POST_BUILD = "POST_BUILD"
    UPLOAD_ARTIFACTS = "UPLOAD_ARTIFACTS"
    FINALIZING = "FINALIZING"
    COMPLETED = "COMPLETED"


@attrs.frozen(kw_only=True)
class PhaseContext(WireModel):
    """CodeBuild's explanation of a phase's outcome (``statusCode`` such as ``COMMAND_EXECUTION_ERROR``)."""

    status_code: str | None = attrs.field(default=None, metadata=wire.string())
    message: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class BuildPhase(WireModel):
    """One phase of a build: type, status, timing and context messages.

    The final ``COMPLETED`` entry carries only ``phase_type`` and ``start_time``.
    """

    phase_type: BuildPhaseType | str | None = attrs.field(default=None, metadata=wire.enum_of(BuildPhaseType))
    phase_status: BuildStatus | str | None = attrs.field(default=None, metadata=wire.enum_of(BuildStatus))
    start_time: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    end_time: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    duration_in_seconds: int | None = attrs.field(default=None, metadata=wire.integer())
    contexts: tuple[PhaseContext, ...] = attrs.field(
        default=ABSENT_TUPLE, metadata=wire.structs(PhaseContext)
    )
    extra: Mapping[str, Any] = extra_field()

    @property
    def failed(self) -> bool:
        """The phase ended in anything but success (``FAILED``, ``FAULT``, ``TIMED_OUT``, unknown ...)."""
        status = self.phase_status
        return status is not None and status != BuildStatus.SUCCEEDED and status != BuildStatus.IN_PROGRESS


@attrs.frozen(kw_only=True)
class CloudWatchLogsConfig(WireModel):
    """Whether a build writes to CloudWatch Logs, and where."""

    status: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    group_name: str | None = attrs.field(default=None, metadata=wire.string())
    stream_name: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class S3LogsConfig(WireModel):
    """Whether a build writes its log to S3, and where."""

    status: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    location: str | None = attrs.field(default=None, metadata=wire.string())
    encryption_disabled: bool | None = attrs.field(default=None, metadata=wire.boolean())
    bucket_owner_access: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class LogsLocation(WireModel):
    """Where a build's log lives: CloudWatch group and stream (and console link), S3 copy."""

    group_name: str | None = attrs.field(default=None, metadata=wire.string())
    stream_name: str | None = attrs.field(default=None, metadata=wire.string())
    deep_link: str | None = attrs.field(default=None, metadata=wire.string())
    s3_deep_link: str | None = attrs.field(default=None, metadata=wire.string())
    cloud_watch_logs_arn: str | None = attrs.field(default=None, metadata=wire.string())
    s3_logs_arn: str | None = attrs.field(default=None, metadata=wire.string())
    cloud_watch_logs: CloudWatchLogsConfig | None = attrs.field(
        default=None, metadata=wire.struct(CloudWatchLogsConfig)
    )
    s3_logs: S3LogsConfig | None = attrs.field(default=None, metadata=wire.struct(S3LogsConfig))
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ExportedEnvironmentVariable(WireModel):
    """A variable the buildspec exported (it becomes a CodePipeline output variable)."""

    name: str | None = attrs.field(default=None, metadata=wire.string())
    value: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class BuildEnvironmentVariable(WireModel):
    """An environment variable of a build (CodeBuild's ``EnvironmentVariable``).

    For ``PARAMETER_STORE`` and ``SECRETS_MANAGER`` the value is a parameter or secret name; a
    ``PLAINTEXT`` value may still be something sensitive, so ``repr`` never shows values.
    """

    name: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    value: str = attrs.field(default=ABSENT_STR, repr=False, metadata=wire.string())
    type: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ProjectEnvironment(WireModel):
    """The build environment: image, compute type, environment variables (others stay in ``extra``)."""

    type: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    image: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    compute_type: str = attrs.field(default=ABSENT_STR, metadata=wire.string())
    environment_variables: tuple[BuildEnvironmentVariable, ...] = attrs.field(
        default=ABSENT_TUPLE, metadata=wire.structs(BuildEnvironmentVariable)
    )
    privileged_mode: bool | None = attrs.field(default=None, metadata=wire.boolean())
    certificate: str | None = attrs.field(default=None, metadata=wire.string())
    image_pull_credentials_type: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class BuildDetails(WireModel):
    """One CodeBuild build as ``BatchGetBuilds`` describes it.

    ``build_status`` is the overall outcome (``IN_PROGRESS`` until it ends); ``current_phase`` names the
    phase running now (``COMPLETED`` at the end); ``phases`` lists every phase reached so far.
    :attr:`failed_phase` finds where a failed build went wrong.
    """

    id: str | None = attrs.field(default=None, metadata=wire.string())
    arn: str | None = attrs.field(default=None, metadata=wire.string())
    build_number: int | None = attrs.field(default=None, metadata=wire.integer())
    start_time: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    end_time: datetime | None = attrs.field(default=None, metadata=wire.timestamp())
    current_phase: str | None = attrs.field(default=None, metadata=wire.string())
    build_status: BuildStatus | str | None = attrs.field(default=None, metadata=wire.enum_of(BuildStatus))
    source_version: str | None = attrs.field(default=None, metadata=wire.string())
    resolved_source_version: str | None = attrs.field(default=None, metadata=wire.string())
    project_name: str | None = attrs.field(default=None, metadata=wire.string())
    phases: tuple[BuildPhase, ...] = attrs.field(default=ABSENT_TUPLE, metadata=wire.structs(BuildPhase))
    environment: ProjectEnvironment | None = attrs.field(
        default=None, metadata=wire.struct(ProjectEnvironment)
    )
    service_role: str | None = attrs.field(default=None, metadata=wire.string())
    logs: LogsLocation | None = attrs.field(default=None, metadata=wire.struct(LogsLocation))
    timeout_in_minutes: int | None = attrs.field(default=None, metadata=wire.integer())
    queued_timeout_in_minutes: int | None = attrs.field(default=None, metadata=wire.integer())
    build_complete: bool | None = attrs.field(default=None, metadata=wire.boolean())
    initiator: str | None = attrs.field(default=None, metadata=wire.string())
    exported_environment_variables: tuple[ExportedEnvironmentVariable, ...] = attrs.field(
        default=ABSENT_TUPLE, metadata=wire.structs(ExportedEnvironmentVariable)
    )
    build_batch_arn: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()

    @property
    def is_complete(self) -> bool:
        """The build has ended (``buildComplete``, or a final status when that flag is missing)."""
        if self.build_complete is not None:
            return self.build_complete
        status = self.build_status
        return isinstance(status, BuildStatus) and status.is_terminal

    @property
    def succeeded(self) -> bool:
        """The build ended ``SUCCEEDED``."""
        return self.build_status == BuildStatus.SUCCEEDED

    @property
    def failed_phase(self) -> BuildPhase | None:
        """The first phase that ended in anything but success, or ``None`` if none did (yet)."""
        for phase in self.phases:
            if phase.failed:
                return phase
        return None

    @property
    def exported_variables(self) -> dict[str, str]:
        """The exported environment variables as a ``name -> value`` dict."""
        return {v.name: v.value or "" for v in self.exported_environment_variables if v.name is not None}
