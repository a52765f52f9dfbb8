"""CodeBuild: identifiers, phases, StartBuild, the other operations with their errors, logs, and the
CodePipeline mapping."""

from __future__ import annotations

import itertools
import json
from typing import Any, cast

import pytest

from tests._data import CODEBUILD_PHASES as PHASES

from ._support import (
    HOUR,
    PIPELINE,
    UUID,
    Env,
    codebuild_action,
    expect_error,
    s3_source,
    stage,
    ts,
)

PROJECT = "conformance-direct"
UNKNOWN_BUILD = f"{PROJECT}:3b7a1c52-9d1e-4f0a-8b6c-2e5d4f3a1b0c"


def _create_direct_project(env: Env, name: str) -> None:
    env.cb.create_project(
        name=name,
        source={
            "type": "NO_SOURCE",
            "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n      - make\n",
        },
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=env.build_role_arn,
    )


@pytest.fixture
def project(env: Env) -> str:
    """A project built directly (no CodePipeline source)."""
    _create_direct_project(env, PROJECT)
    return PROJECT


def _start(env: Env, **kwargs: Any) -> str:
    return env.cb.start_build(projectName=PROJECT, **kwargs)["build"]["id"]


def _finish(env: Env, build_id: str) -> dict[str, Any]:
    env.run_until(lambda: env.build(build_id)["buildComplete"], limit=10 * HOUR, what=f"{build_id} complete")
    return dict(env.build(build_id))


# -- identifiers and StartBuild ------------------------------------------------------------------------------


def test_build_identifiers_and_start_response(env: Env, project: str) -> None:
    """StartBuild answers an IN_PROGRESS build: id ``<project>:<uuid>``, its ARN, buildNumber counting from 1."""
    build = env.cb.start_build(projectName=project)["build"]
    name, _, uuid = build["id"].partition(":")
    assert name == project
    assert UUID.fullmatch(uuid)
    assert build["arn"] == f"arn:aws:codebuild:us-east-1:{env.aws.account_id}:build/{build['id']}"
    assert build["buildNumber"] == 1
    assert build["buildStatus"] == "IN_PROGRESS"
    assert build["buildComplete"] is False
    assert build["projectName"] == project
    assert ts(build["startTime"]) == pytest.approx(env.now())
    assert env.cb.start_build(projectName=project)["build"]["buildNumber"] == 2


def test_build_overrides_are_recorded_on_the_build_only(env: Env, project: str) -> None:
    """Overrides (environment variables, sourceVersion, timeout) show on the build; the project is unchanged."""
    build_id = _start(
        env,
        sourceVersion="refs/heads/main",
        environmentVariablesOverride=[{"name": "STAGE", "value": "prod", "type": "PLAINTEXT"}],
        timeoutInMinutesOverride=90,
    )
    build = env.build(build_id)
    assert build["sourceVersion"] == "refs/heads/main"
    assert {"name": "STAGE", "value": "prod", "type": "PLAINTEXT"} in build["environment"][
        "environmentVariables"
    ]
    assert build["timeoutInMinutes"] == 90
    [stored] = env.cb.batch_get_projects(names=[project])["projects"]
    assert not stored["environment"].get("environmentVariables")


# -- lifecycle -----------------------------------------------------------------------------------------------


def test_build_phases_in_order_with_times_on_success(env: Env, project: str) -> None:
    """A successful build lists every phase in order; finished phases carry status, times and duration."""
    build = _finish(env, _start(env))
    assert build["buildStatus"] == "SUCCEEDED"
    assert build["currentPhase"] == "COMPLETED"
    phases = build["phases"]
    assert [phase["phaseType"] for phase in phases] == PHASES
    for before, after in itertools.pairwise(phases):
        assert ts(after["startTime"]) == pytest.approx(ts(before["endTime"]))
    for phase in phases[:-1]:
        assert phase["phaseStatus"] == "SUCCEEDED"
        assert phase["durationInSeconds"] == round(ts(phase["endTime"]) - ts(phase["startTime"]))
    assert set(phases[-1]) == {"phaseType", "startTime"}
    assert ts(build["endTime"]) == pytest.approx(ts(phases[-1]["startTime"]))


def test_build_phases_while_running(env: Env, project: str) -> None:
    """Mid-build, phases list what was reached so far; the last one is IN_PROGRESS and is currentPhase."""
    env.aws.script_build(project, fail_in=None, phase_durations={"BUILD": 600})
    build_id = _start(env)
    env.run_until(lambda: env.build(build_id)["currentPhase"] == "BUILD", limit=HOUR)
    build = env.build(build_id)
    types = [phase["phaseType"] for phase in build["phases"]]
    assert types == PHASES[: len(types)]
    assert types[-1] == "BUILD"
    # The phase in progress has no end yet; its status, if shown at all, is IN_PROGRESS.
    assert build["phases"][-1].get("phaseStatus", "IN_PROGRESS") == "IN_PROGRESS"
    assert "endTime" not in build["phases"][-1]
    assert build["buildStatus"] == "IN_PROGRESS"
    assert build["buildComplete"] is False


def test_build_failure_in_BUILD_still_runs_post_build_and_upload(env: Env, project: str) -> None:
    """A BUILD failure fails the build, yet POST_BUILD and UPLOAD_ARTIFACTS still run."""
    env.aws.script_build(project, fail_in="BUILD", status="FAILED")
    build = _finish(env, _start(env))
    status = {phase["phaseType"]: phase.get("phaseStatus") for phase in build["phases"]}
    assert build["buildStatus"] == "FAILED"
    assert status["BUILD"] == "FAILED"
    assert "POST_BUILD" in status
    assert "UPLOAD_ARTIFACTS" in status
    assert [phase["phaseType"] for phase in build["phases"]][-1] == "COMPLETED"


@pytest.mark.parametrize("status", ["FAULT", "TIMED_OUT"])
def test_build_fault_and_timeout_statuses(env: Env, project: str, status: str) -> None:
    """A scripted fault or timeout in a phase gives that status to the phase and the build."""
    env.aws.script_build(project, fail_in="BUILD", status=cast("Any", status))
    build = _finish(env, _start(env))
    assert build["buildStatus"] == status
    assert {phase["phaseType"]: phase.get("phaseStatus") for phase in build["phases"]}["BUILD"] == status


def test_build_failure_in_install_skips_to_finalizing(env: Env, project: str) -> None:
    """A failure in INSTALL skips to FINALIZING (AWS shows it in its phase diagram only)."""
    env.aws.script_build(project, fail_in="INSTALL", status="FAILED")
    build = _finish(env, _start(env))
    assert [phase["phaseType"] for phase in build["phases"]] == [
        "SUBMITTED",
        "QUEUED",
        "PROVISIONING",
        "DOWNLOAD_SOURCE",
        "INSTALL",
        "FINALIZING",
        "COMPLETED",
    ]


def test_build_times_out_at_its_timeout(env: Env, project: str) -> None:
    """A build running past timeoutInMinutes ends TIMED_OUT at that moment."""
    env.aws.script_build(project, fail_in=None, phase_durations={"BUILD": 4 * HOUR})
    build_id = _start(env, timeoutInMinutesOverride=30)
    started = ts(env.build(build_id)["startTime"])
    build = _finish(env, build_id)
    assert build["buildStatus"] == "TIMED_OUT"
    assert ts(build["endTime"]) - started <= 30 * 60 + 60


# -- logs ----------------------------------------------------------------------------------------------------


def test_build_logs_go_to_cloudwatch_logs(env: Env, project: str) -> None:
    """Log lines land in CloudWatch Logs at logs.groupName/streamName (defaults: /aws/codebuild/<p>, uuid)."""
    env.aws.script_build(project, fail_in=None, log_lines=["Running make", "All tests passed"])
    build = _finish(env, _start(env))
    logs = build["logs"]
    uuid = build["id"].split(":", 1)[1]
    assert logs["groupName"] == f"/aws/codebuild/{project}"
    assert logs["streamName"] == uuid
    assert logs["cloudWatchLogsArn"] == (
        f"arn:aws:logs:us-east-1:{env.aws.account_id}:log-group:/aws/codebuild/{project}:log-stream:{uuid}"
    )
    events = env.logs.get_log_events(logGroupName=logs["groupName"], logStreamName=logs["streamName"])[
        "events"
    ]
    messages = [event["message"] for event in events]
    # The reference fixes where the lines go, not their decoration: find them inside the messages.
    where = {
        line: next(i for i, text in enumerate(messages) if line in text)
        for line in ("Running make", "All tests passed")
    }
    assert where["Running make"] < where["All tests passed"]


