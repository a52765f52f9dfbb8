"""Bad input to the models: deep nesting, whole responses, epoch timestamps, the default pipeline type,
and progress events that read as one short line."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import attrs
import pytest
from hypothesis import given, strategies as st

from pipepilot import PipelineDeclaration
from pipepilot.errors import (
    ERROR_CODES,
    InvalidStructureError,
    MalformedInputError,
    NestingTooDeepError,
)
from pipepilot.events import ProgressEvent, log_progress, print_progress
from pipepilot.freeze import FreezeRecord
from pipepilot.model import PipelineDocument, PipelineState, PipelineSummary, PipelineType, find_problems
from pipepilot.model._wire import MAX_NESTING
from pipepilot.model.declaration import DEFAULT_PIPELINE_TYPE
from pipepilot.model.runtime import ActionExecution
from pipepilot.polling import (
    ActionFailed,
    ActionStarted,
    ApprovalRequested,
    ExecutionHeldAtTransition,
    ExecutionWaitingForStage,
    StageSucceeded,
)
from tests._data import load_json

if TYPE_CHECKING:
    from collections.abc import Callable

DEEP = 5_000  # far past MAX_NESTING and past Python's recursion limit

# A valid two-stage declaration (S3 source, CodeBuild), the starting point of every malformed variant.
DECLARATION: dict[str, Any] = load_json("runtime/two-stage-declaration.json")


def nested_objects(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


def nested_lists(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def with_action_configuration(configuration: Any) -> dict[str, Any]:
    stages = json.loads(json.dumps(DECLARATION["stages"]))
    stages[1]["actions"][0]["configuration"] = configuration
    return {**DECLARATION, "stages": stages}


def with_stage_member(value: Any) -> dict[str, Any]:
    stages = json.loads(json.dumps(DECLARATION["stages"]))
    stages[1]["x"] = value
    return {**DECLARATION, "stages": stages}


# (id, reading that used to raise RecursionError, the start of the path the error names)
DEEP_READS: list[tuple[str, Callable[[], object], str]] = [
    (
        "declaration: unknown member",
        lambda: PipelineDeclaration.from_api({**DECLARATION, "weird": nested_objects(DEEP)}),
        "weird.a.a",
    ),
    (
        "declaration: action configuration",
        lambda: PipelineDeclaration.from_api(with_action_configuration(nested_objects(DEEP))),
        "stages[1].actions[0].configuration.a.a",
    ),
    (
        "declaration: stage member of lists",
        lambda: PipelineDeclaration.from_api(with_stage_member(nested_lists(DEEP))),
        "stages[1].x[0][0]",
    ),
    (
        "document: whole GetPipeline response",
        lambda: PipelineDocument.from_api(
            {"pipeline": {**DECLARATION, "weird": nested_objects(DEEP)}, "metadata": {}}
        ),
        "pipeline.weird.a",
    ),
    (
        "document: pipeline JSON too deep for json.loads",
        lambda: PipelineDocument.from_json('{"pipeline": {"stages": ' + "[" * 100_000 + "]" * 100_000 + "}}"),
        "pipeline.stages[0][0]",
    ),
    (
        "document: pipeline JSON json.loads can read",
        lambda: PipelineDocument.from_json(json.dumps({"pipeline": {**DECLARATION, "x": nested_lists(500)}})),
        "pipeline.x[0]",
    ),
    (
        "to_api of a declaration given a deep extra",
        lambda: attrs.evolve(
            PipelineDeclaration.from_api(DECLARATION), extra={"weird": nested_objects(DEEP)}
        ).to_api(),
        "weird.a",
    ),
    (
        "pipeline state",
        lambda: PipelineState.from_api(
            {"pipelineName": "web", "stageStates": [{"stageName": "Build", "x": nested_objects(DEEP)}]}
        ),
        "stageStates[0].x.a",
    ),
    (
        "freeze record: JSON too deep for json.loads",
        lambda: FreezeRecord.from_json(
            '{"format": "pipepilot.freeze/1", "pipelines": ' + "[" * 100_000 + "]" * 100_000 + "}"
        ),
        "pipelines[0][0]",
    ),
    (
        "freeze record: a dict nested thousands deep",
        lambda: FreezeRecord.from_dict({"format": "pipepilot.freeze/1", "reason": nested_lists(DEEP)}),
        "reason[0][0]",
    ),
    (
        "freeze record: a value nested in its JSON",
        lambda: FreezeRecord.from_json(
            json.dumps({"format": "pipepilot.freeze/1", "reason": nested_lists(800)})
        ),
        "reason[0][0]",
    ),
]


@pytest.mark.parametrize(
    ("read", "path"), [row[1:] for row in DEEP_READS], ids=[row[0] for row in DEEP_READS]
)
def test_deeply_nested_input_is_refused_with_its_path(read: Callable[[], object], path: str) -> None:
    """Input nested thousands deep is an InvalidStructureError (also a ValueError) that says where, never a
    RecursionError."""
    with pytest.raises(NestingTooDeepError) as raised:
        read()
    error = raised.value
    assert isinstance(error, InvalidStructureError)
    assert isinstance(error, ValueError)
    assert error.path is not None
    assert error.path.startswith(path)
    assert error.limit == MAX_NESTING
    assert path.split(".")[0].split("[")[0] in str(error)
    assert len(str(error)) < 400  # the path is shortened in the text, kept whole in .path


def test_nesting_up_to_the_limit_is_read() -> None:
    """An unknown member nested up to the limit still rides along losslessly."""
    wire = {**DECLARATION, "weird": nested_objects(MAX_NESTING - 1)}
    assert PipelineDeclaration.from_api(wire).to_api() == wire


def test_a_whole_get_pipeline_response_is_named_as_such() -> None:
    """PipelineDeclaration.from_api given the whole GetPipeline response says to pass response["pipeline"]."""
    response = {"pipeline": DECLARATION, "metadata": {"pipelineArn": "arn"}, "ResponseMetadata": {}}
    with pytest.raises(InvalidStructureError, match=r'response\["pipeline"\].*PipelineDocument\.from_api'):
        PipelineDeclaration.from_api(response)
    assert PipelineDocument.from_api(response).declaration.name == "web"


def test_malformed_input_found_locally_is_told_apart_from_aws_answers() -> None:
    """What pipepilot finds malformed itself is a MalformedInputError (also a ValueError), a subclass of the
    InvalidStructureError that stands for AWS's InvalidStructureException, which maps to the base alone."""
    with pytest.raises(MalformedInputError) as raised:
        PipelineDeclaration.from_api(["not", "a", "declaration"])  # type: ignore[arg-type]
    assert isinstance(raised.value, InvalidStructureError)
    assert isinstance(raised.value, ValueError)
    assert issubclass(NestingTooDeepError, MalformedInputError)
    assert ERROR_CODES["InvalidStructureException"] is InvalidStructureError
    assert MalformedInputError not in ERROR_CODES.values()


