"""Runtime models (executions, pipeline state, action executions): lossless, tolerant, secrets kept out of repr.

Fixtures in tests/data/runtime are response bodies as they travel on the wire (epoch-second timestamps),
shaped after the AWS CLI examples and the API reference; they are parsed with botocore's own JSON parser
and the operation's output shape, exactly as a boto3 client parses them (timestamps become datetimes).
"""

from __future__ import annotations

import copy
import json
import pickle
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import botocore.parsers
import botocore.session
import pytest

from pipepilot.approvals import waiting_in_state
from pipepilot.errors import ActionNotFoundError, StageNotFoundError
from pipepilot.model.declaration import ActionCategory, ExecutionMode
from pipepilot.model.runtime import (
    ActionExecution,
    ActionExecutionDetail,
    ActionExecutionResult,
    ActionExecutionStatus,
    ActionState,
    ConditionExecutionStatus,
    ExecutionType,
    PipelineExecution,
    PipelineExecutionStatus,
    PipelineExecutionSummary,
    PipelineState,
    RetryTrigger,
    StageExecution,
    StageExecutionStatus,
    StageState,
    TransitionState,
    TriggerType,
    is_terminal_status,
)

TESTS = next(folder for folder in Path(__file__).resolve().parents if folder.name == "tests")
DATA = TESTS / "data" / "runtime"
_SESSION = botocore.session.get_session()


def _wire_equivalent(value: Any) -> Any:
    """The value with datetimes turned back into epoch seconds (to compare with the raw JSON)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _wire_equivalent(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_equivalent(v) for v in value]
    return value


def parsed_response(service: str, operation: str, filename: str) -> dict[str, Any]:
    """The fixture parsed as boto3 would parse it (without ResponseMetadata)."""
    raw = json.loads((DATA / filename).read_text())
    model = _SESSION.get_service_model(service)
    parser = botocore.parsers.create_parser("json")
    shape = model.operation_model(operation).output_shape
    assert shape is not None
    parsed: dict[str, Any] = parser.parse(
        {"body": json.dumps(raw).encode(), "headers": {}, "status_code": 200}, shape
    )
    parsed.pop("ResponseMetadata", None)
    # botocore silently drops members its model does not know: a typo in a fixture would vanish here.
    assert _wire_equivalent(parsed) == raw, f"{filename} has members outside the {operation} output shape"
    return parsed


@pytest.fixture(scope="module")
def state_response() -> dict[str, Any]:
    return parsed_response("codepipeline", "GetPipelineState", "get-pipeline-state.json")


@pytest.fixture(scope="module")
def state(state_response: dict[str, Any]) -> PipelineState:
    return PipelineState.from_api(state_response)


# ------------------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize(
    ("operation", "filename", "member", "model"),
    [
        ("GetPipelineExecution", "get-pipeline-execution.json", "pipelineExecution", PipelineExecution),
        (
            "GetPipelineExecution",
            "get-pipeline-execution-rollback.json",
            "pipelineExecution",
            PipelineExecution,
        ),
    ],
)
def test_pipeline_execution_round_trips(operation: str, filename: str, member: str, model: type[Any]) -> None:
    """from_api(parsed).to_api() gives back exactly what boto3 returned, datetimes included."""
    parsed = parsed_response("codepipeline", operation, filename)
    original = copy.deepcopy(parsed)
    assert model.from_api(parsed[member]).to_api() == original[member]
    assert parsed == original, "from_api must not change its input"


def test_get_pipeline_state_round_trips(state_response: dict[str, Any], state: PipelineState) -> None:
    """A whole GetPipelineState response (with conditions, retry metadata, token) round-trips exactly."""
    assert state.to_api() == state_response


def test_response_metadata_is_not_part_of_the_state(state_response: dict[str, Any]) -> None:
    """The response's ResponseMetadata is dropped, not kept as an unknown member."""
    with_metadata = {**state_response, "ResponseMetadata": {"RequestId": "x", "HTTPStatusCode": 200}}
    parsed = PipelineState.from_api(with_metadata)
    assert parsed.extra == {}
    assert parsed.to_api() == state_response


