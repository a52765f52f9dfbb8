"""Approval notifications as a Lambda function receives them: SNS records, bare messages, EventBridge events.

CodePipeline announces a manual approval two ways. The approval's SNS topic (its ``NotificationArn``) gets a
JSON message with the pipeline, stage, action, the approval's token, its expiry, custom data and review
link; SNS hands it to a subscribed function inside ``{"Records": [{"Sns": {"Message": "<the JSON>", ...}}]}``.
EventBridge gets an ``Action Execution State Change`` event of category ``Approval``, which names the
execution but carries no token. :func:`read_notifications` reads any of them into
:class:`ApprovalNotification` values; :meth:`ApprovalNotification.approval` turns one into the
:class:`~pipepilot.Approval` handle that answers exactly the approval that was notified, never another.

Nothing here does I/O or imports boto3 (a cold start pays for every module it loads): the facade only
comes in as an argument. The token is a secret: it is not in ``repr``, it is never logged, and the errors
raised here name where a problem is, never the values they found.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from pipepilot.approvals import Approval
    from pipepilot.errors import MalformedEventError
    from pipepilot.pipelines import CodePipeline

__all__ = ["ApprovalNotification", "read_notifications"]

_PIPELINE_SOURCE = "aws.codepipeline"
_ACTION_EVENT = "CodePipeline Action Execution State Change"

# ``2016-07-07T20:22Z`` (AWS's minute precision), with optional seconds, fraction and offset.
_EXPIRES = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|z|[+-]\d{2}:?\d{2})?"
)


@attrs.frozen(kw_only=True)
class ApprovalNotification:
    """One manual approval CodePipeline announced: where it is, what to review, and how to answer it.

    ``token`` is the approval's token from an SNS message (a secret: whoever holds it can release; not in
    ``repr``, never logged); EventBridge events carry none and set ``execution_id`` instead (SNS messages
    carry no execution id). ``custom_data`` and ``external_entity_link`` are the action's ``CustomData``
    and ``ExternalEntityLink`` (``None`` when unset: AWS sends them as null). ``expires`` is when the
    approval fails unanswered (UTC; AWS gives it to the minute), ``None`` when the message has none or an
    unreadable one. ``message_id`` is the SNS ``MessageId`` or the EventBridge event's ``id``: both are
    delivered at least once, so dedupe on it. ``topic_arn`` is the SNS topic it came through;
    ``account_id`` and ``region`` where the pipeline lives, when the event says.
    """

    pipeline: str
    stage: str
    action: str
    token: str | None = attrs.field(default=None, repr=False)
    execution_id: str | None = None
    region: str | None = None
    account_id: str | None = None
    custom_data: str | None = None
    external_entity_link: str | None = None
    expires: datetime | None = None
    message_id: str | None = None
    topic_arn: str | None = None

    def approval(self, codepipeline: CodePipeline, *, wait: float = 0.0) -> Approval:
        """The :class:`~pipepilot.Approval` handle of exactly this approval, to answer it.

        With a token (an SNS notification) the handle is pinned to it and nothing is read: answering it
        can only answer the approval run the token was minted for, never another execution's. With an
        execution id (an EventBridge event) the handle is that execution's approval, looked up with one
        ``GetPipeline`` and one ``GetPipelineState``; an approval that execution already answered still
        comes back (answering it the same way again is a logged success). EventBridge may deliver the
        event before the approval shows as waiting: ``wait`` (seconds) polls for it that long instead of
        failing at once.

        ``codepipeline`` must be in the pipeline's region (``region``, when the notification names one).

        Raises:
            NoApprovalWaitingError: (execution id only) the execution does not wait there and has not
                answered it, and did not get there within ``wait`` seconds.
            ExecutionUnsuccessful: (execution id, ``wait`` > 0) the execution ended before reaching it.
            WaitTimeout: (execution id, ``wait`` > 0) it did not reach the approval within ``wait``.
            InvalidArgumentError: the notification has neither a token nor an execution id, or
                ``codepipeline`` is in another region than the one the notification names.
        """
        from pipepilot.errors import InvalidArgumentError, NoApprovalWaitingError

        facade_region = getattr(codepipeline.client.meta, "region_name", None)
        if self.region is not None and facade_region is not None and facade_region != self.region:
            raise InvalidArgumentError(
                f"the approval {self.describe()} is in region {self.region}, the facade in {facade_region}: "
                "answer it with a CodePipeline facade of the pipeline's region",
                parameter="codepipeline",
            )
        pipeline = codepipeline.pipeline(self.pipeline)
        if self.token is not None:
            handle = pipeline.approval(self.stage, self.action, token=self.token, execution=self.execution_id)
            return attrs.evolve(
                handle,
                custom_data=self.custom_data,
                external_entity_link=self.external_entity_link,
                expires=self.expires,
                region=self.region or handle.region,
            )
        if self.execution_id is None:
            raise InvalidArgumentError(
                f"the notification of {self.describe()} has neither a token nor an execution id: "
                "there is no telling which approval it means",
                parameter="notification",
            )
        try:
            return pipeline.approval(self.stage, self.action, execution=self.execution_id)
        except NoApprovalWaitingError:
            if wait <= 0:
                raise
        from pipepilot.polling import PollPolicy

        # Bounded: an approval that does not show up within ``wait`` is an error the caller sees.
        interval = min(2.0, wait)
        policy = PollPolicy(interval=interval, max_interval=max(interval, min(10.0, wait)), timeout=wait)
        return pipeline.wait_for_approval(self.stage, self.action, execution=self.execution_id, poll=policy)

    def describe(self) -> str:
        """``approval Prod/Approve of pipeline 'web'`` (with the execution when known; never the token)."""
        text = f"approval {self.stage}/{self.action} of pipeline {self.pipeline!r}"
        if self.execution_id:
            text += f" (execution {self.execution_id})"
        return text


def read_notifications(event: object) -> list[ApprovalNotification]:
    """The approval notifications in a Lambda event, in order.

    ``event`` may be what SNS gives a subscribed function (``{"Records": [...]}``, every record is read;
    records of an SQS queue subscribed to the topic are read too, with or without raw message delivery),
    an approval message on its own (its JSON text, or the parsed dict), or a CodePipeline EventBridge
    event. An action event of category ``Approval`` in state ``STARTED`` is a notification (with the
    execution id, without a token); any other CodePipeline event (another state, category or detail
    type) is not one and gives an empty list, so a broad EventBridge rule does no harm. Keys AWS sends as
    null (``customData``, ``externalEntityLink``, ``approvalReviewLink``, ``expires``) are read as unset.

    Raises:
        MalformedEventError: the event is none of these, or lacks what a notification needs (pipeline,
            stage, action, and a token or an execution id); nothing was answered. The error says what is
            wrong and where (``path``), never a value it found.
    """
    if isinstance(event, (str, bytes, bytearray)):
        return [_from_message(_parse_json(event, "event"), path="event")]
    if not isinstance(event, Mapping):
        raise _malformed(f"expected a mapping or JSON text, got {type(event).__name__}", "event")
    if "Records" in event:
        records = event["Records"]
        if not isinstance(records, list):
            raise _malformed(f"Records must be a list, not {_kind(records)}", "Records")
        return [_from_record(record, f"Records[{index}]") for index, record in enumerate(records)]
    if "detail-type" in event or "detailType" in event or event.get("source") == _PIPELINE_SOURCE:
        found = _from_eventbridge(event)
        return [] if found is None else [found]
    if "approval" in event:
        return [_from_message(event, path="event")]
    raise _malformed(
        "not an SNS event (Records), an approval message (approval) or a CodePipeline EventBridge event "
        f"(keys: {', '.join(sorted(str(key) for key in event)[:10]) or 'none'})",
        "event",
    )


# ----------------------------------------------------------------------------------------------- readers


def _from_record(record: object, path: str) -> ApprovalNotification:
    if not isinstance(record, Mapping):
        raise _malformed(f"expected an SNS record (a mapping), got {_kind(record)}", path)
    source = record.get("EventSource", record.get("eventSource"))
    if source == "aws:sqs":
        return _from_sqs_record(record, path)
    if source is not None and source != "aws:sns":
        raise _malformed(
            f"EventSource is {_short(source)}, not 'aws:sns' or 'aws:sqs'", f"{path}.EventSource"
        )
    sns = record.get("Sns")
    if not isinstance(sns, Mapping):
        raise _malformed(f"missing or not a mapping ({_kind(sns)})", f"{path}.Sns")
    return _from_envelope(sns, f"{path}.Sns")


def _from_sqs_record(record: Mapping[str, Any], path: str) -> ApprovalNotification:
    """An SQS record whose body is the SNS envelope (a topic subscribed by a queue) or, with raw message
    delivery, the approval message itself."""
    body = record.get("body")
    if not isinstance(body, str):
        raise _malformed(f"expected the message as text, got {_kind(body)}", f"{path}.body")
    parsed = _parse_json(body, f"{path}.body")
    if isinstance(parsed, Mapping) and "Message" in parsed:
        return _from_envelope(parsed, f"{path}.body")
    notification = _from_message(parsed, path=f"{path}.body")
    return attrs.evolve(notification, message_id=_text(record, "messageId"))


def _from_envelope(sns: Mapping[str, Any], path: str) -> ApprovalNotification:
    """The SNS envelope (``Records[i].Sns``, or an SQS body): its Message, MessageId and TopicArn."""
    message = sns.get("Message")
    if not isinstance(message, str):
        raise _malformed(
            f"expected the approval message as JSON text, got {_kind(message)}", f"{path}.Message"
        )
    topic = _text(sns, "TopicArn")
    notification = _from_message(_parse_json(message, f"{path}.Message"), path=f"{path}.Message")
    arn = (topic or "").split(":")
    return attrs.evolve(
        notification,
        message_id=_text(sns, "MessageId"),
        topic_arn=topic,
        account_id=arn[4] if len(arn) > 5 and arn[4] else None,
        region=notification.region or (arn[3] if len(arn) > 5 and arn[3] else None),
    )


def _from_message(message: object, *, path: str) -> ApprovalNotification:
    if not isinstance(message, Mapping):
        raise _malformed(f"expected an approval message (a JSON object), got {_kind(message)}", path)
    approval = message.get("approval")
    if not isinstance(approval, Mapping):
        raise _malformed(
            f"not an approval notification: 'approval' is {_kind(approval)}, expected an object",
            f"{path}.approval",
        )
    where = f"{path}.approval"
    return ApprovalNotification(
        pipeline=_required(approval, "pipelineName", where),
        stage=_required(approval, "stageName", where),
        action=_required(approval, "actionName", where),
        token=_required(approval, "token", where),
        region=_text(message, "region"),
        custom_data=_text(approval, "customData"),
        external_entity_link=_text(approval, "externalEntityLink"),
        expires=_expiry(approval.get("expires")),
    )


def _from_eventbridge(event: Mapping[str, Any]) -> ApprovalNotification | None:
    source = event.get("source")
    if source != _PIPELINE_SOURCE:
        raise _malformed(f"source is {_short(source)}, not {_PIPELINE_SOURCE!r}", "source")
    if event.get("detail-type", event.get("detailType")) != _ACTION_EVENT:
        return None  # a pipeline or stage event: not an approval request
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise _malformed(f"expected a mapping, got {_kind(detail)}", "detail")
    action_type = detail.get("type")
    category = action_type.get("category") if isinstance(action_type, Mapping) else None
    if category != "Approval" or detail.get("state") != "STARTED":
        return None  # another action, or an approval that ended: nothing to answer
    return ApprovalNotification(
        pipeline=_required(detail, "pipeline", "detail"),
        stage=_required(detail, "stage", "detail"),
        action=_required(detail, "action", "detail"),
        execution_id=_required(detail, "execution-id", "detail"),
        region=_text(event, "region") or _text(detail, "region"),
        account_id=_text(event, "account"),
        message_id=_text(event, "id"),
    )


# ------------------------------------------------------------------------------------------------ fields


def _parse_json(text: str | bytes | bytearray, path: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else type(error).__name__
    # Raised outside the ``except``: a JSONDecodeError keeps the whole text (token included) in its
    # ``doc``, and it must not travel along as the new error's context.
    raise _malformed(f"not JSON ({reason})", path)


def _required(data: Mapping[str, Any], key: str, path: str) -> str:
    value = data.get(key)
    if type(value) is not str or not value:
        state = "missing" if value is None else f"{_kind(value)}, expected a non-empty string"
        raise _malformed(f"{key} is {state}", f"{path}.{key}")
    return value


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if type(value) is str and value else None


def _expiry(value: object) -> datetime | None:
    """``expires`` as an aware UTC datetime; ``None`` when absent, null or unreadable (never an error)."""
    if type(value) is not str:
        return None
    match = _EXPIRES.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=timezone.utc,
        )
    except ValueError:
        return None
    if offset and offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        from datetime import timedelta

        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _short(value: object) -> str:
    # Only for fields that are never secret (source, EventSource); cut so an attack cannot flood logs.
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _malformed(message: str, path: str) -> MalformedEventError:
    from pipepilot.errors import MalformedEventError

    return MalformedEventError(f"cannot read the approval notification at {path}: {message}", path=path)
