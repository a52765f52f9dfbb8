"""SNS topics with Lambda-style subscribers in ``pipepilot.local``: ``OfflineAWS.subscribe``."""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

import pytest

import pipepilot.local

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pipepilot.local import OfflineAWS

TOPIC = "arn:aws:sns:us-east-1:123456789012:approvals"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


class Recorder:
    """A subscriber that records each (event, context, virtual time) it is called with."""

    def __init__(self, aws: OfflineAWS, *, label: str = "", order: list[str] | None = None) -> None:
        self.aws = aws
        self.label = label
        self.order = order if order is not None else []  # labels of every call, shared between recorders
        self.calls: list[tuple[dict[str, Any], Any, float]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        self.order.append(self.label)
        self.calls.append((event, context, self.aws.clock.now()))


@pytest.fixture
def aws() -> Iterator[OfflineAWS]:
    """An active offline world with the approvals topic in moto's SNS and no IAM role checks."""
    with pipepilot.local.offline() as aws:
        aws.verify_roles = False
        aws.client("sns").create_topic(Name="approvals")
        yield aws


def _stage(name: str, category: str, provider: str, **configuration: str) -> dict[str, Any]:
    action_type = {"category": category, "owner": "AWS", "provider": provider, "version": "1"}
    outputs = [{"name": "App"}] if category == "Source" else []
    action = {"name": name, "actionTypeId": action_type, "configuration": configuration}
    return {"name": name, "actions": [{**action, "outputArtifacts": outputs}]}


def _create_release_pipeline(aws: OfflineAWS) -> None:
    """Source, then a manual approval that notifies TOPIC; creating it starts the first execution."""
    aws.client("s3").create_bucket(Bucket="release-artifacts")
    aws.client("codepipeline").create_pipeline(
        pipeline={
            "name": "release",
            "roleArn": "arn:aws:iam::123456789012:role/release",
            "artifactStore": {"type": "S3", "location": "release-artifacts"},
            "stages": [
                _stage("Source", "Source", "S3", S3Bucket="app", S3ObjectKey="app.zip"),
                _stage("Approve", "Approval", "Manual", NotificationArn=TOPIC),
            ],
        }
    )


def _run(aws: OfflineAWS) -> dict[str, Any]:
    (run,) = aws.client("codepipeline").list_pipeline_executions(pipelineName="release")[
        "pipelineExecutionSummaries"
    ]
    return run  # type: ignore[no-any-return]


def _approve(event: dict[str, Any], context: Any) -> None:
    """The handler under test in a real project: approves what the notification asks for."""
    approval = json.loads(event["Records"][0]["Sns"]["Message"])["approval"]
    pipepilot.local.active().client("codepipeline").put_approval_result(
        pipelineName=approval["pipelineName"],
        stageName=approval["stageName"],
        actionName=approval["actionName"],
        token=approval["token"],
        result={"status": "Approved", "summary": "by the bot"},
    )


def test_handler_gets_the_sns_lambda_event_and_a_lambda_context(aws: OfflineAWS) -> None:
    """The handler receives SNS's Lambda event, field for field; MessageId is the one moto's SQS
    subscribers see, Timestamp the virtual publishing time; the context names a function and request."""
    sqs = aws.client("sqs")
    queue = sqs.create_queue(QueueName="copy")["QueueUrl"]
    aws.client("sns").subscribe(
        TopicArn=TOPIC, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:123456789012:copy"
    )
    recorder = Recorder(aws)
    aws.subscribe(TOPIC, recorder)
    aws.clock.advance(1.5)
    aws.world.publish_sns(TOPIC, '{"approval": {}}', "APPROVAL NEEDED")
    aws.clock.advance(0)
    ((event, context, _),) = recorder.calls
    (copy,) = sqs.receive_message(QueueUrl=queue)["Messages"]
    subscription = event["Records"][0]["EventSubscriptionArn"]
    assert re.fullmatch(f"{TOPIC}:{_UUID}", subscription)
    assert event == {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": json.loads(copy["Body"])["MessageId"],
                    "TopicArn": TOPIC,
                    "Subject": "APPROVAL NEEDED",
                    "Message": '{"approval": {}}',
                    "Timestamp": "2026-01-01T00:00:01.500Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-offline.pem",
                    "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
                    f"&SubscriptionArn={subscription}",
                    "MessageAttributes": {},
                },
            }
        ]
    }
    assert context.function_name == "sns-subscriber"  # a Recorder has no usable __name__
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:sns-subscriber"
    assert re.fullmatch(_UUID, context.aws_request_id)
    assert context.get_remaining_time_in_millis() == 900_000


def test_delivery_waits_for_the_clock_to_move(aws: OfflineAWS) -> None:
    """Publishing only schedules the delivery (at +0 s): the handler runs when time next moves, at the
    moment of publishing, and only once."""
    recorder = Recorder(aws)
    aws.subscribe(TOPIC, recorder)
    published_at = aws.clock.now()
    aws.world.publish_sns(TOPIC, "{}", None)
    assert recorder.calls == []
    aws.clock.advance(30)
    assert [when for _, _, when in recorder.calls] == [published_at]
    assert recorder.calls[0][0]["Records"][0]["Sns"]["Subject"] is None
    aws.clock.advance(30)
    assert len(recorder.calls) == 1


