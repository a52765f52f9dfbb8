"""Slack approvals end to end on the offline engine: SNS delivers to the notifier, which posts Block Kit to a
captured Slack; signed clicks reach the interaction handler as Lambda function URL / API Gateway events; the
outcome goes back through a captured ``response_url``. No socket is opened."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from pipepilot.awslambda import read_notifications
from pipepilot.awslambda._slack_blocks import decode_button
from pipepilot.awslambda.slack import Approvers, SlackInteractions, SlackNotifier
from pipepilot.errors import MalformedEventError

from ..._slack import (
    APPROVER_ID,
    OTHER_TEAM_ID,
    RESPONSE_URL,
    SIGNING_SECRET,
    STRANGER_ID,
    TEAM_ID,
    ResponseUrl,
    click_payload,
    form_body,
    http_event,
)
from .offline_world import PIPELINE, World, deploy, s3_source, stage

if TYPE_CHECKING:
    from pipepilot.approvals import Approval
    from pipepilot.executions import Execution
    from pipepilot.local import OfflineAWS

TOPIC = "approvals"


def _topic(aws: OfflineAWS) -> str:
    return str(aws.client("sns").create_topic(Name=TOPIC)["TopicArn"])


def _gated_stages(topic: str, *, timeout_minutes: int | None = None) -> list[dict[str, Any]]:
    """Source -> Gate/Approve (notifies ``topic``) -> Prod."""
    gate: dict[str, Any] = {
        "name": "Approve",
        "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
        "runOrder": 1,
        "configuration": {
            "NotificationArn": topic,
            "CustomData": "Release notes: <!channel> check staging",
            "ExternalEntityLink": "https://ci.example.com/builds/42",
        },
    }
    if timeout_minutes is not None:
        gate["timeoutInMinutes"] = timeout_minutes
    return [
        stage("Source", s3_source()),
        stage("Gate", gate),
        stage("Prod", {**deploy("Deploy"), "inputArtifacts": [{"name": "SourceOutput"}]}),
    ]


class Slack:
    """The Slack side of a test: the channel the notifier posts to, the response URL the handler updates."""

    def __init__(self, world: World, *, approvers: Approvers | None = None) -> None:
        self.world = world
        self.channel: list[dict[str, Any]] = []
        self.responses = ResponseUrl()
        # Both make their own CodePipeline facade, as in a Lambda function (the handler's is the quick one).
        self.notifier = SlackNotifier(post=lambda message: self.channel.append(dict(message)))
        self.handler = SlackInteractions(
            signing_secret=SIGNING_SECRET,
            team_id=TEAM_ID,
            approvers=approvers or Approvers({APPROVER_ID: [f"{PIPELINE}/Gate"]}),
            respond=self.responses,
            clock=world.aws.clock.now,
        )

    def now(self) -> int:
        return int(self.world.aws.clock.now())

    def buttons(self, index: int = -1) -> dict[str, str]:
        """The button values of the ``index``-th posted message, by action id."""
        message = self.channel[index]
        for block in message["blocks"]:
            if block.get("type") == "actions":
                return {element["action_id"]: element["value"] for element in block["elements"]}
        raise AssertionError("the message has no buttons")

    def click(
        self,
        button: str = "pipepilot_approve",
        *,
        message: int = -1,
        reason: str | None = None,
        user_id: str = APPROVER_ID,
        team_id: str = TEAM_ID,
        version: str = "2.0",
        at: int | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Click ``button`` of a posted message as Slack would: returns (the Lambda event, the response)."""
        payload = click_payload(
            self.buttons(message)[button],
            action_id=button,
            user_id=user_id,
            team_id=team_id,
            reason=reason,
            blocks=self.channel[message]["blocks"],
        )
        event = http_event(form_body(payload), timestamp=self.now() if at is None else at, version=version)
        return event, self.handler(event, None)


@pytest.fixture
def slack(world: World) -> Slack:
    simulated = Slack(world)
    world.aws.subscribe(_topic(world.aws), simulated.notifier)
    return simulated


def _waiting(world: World, **gate_options: Any) -> tuple[Execution, Approval]:
    """Start the gated pipeline (created on first use) and wait until its approval waits and is posted."""
    world.aws.script_action(PIPELINE, "Prod", "Deploy", duration=60)
    try:
        pipeline = world.cp.pipeline(PIPELINE)
        pipeline.declaration()
    except Exception:
        pipeline = world.create(PIPELINE, _gated_stages(_topic(world.aws), **gate_options))
    execution = pipeline.start()
    found = pipeline.wait_for_approval("Gate", "Approve", execution=execution)
    world.aws.clock.advance(1)  # SNS delivers to the notifier when the clock moves
    return execution, found


