"""Work on many pipelines at once: a small thread pool, paced to what the account allows.

CodePipeline publishes no per-API rate quotas, but it does throttle (``ThrottlingException``, "Rate
exceeded") when one account calls it quickly, for example from twenty workers at once. Fleet operations
(:meth:`pipepilot.CodePipeline.states`, :func:`pipepilot.freeze.freeze` and
:func:`pipepilot.freeze.thaw`) therefore run their calls on a few worker threads, and every request they
send to AWS (retries included) first passes the facade's :class:`AdaptiveRateLimiter`:

* **Fast by default.** Until AWS throttles, the limiter does not hold anything back: the workers are bound
  by AWS's latency alone (8 workers at 50 ms read about 160 pipelines a second).
* **Polite under throttling.** On a ``ThrottlingException`` the limiter halves its rate, then grows it back
  slowly along botocore's CUBIC curve (the one botocore's ``adaptive`` retry mode uses), so it settles just
  under what the account allows. Throttled requests are retried by the retry policy, at the new pace. It
  stops halving when halving does not reduce the share of throttled requests (throttling that does not
  depend on the pace), so such throttling costs retries, not the whole fleet's speed.
* **Shared.** One limiter belongs to each facade (:func:`shared_limiter`): ``states``, ``freeze``, ``thaw``
  and tag selections running at once on the same facade share what the account allows and what the
  limiter learnt. (AWS throttles per account, region and API; the limiter is per facade, that is per
  service, account and region, shared by all its operations: a little more careful than AWS needs.)
* **Capped when asked.** An explicit ``rate=`` also caps that one operation at ``rate`` requests a second
  (a :class:`RateLimiter`), whatever the shared limiter allows.

The limiters read and sleep on pipepilot's time source (:mod:`pipepilot._time`), resolved when they are
used, so inside :func:`pipepilot.local.offline` the rate is measured on the virtual clock. (On a manual
virtual clock every worker's sleep moves the one shared clock, so time there runs ahead of the limit: the
pace holds, but send times read off that clock can bunch. With ``offline(speed=...)`` it behaves as on AWS.)

Which pipelines a fleet operation covers is said with a *selection* (see :func:`select_pipelines`):

* a list (or other iterable) of names or :class:`~pipepilot.Pipeline` handles: exactly those;
* one string: an :mod:`fnmatch` pattern over the account's pipeline names (``"release-*"``); a string
  without wildcards names one pipeline;
* :class:`Tagged` (or a plain mapping): every pipeline carrying all those tags
  (``{"team": "payments"}``; a value of ``None`` matches any value of that key).
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import fnmatch
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs
from botocore.exceptions import ClientError
from botocore.retries.throttling import CubicCalculator

from pipepilot._handles import pipeline_state
from pipepilot._time import SYSTEM_TIME, thread_idle, waiting_for_threads
from pipepilot.errors import THROTTLING_CODES, PipepilotError, ThrottlingError

if TYPE_CHECKING:
    from pipepilot._calls import Caller
    from pipepilot._time import TimeSource
    from pipepilot.model.runtime import PipelineState
    from pipepilot.pipelines import CodePipeline

__all__ = [
    "DEFAULT_MAX_WORKERS",
    "DEFAULT_RATE",
    "AdaptiveRateLimiter",
    "FleetStates",
    "Outcome",
    "RateLimiter",
    "Selection",
    "Tagged",
    "fleet_limiter",
    "limited_caller",
    "read_states",
    "run_concurrently",
    "select_pipelines",
    "shared_limiter",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Worker threads a fleet operation uses unless told otherwise (botocore keeps 10 connections per client).
DEFAULT_MAX_WORKERS = 8
#: The fixed cap a fleet operation puts on its own requests unless told otherwise: none. The facade's
#: :class:`AdaptiveRateLimiter` sets the pace (see the module docstring).
DEFAULT_RATE: float | None = None

# Fleet-level rounds for pipelines whose call was still throttled after the retry policy gave up: by the
# next round the shared limiter has slowed down, so a throttled pipeline gets another chance.
_THROTTLED_ROUNDS = 3

# fnmatch's wildcard characters: a selection string containing none names a single pipeline.
_WILDCARDS = frozenset("*?[")

# Rate levels for the limiter's evidence: one per doubling (halving the rate moves down one level).
_LEVELS_PER_DOUBLING = 1
_UNLIMITED_LEVEL = 1 << 20
# Answers a level needs before its share of throttles is compared with another level's.
_MIN_EVIDENCE = 8
# Answers a level remembers: past that its counts are halved, so old evidence fades.
_MEMORY = 60
# How much two levels' shares of throttles must differ to tell the levels apart.
_MARGIN = 0.1
# Half the answers throttled, four times at least: too fast, whatever else is known.
_CLEARLY_TOO_FAST = 0.5
_CLEARLY_TOO_FAST_AFTER = 4


def _significant(share: float, answers: float, other: float, other_answers: float) -> float:
    """How far two shares of throttles must differ not to be chance (two standard errors, or the margin)."""
    pooled = (share * answers + other * other_answers) / (answers + other_answers)
    return max(_MARGIN, 2.0 * math.sqrt(pooled * (1 - pooled) * (1 / answers + 1 / other_answers)))


# The name under which a caller keeps its facade's shared limiter (see shared_limiter).
_SHARED_LIMITER = "pipepilot.fleet.limiter"


# ------------------------------------------------------------------------------------------------- limiter


def _sleep_until(source: TimeSource, moment: float) -> float:
    """Sleep on ``source`` until its monotonic clock reads ``moment``; returns the seconds slept."""
    waited = 0.0
    remaining = moment - source.monotonic()
    while remaining > 0:
        source.sleep(remaining)
        waited += remaining
        remaining = moment - source.monotonic()
    return waited


class RateLimiter:
    """A token bucket: at most ``rate`` acquisitions per second on average, ``burst`` at once.

    The bucket holds up to ``burst`` tokens and gains ``rate`` tokens a second; :meth:`acquire` takes one,
    sleeping until one is there. With the default ``burst=1`` successive acquisitions are at least
    ``1 / rate`` seconds apart, so no window of ``t`` seconds ever holds more than ``rate * t + 1`` of
    them. The limiter is thread-safe; waiting threads are served in the order they arrived. It is the
    fixed cap an explicit ``rate=`` puts on one fleet operation.

    ``time_source`` defaults to the system's; a facade's limiters use its caller's
    (:attr:`~pipepilot._calls.Caller.time`: virtual inside :func:`pipepilot.local.offline`).

    Raises:
        ValueError: ``rate`` is not a positive finite number, or ``burst`` is below 1.
    """

    def __init__(self, rate: float, *, burst: int = 1, time_source: TimeSource = SYSTEM_TIME) -> None:
        if not (isinstance(rate, (int, float)) and 0 < rate < float("inf")):
            raise ValueError(f"rate must be a positive number of requests per second, not {rate!r}")
        if not (isinstance(burst, int) and burst >= 1):
            raise ValueError(f"burst must be an integer >= 1, not {burst!r}")
        self.rate = float(rate)
        self.burst = burst
        self._interval = 1.0 / self.rate
        self._source = time_source
        self._lock = threading.Lock()
        # GCRA form of the token bucket: the moment the bucket would be full again if nothing else were
        # taken. A token is free at `now` when that moment is no more than (burst - 1) intervals ahead.
        self._full_at: float | None = None
        self.acquired = 0

    def __repr__(self) -> str:
        return f"<RateLimiter rate={self.rate:g}/s burst={self.burst} acquired={self.acquired}>"

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; returns the seconds waited."""
        source = self._source
        # Reserve a slot under the lock and sleep outside it: reservations keep arrival order, and other
        # threads can reserve the following slots meanwhile.
        with self._lock:
            now = source.monotonic()
            full_at = now if self._full_at is None else max(self._full_at, now)
            slot = max(now, full_at - (self.burst - 1) * self._interval)
            self._full_at = full_at + self._interval
            self.acquired += 1
        return _sleep_until(source, slot)


