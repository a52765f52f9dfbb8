"""An approval bot for AWS Lambda: approves what its rules allow, leaves the rest to a human.

Deploy it as it is with ``template.yaml`` (see README.md): the function is subscribed to the approval's SNS
topic, and CodePipeline's notification reaches :func:`handler`. Configuration comes from the environment
(the template sets it from its parameters):

* ``PIPELINE_NAMES``: the pipelines it answers for, comma-separated; notifications of others are left alone.
* ``APPROVE_CUSTOM_DATA``: a regular expression; the approval is approved when the action's custom data
  matches it as a whole (for example ``branch=main``). Empty: never approve.
* ``REJECT_CUSTOM_DATA``: a regular expression; the approval is rejected when the custom data matches it.
* ``HOLD_REVISION_SUMMARY``: a regular expression; when a source revision's summary (the commit message)
  contains a match (``\\[hold\\]``, say), the approval is left to a human whatever the custom data says.

Every other approval is left for a human. Each answer's summary says it was this function, and why.
Nothing here names a stage or an action: the notification says which approval it is, and pipepilot
answers exactly that one (its token), never another execution's.
"""

from __future__ import annotations

import os
import re

from pipepilot.awslambda import ApprovalRequest, Approve, Leave, Reject, approval_bot


def _pattern(variable: str) -> re.Pattern[str] | None:
    text = os.environ.get(variable, "").strip()
    return re.compile(text) if text else None


PIPELINES = [name.strip() for name in os.environ.get("PIPELINE_NAMES", "").split(",") if name.strip()]
APPROVE_CUSTOM_DATA = _pattern("APPROVE_CUSTOM_DATA")
REJECT_CUSTOM_DATA = _pattern("REJECT_CUSTOM_DATA")
HOLD_REVISION_SUMMARY = _pattern("HOLD_REVISION_SUMMARY")


@approval_bot(pipelines=PIPELINES or None)
def handler(request: ApprovalRequest) -> Approve | Reject | Leave:
    """Approve, reject or leave the notified approval, by the rules configured above."""
    custom_data = request.custom_data or ""
    if REJECT_CUSTOM_DATA is not None and REJECT_CUSTOM_DATA.fullmatch(custom_data):
        return Reject(f"custom data {custom_data!r} is refused by rule")
    if APPROVE_CUSTOM_DATA is None or not APPROVE_CUSTOM_DATA.fullmatch(custom_data):
        return Leave("no rule approves it")
    if HOLD_REVISION_SUMMARY is not None:
        # Reads the execution (one call) only when this rule is configured.
        for revision in request.revisions:
            if HOLD_REVISION_SUMMARY.search(revision.revision_summary or ""):
                return Leave(f"revision {revision.revision_id} asks for a hold")
    return Approve(f"custom data {custom_data!r} matches the approval rule")