def test_every_subscriber_gets_every_message_in_subscription_order(aws: OfflineAWS) -> None:
    """Two subscribers of a topic each get each message (own subscription ARN, own event); a subscriber
    of another topic gets nothing."""
    order: list[str] = []
    first = Recorder(aws, label="first", order=order)
    second = Recorder(aws, label="second", order=order)
    other = Recorder(aws, label="other", order=order)
    aws.subscribe(TOPIC, first)
    aws.subscribe(TOPIC, second)
    aws.subscribe(TOPIC.replace("approvals", "other"), other)
    aws.world.publish_sns(TOPIC, "one", None)
    aws.world.publish_sns(TOPIC, "two", None)
    aws.clock.advance(0)
    for recorder in (first, second):
        assert [e["Records"][0]["Sns"]["Message"] for e, _, _ in recorder.calls] == ["one", "two"]
    assert order == ["first", "second", "first", "second"]
    arns = {event["Records"][0]["EventSubscriptionArn"] for event, _, _ in first.calls + second.calls}
    assert len(arns) == 2
    assert first.calls[0][0] is not second.calls[0][0]
    assert other.calls == []


def test_a_topic_created_after_subscribing_delivers_and_a_missing_one_does_not() -> None:
    """The subscription waits for its topic: nothing is delivered while the topic does not exist (as a
    publish to a missing topic goes nowhere), then every message is."""
    with pipepilot.local.offline() as aws:
        recorder = Recorder(aws)
        aws.subscribe(TOPIC, recorder)
        aws.world.publish_sns(TOPIC, "lost", None)
        aws.clock.advance(1)
        assert recorder.calls == []
        aws.client("sns").create_topic(Name="approvals")
        aws.world.publish_sns(TOPIC, "delivered", None)
        aws.clock.advance(1)
        assert [e["Records"][0]["Sns"]["Message"] for e, _, _ in recorder.calls] == ["delivered"]


@pytest.mark.parametrize(
    ("topic_arn", "handler", "error"),
    [
        ("approvals", print, ValueError),
        ("arn:aws:sqs:us-east-1:123456789012:approvals", print, ValueError),
        ("arn:aws:sns:us-east-1:1234:approvals", print, ValueError),
        (f"{TOPIC}:extra", print, ValueError),
        (None, print, ValueError),
        (TOPIC, "not callable", TypeError),
    ],
)
def test_bad_subscriptions_are_refused_and_change_nothing(
    aws: OfflineAWS, topic_arn: Any, handler: Any, error: type[Exception]
) -> None:
    """A malformed topic ARN or a handler that cannot be called is refused; no delivery is scheduled."""
    with pytest.raises(error):
        aws.subscribe(topic_arn, handler)
    aws.world.publish_sns(TOPIC, "{}", None)
    assert aws.clock.pending() == 0


def test_subscriber_approves_the_release(aws: OfflineAWS) -> None:
    """End to end: the approval's notification reaches the subscriber, whose PutApprovalResult lets the
    execution succeed; the context is named after the handler function."""
    names: list[str] = []
    aws.subscribe(TOPIC, lambda event, context: names.append(context.function_name))
    aws.subscribe(TOPIC, _approve)
    _create_release_pipeline(aws)
    aws.clock.advance(60)
    assert _run(aws)["status"] == "Succeeded"
    assert names == ["sns-subscriber"]  # "<lambda>" is not a function name


def test_a_raising_subscriber_is_logged_without_the_message_and_others_still_run(
    aws: OfflineAWS, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler that raises (even quoting the message) is logged at WARNING with its type and frames
    but without the notification or its token; the engine and the next subscriber carry on."""

    def leaky(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError(event["Records"][0]["Sns"]["Message"])

    aws.subscribe(TOPIC, leaky)
    aws.subscribe(TOPIC, _approve)
    tokens: list[str] = []
    aws.subscribe(
        TOPIC,
        lambda event, context: tokens.append(
            json.loads(event["Records"][0]["Sns"]["Message"])["approval"]["token"]
        ),
    )
    _create_release_pipeline(aws)
    with caplog.at_level(logging.WARNING, logger="pipepilot.local._world"):
        aws.clock.advance(60)
    assert _run(aws)["status"] == "Succeeded"
    (record,) = [r for r in caplog.records if r.name == "pipepilot.local._world"]
    assert record.levelno == logging.WARNING
    assert "leaky" in record.getMessage()
    assert "RuntimeError" in record.getMessage()
    assert tokens
    assert tokens[0] not in caplog.text
    assert "consoleLink" not in caplog.text  # nothing of the notification, not just the token


def test_without_an_answering_subscriber_the_run_waits(aws: OfflineAWS) -> None:
    """Control for the end-to-end test: a subscriber that does not answer leaves the run InProgress."""
    recorder = Recorder(aws)
    aws.subscribe(TOPIC, recorder)
    _create_release_pipeline(aws)
    aws.clock.advance(60)
    assert len(recorder.calls) == 1
    assert _run(aws)["status"] == "InProgress"


def test_subscribing_does_not_change_the_engines_ids() -> None:
    """Subscription and request ids come from their own seeded stream: the same seed gives the same
    execution id whether or not a subscriber is registered."""
    ids = []
    for subscribe in (False, True):
        with pipepilot.local.offline(seed=3) as aws:
            aws.verify_roles = False
            aws.client("sns").create_topic(Name="approvals")
            if subscribe:
                aws.subscribe(TOPIC, Recorder(aws))
            _create_release_pipeline(aws)
            aws.clock.advance(60)
            ids.append(_run(aws)["pipelineExecutionId"])
    assert ids[0] == ids[1]
