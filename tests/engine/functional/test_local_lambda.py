"""The offline engine's Lambda functions: their own timeout, duplicate deliveries, and the options' checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

import pipepilot.local
from pipepilot.errors import ArgumentTypeError, InvalidArgumentError

from ..conformance._support import HOUR, REGION, Env, lambda_action, s3_source, stage

if TYPE_CHECKING:
    from collections.abc import Iterator

FUNCTION = "engine-lambda"


@pytest.fixture
def env() -> Iterator[Env]:
    """A fresh offline world with the conformance fixtures."""
    with pipepilot.local.offline(region=REGION, seed=0) as aws:
        yield Env.open(aws)


def _pipeline(env: Env) -> str:
    return env.create(
        env.declaration(
            stage("Source", s3_source()), stage("Invoke", lambda_action("Invoke", function=FUNCTION))
        )
    )


def test_duplicates_deliver_the_same_event_again_after_the_job_was_answered(env: Env) -> None:
    """``duplicates=(0, 60)``: the job's event arrives three times, identical, at +0, +0 and +60 seconds."""
    calls: list[tuple[float, dict[str, Any], str]] = []

    @env.aws.lambda_function(FUNCTION, duplicates=(0, 60))
    def handler(event: dict[str, Any], context: Any) -> None:
        calls.append((env.now(), event, context.aws_request_id))
        if len(calls) == 1:
            env.cp.put_job_success_result(jobId=event["CodePipeline.job"]["id"])

    execution = _pipeline(env)
    env.run_until_status(execution, "Succeeded", limit=HOUR)
    env.aws.clock.advance(120)

    assert len(calls) == 3
    first, second, third = calls
    assert first[1] == second[1] == third[1]
    assert len({first[2], second[2], third[2]}) == 3  # each invocation has its own request id
    assert third[0] - first[0] == pytest.approx(60, abs=0.01)


def test_the_context_counts_down_the_registered_timeout(env: Env) -> None:
    """``timeout=30``: the first reading of the remaining time is 30,000 ms."""
    readings: list[int] = []
    env.aws.register_lambda(
        FUNCTION, lambda event, context: readings.append(context.get_remaining_time_in_millis()), timeout=30
    )
    _pipeline(env)
    env.run_until(lambda: bool(readings), limit=HOUR)
    assert readings == [30_000]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"timeout": 0}, InvalidArgumentError),
        ({"timeout": 901}, InvalidArgumentError),
        ({"timeout": "60"}, ArgumentTypeError),
        ({"duplicates": 5}, ArgumentTypeError),
        ({"duplicates": "0"}, ArgumentTypeError),
        ({"duplicates": (-1,)}, InvalidArgumentError),
        ({"duplicates": (float("nan"),)}, InvalidArgumentError),
    ],
)
def test_bad_lambda_options_are_refused(env: Env, options: dict[str, Any], error: type[Exception]) -> None:
    """A timeout outside (0, 900] or duplicates that are not non-negative delays are typed errors."""
    with pytest.raises(error):
        env.aws.register_lambda(FUNCTION, lambda event, context: None, **options)
