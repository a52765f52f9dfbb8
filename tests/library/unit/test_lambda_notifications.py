"""Reading approval notifications from Lambda events (``pipepilot.awslambda``), and cutting summaries."""

from __future__ import annotations

import copy
import json
import logging
from datetime import datetime, timezone
from typing import Any

import pytest

from pipepilot.awslambda import ApprovalNotification, fit_summary, read_notifications
from pipepilot.errors import MalformedEventError, MalformedInputError

TOKEN = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"
TOPIC = "arn:aws:sns:us-east-2:111111111111:approvals"


def _message(**approval: Any) -> dict[str, Any]:
    body = {
        "pipelineName": "web",
        "stageName": "Prod",
        "actionName": "Approve",
        "token": TOKEN,
        "expires": "2016-07-07T20:22Z",
        "externalEntityLink": "https://example.com/diff",
        "approvalReviewLink": f"https://console.aws.amazon.com/codepipeline/home#/view/web/Prod/Approve/approve/{TOKEN}",
        "customData": "branch=main",
    }
    body.update(approval)
    return {"region": "us-east-2", "consoleLink": "https://console.aws.amazon.com/", "approval": body}


def _sns_event(*messages: Any, message_ids: tuple[str, ...] = ()) -> dict[str, Any]:
    records = []
    for index, message in enumerate(messages):
        records.append(
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{TOPIC}:sub",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_ids[index] if message_ids else f"m-{index}",
                    "TopicArn": TOPIC,
                    "Subject": "APPROVAL NEEDED: AWS CodePipeline web for action Approve",
                    "Message": message if isinstance(message, str) else json.dumps(message),
                    "Timestamp": "2026-01-01T00:03:45.000Z",
                },
            }
        )
    return {"Records": records}


def _eventbridge(state: str = "STARTED", category: str = "Approval") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "ev-1",
        "detail-type": "CodePipeline Action Execution State Change",
        "source": "aws.codepipeline",
        "account": "111111111111",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-2",
        "resources": ["arn:aws:codepipeline:us-east-2:111111111111:web"],
        "detail": {
            "pipeline": "web",
            "execution-id": "e-1",
            "stage": "Prod",
            "action": "Approve",
            "state": state,
            "region": "us-east-2",
            "type": {"owner": "AWS", "category": category, "provider": "Manual", "version": "1"},
            "version": 1,
        },
    }


def test_sns_event_reads_every_field_of_every_record() -> None:
    """Each SNS record becomes a notification: names, token, region, account (from the topic ARN), custom
    data, link, expiry (minute precision, UTC), MessageId and topic."""
    event = _sns_event(_message(), _message(stageName="Staging"))
    first, second = read_notifications(event)
    assert first == ApprovalNotification(
        pipeline="web",
        stage="Prod",
        action="Approve",
        token=TOKEN,
        region="us-east-2",
        account_id="111111111111",
        custom_data="branch=main",
        external_entity_link="https://example.com/diff",
        expires=datetime(2016, 7, 7, 20, 22, tzinfo=timezone.utc),
        message_id="m-0",
        topic_arn=TOPIC,
    )
    assert (second.stage, second.message_id) == ("Staging", "m-1")


def test_bare_message_as_json_text_or_dict() -> None:
    """The approval message alone (JSON text, bytes or the parsed dict) reads the same, without SNS ids."""
    (from_text,) = read_notifications(json.dumps(_message()))
    (from_bytes,) = read_notifications(json.dumps(_message()).encode())
    (from_dict,) = read_notifications(_message())
    assert from_text == from_dict == from_bytes
    assert from_text.token == TOKEN
    assert from_text.message_id is None


def test_keys_sent_as_null_are_unset_not_a_crash() -> None:
    """customData, externalEntityLink, approvalReviewLink and expires may be null (or missing)."""
    message = _message(customData=None, externalEntityLink=None, approvalReviewLink=None, expires=None)
    (notification,) = read_notifications(_sns_event(message))
    assert notification.custom_data is None
    assert notification.external_entity_link is None
    assert notification.expires is None
    del message["approval"]["customData"], message["region"]
    (notification,) = read_notifications(message)
    assert notification.custom_data is None
    assert notification.region is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-07-07T20:22Z", datetime(2016, 7, 7, 20, 22, tzinfo=timezone.utc)),
        ("2016-07-07T20:22:05.5Z", datetime(2016, 7, 7, 20, 22, 5, 500000, tzinfo=timezone.utc)),
        ("2016-07-07T22:22+02:00", datetime(2016, 7, 7, 20, 22, tzinfo=timezone.utc)),
        ("2016-07-07T20:22", datetime(2016, 7, 7, 20, 22, tzinfo=timezone.utc)),
        ("next tuesday", None),
        ("2016-13-07T20:22Z", None),
        (1467922920, None),
    ],
)
def test_expiry_is_read_leniently(text: object, expected: datetime | None) -> None:
    """AWS's minute precision, seconds, offsets and no offset (UTC) parse; anything else is unset."""
    (notification,) = read_notifications(_message(expires=text))
    assert notification.expires == expected


def test_sqs_records_of_a_subscribed_queue() -> None:
    """A queue subscribed to the topic: the body is the SNS envelope (MessageId from SNS) or, with raw
    message delivery, the approval message (MessageId from SQS)."""
    sns = _sns_event(_message())["Records"][0]["Sns"]
    event = {
        "Records": [
            {"eventSource": "aws:sqs", "messageId": "q-1", "body": json.dumps(sns)},
            {"eventSource": "aws:sqs", "messageId": "q-2", "body": json.dumps(_message())},
        ]
    }
    enveloped, raw = read_notifications(event)
    assert (enveloped.message_id, enveloped.topic_arn, enveloped.token) == ("m-0", TOPIC, TOKEN)
    assert (raw.message_id, raw.topic_arn, raw.token) == ("q-2", None, TOKEN)


