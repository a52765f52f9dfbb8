"""Helpers of the library's functional tests: an offline account with a role, buckets, a build project, and
the release pipeline (Source -> Build on CodeBuild -> Staging -> manual approval -> Prod).

The ``world`` fixture (in this folder's ``conftest.py``) gives a test a ready :class:`World`; the action and
stage builders below write declarations in the wire shape.

Everything goes through ``pipepilot.local.offline()`` and real boto3 clients; the virtual clock moves only
when pipepilot's waits sleep or a test advances it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import TYPE_CHECKING, Any

import attrs
import boto3

from pipepilot.model.declaration import PipelineDeclaration
from pipepilot.pipelines import CodePipeline, Pipeline

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from pipepilot._calls import RetryPolicy
    from pipepilot.local import OfflineAWS

__all__ = [
    "PIPELINE",
    "REGION",
    "World",
    "approval",
    "call_counter",
    "codebuild",
    "deploy",
    "local_time_zone",
    "release_stages",
    "s3_source",
]

REGION = "us-east-1"
PIPELINE = "release"
PROJECT = "release-build"
ARTIFACTS = "release-artifacts"
SOURCE_BUCKET = "release-source"

_PIPELINE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "codepipeline.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
_BUILD_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


# -- declarations --------------------------------------------------------------------------------------------


def _action(
    name: str,
    category: str,
    provider: str,
    *,
    configuration: Mapping[str, str] | None = None,
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
    run_order: int = 1,
    timeout_minutes: int | None = None,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
        "runOrder": run_order,
        "configuration": dict(configuration or {}),
        "inputArtifacts": [{"name": artifact} for artifact in inputs],
        "outputArtifacts": [{"name": artifact} for artifact in outputs],
    }
    if timeout_minutes is not None:
        action["timeoutInMinutes"] = timeout_minutes
    return action


def s3_source(name: str = "Source") -> dict[str, Any]:
    """An S3 source action producing ``SourceOutput`` (no polling)."""
    return _action(
        name,
        "Source",
        "S3",
        configuration={"S3Bucket": SOURCE_BUCKET, "S3ObjectKey": "app.zip", "PollForSourceChanges": "false"},
        outputs=("SourceOutput",),
    )


def codebuild(name: str = "Build", project: str = PROJECT) -> dict[str, Any]:
    """A CodeBuild action reading ``SourceOutput`` and producing ``BuildOutput``."""
    return _action(
        name,
        "Build",
        "CodeBuild",
        configuration={"ProjectName": project},
        inputs=("SourceOutput",),
        outputs=("BuildOutput",),
    )


def deploy(name: str, *, run_order: int = 1) -> dict[str, Any]:
    """A CodeDeploy action deploying ``BuildOutput``."""
    return _action(
        name,
        "Deploy",
        "CodeDeploy",
        configuration={"ApplicationName": "app", "DeploymentGroupName": f"{name}-group"},
        inputs=("BuildOutput",),
        run_order=run_order,
    )


def approval(
    name: str = "Approve",
    *,
    custom_data: str | None = None,
    link: str | None = None,
    timeout_minutes: int | None = None,
) -> dict[str, Any]:
    """A manual approval action."""
    configuration: dict[str, str] = {}
    if custom_data is not None:
        configuration["CustomData"] = custom_data
    if link is not None:
        configuration["ExternalEntityLink"] = link
    return _action(name, "Approval", "Manual", configuration=configuration, timeout_minutes=timeout_minutes)


def stage(name: str, *actions: dict[str, Any]) -> dict[str, Any]:
    """A stage declaration."""
    return {"name": name, "actions": list(actions)}


def release_stages() -> list[dict[str, Any]]:
    """Source -> Build (CodeBuild) -> Staging -> Approval (manual) -> Prod."""
    return [
        stage("Source", s3_source()),
        stage("Build", codebuild()),
        stage("Staging", deploy("DeployStaging")),
        stage("Approval", approval(custom_data="Check staging first", link="https://staging.example.com")),
        stage("Prod", deploy("DeployProd")),
    ]


# -- the world -----------------------------------------------------------------------------------------------


def shared_session() -> boto3.session.Session:
    """One boto3 session for every test's clients: botocore then loads each service model once per run.

    Created inside the first offline context, after ``pipepilot.local`` installed its botocore hook, so its
    clients are served offline like any other (moto's state is reset per context; the session holds none).
    """
    global _SESSION
    if _SESSION is None:
        _SESSION = boto3.session.Session(region_name=REGION)
    return _SESSION


_SESSION: boto3.session.Session | None = None
_SETUP_CLIENTS: dict[str, Any] = {}


def _setup_client(service: str) -> Any:
    """The client :meth:`World.open` sets a world up with, made once per run (~5 ms each to make).

    It holds nothing of a world: every request goes to the world active when it is sent, and tests never
    see it (they get the world's facade, made afresh).
    """
    client = _SETUP_CLIENTS.get(service)
    if client is None:
        client = _SETUP_CLIENTS[service] = shared_session().client(service, region_name=REGION)  # type: ignore[call-overload]
    return client


@attrs.define
class World:
    """An offline account ready for pipelines: role, artifact bucket, build project, pipepilot facade."""

    aws: OfflineAWS
    cp: CodePipeline
    role_arn: str

    @classmethod
    def open(cls, aws: OfflineAWS, *, retry: RetryPolicy | None = None) -> World:
        """Create the IAM roles, buckets and build project, and a facade with pipepilot's own client."""
        session = shared_session()
        iam = _setup_client("iam")
        role_arn = iam.create_role(
            RoleName="release-role", AssumeRolePolicyDocument=json.dumps(_PIPELINE_TRUST)
        )["Role"]["Arn"]
        build_role = iam.create_role(
            RoleName="release-build-role", AssumeRolePolicyDocument=json.dumps(_BUILD_TRUST)
        )["Role"]["Arn"]
        s3 = _setup_client("s3")
        s3.create_bucket(Bucket=ARTIFACTS)
        s3.create_bucket(Bucket=SOURCE_BUCKET)
        _setup_client("codebuild").create_project(
            name=PROJECT,
            source={"type": "CODEPIPELINE"},
            artifacts={"type": "CODEPIPELINE"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/standard:7.0",
                "computeType": "BUILD_GENERAL1_SMALL",
            },
            serviceRole=build_role,
        )
        cp = CodePipeline(session=session, region_name=REGION, retry=retry)
        return cls(aws=aws, cp=cp, role_arn=role_arn)

    def declaration(
        self,
        name: str = PIPELINE,
        stages: Sequence[dict[str, Any]] | None = None,
        *,
        execution_mode: str = "SUPERSEDED",
        variables: Mapping[str, str] | None = None,
    ) -> PipelineDeclaration:
        """A V2 pipeline over this world's role and bucket (default stages: the release).

        ``variables`` declares pipeline variables (name -> default value).
        """
        wire: dict[str, Any] = {
            "name": name,
            "roleArn": self.role_arn,
            "artifactStore": {"type": "S3", "location": ARTIFACTS},
            "stages": list(stages if stages is not None else release_stages()),
            "pipelineType": "V2",
            "executionMode": execution_mode,
        }
        if variables:
            wire["variables"] = [{"name": key, "defaultValue": value} for key, value in variables.items()]
        return PipelineDeclaration.from_api(wire)

    def create(
        self,
        name: str = PIPELINE,
        stages: Sequence[dict[str, Any]] | None = None,
        *,
        execution_mode: str = "SUPERSEDED",
        tags: Mapping[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
        settle: bool = True,
    ) -> Pipeline:
        """Create a pipeline; with ``settle`` (default), stop the execution creation starts and let it end.

        CreatePipeline starts an execution (as on AWS); tests start their own, so the creation run is stopped
        (abandoned) and time advanced until it has ended.
        """
        declaration = self.declaration(name, stages, execution_mode=execution_mode, variables=variables)
        self.cp.create_pipeline(declaration, tags=tags)
        pipeline = self.cp.pipeline(name)
        if settle:
            first = pipeline.latest_execution()
            assert first is not None
            first.stop(abandon=True, reason="test set-up")
            self.aws.clock.advance(60)
            assert first.get().status == "Stopped"
        return pipeline


def call_counter(cp: CodePipeline) -> dict[str, int]:
    """Count the requests ``cp``'s client sends, per API name (every attempt counts)."""
    counts: dict[str, int] = {}

    def count(model: Any, **_: Any) -> None:
        counts[model.name] = counts.get(model.name, 0) + 1

    cp.client.meta.events.register("before-call.codepipeline", count)
    return counts


@contextlib.contextmanager
def local_time_zone(zone: str = "IST-05:30") -> Iterator[None]:
    """Run with the process's local time zone set to ``zone`` (POSIX ``TZ`` syntax: no tz database needed).

    botocore parses AWS's times into the local zone, so this shows which datetimes pipepilot leaves local.
    """
    previous = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()
