"""The SNS approval bot (``pipepilot.awslambda.approval_bot``) against the offline engine: the hazards public
approval bots fall into, each shown harmless here."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from pipepilot.awslambda import ApprovalRequest, Approve, Leave, Reject, approval_bot
from pipepilot.errors import MalformedEventError, NoApprovalWaitingError, TransientError, WaitTimeout

from .offline_world import PIPELINE, World, deploy, s3_source, stage
from .test_lambda_outcomes import Inbox, gate, gated_stages, topic_arn

if TYPE_CHECKING:
    from pipepilot.awslambda import ApprovalBot


def always_approve(request: ApprovalRequest) -> Approve:
    """The simplest rule: approve everything (the hazards are about *which* approval gets answered)."""
    return Approve("looks good")


def status_of(world: World, execution_id: str, pipeline: str = PIPELINE) -> str:
    return str(world.cp.pipeline(pipeline).execution(execution_id).get().status)


def approval_runs(
    world: World, execution_id: str, stage_name: str = "Gate", action: str = "Approve"
) -> list[str]:
    """Statuses of the approval's runs in one execution."""
    runs = world.cp.pipeline(PIPELINE).stage(stage_name).action(action).executions(execution=execution_id)
    return [str(run.status) for run in runs]


def waiting_execution(world: World, **create: Any) -> str:
    """Create the gated pipeline (which starts an execution) and let it reach the approval."""
    world.aws.script_action(PIPELINE, "Prod", "Deploy", duration=60)
    pipeline = world.create(PIPELINE, gated_stages(topic_arn(world.aws)), **create)
    execution = pipeline.start()
    pipeline.wait_for_approval("Gate", "Approve", execution=execution)
    world.aws.clock.advance(1)  # SNS delivers when the clock moves
    return execution.id


# ---------------------------------------------------------------------------------- wrong execution


def test_a_stopped_executions_late_notification_never_approves_the_next(world: World) -> None:
    """Execution 1 waits, is stopped; execution 2 reaches the same gate. The bot, invoked late with 1's
    notification, answers nothing: 1's approval is expired, 2's still waits for a reviewer."""
    inbox = Inbox()
    world.aws.subscribe(topic_arn(world.aws), inbox)
    first = waiting_execution(world)
    pipeline = world.cp.pipeline(PIPELINE)
    pipeline.execution(first).stop(abandon=True, reason="wrong build")
    second = pipeline.start()
    pipeline.wait_for_approval("Gate", "Approve", execution=second)
    world.aws.clock.advance(1)
    late = inbox.events[0]
    bot = approval_bot(always_approve)
    (result,) = bot(late, None)["results"]
    assert result["outcome"] == "expired"
    assert status_of(world, second.id) == "InProgress"
    assert approval_runs(world, second.id) == ["InProgress"]
    # And the second's own notification approves the second.
    (result,) = bot(inbox.events[1], None)["results"]
    assert result["outcome"] == "answered"
    assert approval_runs(world, second.id) == ["Succeeded"]


def test_another_gates_token_sent_for_this_gate_answers_neither(world: World) -> None:
    """A message naming gate A with gate B's token (a mix-up, or forged) approves neither gate."""
    inbox = Inbox()
    topic = topic_arn(world.aws)
    world.aws.subscribe(topic, inbox)
    stages = [
        stage("Source", s3_source()),
        stage("Gate", gate("Approve", topic), gate("Security", topic)),
        stage("Prod", {**deploy("Deploy"), "inputArtifacts": [{"name": "SourceOutput"}]}),
    ]
    pipeline = world.create(PIPELINE, stages)
    execution_id = pipeline.start().id
    world.aws.clock.advance(60)
    messages = {
        json.loads(event["Records"][0]["Sns"]["Message"])["approval"]["actionName"]: event
        for event in inbox.events
    }
    forged = json.loads(json.dumps(messages["Approve"]))
    body = json.loads(forged["Records"][0]["Sns"]["Message"])
    body["approval"]["token"] = json.loads(messages["Security"]["Records"][0]["Sns"]["Message"])["approval"][
        "token"
    ]
    forged["Records"][0]["Sns"]["Message"] = json.dumps(body)
    (result,) = approval_bot(always_approve)(forged, None)["results"]
    assert result["outcome"] == "expired"
    assert approval_runs(world, execution_id, "Gate", "Approve") == ["InProgress"]
    assert approval_runs(world, execution_id, "Gate", "Security") == ["InProgress"]


