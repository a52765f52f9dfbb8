"""The fleet helpers without AWS: the token bucket, the worker pool, selections and their errors."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fake_time import FakeTime

from pipepilot.errors import PipelineNotFoundError
from pipepilot.fleet import RateLimiter, Tagged, run_concurrently, select_pipelines


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
