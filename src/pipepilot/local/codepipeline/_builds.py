"""CodeBuild actions: a build in the region's CodeBuild engine, and the action's end when it completes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pipepilot.local._arns import partition_of
from pipepilot.local._errors import ServiceError
from pipepilot.local.codepipeline._part import Part
from pipepilot.local.codepipeline._state import (
    FAILED,
    SUCCEEDED,
    ActionRun,
)

if TYPE_CHECKING:
    from collections.abc import Mapping


class BuildActions(Part):
    """Runs CodeBuild actions through the World's CodeBuild engines."""

    def start(self, run: ActionRun) -> None:
        """Start the CodeBuild build of a CodeBuild action run (failing the run when CodeBuild refuses it)."""
        action = run.action
        config = run.resolved_configuration
        region = action.region or self.region
        try:
            environment = _environment_variables(config.get("EnvironmentVariables"))
        except ValueError as exc:
            message = f"Invalid EnvironmentVariables configuration: {exc}"
            run.timer = self.later(
                0, lambda: self._rt.actions.finish(run, FAILED, error=("ConfigurationError", message))
            )
            return
        primary = config.get("PrimarySource") or (
            action.input_artifacts[0] if action.input_artifacts else None
        )
        source_version = None
        for artifact in run.input_artifacts:
            if artifact.name == primary:
                source_version = f"arn:{partition_of(region)}:s3:::{artifact.bucket}/{artifact.key}"
        try:
            build = self.world.codebuild(region).start_pipeline_build(
                config.get("ProjectName", ""),
                pipeline_name=run.execution.pipeline.name,
                source_version=source_version,
                environment_variables_override=environment,
                output_artifacts=[
                    {"name": a.name, "bucket": a.bucket, "key": a.key} for a in run.output_artifacts
                ],
                artifact_kms_key_id=self._rt.actions.artifact_kms_key(run),
                # CodeBuild calls back from its own timer: run it as engine work like any other.
                on_complete=lambda build: self.serve(lambda: self.done(run, build)),
            )
        except ServiceError as err:
            message = (
                f"Error calling startBuild: {err.message} (Service: AWSCodeBuild; Status Code: {err.status}; "
                f"Error Code: {err.code}; Request ID: {self.world.new_uuid()}; Proxy: null)"
            )
            run.timer = self.later(
                0, lambda: self._rt.actions.finish(run, FAILED, error=("JobFailed", message))
            )
            return
        build_id = str(build.get("id", ""))
        if run.external_id is None:
            run.external_id = build_id
        run.external_url = (
            f"https://console.aws.amazon.com/codebuild/home?region={region}#/builds/{build_id}/view/new"
        )

    def done(self, run: ActionRun, build: Mapping[str, Any]) -> None:
        """End a CodeBuild action run with its build's outcome and exported variables."""
        status = str(build.get("buildStatus", "FAILED"))
        run.external_id = str(build.get("id") or run.external_id or "")
        if status == "SUCCEEDED":
            variables = {
                str(v["name"]): str(v.get("value", ""))
                for v in build.get("exportedEnvironmentVariables") or ()
            }
            self._rt.actions.finish(run, SUCCEEDED, output_variables=variables)
        else:
            self._rt.actions.finish(
                run, FAILED, error=("JobFailed", f"Build terminated with state: {status}")
            )


def _environment_variables(raw: str | None) -> list[dict[str, str]]:
    """The action's ``EnvironmentVariables`` JSON text as CodeBuild ``environmentVariables`` (none when empty,
    ``type`` PLAINTEXT unless given); ValueError says what is malformed.
    """
    if not raw:
        return []
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(parsed, list):
        raise ValueError("expected a JSON array")
    variables: list[dict[str, str]] = []
    for item in parsed:
        if not isinstance(item, dict) or "name" not in item:
            raise ValueError("each entry needs a name")
        variables.append(
            {
                "name": str(item["name"]),
                "value": str(item.get("value", "")),
                "type": str(item.get("type", "PLAINTEXT")),
            }
        )
    return variables
