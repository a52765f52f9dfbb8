"""Writes that take effect at most once: read back after an ambiguous error, resend only what did not apply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3.session
import pytest
from botocore.config import Config

from pipepilot._writes import send_checked
from pipepilot.errors import ServiceUnavailableError, StageNotRetryableError

from .test_calls import Wire, caller_for, error, ok

if TYPE_CHECKING:
    from .fake_time import FakeTime

PARAMS = {"pipelineName": "p", "stageName": "s", "pipelineExecutionId": "e", "retryMode": "FAILED_ACTIONS"}
BUSY = error("ServiceUnavailableException", "Service Unavailable", 503)
NOT_RETRYABLE = error("StageNotRetryableException", "already running")
RETRIED = ok({"pipelineExecutionId": "e"})


class Verdicts:
    """A confirmation that answers from a script and counts how often it was asked."""

    def __init__(self, *answers: bool | None) -> None:
        self.answers = list(answers)
        self.asked = 0

    def __call__(self) -> bool | None:
        self.asked += 1
        return self.answers.pop(0)


def _boto3_client(config: Config) -> Any:
    """A client with its own dummy credentials and region: no test depends on the environment's."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return session.client("codepipeline", config=config)


@pytest.fixture
def client() -> Any:
    return _boto3_client(Config(retries={"total_max_attempts": 1}))


def send(client: Any, fake_time: FakeTime, confirm: Verdicts, **policy: Any) -> dict[str, Any] | None:
    caller = caller_for(client, fake_time, **policy)
    return send_checked(caller, "retry_stage_execution", confirm=confirm, doing="the retry", **PARAMS)


def test_an_answered_write_is_sent_once_and_never_read_back(client: Any, fake_time: FakeTime) -> None:
    """A write AWS answers returns its response; the confirmation is not asked."""
    wire = Wire.attach(client, RETRIED)
    confirm = Verdicts()
    assert send(client, fake_time, confirm)["pipelineExecutionId"] == "e"  # type: ignore[index]
    assert len(wire.requests) == 1
    assert confirm.asked == 0


def test_a_5xx_confirmed_applied_is_not_resent(client: Any, fake_time: FakeTime) -> None:
    """The reading says it took effect: None is returned, nothing is sent again, nobody sleeps."""
    wire = Wire.attach(client, BUSY, RETRIED)
    assert send(client, fake_time, Verdicts(True)) is None
    assert len(wire.requests) == 1
    assert fake_time.sleeps == []


def test_a_5xx_whose_fate_is_unknown_is_raised(client: Any, fake_time: FakeTime) -> None:
    """The reading cannot tell: the error is raised and nothing is sent again."""
    wire = Wire.attach(client, BUSY, RETRIED)
    with pytest.raises(ServiceUnavailableError):
        send(client, fake_time, Verdicts(None))
    assert len(wire.requests) == 1


def test_a_5xx_confirmed_not_applied_is_resent_within_the_policy(client: Any, fake_time: FakeTime) -> None:
    """Not applied, again and again: sent max_attempts times with jittered back-off, then raised."""
    wire = Wire.attach(client, BUSY)
    confirm = Verdicts(*[False] * 4)
    with pytest.raises(ServiceUnavailableError):
        send(client, fake_time, confirm, max_attempts=4, base_delay=1.0, max_delay=8.0)
    assert len(wire.requests) == 4
    assert confirm.asked == 4
    assert len(fake_time.sleeps) == 3
    assert all(0 <= delay <= min(8.0, 2.0**n) for n, delay in enumerate(fake_time.sleeps))


def test_a_refusal_after_a_resend_is_checked_against_the_state(client: Any, fake_time: FakeTime) -> None:
    """The first attempt was applied late: the resend is refused, and the reading shows the effect."""
    wire = Wire.attach(client, BUSY, NOT_RETRYABLE)
    assert send(client, fake_time, Verdicts(False, True)) is None
    assert len(wire.requests) == 2


def test_a_first_refusal_is_the_answer(client: Any, fake_time: FakeTime) -> None:
    """A refusal of the first request is raised as it is; the state is not read."""
    Wire.attach(client, NOT_RETRYABLE)
    confirm = Verdicts()
    with pytest.raises(StageNotRetryableError):
        send(client, fake_time, confirm)
    assert confirm.asked == 0


@pytest.mark.usefixtures("botocore_sleeps")
def test_a_client_that_retries_itself_is_not_resent_by_pipepilot(fake_time: FakeTime) -> None:
    """botocore resent already: a refusal may answer its repeat (checked), and pipepilot adds no resends."""
    retrying = Config(retries={"mode": "standard", "total_max_attempts": 2})
    injected = _boto3_client(retrying)
    wire = Wire.attach(injected, BUSY, NOT_RETRYABLE)
    assert send(injected, fake_time, Verdicts(True)) is None
    assert len(wire.requests) == 2
    another = _boto3_client(retrying)
    wire = Wire.attach(another, BUSY)
    with pytest.raises(ServiceUnavailableError):
        send(another, fake_time, Verdicts(False))
    assert len(wire.requests) == 2
    assert fake_time.sleeps == []
