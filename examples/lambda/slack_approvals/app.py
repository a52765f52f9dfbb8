"""Slack approvals for AWS Lambda: a notifier posts each approval to Slack, a handler answers its buttons.

Deploy it as it is with ``template.yaml`` (see README.md). Two functions share this module:

* :data:`notify` is subscribed to the approval's SNS topic. It posts the approval to Slack (incoming webhook)
  with Approve/Reject buttons naming the pipeline, stage, action and execution, never the approval token.
* :data:`interact` sits behind a Lambda function URL, set as the Slack app's interactivity request URL. It
  checks Slack's signature (five-minute window, no replays), checks the user against the allow-list, answers
  exactly the execution the button names, and replaces the buttons with the outcome.

Configuration comes from the environment (the template sets it from its parameters):

* ``SLACK_SECRET_ARN``: a Secrets Manager secret holding JSON with ``signing_secret`` (the Slack app's
  signing secret) and ``webhook_url`` (an incoming webhook), or ``bot_token`` when ``SLACK_CHANNEL`` is set.
* ``SLACK_CHANNEL``: post with ``chat.postMessage`` to this channel id instead of the webhook (optional).
* ``SLACK_TEAM_ID``: the Slack workspace whose clicks count (``T...``).
* ``SLACK_APPROVERS``: the allow-list as JSON, Slack user ids to ``pipeline/stage`` patterns, e.g.
  ``{"U0123ABCD": ["release/Prod"], "U0456EFGH": "*"}``.

Nothing is read at import (a cold start pays only for the imports): the secret is read on the first
request, once per container.
"""

from __future__ import annotations

import os

from pipepilot.awslambda import Secret
from pipepilot.awslambda.slack import Approvers, SlackInteractions, SlackNotifier

SECRET_ARN = os.environ.get("SLACK_SECRET_ARN", "")
CHANNEL = os.environ.get("SLACK_CHANNEL") or None

if CHANNEL is None:
    notify = SlackNotifier(webhook_url=Secret.secrets_manager(SECRET_ARN, key="webhook_url"))
else:
    notify = SlackNotifier(bot_token=Secret.secrets_manager(SECRET_ARN, key="bot_token"), channel=CHANNEL)

interact = SlackInteractions(
    signing_secret=Secret.secrets_manager(SECRET_ARN, key="signing_secret"),
    team_id=os.environ.get("SLACK_TEAM_ID", ""),
    approvers=Approvers.from_json(os.environ.get("SLACK_APPROVERS", "{}")),
)
