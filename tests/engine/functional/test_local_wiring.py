"""How ``pipepilot.local.offline()`` plugs into botocore and moto, and what it restores on exit."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import TYPE_CHECKING, Any

import boto3
import botocore.endpoint
import botocore.handlers
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.models import botocore_stubber

import pipepilot.local
import pipepilot.local.codepipeline
from pipepilot._time import SYSTEM_TIME, time_source_for
from pipepilot.local import CodePipelineSettings, _wiring

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_codebuild import CodeBuildClient

    from pipepilot.local import OfflineAWS

_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codebuild.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _project(client: Any, name: str = "wired", role: str = "arn:aws:iam::123456789012:role/cb") -> None:
    client.create_project(
        name=name,
        source={"type": "GITHUB", "location": "https://github.com/example/wired"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "img", "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole=role,
    )


@pytest.fixture
def aws() -> Iterator[OfflineAWS]:
    """An active offline world that skips IAM role checks (these tests are about the wiring)."""
    with pipepilot.local.offline() as aws:
        aws.verify_roles = False
        yield aws


# -- who answers what ---------------------------------------------------------------------------------------


def test_plain_boto3_clients_inside_are_served_by_the_engine(aws: OfflineAWS) -> None:
    """boto3.client('codebuild') made inside the context reaches the engine; moto's CodeBuild stays empty."""
    client = boto3.client("codebuild", region_name="us-east-1")
    _project(client)
    assert client.list_projects()["projects"] == ["wired"]
    assert [project.name for project in aws.world.codebuild().projects.by_name.values()] == ["wired"]
    from moto.codebuild.models import codebuild_backends

    assert codebuild_backends["123456789012"]["us-east-1"].codebuild_projects == {}


def test_moto_still_answers_other_services(aws: OfflineAWS) -> None:
    """S3, IAM, SNS and CloudWatch Logs are moto's, through the same plain clients."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="k", Body=b"v")
    assert s3.get_object(Bucket="artifacts", Key="k")["Body"].read() == b"v"
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=_TRUST)
    assert iam.get_role(RoleName="r")["Role"]["Arn"] == "arn:aws:iam::123456789012:role/r"
    sns = boto3.client("sns", region_name="us-east-1")
    assert sns.create_topic(Name="t")["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:t"
    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName="g")
    assert [group["logGroupName"] for group in logs.describe_log_groups()["logGroups"]] == ["g"]


def test_errors_arrive_as_client_errors_with_code_status_and_request_id(aws: OfflineAWS) -> None:
    """A ServiceError becomes AWS's JSON error envelope; botocore raises ClientError with code and status."""
    client = aws.client("codebuild")
    with pytest.raises(ClientError) as caught:
        client.start_build(projectName="missing")
    response = caught.value.response
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    assert len(response["ResponseMetadata"]["RequestId"]) == 36
    assert caught.value.operation_name == "StartBuild"


def test_unemulated_operations_answer_unknown_operation_not_moto(aws: OfflineAWS) -> None:
    """An operation the engine lacks is refused with UnknownOperationException instead of reaching moto."""
    client = aws.client("codebuild")
    with pytest.raises(ClientError) as caught:
        client.list_curated_environment_images()
    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "coverage_table" in caught.value.response["Error"]["Message"]


def test_engine_answers_parse_like_aws(aws: OfflineAWS) -> None:
    """Responses go through botocore's parser: timestamps become aware datetimes, metadata is present."""
    client = aws.client("codebuild")
    _project(client)
    created_at = aws.clock.now()  # a call is applied at the end of its latency, just before it returns
    project = client.batch_get_projects(names=["wired"])["projects"][0]
    assert project["created"].timestamp() == created_at
    assert project["created"].tzinfo is not None


# -- clients made elsewhere ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("fake_credentials")  # a client made outside offline() resolves its own
def test_client_created_before_the_context_is_served_inside_it() -> None:
    """A client built before offline() (a module-level client, say) is served by the engine inside it."""
    early: CodeBuildClient = boto3.session.Session(region_name="us-east-1").client("codebuild")
    with pipepilot.local.offline() as aws:
        aws.verify_roles = False
        _project(early)
        assert aws.client("codebuild").list_projects()["projects"] == ["wired"]
        from moto.codebuild.models import codebuild_backends

        assert codebuild_backends["123456789012"]["us-east-1"].codebuild_projects == {}


