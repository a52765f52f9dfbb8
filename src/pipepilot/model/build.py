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

from pipepilot.model._wire import ABSENT_STR, ABSENT_TUPLE, Member, WireEnum, WireModel, extra_field, members

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

    status_code: str | None = None
    message: str | None = None
    extra: Mapping[str, Any] = extra_field()


PhaseContext._members = members(
    Member.string("status_code", "statusCode"), Member.string("message", "message")
)


@attrs.frozen(kw_only=True)
class BuildPhase(WireModel):
    """One phase of a build: type, status, timing and context messages.

    The final ``COMPLETED`` entry carries only ``phase_type`` and ``start_time``.
    """

    phase_type: BuildPhaseType | str | None = None
    phase_status: BuildStatus | str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_in_seconds: int | None = None
    contexts: tuple[PhaseContext, ...] = ABSENT_TUPLE
    extra: Mapping[str, Any] = extra_field()

    @property
    def failed(self) -> bool:
        """The phase ended in anything but success (``FAILED``, ``FAULT``, ``TIMED_OUT``, unknown ...)."""
        status = self.phase_status
        return status is not None and status != BuildStatus.SUCCEEDED and status != BuildStatus.IN_PROGRESS


BuildPhase._members = members(
    Member.enum("phase_type", "phaseType", BuildPhaseType),
    Member.enum("phase_status", "phaseStatus", BuildStatus),
    Member.timestamp("start_time", "startTime"),
    Member.timestamp("end_time", "endTime"),
    Member.integer("duration_in_seconds", "durationInSeconds"),
    Member.structs("contexts", "contexts", PhaseContext, required=True),
)


@attrs.frozen(kw_only=True)
class CloudWatchLogsConfig(WireModel):
    """Whether a build writes to CloudWatch Logs, and where."""

    status: str = ABSENT_STR
    group_name: str | None = None
    stream_name: str | None = None
    extra: Mapping[str, Any] = extra_field()


CloudWatchLogsConfig._members = members(
    Member.string("status", "status", required=True),
    Member.string("group_name", "groupName"),
    Member.string("stream_name", "streamName"),
)


@attrs.frozen(kw_only=True)
class S3LogsConfig(WireModel):
    """Whether a build writes its log to S3, and where."""

    status: str = ABSENT_STR
    location: str | None = None
    encryption_disabled: bool | None = None
    bucket_owner_access: str | None = None
    extra: Mapping[str, Any] = extra_field()


S3LogsConfig._members = members(
    Member.string("status", "status", required=True),
    Member.string("location", "location"),
    Member.boolean("encryption_disabled", "encryptionDisabled"),
    Member.string("bucket_owner_access", "bucketOwnerAccess"),
)


@attrs.frozen(kw_only=True)
class LogsLocation(WireModel):
    """Where a build's log lives: CloudWatch group and stream (and console link), S3 copy."""

    group_name: str | None = None
    stream_name: str | None = None
    deep_link: str | None = None
    s3_deep_link: str | None = None
    cloud_watch_logs_arn: str | None = None
    s3_logs_arn: str | None = None
    cloud_watch_logs: CloudWatchLogsConfig | None = None
    s3_logs: S3LogsConfig | None = None
    extra: Mapping[str, Any] = extra_field()


LogsLocation._members = members(
    Member.string("group_name", "groupName"),
    Member.string("stream_name", "streamName"),
    Member.string("deep_link", "deepLink"),
    Member.string("s3_deep_link", "s3DeepLink"),
    Member.string("cloud_watch_logs_arn", "cloudWatchLogsArn"),
    Member.string("s3_logs_arn", "s3LogsArn"),
    Member.struct("cloud_watch_logs", "cloudWatchLogs", CloudWatchLogsConfig),
    Member.struct("s3_logs", "s3Logs", S3LogsConfig),
)


@attrs.frozen(kw_only=True)
class ExportedEnvironmentVariable(WireModel):
    """A variable the buildspec exported (it becomes a CodePipeline output variable)."""

    name: str | None = None
    value: str | None = None
    extra: Mapping[str, Any] = extra_field()


ExportedEnvironmentVariable._members = members(Member.string("name", "name"), Member.string("value", "value"))


