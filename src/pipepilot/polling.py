"""How pipepilot waits: when to poll next, what changed between two polls, and the loop that does it.

Everything here but :func:`wait_until` is pure (sans-I/O): :func:`next_interval` and :func:`next_step`
turn a :class:`PollPolicy` and a few numbers into a decision (:class:`Done`, :class:`Sleep` or
:class:`TimedOut`), the ``*_timeout`` functions derive a wait's default timeout from AWS's limits, and
:func:`diff_states` turns two :class:`~pipepilot.model.runtime.PipelineState` readings into typed
progress events. :func:`wait_until` is the thin driver that fetches, decides and sleeps on an injected
clock (by default the current :mod:`pipepilot._time` source, which :func:`pipepilot.local.offline` makes
virtual).

Economy and lateness
--------------------
A wait notices the end of what it waits for within 30 s for the first 2 hours, and always within
``max(30 s, 2 % of the time waited)``, never more than 5 minutes late (:meth:`PollPolicy.lateness_bound`).
The default policy polls after 7.5 s and 15 s, then every 30 s; after 2 hours each sleep grows by 2 % of
every further second waited, up to 5 minutes (jitter only ever shortens a sleep, by up to 5 %). The bound
holds for every end, early or late, and no schedule that keeps it makes fewer calls: a gap longer than
the bound is a window where an end would be noticed too late. That is just under 1/5 of the calls of a
fixed 5-second loop for a 10-minute wait, less for longer ones, and about 2,350 calls for 7 days.

A :class:`Forecast` (learned from earlier durations) never loosens that bound by default. A policy with
a ``sparse_interval`` opts into polling that sparsely until shortly before the forecast's earliest end,
accepting that an end before it (typically an early failure) is noticed up to ``sparse_interval`` late.

Timeouts
--------
``PollPolicy(timeout=None)`` (the default) means "the default for this wait": every pipepilot wait
derives one from AWS's own limits (see :class:`DefaultTimeout` and the ``*_timeout`` functions), and
:class:`~pipepilot.errors.WaitTimeout` says which one ended it. A number of seconds overrides it, and
:attr:`PollPolicy.FOREVER` waits without a limit.

Throttling slows polling down instead of failing the wait: :func:`wait_until` treats
:class:`~pipepilot.errors.TransientError` (throttling, 5xx, dropped connections: a read is always safe to
repeat) as "poll later", backing off with :meth:`PollPolicy.after_throttle`.

Putting it together (what ``Execution.wait`` does)::

    schedule = PollSchedule(policy=policy, started=clock(), elapsed=seconds_already_running,
                            default_timeout=lambda: execution_timeout(read_declaration()),
                            rng=poll_jitter(pipeline, execution_id))
    final = wait_until(fetch_execution, lambda e, now: schedule.decide(e.is_terminal, now),
                       policy=policy, schedule=schedule, status_of=lambda e: e.status)
"""

from __future__ import annotations

import logging
import math
import random
import statistics
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import attrs

