"""The virtual clock: time moves only when advanced (or with the wall clock in real-time mode), timers run
in order at their own due time, and it is a pipepilot time source."""

from __future__ import annotations

import functools
import threading
from datetime import timezone
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest

import pipepilot.local.clock as clock_module
from pipepilot.local.clock import DEFAULT_START, VirtualClock

if TYPE_CHECKING:
    from pipepilot._time import TimeSource


def test_starts_at_a_fixed_recognisable_moment() -> None:
    """A new clock reads 2026-01-01T00:00:00Z (or the given start) on every reading method."""
    clock = VirtualClock()
    assert clock.now() == clock.time() == clock.monotonic() == DEFAULT_START
    assert clock.datetime().isoformat() == "2026-01-01T00:00:00+00:00"
    assert clock.datetime().tzinfo is timezone.utc
    assert VirtualClock(start=1000.5).now() == 1000.5


def test_time_does_not_move_by_itself() -> None:
    """Without advance(), reading the clock twice gives the same value, however much wall time passes."""
    clock = VirtualClock()
    first = clock.now()
    sum(range(10_000))
    assert clock.now() == first


def test_advance_runs_due_timers_in_order_each_at_its_own_time() -> None:
    """Timers run in due order, and a callback reading now() sees the moment it was scheduled for."""
    clock = VirtualClock(start=0)
    seen: list[tuple[str, float]] = []
    clock.call_at(30, lambda: seen.append(("c", clock.now())))
    clock.call_later(10, lambda: seen.append(("a", clock.now())))
    clock.call_at(20, lambda: seen.append(("b", clock.now())))
    clock.call_at(99, lambda: seen.append(("late", clock.now())))
    clock.advance(50)
    assert seen == [("a", 10.0), ("b", 20.0), ("c", 30.0)]
    assert clock.now() == 50.0
    assert clock.pending() == 1


def test_timers_due_at_the_same_moment_run_in_scheduling_order() -> None:
    """Ties are broken first-scheduled-first-run, so engine callbacks are deterministic."""
    clock = VirtualClock(start=0)
    order: list[int] = []
    for index in range(5):
        clock.call_at(7, functools.partial(order.append, index))
    clock.advance(7)
    assert order == [0, 1, 2, 3, 4]


def test_callbacks_may_schedule_timers_that_run_in_the_same_advance() -> None:
    """A timer scheduled by a callback for a moment inside the advanced span runs in that same advance."""
    clock = VirtualClock(start=0)
    seen: list[float] = []

    def first() -> None:
        seen.append(clock.now())
        clock.call_later(5, lambda: seen.append(clock.now()))
        clock.call_later(0, lambda: seen.append(clock.now()))

    clock.call_at(10, first)
    clock.advance(20)
    assert seen == [10.0, 10.0, 15.0]


def test_cancelled_timers_never_run_and_are_not_pending() -> None:
    """cancel() stops a timer; pending() and next_due() ignore it."""
    clock = VirtualClock(start=0)
    ran: list[str] = []
    doomed = clock.call_at(5, lambda: ran.append("doomed"))
    clock.call_at(8, lambda: ran.append("kept"))
    doomed.cancel()
    assert clock.pending() == 1
    assert clock.next_due() == 8
    clock.advance(10)
    assert ran == ["kept"]
    assert clock.next_due() is None


def test_a_timer_runs_once() -> None:
    """After running, a timer is spent: advancing again does not repeat it."""
    clock = VirtualClock(start=0)
    ran: list[float] = []
    clock.call_at(1, lambda: ran.append(clock.now()))
    clock.advance(2)
    clock.advance(2)
    assert ran == [1.0]


def test_time_never_goes_back() -> None:
    """advance() rejects negative spans; advance_to() a past moment leaves the clock where it is."""
    clock = VirtualClock(start=100)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(-1)
    clock.advance_to(50)
    assert clock.now() == 100


def test_past_and_negative_schedules_run_now_on_the_next_advance() -> None:
    """call_at() in the past and call_later() with a negative delay run at the current moment."""
    clock = VirtualClock(start=100)
    seen: list[float] = []
    clock.call_at(10, lambda: seen.append(clock.now()))
    clock.call_later(-5, lambda: seen.append(clock.now()))
    assert seen == []  # nothing runs until time is moved
    clock.advance(0)
    assert seen == [100.0, 100.0]


def test_run_until_idle_stops_at_the_limit() -> None:
    """run_until_idle() advances timer by timer and leaves timers beyond ``limit`` alone."""
    clock = VirtualClock(start=0)
    seen: list[float] = []
    clock.call_at(10, lambda: seen.append(clock.now()))
    clock.call_at(1000, lambda: seen.append(clock.now()))
    clock.run_until_idle(limit=500)
    assert seen == [10.0]
    assert clock.now() == 10.0
    clock.run_until_idle()
    assert seen == [10.0, 1000.0]
    assert clock.pending() == 0


def test_sleep_advances_in_manual_mode() -> None:
    """sleep() lets virtual time pass instantly, running timers on the way; a negative sleep is none."""
    clock = VirtualClock(start=0)
    ran: list[float] = []
    clock.call_at(3600, lambda: ran.append(clock.now()))
    clock.sleep(7200)
    clock.sleep(-1)
    assert clock.now() == 7200
    assert ran == [3600.0]


