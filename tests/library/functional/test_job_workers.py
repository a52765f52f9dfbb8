"""Job workers for Lambda invoke actions, run by the offline engine as the pipeline's invoke action.

Each test registers a :func:`pipepilot.awslambda.job_worker` handler for a Lambda invoke action and lets
the offline engine invoke it, then checks what CodePipeline recorded: one answer per job (the engine's
jobs), and how many ``PutJob*Result`` requests were sent (counted on boto3's default session).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

import boto3
import pytest

import pipepilot.local
from pipepilot.awslambda import FailureType, InProgress, Job, JobFailure, Success, job_worker
from pipepilot.awslambda._jobs import reset_answered_jobs
from pipepilot.errors import MalformedInputError, RequestValidationError

from ...engine.conformance._support import HOUR, REGION, Env, lambda_action, s3_source, stage, ts

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

FUNCTION = "job-worker"


@pytest.fixture
def env() -> Iterator[Env]:
    """A fresh offline world with the conformance fixtures (role, artifact bucket), and no answered jobs."""
    reset_answered_jobs()
    with pipepilot.local.offline(region=REGION, seed=0) as aws:
        yield Env.open(aws)
    reset_answered_jobs()


@pytest.fixture
def requests(env: Env) -> Counter[str]:
    """How many PutJobSuccessResult / PutJobFailureResult requests clients made on the default session."""
    counts: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counts[model.name] += 1

    events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
    events.register("before-call.codepipeline.PutJobSuccessResult", count)
    events.register("before-call.codepipeline.PutJobFailureResult", count)
    return counts


def _pipeline(env: Env, *, user_parameters: str | None = '{"target": "prod"}') -> str:
    """Source -> Invoke (Lambda FUNCTION, namespace Invoke); returns the execution id."""
    return env.create(
        env.declaration(
            stage("Source", s3_source()),
            stage(
                "Invoke",
                lambda_action(
                    "Invoke",
                    function=FUNCTION,
                    user_parameters=user_parameters,
                    inputs=("SourceOutput",),
                    namespace="Invoke",
                ),
            ),
        )
    )


def _jobs(env: Env) -> list[Any]:
    """The engine's jobs of the Lambda action, oldest first."""
    engine: Any = env.aws.world.codepipeline()
    return [job for job in engine.scheduler.jobs.by_id.values() if job.lambda_function == FUNCTION]


def _answers(env: Env) -> Counter[str]:
    """How the engine's jobs ended (Succeeded / Failed / InProgress / TimedOut), counted."""
    return Counter(job.status for job in _jobs(env))


def _run(env: Env, execution: str, *statuses: str) -> None:
    env.run_until_status(execution, *statuses, limit=2 * HOUR)


def _register(env: Env, handler: Callable[..., Any], **options: Any) -> list[dict[str, Any]]:
    """Register ``handler`` for FUNCTION; returns the outcomes it returns, as they come."""
    outcomes: list[dict[str, Any]] = []

    def recording(event: dict[str, Any], context: Any) -> None:
        outcomes.append(handler(event, context))

    env.aws.register_lambda(FUNCTION, recording, **options)
    return outcomes


# -- answers -------------------------------------------------------------------------------------------------


def test_returning_output_variables_reports_success_once(env: Env, requests: Counter[str]) -> None:
    """A worker returning Success(...) reports one success with its variables and summary; the event is typed."""
    seen: list[Job] = []

    @job_worker
    def worker(job: Job, context: Any) -> Success:
        seen.append(job)
        return Success(output_variables={"VERSION": "1.2.3"}, summary="released", percent_complete=100)

    outcomes = _register(env, worker)
    execution = _pipeline(env)
    _run(env, execution, "Succeeded")

    [job] = seen
    assert job.parameters == {"target": "prod"}
    assert job.user_parameters == '{"target": "prod"}'
    assert job.function_name == FUNCTION
    assert job.input_artifact().bucket == env.bucket
    assert job.state is None
    assert outcomes == [
        {"jobId": job.job_id, "outcome": "succeeded", "failureType": None, "message": None, "timedOut": False}
    ]
    assert requests == Counter({"PutJobSuccessResult": 1})
    [run] = env.runs_of("Invoke", "Invoke", execution)
    assert run["output"]["outputVariables"] == {"VERSION": "1.2.3"}
    assert run["output"]["executionResult"]["externalExecutionSummary"] == "released"


