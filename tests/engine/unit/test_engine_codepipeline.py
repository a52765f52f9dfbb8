"""Engine-level tests of the offline CodePipeline engine: ``dispatch`` with a fake World on a real clock.

The fake World below is the smallest thing satisfying ``EngineWorld``; the conformance suite runs the
same behaviour through plain boto3 against the real World.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from pipepilot.local._errors import ServiceError
from pipepilot.local._world import LambdaFunction
from pipepilot.local.clock import VirtualClock
from pipepilot.local.codepipeline import CodePipelineEngine, CodePipelineSettings, EngineWorld

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/pipeline-role"
CALLER = f"arn:aws:sts::{ACCOUNT}:assumed-role/pipepilot-local/offline"


# -- the fake World ------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Script:
    outcome: str = "Succeeded"
    duration: float | None = None
    error_code: str = "JobFailed"
    error_message: str = "scripted failure"
    summary: str | None = None
    external_execution_id: str | None = None
    output_variables: Mapping[str, str] | None = None


@attrs.frozen(kw_only=True)
class RuleScript:
    outcome: str = "Succeeded"
    duration: float | None = None
    summary: str | None = None


def _take(entries: list[tuple[Any, int | None]] | None) -> Any:
    if not entries:
        return None
    script, times = entries[0]
    if times is not None:
        if times <= 1:
            entries.pop(0)
        else:
            entries[0] = (script, times - 1)
    return script


class Scripts:
    def __init__(self) -> None:
        self.queue: dict[tuple[str, str, str], list[tuple[Script, int | None]]] = {}
        self.rules: dict[tuple[str, str, str], list[tuple[RuleScript, int | None]]] = {}

    def add(self, pipeline: str, stage: str, action: str, script: Script, times: int | None = None) -> None:
        self.queue.setdefault((pipeline, stage, action), []).append((script, times))

    def add_rule(
        self, pipeline: str, stage: str, rule: str, script: RuleScript, times: int | None = None
    ) -> None:
        self.rules.setdefault((pipeline, stage, rule), []).append((script, times))

    def action_outcome(self, pipeline: str, stage: str, action: str, /) -> Script | None:
        script: Script | None = _take(self.queue.get((pipeline, stage, action)))
        return script

    def rule_outcome(self, pipeline: str, stage: str, rule: str, /) -> RuleScript | None:
        script: RuleScript | None = _take(self.rules.get((pipeline, stage, rule)))
        return script


class FakeCodeBuild:
    """Builds that end after ``duration`` with a chosen status (per project)."""

    def __init__(self, world: FakeWorld) -> None:
        self.world = world
        self.projects: dict[str, tuple[float, str, dict[str, str]]] = {}
        self.started: list[dict[str, Any]] = []

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
        if project_name not in self.projects:
            raise ServiceError(
                "ResourceNotFoundException",
                f"Project cannot be found: arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{project_name}",
            )
        duration, status, exported = self.projects[project_name]
        build_id = f"{project_name}:{self.world.new_uuid()}"
        build = {
            "id": build_id,
            "arn": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{build_id}",
            "buildStatus": "IN_PROGRESS",
            "initiator": f"codepipeline/{pipeline_name}",
            "sourceVersion": source_version,
            "environmentVariablesOverride": environment_variables_override,
        }
        self.started.append(build)

        def done() -> None:
            final = dict(build, buildStatus=status)
            final["exportedEnvironmentVariables"] = [{"name": k, "value": v} for k, v in exported.items()]
            on_complete(final)

        self.world.clock.call_later(duration, done)
        return build


class FakeWorld:
    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.account_id = ACCOUNT
        self.caller_arn = CALLER
        self.scripts = Scripts()
        self.default_durations: dict[str, float] = {
            "Source": 5.0,
            "CodeDeploy": 100.0,
            "CloudFormation": 50.0,
            "Approval": 0.0,
            "default": 60.0,
        }
        self.events: list[dict[str, Any]] = []
        self.sns: list[tuple[str, str, str | None]] = []
        self.lambdas: dict[str, Callable[[dict[str, Any], Any], object]] = {}
        self.unassumable: set[str] = set()
        self.builds = FakeCodeBuild(self)
        self._random = random.Random(7)
        #: S3 objects the engine wrote, by (bucket, key); buckets in ``missing_buckets`` refuse writes.
        self.objects: dict[tuple[str, str], tuple[bytes, str | None]] = {}
        self.missing_buckets: set[str] = set()

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def codebuild(self, region: str, /) -> FakeCodeBuild:
        return self.builds

    def publish_sns(self, topic_arn: str, message: str, subject: str | None, /) -> None:
        self.sns.append((topic_arn, message, subject))

    def put_event(self, event: dict[str, Any], /) -> None:
        self.events.append(event)

    def role_assumable_by(self, role_arn: str, service_principal: str, /) -> bool:
        return role_arn not in self.unassumable and service_principal == "codepipeline.amazonaws.com"

    def lambda_handler(self, function_name: str, /) -> Callable[[dict[str, Any], Any], object] | None:
        return self.lambdas.get(function_name)

    def lambda_function(self, function_name: str, /) -> LambdaFunction | None:
        handler = self.lambdas.get(function_name)
        return None if handler is None else LambdaFunction(handler=handler)

    def read_object(self, bucket: str, key: str, /) -> bytes | None:
        found = self.objects.get((bucket, key))
        return None if found is None else found[0]

    def write_object(self, bucket: str, key: str, body: bytes, /, *, kms_key_id: str | None = None) -> bool:
        if bucket in self.missing_buckets:
            return False
        self.objects[bucket, key] = (body, kms_key_id)
        return True

    def delete_written_objects(self, locations: Iterable[tuple[str, str]], /) -> int:
        found = [location for location in locations if location in self.objects]
        for location in found:
            del self.objects[location]
        return len(found)


def _conforms(world: FakeWorld) -> EngineWorld:
    return world  # mypy checks the fake against the protocol here


# -- declaration builders ------------------------------------------------------------------------------------


def action(
    name: str,
    category: str,
    provider: str,
    *,
    run_order: int = 1,
    inputs: tuple[str, ...] = (),
    outputs: tuple[str, ...] = (),
    config: dict[str, str] | None = None,
    owner: str = "AWS",
    **extra: Any,
) -> dict[str, Any]:
    declared: dict[str, Any] = {
        "name": name,
        "actionTypeId": {"category": category, "owner": owner, "provider": provider, "version": "1"},
        "runOrder": run_order,
        "configuration": config or {},
        "inputArtifacts": [{"name": n} for n in inputs],
        "outputArtifacts": [{"name": n} for n in outputs],
    }
    declared.update(extra)
    return declared


def source_stage(**config: str) -> dict[str, Any]:
    configuration = {"S3Bucket": "sources", "S3ObjectKey": "app.zip"}
    configuration.update(config)
    return {
        "name": "Source",
        "actions": [
            action(
                "Fetch", "Source", "S3", outputs=("src",), config=configuration, namespace="SourceVariables"
            )
        ],
    }


def github_source_stage(token: str, *, repo_owner: str, repo: str) -> dict[str, Any]:
    """A Source stage whose GitHub (version 1, OAuth) action "Fetch" holds the secret ``token``."""
    github = action(
        "Fetch",
        "Source",
        "GitHub",
        owner="ThirdParty",
        outputs=("src",),
        config={"Owner": repo_owner, "Repo": repo, "Branch": "main", "OAuthToken": token},
    )
    return {"name": "Source", "actions": [github]}


def deploy_stage(name: str = "Deploy", action_name: str = "Ship", **extra: Any) -> dict[str, Any]:
    stage: dict[str, Any] = {
        "name": name,
        "actions": [
            action(action_name, "Deploy", "CodeDeploy", inputs=("src",), config={"ApplicationName": "app"})
        ],
    }
    stage.update(extra)
    return stage


def condition_rule(name: str, provider: str, **configuration: str) -> dict[str, Any]:
    """A stage-condition rule declaration of an AWS rule type."""
    return {
        "name": name,
        "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": provider, "version": "1"},
        "configuration": configuration,
    }


def conditions(result: str, *rules: dict[str, Any]) -> dict[str, Any]:
    """A stage's beforeEntry/onSuccess block: one condition with ``result`` over ``rules``."""
    return {"conditions": [{"result": result, "rules": list(rules)}]}


def pipeline(name: str, *stages: dict[str, Any], **top: Any) -> dict[str, Any]:
    declared: dict[str, Any] = {
        "name": name,
        "roleArn": ROLE,
        "artifactStore": {"type": "S3", "location": "artifact-bucket"},
        "stages": list(stages),
    }
    declared.update(top)
    return declared