class AdaptiveRateLimiter:
    """Paces requests to what AWS allows: no limit until throttled, then halve and grow back slowly.

    Until the first throttle it lets every request through at once, so the callers are bound by AWS's
    latency alone. A :meth:`throttled` report halves the rate (of the rate then allowed, or of the rate
    requests were measured to go out at, whichever is lower); :meth:`answered` reports let it grow back
    along the CUBIC curve of botocore's ``adaptive`` retry mode (``botocore.retries.throttling``): quickly
    at first, levelling off near the rate that was throttled, then probing above it. Like botocore's, the
    rate grows to at most twice the rate requests are measured to go out at: a limit far above what the
    callers use says nothing about what AWS allows. It never falls below :attr:`MIN_RATE`.

    Two refinements keep it from slowing down more than the account needs:

    * A burst of throttles answers one burst of requests: a throttle of a request sent before the last
      slowdown is counted but slows nothing further, and turns booked at the old rate are booked again at
      the new one.
    * It keeps, per rate level (one per doubling), the share of answers that were throttles. An account's
      limit throttles more the faster it is called and not at all below it; throttling that does not
      depend on the pace (another client using most of the allowance, a service under strain) throttles
      the same share at every pace. So once a level has a few answers, a throttle slows down only when
      this level is throttled clearly more than a slower one, or clearly differently from the faster one
      it came from; half the answers throttled is always reason enough. Throttles that halving does not
      reduce are left to the retry policy.

    It is thread-safe; requests are paced in the order they asked. Time (and sleeping) comes from
    ``time_source``, for a facade's shared limiter the facade caller's, resolved at each use, so inside
    :func:`pipepilot.local.offline` the limiter runs on the virtual clock. (botocore's own token bucket
    waits on a condition variable in real time, which a virtual clock cannot move, so only its rate curve
    is reused here.)
    """

    #: Requests a second the limiter never goes below (the floor of botocore's adaptive mode too).
    MIN_RATE = 0.5
    # What a throttle leaves of the rate: half.
    _BETA = 0.5
    # The window (seconds) the send rate is measured over.
    _WINDOW = 1.0
    # The shortest span a measured rate is taken over: eight requests sent at once are not a rate of
    # thousands a second.
    _MIN_SPAN = 0.1
    # The rate grows to at most this multiple of the measured send rate (botocore's bound too).
    _MAX_GROWTH = 2.0

    def __init__(self, *, time_source: TimeSource = SYSTEM_TIME) -> None:
        self._source = time_source
        self._lock = threading.Lock()
        self._limit: float | None = None
        self._curve: CubicCalculator | None = None
        self._slowed_at = float("-inf")
        self._next_slot = float("-inf")
        self._sends: collections.deque[float] = collections.deque()
        self._first_send: float | None = None
        # Evidence per rate level: [answers, throttled] among the requests sent at that level.
        self._evidence: dict[int, list[float]] = {}
        self._level_before_slowdown = _UNLIMITED_LEVEL
        #: Requests let through so far.
        self.acquired = 0
        #: Throttles reported so far.
        self.throttles = 0
        #: How often a throttle halved the rate.
        self.slowdowns = 0

    def __repr__(self) -> str:
        rate = "unlimited" if self._limit is None else f"{self._limit:.3g}/s"
        return (
            f"<AdaptiveRateLimiter rate={rate} acquired={self.acquired} throttles={self.throttles} "
            f"slowdowns={self.slowdowns}>"
        )

    @property
    def rate(self) -> float | None:
        """The requests a second let through now; ``None`` while no throttle has been seen (no limit)."""
        return self._limit

    def _time(self) -> TimeSource:
        return self._source

    def reserve(self) -> float:
        """Book the next request's turn without waiting: the moment (on the limiter's clock) it may go out.

        :meth:`acquire` is this and a sleep until then; a caller that schedules its own work (a simulation,
        an event loop) waits by itself instead, and books again if :attr:`slowdowns` changed meanwhile.
        """
        with self._lock:
            self.acquired += 1
            return self._book()

    def acquire(self) -> float:
        """Wait for this request's turn; returns the moment (on the limiter's clock) it may be sent."""
        source = self._time()
        with self._lock:
            self.acquired += 1
            slowdowns, slot = self.slowdowns, self._book()
        # Book under the lock, sleep outside it (as RateLimiter does): turns keep the order they were asked.
        # A turn booked before a slowdown was spaced for the old rate: book again at the new one.
        while True:
            _sleep_until(source, slot)
            with self._lock:
                if self.slowdowns == slowdowns:
                    return slot
                with contextlib.suppress(ValueError):  # not sent: it must not count in the send rate
                    self._sends.remove(slot)
                slowdowns, slot = self.slowdowns, self._book()

    def _book(self) -> float:
        """The next free turn (called under the lock)."""
        now = self._time().monotonic()
        slot = now
        if self._limit is not None:
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1.0 / self._limit
        self._sends.append(slot)
        if self._first_send is None:
            self._first_send = slot
        return slot

    def throttled(self, sent_at: float) -> None:
        """Report that the request sent at ``sent_at`` (what :meth:`acquire` returned) was throttled."""
        with self._lock:
            now = self._time().monotonic()
            self.throttles += 1
            level = self._count(sent_at, throttled=True)
            if sent_at < self._slowed_at or not self._pace_matters(level):
                return
            measured = self._measured(now)
            base = measured if self._limit is None else min(self._limit, measured)
            if self._curve is None:
                self._curve = CubicCalculator(starting_max_rate=base, start_time=now, beta=self._BETA)
            self._limit = max(self.MIN_RATE, self._curve.error_received(base, now))
            self._slowed_at = now
            self._level_before_slowdown = level
            self.slowdowns += 1
        logger.debug("throttled: fleet requests slowed to %.3g/s (sending at %.3g/s)", self._limit, measured)

    def answered(self, sent_at: float) -> None:
        """Report that the request sent at ``sent_at`` was answered without being throttled."""
        with self._lock:
            self._count(sent_at, throttled=False)
            if self._limit is None or self._curve is None:
                return
            now = self._time().monotonic()
            grown = self._curve.success_received(now)
            ceiling = max(self._limit, self._MAX_GROWTH * self._measured(now))
            self._limit = max(self.MIN_RATE, min(grown, ceiling))

    def _level(self) -> int:
        if self._limit is None:
            return _UNLIMITED_LEVEL
        return math.floor(_LEVELS_PER_DOUBLING * math.log2(self._limit))

    def _count(self, sent_at: float, *, throttled: bool) -> int:
        """Add one answer to the evidence of the level it was sent at; returns that level."""
        level = self._level() if sent_at >= self._slowed_at else self._level_before_slowdown
        evidence = self._evidence.setdefault(level, [0.0, 0.0])
        evidence[0] += 1
        evidence[1] += throttled
        if evidence[0] > _MEMORY:  # old evidence fades: the account's other callers come and go
            evidence[0] /= 2
            evidence[1] /= 2
        return level

    def _share(self, level: int) -> tuple[float, float]:
        answers, throttled = self._evidence.get(level, (0.0, 0.0))
        return (throttled / answers if answers else 0.0), answers

    def _pace_matters(self, level: int) -> bool:
        """Whether throttles at ``level`` come from going too fast (rather than happening at any pace).

        An account's limit throttles more the faster it is called, and not at all below the limit; a
        throttle that does not depend on the pace (another caller using most of the account's allowance)
        throttles the same share at every pace. Halving the rate tells the two apart: the share of
        throttles at the slower level either drops or it does not.
        """
        share, answers = self._share(level)
        throttled = share * answers
        if throttled >= _CLEARLY_TOO_FAST_AFTER and share >= _CLEARLY_TOO_FAST:
            return True
        explored = sorted(other for other, (n, _) in self._evidence.items() if n >= _MIN_EVIDENCE)
        lower = [other for other in explored if other < level]
        higher = [other for other in explored if other > level]
        if answers < _MIN_EVIDENCE:
            # Too early to compare: wait for more answers, unless this is the first throttle ever seen.
            return level == _UNLIMITED_LEVEL
        if lower:
            # Slower was throttled clearly less: this pace is too fast.
            return share > self._share(lower[-1])[0] + _MARGIN
        if higher:
            # Slowing down to here left the share of throttles as it was: they do not come from the pace,
            # keep it. If it helped, slow down further; if the share grew, the account is busier than
            # it was: slow down too.
            above, above_answers = self._share(higher[0])
            return share < above - _MARGIN or share > above + _significant(
                share, answers, above, above_answers
            )
        return True

    def _measured(self, now: float) -> float:
        """Requests a second sent over the last window, or since the first request when that is more
        recent (at least one request: the one being reported)."""
        sends = self._sends
        while sends and sends[0] < now - self._WINDOW:
            sends.popleft()
        span = self._WINDOW if self._first_send is None else min(self._WINDOW, now - self._first_send)
        return max(1, len(sends)) / max(self._MIN_SPAN, span)


