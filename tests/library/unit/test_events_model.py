"""Typed EventBridge events: each detail-type parsed into its class, tolerant states, typed errors.

Fixtures in tests/data/runtime/event-*.json follow the samples in the CodePipeline user guide
("Monitoring CodePipeline events"), including a CodeStar Notifications ("processed") event.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pipepilot.errors import InvalidRequestError
from pipepilot.model.declaration import ActionCategory
from pipepilot.model.events import (
    ActionExecutionStateChange,
    EventState,
    PipelineExecutionStateChange,
    StageExecutionStateChange,
    parse_event,
)
from pipepilot.model.runtime import TriggerType

TESTS = next(folder for folder in Path(__file__).resolve().parents if folder.name == "tests")
DATA = TESTS / "data" / "runtime"


def load(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((DATA / f"event-{name}.json").read_text())
    return result


def test_pipeline_started_event() -> None:
    """A pipeline STARTED event gives the envelope, the execution and its trigger."""
    event = parse_event(load("pipeline-started"))
    assert isinstance(event, PipelineExecutionStateChange)
    assert event.state is EventState.STARTED
    assert not event.is_terminal
    assert (event.pipeline, event.execution_id, event.version) == (
        "myPipeline",
        "12345678-1234-5678-abcd-12345678abcd",
        1,
    )
    assert event.account == "123456789012"
    assert event.region == "us-east-1"
    assert event.time == datetime(2020, 1, 24, 22, 3, 7, tzinfo=timezone.utc)
    assert event.resources == ("arn:aws:codepipeline:us-east-1:123456789012:myPipeline",)
    assert event.execution_trigger is not None
    assert event.execution_trigger.trigger_type is TriggerType.START_PIPELINE_EXECUTION
    assert event.execution_trigger.trigger_detail == "arn:aws:sts::123456789012:assumed-role/Admin/my-user"


def test_event_time_is_read_as_utc() -> None:
    """An event time with an offset reads as the same moment in UTC; one that does not parse is left out."""
    event = load("pipeline-started")
    event["time"] = "2020-01-25T03:33:07+05:30"
    parsed = parse_event(event)
    assert parsed.time == datetime(2020, 1, 24, 22, 3, 7, tzinfo=timezone.utc)
    assert parsed.time is not None
    assert parsed.time.tzinfo is timezone.utc
    for unreadable in ("yesterday", "0001-01-01T00:00:00+05:00"):
        event["time"] = unreadable
        assert parse_event(event).time is None


def test_pipeline_stopping_event_carries_the_stop_comment() -> None:
    """STOPPING carries the reason given to StopPipelineExecution."""
    event = parse_event(load("pipeline-stopping"))
    assert isinstance(event, PipelineExecutionStateChange)
    assert event.state is EventState.STOPPING
    assert event.stop_execution_comments == "A new version is ready"


def test_stage_event_with_single_l_canceled_and_string_version() -> None:
    """Stage events read CANCELED (one L) and accept the version as a string."""
    event = parse_event(load("stage-canceled"))
    assert isinstance(event, StageExecutionStateChange)
    assert event.stage == "Prod"
    assert event.state is EventState.CANCELED
    assert event.is_terminal
    assert event.version == 1


def test_action_started_event_with_artifacts_and_action_region() -> None:
    """Action events give the action type, its own region, and input artifacts with their S3 location."""
    event = parse_event(load("action-codedeploy-started"))
    assert isinstance(event, ActionExecutionStateChange)
    assert (event.stage, event.action) == ("Prod", "myAction")
    assert event.region == "us-east-1"
    assert event.action_region == "us-west-2"
    assert event.action_type is not None
    assert event.action_type.category is ActionCategory.DEPLOY
    assert event.action_type.provider == "CodeDeploy"
    (artifact,) = event.input_artifacts
    assert (artifact.name, artifact.bucket, artifact.key) == (
        "SourceArtifact",
        "codepipeline-us-east-1-BUCKETEXAMPLE",
        "myPipeline/SourceArti/KEYEXAMPLE",
    )
    assert event.execution_result is None


def test_action_failed_event_has_error_code_and_build_link() -> None:
    """A FAILED action event carries error-code and the external execution (the build) in its result."""
    event = ActionExecutionStateChange.from_event(load("action-codebuild-failed"))
    assert event.state is EventState.FAILED
    result = event.execution_result
    assert result is not None
    assert result.error_code == "JobFailed"
    assert result.external_execution_id == "my-build-project:ee0d8bbe-b4d6-4ab6-b3a2-1cd8d5c84b5a"
    assert "my-build-project:ee0d8bbe" in repr(event), "ordinary provider ids stay visible"


def test_approval_event_hides_the_external_id_in_repr() -> None:
    """For a manual approval the external id may be the approval token, so repr hides it."""
    event = parse_event(load("action-approval-succeeded"))
    assert isinstance(event, ActionExecutionStateChange)
    assert event.execution_result is not None
    assert event.execution_result.external_execution_id == "6f5e4d3c-2b1a-4098-8f7e-6d5c4b3a2918"
    assert "6f5e4d3c-2b1a-4098-8f7e-6d5c4b3a2918" not in repr(event)
    assert "raw=" not in repr(event), "the raw event (which holds the id) is never in repr"


def test_processed_notification_event_is_read() -> None:
    """A CodeStar Notifications event (detailType, additionalAttributes, attempt) is read too."""
    event = parse_event(load("processed-pipeline-failed"))
    assert isinstance(event, PipelineExecutionStateChange)
    assert event.state is EventState.FAILED
    assert event.execution_attempt == 1
    assert event.additional_attributes is not None
    assert event.additional_attributes["failedStage"] == "Prod"
    assert event.event_id is None


def test_raw_event_is_a_copy() -> None:
    """raw keeps the event as received, unaffected by later changes to the caller's dict."""
    original = load("pipeline-started")
    event = parse_event(original)
    original["detail"]["state"] = "FAILED"
    assert event.raw["detail"]["state"] == "STARTED"


