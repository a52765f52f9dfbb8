"""Lambda invoke actions, job results (and their errors), timeouts, and custom job workers."""

from __future__ import annotations

from typing import Any, cast

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from ._support import (
    HOUR,
    PIPELINE,
    UUID,
    Env,
    codedeploy_action,
    custom_action,
    expect_error,
    lambda_action,
    s3_source,
    stage,
    ts,
)

FUNCTION = "conformance-function"
UNKNOWN_JOB = "3b7a1c52-9d1e-4f0a-8b6c-2e5d4f3a1b0c"
JOB_TIMEOUT = 20 * 60.0
WORKER = {"category": "Build", "owner": "Custom", "provider": "ConformanceWorker", "version": "1"}


def _invoke_pipeline(env: Env, **action: Any) -> str:
    """Source -> Invoke (Lambda FUNCTION, namespace Invoke) -> Deploy reading ``#{Invoke.VERSION}``."""
    deploy = codedeploy_action("Deploy", input_artifact="SourceOutput")
    deploy["configuration"]["DeploymentGroupName"] = "group-#{Invoke.VERSION}"
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", duration=60)
    return env.create(
        env.declaration(
            stage("Source", s3_source()),
            stage(
                "Invoke",
                lambda_action(
                    "Invoke",
                    function=FUNCTION,
                    user_parameters='{"stage": "prod"}',
                    inputs=("SourceOutput",),
                    outputs=("InvokeOutput",),
                    namespace="Invoke",
                    **action,
                ),
            ),
            stage("Deploy", deploy),
        )
    )


def _jobs_recorder(env: Env) -> list[dict[str, Any]]:
    """Register a handler for FUNCTION that only records the ``CodePipeline.job`` it is given."""
    jobs: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        jobs.append(event["CodePipeline.job"])

    env.aws.register_lambda(FUNCTION, handler)
    return jobs


def _first_job(env: Env, jobs: list[dict[str, Any]], count: int = 1) -> str:
    env.run_until(lambda: len(jobs) >= count, limit=HOUR, what=f"{count} Lambda invocation(s)")
    return cast("str", jobs[count - 1]["id"])


# -- the event and the results -------------------------------------------------------------------------------


def test_lambda_handler_receives_codepipeline_job_event(env: Env) -> None:
    """The handler gets ``{"CodePipeline.job": {id, accountId, data{...}}}`` describing this action."""
    jobs = _jobs_recorder(env)
    _invoke_pipeline(env)
    _first_job(env, jobs)
    job = jobs[0]

    assert UUID.fullmatch(job["id"])
    assert job["accountId"] == env.aws.account_id
    data = job["data"]
    assert data["actionConfiguration"]["configuration"] == {
        "FunctionName": FUNCTION,
        "UserParameters": '{"stage": "prod"}',
    }
    [source] = data["inputArtifacts"]
    assert source["name"] == "SourceOutput"
    assert source["location"]["type"] == "S3"
    assert source["location"]["s3Location"]["bucketName"] == env.bucket
    assert source["location"]["s3Location"]["objectKey"]
    [output] = data["outputArtifacts"]
    assert output["name"] == "InvokeOutput"
    assert output["location"]["s3Location"]["bucketName"] == env.bucket
    assert set(data["artifactCredentials"]) >= {"accessKeyId", "secretAccessKey", "sessionToken"}
    assert "continuationToken" not in data
    assert "encryptionKey" not in data  # no KMS key on the artifact store
    assert "actionTypeId" not in data
    assert "pipelineContext" not in data


