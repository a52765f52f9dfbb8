"""The virtual clock that drives :mod:`pipepilot.local`.

Everything the offline engine does later than "now" (an action finishing, a build phase ending, an
approval expiring) is a timer on this clock. Time moves only when something moves it:

* ``clock.advance(seconds)`` / ``clock.advance_to(when)`` move it at once, running every timer that falls
  due, in order, each at its own due time (so a callback reading ``clock.now()`` sees the moment it was
  scheduled for);
* ``clock.sleep(seconds)`` lets ``seconds`` pass *for the calling thread*. With one thread using the
  engine that is the same as ``advance``. With several, time jumps only when every thread using the engine
  is blocked, and then to the earliest moment one of them wakes up (the rule of trio's autojump clock): a
  thread's sleep never uses up another thread's time, so each thread's deadlines are its own;
* in real-time mode (``speed=``) virtual time also follows the wall clock, ``speed`` times faster, and
  due timers run whenever the engine is next asked something.

Threads "using the engine" are those that made a call through the offline wiring or slept on the clock.
Such a thread counts as blocked while it sleeps on the clock, while it is inside :meth:`VirtualClock.waiting`
(waiting for other threads: pipepilot's fleet operations wait for their workers so), after it said it is
:meth:`VirtualClock.idle` (their workers between two tasks) until its next call, once it has ended, and
-- the safeguard against waiting forever for a thread that blocks on something the clock cannot see (a lock,
a queue, a join) -- once it has run for ``grace`` wall seconds without sleeping on the clock.

Two locks, never held while user code runs:

* ``clock.lock``, re-entrant, guards the engines: every request and every engine timer runs under it, one
  at a time, in due order;
* an internal lock guards the clock's own state (time, timers, threads) for a few instructions at a time.

Timers scheduled with ``locked=False`` (SNS deliveries to subscribers, Lambda handler invocations) run
outside both, so user code they call may use the engine from any thread (a fleet read from an approval bot)
without deadlocking.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import random
import threading
import time
import weakref
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["DEFAULT_GRACE", "DEFAULT_START", "EngineLock", "Timer", "VirtualClock"]

# 2026-01-01T00:00:00Z: a fixed, recognisable start keeps test output reproducible.
DEFAULT_START = 1_767_225_600.0

#: Wall seconds a thread using the engine may run without sleeping on the clock before the others stop
#: waiting for it (it is presumed blocked on something the clock cannot see).
DEFAULT_GRACE = 0.25

# What a thread is doing, innermost last (see _Thread.states); a float means "sleeping until then".
_IN_CALLBACK = "callback"
_WAITING = "waiting"


@attrs.define(eq=False)
class Timer:
    """A callback scheduled on a :class:`VirtualClock`; ``cancel()`` stops it from running.

    ``locked`` timers run under the clock's ``lock`` (engine work); the others run outside every lock.
    """

    when: float
    callback: Callable[[], object] = attrs.field(repr=False)
    cancelled: bool = False
    locked: bool = True

    def cancel(self) -> None:
        """Mark the timer cancelled, so the clock skips it (and drops it once it reaches the head of the
        queue)."""
        self.cancelled = True


class EngineLock:
    """A re-entrant lock that can tell whether the calling thread holds it (the engines' lock).

    Use it as ``with clock.lock:``; :meth:`held` is what lets the clock refuse to run user callbacks while
    the calling thread holds it.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._owner: int | None = None
        self._depth = 0

    def __repr__(self) -> str:
        return f"<EngineLock {'held' if self._owner is not None else 'free'}>"

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock (again, if this thread holds it); returns whether it was taken."""
        if not self._lock.acquire(blocking, timeout):
            return False
        self._owner = threading.get_ident()
        self._depth += 1
        return True

    def release(self) -> None:
        """Give back one level of the lock.

        Raises:
            RuntimeError: the calling thread does not hold the lock.
        """
        if self._owner != threading.get_ident():
            raise RuntimeError("cannot release a lock held by another thread (or by none)")
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
        self._lock.release()

    def held(self) -> bool:
        """Whether the calling thread holds the lock."""
        # Only this thread ever writes its own ident here, so the unlocked read cannot be a false "yes".
        return self._owner == threading.get_ident()

    def __enter__(self) -> EngineLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class _Thread:
    """A thread using the engine: what it is doing now, and since when (wall seconds) it has been running."""

    __slots__ = ("__weakref__", "idle", "since", "states", "thread")

    def __init__(self, thread: threading.Thread) -> None:
        self.thread = thread
        # Innermost last: a float (sleeping until then), _IN_CALLBACK or _WAITING. Empty: running its own code.
        self.states: list[float | str] = []
        self.since = time.monotonic()
        # Done with the engine until its next call or sleep (a pool worker between tasks).
        self.idle = False

    def blocked(self, now: float, wall: float, grace: float) -> float | None:
        """None when this thread counts as blocked; else the wall seconds until it will (the grace left)."""
        state = self.states[-1] if self.states else None
        if isinstance(state, float):
            # A sleeper whose moment has come is about to run: wait for it (it says when it is up).
            return None if state > now else grace
        if state == _WAITING or (self.idle and not self.states) or not self.thread.is_alive():
            return None
        left = self.since + grace - wall
        return None if left <= 0 else left


class _Departure:
    """Kept in a thread's thread-local storage: when the thread ends it is dropped, and the clock forgets it."""

    __slots__ = ("__weakref__",)


class VirtualClock:
    """A clock whose time moves only when advanced (or, in real-time mode, with the wall clock).

    It is also a :class:`pipepilot._time.TimeSource`: ``monotonic()`` and ``time()`` both read virtual
    epoch seconds, and ``sleep()`` lets virtual time pass for the calling thread (see the module docstring
    for how sleeps of several threads combine; ``grace`` is the wall-clock safeguard it describes). Its
    ``rng``, seeded by ``seed``, is where pipepilot draws its random choices (retry jitter, tokens) while
    the clock is installed, so a run replays exactly.

    Every method may be called from any thread.

    Raises:
        ValueError: ``speed`` is not positive, or ``grace`` is negative.
    """

    def __init__(
        self,
        *,
        start: float = DEFAULT_START,
        speed: float | None = None,
        seed: int = 0,
        grace: float = DEFAULT_GRACE,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive, not {speed!r}")
        if not grace >= 0:
            raise ValueError(f"grace must be zero or more wall seconds, not {grace!r}")
        self.lock = EngineLock()
        # A string seed hashes the same in every process (unlike hash(), it ignores PYTHONHASHSEED).
        self.rng = random.Random(f"pipepilot.local.clock:{seed}")
        self.grace = float(grace)
        # Guards everything below for a few instructions at a time; never held while a callback runs.
        self._state = threading.Condition(threading.Lock())
        self._now = float(start)
        self._speed = speed
        self._wall_anchor = time.monotonic()
        self._virtual_anchor = self._now
        self._queue: list[tuple[float, int, Timer]] = []
        self._sequence = itertools.count()
        # Threads using the engine, by ident; and the targets of explicit advances under way, by thread, so
        # that concurrent advance() calls add up instead of overlapping.
        self._threads: dict[int, _Thread] = {}
        self._advancing: dict[int, float] = {}
        # Per thread: how deep in timer callbacks it is, and the token whose loss tells the clock it ended.
        self._local = threading.local()

    def __repr__(self) -> str:
        mode = f"speed={self._speed}" if self._speed else "manual"
        return f"<VirtualClock {self.datetime().isoformat()} {mode} timers={self.pending()}>"

    # -- reading -------------------------------------------------------------------------------------

    def now(self) -> float:
        """Virtual seconds since the Unix epoch."""
        if self._speed is not None and self._may_run_timers():
            self._run_until(self._wall_target())
        with self._state:
            return self._now

    monotonic = now
    time = now

    def datetime(self) -> datetime:
        """Virtual now as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), tz=timezone.utc)

    def pending(self) -> int:
        """How many timers are still to run."""
        with self._state:
            return sum(1 for _, _, timer in self._queue if not timer.cancelled)

    def next_due(self) -> float | None:
        """When the next live timer falls due, or None when none is scheduled."""
        with self._state:
            self._drop_cancelled_head()
            return self._queue[0][0] if self._queue else None

    # -- scheduling ----------------------------------------------------------------------------------

    def call_at(self, when: float, callback: Callable[[], object], *, locked: bool = True) -> Timer:
        """Run ``callback`` when virtual time reaches ``when`` (at once on the next advance if past).

        A ``locked`` callback (the default: engine work) runs under :attr:`lock`; with ``locked=False`` it
        runs outside every lock, as callbacks into user code (handlers) must.
        """
        with self._state:
            timer = Timer(when=max(float(when), self._now), callback=callback, locked=locked)
            heapq.heappush(self._queue, (timer.when, next(self._sequence), timer))
            return timer

    def call_later(self, delay: float, callback: Callable[[], object], *, locked: bool = True) -> Timer:
        """Run ``callback`` ``delay`` virtual seconds from now (see :meth:`call_at` for ``locked``)."""
        with self._state:
            when = self._now + max(0.0, float(delay))
        return self.call_at(when, callback, locked=locked)

    # -- moving time ---------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` at once, running every timer that falls due on the way.

        Advances made by several threads at the same time add up.

        Raises:
            ValueError: ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError(f"time cannot go back ({seconds!r} seconds)")
        me = threading.get_ident()
        with self._state:
            others = [target for ident, target in self._advancing.items() if ident != me]
            target = _exact(max([self._now, *others]) + seconds)
            outer = self._advancing.get(me)
            self._advancing[me] = target
        try:
            self._run_until(target)
        finally:
            with self._state:
                if outer is None:
                    del self._advancing[me]
                else:
                    self._advancing[me] = outer

    def advance_to(self, when: float) -> None:
        """Move time forward to ``when`` (never back) at once, running due timers in order."""
        self._run_until(float(when))

    def run_due(self) -> None:
        """Run the timers already due (in real-time mode, after catching up with the wall clock).

        From inside a timer callback, or while the calling thread holds :attr:`lock`, it does nothing: the
        advance running that callback runs the other due timers next, in order, instead of nesting them
        half-way through the callback's work (and user callbacks never run under the engines' lock).
        """
        if not self._may_run_timers():
            return
        if self._speed is not None:
            self._run_until(self._wall_target())
        else:
            with self._state:
                now = self._now
            self._run_until(now)

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass for the calling thread.

        In manual mode the thread waits until virtual time reaches its wake-up; time jumps there as soon as
        every other thread using the engine is blocked (at once when this is the only one). In real-time
        mode it waits ``seconds / speed`` on the wall clock.
        """
        if self._speed is not None:
            time.sleep(max(0.0, seconds) / self._speed)
            self.run_due()
            return
        me = self._enlist()
        with self._state:
            me.idle = False
            wake = _exact(self._now + max(0.0, seconds))
            if seconds > 0 and wake <= self._now:
                # Rounded away: a loop sleeping "the rest" until a moment must still get there.
                wake = _exact(self._now + _MICROSECOND)
            me.states.append(wake)
            self._state.notify_all()
        try:
            self._sleep_until(me, wake)
        finally:
            with self._state:
                me.states.pop()
                me.since = time.monotonic()
                self._state.notify_all()

    def wait_event(
        self, event: threading.Event, seconds: float, *, start: Callable[[], object] | None = None
    ) -> bool:
        """Wait until ``event`` is set (True) or ``seconds`` of virtual time have passed (False).

        The calling thread does not move time itself: other threads do (a worker sleeping on the clock, an
        ``advance``). Meanwhile it counts as asleep until its deadline, so time jumps made for the others
        stop there and it wakes up exactly at the deadline; it returns as soon as ``event`` is set, with no
        time spent. ``start`` is called once the thread counts as waiting (to start the thread it waits
        for: started earlier, that thread could move time before the deadline is known). A job worker's
        handler waits for its worker thread this way: virtual time then passes only as the worker sleeps,
        never past the moment the handler must report. In real-time mode it waits on the wall clock,
        ``speed`` times faster.
        """
        if self._speed is not None:
            if start is not None:
                start()
            deadline = self.now() + max(0.0, seconds)
            while not event.is_set():
                left = deadline - self.now()
                if left <= 0:
                    return event.is_set()
                event.wait(min(left / self._speed, _EVENT_POLL))
            return True
        me = self._enlist()
        with self._state:
            me.idle = False
            wake = _exact(self._now + max(0.0, seconds))
            me.states.append(wake)
            self._state.notify_all()
        try:
            if start is not None:
                start()
            while not event.is_set():
                with self._state:
                    if self._now >= wake:
                        break
                    # Setting the event does not notify this condition: look again every few milliseconds.
                    self._state.wait(_EVENT_POLL)
            return event.is_set()
        finally:
            with self._state:
                me.states.pop()
                me.since = time.monotonic()
                self._state.notify_all()

    def run_until_idle(self, *, limit: float = 366 * 24 * 3600.0) -> None:
        """Advance timer by timer until nothing is scheduled, but never more than ``limit`` seconds."""
        with self._state:
            horizon = self._now + limit
        while (due := self.next_due()) is not None and due <= horizon:
            self._run_until(due)

    # -- threads -------------------------------------------------------------------------------------

    def enlist(self) -> None:
        """Count the calling thread among the threads using the engine (the wiring calls it per request).

        Its sleeps then wait for the others and theirs for it (see the module docstring). A thread leaves
        when it ends. A thread that said it was :meth:`idle` is running again from this call.
        """
        me = self._enlist()
        if me.idle:
            with self._state:
                me.idle = False
                me.since = time.monotonic()

    def idle(self) -> None:
        """Say the calling thread is done with the engine for now (a pool worker between two tasks).

        It counts as blocked from now until its next request, sleep or timer callback, so the other
        threads' sleeps need not wait the grace period for it.
        """
        me = self._enlist()
        with self._state:
            me.idle = True
            self._state.notify_all()

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """Mark the calling thread as waiting for other threads (a join, a queue) for the ``with`` block.

        The clock then needs no grace period before letting time jump for the threads it waits for.
        """
        me = self._enlist()
        with self._state:
            me.states.append(_WAITING)
            self._state.notify_all()
        try:
            yield
        finally:
            with self._state:
                me.states.pop()
                me.since = time.monotonic()

    # -- internals -----------------------------------------------------------------------------------

    def _enlist(self) -> _Thread:
        """The calling thread's record, created and registered in ``_threads`` on its first call with a
        finalizer that unregisters it when the thread ends (the clock jumps only when every registered thread
        is blocked)."""
        local = self._local
        me: _Thread | None = getattr(local, "me", None)
        if me is not None:
            return me
        me = _Thread(threading.current_thread())
        ident = threading.get_ident()
        with self._state:
            self._threads[ident] = me
        local.me = me
        # Thread-local storage is dropped when its thread ends: that is when the thread leaves.
        local.departure = _Departure()
        weakref.finalize(local.departure, _leave, weakref.ref(self), ident, weakref.ref(me))
        return me

    def _forget(self, ident: int, me: _Thread) -> None:
        """Unregister thread ``ident`` (if ``me`` is still its record) and wake the waiting threads, which may
        now all be blocked and let time jump."""
        with self._state:
            if self._threads.get(ident) is me:
                del self._threads[ident]
            self._state.notify_all()

    def _sleep_until(self, me: _Thread, wake: float) -> None:
        """Wait until virtual time reaches ``wake``; jump there (timer by timer) when every thread is blocked."""
        while True:
            with self._state:
                if self._now >= wake:
                    return
                wait = self._jump_wait(me)
                if wait is not None:
                    self._state.wait(wait)
                    continue
                target = min(
                    state[-1]
                    for thread in self._threads.values()
                    if (state := thread.states) and isinstance(state[-1], float) and state[-1] > self._now
                )
                self._drop_cancelled_head()
                if self._queue:
                    target = min(target, self._queue[0][0])
            # One step at a time (the next timer, or the earliest wake-up): a timer may wake threads up.
            self._run_until(target)

    def _jump_wait(self, me: _Thread) -> float | None:
        """None when every other thread is blocked; else wall seconds to wait before asking again."""
        wall = time.monotonic()
        wait: float | None = None
        for ident, thread in list(self._threads.items()):
            if thread is me:
                continue
            if not thread.thread.is_alive():
                del self._threads[ident]
                continue
            left = thread.blocked(self._now, wall, self.grace)
            if left is not None:
                wait = left if wait is None else min(wait, left)
        return wait

    def _may_run_timers(self) -> bool:
        """Whether the calling thread may run timers now: not while it holds the engines' lock or runs a
        timer's callback."""
        return not self.lock.held() and not getattr(self._local, "callbacks", 0)

    def _run_until(self, when: float) -> None:
        """Run every timer due at or before ``when`` in order, each at its own time; then time is ``when``.

        Locked timers are taken from the queue and run under :attr:`lock`, so across threads they run one
        at a time in due order; the others run outside every lock, each once.
        """
        while True:
            with self.lock:
                with self._state:
                    self._drop_cancelled_head()
                    if not self._queue or self._queue[0][0] > when:
                        if when > self._now:
                            self._now = when
                            self._state.notify_all()
                        self._virtual_anchor, self._wall_anchor = self._now, time.monotonic()
                        return
                    due, _, timer = heapq.heappop(self._queue)
                    if due > self._now:
                        self._now = due
                        self._state.notify_all()
                    timer.cancelled = True  # a timer runs once
                if timer.locked:
                    self._call(timer)
                    continue
            self._call(timer)

    def _call(self, timer: Timer) -> None:
        """Run ``timer``'s callback, with the calling thread marked as in a callback meanwhile (and counted in
        its thread-local ``callbacks``, so it runs no other timer from inside)."""
        local = self._local
        me = self._enlist()
        with self._state:
            me.states.append(_IN_CALLBACK)
            me.idle = False
            me.since = time.monotonic()
        local.callbacks = getattr(local, "callbacks", 0) + 1
        try:
            timer.callback()
        finally:
            local.callbacks -= 1
            with self._state:
                me.states.pop()

    def _wall_target(self) -> float:
        """The virtual time a clock with a ``speed`` has reached: the last anchor plus the wall time since,
        times the speed."""
        assert self._speed is not None
        with self._state:
            return self._virtual_anchor + (time.monotonic() - self._wall_anchor) * self._speed

    def _drop_cancelled_head(self) -> None:
        """Pop cancelled timers off the head of the queue, so its first entry is the next timer to run (call
        with ``_state`` held)."""
        while self._queue and self._queue[0][2].cancelled:
            heapq.heappop(self._queue)


_MICROSECOND = 1e-6
# Wall seconds between two looks at an event a thread waits for (see VirtualClock.wait_event).
_EVENT_POLL = 0.002


def _exact(when: float) -> float:
    """``when`` to the microsecond: sums of short steps (1 ms call latencies) stay the decimal they read as,
    so a timestamp that went over the wire (and back through ``datetime``) equals the clock's reading."""
    return round(when, 6)


def _leave(clock: weakref.ref[VirtualClock], ident: int, me: weakref.ref[_Thread]) -> None:
    """A thread using ``clock`` ended: forget it (called when its thread-local storage is dropped)."""
    alive, thread = clock(), me()
    if alive is not None and thread is not None:
        alive._forget(ident, thread)
