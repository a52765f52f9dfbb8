"""The virtual clock that drives :mod:`pipepilot.local`.

Everything the offline engine does later than "now" (an action finishing, a build phase ending, an
approval expiring) is a timer on this clock. Time moves only when something moves it:

* ``clock.advance(seconds)`` / ``clock.sleep(seconds)`` run every timer that falls due, in order, each at
  its own due time (so a callback reading ``clock.now()`` sees the moment it was scheduled for);
* in real-time mode (``speed=``) virtual time also follows the wall clock, ``speed`` times faster, and
  due timers run whenever the engine is next asked something.

One re-entrant lock guards the clock and the engines that schedule on it: callbacks run under it and
may schedule further timers.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DEFAULT_START", "Timer", "VirtualClock"]

# 2026-01-01T00:00:00Z: a fixed, recognisable start keeps test output reproducible.
DEFAULT_START = 1_767_225_600.0


@attrs.define(eq=False)
class Timer:
    """A callback scheduled on a :class:`VirtualClock`; ``cancel()`` stops it from running."""

    when: float
    callback: Callable[[], object] = attrs.field(repr=False)
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """A clock whose time moves only when advanced (or, in real-time mode, with the wall clock).

    It is also a :class:`pipepilot._time.TimeSource`: ``monotonic()`` and ``time()`` both read virtual
    epoch seconds, and ``sleep()`` advances. Its ``rng``, seeded by ``seed``, is where pipepilot draws
    its random choices (retry jitter, tokens) while the clock is installed, so a run replays exactly.
    """

    def __init__(self, *, start: float = DEFAULT_START, speed: float | None = None, seed: int = 0) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive, not {speed!r}")
        self.lock = threading.RLock()
        # A string seed hashes the same in every process (unlike hash(), it ignores PYTHONHASHSEED).
        self.rng = random.Random(f"pipepilot.local.clock:{seed}")
        self._now = float(start)
        self._speed = speed
        self._wall_anchor = time.monotonic()
        self._virtual_anchor = self._now
        self._queue: list[tuple[float, int, Timer]] = []
        self._sequence = itertools.count()
        # While timers run, "now" is the due time of the one running: a callback that reads the clock must
        # see the moment it was scheduled for, not the wall moment a real-time clock would catch up to.
        self._running_timers = False

    def __repr__(self) -> str:
        mode = f"speed={self._speed}" if self._speed else "manual"
        return f"<VirtualClock {self.datetime().isoformat()} {mode} timers={self.pending()}>"

    # -- reading -------------------------------------------------------------------------------------

    def now(self) -> float:
        """Virtual seconds since the Unix epoch."""
        with self.lock:
            if self._speed is not None and not self._running_timers:
                self._catch_up()
            return self._now

    monotonic = now
    time = now

    def datetime(self) -> datetime:
        """Virtual now as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), tz=timezone.utc)

    def pending(self) -> int:
        """How many timers are still to run."""
        with self.lock:
            return sum(1 for _, _, timer in self._queue if not timer.cancelled)

    def next_due(self) -> float | None:
        """When the next live timer falls due, or None when none is scheduled."""
        with self.lock:
            self._drop_cancelled_head()
            return self._queue[0][0] if self._queue else None

    # -- scheduling ----------------------------------------------------------------------------------

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        """Run ``callback`` when virtual time reaches ``when`` (at once on the next advance if past)."""
        with self.lock:
            timer = Timer(when=max(float(when), self._now), callback=callback)
            heapq.heappush(self._queue, (timer.when, next(self._sequence), timer))
            return timer

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        """Run ``callback`` ``delay`` virtual seconds from now."""
        with self.lock:
            return self.call_at(self._now + max(0.0, float(delay)), callback)

    # -- moving time ---------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, running every timer that falls due on the way."""
        if seconds < 0:
            raise ValueError(f"time cannot go back ({seconds!r} seconds)")
        with self.lock:
            self.advance_to(self._now + seconds)

    def advance_to(self, when: float) -> None:
        """Move time forward to ``when`` (never back), running due timers in order."""
        with self.lock:
            outer = not self._running_timers
            self._running_timers = True
            try:
                while True:
                    self._drop_cancelled_head()
                    if not self._queue or self._queue[0][0] > when:
                        break
                    due, _, timer = heapq.heappop(self._queue)
                    self._now = max(self._now, due)
                    timer.cancelled = True  # a timer runs once
                    timer.callback()
            finally:
                if outer:
                    self._running_timers = False
            self._now = max(self._now, when)
            self._virtual_anchor, self._wall_anchor = self._now, time.monotonic()

    def run_due(self) -> None:
        """Run the timers already due (in real-time mode, after catching up with the wall clock).

        From inside a timer callback it does nothing: the advance running that callback runs the other due
        timers next, in order, instead of nesting them half-way through the callback's work.
        """
        with self.lock:
            if self._running_timers:
                return
            target = self._wall_target() if self._speed is not None else self._now
            self.advance_to(target)

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass: advance, or in real-time mode wait on the wall clock."""
        if self._speed is None:
            self.advance(max(0.0, seconds))
            return
        time.sleep(max(0.0, seconds) / self._speed)
        self.run_due()

    def run_until_idle(self, *, limit: float = 366 * 24 * 3600.0) -> None:
        """Advance timer by timer until nothing is scheduled, but never more than ``limit`` seconds."""
        with self.lock:
            horizon = self._now + limit
            while (due := self.next_due()) is not None and due <= horizon:
                self.advance_to(due)

    # -- internals -----------------------------------------------------------------------------------

    def _wall_target(self) -> float:
        assert self._speed is not None
        return self._virtual_anchor + (time.monotonic() - self._wall_anchor) * self._speed

    def _catch_up(self) -> None:
        self.advance_to(self._wall_target())

    def _drop_cancelled_head(self) -> None:
        while self._queue and self._queue[0][2].cancelled:
            heapq.heappop(self._queue)
