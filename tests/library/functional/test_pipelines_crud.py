"""Pipeline CRUD and tags through the CodePipeline facade, against moto's mocked AWS.

moto answers real boto3 clients, so every call here goes through pipepilot's seam (error translation,
retries) exactly as it would against AWS.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from pipepilot._calls import RetryPolicy, default_session
from pipepilot.errors import (
    InvalidRequestError,
    InvalidStructureError,
    PipelineNameInUseError,
    PipelineNotFoundError,
    PipelineRenameError,
    PipelineValidationError,
    VersionConflictError,
)
from pipepilot.model.declaration import PipelineDeclaration
from pipepilot.model.summaries import PipelineSummary
from pipepilot.pipelines import CodePipeline, Pipeline

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "us-east-1"
ROLE_NAME = "pipeline-role"
ARTIFACT_BUCKET = "artifacts-bucket"
TRUST_CODEPIPELINE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codepipeline.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _wire_declaration(name: str, role_arn: str) -> dict[str, Any]:
    return {
        "name": name,
        "roleArn": role_arn,
        "artifactStore": {"type": "S3", "location": ARTIFACT_BUCKET},
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": "Source",
                        "actionTypeId": {
                            "category": "Source",
                            "owner": "AWS",
                            "provider": "S3",
                            "version": "1",
                        },
                        "configuration": {"S3Bucket": "src-bucket", "S3ObjectKey": "app.zip"},
                        "outputArtifacts": [{"name": "src"}],
                        "inputArtifacts": [],
                        "runOrder": 1,
                    }
                ],
            },
            {
                "name": "Deploy",
                "actions": [
                    {
                        "name": "Deploy",
                        "actionTypeId": {
                            "category": "Deploy",
                            "owner": "AWS",
                            "provider": "S3",
                            "version": "1",
                        },
                        "configuration": {"BucketName": "site-bucket", "Extract": "true"},
                        "inputArtifacts": [{"name": "src"}],
                        "outputArtifacts": [],
                        "runOrder": 1,
                    }
                ],
            },
        ],
    }


@pytest.fixture
def aws() -> Iterator[str]:
    """moto's AWS with an S3 artifact bucket and a role CodePipeline may assume; yields the role ARN."""
    with mock_aws():
        # The session facades use too (boto3's default one, made by pipepilot on the process's model
        # loader): a plain boto3.client() here would parse the S3 and IAM models again for every test.
        session = default_session()
        session.client("s3", region_name=REGION).create_bucket(Bucket=ARTIFACT_BUCKET)
        role = session.client("iam", region_name=REGION).create_role(
            RoleName=ROLE_NAME, AssumeRolePolicyDocument=TRUST_CODEPIPELINE
        )
        yield role["Role"]["Arn"]


@pytest.fixture
def role_arn(aws: str) -> str:
    return aws


@pytest.fixture
def cp(aws: str) -> CodePipeline:
    """A facade that will build its own client (on first use) inside the mock."""
    return CodePipeline(region_name=REGION)


@pytest.fixture
def declaration(role_arn: str) -> PipelineDeclaration:
    return PipelineDeclaration.from_api(_wire_declaration("web", role_arn))