def test_parallel_mode_answers_the_notified_execution_only(world: World) -> None:
    """In PARALLEL mode (no token in the pipeline state) two executions wait at the gate: the bot answers
    exactly the one whose notification it got, and its rules see that execution."""
    inbox = Inbox()
    world.aws.subscribe(topic_arn(world.aws), inbox)
    first = waiting_execution(world, execution_mode="PARALLEL")
    pipeline = world.cp.pipeline(PIPELINE)
    second = pipeline.start().id
    pipeline.wait_for_approval("Gate", "Approve", execution=second)
    world.aws.clock.advance(1)
    seen: list[str | None] = []

    def decide(request: ApprovalRequest) -> Approve:
        seen.append(request.execution_id)
        return Approve("ok")

    (result,) = approval_bot(decide)(inbox.events[1], None)["results"]
    assert result["outcome"] == "answered"
    assert seen == [second]
    assert approval_runs(world, second) == ["Succeeded"]
    assert approval_runs(world, first) == ["InProgress"]


def test_the_next_executions_approval_is_not_answered_by_a_redelivery(world: World) -> None:
    """After execution 1 was approved and execution 2 waits at the gate, 1's notification redelivered
    answers nothing (already answered); 2 still waits."""
    inbox = Inbox()
    world.aws.subscribe(topic_arn(world.aws), inbox)
    first = waiting_execution(world)
    bot = approval_bot(always_approve)
    bot(inbox.events[0], None)
    world.aws.clock.advance(120)
    assert status_of(world, first) == "Succeeded"
    pipeline = world.cp.pipeline(PIPELINE)
    second = pipeline.start().id
    pipeline.wait_for_approval("Gate", "Approve", execution=second)
    (result,) = bot(inbox.events[0], None)["results"]
    assert result["outcome"] == "already-answered"
    assert approval_runs(world, second) == ["InProgress"]


# --------------------------------------------------------------------------------------- racing the start


def _approval_started_event(world: World, execution_id: str) -> dict[str, Any]:
    """The EventBridge event CodePipeline sends when the gate's approval starts, for ``execution_id``."""
    return {
        "version": "0",
        "id": "9f1c0b8e-2a6d-4c4e-8f0a-5b7d3e1c2a90",
        "detail-type": "CodePipeline Action Execution State Change",
        "source": "aws.codepipeline",
        "account": world.aws.account_id,
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:codepipeline:us-east-1:{world.aws.account_id}:{PIPELINE}"],
        "detail": {
            "pipeline": PIPELINE,
            "execution-id": execution_id,
            "stage": "Gate",
            "action": "Approve",
            "state": "STARTED",
            "region": "us-east-1",
            "type": {"owner": "AWS", "category": "Approval", "provider": "Manual", "version": "1"},
            "version": 1,
        },
    }


def _slow_source(world: World) -> str:
    """A pipeline whose source takes 40 s: its execution reaches the gate 40 s after it starts."""
    world.aws.script_action(PIPELINE, "Source", "Source", duration=40)
    world.aws.script_action(PIPELINE, "Prod", "Deploy", duration=60)
    pipeline = world.create(PIPELINE, gated_stages(topic_arn(world.aws)))
    return pipeline.start().id


