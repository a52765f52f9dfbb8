"""Helpers shared by the conformance suite: clients, pipeline declarations, clock driving, assertions.

Everything here talks to AWS through plain ``boto3`` clients created inside ``pipepilot.local.offline()``;
nothing imports pipepilot's wrapper classes. Time only moves when a test moves it (``Env.run_until``,
``aws.clock.advance``), so every observation below is deterministic.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import zipfile
from typing import TYPE_CHECKING, Any, cast

import attrs
import boto3
import pytest
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from mypy_boto3_codebuild import CodeBuildClient
    from mypy_boto3_codebuild.type_defs import BuildTypeDef
    from mypy_boto3_codepipeline import CodePipelineClient
    from mypy_boto3_codepipeline.type_defs import (
        ActionExecutionDetailTypeDef,
        ActionStateTypeDef,
        GetPipelineStateOutputTypeDef,
        PipelineDeclarationTypeDef,
        PipelineExecutionSummaryTypeDef,
        PipelineExecutionTypeDef,
        StageStateTypeDef,
    )
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient

    from pipepilot.local import OfflineAWS

__all__ = [
    "ACTION_STATE_CHANGE",
    "BUILD_PROJECT",
    "DAY",
    "HOUR",
    "PIPELINE",
    "PIPELINE_STATE_CHANGE",
    "REGION",
    "STAGE_STATE_CHANGE",
    "UUID",
    "Env",
    "approval_action",
    "cloudformation_action",
    "codebuild_action",
    "codedeploy_action",
    "codestar_source",
    "custom_action",
    "expect_error",
    "lambda_action",
    "s3_deploy_action",
    "s3_source",
    "stage",
    "stage_intervals",
    "ts",
    "unzip_text",
    "zip_text",
]

REGION = "us-east-1"
PIPELINE = "conformance"
BUILD_PROJECT = "conformance-build"
SOURCE_BUCKET = "conformance-source"
HOUR = 3600.0
DAY = 24 * HOUR

# The identifier pattern the model gives execution ids, job ids and approval tokens, matched whole.
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

PIPELINE_STATE_CHANGE = "CodePipeline Pipeline Execution State Change"
STAGE_STATE_CHANGE = "CodePipeline Stage Execution State Change"
ACTION_STATE_CHANGE = "CodePipeline Action Execution State Change"

_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["codepipeline.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}
_BUILD_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}

# Statuses after which an execution changes no more unless someone retries it.
TERMINAL = frozenset({"Succeeded", "Failed", "Stopped", "Superseded", "Cancelled"})


# -- errors --------------------------------------------------------------------------------------------------


def zip_text(files: Mapping[str, str]) -> bytes:
    """A zip archive of ``files`` (path -> text), as a user's source upload would be."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return buffer.getvalue()


