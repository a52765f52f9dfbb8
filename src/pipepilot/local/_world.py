"""The World: everything the offline engines share inside one :func:`pipepilot.local.offline` context.

It owns the virtual clock, the seeded random source every id and token comes from, the engines (one per
service and region, created on first use), the Lambda handlers, SNS subscribers and scripted outcomes a
test registered, and the ordered log of EventBridge events. It is also the engines' only door to moto:
events, SNS messages, log lines and IAM trust checks go to moto's backends directly, never through a boto3
client, so the engines never re-enter the botocore hook that called them.

Nothing here starts moto or touches botocore; :class:`pipepilot.local.OfflineAWS` does that.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import re
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

import attrs

from pipepilot.local._arns import partition_of
from pipepilot.local._events import EventLog
from pipepilot.local.clock import VirtualClock
from pipepilot.local.codepipeline._settings import CodePipelineSettings, checked_settings

if TYPE_CHECKING:
    from pipepilot.local.codebuild import CodeBuildEngine
    from pipepilot.local.codepipeline import CodePipelineEngine

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_ACTION_DURATIONS",
    "DEFAULT_BUILD_PHASE_DURATIONS",
    "ActionScript",
    "BuildScript",
    "LambdaFunction",
    "LambdaHandler",
    "RuleScript",
    "Scripts",
    "World",
    "partition_of",
]

logger = logging.getLogger(__name__)

# moto's default account: requests signed with unknown keys land in it, so using it keeps moto and the
# engines in the same account without further set-up.
DEFAULT_ACCOUNT_ID = "123456789012"

LambdaHandler = Callable[[dict[str, Any], Any], object]

# Seconds a non-scripted action takes, by "Category:Provider", provider or category (the CodePipeline engine
# tries them in that order, then falls back to its own per-category figures). Every source provider answers
# in seconds; CodeBuild actions take as long as their build; manual approvals wait for an answer; Lambda
# invokes wait for the handler's job result.
DEFAULT_ACTION_DURATIONS: Mapping[str, float] = {
    "Source": 5.0,
    "Source:S3": 5.0,
    "Source:CodeCommit": 5.0,
    "Source:CodeStarSourceConnection": 5.0,
    "Source:GitHub": 5.0,
    "Source:ECR": 5.0,
    "CodeDeploy": 240.0,
    "CodeDeployToECS": 600.0,
    "ECS": 300.0,
    "CloudFormation": 120.0,
    "CloudFormationStackSet": 300.0,
    "S3": 30.0,
    "ElasticBeanstalk": 300.0,
    "StepFunctions": 60.0,
}

# Seconds each build phase takes when not scripted, shaped like the AWS CLI's recorded builds: SUBMITTED
# ends inside StartBuild (its response already shows QUEUED), provisioning dominates, BUILD is the work.
DEFAULT_BUILD_PHASE_DURATIONS: Mapping[str, float] = {
    "SUBMITTED": 0.0,
    "QUEUED": 1.0,
    "PROVISIONING": 20.0,
    "DOWNLOAD_SOURCE": 3.0,
    "INSTALL": 10.0,
    "PRE_BUILD": 2.0,
    "BUILD": 45.0,
    "POST_BUILD": 3.0,
    "UPLOAD_ARTIFACTS": 5.0,
    "FINALIZING": 2.0,
}

_BUILD_STATUSES = ("SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT")
_OUTCOMES = ("Succeeded", "Failed")

# arn:<partition>:sns:<region>:<account>:<topic name>, the shape CreateTopic answers with.
_SNS_TOPIC_ARN = re.compile(
    r"arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d+:\d{12}:"
    r"[A-Za-z0-9_-]{1,256}(\.fifo)?"
)
_LAMBDA_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Lambda's longest function timeout (15 minutes): what a registered handler's context counts down from,
#: unless it was registered with another ``timeout``; an SNS subscriber's context too.
LAMBDA_MAX_TIMEOUT_SECONDS = 900.0
_SUBSCRIBER_TIMEOUT_SECONDS = LAMBDA_MAX_TIMEOUT_SECONDS


def _positive_times(instance: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    """attrs validator: ``times`` is None or at least 1 (``ValueError`` otherwise)."""
    if value is not None and value < 1:
        raise ValueError(f"times must be None (every run) or at least 1, not {value!r}")


def _non_negative_duration(
    instance: object, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    """attrs validator: ``duration`` is None or not negative (``ValueError`` otherwise)."""
    if value is not None and value < 0:
        raise ValueError(f"duration cannot be negative ({value!r})")


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """attrs converter: a copy of ``value`` as a dict, so later changes to the caller's mapping do not reach
    the script."""
    return None if value is None else dict(value)


def _artifact_files(value: Mapping[str, str | bytes] | None) -> Mapping[str, str | bytes] | None:
    """attrs converter: a copy of the path -> content mapping, checked: relative, non-empty paths
    (``ValueError``) and str or bytes contents (``TypeError``)."""
    if value is None:
        return None
    files = dict(value)
    for path, content in files.items():
        if not isinstance(path, str) or not path or path.startswith("/"):
            raise ValueError(f"artifact file paths must be relative paths, not {path!r}")
        if not isinstance(content, (str, bytes)):
            raise TypeError(
                f"the content of artifact file {path!r} must be str or bytes, not {type(content).__name__}"
            )
    return files


@attrs.frozen(kw_only=True)
class ActionScript:
    """The scripted outcome of one pipeline action (see :meth:`pipepilot.local.OfflineAWS.script_action`)."""

    pipeline: str
    stage: str
    action: str
    outcome: Literal["Succeeded", "Failed"] = attrs.field(
        default="Succeeded", validator=attrs.validators.in_(_OUTCOMES)
    )
    duration: float | None = attrs.field(default=None, validator=_non_negative_duration)
    error_code: str = "JobFailed"
    error_message: str = "The action failed (scripted by pipepilot.local)."
    summary: str | None = None
    external_execution_id: str | None = None
    output_variables: Mapping[str, str] | None = attrs.field(default=None, converter=_frozen_mapping)
    times: int | None = attrs.field(default=None, validator=_positive_times)


@attrs.frozen(kw_only=True)
class RuleScript:
    """The scripted outcome of one stage-condition rule (see :meth:`pipepilot.local.OfflineAWS.script_rule`).

    A failed rule reports ``errorDetails`` code ``RuleFailed`` with ``summary`` (or a default) as message.
    """

    pipeline: str
    stage: str
    rule: str
    outcome: Literal["Succeeded", "Failed"] = attrs.field(
        default="Succeeded", validator=attrs.validators.in_(_OUTCOMES)
    )
    duration: float | None = attrs.field(default=None, validator=_non_negative_duration)
    summary: str | None = None
    times: int | None = attrs.field(default=None, validator=_positive_times)


def _log_lines(
    value: Sequence[str] | Mapping[str, Sequence[str]] | None,
) -> Mapping[str, tuple[str, ...]] | None:
    """attrs converter: ``log_lines`` as phase -> tuple of lines, a plain sequence going to the BUILD phase;
    ``TypeError`` for a single string."""
    # A plain sequence is what the BUILD phase prints; a mapping places lines in chosen phases.
    if value is None:
        return None
    if isinstance(value, str):
        raise TypeError("log_lines must be a sequence of lines (or a mapping phase -> lines), not one string")
    if isinstance(value, Mapping):
        return {str(phase): tuple(lines) for phase, lines in value.items()}
    return {"BUILD": tuple(value)}


@attrs.frozen(kw_only=True)
class BuildScript:
    """The scripted course of one CodeBuild build (see :meth:`pipepilot.local.OfflineAWS.script_build`).

    ``fail_in`` names the phase that ends with ``status`` (``None`` or ``status="SUCCEEDED"``: the build
    succeeds). ``phase_durations`` overrides seconds per phase, ``exported_variables`` become the build's
    ``exportedEnvironmentVariables``, ``log_lines`` are written to the build's log stream, and
    ``artifact_files`` (path -> content) are the files a pipeline build uploads as its output artifacts.
    """

    project: str
    fail_in: str | None = attrs.field(default="BUILD")
    status: Literal["SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT"] = attrs.field(
        default="FAILED", validator=attrs.validators.in_(_BUILD_STATUSES)
    )
    message: str | None = None
    phase_durations: Mapping[str, float] | None = attrs.field(default=None, converter=_frozen_mapping)
    exported_variables: Mapping[str, str] | None = attrs.field(default=None, converter=_frozen_mapping)
    log_lines: Mapping[str, tuple[str, ...]] | None = attrs.field(default=None, converter=_log_lines)
    artifact_files: Mapping[str, str | bytes] | None = attrs.field(default=None, converter=_artifact_files)
    times: int | None = attrs.field(default=None, validator=_positive_times)

    @fail_in.validator
    def _check_phase(self, attribute: attrs.Attribute[str | None], value: str | None) -> None:
        """attrs validator: ``fail_in`` is None or one of the build phases (``ValueError`` otherwise)."""
        if value is not None and value not in DEFAULT_BUILD_PHASE_DURATIONS:
            raise ValueError(
                f"fail_in must be a build phase ({', '.join(DEFAULT_BUILD_PHASE_DURATIONS)}), not {value!r}"
            )

    @property
    def fails(self) -> bool:
        """Whether this script makes the build end in anything but SUCCEEDED."""
        return self.fail_in is not None and self.status != "SUCCEEDED"


class _Queue:
    """Scripts for one key: counted scripts are used first, in the order added; then the standing one."""

    __slots__ = ("counted", "standing")

    def __init__(self) -> None:
        self.counted: list[list[Any]] = []  # [script, uses left]
        self.standing: Any = None

    def add(self, script: Any, times: int | None) -> None:
        """Queue ``script`` for the next ``times`` runs after the counted scripts already queued, or
        (``times`` None) make it the standing script, replacing the previous one."""
        if times is None:
            self.standing = script
        else:
            self.counted.append([script, times])

    def take(self) -> Any:
        """The script for the next run: the first counted script, whose uses left drop by one (it leaves the
        queue at zero), else the standing one (None if there is none)."""
        if self.counted:
            entry = self.counted[0]
            entry[1] -= 1
            if entry[1] == 0:
                del self.counted[0]
            return entry[0]
        return self.standing


class Scripts:
    """The scripted outcomes a test registered, consumed by the engines once per run.

    For one action (or project), scripts given with ``times=N`` apply to the next N runs in the order they
    were added; after those, the latest script given without ``times`` applies to every run; with none,
    the engine's defaults apply.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._actions: dict[tuple[str, str, str], _Queue] = {}
        self._rules: dict[tuple[str, str, str], _Queue] = {}
        self._builds: dict[str, _Queue] = {}

    def add_action(self, script: ActionScript) -> None:
        """Register an action script."""
        with self._lock:
            key = (script.pipeline, script.stage, script.action)
            self._actions.setdefault(key, _Queue()).add(script, script.times)

    def add_rule(self, script: RuleScript) -> None:
        """Register a condition-rule script."""
        with self._lock:
            key = (script.pipeline, script.stage, script.rule)
            self._rules.setdefault(key, _Queue()).add(script, script.times)

    def add_build(self, script: BuildScript) -> None:
        """Register a build script."""
        with self._lock:
            self._builds.setdefault(script.project, _Queue()).add(script, script.times)

    def action_outcome(self, pipeline: str, stage: str, action: str, /) -> ActionScript | None:
        """The script for this run of the action (using up one of its ``times``), or None."""
        with self._lock:
            queue = self._actions.get((pipeline, stage, action))
            return None if queue is None else queue.take()

    def rule_outcome(self, pipeline: str, stage: str, rule: str, /) -> RuleScript | None:
        """The script for this evaluation of the rule (using up one of its ``times``), or None."""
        with self._lock:
            queue = self._rules.get((pipeline, stage, rule))
            return None if queue is None else queue.take()

    def build_outcome(self, project: str, /) -> BuildScript | None:
        """The script for this build of the project (using up one of its ``times``), or None."""
        with self._lock:
            queue = self._builds.get(project)
            return None if queue is None else queue.take()

    def clear(self) -> None:
        """Forget every script."""
        with self._lock:
            self._actions.clear()
            self._rules.clear()
            self._builds.clear()


