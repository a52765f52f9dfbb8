"""Where pipepilot reads the time, sleeps, and draws its random numbers.

Waits and retry back-offs never call :mod:`time` directly: they ask the current time source. By default
that is the system's; :func:`pipepilot.local.offline` installs its virtual clock for as long as it is
active, so a two-hour wait inside it advances virtual time instead of blocking.

A thread that waits for other threads (a fleet operation waiting for its workers) says so with
:func:`waiting_for_threads`: a time source that lets virtual time pass only while every thread using it
is blocked (the virtual clock does) then knows not to wait for this one; a worker thread done with a task
says so with :func:`thread_idle`.

The random choices pipepilot makes (retry back-off jitter, idempotency tokens, freeze record ids) come
from the time source too, when it offers a seeded ``rng`` as the virtual clock does: a run inside
``offline(seed=...)`` then replays exactly. Otherwise back-off jitter uses Python's :mod:`random` module,
and tokens and ids come from :func:`uuid.uuid4` (the operating system's randomness: two processes, even
forked ones, never share a token).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "SYSTEM_TIME",
    "RandomSource",
    "TimeSource",
    "current_random",
    "current_time_source",
    "install_time_source",
    "new_uuid",
    "thread_idle",
    "waiting_for_threads",
]


class RandomSource(Protocol):
    """Where random numbers come from (:class:`random.Random` and the :mod:`random` module both are)."""

    def random(self) -> float:
        """A float in [0, 1)."""
        ...

    def getrandbits(self, k: int, /) -> int:
        """An int of ``k`` random bits."""
        ...


class TimeSource(Protocol):
    """A clock pipepilot can read and sleep on.

    A source may also offer ``rng`` (a :class:`RandomSource`); pipepilot then draws every random choice
    from it (see the module docstring).
    """

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


def current_random() -> RandomSource:
    """Where pipepilot draws random numbers now: the time source's ``rng``, else the :mod:`random` module."""
    rng: RandomSource | None = getattr(_current, "rng", None)
    return rng if rng is not None else random


def new_uuid() -> str:
    """A fresh random UUID (version 4) as a string: from the time source's ``rng`` when it offers one.

    Outside such a source it is :func:`uuid.uuid4`, never the :mod:`random` module, whose state forked
    processes share: idempotency tokens must not repeat across processes.
    """
    rng: RandomSource | None = getattr(_current, "rng", None)
    if rng is None:
        return str(uuid.uuid4())
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@contextlib.contextmanager
def waiting_for_threads() -> Iterator[None]:
    """Tell the current time source that this thread waits for other threads for the ``with`` block.

    A source may offer a ``waiting()`` context manager (the virtual clock does: its time jumps only while
    every thread using it is blocked); others need nothing, and this does nothing for them.
    """
    waiting = getattr(_current, "waiting", None)
    if waiting is None:
        yield
        return
    with waiting():
        yield


def thread_idle() -> None:
    """Tell the current time source that this thread is done with it for now (a pool worker between tasks).

    A source that waits for every thread using it (the virtual clock) offers ``idle()`` and stops waiting
    for this thread until it next uses the source; for others this does nothing.
    """
    idle = getattr(_current, "idle", None)
    if idle is not None:
        idle()
