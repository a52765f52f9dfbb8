"""pipepilot's retry policy and the tenacity loop that applies it to one call.

Split from :mod:`pipepilot._calls` so that creating a client loads neither attrs nor tenacity: this module
is imported by the first call (or by whoever names :class:`RetryPolicy`). See :mod:`pipepilot._calls` for
how retries are shared with botocore.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TypeVar

import attrs
import tenacity

from pipepilot._calls import is_role_propagation_error

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipepilot import _time

__all__ = ["RetryPolicy", "retrying"]

logger = logging.getLogger("pipepilot._calls")  # retry warnings keep the logger name users filter on

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How pipepilot retries transient failures: full-jitter exponential back-off, bounded twice.

    The n-th retry sleeps a random time in ``[0, min(max_delay, base_delay * 2 ** (n - 1))]`` seconds
    ("full jitter"). Retrying stops after ``max_attempts`` attempts in all, or when the next sleep would end
    more than ``deadline`` seconds after the call began, whichever comes first; the last error is raised.
    Time is read from pipepilot's time source (see :mod:`pipepilot._time`), so a virtual clock applies,
    and the jitter is drawn from its random source (seeded inside :func:`pipepilot.local.offline`).

    What a caller can expect, per pipepilot call:

    * with a client pipepilot created: at most ``max_attempts`` requests (default 6) within about
      ``deadline`` seconds (default 60) for throttling, 5xx and connection errors; botocore sends each
      request once.
    * with an injected client that retries by itself: exactly the client's own attempts (botocore's default
      is 3); this policy adds no transient retries, so attempts never multiply. botocore's back-off then
      sleeps in real time, and botocore retries every operation alike (writes too, and, in ``standard``
      mode, CodePipeline's ``LimitExceededException`` quota error). Inject a client configured with
      ``retries={"total_max_attempts": 1}`` to get this policy instead.
    * reads and token-idempotent writes (``StartPipelineExecution``, CodeBuild ``StartBuild``) are retried
      on any transient error; other writes (``PutApprovalResult``, ``StopPipelineExecution``,
      ``UpdatePipeline``, ...) only on errors proving AWS did not act on the request (throttling, or no
      connection made). A 5xx or a dropped connection on such a write is raised as
      :class:`~pipepilot.errors.ServiceUnavailableError` / :class:`~pipepilot.errors.ConnectionFailure`,
      except for the writes that read the state back first (``RetryStageExecution``, inbound stage
      transitions), which are resent under this policy when the state shows they were not applied.
    * a pipeline create or update refused because IAM has not yet propagated its new service role is
      retried until ``deadline``, whatever the client (the attempt limit does not apply to it).
    """

    max_attempts: int = attrs.field(default=6, validator=attrs.validators.ge(1))
    deadline: float = attrs.field(default=60.0, validator=attrs.validators.gt(0))
    base_delay: float = attrs.field(default=0.25, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=20.0, validator=attrs.validators.ge(0))


class _DeadlineOrAttempts:
    """tenacity stop: the attempt limit (except for role propagation), or our own clock's deadline.

    tenacity's ``stop_after_delay`` reads ``time.monotonic`` itself, which a virtual clock cannot move; this
    stop reads the injected clock instead, and stops before a sleep that would overrun the deadline.
    """

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float], started: float) -> None:
        self._policy = policy
        self._clock = clock
        self._started = started

    def __call__(self, state: tenacity.RetryCallState) -> bool:
        elapsed = self._clock() - self._started
        if elapsed + (state.upcoming_sleep or 0.0) > self._policy.deadline:
            return True
        error = state.outcome.exception() if state.outcome is not None else None
        if error is not None and is_role_propagation_error(error):
            return False
        return state.attempt_number >= self._policy.max_attempts


class _FullJitter:
    """tenacity wait: the n-th retry sleeps uniformly in ``[0, min(max_delay, base_delay * 2 ** (n - 1))]``.

    tenacity's ``wait_random_exponential`` does the same but draws from the global :mod:`random` module;
    this one draws from pipepilot's random source, which :func:`pipepilot.local.offline` seeds.
    """

    def __init__(self, policy: RetryPolicy, rng: _time.RandomSource) -> None:
        self._policy = policy
        self._rng = rng

    def __call__(self, state: tenacity.RetryCallState) -> float:
        # The exponent is bounded so a long run of retries never overflows a float.
        window = self._policy.base_delay * 2.0 ** min(max(state.attempt_number - 1, 0), 64)
        return self._rng.random() * min(window, self._policy.max_delay)


def retrying(
    attempt: Callable[[], T],
    *,
    api_name: str,
    policy: RetryPolicy,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    rng: _time.RandomSource,
    should_retry: Callable[[BaseException], bool],
) -> T:
    """Run ``attempt`` until it succeeds, ``should_retry`` refuses its error, or ``policy`` says stop;
    back-off jitter comes from ``rng``."""
    loop = tenacity.Retrying(
        stop=_DeadlineOrAttempts(policy, clock, clock()),
        wait=_FullJitter(policy, rng),
        retry=tenacity.retry_if_exception(should_retry),
        sleep=sleep,
        before_sleep=lambda state: _log_retry(api_name, policy, state),
        reraise=True,
    )
    return loop(attempt)


def _log_retry(api_name: str, policy: RetryPolicy, state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    code = getattr(error, "code", None) or type(error).__name__
    # IAM propagation is retried past the attempt limit (see _DeadlineOrAttempts): say what bounds it.
    if error is not None and is_role_propagation_error(error):
        bound = f"until {policy.deadline:g}s have passed"
    else:
        bound = f"{policy.max_attempts} attempts"
    logger.warning(
        "%s failed with %s (attempt %d, policy allows %s); retrying in %.2fs",
        api_name,
        code,
        state.attempt_number,
        bound,
        state.upcoming_sleep,
    )
