"""``examples/lambda/job_worker``: its template lints, it runs as a pipeline's invoke action offline, and its
IAM policy allows exactly the calls it makes with its own role."""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

import attrs
import pytest
from botocore.client import BaseClient

import pipepilot.local
from pipepilot.awslambda._jobs import reset_answered_jobs

from ..engine.conformance._support import HOUR, REGION, SOURCE_BUCKET, Env, lambda_action, s3_source, stage
from .policy import (
    EXAMPLES,
    RESOURCE_OF,
    ApiCall,
    least_privilege_problems,
    load_example,
    policy_grants,
    recording_calls,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

EXAMPLE = EXAMPLES / "job_worker"
FUNCTION = "smoke-test-worker"
PROJECT = "smoke-tests"
ACCOUNT = "123456789012"
# The method every botocore client call goes through (where the policy harness records calls too).
_API_CALL = "_make_api_call"


def _lint(text: str) -> list[str]:
    from cfnlint.api import lint  # type: ignore[import-untyped]

    return [f"{match.rule.id} {match.message}" for match in lint(text)]


def test_template_passes_cfn_lint() -> None:
    """cfn-lint (with the SAM transform) finds nothing in the template."""
    assert _lint((EXAMPLE / "template.yaml").read_text(encoding="utf-8")) == []


@pytest.fixture
def env() -> Iterator[Env]:
    """An offline world: the artifact store, a smoke-test project, re-invocations 30 s apart."""
    reset_answered_jobs()
    with pipepilot.local.offline(region=REGION, seed=0) as aws:
        aws.codepipeline_settings = attrs.evolve(
            aws.codepipeline_settings, lambda_continuation_delay_seconds=30
        )
        world = Env.open(aws)
        world.cb.create_project(
            name=PROJECT,
            source={"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases: {build: {commands: [./smoke]}}"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/standard:7.0",
                "computeType": "BUILD_GENERAL1_SMALL",
            },
            serviceRole=world.build_role_arn,
        )
        yield world
    reset_answered_jobs()


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example's handler module, configured as the template configures it."""
    monkeypatch.setenv("SMOKE_TEST_PROJECT", PROJECT)
    return load_example(EXAMPLE)


def _release(env: Env, app: ModuleType, *, version: str = "2.7.1", **options: Any) -> str:
    """Source (a zip with VERSION) -> SmokeTest (the example, as the invoke action); returns the execution."""
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as archive:
        archive.writestr("VERSION", version + "\n")
    env.s3.put_object(Bucket=SOURCE_BUCKET, Key="app.zip", Body=body.getvalue())
    env.aws.register_lambda(FUNCTION, app.handler, timeout=60, **options)
    invoke = lambda_action(
        "SmokeTest",
        function=FUNCTION,
        user_parameters='{"suite": "checkout"}',
        inputs=("SourceOutput",),
        outputs=("SmokeReport",),
        namespace="Smoke",
    )
    return env.create(env.declaration(stage("Source", s3_source()), stage("Test", invoke)))


def _builds(env: Env) -> list[Any]:
    """The builds of the smoke-test project (BatchGetBuilds)."""
    ids = env.cb.list_builds_for_project(projectName=PROJECT)["ids"]
    return list(env.cb.batch_get_builds(ids=ids)["builds"]) if ids else []


def _engine_jobs(env: Env) -> list[Any]:
    """Every job the engine created (the start, each check, the end: a job each)."""
    engine: Any = env.aws.world.codepipeline()
    return list(engine.scheduler.jobs.by_id.values())


def test_smoke_tests_run_in_codebuild_and_the_action_succeeds_with_variables(
    env: Env, app: ModuleType
) -> None:
    """Started once, checked every 30 s while the build runs, then a success with variables and a report."""
    env.aws.script_build(PROJECT, fail_in=None, phase_durations={"BUILD": 200})
    execution = _release(env, app)
    env.run_until_status(execution, "Succeeded", limit=HOUR)

    [build] = _builds(env)
    overrides = {
        variable["name"]: variable["value"] for variable in build["environment"]["environmentVariables"]
    }
    assert overrides["VERSION"] == "2.7.1"
    assert overrides["SUITE"] == "checkout"
    [run] = env.runs_of("Test", "SmokeTest", execution)
    assert run["output"]["outputVariables"] == {"BUILD_ID": build["id"], "VERSION": "2.7.1"}
    assert run["output"]["executionResult"]["externalExecutionId"] == build["id"]
    location = run["output"]["outputArtifacts"][0]["s3location"]
    body = env.s3.get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        report = json.loads(archive.read("smoke-report.json"))
    assert report == {"build": build["id"], "version": "2.7.1", "status": "SUCCEEDED"}
    jobs = list(_engine_jobs(env))
    assert len(jobs) > 3  # the start, several checks, the end: each its own job
    assert all(job.status == "Succeeded" for job in jobs)


def test_failed_smoke_tests_fail_the_action_with_the_build(env: Env, app: ModuleType) -> None:
    """A build that fails fails the job, naming the build and its phase."""
    env.aws.script_build(PROJECT, fail_in="BUILD")
    execution = _release(env, app)
    env.run_until_status(execution, "Failed", limit=HOUR)
    [build] = _builds(env)
    details = env.action_state("Test", "SmokeTest")["latestExecution"]["errorDetails"]
    assert details["code"] == "JobFailed"
    assert details["message"] == f"smoke tests failed in phase {build['currentPhase']}: build {build['id']}"


def test_a_duplicate_invocation_starts_no_second_build(env: Env, app: ModuleType) -> None:
    """Lambda delivering each job twice, each time to a fresh environment: the worker runs twice, yet one
    build starts (its idempotency token is the job id) and each job is answered once."""
    env.aws.script_build(PROJECT, fail_in=None, phase_durations={"BUILD": 100})
    handler = app.handler
    outcomes: list[str] = []

    def fresh_environment(event: dict[str, Any], context: Any) -> None:
        reset_answered_jobs()  # a cold start: this process remembers no answered job
        outcomes.append(handler(event, context)["outcome"])

    vars(app)["handler"] = fresh_environment
    execution = _release(env, app, duplicates=(5,))
    env.run_until_status(execution, "Succeeded", limit=HOUR)
    env.aws.clock.advance(60)
    assert len(_builds(env)) == 1
    assert outcomes.count("already-answered") == outcomes.count("in-progress") + outcomes.count("succeeded")
    jobs = _engine_jobs(env)
    assert all(job.status == "Succeeded" for job in jobs)


@pytest.fixture
def resources(monkeypatch: pytest.MonkeyPatch) -> None:
    """Teach the harness the resource of the CodeBuild calls the example makes (its project's ARN)."""

    def project_arn(params: Any, region: str, account: str) -> str:
        project = params["projectName"] if "projectName" in params else params["ids"][0].split(":")[0]
        return f"arn:aws:codebuild:{region}:{account}:project/{project}"

    monkeypatch.setitem(RESOURCE_OF, "codebuild:StartBuild", project_arn)
    monkeypatch.setitem(RESOURCE_OF, "codebuild:BatchGetBuilds", project_arn)


def _role_calls(env: Env, app: ModuleType) -> list[ApiCall]:
    """The calls the handler makes with its role, over a passing and a failing run.

    Calls signed with the job's artifact credentials (the artifact helpers' S3 calls) are left out: the
    role does not need those permissions. The test's own calls (creating the pipeline, reading state) are
    made outside the recording.
    """
    signed: list[str | None] = []
    handler = app.handler

    def traced(event: dict[str, Any], context: Any) -> Any:
        with recording_calls(account=ACCOUNT) as calls:
            # Inside the harness's own hook: each call passes here, then through the harness, in order.
            original = getattr(BaseClient, _API_CALL)

            def note(self: BaseClient, operation: str, params: Any) -> Any:
                signer: Any = getattr(self, "_request_signer")  # noqa: B009 (private: no stub)
                signed.append(signer._credentials.access_key)
                return original(self, operation, params)

            setattr(BaseClient, _API_CALL, note)
            try:
                return handler(event, context)
            finally:
                setattr(BaseClient, _API_CALL, original)
                recorded.extend(calls)

    recorded: list[ApiCall] = []
    vars(app)["handler"] = traced
    env.aws.script_build(PROJECT, fail_in="BUILD", times=1)
    failed = _release(env, app)
    env.run_until_status(failed, "Failed", limit=HOUR)
    env.aws.script_build(PROJECT, fail_in=None, phase_durations={"BUILD": 100})
    passed = env.start()
    env.run_until_status(passed, "Succeeded", limit=HOUR)
    job_keys = {job.credentials["accessKeyId"] for job in _engine_jobs(env)}
    assert len(signed) == len(recorded)
    artifact_calls = [call for call, key in zip(recorded, signed, strict=True) if key in job_keys]
    assert {call.action for call in artifact_calls} == {"s3:GetObject", "s3:PutObject"}
    return [call for call, key in zip(recorded, signed, strict=True) if key not in job_keys]


@pytest.mark.usefixtures("resources")
def test_the_policy_allows_exactly_what_the_worker_does(env: Env, app: ModuleType) -> None:
    """Every call the role makes is allowed, and every grant is used (job APIs on "*", the one project)."""
    calls = _role_calls(env, app)
    grants = policy_grants(EXAMPLE, parameters={"SmokeTestProject": PROJECT}, account=ACCOUNT)
    assert least_privilege_problems(calls, grants) == []
    assert {call.action for call in calls} == {
        "codepipeline:PutJobSuccessResult",
        "codepipeline:PutJobFailureResult",
        "codebuild:StartBuild",
        "codebuild:BatchGetBuilds",
    }


@pytest.mark.usefixtures("resources")
def test_the_policy_check_is_not_vacuous(env: Env, app: ModuleType) -> None:
    """Without the CodeBuild statement the check reports the calls; with S3 added it reports the grant."""
    calls = _role_calls(env, app)
    grants = policy_grants(EXAMPLE, parameters={"SmokeTestProject": PROJECT}, account=ACCOUNT)
    without_codebuild = [grant for grant in grants if not grant.action.startswith("codebuild:")]
    assert "not allowed by the policy: codebuild:StartBuild on " in " ".join(
        least_privilege_problems(calls, without_codebuild)
    )
    extra = [*grants, grants[0]._replace(action="s3:GetObject")]
    assert any(
        "granted but never used: s3:GetObject" in problem
        for problem in least_privilege_problems(calls, extra)
    )
