"""Manual approvals: tokens, lifecycle, expiry, the SNS notification and PutApprovalResult's errors."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any, cast

import pytest

from ._support import (
    DAY,
    HOUR,
    PIPELINE,
    REGION,
    UUID,
    Env,
    approval_action,
    expect_error,
    s3_source,
    stage,
    ts,
)

OTHER_TOKEN = "3b7a1c52-9d1e-4f0a-8b6c-2e5d4f3a1b0c"


def _approval_pipeline(env: Env, **approval: Any) -> str:
    return env.create(
        env.declaration(stage("Source", s3_source()), stage("Approval", approval_action(**approval)))
    )


def _pending_token(env: Env) -> str:
    env.run_until(lambda: env.action_status("Approval", "Approve") == "InProgress", limit=HOUR)
    return env.action_state("Approval", "Approve")["latestExecution"]["token"]


def _answer(
    env: Env,
    token: str,
    status: str = "Approved",
    summary: str = "Looks good",
    *,
    pipeline: str = PIPELINE,
    stage_name: str = "Approval",
    action: str = "Approve",
) -> datetime:
    return env.cp.put_approval_result(
        pipelineName=pipeline,
        stageName=stage_name,
        actionName=action,
        result={"summary": summary, "status": cast("Any", status)},
        token=token,
    )["approvedAt"]


def _subscribed_queue(env: Env) -> tuple[str, str]:
    """An SNS topic with an SQS queue subscribed to it, both through moto."""
    topic_arn = env.sns.create_topic(Name="approvals")["TopicArn"]
    queue_url: str = env.sqs.create_queue(QueueName="approvals")["QueueUrl"]
    queue_arn = env.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    env.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url


def _notifications(env: Env, queue_url: str) -> list[dict[str, Any]]:
    messages = env.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(json.loads(message["Body"])["Message"]) for message in messages]


# -- lifecycle -----------------------------------------------------------------------------------------------


def test_approval_token_is_a_uuid_visible_only_while_pending(env: Env) -> None:
    """A pending approval shows a UUID token in GetPipelineState; once answered the token is gone."""
    execution = _approval_pipeline(env)
    token = _pending_token(env)
    assert UUID.fullmatch(token)
    assert env.stage_latest("Approval") == (execution, "InProgress")

    env.aws.clock.advance(90)
    approved_at = _answer(env, token, summary="Reviewed by QA")
    assert ts(approved_at) == pytest.approx(env.now())
    env.run_until_status(execution, "Succeeded", limit=HOUR)
    latest = env.action_state("Approval", "Approve")["latestExecution"]
    assert latest["status"] == "Succeeded"
    assert "token" not in latest
    assert latest["summary"] == "Reviewed by QA"
    assert latest.get("lastUpdatedBy")


def test_approval_rejected_fails_the_execution(env: Env) -> None:
    """Rejected: the action fails with the reviewer's summary, so do the stage and the execution."""
    execution = _approval_pipeline(env)
    _answer(env, _pending_token(env), "Rejected", "Not this one")
    env.run_until_status(execution, "Failed", limit=HOUR)
    latest = env.action_state("Approval", "Approve")["latestExecution"]
    assert latest["status"] == "Failed"
    assert latest["summary"] == "Not this one"
    assert "token" not in latest


@pytest.mark.parametrize(("timeout_minutes", "seconds"), [(5, 300), (None, 7 * DAY)])
def test_approval_expires_at_its_timeout(env: Env, timeout_minutes: int | None, seconds: float) -> None:
    """Unanswered approvals fail at timeoutInMinutes (default 7 days), not a moment earlier."""
    execution = _approval_pipeline(env, timeout_minutes=timeout_minutes)
    _pending_token(env)
    started = ts(env.runs_of("Approval", "Approve", execution)[0]["startTime"])

    env.aws.clock.advance_to(started + seconds - 1)
    assert env.action_status("Approval", "Approve") == "InProgress"
    env.aws.clock.advance_to(started + seconds)
    env.flush()
    assert env.action_status("Approval", "Approve") == "Failed"
    assert env.status(execution) == "Failed"


def test_approval_fresh_token_per_run_and_old_token_invalid(env: Env) -> None:
    """Each approval run mints a new token; an expired run's token is no longer accepted."""
    execution = _approval_pipeline(env, timeout_minutes=5)
    expired = _pending_token(env)
    env.run_until_status(execution, "Failed", limit=HOUR)
    env.cp.retry_stage_execution(
        pipelineName=PIPELINE, stageName="Approval", pipelineExecutionId=execution, retryMode="FAILED_ACTIONS"
    )
    fresh = _pending_token(env)
    assert fresh != expired

    with expect_error("InvalidApprovalTokenException"):
        _answer(env, expired)
    assert env.action_status("Approval", "Approve") == "InProgress"
    _answer(env, fresh)
    env.run_until_status(execution, "Succeeded", limit=HOUR)


def test_approval_token_invalid_after_stop_and_abandon(env: Env) -> None:
    """Abandoning the execution invalidates its pending approval token."""
    execution = _approval_pipeline(env)
    token = _pending_token(env)
    env.cp.stop_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=execution, abandon=True, reason="x"
    )
    env.run_until_status(execution, "Stopped", limit=HOUR)
    with expect_error("InvalidApprovalTokenException"):
        _answer(env, token)


# -- SNS notification ----------------------------------------------------------------------------------------


