"""The pure parts of Slack approvals: reading Lambda HTTP events, Slack's signature, button values, Block Kit
messages and the allow-list (no AWS, no Slack)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from pipepilot.awslambda._slack_access import Approvers
from pipepilot.awslambda._slack_blocks import (
    ApprovalCard,
    ButtonTarget,
    decode_button,
    encode_button,
    request_message,
    updated_message,
)
from pipepilot.awslambda._slack_http import (
    HttpRequest,
    ReplayGuard,
    RequestRefused,
    SignatureCheck,
    parse_click,
)
from pipepilot.errors import ArgumentTypeError, InvalidArgumentError

from ..._slack import SIGNING_SECRET, TEAM_ID, click_payload, form_body, http_event, sign

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
EXECUTION = "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
RUN = "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"
TOKEN = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"


def _check(now: float = NOW) -> SignatureCheck:
    return SignatureCheck(signing_secret=lambda: SIGNING_SECRET, clock=lambda: now, replays=ReplayGuard())


def _request(event: dict[str, Any]) -> HttpRequest:
    return HttpRequest.from_lambda_event(event)


def _refusal(check: SignatureCheck, event: dict[str, Any]) -> RequestRefused:
    with pytest.raises(RequestRefused) as caught:
        check.verify(_request(event))
    return caught.value


# --------------------------------------------------------------------------------------------- HTTP events


def test_function_url_event_gives_the_raw_body_base64_undone() -> None:
    """A payload 2.0 event with a base64 body gives back exactly the bytes that were sent."""
    body = form_body(click_payload("x"))
    request = _request(http_event(body, timestamp=NOW))
    assert request.body == body
    assert request.headers["x-slack-request-timestamp"] == str(NOW)


def test_rest_api_event_headers_are_read_in_any_case() -> None:
    """A payload 1.0 event (REST API) keeps its headers' case; they are found lower-cased, and verify."""
    body = form_body(click_payload("x"))
    event = http_event(body, timestamp=NOW, version="1.0", base64_body=False)
    assert "X-Slack-Signature" in event["headers"]
    assert _check().verify(_request(event)) is True


@pytest.mark.parametrize(
    ("event", "status"),
    [
        (["not", "a", "dict"], 400),
        ({"Records": []}, 400),
        ({"version": "2.0", "requestContext": {"http": {"method": "GET"}}, "headers": {}}, 405),
        ({"httpMethod": "POST", "headers": {}, "body": "***", "isBase64Encoded": True}, 400),
        ({"httpMethod": "POST", "headers": {}, "body": 12}, 400),
    ],
)
def test_events_that_are_not_a_post_request_are_refused(event: object, status: int) -> None:
    """Something that is not a POST request from a Lambda proxy integration is refused with a 4xx."""
    with pytest.raises(RequestRefused) as caught:
        HttpRequest.from_lambda_event(event)
    assert caught.value.status == status


def test_a_slack_header_sent_twice_with_different_values_is_refused() -> None:
    """Two different signatures in one request (REST API's multiValueHeaders): which was checked would be a guess."""
    event = http_event(b"payload=x", timestamp=NOW, version="1.0")
    event["multiValueHeaders"]["X-Slack-Signature"].append("v0=" + "0" * 64)
    with pytest.raises(RequestRefused) as caught:
        HttpRequest.from_lambda_event(event)
    assert caught.value.status == 400


# ---------------------------------------------------------------------------------------------- signature


def test_a_fresh_signed_request_verifies() -> None:
    """A request signed with the signing secret, stamped now, verifies."""
    assert _check().verify(_request(http_event(b"payload=%7B%7D", timestamp=NOW))) is True


@pytest.mark.parametrize(
    ("stamp", "reason"),
    [
        (978_307_200, "stale"),  # 2001-01-01: a captured request replayed years later
        (NOW - 301, "stale"),
        (NOW + 301, "stale"),  # stamped in the future: a clock attack is refused the same way
    ],
)
def test_requests_outside_the_five_minute_window_are_refused(stamp: int, reason: str) -> None:
    """A correctly signed request stamped more than five minutes from now is refused (401)."""
    refused = _refusal(_check(), http_event(b"payload=%7B%7D", timestamp=stamp))
    assert refused.status == 401
    assert reason in refused.reason


