"""The fleet helpers without AWS: the limiters, the worker pool, selections and their errors."""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from typing import Any

import pytest

from pipepilot.errors import PipelineNotFoundError
from pipepilot.fleet import AdaptiveRateLimiter, RateLimiter, Tagged, run_concurrently, select_pipelines

from .fake_time import FakeTime


def test_acquisitions_are_spaced_by_one_over_rate() -> None:
    """With burst 1, the n-th acquisition happens no earlier than n / rate seconds after the first."""
    clock = FakeTime()
    limiter = RateLimiter(4.0, time_source=clock)
    times = []
    for _ in range(9):
        limiter.acquire()
        times.append(clock.now)
    assert times == pytest.approx([i * 0.25 for i in range(9)])
    assert limiter.acquired == 9


def test_burst_lets_that_many_through_at_once_then_paces() -> None:
    """A bucket of 3 tokens admits 3 acquisitions at once, then one per 1 / rate seconds."""
    clock = FakeTime()
    limiter = RateLimiter(2.0, burst=3, time_source=clock)
    times = []
    for _ in range(5):
        limiter.acquire()
        times.append(clock.now)
    assert times == pytest.approx([0.0, 0.0, 0.0, 0.5, 1.0])


def test_idle_time_refills_the_bucket_but_never_beyond_burst() -> None:
    """After a long pause only ``burst`` acquisitions are free; the next one waits again."""
    clock = FakeTime()
    limiter = RateLimiter(1.0, burst=2, time_source=clock)
    limiter.acquire()
    clock.now = 100.0
    waits = [limiter.acquire() for _ in range(3)]
    assert waits[:2] == [0.0, 0.0]
    assert waits[2] == pytest.approx(1.0)


def test_threads_sharing_a_limiter_never_exceed_the_rate() -> None:
    """Acquisitions from many threads stay 1 / rate apart on the limiter's clock."""
    clock = FakeTime()
    limiter = RateLimiter(10.0, time_source=clock)
    stamps: list[float] = []
    lock = threading.Lock()

    def work(_: int) -> None:
        limiter.acquire()
        with lock:
            stamps.append(clock.monotonic())

    list(run_concurrently(work, range(40), max_workers=8))
    assert len(stamps) == 40
    stamps.sort()
    # Time only moves forward through sleeps to reserved slots, so 40 acquisitions need >= 3.9 s.
    assert stamps[-1] >= 3.9 - 1e-9


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (float("inf"), 1), (1, 0), (1, 1.5)])
def test_bad_limits_are_refused(rate: float, burst: Any) -> None:
    """A rate that is not a positive finite number, or a burst below 1, is a ValueError."""
    with pytest.raises(ValueError):
        RateLimiter(rate, burst=burst)


def test_the_adaptive_limiter_lets_everything_through_until_throttled() -> None:
    """Before any throttle the adaptive limiter has no rate and never makes a request wait."""
    clock = FakeTime()
    limiter = AdaptiveRateLimiter(time_source=clock)
    for _ in range(100):
        limiter.answered(limiter.acquire())
    assert limiter.rate is None
    assert clock.sleeps == []
    assert limiter.acquired == 100


def test_a_throttle_halves_the_rate_requests_went_out_at() -> None:
    """Sending 10 a second and throttled: the limiter drops to 5 a second and spaces requests 0.2 s apart."""
    clock = FakeTime()
    limiter = AdaptiveRateLimiter(time_source=clock)
    for index in range(10):
        clock.now = index * 0.1
        limiter.acquire()
    clock.now = 1.0
    limiter.throttled(sent_at=0.9)
    assert limiter.rate == pytest.approx(5.0)
    start = clock.now
    sends = [limiter.acquire() for _ in range(4)]
    assert sends == pytest.approx([start, start + 0.2, start + 0.4, start + 0.6])


def test_throttles_of_requests_sent_before_a_slowdown_do_not_slow_it_again() -> None:
    """A burst of throttles answering one burst of requests halves the rate once, not once per request."""
    clock = FakeTime()
    limiter = AdaptiveRateLimiter(time_source=clock)
    sent = [limiter.acquire() for _ in range(8)]
    clock.now += 0.05
    for moment in sent:
        limiter.throttled(sent_at=moment)
    assert limiter.slowdowns == 1
    assert limiter.throttles == 8
    after = limiter.rate
    # Requests sent after the slowdown and throttled too (four in a row) say the new rate is still too high.
    for _ in range(4):
        limiter.throttled(sent_at=limiter.acquire())
    assert limiter.slowdowns == 2
    assert limiter.rate is not None
    assert after is not None
    assert limiter.rate < after