def test_approval_sns_notification_json(env: Env) -> None:
    """The approval publishes AWS's JSON to NotificationArn: links, token, minute-precision expiry, data."""
    topic_arn, queue_url = _subscribed_queue(env)
    execution = _approval_pipeline(
        env,
        topic_arn=topic_arn,
        timeout_minutes=60,
        custom_data="Please check the canary dashboard",
        external_entity_link="https://example.com/release/42",
    )
    token = _pending_token(env)
    started = ts(env.runs_of("Approval", "Approve", execution)[0]["startTime"])

    [message] = _notifications(env, queue_url)
    console = (
        f"https://console.aws.amazon.com/codesuite/codepipeline/pipelines/{PIPELINE}/view?region={REGION}"
    )
    assert message["region"] == REGION
    assert message["consoleLink"] == console
    approval = message["approval"]
    assert approval["pipelineName"] == PIPELINE
    assert approval["stageName"] == "Approval"
    assert approval["actionName"] == "Approve"
    assert approval["token"] == token
    assert approval["externalEntityLink"] == "https://example.com/release/42"
    assert approval["customData"] == "Please check the canary dashboard"
    assert approval["approvalReviewLink"] == f"{console}#/Approval/Approve/approve/{token}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", approval["expires"])
    expires = datetime.strptime(approval["expires"], "%Y-%m-%dT%H:%MZ").replace(tzinfo=timezone.utc)
    assert abs(expires.timestamp() - (started + HOUR)) < 60


def test_approval_notification_sends_unset_link_and_comments_as_null(env: Env) -> None:
    """Without ExternalEntityLink or CustomData the notification still has both keys, set to null.

    Bots written against AWS read ``approval["customData"]`` directly; a missing key crashed them offline.
    """
    topic_arn, queue_url = _subscribed_queue(env)
    _approval_pipeline(env, topic_arn=topic_arn)
    token = _pending_token(env)

    [message] = _notifications(env, queue_url)
    approval = message["approval"]
    assert list(approval) == [
        "pipelineName",
        "stageName",
        "actionName",
        "token",
        "expires",
        "externalEntityLink",
        "approvalReviewLink",
        "customData",
    ]
    assert approval["externalEntityLink"] is None
    assert approval["customData"] is None
    assert approval["approvalReviewLink"].endswith(f"/view?region={REGION}#/Approval/Approve/approve/{token}")


def test_approval_without_notification_arn_publishes_nothing(env: Env) -> None:
    """With no NotificationArn nothing is published (the subscribed queue stays empty)."""
    _topic_arn, queue_url = _subscribed_queue(env)
    _approval_pipeline(env)
    _pending_token(env)
    assert _notifications(env, queue_url) == []


# -- error rows ----------------------------------------------------------------------------------------------


def test_approval_error_PipelineNotFoundException(env: Env) -> None:
    """An unknown pipeline answers PipelineNotFoundException."""
    with expect_error("PipelineNotFoundException"):
        _answer(env, OTHER_TOKEN, pipeline="missing")


def test_approval_error_StageNotFoundException(env: Env) -> None:
    """An unknown stage answers StageNotFoundException."""
    _approval_pipeline(env)
    token = _pending_token(env)
    with expect_error("StageNotFoundException"):
        _answer(env, token, stage_name="Nowhere")


@pytest.mark.parametrize(("stage_name", "action"), [("Approval", "Nobody"), ("Source", "Source")])
def test_approval_error_ActionNotFoundException(env: Env, stage_name: str, action: str) -> None:
    """An unknown action, or one that is not an approval (the engine's choice), answers ActionNotFoundException."""
    _approval_pipeline(env)
    token = _pending_token(env)
    with expect_error("ActionNotFoundException"):
        _answer(env, token, stage_name=stage_name, action=action)
    assert env.action_status("Approval", "Approve") == "InProgress"


def test_approval_error_InvalidApprovalTokenException(env: Env) -> None:
    """A well-formed token that is not the pending approval's answers InvalidApprovalTokenException."""
    execution = _approval_pipeline(env)
    _pending_token(env)
    with expect_error("InvalidApprovalTokenException"):
        _answer(env, OTHER_TOKEN)
    assert env.action_status("Approval", "Approve") == "InProgress"
    assert env.status(execution) == "InProgress"


def test_approval_error_ApprovalAlreadyCompletedException(env: Env) -> None:
    """Resending the token that already answered the approval answers ApprovalAlreadyCompletedException."""
    execution = _approval_pipeline(env)
    token = _pending_token(env)
    _answer(env, token)
    with expect_error("ApprovalAlreadyCompletedException"):
        _answer(env, token, "Rejected")
    env.run_until_status(execution, "Succeeded", limit=HOUR)


@pytest.mark.parametrize(
    ("token", "status", "summary"),
    [
        pytest.param("not-a-uuid", "Approved", "ok", id="token-not-uuid"),
        pytest.param(None, "approved", "ok", id="status-case"),
        pytest.param(None, "Maybe", "ok", id="status-enum"),
        pytest.param(None, "Approved", "x" * 513, id="summary-too-long"),
    ],
)
def test_approval_error_ValidationException(env: Env, token: str | None, status: str, summary: str) -> None:
    """Malformed token, status outside Approved/Rejected (exact case) or summary over 512: ValidationException."""
    _approval_pipeline(env)
    pending = _pending_token(env)
    with expect_error("ValidationException"):
        _answer(env, token or pending, status, summary)
    assert env.action_status("Approval", "Approve") == "InProgress"


def test_approval_token_invalid_after_pipeline_update(env: Env) -> None:
    """Editing the pipeline abandons a pending approval: its token is no longer accepted [D/engine choice]."""
    execution = _approval_pipeline(env)
    token = _pending_token(env)
    declaration = env.stored()
    declaration["stages"][1]["actions"][0]["configuration"] = {"CustomData": "edited"}
    env.update(declaration)
    with expect_error("InvalidApprovalTokenException"):
        _answer(env, token)
    env.run_until_status(execution, "Cancelled", limit=HOUR)
