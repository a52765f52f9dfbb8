"""The Slack messages of an approval: the request with its buttons, and the updates after a click (pure).

The request shows what a reviewer needs (pipeline, stage, action, execution, custom data, the external
entity link, the pipeline's console page, the expiry) and two buttons. What the buttons carry is the one
security decision here: the pipeline, stage, action and execution id, as compact JSON, and **never the
approval token**. The token is a release credential; Slack (and whoever reads the channel's history, its
exports and integrations) never receives it. The console link is the pipeline's page, not the review link
of the notification, which embeds the token too: the console shows a signed-in reviewer the Review button
without it. When the button is pressed, the handler finds the token again inside AWS, for that execution.

Text from the pipeline (custom data, names) is escaped for Slack's mrkdwn, so a ``<!channel>`` in a commit
message reaches nobody, and links are shown as links only when they are http(s) URLs.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import attrs

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "ACTIONS_BLOCK",
    "APPROVE_ACTION",
    "REASON_ACTION",
    "REASON_BLOCK",
    "REJECT_ACTION",
    "ApprovalCard",
    "ButtonTarget",
    "decode_button",
    "encode_button",
    "ephemeral",
    "escape",
    "pipeline_page",
    "request_message",
    "updated_message",
]

#: ``action_id`` of the Approve and Reject buttons, and the ids of the blocks pipepilot replaces on update.
APPROVE_ACTION = "pipepilot_approve"
REJECT_ACTION = "pipepilot_reject"
ACTIONS_BLOCK = "pipepilot_actions"
REASON_BLOCK = "pipepilot_reason"
REASON_ACTION = "pipepilot_reason_text"

_BUTTON_VERSION = 1
# Slack's limits: a button value up to 2,000 characters, a section's text up to 3,000, a field 2,000.
_MAX_BUTTON_VALUE = 2000
_MAX_SECTION_TEXT = 3000
_KEYS = frozenset({"v", "p", "s", "a", "e"})
_NAME = re.compile(r"[A-Za-z0-9.@\-_]{1,100}")
_EXECUTION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@attrs.frozen(kw_only=True)
class ButtonTarget:
    """What an approval button names: one approval of one execution (no token, ever).

    ``run_id`` is the approval run (its action execution id) when it was known: a stage retried in the same
    execution runs the approval again, and a click on the older request must not answer the newer one.
    """

    pipeline: str
    stage: str
    action: str
    execution_id: str
    run_id: str | None = None


def encode_button(target: ButtonTarget) -> str:
    """The button value naming ``target``: compact JSON, well under Slack's 2,000 characters."""
    fields = {
        "v": _BUTTON_VERSION,
        "p": target.pipeline,
        "s": target.stage,
        "a": target.action,
        "e": target.execution_id,
    }
    if target.run_id is not None:
        fields["r"] = target.run_id
    value = json.dumps(fields, separators=(",", ":"))
    assert len(value) <= _MAX_BUTTON_VALUE  # names are at most 100 characters each
    return value


def decode_button(value: str) -> ButtonTarget | None:
    """The approval a button value names; ``None`` unless it is exactly what :func:`encode_button` makes.

    Names are checked against CodePipeline's patterns and the execution id must be a UUID, so what is read
    here can be passed to AWS as it is.
    """
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if (
        not isinstance(data, dict)
        or data.get("v") != _BUTTON_VERSION
        or not _KEYS <= set(data) <= _KEYS | {"r"}
    ):
        return None
    run_id = data.get("r")
    if run_id is not None and (not isinstance(run_id, str) or not _EXECUTION_ID.fullmatch(run_id)):
        return None
    pipeline, stage, action, execution_id = data["p"], data["s"], data["a"], data["e"]
    names = (pipeline, stage, action)
    if not all(isinstance(name, str) and _NAME.fullmatch(name) for name in names):
        return None
    if not isinstance(execution_id, str) or not _EXECUTION_ID.fullmatch(execution_id):
        return None
    return ButtonTarget(
        pipeline=pipeline, stage=stage, action=action, execution_id=execution_id, run_id=run_id
    )


@attrs.frozen(kw_only=True)
class ApprovalCard:
    """What the Slack request shows about one waiting approval (no token: it has none to show)."""

    pipeline: str
    stage: str
    action: str
    execution_id: str | None
    run_id: str | None = None
    region: str | None = None
    custom_data: str | None = None
    external_entity_link: str | None = None
    expires: datetime | None = None