def test_an_event_before_the_approval_is_visible_waits_for_it(world: World) -> None:
    """Invoked by an 'approval started' event before the approval shows as waiting, the bot waits for it
    (bounded) and answers it, instead of crashing or answering something else."""
    execution_id = _slow_source(world)
    bot = approval_bot(always_approve, wait=120)
    (result,) = bot(_approval_started_event(world, execution_id), None)["results"]
    assert result["outcome"] == "answered"
    assert approval_runs(world, execution_id) == ["Succeeded"]


def test_the_wait_for_a_late_approval_is_bounded(world: World) -> None:
    """When the approval does not show within the bound, the bot raises WaitTimeout (Lambda retries the
    event later) and has answered nothing."""
    execution_id = _slow_source(world)
    bot = approval_bot(always_approve, wait=10)
    before = world.aws.clock.now()
    with pytest.raises(WaitTimeout):
        bot(_approval_started_event(world, execution_id), None)
    assert world.aws.clock.now() - before <= 15
    assert approval_runs(world, execution_id) in ([], ["InProgress"])


def test_an_event_of_an_execution_that_ended_first_is_expired(world: World) -> None:
    """An event of an execution stopped before it reached the gate: nothing to answer, no crash."""
    execution_id = _slow_source(world)
    world.cp.pipeline(PIPELINE).execution(execution_id).stop(abandon=True)
    world.aws.clock.advance(5)
    (result,) = approval_bot(always_approve, wait=60)(_approval_started_event(world, execution_id), None)[
        "results"
    ]
    assert result["outcome"] == "expired"


# ------------------------------------------------------------------------------------------- idempotency


def test_duplicate_records_in_one_event_are_answered_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The same SNS MessageId twice in one event: one answer, one 'duplicate'; no warning."""
    inbox = Inbox()
    world.aws.subscribe(topic_arn(world.aws), inbox)
    execution_id = waiting_execution(world)
    event = inbox.events[0]
    doubled = {"Records": event["Records"] * 2}
    caplog.set_level(logging.INFO)
    results = approval_bot(always_approve)(doubled, None)["results"]
    assert [r["outcome"] for r in results] == ["answered", "duplicate"]
    assert approval_runs(world, execution_id) == ["Succeeded"]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_sns_redelivery_is_a_success_logged_once(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """SNS delivers the same message again in a later invocation: 'already-answered', returns normally,
    one INFO line from the answer saying so, no warning."""
    inbox = Inbox()
    world.aws.subscribe(topic_arn(world.aws), inbox)
    execution_id = waiting_execution(world)
    bot = approval_bot(always_approve)
    bot(inbox.events[0], None)
    caplog.clear()
    caplog.set_level(logging.INFO)
    (result,) = bot(inbox.events[0], None)["results"]
    assert result["outcome"] == "already-answered"
    assert approval_runs(world, execution_id) == ["Succeeded"]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert len([r for r in caplog.records if "already approved" in r.getMessage()]) == 1


def test_a_reject_after_an_approval_is_a_conflict_not_a_crash(world: World) -> None:
    """A human approved first; the bot's rejection reports 'conflict' and changes nothing."""
    inbox = Inbox()
    world.aws.subscribe(topic_arn(world.aws), inbox)
    execution_id = waiting_execution(world)
    world.cp.pipeline(PIPELINE).approval("Gate", "Approve", execution=execution_id).approve("by a human")
    (result,) = approval_bot(lambda request: Reject("no"))(inbox.events[0], None)["results"]
    assert result["outcome"] == "conflict"
    assert approval_runs(world, execution_id) == ["Succeeded"]


# ------------------------------------------------------------------------------------ what AWS sends


