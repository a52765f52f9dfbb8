"""Seeded, reproducible fault plans for :func:`pipepilot.local.offline`.

A plan is a list of rules. Each rule selects calls (a service and one or more operations, or all) and
says what goes wrong and when: on a seeded random share of calls (``rate=``), on chosen call numbers
(``nth=``, counted per rule from 1), or on every selected call; ``times=`` caps how often it fires. The
first rule that fires decides a call. Kinds of fault:

* an AWS error: ``error="ThrottlingException"`` (400, "Rate exceeded"), ``"ServiceUnavailableException"``
  (503; alias ``"ServiceUnavailable"``), ``"InternalFailure"`` (500), or any other code with ``status=``.
  The call is not applied.
* ``error="connection"``: the connection drops before the request arrives (botocore's
  ``EndpointConnectionError``); the call is not applied.
* ``error="lost-response"``: the call IS applied, then the connection drops before the answer arrives
  (``ConnectionClosedError``): "committed, unanswered", the case idempotency tokens exist for.
* an AWS error with ``applied=True``: the call IS applied, then the error is answered (a 5xx after the
  fact: the caller cannot tell it from an error that changed nothing without reading the state back).
* ``latency=seconds``: the call is delayed (alone, or before any of the above). Wall-clock seconds by
  default, so concurrent callers really overlap; ``latency_clock="virtual"`` advances the virtual clock.

Every injected fault is appended to :attr:`FaultPlan.log`. The same seed and the same sequence of calls
give the same faults.
"""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING, Literal

import attrs

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["CONNECTION", "LOST_RESPONSE", "Fault", "FaultPlan", "FaultRule", "InjectedFault"]

CONNECTION = "connection"
LOST_RESPONSE = "lost-response"

# error code -> (HTTP status, message AWS sends)
_KNOWN_ERRORS: dict[str, tuple[int, str]] = {
    "ThrottlingException": (400, "Rate exceeded"),
    "ServiceUnavailableException": (503, "Service Unavailable"),
    "InternalFailure": (500, "An internal error occurred"),
}
_ALIASES = {"ServiceUnavailable": "ServiceUnavailableException", "Throttling": "ThrottlingException"}


