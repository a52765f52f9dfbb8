"""``examples/lambda/slack_approvals`` runs as deployed: its two functions, imported as Lambda imports them and
configured from the environment its template sets, work offline, and every AWS call each makes is allowed by
that function's policy in ``template.yaml``, which grants nothing the function does not use.

Slack is simulated below slack_sdk's HTTP layer (``WebhookClient._perform_http_request``), so the example's
own transport (the incoming webhook, and ``response_url`` updates) runs as it would in Lambda, with no socket.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest
from slack_sdk.webhook import WebhookClient
from slack_sdk.webhook.webhook_response import WebhookResponse

from pipepilot.awslambda import forget_secrets

from .._slack import APPROVER_ID, TEAM_ID, click_payload, form_body, http_event
from ..library.functional.offline_world import PIPELINE, World, deploy, s3_source, stage
from .policy import EXAMPLES, ApiCall, least_privilege_problems, load_example, policy_grants, recording_calls

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

EXAMPLE = EXAMPLES / "slack_approvals"
SIGNING_SECRET = "0123456789abcdef0123456789abcdef"
WEBHOOK = "https://hooks.slack.com/services/T0TESTTEAM/B0HOOK/webhookSECRETpart"


class FakeSlack:
    """Every post slack_sdk's WebhookClient would send: (url, body)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []

    def messages(self) -> list[dict[str, Any]]:
        return [body for url, body in self.posts if url == WEBHOOK]

    def updates(self) -> list[dict[str, Any]]:
        return [body for url, body in self.posts if url != WEBHOOK]


@pytest.fixture
def fake_slack(monkeypatch: pytest.MonkeyPatch) -> FakeSlack:
    slack = FakeSlack()

    def perform(self: WebhookClient, *, body: dict[str, Any], headers: dict[str, str]) -> WebhookResponse:
        slack.posts.append((self.url, json.loads(json.dumps(body))))
        return WebhookResponse(url=self.url, status_code=200, body="ok", headers={})

    monkeypatch.setattr(WebhookClient, "_perform_http_request", perform)
    return slack


@pytest.fixture
def app(world: World, monkeypatch: pytest.MonkeyPatch, fake_slack: FakeSlack) -> Iterator[ModuleType]:
    """The example's module, imported as at a cold start, with its secret in Secrets Manager."""
    secret = json.dumps({"signing_secret": SIGNING_SECRET, "webhook_url": WEBHOOK})
    arn = world.aws.client("secretsmanager").create_secret(Name="slack-approvals", SecretString=secret)["ARN"]
    monkeypatch.setenv("SLACK_SECRET_ARN", arn)
    monkeypatch.setenv("SLACK_TEAM_ID", TEAM_ID)
    monkeypatch.setenv("SLACK_APPROVERS", json.dumps({APPROVER_ID: f"{PIPELINE}/Gate"}))
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # Lambda sets it; the functions' clients use it
    forget_secrets()
    yield load_example(EXAMPLE)
    forget_secrets()


def _parameters(world: World) -> dict[str, str]:
    return {
        "PipelineName": PIPELINE,
        "ApprovalTopicArn": _topic(world),
        "SlackSecretArn": _secret_arn(world),
        "SlackTeamId": TEAM_ID,
        "SlackApprovers": "{}",
    }


def _topic(world: World) -> str:
    return str(world.aws.client("sns").create_topic(Name="approvals")["TopicArn"])


def _secret_arn(world: World) -> str:
    return str(world.aws.client("secretsmanager").describe_secret(SecretId="slack-approvals")["ARN"])


def _stages(topic: str) -> list[dict[str, Any]]:
    gate = {
        "name": "Approve",
        "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
        "runOrder": 1,
        "configuration": {"NotificationArn": topic, "CustomData": "Check staging"},
    }
    return [
        stage("Source", s3_source()),
        stage("Gate", gate),
        stage("Prod", {**deploy("Deploy"), "inputArtifacts": [{"name": "SourceOutput"}]}),
    ]


