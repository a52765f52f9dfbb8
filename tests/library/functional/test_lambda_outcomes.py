"""Answering notified approvals from Lambda (``pipepilot.awslambda.answer``) on the offline engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pipepilot.awslambda import ApprovalNotification, OutcomeKind, answer, read_notifications
from pipepilot.errors import ThrottlingError
from pipepilot.model.runtime import ApprovalStatus

from .offline_world import PIPELINE, World, deploy, s3_source, stage

if TYPE_CHECKING:
    from pipepilot.local import OfflineAWS

TOPIC_NAME = "approvals"


def topic_arn(aws: OfflineAWS) -> str:
    """The approvals topic (created on first use)."""
    return str(aws.client("sns").create_topic(Name=TOPIC_NAME)["TopicArn"])


def gate(
    name: str, topic: str, *, custom_data: str | None = None, timeout_minutes: int | None = None
) -> dict[str, Any]:
    """A manual approval that notifies ``topic``."""
    configuration = {"NotificationArn": topic}
    if custom_data is not None:
        configuration["CustomData"] = custom_data
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
        "runOrder": 1,
        "configuration": configuration,
    }
    if timeout_minutes is not None:
        action["timeoutInMinutes"] = timeout_minutes
    return action


def gated_stages(topic: str, **gate_options: Any) -> list[dict[str, Any]]:
    """Source -> Gate/Approve (notifies ``topic``) -> Prod (a deploy)."""
    return [
        stage("Source", s3_source()),
        stage("Gate", gate("Approve", topic, **gate_options)),
        stage("Prod", {**deploy("Deploy"), "inputArtifacts": [{"name": "SourceOutput"}]}),
    ]


class Inbox:
    """An SNS subscriber that keeps every event it gets (what a Lambda function would be invoked with)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        self.events.append(event)

    def notifications(self) -> list[ApprovalNotification]:
        return [found for event in self.events for found in read_notifications(event)]


@pytest.fixture
def inbox(world: World) -> Inbox:
    received = Inbox()
    world.aws.subscribe(topic_arn(world.aws), received)
    return received


def started(world: World, **gate_options: Any) -> str:
    world.aws.script_action(PIPELINE, "Prod", "Deploy", duration=60)
    pipeline = world.create(PIPELINE, gated_stages(topic_arn(world.aws), **gate_options))
    execution = pipeline.start()
    pipeline.wait_for_approval("Gate", "Approve", execution=execution)
    world.aws.clock.advance(1)  # SNS delivers when the clock moves
    return execution.id


def status_of(world: World, execution_id: str) -> str:
    return str(world.cp.pipeline(PIPELINE).execution(execution_id).get().status)


def test_answer_records_the_decision_in_the_summary(world: World, inbox: Inbox) -> None:
    """answer() approves the notified approval, the summary starts with the decision, the outcome says ANSWERED."""
    execution_id = started(world)
    (notification,) = inbox.notifications()
    outcome = answer(notification.approval(world.cp), approve=True, summary="branch main is green")
    assert outcome.kind is OutcomeKind.ANSWERED
    assert outcome.decision is outcome.recorded is ApprovalStatus.APPROVED
    assert execution_id in outcome.text
    run = next(
        iter(world.cp.pipeline(PIPELINE).stage("Gate").action("Approve").executions(execution=execution_id))
    )
    assert run.output is not None
    assert run.output.execution_result is not None
    assert run.output.execution_result.external_execution_summary == "Approved: branch main is green"


def test_redelivery_is_already_answered(world: World, inbox: Inbox) -> None:
    """The same notification answered twice the same way: the second is ALREADY_ANSWERED, not an error."""
    started(world)
    (notification,) = inbox.notifications()
    assert answer(notification.approval(world.cp), approve=True, summary="ok").kind is OutcomeKind.ANSWERED
    again = answer(notification.approval(world.cp), approve=True, summary="ok")
    assert again.kind is OutcomeKind.ALREADY_ANSWERED
    assert again.succeeded


def test_answered_the_other_way_is_a_conflict(world: World, inbox: Inbox) -> None:
    """A rejection after an approval (or the reverse) is CONFLICT, with what was recorded."""
    started(world)
    (notification,) = inbox.notifications()
    answer(notification.approval(world.cp), approve=False, summary="not today")
    outcome = answer(notification.approval(world.cp), approve=True, summary="ship it")
    assert outcome.kind is OutcomeKind.CONFLICT
    assert outcome.recorded is ApprovalStatus.REJECTED
    assert not outcome.succeeded