def _count_calls(cp: CodePipeline) -> list[str]:
    """Record the API name of every request the facade's client makes."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    cp.client.meta.events.register("before-call.codepipeline", record)
    return calls


def _deploy_bucket(declaration: PipelineDeclaration) -> str:
    return declaration.stage("Deploy").action("Deploy").configuration["BucketName"]  # type: ignore[index]


def _with_deploy_bucket(declaration: PipelineDeclaration, bucket: str) -> PipelineDeclaration:
    return declaration.map_action(
        "Deploy", "Deploy", lambda action: action.with_configuration(BucketName=bucket)
    )


# ------------------------------------------------------------------------------------------------ create


def test_create_then_read_back(cp: CodePipeline, declaration: PipelineDeclaration) -> None:
    """A created pipeline reads back as the declaration sent, at version 1, with its metadata."""
    pipeline = cp.create_pipeline(declaration)
    assert pipeline == cp.pipeline("web")
    stored = pipeline.declaration()
    assert stored.version == 1
    assert stored.evolve(version=None) == declaration
    document = pipeline.document()
    assert document.metadata is not None
    assert document.metadata.pipeline_arn == f"arn:aws:codepipeline:{REGION}:123456789012:web"
    assert isinstance(document.metadata.created, datetime)
    assert pipeline.arn() == document.metadata.pipeline_arn


def test_create_with_tags(cp: CodePipeline, declaration: PipelineDeclaration) -> None:
    """Tags given at creation are on the pipeline."""
    pipeline = cp.create_pipeline(declaration, tags={"team": "web", "env": "prod"})
    assert pipeline.tags() == {"team": "web", "env": "prod"}


def test_local_validation_blocks_a_bad_create_before_any_call(cp: CodePipeline, role_arn: str) -> None:
    """An invalid declaration raises PipelineValidationError listing its problems; no client is even made."""
    wire = _wire_declaration("web", role_arn)
    wire["stages"] = wire["stages"][:1]
    wire["stages"][0]["actions"][0]["outputArtifacts"] = [{"name": "has space"}]
    bad = PipelineDeclaration.from_api(wire)
    with pytest.raises(PipelineValidationError) as info:
        cp.create_pipeline(bad)
    assert len(info.value.problems) >= 2
    assert cp._calls.client_if_created is None
    assert list(cp.pipelines()) == []


def test_validate_false_sends_the_declaration_as_is(cp: CodePipeline, role_arn: str) -> None:
    """With validate=False the service is the judge: moto refuses a one-stage pipeline."""
    wire = _wire_declaration("web", role_arn)
    wire["stages"] = wire["stages"][:1]
    with pytest.raises(InvalidStructureError):
        cp.create_pipeline(PipelineDeclaration.from_api(wire), validate=False)


def test_creating_a_name_in_use_is_refused(cp: CodePipeline, declaration: PipelineDeclaration) -> None:
    """A second pipeline with the same name is refused, once, not retried (moto: InvalidStructure; AWS: NameInUse)."""
    cp.create_pipeline(declaration)
    calls = _count_calls(cp)
    with pytest.raises((PipelineNameInUseError, InvalidStructureError)):
        cp.create_pipeline(declaration)
    assert calls == ["CreatePipeline"]


def test_create_waits_out_iam_propagation_of_a_new_role(aws: str) -> None:
    """CreatePipeline refused because the new role is not assumable yet is retried until the role works.

    The role "propagates" (is created in moto's IAM) during the second back-off sleep; the third attempt
    succeeds. Sleeps run on a fake clock, so the test takes no real time.
    """
    iam = boto3.client("iam", region_name=REGION)
    late_role = "arn:aws:iam::123456789012:role/just-created"
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds
        if len(sleeps) == 2:
            iam.create_role(RoleName="just-created", AssumeRolePolicyDocument=TRUST_CODEPIPELINE)

    cp = CodePipeline(
        region_name=REGION, retry=RetryPolicy(max_attempts=2), clock=lambda: now[0], sleep=sleep
    )
    calls = _count_calls(cp)
    pipeline = cp.create_pipeline(PipelineDeclaration.from_api(_wire_declaration("web", late_role)))
    assert calls == ["CreatePipeline"] * 3
    assert len(sleeps) == 2
    assert pipeline.declaration().role_arn == late_role


def test_create_gives_up_on_a_role_that_never_becomes_assumable(aws: str) -> None:
    """A role CodePipeline can never assume surfaces as InvalidStructureError at the policy's deadline."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    cp = CodePipeline(region_name=REGION, retry=RetryPolicy(deadline=30.0), clock=lambda: now[0], sleep=sleep)
    missing_role = "arn:aws:iam::123456789012:role/never-created"
    with pytest.raises(InvalidStructureError, match="AssumeRole"):
        cp.create_pipeline(PipelineDeclaration.from_api(_wire_declaration("web", missing_role)))
    assert 0 < now[0] <= 30.0


# -------------------------------------------------------------------------------------------------- list


def test_pipelines_lists_typed_summaries_lazily(cp: CodePipeline, declaration: PipelineDeclaration) -> None:
    """pipelines() is a lazy iterator of PipelineSummary: no call until iterated."""
    cp.create_pipeline(declaration)
    cp.create_pipeline(declaration.evolve(name="api"))
    calls = _count_calls(cp)
    listing = cp.pipelines()
    assert calls == []
    summaries = list(listing)
    assert calls == ["ListPipelines"]
    assert [s.name for s in summaries] == ["api", "web"]
    assert all(isinstance(s, PipelineSummary) for s in summaries)
    assert summaries[0].version == 1
    assert isinstance(summaries[0].created, datetime)


def test_summary_keeps_values_and_members_aws_adds_later() -> None:
    """PipelineSummary tolerates an unknown pipeline type and keeps unknown members in ``extra``."""
    summary = PipelineSummary.from_api(
        {
            "name": "web",
            "version": 3,
            "pipelineType": "V3",
            "executionMode": "QUEUED",
            "created": 0,
            "owner": "x",
        }
    )
    assert summary.pipeline_type == "V3"
    assert summary.execution_mode == "QUEUED"
    assert summary.created is not None
    assert summary.created.timestamp() == 0
    assert summary.extra == {"owner": "x"}
    assert summary.to_api() == {
        "name": "web",
        "version": 3,
        "pipelineType": "V3",
        "executionMode": "QUEUED",
        "created": 0,  # written back as AWS sent it
        "owner": "x",
    }
    with pytest.raises(InvalidRequestError):
        PipelineSummary.from_api([])  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ handle


def test_a_handle_makes_no_call_until_used(cp: CodePipeline) -> None:
    """cp.pipeline(name) neither creates the client nor calls AWS; its repr shows the name."""
    pipeline = cp.pipeline("web")
    assert cp._calls.client_if_created is None
    assert repr(pipeline) == "Pipeline(name='web')"
    assert isinstance(pipeline, Pipeline)
    assert pipeline.name == "web"
    assert "not created" in repr(cp)


def test_reading_a_missing_pipeline_is_not_found(cp: CodePipeline) -> None:
    """A handle on a pipeline that does not exist fails with PipelineNotFoundError when used."""
    with pytest.raises(PipelineNotFoundError):
        cp.pipeline("nope").declaration()


def test_a_handle_needs_a_name(cp: CodePipeline) -> None:
    """An empty name is refused at once."""
    with pytest.raises(InvalidRequestError):
        cp.pipeline("")


# ------------------------------------------------------------------------------------------------ update


def test_update_bumps_the_version_and_stores_the_change(
    cp: CodePipeline, declaration: PipelineDeclaration
) -> None:
    """update() returns the stored declaration at version 2, and a later read sees the change."""
    pipeline = cp.create_pipeline(declaration)
    current = pipeline.declaration()
    updated = pipeline.update(_with_deploy_bucket(current, "new-site"), expected_version=current.version)
    assert updated.version == 2
    assert _deploy_bucket(updated) == "new-site"
    assert _deploy_bucket(pipeline.declaration()) == "new-site"


def test_update_with_a_stale_version_is_a_conflict_and_changes_nothing(
    cp: CodePipeline, declaration: PipelineDeclaration
) -> None:
    """Optimistic concurrency: an edit based on version 1 is refused once someone moved it to version 2."""
    pipeline = cp.create_pipeline(declaration)
    mine = pipeline.declaration()
    pipeline.update(_with_deploy_bucket(mine, "someone-else"))
    calls = _count_calls(cp)
    with pytest.raises(VersionConflictError) as info:
        pipeline.update(_with_deploy_bucket(mine, "mine"), expected_version=mine.version)
    assert (info.value.expected_version, info.value.actual_version) == (1, 2)
    assert info.value.pipeline_name == "web"
    assert calls == ["GetPipeline"]
    after = pipeline.declaration()
    assert after.version == 2
    assert _deploy_bucket(after) == "someone-else"


def test_update_cannot_rename(cp: CodePipeline, declaration: PipelineDeclaration) -> None:
    """A declaration with another name is refused before any call: CodePipeline cannot rename."""
    pipeline = cp.create_pipeline(declaration)
    calls = _count_calls(cp)
    with pytest.raises(PipelineRenameError) as info:
        pipeline.update(declaration.evolve(name="web-2"))
    assert (info.value.name, info.value.new_name) == ("web", "web-2")
    assert calls == []


def test_update_validates_locally_first(cp: CodePipeline, declaration: PipelineDeclaration) -> None:
    """An invalid update raises PipelineValidationError and sends nothing."""
    pipeline = cp.create_pipeline(declaration)
    calls = _count_calls(cp)
    broken = declaration.without_stage("Deploy")
    with pytest.raises(PipelineValidationError):
        pipeline.update(broken)
    assert calls == []
    assert pipeline.declaration().stage_names == ("Source", "Deploy")


def test_update_with_validate_false_sends_the_declaration_as_is(
    cp: CodePipeline, declaration: PipelineDeclaration
) -> None:
    """With validate=False a declaration local validation refuses is sent, and the service judges it."""
    pipeline = cp.create_pipeline(declaration)
    timed = pipeline.declaration().map_action(
        "Deploy", "Deploy", lambda action: action.evolve(timeout_in_minutes=60)
    )
    assert [problem.code for problem in timed.problems()] == ["timeout-not-allowed"]
    calls = _count_calls(cp)
    stored = pipeline.update(timed, validate=False)
    assert calls == ["UpdatePipeline"]
    assert stored.action("Deploy", "Deploy").timeout_in_minutes == 60


def test_updating_a_missing_pipeline_is_not_found(cp: CodePipeline, declaration: PipelineDeclaration) -> None:
    """UpdatePipeline's generic not-found answer is raised as PipelineNotFoundError."""
    with pytest.raises(PipelineNotFoundError):
        cp.pipeline("web").update(declaration)


# ------------------------------------------------------------------------------------------------ delete


def test_delete_removes_the_pipeline(cp: CodePipeline, declaration: PipelineDeclaration) -> None:
    """After delete() the pipeline is gone from reads and listings; deleting again is harmless."""
    pipeline = cp.create_pipeline(declaration)
    pipeline.delete()
    with pytest.raises(PipelineNotFoundError):
        pipeline.declaration()
    assert list(cp.pipelines()) == []
    pipeline.delete()


# -------------------------------------------------------------------------------------------------- tags


def test_tag_and_untag(cp: CodePipeline, declaration: PipelineDeclaration) -> None:
    """tag() adds or overwrites (mapping or keywords), untag() removes; no-ops make no call."""
    pipeline = cp.create_pipeline(declaration, tags={"team": "web"})
    pipeline.tag({"env": "prod"}, team="platform")
    assert pipeline.tags() == {"team": "platform", "env": "prod"}
    pipeline.untag("team", "not-there")
    assert pipeline.tags() == {"env": "prod"}
    calls = _count_calls(cp)
    pipeline.tag()
    pipeline.untag()
    assert calls == []


def test_tags_of_a_missing_pipeline_is_not_found(cp: CodePipeline) -> None:
    """Tag operations on a missing pipeline fail as PipelineNotFoundError (the ARN comes from GetPipeline)."""
    with pytest.raises(PipelineNotFoundError):
        cp.pipeline("nope").tags()


def test_an_injected_client_is_used_as_is(aws: str, declaration: PipelineDeclaration) -> None:
    """CodePipeline(client) uses that client; cp.client exposes it."""
    client = boto3.client("codepipeline", region_name=REGION)
    cp = CodePipeline(client)
    assert cp.client is client
    cp.create_pipeline(declaration)
    assert [
        s.name for s in CodePipeline.from_session(boto3.session.Session(), region_name=REGION).pipelines()
    ] == ["web"]


@pytest.mark.usefixtures("fake_credentials")  # the client is made outside offline()
def test_client_and_client_options_together_are_refused() -> None:
    """Passing a client and options to build another is ambiguous, so it is a TypeError."""
    client = boto3.client("codepipeline", region_name=REGION)
    with pytest.raises(TypeError):
        CodePipeline(client, region_name="eu-west-1")
