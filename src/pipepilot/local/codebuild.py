"""The offline CodeBuild engine: projects and builds whose phases advance on the virtual clock.

It answers CodeBuild's JSON API (one instance per region, owned by the :class:`~pipepilot.local._world.World`)
and is the only source of truth for CodeBuild inside :func:`pipepilot.local.offline`: projects are created
and read through the normal API, and moto's CodeBuild is never consulted.

Behaviour:

* A build walks ``SUBMITTED → QUEUED → PROVISIONING → DOWNLOAD_SOURCE → INSTALL → PRE_BUILD → BUILD →
  POST_BUILD → UPLOAD_ARTIFACTS → FINALIZING → COMPLETED``, each phase lasting its (default or scripted)
  duration. SUBMITTED takes no time, so StartBuild answers with QUEUED in progress, as AWS does.
* The phase in progress shows ``phaseType`` and ``startTime`` only; a finished phase adds ``phaseStatus``,
  ``endTime``, ``durationInSeconds`` and (from PROVISIONING on) ``contexts``; the final COMPLETED entry has
  ``phaseType`` and ``startTime`` only.
* ``buildStatus`` stays ``IN_PROGRESS`` until the build completes, then turns to the outcome together with
  ``buildComplete`` (so a waiter never sees a final status on an unfinished build).
* A failure (FAILED or FAULT) in BUILD still runs POST_BUILD and UPLOAD_ARTIFACTS; one in POST_BUILD still
  runs UPLOAD_ARTIFACTS; one in an earlier phase skips to FINALIZING. A timeout (``timeoutInMinutes``
  counted from PROVISIONING, ``queuedTimeoutInMinutes`` for QUEUED) ends the phase TIMED_OUT and skips to
  FINALIZING. StopBuild ends the phase STOPPED and completes at once (as the AWS CLI example shows).
* Log lines go to moto's CloudWatch Logs at ``logs.groupName`` / ``logs.streamName`` (the stream appears
  in PROVISIONING; before that ``logs`` points at ``null``, as on AWS).
* "CodeBuild Build State Change" events (IN_PROGRESS, then the outcome) go to the World's event log.

Choices where AWS's documentation is silent: StartBuild with a reused ``idempotencyToken`` within 5 minutes
returns the first build when the parameters match and ``InvalidInputException`` otherwise; a project's
``concurrentBuildLimit`` and the World's ``max_concurrent_builds`` are enforced with
``AccountLimitExceededException``; ListBuilds and ListBuildsForProject default to newest first.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import json
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pipepilot._shapes import request_problems, validation_message
from pipepilot.local._artifacts import generated_archive, zip_files
from pipepilot.local._errors import ServiceError
from pipepilot.local._world import BuildScript, partition_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from pipepilot.local._world import World
    from pipepilot.local.clock import Timer

__all__ = ["PHASES", "CodeBuildEngine"]

logger = logging.getLogger(__name__)

PHASES = (
    "SUBMITTED",
    "QUEUED",
    "PROVISIONING",
    "DOWNLOAD_SOURCE",
    "INSTALL",
    "PRE_BUILD",
    "BUILD",
    "POST_BUILD",
    "UPLOAD_ARTIFACTS",
    "FINALIZING",
    "COMPLETED",
)
_NEXT_PHASE = dict(itertools.pairwise(PHASES))
# Phases after which a FAILED/FAULT outcome still runs the following phase (CodeBuild's phase transitions).
_CONTINUE_AFTER_FAILURE = frozenset({"BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING"})
# Phases that run in the build container and therefore write "[Container]" lines.
_CONTAINER_PHASES = frozenset(
    {"DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS"}
)
# SUBMITTED and QUEUED entries carry no contexts (AWS CLI examples).
_NO_CONTEXT_PHASES = frozenset({"SUBMITTED", "QUEUED"})
_IDEMPOTENCY_WINDOW = 300.0
_PAGE_SIZE = 100
_DEFAULT_TIMEOUT_MINUTES = 60
_DEFAULT_QUEUED_TIMEOUT_MINUTES = 480

# Build fields copied from a project into each build (then overridden by StartBuild's *Override members).
_PROJECT_TO_BUILD = (
    "secondarySources",
    "secondarySourceVersions",
    "secondaryArtifacts",
    "cache",
    "serviceRole",
    "timeoutInMinutes",
    "queuedTimeoutInMinutes",
    "encryptionKey",
    "vpcConfig",
    "fileSystemLocations",
)
# StartBuild override member -> (build field, member of that field or None for the field itself).
_OVERRIDES: Mapping[str, tuple[str, str | None]] = {
    "secondarySourcesOverride": ("secondarySources", None),
    "secondarySourcesVersionOverride": ("secondarySourceVersions", None),
    "secondaryArtifactsOverride": ("secondaryArtifacts", None),
    "sourceTypeOverride": ("source", "type"),
    "sourceLocationOverride": ("source", "location"),
    "sourceAuthOverride": ("source", "auth"),
    "gitCloneDepthOverride": ("source", "gitCloneDepth"),
    "gitSubmodulesConfigOverride": ("source", "gitSubmodulesConfig"),
    "buildspecOverride": ("source", "buildspec"),
    "insecureSslOverride": ("source", "insecureSsl"),
    "reportBuildStatusOverride": ("source", "reportBuildStatus"),
    "buildStatusConfigOverride": ("source", "buildStatusConfig"),
    "environmentTypeOverride": ("environment", "type"),
    "imageOverride": ("environment", "image"),
    "computeTypeOverride": ("environment", "computeType"),
    "certificateOverride": ("environment", "certificate"),
    "privilegedModeOverride": ("environment", "privilegedMode"),
    "imagePullCredentialsTypeOverride": ("environment", "imagePullCredentialsType"),
    "registryCredentialOverride": ("environment", "registryCredential"),
    "fleetOverride": ("environment", "fleet"),
    "cacheOverride": ("cache", None),
    "serviceRoleOverride": ("serviceRole", None),
    "timeoutInMinutesOverride": ("timeoutInMinutes", None),
    "queuedTimeoutInMinutesOverride": ("queuedTimeoutInMinutes", None),
    "encryptionKeyOverride": ("encryptionKey", None),
}


def _encode_token(kind: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode()


def _decode_token(kind: str, token: str | None) -> int | None:
    if token is None:
        return None
    try:
        found_kind, _, position = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if found_kind == kind:
            return int(position)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise ServiceError("InvalidInputException", "Invalid next token")


class _Project:
    __slots__ = ("data", "name", "sequence")

    def __init__(self, name: str, data: dict[str, Any], sequence: int) -> None:
        self.name = name
        self.data = data
        self.sequence = sequence


class _Build:
    """One build's live state; ``static`` holds the fields that never change after StartBuild."""

    __slots__ = (
        "complete",
        "current_phase",
        "end_time",
        "exported",
        "final_status",
        "id",
        "log_group",
        "log_stream",
        "logs",
        "logs_config",
        "number",
        "on_complete",
        "outputs",
        "outputs_kms_key_id",
        "phase_durations",
        "phases",
        "project",
        "queued_timer",
        "script",
        "sequence",
        "start_time",
        "static",
        "status",
        "timeout_timer",
        "timer",
        "uuid",
    )
    # Set once by CodeBuildEngine._begin, before anything reads them.
    id: str
    uuid: str
    project: str
    number: int
    sequence: int
    start_time: float
    current_phase: str
    script: BuildScript | None
    phase_durations: dict[str, float]
    static: dict[str, Any]
    logs_config: Mapping[str, Any]
    logs: dict[str, Any]

    def __init__(self) -> None:
        self.phases: list[dict[str, Any]] = []
        self.timer: Timer | None = None
        self.timeout_timer: Timer | None = None
        self.queued_timer: Timer | None = None
        self.end_time: float | None = None
        self.exported: list[dict[str, str]] | None = None
        self.complete = False
        self.status = "IN_PROGRESS"
        self.final_status = "SUCCEEDED"
        self.on_complete: list[Callable[[dict[str, Any]], None]] = []
        self.log_group: str | None = None
        self.log_stream: str | None = None
        #: Where a pipeline build uploads its output artifacts ({"name", "bucket", "key"}; first = primary).
        self.outputs: tuple[Mapping[str, str], ...] = ()
        self.outputs_kms_key_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        data = dict(self.static)
        data["startTime"] = self.start_time
        data["currentPhase"] = self.current_phase
        data["buildStatus"] = self.status
        data["buildComplete"] = self.complete
        data["phases"] = [dict(phase) for phase in self.phases]
        data["logs"] = dict(self.logs)
        if self.end_time is not None:
            data["endTime"] = self.end_time
        if self.exported is not None:
            data["exportedEnvironmentVariables"] = [dict(variable) for variable in self.exported]
        return data