def test_timed_out_approval_is_expired(world: World, inbox: Inbox) -> None:
    """An approval that timed out unanswered is EXPIRED (not a conflict with a 'rejection')."""
    execution_id = started(world, timeout_minutes=5)
    world.aws.clock.advance(600)
    assert status_of(world, execution_id) == "Failed"
    (notification,) = inbox.notifications()
    outcome = answer(notification.approval(world.cp), approve=True, summary="late")
    assert outcome.kind is OutcomeKind.EXPIRED
    assert outcome.recorded is None


def test_stopped_execution_is_expired(world: World, inbox: Inbox) -> None:
    """The approval of an execution stopped (and abandoned) is EXPIRED."""
    execution_id = started(world)
    world.cp.pipeline(PIPELINE).execution(execution_id).stop(abandon=True, reason="no")
    world.aws.clock.advance(5)
    (notification,) = inbox.notifications()
    outcome = answer(notification.approval(world.cp), approve=True, summary="late")
    assert outcome.kind is OutcomeKind.EXPIRED


def test_throttling_that_outlives_retries_raises(world: World, inbox: Inbox) -> None:
    """A transient failure is the one thing that raises (so Lambda retries); nothing was recorded."""
    execution_id = started(world)
    (notification,) = inbox.notifications()
    world.aws.faults.add(service="codepipeline", error="ThrottlingException")
    with pytest.raises(ThrottlingError):
        answer(notification.approval(world.cp), approve=True, summary="ok")
    world.aws.faults.clear()
    assert status_of(world, execution_id) == "InProgress"


def test_answer_approval_tells_a_fresh_answer_from_a_recorded_one(world: World, inbox: Inbox) -> None:
    """The core's answer_approval() returns True when it recorded the answer, False when it found it
    recorded already (what ANSWERED and ALREADY_ANSWERED rest on)."""
    from pipepilot.approvals import answer_approval

    execution_id = started(world)
    approval = world.cp.pipeline(PIPELINE).approval("Gate", "Approve", execution=execution_id)
    assert answer_approval(approval, ApprovalStatus.APPROVED, "ok") is True
    assert answer_approval(approval, ApprovalStatus.APPROVED, "ok") is False


def test_a_lost_response_is_confirmed_as_answered(world: World, inbox: Inbox) -> None:
    """PutApprovalResult applied but its response lost: the token-only handle was matched to its run
    first, so reading that run confirms it: ANSWERED, recorded once."""
    execution_id = started(world)
    (notification,) = inbox.notifications()
    world.aws.faults.add(
        service="codepipeline", operation="PutApprovalResult", error="lost-response", times=1
    )
    outcome = answer(notification.approval(world.cp), approve=True, summary="ok")
    assert outcome.kind is OutcomeKind.ANSWERED
    runs = world.cp.pipeline(PIPELINE).stage("Gate").action("Approve").executions(execution=execution_id)
    assert [str(run.status) for run in runs] == ["Succeeded"]


def test_summary_is_cut_and_keeps_the_decision(world: World, inbox: Inbox) -> None:
    """A 2,000-character summary is recorded cut to 512 characters with …, still led by the decision."""
    execution_id = started(world)
    (notification,) = inbox.notifications()
    answer(notification.approval(world.cp), approve=False, summary="x" * 2000)
    (run,) = world.cp.pipeline(PIPELINE).stage("Gate").action("Approve").executions(execution=execution_id)
    assert run.output is not None
    assert run.output.execution_result is not None
    summary = run.output.execution_result.external_execution_summary or ""
    assert summary.startswith("Rejected: xxx")
    assert summary.endswith("\u2026")
    assert len(summary) == 512


def test_wrong_argument_types_send_nothing(world: World, inbox: Inbox) -> None:
    """approve must be a bool and summary a string: a TypeError, nothing answered."""
    started(world)
    (notification,) = inbox.notifications()
    approval = notification.approval(world.cp)
    with pytest.raises(TypeError):
        answer(approval, approve="yes", summary="ok")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        answer(approval, approve=True, summary=None)  # type: ignore[arg-type]


def test_a_notification_of_another_region_is_refused(world: World, inbox: Inbox) -> None:
    """A facade in another region than the notification's cannot answer it: a clear error, no call."""
    import attrs

    from pipepilot import CodePipeline
    from pipepilot.errors import InvalidArgumentError

    started(world)
    (notification,) = inbox.notifications()
    elsewhere = attrs.evolve(notification, region="eu-west-1")
    with pytest.raises(InvalidArgumentError, match="eu-west-1"):
        elsewhere.approval(CodePipeline(region_name="us-east-1"))