def test_returning_a_mapping_or_none_reports_success(env: Env) -> None:
    """A mapping is the output variables; None is a plain success."""
    answers = iter([{"A": "1"}, None])

    @job_worker
    def worker(job: Job, context: Any) -> Any:
        return next(answers)

    _register(env, worker)
    first = _pipeline(env)
    _run(env, first, "Succeeded")
    second = env.start()
    _run(env, second, "Succeeded")
    assert env.runs_of("Invoke", "Invoke", first)[0]["output"]["outputVariables"] == {"A": "1"}
    assert not env.runs_of("Invoke", "Invoke", second)[0]["output"].get("outputVariables")


def test_in_progress_hands_its_state_to_the_next_invocation(env: Env, requests: Counter[str]) -> None:
    """InProgress(state) continues the job; the next invocation gets the state; variables come at the end."""
    states: list[Any] = []

    @job_worker
    def worker(job: Job, context: Any) -> InProgress | Success:
        states.append(job.state)
        checks = 0 if job.state is None else job.state["checks"]
        if checks < 2:
            return InProgress({"deployment": "d-42", "checks": checks + 1}, summary=f"check {checks}")
        return Success(output_variables={"DEPLOYMENT": job.state["deployment"]})

    _register(env, worker)
    execution = _pipeline(env)
    _run(env, execution, "Succeeded")

    assert states == [None, {"checks": 1, "deployment": "d-42"}, {"checks": 2, "deployment": "d-42"}]
    assert requests == Counter({"PutJobSuccessResult": 3})
    assert _answers(env) == Counter({"Succeeded": 3})
    [run] = env.runs_of("Invoke", "Invoke", execution)
    assert run["output"]["outputVariables"] == {"DEPLOYMENT": "d-42"}


def test_continuation_delay_setting_spaces_the_invocations(env: Env) -> None:
    """``lambda_continuation_delay_seconds`` is the virtual time between "in progress" and the next invocation."""
    import attrs

    env.aws.codepipeline_settings = attrs.evolve(
        env.aws.codepipeline_settings, lambda_continuation_delay_seconds=30
    )
    times: list[float] = []

    @job_worker
    def worker(job: Job, context: Any) -> Any:
        times.append(env.now())
        return InProgress(1) if job.state is None else None

    _register(env, worker)
    _run(env, _pipeline(env), "Succeeded")
    assert times[1] - times[0] == pytest.approx(30, abs=0.1)


def test_raising_fails_the_job_with_credentials_masked(env: Env) -> None:
    """An exception fails the job (JobFailed), its text in the message with the artifact credentials masked."""

    @job_worker
    def worker(job: Job, context: Any) -> None:
        assert job.credentials is not None
        raise RuntimeError(f"could not sign with {job.credentials.secret_access_key} " + "x" * 6000)

    outcomes = _register(env, worker)
    execution = _pipeline(env)
    _run(env, execution, "Failed")

    details = env.action_state("Invoke", "Invoke")["latestExecution"]["errorDetails"]
    assert details["code"] == "JobFailed"
    assert details["message"].startswith("RuntimeError: could not sign with *** xxx")
    assert len(details["message"]) == 5000
    [job] = _jobs(env)
    assert job.credentials["secretAccessKey"] not in json.dumps(outcomes)
    assert outcomes[0]["outcome"] == "failed"


@pytest.mark.parametrize("failure_type", list(FailureType))
def test_job_failure_chooses_the_failure_type(env: Env, failure_type: FailureType) -> None:
    """``raise JobFailure(message, failure_type=...)`` reports that type and message."""

    @job_worker
    def worker(job: Job, context: Any) -> None:
        raise JobFailure("the revision is gone", failure_type=failure_type, external_execution_id="run-7")

    _register(env, worker)
    execution = _pipeline(env)
    _run(env, execution, "Failed")
    details = env.action_state("Invoke", "Invoke")["latestExecution"]["errorDetails"]
    assert details == {"code": failure_type.value, "message": "the revision is gone"}