def test_requests_at_the_edge_of_the_window_verify() -> None:
    """Five minutes old, to the second, is still inside the window."""
    assert _check().verify(_request(http_event(b"payload=%7B%7D", timestamp=NOW - 300))) is True


def test_forged_signature_is_refused() -> None:
    """A request signed with another secret is refused (401)."""
    refused = _refusal(_check(), http_event(b"payload=%7B%7D", timestamp=NOW, secret="not-the-secret"))
    assert (refused.status, refused.reason) == (401, "invalid signature")


def test_body_changed_after_signing_is_refused() -> None:
    """The signature covers the raw body: a body changed by one byte does not verify."""
    event = http_event(b"payload=%7B%7D", timestamp=NOW, signature=sign(b"payload=%7B%7E", NOW))
    assert _refusal(_check(), event).status == 401


@pytest.mark.parametrize(
    "headers",
    [
        {},  # Slack's legacy verification token scheme: no signature at all
        {"x-slack-request-timestamp": str(NOW)},
        {"x-slack-signature": "v0=" + "a" * 64},
        {"x-slack-request-timestamp": "soon", "x-slack-signature": "v0=" + "a" * 64},
        {"x-slack-request-timestamp": str(NOW), "x-slack-signature": "sha256=abc"},
    ],
)
def test_missing_or_malformed_signature_headers_are_refused(headers: dict[str, str]) -> None:
    """Without a well-formed signature and timestamp nothing is believed (401), whatever the body says."""
    body = form_body(click_payload("x"))  # carries the legacy "token" field, which proves nothing
    event = http_event(body, timestamp=None)
    event["headers"].update(headers)
    assert _refusal(_check(), event).status == 401


def test_a_replayed_request_is_refused() -> None:
    """The same signed request accepted once is refused the second time (401), inside the window."""
    check = _check()
    event = http_event(b"payload=%7B%7D", timestamp=NOW)
    assert check.verify(_request(event)) is True
    refused = _refusal(check, event)
    assert (refused.status, "replayed" in refused.reason) == (401, True)


def test_slacks_own_retry_of_a_handled_request_is_acknowledged_without_acting() -> None:
    """A replay marked with X-Slack-Retry-Num is Slack retrying: verify() says not to act again (no 401)."""
    check = _check()
    assert check.verify(_request(http_event(b"payload=%7B%7D", timestamp=NOW))) is True
    assert check.verify(_request(http_event(b"payload=%7B%7D", timestamp=NOW, retry_num=1))) is False


def test_replay_memory_is_bounded() -> None:
    """The replay guard keeps at most its capacity of signatures."""
    guard = ReplayGuard(capacity=3)
    for index in range(10):
        assert guard.first_time(f"v0={index}", NOW, now=NOW)
    assert len(guard._seen) == 3


# ------------------------------------------------------------------------------------------------- clicks


def _verified(body: bytes, **options: Any) -> HttpRequest:
    return _request(http_event(body, timestamp=NOW, **options))


def _parse(request: HttpRequest) -> Any:
    return parse_click(request, reason_block="pipepilot_reason", reason_action="pipepilot_reason_text")


def test_a_click_is_read_with_user_team_reason_and_response_url() -> None:
    """A button click gives who clicked which button, in which team, with the typed reason."""
    click = _parse(_verified(form_body(click_payload("value", reason="  tests are red  "))))
    assert (click.team_id, click.user_id, click.user_name) == (TEAM_ID, "U0APPROVER", "ada")
    assert (click.action_id, click.value, click.reason) == ("pipepilot_approve", "value", "tests are red")
    assert "response_url" not in repr(click)
    assert "hooks.slack.com" not in repr(click)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"payload": {}}', "application/json"),
        (b"payload=%7B%7D&payload=%7B%7D", "application/x-www-form-urlencoded"),
        (b"text=hello", "application/x-www-form-urlencoded"),
        (b"payload=not-json", "application/x-www-form-urlencoded"),
        (b"payload=%5B%5D", "application/x-www-form-urlencoded"),
        (b"payload=%7B%22type%22%3A%22view_submission%22%7D", "application/x-www-form-urlencoded"),
        (b"\x00\x01", "application/x-www-form-urlencoded"),
    ],
)
def test_bodies_that_are_not_a_form_encoded_click_are_refused(body: bytes, content_type: str) -> None:
    """A body that is not ``payload=<block_actions JSON>``, form-encoded, is refused with 400."""
    with pytest.raises(RequestRefused) as caught:
        _parse(_verified(body, content_type=content_type))
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "change",
    [
        {"response_url": "https://attacker.example/hook"},
        {"response_url": "http://hooks.slack.com/actions/x"},
        {"team": {"id": "t-lower case"}},
        {"user": {}},
        {"actions": []},
    ],
)
def test_clicks_missing_what_an_answer_needs_are_refused(change: dict[str, Any]) -> None:
    """A click whose response URL is not Slack's, or without a team, user or action, is refused with 400."""
    payload = click_payload("value")
    payload.update(change)
    with pytest.raises(RequestRefused) as caught:
        _parse(_verified(form_body(payload)))
    assert caught.value.status == 400


