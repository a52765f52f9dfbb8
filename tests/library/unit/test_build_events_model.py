"""Typed CodeBuild events: state and phase changes read into views, console-style times, dedupe id, errors.

Fixtures in tests/data/runtime/event-build-*.json follow the shape of the build notifications CodeBuild
sends to EventBridge (times inside ``additional-information`` written as the console shows them).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from pipepilot.errors import InvalidRequestError
from pipepilot.events import BuildPhaseChange, BuildStateChange, parse_event
from pipepilot.model.build import BuildPhaseType, BuildStatus

from ..._data import load_json

BUILD_ARN = "arn:aws:codebuild:eu-west-1:123456789012:build/web-tests:6f7c1d2e-8a9b-4c3d-9e0f-1a2b3c4d5e6f"


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = load_json(f"runtime/event-{name}.json")
    return event


def test_build_state_change_reads_envelope_build_and_outcome() -> None:
    """A build state-change event gives the dedupe id, the build, its status and the pipeline that started it."""
    event = parse_event(load("build-state-failed"))
    assert isinstance(event, BuildStateChange)
    assert event.event_id == "4b1c2f43-0d2e-4f8a-9c7b-3f0a1e5d6c21"
    assert (event.project, event.build_id, event.short_id) == (
        "web-tests",
        BUILD_ARN,
        "web-tests:6f7c1d2e-8a9b-4c3d-9e0f-1a2b3c4d5e6f",
    )
    assert event.build_status is BuildStatus.FAILED
    assert event.is_terminal
    assert event.current_phase is BuildPhaseType.COMPLETED
    assert (event.pipeline, event.initiator) == ("web", "codepipeline/web")
    assert (event.build_number, event.timeout_in_minutes, event.build_complete) == (128, 60, True)
    assert event.source_version == "arn:aws:s3:::artifact-bucket/web/SourceOut/Ab12Cd3"
    assert event.time == datetime(2026, 3, 2, 14, 7, 51, tzinfo=timezone.utc)


def test_console_style_times_read_as_utc() -> None:
    """CodeBuild's ``Mar 2, 2026 2:05:12 PM`` times read as aware UTC datetimes (12-hour clock handled)."""
    event = parse_event(load("build-state-failed"))
    assert isinstance(event, BuildStateChange)
    assert event.build_start_time == datetime(2026, 3, 2, 14, 5, 12, tzinfo=timezone.utc)
    raw = load("build-state-failed")
    for text, expected in (
        ("Jan 1, 2026 12:00:01 AM", 0),
        ("Jan 1, 2026 12:30:00 PM", 12),
        ("Jan 1, 2026 11:59:59 PM", 23),
    ):
        raw["detail"]["additional-information"]["build-start-time"] = text
        parsed = BuildStateChange.from_event(raw)
        assert parsed.build_start_time is not None
        assert parsed.build_start_time.hour == expected


@pytest.mark.parametrize("text", ["Foo 1, 2026 1:00:00 PM", "Feb 30, 2026 1:00:00 PM", "yesterday", ""])
def test_unreadable_times_read_as_none(text: str) -> None:
    """A time that is neither ISO nor the console's form reads as ``None``; the event is still read."""
    raw = load("build-state-failed")
    raw["detail"]["additional-information"]["build-start-time"] = text
    assert BuildStateChange.from_event(raw).build_start_time is None


def test_logs_and_phases_are_typed() -> None:
    """The log location and every phase (type, status, times, duration, contexts) are typed."""
    event = BuildStateChange.from_event(load("build-state-failed"))
    assert event.logs is not None
    assert event.logs.group_name == "/aws/codebuild/web-tests"
    assert event.logs.deep_link is not None
    assert "logEvent:group=" in event.logs.deep_link
    failed = [phase for phase in event.phases if phase.phase_status is BuildStatus.FAILED]
    assert len(failed) == 1
    assert failed[0].phase_type is BuildPhaseType.BUILD
    assert failed[0].duration_in_seconds == 69
    assert failed[0].contexts[0].startswith("COMMAND_EXECUTION_ERROR:")
    assert event.phases[-1].phase_type is BuildPhaseType.COMPLETED
    assert event.phases[-1].phase_status is None
    assert event.phases[-1].end_time is None


def test_repr_hides_environment_variable_values() -> None:
    """``repr`` shows the additional information's keys only: environment variables may carry values."""
    event = BuildStateChange.from_event(load("build-state-failed"))
    assert "prod" not in repr(event)
    assert "'environment': ..." in repr(event)


def test_build_phase_change() -> None:
    """A phase-change event gives the completed phase, its status, duration and times; no pipeline initiator."""
    event = parse_event(load("build-phase-build-failed"))
    assert isinstance(event, BuildPhaseChange)
    assert event.completed_phase is BuildPhaseType.BUILD
    assert event.completed_phase_status is BuildStatus.FAILED
    assert event.completed_phase_duration_seconds == 69
    assert event.completed_phase_start == datetime(2026, 3, 2, 14, 6, 40, tzinfo=timezone.utc)
    assert event.completed_phase_end == datetime(2026, 3, 2, 14, 7, 49, tzinfo=timezone.utc)
    assert event.completed_phase_context is not None
    assert "make test" in event.completed_phase_context
    assert event.pipeline is None
    assert event.build_complete is False


def test_statuses_added_later_stay_strings() -> None:
    """A build status or phase CodeBuild adds later stays a plain string instead of failing the read."""
    raw = load("build-state-failed")
    raw["detail"]["build-status"] = "SOMETHING_NEW"
    event = BuildStateChange.from_event(raw)
    assert event.build_status == "SOMETHING_NEW"
    assert not event.is_terminal


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.update(source="aws.codepipeline"), "source is 'aws.codepipeline'"),
        (lambda e: e["detail"].pop("build-id"), "detail.'build-id' must be a non-empty string"),
        (lambda e: e["detail"].update({"build-status": None}), "detail.'build-status'"),
        (lambda e: e.update(detail="x"), "'detail' must be a mapping"),
    ],
)
def test_malformed_build_events_are_refused(change: Any, message: str) -> None:
    """A CodeBuild event of another source, or missing what a view needs, raises InvalidRequestError."""
    raw = load("build-state-failed")
    change(raw)
    with pytest.raises(InvalidRequestError, match="not a CodeBuild event") as caught:
        BuildStateChange.from_event(raw)
    assert message in str(caught.value)
