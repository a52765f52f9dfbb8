"""The typed ``CodePipeline.job`` event and the answers a job worker returns (pure: no I/O)."""

from __future__ import annotations

import copy
import subprocess
import sys
import threading
from datetime import datetime, timezone
from typing import Any

import pytest

from pipepilot._time import SYSTEM_TIME, wait_for_event
from pipepilot.awslambda import FailureType, InProgress, Job, JobFailure, Success, job_worker
from pipepilot.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    MalformedInputError,
    RequestValidationError,
)
from pipepilot.local.clock import VirtualClock

from ..._data import load_json

EVENT = load_json("lambda/codepipeline_job_event.json")
SECRETS = ("ASIAEXAMPLEKEYID0001", "6CGtmAa3lzWtV7aSECRETEXAMPLE", "IQoJb3JpZ2luX2VjEATOKENEXAMPLE")


def test_job_event_is_read_into_a_typed_job() -> None:
    """Every part of a Lambda invoke action's event is read: ids, configuration, artifacts, token, key."""
    job = Job.from_event(EVENT)
    assert job.job_id == "c0d76431-b0e7-4a2f-97e3-e8ee786eb6f6"
    assert job.account_id == "123456789012"
    assert job.function_name == "my-function"
    assert job.user_parameters == '{"KEY": "VALUE"}'
    assert job.parameters == {"KEY": "VALUE"}
    [source] = job.input_artifacts
    assert (source.name, source.bucket, source.key) == (
        "my-pipeline-SourceArtifact",
        "us-west-2-123456789012-my-pipeline",
        "my-pipeline/test-api-2/TdOSFRV",
    )
    assert source.revision == "e0c7a1b2308ca3071aa7bab414de234ab52eea"
    assert job.output_artifact("invokeOutput").revision is None
    assert job.continuation_token == '{"checks":1}'
    assert job.state == {"checks": 1}
    assert job.is_continuation
    assert job.encryption_key is not None
    assert job.encryption_key.id.endswith(":key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert job.credentials is not None
    assert job.credentials.expiration == datetime.fromtimestamp(1575493418, tz=timezone.utc)
    assert job.pipeline_context is None


def test_job_round_trips_to_the_event_shape() -> None:
    """``Job.from_api(data).to_api()`` gives back the recorded job, nulls included."""
    assert Job.from_event(EVENT).to_api() == EVENT["CodePipeline.job"]


def test_a_custom_action_job_keeps_its_pipeline_context_and_type() -> None:
    """A PollForJobs / GetJobDetails job carries pipelineContext and actionTypeId; both are read and written."""
    raw = copy.deepcopy(EVENT["CodePipeline.job"])
    raw["data"]["pipelineContext"] = {
        "pipelineName": "app",
        "stage": {"name": "Deploy"},
        "action": {"name": "Worker", "actionExecutionId": "a-1"},
        "pipelineArn": "arn:aws:codepipeline:us-east-1:123456789012:app",
        "pipelineExecutionId": "e-1",
    }
    raw["data"]["actionTypeId"] = {"category": "Build", "owner": "Custom", "provider": "X", "version": "1"}
    job = Job.from_api(raw)
    assert job.pipeline_context is not None
    assert (job.pipeline_context.pipeline_name, job.pipeline_context.pipeline_execution_id) == ("app", "e-1")
    assert job.to_api() == raw


def test_credentials_never_show_in_repr_or_masked_text() -> None:
    """The artifact credentials are in no repr, and ``conceal`` masks each of them."""
    job = Job.from_event(EVENT)
    shown = repr(job) + repr(job.credentials)
    assert not any(secret in shown for secret in SECRETS)
    text = " ".join(SECRETS)
    assert job.conceal(text) == "*** *** ***"


@pytest.mark.parametrize(
    ("user_parameters", "parsed"),
    [('{"a": [1, 2]}', {"a": [1, 2]}), ("42", 42), ("prod", None), ("[" * 5000, None), (None, None)],
)
def test_user_parameters_are_parsed_when_they_are_json(user_parameters: str | None, parsed: Any) -> None:
    """``parameters`` is the JSON value (None when not JSON, even nested too deep); the raw string stays."""
    raw = copy.deepcopy(EVENT)
    configuration = raw["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]
    if user_parameters is None:
        del configuration["UserParameters"]
    else:
        configuration["UserParameters"] = user_parameters
    job = Job.from_event(raw)
    assert job.parameters == parsed
    assert job.user_parameters == user_parameters


def test_a_foreign_continuation_token_is_the_raw_state() -> None:
    """A continuation token that is not JSON (another worker's) is handed on as the raw string."""
    raw = copy.deepcopy(EVENT)
    raw["CodePipeline.job"]["data"]["continuationToken"] = "deployment-d-123"
    assert Job.from_event(raw).state == "deployment-d-123"


def _without(path: tuple[str, ...]) -> dict[str, Any]:
    """A copy of the recorded event with the member at ``path`` removed."""
    raw: dict[str, Any] = copy.deepcopy(EVENT)
    node = raw
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return raw


@pytest.mark.parametrize(
    ("event", "path"),
    [
        ({}, "CodePipeline.job"),
        ({"CodePipeline.job": None}, "CodePipeline.job"),
        ({"CodePipeline.job": []}, "CodePipeline.job"),
        (_without(("CodePipeline.job", "id")), "CodePipeline.job.id"),
        (_without(("CodePipeline.job", "data")), "CodePipeline.job.data"),
        (
            {"CodePipeline.job": {**EVENT["CodePipeline.job"], "data": {"inputArtifacts": [{"name": "x"}]}}},
            "data.inputArtifacts[0].location.s3Location",
        ),
        (
            {"CodePipeline.job": {**EVENT["CodePipeline.job"], "data": {"artifactCredentials": "secret"}}},
            "data.artifactCredentials",
        ),
    ],
)
def test_a_malformed_event_is_one_typed_error_without_secrets(event: dict[str, Any], path: str) -> None:
    """Missing or malformed parts raise MalformedInputError naming where; no credential is in its text."""
    with pytest.raises(MalformedInputError) as raised:
        Job.from_event(event)
    assert raised.value.path == path
    assert not any(secret in str(raised.value) for secret in SECRETS)


def test_an_event_that_is_not_a_mapping_is_refused() -> None:
    """A string or a list is not an event."""
    for event in ("CodePipeline.job", [EVENT]):
        with pytest.raises(MalformedInputError):
            Job.from_event(event)


def test_artifacts_are_picked_by_name_or_when_alone() -> None:
    """``input_artifact()`` needs a name when there is not exactly one; an unknown name lists the known ones."""
    job = Job.from_event(EVENT)
    assert job.input_artifact().name == "my-pipeline-SourceArtifact"
    with pytest.raises(InvalidArgumentError, match="has: invokeOutput"):
        job.output_artifact("nope")


# -- answers ---------------------------------------------------------------------------------------------------


def test_success_checks_output_variables_against_the_api_rules() -> None:
    """Names outside ``[A-Za-z0-9@\\-_]+``, non-string values and over 122,880 bytes are refused when made."""
    assert Success(output_variables={"A-b_c@1": "v"}).output_variables == {"A-b_c@1": "v"}
    with pytest.raises(RequestValidationError, match="not allowed"):
        Success(output_variables={"a.b": "v"})
    with pytest.raises(ArgumentTypeError):
        Success(output_variables={"A": 1})  # type: ignore[dict-item]
    with pytest.raises(RequestValidationError, match="122,880"):
        Success(output_variables={f"V{i}": "x" * 4096 for i in range(31)})
    with pytest.raises(RequestValidationError):
        Success(percent_complete=101)
    with pytest.raises(RequestValidationError):
        Success(external_execution_id="x" * 1501)


def test_in_progress_encodes_its_state_into_a_bounded_token() -> None:
    """The state is compact, sorted JSON; over 2,048 characters or not JSON is refused when made."""
    assert InProgress({"b": 1, "a": [True, None]}).token == '{"a":[true,null],"b":1}'
    assert len(InProgress("x" * 2046).token) == 2048
    with pytest.raises(RequestValidationError, match="2,048"):
        InProgress("x" * 2047)
    with pytest.raises(ArgumentTypeError, match="JSON-serialisable"):
        InProgress({"when": datetime.now(tz=timezone.utc)})


def test_job_failure_takes_a_known_failure_type() -> None:
    """``JobFailure`` accepts the enum or its value; anything else is refused."""
    assert (
        JobFailure("x", failure_type="RevisionUnavailable").failure_type is FailureType.REVISION_UNAVAILABLE
    )
    with pytest.raises(InvalidArgumentError, match="JobFailed"):
        JobFailure("x", failure_type="Oops")


def test_job_worker_refuses_bad_options() -> None:
    """A negative margin, an unknown on_timeout or a client of another service are refused at decoration."""
    with pytest.raises(InvalidArgumentError):
        job_worker(margin=-1)
    with pytest.raises(InvalidArgumentError):
        job_worker(on_timeout="retry")  # type: ignore[call-overload]
    with pytest.raises(ArgumentTypeError):
        job_worker(client=object())


# -- waiting for the worker ------------------------------------------------------------------------------------


def test_wait_for_event_on_the_system_clock_returns_when_set_or_after_the_time() -> None:
    """Without a virtual clock, the wait is ``Event.wait``."""
    event = threading.Event()
    assert wait_for_event(SYSTEM_TIME, event, 0.01) is False
    event.set()
    assert wait_for_event(SYSTEM_TIME, event, 10) is True


def test_virtual_clock_wait_stops_time_at_the_deadline() -> None:
    """A thread sleeping 300 s while another waits 50 s for it: time stops at 50 s for the waiter."""
    clock = VirtualClock(start=0.0)
    done = threading.Event()
    woke: list[float] = []

    def sleeper() -> None:
        clock.sleep(300)
        woke.append(clock.now())
        done.set()

    thread = threading.Thread(target=sleeper)
    assert clock.wait_event(done, 50, start=thread.start) is False
    assert clock.now() == 50
    assert clock.wait_event(done, 1000) is True
    thread.join()
    assert woke == [300]
    assert clock.now() == 300


def test_virtual_clock_wait_returns_at_once_when_the_worker_finishes() -> None:
    """A worker that finishes without sleeping costs no virtual time."""
    clock = VirtualClock(start=0.0)
    done = threading.Event()
    assert clock.wait_event(done, 900, start=threading.Thread(target=done.set).start) is True
    assert clock.now() == 0


def test_importing_awslambda_loads_neither_boto3_nor_attrs() -> None:
    """``import pipepilot.awslambda`` is cheap (Lambda cold start): its names load on first use."""
    code = (
        "import sys, pipepilot.awslambda as m; "
        "print(sorted(n for n in ('boto3', 'botocore', 'attrs', 'pipepilot.awslambda._jobs') if n in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