# --------------------------------------------------------------------------------------------- buttons


def test_button_values_round_trip_and_name_no_token() -> None:
    """A button value names pipeline, stage, action, execution and run, and reads back as the same target."""
    target = ButtonTarget(pipeline="web", stage="Prod", action="Approve", execution_id=EXECUTION, run_id=RUN)
    value = encode_button(target)
    assert decode_button(value) == target
    assert len(value) <= 2000
    assert json.loads(value) == {"v": 1, "p": "web", "s": "Prod", "a": "Approve", "e": EXECUTION, "r": RUN}


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not json",
        '{"v":1,"p":"web","s":"Prod","a":"Approve"}',  # no execution: refusing beats guessing
        '{"v":1,"p":"web","s":"Prod","a":"Approve","e":"' + EXECUTION + '","token":"' + TOKEN + '"}',
        '{"v":2,"p":"web","s":"Prod","a":"Approve","e":"' + EXECUTION + '"}',
        '{"v":1,"p":"web/x","s":"Prod","a":"Approve","e":"' + EXECUTION + '"}',
        '{"v":1,"p":"web","s":"Prod","a":"Approve","e":"latest"}',
        '{"v":1,"p":"web","s":"Prod","a":"Approve","e":"' + EXECUTION + '","r":7}',
    ],
)
def test_button_values_pipepilot_did_not_make_name_nothing(value: str) -> None:
    """Only the exact encoding pipepilot makes is read; anything else names no approval."""
    assert decode_button(value) is None


def _card(**changes: Any) -> ApprovalCard:
    fields: dict[str, Any] = {
        "pipeline": "web",
        "stage": "Prod",
        "action": "Approve",
        "execution_id": EXECUTION,
        "run_id": RUN,
        "region": "eu-west-1",
        "custom_data": "Release 1.2 <!channel> & friends",
        "external_entity_link": "https://example.com/changes/12",
        "expires": datetime(2026, 1, 8, 0, 0, tzinfo=timezone.utc),
    }
    fields.update(changes)
    return ApprovalCard(**fields)


def test_request_message_shows_the_approval_and_escapes_pipeline_text() -> None:
    """The message shows pipeline, stage, action, execution, notes, links and expiry; ``<!channel>`` in the
    custom data is escaped so it pings nobody."""
    message = request_message(_card())
    text = json.dumps(message)
    assert "Approval needed: web / Prod / Approve" in message["text"]
    assert "&lt;!channel&gt; &amp; friends" in text
    assert "<!channel>" not in text
    assert "<https://example.com/changes/12|What to review>" in text
    assert (
        "https://eu-west-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/web/view?region=eu-west-1"
        in text
    )
    assert "<!date^1767830400^" in text
    actions = [block for block in message["blocks"] if block.get("block_id") == "pipepilot_actions"]
    values = [element["value"] for element in actions[0]["elements"]]
    assert [decode_button(value) for value in values] == [
        ButtonTarget(pipeline="web", stage="Prod", action="Approve", execution_id=EXECUTION, run_id=RUN)
    ] * 2