def shared_limiter(cp: CodePipeline | Caller[Any]) -> AdaptiveRateLimiter:
    """The :class:`AdaptiveRateLimiter` every fleet operation of the facade ``cp`` shares.

    ``cp`` is a facade (:class:`~pipepilot.CodePipeline`) or its :class:`~pipepilot._calls.Caller`; the
    limiter is made on first use and lives as long as the facade. Read its ``rate``, ``throttles`` and
    ``slowdowns`` to see how the account answered.
    """
    from pipepilot._calls import Caller

    caller = cp if isinstance(cp, Caller) else cp._calls
    return caller.companion(_SHARED_LIMITER, lambda _settings: AdaptiveRateLimiter(time_source=caller.time))


def _error_code(error: ClientError) -> str:
    code: str = error.response.get("Error", {}).get("Code", "")
    return code.rpartition("#")[2]


class _RateLimitedClient:
    """A boto3 client stand-in whose API methods wait for the limiters before every request.

    Wrapping the client (rather than the caller) makes retries wait too: every HTTP request that reaches
    AWS is counted, and each answer (throttled or not) is reported to the shared limiter.
    """

    def __init__(self, client: Any, shared: AdaptiveRateLimiter, cap: RateLimiter | None) -> None:
        self._client = client
        self._shared = shared
        self._cap = cap
        self.meta = client.meta

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith("_") or not callable(attribute) or name not in self.meta.method_to_api_mapping:
            return attribute
        shared, cap = self._shared, self._cap

        def limited(*args: Any, **kwargs: Any) -> Any:
            if cap is not None:
                cap.acquire()
            sent_at = shared.acquire()
            try:
                response = attribute(*args, **kwargs)
            except ClientError as error:
                if _error_code(error) in THROTTLING_CODES:
                    shared.throttled(sent_at)
                else:
                    shared.answered(sent_at)
                raise
            shared.answered(sent_at)
            return response

        return limited