def test_default_session_created_before_is_replaced_inside() -> None:
    """boto3's default session set up earlier does not leak in: boto3.client() inside is served."""
    boto3.setup_default_session(region_name="us-east-1")
    before = boto3.DEFAULT_SESSION
    with pipepilot.local.offline() as aws:
        aws.verify_roles = False
        _project(boto3.client("codebuild"))
        assert boto3.DEFAULT_SESSION is not before
        assert aws.client("codebuild").list_projects()["projects"] == ["wired"]
    assert boto3.DEFAULT_SESSION is before
    boto3.DEFAULT_SESSION = None


@pytest.mark.usefixtures("fake_credentials")  # a client made outside offline() resolves its own
def test_patch_client_routes_a_client_without_any_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client whose session predates moto and pipepilot is served after patch_client (once, however often)."""
    monkeypatch.setattr(
        botocore.handlers,
        "BUILTIN_HANDLERS",
        [spec for spec in botocore.handlers.BUILTIN_HANDLERS if spec[0] != "before-send"],
    )
    bare = boto3.session.Session(botocore_session=botocore.session.Session(), region_name="us-east-1").client(
        "codebuild"
    )
    monkeypatch.undo()
    with pipepilot.local.offline() as aws:
        aws.verify_roles = False
        assert pipepilot.local.patch_client(bare) is bare
        pipepilot.local.patch_client(bare)
        _project(bare)
        bare.start_build(projectName="wired")
        assert len(aws.client("codebuild").list_builds()["ids"]) == 1


def test_a_client_carrying_moto_and_the_router_is_served_once(aws: OfflineAWS) -> None:
    """Even with moto's stubber registered next to the router, a request is applied once."""
    client = aws.client("codebuild")
    client.meta.events.register("before-send", botocore_stubber)
    _project(client)
    client.start_build(projectName="wired")
    assert len(client.list_builds()["ids"]) == 1


# -- lifecycle ---------------------------------------------------------------------------------------------------


def test_the_engine_injects_its_clock_through_the_clients_it_serves() -> None:
    """A client the context serves answers pipepilot's time-source question with the virtual clock, in any
    thread, and with the system's time once the context ended: no global clock is installed."""
    with pipepilot.local.offline() as aws:
        client = boto3.client("codepipeline")
        assert time_source_for(client) is aws.clock
        seen: list[object] = []
        worker = threading.Thread(target=lambda: seen.append(time_source_for(client)))
        worker.start()
        worker.join()
        assert seen == [aws.clock]
        time_source_for(client).sleep(3600)
        assert aws.clock.now() - 3600 == pytest.approx(1_767_225_600.0)
    assert time_source_for(client) is SYSTEM_TIME


def test_everything_is_restored_even_when_the_body_raises() -> None:
    """An exception inside the context still restores botocore, moto, the time source and the router."""
    sleep_before = botocore.endpoint.time  # type: ignore[attr-defined]
    stubber_call = BotocoreStubber.__call__
    with pytest.raises(KeyError), pipepilot.local.offline():
        raise KeyError("boom")
    assert botocore.endpoint.time is sleep_before  # type: ignore[attr-defined]
    assert BotocoreStubber.__call__ is stubber_call
    assert not _wiring.ROUTER.active
    with pytest.raises(RuntimeError, match=r"no pipepilot\.local\.offline"):
        pipepilot.local.active()


def test_contexts_do_not_nest() -> None:
    """A second context while one is active is a clear error and leaves the first intact."""
    with pipepilot.local.offline() as outer:
        with pytest.raises(RuntimeError, match="already active"), pipepilot.local.offline():
            pass  # pragma: no cover
        assert pipepilot.local.active() is outer
        assert outer.clock.now() > 0


def test_each_context_starts_fresh_and_ids_repeat_per_seed() -> None:
    """A new context forgets the old world; the same seed gives the same build ids."""
    ids = []
    for _ in range(2):
        with pipepilot.local.offline(seed=42) as aws:
            aws.verify_roles = False
            client = aws.client("codebuild")
            assert client.list_projects()["projects"] == []
            _project(client)
            ids.append(client.start_build(projectName="wired")["build"]["id"])
    assert ids[0] == ids[1]
    with pipepilot.local.offline(seed=43) as aws:
        aws.verify_roles = False
        client = aws.client("codebuild")
        _project(client)
        assert client.start_build(projectName="wired")["build"]["id"] != ids[0]


def test_decorator_runs_each_call_in_a_fresh_context() -> None:
    """@offline() opens a fresh context per call; active() is the handle inside."""
    seen: list[int] = []

    @pipepilot.local.offline(seed=7)
    def scenario() -> int:
        aws = pipepilot.local.active()
        aws.verify_roles = False
        client = aws.client("codebuild")
        seen.append(len(client.list_projects()["projects"]))
        _project(client)
        return aws.seed

    assert scenario() == 7
    assert scenario() == 7
    assert seen == [0, 0]
    with pytest.raises(RuntimeError):
        pipepilot.local.active()