def test_fields_aws_sends_as_null_do_not_crash_the_bot(world: World) -> None:
    """An approval with no CustomData or ExternalEntityLink (sent as null) is decided and answered."""
    inbox = Inbox()
    world.aws.subscribe(topic_arn(world.aws), inbox)
    execution_id = waiting_execution(world)
    message = json.loads(inbox.events[0]["Records"][0]["Sns"]["Message"])
    assert message["approval"]["customData"] is None
    assert message["approval"]["externalEntityLink"] is None
    seen: list[tuple[str | None, str | None]] = []

    def decide(request: ApprovalRequest) -> Approve:
        seen.append((request.custom_data, request.external_entity_link))
        return Approve()

    approval_bot(decide)(inbox.events[0], None)
    assert seen == [(None, None)]
    assert approval_runs(world, execution_id) == ["Succeeded"]


def test_no_stage_or_action_name_is_hard_coded(world: World) -> None:
    """Gates of any name, in any stage, are answered from what the notification names."""
    topic = topic_arn(world.aws)
    stages = [
        stage("Source", s3_source()),
        stage("Ship-it", gate("QA_sign-off", topic)),
        stage("Later", gate("Security.review", topic)),
    ]
    pipeline = world.create(PIPELINE, stages)
    world.aws.subscribe(topic, approval_bot(always_approve))
    execution_id = pipeline.start().id
    world.aws.clock.advance(300)
    assert status_of(world, execution_id) == "Succeeded"


def test_a_malformed_event_raises_a_typed_error_and_answers_nothing(world: World) -> None:
    """A record that is not an approval message fails the invocation with MalformedEventError before
    anything is answered, even when an earlier record was fine."""
    inbox = Inbox()
    world.aws.subscribe(topic_arn(world.aws), inbox)
    execution_id = waiting_execution(world)
    event = {"Records": [inbox.events[0]["Records"][0], {"EventSource": "aws:sns", "Sns": {"Message": "{}"}}]}
    with pytest.raises(MalformedEventError, match=r"Records\[1\]"):
        approval_bot(always_approve)(event, None)
    assert approval_runs(world, execution_id) == ["InProgress"]


def test_other_pipelines_are_left_alone(world: World) -> None:
    """A bot configured for other pipelines leaves this one's approval waiting (and says so)."""
    inbox = Inbox()
    world.aws.subscribe(topic_arn(world.aws), inbox)
    execution_id = waiting_execution(world)
    (result,) = approval_bot(always_approve, pipelines=["web"])(inbox.events[0], None)["results"]
    assert result["outcome"] == "ignored"
    assert approval_runs(world, execution_id) == ["InProgress"]


def test_leave_answers_nothing(world: World) -> None:
    """Leave(reason) leaves the approval to a human."""
    inbox = Inbox()
    world.aws.subscribe(topic_arn(world.aws), inbox)
    execution_id = waiting_execution(world)
    (result,) = approval_bot(lambda request: Leave("weekend"))(inbox.events[0], None)["results"]
    assert (result["decision"], result["outcome"], result["text"]) == ("leave", "left", "weekend")
    assert approval_runs(world, execution_id) == ["InProgress"]


def test_nothing_secret_is_logged(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """At DEBUG, a whole run (answer, redelivery, conflict) logs neither the token, the review link nor
    the event."""
    inbox = Inbox()
    world.aws.subscribe(topic_arn(world.aws), inbox)
    waiting_execution(world)
    event = inbox.events[0]
    approval = json.loads(event["Records"][0]["Sns"]["Message"])["approval"]
    caplog.set_level(logging.DEBUG)
    approval_bot(always_approve)(event, None)
    approval_bot(always_approve)(event, None)
    approval_bot(lambda request: Reject("no"))(event, None)
    # botocore's own DEBUG lines show request and response bodies: a user's choice to turn on, not ours.
    ours = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if record.name.startswith("pipepilot")
    )
    assert "approval Gate/Approve" in ours
    assert approval["token"] not in ours
    assert approval["approvalReviewLink"] not in ours
    assert event["Records"][0]["Sns"]["Message"] not in ours