class Harness:
    """An engine on a fake World, with short-hands for the calls tests make."""

    def __init__(self, **settings: Any) -> None:
        self.world = FakeWorld()
        self.engine = CodePipelineEngine(
            _conforms(self.world), REGION, settings=CodePipelineSettings(**settings) if settings else None
        )
        self.clock = self.world.clock

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.engine.dispatch(operation, params)

    def error(self, operation: str, **params: Any) -> ServiceError:
        with pytest.raises(ServiceError) as caught:
            self.engine.dispatch(operation, params)
        return caught.value

    def create(self, declaration: dict[str, Any], **params: Any) -> str:
        self.call("CreatePipeline", pipeline=declaration, **params)
        return str(self.executions(declaration["name"])[0]["pipelineExecutionId"])

    def start(self, name: str, **params: Any) -> str:
        return str(self.call("StartPipelineExecution", name=name, **params)["pipelineExecutionId"])

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def status(self, name: str, execution_id: str) -> str:
        found = self.call("GetPipelineExecution", pipelineName=name, pipelineExecutionId=execution_id)
        return str(found["pipelineExecution"]["status"])

    def executions(self, name: str) -> list[dict[str, Any]]:
        return list(self.call("ListPipelineExecutions", pipelineName=name)["pipelineExecutionSummaries"])

    def stage_state(self, name: str, stage: str) -> dict[str, Any]:
        for state in self.call("GetPipelineState", name=name)["stageStates"]:
            if state["stageName"] == stage:
                return dict(state)
        raise AssertionError(f"no stage {stage}")

    def action_runs(self, name: str, execution_id: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"pipelineName": name}
        if execution_id:
            params["filter"] = {"pipelineExecutionId": execution_id}
        return list(self.call("ListActionExecutions", **params)["actionExecutionDetails"])

    def runs_of(self, name: str, execution_id: str, action_name: str) -> list[dict[str, Any]]:
        """The runs of one action in one execution, as ListActionExecutions lists them."""
        return [r for r in self.action_runs(name, execution_id) if r["actionName"] == action_name]

    def latest_action_execution(self, name: str, stage: str) -> dict[str, Any]:
        """``latestExecution`` of the first action of ``stage`` in GetPipelineState."""
        return dict(self.stage_state(name, stage)["actionStates"][0]["latestExecution"])

    def event_states(self, detail_type: str) -> list[tuple[str, ...]]:
        out = []
        for event in self.world.events:
            if event["detail-type"] != detail_type:
                continue
            detail = event["detail"]
            key = [detail["execution-id"][:8]]
            if "stage" in detail:
                key.append(detail["stage"])
            if "action" in detail:
                key.append(detail["action"])
            key.append(detail["state"])
            out.append(tuple(key))
        return out


def three_stage(name: str = "demo", **top: Any) -> dict[str, Any]:
    build = {
        "name": "Build",
        "actions": [action("Compile", "Build", "CodeBuild", inputs=("src",), config={"ProjectName": "app"})],
    }
    return pipeline(name, source_stage(), build, deploy_stage(), **top)


@pytest.fixture
def h() -> Harness:
    harness = Harness()
    harness.world.builds.projects["app"] = (60.0, "SUCCEEDED", {"IMAGE": "app:1"})
    return harness


# -- pipeline CRUD -------------------------------------------------------------------------------------------


def test_create_pipeline_stores_version_1_with_defaults_and_starts_a_first_execution(h: Harness) -> None:
    """CreatePipeline ignores a given version, fills defaults, and starts an execution (trigger CreatePipeline)."""
    declared = three_stage(version=7)
    del declared["stages"][2]["actions"][0]["runOrder"]
    created = h.call("CreatePipeline", pipeline=declared, tags=[{"key": "team", "value": "web"}])
    assert created["pipeline"]["version"] == 1
    assert created["pipeline"]["executionMode"] == "SUPERSEDED"
    assert created["pipeline"]["stages"][2]["actions"][0]["runOrder"] == 1
    assert created["tags"] == [{"key": "team", "value": "web"}]
    (first,) = h.executions("demo")
    assert first["trigger"]["triggerType"] == "CreatePipeline"
    assert first["status"] == "InProgress"
    fetched = h.call("GetPipeline", name="demo")
    assert fetched["metadata"]["pipelineArn"] == f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:demo"
    assert fetched["metadata"]["created"] == h.clock.now()


def test_create_pipeline_errors_map_to_aws_codes(h: Harness) -> None:
    """Name in use, an unassumable role, bad structure and bad fields each get AWS's error code."""
    h.create(three_stage())
    assert h.error("CreatePipeline", pipeline=three_stage()).code == "PipelineNameInUseException"
    h.world.unassumable.add(ROLE)
    err = h.error("CreatePipeline", pipeline=three_stage("other"))
    assert (err.code, err.message) == (
        "InvalidStructureException",
        f"CodePipeline is not authorized to perform AssumeRole on role {ROLE}",
    )
    h.world.unassumable.clear()
    assert (
        h.error("CreatePipeline", pipeline=pipeline("solo", source_stage())).code
        == "InvalidStructureException"
    )
    assert h.error("CreatePipeline", pipeline=three_stage("bad name")).code == "ValidationException"
    unknown = three_stage("unknown")
    unknown["stages"][2]["actions"][0]["actionTypeId"]["provider"] = "Teleport"
    assert h.error("CreatePipeline", pipeline=unknown).code == "InvalidActionDeclarationException"
    tagged = h.error("CreatePipeline", pipeline=three_stage("tagged"), tags=[{"key": "aws:x", "value": "1"}])
    assert tagged.code == "InvalidTagsException"
    assert h.error("GetPipeline", name="nope").code == "PipelineNotFoundException"
    assert [p["name"] for p in h.call("ListPipelines")["pipelines"]] == ["demo"]


def test_update_keeps_every_version_and_delete_is_idempotent(h: Harness) -> None:
    """UpdatePipeline bumps the version and keeps old ones readable; DeletePipeline never fails."""
    h.create(three_stage())
    changed = three_stage()
    changed["stages"][2]["name"] = "Production"
    assert h.call("UpdatePipeline", pipeline=changed)["pipeline"]["version"] == 2
    assert h.call("GetPipeline", name="demo", version=1)["pipeline"]["stages"][2]["name"] == "Deploy"
    assert h.call("GetPipeline", name="demo")["pipeline"]["stages"][2]["name"] == "Production"
    assert h.error("GetPipeline", name="demo", version=3).code == "PipelineVersionNotFoundException"
    assert len(h.executions("demo")) == 1  # editing starts nothing
    h.call("DeletePipeline", name="demo")
    h.call("DeletePipeline", name="demo")
    assert h.error("GetPipelineState", name="demo").code == "PipelineNotFoundException"
    h.clock.run_until_idle()  # no timer of the deleted pipeline misbehaves
    assert h.call("ListPipelines")["pipelines"] == []


def test_list_pipelines_paginates_by_name(h: Harness) -> None:
    """ListPipelines pages through names in order; a foreign token is InvalidNextTokenException."""
    for name in ("c", "a", "b"):
        h.create(three_stage(name))
    first = h.call("ListPipelines", maxResults=2)
    second = h.call("ListPipelines", maxResults=2, nextToken=first["nextToken"])
    assert [p["name"] for p in first["pipelines"] + second["pipelines"]] == ["a", "b", "c"]
    assert "nextToken" not in second
    assert h.error("ListPipelines", nextToken="garbage").code == "InvalidNextTokenException"


def test_secrets_are_masked_and_kept_on_update(h: Harness) -> None:
    """GetPipeline masks OAuthToken; sending the mask back in UpdatePipeline keeps the stored secret."""
    github = pipeline("gh", github_source_stage("s3cret", repo_owner="o", repo="r"), deploy_stage())
    h.create(github)
    shown = h.call("GetPipeline", name="gh")["pipeline"]
    assert shown["stages"][0]["actions"][0]["configuration"]["OAuthToken"] == "****"
    h.call("UpdatePipeline", pipeline=shown)
    record = h.engine._pipelines["gh"]
    assert record.current.stages[0].actions[0].configuration["OAuthToken"] == "s3cret"


# -- execution modes -----------------------------------------------------------------------------------------


def second_execution_waiting_at_deploy(h: Harness) -> tuple[str, str]:
    """Run E1 and E2 of "demo" on a 1000 s Deploy and return their ids at t=200, E2 waiting at Deploy.

    E1: Source 0-5, Build 5-65, Deploy 65-1065. E2 starts at t=100, builds 105-165, then waits at Deploy.
    """
    h.world.default_durations["CodeDeploy"] = 1000.0
    e1 = h.create(three_stage())
    h.advance(100)
    e2 = h.start("demo")
    h.advance(100)
    return e1, e2


def test_superseded_worked_example(h: Harness) -> None:
    """Superseding: E2 waits at Deploy behind E1, E3 supersedes E2, and E3 (not E2) deploys after E1."""
    e1, e2 = second_execution_waiting_at_deploy(h)
    e3 = h.start("demo")  # Build 205-265: supersedes E2
    h.advance(60)
    deploy = h.stage_state("demo", "Deploy")
    assert deploy["inboundExecution"]["pipelineExecutionId"] == e2
    assert deploy["latestExecution"] == {
        "pipelineExecutionId": e1,
        "status": "InProgress",
        "type": "STANDARD",
    }
    h.advance(10)
    assert h.status("demo", e2) == "Superseded"
    assert h.stage_state("demo", "Deploy")["inboundExecution"]["pipelineExecutionId"] == e3
    h.advance(800)  # t=1070: E1 finished Deploy, E3 entered
    assert h.status("demo", e1) == "Succeeded"
    assert h.stage_state("demo", "Deploy")["latestExecution"]["pipelineExecutionId"] == e3
    h.clock.run_until_idle()
    assert h.status("demo", e3) == "Succeeded"
    deployed = {r["pipelineExecutionId"] for r in h.action_runs("demo") if r["stageName"] == "Deploy"}
    assert deployed == {e1, e3}
    assert tuple(e["detail"]["state"] for e in h.world.events if e["detail"].get("execution-id") == e2)[
        -1:
    ] == ("SUPERSEDED",)


