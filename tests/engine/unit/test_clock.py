"""The virtual clock: time moves only when advanced (or with the wall clock in real-time mode), timers run
in order at their own due time, and it is a pipepilot time source."""

from __future__ import annotations

import functools
import threading
import time
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


# -- threads ----------------------------------------------------------------------------------------------


def test_a_threads_sleep_is_its_own_next_to_a_longer_sleeper() -> None:
    """A thread sleeping 10 s next to one sleeping 100 s wakes 10 s after it started: the other's sleep does
    not use up its time; time then jumps to the other's wake-up once this thread waits for it."""
    clock = VirtualClock(start=0, grace=60)
    clock.enlist()  # this thread uses the engine (as any thread that made a call does)
    start = clock.now()
    asleep = threading.Event()
    woke: list[float] = []

    def long_sleeper() -> None:
        asleep.set()
        clock.sleep(100)
        woke.append(clock.now())

    other = threading.Thread(target=long_sleeper)
    other.start()
    asleep.wait()
    time.sleep(0.05)  # let it get into its sleep first
    clock.sleep(10)
    assert clock.now() == start + 10
    with clock.waiting():
        other.join(30)
    assert woke == [start + 100]


def test_a_thread_blocked_elsewhere_holds_time_back_for_the_grace_period_only() -> None:
    """A thread that used the engine and then blocks on something the clock cannot see (an Event) is
    presumed blocked after ``grace`` wall seconds: a sleeper next to it is not stuck forever."""
    clock = VirtualClock(start=0, grace=0.05)
    release = threading.Event()
    enlisted = threading.Event()

    def blocked_elsewhere() -> None:
        clock.enlist()
        enlisted.set()
        release.wait(30)

    other = threading.Thread(target=blocked_elsewhere)
    other.start()
    enlisted.wait()
    began = time.monotonic()
    clock.sleep(10)
    waited = time.monotonic() - began
    release.set()
    other.join(30)
    assert clock.now() == 10
    assert 0.04 <= waited < 20


def test_a_thread_waiting_for_others_does_not_hold_time_back() -> None:
    """Inside ``clock.waiting()`` a thread counts as blocked at once: its workers' sleeps need no grace."""
    clock = VirtualClock(start=0, grace=3600)
    clock.enlist()
    woke: list[float] = []
    ready = threading.Barrier(3)

    def worker(seconds: float) -> None:
        clock.enlist()
        ready.wait()  # all three use the engine before the first sleeps
        clock.sleep(seconds)
        woke.append(clock.now())

    workers = [threading.Thread(target=worker, args=(seconds,)) for seconds in (30, 10, 20)]
    began = time.monotonic()
    with clock.waiting():
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(30)
    assert time.monotonic() - began < 20
    assert sorted(woke) == [10.0, 20.0, 30.0]
    assert clock.now() == 30


def test_a_thread_that_ended_no_longer_holds_time_back() -> None:
    """A thread that used the engine leaves the set when it ends: a later sleep jumps at once."""
    clock = VirtualClock(start=0, grace=3600)
    other = threading.Thread(target=clock.enlist)
    other.start()
    other.join()
    began = time.monotonic()
    clock.sleep(5)
    assert clock.now() == 5
    assert time.monotonic() - began < 20


def test_unlocked_timers_run_outside_the_engine_lock() -> None:
    """A ``locked=False`` callback (user code: an SNS subscriber, a Lambda handler) runs without the engine
    lock, so another thread can take it meanwhile; a default timer runs under it."""
    clock = VirtualClock(start=0)
    seen: list[tuple[str, bool, bool]] = []

    def check(label: str) -> None:
        taken: list[bool] = []

        def take() -> None:
            taken.append(clock.lock.acquire(timeout=0.05))
            if taken[0]:
                clock.lock.release()

        other = threading.Thread(target=take)
        other.start()
        other.join()
        seen.append((label, clock.lock.held(), taken[0]))

    clock.call_at(1, lambda: check("engine"))
    clock.call_at(2, lambda: check("handler"), locked=False)
    clock.advance(5)
    assert seen == [("engine", True, False), ("handler", False, True)]


def test_run_due_under_the_engine_lock_runs_nothing() -> None:
    """Due timers never run inside engine work: run_due() while holding the lock leaves them queued."""
    clock = VirtualClock(start=0)
    ran: list[str] = []
    clock.call_later(0, lambda: ran.append("due"))
    with clock.lock:
        clock.run_due()
    assert ran == []
    clock.run_due()
    assert ran == ["due"]


def test_engine_lock_is_reentrant_and_knows_its_holder() -> None:
    """The engine lock can be taken again by its holder, reports who holds it, and refuses a stranger's
    release."""
    clock = VirtualClock()
    assert not clock.lock.held()
    with clock.lock, clock.lock:
        assert clock.lock.held()
        elsewhere: list[bool] = []
        other = threading.Thread(target=lambda: elsewhere.append(clock.lock.held()))
        other.start()
        other.join()
        assert elsewhere == [False]
    assert not clock.lock.held()
    with pytest.raises(RuntimeError, match="another thread"):
        clock.lock.release()


def test_rejects_a_negative_grace() -> None:
    """The grace period is zero or more wall seconds."""
    with pytest.raises(ValueError, match="grace"):
        VirtualClock(grace=-1)


def test_a_sleep_shorter_than_a_microsecond_still_moves_time() -> None:
    """Virtual time moves in whole microseconds, yet any positive sleep moves it: a loop that sleeps "the
    rest" until a moment (as a rate limiter does) always gets there."""
    clock = VirtualClock(start=0.1)
    target = clock.now() + 4e-7
    while clock.now() < target:
        clock.sleep(target - clock.now())
    assert clock.now() == 0.100001


def test_an_idle_thread_does_not_hold_time_back_until_it_calls_again() -> None:
    """A pool worker that said it is idle (between two tasks) counts as blocked at once; its next call
    (``enlist``, as the wiring does per request) makes it a running thread again."""
    clock = VirtualClock(start=0, grace=3600)
    parked = threading.Event()
    resume = threading.Event()

    def worker() -> None:
        clock.enlist()
        clock.idle()
        parked.set()
        resume.wait(30)

    other = threading.Thread(target=worker)
    other.start()
    parked.wait()
    began = time.monotonic()
    clock.sleep(5)
    assert clock.now() == 5
    assert time.monotonic() - began < 20
    resume.set()
    other.join(30)
