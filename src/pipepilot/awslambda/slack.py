"""Slack approvals with safe defaults: a notifier and an interaction handler, each a Lambda handler.

Needs the ``slack`` extra (``pip install 'pipepilot[slack]'``, which adds Slack's official ``slack_sdk``).

* :class:`SlackNotifier` is subscribed to the approval's SNS topic (or an EventBridge rule). For each
  approval notification it posts a message with Approve and Reject buttons to Slack, through an incoming
  webhook or ``chat.postMessage``. The buttons name the pipeline, stage, action, execution and approval
  run, never the approval token: the token is a release credential and never leaves AWS. It is looked up
  again inside AWS when a button is pressed.
* :class:`SlackInteractions` answers Slack's interactivity requests behind a Lambda function URL or API
  Gateway (payload formats 1.0 and 2.0). It checks Slack's signature over the raw body, within five
  minutes, before reading anything, and refuses a request it has already accepted; checks the clicking user
  against an allow-list (:class:`Approvers`); answers the approval of the execution the button names,
  exactly once; and replaces the buttons with the outcome (approved by X, rejected by X, already decided,
  no longer waiting) through the interaction's ``response_url``.

Secrets (the signing secret, a bot token, a webhook URL) are :class:`~pipepilot.awslambda.Secret` values,
read once per cold start. Nothing here logs a token, a secret, a response URL or a request body.

How long a click takes: Slack wants the HTTP answer within 3 seconds. The handler does its AWS work before
answering (Python Lambda functions cannot keep working after their response is sent), which takes four or
five CodePipeline calls; its default CodePipeline client is set to give up well within that budget (three
attempts, two seconds, short socket timeouts) and tells the user to press again if AWS did not answer in
time: pressing again is safe, since answering is idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

try:
    import slack_sdk  # noqa: F401  (only to fail early, and clearly, without the extra)
except ImportError:
    raise ImportError("pipepilot.awslambda.slack needs Slack's SDK: pip install 'pipepilot[slack]'") from None

from pipepilot.awslambda._secrets import Secret
from pipepilot.awslambda._slack_access import Approvers
from pipepilot.awslambda._slack_blocks import (
    APPROVE_ACTION,
    REASON_ACTION,
    REASON_BLOCK,
    REJECT_ACTION,
    ApprovalCard,
    ButtonTarget,
    decode_button,
    ephemeral,
    escape,
    request_message,
    updated_message,
)
from pipepilot.awslambda._slack_http import (
    ButtonClick,
    HttpRequest,
    ReplayGuard,
    RequestRefused,
    SignatureCheck,
    http_response,
    parse_click,
)
from pipepilot.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    NoApprovalWaitingError,
    NotFoundError,
    PipepilotError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from pipepilot.awslambda._notifications import ApprovalNotification
    from pipepilot.pipelines import CodePipeline, Pipeline

__all__ = [
    "Approvers",
    "SlackInteractions",
    "SlackNotifier",
    "SlackPostError",
    "slack_group_members",
]

logger = logging.getLogger(__name__)

# Largest summary PutApprovalResult accepts.
_MAX_SUMMARY = 512
# Runs of the pipeline read, at most, to find which execution a notified token belongs to.
_MAX_RUNS_SCANNED = 200


class SlackPostError(PipepilotError):
    """Slack refused or did not answer a post (a message, or an update through ``response_url``).

    ``status`` is the HTTP status (``None`` without an answer); ``slack_error`` Slack's error code
    (``invalid_token``, ``channel_not_found``, ...) when it gave one. The message never holds the URL or
    token used.
    """

    def __init__(self, message: str, *, status: int | None = None, slack_error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.slack_error = slack_error


def _secret_reader(value: Secret | str | None, name: str) -> Callable[[], str] | None:
    """A callable returning the secret ``value`` names (read once per process), or ``None``."""
    if value is None:
        return None
    if isinstance(value, Secret):
        return value.value
    if isinstance(value, str) and value:
        return lambda: value
    raise ArgumentTypeError(f"{name} must be a Secret or a non-empty string", parameter=name)


def _lazy_facade(
    codepipeline: CodePipeline | Callable[[], CodePipeline] | None, *, quick: bool
) -> Callable[[], CodePipeline]:
    """A callable returning the CodePipeline facade, built on first use (never at import or construction)."""
    from pipepilot.pipelines import CodePipeline

    if isinstance(codepipeline, CodePipeline):
        given = codepipeline
        return lambda: given
    if codepipeline is not None and not callable(codepipeline):
        raise ArgumentTypeError(
            "codepipeline must be a pipepilot.CodePipeline or a callable returning one",
            parameter="codepipeline",
        )
    factory = codepipeline
    built: list[CodePipeline] = []
    lock = threading.Lock()

    def facade() -> CodePipeline:
        if not built:
            with lock:
                if not built:
                    built.append(factory() if factory is not None else _default_facade(quick=quick))
        return built[0]

    return facade


def _default_facade(*, quick: bool) -> CodePipeline:
    """The CodePipeline facade of the function's region; ``quick`` bounds every call to fit Slack's 3 s."""
    from pipepilot.pipelines import CodePipeline

    if not quick:
        return CodePipeline()
    from botocore.config import Config

    from pipepilot._retry import RetryPolicy

    return CodePipeline(
        retry=RetryPolicy(max_attempts=2, deadline=1.0, base_delay=0.1, max_delay=0.25),
        config=Config(connect_timeout=1, read_timeout=1.5),
    )


# ------------------------------------------------------------------------------------------ the notifier


class SlackNotifier:
    """A Lambda handler posting each approval notification to Slack as a message with Approve/Reject buttons.

    Subscribe the function to the approval's SNS topic (an EventBridge rule on approval action events works
    too). Give exactly one way to post: ``webhook_url`` (an incoming webhook; the channel is the webhook's),
    ``bot_token`` and ``channel`` (``chat.postMessage``), or ``post`` (a callable receiving the message,
    for tests and unusual transports). Secrets are :class:`~pipepilot.awslambda.Secret` values (or plain
    strings), read on the first message, once per cold start. ``codepipeline`` is the facade (or a
    callable making it) used to find the approval's execution; by default one is made, on first use, in
    the function's region.

    The message shows pipeline, stage, action, execution, custom data, the external entity link, the
    pipeline's console page and the expiry; the buttons carry the pipeline, stage, action, execution id and
    approval run id, never the token, which is not in the message at all (the console link is the
    pipeline's page, not the notification's review link, which embeds it). The execution is found inside
    AWS from the token (``GetPipelineState``; in PARALLEL mode, ``ListActionExecutions``). When it cannot be
    found (the approval was answered or expired before the message was handled), the message is posted
    without buttons and says to use the console. A notification already posted by this process (SNS
    delivers at least once) is not posted again.

    Calling it returns ``{"posted": n, "duplicates": n}``. A malformed event raises
    :class:`~pipepilot.errors.MalformedEventError` (nothing is posted); Slack refusing a post raises
    :class:`SlackPostError` (Lambda's retry then posts it again); AWS errors other than "not found" raise
    as pipepilot errors.

    Raises:
        ArgumentTypeError / InvalidArgumentError: not exactly one way to post, or ``bot_token`` without
            ``channel``.
    """

    def __init__(
        self,
        *,
        webhook_url: Secret | str | None = None,
        bot_token: Secret | str | None = None,
        channel: str | None = None,
        post: Callable[[Mapping[str, Any]], None] | None = None,
        codepipeline: CodePipeline | Callable[[], CodePipeline] | None = None,
        timeout: float = 5.0,
    ) -> None:
        ways = [way for way in (webhook_url, bot_token, post) if way is not None]
        if len(ways) != 1:
            raise InvalidArgumentError(
                "give exactly one of webhook_url=, bot_token= (with channel=) or post=",
                parameter="webhook_url",
            )
        if bot_token is not None and not channel:
            raise InvalidArgumentError(
                "bot_token= needs channel= (the channel id to post to)", parameter="channel"
            )
        if post is not None and not callable(post):
            raise ArgumentTypeError("post must be a callable taking the message", parameter="post")
        self._webhook_url = _secret_reader(webhook_url, "webhook_url")
        self._bot_token = _secret_reader(bot_token, "bot_token")
        self._channel = channel
        self._post = post
        self._timeout = timeout
        self._facade = _lazy_facade(codepipeline, quick=False)
        self._posted: OrderedDict[str, None] = OrderedDict()
        self._posted_lock = threading.Lock()

    def __repr__(self) -> str:
        way = "webhook" if self._webhook_url else "chat.postMessage" if self._bot_token else "custom post"
        return f"SlackNotifier({way})"

    def __call__(self, event: object, context: object = None) -> dict[str, int]:
        """Post every approval notification in ``event``; see the class docstring."""
        from pipepilot.awslambda._notifications import read_notifications

        notifications = read_notifications(event)  # raises before anything is posted
        posted = duplicates = 0
        for notification in notifications:
            if notification.message_id is not None and self._seen(notification.message_id):
                logger.info(
                    "%s was already posted to Slack (message %s)",
                    notification.describe(),
                    notification.message_id,
                )
                duplicates += 1
                continue
            self.notify(notification)
            if notification.message_id is not None:
                self._remember(notification.message_id)
            posted += 1
        return {"posted": posted, "duplicates": duplicates}

    def notify(self, notification: ApprovalNotification) -> dict[str, Any]:
        """Post the message for one notification and return it (the dict that was posted).

        Raises:
            SlackPostError: Slack refused the post or did not answer.
        """
        execution_id, run_id = self._resolve(notification)
        card = ApprovalCard(
            pipeline=notification.pipeline,
            stage=notification.stage,
            action=notification.action,
            execution_id=execution_id,
            run_id=run_id,
            region=notification.region,
            custom_data=notification.custom_data,
            external_entity_link=notification.external_entity_link,
            expires=notification.expires,
        )
        message = request_message(card)
        self._send(message)
        if execution_id is None:
            logger.warning(
                "posted %s to Slack without buttons: its execution was not found", notification.describe()
            )
        else:
            logger.info("posted %s to Slack (execution %s)", notification.describe(), execution_id)
        return message

    def _resolve(self, notification: ApprovalNotification) -> tuple[str | None, str | None]:
        """The execution id and approval run id of the notified approval, found inside AWS from its token."""
        if notification.token is None:
            return notification.execution_id, None  # an EventBridge event names its execution
        try:
            pipeline = self._facade().pipeline(notification.pipeline)
            return _run_of_token(pipeline, notification.stage, notification.action, notification.token)
        except NotFoundError:
            return None, None  # the pipeline (or stage) is gone: nothing to approve from Slack

    def _seen(self, message_id: str) -> bool:
        with self._posted_lock:
            return message_id in self._posted

    def _remember(self, message_id: str) -> None:
        with self._posted_lock:
            self._posted[message_id] = None
            while len(self._posted) > 1000:
                self._posted.popitem(last=False)

    def _send(self, message: Mapping[str, Any]) -> None:
        """Post ``message`` the configured way.

        Raises:
            SlackPostError: Slack refused it, or could not be reached (the error names neither the webhook
                URL nor the token, and chains nothing that does).
        """
        if self._post is not None:
            self._post(message)
            return
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError
        from slack_sdk.webhook import WebhookClient

        refused: SlackPostError | None = None
        try:
            if self._webhook_url is not None:
                response = WebhookClient(self._webhook_url(), timeout=int(self._timeout)).send_dict(
                    dict(message)
                )
                if response.status_code != 200:
                    body = str(response.body)[:100]
                    refused = SlackPostError(
                        f"Slack refused the message (HTTP {response.status_code}: {body})",
                        status=response.status_code,
                        slack_error=body,
                    )
            else:
                assert self._bot_token is not None
                assert self._channel is not None
                WebClient(token=self._bot_token(), timeout=int(self._timeout)).chat_postMessage(
                    channel=self._channel, text=message["text"], blocks=message["blocks"]
                )
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            refused = SlackPostError(
                f"Slack refused chat.postMessage ({code})",
                status=error.response.status_code,
                slack_error=code,
            )
        except (OSError, ValueError) as error:  # urllib's URLError, timeouts, a malformed URL
            refused = SlackPostError(f"could not reach Slack ({type(error).__name__})")
        if refused is not None:
            raise refused  # outside the except blocks: the errors they caught carry the URL or token


def _run_of_token(pipeline: Pipeline, stage: str, action: str, token: str) -> tuple[str | None, str | None]:
    """The execution id and action execution id of the approval run ``token`` belongs to, or ``(None, None)``.

    ``GetPipelineState`` shows the token of the approval waiting at ``stage``/``action``; in PARALLEL mode
    it shows none, and the run whose ``externalExecutionId`` is the token (as AWS documents for that mode)
    is looked for among the pipeline's latest action runs instead.
    """
    from pipepilot._handles import action_runs
    from pipepilot.approvals import waiting_in_state

    for waiting in waiting_in_state(pipeline.state()):
        if waiting.stage == stage and waiting.action == action and waiting.token == token:
            return waiting.execution_id, waiting.action_execution_id
    for scanned, run in enumerate(action_runs(pipeline._calls, pipeline.name)):
        if scanned >= _MAX_RUNS_SCANNED:
            break
        result = None if run.output is None else run.output.execution_result
        matches = run.stage_name == stage and run.action_name == action
        if matches and result is not None and result.external_execution_id == token:
            return run.pipeline_execution_id, run.action_execution_id
    return None, None


# ----------------------------------------------------------------------------- the interaction handler


class SlackInteractions:
    """A Lambda handler for Slack's interactivity requests: verifies, authorises, answers, updates the message.

    Put it behind a Lambda function URL or API Gateway (HTTP API or REST API, proxy integration) and set
    that URL as the Slack app's interactivity request URL. ``signing_secret`` is the app's signing secret
    (a :class:`~pipepilot.awslambda.Secret`, read once per cold start). ``team_id`` is the Slack workspace
    (or several) whose clicks count. ``approvers`` says who may answer what. ``codepipeline`` is the facade
    (or a callable making it): by default one in the function's region whose calls give up within about
    two seconds, to fit Slack's 3-second limit. ``respond`` posts a JSON body to a ``response_url``
    (default: slack_sdk's ``WebhookClient``); tests inject one. ``clock`` returns epoch seconds (for the
    five-minute window).

    What each request gets, in this order (nothing is parsed before the signature is checked):

    * 400: not an HTTP request from Lambda, a malformed body (not form-encoded, no payload, not a button
      click, a button value pipepilot did not make); 405 for a method other than POST.
    * 401: a signature or timestamp header missing or malformed, a timestamp more than five minutes away
      (a request stamped in 2001), a wrong signature (forged, or signed with the legacy verification token
      scheme, which is refused), or a request already accepted (a replay).
    * 403: a click from another Slack workspace than ``team_id``.
    * 200 for everything else, with the outcome posted through ``response_url``: a user not in the
      allow-list is told so (only they see it) and nothing is answered; otherwise the approval is answered
      and the buttons are replaced with "approved by X", "rejected by X" (with the reason typed, if any),
      "already decided" (a double click, a retry, another container's replay), "decided the other way
      already", or "no longer waiting" (expired, stopped, superseded, run again). If AWS does not answer in
      time the user is asked to press again (safe: answering is idempotent). A retry Slack marks with
      ``X-Slack-Retry-Num`` of a request this process handled is acknowledged and not acted on again.

    The approver's Slack name and id go into the approval's summary (``PutApprovalResult`` is called with
    the function's role, so the summary is the only place that says who decided).
    """

    def __init__(
        self,
        *,
        signing_secret: Secret | str,
        team_id: str | Iterable[str],
        approvers: Approvers,
        codepipeline: CodePipeline | Callable[[], CodePipeline] | None = None,
        respond: Callable[[str, Mapping[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 2.0,
    ) -> None:
        reader = _secret_reader(signing_secret, "signing_secret")
        assert reader is not None
        teams = (team_id,) if isinstance(team_id, str) else tuple(team_id)
        if not teams or not all(isinstance(team, str) and team for team in teams):
            raise InvalidArgumentError("team_id must name the Slack workspace(s) (T...)", parameter="team_id")
        if not isinstance(approvers, Approvers):
            raise ArgumentTypeError("approvers must be an Approvers allow-list", parameter="approvers")
        self._check = SignatureCheck(signing_secret=reader, clock=clock, replays=ReplayGuard())
        self._teams = frozenset(teams)
        self._approvers = approvers
        self._facade = _lazy_facade(codepipeline, quick=True)
        self._respond = respond
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"SlackInteractions(teams={sorted(self._teams)!r}, approvers={self._approvers!r})"

    def __call__(self, event: object, context: object = None) -> dict[str, Any]:
        """Handle one interactivity request (the Lambda proxy event) and return the HTTP response."""
        try:
            request = HttpRequest.from_lambda_event(event)
            fresh = self._check.verify(request)
            if not fresh:
                logger.info("acknowledged Slack's retry of a request already handled")
                return http_response(200)
            click = parse_click(request, reason_block=REASON_BLOCK, reason_action=REASON_ACTION)
            if click.team_id not in self._teams:
                raise RequestRefused(403, "the click comes from another Slack workspace")
            if click.action_id not in (APPROVE_ACTION, REJECT_ACTION):
                return http_response(200)  # another element of the message (a link button): nothing to do
            target = decode_button(click.value)
            if target is None:
                raise RequestRefused(400, "the button does not name an approval the way pipepilot does")
        except RequestRefused as refused:
            logger.warning("refused a Slack request (%s): %s", refused.status, refused.reason)
            return http_response(refused.status, {"error": refused.reason})
        self._handle(click, target)
        return http_response(200)

    def _handle(self, click: ButtonClick, target: ButtonTarget) -> None:
        approve = click.action_id == APPROVE_ACTION
        who = f"<@{click.user_id}>"
        if not self._approvers.allows(click.user_id, target.pipeline, target.stage):
            logger.warning(
                "Slack user %s may not answer approvals of %s/%s; nothing was answered",
                click.user_id,
                target.pipeline,
                target.stage,
            )
            self._post(
                click,
                ephemeral(
                    f"You are not allowed to {'approve' if approve else 'reject'} "
                    f"{escape(target.pipeline)} / {escape(target.stage)}. Nothing was answered."
                ),
            )
            return
        text, final = self._decide(click, target, approve=approve, who=who)
        self._post(click, updated_message(click.message_blocks, text) if final else ephemeral(text))

    def _decide(
        self, click: ButtonClick, target: ButtonTarget, *, approve: bool, who: str
    ) -> tuple[str, bool]:
        """Answer the approval ``target`` names; the outcome to show, and whether it is final (replaces the
        buttons) rather than a note to the user (who may press again)."""
        from pipepilot.awslambda._outcomes import OutcomeKind, answer
        from pipepilot.errors import TransientError
        from pipepilot.model.runtime import ApprovalStatus

        where = f"{escape(target.pipeline)} / {escape(target.stage)} / {escape(target.action)}"
        verb = "approve" if approve else "reject"
        try:
            pipeline = self._facade().pipeline(target.pipeline)
            approval = pipeline.approval(target.stage, target.action, execution=target.execution_id)
            if (
                target.run_id is not None
                and approval.token is not None
                and approval.action_execution_id not in (None, target.run_id)
            ):
                # The same execution waits here again (the stage was retried): a newer request was posted.
                return self._stale(
                    where, who, verb, "the stage was run again since: answer the newer request"
                ), True
            outcome = answer(approval, approve=approve, summary=_summary(click, approve=approve))
        except NoApprovalWaitingError:
            why = self._ended(target) or "it timed out, or its execution moved on"
            return self._stale(where, who, verb, why), True
        except NotFoundError:
            return self._stale(where, who, verb, "the pipeline, stage or action no longer exists"), True
        except TransientError as error:
            logger.warning(
                "answering %s from Slack got no answer from AWS in time (%s)", where, type(error).__name__
            )
            return (
                f":warning: CodePipeline did not answer in time, so your {verb} of {where} may not be recorded. "
                "Press the button again: pressing twice is safe.",
                False,
            )
        except PipepilotError as error:
            logger.error("answering %s from Slack failed: %s: %s", where, type(error).__name__, error)
            return f":warning: Could not {verb} {where} ({type(error).__name__}). Nothing was changed.", False
        kind = outcome.kind
        logger.info("Slack user %s asked to %s %s: %s", click.user_id, verb, approval.describe(), kind.value)
        if kind is OutcomeKind.ANSWERED:
            reason = f": {escape(click.reason)}" if click.reason else ""
            icon, done = (":white_check_mark:", "Approved") if approve else (":x:", "Rejected")
            return f"{icon} {done} by {who}{reason}", True
        # Every other outcome: first, was the execution stopped or superseded? Then the click, whatever the
        # approval recorded, changes nothing, and the message says the request is over rather than decided.
        ended = self._ended(target)
        if ended is not None or kind is OutcomeKind.EXPIRED:
            return self._stale(where, who, verb, ended or "it timed out, or it was run again since"), True
        if kind is OutcomeKind.ALREADY_ANSWERED:
            done = "approved" if approve else "rejected"
            return (
                f":information_source: Already decided: {where} was already {done} ({who} pressed again).",
                True,
            )
        recorded = "approved" if outcome.recorded is ApprovalStatus.APPROVED else "rejected (or it timed out)"
        return (
            f":no_entry: Already decided the other way: {where} was already {recorded}. "
            f"{who}'s {verb} was not applied.",
            True,
        )

    @staticmethod
    def _stale(where: str, who: str, verb: str, why: str) -> str:
        return f":hourglass: {where} is no longer waiting ({why}). {who}'s {verb} was not applied."

    def _ended(self, target: ButtonTarget) -> str | None:
        """Why ``target``'s execution no longer runs when it was stopped or superseded, else ``None`` (one
        ``GetPipelineExecution``; an error reading it counts as "not known to have ended")."""
        try:
            status = str(self._facade().pipeline(target.pipeline).execution(target.execution_id).get().status)
        except PipepilotError:
            return None
        if status in ("Stopped", "Stopping"):
            return "its execution was stopped"
        if status == "Superseded":
            return "its execution was superseded by a newer one"
        return None

    def _post(self, click: ButtonClick, body: Mapping[str, Any]) -> None:
        """Post ``body`` to the click's ``response_url``; a failure is logged, never raised (the decision
        itself is made; only the message is not updated)."""
        try:
            if self._respond is not None:
                self._respond(click.response_url, body)
                return
            from slack_sdk.webhook import WebhookClient

            response = WebhookClient(click.response_url, timeout=max(1, int(self._timeout))).send_dict(
                dict(body)
            )
            if response.status_code != 200:
                logger.warning("Slack refused the message update (HTTP %s)", response.status_code)
        except Exception as error:  # the update is best effort: the user can look at the pipeline
            logger.warning("could not update the Slack message (%s)", type(error).__name__)


def _summary(click: ButtonClick, *, approve: bool) -> str:
    """The approval's summary: who decided in Slack, and their reason (cut to fit 512 characters)."""
    head = f"{'Approved' if approve else 'Rejected'} in Slack by {click.user_name} ({click.user_id})"
    if not click.reason:
        return head[:_MAX_SUMMARY]
    text = f"{head}: {click.reason}"
    return text if len(text) <= _MAX_SUMMARY else text[: _MAX_SUMMARY - 1] + "…"


def slack_group_members(client: Any) -> Callable[[str], list[str]]:
    """A ``group_members`` lookup for :class:`Approvers` asking Slack (``usergroups.users.list``).

    ``client`` is a ``slack_sdk.WebClient``, or the bot token (a :class:`~pipepilot.awslambda.Secret` or a
    string) to make one with on the first lookup, so that building the lookup reads no secret. The token
    needs the ``usergroups:read`` scope.
    """
    reader = _secret_reader(client, "client") if isinstance(client, (Secret, str)) else None
    made: list[Any] = [] if reader is not None else [client]

    def members(group_id: str) -> list[str]:
        if not made:
            from slack_sdk import WebClient

            assert reader is not None
            made.append(WebClient(token=reader()))
        response = made[0].usergroups_users_list(usergroup=group_id)
        users = response.get("users") or []
        return [user for user in users if isinstance(user, str)]

    return members