@attrs.frozen(kw_only=True)
class BuildEnvironmentVariable(WireModel):
    """An environment variable of a build (CodeBuild's ``EnvironmentVariable``).

    For ``PARAMETER_STORE`` and ``SECRETS_MANAGER`` the value is a parameter or secret name; a
    ``PLAINTEXT`` value may still be something sensitive, so ``repr`` never shows values.
    """

    name: str = ABSENT_STR
    value: str = attrs.field(default=ABSENT_STR, repr=False)
    type: str | None = None
    extra: Mapping[str, Any] = extra_field()


BuildEnvironmentVariable._members = members(
    Member.string("name", "name", required=True),
    Member.string("value", "value", required=True),
    Member.string("type", "type"),
)


@attrs.frozen(kw_only=True)
class ProjectEnvironment(WireModel):
    """The build environment: image, compute type, environment variables (others stay in ``extra``)."""

    type: str = ABSENT_STR
    image: str = ABSENT_STR
    compute_type: str = ABSENT_STR
    environment_variables: tuple[BuildEnvironmentVariable, ...] = ABSENT_TUPLE
    privileged_mode: bool | None = None
    certificate: str | None = None
    image_pull_credentials_type: str | None = None
    extra: Mapping[str, Any] = extra_field()


ProjectEnvironment._members = members(
    Member.string("type", "type", required=True),
    Member.string("image", "image", required=True),
    Member.string("compute_type", "computeType", required=True),
    Member.structs("environment_variables", "environmentVariables", BuildEnvironmentVariable, required=True),
    Member.boolean("privileged_mode", "privilegedMode"),
    Member.string("certificate", "certificate"),
    Member.string("image_pull_credentials_type", "imagePullCredentialsType"),
)


@attrs.frozen(kw_only=True)
class BuildDetails(WireModel):
    """One CodeBuild build as ``BatchGetBuilds`` describes it.

    ``build_status`` is the overall outcome (``IN_PROGRESS`` until it ends); ``current_phase`` names the
    phase running now (``COMPLETED`` at the end); ``phases`` lists every phase reached so far.
    :attr:`failed_phase` finds where a failed build went wrong.
    """

    id: str | None = None
    arn: str | None = None
    build_number: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    current_phase: str | None = None
    build_status: BuildStatus | str | None = None
    source_version: str | None = None
    resolved_source_version: str | None = None
    project_name: str | None = None
    phases: tuple[BuildPhase, ...] = ABSENT_TUPLE
    environment: ProjectEnvironment | None = None
    service_role: str | None = None
    logs: LogsLocation | None = None
    timeout_in_minutes: int | None = None
    queued_timeout_in_minutes: int | None = None
    build_complete: bool | None = None
    initiator: str | None = None
    exported_environment_variables: tuple[ExportedEnvironmentVariable, ...] = ABSENT_TUPLE
    build_batch_arn: str | None = None
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


BuildDetails._members = members(
    Member.string("id", "id"),
    Member.string("arn", "arn"),
    Member.integer("build_number", "buildNumber"),
    Member.timestamp("start_time", "startTime"),
    Member.timestamp("end_time", "endTime"),
    Member.string("current_phase", "currentPhase"),
    Member.enum("build_status", "buildStatus", BuildStatus),
    Member.string("source_version", "sourceVersion"),
    Member.string("resolved_source_version", "resolvedSourceVersion"),
    Member.string("project_name", "projectName"),
    Member.structs("phases", "phases", BuildPhase, required=True),
    Member.struct("environment", "environment", ProjectEnvironment),
    Member.string("service_role", "serviceRole"),
    Member.struct("logs", "logs", LogsLocation),
    Member.integer("timeout_in_minutes", "timeoutInMinutes"),
    Member.integer("queued_timeout_in_minutes", "queuedTimeoutInMinutes"),
    Member.boolean("build_complete", "buildComplete"),
    Member.string("initiator", "initiator"),
    Member.structs(
        "exported_environment_variables",
        "exportedEnvironmentVariables",
        ExportedEnvironmentVariable,
        required=True,
    ),
    Member.string("build_batch_arn", "buildBatchArn"),
)