def test_decide_returning_something_else_is_a_type_error(world: World) -> None:
    """A decide that returns True (a common slip) raises ArgumentTypeError; nothing is answered."""
    inbox = Inbox()
    world.aws.subscribe(topic_arn(world.aws), inbox)
    execution_id = waiting_execution(world)
    bot: ApprovalBot = approval_bot(lambda request: True)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="Approve, Reject or Leave"):
        bot(inbox.events[0], None)
    assert approval_runs(world, execution_id) == ["InProgress"]


# ------------------------------------------------------------------------------------------------ faults


def test_under_throttling_and_lost_responses_the_approval_is_recorded_once(world: World) -> None:
    """With reads throttled and the answer's response lost, Lambda's retries (the invocation raised only
    for transient failures) end with the approval recorded exactly once."""
    inbox = Inbox()
    world.aws.subscribe(topic_arn(world.aws), inbox)
    execution_id = waiting_execution(world)
    world.aws.faults.add(service="codepipeline", operation="PutApprovalResult", error="lost-response", nth=1)
    world.aws.faults.add(service="codepipeline", error="ThrottlingException", rate=0.3)
    bot = approval_bot(always_approve)
    outcomes = []
    for _attempt in range(3):  # Lambda's asynchronous invocation: the first try and two retries
        try:
            outcomes.append(bot(inbox.events[0], None)["results"][0]["outcome"])
            break
        except TransientError:
            outcomes.append("raised")
    world.aws.faults.clear()
    assert outcomes[-1] in ("answered", "already-answered")
    assert approval_runs(world, execution_id) == ["Succeeded"]
    puts = [fault for fault in world.aws.faults.log if fault.operation == "PutApprovalResult"]
    assert puts[0].error == "lost-response"


def test_the_request_shows_the_notification_but_not_the_token(world: World) -> None:
    """decide sees where the approval is and what to review, never the token (not as an attribute, not in
    repr); the execution and its revisions are read on demand."""
    inbox = Inbox()
    world.aws.subscribe(topic_arn(world.aws), inbox)
    execution_id = waiting_execution(world)
    token = json.loads(inbox.events[0]["Records"][0]["Sns"]["Message"])["approval"]["token"]
    seen: list[ApprovalRequest] = []

    def decide(request: ApprovalRequest) -> Leave:
        seen.append(request)
        return Leave("look only")

    approval_bot(decide)(inbox.events[0], None)
    (request,) = seen
    assert (request.pipeline, request.stage, request.action) == (PIPELINE, "Gate", "Approve")
    assert request.topic_arn == topic_arn(world.aws)
    assert not hasattr(request, "token")
    assert not hasattr(request, "notification")
    assert token not in repr(request)
    assert request.execution_id == execution_id
    execution = request.execution()
    assert execution is not None
    assert execution.pipeline_execution_id == execution_id
    assert request.revisions == execution.artifact_revisions


class _Context:
    """A Lambda context with this much time left."""

    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def test_the_wait_ends_before_lambdas_timeout(world: World) -> None:
    """With 15 s of the invocation left, a 120 s wait is cut to end 10 s before the timeout: the bot
    raises WaitTimeout (Lambda retries) instead of being killed mid-wait."""
    execution_id = _slow_source(world)
    bot = approval_bot(always_approve, wait=120)
    before = world.aws.clock.now()
    with pytest.raises(WaitTimeout):
        bot(_approval_started_event(world, execution_id), _Context(15_000))
    assert world.aws.clock.now() - before <= 8


def test_no_time_left_to_wait_raises_instead_of_calling_it_expired(world: World) -> None:
    """With no time left to wait, an approval not reached yet raises (Lambda retries): it is not reported
    as expired, and nothing is answered."""
    execution_id = _slow_source(world)
    bot = approval_bot(always_approve, wait=120)
    with pytest.raises(NoApprovalWaitingError):
        bot(_approval_started_event(world, execution_id), _Context(5_000))
    assert approval_runs(world, execution_id) == []