def limited_caller(caller: Caller[Any], cap: RateLimiter | None = None) -> Caller[Any]:
    """A :class:`~pipepilot._calls.Caller` like ``caller`` whose every request waits for the limiters.

    Requests wait for ``caller``'s shared :class:`AdaptiveRateLimiter` (:func:`shared_limiter`) and, when
    given, for ``cap`` too. It shares ``caller``'s client and settings (retry policy, clock, sleep).
    """
    from pipepilot._calls import Caller

    return Caller(_RateLimitedClient(caller.client, shared_limiter(caller), cap), settings=caller.settings)


# --------------------------------------------------------------------------------------------------- pool


def _check_workers(max_workers: int) -> None:
    if not (isinstance(max_workers, int) and max_workers >= 1):
        raise ValueError(f"max_workers must be an integer >= 1, not {max_workers!r}")


def fleet_limiter(*, max_workers: int, rate: float | None, time_source: TimeSource) -> RateLimiter | None:
    """The fixed cap of one fleet operation (``None`` without ``rate``), after checking its options.

    Checked before the operation does anything.

    Raises:
        ValueError: ``max_workers`` is below 1, or ``rate`` is not ``None`` or a positive finite number.
    """
    _check_workers(max_workers)
    return None if rate is None else RateLimiter(rate, time_source=time_source)


