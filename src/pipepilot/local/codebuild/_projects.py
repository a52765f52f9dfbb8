"""CodeBuild projects: create, update, delete, read and list them, with the defaults CodeBuild fills in."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pipepilot.local._errors import ServiceError
from pipepilot.local._paging import Paging

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pipepilot.local.codebuild._host import CodeBuildHost

__all__ = [
    "DEFAULT_QUEUED_TIMEOUT_MINUTES",
    "DEFAULT_TIMEOUT_MINUTES",
    "PAGE_SIZE",
    "PAGING",
    "Project",
    "Projects",
]

logger = logging.getLogger(__name__)

PAGE_SIZE = 100
DEFAULT_TIMEOUT_MINUTES = 60
DEFAULT_QUEUED_TIMEOUT_MINUTES = 480
#: CodeBuild refuses a next token it did not issue with InvalidInputException.
PAGING = Paging(error_code="InvalidInputException", error_message="Invalid next token")


class Project:
    """One project: its name, its wire dict as BatchGetProjects returns it, and its creation order."""

    __slots__ = ("data", "name", "sequence")

    def __init__(self, name: str, data: dict[str, Any], sequence: int) -> None:
        self.name = name
        self.data = data
        self.sequence = sequence


class Projects:
    """The projects of one region, by name."""

    __slots__ = ("_arn_prefix", "_host", "_partition", "_region", "_sequence", "by_name")

    def __init__(self, host: CodeBuildHost, region: str, partition: str) -> None:
        self._host = host
        self._region = region
        self._partition = partition
        self._arn_prefix = f"arn:{partition}:codebuild:{region}:{host.account_id}"
        self._sequence = 0
        self.by_name: dict[str, Project] = {}

    def arn(self, name: str) -> str:
        """The ARN of project ``name``."""
        return f"{self._arn_prefix}:project/{name}"

    def get(self, name_or_arn: str) -> Project:
        """The project a request names (by name or ARN).

        Raises:
            ServiceError: ``ResourceNotFoundException``.
        """
        project = self.by_name.get(_name_from(name_or_arn))
        if project is None:
            raise ServiceError(
                "ResourceNotFoundException", f"Project cannot be found: {self.arn(name_or_arn)}"
            )
        return project

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateProject: store a new project with CodeBuild's defaults filled in."""
        name = params["name"]
        if name in self.by_name:
            raise ServiceError("ResourceAlreadyExistsException", f"Project already exists: {self.arn(name)}")
        self._check_role(params["serviceRole"])
        now = self._host.clock.now()
        data = {key: value for key, value in params.items() if key != "badgeEnabled"}
        data["arn"] = self.arn(name)
        data["created"] = now
        data["lastModified"] = now
        data.setdefault("tags", [])
        data.setdefault("timeoutInMinutes", DEFAULT_TIMEOUT_MINUTES)
        data.setdefault("queuedTimeoutInMinutes", DEFAULT_QUEUED_TIMEOUT_MINUTES)
        data.setdefault(
            "encryptionKey", f"arn:{self._partition}:kms:{self._region}:{self._host.account_id}:alias/aws/s3"
        )
        data.setdefault("cache", {"type": "NO_CACHE"})
        data.setdefault("secondarySources", [])
        data.setdefault("secondarySourceVersions", [])
        data.setdefault("secondaryArtifacts", [])
        _apply_source_and_artifact_defaults(data)
        data.setdefault(
            "logsConfig",
            {
                "cloudWatchLogs": {"status": "ENABLED"},
                "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
            },
        )
        data["environment"] = _environment_with_defaults(data["environment"])
        data["badge"] = {"badgeEnabled": bool(params.get("badgeEnabled", False))}
        data.setdefault("projectVisibility", "PRIVATE")
        self._sequence += 1
        self.by_name[name] = Project(name, data, self._sequence)
        logger.debug("codebuild %s: created project %s", self._region, name)
        return {"project": dict(data)}

    def update(self, params: dict[str, Any]) -> dict[str, Any]:
        """UpdateProject: replace the members the request gives, then fill in the defaults again."""
        project = self.get(params["name"])
        if "serviceRole" in params:
            self._check_role(params["serviceRole"])
        data = project.data
        for key, value in params.items():
            if key == "name":
                continue
            if key == "badgeEnabled":
                data["badge"] = {"badgeEnabled": bool(value)}
            elif key == "environment":
                data["environment"] = _environment_with_defaults(value)
            else:
                data[key] = value
        _apply_source_and_artifact_defaults(data)
        data["lastModified"] = self._host.clock.now()
        return {"project": dict(data)}

    def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteProject: forget the project (its builds stay readable)."""
        # Deleting an unknown project is not an error (the model lists no not-found error).
        self.by_name.pop(params["name"], None)
        return {}

    def batch_get(self, params: dict[str, Any]) -> dict[str, Any]:
        """BatchGetProjects: the projects found, and the names or ARNs that were not."""
        found: list[dict[str, Any]] = []
        missing: list[str] = []
        for requested in params["names"]:
            project = self.by_name.get(_name_from(requested))
            if project is None:
                missing.append(requested)
            else:
                found.append(dict(project.data))
        return {"projects": found, "projectsNotFound": missing}

    def list_names(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListProjects: one page of project names in the requested order."""
        sort_by = params.get("sortBy", "NAME")
        keys: dict[str, Callable[[Project], Any]] = {
            "NAME": lambda project: project.name,
            "CREATED_TIME": lambda project: (project.data["created"], project.sequence),
            "LAST_MODIFIED_TIME": lambda project: (project.data["lastModified"], project.sequence),
        }
        ordered = sorted(
            self.by_name.values(), key=keys[sort_by], reverse=params.get("sortOrder") == "DESCENDING"
        )
        # The token is an offset into the ordered names.
        start = PAGING.position(params.get("nextToken"), "ListProjects", "", kind=int) or 0
        page, token = PAGING.page(
            enumerate(ordered[start:], start + 1),
            limit=PAGE_SIZE,
            operation="ListProjects",
            scope="",
            position_of=lambda numbered: numbered[0],
        )
        result: dict[str, Any] = {"projects": [project.name for _, project in page]}
        if token:
            result["nextToken"] = token
        return result

    def _check_role(self, role: str) -> None:
        """Refuse a service role CodeBuild could not assume."""
        if not self._host.role_assumable_by(role, "codebuild.amazonaws.com"):
            shown = (
                role
                if role.startswith("arn:")
                else f"arn:{self._partition}:iam::{self._host.account_id}:role/{role}"
            )
            raise ServiceError(
                "InvalidInputException", f"CodeBuild is not authorized to perform: sts:AssumeRole on {shown}"
            )