def test_superseded_never_preempts_an_execution_inside_a_stage(h: Harness) -> None:
    """S6: a newer execution never cancels one that is already running inside a stage."""
    h.world.builds.projects["app"] = (500.0, "SUCCEEDED", {})
    e1 = h.create(three_stage())
    h.advance(10)  # E1 building until 505
    e2 = h.start("demo")  # finishes Source at 15, waits at Build
    h.advance(10)
    e3 = h.start("demo")  # supersedes E2 at Build's entry
    h.advance(10)
    assert h.stage_state("demo", "Build")["latestExecution"]["pipelineExecutionId"] == e1
    assert [h.status("demo", e) for e in (e1, e2, e3)] == ["InProgress", "Superseded", "InProgress"]


def test_queued_mode_runs_waiting_executions_in_arrival_order(h: Harness) -> None:
    """QUEUED: nobody is superseded; waiting executions show in inboundExecutions and enter FIFO."""
    h.world.default_durations["CodeDeploy"] = 300.0
    e1 = h.create(three_stage(pipelineType="V2", executionMode="QUEUED"))
    h.advance(1)
    e2 = h.start("demo")
    h.advance(1)
    e3 = h.start("demo")
    h.advance(200)  # all three built: E1 deploying, E2 and E3 queued
    deploy = h.stage_state("demo", "Deploy")
    assert [w["pipelineExecutionId"] for w in deploy["inboundExecutions"]] == [e2, e3]
    assert deploy["inboundExecution"]["pipelineExecutionId"] == e2
    h.clock.run_until_idle()
    assert [h.status("demo", e) for e in (e1, e2, e3)] == ["Succeeded"] * 3
    deploy_order = [
        e["detail"]["execution-id"]
        for e in h.world.events
        if e["detail"].get("stage") == "Deploy"
        and e["detail"]["state"] == "STARTED"
        and "action" not in e["detail"]
    ]
    assert deploy_order == [e1, e2, e3]


def test_parallel_executions_run_independently(h: Harness) -> None:
    """PARALLEL: no stage locks; three executions deploy at the same time and all succeed."""
    h.world.default_durations["CodeDeploy"] = 300.0
    ids = [h.create(three_stage(pipelineType="V2", executionMode="PARALLEL"))]
    ids += [h.start("demo"), h.start("demo")]
    h.advance(100)  # everyone is past Build and deploying
    running = [r for r in h.action_runs("demo") if r["stageName"] == "Deploy" and r["status"] == "InProgress"]
    assert {r["pipelineExecutionId"] for r in running} == set(ids)
    h.advance(300)
    assert [h.status("demo", e) for e in ids] == ["Succeeded"] * 3


def test_concurrency_cap_for_queued_pipelines() -> None:
    """Starting beyond the cap answers ConcurrentPipelineExecutionsLimitExceededException."""
    h = Harness(concurrent_execution_cap=2)
    h.create(pipeline("q", source_stage(), deploy_stage(), pipelineType="V2", executionMode="QUEUED"))
    h.start("q")
    err = h.error("StartPipelineExecution", name="q")
    assert err.code == "ConcurrentPipelineExecutionsLimitExceededException"


def test_client_request_token_returns_the_same_execution_and_starts_nothing(h: Harness) -> None:
    """A reused clientRequestToken answers the first execution's id; no second execution starts."""
    h.create(three_stage())
    first = h.start("demo", clientRequestToken="release-42")
    again = h.start("demo", clientRequestToken="release-42")
    assert first == again
    assert len(h.executions("demo")) == 2  # the CreatePipeline execution and one more


def test_variables_override_defaults_and_resolve_in_configuration(h: Harness) -> None:
    """V2 variables: StartPipelineExecution overrides defaults; #{variables.X} and namespaces resolve."""
    stages = [
        source_stage(),
        {
            "name": "Deploy",
            "actions": [
                action(
                    "Stack",
                    "Deploy",
                    "CloudFormation",
                    inputs=("src",),
                    config={
                        "StackName": "#{variables.ENV}-app",
                        "ParameterOverrides": "#{SourceVariables.VersionId}",
                    },
                )
            ],
        },
    ]
    h.create(pipeline("vars", *stages, pipelineType="V2", variables=[{"name": "ENV", "defaultValue": "dev"}]))
    e2 = h.start("vars", variables=[{"name": "ENV", "value": "prod"}])
    h.clock.run_until_idle()
    found = h.call("GetPipelineExecution", pipelineName="vars", pipelineExecutionId=e2)["pipelineExecution"]
    assert found["variables"] == [{"name": "ENV", "resolvedValue": "prod"}]
    (stack,) = h.runs_of("vars", e2, "Stack")
    (fetch,) = h.runs_of("vars", e2, "Fetch")
    assert stack["input"]["resolvedConfiguration"]["StackName"] == "prod-app"
    assert (
        stack["input"]["resolvedConfiguration"]["ParameterOverrides"]
        == fetch["output"]["outputVariables"]["VersionId"]
    )
    assert h.error(
        "StartPipelineExecution", name="vars", variables=[{"name": "NOPE", "value": "x"}]
    ).code == ("ValidationException")


