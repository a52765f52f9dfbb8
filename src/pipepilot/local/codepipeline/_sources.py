"""Source actions: revisions shaped like the provider's, their output variables and archives."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipepilot.local._artifacts import generated_archive
from pipepilot.local.codepipeline._events import iso_time
from pipepilot.local.codepipeline._part import Part
from pipepilot.local.codepipeline._state import (
    FAILED,
    IN_PROGRESS,
    SUCCEEDED,
    ActionDef,
    ActionRun,
    Execution,
    PipelineRecord,
    Revision,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipepilot.local.codepipeline._host import ActionScriptView

_GIT_PROVIDERS = frozenset({"CodeCommit", "CodeStarSourceConnection", "GitHub", "Bitbucket", "GitLab"})


class Sources(Part):
    """The revisions source actions pick up, and how a source action ends."""

    def new_revision(
        self,
        action: ActionDef,
        *,
        revision_id: str | None = None,
        summary: str | None = None,
        branch: str | None = None,
    ) -> Revision:
        """A revision for a source action: the given id or a fake one shaped like the provider's."""
        provider = action.provider
        if revision_id is None:
            if provider == "ECR":
                revision_id = "sha256:" + self.hex_id(64)
            elif provider == "S3":
                revision_id = self.hex_id(32)
            else:
                revision_id = self.hex_id(40)
        change_id = revision_id if provider in _GIT_PROVIDERS or provider == "ECR" else self.hex_id(32)
        branch = branch or action.configuration.get("BranchName")
        return Revision(
            revision_id=revision_id,
            change_id=change_id[:100],
            summary=summary if summary is not None else f"pipepilot offline revision {revision_id[:7]}",
            created=self.now(),
            branch=branch if provider in _GIT_PROVIDERS else None,
            url=self.revision_url(action, revision_id),
        )

    def head(self, pipeline: PipelineRecord, action: ActionDef) -> Revision:
        """The newest known revision of a source action (invented on first use)."""
        revision = pipeline.source_heads.get(action.name)
        if revision is None:
            revision = pipeline.source_heads[action.name] = self.new_revision(action)
        return revision

    def finish(self, run: ActionRun, script: ActionScriptView | None = None) -> None:
        """End a source action run with its revision: output variables, artifact revisions, the archive."""
        if run.status != IN_PROGRESS:
            return
        execution = run.execution
        revision = execution.revisions.get(run.action.name) or self.head(execution.pipeline, run.action)
        run.revision = revision
        outputs = self.outputs(run.action, revision, execution)
        if script is not None and script.output_variables:
            outputs.update(script.output_variables)
        failure = self._rt.actions.store_outputs(run, self.output_content(run, revision))
        if failure is not None:
            self._rt.actions.finish(run, FAILED, error=failure)
            return
        execution.artifact_revisions += tuple(
            (artifact, revision) for artifact in run.action.output_artifacts
        )
        run.external_url = revision.url
        self._rt.actions.finish(
            run,
            SUCCEEDED,
            summary=(script.summary if script and script.summary else revision.summary),
            external_id=(script.external_execution_id if script else None) or revision.revision_id,
            output_variables=outputs,
        )

    def outputs(self, action: ActionDef, revision: Revision, execution: Execution) -> dict[str, str]:
        """The output variables a source action publishes for ``revision``."""
        config = action.configuration
        created = iso_time(revision.created)
        provider = action.provider
        if provider == "CodeCommit":
            return {
                "AuthorDate": created,
                "BranchName": revision.branch or config.get("BranchName", ""),
                "CommitId": revision.revision_id,
                "CommitMessage": revision.summary or "",
                "CommitterDate": created,
                "RepositoryName": config.get("RepositoryName", ""),
            }
        if provider in ("CodeStarSourceConnection", "GitHub", "Bitbucket", "GitLab"):
            outputs = {
                "AuthorDate": created,
                "BranchName": revision.branch or config.get("BranchName", ""),
                "CommitId": revision.revision_id,
                "CommitMessage": revision.summary or "",
            }
            if provider == "CodeStarSourceConnection":
                outputs["ConnectionArn"] = config.get("ConnectionArn", "")
                outputs["FullRepositoryName"] = config.get("FullRepositoryId", "")
            else:
                outputs["CommitterDate"] = created
                outputs["CommitUrl"] = revision.url or ""
                outputs["RepositoryName"] = config.get("Repo", "")
            return outputs
        if provider == "S3":
            return {"ETag": revision.change_id, "VersionId": revision.revision_id}
        if provider == "ECR":
            repository = config.get("RepositoryName", "")
            tag = config.get("ImageTag", "latest")
            registry = self.world.account_id
            return {
                "ImageDigest": revision.revision_id,
                "ImageTag": tag,
                "ImageURI": f"{registry}.dkr.ecr.{self.region}.amazonaws.com/{repository}:{tag}",
                "RegistryId": registry,
                "RepositoryName": repository,
            }
        return {}

    def output_content(self, run: ActionRun, revision: Revision) -> Callable[[str], bytes]:
        """A source action's output: the S3 source object itself, else an archive naming the revision."""
        action = run.action
        config = run.resolved_configuration
        if action.provider == "S3" and config.get("S3Bucket") and config.get("S3ObjectKey"):
            found = self.world.read_object(config["S3Bucket"], config["S3ObjectKey"])
            if found is not None:
                return lambda artifact: found
        repository = config.get("FullRepositoryId") or config.get("RepositoryName") or config.get("Repo")
        title = f"# {repository or action.provider} at {revision.revision_id}"
        details = {
            "provider": action.provider,
            "repository": repository,
            "branch": revision.branch,
            "revisionId": revision.revision_id,
            "revisionSummary": revision.summary,
            "revisionUrl": revision.url,
        }
        archive = generated_archive(title, details)
        return lambda artifact: archive

    def revision_url(self, action: ActionDef, revision_id: str) -> str | None:
        """The provider's web page of a revision, where one exists."""
        config = action.configuration
        if action.provider == "CodeCommit" and "RepositoryName" in config:
            return (
                f"https://{self.region}.console.aws.amazon.com/codesuite/codecommit/repositories/"
                f"{config['RepositoryName']}/commit/{revision_id}?region={self.region}"
            )
        repository = config.get("FullRepositoryId")
        if repository is None and "Owner" in config and "Repo" in config:
            repository = f"{config['Owner']}/{config['Repo']}"
        if repository is not None and action.provider in _GIT_PROVIDERS:
            return f"https://github.com/{repository}/commit/{revision_id}"
        return None