def unzip_text(body: bytes) -> dict[str, str]:
    """The files of the zip archive ``body`` (path -> text)."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


@contextlib.contextmanager
def expect_error(code: str | Sequence[str], *, status: int = 400) -> Iterator[list[ClientError]]:
    """Expect the block to raise a service error with ``code`` (one of several, if a tuple) and ``status``.

    Yields a list that holds the caught :class:`ClientError` afterwards, for further checks.
    """
    caught: list[ClientError] = []
    codes = (code,) if isinstance(code, str) else tuple(code)
    with pytest.raises(ClientError) as info:
        yield caught
    caught.append(info.value)
    error = info.value.response.get("Error", {})
    assert error.get("Code") in codes, (
        f"expected {codes}, got {error.get('Code')!r}: {error.get('Message')!r}"
    )
    observed_status = info.value.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    assert observed_status == status, f"{error.get('Code')}: expected HTTP {status}, got {observed_status}"


# -- declaration builders ------------------------------------------------------------------------------------


def _action(
    name: str,
    *,
    category: str,
    provider: str,
    owner: str = "AWS",
    version: str = "1",
    configuration: Mapping[str, str] | None = None,
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
    run_order: int = 1,
    namespace: str | None = None,
    role_arn: str | None = None,
    timeout_minutes: int | None = None,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": {"category": category, "owner": owner, "provider": provider, "version": version},
        "runOrder": run_order,
        "configuration": dict(configuration or {}),
        "inputArtifacts": [{"name": artifact} for artifact in inputs],
        "outputArtifacts": [{"name": artifact} for artifact in outputs],
    }
    if namespace is not None:
        action["namespace"] = namespace
    if role_arn is not None:
        action["roleArn"] = role_arn
    if timeout_minutes is not None:
        action["timeoutInMinutes"] = timeout_minutes
    return action


def s3_source(
    name: str = "Source",
    *,
    output: str = "SourceOutput",
    key: str = "app.zip",
    namespace: str | None = "SourceVariables",
) -> dict[str, Any]:
    """An S3 source action (0 inputs, 1 output), change detection by EventBridge (no polling)."""
    return _action(
        name,
        category="Source",
        provider="S3",
        configuration={"S3Bucket": SOURCE_BUCKET, "S3ObjectKey": key, "PollForSourceChanges": "false"},
        outputs=(output,),
        namespace=namespace,
    )


def codestar_source(
    name: str = "Source",
    *,
    output: str = "SourceOutput",
    repository: str = "octo-org/app",
    branch: str = "main",
    namespace: str | None = "SourceVariables",
    account_id: str = "123456789012",
) -> dict[str, Any]:
    """A CodeStarSourceConnection (GitHub App) source action."""
    return _action(
        name,
        category="Source",
        provider="CodeStarSourceConnection",
        configuration={
            "ConnectionArn": (
                f"arn:aws:codestar-connections:{REGION}:{account_id}:connection/"
                "5f2b4a1e-0c3d-4b8e-9a6f-1d2c3b4a5e6f"
            ),
            "FullRepositoryId": repository,
            "BranchName": branch,
            "OutputArtifactFormat": "CODE_ZIP",
        },
        outputs=(output,),
        namespace=namespace,
    )


def codebuild_action(
    name: str = "Build",
    *,
    project: str = BUILD_PROJECT,
    inputs: Sequence[str] = ("SourceOutput",),
    outputs: Sequence[str] = ("BuildOutput",),
    run_order: int = 1,
    namespace: str | None = None,
    category: str = "Build",
    environment_variables: str | None = None,
) -> dict[str, Any]:
    """A CodeBuild build (or test) action on ``project``."""
    configuration = {"ProjectName": project}
    if environment_variables is not None:
        configuration["EnvironmentVariables"] = environment_variables
    return _action(
        name,
        category=category,
        provider="CodeBuild",
        configuration=configuration,
        inputs=inputs,
        outputs=outputs,
        run_order=run_order,
        namespace=namespace,
    )


def codedeploy_action(
    name: str = "Deploy",
    *,
    input_artifact: str = "BuildOutput",
    run_order: int = 1,
    application: str = "conformance-app",
    deployment_group: str | None = None,
) -> dict[str, Any]:
    """A CodeDeploy deploy action (1 input, 0 outputs)."""
    return _action(
        name,
        category="Deploy",
        provider="CodeDeploy",
        configuration={
            "ApplicationName": application,
            "DeploymentGroupName": deployment_group or f"{name}-group",
        },
        inputs=(input_artifact,),
        run_order=run_order,
    )


def cloudformation_action(
    name: str,
    *,
    role_arn: str,
    input_artifact: str = "SourceOutput",
    run_order: int = 1,
    configuration: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A CloudFormation CREATE_UPDATE action reading its template from ``input_artifact``."""
    return _action(
        name,
        category="Deploy",
        provider="CloudFormation",
        configuration={
            "ActionMode": "CREATE_UPDATE",
            "StackName": f"stack-{name}",
            "TemplatePath": f"{input_artifact}::template.yml",
            "RoleArn": role_arn,
            **(configuration or {}),
        },
        inputs=(input_artifact,),
        run_order=run_order,
    )


def s3_deploy_action(
    name: str, *, input_artifact: str = "SourceOutput", run_order: int = 1
) -> dict[str, Any]:
    """An S3 deploy action (1 input, 0 outputs)."""
    return _action(
        name,
        category="Deploy",
        provider="S3",
        configuration={"BucketName": "conformance-site", "Extract": "true"},
        inputs=(input_artifact,),
        run_order=run_order,
    )


def approval_action(
    name: str = "Approve",
    *,
    topic_arn: str | None = None,
    timeout_minutes: int | None = None,
    custom_data: str | None = None,
    external_entity_link: str | None = None,
    run_order: int = 1,
) -> dict[str, Any]:
    """A Manual approval action (0 inputs, 0 outputs), optionally notifying an SNS topic."""
    configuration: dict[str, str] = {}
    if topic_arn is not None:
        configuration["NotificationArn"] = topic_arn
    if custom_data is not None:
        configuration["CustomData"] = custom_data
    if external_entity_link is not None:
        configuration["ExternalEntityLink"] = external_entity_link
    return _action(
        name,
        category="Approval",
        provider="Manual",
        configuration=configuration,
        run_order=run_order,
        timeout_minutes=timeout_minutes,
    )