def test_is_a_pipepilot_time_source() -> None:
    """The clock offers what pipepilot's waits and retries need: monotonic(), time(), sleep()."""
    source: TimeSource = VirtualClock(start=0)
    before = source.monotonic()
    source.sleep(30)
    assert source.monotonic() - before == 30
    assert source.time() == 30


def test_rejects_a_non_positive_speed() -> None:
    """Real-time mode needs a positive speed."""
    with pytest.raises(ValueError, match="speed"):
        VirtualClock(speed=0)
    with pytest.raises(ValueError, match="speed"):
        VirtualClock(speed=-2)


class _FakeWall:
    """Stands in for the time module inside pipepilot.local.clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> _FakeWall:
    """A controllable wall clock for real-time mode."""
    fake = _FakeWall()
    monkeypatch.setattr(clock_module, "time", SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep))
    return fake


def test_real_time_now_follows_the_wall_clock(wall: _FakeWall) -> None:
    """With speed=60 one wall second is one virtual minute."""
    clock = VirtualClock(start=0, speed=60)
    wall.now += 1.5
    assert clock.now() == 90


def test_real_time_mode_follows_the_wall_clock_times_speed(wall: _FakeWall) -> None:
    """With speed=60, one wall second is one virtual minute, and due timers run when the clock is read."""
    clock = VirtualClock(start=0, speed=60)
    ran: list[float] = []
    clock.call_at(90, lambda: ran.append(clock.now()))
    wall.now += 1
    assert clock.now() == 60
    assert ran == []
    wall.now += 1
    assert clock.now() == 120
    assert ran == [90.0]


def test_real_time_sleep_waits_on_the_wall_clock_scaled(wall: _FakeWall) -> None:
    """In real-time mode sleep(s) waits s/speed wall seconds, then runs what fell due."""
    clock = VirtualClock(start=0, speed=10)
    ran: list[float] = []
    clock.call_at(50, lambda: ran.append(clock.now()))
    clock.sleep(100)
    assert wall.slept == [10.0]
    assert ran == [50.0]
    assert clock.now() == 100


def test_run_due_catches_up_in_real_time_mode_only(wall: _FakeWall) -> None:
    """run_due() runs what the wall clock made due (real-time) and nothing new in manual mode."""
    realtime = VirtualClock(start=0, speed=2)
    manual = VirtualClock(start=0)
    ran: list[str] = []
    realtime.call_at(4, lambda: ran.append("realtime"))
    manual.call_at(4, lambda: ran.append("manual"))
    wall.now += 5
    realtime.run_due()
    manual.run_due()
    assert ran == ["realtime"]


def test_advancing_a_real_time_clock_moves_its_anchor(wall: _FakeWall) -> None:
    """An explicit advance in real-time mode jumps ahead, and wall time keeps counting from there."""
    clock = VirtualClock(start=0, speed=1)
    clock.advance(3600)
    assert clock.now() == 3600
    wall.now += 2
    assert clock.now() == 3602


def test_lock_is_reentrant_for_callbacks() -> None:
    """Callbacks run under the clock's lock and may use the clock (and its lock) again."""
    clock = VirtualClock(start=0)
    seen: list[int] = []

    def callback() -> None:
        with clock.lock:
            seen.append(clock.pending())
            clock.call_later(1, lambda: seen.append(-1))

    clock.call_at(1, callback)
    clock.advance(5)
    assert seen == [0, -1]


def test_concurrent_advances_run_each_timer_exactly_once() -> None:
    """Threads advancing the same clock never run a timer twice or skip one."""
    clock = VirtualClock(start=0)
    ran: list[int] = []
    for index in range(500):
        clock.call_at(index, functools.partial(ran.append, index))

    def advance_in_steps() -> None:
        for _ in range(200):
            clock.advance(1)

    workers = [threading.Thread(target=advance_in_steps) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(ran) == list(range(500))
    assert ran == sorted(ran)
    assert clock.now() == 800


def test_repr_shows_mode_and_pending_timers() -> None:
    """repr() names the moment, the mode and how many timers wait."""
    clock = VirtualClock(start=0, speed=None)
    clock.call_later(5, lambda: None)
    assert repr(clock) == "<VirtualClock 1970-01-01T00:00:00+00:00 manual timers=1>"


def test_run_due_inside_a_callback_leaves_due_timers_to_the_running_advance() -> None:
    """run_due() from inside a timer callback runs nothing nested: the advance already under way runs the
    other due timers after the callback returns, in order (engine work is never interrupted half-way)."""
    clock = VirtualClock(start=0)
    order: list[str] = []

    def first() -> None:
        order.append("first starts")
        clock.run_due()  # what a request made from a Lambda handler does, in any region
        order.append("first ends")

    clock.call_at(1, first)
    clock.call_at(1, lambda: order.append("second"))
    clock.advance(1)
    assert order == ["first starts", "first ends", "second"]
    assert clock.pending() == 0