def test_unknown_state_stays_a_string() -> None:
    """A state CodePipeline adds later is kept as a plain str and is not taken for terminal."""
    data = load("stage-canceled")
    data["detail"]["state"] = "PAUSED"
    event = StageExecutionStateChange.from_event(data)
    assert event.state == "PAUSED"
    assert type(event.state) is str
    assert not event.is_terminal


def test_from_event_rejects_another_detail_type() -> None:
    """A typed class refuses an event of another detail-type with InvalidRequestError."""
    with pytest.raises(InvalidRequestError, match="detail-type"):
        StageExecutionStateChange.from_event(load("pipeline-started"))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e.update({"detail-type": "CodeDeploy Deployment State-change Notification"}),
            "unknown detail-type",
        ),
        # A CodeBuild detail-type is known, but not from CodePipeline's source.
        (lambda e: e.update({"detail-type": "CodeBuild Build State Change"}), "source is 'aws.codepipeline'"),
        (lambda e: e.pop("detail-type"), "unknown detail-type"),
        (lambda e: e.update({"source": "aws.codebuild"}), "source"),
        (lambda e: e.update({"detail": "oops"}), "detail"),
        (lambda e: e["detail"].pop("execution-id"), "execution-id"),
        (lambda e: e["detail"].update({"pipeline": ""}), "pipeline"),
        (lambda e: e["detail"].pop("state"), "state"),
        (lambda e: e["detail"].pop("stage"), "stage"),
    ],
)
def test_malformed_events_raise_invalid_request(mutate: Any, message: str) -> None:
    """Anything that is not a well-formed CodePipeline event raises InvalidRequestError saying what is wrong."""
    data = load("stage-canceled")
    mutate(data)
    with pytest.raises(InvalidRequestError, match=message):
        parse_event(data)


def test_non_mapping_is_rejected() -> None:
    """A non-dict event raises InvalidRequestError, not AttributeError."""
    with pytest.raises(InvalidRequestError, match="mapping"):
        parse_event([])  # type: ignore[arg-type]