def _status(world: World, execution: Execution) -> str:
    return str(world.cp.pipeline(PIPELINE).execution(execution.id).get().status)


def _gate_runs(world: World, execution: Execution) -> list[Any]:
    return list(
        world.cp.pipeline(PIPELINE).stage("Gate").action("Approve").executions(execution=execution.id)
    )


def _still_waiting(world: World, execution: Execution) -> bool:
    return any(a.execution_id == execution.id for a in world.cp.pipeline(PIPELINE).approvals())


# ------------------------------------------------------------------------------------------------- notifier


def test_notification_posts_a_message_whose_buttons_name_the_execution_and_never_the_token(
    world: World, slack: Slack
) -> None:
    """SNS delivers the approval to the notifier; Slack gets pipeline, stage, action, notes, link, expiry and
    buttons naming the execution and run. The token appears nowhere in what Slack receives, not even
    inside the notification's review link."""
    execution, approval = _waiting(world)
    assert len(slack.channel) == 1
    posted = json.dumps(slack.channel[0])
    assert approval.token is not None
    assert approval.token not in posted
    assert "/approve/" not in posted  # the review link (which embeds the token) is not sent
    assert "Approval needed: release / Gate / Approve" in posted
    assert "&lt;!channel&gt;" in posted
    assert "https://ci.example.com/builds/42" in posted
    assert "<!date^" in posted
    for value in slack.buttons().values():
        target = decode_button(value)
        assert target is not None
        assert (target.pipeline, target.stage, target.action) == (PIPELINE, "Gate", "Approve")
        assert target.execution_id == execution.id
        assert target.run_id == approval.action_execution_id


def test_a_redelivered_notification_is_posted_once(world: World, slack: Slack) -> None:
    """SNS delivers at least once: the same message (same MessageId) handled again posts nothing more."""
    delivered: list[dict[str, Any]] = []
    world.aws.subscribe(_topic(world.aws), lambda event, context: delivered.append(event))
    _waiting(world)
    assert len(slack.channel) == 1
    assert slack.notifier(delivered[0], None) == {"posted": 0, "duplicates": 1}
    assert len(slack.channel) == 1


@pytest.mark.parametrize(
    "event",
    [
        {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "not json"}}]},
        {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": '{"approval": {"pipelineName": null}}'}}]},
        {"hello": "world"},
    ],
)
def test_a_malformed_notification_posts_nothing(world: World, slack: Slack, event: dict[str, Any]) -> None:
    """A malformed event is a MalformedEventError, and nothing is posted to Slack."""
    with pytest.raises(MalformedEventError):
        slack.notifier(event, None)
    assert slack.channel == []


def test_parallel_executions_each_get_buttons_for_their_own_execution(world: World, slack: Slack) -> None:
    """In PARALLEL mode (no token in the pipeline state) each message is tied to its execution through its
    run's externalExecutionId, and a click answers that execution only."""
    world.aws.script_action(PIPELINE, "Prod", "Deploy", duration=60)
    pipeline = world.create(PIPELINE, _gated_stages(_topic(world.aws)), execution_mode="PARALLEL")
    first, second = pipeline.start(), pipeline.start()
    pipeline.wait_for_approval("Gate", "Approve", execution=first)
    pipeline.wait_for_approval("Gate", "Approve", execution=second)
    world.aws.clock.advance(1)
    targets = [decode_button(slack.buttons(index)["pipepilot_approve"]) for index in range(2)]
    assert {target.execution_id for target in targets if target} == {first.id, second.id}
    index = next(i for i, target in enumerate(targets) if target and target.execution_id == first.id)
    _, response = slack.click(message=index)
    assert response["statusCode"] == 200
    assert not _still_waiting(world, first)
    assert _still_waiting(world, second)


# ------------------------------------------------------------------------------------ interaction handler


def test_approve_click_approves_that_execution_and_records_who(world: World, slack: Slack) -> None:
    """An allowed user's Approve click answers the approval (200), the summary names them, and the message's
    buttons are replaced with "Approved by"."""
    execution, _ = _waiting(world)
    _, response = slack.click()
    assert response["statusCode"] == 200
    runs = _gate_runs(world, execution)
    assert str(runs[0].status) == "Succeeded"
    assert (
        runs[0].output.execution_result.external_execution_summary == "Approved in Slack by ada (U0APPROVER)"
    )
    url, body = slack.responses.posts[-1]
    assert url == RESPONSE_URL
    assert body["replace_original"] is True
    assert "Approved by <@U0APPROVER>" in body["text"]
    assert all(block["type"] not in ("actions", "input") for block in body["blocks"])


