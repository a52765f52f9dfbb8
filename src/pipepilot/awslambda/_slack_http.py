"""Slack requests as Lambda receives them: the HTTP event, the signature check, the button click.

Nothing here talks to AWS or Slack. The order is the security: a request is first read as bytes from the
Lambda event (a function URL or an HTTP API sends payload format 2.0, a REST API 1.0; either may base64
the body, and header names may come in any case), then its signature is checked over those raw bytes
within Slack's five-minute window, and only then is the body parsed. Whatever fails says so with a
:class:`RequestRefused` carrying the HTTP status to answer (401 for a request that is not provably Slack's
and fresh, 400 for one that is malformed) and a reason that never quotes the body, a header's value or a
secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "REPLAY_WINDOW_SECONDS",
    "ButtonClick",
    "HttpRequest",
    "ReplayGuard",
    "RequestRefused",
    "SignatureCheck",
    "http_response",
    "parse_click",
]

#: How far a request's timestamp may be from now (either way), in seconds: Slack's documented window.
REPLAY_WINDOW_SECONDS = 5 * 60

# A Slack timestamp is whole epoch seconds; anything else is refused before it reaches int().
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
# Slack's ids: teams T..., enterprise E..., users U.../W..., user groups S...
_SLACK_ID = re.compile(r"[A-Z0-9]{2,32}")
# Where Slack's response URLs live (Slack, and GovSlack); a response is never posted anywhere else.
_SLACK_HOOK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})
# The largest body a Slack interaction carries (the original message with its blocks) is far below this.
_MAX_BODY_BYTES = 1 << 20


class RequestRefused(Exception):
    """The request is refused: answer ``status`` (4xx); ``reason`` is safe to log and to return."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