def _name_from(name_or_arn: str) -> str:
    """The project name in ``name_or_arn``: what follows ``:project/`` in a project ARN, else all of it."""
    if name_or_arn.startswith("arn:") and ":project/" in name_or_arn:
        return name_or_arn.rsplit(":project/", 1)[1]
    return name_or_arn


def _apply_source_and_artifact_defaults(data: dict[str, Any]) -> None:
    """Fill in what CodeBuild fills in and returns for sources and artifacts a request left out."""
    data["source"] = _source_with_defaults(data["source"])
    data["secondarySources"] = [_source_with_defaults(source) for source in data["secondarySources"]]
    data["artifacts"] = _artifacts_with_defaults(data["artifacts"], data["name"])
    data["secondaryArtifacts"] = [
        _artifacts_with_defaults(artifacts, None) for artifacts in data["secondaryArtifacts"]
    ]


def _environment_with_defaults(environment: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a project's ``environment`` with what CodeBuild fills in: an ``environmentVariables`` list
    (each ``type`` PLAINTEXT unless given), ``privilegedMode`` false and ``imagePullCredentialsType``
    CODEBUILD.
    """
    result = dict(environment)
    result["environmentVariables"] = [
        {"name": variable["name"], "value": variable["value"], "type": variable.get("type", "PLAINTEXT")}
        for variable in environment.get("environmentVariables", ())
    ]
    result.setdefault("privilegedMode", False)
    result.setdefault("imagePullCredentialsType", "CODEBUILD")
    return result


def _source_with_defaults(source: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a project source with ``insecureSsl`` false unless given."""
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