def test_eventbridge_approval_started_has_the_execution_and_no_token() -> None:
    """An Approval action's STARTED event is a notification of that execution; the envelope id dedupes."""
    (notification,) = read_notifications(_eventbridge())
    assert notification.execution_id == "e-1"
    assert notification.token is None
    assert (notification.message_id, notification.account_id, notification.region) == (
        "ev-1",
        "111111111111",
        "us-east-2",
    )


@pytest.mark.parametrize(("state", "category"), [("SUCCEEDED", "Approval"), ("STARTED", "Build")])
def test_other_codepipeline_events_are_not_notifications(state: str, category: str) -> None:
    """An approval that ended, or another category of action, gives nothing (a broad rule does no harm)."""
    assert read_notifications(_eventbridge(state, category)) == []
    stage_event = _eventbridge()
    stage_event["detail-type"] = "CodePipeline Stage Execution State Change"
    assert read_notifications(stage_event) == []


def _malformed(event: object) -> MalformedEventError:
    with pytest.raises(MalformedEventError) as caught:
        read_notifications(event)
    return caught.value


@pytest.mark.parametrize(
    ("event", "path"),
    [
        (42, "event"),
        ({"hello": 1}, "event"),
        ({"Records": "x"}, "Records"),
        ({"Records": [17]}, "Records[0]"),
        ({"Records": [{"EventSource": "aws:kinesis", "Sns": {}}]}, "Records[0].EventSource"),
        ({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}, "Records[0].body.approval"),
        ({"Records": [{"Sns": {"Message": None}}]}, "Records[0].Sns.Message"),
        (_sns_event("not json " + TOKEN), "Records[0].Sns.Message"),
        (_sns_event({"no": "approval"}), "Records[0].Sns.Message.approval"),
        (_sns_event(_message(token=None)), "Records[0].Sns.Message.approval.token"),
        (_sns_event(_message(stageName=7)), "Records[0].Sns.Message.approval.stageName"),
        ({**_eventbridge(), "source": "aws.codebuild"}, "source"),
        ({**_eventbridge(), "detail": None}, "detail"),
    ],
)
def test_malformed_events_raise_one_typed_error_naming_the_path(event: object, path: str) -> None:
    """What is not a notification raises MalformedEventError (a MalformedInputError and ValueError) with
    the path of the problem; it never quotes the token."""
    error = _malformed(event)
    assert isinstance(error, MalformedInputError)
    assert isinstance(error, ValueError)
    assert error.path == path
    assert path in str(error)
    assert TOKEN not in str(error)


def test_unparseable_message_does_not_chain_the_text_holding_the_token() -> None:
    """A JSONDecodeError keeps the whole document: the error raised is not chained to it."""
    error = _malformed(_sns_event('{"approval": {"token": "' + TOKEN + '"'))
    assert error.__cause__ is None
    assert error.__context__ is None or TOKEN not in repr(vars(error.__context__))


def test_a_later_malformed_record_fails_the_whole_event() -> None:
    """Nothing is returned (so nothing is answered) when any record is malformed."""
    with pytest.raises(MalformedEventError, match=r"Records\[1\]"):
        read_notifications(_sns_event(_message(), {"approval": None}))


def test_token_is_not_in_repr() -> None:
    """The token is a secret: the notification's repr leaves it out."""
    (notification,) = read_notifications(_sns_event(_message()))
    assert TOKEN not in repr(notification)
    assert "Prod" in repr(notification)


def test_reading_does_not_log(caplog: pytest.LogCaptureFixture) -> None:
    """Reading logs nothing (an event is never logged: it carries the token)."""
    caplog.set_level(logging.DEBUG)
    read_notifications(copy.deepcopy(_sns_event(_message())))
    with pytest.raises(MalformedEventError):
        read_notifications(_sns_event(_message(token=5)))
    assert TOKEN not in caplog.text


# --------------------------------------------------------------------------------------------- summaries


def test_short_summary_is_kept() -> None:
    """A summary within the limit comes back unchanged."""
    assert fit_summary("Approved: fine") == "Approved: fine"
    assert fit_summary("x" * 512) == "x" * 512


def test_long_summary_is_cut_with_an_ellipsis() -> None:
    """A longer one ends with … at exactly the limit."""
    cut = fit_summary("word " * 200)
    assert cut.endswith("\u2026")
    assert len(cut) <= 512


@pytest.mark.parametrize(
    "unit",
    [
        "e\u0301",  # e + combining acute
        "\U0001f44d\U0001f3fd",  # thumbs up + skin tone
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # family (ZWJ sequence)
        "\U0001f1eb\U0001f1f7",  # a flag: two regional indicators
        "\u2764\ufe0f",  # heart + variation selector
    ],
)
@pytest.mark.parametrize("offset", range(6))
def test_cut_never_splits_a_character(unit: str, offset: int) -> None:
    """Wherever the limit falls, the cut keeps whole units (no dangling accent, half flag or half emoji)
    and the result fits 512 UTF-16 code units."""
    text = "a" * (500 + offset) + unit * 10
    cut = fit_summary(text)
    body = cut[:-1]
    assert text.startswith(body)
    rest = text[len(body) :]
    assert rest.startswith((unit, "a"))
    assert len(cut.encode("utf-16-le")) // 2 <= 512


def test_lone_surrogates_are_replaced() -> None:
    """A lone surrogate (possible in JSON text) becomes U+FFFD instead of failing to encode."""
    assert fit_summary("ok \ud800") == "ok \ufffd"