from pipepilot._time import SYSTEM_TIME
from pipepilot.errors import TransientError, WaitTimeout
from pipepilot.model._wire import utc_datetime
from pipepilot.model.runtime import (
    ActionExecutionStatus,
    StageExecutionStatus,
    is_terminal_status,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from datetime import datetime
    from typing import TextIO

    from pipepilot._time import TimeSource
    from pipepilot.approvals import Approval
    from pipepilot.model.build import BuildDetails
    from pipepilot.model.declaration import ActionDeclaration, PipelineDeclaration, StageDeclaration
    from pipepilot.model.runtime import (
        ActionExecution,
        ErrorDetails,
        PipelineState,
        StageExecution,
        StageState,
    )

__all__ = [
    "ActionAbandoned",
    "ActionEvent",
    "ActionFailed",
    "ActionStarted",
    "ActionStatusChanged",
    "ActionSucceeded",
    "ApprovalRequested",
    "DefaultTimeout",
    "Done",
    "ExecutionHeldAtTransition",
    "ExecutionWaitingForStage",
    "Forecast",
    "PollPolicy",
    "PollSchedule",
    "ProgressEvent",
    "Sleep",
    "StageCancelled",
    "StageFailed",
    "StageSkipped",
    "StageStarted",
    "StageStatusChanged",
    "StageStopped",
    "StageSucceeded",
    "Step",
    "TimedOut",
    "action_time_limit",
    "approval_timeout",
    "build_timeout",
    "diff_states",
    "execution_timeout",
    "fallback_timeout",
    "format_duration",
    "log_progress",
    "next_interval",
    "next_step",
    "poll_jitter",
    "print_progress",
    "stage_timeout",
    "wait_policy",
    "wait_timing",
    "wait_until",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a positive number of seconds, not {value!r}")


def _timeout(instance: object, attribute: attrs.Attribute[float | None], value: float | None) -> None:
    if value is None or value == math.inf:
        return
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(
            f"{attribute.name} must be None (the wait's default), a positive number of seconds or "
            f"PollPolicy.FOREVER, not {value!r}"
        )


def _optional_positive(
    instance: object, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be None or a positive number of seconds, not {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be a number of seconds >= 0, not {value!r}")


def _growth(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 1):
        raise ValueError(f"{attribute.name} must be a number >= 1, not {value!r}")


def _fraction(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, (int, float)) and 0 <= value < 1):
        raise ValueError(f"{attribute.name} must be in [0, 1), not {value!r}")


@attrs.frozen(kw_only=True)
class PollPolicy:
    """How often a wait polls, and for how long.

    Sleeps start at ``interval`` and grow by ``multiplier`` after each poll, up to the lateness bound
    (:meth:`lateness_bound`): ``max_interval`` for the first ``steady_for`` seconds of the wait, then
    growing by ``lateness_fraction`` of every further second waited, up to ``max_lateness``. A wait
    therefore notices the end within that bound, whenever it comes: by default within 30 s for the first
    2 hours, and always within ``max(30 s, 2 % of the time waited)``, never over 5 minutes late.
    ``lateness_fraction=0`` keeps every sleep at or under ``max_interval``; ``steady_for=0`` lets sleeps
    grow to 2 % of the time waited as soon as that is over 30 s (after 25 minutes).

    ``jitter`` spreads each sleep by up to ``±jitter`` of its length, so many waits started together do
    not poll in lock-step; it never lifts a sleep above the bound. ``sparse_interval`` (default ``None``:
    off) lets a wait with a :class:`Forecast` poll that sparsely until shortly before the earliest end
    seen in earlier runs, at the price of noticing an earlier end (an early failure) up to that late.

    ``timeout`` is in seconds from the start of the wait. ``None`` (the default) means the default of
    the wait it is given to, derived from AWS's limits for what it waits for (see :class:`DefaultTimeout`);
    :attr:`FOREVER` means no limit. A wait that times out raises :class:`~pipepilot.errors.WaitTimeout`;
    the last poll happens at the deadline. After a throttled (or otherwise transient) failure the next
    poll comes :meth:`after_throttle` later, up to ``max_throttled_interval``.

    Raises:
        ValueError: a field is out of range (non-positive interval, multiplier below 1, ``jitter`` or
            ``lateness_fraction`` outside [0, 1), negative ``steady_for``, ``max_interval`` below
            ``interval`` ...).
    """

    #: ``timeout=PollPolicy.FOREVER`` waits without a time limit (the one way to ask for that).
    FOREVER: ClassVar[float] = math.inf

    interval: float = attrs.field(default=7.5, validator=_positive)
    multiplier: float = attrs.field(default=2.0, validator=_growth)
    max_interval: float = attrs.field(default=30.0, validator=_positive)
    steady_for: float = attrs.field(default=7200.0, validator=_non_negative)
    lateness_fraction: float = attrs.field(default=0.02, validator=_fraction)
    max_lateness: float = attrs.field(default=300.0, validator=_positive)
    sparse_interval: float | None = attrs.field(default=None, validator=_optional_positive)
    jitter: float = attrs.field(default=0.05, validator=_fraction)
    timeout: float | None = attrs.field(default=None, validator=_timeout)
    max_throttled_interval: float = attrs.field(default=300.0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.max_interval < self.interval:
            raise ValueError(f"max_interval ({self.max_interval}) must be >= interval ({self.interval})")
        if self.sparse_interval is not None and self.sparse_interval < self.max_interval:
            raise ValueError(
                f"sparse_interval ({self.sparse_interval}) must be >= max_interval ({self.max_interval})"
            )

    def lateness_bound(self, waited: float) -> float:
        """The longest a wait that has waited ``waited`` seconds may sleep: how late it may notice an end.

        ``max_interval`` for the first ``steady_for`` seconds; after that it grows by
        ``lateness_fraction`` of every further second waited, up to ``max_lateness`` (never below
        ``max_interval``). It never exceeds ``max(max_interval, lateness_fraction * waited)``, and never
        shrinks as the wait goes on, so a sleep within the bound at its start notices any end during it
        within the bound at that end.
        """
        fraction, floor = self.lateness_fraction, self.max_interval
        grown = min(fraction * waited, floor + fraction * (waited - self.steady_for))
        return min(max(self.max_lateness, floor), max(floor, grown))

    def after_throttle(self, interval: float) -> float:
        """The sleep after a throttled poll that followed a sleep of ``interval`` seconds.

        It is ``multiplier`` times longer (at least ``max_interval``: throttling means the account is busy,
        so polling at the start-of-wait pace would make it worse), capped at ``max_throttled_interval``.
        """
        grown = max(interval * self.multiplier, self.max_interval)
        return min(grown, max(self.max_throttled_interval, self.max_interval))


@attrs.frozen(kw_only=True)
class Forecast:
    """When the awaited thing is expected to end, in seconds from its start, learned from earlier runs.

    ``expected`` is the typical duration (the median); ``earliest`` is the point before which an end is
    unlikely, so polling may be sparse until then.
    """

    expected: float
    earliest: float

    @classmethod
    def from_history(cls, durations: Iterable[float], *, margin: float = 0.1) -> Forecast | None:
        """A forecast from earlier durations (seconds), or ``None`` when there are none to learn from.

        ``earliest`` is the shortest duration seen, less ``margin`` of it: runs of one pipeline vary,
        and ending earlier than every run so far is rare. Non-positive and non-finite values are ignored
        (a run that never finished says nothing about how long one takes).

        Raises:
            ValueError: ``margin`` is outside [0, 1).
        """
        if not 0 <= margin < 1:
            raise ValueError(f"margin must be in [0, 1), not {margin!r}")
        usable = [float(d) for d in durations if math.isfinite(d) and d > 0]
        if not usable:
            return None
        return cls(expected=statistics.median(usable), earliest=min(usable) * (1 - margin))


def wait_policy(poll: PollPolicy | None) -> PollPolicy:
    """The policy of one wait: ``poll``, or ``PollPolicy()`` (its timeout: the wait's default)."""
    return poll if poll is not None else PollPolicy()


class _TimingDefaults(Protocol):
    @property
    def time(self) -> TimeSource: ...

    @property
    def clock(self) -> Callable[[], float] | None: ...

    @property
    def sleep(self) -> Callable[[float], None] | None: ...


def wait_timing(defaults: _TimingDefaults) -> tuple[Callable[[], float], Callable[[float], None]]:
    """The clock and sleep of one wait: the facade's (``defaults``: its caller or client settings, from
    ``CodePipeline(clock=..., sleep=...)``), else pipepilot's time source as it is now (virtual inside
    :func:`pipepilot.local.offline`). The facade is the one place a program injects time."""
    source = defaults.time
    return defaults.clock or source.monotonic, defaults.sleep or source.sleep


def poll_jitter(*parts: str) -> random.Random:
    """The jitter source of one wait, seeded by what it waits for (``parts``: pipeline, execution id ...).

    Jitter exists to keep waits for *different* things from polling in lock-step, which distinct seeds do;
    seeding by the awaited thing also makes a wait replay the same polls under the same conditions (a
    test's fault plan then injects the same faults every run). Inside :func:`pipepilot.local.offline` the
    ids it is seeded by come from the context's seed, so poll jitter replays with it.
    """
    return random.Random("/".join(parts))


# ------------------------------------------------------------------------------------------- decisions


@attrs.frozen
class Done:
    """The awaited state is reached: stop polling."""


@attrs.frozen
class Sleep:
    """Poll again after ``seconds``."""

    seconds: float


@attrs.frozen
class TimedOut:
    """The wait's deadline passed before the awaited state was reached."""


Step = Done | Sleep | TimedOut
"""What a wait does next: one of :class:`Done`, :class:`Sleep`, :class:`TimedOut`."""


def next_interval(
    policy: PollPolicy,
    *,
    polls: int,
    elapsed: float,
    waited: float | None = None,
    forecast: Forecast | None = None,
    rng: random.Random | None = None,
) -> float:
    """How long to sleep after the ``polls``-th poll (counting from 1), ``waited`` seconds into the wait.

    The sleep ramps up from ``policy.interval`` to :meth:`PollPolicy.lateness_bound` of ``waited``
    (default: ``elapsed``). ``elapsed`` is the age of the awaited thing (not of the wait), because that is
    what a forecast speaks about; a forecast matters only with ``policy.sparse_interval``. ``rng``
    supplies jitter; without one there is none (handy in tests).
    """
    bound = policy.lateness_bound(elapsed if waited is None else waited)
    # The exponent is bounded so a long wait never overflows a float.
    ramp = policy.interval * policy.multiplier ** min(max(polls - 1, 0), 64)
    cap = bound
    sparse = policy.sparse_interval
    if sparse is not None and forecast is not None and elapsed < forecast.earliest:
        # Land no later than the bound into the window where the end may come, so an end at the very
        # start of the window is still noticed within the bound.
        cap = max(bound, min(sparse, forecast.earliest + bound - elapsed))
    seconds = min(ramp, cap)
    if rng is not None and policy.jitter:
        seconds *= 1 + policy.jitter * (2 * rng.random() - 1)
    return min(seconds, cap)


def next_step(
    policy: PollPolicy,
    *,
    finished: bool,
    polls: int,
    waited: float,
    elapsed: float | None = None,
    forecast: Forecast | None = None,
    rng: random.Random | None = None,
) -> Step:
    """What to do after the ``polls``-th poll, ``waited`` seconds into the wait.

    ``finished`` says whether that poll saw the awaited state. Otherwise the answer is :class:`TimedOut`
    once ``policy.timeout`` has passed, else a :class:`Sleep` (never past the deadline, so the last poll
    happens right at it). A ``timeout`` of ``None`` or :attr:`PollPolicy.FOREVER` sets no deadline here:
    :class:`PollSchedule` puts a wait's default in its place. ``elapsed`` is the age of the awaited
    thing (default: ``waited``), as in :func:`next_interval`.
    """
    if finished:
        return Done()
    timeout = policy.timeout
    if timeout is not None and math.isinf(timeout):
        timeout = None
    if timeout is not None and waited >= timeout:
        return TimedOut()
    seconds = next_interval(
        policy,
        polls=polls,
        elapsed=waited if elapsed is None else elapsed,
        waited=waited,
        forecast=forecast,
        rng=rng,
    )
    if timeout is not None:
        seconds = min(seconds, timeout - waited)
    return Sleep(seconds)


@attrs.define(kw_only=True)
class PollSchedule:
    """One wait's poll count, start and timeout, applying :func:`next_step` poll after poll.

    Build one per wait: ``started`` is the clock reading when the wait began; ``elapsed`` how long the
    awaited thing had already run by then (for the forecast). ``decide(finished, now)`` counts a poll and
    returns the next :data:`Step`; it does no I/O of its own.

    When ``policy.timeout`` is ``None`` the wait times out after ``default_timeout``: a
    :class:`DefaultTimeout`, or a function that makes one, called once, at the first poll
    ``resolve_after`` seconds or more into the wait (so a short wait never pays for the call that may
    take). ``None`` there leaves the wait without a limit.
    """

    policy: PollPolicy = attrs.field(factory=PollPolicy)
    started: float
    elapsed: float = 0.0
    forecast: Forecast | None = None
    rng: random.Random | None = attrs.field(default=None, repr=False)
    polls: int = 0
    default_timeout: DefaultTimeout | Callable[[], DefaultTimeout] | None = attrs.field(
        default=None, repr=False
    )
    resolve_after: float = 3600.0

    @property
    def deadline(self) -> float | None:
        """The clock reading at which the wait times out, as far as known now (``None``: none yet)."""
        timeout = self._timeout()
        return None if timeout is None else self.started + timeout

    @property
    def timeout_used(self) -> DefaultTimeout | None:
        """The default timeout in force (``None`` when the policy sets one, or it is not known yet)."""
        if self.policy.timeout is not None or not isinstance(self.default_timeout, DefaultTimeout):
            return None
        return self.default_timeout

    def describe_timeout(self) -> str:
        """What limit the wait has, in words, for error messages."""
        timeout = self.policy.timeout
        if timeout is not None:
            return f"timeout={format_duration(timeout)}"
        default = self.timeout_used
        if default is None:
            return "no timeout"
        return (
            f"the default timeout for this wait, {format_duration(default.seconds)}: {default.reason}; "
            "pass poll=PollPolicy(timeout=...) (seconds, or PollPolicy.FOREVER) to change it"
        )

    def decide(self, finished: bool, now: float) -> Step:
        """Count one poll that saw ``finished`` at clock reading ``now``, and say what comes next."""
        self.polls += 1
        waited = now - self.started
        policy = self.policy
        if policy.timeout is None and not finished:
            if callable(self.default_timeout) and waited >= self.resolve_after:
                self.default_timeout = self.default_timeout()
                logger.debug("default timeout: %s", self.describe_timeout())
            timeout = self._timeout()
            if timeout is not None:
                policy = attrs.evolve(policy, timeout=timeout)
        return next_step(
            policy,
            finished=finished,
            polls=self.polls,
            waited=waited,
            elapsed=self.elapsed + waited,
            forecast=self.forecast,
            rng=self.rng,
        )

    def _timeout(self) -> float | None:
        timeout = self.policy.timeout
        if timeout is None:
            default = self.default_timeout
            timeout = default.seconds if isinstance(default, DefaultTimeout) else None
        return None if timeout is None or math.isinf(timeout) else timeout


# ---------------------------------------------------------------------------------------------- driver


def wait_until(
    fetch: Callable[[], T],
    decide: Callable[[T, float], Step],
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    policy: PollPolicy | None = None,
    deadline: float | None = None,
    schedule: PollSchedule | None = None,
    status_of: Callable[[T], object] | None = None,
    label: str = "wait",
) -> T:
    """Poll ``fetch()`` until ``decide(value, now)`` says :class:`Done`, and return that last value.

    ``clock`` and ``sleep`` default to the system's (waits pass their facade's, see :func:`wait_timing`)
    (virtual inside :func:`pipepilot.local.offline`). A :class:`~pipepilot.errors.TransientError` from
    ``fetch`` (throttling, a 5xx, a dropped connection) does not end the wait: the next poll comes
    ``policy.after_throttle(...)`` later, but never past the deadline: ``deadline`` (a clock reading), or
    else ``schedule``'s as known at that moment. ``schedule`` (the one ``decide`` applies) also words the
    timeout in the error. ``status_of`` picks what counts as a change worth an INFO log line (DEBUG is
    logged for every poll); ``label`` names the wait in logs and errors.

    Raises:
        WaitTimeout: ``decide`` said :class:`TimedOut`, or transient errors lasted past the deadline;
            ``last`` is the last value fetched (``None`` if none was); the message says which timeout.
        Exception: whatever ``fetch`` raises that is not transient, unchanged.
    """
    now_of = clock if clock is not None else SYSTEM_TIME.monotonic
    sleep_for = sleep if sleep is not None else SYSTEM_TIME.sleep
    backoff = policy if policy is not None else PollPolicy()
    last: T | None = None
    last_status: object = None
    slept = backoff.interval
    polls = 0
    begun = now_of()

    def timed_out(what: str) -> str:
        text = f"{label}: {what} after {format_duration(now_of() - begun)} ({polls} polls)"
        return text if schedule is None else f"{text}; {schedule.describe_timeout()}"

    while True:
        polls += 1
        try:
            value = fetch()
        except TransientError as exc:
            now = now_of()
            limit = deadline if deadline is not None or schedule is None else schedule.deadline
            if limit is not None and now >= limit:
                raise WaitTimeout(timed_out("timed out while AWS kept failing"), last=last) from exc
            slept = backoff.after_throttle(slept)
            if limit is not None:
                slept = min(slept, limit - now)
            logger.warning("%s: poll %d failed (%s); polling again in %.1fs", label, polls, exc.code, slept)
            sleep_for(slept)
            continue
        now = now_of()
        last = value
        if status_of is not None:
            status = status_of(value)
            if status != last_status:
                logger.info("%s: %s", label, status)
                last_status = status
        step = decide(value, now)
        if isinstance(step, Done):
            logger.debug("%s: poll %d done", label, polls)
            return value
        if isinstance(step, TimedOut):
            logger.debug("%s: poll %d timed out", label, polls)
            raise WaitTimeout(timed_out("timed out"), last=last)
        slept = step.seconds
        logger.debug("%s: poll %d, next in %.1fs", label, polls, slept)
        sleep_for(slept)


def format_duration(seconds: float) -> str:
    """``seconds`` in words for messages: ``45 s``, ``12 min``, ``3 h 20 min``, ``7 d 2 h``, ``forever``."""
    if math.isinf(seconds):
        return "forever"
    whole = round(seconds)
    if whole < 120:
        return f"{seconds:.3g} s" if whole < 10 else f"{whole} s"
    minutes = whole // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


# ------------------------------------------------------------------------------------- default timeouts

#: How long AWS lets a manual approval wait for an answer unless its declaration says otherwise.
APPROVAL_LIFETIME = 7 * 24 * 3600.0
#: The longest a CodeBuild build may run (``timeoutInMinutes`` up to 36 h) plus queue (up to 8 h).
BUILD_LIMIT = (36 + 8) * 3600.0
#: A wait's default when what it waits for cannot be read (the pipeline could not be read, say).
FALLBACK_TIMEOUT = 30 * 24 * 3600.0
#: Time a build may take after its own timeout to finalize and report (``FINALIZING``, uploads).
BUILD_GRACE = 15 * 60.0

_HOUR = 3600.0
_DAY = 24 * _HOUR
# AWS's time limit of one action run, by (category, provider); owners other than AWS by owner. The
# documented default for any other action is one hour.
_ACTION_LIMITS: dict[tuple[str, str], float] = {
    ("Build", "CodeBuild"): BUILD_LIMIT,
    ("Test", "CodeBuild"): BUILD_LIMIT,
    ("Compute", "Commands"): BUILD_LIMIT,  # Commands run on CodeBuild compute
    ("Deploy", "CloudFormation"): 3 * _DAY,
    ("Deploy", "CloudFormationStackSet"): 3 * _DAY,
    ("Deploy", "CloudFormationStackInstances"): 3 * _DAY,
    ("Deploy", "CodeDeploy"): 5 * _DAY,
    ("Deploy", "CodeDeployToECS"): 5 * _DAY,
    ("Deploy", "S3"): 90 * 60.0,
    ("Deploy", "ECS"): _HOUR,
    ("Invoke", "Lambda"): 24 * _HOUR,  # 20 minutes per job, continued jobs up to 24 hours
    ("Invoke", "StepFunctions"): 7 * _DAY,
}
_OWNER_LIMITS: dict[str, float] = {"Custom": 24 * _HOUR, "ThirdParty": 24 * _HOUR}
_OTHER_ACTION_LIMIT = _HOUR


@attrs.frozen(kw_only=True)
class DefaultTimeout:
    """The timeout of a wait that was given none: ``seconds``, and ``reason`` says how it was derived.

    Each pipepilot wait derives its own from AWS's limits on what it waits for:

    * an execution (``Execution.wait``): :func:`execution_timeout`, twice the longest its actions may run;
    * a stage (``wait_for_stage``): :func:`stage_timeout`, the same up to that stage;
    * an approval (``wait_for_approval``): :func:`approval_timeout`, the approval's lifetime (7 days unless
      declared) plus the longest the actions before it may run;
    * a build (``Build.wait``): :func:`build_timeout`, the build's own timeouts.
    """

    seconds: float
    reason: str


def action_time_limit(action: ActionDeclaration) -> float:
    """The longest AWS lets one run of ``action`` last, in seconds.

    A manual approval lasts its declared ``timeoutInMinutes`` (7 days when not set); a CodeBuild action as
    long as a build may run and queue (44 h); CloudFormation 3 days, CodeDeploy 5 days, Step Functions
    7 days, an S3 deploy 90 minutes, a Lambda invoke 24 hours, custom and third-party actions 24 hours,
    and any other action 1 hour.
    """
    type_id = action.action_type_id
    category, owner, provider = str(type_id.category), str(type_id.owner), type_id.provider
    if category == "Approval":
        minutes = action.timeout_in_minutes
        return APPROVAL_LIFETIME if minutes is None else minutes * 60.0
    limit = _ACTION_LIMITS.get((category, provider)) if owner == "AWS" else _OWNER_LIMITS.get(owner)
    return _OTHER_ACTION_LIMIT if limit is None else limit


def _stage_limit(stage: StageDeclaration, *, before: str | None = None) -> float:
    """The longest a run through ``stage`` may last: its entry conditions, then each run-order group's
    longest action. With ``before`` (an action name), only the groups that run before that action's."""
    total = 0.0
    if before is None and stage.before_entry is not None:
        rules = [rule for condition in stage.before_entry.conditions for rule in condition.rules or ()]
        total += max((rule.timeout_in_minutes or 0) * 60.0 for rule in rules) if rules else 0.0
    for _, actions in stage.action_groups():
        if before is not None and any(action.name == before for action in actions):
            break
        total += max(action_time_limit(action) for action in actions)
    return total


def _run_limit(declaration: PipelineDeclaration, *, through: str | None = None) -> float:
    """The longest one execution may take to pass every stage, or every stage up to ``through``."""
    total = 0.0
    for stage in declaration.stages:
        total += _stage_limit(stage)
        if stage.name == through:
            break
    return total


def execution_timeout(declaration: PipelineDeclaration) -> DefaultTimeout:
    """The default timeout of a wait for an execution of ``declaration``'s pipeline to end.

    Twice the longest an execution may run by its actions' AWS time limits (each stage's run-order
    groups one after the other, each group as long as its longest action): its own run, plus one
    execution ahead of it that may hold each stage as long. An execution held at a disabled transition,
    or queued behind several others, can outlast it: give such a wait a ``timeout``.
    """
    run = _run_limit(declaration)
    return DefaultTimeout(
        seconds=2 * run,
        reason=(
            f"twice the longest an execution of pipeline {declaration.name!r} may run by its actions' "
            f"AWS time limits ({format_duration(run)}), to allow for one execution ahead of it"
        ),
    )


def stage_timeout(declaration: PipelineDeclaration, stage: str) -> DefaultTimeout:
    """The default timeout of a wait for an execution to pass ``stage``: as :func:`execution_timeout`,
    counting the stages up to and including ``stage``."""
    run = _run_limit(declaration, through=stage)
    return DefaultTimeout(
        seconds=2 * run,
        reason=(
            f"twice the longest an execution of pipeline {declaration.name!r} may take to pass stage "
            f"{stage!r} by its actions' AWS time limits ({format_duration(run)}), to allow for one "
            "execution ahead of it"
        ),
    )


def approval_timeout(
    declaration: PipelineDeclaration, *, stage: str | None = None, action: str | None = None
) -> DefaultTimeout:
    """The default timeout of a wait for a manual approval (``stage``/``action``, default: any) to wait.

    For each matching approval action: the longest an execution may take to reach it (the stages before,
    and the run-order groups before it in its stage), plus the longest an execution ahead of it may hold
    the approval (its lifetime: the declared ``timeoutInMinutes``, else AWS's 7 days, after which AWS
    fails it and the next execution moves in); the longest of those. Without a matching approval
    declared, :data:`FALLBACK_TIMEOUT`.
    """
    best: tuple[float, float] | None = None
    reached = 0.0
    for stage_declaration in declaration.stages:
        for candidate in stage_declaration.actions:
            if (
                str(candidate.action_type_id.category) == "Approval"
                and (stage is None or stage_declaration.name == stage)
                and (action is None or candidate.name == action)
            ):
                lifetime = action_time_limit(candidate)
                before = reached + _stage_limit(stage_declaration, before=candidate.name)
                if best is None or before + lifetime > sum(best):
                    best = (before, lifetime)
        reached += _stage_limit(stage_declaration)
    if best is None:
        return DefaultTimeout(
            seconds=FALLBACK_TIMEOUT,
            reason=f"pipeline {declaration.name!r} declares no such manual approval; a generous bound",
        )
    before, lifetime = best
    return DefaultTimeout(
        seconds=before + lifetime,
        reason=(
            f"the approval's lifetime ({format_duration(lifetime)}, how long an approval of an execution "
            f"ahead may hold it) plus the longest the actions before it may run ({format_duration(before)})"
        ),
    )


def build_timeout(details: BuildDetails | None) -> DefaultTimeout:
    """The default timeout of a wait for a build to end: its ``timeoutInMinutes`` plus its
    ``queuedTimeoutInMinutes`` (AWS's maxima, 36 h and 8 h, when unknown), plus
    :data:`BUILD_GRACE` for the build to finalize after its own timeout."""
    running = queued = None
    if details is not None:
        running, queued = details.timeout_in_minutes, details.queued_timeout_in_minutes
    limit = (36 * 60 if running is None else running) * 60.0 + (8 * 60 if queued is None else queued) * 60.0
    known = "its" if running is not None and queued is not None else "AWS's longest"
    return DefaultTimeout(
        seconds=limit + BUILD_GRACE,
        reason=(
            f"{known} build and queue timeouts ({format_duration(limit)}) plus "
            f"{format_duration(BUILD_GRACE)} to finalize"
        ),
    )


def fallback_timeout(why: str) -> DefaultTimeout:
    """:data:`FALLBACK_TIMEOUT`, for a wait whose own default could not be derived (``why``)."""
    return DefaultTimeout(seconds=FALLBACK_TIMEOUT, reason=f"a generous bound ({why})")


# -------------------------------------------------------------------------------------- progress events


# Characters of an action's error message shown in an event's one-line text.
_MESSAGE_SHOWN = 160


def _clock_time(moment: datetime) -> str:
    """``HH:MM:SS`` of ``moment`` in UTC (AWS's times, and the model's, are UTC)."""
    return utc_datetime(moment).strftime("%H:%M:%S")


@attrs.frozen(kw_only=True)
class ProgressEvent:
    """Something that happened to one execution between two polls of the pipeline state.

    ``str(event)`` is one short line for people (``repr`` shows every field)::

        12:03:04 release Build/Compile: action failed: JobFailed: Unit tests failed (execution 1a2b3c4d)

    See :func:`print_progress` and :func:`log_progress` for ready-made ``on_progress`` callbacks.
    """

    pipeline_name: str
    execution_id: str
    stage_name: str
    #: When the wait that reported the event saw it, on the service's clock (virtual offline); ``None`` for
    #: events made by :func:`diff_states` directly. Not part of equality: the same change is the same event.
    observed_at: datetime | None = attrs.field(default=None, eq=False)

    #: What happened, in a few words (the subclasses' one-line description).
    _what: ClassVar[str] = "progress"

    @property
    def time(self) -> datetime | None:
        """When it happened, when the event knows (an action run's last change, a transition's disabling)."""
        return None

    @property
    def where(self) -> str:
        """``Stage`` or ``Stage/Action``."""
        return self.stage_name

    def happened(self) -> str:
        """What happened, in a few words (``action failed: JobFailed: ...``); never a secret."""
        return self._what

    def describe(self, *, when: datetime | None = None) -> str:
        """The one-line text of ``str(event)``: stamped with the event's own time, else when it was observed,
        else ``when``."""
        moment = self.time or self.observed_at or when
        prefix = f"{_clock_time(moment)} " if moment is not None else ""
        return (
            f"{prefix}{self.pipeline_name} {self.where}: {self.happened()} "
            f"(execution {self.execution_id[:8]})"
        )

    def __str__(self) -> str:
        return self.describe()


@attrs.frozen(kw_only=True)
class StageStarted(ProgressEvent):
    """The execution entered the stage (or a retry started it again)."""

    _what: ClassVar[str] = "stage started"


@attrs.frozen(kw_only=True)
class StageSucceeded(ProgressEvent):
    """The execution finished the stage successfully."""

    _what: ClassVar[str] = "stage succeeded"


@attrs.frozen(kw_only=True)
class StageFailed(ProgressEvent):
    """The stage failed for the execution (an action failed, or a condition failed it)."""

    _what: ClassVar[str] = "stage failed"


@attrs.frozen(kw_only=True)
class StageStopped(ProgressEvent):
    """The execution was stopped in the stage."""

    _what: ClassVar[str] = "stage stopped"


@attrs.frozen(kw_only=True)
class StageCancelled(ProgressEvent):
    """The stage run was cancelled (for example because the pipeline was updated)."""

    _what: ClassVar[str] = "stage cancelled"


@attrs.frozen(kw_only=True)
class StageSkipped(ProgressEvent):
    """A ``beforeEntry`` condition skipped the stage."""

    _what: ClassVar[str] = "stage skipped by its entry condition"


@attrs.frozen(kw_only=True)
class StageStatusChanged(ProgressEvent):
    """The stage run changed to another status (``Stopping``, or one pipepilot does not know yet)."""

    status: StageExecutionStatus | str

    def happened(self) -> str:
        return f"stage {self.status}"


@attrs.frozen(kw_only=True)
class ActionEvent(ProgressEvent):
    """Something happened to one run of an action; ``run`` is that run as last seen."""

    action_name: str
    run: ActionExecution

    @property
    def action_execution_id(self) -> str | None:
        """The id of the action run."""
        return self.run.action_execution_id

    @property
    def time(self) -> datetime | None:
        """When the action run last changed status (as ``GetPipelineState`` reports it)."""
        return self.run.last_status_change

    @property
    def where(self) -> str:
        return f"{self.stage_name}/{self.action_name}"


@attrs.frozen(kw_only=True)
class ActionStarted(ActionEvent):
    """An action started running for the execution."""

    _what: ClassVar[str] = "action started"


@attrs.frozen(kw_only=True)
class ActionSucceeded(ActionEvent):
    """An action finished successfully."""

    _what: ClassVar[str] = "action succeeded"


@attrs.frozen(kw_only=True)
class ActionFailed(ActionEvent):
    """An action failed; ``run.error_details`` and ``run.external_execution_url`` say why and where."""

    @property
    def error_details(self) -> ErrorDetails | None:
        """The provider's error code and message."""
        return self.run.error_details

    def happened(self) -> str:
        details = self.run.error_details
        if details is None or not (details.code or details.message):
            return "action failed"
        message = " ".join((details.message or "").split())
        if len(message) > _MESSAGE_SHOWN:
            message = message[: _MESSAGE_SHOWN - 1] + "…"
        return f"action failed: {': '.join(part for part in (details.code, message) if part)}"


@attrs.frozen(kw_only=True)
class ActionAbandoned(ActionEvent):
    """An action was abandoned (the execution was stopped with ``abandon=True``)."""

    _what: ClassVar[str] = "action abandoned"


@attrs.frozen(kw_only=True)
class ActionStatusChanged(ActionEvent):
    """An action run changed to a status pipepilot does not know yet."""

    def happened(self) -> str:
        return f"action {self.run.status}"


@attrs.frozen(kw_only=True)
class ApprovalRequested(ActionEvent):
    """A manual approval now waits for an answer; ``approval`` answers it.

    Waits (``Execution.wait``, ``Pipeline.wait_for_approval``) attach the :class:`~pipepilot.Approval`
    handle, so a progress callback can approve on the spot; it is ``None`` in the events
    :func:`diff_states` returns by itself (pure: it holds no client). The approval's token is a secret,
    never in ``repr`` nor in ``str``.
    """

    approval: Approval | None = attrs.field(default=None, eq=False)

    _what: ClassVar[str] = "approval waiting for an answer"

    @property
    def token(self) -> str | None:
        """The approval token (``PutApprovalResult`` needs it; :attr:`approval` uses it for you)."""
        return self.run.token

    def happened(self) -> str:
        """``approval waiting for an answer`` and, when known, when it expires (never the token)."""
        expires = self.approval.expires if self.approval is not None else None
        if expires is None:
            return self._what
        return f"{self._what} (expires {utc_datetime(expires):%Y-%m-%d %H:%M} UTC)"


@attrs.frozen(kw_only=True)
class ExecutionHeldAtTransition(ProgressEvent):
    """The execution waits in front of the stage because its inbound transition is disabled."""

    reason: str | None
    disabled_by: str | None
    disabled_at: datetime | None

    @property
    def time(self) -> datetime | None:
        """When the transition was disabled."""
        return self.disabled_at

    def happened(self) -> str:
        text = "held at the disabled transition"
        if self.reason:
            text += f": {self.reason!r}"
        if self.disabled_by:
            text += f" (disabled by {self.disabled_by})"
        return text


@attrs.frozen(kw_only=True)
class ExecutionWaitingForStage(ProgressEvent):
    """The execution waits in front of the stage because another execution occupies it."""

    occupied_by: str | None

    def happened(self) -> str:
        if self.occupied_by:
            return f"waiting for the stage (execution {self.occupied_by[:8]} is in it)"
        return "waiting for the stage"


_STAGE_TERMINAL_EVENTS: dict[object, type[ProgressEvent]] = {
    StageExecutionStatus.SUCCEEDED: StageSucceeded,
    StageExecutionStatus.FAILED: StageFailed,
    StageExecutionStatus.STOPPED: StageStopped,
    StageExecutionStatus.CANCELLED: StageCancelled,
}
_ACTION_TERMINAL_EVENTS: dict[object, type[ActionEvent]] = {
    ActionExecutionStatus.SUCCEEDED: ActionSucceeded,
    ActionExecutionStatus.FAILED: ActionFailed,
    ActionExecutionStatus.ABANDONED: ActionAbandoned,
}


def _stage_run(stage: StageState | None, execution_id: str) -> StageExecution | None:
    """The stage's latest execution if it is ``execution_id``'s."""
    if stage is None:
        return None
    latest = stage.latest_execution
    return latest if latest is not None and latest.pipeline_execution_id == execution_id else None


def _attempts(stage: StageState) -> tuple[int | None, int | None]:
    meta = stage.retry_stage_metadata
    return (None, None) if meta is None else (meta.auto_stage_retry_attempt, meta.manual_stage_retry_attempt)


def _waiting_kind(stage: StageState | None, execution_id: str) -> str | None:
    """``"held"``/``"waiting"`` if the execution waits in front of the stage, else ``None``."""
    if stage is None or _stage_run(stage, execution_id) is not None:
        return None
    if not any(e.pipeline_execution_id == execution_id for e in stage.waiting_executions()):
        return None
    return "waiting" if stage.inbound_enabled else "held"


def _appears_at_or_after(state: PipelineState, index: int, execution_id: str) -> bool:
    for stage in state.stage_states[index:]:
        if _stage_run(stage, execution_id) is not None or _waiting_kind(stage, execution_id) is not None:
            return True
    return False


def diff_states(
    previous: PipelineState | None,
    current: PipelineState,
    execution_id: str,
    *,
    since: datetime | None = None,
    observed_at: datetime | None = None,
) -> list[ProgressEvent]:
    """The progress of one execution between two readings of the pipeline state, as typed events.

    Events come in stage order and, within a stage, as: held at the transition / waiting for the stage,
    stage started, each action's events (in the stage's action order: started, approval waiting, ended),
    stage ended. Each change is reported once: diffing the same pair again gives the same list, and a
    state diffed against itself gives none. A run first seen already finished yields both its started and
    its ended event, so every stage and action run gets exactly one of each.

    Only ``execution_id``'s changes count: a stage counts when its latest execution is this one, and an
    action run when it is new since ``previous`` (runs already shown while another execution held the
    stage are that execution's). With ``previous=None`` (the first poll) that evidence is missing for a
    stage that is still running; an action run there counts if it is in progress, or if it changed at or
    after ``since`` (pass the execution's start time); without ``since`` finished runs count only once
    the stage succeeded. Passing the state read just before the execution started as ``previous`` makes
    attribution exact. ``observed_at`` (when ``current`` was read, on the service's clock) stamps every
    event.
    """
    pipeline = current.pipeline_name
    before: dict[str, StageState] = {}
    if previous is not None:
        before = {stage.stage_name: stage for stage in previous.stage_states}
    events: list[ProgressEvent] = []
    for index, stage in enumerate(current.stage_states):
        name = stage.stage_name
        old = before.get(name)
        common: dict[str, Any] = {
            "pipeline_name": pipeline,
            "execution_id": execution_id,
            "stage_name": name,
            "observed_at": observed_at,
        }

        kind = _waiting_kind(stage, execution_id)
        if kind is not None and kind != _waiting_kind(old, execution_id):
            if kind == "held":
                transition = stage.inbound_transition_state
                events.append(
                    ExecutionHeldAtTransition(
                        **common,
                        reason=None if transition is None else transition.disabled_reason,
                        disabled_by=None if transition is None else transition.last_changed_by,
                        disabled_at=None if transition is None else transition.last_changed_at,
                    )
                )
            else:
                latest = stage.latest_execution
                events.append(
                    ExecutionWaitingForStage(
                        **common, occupied_by=None if latest is None else latest.pipeline_execution_id
                    )
                )

        run = _stage_run(stage, execution_id)
        old_run = _stage_run(old, execution_id)
        if run is None:
            # The execution left a stage it was running between the polls: it can only have moved on
            # (a failure or stop keeps it there), which shows as it being further down the pipeline.
            if (
                old_run is not None
                and not is_terminal_status(old_run.status)
                and _appears_at_or_after(current, index + 1, execution_id)
            ):
                events.append(StageSucceeded(**common))
            continue

        status = run.status
        old_status = None if old_run is None else old_run.status
        restarted = old_status is not None and (
            (is_terminal_status(old_status) and not is_terminal_status(status))
            or (old is not None and _attempts(old) != _attempts(stage))
        )
        new_run = old_status is None or restarted
        if status == StageExecutionStatus.SKIPPED:
            if new_run or old_status != status:
                events.append(StageSkipped(**common))
            continue
        if new_run:
            events.append(StageStarted(**common))

        events.extend(_action_events(stage, old, old_run is not None, common, since=since))

        if status != old_status or new_run:
            terminal = _STAGE_TERMINAL_EVENTS.get(status)
            if terminal is not None:
                events.append(terminal(**common))
            elif status != StageExecutionStatus.IN_PROGRESS:
                events.append(StageStatusChanged(**common, status=status))
    return events


def _action_events(
    stage: StageState,
    old: StageState | None,
    old_was_ours: bool,
    common: dict[str, Any],
    *,
    since: datetime | None,
) -> list[ActionEvent]:
    old_runs: dict[str, ActionExecution] = {}
    if old is not None:
        for action in old.action_states:
            if action.latest_execution is not None:
                old_runs[action.action_name] = action.latest_execution
    stage_succeeded = stage.latest_execution is not None and (
        stage.latest_execution.status == StageExecutionStatus.SUCCEEDED
    )
    events: list[ActionEvent] = []
    for action in stage.action_states:
        run = action.latest_execution
        if run is None:
            continue
        old_run = old_runs.get(action.action_name)
        same_run = old_run is not None and _same_run(old_run, run)
        if old is None:
            # No earlier reading of this stage: attribute by status and time (see diff_states).
            if not _is_recent(run, since, stage_succeeded):
                continue
        elif same_run and not old_was_ours:
            # Shown before this execution held the stage: the run belongs to an earlier execution.
            continue
        old_status = old_run.status if same_run and old_run is not None else None
        name = action.action_name
        status = run.status
        if old_status is None:
            events.append(ActionStarted(**common, action_name=name, run=run))
        if action.awaiting_approval and (old_run is None or not same_run or old_run.token is None):
            events.append(ApprovalRequested(**common, action_name=name, run=run))
        if status != old_status and status is not None and status != ActionExecutionStatus.IN_PROGRESS:
            terminal = _ACTION_TERMINAL_EVENTS.get(status, ActionStatusChanged)
            events.append(terminal(**common, action_name=name, run=run))
    return events


def _same_run(old: ActionExecution, new: ActionExecution) -> bool:
    if old.action_execution_id is not None or new.action_execution_id is not None:
        return old.action_execution_id == new.action_execution_id
    # Runs from before March 2020 carry no id; a run that has not changed at all is the same run.
    return old.last_status_change == new.last_status_change and old.status == new.status


def _is_recent(run: ActionExecution, since: datetime | None, stage_succeeded: bool) -> bool:
    if run.status == ActionExecutionStatus.IN_PROGRESS:
        return True
    if since is not None:
        return run.last_status_change is not None and run.last_status_change >= since
    return stage_succeeded


# ------------------------------------------------------------------------------------- progress printers


def _now() -> datetime:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(SYSTEM_TIME.time(), tz=timezone.utc)


def print_progress(event: ProgressEvent, *, file: TextIO | None = None) -> None:
    """Print one progress event as one line: a ready-made ``on_progress`` callback.

    ``execution.wait(on_progress=print_progress)`` prints lines like
    ``12:03:04 release Build/Compile: action failed: JobFailed: Unit tests failed (execution 1a2b3c4d)``.
    The time (UTC) is the event's own when it has one (an action run's last change), else when the wait
    observed it, on the service's clock (virtual inside :func:`pipepilot.local.offline`), else the time
    it was printed. ``file`` defaults to ``sys.stdout``.
    Approval tokens are never printed.
    """
    print(event.describe(when=None if event.observed_at is not None else _now()), file=file)


def log_progress(
    logger: logging.Logger | None = None, *, level: int = logging.INFO
) -> Callable[[ProgressEvent], None]:
    """An ``on_progress`` callback that logs each event's one line to ``logger`` at ``level``.

    ``logger`` defaults to ``logging.getLogger("pipepilot.progress")``; like every pipepilot logger it has
    no handler of its own, so configure logging to see the lines::

        execution.wait(on_progress=log_progress(logging.getLogger("deploy")))

    The log record carries the time it was logged; the line shows the event's own time when it has one.
    """
    target = logger if logger is not None else logging.getLogger("pipepilot.progress")

    def log(event: ProgressEvent) -> None:
        target.log(level, "%s", event)

    return log
