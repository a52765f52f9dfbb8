"""How the Slack handlers reach Slack: slack_sdk's webhook and Web API clients (stubbed below their HTTP layer),
errors that name no secret, the options they refuse, and the clear error without the ``slack`` extra."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookClient
from slack_sdk.webhook.webhook_response import WebhookResponse

from pipepilot.awslambda import ApprovalNotification
from pipepilot.awslambda.slack import (
    Approvers,
    SlackInteractions,
    SlackNotifier,
    SlackPostError,
    slack_group_members,
)
from pipepilot.errors import ArgumentTypeError, InvalidArgumentError

WEBHOOK = "https://hooks.slack.com/services/T0/B0/webhookSECRET"
TOKEN = "xoxb-1234-SECRET"
EXECUTION = "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
_SRC = str(Path(importlib.import_module("pipepilot").__file__ or "").resolve().parents[1])


def _notification() -> ApprovalNotification:
    # An EventBridge-style notification names its execution: the notifier needs no AWS call for it.
    return ApprovalNotification(
        pipeline="web",
        stage="Prod",
        action="Approve",
        execution_id=EXECUTION,
        region="eu-west-1",
        expires=datetime(2026, 1, 8, tzinfo=timezone.utc),
    )


def _webhook_answers(monkeypatch: pytest.MonkeyPatch, status: int, body: str) -> list[tuple[str, Any]]:
    sent: list[tuple[str, Any]] = []

    def perform(self: WebhookClient, *, body: Any, headers: Any) -> WebhookResponse:
        sent.append((self.url, body))
        return WebhookResponse(url=self.url, status_code=status, body=reply, headers={})

    reply = body
    monkeypatch.setattr(WebhookClient, "_perform_http_request", perform)
    return sent


def test_the_webhook_gets_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``webhook_url`` the message goes through slack_sdk's WebhookClient to that URL."""
    sent = _webhook_answers(monkeypatch, 200, "ok")
    message = SlackNotifier(webhook_url=WEBHOOK).notify(_notification())
    assert sent == [(WEBHOOK, message)]


def test_a_refused_webhook_post_raises_without_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slack refusing the post is a SlackPostError with the status and Slack's error, never the URL."""
    _webhook_answers(monkeypatch, 404, "no_service")
    with pytest.raises(SlackPostError) as caught:
        SlackNotifier(webhook_url=WEBHOOK).notify(_notification())
    assert (caught.value.status, caught.value.slack_error) == (404, "no_service")
    assert "SECRET" not in str(caught.value)


def test_chat_post_message_gets_channel_text_and_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``bot_token`` and ``channel`` the message goes through WebClient.chat_postMessage."""
    calls: list[dict[str, Any]] = []

    def post(self: WebClient, **kwargs: Any) -> None:
        assert self.token == TOKEN
        calls.append(kwargs)

    monkeypatch.setattr(WebClient, "chat_postMessage", post)
    message = SlackNotifier(bot_token=TOKEN, channel="C0RELEASES").notify(_notification())
    assert calls == [{"channel": "C0RELEASES", "text": message["text"], "blocks": message["blocks"]}]


def test_a_refused_chat_post_message_raises_without_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Web API error is a SlackPostError naming Slack's error code; the token is not in it or chained."""

    def post(self: WebClient, **kwargs: Any) -> None:
        response = SlackResponse(
            client=self,
            http_verb="POST",
            api_url="https://slack.com/api/chat.postMessage",
            req_args={"headers": {"Authorization": f"Bearer {TOKEN}"}},
            data={"ok": False, "error": "channel_not_found"},
            headers={},
            status_code=200,
        )
        raise SlackApiError("The request to the Slack API failed.", response)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(WebClient, "chat_postMessage", post)
    with pytest.raises(SlackPostError) as caught:
        SlackNotifier(bot_token=TOKEN, channel="C0RELEASES").notify(_notification())
    assert caught.value.slack_error == "channel_not_found"
    assert TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_an_unreachable_webhook_raises_without_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """No answer from Slack (a timeout, no route) is a SlackPostError naming neither the URL nor its cause's
    text, and chaining nothing that does."""

    def perform(self: WebhookClient, *, body: Any, headers: Any) -> WebhookResponse:
        raise TimeoutError(f"timed out posting to {self.url}")

    monkeypatch.setattr(WebhookClient, "_perform_http_request", perform)
    with pytest.raises(SlackPostError, match="TimeoutError") as caught:
        SlackNotifier(webhook_url=WEBHOOK).notify(_notification())
    assert "SECRET" not in str(caught.value)
    assert caught.value.__context__ is None


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"webhook_url": WEBHOOK, "bot_token": TOKEN, "channel": "C0"},
        {"bot_token": TOKEN},
        {"post": "not callable"},
    ],
)
def test_the_notifier_needs_exactly_one_way_to_post(options: dict[str, Any]) -> None:
    """No way to post, two ways, a bot token without a channel, or a post that is not callable: refused."""
    with pytest.raises((InvalidArgumentError, ArgumentTypeError)):
        SlackNotifier(**options)