def test_execution_summaries_round_trip() -> None:
    """Every ListPipelineExecutions summary round-trips, and its duration comes from its timestamps."""
    parsed = parsed_response("codepipeline", "ListPipelineExecutions", "list-pipeline-executions.json")
    summaries = [PipelineExecutionSummary.from_api(s) for s in parsed["pipelineExecutionSummaries"]]
    assert [s.to_api() for s in summaries] == parsed["pipelineExecutionSummaries"]
    stopped = summaries[1]
    assert stopped.status is PipelineExecutionStatus.STOPPED
    assert stopped.stop_trigger is not None
    assert stopped.stop_trigger.reason == "Bad config pushed"
    assert stopped.source_revisions == ()
    assert summaries[2].duration == pytest.approx(1800.5)
    assert summaries[3].source_revisions == ()
    assert "sourceRevisions" not in summaries[3].to_api(), "an absent list must stay absent"
    assert summaries[3].execution_type is ExecutionType.ROLLBACK


def test_action_executions_round_trip() -> None:
    """Every ListActionExecutions detail round-trips, configuration maps and empty lists included."""
    parsed = parsed_response("codepipeline", "ListActionExecutions", "list-action-executions.json")
    details = [ActionExecutionDetail.from_api(d) for d in parsed["actionExecutionDetails"]]
    assert [d.to_api() for d in details] == parsed["actionExecutionDetails"]
    deploy, approval, build, source = details
    assert deploy.input is not None
    assert deploy.input.action_type_id is not None
    assert deploy.input.action_type_id.category is ActionCategory.DEPLOY
    assert build.status is ActionExecutionStatus.FAILED
    assert build.error_details is not None
    assert build.error_details.code == "JobFailed"
    assert source.output is not None
    assert source.output.output_variables is not None
    assert source.output.output_variables["CommitId"] == "EXAMPLEad99dcd35914c00b7fbea139951111111"
    assert approval.is_manual_approval
    assert not build.is_manual_approval


def test_unknown_members_ride_along() -> None:
    """Members pipepilot does not model (AWS adds them) are kept in extra and written back, at any depth."""
    data: dict[str, Any] = {
        "pipelineName": "p",
        "stageStates": [
            {
                "stageName": "Build",
                "futureStageThing": {"a": [1, 2]},
                "actionStates": [
                    {"actionName": "Compile", "latestExecution": {"status": "InProgress", "newField": "x"}}
                ],
            }
        ],
        "brandNew": True,
    }
    state = PipelineState.from_api(data)
    assert state.extra == {"brandNew": True}
    assert state.stage("Build").extra == {"futureStageThing": {"a": [1, 2]}}
    run = state.stage("Build").action("Compile").latest_execution
    assert run is not None
    assert run.extra == {"newField": "x"}
    assert state.to_api() == data


def test_values_of_unexpected_type_are_kept_not_coerced() -> None:
    """A member of the wrong type reads as absent and rides in extra, so to_api writes it back unchanged."""
    data = {
        "pipelineExecutionId": "e",
        "status": "Succeeded",
        "pipelineVersion": "7",
        "artifactRevisions": "x",
    }
    execution = PipelineExecution.from_api(data)
    assert execution.pipeline_version is None
    assert execution.artifact_revisions == ()
    assert execution.extra == {"pipelineVersion": "7", "artifactRevisions": "x"}
    assert execution.to_api() == data


def test_epoch_numbers_are_not_taken_for_datetimes() -> None:
    """Only boto3's datetimes are timestamps; a raw epoch number is kept verbatim (lossless), not converted."""
    data = {"pipelineExecutionId": "e", "status": "InProgress", "startTime": 1767225600.0}
    summary = PipelineExecutionSummary.from_api(data)
    assert summary.start_time is None
    assert summary.to_api() == data


def test_timestamps_read_as_utc_whatever_zone_botocore_used(state: PipelineState) -> None:
    """botocore parses times into the machine's zone; models hold aware UTC datetimes, equal to those read."""
    tokyo = timezone(timedelta(hours=9))
    started = datetime(2026, 1, 1, 9, 30, tzinfo=tokyo)
    data = {
        "pipelineExecutionId": "e",
        "status": "Succeeded",
        "startTime": started,
        "lastUpdateTime": started,
    }
    summary = PipelineExecutionSummary.from_api(data)
    assert summary.start_time is not None
    assert summary.start_time.tzinfo is timezone.utc
    assert (summary.start_time.hour, summary.start_time.minute) == (0, 30)
    assert summary.start_time == started
    assert summary.to_api() == data
    assert state.updated is not None
    assert state.updated.tzinfo is timezone.utc
    staging = state.stage("Staging").inbound_transition_state
    assert staging is not None
    assert staging.last_changed_at is not None
    assert staging.last_changed_at.tzinfo is timezone.utc