def test_source_revisions_are_recorded_and_pinnable(h: Harness) -> None:
    """Source actions produce revisions (artifactRevisions, currentRevision); sourceRevisions pins one."""
    e1 = h.create(three_stage())
    h.advance(10)
    execution = h.call("GetPipelineExecution", pipelineName="demo", pipelineExecutionId=e1)[
        "pipelineExecution"
    ]
    (revision,) = execution["artifactRevisions"]
    assert revision["name"] == "src"
    fetch = h.stage_state("demo", "Source")["actionStates"][0]
    assert fetch["currentRevision"]["revisionId"] == revision["revisionId"]
    pinned = h.start(
        "demo",
        sourceRevisions=[
            {"actionName": "Fetch", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": "v7"}
        ],
    )
    h.advance(10)
    summary = next(s for s in h.executions("demo") if s["pipelineExecutionId"] == pinned)
    assert summary["sourceRevisions"][0]["revisionId"] == "v7"


# -- failure, retry, stop ------------------------------------------------------------------------------------


def failing_stage() -> dict[str, Any]:
    return {
        "name": "Deploy",
        "actions": [
            action("A", "Deploy", "CloudFormation", inputs=("src",), config={"StackName": "a"}),
            action("B", "Deploy", "CloudFormation", inputs=("src",), config={"StackName": "b"}),
            action("C", "Deploy", "CloudFormation", run_order=2, inputs=("src",), config={"StackName": "c"}),
        ],
    }


def create_failing_pipeline(h: Harness) -> str:
    """Create pipeline "f" (Source, then Deploy with A and B in parallel and C after them); its first run."""
    return h.create(pipeline("f", source_stage(), failing_stage()))


def fail_action_a_once(h: Harness) -> None:
    """Script the next run of action A in pipeline "f" to fail after 10 s."""
    h.world.scripts.add("f", "Deploy", "A", Script(outcome="Failed", duration=10), times=1)


def retry_request(name: str, stage: str, execution_id: str, mode: str) -> dict[str, Any]:
    """The parameters of RetryStageExecution."""
    return {"pipelineName": name, "stageName": stage, "pipelineExecutionId": execution_id, "retryMode": mode}


def test_failure_lets_siblings_finish_then_fails_stage_and_releases_the_lock(h: Harness) -> None:
    """F1-F3: B finishes after A fails, C never starts, stage and execution fail, a waiter enters."""
    h.world.scripts.add(
        "f", "Deploy", "A", Script(outcome="Failed", duration=10, error_message="boom"), times=1
    )
    h.world.scripts.add("f", "Deploy", "B", Script(duration=100), times=1)
    e1 = create_failing_pipeline(h)
    h.advance(6)  # Deploy entered at t=5
    e2 = h.start("f")  # waits at Deploy behind E1
    h.advance(50)
    deploy = h.stage_state("f", "Deploy")
    actions = {a["actionName"]: a.get("latestExecution", {}).get("status") for a in deploy["actionStates"]}
    assert actions == {"A": "Failed", "B": "InProgress", "C": None}
    assert deploy["latestExecution"]["status"] == "InProgress"
    assert h.status("f", e1) == "InProgress"
    h.advance(55)  # B done at t=105
    assert h.status("f", e1) == "Failed"
    runs = h.action_runs("f", e1)
    assert "C" not in {r["actionName"] for r in runs}
    failed_a = next(r for r in runs if r["actionName"] == "A")
    assert failed_a["output"]["executionResult"]["errorDetails"] == {"code": "JobFailed", "message": "boom"}
    assert h.stage_state("f", "Deploy")["latestExecution"]["pipelineExecutionId"] == e2  # lock released


def test_retry_failed_actions_resumes_the_same_execution(h: Harness) -> None:
    """FAILED_ACTIONS re-runs only the failed action (new run id); the execution then succeeds."""
    fail_action_a_once(h)
    e1 = create_failing_pipeline(h)
    h.clock.run_until_idle()
    assert h.status("f", e1) == "Failed"
    retried = h.call("RetryStageExecution", **retry_request("f", "Deploy", e1, "FAILED_ACTIONS"))
    assert retried["pipelineExecutionId"] == e1
    assert h.status("f", e1) == "InProgress"
    h.clock.run_until_idle()
    assert h.status("f", e1) == "Succeeded"
    names = [r["actionName"] for r in reversed(h.action_runs("f", e1)) if r["stageName"] == "Deploy"]
    assert names == ["A", "B", "A", "C"]
    deploy = h.stage_state("f", "Deploy")
    assert deploy["retryStageMetadata"] == {
        "autoStageRetryAttempt": 0,
        "manualStageRetryAttempt": 1,
        "latestRetryTrigger": "ManualStageRetry",
    }
    assert ("RESUMED",) in {(e["detail"]["state"],) for e in h.world.events}


def test_retry_all_actions_reruns_the_whole_stage(h: Harness) -> None:
    """ALL_ACTIONS re-runs every action from the first runOrder group."""
    fail_action_a_once(h)
    e1 = create_failing_pipeline(h)
    h.clock.run_until_idle()
    h.call("RetryStageExecution", **retry_request("f", "Deploy", e1, "ALL_ACTIONS"))
    h.clock.run_until_idle()
    names = sorted(r["actionName"] for r in h.action_runs("f", e1) if r["stageName"] == "Deploy")
    assert names == ["A", "A", "B", "B", "C"]
    assert h.status("f", e1) == "Succeeded"


def test_retry_error_rows(h: Harness) -> None:
    """Retry errors: not-latest, nothing failed, ALL_ACTIONS with running siblings, unknown stage."""
    fail_action_a_once(h)
    h.world.scripts.add("f", "Deploy", "B", Script(duration=100), times=1)
    e1 = create_failing_pipeline(h)
    h.advance(20)  # A failed, B still running (F4)
    all_actions = h.error("RetryStageExecution", **retry_request("f", "Deploy", e1, "ALL_ACTIONS"))
    assert all_actions.code == "StageNotRetryableException"
    h.call("RetryStageExecution", **retry_request("f", "Deploy", e1, "FAILED_ACTIONS"))
    again = h.error("RetryStageExecution", **retry_request("f", "Deploy", e1, "FAILED_ACTIONS"))
    assert again.code == "StageNotRetryableException"  # a retry is already running
    h.clock.run_until_idle()
    succeeded = h.error("RetryStageExecution", **retry_request("f", "Deploy", e1, "FAILED_ACTIONS"))
    assert succeeded.code == "StageNotRetryableException"
    fail_action_a_once(h)
    e2 = h.start("f")
    h.clock.run_until_idle()
    h.start("f")
    h.advance(10)  # the newest execution is now the latest of Deploy
    stale = h.error("RetryStageExecution", **retry_request("f", "Deploy", e2, "FAILED_ACTIONS"))
    assert stale.code == "NotLatestPipelineExecutionException"
    missing = h.error("RetryStageExecution", **retry_request("f", "Nope", e2, "FAILED_ACTIONS"))
    assert missing.code == "StageNotFoundException"
    bad = h.error("RetryStageExecution", **retry_request("f", "Deploy", e2, "SOME"))
    assert bad.code == "ValidationException"


def test_stop_and_wait_lets_running_actions_finish(h: Harness) -> None:
    """Stop (wait): Stopping until the running action ends, no later group starts, then Stopped."""
    h.world.scripts.add("f", "Deploy", "B", Script(duration=100), times=1)
    e1 = create_failing_pipeline(h)
    h.advance(70)  # A done at 55, B runs until 105
    h.call("StopPipelineExecution", pipelineName="f", pipelineExecutionId=e1, reason="hold on")
    assert h.status("f", e1) == "Stopping"
    assert h.stage_state("f", "Deploy")["latestExecution"]["status"] == "Stopping"
    dup = h.error("StopPipelineExecution", pipelineName="f", pipelineExecutionId=e1)
    assert dup.code == "DuplicatedStopRequestException"
    h.clock.run_until_idle()
    assert h.status("f", e1) == "Stopped"
    runs = {r["actionName"]: r["status"] for r in h.action_runs("f", e1)}
    assert runs == {"Fetch": "Succeeded", "A": "Succeeded", "B": "Succeeded"}
    summary = h.executions("f")[0]
    assert summary["stopTrigger"] == {"reason": "hold on"}
    late = h.error("StopPipelineExecution", pipelineName="f", pipelineExecutionId=e1)
    assert late.code == "PipelineExecutionNotStoppableException"
    stopping = [
        e["detail"]
        for e in h.world.events
        if e["detail"]["state"] == "STOPPING" and "stage" not in e["detail"]
    ]
    assert stopping[0]["stop-execution-comments"] == "hold on"


def test_stop_and_abandon_marks_running_actions_abandoned_at_once(h: Harness) -> None:
    """Stop (abandon), also as an upgrade of a pending stop: actions Abandoned, execution Stopped now."""
    h.world.scripts.add("f", "Deploy", "B", Script(duration=1000), times=1)
    e1 = create_failing_pipeline(h)
    h.advance(70)
    h.call("StopPipelineExecution", pipelineName="f", pipelineExecutionId=e1)
    h.call("StopPipelineExecution", pipelineName="f", pipelineExecutionId=e1, abandon=True)
    assert h.status("f", e1) == "Stopped"
    runs = {r["actionName"]: r["status"] for r in h.action_runs("f", e1)}
    assert runs["B"] == "Abandoned"
    assert h.stage_state("f", "Deploy")["latestExecution"]["status"] == "Stopped"
    h.call("RetryStageExecution", **retry_request("f", "Deploy", e1, "FAILED_ACTIONS"))
    h.clock.run_until_idle()
    assert h.status("f", e1) == "Succeeded"  # the stopped stage can be retried


def test_stopping_a_waiting_execution_keeps_it_out_of_the_stage(h: Harness) -> None:
    """T3: a waiting (inbound) execution stops at once and never enters, even when the stage frees up."""
    e1, e2 = second_execution_waiting_at_deploy(h)
    h.call("StopPipelineExecution", pipelineName="demo", pipelineExecutionId=e2)
    assert h.status("demo", e2) == "Stopped"
    assert h.stage_state("demo", "Deploy")["inboundExecution"]["status"] == "Stopped"
    h.clock.run_until_idle()
    assert h.status("demo", e1) == "Succeeded"
    assert e2 not in {r["pipelineExecutionId"] for r in h.action_runs("demo") if r["stageName"] == "Deploy"}
    assert (
        h.error("RetryStageExecution", **retry_request("demo", "Deploy", e2, "ALL_ACTIONS")).code
        == "NotLatestPipelineExecutionException"
    )


def test_stop_of_unknown_execution(h: Harness) -> None:
    """Stopping an id the pipeline never ran answers PipelineExecutionNotFoundException."""
    h.create(three_stage())
    err = h.error("StopPipelineExecution", pipelineName="demo", pipelineExecutionId=str(uuid.UUID(int=1)))
    assert err.code == "PipelineExecutionNotFoundException"
    assert (
        h.error("StopPipelineExecution", pipelineName="demo", pipelineExecutionId="x").code
        == "ValidationException"
    )


# -- transitions ---------------------------------------------------------------------------------------------


def transition_request(name: str, stage: str, direction: str = "Inbound", **reason: str) -> dict[str, Any]:
    """The parameters of Disable/EnableStageTransition (pass ``reason=`` to disable)."""
    return {"pipelineName": name, "stageName": stage, "transitionType": direction, **reason}


def test_disabled_inbound_transition_holds_the_latest_execution(h: Harness) -> None:
    """T1/T2: executions wait at a disabled transition, newer ones supersede; enable admits the latest."""
    h.call("CreatePipeline", pipeline=three_stage())
    h.call("DisableStageTransition", **transition_request("demo", "Deploy", reason="freeze"))
    h.call("DisableStageTransition", **transition_request("demo", "Deploy", reason="freeze"))
    deploy = h.stage_state("demo", "Deploy")
    assert deploy["inboundTransitionState"] == {
        "enabled": False,
        "lastChangedBy": CALLER,
        "lastChangedAt": h.clock.now(),
        "disabledReason": "freeze",
    }
    h.advance(100)
    e2 = h.start("demo")
    h.advance(100)
    assert h.stage_state("demo", "Deploy")["inboundExecution"]["status"] == "InProgress"
    assert "latestExecution" not in h.stage_state("demo", "Deploy")
    h.call("EnableStageTransition", **transition_request("demo", "Deploy"))
    h.call("EnableStageTransition", **transition_request("demo", "Deploy"))
    assert h.stage_state("demo", "Deploy")["latestExecution"]["pipelineExecutionId"] == e2
    statuses = [s["status"] for s in h.executions("demo")]
    assert statuses == ["InProgress", "Superseded"]
    reason = h.error("DisableStageTransition", **transition_request("demo", "Deploy", reason="a,b"))
    assert reason.code == "ValidationException"


def test_outbound_transition_blocks_the_next_stage(h: Harness) -> None:
    """Outbound on Build keeps executions out of Deploy until enabled."""
    e1 = h.create(three_stage())
    h.call("DisableStageTransition", **transition_request("demo", "Build", "Outbound", reason="wait"))
    h.advance(500)
    assert h.stage_state("demo", "Deploy")["inboundExecution"]["pipelineExecutionId"] == e1
    h.call("EnableStageTransition", **transition_request("demo", "Build", "Outbound"))
    h.clock.run_until_idle()
    assert h.status("demo", e1) == "Succeeded"


def test_transition_disabled_longer_than_30_days_does_not_resume(h: Harness) -> None:
    """T4: re-enabling after 30 days does not admit the waiting execution."""
    e1 = h.create(three_stage())
    h.call("DisableStageTransition", **transition_request("demo", "Deploy", reason="x"))
    h.advance(31 * 24 * 3600)
    h.call("EnableStageTransition", **transition_request("demo", "Deploy"))
    assert h.status("demo", e1) == "Cancelled"
    assert "latestExecution" not in h.stage_state("demo", "Deploy")


# -- approvals -----------------------------------------------------------------------------------------------


def approval_pipeline(name: str = "ap", timeout: int | None = None, **top: Any) -> dict[str, Any]:
    approve = action(
        "Approve",
        "Approval",
        "Manual",
        config={
            "NotificationArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:approvals",
            "CustomData": "ship #{SourceVariables.VersionId}?",
            "ExternalEntityLink": "https://example.com/review",
        },
    )
    if timeout is not None:
        approve["timeoutInMinutes"] = timeout
    return pipeline(name, source_stage(), {"name": "Gate", "actions": [approve]}, deploy_stage(), **top)


def pending_token(h: Harness, name: str = "ap") -> str:
    latest = h.latest_action_execution(name, "Gate")
    return str(latest["token"])


def approval_answer(
    token: str,
    status: str = "Approved",
    summary: str = "",
    *,
    stage: str = "Gate",
    action_name: str = "Approve",
) -> dict[str, Any]:
    """The parameters of PutApprovalResult for an action of ``approval_pipeline()``."""
    return {
        "pipelineName": "ap",
        "stageName": stage,
        "actionName": action_name,
        "result": {"status": status, "summary": summary},
        "token": token,
    }


def test_approval_lifecycle_and_token_rules(h: Harness) -> None:
    """A pending approval shows its token and notifies SNS; approving completes it; reuse is rejected."""
    e1 = h.create(approval_pipeline())
    h.advance(10)
    token = pending_token(h)
    ((topic, message, subject),) = h.world.sns
    body = json.loads(message)
    assert topic.endswith(":approvals")
    assert subject == "APPROVAL NEEDED: AWS CodePipeline ap for action Approve"
    assert body["approval"]["token"] == token
    assert body["approval"]["approvalReviewLink"].endswith(
        f"/ap/view?region=us-east-1#/Gate/Approve/approve/{token}"
    )
    assert body["approval"]["customData"].startswith("ship ")
    assert "#{" not in body["approval"]["customData"]
    assert body["approval"]["expires"] == "2026-01-08T00:00Z"
    wrong = h.error(
        "PutApprovalResult",
        **approval_answer(str(uuid.UUID(int=5))),
    )
    assert wrong.code == "InvalidApprovalTokenException"
    answer = h.call("PutApprovalResult", **approval_answer(token, "Approved", "looks good"))
    assert answer["approvedAt"] == h.clock.now()
    latest = h.latest_action_execution("ap", "Gate")
    assert (latest["status"], latest["summary"], latest["lastUpdatedBy"]) == (
        "Succeeded",
        "looks good",
        CALLER,
    )
    assert "token" not in latest
    reused = h.error("PutApprovalResult", **approval_answer(token))
    assert reused.code == "ApprovalAlreadyCompletedException"
    h.clock.run_until_idle()
    assert h.status("ap", e1) == "Succeeded"
    not_approval = h.error("PutApprovalResult", **approval_answer(token, stage="Deploy", action_name="Ship"))
    assert not_approval.code == "ActionNotFoundException"


def test_rejection_fails_and_a_retry_mints_a_fresh_token(h: Harness) -> None:
    """Rejected -> action/stage/execution Failed; the retried approval has a new token."""
    e1 = h.create(approval_pipeline())
    h.advance(10)
    first = pending_token(h)
    h.call("PutApprovalResult", **approval_answer(first, "Rejected", "no"))
    assert h.status("ap", e1) == "Failed"
    h.call("RetryStageExecution", **retry_request("ap", "Gate", e1, "FAILED_ACTIONS"))
    second = pending_token(h)
    assert second != first
    assert (
        h.error("PutApprovalResult", **approval_answer(first, "Rejected", "no")).code
        == "ApprovalAlreadyCompletedException"
    )


def test_approval_expires_at_its_timeout(h: Harness) -> None:
    """No answer within timeoutInMinutes -> Failed; the token is then invalid."""
    e1 = h.create(approval_pipeline(timeout=10))
    h.advance(10)
    token = pending_token(h)
    h.advance(10 * 60)
    assert h.status("ap", e1) == "Failed"
    latest = h.latest_action_execution("ap", "Gate")
    assert latest["status"] == "Failed"
    assert latest["errorDetails"]["code"] == "JobFailed"
    expired = h.error("PutApprovalResult", **approval_answer(token))
    assert expired.code == "InvalidApprovalTokenException"


def test_parallel_approval_token_comes_from_list_action_executions(h: Harness) -> None:
    """P2: no token in GetPipelineState; ListActionExecutions' externalExecutionId is the token."""
    e1 = h.create(approval_pipeline(pipelineType="V2", executionMode="PARALLEL"))
    h.advance(10)
    assert "token" not in h.latest_action_execution("ap", "Gate")
    (run,) = h.runs_of("ap", e1, "Approve")
    token = run["output"]["executionResult"]["externalExecutionId"]
    h.call("PutApprovalResult", **approval_answer(token, "Approved", "ok"))
    h.clock.run_until_idle()
    assert h.status("ap", e1) == "Succeeded"


# -- Lambda and custom jobs ----------------------------------------------------------------------------------


def lambda_pipeline(name: str = "lam") -> dict[str, Any]:
    invoke = action(
        "Check",
        "Invoke",
        "Lambda",
        inputs=("src",),
        config={"FunctionName": "checker", "UserParameters": "#{SourceVariables.VersionId}"},
        namespace="CheckVars",
    )
    use = action(
        "Stack", "Deploy", "CloudFormation", inputs=("src",), config={"StackName": "#{CheckVars.stack}"}
    )
    return pipeline(
        name, source_stage(), {"name": "Invoke", "actions": [invoke]}, {"name": "Deploy", "actions": [use]}
    )


def test_lambda_job_with_continuation_and_output_variables(h: Harness) -> None:
    """The handler gets a CodePipeline.job event; a continuation calls it again with a new job id."""
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        job = event["CodePipeline.job"]
        seen.append(job)
        data = job["data"]
        if "continuationToken" not in data:
            h.call("PutJobSuccessResult", jobId=job["id"], continuationToken="step-2")
        else:
            h.call("PutJobSuccessResult", jobId=job["id"], outputVariables={"stack": "blue"})

    h.world.lambdas["checker"] = handler
    e1 = h.create(lambda_pipeline())
    h.clock.run_until_idle()
    assert h.status("lam", e1) == "Succeeded"
    first, second = seen
    assert first["id"] != second["id"]
    assert first["accountId"] == ACCOUNT
    assert "pipelineContext" not in first["data"]
    assert "actionTypeId" not in first["data"]
    assert first["data"]["actionConfiguration"]["configuration"]["FunctionName"] == "checker"
    assert "#{" not in first["data"]["actionConfiguration"]["configuration"]["UserParameters"]
    assert first["data"]["inputArtifacts"][0]["location"]["s3Location"]["bucketName"] == "artifact-bucket"
    assert set(first["data"]["artifactCredentials"]) == {
        "accessKeyId",
        "secretAccessKey",
        "sessionToken",
        "expirationTime",
    }
    assert second["data"]["continuationToken"] == "step-2"
    (check,) = h.runs_of("lam", e1, "Check")
    assert check["output"]["outputVariables"] == {"stack": "blue"}
    (stack,) = h.runs_of("lam", e1, "Stack")
    assert stack["input"]["resolvedConfiguration"]["StackName"] == "blue"
    finished = h.error("PutJobSuccessResult", jobId=second["id"])
    assert finished.code == "InvalidJobStateException"
    assert h.error("PutJobSuccessResult", jobId=str(uuid.UUID(int=9))).code == "JobNotFoundException"


def test_lambda_failure_result_fails_the_action(h: Harness) -> None:
    """PutJobFailureResult -> action Failed with the given type and message."""

    def handler(event: dict[str, Any], context: Any) -> None:
        job_id = event["CodePipeline.job"]["id"]
        h.call(
            "PutJobFailureResult", jobId=job_id, failureDetails={"type": "JobFailed", "message": "tests red"}
        )

    h.world.lambdas["checker"] = handler
    e1 = h.create(lambda_pipeline())
    h.clock.run_until_idle()
    assert h.status("lam", e1) == "Failed"
    latest = h.latest_action_execution("lam", "Invoke")
    assert latest["errorDetails"] == {"code": "JobFailed", "message": "tests red"}


def test_lambda_without_handler_times_out_after_20_minutes(h: Harness) -> None:
    """No answer within 20 minutes fails the action; late answers are InvalidJobStateException."""
    e1 = h.create(lambda_pipeline())
    h.advance(10)
    job_id = h.engine.scheduler.jobs.by_id[next(iter(h.engine.scheduler.jobs.by_id))].id
    h.advance(19 * 60)
    assert h.status("lam", e1) == "InProgress"
    h.advance(60)
    assert h.status("lam", e1) == "Failed"
    assert h.error("PutJobSuccessResult", jobId=job_id).code == "InvalidJobStateException"


def test_output_variables_size_and_continuation_rules(h: Harness) -> None:
    """Output variables over 122,880 bytes, or sent with a continuation token, are rejected."""
    h.create(lambda_pipeline())
    h.advance(10)
    job_id = next(iter(h.engine.scheduler.jobs.by_id))
    big = {f"k{i}": "x" * 1000 for i in range(125)}
    assert h.error("PutJobSuccessResult", jobId=job_id, outputVariables=big).code == (
        "OutputVariablesSizeExceededException"
    )
    both = h.error("PutJobSuccessResult", jobId=job_id, outputVariables={"a": "b"}, continuationToken="c")
    assert both.code == "ValidationException"


def test_a_raising_handler_fails_the_action() -> None:
    """A handler that raises fails the action at once (setting lambda_errors_fail_action)."""
    h = Harness()

    def handler(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("kaput")

    h.world.lambdas["checker"] = handler
    e1 = h.create(lambda_pipeline())
    h.advance(10)
    assert h.status("lam", e1) == "Failed"


def test_custom_action_job_worker_flow(h: Harness) -> None:
    """PollForJobs hands out Custom jobs; AcknowledgeJob checks the nonce; results finish the action."""
    custom = action("Scan", "Test", "Scanner", owner="Custom", inputs=("src",), config={"Profile": "strict"})
    e1 = h.create(pipeline("cu", source_stage(), {"name": "Scan", "actions": [custom]}))
    h.advance(10)
    type_id = {"category": "Test", "owner": "Custom", "provider": "Scanner", "version": "1"}
    assert h.call("PollForJobs", actionTypeId=type_id, queryParam={"Profile": "lax"})["jobs"] == []
    (job,) = h.call("PollForJobs", actionTypeId=type_id, maxBatchSize=5)["jobs"]
    assert job["data"]["pipelineContext"]["pipelineExecutionId"] == e1
    assert h.call("PollForJobs", actionTypeId=type_id)["jobs"] == []
    assert h.error("AcknowledgeJob", jobId=job["id"], nonce="wrong").code == "InvalidNonceException"
    assert h.call("AcknowledgeJob", jobId=job["id"], nonce=job["nonce"]) == {"status": "InProgress"}
    details = h.call("GetJobDetails", jobId=job["id"])["jobDetails"]
    assert details["data"]["actionTypeId"] == type_id
    h.call(
        "PutJobSuccessResult", jobId=job["id"], executionDetails={"summary": "clean", "percentComplete": 100}
    )
    h.clock.run_until_idle()
    assert h.status("cu", e1) == "Succeeded"
    aws_type = dict(type_id, owner="AWS")
    assert h.error("PollForJobs", actionTypeId=aws_type).code == "ActionTypeNotFoundException"


# -- CodeBuild actions ---------------------------------------------------------------------------------------


def test_codebuild_action_runs_a_build_and_exports_variables(h: Harness) -> None:
    """The action's externalExecutionId is the build id; exported variables become output variables."""
    e1 = h.create(three_stage())
    h.advance(10)
    (build,) = h.world.builds.started
    assert build["initiator"] == "codepipeline/demo"
    assert build["sourceVersion"].startswith("arn:aws:s3:::artifact-bucket/")
    compile_state = h.stage_state("demo", "Build")["actionStates"][0]
    assert compile_state["latestExecution"]["externalExecutionId"] == build["id"]
    h.clock.run_until_idle()
    (run,) = h.runs_of("demo", e1, "Compile")
    assert run["output"]["outputVariables"] == {"IMAGE": "app:1"}


def test_codebuild_missing_project_or_failed_build_fails_the_action(h: Harness) -> None:
    """A missing project fails with 'Error calling startBuild'; a FAILED build with its state."""
    del h.world.builds.projects["app"]
    e1 = h.create(three_stage())
    h.advance(10)
    assert h.status("demo", e1) == "Failed"
    error = h.latest_action_execution("demo", "Build")["errorDetails"]
    assert error["message"].startswith("Error calling startBuild: Project cannot be found")
    h.world.builds.projects["app"] = (30.0, "FAILED", {})
    e2 = h.start("demo")
    h.clock.run_until_idle()
    assert h.status("demo", e2) == "Failed"
    error = h.latest_action_execution("demo", "Build")["errorDetails"]
    assert error == {"code": "JobFailed", "message": "Build terminated with state: FAILED"}


# -- UpdatePipeline during a run -----------------------------------------------------------------------------


def test_update_during_run_cancels_after_running_actions_finish(h: Harness) -> None:
    """F6/T6: the running action finishes, then stage and execution are Cancelled; waiters at once."""
    e1, e2 = second_execution_waiting_at_deploy(h)
    h.call("UpdatePipeline", pipeline=three_stage())
    assert h.status("demo", e2) == "Cancelled"
    assert h.status("demo", e1) == "InProgress"
    h.clock.run_until_idle()
    assert h.status("demo", e1) == "Cancelled"
    ship = h.runs_of("demo", e1, "Ship")[0]
    assert ship["status"] == "Succeeded"
    assert h.stage_state("demo", "Deploy")["latestExecution"]["status"] == "Cancelled"
    assert len(h.executions("demo")) == 2
    canceled = [e["detail"]["state"] for e in h.world.events if e["detail"].get("execution-id") == e1]
    assert canceled[-1] == "CANCELED"
    stale = h.error("RetryStageExecution", **retry_request("demo", "Deploy", e1, "ALL_ACTIONS"))
    assert stale.code == "StageNotRetryableException"


# -- events --------------------------------------------------------------------------------------------------


def test_events_follow_every_state_change_in_order(h: Harness) -> None:
    """Pipeline, stage and action events come in state-change order with AWS's envelope."""
    e1 = h.create(pipeline("ev", source_stage(), deploy_stage()))
    h.clock.run_until_idle()
    short = e1[:8]
    sequence = [
        (
            e["detail-type"].split()[1],
            e["detail"].get("stage"),
            e["detail"].get("action"),
            e["detail"]["state"],
        )
        for e in h.world.events
    ]
    assert sequence == [
        ("Pipeline", None, None, "STARTED"),
        ("Stage", "Source", None, "STARTED"),
        ("Action", "Source", "Fetch", "STARTED"),
        ("Action", "Source", "Fetch", "SUCCEEDED"),
        ("Stage", "Source", None, "SUCCEEDED"),
        ("Stage", "Deploy", None, "STARTED"),
        ("Action", "Deploy", "Ship", "STARTED"),
        ("Action", "Deploy", "Ship", "SUCCEEDED"),
        ("Stage", "Deploy", None, "SUCCEEDED"),
        ("Pipeline", None, None, "SUCCEEDED"),
    ]
    first = h.world.events[0]
    assert first["source"] == "aws.codepipeline"
    assert first["resources"] == [f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:ev"]
    assert first["time"] == "2026-01-01T00:00:00Z"
    assert first["detail"]["execution-trigger"]["trigger-type"] == "CreatePipeline"
    assert first["detail"]["execution-id"].startswith(short)
    ship_done = h.world.events[7]["detail"]
    assert ship_done["type"] == {
        "owner": "AWS",
        "category": "Deploy",
        "provider": "CodeDeploy",
        "version": "1",
    }
    assert ship_done["execution-result"]["external-execution-id"].startswith("d-")


# -- rollback and stage conditions ---------------------------------------------------------------------------


def test_manual_rollback_reruns_the_stage_with_the_target_revisions(h: Harness) -> None:
    """RollbackStage starts a ROLLBACK execution that re-runs only that stage with the target's revisions."""
    e1 = h.create(three_stage(pipelineType="V2"))
    h.clock.run_until_idle()
    e2 = h.start("demo")
    h.clock.run_until_idle()
    rollback = h.call("RollbackStage", pipelineName="demo", stageName="Deploy", targetPipelineExecutionId=e1)
    rid = rollback["pipelineExecutionId"]
    assert rid not in (e1, e2)
    h.clock.run_until_idle()
    found = h.call("GetPipelineExecution", pipelineName="demo", pipelineExecutionId=rid)["pipelineExecution"]
    assert found["executionType"] == "ROLLBACK"
    assert found["trigger"]["triggerType"] == "ManualRollback"
    assert found["rollbackMetadata"] == {"rollbackTargetPipelineExecutionId": e1}
    assert found["status"] == "Succeeded"
    assert {r["stageName"] for r in h.action_runs("demo", rid)} == {"Deploy"}
    assert h.stage_state("demo", "Deploy")["latestExecution"]["type"] == "ROLLBACK"
    source = h.error("RollbackStage", pipelineName="demo", stageName="Source", targetPipelineExecutionId=e1)
    assert source.code == "UnableToRollbackStageException"
    nested = h.error("RollbackStage", pipelineName="demo", stageName="Deploy", targetPipelineExecutionId=rid)
    assert nested.code == "UnableToRollbackStageException"
    unknown = h.error(
        "RollbackStage",
        pipelineName="demo",
        stageName="Deploy",
        targetPipelineExecutionId=str(uuid.UUID(int=3)),
    )
    assert unknown.code == "PipelineExecutionNotFoundException"


def test_automatic_retry_then_rollback_on_failure(h: Harness) -> None:
    """onFailure: one automatic retry, then an automatic rollback to the last good execution."""
    deploy = deploy_stage(
        onFailure={"result": "ROLLBACK", "retryConfiguration": {"retryMode": "FAILED_ACTIONS"}}
    )
    good = h.create(pipeline("ar", source_stage(), deploy, pipelineType="V2"))
    h.clock.run_until_idle()
    h.world.scripts.add("ar", "Deploy", "Ship", Script(outcome="Failed", duration=10), times=2)
    bad = h.start("ar")
    h.clock.run_until_idle()
    assert h.status("ar", bad) == "Failed"
    ship_runs = h.runs_of("ar", bad, "Ship")
    assert len(ship_runs) == 2  # the automatic retry ran once
    newest = h.executions("ar")[0]
    assert newest["trigger"]["triggerType"] == "AutomatedRollback"
    assert newest["rollbackMetadata"] == {"rollbackTargetPipelineExecutionId": good}
    assert newest["status"] == "Succeeded"


def test_before_entry_variable_check_fails_or_skips(h: Harness) -> None:
    """beforeEntry rules: a failing VariableCheck fails the stage (FAIL) or skips it (SKIP)."""

    only_prod = condition_rule(
        "OnlyProd", "VariableCheck", Variable="#{variables.ENV}", Value="prod", Operator="EQ"
    )
    for result, expected in (("FAIL", "Failed"), ("SKIP", "Succeeded")):
        name = f"c-{result.lower()}"
        e1 = h.create(
            pipeline(
                name,
                source_stage(),
                deploy_stage(beforeEntry=conditions(result, only_prod)),
                pipelineType="V2",
                variables=[{"name": "ENV", "defaultValue": "dev"}],
            )
        )
        h.clock.run_until_idle()
        assert h.status(name, e1) == expected
        assert not [r for r in h.action_runs(name, e1) if r["stageName"] == "Deploy"]
        condition = h.stage_state(name, "Deploy")["beforeEntryConditionState"]
        assert condition["latestExecution"]["status"] == "Failed"
        rules = h.call("ListRuleExecutions", pipelineName=name)["ruleExecutionDetails"]
        assert rules[0]["status"] == "Failed"


def test_override_stage_condition_lets_the_stage_proceed(h: Harness) -> None:
    """OverrideStageCondition on an in-progress beforeEntry condition enters the stage."""
    h.world.default_durations["Rule:DeploymentWindow"] = 3600.0
    window = condition_rule("Window", "DeploymentWindow", Cron="0 9 ? * MON-FRI *")
    deploy = deploy_stage(beforeEntry=conditions("FAIL", window))
    e1 = h.create(pipeline("ov", source_stage(), deploy, pipelineType="V2"))
    h.advance(10)
    assert (
        h.stage_state("ov", "Deploy")["beforeEntryConditionState"]["latestExecution"]["status"]
        == "InProgress"
    )
    override = {
        "pipelineName": "ov",
        "stageName": "Deploy",
        "pipelineExecutionId": e1,
        "conditionType": "BEFORE_ENTRY",
    }
    h.call("OverrideStageCondition", **override)
    assert (
        h.stage_state("ov", "Deploy")["beforeEntryConditionState"]["latestExecution"]["status"]
        == "Overridden"
    )
    again = h.error("OverrideStageCondition", **override)
    assert again.code == "ConditionNotOverridableException"
    h.advance(200)
    assert h.status("ov", e1) == "Succeeded"


# -- reads and pushes ----------------------------------------------------------------------------------------


def test_list_pipeline_executions_newest_first_paginated_and_filtered(h: Harness) -> None:
    """Newest first, stable pages, and succeededInStage keeps only executions that passed that stage."""
    ids = [h.create(three_stage())]
    h.clock.run_until_idle()
    h.world.scripts.add("demo", "Deploy", "Ship", Script(outcome="Failed"), times=1)
    ids.append(h.start("demo"))
    h.clock.run_until_idle()
    ids.append(h.start("demo"))
    h.clock.run_until_idle()
    first = h.call("ListPipelineExecutions", pipelineName="demo", maxResults=2)
    h.start("demo")  # a new execution does not shift the next page
    second = h.call("ListPipelineExecutions", pipelineName="demo", maxResults=2, nextToken=first["nextToken"])
    listed = [
        s["pipelineExecutionId"]
        for s in first["pipelineExecutionSummaries"] + second["pipelineExecutionSummaries"]
    ]
    assert listed == ids[::-1]
    deployed = h.call(
        "ListPipelineExecutions", pipelineName="demo", filter={"succeededInStage": {"stageName": "Deploy"}}
    )
    assert [s["pipelineExecutionId"] for s in deployed["pipelineExecutionSummaries"]] == [ids[2], ids[0]]


def test_push_revision_respects_triggers_and_change_detection(h: Harness) -> None:
    """V2 triggers filter pushes by branch, tag and file path; PollForSourceChanges=false starts nothing."""
    connection = action(
        "Code",
        "Source",
        "CodeStarSourceConnection",
        outputs=("src",),
        config={
            "ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/x",
            "FullRepositoryId": "o/r",
            "BranchName": "main",
        },
    )
    trigger = {
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {
            "sourceActionName": "Code",
            "push": [
                {
                    "branches": {"includes": ["release/**"]},
                    "filePaths": {"includes": ["src/**"], "excludes": ["**/*.md"]},
                },
                {"tags": {"includes": ["v*"]}},
            ],
        },
    }
    h.create(
        pipeline(
            "tr",
            {"name": "Source", "actions": [connection]},
            deploy_stage(),
            pipelineType="V2",
            triggers=[trigger],
        )
    )
    assert h.engine.push_revision("tr", branch="main", file_paths=["src/a.py"]) is None
    assert h.engine.push_revision("tr", branch="release/1.2", file_paths=["docs/readme.md"]) is None
    started = h.engine.push_revision(
        "tr", branch="release/1.2", file_paths=["src/app/main.py"], revision_id="a" * 40
    )
    assert started is not None
    summary = next(s for s in h.executions("tr") if s["pipelineExecutionId"] == started)
    assert summary["trigger"]["triggerType"] == "WebhookV2"
    assert summary["sourceRevisions"][0]["revisionId"] == "a" * 40
    assert h.engine.push_revision("tr", tag="v1.0.0") is not None
    assert h.engine.push_revision("tr", tag="nightly") is None
    h.create(pipeline("quiet", source_stage(PollForSourceChanges="false"), deploy_stage()))
    assert h.engine.push_revision("quiet") is None
    h.create(pipeline("polled", source_stage(), deploy_stage()))
    polled = h.engine.push_revision("polled")
    assert polled is not None
    with pytest.raises(LookupError):
        h.engine.push_revision("missing")


def test_put_action_revision_starts_once_per_revision(h: Harness) -> None:
    """PutActionRevision starts an execution for a new revision only."""
    h.create(three_stage())
    revision = {"revisionId": "v1", "revisionChangeId": "c1", "created": h.clock.now()}
    put = {"pipelineName": "demo", "stageName": "Source", "actionName": "Fetch", "actionRevision": revision}
    first = h.call("PutActionRevision", **put)
    again = h.call("PutActionRevision", **put)
    assert first["newRevision"] is True
    assert again == {
        "newRevision": False,
        "pipelineExecutionId": first["pipelineExecutionId"],
    }


def test_tags_round_trip(h: Harness) -> None:
    """TagResource / UntagResource / ListTagsForResource work on pipeline ARNs."""
    h.create(three_stage())
    arn = f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:demo"
    h.call("TagResource", resourceArn=arn, tags=[{"key": "b", "value": "2"}, {"key": "a", "value": "1"}])
    h.call("UntagResource", resourceArn=arn, tagKeys=["b"])
    assert h.call("ListTagsForResource", resourceArn=arn)["tags"] == [{"key": "a", "value": "1"}]
    missing = h.error("ListTagsForResource", resourceArn=f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:nope")
    assert missing.code == "ResourceNotFoundException"


def test_a_handler_calling_back_sees_consistent_state(h: Harness) -> None:
    """A Lambda handler may read the pipeline state through the engine while its job is running."""
    observed: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        observed.append(h.latest_action_execution("lam", "Invoke")["status"])
        assert context.get_remaining_time_in_millis() > 0
        h.call("PutJobSuccessResult", jobId=event["CodePipeline.job"]["id"], outputVariables={"stack": "s"})

    h.world.lambdas["checker"] = handler
    h.create(lambda_pipeline())
    h.clock.run_until_idle()
    assert observed == ["InProgress"]


# -- review follow-ups: scripted rules, settings, secrets, rollback loops ------------------------------------


def test_a_scripted_rule_fails_its_condition_once_then_rules_succeed(h: Harness) -> None:
    """A rule of any provider scripted Failed fails its condition (RuleFailed, the script's summary as
    message, after the scripted duration); once its one use is spent the rule succeeds again."""
    alarm = condition_rule("Alarm", "CloudWatchAlarm", AlarmName="errors")
    deploy = deploy_stage(beforeEntry=conditions("FAIL", alarm))
    h.world.scripts.add_rule(
        "sr", "Deploy", "Alarm", RuleScript(outcome="Failed", duration=30, summary="errors in ALARM"), times=1
    )
    e1 = h.create(pipeline("sr", source_stage(), deploy, pipelineType="V2"))
    h.clock.run_until_idle()
    assert h.status("sr", e1) == "Failed"
    assert not [r for r in h.action_runs("sr", e1) if r["stageName"] == "Deploy"]
    [rule] = h.call("ListRuleExecutions", pipelineName="sr")["ruleExecutionDetails"]
    assert rule["status"] == "Failed"
    assert rule["output"]["executionResult"]["errorDetails"] == {
        "code": "RuleFailed",
        "message": "errors in ALARM",
    }
    assert rule["output"]["executionResult"]["externalExecutionSummary"] == "errors in ALARM"
    assert rule["lastUpdateTime"] - rule["startTime"] == 30
    e2 = h.start("sr")
    h.clock.run_until_idle()
    assert h.status("sr", e2) == "Succeeded"


def test_a_failed_rollback_is_not_rolled_back_again(h: Harness) -> None:
    """onFailure ROLLBACK rolls a failed execution back once; when the rollback fails too, nothing more starts
    (before, each failed rollback started another one, for ever)."""
    good = h.create(
        pipeline("rb", source_stage(), deploy_stage(onFailure={"result": "ROLLBACK"}), pipelineType="V2")
    )
    h.clock.run_until_idle()
    h.world.scripts.add("rb", "Deploy", "Ship", Script(outcome="Failed", duration=10))  # every run fails
    bad = h.start("rb")
    h.clock.run_until_idle(limit=3600.0)
    summaries = h.executions("rb")
    assert [(s["trigger"]["triggerType"], s["status"]) for s in summaries] == [
        ("AutomatedRollback", "Failed"),
        ("StartPipelineExecution", "Failed"),
        ("CreatePipeline", "Succeeded"),
    ]
    assert [s["pipelineExecutionId"] for s in summaries[1:]] == [bad, good]
    assert h.clock.pending() == 0


def test_engine_settings_have_one_source_of_truth(h: Harness) -> None:
    """Assigning engine.settings changes what the runtime does at once (here: the default approval timeout);
    anything but a CodePipelineSettings is refused with TypeError."""
    h.engine.settings = attrs.evolve(h.engine.settings, approval_timeout_seconds=600.0)
    assert h.engine.settings is h.engine.scheduler.settings
    e1 = h.create(approval_pipeline())
    h.advance(5 + 599)  # the source takes 5 s, then the approval waits
    assert h.status("ap", e1) == "InProgress"
    h.advance(2)
    assert h.status("ap", e1) == "Failed"
    with pytest.raises(TypeError):
        h.engine.settings = {"approval_timeout_seconds": 60}  # type: ignore[assignment]
    assert h.engine.settings.approval_timeout_seconds == 600.0


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"concurrent_execution_cap": 0}, ValueError),
        ({"concurrent_execution_cap": 2.5}, TypeError),
        ({"pipeline_limit": -1}, ValueError),
        ({"default_pipeline_type": "V3"}, ValueError),
        ({"waiting_status_on_update": "Stopped"}, ValueError),
        ({"approval_timeout_seconds": -1.0}, ValueError),
        ({"lambda_errors_fail_action": "yes"}, TypeError),
    ],
)
def test_settings_refuse_values_out_of_range(changes: dict[str, Any], error: type[Exception]) -> None:
    """CodePipelineSettings rejects a bad value with a typed error instead of misbehaving later."""
    with pytest.raises(error):
        CodePipelineSettings(**changes)