def test_reject_click_rejects_with_the_reason(world: World, slack: Slack) -> None:
    """Reject truly rejects: the execution fails, and the reason typed in the message is in the summary."""
    execution, _ = _waiting(world)
    _, response = slack.click("pipepilot_reject", reason="Staging shows 500s")
    assert response["statusCode"] == 200
    assert _status(world, execution) == "Failed"
    summary = _gate_runs(world, execution)[0].output.execution_result.external_execution_summary
    assert summary == "Rejected in Slack by ada (U0APPROVER): Staging shows 500s"
    assert "Rejected by <@U0APPROVER>: Staging shows 500s" in slack.responses.last["text"]


def test_rest_api_payload_format_works_the_same(world: World, slack: Slack) -> None:
    """A click through API Gateway's REST API (payload 1.0, headers in their own case) approves the same way."""
    execution, _ = _waiting(world)
    _, response = slack.click(version="1.0")
    assert response["statusCode"] == 200
    assert not _still_waiting(world, execution)


def test_a_double_click_is_already_decided_not_an_error(world: World, slack: Slack) -> None:
    """Clicking Approve twice (two signed requests) answers once; the second says "already decided" (200)."""
    execution, _ = _waiting(world)
    slack.click()
    world.aws.clock.advance(2)
    _, response = slack.click()
    assert response["statusCode"] == 200
    assert len(_gate_runs(world, execution)) == 1
    assert "Already decided" in slack.responses.last["text"]


def test_slack_retry_of_a_handled_request_is_acknowledged(world: World, slack: Slack) -> None:
    """Slack retrying a request (X-Slack-Retry-Num, same signature) gets 200 and is not acted on twice; a
    freshly signed retry finds the approval already decided."""
    _waiting(world)
    event, _ = slack.click()
    posts = len(slack.responses.posts)
    event["headers"]["x-slack-retry-num"] = "1"
    assert slack.handler(event, None)["statusCode"] == 200
    assert len(slack.responses.posts) == posts
    payload = click_payload(slack.buttons()["pipepilot_approve"])
    retry = http_event(form_body(payload), timestamp=slack.now() + 1, retry_num=2)
    assert slack.handler(retry, None)["statusCode"] == 200
    assert "Already decided" in slack.responses.last["text"]


def test_a_replayed_request_is_refused_and_approves_nothing(world: World, slack: Slack) -> None:
    """The exact signed request sent again (without Slack's retry header) is a replay: 401. Replayed against a
    new execution waiting at the same gate, it approves nothing."""
    first, _ = _waiting(world)
    event, _ = slack.click("pipepilot_reject")
    assert _status(world, first) == "Failed"
    second, _ = _waiting(world)
    assert slack.handler(event, None)["statusCode"] == 401
    assert _still_waiting(world, second)


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda e, now: e["headers"].update({"x-slack-request-timestamp": "978307200"}), id="2001"
        ),
        pytest.param(lambda e, now: e["headers"].pop("x-slack-signature"), id="no-signature"),
        pytest.param(
            lambda e, now: [
                e["headers"].pop("x-slack-signature"),
                e["headers"].pop("x-slack-request-timestamp"),
            ],
            id="legacy-token-only",
        ),
        pytest.param(
            lambda e, now: e["headers"].update({"x-slack-signature": "v0=" + "0" * 64}), id="forged"
        ),
    ],
)
def test_unsigned_forged_or_stale_requests_get_401_and_approve_nothing(
    world: World, slack: Slack, forge: Any
) -> None:
    """A request without a valid, fresh signature (one stamped 2001, one with only the legacy verification
    token in its payload, a forged one) gets 401; the approval still waits and Slack gets no update."""
    execution, _ = _waiting(world)
    payload = click_payload(slack.buttons()["pipepilot_approve"])
    event = http_event(form_body(payload), timestamp=slack.now())
    forge(event, slack.now())
    assert slack.handler(event, None)["statusCode"] == 401
    assert _still_waiting(world, execution)
    assert slack.responses.posts == []