def test_naive_and_out_of_range_timestamps() -> None:
    """A naive datetime is taken as UTC (AWS's zone); one that has no UTC equivalent is kept raw in extra."""
    naive = datetime(2026, 1, 1, 12, 0)  # noqa: DTZ001  # a naive datetime is the point
    summary = PipelineExecutionSummary.from_api(
        {"pipelineExecutionId": "e", "status": "Failed", "startTime": naive}
    )
    assert summary.start_time == naive.replace(tzinfo=timezone.utc)
    beyond = datetime.max.replace(tzinfo=timezone(-timedelta(hours=1)))
    data = {"pipelineExecutionId": "e", "status": "Failed", "lastUpdateTime": beyond}
    odd = PipelineExecutionSummary.from_api(data)
    assert odd.last_update_time is None
    assert odd.extra == {"lastUpdateTime": beyond}
    assert odd.to_api() == data


def test_models_survive_pickle_and_copy(state: PipelineState) -> None:
    """Parsed state pickles and deep-copies to an equal object that still writes the same wire dict."""
    for clone in (pickle.loads(pickle.dumps(state)), copy.deepcopy(state)):
        assert clone == state
        assert clone.to_api() == state.to_api()


def test_models_are_frozen(state: PipelineState) -> None:
    """Runtime models cannot be changed in place."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        state.pipeline_name = "other"  # type: ignore[misc]


def test_from_api_accepts_the_whole_get_pipeline_execution_response() -> None:
    """PipelineExecution.from_api also takes the whole response and reads its pipelineExecution."""
    parsed = parsed_response("codepipeline", "GetPipelineExecution", "get-pipeline-execution.json")
    assert PipelineExecution.from_api(parsed) == PipelineExecution.from_api(parsed["pipelineExecution"])


# ------------------------------------------------------------------------------------------ typed values


def test_execution_fields_are_typed() -> None:
    """Statuses, modes, triggers and variables come out as enums and records, timestamps as datetimes."""
    parsed = parsed_response("codepipeline", "GetPipelineExecution", "get-pipeline-execution.json")
    execution = PipelineExecution.from_api(parsed["pipelineExecution"])
    assert execution.status is PipelineExecutionStatus.IN_PROGRESS
    assert execution.execution_mode is ExecutionMode.QUEUED
    assert execution.trigger is not None
    assert execution.trigger.trigger_type is TriggerType.START_PIPELINE_EXECUTION
    assert execution.resolved_variables == {"Environment": "prod", "Region": "us-east-1"}
    created = execution.artifact_revisions[0].created
    assert isinstance(created, datetime)
    assert created.tzinfo is not None
    assert created.timestamp() == 1767225601.0
    assert not execution.is_terminal
    assert not execution.succeeded


def test_rollback_execution() -> None:
    """A rollback execution names its target; an explicitly empty list stays an explicit empty list."""
    parsed = parsed_response("codepipeline", "GetPipelineExecution", "get-pipeline-execution-rollback.json")
    execution = PipelineExecution.from_api(parsed["pipelineExecution"])
    assert execution.execution_type is ExecutionType.ROLLBACK
    assert execution.rollback_metadata is not None
    assert execution.rollback_metadata.rollback_target_pipeline_execution_id == (
        "0f9e8d7c-6b5a-4493-8271-605f4e3d2c1b"
    )
    assert execution.to_api()["artifactRevisions"] == []
    assert "variables" not in execution.to_api()
    assert execution.succeeded
    assert execution.is_terminal


def test_state_reads_stages_transitions_and_conditions(state: PipelineState) -> None:
    """Stage states expose transitions, inbound executions, conditions and retry metadata as typed values."""
    assert [s.stage_name for s in state] == ["Source", "Build", "Staging", "Approve", "Prod"]
    staging = state.stage("Staging")
    assert not staging.inbound_enabled
    transition = staging.inbound_transition_state
    assert transition is not None
    assert transition.disabled_reason == "Change freeze until Monday"
    assert isinstance(transition.last_changed_at, datetime)
    assert [e.pipeline_execution_id for e in staging.waiting_executions()] == [
        "1c0b9a8f-7e6d-4c5b-a493-82716f5e4d3c"
    ]
    assert state.stage("Source").inbound_enabled, "no transition state means enabled"
    prod = state.stage("Prod")
    assert prod.latest_execution is not None
    assert prod.latest_execution.status is StageExecutionStatus.FAILED
    failure = prod.action("DeployProd").latest_execution
    assert failure is not None
    assert failure.error_details is not None
    assert failure.error_details.code == "JobFailed"
    assert prod.retry_stage_metadata is not None
    assert prod.retry_stage_metadata.latest_retry_trigger is RetryTrigger.AUTOMATED_STAGE_RETRY
    assert prod.on_failure_condition_state is not None
    condition = prod.on_failure_condition_state.condition_states[0]
    assert condition.latest_execution is not None
    assert condition.latest_execution.status is ConditionExecutionStatus.FAILED
    assert condition.rule_states[0].current_revision is not None
    build = state.stage("Build").action("Compile").latest_execution
    assert build is not None
    assert build.percent_complete == 40


def test_waiting_executions_lists_inbound_then_queue_without_duplicates() -> None:
    """inboundExecution and inboundExecutions are merged in order, each execution once."""
    stage = StageState(
        stage_name="Deploy",
        inbound_execution=StageExecution(pipeline_execution_id="a", status="InProgress"),
        inbound_executions=(
            StageExecution(pipeline_execution_id="b", status="InProgress"),
            StageExecution(pipeline_execution_id="c", status="InProgress"),
        ),
    )
    assert [e.pipeline_execution_id for e in stage.waiting_executions()] == ["a", "b", "c"]


def test_lookups_by_name_raise_typed_errors_listing_what_exists(state: PipelineState) -> None:
    """Unknown stage/action names raise StageNotFoundError/ActionNotFoundError naming the existing ones."""
    with pytest.raises(StageNotFoundError) as stage_error:
        state.stage("Deploy")
    assert stage_error.value.name == "Deploy"
    assert stage_error.value.available == ("Source", "Build", "Staging", "Approve", "Prod")
    with pytest.raises(ActionNotFoundError) as action_error:
        state.stage("Prod").action("Nope")
    assert action_error.value.available == ("DeployProd",)


def test_waiting_approvals_come_from_tokens(state: PipelineState) -> None:
    """waiting_in_state lists each in-progress approval with its token, stage execution and start time."""
    (approval,) = waiting_in_state(state)
    assert (approval.stage, approval.action) == ("Approve", "ReleaseManager")
    assert approval.execution_id == "0f9e8d7c-6b5a-4493-8271-605f4e3d2c1b"
    assert approval.token == "5e4d3c2b-1a09-48f7-8e6d-5c4b3a291807"
    assert approval.since is not None
    assert approval.since.timestamp() == 1767220100.0


def test_answered_approval_is_not_pending() -> None:
    """An approval that is no longer in progress is not pending, even if a token is still shown."""
    action = ActionState(
        action_name="Approve",
        latest_execution=ActionExecution(status=ActionExecutionStatus.SUCCEEDED, token="tok"),
    )
    state = PipelineState(
        pipeline_name="p", stage_states=(StageState(stage_name="S", action_states=(action,)),)
    )
    assert waiting_in_state(state) == []


# --------------------------------------------------------------------------------------- tolerant enums


def test_unknown_statuses_stay_strings_and_round_trip() -> None:
    """A status AWS adds later is kept as a plain str (not an error), and is not taken for terminal."""
    data = {
        "pipelineExecutionId": "e",
        "status": "Paused",
        "executionMode": "BATCHED",
        "executionType": "DRY",
    }
    execution = PipelineExecution.from_api(data)
    assert execution.status == "Paused"
    assert type(execution.status) is str
    assert type(execution.execution_mode) is str
    assert type(execution.execution_type) is str
    assert not execution.is_terminal
    assert execution.to_api() == data
    trigger = PipelineExecution.from_api({"trigger": {"triggerType": "Schedule"}}).trigger
    assert trigger is not None
    assert trigger.trigger_type == "Schedule"


def test_enum_members_compare_equal_to_wire_strings() -> None:
    """Enum members are str subclasses: they equal their wire value and print as it."""
    succeeded: object = PipelineExecutionStatus.SUCCEEDED
    assert succeeded == "Succeeded"
    assert str(StageExecutionStatus.IN_PROGRESS) == "InProgress"
    assert f"{ActionExecutionStatus.FAILED}" == "Failed"


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        (PipelineExecutionStatus.SUCCEEDED, True),
        (PipelineExecutionStatus.FAILED, True),
        (PipelineExecutionStatus.STOPPED, True),
        (PipelineExecutionStatus.SUPERSEDED, True),
        (PipelineExecutionStatus.CANCELLED, True),
        (PipelineExecutionStatus.IN_PROGRESS, False),
        (PipelineExecutionStatus.STOPPING, False),
        (StageExecutionStatus.SKIPPED, True),
        (StageExecutionStatus.STOPPING, False),
        (ActionExecutionStatus.ABANDONED, True),
        (ActionExecutionStatus.IN_PROGRESS, False),
        ("SomethingNew", False),
        (None, False),
    ],
)
def test_terminal_statuses(status: Any, terminal: bool) -> None:
    """Terminal statuses are AWS's: Succeeded, Failed, Stopped, Superseded, Cancelled end a wait."""
    assert is_terminal_status(status) is terminal