def pipeline_page(pipeline: str, region: str | None, execution_id: str | None = None) -> str:
    """The console page of ``pipeline`` (of one execution, when given): no token in it.

    A reviewer signed in to the console reviews the approval from there; the notification's own review link
    embeds the approval token, and is therefore never sent to Slack.
    """
    region = region or "us-east-1"
    base = (
        f"https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{quote(pipeline, safe='')}"
    )
    if execution_id:
        return f"{base}/executions/{quote(execution_id, safe='')}/timeline?region={region}"
    return f"{base}/view?region={region}"


def escape(text: str) -> str:
    """``text`` safe inside Slack mrkdwn: ``&``, ``<`` and ``>`` escaped (so no mention or link is made)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, label: str) -> str:
    """A mrkdwn link to ``url`` when it is an http(s) URL, else the URL as escaped text."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or any(c in url for c in "<>| ")
    ):
        return escape(url)
    return f"<{url}|{escape(label)}>"


def _when(moment: datetime) -> str:
    """``moment`` as Slack's date token (shown in each reader's time zone), with a UTC fallback."""
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    utc = moment.astimezone(timezone.utc)
    fallback = utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def request_message(card: ApprovalCard, *, with_buttons: bool = True) -> dict[str, Any]:
    """The Slack message asking for a decision on ``card``: ``{"text": ..., "blocks": [...]}``.

    With buttons (the default) the message has an optional reason field and Approve/Reject buttons, each
    asking for confirmation; their values name the approval and its execution (never the token). Without
    them (the approval's execution could not be found) the message says to answer in the console.
    """
    title = f"Approval needed: {card.pipeline} / {card.stage} / {card.action}"
    fields = [
        f"*Pipeline*\n{escape(card.pipeline)}",
        f"*Stage / action*\n{escape(card.stage)} / {escape(card.action)}",
    ]
    if card.execution_id:
        page = pipeline_page(card.pipeline, card.region, card.execution_id)
        fields.append(f"*Execution*\n{_link(page, card.execution_id[:8])}")
    if card.expires is not None:
        fields.append(f"*Expires*\n{_when(card.expires)}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, 150), "emoji": False}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": field} for field in fields]},
    ]
    if card.custom_data:
        blocks.append(_section(f"*Notes*\n{escape(card.custom_data)}"))
    links = [_link(pipeline_page(card.pipeline, card.region), "Open the pipeline in the AWS console")]
    if card.external_entity_link:
        links.append(_link(card.external_entity_link, "What to review"))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]})
    if not with_buttons or card.execution_id is None:
        blocks.append(
            _section(
                "_This approval could not be tied to one execution, so it has no buttons: "
                "answer it in the AWS console._"
            )
        )
        return {"text": title, "blocks": blocks}
    value = encode_button(
        ButtonTarget(
            pipeline=card.pipeline,
            stage=card.stage,
            action=card.action,
            execution_id=card.execution_id,
            run_id=card.run_id,
        )
    )
    blocks.append(
        {
            "type": "input",
            "block_id": REASON_BLOCK,
            "optional": True,
            "label": {"type": "plain_text", "text": "Reason (optional; recorded with the decision)"},
            "element": {"type": "plain_text_input", "action_id": REASON_ACTION, "max_length": 300},
        }
    )
    target = f"{card.pipeline} / {card.stage}"
    blocks.append(
        {
            "type": "actions",
            "block_id": ACTIONS_BLOCK,
            "elements": [
                _button("Approve", APPROVE_ACTION, value, "primary", f"Approve {target}?"),
                _button(
                    "Reject", REJECT_ACTION, value, "danger", f"Reject {target}? The execution will fail."
                ),
            ],
        }
    )
    return {"text": title, "blocks": blocks}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, _MAX_SECTION_TEXT)}}


def _button(label: str, action_id: str, value: str, style: str, question: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "style": style,
        "value": value,
        "confirm": {
            "title": {"type": "plain_text", "text": f"{label}?"},
            "text": {"type": "plain_text", "text": _clip(question, 300)},
            "confirm": {"type": "plain_text", "text": label},
            "deny": {"type": "plain_text", "text": "Cancel"},
        },
    }


def updated_message(original_blocks: Iterable[Mapping[str, Any]], outcome: str) -> dict[str, Any]:
    """The clicked message with its reason field and buttons replaced by ``outcome`` (mrkdwn), so nobody
    presses them again: ``{"replace_original": true, "text": ..., "blocks": [...]}`` for ``response_url``."""
    kept = [
        dict(block) for block in original_blocks if block.get("block_id") not in (ACTIONS_BLOCK, REASON_BLOCK)
    ]
    kept.append(_section(outcome))
    return {"replace_original": True, "text": _clip(outcome, 300), "blocks": kept}


def ephemeral(text: str) -> dict[str, Any]:
    """A reply only the clicking user sees, leaving the message (and its buttons) as they are."""
    return {"response_type": "ephemeral", "replace_original": False, "text": text}