def test_a_request_signed_in_2001_is_refused_even_with_a_valid_signature(world: World, slack: Slack) -> None:
    """A request correctly signed, but stamped in 2001, is outside the window: 401, nothing approved."""
    execution, _ = _waiting(world)
    _, response = slack.click(at=978_307_200)
    assert response["statusCode"] == 401
    assert _still_waiting(world, execution)


def test_someone_not_on_the_allow_list_is_told_and_nothing_is_approved(world: World, slack: Slack) -> None:
    """Anyone in the channel can press the button; only the allow-list may answer. Others get a reply only
    they see, and the approval keeps waiting."""
    execution, _ = _waiting(world)
    _, response = slack.click(user_id=STRANGER_ID)
    assert response["statusCode"] == 200
    assert _still_waiting(world, execution)
    assert slack.responses.last["response_type"] == "ephemeral"
    assert "not allowed" in slack.responses.last["text"]


def test_an_allowed_user_cannot_answer_other_stages(world: World) -> None:
    """An approver for another pipeline's stage is refused here."""
    slack = Slack(world, approvers=Approvers({APPROVER_ID: "other-pipeline/Gate"}))
    world.aws.subscribe(_topic(world.aws), slack.notifier)
    execution, _ = _waiting(world)
    slack.click()
    assert _still_waiting(world, execution)


def test_user_groups_grant_through_the_lookup(world: World) -> None:
    """A member of an allowed user group (looked up through the injected lookup) may approve."""
    approvers = Approvers({"S0RELEASERS": f"{PIPELINE}/*"}, group_members=lambda group: [APPROVER_ID])
    slack = Slack(world, approvers=approvers)
    world.aws.subscribe(_topic(world.aws), slack.notifier)
    execution, _ = _waiting(world)
    slack.click()
    assert not _still_waiting(world, execution)


def test_a_click_from_another_workspace_is_refused(world: World, slack: Slack) -> None:
    """A signed click whose payload names another Slack team gets 403; nothing is approved."""
    execution, _ = _waiting(world)
    _, response = slack.click(team_id=OTHER_TEAM_ID)
    assert response["statusCode"] == 403
    assert _still_waiting(world, execution)


@pytest.mark.parametrize("button", ["pipepilot_approve", "pipepilot_reject"])
def test_a_stale_click_for_a_stopped_execution_never_answers_the_newer_one(
    world: World, slack: Slack, button: str
) -> None:
    """The old message of a stopped execution, clicked (either button) while a newer execution waits at the
    same gate, says "no longer waiting ... stopped" (200, not 500, and not "already rejected"), and the
    newer execution's approval keeps waiting."""
    first, _ = _waiting(world)
    world.cp.pipeline(PIPELINE).execution(first.id).stop(abandon=True)
    world.aws.clock.advance(5)
    second, _ = _waiting(world)
    _, response = slack.click(button, message=0)
    assert response["statusCode"] == 200
    assert _still_waiting(world, second)
    text = slack.responses.last["text"]
    assert "no longer waiting" in text
    assert "stopped" in text


def test_a_click_on_an_approval_that_ran_again_does_not_answer_the_new_run(
    world: World, slack: Slack
) -> None:
    """A rejected stage retried in the same execution runs the approval again; the old message's Approve
    button (same execution, older run) answers nothing, and the new run keeps waiting."""
    execution, _ = _waiting(world)
    slack.click("pipepilot_reject")
    world.cp.pipeline(PIPELINE).stage("Gate").retry(execution=execution.id)
    world.cp.pipeline(PIPELINE).wait_for_approval("Gate", "Approve", execution=execution)
    world.aws.clock.advance(2)
    _, response = slack.click(message=0)
    assert response["statusCode"] == 200
    assert _still_waiting(world, execution)
    assert "run again" in slack.responses.last["text"]


def test_an_approval_decided_the_other_way_is_a_conflict_message(world: World, slack: Slack) -> None:
    """Approved in the console, then rejected from Slack: the message says it was decided the other way."""
    execution, approval = _waiting(world)
    approval.approve("from the console")
    _, response = slack.click("pipepilot_reject")
    assert response["statusCode"] == 200
    assert "Already decided the other way" in slack.responses.last["text"]
    assert str(_gate_runs(world, execution)[0].status) == "Succeeded"


def test_an_expired_approval_says_so(world: World, slack: Slack) -> None:
    """A click after the approval timed out says it is no longer waiting (200), and answers nothing."""
    execution, _ = _waiting(world, timeout_minutes=5)
    world.aws.clock.advance(6 * 60)
    _, response = slack.click()
    assert response["statusCode"] == 200
    assert "no longer waiting" in slack.responses.last["text"]
    assert _status(world, execution) == "Failed"