@attrs.frozen(kw_only=True)
class Outcome(Generic[T, R]):
    """What one item of a fleet operation came to: its ``value``, or the pipepilot ``error`` it raised."""

    item: T
    value: R | None = None
    error: PipepilotError | None = None

    @property
    def ok(self) -> bool:
        """Whether the work on this item succeeded."""
        return self.error is None


def run_concurrently(
    work: Callable[[T], R],
    items: Iterable[T],
    *,
    max_workers: int = DEFAULT_MAX_WORKERS,
    time_source: TimeSource = SYSTEM_TIME,
) -> Iterator[Outcome[T, R]]:
    """Run ``work(item)`` for every item on up to ``max_workers`` threads; yield outcomes as they finish.

    A :class:`~pipepilot.errors.PipepilotError` from one item becomes that item's outcome and does not stop
    the others. Any other exception is a bug: it propagates (after the running items finish; items not
    started yet are not started). When the consumer stops iterating early (or raises), items not started
    yet are cancelled too.

    Raises:
        ValueError: ``max_workers`` is below 1.
    """
    _check_workers(max_workers)
    pending = list(items)
    if not pending:
        return

    def guarded(item: T) -> Outcome[T, R]:
        try:
            return Outcome(item=item, value=work(item))
        except PipepilotError as error:
            return Outcome(item=item, error=error)
        finally:
            # Back to the pool, where it waits for a task: a virtual clock need not wait for it meanwhile.
            thread_idle(time_source)

    executor = concurrent.futures.ThreadPoolExecutor(
        max_workers=min(max_workers, len(pending)), thread_name_prefix="pipepilot-fleet"
    )
    try:
        futures = [executor.submit(guarded, item) for item in pending]
        finished = concurrent.futures.as_completed(futures)
        while True:
            # While it waits for its workers this thread is not running: a virtual clock need not wait for it.
            with waiting_for_threads(time_source):
                future = next(finished, None)
            if future is None:
                break
            yield future.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------------------------- selection


