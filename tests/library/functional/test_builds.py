"""CodeBuild through pipepilot's facade, against ``pipepilot.local`` (the CodeBuild engine on a virtual clock).

Every call goes through real boto3 clients and pipepilot's seam, so request checks, error translation,
retries and idempotency tokens all run as they would against AWS; faults come from ``aws.faults``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest

from pipepilot._calls import Caller
from pipepilot.builds import Build, EnvironmentValue, LogLine
from pipepilot.codebuild import BATCH_SIZE, CodeBuild
from pipepilot.errors import (
    BuildFailed,
    InvalidInputError,
    RequestValidationError,
    ResourceNotFoundError,
    WaitTimeout,
)
from pipepilot.model.build import BuildPhase, BuildStatus, PhaseContext
from pipepilot.polling import PollPolicy
from pipepilot.stages import Action
from tests._data import CODEBUILD_PHASES as PHASES

if TYPE_CHECKING:
    from mypy_boto3_codepipeline.type_defs import PipelineDeclarationTypeDef

    from pipepilot.local import OfflineAWS

REGION = "us-east-1"
PROJECT = "app"
UNKNOWN_BUILD = f"{PROJECT}:3b7a1c52-9d1e-4f0a-8b6c-2e5d4f3a1b0c"


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


# One boto3 session for the module: a fresh session re-reads botocore's data files (~0.3 s each). Made
# inside the first offline context, after pipepilot.local installed its botocore hook, it is served offline.
_session: boto3.session.Session | None = None


def _shared_session() -> boto3.session.Session:
    global _session
    if _session is None:
        _session = boto3.session.Session(region_name=REGION)
    return _session


class CallCounter:
    """Counts the requests one client makes per operation (botocore's ``before-call`` event)."""

    def __init__(self, client: Any, *operations: str) -> None:
        self.calls: dict[str, int] = dict.fromkeys(operations, 0)
        for operation in operations:
            client.meta.events.register(f"before-call.{_service_id(client)}.{operation}", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def __getitem__(self, operation: str) -> int:
        return self.calls[operation]

    def reset(self) -> None:
        for operation in self.calls:
            self.calls[operation] = 0


def _service_id(client: Any) -> str:
    return str(client.meta.service_model.service_id.hyphenize())


@pytest.fixture
def codebuild(offline_aws: OfflineAWS) -> CodeBuild:
    """A facade over the offline CodeBuild, with project ``app`` (no source, 60-minute timeout)."""
    session = _shared_session()
    role = session.client("iam").create_role(
        RoleName="build-role", AssumeRolePolicyDocument=_trust("codebuild.amazonaws.com")
    )["Role"]["Arn"]
    facade = CodeBuild(session=session, region_name=REGION)
    facade.client.create_project(
        name=PROJECT,
        source={
            "type": "NO_SOURCE",
            "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n      - make\n",
        },
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "environmentVariables": [{"name": "STAGE", "value": "dev"}],
        },
        serviceRole=role,
    )
    return facade


def _phase_names(phases: list[BuildPhase]) -> list[str]:
    return [str(phase.phase_type) for phase in phases]


# -- the facade ------------------------------------------------------------------------------------------------


def test_facade_creates_no_client_until_used(offline_aws: OfflineAWS) -> None:
    """Building the facade and its handles makes no client and no call; the first read creates the clients."""
    facade = CodeBuild.from_session(_shared_session(), region_name=REGION)
    build = facade.project(PROJECT).build_ids()  # a generator: nothing requested yet
    handle = facade.build(UNKNOWN_BUILD)
    assert repr(facade) == "CodeBuild(region='<client not created yet>')"
    assert handle == Build(service=facade, id=UNKNOWN_BUILD)
    with pytest.raises(ResourceNotFoundError, match="does not exist"):
        handle.get()
    assert repr(facade) == "CodeBuild(region='us-east-1')"
    with pytest.raises(ResourceNotFoundError):
        next(build)


def test_created_logs_client_follows_the_injected_client_region(offline_aws: OfflineAWS) -> None:
    """An injected CodeBuild client fixes the region of the Logs client pipepilot creates, so both agree."""
    client = _shared_session().client("codebuild", region_name="eu-west-1")
    facade = CodeBuild(client, session=_shared_session())
    assert facade.client is client
    assert facade.logs_client.meta.region_name == "eu-west-1"


def test_facade_refuses_clients_together_with_options_to_build_them(offline_aws: OfflineAWS) -> None:
    """With both clients injected, session/region/config would be ignored: that is an error, not a surprise."""
    session = _shared_session()
    with pytest.raises(TypeError, match="not both"):
        CodeBuild(session.client("codebuild"), session.client("logs"), region_name="eu-west-1")


def test_build_handles_accept_ids_and_arns_and_reject_anything_else(codebuild: CodeBuild) -> None:
    """A build ARN (as EventBridge events carry it) opens the same build as its id; junk is a typed error."""
    build = codebuild.project(PROJECT).start()
    arn = build.get().arn
    assert arn is not None
    assert codebuild.build(arn) == build
    assert codebuild.build(arn).project == codebuild.project(PROJECT)
    for bad in ("", "no-colon", ":uuid", "app:", 42):
        with pytest.raises(RequestValidationError, match="build id"):
            codebuild.build(bad)  # type: ignore[arg-type]
    with pytest.raises(RequestValidationError, match="project name"):
        codebuild.project("")


# -- starting ---------------------------------------------------------------------------------------------------


def test_start_applies_overrides_to_the_build_only(codebuild: CodeBuild, offline_aws: OfflineAWS) -> None:
    """env, source version, buildspec and raw overrides show on the build; typed values keep their type."""
    build = codebuild.project(PROJECT).start(
        env={
            "STAGE": "prod",
            "DB_HOST": EnvironmentValue.parameter_store("/app/db-host"),
            "TOKEN": EnvironmentValue.secrets_manager("ci/token:value"),
            "PLAIN": EnvironmentValue.plaintext("yes"),
        },
        source_version="refs/heads/main",
        buildspec="version: 0.2\nphases:\n  build:\n    commands:\n      - make release\n",
        timeoutInMinutesOverride=30,
        computeTypeOverride="BUILD_GENERAL1_MEDIUM",
    )
    details = build.get()
    assert details.project_name == PROJECT
    assert details.build_status == BuildStatus.IN_PROGRESS
    assert details.source_version == "refs/heads/main"
    assert details.timeout_in_minutes == 30
    assert details.extra["source"]["buildspec"].endswith("make release\n")
    assert details.environment is not None
    assert details.environment.compute_type == "BUILD_GENERAL1_MEDIUM"
    variables = {v.name: (v.value, v.type) for v in details.environment.environment_variables}
    assert variables == {
        "STAGE": ("prod", "PLAINTEXT"),
        "DB_HOST": ("/app/db-host", "PARAMETER_STORE"),
        "TOKEN": ("ci/token:value", "SECRETS_MANAGER"),
        "PLAIN": ("yes", "PLAINTEXT"),
    }
    # The project keeps its own settings.
    project = codebuild.client.batch_get_projects(names=[PROJECT])["projects"][0]
    assert project["environment"]["environmentVariables"] == [
        {"name": "STAGE", "value": "dev", "type": "PLAINTEXT"}
    ]
    assert "ci/token" not in repr(EnvironmentValue.secrets_manager("ci/token"))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"env": {"N": 3}}, TypeError, "must be a str or an EnvironmentValue"),
        ({"env": [("N", "3")]}, TypeError, "env is a mapping"),
        ({"sourceVersion": "main"}, TypeError, "source_version="),
        ({"idempotencyToken": "t"}, TypeError, "token="),
        ({"timeoutInMinutesOverride": 1}, RequestValidationError, "timeoutInMinutesOverride"),
        ({"env": {"V": EnvironmentValue(value="x", type="VAULT")}}, RequestValidationError, "VAULT"),
        ({"imageOverrid": "x"}, RequestValidationError, "imageOverrid"),
    ],
)
def test_start_rejects_bad_input_before_sending(
    codebuild: CodeBuild, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    """Bad input raises a clear, typed error and sends no StartBuild; the project has no build."""
    counter = CallCounter(codebuild.client, "StartBuild")
    with pytest.raises(error, match=match):
        codebuild.project(PROJECT).start(**kwargs)
    assert counter["StartBuild"] == 0
    assert list(codebuild.project(PROJECT).build_ids()) == []


def test_start_with_the_same_token_returns_the_same_build(codebuild: CodeBuild) -> None:
    """A repeated start with the caller's token is the same build; the token with other parameters is refused."""
    project = codebuild.project(PROJECT)
    first = project.start(env={"STAGE": "prod"}, token="release-42")
    again = project.start(env={"STAGE": "prod"}, token="release-42")
    assert again == first
    assert list(project.build_ids()) == [first.id]
    with pytest.raises(InvalidInputError, match="different parameters"):
        project.start(env={"STAGE": "test"}, token="release-42")
    assert list(project.build_ids()) == [first.id]


@pytest.mark.parametrize("fault", ["ThrottlingException", "lost-response", "connection"])
def test_retried_start_starts_exactly_one_build(
    codebuild: CodeBuild, offline_aws: OfflineAWS, fault: str
) -> None:
    """A start whose first attempt fails (even after AWS acted on it) is retried with the same token: one build."""
    tokens: list[str] = []
    codebuild.client.meta.events.register(
        "provide-client-params.codebuild.StartBuild",
        lambda params, **_: tokens.append(params["idempotencyToken"]),
    )
    rule = offline_aws.faults.add(service="codebuild", operation="StartBuild", error=fault, nth=1)
    build = codebuild.project(PROJECT).start()
    assert rule.fired == 1
    assert len(tokens) == 2
    assert tokens[0] == tokens[1]
    assert list(codebuild.project(PROJECT).build_ids()) == [build.id]


# -- reading and waiting ---------------------------------------------------------------------------------------


def test_wait_returns_the_succeeded_build_and_reports_each_phase_once_in_order(
    codebuild: CodeBuild, offline_aws: OfflineAWS
) -> None:
    """wait() returns the final details (phases with durations, exported variables); on_phase sees every
    phase once, in order, even those that began and ended between two polls."""
    offline_aws.script_build(PROJECT, fail_in=None, exported_variables={"IMAGE_TAG": "abc123"})
    build = codebuild.project(PROJECT).start()
    started = build.get()
    assert started.current_phase == "QUEUED"
    assert not started.is_complete
    seen: list[BuildPhase] = []
    counter = CallCounter(codebuild.client, "BatchGetBuilds")
    details = build.wait(on_phase=seen.append)
    assert details.succeeded
    assert details.current_phase == "COMPLETED"
    assert details.exported_variables == {"IMAGE_TAG": "abc123"}
    assert _phase_names(seen) == PHASES
    assert _phase_names(list(details.phases)) == PHASES
    build_phase = details.phases[PHASES.index("BUILD")]
    assert build_phase.phase_status == BuildStatus.SUCCEEDED
    assert build_phase.duration_in_seconds == int(offline_aws.build_phase_durations["BUILD"])
    assert details.logs is not None
    assert details.logs.group_name == f"/aws/codebuild/{PROJECT}"
    # Economy: a 91-second build, polled at 7.5, 15 then 30 s, is seen ending within 30 s.
    assert details.end_time is not None
    assert offline_aws.clock.now() - details.end_time.timestamp() <= 30
    assert counter["BatchGetBuilds"] <= 7


def test_recent_builds_make_a_long_wait_sparse_when_asked_for(
    codebuild: CodeBuild, offline_aws: OfflineAWS
) -> None:
    """With a policy that sets sparse_interval, earlier builds of the project predict the end, so waiting
    for a 20-minute build takes far fewer polls than without history, and still returns within 30 s of the
    end; a default wait reads no history (it would not use it)."""
    offline_aws.script_build(PROJECT, fail_in=None, phase_durations={"BUILD": 1200})
    project = codebuild.project(PROJECT)
    counter = CallCounter(codebuild.client, "BatchGetBuilds", "ListBuildsForProject")
    first = project.start().wait()
    without_history = counter["BatchGetBuilds"]
    assert counter["ListBuildsForProject"] == 0
    for _ in range(3):
        project.start().wait()
    counter.reset()
    last = project.start().wait(poll=PollPolicy(sparse_interval=120.0))
    assert first.succeeded
    assert last.succeeded
    assert without_history >= 40
    assert counter["ListBuildsForProject"] == 1
    assert counter["BatchGetBuilds"] <= without_history // 2
    assert last.end_time is not None
    assert offline_aws.clock.now() - last.end_time.timestamp() <= 30


def test_a_build_wait_without_timeout_ends_at_the_builds_own_timeouts(
    codebuild: CodeBuild, offline_aws: OfflineAWS
) -> None:
    """A build wait with no timeout that cannot see the build end (every poll after the first throttled)
    gives up after the build's own timeouts plus 15 minutes, and its WaitTimeout says so."""
    build = codebuild.project(PROJECT).start()
    details = build.get()
    assert details.timeout_in_minutes is not None
    assert details.queued_timeout_in_minutes is not None
    limit = (details.timeout_in_minutes + details.queued_timeout_in_minutes + 15) * 60.0
    offline_aws.faults.add(operation="BatchGetBuilds", error="ThrottlingException", nth=range(2, 5000))
    started = offline_aws.clock.now()
    with pytest.raises(
        WaitTimeout, match=r"the default timeout for this wait, .*: its build and queue timeouts"
    ):
        build.wait()
    assert offline_aws.clock.now() - started == pytest.approx(limit, abs=120)


@pytest.mark.parametrize(
    ("status", "fail_in", "code", "message"),
    [
        ("FAILED", "BUILD", "COMMAND_EXECUTION_ERROR", "it broke"),
        ("FAULT", "INSTALL", "INTERNAL_ERROR", "it broke"),
        # The build's own 5-minute timeout fires while BUILD hangs; CodeBuild's message says so.
        ("TIMED_OUT", "BUILD", "BUILD_TIMED_OUT", "Build has timed out. "),
    ],
)
def test_wait_raises_build_failed_with_the_failing_phase(
    codebuild: CodeBuild, offline_aws: OfflineAWS, status: Any, fail_in: str, code: str, message: str
) -> None:
    """A build that does not succeed raises BuildFailed with its status, the failing phase and its messages."""
    offline_aws.script_build(PROJECT, fail_in=fail_in, status=status, message="it broke")
    build = codebuild.project(PROJECT).start(timeoutInMinutesOverride=5)
    seen: list[BuildPhase] = []
    with pytest.raises(BuildFailed) as raised:
        build.wait(on_phase=seen.append)
    error = raised.value
    assert error.phase == fail_in
    assert error.contexts == (PhaseContext(status_code=code, message=message),)
    assert isinstance(error.build, type(build.get()))
    assert error.build.build_status == status
    assert error.build.is_complete
    assert str(error).endswith(f"ended {status} in phase {fail_in}: {code}: {message.strip()}")
    assert _phase_names(seen)[-1] == "COMPLETED"
    assert fail_in in _phase_names(seen)


def test_wait_timeout_carries_the_last_build_seen(codebuild: CodeBuild, offline_aws: OfflineAWS) -> None:
    """A wait that runs out of time raises WaitTimeout with the last details; the build goes on."""
    build = codebuild.project(PROJECT).start()
    started = offline_aws.clock.now()
    with pytest.raises(WaitTimeout) as raised:
        build.wait(poll=PollPolicy(timeout=30))
    last = raised.value.last
    assert isinstance(last, type(build.get()))
    assert last.build_status == BuildStatus.IN_PROGRESS
    assert offline_aws.clock.now() - started == pytest.approx(30, abs=1)
    assert build.wait().succeeded


def test_throttled_polls_slow_the_wait_down_instead_of_failing_it(
    codebuild: CodeBuild, offline_aws: OfflineAWS
) -> None:
    """Ten throttled BatchGetBuilds in a row (more than one call's retries) do not end the wait."""
    build = codebuild.project(PROJECT).start()
    rule = offline_aws.faults.add(
        service="codebuild", operation="BatchGetBuilds", error="ThrottlingException", times=10
    )
    details = build.wait(poll=PollPolicy(interval=1, max_interval=5, sparse_interval=5))
    assert rule.fired == 10
    assert details.succeeded


# -- stopping and retrying ---------------------------------------------------------------------------------


def test_stop_ends_the_build_and_a_second_stop_is_harmless(
    codebuild: CodeBuild, offline_aws: OfflineAWS
) -> None:
    """stop() answers STOPPED; waiting then raises BuildFailed at the stopped phase; stopping again or
    stopping a finished build returns its final status without error."""
    build = codebuild.project(PROJECT).start()
    offline_aws.clock.advance(10)  # into PROVISIONING
    stopped = build.stop()
    assert stopped.build_status == BuildStatus.STOPPED
    assert stopped.is_complete
    with pytest.raises(BuildFailed) as raised:
        build.wait()
    assert raised.value.phase == "PROVISIONING"
    assert build.stop().build_status == BuildStatus.STOPPED

    finished = codebuild.project(PROJECT).start()
    finished.wait()
    assert finished.stop().build_status == BuildStatus.SUCCEEDED
    with pytest.raises(ResourceNotFoundError):
        codebuild.build(UNKNOWN_BUILD).stop()


def test_retry_starts_a_new_build_with_the_same_settings(
    codebuild: CodeBuild, offline_aws: OfflineAWS
) -> None:
    """retry() starts a new build (next number, same overrides); the same token gives the same retry."""
    offline_aws.script_build(PROJECT, times=1)  # the first build fails, later ones succeed
    failed = codebuild.project(PROJECT).start(env={"STAGE": "prod"})
    with pytest.raises(BuildFailed):
        failed.wait()
    retried = failed.retry(token="retry-1")
    assert retried != failed
    assert failed.retry(token="retry-1") == retried
    details = retried.wait()
    assert details.build_number == 2
    assert details.environment is not None
    assert {v.name: v.value for v in details.environment.environment_variables}["STAGE"] == "prod"
    assert list(codebuild.project(PROJECT).build_ids()) == [retried.id, failed.id]


# -- logs ---------------------------------------------------------------------------------------------------


def test_logs_read_the_whole_stream_page_by_page(codebuild: CodeBuild, offline_aws: OfflineAWS) -> None:
    """logs() yields every line in order, following nextForwardToken until it repeats (3 pages here)."""
    output = [f"line {number}" for number in range(10_050)]
    offline_aws.script_build(PROJECT, fail_in=None, log_lines={"BUILD": output})
    build = codebuild.project(PROJECT).start()
    assert list(build.logs()) == []  # no stream before PROVISIONING
    build.wait()
    counter = CallCounter(codebuild.logs_client, "GetLogEvents")
    lines = list(build.logs())
    assert counter["GetLogEvents"] == 3
    texts = [str(line) for line in lines]
    start = texts.index("line 0")
    assert texts[start : start + len(output)] == output
    assert texts[start - 1].endswith("Entering phase BUILD")
    assert texts[-1].endswith("Phase context status code:  Message: ")
    assert all(isinstance(line, LogLine) for line in lines)
    assert [line.timestamp for line in lines] == sorted(line.timestamp for line in lines)


def test_follow_tails_the_log_until_the_build_ends(codebuild: CodeBuild, offline_aws: OfflineAWS) -> None:
    """logs(follow=True) starts before the stream exists, yields lines as they come, and stops after the
    build ended and its last line was read: the same lines a later read gives."""
    offline_aws.script_build(PROJECT, fail_in=None, log_lines=["compiling", "linking"])
    build = codebuild.project(PROJECT).start()
    followed = [str(line) for line in build.logs(follow=True)]
    details = build.get()
    assert details.is_complete
    assert followed == [str(line) for line in build.logs()]
    start = followed.index("compiling")
    assert followed[start : start + 2] == ["compiling", "linking"]
    assert followed[start - 1].endswith("Entering phase BUILD")
    assert followed[start + 2].endswith("Phase complete: BUILD State: SUCCEEDED")
    assert details.end_time is not None
    assert offline_aws.clock.now() - details.end_time.timestamp() <= 10


def test_follow_stops_at_its_timeout(codebuild: CodeBuild, offline_aws: OfflineAWS) -> None:
    """A follow with a timeout raises WaitTimeout (with the last build seen) once it has run that long."""
    build = codebuild.project(PROJECT).start()
    started = offline_aws.clock.now()
    lines: list[LogLine] = []
    with pytest.raises(WaitTimeout) as raised:
        lines.extend(
            build.logs(
                follow=True, poll=PollPolicy(interval=1, max_interval=5, sparse_interval=5, timeout=40)
            )
        )
    assert isinstance(raised.value.last, type(build.get()))
    assert raised.value.last.build_status == BuildStatus.IN_PROGRESS
    assert 40 <= offline_aws.clock.now() - started <= 45
    assert any(str(line).endswith("Entering phase INSTALL") for line in lines)


def test_follow_keeps_going_through_throttling(codebuild: CodeBuild, offline_aws: OfflineAWS) -> None:
    """Throttled GetLogEvents and BatchGetBuilds calls slow a follow down; no line is lost or repeated."""
    offline_aws.script_build(PROJECT, fail_in=None, log_lines=[f"step {n}" for n in range(50)])
    build = codebuild.project(PROJECT).start()
    rule = offline_aws.faults.add(
        service="codebuild", operation="BatchGetBuilds", error="ThrottlingException", nth=range(1, 8)
    )
    logs_rule = offline_aws.faults.add(
        service="logs", operation="GetLogEvents", error="ThrottlingException", rate=0.5
    )
    followed = [str(line) for line in build.logs(follow=True)]
    offline_aws.faults.clear()
    assert rule.fired == 7
    assert logs_rule.fired > 0
    assert followed == [str(line) for line in build.logs()]


def test_logs_of_a_build_without_cloudwatch_logs_say_where_they_are(codebuild: CodeBuild) -> None:
    """A build whose CloudWatch Logs are disabled raises a clear not-found error instead of yielding nothing."""
    build = codebuild.project(PROJECT).start(
        logsConfigOverride={
            "cloudWatchLogs": {"status": "DISABLED"},
            "s3Logs": {"status": "ENABLED", "location": "log-bucket/app"},
        }
    )
    with pytest.raises(
        ResourceNotFoundError, match=r"writes no CloudWatch Logs; its log goes to S3 \(log-bucket/app\)"
    ):
        list(build.logs())


# -- many builds -----------------------------------------------------------------------------------------------


def test_many_builds_are_read_100_per_batch(codebuild: CodeBuild) -> None:
    """250 builds: listing them with details, and refreshing the handles, take 3 BatchGetBuilds calls each."""
    project = codebuild.project(PROJECT)
    handles = [project.start() for _ in range(250)]
    counter = CallCounter(codebuild.client, "BatchGetBuilds", "ListBuildsForProject")

    newest = list(project.builds())
    assert [details.build_number for details in newest] == list(range(250, 0, -1))
    assert counter["BatchGetBuilds"] == 3
    assert counter["ListBuildsForProject"] == 3

    counter.reset()
    refreshed = codebuild.refresh(handles)
    assert [details.id for details in refreshed] == [handle.id for handle in handles]
    assert counter["BatchGetBuilds"] == 3
    assert BATCH_SIZE == 100

    counter.reset()
    first_five = []
    for details in project.builds():
        first_five.append(details)
        if len(first_five) == 5:
            break
    assert counter["BatchGetBuilds"] == 1
    assert counter["ListBuildsForProject"] == 1


def test_get_builds_reports_unknown_ids(codebuild: CodeBuild) -> None:
    """Unknown ids raise a not-found error naming them, unless missing_ok; duplicates are fetched once."""
    build = codebuild.project(PROJECT).start()
    counter = CallCounter(codebuild.client, "BatchGetBuilds")
    with pytest.raises(ResourceNotFoundError, match=f"1 of 2 builds do not exist: {UNKNOWN_BUILD}"):
        codebuild.get_builds([build.id, UNKNOWN_BUILD])
    found = codebuild.get_builds([build.id, UNKNOWN_BUILD, build.id], missing_ok=True)
    assert [details.id for details in found] == [build.id, build.id]
    assert counter["BatchGetBuilds"] == 2
    assert codebuild.get_builds([]) == []
    assert counter["BatchGetBuilds"] == 2


# -- the CodePipeline hook ---------------------------------------------------------------------------------------


def test_a_codebuild_action_opens_the_build_behind_it(codebuild: CodeBuild, offline_aws: OfflineAWS) -> None:
    """``Action.build()`` (pipepilot.stages) returns the Build that ran for a CodePipeline CodeBuild action."""
    session = _shared_session()
    role = session.client("iam").create_role(
        RoleName="pipeline-role", AssumeRolePolicyDocument=_trust("codepipeline.amazonaws.com")
    )["Role"]["Arn"]
    session.client("s3").create_bucket(Bucket="artifacts")
    session.client("s3").create_bucket(Bucket="sources")

    def action(
        name: str, category: str, provider: str, config: dict[str, str], **artifacts: Any
    ) -> dict[str, Any]:
        return {
            "name": name,
            "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
            "configuration": config,
            "inputArtifacts": [{"name": n} for n in artifacts.get("inputs", ())],
            "outputArtifacts": [{"name": n} for n in artifacts.get("outputs", ())],
            "runOrder": 1,
        }

    codepipeline = session.client("codepipeline")
    codepipeline.create_pipeline(
        pipeline=cast(
            "PipelineDeclarationTypeDef",
            {
                "name": "web",
                "roleArn": role,
                "artifactStore": {"type": "S3", "location": "artifacts"},
                "stages": [
                    {
                        "name": "Source",
                        "actions": [
                            action(
                                "Source",
                                "Source",
                                "S3",
                                {
                                    "S3Bucket": "sources",
                                    "S3ObjectKey": "app.zip",
                                    "PollForSourceChanges": "false",
                                },
                                outputs=("src",),
                            )
                        ],
                    },
                    {
                        "name": "Build",
                        "actions": [
                            action("Build", "Build", "CodeBuild", {"ProjectName": PROJECT}, inputs=("src",))
                        ],
                    },
                ],
            },
        )
    )
    offline_aws.clock.advance(3600)
    build = Action(caller=Caller(codepipeline), pipeline="web", stage="Build", name="Build").build()
    assert isinstance(build, Build)
    details = build.get()
    assert details.initiator == "codepipeline/web"
    assert details.succeeded
    assert list(codebuild.project(PROJECT).build_ids()) == [build.id]