def test_lambda_success_output_variables_reach_action_and_downstream(env: Env) -> None:
    """PutJobSuccessResult's outputVariables land on the action and resolve ``#{Invoke.VERSION}`` later on."""
    jobs = _jobs_recorder(env)
    execution = _invoke_pipeline(env)
    job_id = _first_job(env, jobs)
    env.cp.put_job_success_result(
        jobId=job_id,
        outputVariables={"VERSION": "1.2.3"},
        executionDetails={
            "summary": "Published 1.2.3",
            "externalExecutionId": "release-42",
            "percentComplete": 100,
        },
    )
    env.run_until_status(execution, "Succeeded", limit=HOUR)

    run = env.runs_of("Invoke", "Invoke", execution)[0]
    assert run["status"] == "Succeeded"
    assert run["output"]["outputVariables"] == {"VERSION": "1.2.3"}
    assert run["output"]["executionResult"]["externalExecutionId"] == "release-42"
    assert run["output"]["executionResult"]["externalExecutionSummary"] == "Published 1.2.3"
    latest = env.action_state("Invoke", "Invoke")["latestExecution"]
    assert latest["summary"] == "Published 1.2.3"
    assert latest["externalExecutionId"] == "release-42"
    deploy = env.runs_of("Deploy", "Deploy", execution)[0]
    assert deploy["input"]["resolvedConfiguration"]["DeploymentGroupName"] == "group-1.2.3"


def test_lambda_handler_answering_inline(env: Env) -> None:
    """A handler that calls PutJobSuccessResult through boto3 while it runs completes the action."""
    seen: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        job = event["CodePipeline.job"]
        seen.append(job["id"])
        env.cp.put_job_success_result(jobId=job["id"], outputVariables={"VERSION": "9"})

    env.aws.register_lambda(FUNCTION, handler)
    execution = _invoke_pipeline(env)
    env.run_until_status(execution, "Succeeded", limit=HOUR)
    assert len(seen) == 1


def test_lambda_continuation_token_creates_a_new_job(env: Env) -> None:
    """Success with a continuationToken keeps the action InProgress and invokes again with a new job."""
    jobs = _jobs_recorder(env)
    execution = _invoke_pipeline(env)
    first = _first_job(env, jobs)
    env.cp.put_job_success_result(jobId=first, continuationToken="step-2")
    second = _first_job(env, jobs, 2)

    assert second != first
    assert jobs[1]["data"]["continuationToken"] == "step-2"
    assert env.action_status("Invoke", "Invoke") == "InProgress"
    env.cp.put_job_success_result(jobId=second, outputVariables={"VERSION": "2"})
    env.run_until_status(execution, "Succeeded", limit=HOUR)
    assert len(env.runs_of("Invoke", "Invoke", execution)) == 1  # still one action execution
    assert len(jobs) == 2


def test_lambda_failure_result_fails_the_action(env: Env) -> None:
    """PutJobFailureResult fails the action, carrying the message into errorDetails."""
    jobs = _jobs_recorder(env)
    execution = _invoke_pipeline(env)
    env.cp.put_job_failure_result(
        jobId=_first_job(env, jobs),
        failureDetails={"type": "JobFailed", "message": "smoke test failed", "externalExecutionId": "run-7"},
    )
    env.run_until_status(execution, "Failed", limit=HOUR)
    details = env.action_state("Invoke", "Invoke")["latestExecution"]["errorDetails"]
    assert details["message"] == "smoke test failed"
    assert details["code"] == "JobFailed"


# -- timeouts ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("handler", ["none", "silent"])
def test_lambda_job_times_out_after_20_minutes(env: Env, handler: str) -> None:
    """Without an answer (no handler, or one that never reports) the action fails 20 minutes after it began."""
    if handler == "silent":
        _jobs_recorder(env)
    execution = _invoke_pipeline(env)
    env.run_until(lambda: env.action_status("Invoke", "Invoke") == "InProgress", limit=HOUR)
    started = ts(env.runs_of("Invoke", "Invoke", execution)[0]["startTime"])

    env.aws.clock.advance_to(started + JOB_TIMEOUT - 1)
    assert env.action_status("Invoke", "Invoke") == "InProgress"
    env.aws.clock.advance_to(started + JOB_TIMEOUT)
    env.flush()
    assert env.action_status("Invoke", "Invoke") == "Failed"
    assert env.status(execution) == "Failed"


