"""CodeBuild builds: starting, stopping and retrying them, and their phases on the virtual clock."""

from __future__ import annotations

import functools
import itertools
import json
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pipepilot.local._artifacts import generated_archive, zip_files
from pipepilot.local._errors import ServiceError
from pipepilot.local.codebuild._build_state import Build
from pipepilot.local.codebuild._projects import (
    DEFAULT_QUEUED_TIMEOUT_MINUTES,
    DEFAULT_TIMEOUT_MINUTES,
    PAGE_SIZE,
    PAGING,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from pipepilot.local.codebuild._host import BuildScriptView, CodeBuildHost
    from pipepilot.local.codebuild._logs import BuildLogs
    from pipepilot.local.codebuild._projects import Project, Projects

__all__ = ["PHASES", "Builds"]

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
# SUBMITTED and QUEUED entries carry no contexts (AWS CLI examples).
_NO_CONTEXT_PHASES = frozenset({"SUBMITTED", "QUEUED"})
_IDEMPOTENCY_WINDOW = 300.0

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


class Builds:
    """The builds of one region: the StartBuild family of operations and each build's course."""

    def __init__(
        self, host: CodeBuildHost, region: str, partition: str, *, projects: Projects, logs: BuildLogs
    ) -> None:
        self._host = host
        self._region = region
        self._partition = partition
        self._arn_prefix = f"arn:{partition}:codebuild:{region}:{host.account_id}"
        self._projects = projects
        self._logs = logs
        self._builds: dict[str, Build] = {}
        self._project_builds: dict[str, list[Build]] = {}
        self._build_numbers: dict[str, int] = {}
        self._active: dict[str, Build] = {}
        self._idempotency: dict[tuple[str, str], tuple[float, str, str]] = {}
        self._sequence = 0

    def __len__(self) -> int:
        return len(self._builds)

    # -- starting builds -------------------------------------------------------------------------------

    def start(self, params: dict[str, Any]) -> dict[str, Any]:
        """StartBuild: launch a build of the project (or return the one an idempotency token already started)."""
        project = self._projects.get(params["projectName"])
        token = params.get("idempotencyToken")
        if token is not None:
            existing = self._idempotent_build("StartBuild", token, params)
            if existing is not None:
                return {"build": existing.to_api()}
        build = self._launch(project, params, initiator=self._host.caller_name)
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
        project = self._projects.get(project_name)
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

    def _idempotent_build(self, operation: str, token: str, params: Mapping[str, Any]) -> Build | None:
        """The build an idempotency token started in the last 5 minutes (an expired token is forgotten)."""
        remembered = self._idempotency.get((operation, token))
        if remembered is None:
            return None
        when, fingerprint, build_id = remembered
        if self._host.clock.now() - when > _IDEMPOTENCY_WINDOW:
            del self._idempotency[(operation, token)]
            return None
        if fingerprint != _fingerprint(params):
            raise ServiceError(
                "InvalidInputException",
                f"The idempotency token {token} was already used with different parameters in the last 5 minutes",
            )
        return self._builds[build_id]

    def _remember_token(self, operation: str, token: str, params: Mapping[str, Any], build: Build) -> None:
        """Remember which build an idempotency token started, and when."""
        self._idempotency[(operation, token)] = (self._host.clock.now(), _fingerprint(params), build.id)

    def _check_capacity(self, project: Project) -> None:
        """Refuse a build beyond the account's or the project's concurrency limit."""
        limit = self._host.max_concurrent_builds
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
        project: Project,
        params: Mapping[str, Any],
        *,
        initiator: str,
        resolved_source_version: str | None = None,
        outputs: tuple[Mapping[str, str], ...] = (),
    ) -> Build:
        """Start a build of ``project`` with a request's overrides, after checking the concurrency limits."""
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
            resolved_source_version = self._host.new_hex(40)
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
    ) -> Build:
        """Register a new build (numbered, logged, announced) and enter its SUBMITTED phase."""
        world = self._host
        now = world.clock.now()
        build = Build()
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
        build.logs = self._logs.pending(logs_config)
        self._builds[build.id] = build
        self._project_builds.setdefault(project_name, []).append(build)
        self._active[build.id] = build
        logger.debug("codebuild %s: build %s started (#%d)", self._region, build.id, build.number)
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
        fields.setdefault("timeoutInMinutes", DEFAULT_TIMEOUT_MINUTES)
        fields.setdefault("queuedTimeoutInMinutes", DEFAULT_QUEUED_TIMEOUT_MINUTES)
        fields["reportArns"] = []
        return fields

    def _build_artifacts(self, artifacts: Mapping[str, Any]) -> dict[str, Any]:
        # A build reports where its artifacts went, not the project's artifact settings.
        """Where a build reports its artifacts went, from the artifact settings it ran with."""
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

    # -- phases ----------------------------------------------------------------------------------------

    def _enter_phase(self, build: Build, phase: str, at: float) -> None:
        """Make ``phase`` the build's current phase and schedule its end (or its timeout)."""
        build.current_phase = phase
        build.phases.append({"phaseType": phase, "startTime": at})
        if phase == "COMPLETED":
            self._complete(build, at)
            return
        if phase == "QUEUED":
            limit = build.static["queuedTimeoutInMinutes"] * 60.0
            build.queued_timer = self._host.clock.call_at(
                at + limit, lambda: self._time_out(build, queued=True)
            )
        elif phase == "PROVISIONING":
            self._logs.open_stream(build)
            limit = build.static["timeoutInMinutes"] * 60.0
            build.timeout_timer = self._host.clock.call_at(
                at + limit, lambda: self._time_out(build, queued=False)
            )
        self._logs.phase_started(build, phase, at)
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
            build.timer = self._host.clock.call_at(at + duration, lambda: self._end_phase(build))

    def _end_phase(
        self,
        build: Build,
        status: str | None = None,
        context: dict[str, str] | None = None,
        *,
        at: float | None = None,
    ) -> None:
        """End the current phase with ``status`` (the scripted one by default) and enter the phase that follows."""
        now = self._host.clock.now() if at is None else at
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
        self._logs.phase_ended(build, phase, status, context, now)
        self._emit_phase_change(build, entry)
        self._enter_phase(build, _following_phase(phase, status), now)

    def _upload_outputs(self, build: Build) -> tuple[str, dict[str, str] | None]:
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
            if not self._host.write_object(
                output["bucket"], output["key"], body, kms_key_id=build.outputs_kms_key_id
            ):
                message = f"Error uploading artifacts: NoSuchBucket: the S3 bucket {output['bucket']} does not exist"
                return "FAILED", {"statusCode": "CLIENT_ERROR", "message": message}
        return "SUCCEEDED", None

    def _scripted_end(self, build: Build, phase: str) -> tuple[str, dict[str, str] | None]:
        """The status and context a phase ends with: the script's failure in its phase, else success."""
        script = build.script
        if script is None or not script.fails or script.fail_in != phase:
            return "SUCCEEDED", None
        return script.status, _failure_context(phase, script)

    def _time_out(self, build: Build, *, queued: bool) -> None:
        """End the current phase TIMED_OUT because the build's (or its queue's) timeout fired."""
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

    def _complete(self, build: Build, at: float) -> None:
        """Mark the build complete with its final status and hand it to its completion callbacks."""
        for timer in (build.timer, build.timeout_timer, build.queued_timer):
            if timer is not None:
                timer.cancel()
        build.timer = build.timeout_timer = build.queued_timer = None
        build.complete = True
        build.status = build.final_status
        build.end_time = at
        self._active.pop(build.id, None)
        logger.debug("codebuild %s: build %s completed %s", self._region, build.id, build.status)
        self._emit_state(build, build.status)
        if build.on_complete:
            finished = build.to_api()
            callbacks, build.on_complete = build.on_complete, []
            for callback in callbacks:
                # From a timer, never inside the request that caused completion: the caller's engine may be
                # half-way through its own bookkeeping.
                self._host.clock.call_later(0.0, functools.partial(callback, finished))

    # -- logs and events ---------------------------------------------------------------------------------

    def _emit_state(self, build: Build, status: str) -> None:
        """Put a "CodeBuild Build State Change" event for the build on the World's event log."""
        self._emit(
            build,
            "CodeBuild Build State Change",
            {
                "build-status": status,
                "project-name": build.project,
                "build-id": build.static["arn"],
                "additional-information": _event_information(build),
                "current-phase": build.current_phase if build.complete else "SUBMITTED",
                "current-phase-context": "[]",
                "version": "1",
            },
        )

    def _emit_phase_change(self, build: Build, entry: Mapping[str, Any]) -> None:
        """Put a "CodeBuild Build Phase Change" event for the phase ``entry`` that just ended."""
        self._emit(
            build,
            "CodeBuild Build Phase Change",
            {
                "completed-phase": entry["phaseType"],
                "project-name": build.project,
                "build-id": build.static["arn"],
                "completed-phase-context": _phase_context_text(entry),
                "additional-information": _event_information(build),
                "completed-phase-status": entry["phaseStatus"],
                "completed-phase-duration-seconds": entry["durationInSeconds"],
                "version": "1",
                "completed-phase-start": _console_time(entry["startTime"]),
                "completed-phase-end": _console_time(entry["endTime"]),
            },
        )

    def _emit(self, build: Build, detail_type: str, detail: dict[str, Any]) -> None:
        """Put one ``aws.codebuild`` event about ``build`` on the World's event log."""
        world = self._host
        world.put_event(
            {
                "version": "0",
                "id": world.new_uuid(),
                "detail-type": detail_type,
                "source": "aws.codebuild",
                "account": world.account_id,
                "time": _event_time(world.clock.now()),
                "region": self._region,
                "resources": [build.static["arn"]],
                "detail": detail,
            }
        )

    # -- reading, stopping, retrying -----------------------------------------------------------------------

    def get(self, build_id: str) -> Build:
        """The build ``build_id``, or ResourceNotFoundException."""
        build = self._builds.get(build_id)
        if build is None:
            raise ServiceError("ResourceNotFoundException", f"Build {build_id} does not exist")
        return build

    def batch_get(self, params: dict[str, Any]) -> dict[str, Any]:
        """BatchGetBuilds: the builds found, and the ids that were not."""
        ids = params["ids"]
        if len(ids) > PAGE_SIZE:  # also in the model; kept so the rule holds without the shape checker
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

    def stop(self, params: dict[str, Any]) -> dict[str, Any]:
        """StopBuild: end the current phase STOPPED, which completes the build at once."""
        build = self.get(params["id"])
        if not build.complete:
            if build.timer is not None:
                build.timer.cancel()
            logger.debug("codebuild %s: stopping build %s in %s", self._region, build.id, build.current_phase)
            self._end_phase(build, "STOPPED")
        return {"build": build.to_api()}

    def retry(self, params: dict[str, Any]) -> dict[str, Any]:
        """RetryBuild: start a new build with the original build's settings."""
        build_id = params.get("id")
        if not build_id:
            raise ServiceError("InvalidInputException", "Build id is required")
        original = self.get(build_id)
        token = params.get("idempotencyToken")
        if token is not None:
            existing = self._idempotent_build("RetryBuild", token, params)
            if existing is not None:
                return {"build": existing.to_api()}
        project = self._projects.by_name.get(original.project)
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
            initiator=self._host.caller_name,
            resolved_source_version=original.static.get("resolvedSourceVersion"),
        )
        if token is not None:
            self._remember_token("RetryBuild", token, params, build)
        return {"build": build.to_api()}

    def list_for_project(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListBuildsForProject: one page of a project's build ids."""
        name = params["projectName"]
        if name not in self._projects.by_name:
            raise ServiceError(
                "ResourceNotFoundException", f"Project cannot be found: {self._projects.arn(name)}"
            )
        builds = self._project_builds.get(name, [])
        # CodeBuild documents it: "If the project has more than 100 builds, setting the sort order will
        # result in an error." Only the default order (newest first) pages through large projects.
        if "sortOrder" in params and len(builds) > PAGE_SIZE:
            raise ServiceError(
                "InvalidInputException",
                f"sortOrder cannot be set for project {name}: it has more than {PAGE_SIZE} builds",
            )
        return self._page_of_builds("ListBuildsForProject", name, builds, params)

    def list_all(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListBuilds: one page of every build id."""
        return self._page_of_builds("ListBuilds", "", list(self._builds.values()), params)

    def _page_of_builds(
        self, operation: str, scope: str, builds: list[Build], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        # Builds are kept in start order; a token remembers the last sequence number returned, so pages
        # stay consistent while new builds start between calls.
        """One page of ``builds`` in the requested order, resumed after the token's build."""
        descending = params.get("sortOrder", "DESCENDING") == "DESCENDING"
        order = "DESCENDING" if descending else "ASCENDING"
        after = PAGING.position(params.get("nextToken"), operation, f"{scope}|{order}", kind=int)
        ordered: Iterator[Build] = reversed(builds) if descending else iter(builds)
        if after is not None:
            ordered = (
                build
                for build in ordered
                if (build.sequence < after if descending else build.sequence > after)
            )
        page, token = PAGING.page(
            ordered,
            limit=PAGE_SIZE,
            operation=operation,
            scope=f"{scope}|{order}",
            position_of=lambda build: build.sequence,
        )
        result: dict[str, Any] = {"ids": [build.id for build in page]}
        if token:
            result["nextToken"] = token
        return result


def _following_phase(phase: str, status: str) -> str:
    """The phase a build enters after ``phase`` ends with ``status``: the next one on success, COMPLETED when
    stopped, FINALIZING then COMPLETED on a timeout, and after a failure the next one only from BUILD,
    POST_BUILD, UPLOAD_ARTIFACTS or FINALIZING, else FINALIZING.
    """
    if status == "SUCCEEDED":
        return _NEXT_PHASE[phase]
    if status == "STOPPED":
        return "COMPLETED"
    if status == "TIMED_OUT":
        return "COMPLETED" if phase == "FINALIZING" else "FINALIZING"
    return _NEXT_PHASE[phase] if phase in _CONTINUE_AFTER_FAILURE else "FINALIZING"


def _failure_context(phase: str, script: BuildScriptView) -> dict[str, str]:
    """The context ``phase`` ends with when the build's script fails it: INTERNAL_ERROR for FAULT,
    BUILD_TIMED_OUT for a timeout, COMMAND_EXECUTION_ERROR in a command phase, else CLIENT_ERROR, with the
    script's message or CodeBuild's.
    """
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
    """A request's parameters other than ``idempotencyToken`` as canonical JSON, to tell a repeated request
    from a different one that reuses its token.
    """
    return json.dumps(
        {key: value for key, value in params.items() if key != "idempotencyToken"}, sort_keys=True
    )


# CodeBuild's events write times the way its console shows them ("Sep 1, 2017 4:12:29 PM", UTC), not ISO.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# Every event of a build lists all its phases so far, so the same few times are written again and again.
@functools.lru_cache(maxsize=1024)
def _console_time(epoch: float) -> str:
    """``epoch`` as a CodeBuild event writes times: ``Sep 1, 2017 4:12:29 PM`` (UTC, English month)."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{_MONTHS[moment.month - 1]} {moment.day}, {moment.year} {hour}:{moment:%M:%S} {half}"


def _phase_context_text(entry: Mapping[str, Any]) -> str:
    """A phase's contexts as the event's ``completed-phase-context``: the list's text, ``[]`` when empty."""
    return "[" + ", ".join(_context_lines(entry)) + "]"


def _context_lines(entry: Mapping[str, Any]) -> list[str]:
    """A phase's contexts as ``statusCode: message`` lines (the form events carry)."""
    return [
        f"{context.get('statusCode', '')}: {context.get('message', '')}"
        for context in entry.get("contexts", ())
    ]


def _event_information(build: Build) -> dict[str, Any]:
    """The ``additional-information`` of a CodeBuild event: the build's settings, logs and phases so far."""
    data = build.to_api()
    environment = data.get("environment", {})
    source = data.get("source", {})
    logs = data.get("logs", {})
    information: dict[str, Any] = {
        "cache": dict(data.get("cache", {"type": "NO_CACHE"})),
        "timeout-in-minutes": data.get("timeoutInMinutes"),
        "build-complete": build.complete,
        "build-number": build.number,
        "initiator": build.static["initiator"],
        "build-start-time": _console_time(build.start_time),
        "source": {key: source[key] for key in ("type", "location", "buildspec") if key in source},
        "environment": {
            "image": environment.get("image"),
            "privileged-mode": environment.get("privilegedMode", False),
            "compute-type": environment.get("computeType"),
            "type": environment.get("type"),
            "environment-variables": [
                {"name": v.get("name"), "type": v.get("type", "PLAINTEXT"), "value": v.get("value")}
                for v in environment.get("environmentVariables", ())
            ],
        },
        "logs": {
            "group-name": logs.get("groupName"),
            "stream-name": logs.get("streamName"),
            "deep-link": logs.get("deepLink"),
        },
        "phases": [
            {
                "phase-context": _context_lines(phase),
                "start-time": _console_time(phase["startTime"]),
                **({"end-time": _console_time(phase["endTime"])} if "endTime" in phase else {}),
                **(
                    {"duration-in-seconds": phase["durationInSeconds"]}
                    if "durationInSeconds" in phase
                    else {}
                ),
                "phase-type": phase["phaseType"],
                **({"phase-status": phase["phaseStatus"]} if "phaseStatus" in phase else {}),
            }
            for phase in data.get("phases", ())
        ],
        "queued-timeout-in-minutes": data.get("queuedTimeoutInMinutes"),
    }
    if "sourceVersion" in data:
        information["source-version"] = data["sourceVersion"]
    return information


def _event_time(epoch: float) -> str:
    """``epoch`` as the UTC ``YYYY-MM-DDTHH:MM:SSZ`` text an EventBridge event carries."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
