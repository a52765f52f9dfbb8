"""Writes that must take effect at most once: when an answer is lost, read the state back before resending.

A 5xx, a dropped connection or a read timeout can come *after* AWS applied a request. For a write that is
not idempotent (retrying a stage twice reruns it twice), and for one whose resend would overwrite a change
someone else made in between (disabling a transition replaces its reason, author and time), the answer to
"was it applied?" has to come from the state, not from the error. :func:`send_checked` sends the write
through the caller (whose retry policy still resends what AWS certainly did not act on: throttling, a
connection never made), and on an error that leaves the question open it asks a *confirmation* (a read of
the state written for that operation) and acts on the verdict:

* ``True``, applied: done; the answer was lost, the effect is there. Nothing is sent again.
* ``False``, certainly not applied: sent again under the caller's :class:`~pipepilot._calls.RetryPolicy`
  (the same attempt limit, deadline and jittered back-off as any retry), unless the client retries by
  itself (then botocore already did, and pipepilot adds nothing).
* ``None``, cannot tell (the read failed, or the state is ambiguous): the original error is raised.

After a resend, any error (a refusal as much as another lost answer) is checked the same way: AWS may have
applied the earlier attempt after all, and refuses the repeat because of it (``StageNotRetryableException``
for a stage already being retried).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pipepilot import _time
from pipepilot._calls import may_have_acted
from pipepilot.errors import PipepilotError

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipepilot._calls import Caller

__all__ = ["send_checked"]

logger = logging.getLogger(__name__)


def _verdict(confirm: Callable[[], bool | None], doing: str) -> bool | None:
    try:
        return confirm()
    except PipepilotError as error:
        logger.warning("could not read back whether %s took effect: %s", doing, error)
        return None


def send_checked(
    caller: Caller[Any],
    operation: str,
    *,
    confirm: Callable[[], bool | None],
    doing: str,
    **params: Any,
) -> dict[str, Any] | None:
    """Send the write ``operation`` so that it takes effect at most once (see the module docstring).

    Returns AWS's response, or ``None`` when the write took effect but its answer was lost (confirmed by
    ``confirm``). ``doing`` names the write in log messages (never its parameters).

    Raises:
        PipepilotError: the write failed and ``confirm`` could not show it took effect: the last error
            (an error that may have been applied is raised only when ``confirm`` could not tell, or when
            the retry policy ran out while it said "not applied").
    """
    policy = caller.retry
    source = caller.time
    clock = caller.clock or source.monotonic
    sleep = caller.sleep or source.sleep
    started = clock()
    attempt = 0
    # A client that retries by itself may have resent the write already (botocore resends writes too):
    # then even its first refusal may be the answer to a repeat of an applied request.
    resent = caller.client_retries_itself
    while True:
        attempt += 1
        try:
            return caller.call(operation, idempotent=False, **params)
        except PipepilotError as error:
            ambiguous = may_have_acted(error)
            if not ambiguous and not resent:
                raise  # AWS answered, or certainly never saw the request: the error is the truth
            verdict = _verdict(confirm, doing)
            if verdict:
                logger.info(
                    "%s took effect although it failed with %s (read back)",
                    doing,
                    error.code or type(error).__name__,
                )
                return None
            if verdict is None or not ambiguous or caller.client_retries_itself:
                raise
            # Certainly not applied: a resend cannot double the effect. Same bounds as any retry.
            window = policy.base_delay * 2.0 ** min(attempt - 1, 64)
            delay = _time.current_random(source).random() * min(window, policy.max_delay)
            if attempt >= policy.max_attempts or clock() - started + delay > policy.deadline:
                raise
            logger.warning(
                "%s failed with %s and was not applied (read back; attempt %d, policy allows %d); "
                "sending it again in %.2fs",
                doing,
                error.code or type(error).__name__,
                attempt,
                policy.max_attempts,
                delay,
            )
            sleep(delay)
            resent = True