# -- PipelineSummary timestamps


@given(
    created=st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False)
    | st.integers(min_value=0, max_value=4_000_000_000),
    updated=st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False),
)
def test_summary_round_trips_epoch_timestamps_exactly(created: float, updated: float) -> None:
    """An epoch number AWS sent comes back from to_api as it was read, whatever its digits."""
    wire = {"name": "web", "version": 1, "created": created, "updated": updated}
    summary = PipelineSummary.from_api(wire)
    assert summary.created is not None
    assert summary.to_api() == wire


def test_summary_writes_a_changed_timestamp_as_a_datetime() -> None:
    """A timestamp changed after reading is written as the new datetime, not the stale raw number."""
    summary = PipelineSummary.from_api({"name": "web", "created": 1_700_000_000.123456789})
    moved = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert attrs.evolve(summary, created=moved).to_api()["created"] == moved


# -- one default pipeline type


def test_one_default_pipeline_type_is_used_everywhere() -> None:
    """V2 (what AWS creates when no type is given) is the default of the declaration, the validator and
    the offline engine alike."""
    from pipepilot.local.codepipeline._settings import CodePipelineSettings

    assert DEFAULT_PIPELINE_TYPE is PipelineType.V2
    bare = PipelineDeclaration.from_api(DECLARATION)
    assert bare.pipeline_type_effective is DEFAULT_PIPELINE_TYPE
    assert "V2 (default)" in bare.summary()
    queued = {**DECLARATION, "executionMode": "QUEUED"}
    assert not [p for p in find_problems(queued) if p.code == "requires-v2"]
    assert CodePipelineSettings().default_pipeline_type == DEFAULT_PIPELINE_TYPE.value


