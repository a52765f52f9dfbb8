"""Action runs: start each the way its kind runs, store its outputs, finish or abandon it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipepilot.local._artifacts import artifact_key, generated_archive, missing_bucket_message
from pipepilot.local.codepipeline._events import EVENT_STATE
from pipepilot.local.codepipeline._part import Part
from pipepilot.local.codepipeline._state import (
    ABANDONED,
    FAILED,
    IN_PROGRESS,
    KIND_APPROVAL,
    KIND_CODEBUILD,
    KIND_CUSTOM,
    KIND_LAMBDA,
    KIND_SOURCE,
    SUCCEEDED,
    ActionDef,
    ActionRun,
    Artifact,
    Execution,
    StageRun,
    resolve_text,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pipepilot.local.codepipeline._host import ActionScriptView

#: Seconds an unscripted action takes when the World's ``default_durations`` has no entry for it.
FALLBACK_DURATIONS = {
    "Source": 2.0,
    "Build": 120.0,
    "Test": 120.0,
    "Deploy": 120.0,
    "Invoke": 30.0,
    "Approval": 0.0,
    "Compute": 60.0,
}
_DEFAULT_FALLBACK = 60.0
#: ``summary`` of a deploy action that succeeded unscripted, for providers whose summary AWS documents.
_DEPLOY_SUMMARIES = {"CodeDeploy": "Deployment Succeeded", "CodeDeployToECS": "Deployment Succeeded"}


class Actions(Part):
    """Starts and ends the action runs of one engine."""

    def start(self, stage_run: StageRun, action: ActionDef) -> None:
        """Create a run of ``action`` and start it the way its kind runs (script, approval, job, build...)."""
        execution = stage_run.execution
        pipeline = execution.pipeline
        now = self.now()
        lookup = self.variable_lookup(execution)
        resolved: dict[str, str] = {}
        missing: list[str] = []
        for key, value in action.configuration.items():
            resolved[key], unresolved = resolve_text(value, lookup)
            missing.extend(unresolved)
        if all(resolved[key] is value for key, value in action.configuration.items()):
            resolved = action.configuration  # nothing to resolve: share the (never mutated) declaration's
        run = ActionRun(
            id=self.world.new_uuid(),
            execution=execution,
            stage_run=stage_run,
            action=action,
            status=IN_PROGRESS,
            start=now,
            last_change=now,
            resolved_configuration=resolved,
            # The artifact an earlier action wrote is shared, not copied (the same name, the same place).
            input_artifacts=tuple(
                execution.artifacts.get(name) or self.artifact_location(execution, action, name)
                for name in action.input_artifacts
            ),
            output_artifacts=tuple(
                self.artifact_location(execution, action, name) for name in action.output_artifacts
            ),
        )
        stage_run.current[action.name] = run
        stage_run.slot.action_latest[action.name] = run
        execution.action_runs.append(run)
        pipeline.action_history.append(run)
        execution.last_update = now
        self._rt.events.action(run, "STARTED")
        if missing:
            message = "Unable to resolve the variable(s) " + ", ".join(f"#{{{m}}}" for m in missing)
            run.timer = self.later(0, lambda: self.finish(run, FAILED, error=("ConfigurationError", message)))
            return
        script = self.world.scripts.action_outcome(pipeline.name, action.stage, action.name)
        kind = action.kind
        if kind == KIND_APPROVAL:
            self._rt.approvals.start(run, script)
        elif script is not None:
            run.external_url = self.deploy_url(action, None, resolved)
            run.timer = self.later(self.duration(action, script), lambda: self.finish_scripted(run, script))
        elif kind == KIND_SOURCE:
            run.timer = self.later(self.duration(action, None), lambda: self._rt.sources.finish(run))
        elif kind == KIND_LAMBDA:
            self._rt.jobs.new(run, lambda_function=resolved.get("FunctionName", ""))
        elif kind == KIND_CODEBUILD:
            self._rt.builds.start(run)
        elif kind == KIND_CUSTOM:
            self._rt.jobs.new(run, lambda_function=None)
        else:
            if action.provider == "CodeDeploy" or action.provider == "CodeDeployToECS":
                run.external_id = "d-" + self.hex_id(9).upper()
            run.external_url = self.deploy_url(action, run.external_id, resolved)
            run.timer = self.later(self.duration(action, None), lambda: self.finish_scripted(run, None))

    def duration(self, action: ActionDef, script: ActionScriptView | None) -> float:
        """Seconds an action takes: its script's, the World's default for it, or the category's fallback."""
        if script is not None and script.duration is not None:
            return float(script.duration)
        durations = self.world.default_durations
        for key in (f"{action.category}:{action.provider}", action.provider, action.category, "default"):
            if key in durations:
                return float(durations[key])
        return FALLBACK_DURATIONS.get(action.category, _DEFAULT_FALLBACK)

    def deploy_url(self, action: ActionDef, external_id: str | None, config: Mapping[str, str]) -> str | None:
        """The console page of what a deploy action does (its ``externalExecutionUrl``), where one exists."""
        if action.category != "Deploy":
            return None
        region = action.region or self.region
        provider = action.provider
        if provider in ("CodeDeploy", "CodeDeployToECS") and external_id:
            return (
                f"https://console.aws.amazon.com/codedeploy/home?region={region}#/deployments/{external_id}"
            )
        if provider == "CloudFormation" and config.get("StackName"):
            return (
                f"https://console.aws.amazon.com/cloudformation/home?region={region}"
                f"#/stacks/stackinfo?stackId={config['StackName']}"
            )
        if provider == "ECS" and config.get("ClusterName") and config.get("ServiceName"):
            return (
                f"https://console.aws.amazon.com/ecs/v2/clusters/{config['ClusterName']}/services/"
                f"{config['ServiceName']}/deployments?region={region}"
            )
        if provider == "S3" and config.get("BucketName"):
            return f"https://s3.console.aws.amazon.com/s3/buckets/{config['BucketName']}?region={region}"
        return None

    def finish_scripted(self, run: ActionRun, script: ActionScriptView | None) -> None:
        """End a scripted or timed action run with its outcome, storing its output artifacts."""
        if script is not None and script.outcome != SUCCEEDED:
            self.finish(
                run,
                FAILED,
                summary=script.summary,
                error=(script.error_code or "JobFailed", script.error_message or "Action failed (scripted)"),
                external_id=script.external_execution_id,
            )
            return
        if run.action.kind == KIND_SOURCE:
            self._rt.sources.finish(run, script)
            return
        external_id = script.external_execution_id if script else None
        if external_id is not None:
            run.external_id = external_id
            # A scripted deployment id links to its deployment, as an unscripted one does.
            run.external_url = self.deploy_url(run.action, external_id, run.resolved_configuration)
        failure = self.store_outputs(run, self.generated_output(run))
        if failure is not None:
            self.finish(run, FAILED, error=failure)
            return
        self.finish(
            run,
            SUCCEEDED,
            summary=(script.summary if script else None) or _DEPLOY_SUMMARIES.get(run.action.provider),
            external_id=external_id,
            output_variables=script.output_variables if script else None,
        )

    def finish(
        self,
        run: ActionRun,
        status: str,
        *,
        summary: str | None = None,
        error: tuple[str, str] | None = None,
        external_id: str | None = None,
        output_variables: Mapping[str, str] | None = None,
        updated_by: str | None = None,
    ) -> None:
        """End an action run with ``status`` and let its stage move on."""
        if run.status != IN_PROGRESS or run.execution.pipeline.deleted:
            return
        execution = run.execution
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        if run.token_state == "pending":
            run.token_state = "void"
        now = self.now()
        run.status = status
        run.last_change = now
        if summary is not None:
            run.summary = summary
        if external_id is not None:
            run.external_id = external_id
        if updated_by is not None:
            run.updated_by = updated_by
        if error is not None:
            run.error = error
        if status == SUCCEEDED:
            outputs = dict(output_variables or {})
            run.output_variables = outputs or None  # most actions publish none: no empty dict per run
            if run.revision is not None:
                execution.pipeline.source_current[run.action.name] = run.revision
            if run.action.namespace:
                execution.namespaces[run.action.namespace] = outputs
            for artifact in run.output_artifacts:
                execution.artifacts[artifact.name] = artifact
        execution.last_update = now
        self._rt.events.action(run, EVENT_STATE[status])
        self._rt.executions.after_action(run.stage_run)

    def abandon(self, run: ActionRun) -> None:
        """Abandon a running action: silence its timer and job and void its approval token."""
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        if run.job is not None:
            self._rt.jobs.end(run.job, FAILED)
        if run.token_state == "pending":
            run.token_state = "void"
        run.status = ABANDONED
        run.last_change = self.now()
        self._rt.events.action(run, "ABANDONED")

    def variable_lookup(self, execution: Execution) -> dict[str, dict[str, str]]:
        """Namespaces visible to ``#{...}`` references in this execution."""
        lookup = dict(execution.namespaces)
        lookup["variables"] = execution.variables
        lookup["codepipeline"] = {"PipelineExecutionId": execution.id}
        return lookup

    def artifact_location(self, execution: Execution, action: ActionDef, artifact: str) -> Artifact:
        """Artifact ``artifact`` of ``action`` in ``execution`` at a fresh artifact store location."""
        bucket = execution.structure.artifact_bucket(action.region or self.region)
        # One draw from the seeded ids, as ever: seeded runs keep every later id.
        randomness = int(self.world.new_uuid().replace("-", ""), 16)
        return Artifact(
            name=artifact, bucket=bucket, key=artifact_key(execution.pipeline.name, artifact, randomness)
        )

    def artifact_kms_key(self, run: ActionRun) -> str | None:
        """The KMS key id the artifact store of the run's region encrypts with, if any."""
        key = run.execution.structure.encryption_key(run.action.region or self.region)
        return str(key["id"]) if key and key.get("id") else None

    def store_outputs(self, run: ActionRun, content: Callable[[str], bytes]) -> tuple[str, str] | None:
        """Write each output artifact of ``run`` (``content(name)``) to the artifact store.

        Returns the error to fail the action with when the store's bucket does not exist, else None.
        """
        kms_key_id = self.artifact_kms_key(run)
        for artifact in run.output_artifacts:
            body = content(artifact.name)
            if not self.world.write_object(artifact.bucket, artifact.key, body, kms_key_id=kms_key_id):
                return ("JobFailed", missing_bucket_message(artifact.name, artifact.bucket))
        return None

    def generated_output(self, run: ActionRun) -> Callable[[str], bytes]:
        """Stand-in content for the outputs of an action that produces no files of its own offline."""
        action, execution = run.action, run.execution

        def content(artifact: str) -> bytes:
            """The stand-in archive for output artifact ``artifact``: a README and ``revision.json`` naming
            the pipeline, execution, stage, action and artifact.
            """
            return generated_archive(
                f"# {artifact}\n\nOutput artifact of action {action.stage}/{action.name} "
                f"({action.category}/{action.provider}) in pipeline {execution.pipeline.name}.",
                {
                    "pipelineName": execution.pipeline.name,
                    "pipelineExecutionId": execution.id,
                    "stageName": action.stage,
                    "actionName": action.name,
                    "artifactName": artifact,
                    "externalExecutionId": run.external_id,
                },
            )

        return content
