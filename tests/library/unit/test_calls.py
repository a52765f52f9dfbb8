"""The client seam: retries (budget, deadline on our clock, jitter), idempotency tokens, sharing with botocore."""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
import uuid
from typing import TYPE_CHECKING, Any

import attrs
import boto3.session
import pytest
from botocore import exceptions as botocore_exceptions
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.config import Config
from botocore.stub import Stubber

from pipepilot import _time
from pipepilot._calls import Caller, RetryPolicy, client_max_attempts, is_role_propagation_error, make_client
from pipepilot.errors import (
    ApprovalAlreadyCompletedError,
    ConnectionFailure,
    InvalidStructureError,
    LimitExceededError,
    PipelineNotFoundError,
    ServiceUnavailableError,
    ThrottlingError,
    ValidationError,
)

from .fake_time import FakeTime

if TYPE_CHECKING:
    from collections.abc import Iterator

ROLE_NOT_YET_ASSUMABLE = (
    "CodePipeline is not authorized to perform AssumeRole on role arn:aws:iam::123456789012:role/new-role"
)

# These tests sign requests that a stub answers: they need credentials (dummy ones), as online code does.
pytestmark = pytest.mark.usefixtures("fake_credentials")

# ------------------------------------------------------------------------------------------------ helpers


class _RawBody:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@attrs.define
class Wire:
    """Answers a real client's HTTP sends from a script (botocore's parsing and retry logic all run).

    Each scripted outcome is an exception to raise instead of sending, or ``(status, body)``. Once the
    script is used up, the last outcome repeats. Every request body that reached the "wire" is recorded.
    """

    script: list[Any]
    requests: list[dict[str, Any]] = attrs.Factory(list)

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.requests.append(json.loads(request.body or b"{}"))
        outcome = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(outcome, Exception):
            raise outcome
        status, body = outcome
        headers = HTTPHeaders()
        headers["x-amzn-RequestId"] = str(uuid.uuid4())
        headers["Content-Type"] = "application/x-amz-json-1.1"
        return AWSResponse(request.url, status, headers, _RawBody(json.dumps(body).encode()))

    @classmethod
    def attach(cls, client: Any, *script: Any) -> Wire:
        wire = cls(list(script))
        client.meta.events.register("before-send.codepipeline", wire)
        return wire


def error(code: str, message: str = "", status: int = 400) -> tuple[int, dict[str, Any]]:
    return status, {"__type": code, "message": message}