@attrs.frozen(kw_only=True)
class LambdaFunction:
    """A Python handler registered as a Lambda function (see :meth:`World.register_lambda`).

    ``timeout`` is the function's own timeout (seconds): its context's remaining time counts down from it.
    ``duplicates`` are the delays (seconds after the first invocation) at which each job's event is
    delivered again, as Lambda's at-least-once asynchronous delivery sometimes does.
    """

    handler: LambdaHandler
    timeout: float = LAMBDA_MAX_TIMEOUT_SECONDS
    duplicates: tuple[float, ...] = ()


@attrs.frozen(kw_only=True)
class _SnsSubscription:
    """A Python handler subscribed to an SNS topic like a Lambda function (see :meth:`World.subscribe`)."""

    arn: str
    topic_arn: str
    handler: LambdaHandler
    function_name: str


class World:
    """Shared state of one offline context: clock, ids, engines, scripts, Lambda handlers, events.

    Engines reach everything through it (see ``EngineWorld`` in :mod:`pipepilot.local.codepipeline`).
    ``verify_roles`` (default True) makes :meth:`role_assumable_by` check moto's IAM; set it False to let
    any role ARN through. ``max_concurrent_builds`` caps in-progress builds per region (None: no cap);
    StartBuild beyond it answers ``AccountLimitExceededException``. ``codepipeline_settings`` is what every
    CodePipeline engine of this world runs with (see :attr:`codepipeline_settings`). ``call_latency`` is
    the virtual seconds each CodePipeline or CodeBuild request takes its caller before the engine applies
    it (see :func:`pipepilot.local.offline`).
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        account_id: str = DEFAULT_ACCOUNT_ID,
        seed: int = 0,
        clock: VirtualClock | None = None,
        codepipeline_settings: CodePipelineSettings | None = None,
        call_latency: float = 0.0,
    ) -> None:
        self.clock = clock if clock is not None else VirtualClock()
        self._codepipeline_settings = (
            CodePipelineSettings()
            if codepipeline_settings is None
            else checked_settings(codepipeline_settings)
        )
        self.region = region
        self.account_id = account_id
        self.seed = seed
        self.ids = random.Random(seed)
        self.scripts = Scripts()
        self.default_durations: dict[str, float] = dict(DEFAULT_ACTION_DURATIONS)
        self.build_phase_durations: dict[str, float] = dict(DEFAULT_BUILD_PHASE_DURATIONS)
        self.events = EventLog()
        self.verify_roles = True
        self.max_concurrent_builds: int | None = None
        self.call_latency = call_latency
        self.caller_name = "pipepilot-offline"
        self.caller_arn = f"arn:{partition_of(region)}:iam::{account_id}:user/{self.caller_name}"
        self._lambdas: dict[str, LambdaFunction] = {}
        self._sns_subscriptions: dict[str, list[_SnsSubscription]] = {}
        # Subscription ARNs and their request ids come from a stream of their own, so adding a subscriber
        # never shifts the ids the engines draw from `ids` (a test's execution ids stay the same).
        self._sns_ids = random.Random(f"pipepilot.local sns {seed}")
        self._codebuild: dict[str, CodeBuildEngine] = {}
        self._codepipeline: dict[str, CodePipelineEngine] = {}

    def __repr__(self) -> str:
        return f"<World account={self.account_id} region={self.region} seed={self.seed} events={len(self.events)}>"

    # -- ids -----------------------------------------------------------------------------------------

    def new_uuid(self) -> str:
        """A lowercase UUID4 string from the seeded random source (the same sequence for the same seed)."""
        return str(uuid.UUID(int=self.ids.getrandbits(128), version=4))

    def new_hex(self, length: int = 40) -> str:
        """``length`` lowercase hex digits from the seeded source (commit ids, checksums)."""
        return f"{self.ids.getrandbits(length * 4):0{length}x}"

    # -- engines -------------------------------------------------------------------------------------

    def codebuild(self, region: str | None = None) -> CodeBuildEngine:
        """The CodeBuild engine of ``region`` (default: the context's), created on first use."""
        region = region or self.region
        engine = self._codebuild.get(region)
        if engine is None:
            from pipepilot.local.codebuild import CodeBuildEngine

            # Under the clock's lock: a test thread and a request thread asking for a new region at once
            # must get the same engine, or one of them would keep state nobody else sees.
            with self.clock.lock:
                engine = self._codebuild.get(region)
                if engine is None:
                    engine = self._codebuild[region] = CodeBuildEngine(self, region)
        return engine

    def codepipeline(self, region: str | None = None) -> CodePipelineEngine:
        """The CodePipeline engine of ``region`` (default: the context's), created on first use."""
        region = region or self.region
        engine = self._codepipeline.get(region)
        if engine is None:
            from pipepilot.local.codepipeline import CodePipelineEngine

            with self.clock.lock:  # see codebuild()
                engine = self._codepipeline.get(region)
                if engine is None:
                    engine = self._codepipeline[region] = CodePipelineEngine(
                        self, region, settings=self._codepipeline_settings
                    )
        return engine

    @property
    def codepipeline_settings(self) -> CodePipelineSettings:
        """The settings every CodePipeline engine of this world runs with.

        Assigning a new :class:`~pipepilot.local.codepipeline.CodePipelineSettings` applies it at once to
        the engines of every region, existing and future (executions already running read it from then on).

        Raises:
            TypeError: (on assignment) the value is not a ``CodePipelineSettings``.
        """
        return self._codepipeline_settings

    @codepipeline_settings.setter
    def codepipeline_settings(self, settings: CodePipelineSettings) -> None:
        settings = checked_settings(settings)
        with self.clock.lock:
            self._codepipeline_settings = settings
            for engine in self._codepipeline.values():
                engine.settings = settings

    def engine(self, service: str, region: str | None = None) -> CodeBuildEngine | CodePipelineEngine:
        """The engine of ``service`` (``"codebuild"`` or ``"codepipeline"``) in ``region``."""
        if service == "codebuild":
            return self.codebuild(region)
        if service == "codepipeline":
            return self.codepipeline(region)
        raise ValueError(f"pipepilot.local has no engine for {service!r}")

    def partition(self, region: str | None = None) -> str:
        """The ARN partition of ``region`` (default: the context's)."""
        return partition_of(region or self.region)

    # -- Lambda ----------------------------------------------------------------------------------------

    def register_lambda(
        self,
        name: str,
        handler: LambdaHandler,
        *,
        timeout: float = LAMBDA_MAX_TIMEOUT_SECONDS,
        duplicates: Sequence[float] = (),
    ) -> None:
        """Make ``handler(event, context)`` the function called for ``FunctionName`` ``name`` (see
        :meth:`pipepilot.local.OfflineAWS.register_lambda` for ``timeout`` and ``duplicates``)."""
        self._lambdas[name] = LambdaFunction(
            handler=handler, timeout=float(timeout), duplicates=tuple(duplicates)
        )

    def lambda_handler(self, function_name: str, /) -> LambdaHandler | None:
        """The handler registered for a function name, ARN or ``name:qualifier``, or None."""
        function = self.lambda_function(function_name)
        return None if function is None else function.handler

    def lambda_function(self, function_name: str, /) -> LambdaFunction | None:
        """The function registered for a function name, ARN or ``name:qualifier``, or None."""
        function = self._lambdas.get(function_name)
        if function is not None:
            return function
        name = function_name
        if name.startswith("arn:"):
            # arn:aws:lambda:region:account:function:name[:qualifier]
            parts = name.split(":")
            name = parts[6] if len(parts) > 6 else name
        else:
            name = name.split(":", 1)[0]
        return self._lambdas.get(name)

    # -- SNS subscribers -------------------------------------------------------------------------------

    def subscribe(self, topic_arn: str, handler: LambdaHandler) -> None:
        """Deliver every message :meth:`publish_sns` sends to ``topic_arn`` to ``handler`` as SNS->Lambda would.

        See :meth:`pipepilot.local.OfflineAWS.subscribe`. The topic need not exist yet.

        Raises:
            ValueError: ``topic_arn`` is not an SNS topic ARN.
            TypeError: ``handler`` is not callable.
        """
        if not isinstance(topic_arn, str) or not _SNS_TOPIC_ARN.fullmatch(topic_arn):
            raise ValueError(
                "topic_arn must be an SNS topic ARN such as "
                f"'arn:aws:sns:us-east-1:123456789012:approvals', not {topic_arn!r}"
            )
        if not callable(handler):
            raise TypeError(f"handler must be callable, not {handler!r}")
        name = getattr(handler, "__name__", "")
        with self.clock.lock:
            subscription = _SnsSubscription(
                arn=f"{topic_arn}:{uuid.UUID(int=self._sns_ids.getrandbits(128), version=4)}",
                topic_arn=topic_arn,
                handler=handler,
                function_name=name if _LAMBDA_FUNCTION_NAME.fullmatch(name) else "sns-subscriber",
            )
            self._sns_subscriptions.setdefault(topic_arn, []).append(subscription)

    def _schedule_deliveries(
        self, topic_arn: str, message_id: str, message: str, subject: str | None
    ) -> None:
        """Schedule on the clock, due now and to run outside the lock, the delivery of a message published to
        ``topic_arn`` to each of its subscribers as SNS's Lambda event (SNS invokes Lambda asynchronously)."""
        subscriptions = self._sns_subscriptions.get(topic_arn)
        if not subscriptions:
            return
        published = datetime.fromtimestamp(self.clock.now(), tz=timezone.utc)
        timestamp = published.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for subscription in tuple(subscriptions):
            # SNS invokes each subscribed function asynchronously: never inside the call that published.
            event = _sns_lambda_event(subscription, message_id, message, subject, timestamp)
            # Unlocked: the handler is user code, which may call the engines from other threads.
            self.clock.call_later(
                0.0, functools.partial(self._invoke_subscriber, subscription, event), locked=False
            )

    def _invoke_subscriber(self, subscription: _SnsSubscription, event: dict[str, Any]) -> None:
        """Call ``subscription``'s handler with ``event`` and a Lambda-like context, drawing its request id
        from the shared SNS id stream; an exception is logged (without its message, which may carry an
        approval token) and the message dropped."""
        from pipepilot.local.codepipeline._jobs import LambdaContext

        _, partition, _, region, account, _ = subscription.topic_arn.split(":", 5)
        name = subscription.function_name
        with self.clock.lock:  # the id stream is shared with subscribe(), which other threads may call
            request_id = str(uuid.UUID(int=self._sns_ids.getrandbits(128), version=4))
        context = LambdaContext(
            function_name=name,
            request_id=request_id,
            arn=f"arn:{partition}:lambda:{region}:{account}:function:{name}",
            deadline=self.clock.now() + _SUBSCRIBER_TIMEOUT_SECONDS,
            now=self.clock.now,
        )
        try:
            subscription.handler(event, context)
        except Exception as exc:
            # The traceback's frames, not its text: an exception message may quote the notification, and
            # that carries the approval token.
            logger.warning(
                "SNS subscriber %s of %s raised %s on message %s; the message is dropped\n%s",
                name,
                subscription.topic_arn,
                type(exc).__name__,
                event["Records"][0]["Sns"]["MessageId"],
                "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
            )

    # -- moto: events, SNS, IAM, logs --------------------------------------------------------------------

    def put_event(self, event: dict[str, Any], /) -> None:
        """Record an EventBridge event (in order, in :attr:`events`) and put it on moto's default bus.

        :attr:`events` keeps the newest ``event_history_limit`` events (a :class:`CodePipelineSettings`),
        give or take 1%: the oldest are dropped in batches.

        ``event`` is the full envelope (``detail-type``, ``source``, ``resources``, ``detail``, ``time``,
        optionally ``region``). Rules on moto's default bus in that region receive it, as they would on AWS.
        """
        self.events.append(event)
        limit = self._codepipeline_settings.event_history_limit
        if len(self.events) > limit + max(1, limit // 100):
            # In batches of 1% of the limit, as documented (the log frees its memory a block at a time).
            self.events.drop_oldest(len(self.events) - limit)
        from moto.events.models import events_backends

        region = event.get("region") or self.region
        backend = events_backends[self.account_id][region]
        bus = backend.event_buses.get("default")
        if bus is None or not bus.rules:
            return  # nobody listens: skip moto's JSON round trip (events are frequent)
        entry: dict[str, Any] = {
            "Source": event.get("source", ""),
            "DetailType": event.get("detail-type", ""),
            "Detail": json.dumps(event.get("detail", {})),
            "Resources": list(event.get("resources", ())),
        }
        # moto's targets expect epoch seconds here (they format it themselves); the envelope holds ISO text.
        entry["Time"] = _epoch(event.get("time"), self.clock.now())
        backend.put_events([entry])

    def publish_sns(self, topic_arn: str, message: str, subject: str | None = None, /) -> None:
        """Publish to an SNS topic through moto (a missing topic is logged, as AWS drops the message).

        Handlers registered with :meth:`subscribe` get the message too, when the clock next moves.
        """
        from moto.sns.exceptions import SNSNotFoundError
        from moto.sns.models import sns_backends

        parts = topic_arn.split(":")
        if len(parts) < 6 or parts[2] != "sns":
            logger.warning("not an SNS topic ARN, nothing published: %s", topic_arn)
            return
        region, account = parts[3], parts[4]
        try:
            message_id = sns_backends[account][region].publish(message, arn=topic_arn, subject=subject)
        except SNSNotFoundError:
            logger.warning("SNS topic %s does not exist in moto; nothing published", topic_arn)
            return
        self._schedule_deliveries(topic_arn, message_id, message, subject)

    def read_object(self, bucket: str, key: str, /) -> bytes | None:
        """The bytes of an object in moto's S3, or None when the bucket or the key does not exist."""
        from moto.s3.exceptions import MissingBucket
        from moto.s3.models import s3_backends

        try:
            found = s3_backends[self.account_id][self.partition()].get_object(bucket, key)
        except MissingBucket:
            return None
        return None if found is None else bytes(found.value)

    def write_object(self, bucket: str, key: str, body: bytes, /, *, kms_key_id: str | None = None) -> bool:
        """Store an object in moto's S3 (SSE-KMS with ``kms_key_id`` when given); False if there is no bucket.

        This is how the engines put pipeline artifacts where job workers and deploy actions read them.
        """
        from moto.s3.exceptions import MissingBucket
        from moto.s3.models import s3_backends

        backend = s3_backends[self.account_id][self.partition()]
        try:
            written = backend.put_object(
                bucket,
                key,
                body,
                encryption="aws:kms" if kms_key_id else None,
                kms_key_id=kms_key_id,
                disable_notification=True,
            )
        except MissingBucket:
            return False
        # The mark on the object itself (not a map beside it) costs nothing, and goes with the object when
        # the user replaces or deletes it.
        setattr(written, _WRITTEN_BY_ENGINE, True)
        return True

    def delete_written_objects(self, locations: Iterable[tuple[str, str]], /) -> int:
        """Delete the S3 objects :meth:`write_object` stored at these ``(bucket, key)`` locations.

        What an S3 lifecycle rule on the artifact bucket does on AWS, for the artifacts of executions the
        engine forgot. Only the very objects (the versions, in a versioned bucket) the engine wrote go: a
        location it never wrote, or an object the user has put there since, is left alone. Returns how
        many objects were deleted.
        """
        from moto.s3.models import s3_backends

        buckets = s3_backends[self.account_id][self.partition()].buckets
        deleted: list[Any] = []
        for bucket_name, key in locations:
            bucket = buckets.get(bucket_name)
            if bucket is None:
                continue
            versions = bucket.keys.getlist(key, [])
            ours = [version for version in versions if getattr(version, _WRITTEN_BY_ENGINE, False)]
            if not ours:
                continue
            if len(ours) < len(versions):
                others = [version for version in versions if not getattr(version, _WRITTEN_BY_ENGINE, False)]
                bucket.keys.setlist(key, others)
            else:
                bucket.keys.pop(key)
            for written in ours:
                # moto closes an object's spooled buffer only when asked; a dropped one warns when collected.
                written.dispose()
            deleted += ours
        _untrack_moto_models(
            [
                *deleted,
                *(acl for key in deleted if (acl := key.acl) is not None),
                *(grant for key in deleted if key.acl is not None for grant in key.acl.grants),
            ]
        )
        return len(deleted)

    def role_assumable_by(self, role_arn: str, service_principal: str, /) -> bool:
        """Whether moto's IAM has ``role_arn`` and its trust policy lets ``service_principal`` assume it.

        Always True when :attr:`verify_roles` is False. A bare role name is read as a role of this account.
        """
        if not self.verify_roles:
            return True
        from moto.iam.models import iam_backends

        if not role_arn.startswith("arn:"):
            role_arn = f"arn:{self.partition()}:iam::{self.account_id}:role/{role_arn}"
        parts = role_arn.split(":")
        if len(parts) < 6 or parts[2] != "iam":
            return False
        account, partition = parts[4], parts[1]
        for role in list(iam_backends[account][partition].roles.values()):
            if role.arn == role_arn:
                return _trusts(role.assume_role_policy_document, service_principal)
        return False

    def write_log_events(
        self, region: str, group: str, stream: str, lines: Sequence[tuple[float, str]]
    ) -> None:
        """Append ``(epoch seconds, message)`` lines to a CloudWatch Logs stream in moto, creating both.

        Writes go to the group's stream directly: moto's PutLogEvents drops events older than 14 days of
        wall time, and virtual time is usually far from the wall clock.
        """
        from moto.logs.models import logs_backends

        backend = logs_backends[self.account_id][region]
        backend.ensure_log_group(group)
        log_group = backend.groups[group]
        if stream not in log_group.streams:
            log_group.create_log_stream(stream)
        if lines:
            log_group.put_log_events(
                stream, [{"timestamp": int(when * 1000), "message": message} for when, message in lines]
            )


#: The attribute :meth:`World.write_object` marks the S3 objects (moto's) it stores with.
_WRITTEN_BY_ENGINE = "_pipepilot_written_by_engine"


def _untrack_moto_models(models: Sequence[Any]) -> None:
    """Let moto forget these model instances (deleted S3 objects and their ACLs), so they can be freed.

    moto appends every model it creates to its class's ``instances_tracked`` list and empties the lists
    only when it resets: without this, every artifact the engine ever wrote stays in memory. A grant's
    grantees go too (the object's owner, or grantees shared by every ACL: untracking those loses nothing).
    """
    grantees = [grantee for model in models for grantee in getattr(model, "grantees", ())]
    doomed: dict[type, set[int]] = {}
    for model in [*models, *grantees]:
        doomed.setdefault(type(model), set()).add(id(model))
    for cls, ids in doomed.items():
        tracked = getattr(cls, "instances_tracked", None)
        if tracked is not None:
            tracked[:] = [model for model in tracked if id(model) not in ids]


def _sns_lambda_event(
    subscription: _SnsSubscription, message_id: str, message: str, subject: str | None, timestamp: str
) -> dict[str, Any]:
    """The event Lambda receives from an SNS subscription: one record, SNS's field names and casing."""
    _, partition, _, region, _ = subscription.topic_arn.split(":", 4)
    endpoint = f"https://sns.{region}.amazonaws.com{'.cn' if partition == 'aws-cn' else ''}"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": subscription.topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": timestamp,
                    "SignatureVersion": "1",
                    # Offline messages are not signed: a handler that verifies signatures must skip it here.
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": f"{endpoint}/SimpleNotificationService-offline.pem",
                    "UnsubscribeUrl": (f"{endpoint}/?Action=Unsubscribe&SubscriptionArn={subscription.arn}"),
                    "MessageAttributes": {},
                },
            }
        ]
    }


def _epoch(value: object, default: float) -> float:
    """An event's ``time`` as epoch seconds (a number as is, an ISO 8601 string parsed); ``default`` for
    anything else."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return default
    return default


def _trusts(policy_document: object, service_principal: str) -> bool:
    """Whether an IAM trust policy allows ``sts:AssumeRole`` to the given service principal."""
    if isinstance(policy_document, str):
        try:
            policy = json.loads(policy_document)
        except ValueError:
            from urllib.parse import unquote

            try:
                policy = json.loads(unquote(policy_document))
            except ValueError:
                return False
    else:
        policy = policy_document
    if not isinstance(policy, Mapping):
        return False
    statements = policy.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    for statement in statements:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else list(actions)
        if not any(action in ("sts:AssumeRole", "sts:*", "*") for action in actions):
            continue
        principal = statement.get("Principal", {})
        if principal == "*":
            return True
        if not isinstance(principal, Mapping):
            continue
        services = principal.get("Service", [])
        services = [services] if isinstance(services, str) else list(services)
        aws = principal.get("AWS", [])
        aws = [aws] if isinstance(aws, str) else list(aws)
        if service_principal in services or "*" in aws:
            return True
    return False
