"""A time source for unit tests: it moves only when slept on, and records every sleep."""

from __future__ import annotations

import threading


class FakeTime:
    """Monotonic and wall time are the same virtual seconds; ``sleep`` moves them forward (thread-safe)."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def time(self) -> float:
        return self.monotonic()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds
