"""The offline CodeBuild engine, driven through plain boto3 clients inside ``pipepilot.local.offline()``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

import pipepilot.local
from pipepilot.events import BuildPhaseChange, BuildStateChange, parse_event
from pipepilot.local._errors import ServiceError
from tests._data import CODEBUILD_PHASES as PHASES

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_codebuild import CodeBuildClient
    from mypy_boto3_logs import CloudWatchLogsClient

    from pipepilot.local import OfflineAWS

PROJECT = "app"
ROLE = "arn:aws:iam::123456789012:role/codebuild-app"


@pytest.fixture
def aws() -> Iterator[OfflineAWS]:
    """An offline world with a role CodeBuild may assume."""
    with pipepilot.local.offline(seed=1) as aws:
        aws.service_role("codebuild-app", "codebuild")
        yield aws


@pytest.fixture
def cb(aws: OfflineAWS) -> CodeBuildClient:
    """A plain boto3 CodeBuild client."""
    client: CodeBuildClient = aws.client("codebuild")
    return client


def _create(cb: CodeBuildClient, name: str = PROJECT, **extra: Any) -> dict[str, Any]:
    return dict(
        cb.create_project(
            name=name,
            source={"type": "GITHUB", "location": "https://github.com/example/app"},
            artifacts={"type": "S3", "location": "artifact-bucket", "name": "app.zip"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/standard:7.0",
                "computeType": "BUILD_GENERAL1_SMALL",
                "environmentVariables": [{"name": "KEEP", "value": "project"}],
            },
            serviceRole=ROLE,
            **extra,
        )["project"]
    )


@pytest.fixture
def project(cb: CodeBuildClient) -> str:
    """A GitHub-sourced project named ``app``."""
    _create(cb)
    return PROJECT


def _get(cb: CodeBuildClient, build_id: str) -> dict[str, Any]:
    return dict(cb.batch_get_builds(ids=[build_id])["builds"][0])


def _run(aws: OfflineAWS, cb: CodeBuildClient, **params: Any) -> dict[str, Any]:
    build_id = cb.start_build(projectName=PROJECT, **params)["build"]["id"]
    aws.clock.run_until_idle(limit=48 * 3600)
    return _get(cb, build_id)


def _phase_status(build: dict[str, Any]) -> dict[str, str | None]:
    return {phase["phaseType"]: phase.get("phaseStatus") for phase in build["phases"]}


def _code(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# -- projects ------------------------------------------------------------------------------------------------


def test_create_project_fills_the_service_defaults(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """CreateProject answers the stored project with its ARN, times and AWS's defaults."""
    project = _create(cb)
    assert project["arn"] == "arn:aws:codebuild:us-east-1:123456789012:project/app"
    assert project["timeoutInMinutes"] == 60
    assert project["queuedTimeoutInMinutes"] == 480
    assert project["encryptionKey"] == "arn:aws:kms:us-east-1:123456789012:alias/aws/s3"
    assert project["environment"]["environmentVariables"] == [
        {"name": "KEEP", "value": "project", "type": "PLAINTEXT"}
    ]
    assert project["created"].timestamp() == aws.clock.now()
    assert project["badge"] == {"badgeEnabled": False}


def test_create_project_errors(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """A duplicate name, an untrusted role and a malformed name are refused, and nothing is stored."""
    _create(cb)
    with pytest.raises(ClientError) as duplicate:
        _create(cb)
    assert _code(duplicate) == ("ResourceAlreadyExistsException", 400)
    with pytest.raises(ClientError) as role:
        cb.create_project(
            name="other",
            source={"type": "NO_SOURCE", "buildspec": "version: 0.2"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={"type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL"},
            serviceRole="arn:aws:iam::123456789012:role/missing",
        )
    assert _code(role) == ("InvalidInputException", 400)
    assert "sts:AssumeRole" in role.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as name:
        _create(cb, name="has spaces")
    assert _code(name) == ("InvalidInputException", 400)
    assert cb.list_projects()["projects"] == [PROJECT]


def test_verify_roles_off_accepts_any_role(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """With ``aws.verify_roles = False`` a role missing from IAM is accepted."""
    aws.verify_roles = False
    cb.create_project(
        name="loose",
        source={"type": "NO_SOURCE", "buildspec": "version: 0.2"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole="arn:aws:iam::123456789012:role/missing",
    )
    assert cb.list_projects()["projects"] == ["loose"]


def test_update_delete_and_read_projects(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """UpdateProject changes only what it is given; BatchGetProjects reports unknown names; delete is quiet."""
    _create(cb)
    aws.clock.advance(60)
    updated = cb.update_project(name=PROJECT, description="the app", timeoutInMinutes=30, badgeEnabled=True)
    assert updated["project"]["description"] == "the app"
    assert updated["project"]["timeoutInMinutes"] == 30
    assert updated["project"]["badge"] == {"badgeEnabled": True}
    assert updated["project"]["lastModified"].timestamp() == aws.clock.now()
    assert updated["project"]["source"]["type"] == "GITHUB"
    arn = updated["project"]["arn"]
    found = cb.batch_get_projects(names=[arn, "ghost"])
    assert [project["name"] for project in found["projects"]] == [PROJECT]
    assert found["projectsNotFound"] == ["ghost"]
    with pytest.raises(ClientError) as missing:
        cb.update_project(name="ghost", description="x")
    assert _code(missing) == ("ResourceNotFoundException", 400)
    cb.delete_project(name=PROJECT)
    cb.delete_project(name=PROJECT)
    assert cb.list_projects()["projects"] == []


def test_list_projects_sorting_and_pages(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """ListProjects sorts by name (default), creation or change time, and pages by 100."""
    for name in ("bb", "cc", "aa"):
        _create(cb, name=name)
        aws.clock.advance(1)
    assert cb.list_projects()["projects"] == ["aa", "bb", "cc"]
    assert cb.list_projects(sortBy="CREATED_TIME")["projects"] == ["bb", "cc", "aa"]
    assert cb.list_projects(sortBy="NAME", sortOrder="DESCENDING")["projects"] == ["cc", "bb", "aa"]
    for index in range(100):
        _create(cb, name=f"p{index:03d}")
    first = cb.list_projects()
    assert len(first["projects"]) == 100
    second = cb.list_projects(nextToken=first["nextToken"])
    assert len(second["projects"]) == 3
    assert "nextToken" not in second
    with pytest.raises(ClientError) as bad:
        cb.list_projects(nextToken="garbage!")
    assert _code(bad) == ("InvalidInputException", 400)


# -- starting builds -----------------------------------------------------------------------------------------


def test_start_build_answers_queued_build_with_identifiers(
    aws: OfflineAWS, cb: CodeBuildClient, project: str
) -> None:
    """StartBuild answers SUBMITTED done and QUEUED in progress; ids, ARNs and numbers are AWS's."""
    build = cb.start_build(projectName=project)["build"]
    name, _, uuid = build["id"].partition(":")
    assert name == project
    assert build["arn"] == f"arn:aws:codebuild:us-east-1:123456789012:build/{build['id']}"
    assert build["buildNumber"] == 1
    assert build["currentPhase"] == "QUEUED"
    assert build["buildStatus"] == "IN_PROGRESS"
    assert build["buildComplete"] is False
    assert build["initiator"] == "pipepilot-offline"
    submitted, queued = build["phases"]
    assert submitted["phaseType"] == "SUBMITTED"
    assert submitted["phaseStatus"] == "SUCCEEDED"
    assert submitted["durationInSeconds"] == 0
    assert set(queued) == {"phaseType", "startTime"}
    assert build["logs"]["deepLink"].endswith("group=null;stream=null")
    assert len(build["resolvedSourceVersion"]) == 40
    assert build["artifacts"]["location"] == "arn:aws:s3:::artifact-bucket/app.zip"
    assert cb.start_build(projectName=project)["build"]["buildNumber"] == 2
    assert uuid != cb.start_build(projectName=project)["build"]["id"].partition(":")[2]


def test_start_build_overrides_show_on_the_build_not_the_project(cb: CodeBuildClient, project: str) -> None:
    """Every override is visible on the build; the project keeps its own settings."""
    build = cb.start_build(
        projectName=project,
        sourceVersion="refs/heads/feature",
        environmentVariablesOverride=[
            {"name": "STAGE", "value": "prod"},
            {"name": "KEEP", "value": "override", "type": "PARAMETER_STORE"},
        ],
        imageOverride="custom:1",
        computeTypeOverride="BUILD_GENERAL1_LARGE",
        privilegedModeOverride=True,
        buildspecOverride="buildspec-ci.yml",
        gitCloneDepthOverride=5,
        timeoutInMinutesOverride=90,
        queuedTimeoutInMinutesOverride=10,
        serviceRoleOverride="arn:aws:iam::123456789012:role/other",
        cacheOverride={"type": "LOCAL", "modes": ["LOCAL_DOCKER_LAYER_CACHE"]},
        artifactsOverride={"type": "NO_ARTIFACTS"},
        debugSessionEnabled=True,
    )["build"]
    assert build["sourceVersion"] == "refs/heads/feature"
    variables = {variable["name"]: variable for variable in build["environment"]["environmentVariables"]}
    assert variables["STAGE"] == {"name": "STAGE", "value": "prod", "type": "PLAINTEXT"}
    assert variables["KEEP"] == {"name": "KEEP", "value": "override", "type": "PARAMETER_STORE"}
    assert build["environment"]["image"] == "custom:1"
    assert build["environment"]["computeType"] == "BUILD_GENERAL1_LARGE"
    assert build["environment"]["privilegedMode"] is True
    assert build["source"]["buildspec"] == "buildspec-ci.yml"
    assert build["source"]["gitCloneDepth"] == 5
    assert build["timeoutInMinutes"] == 90
    assert build["queuedTimeoutInMinutes"] == 10
    assert build["serviceRole"] == "arn:aws:iam::123456789012:role/other"
    assert build["cache"] == {"type": "LOCAL", "modes": ["LOCAL_DOCKER_LAYER_CACHE"]}
    assert build["artifacts"] == {"location": ""}
    assert build["debugSession"] == {"sessionEnabled": True}
    [stored] = cb.batch_get_projects(names=[project])["projects"]
    assert stored["environment"]["image"] == "aws/codebuild/standard:7.0"
    assert stored["environment"]["environmentVariables"] == [
        {"name": "KEEP", "value": "project", "type": "PLAINTEXT"}
    ]


def test_start_build_validation_changes_nothing(cb: CodeBuildClient, project: str) -> None:
    """An out-of-range override answers InvalidInputException and starts no build; a missing project 404s."""
    with pytest.raises(ClientError) as invalid:
        cb.start_build(projectName=project, timeoutInMinutesOverride=2161)
    assert _code(invalid) == ("InvalidInputException", 400)
    with pytest.raises(ClientError) as missing:
        cb.start_build(projectName="ghost")
    assert _code(missing) == ("ResourceNotFoundException", 400)
    assert cb.list_builds()["ids"] == []


def test_idempotency_token_within_five_minutes(aws: OfflineAWS, cb: CodeBuildClient, project: str) -> None:
    """A reused token returns the first build (same parameters) or InvalidInputException; after 5 min it is new."""
    first = cb.start_build(projectName=project, idempotencyToken="tok", sourceVersion="main")["build"]["id"]
    aws.clock.advance(120)
    assert (
        cb.start_build(projectName=project, idempotencyToken="tok", sourceVersion="main")["build"]["id"]
        == first
    )
    with pytest.raises(ClientError) as mismatch:
        cb.start_build(projectName=project, idempotencyToken="tok", sourceVersion="dev")
    assert _code(mismatch) == ("InvalidInputException", 400)
    assert (
        cb.start_build(projectName=project, idempotencyToken="TOK", sourceVersion="main")["build"]["id"]
        != first
    )
    aws.clock.advance(181)
    assert (
        cb.start_build(projectName=project, idempotencyToken="tok", sourceVersion="main")["build"]["id"]
        != first
    )
    assert len(cb.list_builds()["ids"]) == 3


def test_account_and_project_build_limits(aws: OfflineAWS, cb: CodeBuildClient, project: str) -> None:
    """Past the account cap or a project's concurrentBuildLimit StartBuild answers AccountLimitExceeded."""
    aws.max_concurrent_builds = 2
    cb.start_build(projectName=project)
    cb.start_build(projectName=project)
    with pytest.raises(ClientError) as capped:
        cb.start_build(projectName=project)
    assert _code(capped) == ("AccountLimitExceededException", 400)
    assert "Cannot have more than 2 active builds" in capped.value.response["Error"]["Message"]
    aws.clock.run_until_idle()
    aws.max_concurrent_builds = None
    _create(cb, name="single", concurrentBuildLimit=1)
    cb.start_build(projectName="single")
    with pytest.raises(ClientError) as project_cap:
        cb.start_build(projectName="single")
    assert _code(project_cap) == ("AccountLimitExceededException", 400)


# -- phases --------------------------------------------------------------------------------------------------


def test_successful_build_walks_every_phase_on_the_virtual_clock(
    aws: OfflineAWS, cb: CodeBuildClient, project: str
) -> None:
    """Phases follow AWS's order back to back with the default durations; COMPLETED carries only type and start."""
    # StartBuild is applied at the end of its latency (virtual time moves in whole microseconds).
    started = round(aws.clock.now() + aws.call_latency, 6)
    build = _run(aws, cb)
    assert build["buildStatus"] == "SUCCEEDED"
    assert build["buildComplete"] is True
    assert build["currentPhase"] == "COMPLETED"
    phases = build["phases"]
    assert [phase["phaseType"] for phase in phases] == PHASES
    durations = aws.build_phase_durations
    at = started
    for phase in phases[:-1]:
        assert phase["startTime"].timestamp() == at
        at += durations[phase["phaseType"]]
        assert phase["endTime"].timestamp() == at
        assert phase["durationInSeconds"] == int(durations[phase["phaseType"]])
        assert phase["phaseStatus"] == "SUCCEEDED"
    assert set(phases[-1]) == {"phaseType", "startTime"}
    assert build["endTime"].timestamp() == at
    assert "contexts" not in phases[1]
    assert phases[2]["contexts"] == [{"statusCode": "", "message": ""}]


def test_build_status_stays_in_progress_until_complete(
    aws: OfflineAWS, cb: CodeBuildClient, project: str
) -> None:
    """A failing build still reads IN_PROGRESS while POST_BUILD runs; the outcome arrives with buildComplete."""
    aws.script_build(project, fail_in="BUILD", phase_durations={"POST_BUILD": 100})
    build_id = cb.start_build(projectName=project)["build"]["id"]
    while _get(cb, build_id)["currentPhase"] != "POST_BUILD":
        aws.clock.advance(1)
    running = _get(cb, build_id)
    assert running["buildStatus"] == "IN_PROGRESS"
    assert running["buildComplete"] is False
    assert _phase_status(running)["BUILD"] == "FAILED"
    assert set(running["phases"][-1]) == {"phaseType", "startTime"}
    aws.clock.run_until_idle()
    assert _get(cb, build_id)["buildStatus"] == "FAILED"


def test_failure_in_build_still_runs_post_build_and_upload(
    aws: OfflineAWS, cb: CodeBuildClient, project: str
) -> None:
    """FAILED in BUILD: POST_BUILD, UPLOAD_ARTIFACTS and FINALIZING run and succeed; the context explains."""
    aws.script_build(
        project, fail_in="BUILD", message="Error while executing command: make. Reason: exit status 2"
    )
    build = _run(aws, cb)
    assert build["buildStatus"] == "FAILED"
    assert [phase["phaseType"] for phase in build["phases"]] == PHASES
    statuses = _phase_status(build)
    assert statuses["BUILD"] == "FAILED"
    assert statuses["POST_BUILD"] == statuses["UPLOAD_ARTIFACTS"] == statuses["FINALIZING"] == "SUCCEEDED"
    [context] = next(phase for phase in build["phases"] if phase["phaseType"] == "BUILD")["contexts"]
    assert context == {
        "statusCode": "COMMAND_EXECUTION_ERROR",
        "message": "Error while executing command: make. Reason: exit status 2",
    }


@pytest.mark.parametrize("phase", ["PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD"])
def test_early_failure_skips_to_finalizing(
    aws: OfflineAWS, cb: CodeBuildClient, project: str, phase: str
) -> None:
    """A failure before BUILD goes straight to FINALIZING, then COMPLETED."""
    aws.script_build(project, fail_in=phase, status="FAULT")
    build = _run(aws, cb)
    types = [entry["phaseType"] for entry in build["phases"]]
    assert types == [*PHASES[: PHASES.index(phase) + 1], "FINALIZING", "COMPLETED"]
    assert build["buildStatus"] == "FAULT"
    assert _phase_status(build)[phase] == "FAULT"


def test_scripted_timeout_lasts_until_the_build_timeout(
    aws: OfflineAWS, cb: CodeBuildClient, project: str
) -> None:
    """status=TIMED_OUT keeps the phase running until timeoutInMinutes (from PROVISIONING) runs out."""
    aws.script_build(project, fail_in="BUILD", status="TIMED_OUT")
    build = _run(aws, cb, timeoutInMinutesOverride=15)
    provisioning = next(phase for phase in build["phases"] if phase["phaseType"] == "PROVISIONING")
    build_phase = next(phase for phase in build["phases"] if phase["phaseType"] == "BUILD")
    assert build["buildStatus"] == "TIMED_OUT"
    assert build_phase["phaseStatus"] == "TIMED_OUT"
    assert build_phase["endTime"].timestamp() == provisioning["startTime"].timestamp() + 15 * 60
    assert build_phase["contexts"][0]["statusCode"] == "BUILD_TIMED_OUT"
    assert [phase["phaseType"] for phase in build["phases"]][-2:] == ["FINALIZING", "COMPLETED"]


def test_long_phase_times_out_at_timeout_in_minutes(
    aws: OfflineAWS, cb: CodeBuildClient, project: str
) -> None:
    """A phase longer than the timeout is cut at the timeout: TIMED_OUT, then FINALIZING."""
    aws.script_build(project, fail_in=None, phase_durations={"BUILD": 7200})
    build = _run(aws, cb)
    assert build["buildStatus"] == "TIMED_OUT"
    assert _phase_status(build)["BUILD"] == "TIMED_OUT"
    assert "POST_BUILD" not in _phase_status(build)


def test_queued_timeout(aws: OfflineAWS, cb: CodeBuildClient, project: str) -> None:
    """A build stuck in QUEUED past queuedTimeoutInMinutes times out there."""
    aws.script_build(project, fail_in=None, phase_durations={"QUEUED": 3600})
    build = _run(aws, cb, queuedTimeoutInMinutesOverride=5)
    assert _phase_status(build)["QUEUED"] == "TIMED_OUT"
    assert build["buildStatus"] == "TIMED_OUT"
    assert "PROVISIONING" not in _phase_status(build)


def test_scripts_with_times_apply_in_order_then_the_standing_one(
    aws: OfflineAWS, cb: CodeBuildClient, project: str
) -> None:
    """Counted scripts are used first in the order given, then the latest uncounted script, else defaults."""
    aws.script_build(project, fail_in="BUILD", status="FAULT", times=1)
    aws.script_build(project, fail_in="INSTALL", status="FAILED", times=1)
    outcomes = [_run(aws, cb)["buildStatus"] for _ in range(3)]
    assert outcomes == ["FAULT", "FAILED", "SUCCEEDED"]
    aws.script_build(project, fail_in="POST_BUILD")
    assert [_run(aws, cb)["buildStatus"] for _ in range(2)] == ["FAILED", "FAILED"]


def test_exported_variables_appear_after_post_build(
    aws: OfflineAWS, cb: CodeBuildClient, project: str
) -> None:
    """Scripted exported variables show on the build from the end of POST_BUILD on."""
    aws.script_build(project, fail_in=None, exported_variables={"IMAGE_TAG": "abc123"})
    build_id = cb.start_build(projectName=project)["build"]["id"]
    assert "exportedEnvironmentVariables" not in _get(cb, build_id)
    aws.clock.run_until_idle()
    assert _get(cb, build_id)["exportedEnvironmentVariables"] == [{"name": "IMAGE_TAG", "value": "abc123"}]


def test_build_state_change_events(aws: OfflineAWS, cb: CodeBuildClient, project: str) -> None:
    """CodeBuild Build State Change events mark the start (IN_PROGRESS) and the outcome."""
    build = _run(aws, cb)
    states = [
        event["detail"]["build-status"]
        for event in aws.events
        if event["detail-type"] == "CodeBuild Build State Change"
    ]
    assert states == ["IN_PROGRESS", "SUCCEEDED"]
    assert aws.events[-1]["resources"] == [build["arn"]]
    assert aws.events[-1]["source"] == "aws.codebuild"


def test_build_events_have_aws_shape_and_read_as_typed_views(
    aws: OfflineAWS, cb: CodeBuildClient, project: str
) -> None:
    """A failed build's events read as typed views: one phase change per ended phase (the failed one with
    its context), and a final state change carrying the logs, the phases and the console-style start time."""
    aws.script_build(project, fail_in="BUILD")
    build = _run(aws, cb)
    views = [parse_event(event) for event in aws.events if event["source"] == "aws.codebuild"]
    phase_changes = [view for view in views if isinstance(view, BuildPhaseChange)]
    assert [view.completed_phase for view in phase_changes] == [
        phase["phaseType"] for phase in build["phases"] if "phaseStatus" in phase
    ]
    failed = next(view for view in phase_changes if view.completed_phase_status == "FAILED")
    assert failed.completed_phase == "BUILD"
    assert failed.completed_phase_context is not None
    assert "COMMAND_EXECUTION_ERROR" in failed.completed_phase_context
    final = views[-1]
    assert isinstance(final, BuildStateChange)
    assert (final.build_status, final.build_id, final.project) == ("FAILED", build["arn"], project)
    assert final.event_id is not None
    assert len({view.event_id for view in views}) == len(views)
    assert final.logs is not None
    assert (final.logs.group_name, final.logs.stream_name) == (
        build["logs"]["groupName"],
        build["logs"]["streamName"],
    )
    assert final.build_start_time == build["startTime"].replace(microsecond=0)
    assert [phase.phase_type for phase in final.phases] == [phase["phaseType"] for phase in build["phases"]]


# -- logs ----------------------------------------------------------------------------------------------------


def test_log_lines_reach_cloudwatch_logs(aws: OfflineAWS, cb: CodeBuildClient, project: str) -> None:
    """Phase lines and scripted lines land in moto's CloudWatch Logs, readable with get_log_events."""
    aws.script_build(project, fail_in="BUILD", log_lines=["npm test", "1 test failed"])
    build = _run(aws, cb)
    logs = build["logs"]
    uuid = build["id"].partition(":")[2]
    assert logs["groupName"] == "/aws/codebuild/app"
    assert logs["streamName"] == uuid
    assert logs["deepLink"].endswith(f"#logEvent:group=/aws/codebuild/app;stream={uuid}")
    assert (
        logs["cloudWatchLogsArn"]
        == f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/codebuild/app:log-stream:{uuid}"
    )
    client: CloudWatchLogsClient = aws.client("logs")
    events = client.get_log_events(logGroupName=logs["groupName"], logStreamName=logs["streamName"])["events"]
    messages = [event["message"] for event in events]
    assert messages.index("npm test") < messages.index("1 test failed")
    assert any(message.endswith("Entering phase BUILD") for message in messages)
    assert any(message.endswith("Phase complete: BUILD State: FAILED") for message in messages)
    assert all(
        message.startswith("[Container] 2026/01/01") for message in messages if "phase" in message.lower()
    )
    timestamps = [event["timestamp"] for event in events]
    assert timestamps == sorted(timestamps)
    assert timestamps[0] >= int(build["startTime"].timestamp() * 1000)


def test_logs_config_group_prefix_and_disabled(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """A custom group and stream prefix are used; disabled CloudWatch logs write nothing."""
    _create(cb, logsConfig={"cloudWatchLogs": {"status": "ENABLED", "groupName": "ci", "streamName": "app"}})
    build = _run(aws, cb)
    assert build["logs"]["groupName"] == "ci"
    assert build["logs"]["streamName"] == f"app/{build['id'].partition(':')[2]}"
    client: CloudWatchLogsClient = aws.client("logs")
    assert client.get_log_events(logGroupName="ci", logStreamName=build["logs"]["streamName"])["events"]
    quiet = cb.start_build(projectName=PROJECT, logsConfigOverride={"cloudWatchLogs": {"status": "DISABLED"}})
    aws.clock.run_until_idle()
    assert "groupName" not in _get(cb, quiet["build"]["id"])["logs"]
    groups = [group["logGroupName"] for group in client.describe_log_groups()["logGroups"]]
    assert groups == ["ci"]


# -- reading, stopping, retrying, listing --------------------------------------------------------------------


def test_batch_get_builds_limits_and_not_found(cb: CodeBuildClient, project: str) -> None:
    """Unknown ids go to buildsNotFound; more than 100 ids answer InvalidInputException."""
    build_id = cb.start_build(projectName=project)["build"]["id"]
    answer = cb.batch_get_builds(ids=[build_id, "app:0000", build_id])
    assert [build["id"] for build in answer["builds"]] == [build_id, build_id]
    assert answer["buildsNotFound"] == ["app:0000"]
    with pytest.raises(ClientError) as too_many:
        cb.batch_get_builds(ids=[build_id] * 101)
    assert _code(too_many) == ("InvalidInputException", 400)
    assert len(cb.batch_get_builds(ids=[build_id] * 100)["builds"]) == 100


def test_stop_build(aws: OfflineAWS, cb: CodeBuildClient, project: str) -> None:
    """Stopping ends the current phase STOPPED and completes at once; a finished build is returned as is."""
    build_id = cb.start_build(projectName=project)["build"]["id"]
    aws.clock.advance(30)  # in INSTALL (24 s to 34 s with the default durations)
    stopped = cb.stop_build(id=build_id)["build"]
    assert stopped["buildStatus"] == "STOPPED"
    assert stopped["buildComplete"] is True
    assert [phase["phaseType"] for phase in stopped["phases"]][-2:] == ["INSTALL", "COMPLETED"]
    install = stopped["phases"][-2]
    assert install["phaseStatus"] == "STOPPED"
    assert "contexts" not in install
    assert stopped["endTime"].timestamp() == aws.clock.now()
    aws.clock.run_until_idle()
    assert _get(cb, build_id)["phases"] == stopped["phases"]
    assert cb.stop_build(id=build_id)["build"]["buildStatus"] == "STOPPED"
    done = _run(aws, cb)
    assert cb.stop_build(id=done["id"])["build"]["buildStatus"] == "SUCCEEDED"
    with pytest.raises(ClientError) as missing:
        cb.stop_build(id="app:missing")
    assert _code(missing) == ("ResourceNotFoundException", 400)


def test_retry_build(aws: OfflineAWS, cb: CodeBuildClient, project: str) -> None:
    """RetryBuild starts a new build (new id, next number) with the old build's settings."""
    original = _run(
        aws, cb, environmentVariablesOverride=[{"name": "STAGE", "value": "prod"}], sourceVersion="v1"
    )
    cb.update_project(
        name=PROJECT,
        environment={"type": "LINUX_CONTAINER", "image": "new", "computeType": "BUILD_GENERAL1_SMALL"},
    )
    retried = cb.retry_build(id=original["id"], idempotencyToken="again")["build"]
    assert retried["id"] != original["id"]
    assert retried["buildNumber"] == original["buildNumber"] + 1
    assert retried["sourceVersion"] == "v1"
    assert retried["environment"] == original["environment"]
    assert retried["resolvedSourceVersion"] == original["resolvedSourceVersion"]
    assert cb.retry_build(id=original["id"], idempotencyToken="again")["build"]["id"] == retried["id"]
    with pytest.raises(ClientError) as missing:
        cb.retry_build(id="app:missing")
    assert _code(missing) == ("ResourceNotFoundException", 400)


def test_list_builds_order_and_pages(aws: OfflineAWS, cb: CodeBuildClient, project: str) -> None:
    """Lists are newest first, 100 per page, stable while builds start between pages."""
    _create(cb, name="other")
    ids = [cb.start_build(projectName=project)["build"]["id"] for _ in range(150)]
    other = cb.start_build(projectName="other")["build"]["id"]
    first = cb.list_builds_for_project(projectName=project)
    assert first["ids"] == ids[::-1][:100]
    cb.start_build(projectName=project)  # a new build between pages does not shift the next page
    second = cb.list_builds_for_project(projectName=project, nextToken=first["nextToken"])
    assert second["ids"] == ids[::-1][100:]
    assert "nextToken" not in second
    assert cb.list_builds()["ids"][:2][1] == other
    paginator = cb.get_paginator("list_builds")
    assert sum(len(page["ids"]) for page in paginator.paginate()) == 152
    with pytest.raises(ClientError) as missing:
        cb.list_builds_for_project(projectName="ghost")
    assert _code(missing) == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as bad_token:
        cb.list_builds(nextToken=first["nextToken"], sortOrder="ASCENDING")
    assert _code(bad_token) == ("InvalidInputException", 400)


# -- the CodePipeline side -----------------------------------------------------------------------------------


def test_start_pipeline_build_reports_completion_from_the_clock(
    aws: OfflineAWS, cb: CodeBuildClient, project: str
) -> None:
    """A pipeline build is initiated by codepipeline/<name>, sourced from CODEPIPELINE, and reports its end."""
    finished: list[dict[str, Any]] = []
    aws.script_build(project, fail_in=None, exported_variables={"TAG": "v1"})
    with aws.clock.lock:
        build = aws.world.codebuild("us-east-1").start_pipeline_build(
            project,
            pipeline_name="release",
            source_version="arn:aws:s3:::bucket/release/SourceArti/abc.zip",
            environment_variables_override=[{"name": "TARGET", "value": "prod", "type": "PLAINTEXT"}],
            on_complete=finished.append,
        )
    assert build["initiator"] == "codepipeline/release"
    assert build["source"]["type"] == "CODEPIPELINE"
    assert build["sourceVersion"] == "arn:aws:s3:::bucket/release/SourceArti/abc.zip"
    assert {"name": "TARGET", "value": "prod", "type": "PLAINTEXT"} in build["environment"][
        "environmentVariables"
    ]
    aws.clock.advance(60)
    assert finished == []
    aws.clock.run_until_idle()
    [final] = finished
    assert final["id"] == build["id"]
    assert final["buildStatus"] == "SUCCEEDED"
    assert final["exportedEnvironmentVariables"] == [{"name": "TAG", "value": "v1"}]
    with aws.clock.lock, pytest.raises(ServiceError) as missing:
        aws.world.codebuild("us-east-1").start_pipeline_build(
            "ghost",
            pipeline_name="release",
            source_version=None,
            environment_variables_override=[],
            on_complete=print,
        )
    assert missing.value.code == "ResourceNotFoundException"


def test_regions_are_separate(aws: OfflineAWS, cb: CodeBuildClient, project: str) -> None:
    """A client in another region sees that region's engine: no projects, ARNs with its region."""
    west: CodeBuildClient = aws.client("codebuild", region="eu-west-1")
    assert west.list_projects()["projects"] == []
    created = _create(west, name="west")
    assert created["arn"].startswith("arn:aws:codebuild:eu-west-1:")
    assert cb.list_projects()["projects"] == [PROJECT]
