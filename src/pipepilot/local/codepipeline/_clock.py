"""The scheduler's clock glue: engine time frozen per unit of work, and timers that run as engine work."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipepilot.local.clock import Timer
    from pipepilot.local.codepipeline._host import EngineWorld

_T = TypeVar("_T")


class EngineClock:
    """The virtual now the engine works with, and its timers (one per engine; see :meth:`now`)."""

    def __init__(self, world: EngineWorld) -> None:
        self._world = world
        #: >0 while engine code runs (a request or a timer); requests arriving then skip ``run_due``.
        self.depth = 0
        #: Virtual now, frozen for the unit of work in progress (see :meth:`now`).
        self.time = world.clock.now()

    def now(self) -> float:
        """Virtual now: fixed while engine work runs, the clock's otherwise.

        In real-time mode reading the clock catches it up, which runs due timers; doing that half-way
        through a state change would re-enter the scheduler, so engine work reads the time it started at.
        """
        return self.time if self.depth > 0 else self._world.clock.now()

    def serve(self, work: Callable[[], _T]) -> _T:
        """Run ``work`` (a request, or a scripting hook such as a pushed revision) as one unit of engine work.

        It runs under the clock's lock, after the timers that already fell due (so it sees the state of
        "now"), with :meth:`now` frozen for its duration. Due timers run before the lock is taken (they may
        call user handlers, which may call the engine from other threads). Work started from inside other
        engine work (a Lambda handler calling PutJobSuccessResult, a build finishing on a timer) runs no due
        timers: they must not run half-way through the outer work (the clock's ``run_due`` is a no-op inside
        a timer callback and under the lock).
        """
        clock = self._world.clock
        clock.run_due()
        with clock.lock:
            outer = self.enter()
            try:
                return work()
            finally:
                self.leave(outer)

    def enter(self) -> float:
        """Mark the start of a unit of engine work (a request or a callback); returns the outer time."""
        outer = self.time
        if self.depth == 0:
            self.time = self._world.clock.now()
        self.depth += 1
        return outer

    def leave(self, outer: float) -> None:
        """Mark the end of the unit of work :meth:`enter` started."""
        self.depth -= 1
        if self.depth > 0:
            self.time = outer

    def later(self, delay: float, callback: Callable[[], object]) -> Timer:
        """Run ``callback`` on the clock after ``delay`` seconds, marked as engine activity."""
        scheduled: list[Timer] = []

        def run() -> None:
            """Run ``callback`` as engine work with the frozen now set to the timer's due time (inside other
            engine work: never earlier than that work's time, which is restored afterwards).
            """
            outer = self.time
            self.time = max(outer, scheduled[0].when) if self.depth > 0 else scheduled[0].when
            self.depth += 1
            try:
                callback()
            finally:
                self.depth -= 1
                if self.depth > 0:
                    self.time = outer

        timer = self._world.clock.call_later(delay, run)
        scheduled.append(timer)
        return timer

    def hex_id(self, length: int) -> str:
        """``length`` lowercase hex digits from the World's seeded generator."""
        digits = ""
        while len(digits) < length:
            digits += self._world.new_uuid().replace("-", "")
        return digits[:length]