def test_lambda_continuation_restarts_the_20_minute_window(env: Env) -> None:
    """Each continuation gives the new job a fresh 20 minutes; the action outlives the first window."""
    jobs = _jobs_recorder(env)
    execution = _invoke_pipeline(env)
    first = _first_job(env, jobs)
    env.aws.clock.advance(15 * 60)
    env.cp.put_job_success_result(jobId=first, continuationToken="more")
    second = _first_job(env, jobs, 2)
    env.aws.clock.advance(15 * 60)

    assert env.action_status("Invoke", "Invoke") == "InProgress"
    env.cp.put_job_success_result(jobId=second, outputVariables={"VERSION": "3"})
    env.run_until_status(execution, "Succeeded", limit=HOUR)


# -- error rows ----------------------------------------------------------------------------------------------


def test_job_success_error_JobNotFoundException(env: Env) -> None:
    """An unknown job id answers JobNotFoundException."""
    with expect_error("JobNotFoundException"):
        env.cp.put_job_success_result(jobId=UNKNOWN_JOB)


def test_job_failure_error_JobNotFoundException(env: Env) -> None:
    """An unknown job id answers JobNotFoundException."""
    with expect_error("JobNotFoundException"):
        env.cp.put_job_failure_result(jobId=UNKNOWN_JOB, failureDetails={"type": "JobFailed", "message": "x"})


@pytest.mark.parametrize("first", ["success", "failure", "timeout"])
@pytest.mark.parametrize("second", ["success", "failure"])
def test_job_result_error_InvalidJobStateException(env: Env, first: str, second: str) -> None:
    """A job already reported (or timed out) no longer accepts a result: InvalidJobStateException."""
    jobs = _jobs_recorder(env)
    execution = _invoke_pipeline(env)
    job_id = _first_job(env, jobs)
    if first == "success":
        env.cp.put_job_success_result(jobId=job_id)
    elif first == "failure":
        env.cp.put_job_failure_result(jobId=job_id, failureDetails={"type": "JobFailed", "message": "x"})
    else:
        env.run_until_status(execution, "Failed", limit=HOUR)
    with expect_error("InvalidJobStateException"):
        if second == "success":
            env.cp.put_job_success_result(jobId=job_id)
        else:
            env.cp.put_job_failure_result(jobId=job_id, failureDetails={"type": "JobFailed", "message": "y"})


def test_job_success_error_OutputVariablesSizeExceededException(env: Env) -> None:
    """Output variables over 122,880 bytes in total answer OutputVariablesSizeExceededException."""
    jobs = _jobs_recorder(env)
    _invoke_pipeline(env)
    job_id = _first_job(env, jobs)
    variables = {f"V{index}": "x" * 4096 for index in range(31)}  # 126,976 bytes of values
    with expect_error("OutputVariablesSizeExceededException"):
        env.cp.put_job_success_result(jobId=job_id, outputVariables=variables)
    assert env.action_status("Invoke", "Invoke") == "InProgress"


@pytest.mark.parametrize(
    "request_kwargs",
    [
        pytest.param({"jobId": "not-a-uuid"}, id="job-id-pattern"),
        pytest.param(
            {"continuationToken": "more", "outputVariables": {"A": "1"}}, id="variables-with-continuation"
        ),
        pytest.param({"outputVariables": {"bad key!": "1"}}, id="variable-key-pattern"),
        pytest.param({"executionDetails": {"percentComplete": 101}}, id="percent-over-100"),
    ],
)
def test_job_success_error_ValidationException(env: Env, request_kwargs: dict[str, Any]) -> None:
    """Malformed job id, outputVariables sent with a continuationToken, a bad key or bad details."""
    jobs = _jobs_recorder(env)
    _invoke_pipeline(env)
    job_id = _first_job(env, jobs)
    with expect_error("ValidationException"):
        env.cp.put_job_success_result(**{"jobId": job_id, **request_kwargs})
    assert env.action_status("Invoke", "Invoke") == "InProgress"


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param({"type": "Oops", "message": "x"}, id="type-enum"),
        pytest.param({"type": "JobFailed", "message": "x" * 5001}, id="message-too-long"),
    ],
)
def test_job_failure_error_ValidationException(env: Env, failure: dict[str, Any]) -> None:
    """A failure type outside the enum or a message over 5000 characters answers ValidationException."""
    jobs = _jobs_recorder(env)
    _invoke_pipeline(env)
    job_id = _first_job(env, jobs)
    with expect_error("ValidationException"):
        env.cp.put_job_failure_result(jobId=job_id, failureDetails=cast("Any", failure))
    assert env.action_status("Invoke", "Invoke") == "InProgress"