def test_only_failed_and_stopped_executions_can_resume() -> None:
    """Failed and Stopped executions may come back through a stage retry; the other terminal ones cannot."""
    assert {s for s in PipelineExecutionStatus if s.is_retryable} == {
        PipelineExecutionStatus.FAILED,
        PipelineExecutionStatus.STOPPED,
    }


# ------------------------------------------------------------------------------------------------ secrets


def test_approval_token_is_never_in_repr(state: PipelineState) -> None:
    """The approval token appears nowhere in the repr of the state, its actions, or the pending approvals."""
    token = "5e4d3c2b-1a09-48f7-8e6d-5c4b3a291807"
    assert token in json.dumps(_wire_equivalent(state.to_api())), "the token must still be readable"
    for shown in (state, state.stage("Approve"), state.stage("Approve").action("ReleaseManager")):
        assert token not in repr(shown)
    assert token not in repr(waiting_in_state(state))
    run = ActionExecution(token=token, status="InProgress")
    assert token not in repr(run)
    assert run.token == token


def test_manual_approval_external_id_is_hidden_but_other_ids_are_shown() -> None:
    """In ListActionExecutions, a manual approval's externalExecutionId (its token) is hidden from repr only."""
    parsed = parsed_response("codepipeline", "ListActionExecutions", "list-action-executions.json")
    details = [ActionExecutionDetail.from_api(d) for d in parsed["actionExecutionDetails"]]
    deploy, approval, _, _ = details
    token = "6f5e4d3c-2b1a-4098-8f7e-6d5c4b3a2918"
    assert token not in repr(approval)
    assert approval.output is not None
    assert approval.output.execution_result is not None
    assert approval.output.execution_result.external_execution_id == token
    assert approval.to_api() == parsed["actionExecutionDetails"][1]
    assert "d-EXAMPLEE5" in repr(deploy), "ordinary provider ids stay visible"