def http_response(status: int, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Lambda proxy response (both payload formats): ``status`` with ``body`` as JSON (or empty)."""
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": "" if body is None else json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


@attrs.frozen(kw_only=True)
class HttpRequest:
    """An HTTP request from a Lambda proxy event: method, headers (names lower-cased) and the raw body.

    ``body`` is the bytes the client sent (base64 undone), exactly what Slack signed. Read with
    :meth:`from_lambda_event`. Header values and the body are not in ``repr`` (the body is the user's).
    """

    method: str
    headers: Mapping[str, str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)

    @classmethod
    def from_lambda_event(cls, event: object) -> HttpRequest:
        """Read a function URL / HTTP API (payload 2.0) or REST API (payload 1.0) event.

        Raises:
            RequestRefused: (400) the event is not an HTTP request, a header is sent twice with different
                values, or the body is not valid base64 although said to be; (405) not a POST;
                (413) a body over 1 MiB.
        """
        if not isinstance(event, dict):
            raise RequestRefused(400, "the event is not an HTTP request (expected a Lambda proxy event)")
        context = event.get("requestContext")
        http = context.get("http") if isinstance(context, dict) else None
        if event.get("version") == "2.0" and isinstance(http, dict):
            method = http.get("method")
        else:
            method = event.get("httpMethod")
        if not isinstance(method, str):
            raise RequestRefused(400, "the event is not an HTTP request (no method)")
        if method.upper() != "POST":
            raise RequestRefused(405, f"Slack sends POST requests, not {method.upper()[:10]}")
        headers = _headers(event)
        body = event.get("body")
        if body is None:
            raw = b""
        elif not isinstance(body, str):
            raise RequestRefused(400, "the event's body is not a string")
        elif event.get("isBase64Encoded") is True:
            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raise RequestRefused(400, "the body is marked base64 but is not valid base64") from None
        else:
            raw = body.encode("utf-8")
        if len(raw) > _MAX_BODY_BYTES:
            raise RequestRefused(413, "the body is larger than any Slack interaction")
        return cls(method="POST", headers=headers, body=raw)


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    """The event's headers with lower-cased names; REST API's ``multiValueHeaders`` are checked too."""
    found: dict[str, str] = {}
    single = event.get("headers")
    if isinstance(single, dict):
        for name, value in single.items():
            if isinstance(name, str) and isinstance(value, str):
                _add_header(found, name.lower(), value)
    multi = event.get("multiValueHeaders")
    if isinstance(multi, dict):
        for name, values in multi.items():
            if isinstance(name, str) and isinstance(values, list):
                for value in values:
                    if isinstance(value, str):
                        _add_header(found, name.lower(), value)
    return found


def _add_header(found: dict[str, str], name: str, value: str) -> None:
    previous = found.get(name)
    if previous is not None and previous != value and name.startswith("x-slack-"):
        # Two different signatures or timestamps: which one was checked would be a guess.
        raise RequestRefused(400, f"the header {name} is sent twice with different values")
    found[name] = value


class ReplayGuard:
    """Remembers the signed requests accepted in this process during the replay window (thread-safe).

    Slack's signature proves who sent a request and when, not that it is sent once: within the five-minute
    window a captured request verifies again. A request whose signature was already accepted is a replay.
    Across Lambda containers this memory is not shared; there answering an approval is idempotent instead
    (the second answer finds it already decided). At most ``capacity`` signatures are kept; when full, the
    oldest are forgotten first (they are the closest to leaving the window anyway).
    """

    def __init__(self, *, capacity: int = 10_000) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._capacity = capacity

    def first_time(self, signature: str, timestamp: int, *, now: float) -> bool:
        """Record ``signature``; ``False`` when it was already recorded within the window."""
        with self._lock:
            horizon = now - REPLAY_WINDOW_SECONDS
            if self._seen.get(signature, horizon - 1) >= horizon:
                return False
            self._seen[signature] = float(timestamp)
            if len(self._seen) > self._capacity:
                for old in [key for key, stamp in self._seen.items() if stamp < horizon]:
                    del self._seen[old]
                while len(self._seen) > self._capacity:
                    del self._seen[next(iter(self._seen))]
            return True


class SignatureCheck:
    """Checks Slack's ``X-Slack-Signature`` over a request's raw body (slack_sdk's verifier).

    ``signing_secret`` is a callable returning the app's signing secret (read lazily, once per cold start,
    by the caller); ``clock`` returns epoch seconds (injectable for tests); ``replays`` remembers the
    signatures already accepted.
    """

    def __init__(
        self,
        *,
        signing_secret: Callable[[], str],
        clock: Callable[[], float] = time.time,
        replays: ReplayGuard | None = None,
    ) -> None:
        self._signing_secret = signing_secret
        self._clock = clock
        self._replays = replays if replays is not None else ReplayGuard()

    def verify(self, request: HttpRequest) -> bool:
        """Check ``request``; ``True`` for a fresh request, ``False`` for a replayed one that Slack marks as
        its own retry (``X-Slack-Retry-Num``), which the caller acknowledges without acting on it again.

        Raises:
            RequestRefused: (401) a signature or timestamp header is missing or malformed, the timestamp is
                outside the five-minute window, the signature does not match, or the request was already
                accepted (a replay).
        """
        from slack_sdk.signature import Clock, SignatureVerifier

        signature = request.headers.get("x-slack-signature")
        stamp = request.headers.get("x-slack-request-timestamp")
        if not signature or not stamp:
            raise RequestRefused(401, "missing X-Slack-Signature or X-Slack-Request-Timestamp")
        if not _SIGNATURE.fullmatch(signature) or not _TIMESTAMP.fullmatch(stamp):
            raise RequestRefused(401, "malformed X-Slack-Signature or X-Slack-Request-Timestamp")
        now = self._clock()
        if abs(now - int(stamp)) > REPLAY_WINDOW_SECONDS:
            raise RequestRefused(401, "stale request: its timestamp is more than 5 minutes from now")
        try:
            request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestRefused(401, "the body is not UTF-8, so Slack did not sign it") from None

        clock = self._clock

        class _Now(Clock):
            def now(self) -> float:
                return clock()

        verifier = SignatureVerifier(self._signing_secret(), clock=_Now())
        if not verifier.is_valid(body=request.body, timestamp=stamp, signature=signature):
            raise RequestRefused(401, "invalid signature")
        if self._replays.first_time(signature, int(stamp), now=now):
            return True
        if request.headers.get("x-slack-retry-num"):
            return False  # Slack's own retry of a request this process already handled
        raise RequestRefused(401, "replayed request: this signed request was already handled")


@attrs.frozen(kw_only=True)
class ButtonClick:
    """A verified ``block_actions`` interaction: who clicked what, and where to answer.

    ``value`` is the button's value (pipepilot's own encoding of the approval it names, see
    :mod:`pipepilot.awslambda._slack_blocks`); ``reason`` is what the user typed in the message's reason
    field, if anything. ``response_url`` lets whoever holds it post to the channel for 30 minutes: not in
    ``repr``. ``message_blocks`` are the clicked message's blocks as Slack sent them back.
    """

    team_id: str
    user_id: str
    user_name: str
    action_id: str
    value: str = attrs.field(repr=False)
    reason: str | None = attrs.field(repr=False, default=None)
    response_url: str = attrs.field(repr=False)
    message_blocks: tuple[Mapping[str, Any], ...] = attrs.field(repr=False, default=())
    retry: bool = False


def parse_click(request: HttpRequest, *, reason_block: str, reason_action: str) -> ButtonClick:
    """The button click a *verified* request carries.

    The body must be ``application/x-www-form-urlencoded`` with one ``payload`` field holding the JSON of a
    ``block_actions`` interaction with one action, a team, a user and a response URL on Slack's hooks host. ``reason_block``/``reason_action`` name the text input whose current value is the reason.

    Raises:
        RequestRefused: (400) anything else; the reason says what was wrong, never what was sent.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise RequestRefused(400, "the body is not form-encoded (application/x-www-form-urlencoded)")
    try:
        form = parse_qs(request.body.decode("utf-8"), strict_parsing=True, max_num_fields=10)
    except ValueError:
        raise RequestRefused(400, "the body is not form-encoded") from None
    payloads = form.get("payload")
    if not payloads or len(payloads) != 1:
        raise RequestRefused(400, "the form has no single 'payload' field")
    try:
        payload = json.loads(payloads[0])
    except ValueError:
        raise RequestRefused(400, "the payload is not JSON") from None
    if not isinstance(payload, dict):
        raise RequestRefused(400, "the payload is not a JSON object")
    if payload.get("type") != "block_actions":
        raise RequestRefused(400, "not a button click (the interaction type is not block_actions)")
    team = _object(payload, "team")
    user = _object(payload, "user")
    team_id = _slack_id(team.get("id"), "team")
    user_id = _slack_id(user.get("id"), "user")
    user_name = user.get("name") or user.get("username") or user_id
    if not isinstance(user_name, str):
        user_name = user_id
    actions = payload.get("actions")
    if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], dict):
        raise RequestRefused(400, "the payload does not carry exactly one action")
    action = actions[0]
    action_id = action.get("action_id")
    value = action.get("value", "")
    if not isinstance(action_id, str) or not isinstance(value, str):
        raise RequestRefused(400, "the action has no action_id or its value is not a string")
    response_url = payload.get("response_url")
    if not isinstance(response_url, str) or not _is_slack_url(response_url):
        raise RequestRefused(400, "the payload has no Slack response_url")
    message = payload.get("message")
    blocks = message.get("blocks") if isinstance(message, dict) else None
    return ButtonClick(
        team_id=team_id,
        user_id=user_id,
        user_name=user_name[:80],
        action_id=action_id,
        value=value,
        reason=_typed_reason(payload, reason_block, reason_action),
        response_url=response_url,
        message_blocks=tuple(block for block in blocks or () if isinstance(block, dict)),
        retry=bool(request.headers.get("x-slack-retry-num")),
    )


def _object(payload: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = payload.get(name)
    if not isinstance(value, dict):
        raise RequestRefused(400, f"the payload has no {name}")
    return value


def _slack_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not _SLACK_ID.fullmatch(value):
        raise RequestRefused(400, f"the payload's {what} id is missing or malformed")
    return value


def _typed_reason(payload: Mapping[str, Any], block: str, action: str) -> str | None:
    """The text typed into the reason input (``state.values[block][action].value``), if any."""
    state = payload.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    element = values.get(block) if isinstance(values, dict) else None
    field = element.get(action) if isinstance(element, dict) else None
    text = field.get("value") if isinstance(field, dict) else None
    if not isinstance(text, str) or not text.strip():
        return None
    return text.strip()


def _is_slack_url(url: str) -> bool:
    """Whether ``url`` is an https URL on Slack's hooks host (a response URL; never an arbitrary host)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme == "https" and parts.hostname in _SLACK_HOOK_HOSTS and parts.port in (None, 443)