# -- custom action job workers -------------------------------------------------------------------------------


def _worker_pipeline(env: Env) -> str:
    """Declare the custom action type (where the engine emulates that) and a pipeline using it."""
    try:
        env.cp.create_custom_action_type(
            category="Build",
            provider="ConformanceWorker",
            version="1",
            inputArtifactDetails={"minimumCount": 1, "maximumCount": 1},
            outputArtifactDetails={"minimumCount": 0, "maximumCount": 0},
            configurationProperties=[
                {
                    "name": "Target",
                    "required": True,
                    "key": True,
                    "secret": False,
                    "queryable": True,
                    "type": "String",
                }
            ],
        )
    except ClientError as error:
        # The engine does not emulate CreateCustomActionType; it accepts undeclared Custom types instead.
        if error.response["Error"]["Code"] != "UnknownOperationException":
            raise
    return env.create(
        env.declaration(
            stage("Source", s3_source()),
            stage(
                "Work", custom_action("Work", provider="ConformanceWorker", configuration={"Target": "blue"})
            ),
        )
    )


def _poll(env: Env) -> list[Any]:
    return list(env.cp.poll_for_jobs(actionTypeId=cast("Any", WORKER), maxBatchSize=5)["jobs"])


def test_custom_worker_poll_acknowledge_details_and_report(env: Env) -> None:
    """PollForJobs returns the job with nonce and pipelineContext; AcknowledgeJob; GetJobDetails; success."""
    execution = _worker_pipeline(env)
    env.run_until(lambda: env.action_status("Work", "Work") == "InProgress", limit=HOUR)
    [job] = _poll(env)

    assert UUID.fullmatch(job["id"])
    assert job["nonce"]
    context = job["data"]["pipelineContext"]
    assert context["pipelineName"] == PIPELINE
    assert context["stage"]["name"] == "Work"
    assert context["action"]["name"] == "Work"
    assert context["pipelineExecutionId"] == execution
    assert context["pipelineArn"] == f"arn:aws:codepipeline:us-east-1:{env.aws.account_id}:{PIPELINE}"
    assert job["data"]["actionConfiguration"]["configuration"] == {"Target": "blue"}

    assert env.cp.acknowledge_job(jobId=job["id"], nonce=job["nonce"])["status"] == "InProgress"
    details = env.cp.get_job_details(jobId=job["id"])["jobDetails"]
    assert details["id"] == job["id"]
    assert details["data"]["pipelineContext"]["pipelineExecutionId"] == execution
    env.cp.put_job_success_result(jobId=job["id"], executionDetails={"summary": "done"})
    env.run_until_status(execution, "Succeeded", limit=HOUR)


def test_custom_worker_poll_query_param_filters_jobs(env: Env) -> None:
    """queryParam selects jobs by the queryable property's value."""
    _worker_pipeline(env)
    env.run_until(lambda: env.action_status("Work", "Work") == "InProgress", limit=HOUR)
    none = env.cp.poll_for_jobs(
        actionTypeId=cast("Any", WORKER), maxBatchSize=5, queryParam={"Target": "green"}
    )
    assert none["jobs"] == []
    some = env.cp.poll_for_jobs(
        actionTypeId=cast("Any", WORKER), maxBatchSize=5, queryParam={"Target": "blue"}
    )
    assert len(some["jobs"]) == 1