def test_the_handle_refuses_use_outside_its_context() -> None:
    """Reading the clock or scripting before entering (or after leaving) raises RuntimeError."""
    handle = pipepilot.local.offline()
    with pytest.raises(RuntimeError, match="not active"):
        handle.clock  # noqa: B018
    with handle:
        handle.clock.advance(1)
    with pytest.raises(RuntimeError, match="not active"):
        handle.script_build("p")


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"region": "moon"}, ValueError),
        ({"account_id": "42"}, ValueError),
        ({"speed": 0}, ValueError),
        ({"seed": "x"}, TypeError),
        ({"codepipeline_settings": {"concurrent_execution_cap": 1}}, TypeError),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], error: type[Exception]) -> None:
    """Malformed options fail at once with a typed error."""
    with pytest.raises(error):
        pipepilot.local.offline(**options)


def test_another_account_is_used_by_the_engine_and_moto() -> None:
    """account_id shows in the engine's ARNs and moto's resources; MOTO_ACCOUNT_ID is restored after."""
    before = os.environ.get("MOTO_ACCOUNT_ID")
    with pipepilot.local.offline(account_id="111122223333") as aws:
        iam = aws.client("iam")
        arn = iam.create_role(RoleName="cb", AssumeRolePolicyDocument=_TRUST)["Role"]["Arn"]
        assert arn == "arn:aws:iam::111122223333:role/cb"
        client = aws.client("codebuild")
        _project(client, role=arn)
        build = client.start_build(projectName="wired")["build"]
        assert build["arn"].startswith("arn:aws:codebuild:us-east-1:111122223333:build/wired:")
    assert os.environ.get("MOTO_ACCOUNT_ID") == before


def test_moto_alone_works_after_a_context() -> None:
    """Outside offline(), a plain moto.mock_aws() answers CodeBuild itself again."""
    with pipepilot.local.offline():
        pass
    with mock_aws():
        client = boto3.client("codebuild", region_name="us-east-1")
        _project(client)
        from moto.codebuild.models import codebuild_backends

        assert list(codebuild_backends["123456789012"]["us-east-1"].codebuild_projects) == ["wired"]


def test_real_time_mode_follows_the_wall_clock() -> None:
    """With speed=, virtual time passes while the test merely waits."""
    with pipepilot.local.offline(speed=3600) as aws:
        start = aws.clock.now()
        time.sleep(0.02)
        assert aws.clock.now() - start >= 0.02 * 3600 * 0.9


def test_start_moment_can_be_chosen() -> None:
    """start= (epoch seconds or aware datetime) sets the virtual clock's origin."""
    from datetime import datetime, timezone

    with pipepilot.local.offline(start=datetime(2030, 5, 1, tzinfo=timezone.utc)) as aws:
        assert aws.clock.datetime().isoformat() == "2030-05-01T00:00:00+00:00"
    with pytest.raises(ValueError, match="aware"):
        pipepilot.local.offline(start=datetime(2030, 5, 1))  # noqa: DTZ001


# -- botocore retries on the virtual clock -------------------------------------------------------------------


def test_botocore_retry_backoff_runs_on_the_virtual_clock(aws: OfflineAWS) -> None:
    """A throttled plain client retries with back-off in virtual time, not wall time."""
    client = aws.client("codebuild")
    aws.faults.add(service="codebuild", operation="ListProjects", error="ThrottlingException", nth=(1, 2))
    before_virtual, before_wall = aws.clock.now(), time.monotonic()
    answer = client.list_projects()
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert aws.clock.now() > before_virtual
    assert time.monotonic() - before_wall < 5


def test_retries_exhausted_surface_the_last_error(aws: OfflineAWS) -> None:
    """When every attempt is throttled the caller sees ThrottlingException after botocore's attempts."""
    client = boto3.session.Session(region_name="us-east-1").client(
        "codebuild", config=Config(retries={"mode": "standard", "total_max_attempts": 3})
    )
    aws.faults.add(operation="ListProjects", error="ThrottlingException")
    with pytest.raises(ClientError) as caught:
        client.list_projects()
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert [fault.call for fault in aws.faults.log] == [1, 2, 3]


# -- pytest plugin and coverage -------------------------------------------------------------------------------