def _secret_pipeline() -> dict[str, Any]:
    gate = condition_rule(
        "OnlyMain", "VariableCheck", Variable="#{variables.BRANCH}", Value="main", Operator="EQ"
    )
    invoke = action("Check", "Invoke", "Lambda", config={"FunctionName": "unanswered"})
    review = {
        "name": "Review",
        "actions": [action("Approve", "Approval", "Manual"), invoke],
        "beforeEntry": conditions("FAIL", gate),
    }
    return pipeline(
        "sec",
        github_source_stage("ghp_TOPSECRET0123456789", repo_owner="octo", repo="app"),
        review,
        pipelineType="V2",
        variables=[{"name": "BRANCH", "defaultValue": "main"}],
    )


def test_records_never_show_secrets_in_their_repr(h: Harness) -> None:
    """repr() of every engine record is short and shows no approval token, job nonce, artifact credential or
    OAuthToken, although the records form a graph that reaches all of them (reprs end up in logs)."""
    h.create(_secret_pipeline())
    h.advance(60)
    record = h.engine._pipelines["sec"]
    [token] = record.approvals
    [job] = h.engine.scheduler.jobs.by_id.values()
    secrets = [token, job.nonce, *job.credentials.values(), "ghp_TOPSECRET0123456789"]
    [execution] = record.executions.values()
    stage_run = execution.stage_runs["Review"]
    records: list[object] = [
        record,
        record.current,
        *record.current.stages,
        *record.current.stages[0].actions,
        *record.slots.values(),
        execution,
        stage_run,
        *stage_run.current.values(),
        *stage_run.conditions.values(),
        *execution.rule_runs,
        job,
    ]
    for item in records:
        shown = repr(item)
        assert len(shown) < 200, shown
        assert not [secret for secret in secrets if secret in shown], shown