def test_access_denied_in_the_worker_is_a_permission_error(env: Env) -> None:
    """A boto3 AccessDenied error raised by the worker fails the job with PermissionError."""
    from botocore.exceptions import ClientError

    @job_worker
    def worker(job: Job, context: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")

    _register(env, worker)
    execution = _pipeline(env)
    _run(env, execution, "Failed")
    assert (
        env.action_state("Invoke", "Invoke")["latestExecution"]["errorDetails"]["code"] == "PermissionError"
    )


def test_a_report_codepipeline_would_refuse_fails_the_job_instead(env: Env, requests: Counter[str]) -> None:
    """An output variable with a bad name is caught before sending, and the job fails saying why (no hang)."""

    @job_worker
    def worker(job: Job, context: Any) -> dict[str, str]:
        return {"bad name!": "1"}

    _register(env, worker)
    execution = _pipeline(env)
    _run(env, execution, "Failed")
    message = env.action_state("Invoke", "Invoke")["latestExecution"]["errorDetails"]["message"]
    assert "output variable name 'bad name!' is not allowed" in message
    assert requests == Counter({"PutJobFailureResult": 1})


def test_a_state_too_large_for_a_continuation_token_is_refused_where_it_is_made(env: Env) -> None:
    """InProgress(state) over 2,048 characters raises RequestValidationError; the job fails, nothing hangs."""
    with pytest.raises(RequestValidationError, match="2,048"):
        InProgress({"blob": "x" * 2100})

    @job_worker
    def worker(job: Job, context: Any) -> InProgress:
        return InProgress({"blob": "x" * 2100})

    _register(env, worker)
    execution = _pipeline(env)
    _run(env, execution, "Failed")
    assert (
        "continuation token"
        in env.action_state("Invoke", "Invoke")["latestExecution"]["errorDetails"]["message"]
    )


def test_returning_something_else_is_a_configuration_error(env: Env) -> None:
    """A worker returning neither None, a mapping, Success nor InProgress fails with ConfigurationError."""

    @job_worker
    def worker(job: Job, context: Any) -> Any:
        return 42

    _register(env, worker)
    execution = _pipeline(env)
    _run(env, execution, "Failed")
    details = env.action_state("Invoke", "Invoke")["latestExecution"]["errorDetails"]
    assert details["code"] == "ConfigurationError"
    assert "returned a int" in details["message"]


# -- Lambda's own timeout -------------------------------------------------------------------------------------


def test_a_worker_near_lambdas_timeout_is_reported_failed_before_it(env: Env) -> None:
    """With 60 s of function timeout and a 10 s margin, a worker still busy fails its job at 50 s."""
    invoked: list[float] = []

    @job_worker(margin=10)
    def worker(job: Job, context: Any) -> None:
        invoked.append(env.now())
        env.aws.clock.sleep(300)  # a deployment that takes five minutes

    outcomes = _register(env, worker, timeout=60)
    execution = _pipeline(env)
    _run(env, execution, "Failed")

    [run] = env.runs_of("Invoke", "Invoke", execution)
    details = env.action_state("Invoke", "Invoke")["latestExecution"]["errorDetails"]
    assert "still running 10 seconds before" in details["message"]
    assert outcomes[0]["timedOut"] is True
    assert outcomes[0]["outcome"] == "failed"
    assert run["status"] == "Failed"
    assert ts(run["lastUpdateTime"]) == pytest.approx(invoked[0] + 50, abs=0.1)


def test_on_timeout_continue_reports_in_progress_with_the_same_state(env: Env) -> None:
    """``on_timeout="continue"``: the job goes on in a new invocation, which gets the same state again."""
    states: list[Any] = []

    @job_worker(margin=5, on_timeout="continue")
    def worker(job: Job, context: Any) -> Any:
        states.append(job.state)
        if len(states) == 1:
            return InProgress({"step": 1})
        if len(states) == 2:
            env.aws.clock.sleep(120)  # too slow for this invocation
        return Success(output_variables={"STEPS": str(len(states))})

    _register(env, worker, timeout=30)
    execution = _pipeline(env)
    _run(env, execution, "Succeeded")
    assert states == [None, {"step": 1}, {"step": 1}]
    assert _answers(env) == Counter({"Succeeded": 3})


def test_context_remaining_time_follows_the_virtual_clock(env: Env) -> None:
    """The context counts the registered timeout down on the virtual clock."""
    remaining: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        remaining.append(context.get_remaining_time_in_millis())
        env.aws.clock.sleep(12.5)
        remaining.append(context.get_remaining_time_in_millis())

    env.aws.register_lambda(FUNCTION, handler, timeout=45)
    _pipeline(env)
    env.run_until(lambda: len(remaining) == 2, limit=HOUR)
    assert remaining == [45_000, 32_500]


# -- exactly once ----------------------------------------------------------------------------------------------


def test_a_duplicate_invocation_in_the_same_process_is_a_logged_no_op(
    env: Env, requests: Counter[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Lambda delivering the job twice to a warm environment: the worker runs once, one report is sent."""
    runs: list[str] = []

    @job_worker
    def worker(job: Job, context: Any) -> None:
        runs.append(job.job_id)

    outcomes = _register(env, worker, duplicates=(0, 90))
    caplog.set_level(logging.INFO, logger="pipepilot.awslambda")
    execution = _pipeline(env)
    _run(env, execution, "Succeeded")
    env.aws.clock.advance(120)

    assert len(runs) == 1
    # The first duplicate arrives while the first invocation is still reporting: both are no-ops.
    assert sorted(outcome["outcome"] for outcome in outcomes) == ["duplicate", "duplicate", "succeeded"]
    assert requests == Counter({"PutJobSuccessResult": 1})
    assert sum("duplicate invocation" in record.getMessage() for record in caplog.records) == 2


def test_a_duplicate_invocation_in_another_process_reports_nothing_more(
    env: Env, requests: Counter[str]
) -> None:
    """A duplicate in a fresh environment runs the worker again; its answer meets an answered job: a no-op."""
    runs: list[str] = []

    @job_worker
    def worker(job: Job, context: Any) -> Any:
        runs.append(job.job_id)
        reset_answered_jobs()  # as if each invocation ran in an environment of its own
        return JobFailure("second thoughts") if len(runs) == 2 else None

    outcomes = _register(env, worker, duplicates=(30,))
    execution = _pipeline(env)
    _run(env, execution, "Succeeded")
    env.aws.clock.advance(60)

    assert len(runs) == 2
    assert [outcome["outcome"] for outcome in outcomes] == ["succeeded", "already-answered"]
    assert env.status(execution) == "Succeeded"
    assert _answers(env) == Counter({"Succeeded": 1})


def test_an_error_path_after_the_worker_answered_itself_is_harmless(env: Env, requests: Counter[str]) -> None:
    """A worker that reports success itself and then raises: the failure report meets an answered job."""

    @job_worker
    def worker(job: Job, context: Any) -> None:
        boto3.client("codepipeline").put_job_success_result(jobId=job.job_id)
        raise RuntimeError("cleanup failed after reporting")

    outcomes = _register(env, worker)
    execution = _pipeline(env)
    _run(env, execution, "Succeeded")
    env.flush()
    assert outcomes[0]["outcome"] == "already-answered"
    assert requests == Counter({"PutJobSuccessResult": 1, "PutJobFailureResult": 1})
    assert _answers(env) == Counter({"Succeeded": 1})


@pytest.mark.parametrize("operation", ["PutJobSuccessResult", "PutJobFailureResult"])
def test_a_lost_response_is_checked_by_resending_never_by_reporting_otherwise(
    env: Env, requests: Counter[str], operation: str
) -> None:
    """The report lands but its response is lost: sent again, the refusal confirms it; nothing else is sent."""
    env.aws.faults.add(service="codepipeline", operation=operation, error="lost-response", nth=1)

    @job_worker
    def worker(job: Job, context: Any) -> None:
        if operation == "PutJobFailureResult":
            raise JobFailure("tests failed")

    outcomes = _register(env, worker)
    execution = _pipeline(env)
    _run(env, execution, "Succeeded" if operation == "PutJobSuccessResult" else "Failed")
    env.flush()

    assert requests == Counter({operation: 2})
    assert outcomes[0]["outcome"] == ("succeeded" if operation == "PutJobSuccessResult" else "failed")
    assert _answers(env) == Counter({"Succeeded" if operation == "PutJobSuccessResult" else "Failed": 1})


def test_throttled_reports_are_retried_and_land_once(env: Env, requests: Counter[str]) -> None:
    """Throttling (nothing applied) is retried with back-off; the job is answered exactly once."""
    env.aws.faults.add(
        service="codepipeline", operation="PutJobSuccessResult", error="ThrottlingException", nth=[1, 2]
    )

    @job_worker
    def worker(job: Job, context: Any) -> dict[str, str]:
        return {"OK": "yes"}

    outcomes = _register(env, worker)
    execution = _pipeline(env)
    _run(env, execution, "Succeeded")
    assert requests == Counter({"PutJobSuccessResult": 3})
    assert outcomes[0]["outcome"] == "succeeded"
    assert _answers(env) == Counter({"Succeeded": 1})


def test_an_event_without_a_job_is_refused_and_nothing_is_reported(env: Env, requests: Counter[str]) -> None:
    """A malformed event raises MalformedInputError naming what is missing; no report is sent."""
    called: list[Job] = []

    @job_worker
    def worker(job: Job, context: Any) -> None:
        called.append(job)

    events: list[Any] = [{"Records": []}, {"CodePipeline.job": {"id": "x"}}, "not an event"]
    for event in events:
        with pytest.raises(MalformedInputError) as raised:
            worker(event, None)
        assert "CodePipeline.job" in str(raised.value) or "event" in str(raised.value)
    assert not called
    assert requests == Counter()