def test_the_rate_grows_back_slowly_after_a_throttle() -> None:
    """After halving, answers let the rate grow back towards the throttled rate, higher the longer it
    has been."""
    clock = FakeTime()
    limiter = AdaptiveRateLimiter(time_source=clock)
    for index in range(20):
        clock.now = index * 0.05
        limiter.acquire()
    clock.now = 1.0
    limiter.throttled(sent_at=0.95)  # sending 20/s: down to 10/s
    assert limiter.rate == pytest.approx(10.0)
    rates: list[float] = []
    for _ in range(40):  # keep sending at the allowed pace for a few seconds
        limiter.answered(limiter.acquire())
        assert limiter.rate is not None
        rates.append(limiter.rate)
    assert rates == sorted(rates)
    assert 10.0 < rates[-1] <= 21.0


def test_when_every_request_is_throttled_the_rate_sinks_to_the_floor_and_no_lower() -> None:
    """Throttled every time, the limiter keeps halving (once each round trip) down to MIN_RATE."""
    clock = FakeTime()
    limiter = AdaptiveRateLimiter(time_source=clock)
    for _ in range(200):
        sent = limiter.acquire()
        clock.now += 0.05
        limiter.throttled(sent_at=sent)
    assert limiter.rate == pytest.approx(AdaptiveRateLimiter.MIN_RATE)


def test_the_rate_never_grows_far_beyond_what_is_sent() -> None:
    """An idle limiter keeps what it learnt: answers trickling in do not grow it past twice the send rate."""
    clock = FakeTime()
    limiter = AdaptiveRateLimiter(time_source=clock)
    for _ in range(10):
        limiter.acquire()
        clock.now += 0.1
    limiter.throttled(sent_at=clock.now)
    learnt = limiter.rate
    clock.now += 600.0  # long after: the growth curve alone would allow thousands a second
    limiter.answered(limiter.acquire())
    assert limiter.rate == learnt


def simulate(
    limiter: AdaptiveRateLimiter,
    clock: FakeTime,
    *,
    requests: int,
    workers: int = 8,
    limit: float | None = None,
    random_share: float = 0.0,
    seed: int = 1,
) -> dict[str, Any]:
    """Workers reading ``requests`` items through ``limiter`` from an account that throttles.

    A discrete-event simulation on ``clock``: a request takes 50 ms; the account is a token bucket of
    ``limit`` tokens refilled at ``limit`` a second, and/or throttles ``random_share`` of the requests at
    random; a throttled request is sent again after pipepilot's default back-off (full jitter from 0.25 s).
    """
    rng = random.Random(seed)
    latency = 0.05
    tokens, counted_at = limit or 0.0, 0.0
    order = itertools.count()
    events: list[tuple[float, int, str, float, int]] = []  # (time, order, what, send time, attempt)
    remaining = requests
    sends: list[tuple[float, bool]] = []  # (send time, throttled)

    def ask(at: float, attempt: int) -> None:
        clock.now = at
        # As AdaptiveRateLimiter.acquire does: a turn booked before a slowdown is booked again.
        heapq.heappush(events, (limiter.reserve(), next(order), "send", float(limiter.slowdowns), attempt))

    for _ in range(workers):
        remaining -= 1
        ask(0.0, 1)
    while events:
        at, _, what, sent_at, attempt = heapq.heappop(events)
        clock.now = at
        if what == "send" and sent_at != limiter.slowdowns:
            ask(at, attempt)
        elif what == "send":
            throttled = False
            if limit is not None:
                tokens = min(limit, tokens + (at - counted_at) * limit)
                counted_at = at
                throttled = tokens < 1.0
                if not throttled:
                    tokens -= 1.0
            throttled = throttled or rng.random() < random_share
            sends.append((at, throttled))
            heapq.heappush(
                events, (at + latency, next(order), "throttled" if throttled else "ok", at, attempt)
            )
        elif what == "throttled":
            limiter.throttled(sent_at=sent_at)
            back_off = rng.random() * min(20.0, 0.25 * 2 ** (attempt - 1))
            heapq.heappush(events, (at + back_off, next(order), "retry", 0.0, attempt + 1))
        elif what == "retry":
            ask(at, attempt)
        else:
            limiter.answered(sent_at)
            if remaining > 0:
                remaining -= 1
                ask(at, 1)
    after_first_second = [throttled for at, throttled in sends if at >= 1.0]
    return {
        "done": sum(1 for _, throttled in sends if not throttled),
        "seconds": max(at for at, _ in sends),
        "throttled_after_first_second": sum(after_first_second) / len(after_first_second),
    }


