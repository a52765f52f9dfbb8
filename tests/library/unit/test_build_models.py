"""CodeBuild build model: lossless round trip, phases, failure location, tolerant statuses, no secrets in repr.

The fixture is a BatchGetBuilds body on the wire (after the AWS CLI ``batch-get-builds`` example), parsed
with botocore's JSON parser as a boto3 client would.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import botocore.parsers
import botocore.session
import pytest

from pipepilot.model.build import BuildDetails, BuildPhase, BuildPhaseType, BuildStatus

TESTS = next(folder for folder in Path(__file__).resolve().parents if folder.name == "tests")
DATA = TESTS / "data" / "runtime"


def _wire_equivalent(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _wire_equivalent(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_equivalent(v) for v in value]
    return value


@pytest.fixture(scope="module")
def builds_response() -> dict[str, Any]:
    raw = json.loads((DATA / "batch-get-builds.json").read_text())
    model = botocore.session.get_session().get_service_model("codebuild")
    shape = model.operation_model("BatchGetBuilds").output_shape
    assert shape is not None
    parsed: dict[str, Any] = botocore.parsers.create_parser("json").parse(
        {"body": json.dumps(raw).encode(), "headers": {}, "status_code": 200}, shape
    )
    parsed.pop("ResponseMetadata", None)
    assert _wire_equivalent(parsed) == raw, "the fixture has members outside the BatchGetBuilds shape"
    return parsed


@pytest.fixture(scope="module")
def builds(builds_response: dict[str, Any]) -> list[BuildDetails]:
    return [BuildDetails.from_api(b) for b in builds_response["builds"]]


def test_builds_round_trip(builds_response: dict[str, Any], builds: list[BuildDetails]) -> None:
    """Build.from_api(parsed).to_api() is exactly what boto3 returned, unmodelled members included."""
    assert [b.to_api() for b in builds] == builds_response["builds"]


def test_unmodelled_members_are_kept_in_extra(builds: list[BuildDetails]) -> None:
    """Source, artifacts, cache and the like are not modelled but survive in extra."""
    assert set(builds[0].extra) == {
        "source",
        "secondarySources",
        "secondarySourceVersions",
        "artifacts",
        "cache",
        "encryptionKey",
    }


def test_failed_build_names_its_failing_phase(builds: list[BuildDetails]) -> None:
    """failed_phase is the first phase that did not succeed, with CodeBuild's explanation in its contexts."""
    build = builds[0]
    assert build.build_status is BuildStatus.FAILED
    assert build.is_complete
    assert not build.succeeded
    phase = build.failed_phase
    assert phase is not None
    assert phase.phase_type is BuildPhaseType.BUILD
    assert phase.duration_in_seconds == 54
    assert phase.contexts[0].status_code == "COMMAND_EXECUTION_ERROR"
    assert "make test" in (phase.contexts[0].message or "")


def test_completed_phase_has_no_status_and_is_not_a_failure(builds: list[BuildDetails]) -> None:
    """The final COMPLETED entry carries only its type and start time; it does not count as failed."""
    completed = builds[0].phases[-1]
    assert completed.phase_type is BuildPhaseType.COMPLETED
    assert completed.phase_status is None
    assert completed.end_time is None
    assert not completed.failed
    assert completed.to_api() == {"phaseType": "COMPLETED", "startTime": completed.start_time}


def test_unknown_phase_status_is_kept_and_counts_as_failure(builds: list[BuildDetails]) -> None:
    """CLIENT_ERROR (seen in the wild, not in CodeBuild's enum) stays a str and marks the failing phase."""
    phase = builds[1].failed_phase
    assert phase is not None
    assert phase.phase_type is BuildPhaseType.QUEUED
    assert phase.phase_status == "CLIENT_ERROR"
    assert type(phase.phase_status) is str


def test_running_build(builds: list[BuildDetails]) -> None:
    """An IN_PROGRESS build is not complete and has no failed phase; its current phase is named."""
    build = builds[2]
    assert build.build_status is BuildStatus.IN_PROGRESS
    assert not build.is_complete
    assert build.failed_phase is None
    assert build.current_phase == "BUILD"
    assert build.exported_variables == {}
    assert "exportedEnvironmentVariables" not in build.to_api()


def test_is_complete_falls_back_to_the_status() -> None:
    """Without buildComplete, a final status means complete and an unknown one does not."""
    assert BuildDetails.from_api({"buildStatus": "STOPPED"}).is_complete
    assert not BuildDetails.from_api({"buildStatus": "IN_PROGRESS"}).is_complete
    assert not BuildDetails.from_api({"buildStatus": "PAUSED"}).is_complete


def test_logs_environment_and_exported_variables(builds: list[BuildDetails]) -> None:
    """Logs location, environment and exported variables are typed."""
    build = builds[0]
    assert build.logs is not None
    assert build.logs.group_name == "/aws/codebuild/app-build"
    assert build.logs.stream_name == "5b7e0a2c-1f3d-4c9b-8e6a-7d2c1b0a9f8e"
    assert build.logs.cloud_watch_logs is not None
    assert build.logs.cloud_watch_logs.status == "ENABLED"
    assert build.environment is not None
    assert build.environment.compute_type == "BUILD_GENERAL1_SMALL"
    assert [v.name for v in build.environment.environment_variables] == ["STAGE", "DB_PASSWORD"]
    assert build.exported_variables == {"IMAGE_TAG": "4f1c2d8", "ARTIFACT_VERSION": "1.4.2"}
    assert build.initiator == "codepipeline/release"
    assert isinstance(build.start_time, datetime)


def test_environment_variable_values_are_not_in_repr(builds: list[BuildDetails]) -> None:
    """Environment variable values may be secrets: repr shows their names, never their values."""
    text = repr(builds[0])
    assert "DB_PASSWORD" in text
    assert "/app/prod/db-password" not in text
    assert "'prod'" not in text


def test_build_status_values() -> None:
    """BuildStatus holds CodeBuild's StatusType values; only IN_PROGRESS is not terminal."""
    assert {s.value for s in BuildStatus} == {
        "SUCCEEDED",
        "FAILED",
        "FAULT",
        "TIMED_OUT",
        "IN_PROGRESS",
        "STOPPED",
    }
    assert [s for s in BuildStatus if not s.is_terminal] == [BuildStatus.IN_PROGRESS]


@pytest.mark.parametrize("status", ["FAILED", "FAULT", "TIMED_OUT", "STOPPED", "CLIENT_ERROR"])
def test_every_unsuccessful_phase_status_is_a_failure(status: str) -> None:
    """Any ended status other than SUCCEEDED marks a phase as failed."""
    assert BuildPhase.from_api({"phaseType": "INSTALL", "phaseStatus": status}).failed


@pytest.mark.parametrize("status", ["SUCCEEDED", "IN_PROGRESS"])
def test_succeeded_or_running_phases_are_not_failures(status: str) -> None:
    """A phase that succeeded or is still running is not failed."""
    assert not BuildPhase.from_api({"phaseType": "INSTALL", "phaseStatus": status}).failed
