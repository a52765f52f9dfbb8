"""Work on many pipelines at once: a small thread pool under a token-bucket rate limit.

CodePipeline publishes no per-API rate quotas, but it does throttle (``ThrottlingException``, "Rate
exceeded") when one account calls it quickly, for example from twenty workers at once. Fleet operations
(:meth:`pipepilot.CodePipeline.states`, :func:`pipepilot.freeze.freeze` and
:func:`pipepilot.freeze.thaw`) therefore run their calls on a few worker threads, and every request they
send to AWS (retries included) first takes a token from one shared :class:`RateLimiter`.

The limiter reads and sleeps on pipepilot's time source (:mod:`pipepilot._time`), resolved when it is
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

import concurrent.futures
import fnmatch
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from pipepilot._handles import pipeline_state
from pipepilot._time import current_time_source
from pipepilot.errors import PipepilotError

if TYPE_CHECKING:
    from pipepilot._calls import Caller
    from pipepilot._time import TimeSource
    from pipepilot.model.runtime import PipelineState

__all__ = [
    "DEFAULT_MAX_WORKERS",
    "DEFAULT_RATE",
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
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Worker threads a fleet operation uses unless told otherwise.
DEFAULT_MAX_WORKERS = 8
#: Requests per second a fleet operation sends unless told otherwise: well under what one account
#: sustains in practice, and still 600 pipelines read per minute.
DEFAULT_RATE = 10.0

# fnmatch's wildcard characters: a selection string containing none names a single pipeline.
_WILDCARDS = frozenset("*?[")


# ------------------------------------------------------------------------------------------------- limiter


class RateLimiter:
    """A token bucket: at most ``rate`` acquisitions per second on average, ``burst`` at once.

    The bucket holds up to ``burst`` tokens and gains ``rate`` tokens a second; :meth:`acquire` takes one,
    sleeping until one is there. With the default ``burst=1`` successive acquisitions are at least
    ``1 / rate`` seconds apart, so no window of ``t`` seconds ever holds more than ``rate * t + 1`` of
    them. The limiter is thread-safe; waiting threads are served in the order they arrived.

    ``time_source`` defaults to pipepilot's current one, looked up at each acquisition (virtual inside
    :func:`pipepilot.local.offline`).

    Raises:
        ValueError: ``rate`` is not a positive finite number, or ``burst`` is below 1.
    """

    def __init__(self, rate: float, *, burst: int = 1, time_source: TimeSource | None = None) -> None:
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
        source = self._source or current_time_source()
        # Reserve a slot under the lock and sleep outside it: reservations keep arrival order, and other
        # threads can reserve the following slots meanwhile.
        with self._lock:
            now = source.monotonic()
            full_at = now if self._full_at is None else max(self._full_at, now)
            slot = max(now, full_at - (self.burst - 1) * self._interval)
            self._full_at = full_at + self._interval
            self.acquired += 1
        waited = 0.0
        remaining = slot - source.monotonic()
        while remaining > 0:
            source.sleep(remaining)
            waited += remaining
            remaining = slot - source.monotonic()
        return waited


class _RateLimitedClient:
    """A boto3 client stand-in whose API methods take a token from ``limiter`` before every request.

    Wrapping the client (rather than the caller) makes retries wait for tokens too: every HTTP request
    that reaches AWS is counted.
    """

    def __init__(self, client: Any, limiter: RateLimiter) -> None:
        self._client = client
        self._limiter = limiter
        self.meta = client.meta

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith("_") or not callable(attribute) or name not in self.meta.method_to_api_mapping:
            return attribute
        limiter = self._limiter

        def limited(*args: Any, **kwargs: Any) -> Any:
            limiter.acquire()
            return attribute(*args, **kwargs)

        return limited


def limited_caller(caller: Caller[Any], limiter: RateLimiter) -> Caller[Any]:
    """A :class:`~pipepilot._calls.Caller` like ``caller`` whose every request waits for ``limiter``.

    It shares ``caller``'s client and settings (retry policy, clock, sleep).
    """
    from pipepilot._calls import Caller

    return Caller(_RateLimitedClient(caller.client, limiter), settings=caller.settings)


# --------------------------------------------------------------------------------------------------- pool


def _check_workers(max_workers: int) -> None:
    if not (isinstance(max_workers, int) and max_workers >= 1):
        raise ValueError(f"max_workers must be an integer >= 1, not {max_workers!r}")


def fleet_limiter(*, max_workers: int, rate: float) -> RateLimiter:
    """The rate limiter of one fleet operation, after checking its options (before it does anything).

    Raises:
        ValueError: ``max_workers`` is below 1, or ``rate`` is not a positive finite number.
    """
    _check_workers(max_workers)
    return RateLimiter(rate)


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
    work: Callable[[T], R], items: Iterable[T], *, max_workers: int = DEFAULT_MAX_WORKERS
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

    executor = concurrent.futures.ThreadPoolExecutor(
        max_workers=min(max_workers, len(pending)), thread_name_prefix="pipepilot-fleet"
    )
    try:
        futures = [executor.submit(guarded, item) for item in pending]
        for future in concurrent.futures.as_completed(futures):
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
    for outcome in run_concurrently(tags_of, names, max_workers=max_workers):
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
    rate: float = DEFAULT_RATE,
) -> FleetStates:
    """``GetPipelineState`` for every selected pipeline, on ``max_workers`` threads, at most ``rate``/s.

    The result keeps the selection's order. A pipeline that fails (missing, access denied, throttled past
    the retry policy) is reported in :attr:`FleetStates.errors` and does not stop the others.

    Raises:
        ValueError: ``max_workers`` or ``rate`` is out of range.
        PipepilotError: the selection itself could not be resolved (listing pipelines or tags failed).
    """

    limited = limited_caller(caller, fleet_limiter(max_workers=max_workers, rate=rate))
    names = select_pipelines(limited, selection, max_workers=max_workers)

    def state_of(name: str) -> PipelineState:
        return pipeline_state(limited, name)

    states: dict[str, PipelineState] = {}
    errors: dict[str, PipepilotError] = {}
    for outcome in run_concurrently(state_of, names, max_workers=max_workers):
        if outcome.error is not None:
            logger.info("could not read the state of pipeline %s: %s", outcome.item, outcome.error)
            errors[outcome.item] = outcome.error
        else:
            assert outcome.value is not None
            states[outcome.item] = outcome.value
    ordered = {name: states[name] for name in names if name in states}
    return FleetStates(states=ordered, errors={name: errors[name] for name in names if name in errors})
