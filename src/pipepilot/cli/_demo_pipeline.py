"""The stage set of the release demo (``pipepilot demo``, ``examples/release.py``): what the story stands on.

``pipepilot.cli._demo`` tells the story; this module builds what the story stands on:

* :func:`release_declaration`: the pipeline, written with pipepilot's typed declaration model
  (Source on S3 -> Build on CodeBuild -> Staging on CloudFormation -> manual approval -> Prod);
* :func:`prepare_offline`: inside :func:`pipepilot.local.offline`, the IAM role, buckets and SNS topic live
  in moto and the CodeBuild project in pipepilot's engine, so nothing leaves the machine;
* :func:`prepare_live`, :func:`create_live` and :func:`clean_up_live`: on a real account
  (``pipepilot demo --live``), a check that none of the demo's names is taken, the resources the demo creates
  (a CodeBuild project, an SNS topic, the source bundle; CodePipeline then makes the two CloudFormation
  stacks and the artifacts), each named after one prefix, and their removal afterwards.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import zipfile
from typing import TYPE_CHECKING, Any

import attrs
from botocore.exceptions import ClientError

from pipepilot import PipelineDeclaration
from pipepilot.model import (
    ActionCategory,
    ActionDeclaration,
    ActionOwner,
    ActionTypeId,
    ArtifactStore,
    ArtifactStoreType,
    ExecutionMode,
    InputArtifact,
    OutputArtifact,
    PipelineType,
    StageDeclaration,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import boto3
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

__all__ = [
    "APPROVAL",
    "APPROVE_ACTION",
    "BUILD",
    "BUILD_ACTION",
    "PROD",
    "PROD_ACTION",
    "SOURCE",
    "STAGING",
    "STAGING_ACTION",
    "DemoNames",
    "DemoResources",
    "LiveSetupError",
    "clean_up_live",
    "create_live",
    "prepare_live",
    "prepare_offline",
    "release_declaration",
]

logger = logging.getLogger(__name__)

# The names the story refers to: stages, and the action in each that matters to it.
SOURCE = "Source"
BUILD, BUILD_ACTION = "Build", "Compile"
STAGING, STAGING_ACTION = "Staging", "DeployStaging"
APPROVAL, APPROVE_ACTION = "Approval", "ApproveRelease"
PROD, PROD_ACTION = "Prod", "DeployProd"

# The deployed application: a stack with one resource that costs nothing and needs no permissions, so a
# live run deploys for real without deploying anything that matters.
TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: pipepilot release demo (safe to delete)
Resources:
  ReleaseMarker:
    Type: AWS::CloudFormation::WaitConditionHandle
"""

# The build passes the template through; a real project would test and package here.
BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - echo "Building the pipepilot demo release"
      - cat template.yml
artifacts:
  files:
    - template.yml
