"""Slack, simulated: signed interactivity requests as Lambda receives them, and a capturing response_url.

Requests are signed with :data:`SIGNING_SECRET` exactly as Slack signs them (``v0:<timestamp>:<raw body>``,
HMAC-SHA256), so the handler under test checks them with the real verifier. Nothing here opens a socket.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from typing import Any
from urllib.parse import urlencode

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # Slack's documentation sample, not a real secret
TEAM_ID = "T0TESTTEAM"
OTHER_TEAM_ID = "T0OTHERTEAM"
APPROVER_ID = "U0APPROVER"
APPROVER_NAME = "ada"
STRANGER_ID = "U0STRANGER"
RESPONSE_URL = "https://hooks.slack.com/actions/T0TESTTEAM/1234/abcdefSECRETRESPONSE"

# Every click Slack sends is a new request (its own trigger id and action time), even a double click.
_clicks = itertools.count(1)


def sign(body: bytes, timestamp: int, *, secret: str = SIGNING_SECRET) -> str:
    """Slack's ``X-Slack-Signature`` of ``body`` sent at ``timestamp``."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def click_payload(
    value: str,
    *,
    action_id: str = "pipepilot_approve",
    user_id: str = APPROVER_ID,
    user_name: str = APPROVER_NAME,
    team_id: str = TEAM_ID,
    reason: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload as Slack sends it when a button is clicked (each one unique)."""
    click = next(_clicks)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "example"},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": "A0APP",
        "trigger_id": f"{click}.1767225600.abcdef",
        "token": "legacyverificationtoken",  # Slack still sends the deprecated token; it proves nothing
        "container": {"type": "message", "message_ts": "1767225600.000100", "channel_id": "C0CHANNEL"},
        "channel": {"id": "C0CHANNEL", "name": "releases"},
        "message": {"type": "message", "text": "Approval needed", "blocks": blocks or []},
        "response_url": RESPONSE_URL,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "pipepilot_actions",
                "type": "button",
                "value": value,
                "action_ts": f"1767225601.{click:06d}",
            }
        ],
    }
    if reason is not None:
        payload["state"] = {
            "values": {
                "pipepilot_reason": {"pipepilot_reason_text": {"type": "plain_text_input", "value": reason}}
            }
        }
    return payload


def form_body(payload: dict[str, Any]) -> bytes:
    """The form-encoded body Slack posts: ``payload=<JSON>``."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def http_event(
    body: bytes,
    *,
    timestamp: int | None,
    signature: str | None = None,
    secret: str = SIGNING_SECRET,
    version: str = "2.0",
    base64_body: bool = True,
    content_type: str = "application/x-www-form-urlencoded",
    retry_num: int | None = None,
    method: str = "POST",
) -> dict[str, Any]:
    """A Lambda function URL / HTTP API (``version="2.0"``) or REST API (``"1.0"``) event carrying ``body``.

    The signature is computed with ``secret`` unless ``signature`` is given; ``timestamp=None`` leaves both
    Slack headers out. REST API events keep the headers' case, as API Gateway does.
    """
    headers: dict[str, str] = {"content-type": content_type, "user-agent": "Slackbot 1.0"}
    if timestamp is not None:
        headers["x-slack-request-timestamp"] = str(timestamp)
        headers["x-slack-signature"] = (
            signature if signature is not None else sign(body, timestamp, secret=secret)
        )
    if retry_num is not None:
        headers["x-slack-retry-num"] = str(retry_num)
        headers["x-slack-retry-reason"] = "http_timeout"
    text = base64.b64encode(body).decode() if base64_body else body.decode()
    if version == "2.0":
        return {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/",
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {"http": {"method": method, "path": "/"}, "timeEpoch": (timestamp or 0) * 1000},
            "body": text,
            "isBase64Encoded": base64_body,
        }
    cased = {
        "-".join(part.capitalize() for part in name.split("-")): value for name, value in headers.items()
    }
    return {
        "resource": "/slack",
        "path": "/slack",
        "httpMethod": method,
        "headers": cased,
        "multiValueHeaders": {name: [value] for name, value in cased.items()},
        "queryStringParameters": None,
        "requestContext": {"httpMethod": method, "path": "/prod/slack"},
        "body": text,
        "isBase64Encoded": base64_body,
    }


class ResponseUrl:
    """A ``respond`` transport that records every post to a response URL instead of sending it."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, url: str, body: Any) -> None:
        self.posts.append((url, json.loads(json.dumps(body))))

    @property
    def last(self) -> dict[str, Any]:
        """The body of the last post."""
        return self.posts[-1][1]

    def texts(self) -> list[str]:
        """Every post's ``text``."""
        return [str(body.get("text", "")) for _, body in self.posts]
