"""Benchmark: how many polls a wait costs, and how late it returns, in virtual time (no AWS, no engine).

A fake execution ends ``duration`` seconds after it starts; a wait that begins with it polls until it
sees the end. The default :class:`pipepilot.polling.PollPolicy` (with and without a history of earlier
durations) is compared with a fixed 5-second loop. Target (issue 4): for executions of 10 minutes to
2 hours, at most 20% of the fixed loop's calls, and at most 30 s of lateness.

Run: ``python benchmarks/bench_wait.py``.
"""

from __future__ import annotations

import random
import sys
from typing import TYPE_CHECKING

import attrs

from pipepilot.polling import Done, Forecast, PollPolicy, PollSchedule, Sleep, wait_until

if TYPE_CHECKING:
    from collections.abc import Sequence

DURATIONS_MINUTES = (10, 20, 30, 60, 90, 120)
SEEDS = range(20)
MAX_RATIO = 0.20
MAX_LATENESS = 30.0
FIXED_INTERVAL = 5.0


@attrs.frozen(kw_only=True)
class Outcome:
    """Calls made and seconds between the end and the poll that saw it."""

    calls: int
    lateness: float


class _VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def simulate_policy(
    duration: float, *, policy: PollPolicy | None = None, history: Sequence[float] = (), seed: int = 0
) -> Outcome:
    """Wait with ``policy`` (default: the default) for an execution ending at ``duration``."""
    time = _VirtualTime()
    schedule = PollSchedule(
        policy=policy or PollPolicy(),
        started=0.0,
        forecast=Forecast.from_history(history),
        rng=random.Random(seed),
    )
    calls = 0

    def fetch() -> bool:
        nonlocal calls
        calls += 1
        return time.now >= duration

    wait_until(
        fetch, lambda finished, now: schedule.decide(finished, now), clock=time.clock, sleep=time.sleep
    )
    return Outcome(calls=calls, lateness=time.now - duration)


def simulate_fixed(duration: float, *, interval: float = FIXED_INTERVAL) -> Outcome:
    """The naive loop: poll, and if not done, sleep ``interval``."""
    time = _VirtualTime()
    calls = 0

    def fetch() -> bool:
        nonlocal calls
        calls += 1
        return time.now >= duration

    wait_until(
        fetch,
        lambda finished, _now: Done() if finished else Sleep(interval),
        clock=time.clock,
        sleep=time.sleep,
    )
    return Outcome(calls=calls, lateness=time.now - duration)


def noisy_history(duration: float, *, seed: int, runs: int = 5, noise: float = 0.15) -> list[float]:
    """``runs`` earlier durations within ``±noise`` of ``duration``."""
    rng = random.Random(f"history-{seed}-{duration}")
    return [duration * (1 + noise * (2 * rng.random() - 1)) for _ in range(runs)]


def main() -> int:
    """Print the table; exit status 1 if any row misses the target."""
    header = (
        f"{'minutes':>7} {'fixed':>6} | {'calls':>5} {'ratio':>6} {'late max':>8}"
        f" | {'calls*':>6} {'ratio*':>6} {'late* max':>9}"
    )
    print("default PollPolicy vs a fixed 5 s loop; * = with a history of 5 runs (±15%);")
    print(f"worst case over {len(SEEDS)} seeds (jitter and history vary with the seed)")
    print(header)
    print("-" * len(header))
    ok = True
    for minutes in DURATIONS_MINUTES:
        duration = minutes * 60.0
        fixed = simulate_fixed(duration)
        plain = [simulate_policy(duration, seed=s) for s in SEEDS]
        learned = [simulate_policy(duration, history=noisy_history(duration, seed=s), seed=s) for s in SEEDS]
        rows = []
        for outcomes in (plain, learned):
            calls = max(o.calls for o in outcomes)
            late = max(o.lateness for o in outcomes)
            ratio = calls / fixed.calls
            ok = ok and ratio <= MAX_RATIO and late <= MAX_LATENESS
            rows.append((calls, ratio, late))
        (c1, r1, l1), (c2, r2, l2) = rows
        print(
            f"{minutes:>7} {fixed.calls:>6} | {c1:>5} {r1:>6.3f} {l1:>7.1f}s | {c2:>6} {r2:>6.3f} {l2:>8.1f}s"
        )
    print(f"target: ratio <= {MAX_RATIO}, lateness <= {MAX_LATENESS:.0f}s -> {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