def _operations(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(value)


def _nth(value: int | Iterable[int] | None) -> frozenset[int] | None:
    if value is None:
        return None
    numbers = frozenset({value}) if isinstance(value, int) else frozenset(value)
    if not numbers or min(numbers) < 1:
        raise ValueError(f"nth counts calls from 1: {sorted(numbers)!r}")
    return numbers


@attrs.frozen(kw_only=True)
class InjectedFault:
    """One fault a plan injected: which rule, which call, what happened, and when (virtual seconds)."""

    rule: int
    call: int
    service: str
    operation: str
    error: str | None
    latency: float
    at: float


@attrs.define(kw_only=True, eq=False)
class FaultRule:
    """A rule of a :class:`FaultPlan` (created by :meth:`FaultPlan.add`).

    ``calls`` counts the calls this rule selected so far; ``fired`` how often it injected a fault.
    """

    index: int
    service: str | None
    operations: frozenset[str] | None
    error: str | None
    status: int
    message: str
    rate: float | None
    nth: frozenset[int] | None
    times: int | None
    latency: float
    latency_clock: Literal["wall", "virtual"]
    applied: bool = False
    calls: int = 0
    fired: int = 0

    def selects(self, service: str, operation: str) -> bool:
        """Whether this rule applies to a call of ``service``/``operation``."""
        return (self.service is None or self.service == service) and (
            self.operations is None or operation in self.operations
        )


@attrs.frozen(kw_only=True)
class Fault:
    """What the wiring must do to one call: wait, then fail it in the given way (or not at all)."""

    error: str | None
    status: int
    message: str
    latency: float
    latency_clock: Literal["wall", "virtual"]
    applied: bool = False
    """The call is applied before the error is answered (an AWS error fault with ``applied=True``)."""


class FaultPlan:
    """Seeded fault rules for the calls an offline context serves (``aws.faults``)."""

    def __init__(self, *, seed: int = 0) -> None:
        # Its own random stream (not the World's id source), so adding a rule never changes the ids.
        self._random = random.Random(f"pipepilot.local.faults:{seed}")
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = []
        self.log: list[InjectedFault] = []

    def __repr__(self) -> str:
        return f"<FaultPlan rules={len(self.rules)} injected={len(self.log)}>"

    def add(
        self,
        *,
        operation: str | Iterable[str] | None = None,
        service: str | None = None,
        error: str | None = None,
        status: int | None = None,
        message: str | None = None,
        rate: float | None = None,
        nth: int | Iterable[int] | None = None,
        times: int | None = None,
        latency: float = 0.0,
        latency_clock: Literal["wall", "virtual"] = "wall",
        applied: bool = False,
    ) -> FaultRule:
        """Add a rule; returns it (its ``calls`` and ``fired`` counters are live).

        ``service`` is the botocore service id in lower case (``"codepipeline"``, ``"codebuild"``, ``"s3"``,
        ``"iam"``, ...); None selects every service. ``operation`` is an API name (``"StartBuild"``) or
        several; None selects every operation. Without ``rate`` and ``nth`` the rule fires on every
        selected call (up to ``times``). ``applied=True`` (with an AWS error) applies the call before
        answering the error.

        Raises:
            ValueError: a rule that could never do anything, or contradictory triggers.
        """
        if rate is not None and nth is not None:
            raise ValueError("give rate= or nth=, not both")
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate is a probability between 0 and 1, not {rate!r}")
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, not {times!r}")
        if latency < 0:
            raise ValueError(f"latency cannot be negative ({latency!r})")
        if latency_clock not in ("wall", "virtual"):
            raise ValueError(f"latency_clock is 'wall' or 'virtual', not {latency_clock!r}")
        if error is None and latency == 0:
            raise ValueError("a fault rule needs an error= or a latency=")
        if applied and error in (None, CONNECTION, LOST_RESPONSE):
            raise ValueError("applied=True goes with an AWS error (a lost response is applied already)")
        code = _ALIASES.get(error, error) if error is not None else None
        known_status, known_message = _KNOWN_ERRORS.get(
            code or "", (400, f"{code} (injected by pipepilot.local)")
        )
        with self._lock:
            rule = FaultRule(
                index=len(self.rules),
                service=service.lower() if service is not None else None,
                operations=_operations(operation),
                error=code,
                status=status if status is not None else known_status,
                message=message if message is not None else known_message,
                rate=rate,
                nth=_nth(nth),
                times=times,
                latency=float(latency),
                latency_clock=latency_clock,
                applied=applied,
            )
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule (the log stays)."""
        with self._lock:
            self.rules.clear()

    def decide(self, service: str, operation: str, *, now: float) -> Fault | None:
        """The fault for this call (counting it for every rule that selects it), or None.

        Called once per HTTP attempt by the wiring, so a botocore retry is a new call.
        """
        if not self.rules:
            return None
        with self._lock:
            chosen: FaultRule | None = None
            for rule in self.rules:
                if not rule.selects(service, operation):
                    continue
                rule.calls += 1
                fires = self._fires(rule)
                if chosen is None and fires:
                    chosen = rule
            if chosen is None:
                return None
            chosen.fired += 1
            self.log.append(
                InjectedFault(
                    rule=chosen.index,
                    call=chosen.calls,
                    service=service,
                    operation=operation,
                    error=chosen.error,
                    latency=chosen.latency,
                    at=now,
                )
            )
            return Fault(
                error=chosen.error,
                status=chosen.status,
                message=chosen.message,
                latency=chosen.latency,
                latency_clock=chosen.latency_clock,
                applied=chosen.applied,
            )

    def _fires(self, rule: FaultRule) -> bool:
        if rule.nth is not None:
            triggered = rule.calls in rule.nth
        elif rule.rate is not None:
            # One draw per selected call, even when an earlier rule decides the call or this rule is used
            # up: the draws then depend only on the sequence of calls, which keeps plans reproducible.
            triggered = self._random.random() < rule.rate
        else:
            triggered = True
        return triggered and (rule.times is None or rule.fired < rule.times)