def _click(app: ModuleType, message: dict[str, Any], button: str = "pipepilot_approve") -> dict[str, Any]:
    value = next(
        element["value"]
        for block in message["blocks"]
        if block.get("type") == "actions"
        for element in block["elements"]
        if element["action_id"] == button
    )
    payload = click_payload(value, action_id=button, blocks=message["blocks"])
    event = http_event(form_body(payload), timestamp=int(time.time()), secret=SIGNING_SECRET)
    response: dict[str, Any] = app.interact(event, None)
    return response


def test_slack_example_works_offline_within_its_least_privilege_policies(
    world: World, app: ModuleType, fake_slack: FakeSlack
) -> None:
    """Notify, approve, click twice, a late notification for a stopped execution and its stale click: every
    call each function makes is allowed by its own policy, and each policy grants only what was used."""
    delivered: list[dict[str, Any]] = []
    world.aws.subscribe(_topic(world), lambda event, context: delivered.append(event))
    world.aws.script_action(PIPELINE, "Prod", "Deploy", duration=60)
    pipeline = world.create(PIPELINE, _stages(_topic(world)))
    notifier_calls: list[ApiCall] = []
    interaction_calls: list[ApiCall] = []

    def notify(event: dict[str, Any]) -> None:
        with recording_calls() as calls:
            app.notify(event, None)
        notifier_calls.extend(calls)

    def interact(message: dict[str, Any], button: str = "pipepilot_approve") -> dict[str, Any]:
        with recording_calls() as calls:
            response = _click(app, message, button)
        interaction_calls.extend(calls)
        return response

    first = pipeline.start()
    approval = pipeline.wait_for_approval("Gate", "Approve", execution=first)
    world.aws.clock.advance(1)
    notify(delivered[0])
    message = fake_slack.messages()[0]
    assert approval.token is not None
    assert approval.token not in json.dumps(fake_slack.posts)
    response = interact(message)
    assert response["statusCode"] == 200, response["body"]
    assert "Approved by <@U0APPROVER>" in fake_slack.updates()[-1]["text"]
    assert interact(message)["statusCode"] == 200  # a double click
    assert "Already decided" in fake_slack.updates()[-1]["text"]

    # A second execution is stopped after its message was posted; its button is clicked afterwards.
    second = pipeline.start()
    pipeline.wait_for_approval("Gate", "Approve", execution=second)
    world.aws.clock.advance(1)
    notify(delivered[-1])
    stale = fake_slack.messages()[-1]
    pipeline.execution(second.id).stop(abandon=True)
    world.aws.clock.advance(5)
    assert interact(stale, "pipepilot_reject")["statusCode"] == 200
    assert "no longer waiting" in fake_slack.updates()[-1]["text"]

    # Its notification delivered again, late (another MessageId): nothing waits, so no buttons.
    late = json.loads(json.dumps(delivered[-1]))
    late["Records"][0]["Sns"]["MessageId"] = "redelivered-late"
    notify(late)
    assert all(block.get("type") != "actions" for block in fake_slack.messages()[-1]["blocks"])

    parameters = _parameters(world)
    notifier_grants = policy_grants(EXAMPLE, parameters=parameters, function="NotifierFunction")
    interaction_grants = policy_grants(EXAMPLE, parameters=parameters, function="InteractionFunction")
    assert least_privilege_problems(notifier_calls, notifier_grants) == []
    assert least_privilege_problems(interaction_calls, interaction_grants) == []


def test_slack_example_template_passes_cfn_lint() -> None:
    """The template is valid CloudFormation/SAM as cfn-lint sees it."""
    from cfnlint.api import lint  # type: ignore[import-untyped]

    template = (EXAMPLE / "template.yaml").read_text(encoding="utf-8")
    assert [f"{match.rule.id} {match.message}" for match in lint(template)] == []