def test_throttling_beyond_the_budget_asks_to_press_again(world: World, slack: Slack) -> None:
    """When AWS keeps throttling the answer, the handler gives up within Slack's 3 seconds and asks the user
    to press again (200, never 500); pressing again then approves exactly once."""
    execution, _ = _waiting(world)
    world.aws.faults.add(service="codepipeline", operation="PutApprovalResult", error="ThrottlingException")
    started = world.aws.clock.now()
    _, response = slack.click()
    assert world.aws.clock.now() - started < 3.0
    assert response["statusCode"] == 200
    assert "Press the button again" in slack.responses.last["text"]
    assert slack.responses.last["response_type"] == "ephemeral"
    assert _still_waiting(world, execution)
    world.aws.faults.clear()
    world.aws.clock.advance(2)
    slack.click()
    assert not _still_waiting(world, execution)
    assert len(_gate_runs(world, execution)) == 1


@pytest.mark.parametrize(
    ("event", "status"),
    [
        pytest.param({"not": "http"}, 400, id="not-http"),
        pytest.param("payload=...", 400, id="not-a-dict"),
        pytest.param(
            http_event(b'{"payload": 1}', timestamp=1_767_225_600, content_type="application/json"),
            400,
            id="json",
        ),
        pytest.param(http_event(b"payload=%7B%7D", timestamp=1_767_225_600, method="GET"), 405, id="get"),
        pytest.param(http_event(b"payload=%7B%7D", timestamp=None), 401, id="missing-headers"),
        pytest.param(
            http_event(b"payload=%7B%22type%22%3A1%7D", timestamp=1_767_225_600), 400, id="not-a-click"
        ),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_leak_nothing(
    world: World, slack: Slack, caplog: pytest.LogCaptureFixture, event: Any, status: int
) -> None:
    """Malformed events, non-form bodies, missing headers, payloads that are not clicks: a 4xx whose body says
    why, nothing approved, and no secret in the response or the logs."""
    caplog.set_level(logging.DEBUG, logger="pipepilot")
    execution, approval = _waiting(world)
    response = slack.handler(event, None)
    assert response["statusCode"] == status
    assert json.loads(response["body"])["error"]
    assert _still_waiting(world, execution)
    assert approval.token is not None
    for secret in (approval.token, SIGNING_SECRET):
        assert secret not in response["body"]
        assert secret not in caplog.text


def test_no_secret_reaches_a_log_or_slack_on_the_whole_path(
    world: World, slack: Slack, caplog: pytest.LogCaptureFixture
) -> None:
    """From notification to decision (and a refused request), neither the approval token, the signing secret
    nor the response URL is logged, and the token is in nothing Slack receives."""
    caplog.set_level(logging.DEBUG, logger="pipepilot")
    _, approval = _waiting(world)
    slack.click(user_id=STRANGER_ID)
    slack.click("pipepilot_reject", reason="no")
    payload = click_payload(slack.buttons()["pipepilot_approve"])
    slack.handler(http_event(form_body(payload), timestamp=slack.now(), secret="forged"), None)
    assert approval.token is not None
    everything_sent = json.dumps(slack.channel) + json.dumps(slack.responses.posts)
    assert approval.token not in everything_sent
    for secret in (approval.token, SIGNING_SECRET, RESPONSE_URL):
        assert secret not in caplog.text
    assert "refused a Slack request (401)" in caplog.text


def test_events_from_eventbridge_are_posted_with_their_execution(world: World) -> None:
    """The notifier also reads an EventBridge approval event (execution id, no token) and ties the message to
    that execution."""
    slack = Slack(world)
    execution, _ = _waiting(world)
    event = {
        "version": "0",
        "id": "e-1",
        "detail-type": "CodePipeline Action Execution State Change",
        "source": "aws.codepipeline",
        "account": "123456789012",
        "region": "us-east-1",
        "detail": {
            "pipeline": PIPELINE,
            "execution-id": execution.id,
            "stage": "Gate",
            "action": "Approve",
            "state": "STARTED",
            "type": {"owner": "AWS", "provider": "Manual", "category": "Approval", "version": "1"},
        },
    }
    assert read_notifications(event)
    assert slack.notifier(event, None) == {"posted": 1, "duplicates": 0}
    target = decode_button(slack.buttons()["pipepilot_approve"])
    assert target is not None
    assert target.execution_id == execution.id