# -- progress events as text

WHEN = datetime(2026, 3, 4, 12, 3, 4, tzinfo=timezone.utc)
COMMON: dict[str, Any] = {"pipeline_name": "release", "execution_id": "1a2b3c4d-5e6f-0000-0000-000000000000"}


def action_run(**wire: Any) -> ActionExecution:
    return ActionExecution.from_api({"actionExecutionId": "run-1", "lastStatusChange": WHEN, **wire})


def test_a_failed_action_reads_as_one_short_line() -> None:
    """str() of an event names time, pipeline, stage/action, what happened and the error; repr stays
    complete."""
    event = ActionFailed(
        **COMMON,
        stage_name="Build",
        action_name="Compile",
        run=action_run(
            status="Failed",
            errorDetails={"code": "JobFailed", "message": "Unit tests failed\n  3 of 120"},
            externalExecutionUrl="https://example.com/" + "x" * 300,
        ),
    )
    text = str(event)
    assert text == (
        "12:03:04 release Build/Compile: action failed: JobFailed: Unit tests failed 3 of 120 "
        "(execution 1a2b3c4d)"
    )
    assert len(repr(event)) > 3 * len(text)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (StageSucceeded(**COMMON, stage_name="Build"), "release Build: stage succeeded (execution 1a2b3c4d)"),
        (
            ActionStarted(
                **COMMON, stage_name="Build", action_name="Compile", run=action_run(status="InProgress")
            ),
            "12:03:04 release Build/Compile: action started (execution 1a2b3c4d)",
        ),
        (
            ExecutionHeldAtTransition(
                **COMMON, stage_name="Prod", reason="Holiday freeze", disabled_by="alice", disabled_at=WHEN
            ),
            "12:03:04 release Prod: held at the disabled transition: 'Holiday freeze' (disabled by alice) "
            "(execution 1a2b3c4d)",
        ),
        (
            ExecutionWaitingForStage(**COMMON, stage_name="Prod", occupied_by="99887766-0000"),
            "release Prod: waiting for the stage (execution 99887766 is in it) (execution 1a2b3c4d)",
        ),
    ],
)
def test_every_event_has_a_short_human_text(event: ProgressEvent, expected: str) -> None:
    """Each kind of progress event prints as one line saying where and what happened."""
    assert str(event) == expected


def test_an_approval_event_never_shows_its_token() -> None:
    """The approval token is neither in str() nor in repr() of an approval event."""
    event = ApprovalRequested(
        pipeline_name=COMMON["pipeline_name"],
        execution_id=COMMON["execution_id"],
        stage_name="Prod",
        action_name="Approve",
        run=action_run(status="InProgress", token="secret-token-1234"),
    )
    assert "approval waiting for an answer" in str(event)
    assert "secret-token-1234" not in str(event)
    assert "secret-token-1234" not in repr(event)


def test_print_progress_prints_one_line_per_event() -> None:
    """print_progress writes the event's line, stamped with the printing time when the event has none."""
    out = io.StringIO()
    print_progress(StageSucceeded(**COMMON, stage_name="Build"), file=out)
    line = out.getvalue()
    assert line.endswith("release Build: stage succeeded (execution 1a2b3c4d)\n")
    assert line[2:3] + line[5:6] == "::"  # HH:MM:SS first


def test_log_progress_logs_each_event(caplog: pytest.LogCaptureFixture) -> None:
    """log_progress(logger) gives an on_progress callback logging the event's line at INFO."""
    callback = log_progress(logging.getLogger("deploy"))
    with caplog.at_level(logging.INFO, logger="deploy"):
        callback(StageSucceeded(**COMMON, stage_name="Build"))
    assert caplog.records[0].name == "deploy"
    assert caplog.records[0].getMessage() == "release Build: stage succeeded (execution 1a2b3c4d)"