def test_custom_worker_error_InvalidNonceException(env: Env) -> None:
    """Acknowledging with a nonce that is not the job's answers InvalidNonceException."""
    _worker_pipeline(env)
    env.run_until(lambda: env.action_status("Work", "Work") == "InProgress", limit=HOUR)
    [job] = _poll(env)
    with expect_error("InvalidNonceException"):
        env.cp.acknowledge_job(jobId=job["id"], nonce=job["nonce"] + "-other")


def test_custom_worker_error_JobNotFoundException(env: Env) -> None:
    """AcknowledgeJob and GetJobDetails of an unknown job answer JobNotFoundException."""
    with expect_error("JobNotFoundException"):
        env.cp.acknowledge_job(jobId=UNKNOWN_JOB, nonce="1")
    with expect_error("JobNotFoundException"):
        env.cp.get_job_details(jobId=UNKNOWN_JOB)


def test_custom_worker_error_ActionTypeNotFoundException(env: Env) -> None:
    """Polling for a custom action type that does not exist answers ActionTypeNotFoundException."""
    with expect_error("ActionTypeNotFoundException"):
        env.cp.poll_for_jobs(actionTypeId=cast("Any", {**WORKER, "provider": "Nobody"}), maxBatchSize=1)


def test_custom_worker_poll_for_aws_owned_type_is_refused(env: Env) -> None:
    """PollForJobs serves Custom owners only; others get ActionTypeNotFoundException (AWS's code is unconfirmed)."""
    aws_type = {"category": "Deploy", "owner": "AWS", "provider": "CodeDeploy", "version": "1"}
    with expect_error(("ActionTypeNotFoundException", "ValidationException")):
        env.cp.poll_for_jobs(actionTypeId=cast("Any", aws_type), maxBatchSize=1)


def test_custom_worker_error_ValidationException(env: Env) -> None:
    """A job id outside the UUID pattern answers ValidationException; maxBatchSize 0 fails client-side."""
    with expect_error("ValidationException"):
        env.cp.get_job_details(jobId="not-a-uuid")
    with expect_error("ValidationException"):
        env.cp.acknowledge_job(jobId="not-a-uuid", nonce="1")
    with pytest.raises(ParamValidationError):
        env.cp.poll_for_jobs(actionTypeId=cast("Any", WORKER), maxBatchSize=0)


def test_lambda_handler_raising_fails_the_action(env: Env) -> None:
    """A handler that raises fails the action at once (the engine's choice: lambda_errors_fail_action)."""

    def handler(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("boom")

    env.aws.register_lambda(FUNCTION, handler)
    execution = _invoke_pipeline(env)
    env.run_until_status(execution, "Failed", limit=JOB_TIMEOUT / 2)
    assert env.action_status("Invoke", "Invoke") == "Failed"


def test_lambda_action_fails_after_24_hours_of_continuations(env: Env) -> None:
    """Continuations restart the 20-minute job window, but the action as a whole fails after 24 hours."""
    jobs = _jobs_recorder(env)
    execution = _invoke_pipeline(env)
    _first_job(env, jobs)
    started = ts(env.runs_of("Invoke", "Invoke", execution)[0]["startTime"])
    while env.now() + 19 * 60 < started + 24 * HOUR:
        env.aws.clock.advance(19 * 60)
        env.cp.put_job_success_result(jobId=jobs[-1]["id"], continuationToken=f"step-{len(jobs)}")
        _first_job(env, jobs, len(jobs) + 1)
    assert env.action_status("Invoke", "Invoke") == "InProgress"
    env.run_until_status(execution, "Failed", limit=HOUR)
    assert env.now() == pytest.approx(started + 24 * HOUR)
