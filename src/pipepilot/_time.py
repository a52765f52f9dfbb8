"""Where pipepilot reads the time, sleeps, and draws its random numbers.

Waits and retry back-offs never call :mod:`time` directly: they ask a time source. A program injects one
in a single place, the facade (``CodePipeline(clock=..., sleep=...)``); otherwise the source is the one
serving the facade's client (:func:`time_source_for`): the system's, or, for a client that
:func:`pipepilot.local.offline` serves, the engine's virtual clock, which the engine hands over through the
client itself. A two-hour wait inside ``offline()`` therefore advances virtual time instead of blocking,
in any thread, and there is no global clock to install or forget to restore.

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
import time
import uuid
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Iterator

__all__ = [
    "SYSTEM_TIME",
    "TIME_SOURCE_EVENT",
    "ClientTime",
    "RandomSource",
    "TimeSource",
    "current_random",
    "new_uuid",
    "thread_idle",
    "time_source_for",
    "wait_for_event",
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

#: The botocore event a client answers with the time source that serves it (see :func:`time_source_for`).
TIME_SOURCE_EVENT = "pipepilot-time-source"


def time_source_for(client: object) -> TimeSource:
    """The time source of the service behind ``client``: :data:`SYSTEM_TIME`, unless something answers.

    This is the seam through which an engine injects time: a boto3 client served by
    :func:`pipepilot.local.offline` answers :data:`TIME_SOURCE_EVENT` on its event system with the
    engine's virtual clock, for as long as the engine serves it; AWS's clients answer nothing. There is no
    global clock: the answer follows the client, in whichever thread it is used.
    """
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None:
        return SYSTEM_TIME
    _, source = events.emit_until_response(TIME_SOURCE_EVENT)
    return source if source is not None else SYSTEM_TIME


class ClientTime:
    """A :class:`TimeSource` that is, at each use, the time source of a client (:func:`time_source_for`).

    ``client`` returns the client (created on first use, if need be). Holding one of these instead of a
    source resolved once lets a facade made before :func:`pipepilot.local.offline` started follow the
    engine's clock while it serves the facade's client, and the system's before and after.
    """

    __slots__ = ("_client",)

    def __init__(self, client: Callable[[], object]) -> None:
        self._client = client

    def source(self) -> TimeSource:
        """The time source serving the client now."""
        return time_source_for(self._client())

    def monotonic(self) -> float:
        """Seconds on the serving source's monotonic clock."""
        return self.source().monotonic()

    def time(self) -> float:
        """Seconds since the Unix epoch on the serving source."""
        return self.source().time()

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass on the serving source."""
        self.source().sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        # Optional capabilities (``rng``, ``waiting``, ``idle``) are the serving source's, when it has them.
        return getattr(self.source(), name)

    def __repr__(self) -> str:
        return "<ClientTime>"


def current_random(source: TimeSource) -> RandomSource:
    """Where pipepilot draws random numbers: ``source``'s ``rng``, else the :mod:`random` module."""
    rng: RandomSource | None = getattr(source, "rng", None)
    return rng if rng is not None else random


def new_uuid(source: TimeSource) -> str:
    """A fresh random UUID (version 4) as a string: from ``source``'s ``rng`` when it offers one.

    Outside such a source it is :func:`uuid.uuid4`, never the :mod:`random` module, whose state forked
    processes share: idempotency tokens must not repeat across processes.
    """
    rng: RandomSource | None = getattr(source, "rng", None)
    if rng is None:
        return str(uuid.uuid4())
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@contextlib.contextmanager
def waiting_for_threads(source: TimeSource) -> Iterator[None]:
    """Tell ``source`` that this thread waits for other threads for the ``with`` block.

    A source may offer a ``waiting()`` context manager (the virtual clock does: its time jumps only while
    every thread using it is blocked); others need nothing, and this does nothing for them.
    """
    waiting = getattr(source, "waiting", None)
    if waiting is None:
        yield
        return
    with waiting():
        yield


def thread_idle(source: TimeSource) -> None:
    """Tell ``source`` that this thread is done with it for now (a pool worker between tasks).

    A source that waits for every thread using it (the virtual clock) offers ``idle()`` and stops waiting
    for this thread until it next uses the source; for others this does nothing.
    """
    idle = getattr(source, "idle", None)
    if idle is not None:
        idle()


def wait_for_event(
    source: TimeSource, event: threading.Event, seconds: float, *, start: Callable[[], object] | None = None
) -> bool:
    """Wait until ``event`` is set (True) or ``seconds`` have passed on ``source`` (False).

    ``start`` (if given) is called once the wait is set up: start there the thread that will set the event.
    A source may offer ``wait_event(event, seconds, start=...)`` (the virtual clock does: the waiting thread
    counts as asleep until its deadline, so virtual time never jumps past it, yet it returns as soon as the
    event is set); otherwise this is ``event.wait(seconds)`` on the wall clock.
    """
    wait_event = getattr(source, "wait_event", None)
    if wait_event is None:
        if start is not None:
            start()
        return event.wait(max(0.0, seconds))
    return bool(wait_event(event, seconds, start=start))