# -- operations and errors -----------------------------------------------------------------------------------


def test_batch_get_builds_unknown_ids_in_builds_not_found(env: Env, project: str) -> None:
    """Unknown ids are reported in buildsNotFound, not as an error."""
    build_id = _start(env)
    response = env.cb.batch_get_builds(ids=[build_id, UNKNOWN_BUILD])
    assert [build["id"] for build in response["builds"]] == [build_id]
    assert response["buildsNotFound"] == [UNKNOWN_BUILD]


def test_batch_get_builds_error_InvalidInputException_over_100_ids(env: Env, project: str) -> None:
    """More than 100 ids answers InvalidInputException (botocore checks only the minimum)."""
    with expect_error("InvalidInputException"):
        env.cb.batch_get_builds(
            ids=[f"{PROJECT}:{index:08d}-0000-4000-8000-000000000000" for index in range(101)]
        )


def test_stop_build_stops_a_running_build(env: Env, project: str) -> None:
    """StopBuild on a running build answers it STOPPED."""
    build_id = _start(env)
    env.aws.clock.advance(5)
    stopped = env.cb.stop_build(id=build_id)["build"]
    env.run_until(lambda: env.build(build_id)["buildComplete"], limit=HOUR)
    assert env.build(build_id)["buildStatus"] == "STOPPED"
    assert stopped["id"] == build_id


def test_stop_build_of_finished_build_returns_final_status(env: Env, project: str) -> None:
    """StopBuild on a finished build returns it unchanged (SUCCEEDED), not an error."""
    build_id = _start(env)
    _finish(env, build_id)
    assert env.cb.stop_build(id=build_id)["build"]["buildStatus"] == "SUCCEEDED"


def test_stop_build_error_ResourceNotFoundException(env: Env, project: str) -> None:
    """Stopping an unknown build answers ResourceNotFoundException."""
    with expect_error("ResourceNotFoundException"):
        env.cb.stop_build(id=UNKNOWN_BUILD)


def test_retry_build_starts_a_new_build_with_the_same_settings(env: Env, project: str) -> None:
    """RetryBuild starts a new build (new id and number) from the old one's settings."""
    original = _start(env, environmentVariablesOverride=[{"name": "STAGE", "value": "prod"}])
    _finish(env, original)
    retried = env.cb.retry_build(id=original)["build"]
    assert retried["id"] != original
    assert retried["buildNumber"] == 2
    assert retried["buildStatus"] == "IN_PROGRESS"
    names = {(v["name"], v["value"]) for v in retried["environment"].get("environmentVariables", [])}
    assert ("STAGE", "prod") in names


def test_retry_build_error_ResourceNotFoundException(env: Env, project: str) -> None:
    """Retrying an unknown build answers ResourceNotFoundException."""
    with expect_error("ResourceNotFoundException"):
        env.cb.retry_build(id=UNKNOWN_BUILD)


def test_list_builds_for_project_order_and_errors(env: Env, project: str) -> None:
    """ListBuildsForProject is newest first by default, ASCENDING on request; unknown project is not found."""
    ids = [_start(env) for _ in range(3)]
    assert env.cb.list_builds_for_project(projectName=project)["ids"] == ids[::-1]
    assert env.cb.list_builds_for_project(projectName=project, sortOrder="ASCENDING")["ids"] == ids
    with expect_error("ResourceNotFoundException"):
        env.cb.list_builds_for_project(projectName="no-such-project")


def test_list_builds_for_project_pages_of_100(env: Env, project: str) -> None:
    """More than 100 builds come in pages of at most 100 joined by nextToken."""
    ids = [_start(env) for _ in range(101)]
    first = env.cb.list_builds_for_project(projectName=project)
    assert len(first["ids"]) == 100
    second = env.cb.list_builds_for_project(projectName=project, nextToken=first["nextToken"])
    assert first["ids"] + second["ids"] == ids[::-1]


@pytest.mark.parametrize("order", ["ASCENDING", "DESCENDING"])
def test_list_builds_for_project_refuses_a_sort_order_beyond_100_builds(
    env: Env, project: str, order: str
) -> None:
    """On a project with more than 100 builds, setting sortOrder answers InvalidInputException.

    CodeBuild's API reference says so; only the default order (newest first) pages through such a project.
    """
    ids = [_start(env) for _ in range(101)]
    with expect_error("InvalidInputException"):
        env.cb.list_builds_for_project(projectName=project, sortOrder=cast("Any", order))
    assert env.cb.list_builds_for_project(projectName=project)["ids"] == ids[::-1][:100]