"""


@attrs.frozen(kw_only=True)
class DemoNames:
    """Every name the demo gives a resource, derived from one prefix (so a live clean-up finds them all)."""

    prefix: str

    @property
    def pipeline(self) -> str:
        """The pipeline."""
        return self.prefix

    @property
    def project(self) -> str:
        """The CodeBuild project."""
        return f"{self.prefix}-build"

    @property
    def topic(self) -> str:
        """The SNS topic the approval notifies."""
        return f"{self.prefix}-approvals"

    @property
    def staging_stack(self) -> str:
        """The CloudFormation stack the Staging stage deploys."""
        return f"{self.prefix}-staging"

    @property
    def prod_stack(self) -> str:
        """The CloudFormation stack the Prod stage deploys."""
        return f"{self.prefix}-prod"

    @property
    def source_key(self) -> str:
        """The S3 key of the source bundle the Source stage reads."""
        return f"{self.prefix}/source.zip"


@attrs.frozen(kw_only=True)
class DemoResources:
    """What the pipeline declaration refers to: roles, the bucket and the approval topic."""

    names: DemoNames
    region: str
    bucket: str
    pipeline_role_arn: str
    build_role_arn: str
    deploy_role_arn: str
    topic_arn: str


# -------------------------------------------------------------------------------------------- declaration


def _action(
    name: str,
    category: ActionCategory,
    provider: str,
    configuration: dict[str, str],
    *,
    inputs: tuple[str, ...] = (),
    outputs: tuple[str, ...] = (),
) -> ActionDeclaration:
    return ActionDeclaration(
        name=name,
        action_type_id=ActionTypeId(category=category, owner=ActionOwner.AWS, provider=provider, version="1"),
        run_order=1,
        configuration=configuration,
        input_artifacts=tuple(InputArtifact(name=artifact) for artifact in inputs),
        output_artifacts=tuple(OutputArtifact(name=artifact) for artifact in outputs),
    )


def _deploy(name: str, stack: str, resources: DemoResources) -> ActionDeclaration:
    return _action(
        name,
        ActionCategory.DEPLOY,
        "CloudFormation",
        {
            "ActionMode": "CREATE_UPDATE",
            "StackName": stack,
            "TemplatePath": "BuildOutput::template.yml",
            "RoleArn": resources.deploy_role_arn,
        },
        inputs=("BuildOutput",),
    )


def release_declaration(resources: DemoResources) -> PipelineDeclaration:
    """The demo pipeline: Source (S3) -> Build (CodeBuild) -> Staging -> Approval (manual, SNS) -> Prod."""
    names = resources.names
    console = f"https://console.aws.amazon.com/cloudformation/home?region={resources.region}"
    stages = (
        StageDeclaration(
            name=SOURCE,
            actions=(
                _action(
                    "Source",
                    ActionCategory.SOURCE,
                    "S3",
                    # Releases are started on purpose (the story starts them), not by every upload.
                    {
                        "S3Bucket": resources.bucket,
                        "S3ObjectKey": names.source_key,
                        "PollForSourceChanges": "false",
                    },
                    outputs=("SourceOutput",),
                ),
            ),
        ),
        StageDeclaration(
            name=BUILD,
            actions=(
                _action(
                    BUILD_ACTION,
                    ActionCategory.BUILD,
                    "CodeBuild",
                    {"ProjectName": names.project},
                    inputs=("SourceOutput",),
                    outputs=("BuildOutput",),
                ),
            ),
        ),
        StageDeclaration(name=STAGING, actions=(_deploy(STAGING_ACTION, names.staging_stack, resources),)),
        StageDeclaration(
            name=APPROVAL,
            actions=(
                _action(
                    APPROVE_ACTION,
                    ActionCategory.APPROVAL,
                    "Manual",
                    {
                        "NotificationArn": resources.topic_arn,
                        "CustomData": "Check the staging stack before releasing to production.",
                        "ExternalEntityLink": f"{console}#/stacks?filteringText={names.staging_stack}",
                    },
                ),
            ),
        ),
        StageDeclaration(name=PROD, actions=(_deploy(PROD_ACTION, names.prod_stack, resources),)),
    )
    return PipelineDeclaration(
        name=names.pipeline,
        role_arn=resources.pipeline_role_arn,
        artifact_store=ArtifactStore(type=ArtifactStoreType.S3, location=resources.bucket),
        stages=stages,
        pipeline_type=PipelineType.V2,
        execution_mode=ExecutionMode.SUPERSEDED,
    )


# ------------------------------------------------------------------------------------------------ offline


def _trust_policy(*services: str) -> str:
    principals = [f"{service}.amazonaws.com" for service in services]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": principals}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def _create_project(session: boto3.session.Session, names: DemoNames, role_arn: str) -> None:
    session.client("codebuild").create_project(
        name=names.project,
        description="pipepilot release demo (safe to delete)",
        source={"type": "CODEPIPELINE", "buildspec": BUILDSPEC},
        artifacts={"type": "CODEPIPELINE"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=role_arn,
        timeoutInMinutes=15,
    )


def prepare_offline(session: boto3.session.Session, names: DemoNames) -> DemoResources:
    """Create the demo's resources inside :func:`pipepilot.local.offline` (moto and the CodeBuild engine).

    One role serves the pipeline, the build and the deployments; CodePipeline checks that it exists and
    trusts the service, as AWS does.
    """
    region = session.region_name
    role_arn = session.client("iam").create_role(
        RoleName=f"{names.prefix}-role",
        AssumeRolePolicyDocument=_trust_policy("codepipeline", "codebuild", "cloudformation"),
    )["Role"]["Arn"]
    bucket = f"{names.prefix}-artifacts"
    session.client("s3").create_bucket(Bucket=bucket)
    topic_arn = session.client("sns").create_topic(Name=names.topic)["TopicArn"]
    _create_project(session, names, role_arn)
    return DemoResources(
        names=names,
        region=region,
        bucket=bucket,
        pipeline_role_arn=role_arn,
        build_role_arn=role_arn,
        deploy_role_arn=role_arn,
        topic_arn=topic_arn,
    )


# --------------------------------------------------------------------------------------------------- live


class LiveSetupError(Exception):
    """The account is not ready for a live run (the message says what to change)."""


def _source_bundle() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("template.yml", TEMPLATE)
    return buffer.getvalue()


def _exists(read: Callable[[], object], *missing: str) -> bool:
    """Whether ``read()`` finds its resource: False when AWS answers with one of the ``missing`` codes."""
    try:
        read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in missing:
            return False
        raise
    return True


def prepare_live(
    session: boto3.session.Session,
    names: DemoNames,
    *,
    bucket: str,
    pipeline_role_arn: str,
    build_role_arn: str,
    deploy_role_arn: str,
) -> DemoResources:
    """Check that a live run can start, and return what it will create; nothing is created yet.

    The roles and the bucket are the caller's. The bucket must have versioning on (S3 source actions read
    object versions), and nothing may already carry one of the demo's names: :func:`clean_up_live`
    deletes by name, so it must only ever meet what this run created.

    Raises:
        LiveSetupError: the bucket is not versioned, or a name is taken (choose another prefix).
        botocore.exceptions.ClientError: a check was refused (for example, access denied).
    """
    region = session.region_name
    account = session.client("sts").get_caller_identity()["Account"]
    topic_arn = f"arn:{session.get_partition_for_region(region)}:sns:{region}:{account}:{names.topic}"
    s3 = session.client("s3")
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        raise LiveSetupError(
            f"bucket {bucket!r} has versioning off; S3 source actions need it "
            f"(aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled)"
        )
    taken = {
        f"pipeline {names.pipeline}": _exists(
            lambda: session.client("codepipeline").get_pipeline(name=names.pipeline),
            "PipelineNotFoundException",
        ),
        f"CodeBuild project {names.project}": bool(
            session.client("codebuild").batch_get_projects(names=[names.project])["projects"]
        ),
        f"SNS topic {names.topic}": _exists(
            lambda: session.client("sns").get_topic_attributes(TopicArn=topic_arn), "NotFound"
        ),
        f"s3://{bucket}/{names.source_key}": _exists(
            lambda: s3.head_object(Bucket=bucket, Key=names.source_key), "404", "NoSuchKey"
        ),
    }
    for stack in (names.staging_stack, names.prod_stack):
        taken[f"stack {stack}"] = _stack_exists(session, stack)
    in_use = [what for what, exists in taken.items() if exists]
    if in_use:
        raise LiveSetupError(f"already in use: {', '.join(in_use)}; choose another --prefix")
    return DemoResources(
        names=names,
        region=region,
        bucket=bucket,
        pipeline_role_arn=pipeline_role_arn,
        build_role_arn=build_role_arn,
        deploy_role_arn=deploy_role_arn,
        topic_arn=topic_arn,
    )


def _stack_exists(session: boto3.session.Session, stack: str) -> bool:
    cloudformation: Any = session.client("cloudformation")  # no type stubs installed for it
    return _exists(functools.partial(cloudformation.describe_stacks, StackName=stack), "ValidationError")


def _delete_stacks(session: boto3.session.Session, stacks: tuple[str, ...]) -> None:
    cloudformation: Any = session.client("cloudformation")
    for stack in stacks:
        cloudformation.delete_stack(StackName=stack)  # a stack that was never made is no error
    waiter = cloudformation.get_waiter("stack_delete_complete")
    for stack in stacks:
        waiter.wait(StackName=stack)


def create_live(session: boto3.session.Session, resources: DemoResources) -> None:
    """Create what the pipeline needs on a real account: the source bundle, the SNS topic, the project."""
    names = resources.names
    session.client("s3").put_object(Bucket=resources.bucket, Key=names.source_key, Body=_source_bundle())
    session.client("sns").create_topic(Name=names.topic)
    _create_project(session, names, resources.build_role_arn)


def _artifact_keys(session: boto3.session.Session, pipeline: str, bucket: str) -> Iterator[str]:
    """The S3 keys of every artifact the pipeline's executions wrote to ``bucket`` (read before deleting it)."""
    codepipeline = session.client("codepipeline")
    for page in codepipeline.get_paginator("list_action_executions").paginate(pipelineName=pipeline):
        for detail in page["actionExecutionDetails"]:
            for artifact in detail.get("output", {}).get("outputArtifacts", []):
                location = artifact.get("s3location", {})
                if location.get("bucket") == bucket and location.get("key"):
                    yield location["key"]