def test_list_action_executions_masks_secret_configuration(h: Harness) -> None:
    """ListActionExecutions shows an OAuthToken as GetPipeline does, masked, in both configurations."""
    e1 = h.create(_secret_pipeline())
    h.advance(60)
    [source] = h.runs_of("sec", e1, "Fetch")
    assert source["input"]["configuration"]["OAuthToken"] == "****"
    assert source["input"]["resolvedConfiguration"]["OAuthToken"] == "****"
    assert source["input"]["configuration"]["Repo"] == "app"
    assert "ghp_TOPSECRET" not in json.dumps(h.call("ListActionExecutions", pipelineName="sec"))


def test_approval_errors_never_repeat_the_token(h: Harness) -> None:
    """A token refused for the wrong action, or resent after its answer, is not echoed in the error message
    (it may be another action's live token, and error messages end up in logs)."""
    second = action("Second", "Approval", "Manual")
    declared = approval_pipeline()
    declared["stages"][1]["actions"].append(second)
    h.create(declared)
    h.advance(10)
    token = pending_token(h)
    answer = {"pipelineName": "ap", "stageName": "Gate", "result": {"status": "Approved", "summary": ""}}
    wrong_action = h.error("PutApprovalResult", actionName="Second", token=token, **answer)
    assert wrong_action.code == "InvalidApprovalTokenException"
    h.call("PutApprovalResult", actionName="Approve", token=token, **answer)
    resent = h.error("PutApprovalResult", actionName="Approve", token=token, **answer)
    assert resent.code == "ApprovalAlreadyCompletedException"
    assert token not in wrong_action.message
    assert token not in resent.message


def test_a_finished_execution_keeps_each_artifact_once_as_a_compact_record(h: Harness) -> None:
    """A finished execution keeps one slotted record per artifact, shared by the run that wrote it and the
    runs that read it, and no per-execution containers for rules or variables it never had; the read
    APIs still answer with the ``{"name", "s3location": {"bucket", "key"}}`` shape."""
    h.create(pipeline("compact", source_stage(), deploy_stage()))
    h.advance(600)
    [execution] = h.engine._pipelines["compact"].executions.values()
    assert execution.status == "Succeeded"
    fetch, ship = execution.action_runs
    assert ship.input_artifacts[0] is fetch.output_artifacts[0]
    assert not hasattr(fetch.output_artifacts[0], "__dict__")
    assert execution.rule_runs == ()
    assert execution.variables == {}
    assert not isinstance(execution.variables, dict)  # shared read-only empty map, not a dict each
    details = h.call("ListActionExecutions", pipelineName="compact")["actionExecutionDetails"]
    shipped = next(d for d in details if d["actionName"] == "Ship")
    [artifact] = shipped["input"]["inputArtifacts"]
    assert artifact == {
        "name": "src",
        "s3location": {"bucket": "artifact-bucket", "key": fetch.output_artifacts[0].key},
    }
