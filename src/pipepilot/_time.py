"""Where pipepilot reads the time and sleeps.

Waits and retry back-offs never call :mod:`time` directly: they ask the current time source. By default
that is the system's; :func:`pipepilot.local.offline` installs its virtual clock for as long as it is
active, so a two-hour wait inside it advances virtual time instead of blocking.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["SYSTEM_TIME", "TimeSource", "current_time_source", "install_time_source"]


class TimeSource(Protocol):
    """A clock pipepilot can read and sleep on."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (only differences are meaningful)."""
        ...

    def time(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        ...


class _SystemTime:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def __repr__(self) -> str:
        return "SYSTEM_TIME"


SYSTEM_TIME: TimeSource = _SystemTime()

# A plain global rather than a ContextVar: pipepilot's fleet operations run in worker threads, and they
# must see the same clock as the thread that installed it.
_lock = threading.Lock()
_current: TimeSource = SYSTEM_TIME


def current_time_source() -> TimeSource:
    """The time source in force now."""
    return _current


def install_time_source(source: TimeSource) -> TimeSource:
    """Make ``source`` current and return the one it replaces (to put back later)."""
    global _current
    with _lock:
        previous, _current = _current, source
    return previous
