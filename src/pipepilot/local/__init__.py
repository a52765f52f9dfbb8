"""pipepilot.local: CodePipeline and CodeBuild, offline, on a virtual clock, for real boto3 clients.

::

    import boto3
    import pipepilot.local

    with pipepilot.local.offline(seed=0) as aws:
        codepipeline = boto3.client("codepipeline", region_name="us-east-1")
        ...                                   # create a pipeline, start it: plain boto3 or pipepilot
        aws.script_action("app", "Deploy", "Deploy", outcome="Failed", times=1)
        aws.clock.advance(3600)               # an hour passes in microseconds
        assert aws.events[-1]["detail"]["state"] == "FAILED"

Inside :func:`offline` moto is running (IAM, S3, SNS, CloudWatch Logs, EventBridge) and pipepilot's engines
answer every CodePipeline and CodeBuild request, from any boto3 client, through botocore's ``before-send``
hook; pipepilot's own waits and retry sleeps (and botocore's retry back-off) run on the virtual clock. The
pytest plugin offers the same as the ``offline_aws`` fixture. :func:`coverage_table` lists the operations
the engines answer. :mod:`pipepilot.local.server` (``python -m pipepilot.local serve``) serves the same
world over HTTP to other processes.

Importing this package is cheap (pytest loads its plugin for every run): moto, botocore and the engines
load when a context starts.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from pipepilot._checks import (
    check_callable,
    check_int,
    check_number,
    check_str,
    check_str_map,
    type_name,
    validating_fields,
)
from pipepilot.errors import ArgumentTypeError, InvalidArgumentError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from botocore.client import BaseClient
    from botocore.config import Config

    from pipepilot.local._errors import ServiceError
    from pipepilot.local._events import EventLog
    from pipepilot.local._world import ActionScript, BuildScript, LambdaHandler, RuleScript, World
    from pipepilot.local.clock import VirtualClock
    from pipepilot.local.codepipeline._settings import CodePipelineSettings
    from pipepilot.local.faults import FaultPlan, FaultRule, InjectedFault

__all__ = [
    "ActionScript",
    "BuildScript",
    "CodePipelineSettings",
    "EventLog",
    "FaultPlan",
    "FaultRule",
    "InjectedFault",
    "OfflineAWS",
    "RuleScript",
    "ServiceError",
    "VirtualClock",
    "active",
    "coverage_table",
    "offline",
    "patch_client",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_ACCOUNT_ID = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
_DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account: no MOTO_ACCOUNT_ID needed
# What clients made inside a context sign with (moto accepts any key; these name no real account).
_DUMMY_CREDENTIALS = ("testing", "testing")
#: Virtual seconds each CodePipeline / CodeBuild request takes its caller unless offline() says otherwise.
DEFAULT_CALL_LATENCY = 0.001

# Where the public names live; loaded on first access so `import pipepilot.local` stays cheap.
_LAZY = {
    "ActionScript": "pipepilot.local._world",
    "BuildScript": "pipepilot.local._world",
    "CodePipelineSettings": "pipepilot.local.codepipeline._settings",
    "EventLog": "pipepilot.local._events",
    "FaultPlan": "pipepilot.local.faults",
    "FaultRule": "pipepilot.local.faults",
    "InjectedFault": "pipepilot.local.faults",
    "RuleScript": "pipepilot.local._world",
    "ServiceError": "pipepilot.local._errors",
    "VirtualClock": "pipepilot.local.clock",
}

_active_lock = threading.Lock()
_active: OfflineAWS | None = None


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class OfflineAWS:
    """An offline AWS for tests and demos: the handle :func:`offline` returns.

    Use it as a context manager (``with offline() as aws:``) or a decorator (``@offline()``; inside, call
    :func:`active` for the handle). Each entry starts a fresh world: moto reset, no pipelines, no builds,
    the virtual clock at ``start``. It needs no AWS settings: ``boto3.client(...)`` and pipepilot's facades
    inside it default to ``region`` when neither the call nor the environment names one, and sign with
    dummy credentials. Attributes below are available while it is active.

    Not re-entrant: only one context can be active in a process at a time (botocore's hook and the time
    source are process-wide). Entering a second one raises ``RuntimeError``.
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        account_id: str = _DEFAULT_ACCOUNT_ID,
        seed: int = 0,
        speed: float | None = None,
        start: float | datetime | None = None,
        codepipeline_settings: CodePipelineSettings | None = None,
        call_latency: float = DEFAULT_CALL_LATENCY,
    ) -> None:
        if not isinstance(region, str) or not _REGION.fullmatch(region):
            raise ValueError(f"region must be an AWS region name such as 'us-east-1', not {region!r}")
        if not isinstance(account_id, str) or not _ACCOUNT_ID.fullmatch(account_id):
            raise ValueError(f"account_id must be 12 digits, not {account_id!r}")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, not {seed!r}")
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive (virtual seconds per wall second), not {speed!r}")
        if (
            not isinstance(call_latency, (int, float))
            or isinstance(call_latency, bool)
            or not 0 <= call_latency < float("inf")
        ):
            raise ValueError(f"call_latency must be zero or more virtual seconds, not {call_latency!r}")
        if isinstance(start, datetime):
            if start.tzinfo is None:
                raise ValueError("start must be an aware datetime (e.g. tzinfo=timezone.utc)")
            start = start.timestamp()
        if codepipeline_settings is not None:
            from pipepilot.local.codepipeline._settings import checked_settings

            checked_settings(codepipeline_settings)
        self.region = region
        self.account_id = account_id
        self.seed = seed
        self.speed = speed
        self.start = start
        self._codepipeline_settings = codepipeline_settings
        self.call_latency = float(call_latency)
        self._world: World | None = None
        self._faults: FaultPlan | None = None
        self._stack: ExitStack | None = None
        self._clients: dict[tuple[str, str], BaseClient] = {}
        self._client_session: Any = None
        self._clients_lock = threading.Lock()

    def __repr__(self) -> str:
        state = "active" if self._world is not None else "inactive"
        return f"<OfflineAWS {state} region={self.region} account={self.account_id} seed={self.seed}>"

    # -- lifecycle -------------------------------------------------------------------------------------

    def __enter__(self) -> OfflineAWS:
        global _active
        with _active_lock:
            if _active is not None:
                raise RuntimeError(
                    f"pipepilot.local.offline() is already active ({_active!r}); contexts do not nest and "
                    "only one can be active per process"
                )
            _active = self
        stack = ExitStack()
        try:
            self._start(stack)
        except BaseException:
            stack.close()
            with _active_lock:
                _active = None
            raise
        self._stack = stack
        return self

    def _start(self, stack: ExitStack) -> None:
        """Start moto and point botocore at the engines: set ``MOTO_ACCOUNT_ID`` (for another account),
        ``boto3.DEFAULT_SESSION``, the router, botocore's retry sleep and moto's stubber, and
        ``self._world``/``self._faults``; each undo goes on ``stack``, so leaving the context (or a failed
        start) restores everything in reverse order."""
        from moto import mock_aws

        from pipepilot.local import _wiring
        from pipepilot.local._world import World
        from pipepilot.local.clock import DEFAULT_START, VirtualClock
        from pipepilot.local.faults import FaultPlan

        if self.account_id != _DEFAULT_ACCOUNT_ID:
            # moto picks the account per request from this variable; restore what was there.
            previous_account = os.environ.get("MOTO_ACCOUNT_ID")
            os.environ["MOTO_ACCOUNT_ID"] = self.account_id
            stack.callback(_restore_environ, "MOTO_ACCOUNT_ID", previous_account)
        mock = mock_aws()
        mock.start()
        stack.callback(mock.stop)
        # moto empties boto3's default session so boto3.client() builds one that carries the hooks. Ours
        # also serves pipepilot's facades (see pipepilot._calls.default_session): the world's region where
        # nothing names one, dummy credentials, and the shared model loader so that the first client costs
        # milliseconds, not a third of a second. The previous session comes back when the context ends.
        import boto3

        previous_session = boto3.DEFAULT_SESSION
        boto3.DEFAULT_SESSION = _new_session(None, fallback_region=self.region)
        stack.callback(setattr, boto3, "DEFAULT_SESSION", previous_session)
        _wiring.install()
        start = DEFAULT_START if self.start is None else self.start
        clock = VirtualClock(start=start, speed=self.speed, seed=self.seed)
        world = World(
            region=self.region,
            account_id=self.account_id,
            seed=self.seed,
            clock=clock,
            codepipeline_settings=self._codepipeline_settings,
            call_latency=self.call_latency,
        )
        faults = FaultPlan(seed=self.seed)
        _wiring.ROUTER.activate(world, faults)
        stack.callback(_wiring.ROUTER.deactivate)
        stack.callback(_wiring.route_retry_sleeps(clock))
        stack.callback(_wiring.route_moto_stubber())
        stack.callback(self._forget)
        self._world, self._faults = world, faults

    def _forget(self) -> None:
        """Drop the world, the fault plan, the cached clients and their session when the context ends:
        :attr:`world` then raises instead of serving a stopped world, and entering again builds fresh
        clients."""
        self._world = None
        self._faults = None
        with self._clients_lock:
            self._clients.clear()
            self._client_session = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        global _active
        stack, self._stack = self._stack, None
        try:
            if stack is not None:
                stack.close()
        finally:
            with _active_lock:
                if _active is self:
                    _active = None

    def __call__(self, function: Callable[_P, _R]) -> Callable[_P, _R]:
        """Decorate ``function`` so every call runs inside a fresh context like this one."""

        @functools.wraps(function)
        def run_offline(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            """Call ``function`` inside a fresh copy of this context, so every call gets a world of its
            own."""
            with self._copy():
                return function(*args, **kwargs)

        return run_offline

    def _copy(self) -> OfflineAWS:
        """A new, not yet entered :class:`OfflineAWS` with this one's settings (region, account, seed, speed,
        start, CodePipeline settings, call latency)."""
        return OfflineAWS(
            region=self.region,
            account_id=self.account_id,
            seed=self.seed,
            speed=self.speed,
            start=self.start,
            codepipeline_settings=self._codepipeline_settings,
            call_latency=self.call_latency,
        )

    # -- state -----------------------------------------------------------------------------------------

    @property
    def world(self) -> World:
        """The engines' shared state (clock, engines, scripts, events); mainly for engine authors."""
        if self._world is None:
            raise RuntimeError(
                "this pipepilot.local.offline() context is not active (use it in a `with` block)"
            )
        return self._world

    @property
    def clock(self) -> VirtualClock:
        """The virtual clock: ``now()``, ``advance(seconds)``, ``advance_to(t)``, ``run_until_idle()``."""
        return self.world.clock

    @property
    def faults(self) -> FaultPlan:
        """The fault plan: ``aws.faults.add(operation=..., error=..., rate=... | nth=...)``; ``.log``."""
        self.world  # noqa: B018 (raises when inactive)
        assert self._faults is not None
        return self._faults

    @property
    def events(self) -> EventLog:
        """The EventBridge events emitted so far (CodePipeline and CodeBuild), in order, as envelopes.

        The newest ``codepipeline_settings.event_history_limit`` (100,000 by default) are kept, compactly:
        a read-only sequence of dicts (an :class:`EventLog`) whose every read returns fresh dicts; ``clear()``
        empties it.
        """
        return self.world.events

    @property
    def default_durations(self) -> dict[str, float]:
        """Seconds a non-scripted action takes, by ``"Category:Provider"`` or provider; edit to change."""
        return self.world.default_durations

    @property
    def build_phase_durations(self) -> dict[str, float]:
        """Seconds each CodeBuild phase takes when not scripted; edit to change."""
        return self.world.build_phase_durations

    @property
    def verify_roles(self) -> bool:
        """Whether service roles must exist in moto's IAM and trust the service (default True)."""
        return self.world.verify_roles

    @verify_roles.setter
    def verify_roles(self, value: bool) -> None:
        self.world.verify_roles = bool(value)

    @property
    def codepipeline_settings(self) -> CodePipelineSettings:
        """The CodePipeline engines' choices where AWS's behaviour is unconfirmed (timeouts, caps, ...).

        Assign a new :class:`CodePipelineSettings` to change them for every region at once, e.g.
        ``aws.codepipeline_settings = attrs.evolve(aws.codepipeline_settings, concurrent_execution_cap=5)``;
        or pass ``codepipeline_settings=`` to :func:`offline`.

        Raises:
            TypeError: (on assignment) the value is not a ``CodePipelineSettings``.
        """
        return self.world.codepipeline_settings

    @codepipeline_settings.setter
    def codepipeline_settings(self, settings: CodePipelineSettings) -> None:
        self.world.codepipeline_settings = settings

    @property
    def max_concurrent_builds(self) -> int | None:
        """In-progress builds allowed per region before StartBuild answers AccountLimitExceededException."""
        return self.world.max_concurrent_builds

    @max_concurrent_builds.setter
    def max_concurrent_builds(self, value: int | None) -> None:
        if value is not None and value < 0:
            raise ValueError(f"max_concurrent_builds cannot be negative ({value!r})")
        self.world.max_concurrent_builds = value

    # -- scripting -------------------------------------------------------------------------------------

    def script_action(
        self,
        pipeline: str,
        stage: str,
        action: str,
        *,
        outcome: Literal["Succeeded", "Failed"] = "Succeeded",
        duration: float | None = None,
        error_code: str = "JobFailed",
        error_message: str = "The action failed (scripted by pipepilot.local).",
        summary: str | None = None,
        external_execution_id: str | None = None,
        output_variables: Mapping[str, str] | None = None,
        times: int | None = None,
    ) -> ActionScript:
        """Script how runs of one action end: outcome, duration (virtual seconds), error, outputs.

        ``times=N`` applies to the next N runs (scripts with ``times`` are used in the order given);
        ``times=None`` applies to every later run once those are used up.

        Raises:
            InvalidArgumentError: an unknown ``outcome``, a negative ``duration`` or a ``times`` below 1
                (a ``ValueError``; ``parameter`` names the field).
            ArgumentTypeError: an argument has the wrong type (a ``TypeError``).
        """
        from pipepilot.local._world import ActionScript

        _check_names(pipeline=pipeline, stage=stage, action=action)
        _check_script_options(duration=duration, times=times)
        check_str(error_code, "error_code")
        check_str(error_message, "error_message", empty=True)
        check_str(summary, "summary", optional=True, empty=True)
        check_str(external_execution_id, "external_execution_id", optional=True)
        check_str_map(output_variables, "output_variables", example='{"VERSION": "1.2.3"}')
        with validating_fields("script_action"):
            script = ActionScript(
                pipeline=pipeline,
                stage=stage,
                action=action,
                outcome=outcome,
                duration=duration,
                error_code=error_code,
                error_message=error_message,
                summary=summary,
                external_execution_id=external_execution_id,
                output_variables=output_variables,
                times=times,
            )
        self.world.scripts.add_action(script)
        return script

    def script_rule(
        self,
        pipeline: str,
        stage: str,
        rule: str,
        *,
        outcome: Literal["Succeeded", "Failed"] = "Succeeded",
        duration: float | None = None,
        summary: str | None = None,
        times: int | None = None,
    ) -> RuleScript:
        """Script how evaluations of one stage-condition rule end (any provider, any condition block).

        ``rule`` is the rule's ``name`` in a ``beforeEntry``, ``onSuccess`` or ``onFailure`` condition of
        ``stage``. A ``"Failed"`` rule fails its condition, which then applies its ``result``
        (``FAIL`` fails the stage, ``SKIP`` skips it, ``ROLLBACK`` on ``onSuccess`` rolls it back; an
        ``onFailure`` condition applies its result only when its rules succeed). ``duration`` is the
        evaluation's virtual seconds (default ``default_durations["Rule:<provider>"]``, else 0);
        ``summary`` is shown on the rule (and is the error message of a failed one). ``times`` works as in
        :meth:`script_action`. Without a script, ``VariableCheck`` rules compare their variables and every
        other provider succeeds.

        Raises:
            InvalidArgumentError: an unknown ``outcome``, a negative ``duration`` or a ``times`` below 1
                (a ``ValueError``; ``parameter`` names the field).
            ArgumentTypeError: an argument has the wrong type (a ``TypeError``).
        """
        from pipepilot.local._world import RuleScript

        _check_names(pipeline=pipeline, stage=stage, rule=rule)
        _check_script_options(duration=duration, times=times)
        check_str(summary, "summary", optional=True, empty=True)
        with validating_fields("script_rule"):
            script = RuleScript(
                pipeline=pipeline,
                stage=stage,
                rule=rule,
                outcome=outcome,
                duration=duration,
                summary=summary,
                times=times,
            )
        self.world.scripts.add_rule(script)
        return script

    def script_build(
        self,
        project: str,
        *,
        fail_in: str | None = "BUILD",
        status: Literal["SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT"] = "FAILED",
        message: str | None = None,
        phase_durations: Mapping[str, float] | None = None,
        exported_variables: Mapping[str, str] | None = None,
        log_lines: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
        artifact_files: Mapping[str, str | bytes] | None = None,
        times: int | None = None,
    ) -> BuildScript:
        """Script how builds of one project go: failing phase and status, durations, variables, log lines.

        By default the build fails in BUILD with FAILED; ``fail_in=None`` (or ``status="SUCCEEDED"``) lets
        it succeed, e.g. to set only ``phase_durations``, ``exported_variables`` or ``log_lines`` (a list
        for the BUILD phase, or a mapping phase -> lines). ``status="TIMED_OUT"`` keeps the phase running
        until the build's ``timeoutInMinutes`` runs out. ``artifact_files`` (relative path -> text or bytes)
        are what a CodeBuild action's build uploads, zipped, as each of its output artifacts (without them
        it uploads a small archive naming the build). ``times`` works as in :meth:`script_action`.

        Raises:
            InvalidArgumentError: an unknown phase or status, a negative duration, or ``times`` below 1
                (a ``ValueError``; ``parameter`` names the field), or an artifact file path that is empty
                or absolute.
            ArgumentTypeError: an argument has the wrong type (a ``TypeError``), e.g. an artifact file's
                content that is neither ``str`` nor ``bytes``.
        """
        from pipepilot.local._world import BuildScript

        _check_names(project=project)
        _check_script_options(times=times)
        check_str(fail_in, "fail_in", optional=True)
        check_str(message, "message", optional=True, empty=True)
        check_str_map(exported_variables, "exported_variables", example='{"VERSION": "1.2.3"}')
        if phase_durations is not None:
            if not isinstance(phase_durations, Mapping):
                raise ArgumentTypeError(
                    "phase_durations must be a mapping of phase to seconds (for example "
                    f'{{"BUILD": 120}}), not {type_name(phase_durations)}',
                    parameter="phase_durations",
                )
            for phase, seconds in phase_durations.items():
                check_number(seconds, f"phase_durations[{phase!r}]")
                if seconds < 0:
                    raise InvalidArgumentError(
                        f"phase duration cannot be negative ({phase}: {seconds!r})",
                        parameter="phase_durations",
                    )
        if log_lines is not None and (
            isinstance(log_lines, (str, bytes)) or not isinstance(log_lines, (Iterable, Mapping))
        ):
            raise ArgumentTypeError(
                "log_lines must be a sequence of lines (or a mapping phase -> lines), not "
                f"{type_name(log_lines)}",
                parameter="log_lines",
            )
        with validating_fields("script_build"):
            script = BuildScript(
                project=project,
                fail_in=fail_in,
                status=status,
                message=message,
                phase_durations=phase_durations,
                exported_variables=exported_variables,
                log_lines=log_lines,
                artifact_files=artifact_files,
                times=times,
            )
        self.world.scripts.add_build(script)
        return script

    def register_lambda(
        self,
        name: str,
        handler: LambdaHandler,
        *,
        timeout: float = 900.0,
        duplicates: Iterable[float] = (),
    ) -> None:
        """Make ``handler(event, context)`` answer Lambda invoke actions whose ``FunctionName`` is ``name``.

        CodePipeline invokes the function asynchronously: the handler runs when the virtual clock next moves
        after the job is created, outside the engine's lock, with the ``{"CodePipeline.job": ...}`` event and
        a context whose ``get_remaining_time_in_millis()`` counts down ``timeout`` seconds (the function's
        own timeout, at most Lambda's 900) on the virtual clock. A job answered "in progress" (success with
        a continuation token) invokes it again with a new job, after
        ``codepipeline_settings.lambda_continuation_delay_seconds``.

        ``duplicates`` simulates Lambda's at-least-once delivery of asynchronous invocations: for each job,
        the same event is delivered again after each of these delays (virtual seconds after the first
        invocation; ``(0,)`` right after it, ``(0, 60)`` twice), whatever became of the job meanwhile.

        Raises:
            ArgumentTypeError: ``name`` is not a string, ``handler`` is not callable, or ``timeout`` or a
                duplicate delay is not a number (a ``TypeError``).
            InvalidArgumentError: ``timeout`` is not between 0 (excluded) and 900 seconds, or a delay is
                negative (a ``ValueError``).
        """
        check_str(name, "name")
        check_callable(handler, "handler", optional=False)
        check_number(timeout, "timeout")
        if not 0 < timeout <= 900:
            raise InvalidArgumentError(
                f"timeout must be more than 0 and at most 900 seconds (Lambda's limit), not {timeout!r}",
                parameter="timeout",
            )
        if isinstance(duplicates, (str, bytes)) or not isinstance(duplicates, Iterable):
            raise ArgumentTypeError(
                f"duplicates must be an iterable of delays in seconds, not {type_name(duplicates)}",
                parameter="duplicates",
            )
        delays = tuple(duplicates)
        for index, delay in enumerate(delays):
            check_number(delay, f"duplicates[{index}]")
            if not 0 <= delay < float("inf"):
                raise InvalidArgumentError(
                    f"duplicates[{index}] must be zero or more seconds, not {delay!r}", parameter="duplicates"
                )
        self.world.register_lambda(name, handler, timeout=float(timeout), duplicates=delays)

    def lambda_function(
        self, name: str, *, timeout: float = 900.0, duplicates: Iterable[float] = ()
    ) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
        """Decorator form of :meth:`register_lambda` (same options); returns the handler unchanged."""

        def register(handler: Callable[_P, _R]) -> Callable[_P, _R]:
            """Register ``handler`` under ``name`` in the world and return it unchanged."""
            self.register_lambda(name, handler, timeout=timeout, duplicates=duplicates)  # type: ignore[arg-type]
            return handler

        return register

    def subscribe(self, topic_arn: str, handler: LambdaHandler) -> None:
        """Subscribe ``handler(event, context)`` to an SNS topic, as a Lambda function would be subscribed.

        Every message the offline engines publish to ``topic_arn`` (a manual approval's notification)
        reaches the handler as the event SNS gives Lambda — ``{"Records": [{"EventSource": "aws:sns",
        "EventSubscriptionArn": ..., "Sns": {"Type": "Notification", "MessageId": ..., "TopicArn": ...,
        "Subject": ..., "Message": ..., "Timestamp": ..., ...}}]}`` (unsigned) — with a context like the
        one Lambda invoke actions get. Delivery is asynchronous, as SNS invokes Lambda: it is scheduled at
        the moment of publishing and runs when the virtual clock next moves, never inside the call that
        published. Each subscriber gets every message, in the order they subscribed. Messages still reach
        moto's SNS and its subscriptions too. The topic may be created later: a publish to a topic that
        does not exist delivers nothing, as on AWS. Messages your own code publishes with boto3 go to moto
        only.

        A handler that raises is logged (WARNING: its exception type and traceback frames, never the
        message, which carries the approval token) and the message is dropped: Lambda's retries of
        failed asynchronous invocations are not emulated.

        Raises:
            ValueError: ``topic_arn`` is not an SNS topic ARN.
            TypeError: ``handler`` is not callable.
        """
        self.world.subscribe(topic_arn, handler)

    def push_revision(
        self,
        pipeline: str,
        action: str | None = None,
        revision_id: str | None = None,
        *,
        branch: str | None = None,
        file_paths: Iterable[str] = (),
        tag: str | None = None,
        summary: str | None = None,
        region: str | None = None,
    ) -> str | None:
        """Push a new source revision to a pipeline's source action (default: its first one).

        Starts an execution when the pipeline's triggers / change detection match, as a real push would;
        returns that execution's id, or None when nothing started.

        Raises:
            ArgumentTypeError: an argument has the wrong type (``file_paths`` one string, say).
        """
        _check_names(pipeline=pipeline)
        for name, value in (("action", action), ("revision_id", revision_id), ("branch", branch)):
            check_str(value, name, optional=True)
        for name, value in (("tag", tag), ("summary", summary), ("region", region)):
            check_str(value, name, optional=True)
        if isinstance(file_paths, (str, bytes)) or not isinstance(file_paths, Iterable):
            raise ArgumentTypeError(
                f"file_paths must be an iterable of paths, not {type_name(file_paths)}",
                parameter="file_paths",
            )
        return self.world.codepipeline(region).push_revision(
            pipeline,
            action,
            revision_id,
            branch=branch,
            file_paths=tuple(file_paths),
            tag=tag,
            summary=summary,
        )

    # -- clients ---------------------------------------------------------------------------------------

    def service_role(self, name: str, *services: str) -> str:
        """Create the IAM role ``name`` that ``services`` may assume, and return its ARN.

        ``services`` are short service names (``"codepipeline"``, ``"codebuild"``, ``"cloudformation"``;
        default ``"codepipeline"``): the role's trust policy names ``<service>.amazonaws.com`` as principal,
        which is what the engines check a pipeline's or a project's role for (unless ``verify_roles`` is
        off). The role lives in moto's IAM, like one your own code would create.

        Raises:
            ArgumentTypeError: ``name`` or a service is not a string.
            InvalidArgumentError: ``name`` or a service is empty.
            botocore.exceptions.ClientError: IAM refused it (``EntityAlreadyExists`` for a name in use).
        """
        import json

        check_str(name, "name")
        for service in services:
            check_str(service, "services")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {
                        "Service": [f"{service}.amazonaws.com" for service in services or ("codepipeline",)]
                    },
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = self.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        arn: str = role["Role"]["Arn"]
        return arn

    def client(self, service: str, *, region: str | None = None, config: Config | None = None) -> Any:
        """A plain boto3 client for ``service`` served by this context.

        Without ``config`` the client is cached per service and region; with one (e.g. to change botocore's
        retries) a new client is made each call.

        Raises:
            ArgumentTypeError: ``service`` or ``region`` is not a string.
        """
        check_str(service, "service")
        check_str(region, "region", optional=True)
        self.world  # noqa: B018 (raises when inactive)
        region = region or self.region
        with self._clients_lock:
            # One session per world serves every client this method makes (botocore builds session
            # components lazily, so clients are made under the lock); it ends with the world.
            if self._client_session is None:
                self._client_session = _new_session(self.region)
            if config is not None:
                return self._client_session.client(service, region_name=region, config=config)
            client = self._clients.get((service, region))
            if client is None:
                client = self._client_session.client(service, region_name=region)
                self._clients[(service, region)] = client
            return client


def _check_names(**names: object) -> None:
    """Each of ``names`` (pipeline, stage, action ...) must be a non-empty string."""
    for parameter, value in names.items():
        check_str(value, parameter)


def _check_script_options(*, duration: object = None, times: object = None) -> None:
    """Raise a typed error unless ``duration`` is a number and ``times`` an int (each may be None)."""
    check_number(duration, "duration", optional=True)
    check_int(times, "times", optional=True)


def _new_session(region: str | None, *, fallback_region: str | None = None) -> Any:
    """A fresh boto3 session for the offline world: the shared model loader, dummy credentials.

    The credentials are set on the session itself, so no profile, credentials file, SSO cache or metadata
    service is consulted, and nothing is written to ``os.environ``. ``region`` forces the region;
    ``fallback_region`` is used only where neither the call, the environment nor the config file names one.
    """
    from pipepilot._calls import new_session

    return new_session(region_name=region, fallback_region=fallback_region, credentials=_DUMMY_CREDENTIALS)


def _restore_environ(name: str, value: str | None) -> None:
    """Put environment variable ``name`` back to ``value``, removing it when ``value`` is None (it was
    unset)."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def offline(
    *,
    region: str = "us-east-1",
    account_id: str = _DEFAULT_ACCOUNT_ID,
    seed: int = 0,
    speed: float | None = None,
    start: float | datetime | None = None,
    codepipeline_settings: CodePipelineSettings | None = None,
    call_latency: float = DEFAULT_CALL_LATENCY,
) -> OfflineAWS:
    """An offline AWS: use as ``with offline() as aws:`` or as a ``@offline()`` decorator.

    ``region`` and ``account_id`` are the defaults the world lives in (clients may use other regions);
    ``boto3.client(...)`` inside the context uses ``region`` unless the environment (or the call) names one.
    ``seed`` makes ids, tokens and fault plans reproducible. ``start`` sets the virtual clock's start
    (epoch seconds or an aware datetime; default 2026-01-01T00:00:00Z). ``speed`` turns on real-time mode:
    virtual time follows the wall clock ``speed`` times faster (for demos), instead of moving only when
    advanced. ``codepipeline_settings`` (a :class:`CodePipelineSettings`) changes the CodePipeline engines'
    choices where AWS's behaviour is unconfirmed: timeouts, caps, the status of cancelled waiters.
    ``call_latency`` is the virtual seconds every CodePipeline and CodeBuild request takes its caller before
    the engine applies it (default 1 ms; 0 for none), so calls made one after the other are stamped at
    increasing times, as on AWS (an update's ``updated`` is later than the ``created`` before it).

    Raises:
        ValueError: a malformed region, account id, speed, start or call latency.
        TypeError: ``codepipeline_settings`` is not a ``CodePipelineSettings``.
        RuntimeError: (on entry) another context is already active.
    """
    return OfflineAWS(
        region=region,
        account_id=account_id,
        seed=seed,
        speed=speed,
        start=start,
        codepipeline_settings=codepipeline_settings,
        call_latency=call_latency,
    )


def active() -> OfflineAWS:
    """The active offline context (for code decorated with ``@offline()``).

    Raises:
        RuntimeError: no context is active.
    """
    current = _active
    if current is None or current._world is None:
        raise RuntimeError("no pipepilot.local.offline() context is active")
    return current


def patch_client(client: BaseClient) -> BaseClient:
    """Route an existing client through the offline engines (for clients created before import).

    Clients created after ``pipepilot.local`` starts its first context (including every
    ``boto3.client(...)`` inside one) need nothing. Returns the client.
    """
    from pipepilot.local import _wiring

    _wiring.install()
    _wiring.patch_client(client)
    return client


_SERVICES = (("codepipeline", "CodePipeline"), ("codebuild", "CodeBuild"))


def _operation_coverage() -> list[tuple[str, list[tuple[str, bool]]]]:
    """Per service (CodePipeline, then CodeBuild): its title and ``(operation, answered)`` pairs by name.

    The operations come from botocore's service models, "answered" from the engines themselves, so the
    result always matches the installed versions. Nothing starts (no moto, no clock).
    """
    from pipepilot._shapes import service_model
    from pipepilot.local._world import World

    world = World()
    coverage: list[tuple[str, list[tuple[str, bool]]]] = []
    for service, title in _SERVICES:
        engine = world.engine(service)
        names = sorted(service_model(service).operation_names)
        coverage.append((title, [(name, engine.implements(name)) for name in names]))
    return coverage


def coverage_table() -> str:
    """A Markdown table of every CodePipeline and CodeBuild operation and whether the engine answers it.

    Operations not answered get ``UnknownOperationException`` inside :func:`offline` (they never fall
    through to moto, which keeps pipelines and projects of its own).
    """
    sections: list[str] = []
    for title, operations in _operation_coverage():
        answered = sum(done for _, done in operations)
        lines = [
            f"### {title}: {answered} of {len(operations)} operations answered",
            "",
            "| Operation | Offline engine |",
            "|---|---|",
        ]
        lines += [
            f"| `{name}` | {'answered' if done else 'not emulated (UnknownOperationException)'} |"
            for name, done in operations
        ]
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"