def test_pytest_fixture_offers_an_active_context(offline_aws: OfflineAWS) -> None:
    """The plugin's offline_aws fixture yields an active handle with the defaults."""
    assert pipepilot.local.active() is offline_aws
    assert offline_aws.region == "us-east-1"
    assert offline_aws.seed == 0


@pytest.mark.pipepilot_offline(region="eu-west-1", seed=9)
def test_pytest_marker_sets_fixture_options(offline_aws: OfflineAWS) -> None:
    """@pytest.mark.pipepilot_offline(...) passes options to the fixture."""
    assert (offline_aws.region, offline_aws.seed) == ("eu-west-1", 9)


def test_coverage_table_lists_every_operation_of_both_services() -> None:
    """The table names each CodePipeline/CodeBuild operation once, answered or not, with counts."""
    table = pipepilot.local.coverage_table()
    sections = dict(zip(("codepipeline", "codebuild"), table.split("### ")[1:], strict=True))
    session = botocore.session.get_session()
    for service, section in sections.items():
        for operation in session.get_service_model(service).operation_names:
            assert section.count(f"| `{operation}` |") == 1
    assert "| `StartBuild` | answered |" in sections["codebuild"]
    assert "| `CreateWebhook` | not emulated (UnknownOperationException) |" in sections["codebuild"]
    codebuild_operations = len(session.get_service_model("codebuild").operation_names)
    assert sections["codebuild"].startswith(f"CodeBuild: 11 of {codebuild_operations} operations answered")
    assert "| `StartPipelineExecution` | answered |" in sections["codepipeline"]


def test_importing_the_plugin_and_package_loads_no_engine_or_moto() -> None:
    """pytest loads the plugin for every run: it (and pipepilot.local) must not import moto or the engines."""
    import subprocess
    import sys

    code = (
        "import json, sys; import pipepilot.local.pytest_plugin, pipepilot.local; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = set(json.loads(done.stdout))
    heavy = {
        "moto",
        "pipepilot.local._world",
        "pipepilot.local._wiring",
        "pipepilot.local.codebuild",
        "pipepilot.local.codepipeline",
    }
    assert loaded & heavy == set()


# -- the default region of plain clients ----------------------------------------------------------------------


def test_plain_client_defaults_to_the_context_region_without_an_environment_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With AWS_DEFAULT_REGION unset, boto3.client("codepipeline") inside offline() uses the context's region
    (instead of raising NoRegionError) and reaches that region's engine."""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pipepilot.local.offline(region="eu-west-1") as aws:
        client = boto3.client("codepipeline")
        assert client.meta.region_name == "eu-west-1"
        assert client.list_pipelines()["pipelines"] == []
        assert "eu-west-1" in aws.world._codepipeline
        assert boto3.client("s3").meta.region_name == "eu-west-1"


def test_an_environment_or_explicit_region_still_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_DEFAULT_REGION (even when set inside the context) and region_name= override the context's region."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    with pipepilot.local.offline(region="eu-west-1"):
        assert boto3.client("codepipeline").meta.region_name == "us-west-2"
        monkeypatch.delenv("AWS_DEFAULT_REGION")
        assert boto3.client("codepipeline").meta.region_name == "eu-west-1"
        monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
        assert boto3.client("codepipeline").meta.region_name == "ap-south-1"
        assert boto3.client("codepipeline", region_name="sa-east-1").meta.region_name == "sa-east-1"


# -- CodePipeline settings ------------------------------------------------------------------------------------


def test_codepipeline_settings_option_reaches_every_region_engine() -> None:
    """offline(codepipeline_settings=...) is what the engine of every region runs with."""
    settings = CodePipelineSettings(concurrent_execution_cap=3, waiting_status_on_update="Failed")
    with pipepilot.local.offline(codepipeline_settings=settings) as aws:
        assert aws.codepipeline_settings is settings
        assert aws.world.codepipeline().settings is settings
        assert aws.world.codepipeline("eu-west-1").scheduler.settings is settings


def test_codepipeline_settings_assignment_applies_to_existing_and_new_engines(aws: OfflineAWS) -> None:
    """Assigning aws.codepipeline_settings changes engines already serving and those created later;
    anything but a CodePipelineSettings is refused and changes nothing."""
    existing = aws.world.codepipeline()
    changed = CodePipelineSettings(approval_timeout_seconds=300.0)
    aws.codepipeline_settings = changed
    assert existing.settings is changed
    assert aws.world.codepipeline("ap-south-1").settings is changed
    with pytest.raises(TypeError):
        aws.codepipeline_settings = {"approval_timeout_seconds": 1.0}  # type: ignore[assignment]
    assert aws.codepipeline_settings is changed
    assert existing.settings is changed


def test_decorated_functions_get_the_settings_too() -> None:
    """@offline(codepipeline_settings=...) gives each call a fresh world running those settings."""
    settings = CodePipelineSettings(pipeline_limit=7)

    @pipepilot.local.offline(codepipeline_settings=settings)
    def limit() -> int:
        return pipepilot.local.active().world.codepipeline().settings.pipeline_limit

    assert limit() == 7


@pytest.mark.pipepilot_offline(codepipeline_settings=CodePipelineSettings(concurrent_execution_cap=2))
def test_pytest_marker_sets_codepipeline_settings(offline_aws: OfflineAWS) -> None:
    """The fixture's marker accepts codepipeline_settings like offline() does."""
    assert offline_aws.world.codepipeline().settings.concurrent_execution_cap == 2


def test_engines_are_created_once_per_region_under_concurrency(
    aws: OfflineAWS, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two threads asking for a new region's engine at once get the same engine (a fleet's worker threads
    and the test thread may both be first), so no request's state is kept where nobody else looks."""
    import threading

    original = pipepilot.local.codepipeline.CodePipelineEngine.__init__

    def slow_init(self: Any, *args: Any, **kwargs: Any) -> None:
        time.sleep(0.05)  # widen the window between "no engine yet" and "engine stored"
        original(self, *args, **kwargs)

    monkeypatch.setattr(pipepilot.local.codepipeline.CodePipelineEngine, "__init__", slow_init)
    start = threading.Barrier(2)
    engines: list[object] = []

    def ask() -> None:
        start.wait()
        engines.append(aws.world.codepipeline("eu-north-1"))

    workers = [threading.Thread(target=ask) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(engines) == 2
    assert engines[0] is engines[1] is aws.world.codepipeline("eu-north-1")


# -- scripting condition rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"outcome": "Maybe"}, ValueError),
        ({"duration": -1.0}, ValueError),
        ({"times": 0}, ValueError),
    ],
)
def test_script_rule_refuses_bad_options(
    aws: OfflineAWS, options: dict[str, Any], error: type[Exception]
) -> None:
    """script_rule rejects an unknown outcome, a negative duration or times below 1, and registers nothing."""
    with pytest.raises(error):
        aws.script_rule("p", "Deploy", "Alarm", **options)
    assert aws.world.scripts.rule_outcome("p", "Deploy", "Alarm") is None