@pytest.mark.parametrize(
    "options",
    [
        {"team_id": ""},
        {"team_id": []},
        {"approvers": {"U0ADA": "*"}},
        {"signing_secret": 42},
    ],
)
def test_the_interaction_handler_refuses_incomplete_settings(options: dict[str, Any]) -> None:
    """No team, an allow-list that is not an Approvers, or a signing secret of the wrong type: refused."""
    settings: dict[str, Any] = {"signing_secret": "s", "team_id": "T0", "approvers": Approvers({})}
    settings.update(options)
    with pytest.raises((InvalidArgumentError, ArgumentTypeError)):
        SlackInteractions(**settings)


def test_reprs_show_no_secret() -> None:
    """The handlers' reprs say how they post and whom they allow, never a secret."""
    assert "SECRET" not in repr(SlackNotifier(webhook_url=WEBHOOK))
    handler = SlackInteractions(
        signing_secret="SECRETsigning", team_id="T0", approvers=Approvers({"U0ADA": "*"})
    )
    assert "SECRET" not in repr(handler)


def test_without_slack_sdk_the_import_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing pipepilot.awslambda.slack without the slack extra fails with one line saying what to install."""
    monkeypatch.setitem(sys.modules, "slack_sdk", None)  # what Python does for a package that is missing
    monkeypatch.delitem(sys.modules, "pipepilot.awslambda.slack")
    with pytest.raises(ImportError, match=r"pip install 'pipepilot\[slack\]'") as caught:
        importlib.import_module("pipepilot.awslambda.slack")
    assert "\n" not in str(caught.value)
    assert caught.value.__cause__ is None


def test_importing_pipepilot_awslambda_does_not_load_slack_sdk() -> None:
    """The Slack handlers are imported on purpose: ``import pipepilot.awslambda`` (an approval bot's cold
    start) loads neither slack_sdk nor pipepilot's Slack modules."""
    code = (
        "import sys, pipepilot.awslambda\n"
        "loaded = [m for m in sys.modules if m.startswith(('slack_sdk', 'pipepilot.awslambda._slack'))]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": _SRC})


def test_group_lookup_asks_slack_with_a_token_read_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """``slack_group_members(token)`` makes its WebClient on the first lookup and returns the group's users."""
    asked: list[tuple[str | None, str]] = []

    def users_list(self: WebClient, *, usergroup: str) -> dict[str, Any]:
        asked.append((self.token, usergroup))
        return {"ok": True, "users": ["U0ADA", "U0GRACE"]}

    monkeypatch.setattr(WebClient, "usergroups_users_list", users_list)
    lookup = slack_group_members(TOKEN)
    assert asked == []
    approvers = Approvers({"S0RELEASE": "web/Prod"}, group_members=lookup)
    assert approvers.allows("U0GRACE", "web", "Prod")
    assert not approvers.allows("U0BOB", "web", "Prod")
    assert asked == [(TOKEN, "S0RELEASE")]