def _delete_versions(session: boto3.session.Session, bucket: str, keys: set[str]) -> int:
    """Delete every version (and delete marker) of exactly these keys; returns how many went."""
    s3 = session.client("s3")
    doomed: list[ObjectIdentifierTypeDef] = []
    for key in sorted(keys):
        listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
        for version in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]:
            if version.get("Key") == key and "VersionId" in version:
                doomed.append({"Key": key, "VersionId": version["VersionId"]})
    for start in range(0, len(doomed), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True})
    return len(doomed)


def clean_up_live(session: boto3.session.Session, resources: DemoResources) -> list[str]:
    """Remove everything a live run created; returns one line per thing removed (or left behind).

    Everything is found by name; :func:`prepare_live` made sure no name was taken before the run.

    Every step runs even when an earlier one failed, so one stubborn resource does not leave the rest
    behind; what could not be removed is reported with the reason.
    """
    names = resources.names
    report: list[str] = []

    def step(what: str, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as error:  # report and go on: clean-up is best effort, and says what it left
            report.append(f"could NOT remove {what}: {error}")
        else:
            report.append(f"removed {what}")

    # The artifacts' keys are read from the pipeline's action runs, so first, while the pipeline exists.
    keys = {names.source_key}
    try:
        keys.update(_artifact_keys(session, names.pipeline, resources.bucket))
    except Exception as error:  # the artifacts stay; the rest can still go
        report.append(
            f"could NOT list the pipeline's artifacts (they stay in s3://{resources.bucket}): {error}"
        )

    def delete_logs() -> None:
        logs = session.client("logs")
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):  # no build wrote logs
            logs.delete_log_group(logGroupName=f"/aws/codebuild/{names.project}")

    step(
        f"pipeline {names.pipeline}",
        lambda: session.client("codepipeline").delete_pipeline(name=names.pipeline),
    )
    step(
        f"stacks {names.staging_stack} and {names.prod_stack}",
        lambda: _delete_stacks(session, (names.staging_stack, names.prod_stack)),
    )
    step(
        f"CodeBuild project {names.project}",
        lambda: session.client("codebuild").delete_project(name=names.project),
    )
    step(f"build logs of {names.project}", delete_logs)
    step(f"SNS topic {names.topic}", lambda: session.client("sns").delete_topic(TopicArn=resources.topic_arn))
    step(
        f"{len(keys)} objects (every version) in s3://{resources.bucket}",
        lambda: _delete_versions(session, resources.bucket, keys),
    )
    return report