def test_script_rule_returns_the_registered_script(aws: OfflineAWS) -> None:
    """script_rule returns the RuleScript the engine will consume, one use per evaluation."""
    script = aws.script_rule("p", "Deploy", "Alarm", outcome="Failed", summary="in ALARM", times=1)
    assert isinstance(script, pipepilot.local.RuleScript)
    assert aws.world.scripts.rule_outcome("p", "Deploy", "Alarm") is script
    assert aws.world.scripts.rule_outcome("p", "Deploy", "Alarm") is None


def test_service_role_creates_a_role_the_services_may_assume() -> None:
    """``aws.service_role(name, *services)`` creates, in moto's IAM, a role trusting each service (CodePipeline
    by default), which the engines accept as a pipeline's or a project's role; bad names change nothing."""
    from pipepilot.errors import ArgumentTypeError, InvalidArgumentError

    with pipepilot.local.offline() as aws:
        pipeline_role = aws.service_role("pipeline-role")
        shared_role = aws.service_role("shared", "codebuild", "cloudformation")
        iam = aws.client("iam")
        trusted = {
            name: iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
            for name in ("pipeline-role", "shared")
        }
        assert pipeline_role.endswith(":role/pipeline-role")
        assert shared_role.endswith(":role/shared")
        assert trusted == {
            "pipeline-role": {"Service": ["codepipeline.amazonaws.com"]},
            "shared": {"Service": ["codebuild.amazonaws.com", "cloudformation.amazonaws.com"]},
        }
        aws.client("codebuild").create_project(
            name="app",
            source={"type": "NO_SOURCE", "buildspec": "version: 0.2"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/standard:7.0",
                "computeType": "BUILD_GENERAL1_SMALL",
            },
            serviceRole=shared_role,
        )
        with pytest.raises(InvalidArgumentError):
            aws.service_role("")
        with pytest.raises(ArgumentTypeError):
            aws.service_role("x", 3)  # type: ignore[arg-type]
        assert sorted(role["RoleName"] for role in iam.list_roles()["Roles"]) == ["pipeline-role", "shared"]