def test_create_project_returns_awss_defaults_for_source_and_artifacts(env: Env) -> None:
    """CreateProject fills in what AWS returns: insecureSsl, and S3 artifacts' name, namespace, packaging.

    The project name is the artifact name; the build then reports ``<bucket>/<path>/<name>`` as location.
    """
    project = env.cb.create_project(
        name="site",
        source={"type": "S3", "location": "conformance-source/app.zip"},
        artifacts={"type": "S3", "location": "conformance-artifacts", "path": "out"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=env.build_role_arn,
    )["project"]
    assert project["source"] == {"type": "S3", "location": "conformance-source/app.zip", "insecureSsl": False}
    assert project["artifacts"] == {
        "type": "S3",
        "location": "conformance-artifacts",
        "path": "out",
        "name": "site",
        "namespaceType": "NONE",
        "packaging": "NONE",
        "encryptionDisabled": False,
    }
    assert env.cb.batch_get_projects(names=["site"])["projects"][0]["artifacts"] == project["artifacts"]
    build = env.cb.start_build(projectName="site")["build"]
    assert build["artifacts"]["location"] == "arn:aws:s3:::conformance-artifacts/out/site"


def test_create_project_defaults_for_pipeline_and_no_artifacts(env: Env, project: str) -> None:
    """CODEPIPELINE artifacts get name, packaging and encryptionDisabled; NO_ARTIFACTS stays bare."""
    [pipeline_project, direct] = env.cb.batch_get_projects(names=["conformance-build", project])["projects"]
    assert pipeline_project["artifacts"] == {
        "type": "CODEPIPELINE",
        "name": "conformance-build",
        "packaging": "NONE",
        "encryptionDisabled": False,
    }
    assert pipeline_project["source"]["insecureSsl"] is False
    assert direct["artifacts"] == {"type": "NO_ARTIFACTS"}


def test_list_builds_account_wide(env: Env, project: str) -> None:
    """ListBuilds returns the ids of every project's builds."""
    mine = _start(env)
    _create_direct_project(env, "conformance-other")
    other = env.cb.start_build(projectName="conformance-other")["build"]["id"]
    assert set(env.cb.list_builds()["ids"]) >= {mine, other}


def test_start_build_error_ResourceNotFoundException(env: Env) -> None:
    """Starting a build of an unknown project answers ResourceNotFoundException."""
    with expect_error("ResourceNotFoundException"):
        env.cb.start_build(projectName="no-such-project")


def test_start_build_error_InvalidInputException(env: Env, project: str) -> None:
    """An override outside its range (timeout over 2160 minutes) answers InvalidInputException."""
    with expect_error("InvalidInputException"):
        env.cb.start_build(projectName=project, timeoutInMinutesOverride=2161)
    assert env.cb.list_builds_for_project(projectName=project)["ids"] == []


def test_start_build_validation_message_lists_every_violation(env: Env, project: str) -> None:
    """Every broken constraint is counted and worded as AWS words it, one ``Value … at …`` per violation."""
    with expect_error("InvalidInputException") as caught:
        env.cb.start_build(
            projectName=project, timeoutInMinutesOverride=2161, computeTypeOverride=cast("Any", "HUGE")
        )
    message = caught[0].response["Error"]["Message"]
    assert message.startswith(
        "2 validation errors detected: "
        "Value '2161' at 'timeoutInMinutesOverride' failed to satisfy constraint: "
        "Member must have value less than or equal to 2160; "
        "Value 'HUGE' at 'computeTypeOverride' failed to satisfy constraint: "
        "Member must satisfy enum value set: ["
    )


# -- CodePipeline <-> CodeBuild ------------------------------------------------------------------------------


def _build_pipeline(env: Env, **action: Any) -> str:
    return env.create(
        env.declaration(
            stage("Source", s3_source()),
            stage("Build", codebuild_action(outputs=("BuildOutput",), **action)),
            variables=[{"name": "TARGET", "defaultValue": "staging"}],
        )
    )


def test_codebuild_action_starts_build_initiated_by_pipeline(env: Env) -> None:
    """The action starts one build: initiator ``codepipeline/<pipeline>``, source type CODEPIPELINE."""
    execution = _build_pipeline(env)
    env.run_until_status(execution, "Succeeded")
    build_id = env.runs_of("Build", "Build", execution)[0]["output"]["executionResult"]["externalExecutionId"]
    build = env.build(build_id)
    assert build["initiator"] == f"codepipeline/{PIPELINE}"
    assert build["source"]["type"] == "CODEPIPELINE"
    assert env.cb.list_builds_for_project(projectName="conformance-build")["ids"] == [build_id]


def test_codebuild_action_exported_variables_become_output_variables(env: Env) -> None:
    """The build's exported variables are the action's output variables."""
    env.aws.script_build("conformance-build", fail_in=None, exported_variables={"IMAGE_TAG": "abc123"})
    execution = _build_pipeline(env, namespace="BuildVariables")
    env.run_until_status(execution, "Succeeded")
    run = env.runs_of("Build", "Build", execution)[0]
    assert run["output"]["outputVariables"] == {"IMAGE_TAG": "abc123"}
    build = env.build(run["output"]["executionResult"]["externalExecutionId"])
    assert {"name": "IMAGE_TAG", "value": "abc123"} in build["exportedEnvironmentVariables"]


def test_codebuild_action_environment_variables_resolved_into_build(env: Env) -> None:
    """The EnvironmentVariables configuration reaches the build as overrides, pipeline variables resolved."""
    variables = json.dumps([{"name": "TARGET", "value": "#{variables.TARGET}", "type": "PLAINTEXT"}])
    execution = _build_pipeline(env, environment_variables=variables)
    env.run_until_status(execution, "Succeeded")
    build_id = env.runs_of("Build", "Build", execution)[0]["output"]["executionResult"]["externalExecutionId"]
    pairs = {
        (v["name"], v["value"]) for v in env.build(build_id)["environment"].get("environmentVariables", [])
    }
    assert ("TARGET", "staging") in pairs


@pytest.mark.parametrize("status", ["FAILED", "FAULT", "TIMED_OUT"])
def test_codebuild_action_fails_with_the_build(env: Env, status: str) -> None:
    """A FAILED, FAULT or TIMED_OUT build fails the action, the stage and the execution."""
    env.aws.script_build("conformance-build", fail_in="BUILD", status=cast("Any", status))
    execution = _build_pipeline(env)
    env.run_until_status(execution, "Failed", "Succeeded")
    assert env.status(execution) == "Failed"
    run = env.runs_of("Build", "Build", execution)[0]
    assert run["status"] == "Failed"
    assert env.build(run["output"]["executionResult"]["externalExecutionId"])["buildStatus"] == status


# -- capacity and idempotency --------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["StartBuild", "RetryBuild"])
def test_build_error_AccountLimitExceededException(env: Env, project: str, operation: str) -> None:
    """Past the concurrent-build limit, StartBuild and RetryBuild answer AccountLimitExceededException."""
    finished = _start(env)
    _finish(env, finished)
    env.aws.max_concurrent_builds = 1
    running = _start(env)
    with expect_error("AccountLimitExceededException"):
        if operation == "StartBuild":
            _start(env)
        else:
            env.cb.retry_build(id=finished)
    assert env.cb.list_builds_for_project(projectName=project)["ids"] == [running, finished]


def test_start_build_idempotency_token(env: Env, project: str) -> None:
    """Reusing an idempotencyToken with the same parameters returns the first build; with others it is refused."""
    first = _start(env, idempotencyToken="release-42")
    assert _start(env, idempotencyToken="release-42") == first
    with expect_error("InvalidInputException"):
        _start(env, idempotencyToken="release-42", sourceVersion="other")
    assert env.cb.list_builds_for_project(projectName=project)["ids"] == [first]


def test_codebuild_action_fails_when_its_build_is_stopped(env: Env) -> None:
    """A build stopped behind the pipeline's back fails the action (the engine's choice for STOPPED)."""
    execution = _build_pipeline(env)
    env.run_until(
        lambda: bool(env.action_state("Build", "Build").get("latestExecution", {}).get("externalExecutionId"))
    )
    build_id = env.action_state("Build", "Build")["latestExecution"]["externalExecutionId"]
    env.cb.stop_build(id=build_id)
    env.run_until_status(execution, "Failed", "Succeeded", limit=HOUR)
    assert env.status(execution) == "Failed"
    assert env.build(build_id)["buildStatus"] == "STOPPED"