@pytest.mark.parametrize("workers", [8, 16])
def test_against_an_account_limit_the_limiter_settles_just_under_it(workers: int) -> None:
    """Workers at 50 ms against an account allowing 20 requests a second: after the first second at most
    10% of the requests are throttled, and the work takes little longer than the limit allows."""
    clock = FakeTime()
    limiter = AdaptiveRateLimiter(time_source=clock)
    outcome = simulate(limiter, clock, requests=400, workers=workers, limit=20.0)
    assert outcome["done"] == 400
    assert outcome["throttled_after_first_second"] <= 0.10
    assert outcome["seconds"] <= 1.1 * 400 / 20.0


def test_a_throttle_that_does_not_depend_on_the_pace_does_not_sink_the_rate() -> None:
    """With 30% of the requests throttled at random, slowing down does not help, and the limiter notices:
    it keeps a useful pace instead of sinking towards MIN_RATE (200 reads take seconds, not minutes)."""
    clock = FakeTime()
    limiter = AdaptiveRateLimiter(time_source=clock)
    outcome = simulate(limiter, clock, requests=200, random_share=0.3)
    assert outcome["done"] == 200
    assert outcome["seconds"] <= 15.0
    assert limiter.rate is None or limiter.rate >= 20.0
    assert limiter.slowdowns <= 5


def test_pool_reports_pipepilot_errors_per_item_and_keeps_going() -> None:
    """A PipepilotError becomes that item's outcome; the other items still run."""

    def work(item: int) -> int:
        if item == 2:
            raise PipelineNotFoundError("no pipeline 2")
        return item * 10

    outcomes = {o.item: o for o in run_concurrently(work, range(5), max_workers=3)}
    assert {i: o.value for i, o in outcomes.items() if o.ok} == {0: 0, 1: 10, 3: 30, 4: 40}
    assert isinstance(outcomes[2].error, PipelineNotFoundError)


def test_pool_lets_bugs_propagate() -> None:
    """Any other exception is a bug and is raised, not hidden in an outcome."""

    def work(item: int) -> int:
        raise KeyError(item)

    with pytest.raises(KeyError):
        list(run_concurrently(work, [1], max_workers=1))


def test_pool_refuses_zero_workers() -> None:
    """max_workers below 1 is a ValueError."""
    with pytest.raises(ValueError):
        list(run_concurrently(str, [1], max_workers=0))


class NoCalls:
    """A caller stand-in that fails the test if a selection needs AWS."""

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no call expected")

    def paginate(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no call expected")


def test_names_and_handles_select_exactly_those_without_calls() -> None:
    """Explicit names (and objects with a name) are taken as given, in order, duplicates dropped."""

    class Handle:
        name = "b"

    caller: Any = NoCalls()
    assert select_pipelines(caller, ["a", Handle(), "a", "c"]) == ["a", "b", "c"]
    assert select_pipelines(caller, "plain-name") == ["plain-name"]


def test_a_selection_of_the_wrong_kind_is_a_type_error() -> None:
    """Numbers are not pipeline names."""
    caller: Any = NoCalls()
    with pytest.raises(TypeError):
        select_pipelines(caller, [1, 2])
    with pytest.raises(TypeError):
        select_pipelines(caller, 3)  # type: ignore[arg-type]


def test_tag_selection_matches_every_tag_and_none_matches_any_value() -> None:
    """``Tagged`` needs every key; a ``None`` value accepts any value of that key."""
    tagged = Tagged({"team": "payments", "tier": None})
    assert tagged.matches({"team": "payments", "tier": "gold", "x": "y"})
    assert not tagged.matches({"team": "payments"})
    assert not tagged.matches({"team": "search", "tier": "gold"})
    with pytest.raises(ValueError):
        Tagged({})