def _tag_map(value: Mapping[str, str | None]) -> dict[str, str | None]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"select by tags with a non-empty mapping of tag key to value, not {value!r}")
    return dict(value)


@attrs.frozen
class Tagged:
    """Select the pipelines that carry every one of ``tags`` (a value of ``None`` matches any value)."""

    tags: Mapping[str, str | None] = attrs.field(converter=_tag_map)

    def matches(self, pipeline_tags: Mapping[str, str]) -> bool:
        """Whether a pipeline with ``pipeline_tags`` is selected."""
        for key, wanted in self.tags.items():
            if key not in pipeline_tags:
                return False
            if wanted is not None and pipeline_tags[key] != wanted:
                return False
        return True


Selection = str | Iterable[Any] | Tagged | Mapping[str, "str | None"]
"""Which pipelines a fleet operation covers: names (or handles), an fnmatch pattern, or tags."""


def _name_of(item: object) -> str:
    if isinstance(item, str):
        return item
    name = getattr(item, "name", None)
    if isinstance(name, str):
        return name
    raise TypeError(f"a pipeline selection holds names or Pipeline handles, not {type(item).__name__}")


def _all_pipeline_names(caller: Caller[Any]) -> list[str]:
    return [summary["name"] for summary in caller.paginate("list_pipelines", "pipelines")]


def select_pipelines(
    caller: Caller[Any],
    selection: Selection,
    *,
    max_workers: int = DEFAULT_MAX_WORKERS,
) -> list[str]:
    """The names of the pipelines ``selection`` covers, in a stable order (see the module docstring).

    Names given explicitly are returned as given (duplicates dropped) without checking that they exist;
    patterns and tags are matched against ``ListPipelines`` (sorted by name). Tags are read with one
    ``ListTagsForResource`` per pipeline, concurrently; ``caller`` should be rate-limited
    (:func:`limited_caller`).

    Raises:
        TypeError: the selection is none of the accepted kinds.
        PipepilotError: listing the pipelines, or reading a pipeline's tags, failed.
    """
    if isinstance(selection, str):
        if not _WILDCARDS.intersection(selection):
            return [selection]
        return sorted(name for name in _all_pipeline_names(caller) if fnmatch.fnmatchcase(name, selection))
    if isinstance(selection, Mapping):
        selection = Tagged(selection)
    if isinstance(selection, Tagged):
        return _select_by_tags(caller, selection, max_workers=max_workers)
    if isinstance(selection, Iterable):
        return list(dict.fromkeys(_name_of(item) for item in selection))
    raise TypeError(f"cannot select pipelines with {type(selection).__name__}")


