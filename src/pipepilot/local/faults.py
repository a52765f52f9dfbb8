"""Seeded, reproducible fault plans for :func:`pipepilot.local.offline`.

A plan is a list of rules. Each rule selects calls (a service and one or more operations, or all) and
says what goes wrong and when: on a seeded random share of calls (``rate=``), on chosen call numbers
(``nth=``, counted per rule from 1), on calls beyond an account's request rate (``above_rate=``), or on
every selected call; ``times=`` caps how often it fires. The first rule with an error that fires decides
a call; a rule with only a latency delays the call and lets the rules after it decide. Kinds of fault:

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

``above_rate=N`` models an account's rate limit, as AWS enforces it: a token bucket that holds ``burst``
tokens (default: ``N``, one second's worth) and gains ``N`` a second of virtual time; every selected call
that reaches the rule takes one, and a call that finds none fails with the rule's error (typically
``"ThrottlingException"``; a throttled call takes no token). The bucket is shared by every call the rule
selects, from all threads: AWS limits each API action of an account and region separately, which a rule
per ``operation=`` models; one rule over all operations models a stricter, account-wide limit.

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
    """One operation name or several as a frozenset; None (every operation) stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(value)


def _nth(value: int | Iterable[int] | None) -> frozenset[int] | None:
    """``nth`` (one call number or several, counted from 1) as a frozenset; ``ValueError`` for none or a
    number below 1."""
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
    above_rate: float | None = None
    burst: float = 1.0
    applied: bool = False
    calls: int = 0
    fired: int = 0
    # The account's token bucket (above_rate rules): tokens left, and when they were last counted.
    _tokens: float = attrs.field(default=0.0, init=False, repr=False)
    _counted_at: float | None = attrs.field(default=None, init=False, repr=False)

    def selects(self, service: str, operation: str) -> bool:
        """Whether this rule applies to a call of ``service``/``operation``."""
        return (self.service is None or self.service == service) and (
            self.operations is None or operation in self.operations
        )

    def take_token(self, now: float) -> bool:
        """For an ``above_rate`` rule: take a token from the bucket at virtual time ``now`` if one is left."""
        assert self.above_rate is not None
        if self._counted_at is None:
            self._tokens = self.burst  # the bucket starts full, as an idle account's does
        else:
            gained = max(0.0, now - self._counted_at) * self.above_rate
            self._tokens = min(self.burst, self._tokens + gained)
        self._counted_at = now if self._counted_at is None else max(self._counted_at, now)
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


@attrs.frozen(kw_only=True)
class Fault:
    """What the wiring must do to one call: wait, then fail it in the given way (or not at all).

    ``latency`` is wall-clock seconds, ``virtual_latency`` virtual ones (the sums over the rules that fired).
    """

    error: str | None
    status: int
    message: str
    latency: float = 0.0
    virtual_latency: float = 0.0
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
        above_rate: float | None = None,
        burst: float | None = None,
        applied: bool = False,
    ) -> FaultRule:
        """Add a rule; returns it (its ``calls`` and ``fired`` counters are live).

        ``service`` is the botocore service id in lower case (``"codepipeline"``, ``"codebuild"``, ``"s3"``,
        ``"iam"``, ...); None selects every service. ``operation`` is an API name (``"StartBuild"``) or
        several; None selects every operation. Without ``rate``, ``nth`` and ``above_rate`` the rule fires
        on every selected call (up to ``times``). ``above_rate`` (calls a second) and ``burst`` (calls at
        once, default ``above_rate``) make it an account rate limit (see the module docstring).
        ``applied=True`` (with an AWS error) applies the call before answering the error.

        Raises:
            ValueError: a rule that could never do anything, or contradictory triggers.
        """
        if sum(trigger is not None for trigger in (rate, nth, above_rate)) > 1:
            raise ValueError("give at most one of rate=, nth= and above_rate=")
        if above_rate is not None and not (0 < above_rate < float("inf")):
            raise ValueError(f"above_rate is a positive number of calls a second, not {above_rate!r}")
        if burst is not None and (above_rate is None or not 1 <= burst < float("inf")):
            raise ValueError(f"burst goes with above_rate= and is at least 1, not {burst!r}")
        if above_rate is not None and error is None:
            raise ValueError("an above_rate= rule needs the error= it answers with")
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
                above_rate=None if above_rate is None else float(above_rate),
                burst=float(burst if burst is not None else max(1.0, above_rate or 1.0)),
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

        Called once per HTTP attempt by the wiring, so a botocore retry is a new call. Latency-only rules
        that fire add their delay; the first rule with an error that fires decides the call, and the rules
        after it do not apply (an ``above_rate`` rule after it takes no token).
        """
        if not self.rules:
            return None
        with self._lock:
            firing: list[FaultRule] = []
            chosen: FaultRule | None = None
            for rule in self.rules:
                if not rule.selects(service, operation):
                    continue
                rule.calls += 1
                fires = self._fires(rule, now=now, reached=chosen is None)
                if chosen is None and fires:
                    firing.append(rule)
                    if rule.error is not None:
                        chosen = rule
            if not firing:
                return None
            for rule in firing:
                rule.fired += 1
                self.log.append(
                    InjectedFault(
                        rule=rule.index,
                        call=rule.calls,
                        service=service,
                        operation=operation,
                        error=rule.error,
                        latency=rule.latency,
                        at=now,
                    )
                )
            return Fault(
                error=chosen.error if chosen is not None else None,
                status=chosen.status if chosen is not None else 200,
                message=chosen.message if chosen is not None else "",
                latency=sum(rule.latency for rule in firing if rule.latency_clock == "wall"),
                virtual_latency=sum(rule.latency for rule in firing if rule.latency_clock == "virtual"),
                applied=chosen.applied if chosen is not None else False,
            )

    def _fires(self, rule: FaultRule, *, now: float, reached: bool) -> bool:
        """Whether ``rule`` fires on this call (on its ``nth`` calls, at its ``rate``, above its
        ``above_rate`` or always) and has firings left; a ``rate`` rule draws from the plan's random stream on
        every call, and an ``above_rate`` rule takes a token from its bucket when the call ``reached`` it and
        it has firings left."""
        available = rule.times is None or rule.fired < rule.times
        if rule.nth is not None:
            triggered = rule.calls in rule.nth
        elif rule.rate is not None:
            # One draw per selected call, even when an earlier rule decides the call or this rule is used
            # up: the draws then depend only on the sequence of calls, which keeps plans reproducible.
            triggered = self._random.random() < rule.rate
        elif rule.above_rate is not None:
            # Only a call that gets this far meets the account's limit; a throttled call takes no token.
            triggered = reached and available and not rule.take_token(now)
        else:
            triggered = True
        return triggered and available