def test_configuration_values_are_not_in_repr() -> None:
    """Action configuration can carry secrets: repr shows its keys only."""
    parsed = parsed_response("codepipeline", "ListActionExecutions", "list-action-executions.json")
    approval = ActionExecutionDetail.from_api(parsed["actionExecutionDetails"][1])
    assert "CustomData" in repr(approval)
    assert "staging dashboard" not in repr(approval)


def test_result_equality_ignores_the_concealment_flag() -> None:
    """Hiding the id in repr does not change what the result is equal to."""
    plain = ActionExecutionResult(external_execution_id="x")
    assert plain == attrs.evolve(plain, conceals_external_id=True)
    assert "'x'" in repr(plain)
    assert "'x'" not in repr(attrs.evolve(plain, conceals_external_id=True))


def test_transition_state_round_trip_with_aware_datetime() -> None:
    """A hand-built transition state writes the wire dict boto3 would have returned."""
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    state = TransitionState(enabled=False, last_changed_at=at, disabled_reason="freeze")
    assert state.to_api() == {"enabled": False, "lastChangedAt": at, "disabledReason": "freeze"}
    assert TransitionState.from_api(state.to_api()) == state


def test_models_are_hashable_even_with_maps_and_unknown_members() -> None:
    """Frozen models hash (configuration maps and extra are left out of the hash, not a TypeError)."""
    parsed = parsed_response("codepipeline", "ListActionExecutions", "list-action-executions.json")
    details = {ActionExecutionDetail.from_api(d) for d in parsed["actionExecutionDetails"]}
    assert len(details) == 4
    with_extra = PipelineExecution.from_api({"pipelineExecutionId": "e", "status": "Failed", "new": {"a": 1}})
    assert with_extra in {with_extra}