class CodeBuildEngine:
    """CodeBuild for one region of a :class:`~pipepilot.local._world.World`.

    ``dispatch(operation, params)`` answers one decoded JSON request (raising
    :class:`~pipepilot.local._errors.ServiceError`); ``start_pipeline_build(...)`` is the CodePipeline
    engine's entry point for CodeBuild actions. The caller holds ``world.clock.lock``.
    """

    def __init__(self, world: World, region: str) -> None:
        self.world = world
        self.region = region
        self._partition = partition_of(region)
        self._arn_prefix = f"arn:{self._partition}:codebuild:{region}:{world.account_id}"
        self._projects: dict[str, _Project] = {}
        self._builds: dict[str, _Build] = {}
        self._project_builds: dict[str, list[_Build]] = {}
        self._build_numbers: dict[str, int] = {}
        self._active: dict[str, _Build] = {}
        self._idempotency: dict[tuple[str, str], tuple[float, str, str]] = {}
        self._sequence = 0
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateProject": self._create_project,
            "UpdateProject": self._update_project,
            "DeleteProject": self._delete_project,
            "BatchGetProjects": self._batch_get_projects,
            "ListProjects": self._list_projects,
            "StartBuild": self._start_build,
            "BatchGetBuilds": self._batch_get_builds,
            "StopBuild": self._stop_build,
            "RetryBuild": self._retry_build,
            "ListBuildsForProject": self._list_builds_for_project,
            "ListBuilds": self._list_builds,
        }

    def __repr__(self) -> str:
        return f"<CodeBuildEngine {self.region} projects={len(self._projects)} builds={len(self._builds)}>"

    # -- the wire --------------------------------------------------------------------------------------

    def implements(self, operation: str) -> bool:
        """Whether :meth:`dispatch` answers ``operation`` (a CodeBuild API name such as ``"StartBuild"``)."""
        return operation in self._handlers

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one request: validate it as the service does, then apply it.

        Raises:
            ServiceError: with CodeBuild's error code (``InvalidInputException``, ``ResourceNotFoundException``,
                ``ResourceAlreadyExistsException``, ``AccountLimitExceededException``), or
                ``UnknownOperationException`` for an operation the engine does not emulate.
        """
        handler = self._handlers.get(operation)
        if handler is None:
            raise ServiceError(
                "UnknownOperationException",
                f"pipepilot.local does not emulate CodeBuild {operation} (see pipepilot.local.coverage_table())",
            )
        problems = request_problems("codebuild", operation, params)
        if problems:
            raise ServiceError("InvalidInputException", validation_message(problems))
        # Reading the clock is a no-op in manual mode; in real-time mode it first runs what fell due.
        self.world.clock.now()
        return handler(params)

    # -- projects --------------------------------------------------------------------------------------

    def _project_arn(self, name: str) -> str:
        return f"{self._arn_prefix}:project/{name}"

    def _check_role(self, role: str) -> None:
        if not self.world.role_assumable_by(role, "codebuild.amazonaws.com"):
            shown = (
                role
                if role.startswith("arn:")
                else f"arn:{self._partition}:iam::{self.world.account_id}:role/{role}"
            )
            raise ServiceError(
                "InvalidInputException", f"CodeBuild is not authorized to perform: sts:AssumeRole on {shown}"
            )

    def _create_project(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        if name in self._projects:
            raise ServiceError(
                "ResourceAlreadyExistsException", f"Project already exists: {self._project_arn(name)}"
            )
        self._check_role(params["serviceRole"])
        now = self.world.clock.now()
        data = {key: value for key, value in params.items() if key != "badgeEnabled"}
        data["arn"] = self._project_arn(name)
        data["created"] = now
        data["lastModified"] = now
        data.setdefault("tags", [])
        data.setdefault("timeoutInMinutes", _DEFAULT_TIMEOUT_MINUTES)
        data.setdefault("queuedTimeoutInMinutes", _DEFAULT_QUEUED_TIMEOUT_MINUTES)
        data.setdefault(
            "encryptionKey", f"arn:{self._partition}:kms:{self.region}:{self.world.account_id}:alias/aws/s3"
        )
        data.setdefault("cache", {"type": "NO_CACHE"})
        data.setdefault("secondarySources", [])
        data.setdefault("secondarySourceVersions", [])
        data.setdefault("secondaryArtifacts", [])
        self._apply_source_and_artifact_defaults(data)
        data.setdefault(
            "logsConfig",
            {
                "cloudWatchLogs": {"status": "ENABLED"},
                "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
            },
        )
        data["environment"] = self._environment_with_defaults(data["environment"])
        data["badge"] = {"badgeEnabled": bool(params.get("badgeEnabled", False))}
        data.setdefault("projectVisibility", "PRIVATE")
        self._sequence += 1
        self._projects[name] = _Project(name, data, self._sequence)
        logger.debug("codebuild %s: created project %s", self.region, name)
        return {"project": dict(data)}

    @staticmethod
    def _apply_source_and_artifact_defaults(data: dict[str, Any]) -> None:
        """Fill in what CodeBuild fills in and returns for sources and artifacts a request left out."""
        data["source"] = _source_with_defaults(data["source"])
        data["secondarySources"] = [_source_with_defaults(source) for source in data["secondarySources"]]
        data["artifacts"] = _artifacts_with_defaults(data["artifacts"], data["name"])
        data["secondaryArtifacts"] = [
            _artifacts_with_defaults(artifacts, None) for artifacts in data["secondaryArtifacts"]
        ]

    @staticmethod
    def _environment_with_defaults(environment: Mapping[str, Any]) -> dict[str, Any]:
        result = dict(environment)
        result["environmentVariables"] = [
            {"name": variable["name"], "value": variable["value"], "type": variable.get("type", "PLAINTEXT")}
            for variable in environment.get("environmentVariables", ())
        ]
        result.setdefault("privilegedMode", False)
        result.setdefault("imagePullCredentialsType", "CODEBUILD")
        return result

    def _update_project(self, params: dict[str, Any]) -> dict[str, Any]:
        project = self._project_or_error(params["name"])
        if "serviceRole" in params:
            self._check_role(params["serviceRole"])
        data = project.data
        for key, value in params.items():
            if key == "name":
                continue
            if key == "badgeEnabled":
                data["badge"] = {"badgeEnabled": bool(value)}
            elif key == "environment":
                data["environment"] = self._environment_with_defaults(value)
            else:
                data[key] = value
        self._apply_source_and_artifact_defaults(data)
        data["lastModified"] = self.world.clock.now()
        return {"project": dict(data)}

    def _delete_project(self, params: dict[str, Any]) -> dict[str, Any]:
        # Deleting an unknown project is not an error (the model lists no not-found error); builds stay.
        self._projects.pop(params["name"], None)
        return {}

    def _name_from(self, name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:") and ":project/" in name_or_arn:
            return name_or_arn.rsplit(":project/", 1)[1]
        return name_or_arn

    def _batch_get_projects(self, params: dict[str, Any]) -> dict[str, Any]:
        found: list[dict[str, Any]] = []
        missing: list[str] = []
        for requested in params["names"]:
            project = self._projects.get(self._name_from(requested))
            if project is None:
                missing.append(requested)
            else:
                found.append(dict(project.data))
        return {"projects": found, "projectsNotFound": missing}

    def _list_projects(self, params: dict[str, Any]) -> dict[str, Any]:
        sort_by = params.get("sortBy", "NAME")
        keys: dict[str, Callable[[_Project], Any]] = {
            "NAME": lambda project: project.name,
            "CREATED_TIME": lambda project: (project.data["created"], project.sequence),
            "LAST_MODIFIED_TIME": lambda project: (project.data["lastModified"], project.sequence),
        }
        ordered = sorted(
            self._projects.values(), key=keys[sort_by], reverse=params.get("sortOrder") == "DESCENDING"
        )
        start = _decode_token("projects", params.get("nextToken")) or 0
        page = ordered[start : start + _PAGE_SIZE]
        result: dict[str, Any] = {"projects": [project.name for project in page]}
        if start + _PAGE_SIZE < len(ordered):
            result["nextToken"] = _encode_token("projects", start + _PAGE_SIZE)
        return result

    def _project_or_error(self, name: str) -> _Project:
        project = self._projects.get(self._name_from(name))
        if project is None:
            raise ServiceError(
                "ResourceNotFoundException", f"Project cannot be found: {self._project_arn(name)}"
            )
        return project

    # -- starting builds -------------------------------------------------------------------------------

    def _start_build(self, params: dict[str, Any]) -> dict[str, Any]:
        project = self._project_or_error(params["projectName"])
        token = params.get("idempotencyToken")
        if token is not None:
            existing = self._idempotent_build("StartBuild", token, params)
            if existing is not None:
                return {"build": existing.to_api()}
        build = self._launch(project, params, initiator=self.world.caller_name)
        if token is not None:
            self._remember_token("StartBuild", token, params, build)
        return {"build": build.to_api()}

    def start_pipeline_build(
        self,
        project_name: str,
        /,
        *,
        pipeline_name: str,
        source_version: str | None,
        environment_variables_override: list[dict[str, str]],
        output_artifacts: Sequence[Mapping[str, str]] = (),
        artifact_kms_key_id: str | None = None,
        on_complete: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        """Start a build for a CodePipeline CodeBuild action; ``on_complete(build)`` runs when it ends.

        The build's initiator is ``codepipeline/<pipeline>``, its source type ``CODEPIPELINE`` and
        ``sourceVersion`` the revision handed over. ``on_complete`` always runs from a clock timer (never
        inside this call) with the finished build's wire dict.

        ``output_artifacts`` (``{"name", "bucket", "key"}`` each; the first is the primary one) are the
        action's output artifacts: the build shows their S3 ARNs as ``artifacts.location`` (and
        ``secondaryArtifacts``) and uploads a zip to each in UPLOAD_ARTIFACTS, SSE-KMS with
        ``artifact_kms_key_id`` when given. A missing bucket fails that phase (CLIENT_ERROR), so the build.

        Raises:
            ServiceError: ``ResourceNotFoundException`` (no such project) or ``AccountLimitExceededException``.
        """
        project = self._project_or_error(project_name)
        params: dict[str, Any] = {"projectName": project.name, "sourceTypeOverride": "CODEPIPELINE"}
        if source_version is not None:
            params["sourceVersion"] = source_version
        if environment_variables_override:
            params["environmentVariablesOverride"] = environment_variables_override
        build = self._launch(
            project,
            params,
            initiator=f"codepipeline/{pipeline_name}",
            outputs=tuple(dict(output) for output in output_artifacts),
        )
        build.outputs_kms_key_id = artifact_kms_key_id
        build.on_complete.append(on_complete)
        return build.to_api()

    def _idempotent_build(self, operation: str, token: str, params: Mapping[str, Any]) -> _Build | None:
        remembered = self._idempotency.get((operation, token))
        if remembered is None:
            return None
        when, fingerprint, build_id = remembered
        if self.world.clock.now() - when > _IDEMPOTENCY_WINDOW:
            del self._idempotency[(operation, token)]
            return None
        if fingerprint != _fingerprint(params):
            raise ServiceError(
                "InvalidInputException",
                f"The idempotency token {token} was already used with different parameters in the last 5 minutes",
            )
        return self._builds[build_id]

    def _remember_token(self, operation: str, token: str, params: Mapping[str, Any], build: _Build) -> None:
        self._idempotency[(operation, token)] = (self.world.clock.now(), _fingerprint(params), build.id)

    def _check_capacity(self, project: _Project) -> None:
        limit = self.world.max_concurrent_builds
        if limit is not None and len(self._active) >= limit:
            raise ServiceError(
                "AccountLimitExceededException",
                f"Cannot have more than {limit} active builds for the account",
            )
        project_limit = project.data.get("concurrentBuildLimit")
        if project_limit is not None:
            running = sum(1 for build in self._active.values() if build.project == project.name)
            if running >= project_limit:
                raise ServiceError(
                    "AccountLimitExceededException",
                    f"Build concurrency limit of {project_limit} reached for project {project.name}",
                )

    def _launch(
        self,
        project: _Project,
        params: Mapping[str, Any],
        *,
        initiator: str,
        resolved_source_version: str | None = None,
        outputs: tuple[Mapping[str, str], ...] = (),
    ) -> _Build:
        self._check_capacity(project)
        static = self._build_fields(project.data, params)
        if outputs:
            # A pipeline's build reports where its output artifacts go: the artifact store objects.
            arns = [f"arn:{self._partition}:s3:::{output['bucket']}/{output['key']}" for output in outputs]
            static["artifacts"] = {**static["artifacts"], "location": arns[0]}
            static["secondaryArtifacts"] = [
                {"location": arn, "artifactIdentifier": output["name"]}
                for arn, output in zip(arns[1:], outputs[1:], strict=True)
            ]
        source_type = static["source"].get("type")
        if resolved_source_version is None and source_type not in ("S3", "NO_SOURCE", "CODEPIPELINE"):
            resolved_source_version = self.world.new_hex(40)
        return self._begin(
            project.name,
            static,
            logs_config=params.get("logsConfigOverride", project.data.get("logsConfig", {})),
            initiator=initiator,
            resolved_source_version=resolved_source_version,
            outputs=outputs,
        )

    def _begin(
        self,
        project_name: str,
        static: dict[str, Any],
        *,
        logs_config: Mapping[str, Any],
        initiator: str,
        resolved_source_version: str | None,
        outputs: tuple[Mapping[str, str], ...] = (),
    ) -> _Build:
        world = self.world
        now = world.clock.now()
        build = _Build()
        build.outputs = outputs
        build.uuid = world.new_uuid()
        build.id = f"{project_name}:{build.uuid}"
        build.project = project_name
        build.number = self._build_numbers.get(project_name, 0) + 1
        self._build_numbers[project_name] = build.number
        self._sequence += 1
        build.sequence = self._sequence
        build.start_time = now
        build.current_phase = "SUBMITTED"
        build.script = world.scripts.build_outcome(project_name)
        durations = dict(world.build_phase_durations)
        if build.script is not None and build.script.phase_durations:
            durations.update(build.script.phase_durations)
        build.phase_durations = durations
        static = dict(static)
        static["id"] = build.id
        static["arn"] = f"{self._arn_prefix}:build/{build.id}"
        static["buildNumber"] = build.number
        static["projectName"] = project_name
        static["initiator"] = initiator
        if resolved_source_version is not None:
            static["resolvedSourceVersion"] = resolved_source_version
        build.static = static
        build.logs_config = logs_config
        build.logs = self._pending_logs(logs_config)
        self._builds[build.id] = build
        self._project_builds.setdefault(project_name, []).append(build)
        self._active[build.id] = build
        logger.debug("codebuild %s: build %s started (#%d)", self.region, build.id, build.number)
        self._emit_state(build, "IN_PROGRESS")
        self._enter_phase(build, "SUBMITTED", now)
        return build

    def _build_fields(self, project: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        """The build's fixed fields: the project's settings with StartBuild's overrides applied."""
        fields: dict[str, Any] = {key: project[key] for key in _PROJECT_TO_BUILD if key in project}
        fields["source"] = dict(project["source"])
        environment = dict(project["environment"])
        fields["environment"] = environment
        for member, (field, sub_member) in _OVERRIDES.items():
            if member not in params:
                continue
            if sub_member is None:
                fields[field] = params[member]
            else:
                fields[field] = {**fields.get(field, {}), sub_member: params[member]}
                if field == "environment":
                    environment = fields[field]
        variables = {
            variable["name"]: dict(variable) for variable in environment.get("environmentVariables", ())
        }
        for variable in params.get("environmentVariablesOverride", ()):
            variables[variable["name"]] = {
                "name": variable["name"],
                "value": variable["value"],
                "type": variable.get("type", "PLAINTEXT"),
            }
        environment["environmentVariables"] = list(variables.values())
        source_version = params.get("sourceVersion", project.get("sourceVersion"))
        if source_version is not None:
            fields["sourceVersion"] = source_version
        fields["artifacts"] = self._build_artifacts(params.get("artifactsOverride", project["artifacts"]))
        fields["secondaryArtifacts"] = [
            self._build_artifacts(artifact)
            for artifact in params.get("secondaryArtifactsOverride", project.get("secondaryArtifacts", ()))
        ]
        if "debugSessionEnabled" in params:
            fields["debugSession"] = {"sessionEnabled": params["debugSessionEnabled"]}
        retry_limit = params.get("autoRetryLimitOverride", project.get("autoRetryLimit"))
        if retry_limit is not None:
            fields["autoRetryConfig"] = {"autoRetryLimit": retry_limit, "autoRetryNumber": 0}
        fields.setdefault("timeoutInMinutes", _DEFAULT_TIMEOUT_MINUTES)
        fields.setdefault("queuedTimeoutInMinutes", _DEFAULT_QUEUED_TIMEOUT_MINUTES)
        fields["reportArns"] = []
        return fields

    def _build_artifacts(self, artifacts: Mapping[str, Any]) -> dict[str, Any]:
        # A build reports where its artifacts went, not the project's artifact settings.
        result: dict[str, Any] = {}
        if artifacts.get("type") == "S3":
            parts = [artifacts.get("location", ""), artifacts.get("path", ""), artifacts.get("name", "")]
            result["location"] = f"arn:{self._partition}:s3:::" + "/".join(
                part.strip("/") for part in parts if part
            )
        else:
            result["location"] = ""
        for member in (
            "encryptionDisabled",
            "overrideArtifactName",
            "artifactIdentifier",
            "bucketOwnerAccess",
        ):
            if member in artifacts:
                result[member] = artifacts[member]
        return result

    def _pending_logs(self, config: Mapping[str, Any]) -> dict[str, Any]:
        logs: dict[str, Any] = {
            "deepLink": f"https://console.aws.amazon.com/cloudwatch/home?region={self.region}#logEvent:group=null;stream=null",
            "cloudWatchLogsArn": f"arn:{self._partition}:logs:{self.region}:{self.world.account_id}:log-group:null:log-stream:null",
            "cloudWatchLogs": dict(config.get("cloudWatchLogs", {"status": "ENABLED"})),
            "s3Logs": dict(config.get("s3Logs", {"status": "DISABLED", "encryptionDisabled": False})),
        }
        return logs

    # -- phases ----------------------------------------------------------------------------------------

    def _enter_phase(self, build: _Build, phase: str, at: float) -> None:
        build.current_phase = phase
        build.phases.append({"phaseType": phase, "startTime": at})
        if phase == "COMPLETED":
            self._complete(build, at)
            return
        if phase == "QUEUED":
            limit = build.static["queuedTimeoutInMinutes"] * 60.0
            build.queued_timer = self.world.clock.call_at(
                at + limit, lambda: self._time_out(build, queued=True)
            )
        elif phase == "PROVISIONING":
            self._open_log_stream(build)
            limit = build.static["timeoutInMinutes"] * 60.0
            build.timeout_timer = self.world.clock.call_at(
                at + limit, lambda: self._time_out(build, queued=False)
            )
        self._log_phase_start(build, phase, at)
        script = build.script
        if (
            script is not None
            and script.fail_in == phase
            and script.status == "TIMED_OUT"
            and phase != "SUBMITTED"
        ):
            return  # the phase hangs until the build's timeout fires
        duration = float(build.phase_durations.get(phase, 0.0))
        if duration <= 0:
            self._end_phase(build, at=at)
        else:
            build.timer = self.world.clock.call_at(at + duration, lambda: self._end_phase(build))

    def _end_phase(
        self,
        build: _Build,
        status: str | None = None,
        context: dict[str, str] | None = None,
        *,
        at: float | None = None,
    ) -> None:
        now = self.world.clock.now() if at is None else at
        entry = build.phases[-1]
        phase = entry["phaseType"]
        build.timer = None
        if phase == "QUEUED" and build.queued_timer is not None:
            build.queued_timer.cancel()
            build.queued_timer = None
        if status is None:
            status, context = self._scripted_end(build, phase)
            if phase == "UPLOAD_ARTIFACTS" and status == "SUCCEEDED" and build.final_status == "SUCCEEDED":
                status, context = self._upload_outputs(build)
        entry["phaseStatus"] = status
        entry["endTime"] = now
        entry["durationInSeconds"] = int(now - entry["startTime"])
        if status != "STOPPED" and (phase not in _NO_CONTEXT_PHASES or status != "SUCCEEDED"):
            entry["contexts"] = [context or {"statusCode": "", "message": ""}]
        if status != "SUCCEEDED":
            build.final_status = status
        if phase == "POST_BUILD" and build.script is not None and build.script.exported_variables is not None:
            build.exported = [
                {"name": name, "value": value} for name, value in build.script.exported_variables.items()
            ]
        self._log_phase_end(build, phase, status, context, now)
        self._enter_phase(build, _following_phase(phase, status), now)

    def _upload_outputs(self, build: _Build) -> tuple[str, dict[str, str] | None]:
        """Put a pipeline build's output artifacts in the artifact store: the scripted files, zipped."""
        files = build.script.artifact_files if build.script is not None else None
        for output in build.outputs:
            if files:
                body = zip_files(files)
            else:
                body = generated_archive(
                    f"# {output['name']}\n\nOutput artifact of CodeBuild build {build.id}.",
                    {"buildId": build.id, "projectName": build.project, "artifactName": output["name"]},
                )
            if not self.world.write_object(
                output["bucket"], output["key"], body, kms_key_id=build.outputs_kms_key_id
            ):
                message = f"Error uploading artifacts: NoSuchBucket: the S3 bucket {output['bucket']} does not exist"
                return "FAILED", {"statusCode": "CLIENT_ERROR", "message": message}
        return "SUCCEEDED", None

    def _scripted_end(self, build: _Build, phase: str) -> tuple[str, dict[str, str] | None]:
        script = build.script
        if script is None or not script.fails or script.fail_in != phase:
            return "SUCCEEDED", None
        return script.status, _failure_context(phase, script)

    def _time_out(self, build: _Build, *, queued: bool) -> None:
        if build.complete:
            return
        if build.timer is not None:
            build.timer.cancel()
        if queued:
            build.queued_timer = None
            context = {"statusCode": "BUILD_TIMED_OUT", "message": "Build has timed out in the queue. "}
        else:
            build.timeout_timer = None
            context = {"statusCode": "BUILD_TIMED_OUT", "message": "Build has timed out. "}
        self._end_phase(build, "TIMED_OUT", context)

    def _complete(self, build: _Build, at: float) -> None:
        for timer in (build.timer, build.timeout_timer, build.queued_timer):
            if timer is not None:
                timer.cancel()
        build.timer = build.timeout_timer = build.queued_timer = None
        build.complete = True
        build.status = build.final_status
        build.end_time = at
        self._active.pop(build.id, None)
        logger.debug("codebuild %s: build %s completed %s", self.region, build.id, build.status)
        self._emit_state(build, build.status)
        if build.on_complete:
            finished = build.to_api()
            callbacks, build.on_complete = build.on_complete, []
            for callback in callbacks:
                # From a timer, never inside the request that caused completion: the caller's engine may be
                # half-way through its own bookkeeping.
                self.world.clock.call_later(0.0, functools.partial(callback, finished))

    # -- logs and events ---------------------------------------------------------------------------------

    def _open_log_stream(self, build: _Build) -> None:
        config = build.logs_config
        cloudwatch = config.get("cloudWatchLogs", {"status": "ENABLED"})
        if cloudwatch.get("status", "ENABLED") != "ENABLED":
            return
        group = cloudwatch.get("groupName") or f"/aws/codebuild/{build.project}"
        prefix = cloudwatch.get("streamName")
        stream = f"{prefix}/{build.uuid}" if prefix else build.uuid
        build.log_group, build.log_stream = group, stream
        build.logs = {
            "groupName": group,
            "streamName": stream,
            "deepLink": f"https://console.aws.amazon.com/cloudwatch/home?region={self.region}#logEvent:group={group};stream={stream}",
            "cloudWatchLogsArn": f"arn:{self._partition}:logs:{self.region}:{self.world.account_id}:log-group:{group}:log-stream:{stream}",
            "cloudWatchLogs": dict(cloudwatch),
            "s3Logs": dict(config.get("s3Logs", {"status": "DISABLED", "encryptionDisabled": False})),
        }
        self.world.write_log_events(self.region, group, stream, ())

    def _write(self, build: _Build, at: float, agent: list[str], output: tuple[str, ...] = ()) -> None:
        # Agent lines carry the "[Container] <time>" prefix; command output (scripted lines) is written raw.
        if build.log_group is None or build.log_stream is None or not (agent or output):
            return
        stamp = datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y/%m/%d %H:%M:%S.%f")
        lines = [(at, f"[Container] {stamp} {message}") for message in agent]
        lines += [(at, message) for message in output]
        self.world.write_log_events(self.region, build.log_group, build.log_stream, lines)

    def _log_phase_start(self, build: _Build, phase: str, at: float) -> None:
        if build.log_group is None:
            return
        agent: list[str] = []
        if phase == "DOWNLOAD_SOURCE":
            agent += [
                "Running on CodeBuild On-demand",
                "Waiting for agent ping",
                "Waiting for DOWNLOAD_SOURCE",
            ]
        elif phase in _CONTAINER_PHASES:
            agent.append(f"Entering phase {phase}")
        scripted = build.script.log_lines if build.script is not None else None
        output: tuple[str, ...] = ()
        if scripted is not None and phase in scripted:
            output = scripted[phase]
        elif phase == "BUILD":
            agent.append("Running command ./build.sh")
        self._write(build, at, agent, output)

    def _log_phase_end(
        self, build: _Build, phase: str, status: str, context: Mapping[str, str] | None, at: float
    ) -> None:
        if build.log_group is None or phase not in _CONTAINER_PHASES:
            return
        code = context.get("statusCode", "") if context else ""
        message = context.get("message", "") if context else ""
        self._write(
            build,
            at,
            [
                f"Phase complete: {phase} State: {status}",
                f"Phase context status code: {code} Message: {message}",
            ],
        )

    def _emit_state(self, build: _Build, status: str) -> None:
        world = self.world
        detail = {
            "build-status": status,
            "project-name": build.project,
            "build-id": build.static["arn"],
            "additional-information": {
                "build-complete": build.complete,
                "build-number": build.number,
                "initiator": build.static["initiator"],
                "start-time": _event_time(build.start_time),
            },
            "current-phase": build.current_phase if build.complete else "SUBMITTED",
            "current-phase-context": "[]",
            "version": "1",
        }
        world.put_event(
            {
                "version": "0",
                "id": world.new_uuid(),
                "detail-type": "CodeBuild Build State Change",
                "source": "aws.codebuild",
                "account": world.account_id,
                "time": _event_time(world.clock.now()),
                "region": self.region,
                "resources": [build.static["arn"]],
                "detail": detail,
            }
        )

    # -- reading, stopping, retrying -----------------------------------------------------------------------

    def _build_or_error(self, build_id: str) -> _Build:
        build = self._builds.get(build_id)
        if build is None:
            raise ServiceError("ResourceNotFoundException", f"Build {build_id} does not exist")
        return build

    def _batch_get_builds(self, params: dict[str, Any]) -> dict[str, Any]:
        ids = params["ids"]
        if len(ids) > _PAGE_SIZE:  # also in the model; kept so the rule holds without the shape checker
            raise ServiceError(
                "InvalidInputException",
                "1 validation error detected: Value at 'ids' failed to satisfy constraint: "
                "Member must have length less than or equal to 100",
            )
        builds: list[dict[str, Any]] = []
        missing: list[str] = []
        for build_id in ids:
            build = self._builds.get(build_id)
            if build is None:
                missing.append(build_id)
            else:
                builds.append(build.to_api())
        return {"builds": builds, "buildsNotFound": missing}

    def _stop_build(self, params: dict[str, Any]) -> dict[str, Any]:
        build = self._build_or_error(params["id"])
        if not build.complete:
            if build.timer is not None:
                build.timer.cancel()
            logger.debug("codebuild %s: stopping build %s in %s", self.region, build.id, build.current_phase)
            self._end_phase(build, "STOPPED")
        return {"build": build.to_api()}

    def _retry_build(self, params: dict[str, Any]) -> dict[str, Any]:
        build_id = params.get("id")
        if not build_id:
            raise ServiceError("InvalidInputException", "Build id is required")
        original = self._build_or_error(build_id)
        token = params.get("idempotencyToken")
        if token is not None:
            existing = self._idempotent_build("RetryBuild", token, params)
            if existing is not None:
                return {"build": existing.to_api()}
        project = self._projects.get(original.project)
        if project is not None:
            self._check_capacity(project)
        static = {
            key: value
            for key, value in original.static.items()
            if key not in ("id", "arn", "buildNumber", "initiator", "resolvedSourceVersion")
        }
        build = self._begin(
            original.project,
            static,
            logs_config=original.logs_config,
            initiator=self.world.caller_name,
            resolved_source_version=original.static.get("resolvedSourceVersion"),
        )
        if token is not None:
            self._remember_token("RetryBuild", token, params, build)
        return {"build": build.to_api()}

    def _list_builds_for_project(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["projectName"]
        if name not in self._projects:
            raise ServiceError(
                "ResourceNotFoundException", f"Project cannot be found: {self._project_arn(name)}"
            )
        builds = self._project_builds.get(name, [])
        # CodeBuild documents it: "If the project has more than 100 builds, setting the sort order will
        # result in an error." Only the default order (newest first) pages through large projects.
        if "sortOrder" in params and len(builds) > _PAGE_SIZE:
            raise ServiceError(
                "InvalidInputException",
                f"sortOrder cannot be set for project {name}: it has more than {_PAGE_SIZE} builds",
            )
        return self._page_of_builds(builds, params)

    def _list_builds(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._page_of_builds(list(self._builds.values()), params)

    def _page_of_builds(self, builds: list[_Build], params: Mapping[str, Any]) -> dict[str, Any]:
        # Builds are kept in start order; a token remembers the last sequence number returned, so pages
        # stay consistent while new builds start between calls.
        descending = params.get("sortOrder", "DESCENDING") == "DESCENDING"
        kind = "desc" if descending else "asc"
        after = _decode_token(kind, params.get("nextToken"))
        ordered: Iterator[_Build] = reversed(builds) if descending else iter(builds)
        if after is not None:
            ordered = (
                build
                for build in ordered
                if (build.sequence < after if descending else build.sequence > after)
            )
        page: list[_Build] = []
        more = False
        for build in ordered:
            if len(page) == _PAGE_SIZE:
                more = True
                break
            page.append(build)
        result: dict[str, Any] = {"ids": [build.id for build in page]}
        if more:
            result["nextToken"] = _encode_token(kind, page[-1].sequence)
        return result


def _source_with_defaults(source: Mapping[str, Any]) -> dict[str, Any]:
    return {**source, "insecureSsl": source.get("insecureSsl", False)}


def _artifacts_with_defaults(artifacts: Mapping[str, Any], project_name: str | None) -> dict[str, Any]:
    """A project's artifact settings as CodeBuild returns them: name, namespace, packaging, encryption."""
    result = dict(artifacts)
    kind = result.get("type")
    if kind not in ("S3", "CODEPIPELINE"):
        return result  # NO_ARTIFACTS has nothing more to say
    if project_name is not None:
        result.setdefault("name", project_name)
    if kind == "S3":
        result.setdefault("namespaceType", "NONE")
    result.setdefault("packaging", "NONE")
    result.setdefault("encryptionDisabled", False)
    return result


def _following_phase(phase: str, status: str) -> str:
    if status == "SUCCEEDED":
        return _NEXT_PHASE[phase]
    if status == "STOPPED":
        return "COMPLETED"
    if status == "TIMED_OUT":
        return "COMPLETED" if phase == "FINALIZING" else "FINALIZING"
    return _NEXT_PHASE[phase] if phase in _CONTINUE_AFTER_FAILURE else "FINALIZING"


def _failure_context(phase: str, script: BuildScript) -> dict[str, str]:
    if script.status == "FAULT":
        return {
            "statusCode": "INTERNAL_ERROR",
            "message": script.message or "CodeBuild encountered an internal error",
        }
    if script.status == "TIMED_OUT":
        return {"statusCode": "BUILD_TIMED_OUT", "message": script.message or "Build has timed out. "}
    if phase in ("INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD"):
        message = (
            script.message or f"Error while executing command: ./{phase.lower()}.sh. Reason: exit status 1"
        )
        return {"statusCode": "COMMAND_EXECUTION_ERROR", "message": message}
    return {
        "statusCode": "CLIENT_ERROR",
        "message": script.message or f"{phase.replace('_', ' ').lower()} failed",
    }


def _fingerprint(params: Mapping[str, Any]) -> str:
    return json.dumps(
        {key: value for key, value in params.items() if key != "idempotencyToken"}, sort_keys=True
    )


def _event_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