def _select_by_tags(caller: Caller[Any], tagged: Tagged, *, max_workers: int) -> list[str]:
    names = sorted(_all_pipeline_names(caller))
    if not names:
        return []
    # Tagging needs the ARN; ListPipelines does not give it, GetPipeline does. The account, region and
    # partition are the same for every pipeline behind one client, so one GetPipeline gives them all.
    first_arn: str = caller.call("get_pipeline", idempotent=True, name=names[0])["metadata"]["pipelineArn"]
    prefix = first_arn[: len(first_arn) - len(names[0])]

    def tags_of(name: str) -> dict[str, str]:
        response = caller.call("list_tags_for_resource", idempotent=True, resourceArn=prefix + name)
        return {tag["key"]: tag["value"] for tag in response.get("tags", ())}

    selected: list[str] = []
    for outcome in run_concurrently(tags_of, names, max_workers=max_workers, time_source=caller.time):
        if outcome.error is not None:
            raise outcome.error
        assert outcome.value is not None
        if tagged.matches(outcome.value):
            selected.append(outcome.item)
    return sorted(selected)


# ----------------------------------------------------------------------------------------------- states


@attrs.frozen(kw_only=True)
class FleetStates(Mapping[str, "PipelineState"]):
    """The states of many pipelines, read at about the same time: a mapping name -> PipelineState.

    Pipelines whose state could not be read are not in the mapping; ``errors`` says why for each.
    """

    states: Mapping[str, PipelineState]
    errors: Mapping[str, PipepilotError] = attrs.field(factory=dict)

    def __getitem__(self, name: str) -> PipelineState:
        return self.states[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.states)

    def __len__(self) -> int:
        return len(self.states)


def read_states(
    caller: Caller[Any],
    selection: Selection,
    *,
    max_workers: int = DEFAULT_MAX_WORKERS,
    rate: float | None = DEFAULT_RATE,
) -> FleetStates:
    """``GetPipelineState`` for every selected pipeline, on ``max_workers`` threads, paced by the facade.

    Requests wait for the facade's shared :class:`AdaptiveRateLimiter` and, with ``rate``, never go out
    faster than ``rate`` a second. The result keeps the selection's order. A pipeline that fails (missing,
    access denied) is reported in :attr:`FleetStates.errors` and does not stop the others; one still
    throttled after the retry policy gave up is read again after the others, at the slower pace the
    limiter has learnt by then (up to two more times).

    Raises:
        ValueError: ``max_workers`` or ``rate`` is out of range.
        PipepilotError: the selection itself could not be resolved (listing pipelines or tags failed).
    """

    limited = limited_caller(
        caller, fleet_limiter(max_workers=max_workers, rate=rate, time_source=caller.time)
    )
    names = select_pipelines(limited, selection, max_workers=max_workers)

    def state_of(name: str) -> PipelineState:
        return pipeline_state(limited, name)

    states: dict[str, PipelineState] = {}
    errors: dict[str, PipepilotError] = {}
    pending = names
    for round_number in range(1, _THROTTLED_ROUNDS + 1):
        throttled: set[str] = set()
        for outcome in run_concurrently(state_of, pending, max_workers=max_workers, time_source=caller.time):
            if outcome.error is None:
                assert outcome.value is not None
                states[outcome.item] = outcome.value
                errors.pop(outcome.item, None)
                continue
            errors[outcome.item] = outcome.error
            if isinstance(outcome.error, ThrottlingError) and round_number < _THROTTLED_ROUNDS:
                throttled.add(outcome.item)
            else:
                logger.info("could not read the state of pipeline %s: %s", outcome.item, outcome.error)
        if not throttled:
            break
        logger.info("%d pipeline(s) still throttled: reading them again", len(throttled))
        pending = [name for name in names if name in throttled]
    ordered = {name: states[name] for name in names if name in states}
    return FleetStates(states=ordered, errors={name: errors[name] for name in names if name in errors})