def lambda_action(
    name: str,
    *,
    function: str,
    user_parameters: str | None = None,
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
    namespace: str | None = None,
    run_order: int = 1,
) -> dict[str, Any]:
    """A Lambda invoke action calling ``function``."""
    configuration = {"FunctionName": function}
    if user_parameters is not None:
        configuration["UserParameters"] = user_parameters
    return _action(
        name,
        category="Invoke",
        provider="Lambda",
        configuration=configuration,
        inputs=inputs,
        outputs=outputs,
        namespace=namespace,
        run_order=run_order,
    )


def custom_action(
    name: str,
    *,
    provider: str,
    category: str = "Build",
    version: str = "1",
    inputs: Sequence[str] = ("SourceOutput",),
    outputs: Sequence[str] = (),
    configuration: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An action of a Custom-owned action type (a job worker must poll for it)."""
    return _action(
        name,
        category=category,
        provider=provider,
        owner="Custom",
        version=version,
        configuration=configuration,
        inputs=inputs,
        outputs=outputs,
    )


def stage(name: str, *actions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A stage declaration; ``extra`` carries V2 conditions (``beforeEntry``, ``onSuccess``, ``onFailure``)."""
    return {"name": name, "actions": list(actions), **extra}


# One set of boto3 clients for the whole run. moto resets boto3's default session whenever a context starts,
# and a fresh session re-reads botocore's endpoint and service data (about 0.3 s per test). Clients made from
# a plain Session, after pipepilot.local has installed its botocore hook, are routed per request to whichever
# offline context is active, so they can be reused from test to test (they hold no AWS state).
_session: boto3.session.Session | None = None
_clients: dict[str, Any] = {}


def _client(service: str) -> Any:
    global _session
    client = _clients.get(service)
    if client is None:
        if _session is None:
            _session = boto3.session.Session(region_name=REGION)
        client = _clients[service] = _session.client(service)  # type: ignore[call-overload]
    return client


# -- the environment -----------------------------------------------------------------------------------------


@attrs.define
class Env:
    """Plain boto3 clients served by one offline world, plus the fixtures every pipeline needs."""

    aws: OfflineAWS
    cp: CodePipelineClient
    cb: CodeBuildClient
    iam: IAMClient
    s3: S3Client
    sns: SNSClient
    logs: CloudWatchLogsClient
    eventbridge: EventBridgeClient
    sqs: Any
    role_arn: str
    build_role_arn: str
    bucket: str

    @classmethod
    def open(cls, aws: OfflineAWS) -> Env:
        """Create the clients, the pipeline role (trusting CodePipeline), the buckets and the build project."""
        iam: IAMClient = _client("iam")
        s3: S3Client = _client("s3")
        role_arn = iam.create_role(
            RoleName="conformance-pipeline-role", AssumeRolePolicyDocument=json.dumps(_TRUST_POLICY)
        )["Role"]["Arn"]
        build_role_arn = iam.create_role(
            RoleName="conformance-build-role", AssumeRolePolicyDocument=json.dumps(_BUILD_TRUST_POLICY)
        )["Role"]["Arn"]
        bucket = "conformance-artifacts"
        s3.create_bucket(Bucket=bucket)
        s3.create_bucket(Bucket=SOURCE_BUCKET)
        env = cls(
            aws=aws,
            cp=_client("codepipeline"),
            cb=_client("codebuild"),
            iam=iam,
            s3=s3,
            sns=_client("sns"),
            logs=_client("logs"),
            eventbridge=_client("events"),
            sqs=_client("sqs"),
            role_arn=role_arn,
            build_role_arn=build_role_arn,
            bucket=bucket,
        )
        env.create_project(BUILD_PROJECT)
        return env

    # -- set-up ----------------------------------------------------------------------------------------------

    def create_project(self, name: str, **extra: Any) -> None:
        """Create a CodeBuild project fed by CodePipeline, through the ordinary CodeBuild API."""
        self.cb.create_project(
            name=name,
            source={"type": "CODEPIPELINE"},
            artifacts={"type": "CODEPIPELINE"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/standard:7.0",
                "computeType": "BUILD_GENERAL1_SMALL",
            },
            serviceRole=self.build_role_arn,
            **extra,
        )

    def declaration(
        self,
        *stages: dict[str, Any],
        name: str = PIPELINE,
        pipeline_type: str | None = "V2",
        execution_mode: str | None = "SUPERSEDED",
        variables: Sequence[Mapping[str, str]] | None = None,
        triggers: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A pipeline declaration over this environment's role and artifact bucket."""
        declaration: dict[str, Any] = {
            "name": name,
            "roleArn": self.role_arn,
            "artifactStore": {"type": "S3", "location": self.bucket},
            "stages": list(stages),
        }
        if pipeline_type is not None:
            declaration["pipelineType"] = pipeline_type
        if execution_mode is not None:
            declaration["executionMode"] = execution_mode
        if variables is not None:
            declaration["variables"] = [dict(variable) for variable in variables]
        if triggers is not None:
            declaration["triggers"] = [dict(trigger) for trigger in triggers]
        return declaration

    def three_stage(
        self,
        *,
        name: str = PIPELINE,
        execution_mode: str | None = "SUPERSEDED",
        pipeline_type: str | None = "V2",
        deploy: dict[str, Any] | None = None,
        deploy_stage: str = "Deploy",
        **stage_extra: Any,
    ) -> dict[str, Any]:
        """Source (S3) -> Build (CodeBuild) -> Deploy (CodeDeploy), the superseding example's shape."""
        return self.declaration(
            stage("Source", s3_source()),
            stage("Build", codebuild_action()),
            stage(deploy_stage, deploy or codedeploy_action(), **stage_extra),
            name=name,
            execution_mode=execution_mode,
            pipeline_type=pipeline_type,
        )

    def linear(
        self,
        *stages: tuple[str, float],
        name: str = PIPELINE,
        execution_mode: str | None = "SUPERSEDED",
        pipeline_type: str | None = "V2",
    ) -> dict[str, Any]:
        """Source (S3) then one stage per ``(name, seconds)``: one CodeDeploy action of that name lasting so long.

        The durations are scripted, so the timing of every stage is exact; the stage and its action share
        the name.
        """
        declared = [stage("Source", s3_source())]
        for stage_name, seconds in stages:
            declared.append(stage(stage_name, codedeploy_action(stage_name, input_artifact="SourceOutput")))
            self.aws.script_action(name, stage_name, stage_name, duration=seconds)
        return self.declaration(
            *declared, name=name, execution_mode=execution_mode, pipeline_type=pipeline_type
        )

    def create(self, declaration: Mapping[str, Any]) -> str:
        """Create the pipeline and return the id of the execution creation starts (trigger CreatePipeline)."""
        self.cp.create_pipeline(pipeline=cast("PipelineDeclarationTypeDef", dict(declaration)))
        summaries = self.cp.list_pipeline_executions(pipelineName=declaration["name"])[
            "pipelineExecutionSummaries"
        ]
        assert summaries, "CreatePipeline must start an execution"
        return summaries[0]["pipelineExecutionId"]

    def create_only(self, declaration: Mapping[str, Any]) -> None:
        """CreatePipeline with a (possibly invalid) declaration, nothing else."""
        self.cp.create_pipeline(pipeline=cast("PipelineDeclarationTypeDef", dict(declaration)))

    def update(self, declaration: Mapping[str, Any]) -> int:
        """UpdatePipeline; returns the new version."""
        response = self.cp.update_pipeline(pipeline=cast("PipelineDeclarationTypeDef", dict(declaration)))
        return response["pipeline"]["version"]

    def stored(self, name: str = PIPELINE) -> dict[str, Any]:
        """The declaration as GetPipeline returns it (mutable copy)."""
        return cast("dict[str, Any]", json.loads(json.dumps(self.cp.get_pipeline(name=name)["pipeline"])))

    def start(self, name: str = PIPELINE, **kwargs: Any) -> str:
        """StartPipelineExecution; returns the new execution id."""
        return self.cp.start_pipeline_execution(name=name, **kwargs)["pipelineExecutionId"]

    # -- reads -------------------------------------------------------------------------------------------------

    def execution(self, execution_id: str, name: str = PIPELINE) -> PipelineExecutionTypeDef:
        """GetPipelineExecution's ``pipelineExecution``."""
        return self.cp.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)[
            "pipelineExecution"
        ]

    def status(self, execution_id: str, name: str = PIPELINE) -> str:
        """The execution's status."""
        return self.execution(execution_id, name)["status"]

    def state(self, name: str = PIPELINE) -> GetPipelineStateOutputTypeDef:
        """GetPipelineState."""
        return self.cp.get_pipeline_state(name=name)

    def stage_state(self, stage_name: str, name: str = PIPELINE) -> StageStateTypeDef:
        """One entry of ``stageStates``."""
        for entry in self.state(name)["stageStates"]:
            if entry["stageName"] == stage_name:
                return entry
        raise AssertionError(f"stage {stage_name!r} missing from GetPipelineState")

    def action_state(self, stage_name: str, action_name: str, name: str = PIPELINE) -> ActionStateTypeDef:
        """One entry of a stage's ``actionStates``."""
        for entry in self.stage_state(stage_name, name).get("actionStates", []):
            if entry["actionName"] == action_name:
                return entry
        raise AssertionError(f"action {stage_name}/{action_name} missing from GetPipelineState")

    def action_status(self, stage_name: str, action_name: str, name: str = PIPELINE) -> str | None:
        """``latestExecution.status`` of an action in GetPipelineState, or None before its first run."""
        latest = self.action_state(stage_name, action_name, name).get("latestExecution")
        return None if latest is None else latest.get("status")

    def summary(self, execution_id: str, name: str = PIPELINE) -> PipelineExecutionSummaryTypeDef:
        """The ListPipelineExecutions summary of one execution."""
        for entry in self.summaries(name):
            if entry["pipelineExecutionId"] == execution_id:
                return entry
        raise AssertionError(f"execution {execution_id} missing from ListPipelineExecutions")

    def stage_latest(self, stage_name: str, name: str = PIPELINE) -> tuple[str | None, str | None]:
        """``(pipelineExecutionId, status)`` of the stage's latestExecution, or ``(None, None)``."""
        latest = self.stage_state(stage_name, name).get("latestExecution")
        if latest is None:
            return None, None
        return latest["pipelineExecutionId"], latest["status"]

    def inbound_id(self, stage_name: str, name: str = PIPELINE) -> str | None:
        """Id of the single execution waiting in front of the stage (``inboundExecution``), if any."""
        inbound = self.stage_state(stage_name, name).get("inboundExecution")
        return None if inbound is None else inbound["pipelineExecutionId"]

    def summaries(self, name: str = PIPELINE, **kwargs: Any) -> list[PipelineExecutionSummaryTypeDef]:
        """Every ListPipelineExecutions summary, following nextToken."""
        result: list[PipelineExecutionSummaryTypeDef] = []
        request: dict[str, Any] = {"pipelineName": name, **kwargs}
        while True:
            page = self.cp.list_pipeline_executions(**request)
            result.extend(page["pipelineExecutionSummaries"])
            token = page.get("nextToken")
            if not token:
                return result
            request["nextToken"] = token

    def action_executions(
        self, name: str = PIPELINE, execution_id: str | None = None
    ) -> list[ActionExecutionDetailTypeDef]:
        """Every ListActionExecutions detail (optionally of one execution), following nextToken."""
        result: list[ActionExecutionDetailTypeDef] = []
        kwargs: dict[str, Any] = {"pipelineName": name}
        if execution_id is not None:
            kwargs["filter"] = {"pipelineExecutionId": execution_id}
        while True:
            page = self.cp.list_action_executions(**kwargs)
            result.extend(page["actionExecutionDetails"])
            token = page.get("nextToken")
            if not token:
                return result
            kwargs["nextToken"] = token

    def runs_of(
        self, stage_name: str, action_name: str, execution_id: str, name: str = PIPELINE
    ) -> list[ActionExecutionDetailTypeDef]:
        """The action executions of one action in one pipeline execution, oldest first."""
        runs = [
            detail
            for detail in self.action_executions(name, execution_id)
            if detail["stageName"] == stage_name and detail["actionName"] == action_name
        ]
        return sorted(runs, key=lambda detail: detail["startTime"])

    def entered(self, stage_name: str, execution_id: str, name: str = PIPELINE) -> bool:
        """True when the execution ran any action of the stage."""
        return any(detail["stageName"] == stage_name for detail in self.action_executions(name, execution_id))

    def build(self, build_id: str) -> BuildTypeDef:
        """BatchGetBuilds for one id."""
        builds = self.cb.batch_get_builds(ids=[build_id])["builds"]
        assert len(builds) == 1, f"build {build_id} not found"
        return builds[0]

    # -- events ---------------------------------------------------------------------------------------------

    def events(
        self,
        detail_type: str | None = None,
        *,
        execution_id: str | None = None,
        stage: str | None = None,
        action: str | None = None,
    ) -> list[dict[str, Any]]:
        """The CodePipeline EventBridge events emitted so far (envelope form, ``detail`` parsed), filtered."""
        selected = []
        for raw in self.aws.events:
            event = normalise_event(raw)
            detail = event["detail"]
            if event.get("source") != "aws.codepipeline":
                continue
            if detail_type is not None and event["detail-type"] != detail_type:
                continue
            if execution_id is not None and detail.get("execution-id") != execution_id:
                continue
            if stage is not None and detail.get("stage") != stage:
                continue
            if action is not None and detail.get("action") != action:
                continue
            selected.append(event)
        return selected

    def states(self, detail_type: str, **filters: str) -> list[str]:
        """``detail.state`` of the selected events, in emission order."""
        return [event["detail"]["state"] for event in self.events(detail_type, **filters)]

    # -- time ------------------------------------------------------------------------------------------------

    def now(self) -> float:
        """Virtual now."""
        return self.aws.clock.now()

    def run_until(
        self, predicate: Callable[[], bool], *, limit: float = 30 * DAY, what: str = "condition"
    ) -> None:
        """Advance the clock timer by timer until ``predicate()`` holds; fail after ``limit`` seconds."""
        clock = self.aws.clock
        deadline = clock.now() + limit
        while not predicate():
            due = clock.next_due()
            if due is None or due > deadline:
                raise AssertionError(f"{what} not reached within {limit:.0f} virtual seconds")
            clock.advance_to(due)

    def run_until_status(
        self, execution_id: str, *statuses: str, name: str = PIPELINE, limit: float = 30 * DAY
    ) -> None:
        """Advance until the execution shows one of ``statuses``."""
        self.run_until(
            lambda: self.status(execution_id, name) in statuses,
            limit=limit,
            what=f"execution {execution_id} in {statuses}",
        )

    def run_until_in_stage(self, execution_id: str, stage_name: str, *, name: str = PIPELINE) -> None:
        """Advance until the execution is the stage's latest execution and running there."""
        self.run_until(
            lambda: self.stage_latest(stage_name, name) == (execution_id, "InProgress"),
            what=f"{execution_id} running in {stage_name}",
        )

    def run_until_waiting(self, execution_id: str, stage_name: str, *, name: str = PIPELINE) -> None:
        """Advance until the execution waits in front of the stage (``inboundExecution``)."""
        self.run_until(
            lambda: self.inbound_id(stage_name, name) == execution_id,
            what=f"{execution_id} waiting at {stage_name}",
        )

    def flush(self) -> None:
        """Run the timers due at this very instant (work an engine hands itself with no delay)."""
        self.aws.clock.advance(0)

    def settle(self, *, limit: float = 60 * DAY) -> None:
        """Run every scheduled timer (bounded by ``limit``)."""
        self.aws.clock.run_until_idle(limit=limit)


def normalise_event(raw: Mapping[str, Any]) -> dict[str, Any]:
    """An EventBridge event in envelope form, accepting a PutEvents entry too; ``detail`` parsed."""
    event = dict(raw)
    if "detail-type" not in event and "DetailType" in event:
        event["detail-type"] = event["DetailType"]
    if "detail" not in event and "Detail" in event:
        event["detail"] = event["Detail"]
    if "source" not in event and "Source" in event:
        event["source"] = event["Source"]
    if "resources" not in event and "Resources" in event:
        event["resources"] = event["Resources"]
    if isinstance(event.get("detail"), str):
        event["detail"] = json.loads(event["detail"])
    event.setdefault("detail", {})
    return event


def ts(moment: Any) -> float:
    """Epoch seconds of a timestamp boto3 parsed into a datetime (or already a number)."""
    if isinstance(moment, (int, float)):
        return float(moment)
    return float(moment.timestamp())


def stage_intervals(env: Env, stage_name: str, name: str = PIPELINE) -> dict[str, tuple[float, float]]:
    """Per pipeline execution, when it first started and last finished an action of ``stage_name``."""
    spans: dict[str, tuple[float, float]] = {}
    for detail in env.action_executions(name):
        if detail["stageName"] != stage_name:
            continue
        start, end = ts(detail["startTime"]), ts(detail["lastUpdateTime"])
        execution_id = detail["pipelineExecutionId"]
        if execution_id in spans:
            previous = spans[execution_id]
            spans[execution_id] = (min(previous[0], start), max(previous[1], end))
        else:
            spans[execution_id] = (start, end)
    return spans
