"""The CodeBuild engine's wire side: one decoded JSON request in, one answer (or a ServiceError) out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipepilot._shapes import request_problems, validation_message
from pipepilot.local._arns import partition_of
from pipepilot.local._errors import ServiceError
from pipepilot.local.codebuild._builds import Builds
from pipepilot.local.codebuild._logs import BuildLogs
from pipepilot.local.codebuild._projects import Projects

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from pipepilot.local.codebuild._host import CodeBuildHost

__all__ = ["CodeBuildEngine"]


class CodeBuildEngine:
    """CodeBuild for one region of a World.

    ``dispatch(operation, params)`` answers one decoded JSON request (raising
    :class:`~pipepilot.local._errors.ServiceError`); ``start_pipeline_build(...)`` is the CodePipeline
    engine's entry point for CodeBuild actions. The caller holds ``world.clock.lock``.

    The engine is the wire only: ``projects`` and ``builds`` hold the state and apply the operations, and
    ``logs`` writes the builds' log streams.
    """

    def __init__(self, world: CodeBuildHost, region: str) -> None:
        self.world = world
        self.region = region
        partition = partition_of(region)
        self.projects = Projects(world, region, partition)
        self.logs = BuildLogs(world, region, partition)
        self.builds = Builds(world, region, partition, projects=self.projects, logs=self.logs)
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateProject": self.projects.create,
            "UpdateProject": self.projects.update,
            "DeleteProject": self.projects.delete,
            "BatchGetProjects": self.projects.batch_get,
            "ListProjects": self.projects.list_names,
            "StartBuild": self.builds.start,
            "BatchGetBuilds": self.builds.batch_get,
            "StopBuild": self.builds.stop,
            "RetryBuild": self.builds.retry,
            "ListBuildsForProject": self.builds.list_for_project,
            "ListBuilds": self.builds.list_all,
        }

    def __repr__(self) -> str:
        return (
            f"<CodeBuildEngine {self.region} projects={len(self.projects.by_name)} builds={len(self.builds)}>"
        )

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
        """Start a build for a CodePipeline CodeBuild action (see :meth:`Builds.start_pipeline_build`).

        Raises:
            ServiceError: ``ResourceNotFoundException`` (no such project) or ``AccountLimitExceededException``.
        """
        return self.builds.start_pipeline_build(
            project_name,
            pipeline_name=pipeline_name,
            source_version=source_version,
            environment_variables_override=environment_variables_override,
            output_artifacts=output_artifacts,
            artifact_kms_key_id=artifact_kms_key_id,
            on_complete=on_complete,
        )