def ok(body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    return 200, body or {}


THROTTLED = error("ThrottlingException", "Rate exceeded")
STARTED = ok({"pipelineExecutionId": "11111111-2222-3333-4444-555555555555"})


@pytest.fixture
def client() -> Any:
    """A codepipeline client made the way pipepilot makes them (botocore retries off)."""
    return make_client("codepipeline", region_name="us-east-1")


def caller_for(client: Any, fake_time: FakeTime, **policy: Any) -> Caller[Any]:
    return Caller(client, retry=RetryPolicy(**policy), clock=fake_time.monotonic, sleep=fake_time.sleep)


# ------------------------------------------------------------------------------------------ retry budget


def test_throttled_n_times_then_success_returns_the_response(client: Any, fake_time: FakeTime) -> None:
    """A read throttled three times succeeds on the fourth attempt, after three injected sleeps."""
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_client_error("get_pipeline", "ThrottlingException", "Rate exceeded")
        stub.add_response("get_pipeline", {"pipeline": {"name": "p", "roleArn": "arn", "stages": []}})
        response = caller_for(client, fake_time).call("get_pipeline", idempotent=True, name="p")
        stub.assert_no_pending_responses()
    assert response["pipeline"]["name"] == "p"
    assert len(fake_time.sleeps) == 3


def test_gives_up_at_the_attempt_budget_with_the_typed_error(client: Any, fake_time: FakeTime) -> None:
    """After max_attempts throttled attempts the ThrottlingError surfaces, ClientError as its cause."""
    with Stubber(client) as stub:
        for _ in range(4):
            stub.add_client_error("list_pipelines", "ThrottlingException", "Rate exceeded")
        with pytest.raises(ThrottlingError) as info:
            caller_for(client, fake_time, max_attempts=4).call("list_pipelines", idempotent=True)
        stub.assert_no_pending_responses()
    assert len(fake_time.sleeps) == 3
    assert isinstance(info.value.__cause__, botocore_exceptions.ClientError)
    assert info.value.operation_name == "ListPipelines"


def test_gives_up_at_the_deadline_read_from_the_injected_clock(client: Any, fake_time: FakeTime) -> None:
    """The deadline is measured on the injected clock, not tenacity's time.monotonic.

    The fake sleeps take no real time, so a delay stop reading ``time.monotonic`` would never trip and
    all 1000 attempts would run; ours stops once the next sleep would pass the deadline.
    """
    wire = Wire.attach(client, THROTTLED)
    started = fake_time.now
    real_start = time.monotonic()
    with pytest.raises(ThrottlingError):
        caller_for(client, fake_time, max_attempts=1000, deadline=30.0, base_delay=1.0, max_delay=8.0).call(
            "list_pipelines", idempotent=True
        )
    assert 1 < len(wire.requests) < 1000
    assert fake_time.now - started <= 30.0
    # Giving up early is only allowed when the next sleep would have crossed the deadline.
    assert fake_time.now - started > 30.0 - 8.0
    assert time.monotonic() - real_start < 5


@contextlib.contextmanager
def serving_time(client: Any, source: Any) -> Iterator[None]:
    """Make ``client`` answer pipepilot's time-source event with ``source``, as offline() makes its clients."""

    def answer(**_: Any) -> Any:
        return source

    client.meta.events.register(_time.TIME_SOURCE_EVENT, answer, unique_id="test-time-source")
    try:
        yield
    finally:
        client.meta.events.unregister(_time.TIME_SOURCE_EVENT, unique_id="test-time-source")


def test_clock_and_sleep_default_to_the_time_source_serving_the_client_at_call_time(client: Any) -> None:
    """A time source the client answers with after the caller was built (as offline() makes it) is the one
    used: time comes through the client, not from a global."""
    caller: Caller[Any] = Caller(client, retry=RetryPolicy(max_attempts=3))
    assert _time.time_source_for(client) is _time.SYSTEM_TIME
    fake = FakeTime(1000.0)
    with serving_time(client, fake), Stubber(client) as stub:
        stub.add_client_error("list_pipelines", "ThrottlingException")
        stub.add_response("list_pipelines", {"pipelines": []})
        caller.call("list_pipelines", idempotent=True)
    assert len(fake.sleeps) == 1
    assert _time.time_source_for(client) is _time.SYSTEM_TIME


def test_sleeps_are_full_jitter_within_the_exponential_window(client: Any) -> None:
    """The n-th back-off is uniform in [0, min(max_delay, base_delay * 2**(n-1))]."""
    policy = {"max_attempts": 6, "base_delay": 1.0, "max_delay": 5.0, "deadline": 1e9}
    wire = Wire.attach(client, ok())
    all_sleeps: list[list[float]] = []
    for _ in range(30):
        fake = FakeTime(1000.0)
        wire.script = [THROTTLED] * 5 + [ok({"pipelines": []})]
        caller_for(client, fake, **policy).call("list_pipelines", idempotent=True)
        all_sleeps.append(fake.sleeps)
    windows = [1.0, 2.0, 4.0, 5.0, 5.0]
    for sleeps in all_sleeps:
        assert len(sleeps) == 5
        for sleep, window in zip(sleeps, windows, strict=True):
            assert 0.0 <= sleep <= window
    # Jittered, not fixed: over 30 runs the sleeps do not all sit at the window's edge.
    assert any(sleeps[4] < 4.5 for sleeps in all_sleeps)
    assert len({round(sleeps[0], 6) for sleeps in all_sleeps}) > 1


class SeededTime(FakeTime):
    """A fake clock that also offers a seeded ``rng``, as pipepilot.local's virtual clock does."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.rng = random.Random(seed)


def test_back_off_draws_from_the_time_sources_rng_when_it_offers_one(client: Any) -> None:
    """With a seeded rng on the time source, the n-th sleep is rng.random() times the n-th window, so the
    same seed makes the same sleeps whatever the global random module does."""
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=5.0, deadline=1e9)
    wire = Wire.attach(client, ok())

    def sleeps_with(seed: int) -> list[float]:
        source = SeededTime(seed)
        with serving_time(client, source):
            random.seed(seed + 1000)  # noise in the global generator must not matter
            wire.script = [THROTTLED] * 5 + [ok({"pipelines": []})]
            Caller(client, retry=policy).call("list_pipelines", idempotent=True)
        return source.sleeps

    expected_rng = random.Random(7)
    windows = [1.0, 2.0, 4.0, 5.0, 5.0]
    assert sleeps_with(7) == [expected_rng.random() * window for window in windows]
    assert sleeps_with(7) == sleeps_with(7)
    assert sleeps_with(7) != sleeps_with(8)


def test_generated_tokens_come_from_the_time_sources_rng_when_it_offers_one(client: Any) -> None:
    """Idempotency tokens replay with a seeded time source; without one they are uuid4 (never repeated)."""
    wire = Wire.attach(client, STARTED)

    def token_with(source: Any) -> str:
        with serving_time(client, source):
            Caller(client).call("start_pipeline_execution", idempotent=True, name="p")
        token: str = wire.requests[-1]["clientRequestToken"]
        return token

    seeded = token_with(SeededTime(3))
    assert seeded == token_with(SeededTime(3))
    assert uuid.UUID(seeded).version == 4
    assert token_with(FakeTime(1000.0)) != token_with(FakeTime(1000.0))


def test_retry_is_logged_at_warning_with_operation_and_attempt(
    client: Any, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """Each retry sleep is announced at WARNING, naming the operation, the error code and the attempt."""
    caplog.set_level(logging.DEBUG, logger="pipepilot")
    with Stubber(client) as stub:
        stub.add_client_error("list_pipelines", "ThrottlingException")
        stub.add_response("list_pipelines", {"pipelines": []})
        caller_for(client, fake_time).call("list_pipelines", idempotent=True)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "pipepilot._calls"]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "ListPipelines" in text
    assert "ThrottlingException" in text
    assert "attempt 1" in text
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert debug.count("calling ListPipelines") == 2


# ----------------------------------------------------------------------------------- what is not retried


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ValidationException", ValidationError),
        ("PipelineNotFoundException", PipelineNotFoundError),
        ("LimitExceededException", LimitExceededError),
    ],
)
def test_never_retries_errors_that_are_not_transient(
    client: Any, fake_time: FakeTime, code: str, expected: type[Exception]
) -> None:
    """Client errors, not-found and quota errors are raised at once, with no sleep."""
    with Stubber(client) as stub:
        stub.add_client_error("get_pipeline", code)
        with pytest.raises(expected):
            caller_for(client, fake_time).call("get_pipeline", idempotent=True, name="p")
        stub.assert_no_pending_responses()
    assert fake_time.sleeps == []


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        (
            "put_approval_result",
            {
                "pipelineName": "p",
                "stageName": "s",
                "actionName": "a",
                "result": {"summary": "ok", "status": "Approved"},
                "token": "0f7c6a4e-1111-2222-3333-444455556666",
            },
        ),
        ("stop_pipeline_execution", {"pipelineName": "p", "pipelineExecutionId": "e"}),
        (
            "retry_stage_execution",
            {
                "pipelineName": "p",
                "stageName": "s",
                "pipelineExecutionId": "e",
                "retryMode": "FAILED_ACTIONS",
            },
        ),
    ],
)
def test_non_idempotent_writes_are_not_retried_on_ambiguous_failures(
    client: Any, fake_time: FakeTime, operation: str, params: dict[str, Any]
) -> None:
    """A 5xx on a write that is not idempotent may have taken effect, so it is raised, not resent."""
    wire = Wire.attach(client, error("InternalFailure", "boom", 500), ok())
    with pytest.raises(ServiceUnavailableError):
        caller_for(client, fake_time).call(operation, idempotent=False, **params)
    assert len(wire.requests) == 1
    assert fake_time.sleeps == []


def test_non_idempotent_writes_are_not_retried_after_a_read_timeout(client: Any, fake_time: FakeTime) -> None:
    """A read timeout means AWS may have acted; a non-idempotent write is not sent twice."""
    wire = Wire.attach(client, botocore_exceptions.ReadTimeoutError(endpoint_url="https://x"), ok())
    with pytest.raises(ConnectionFailure):
        caller_for(client, fake_time).call(
            "stop_pipeline_execution", idempotent=False, pipelineName="p", pipelineExecutionId="e"
        )
    assert len(wire.requests) == 1


def test_non_idempotent_writes_are_retried_when_aws_certainly_did_not_act(
    client: Any, fake_time: FakeTime
) -> None:
    """Throttling, or a connection that never opened, prove the request was not acted on: resending is safe."""
    wire = Wire.attach(
        client,
        THROTTLED,
        botocore_exceptions.EndpointConnectionError(endpoint_url="https://x"),
        ok(),
    )
    caller_for(client, fake_time).call(
        "stop_pipeline_execution", idempotent=False, pipelineName="p", pipelineExecutionId="e"
    )
    assert len(wire.requests) == 3


def test_reads_are_retried_after_connection_errors(client: Any, fake_time: FakeTime) -> None:
    """Dropped connections and timeouts on reads are retried like throttling."""
    wire = Wire.attach(
        client,
        botocore_exceptions.ReadTimeoutError(endpoint_url="https://x"),
        botocore_exceptions.ConnectionClosedError(endpoint_url="https://x"),
        error("ServiceUnavailable", "later", 503),
        ok({"pipelines": []}),
    )
    response = caller_for(client, fake_time).call("list_pipelines", idempotent=True)
    assert response["pipelines"] == []
    assert len(wire.requests) == 4
    assert len(fake_time.sleeps) == 3


def test_other_approval_errors_are_raised_typed(client: Any, fake_time: FakeTime) -> None:
    """Service answers to a write come back as their typed error, never retried."""
    with Stubber(client) as stub:
        stub.add_client_error("put_approval_result", "ApprovalAlreadyCompletedException")
        with pytest.raises(ApprovalAlreadyCompletedError):
            caller_for(client, fake_time).call(
                "put_approval_result",
                idempotent=False,
                pipelineName="p",
                stageName="s",
                actionName="a",
                result={"summary": "ok", "status": "Approved"},
                token="0f7c6a4e-1111-2222-3333-444455556666",
            )


# ------------------------------------------------------------------------------------ idempotency tokens


def test_start_token_is_generated_once_and_reused_on_every_retry(client: Any, fake_time: FakeTime) -> None:
    """StartPipelineExecution carries one pipepilot-made clientRequestToken across all its attempts."""
    wire = Wire.attach(client, THROTTLED, error("InternalFailure", "", 500), STARTED)
    response = caller_for(client, fake_time).call("start_pipeline_execution", idempotent=True, name="p")
    assert response["pipelineExecutionId"] == "11111111-2222-3333-4444-555555555555"
    tokens = [request["clientRequestToken"] for request in wire.requests]
    assert len(tokens) == 3
    assert len(set(tokens)) == 1
    uuid.UUID(tokens[0])


def test_a_caller_supplied_start_token_is_kept(client: Any, fake_time: FakeTime) -> None:
    """A token the caller chose is sent as is, on every attempt."""
    wire = Wire.attach(client, THROTTLED, STARTED)
    caller_for(client, fake_time).call(
        "start_pipeline_execution", idempotent=True, name="p", clientRequestToken="my-token-1"
    )
    assert [r["clientRequestToken"] for r in wire.requests] == ["my-token-1", "my-token-1"]


def test_each_start_call_gets_its_own_token(client: Any, fake_time: FakeTime) -> None:
    """Two separate starts are two executions: their tokens differ."""
    wire = Wire.attach(client, STARTED)
    caller = caller_for(client, fake_time)
    caller.call("start_pipeline_execution", idempotent=True, name="p")
    caller.call("start_pipeline_execution", idempotent=True, name="p")
    assert wire.requests[0]["clientRequestToken"] != wire.requests[1]["clientRequestToken"]


def test_codebuild_start_build_gets_a_reused_idempotency_token(fake_time: FakeTime) -> None:
    """CodeBuild StartBuild carries one idempotencyToken across retries too."""
    codebuild = make_client("codebuild", region_name="us-east-1")
    wire = Wire([THROTTLED, ok({"build": {"id": "proj:1"}})])
    codebuild.meta.events.register("before-send.codebuild", wire)
    caller_for(codebuild, fake_time).call("start_build", idempotent=True, projectName="proj")
    tokens = [r["idempotencyToken"] for r in wire.requests]
    assert len(tokens) == 2
    assert tokens[0] == tokens[1]


# ---------------------------------------------------------------------------- sharing work with botocore


def _boto3_client(config: Config | None) -> Any:
    """A client built by the user, not by pipepilot (botocore's retry settings as given)."""
    return boto3.session.Session().client("codepipeline", region_name="us-east-1", config=config)


def test_clients_pipepilot_makes_do_not_retry_by_themselves() -> None:
    """make_client turns botocore's retries off (one attempt), so pipepilot's policy is the only one."""
    made = make_client("codepipeline", region_name="us-east-1")
    assert client_max_attempts(made) == 1
    assert made.meta.config.retries["total_max_attempts"] == 1
    assert "pipepilot/" in (made.meta.config.user_agent_extra or "")


def test_make_client_merges_the_callers_config() -> None:
    """A caller's config is kept; its own retry settings win over pipepilot's."""
    made = make_client("codepipeline", region_name="eu-west-1", config=Config(connect_timeout=7))
    assert made.meta.config.connect_timeout == 7
    assert made.meta.region_name == "eu-west-1"
    assert client_max_attempts(made) == 1
    theirs = make_client(
        "codepipeline", region_name="us-east-1", config=Config(retries={"total_max_attempts": 4})
    )
    assert client_max_attempts(theirs) == 4


@pytest.mark.parametrize(
    ("retries", "expected_sends"),
    [
        ({"total_max_attempts": 3, "mode": "standard"}, 3),
        ({"mode": "legacy"}, 5),
        (None, 3),  # botocore's default: standard mode, 3 attempts
    ],
)
def test_injected_client_that_retries_itself_gets_no_extra_transient_retries(
    fake_time: FakeTime, botocore_sleeps: list[float], retries: Any, expected_sends: int
) -> None:
    """Attempts never multiply: the total is the injected client's own, and pipepilot never sleeps."""
    injected = _boto3_client(Config(retries=retries))
    wire = Wire.attach(injected, THROTTLED)
    with pytest.raises(ThrottlingError) as info:
        caller_for(injected, fake_time).call("list_pipelines", idempotent=True)
    assert len(wire.requests) == expected_sends
    assert fake_time.sleeps == []
    assert len(botocore_sleeps) == expected_sends - 1
    assert info.value.response is not None
    assert info.value.response["ResponseMetadata"]["RetryAttempts"] == expected_sends - 1


def test_injected_client_with_one_attempt_gets_pipepilots_policy(fake_time: FakeTime) -> None:
    """An injected client configured not to retry is retried by pipepilot, as one it made."""
    injected = _boto3_client(Config(retries={"total_max_attempts": 1}))
    wire = Wire.attach(injected, THROTTLED)
    with pytest.raises(ThrottlingError):
        caller_for(injected, fake_time, max_attempts=6).call("list_pipelines", idempotent=True)
    assert len(wire.requests) == 6
    assert len(fake_time.sleeps) == 5


@pytest.mark.usefixtures("botocore_sleeps")
def test_semantic_retries_still_apply_to_a_client_that_retries_itself(fake_time: FakeTime) -> None:
    """IAM propagation retries are pipepilot's own: botocore does not know them."""
    injected = _boto3_client(None)
    wire = Wire.attach(
        injected,
        error("InvalidStructureException", ROLE_NOT_YET_ASSUMABLE),
        error("InvalidStructureException", ROLE_NOT_YET_ASSUMABLE),
        ok({"pipeline": {"name": "p", "roleArn": "arn", "stages": []}}),
    )
    caller_for(injected, fake_time).call("create_pipeline", idempotent=False, pipeline=_MINIMAL_PIPELINE)
    assert len(wire.requests) == 3
    assert len(fake_time.sleeps) == 2


# --------------------------------------------------------------------------------------- IAM propagation

_MINIMAL_PIPELINE: dict[str, Any] = {
    "name": "p",
    "roleArn": "arn:aws:iam::123456789012:role/new-role",
    "artifactStore": {"type": "S3", "location": "bucket"},
    "stages": [],
}


def test_create_is_retried_while_the_new_role_propagates(client: Any, fake_time: FakeTime) -> None:
    """CreatePipeline refused for an unassumable new role is retried past the attempt limit, to success."""
    refusals = [error("InvalidStructureException", ROLE_NOT_YET_ASSUMABLE)] * 4
    wire = Wire.attach(client, *refusals, ok({"pipeline": {"name": "p", "roleArn": "arn", "stages": []}}))
    caller_for(client, fake_time, max_attempts=2, deadline=60.0).call(
        "create_pipeline", idempotent=False, pipeline=_MINIMAL_PIPELINE
    )
    assert len(wire.requests) == 5


def test_role_propagation_retry_log_names_the_deadline_not_the_attempt_limit(
    client: Any, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the attempt limit the WARNING must not claim the policy allows fewer attempts than were made."""
    caplog.set_level(logging.WARNING, logger="pipepilot")
    refusals = [error("InvalidStructureException", ROLE_NOT_YET_ASSUMABLE)] * 3
    Wire.attach(client, *refusals, ok({"pipeline": {"name": "p", "roleArn": "arn", "stages": []}}))
    caller_for(client, fake_time, max_attempts=2, deadline=45.0).call(
        "create_pipeline", idempotent=False, pipeline=_MINIMAL_PIPELINE
    )
    messages = [record.getMessage() for record in caplog.records if record.name == "pipepilot._calls"]
    assert len(messages) == 3
    assert "attempt 3, policy allows until 45s have passed" in messages[2]


def test_role_propagation_retries_stop_at_the_deadline(client: Any, fake_time: FakeTime) -> None:
    """A role that never becomes assumable surfaces as InvalidStructureError once the deadline passes."""
    Wire.attach(client, error("InvalidStructureException", ROLE_NOT_YET_ASSUMABLE))
    started = fake_time.now
    with pytest.raises(InvalidStructureError) as info:
        caller_for(client, fake_time, deadline=20.0).call(
            "create_pipeline", idempotent=False, pipeline=_MINIMAL_PIPELINE
        )
    assert is_role_propagation_error(info.value)
    assert fake_time.now - started <= 20.0


def test_other_structure_errors_are_not_retried(client: Any, fake_time: FakeTime) -> None:
    """An InvalidStructureException about the pipeline itself is the caller's to fix."""
    wire = Wire.attach(client, error("InvalidStructureException", "Pipeline has only 1 stage(s)."))
    with pytest.raises(InvalidStructureError):
        caller_for(client, fake_time).call("create_pipeline", idempotent=False, pipeline=_MINIMAL_PIPELINE)
    assert len(wire.requests) == 1


def test_role_propagation_is_only_retried_for_create_and_update(client: Any, fake_time: FakeTime) -> None:
    """The same message on another operation is not assumed to be IAM propagation."""
    wire = Wire.attach(client, error("InvalidStructureException", ROLE_NOT_YET_ASSUMABLE))
    with pytest.raises(InvalidStructureError):
        caller_for(client, fake_time).call("start_pipeline_execution", idempotent=True, name="p")
    assert len(wire.requests) == 1


# ------------------------------------------------------------------------------------ paging, laziness


def test_paginate_yields_items_lazily_and_retries_a_page_on_its_own(client: Any, fake_time: FakeTime) -> None:
    """Pages are fetched only as items are consumed; a throttled page is re-fetched without restarting."""
    wire = Wire.attach(
        client,
        ok({"pipelines": [{"name": "a"}, {"name": "b"}], "nextToken": "t1"}),
        THROTTLED,
        ok({"pipelines": [{"name": "c"}]}),
    )
    items = caller_for(client, fake_time).paginate("list_pipelines", "pipelines")
    assert wire.requests == []
    assert next(items) == {"name": "a"}
    assert len(wire.requests) == 1
    assert [item["name"] for item in items] == ["b", "c"]
    assert wire.requests == [{}, {"nextToken": "t1"}, {"nextToken": "t1"}]


def test_client_factory_is_called_on_first_use_only() -> None:
    """A caller built from a factory creates no client until a call needs one."""
    made: list[Any] = []

    def factory() -> Any:
        made.append(make_client("codepipeline", region_name="us-east-1"))
        return made[-1]

    caller: Caller[Any] = Caller(client_factory=factory)
    assert made == []
    assert caller.client is made[0]
    assert caller.client is made[0]
    assert len(made) == 1


def test_caller_needs_a_client_or_a_factory() -> None:
    """Building a caller with neither is a TypeError, not a later AttributeError."""
    with pytest.raises(TypeError):
        Caller()


def test_parameters_are_never_logged(
    client: Any, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """An approval token sent through the seam appears in no log record, even across a retry."""
    caplog.set_level(logging.DEBUG)
    token = "0f7c6a4e-1111-2222-3333-444455556666"
    Wire.attach(client, THROTTLED, ok())
    caller_for(client, fake_time).call(
        "put_approval_result",
        idempotent=False,
        pipelineName="p",
        stageName="s",
        actionName="a",
        result={"summary": "ok", "status": "Approved"},
        token=token,
    )
    assert all(
        token not in record.getMessage() for record in caplog.records if record.name.startswith("pipepilot")
    )


@pytest.mark.parametrize(
    ("operation", "params", "secret"),
    [
        (
            "put_approval_result",
            {
                "pipelineName": "p",
                "stageName": "s",
                "actionName": "a",
                "result": {"summary": "ok", "status": "Approved"},
                "token": "0f7c6a4e-1111-2222-3333-444455556666",
            },
            "0f7c6a4e-1111-2222-3333-444455556666",
        ),
        (
            "acknowledge_job",
            {"jobId": "11111111-2222-3333-4444-555555555555", "nonce": "n0nce-42"},
            "n0nce-42",
        ),
    ],
)
def test_secrets_echoed_by_aws_never_reach_the_raised_error(
    client: Any, fake_time: FakeTime, operation: str, params: dict[str, Any], secret: str
) -> None:
    """The seam knows which parameters are secret (from botocore's model): an echo of one comes out as ***."""
    Wire.attach(client, error("ValidationException", f"Value '{secret}' at 'x' failed to satisfy constraint"))
    with pytest.raises(ValidationError) as info:
        caller_for(client, fake_time).call(operation, idempotent=False, **params)
    err = info.value
    assert "Value '***' at 'x'" in str(err)
    for link in (err, err.__cause__, err.__context__):
        assert link is None or (secret not in str(link) and secret not in repr(vars(link)))


@pytest.mark.parametrize(
    "bad",
    [{"max_attempts": 0}, {"deadline": 0}, {"base_delay": -1}, {"max_delay": -0.5}],
)
def test_retry_policy_rejects_nonsense(bad: dict[str, Any]) -> None:
    """A policy that could never make a request, or would sleep negative time, is refused up front."""
    with pytest.raises(ValueError):
        RetryPolicy(**bad)