def test_a_link_that_is_not_http_is_shown_as_text() -> None:
    """An external entity link that is not an http(s) URL is not made a link (``javascript:``, mrkdwn tricks)."""
    text = json.dumps(request_message(_card(external_entity_link="javascript:alert(1)|<@U1>")))
    assert "javascript:alert(1)|&lt;@U1&gt;" in text
    assert "<javascript:" not in text


def test_an_approval_without_its_execution_gets_no_buttons() -> None:
    """When the execution could not be found, the message has no buttons and says to use the console."""
    message = request_message(_card(execution_id=None))
    assert all(block.get("type") != "actions" for block in message["blocks"])
    assert "AWS console" in json.dumps(message)


def test_updated_message_replaces_reason_and_buttons_with_the_outcome() -> None:
    """After a decision the reason field and buttons are gone, the rest of the message stays."""
    original = request_message(_card())["blocks"]
    updated = updated_message(original, "Approved by <@U0APPROVER>")
    assert updated["replace_original"] is True
    kinds = [block["type"] for block in updated["blocks"]]
    assert "actions" not in kinds
    assert "input" not in kinds
    assert updated["blocks"][-1]["text"]["text"] == "Approved by <@U0APPROVER>"


# ------------------------------------------------------------------------------------------- allow-list


def test_allow_list_matches_pipeline_and_stage_patterns() -> None:
    """Users may answer the pipelines and stages their patterns match, and nothing else."""
    approvers = Approvers({"U0ADA": ["web-*/Prod", "api"], "W0GRACE": "*"})
    assert approvers.allows("U0ADA", "web-eu", "Prod")
    assert approvers.allows("U0ADA", "api", "Anything")
    assert not approvers.allows("U0ADA", "web-eu", "prod")  # case-sensitive, as CodePipeline names are
    assert not approvers.allows("U0ADA", "billing", "Prod")
    assert approvers.allows("W0GRACE", "billing", "Prod")
    assert not approvers.allows("U0SOMEONE", "web-eu", "Prod")
    assert not Approvers({}).allows("U0ADA", "web", "Prod")


def test_user_groups_are_resolved_through_the_lookup_and_cached() -> None:
    """A user group grants its members; the lookup is asked once per group within the cache time."""
    asked: list[str] = []

    def members(group: str) -> list[str]:
        asked.append(group)
        return ["U0ADA"]

    now = [0.0]
    approvers = Approvers({"S0RELEASE": "web/Prod"}, group_members=members, clock=lambda: now[0])
    assert approvers.allows("U0ADA", "web", "Prod")
    assert not approvers.allows("U0BOB", "web", "Prod")
    assert asked == ["S0RELEASE"]
    now[0] = 301.0
    assert approvers.allows("U0ADA", "web", "Prod")
    assert asked == ["S0RELEASE", "S0RELEASE"]


def test_a_failing_group_lookup_grants_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """When Slack cannot be asked for a group's members, the group allows nobody (the list fails closed)."""

    def broken(group: str) -> list[str]:
        raise RuntimeError("xoxb-secret-token in the message")

    approvers = Approvers({"S0RELEASE": "*"}, group_members=broken)
    assert not approvers.allows("U0ADA", "web", "Prod")
    assert "RuntimeError" in caplog.text
    assert "xoxb" not in caplog.text


@pytest.mark.parametrize(
    ("rules", "error"),
    [
        ({"ada": "*"}, InvalidArgumentError),
        ({"U0ADA": ""}, InvalidArgumentError),
        ({"U0ADA": "a/b/c"}, InvalidArgumentError),
        ({"U0ADA": 3}, ArgumentTypeError),
        ({"S0GROUP": "*"}, InvalidArgumentError),  # a group without a way to find its members
        (["U0ADA"], ArgumentTypeError),
    ],
)
def test_malformed_allow_lists_are_refused(rules: Any, error: type[Exception]) -> None:
    """An allow-list with an id that is not Slack's, or a malformed pattern, is refused when it is built."""
    with pytest.raises(error):
        Approvers(rules)


def test_allow_list_from_json() -> None:
    """An allow-list can come from JSON (an environment variable); malformed JSON is a clear error."""
    assert Approvers.from_json('{"U0ADA": ["web/Prod"]}').allows("U0ADA", "web", "Prod")
    with pytest.raises(InvalidArgumentError):
        Approvers.from_json("U0ADA=web")
