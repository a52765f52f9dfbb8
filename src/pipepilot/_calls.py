"""The one seam through which pipepilot talks to AWS: client creation, error translation, retries, paging.

No other pipepilot module imports boto3 or calls a client directly. boto3 itself is imported lazily (in
:func:`make_client`), so ``import pipepilot`` does not pay for it. :class:`ClientSettings` is what a
facade builds its clients from and retries with; a :class:`Caller` keeps the settings it was made with, so
a handle can reach another service (a pipeline action's CodeBuild build) configured the same way.

How retries are shared with botocore
------------------------------------
botocore can retry on its own, and so can pipepilot; if both did, attempts would multiply (3 botocore
attempts for each of 6 pipepilot attempts is 18 requests). So exactly one layer owns *transient* retries
(throttling, 5xx, dropped connections) for any given client:

* Clients pipepilot creates (:func:`make_client`) are configured with botocore's
  ``retries={"total_max_attempts": 1}``: botocore sends each request once and pipepilot's
  :class:`RetryPolicy` owns transient retries. Its back-off sleeps on pipepilot's time source, so inside
  :func:`pipepilot.local.offline` it runs on the virtual clock instead of blocking.
* An injected client keeps whatever its configuration says. If it retries on its own (botocore's default
  is 3 attempts in ``standard`` mode, 5 in ``legacy`` mode), pipepilot adds no transient retries on top:
  the caller gets exactly the client's own number of attempts. An injected client configured with
  ``total_max_attempts=1`` is treated like one pipepilot created.

*Semantic* retries are pipepilot's alone, whatever the client: botocore does not know them. Today there is
one: creating (or updating) a pipeline whose service role was created moments ago fails with
``InvalidStructureException`` ("CodePipeline is not authorized to perform AssumeRole on role ...") until
IAM has propagated the role; a failed create created nothing, so it is retried until the policy's deadline.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import attrs
import tenacity
from botocore import exceptions as botocore_exceptions

from pipepilot import _time
from pipepilot.errors import (
    ConnectionFailure,
    InvalidStructureError,
    ThrottlingError,
    TransientError,
    translating,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    import boto3
    from botocore.client import BaseClient
    from botocore.config import Config

__all__ = [
    "IDEMPOTENCY_TOKENS",
    "Caller",
    "ClientSettings",
    "RetryPolicy",
    "client_max_attempts",
    "is_role_propagation_error",
    "make_client",
    "may_have_acted",
]

logger = logging.getLogger(__name__)

ClientT = TypeVar("ClientT", bound="BaseClient")
T = TypeVar("T")

#: botocore's total attempts per retry mode when the configuration does not say (botocore 1.44: standard
#: and adaptive make 3 attempts, legacy 5).
_DEFAULT_ATTEMPTS_BY_MODE = {"standard": 3, "adaptive": 3, "legacy": 5}

#: Operations made idempotent by a token: pipepilot generates the token once per call (botocore would
#: generate a fresh one per attempt, or none at all) and sends the same one on every retry, so AWS can
#: recognise a retry of a request it already acted on.
IDEMPOTENCY_TOKENS: Mapping[str, str] = {
    "start_pipeline_execution": "clientRequestToken",
    "start_build": "idempotencyToken",
    "retry_build": "idempotencyToken",
    "start_build_batch": "idempotencyToken",
    "retry_build_batch": "idempotencyToken",
}

#: Operations that may hit IAM's propagation delay for a newly created service role, and that change
#: nothing when they fail with it.
_ROLE_PROPAGATION_OPERATIONS = frozenset({"create_pipeline", "update_pipeline"})

# Connection errors raised before the request reached AWS: the request was certainly not acted on, so even
# a write that is not idempotent may be sent again. (A read timeout or a dropped connection may come after
# AWS acted, so those are retried only for idempotent calls.)
_NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    botocore_exceptions.EndpointConnectionError,
    botocore_exceptions.ConnectTimeoutError,
)


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


@attrs.frozen(kw_only=True)
class ClientSettings:
    """What a facade creates its boto3 clients from, and how it retries and waits.

    ``session`` (default: a new ``boto3.session.Session()`` per client), ``region_name`` and ``config``
    build clients that were not injected; ``retry`` is the :class:`RetryPolicy`; ``clock`` (monotonic
    seconds) and ``sleep`` default to pipepilot's time source, looked up at each call. The CodePipeline
    and CodeBuild facades share one of these when one is reached through the other.
    """

    session: boto3.session.Session | None = None
    region_name: str | None = None
    config: Config | None = None
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    clock: Callable[[], float] | None = None
    sleep: Callable[[float], None] | None = None

    def caller(self, service: str, client: Any = None) -> Caller[Any]:
        """A :class:`Caller` of ``client``, or of a ``service`` client created from these settings on first use."""

        def create_client() -> Any:
            return make_client(
                service, session=self.session, region_name=self.region_name, config=self.config
            )

        return Caller(client, client_factory=create_client, settings=self)


def make_client(
    service: str,
    *,
    session: boto3.session.Session | None = None,
    region_name: str | None = None,
    config: Config | None = None,
) -> Any:
    """A boto3 client for ``service`` whose botocore retries are off, so that pipepilot owns them.

    ``config`` is merged over pipepilot's; if it sets ``retries`` itself, that wins and pipepilot then
    adds no transient retries (see the module docstring).
    """
    # Imported here, not at module level: boto3 is the expensive part of ``import pipepilot``'s cost.
    import boto3.session
    from botocore.config import Config

    from pipepilot import __version__

    ours = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        user_agent_extra=f"pipepilot/{__version__}",
    )
    merged = ours if config is None else ours.merge(config)
    session = session if session is not None else boto3.session.Session()
    logger.debug("creating a %s client (region %s)", service, region_name or session.region_name)
    return session.client(service, region_name=region_name, config=merged)  # type: ignore[call-overload]


def client_max_attempts(client: BaseClient) -> int:
    """How many attempts botocore itself makes per request with this client (1 = it does not retry)."""
    # botocore resolves the mode and attempt count into ``config.retries`` when it builds the client.
    retries: Mapping[str, Any] = getattr(client.meta.config, "retries", None) or {}
    total = retries.get("total_max_attempts")
    if total is not None:
        return max(1, int(total))
    return _DEFAULT_ATTEMPTS_BY_MODE.get(str(retries.get("mode", "standard")), 3)


def is_role_propagation_error(error: BaseException) -> bool:
    """Whether ``error`` is CodePipeline refusing a service role that IAM may not have propagated yet."""
    return isinstance(error, InvalidStructureError) and "not authorized to perform assumerole" in (
        (error.message or "").lower()
    )


def _not_acted_on(error: BaseException) -> bool:
    """Whether ``error`` proves AWS did not act on the request (safe to resend any request)."""
    if isinstance(error, ThrottlingError):
        return True
    return isinstance(error, ConnectionFailure) and isinstance(error.__cause__, _NOT_SENT_ERRORS)


def may_have_acted(error: BaseException) -> bool:
    """Whether ``error`` leaves open that AWS acted on the request (a 5xx, a dropped connection, a read
    timeout): a write that failed so must be checked against the state before it is sent again."""
    return isinstance(error, TransientError) and not _not_acted_on(error)


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


class Caller(Generic[ClientT]):
    """Calls one boto3 client: translates errors, retries what is safe to retry, and pages.

    ``client`` is used as given; without it ``client_factory`` builds one on first use (never before).
    ``settings`` are the facade's (:class:`ClientSettings`); ``retry``, ``clock`` and ``sleep``, when
    given, override theirs. ``clock`` and ``sleep`` default to pipepilot's current time source, looked
    up at each call.
    """

    def __init__(
        self,
        client: ClientT | None = None,
        *,
        client_factory: Callable[[], ClientT] | None = None,
        settings: ClientSettings | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if client is None and client_factory is None:
            raise TypeError("Caller needs a client or a client_factory")
        settings = settings if settings is not None else ClientSettings()
        self.settings = attrs.evolve(
            settings,
            retry=retry if retry is not None else settings.retry,
            clock=clock if clock is not None else settings.clock,
            sleep=sleep if sleep is not None else settings.sleep,
        )
        self._client = client
        self._client_factory = client_factory
        self._client_lock = threading.Lock()
        self._client_attempts: int | None = None
        self._paginator_models: dict[str, Any] = {}
        self._secret_members: dict[str, tuple[str, ...]] = {}
        self._companions: dict[str, Any] = {}

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of every call."""
        return self.settings.retry

    @property
    def clock(self) -> Callable[[], float] | None:
        """The injected clock (monotonic seconds), or ``None`` for pipepilot's time source."""
        return self.settings.clock

    @property
    def sleep(self) -> Callable[[float], None] | None:
        """The injected sleep, or ``None`` for pipepilot's time source."""
        return self.settings.sleep

    @property
    def client(self) -> ClientT:
        """The boto3 client (created on first use when it was not injected)."""
        if self._client is None:
            # Worker threads (fleet operations) may race to the first call; only one builds the client.
            with self._client_lock:
                if self._client is None:
                    assert self._client_factory is not None  # checked in __init__
                    self._client = self._client_factory()
        return self._client

    @property
    def client_if_created(self) -> ClientT | None:
        """The client if it exists already, else ``None`` (never creates one)."""
        return self._client

    def companion(self, name: str, build: Callable[[ClientSettings], T]) -> T:
        """The object ``name``, built once per caller by ``build`` from settings like this caller's.

        This is how handles holding only a caller reach another service configured the same way (same
        session, retry policy, clock and sleep), in the same region as this caller's client: the
        CodeBuild facade behind a pipeline's actions is built once and shared by every handle.
        """
        companion = self._companions.get(name)
        if companion is None:
            settings = self.settings
            if settings.region_name is None:
                # The client may have been injected, or built in the session's region: follow it.
                settings = attrs.evolve(settings, region_name=self.client.meta.region_name)
            with self._client_lock:
                companion = self._companions.get(name)
                if companion is None:
                    companion = self._companions[name] = build(settings)
        result: T = companion
        return result

    @property
    def client_retries_itself(self) -> bool:
        """Whether botocore retries transient errors for this client (then pipepilot does not)."""
        if self._client_attempts is None:
            self._client_attempts = client_max_attempts(self.client)
        return self._client_attempts > 1

    def call(self, operation: str, *, idempotent: bool, **params: Any) -> dict[str, Any]:
        """Call ``operation`` (boto3's Python name, e.g. ``"get_pipeline"``) and return its response.

        ``idempotent`` says whether sending the request twice is harmless (reads, and writes that carry an
        idempotency token, which this method fills in once for the operations in ``IDEMPOTENCY_TOKENS``).
        Errors are raised as :mod:`pipepilot.errors` classes with the ``ClientError`` as ``__cause__``.
        Parameters are never logged: some carry secrets (approval tokens, job nonces), and if AWS quotes
        one back in an error, the raised error shows ``***`` instead (see :func:`~pipepilot.errors.translating`).
        """
        client = self.client
        token_name = IDEMPOTENCY_TOKENS.get(operation)
        if token_name is not None and not params.get(token_name):
            params[token_name] = _time.new_uuid()
        api_name: str = client.meta.method_to_api_mapping.get(operation, operation)
        method = getattr(client, operation)
        secrets = self._secret_values(client, api_name, params)
        source = _time.current_time_source()
        clock = self.clock or source.monotonic
        transient_retries = not self.client_retries_itself
        role_retries = operation in _ROLE_PROPAGATION_OPERATIONS

        def should_retry(error: BaseException) -> bool:
            if role_retries and is_role_propagation_error(error):
                return True
            if not transient_retries or not isinstance(error, TransientError):
                return False
            return idempotent or _not_acted_on(error)

        def attempt() -> dict[str, Any]:
            logger.debug("calling %s", api_name)
            with translating(api_name, conceal=secrets):
                response: dict[str, Any] = method(**params)
            return response

        retrying = tenacity.Retrying(
            stop=_DeadlineOrAttempts(self.retry, clock, clock()),
            wait=_FullJitter(self.retry, _time.current_random()),
            retry=tenacity.retry_if_exception(should_retry),
            sleep=self.sleep or source.sleep,
            before_sleep=lambda state: _log_retry(api_name, self.retry, state),
            reraise=True,
        )
        return retrying(attempt)

    def _secret_values(self, client: BaseClient, api_name: str, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The values of the request's secret parameters, by botocore's model of the operation's input."""
        names = self._secret_members.get(api_name)
        if names is None:
            from pipepilot.model._shapes import is_secret_shape

            input_shape = client.meta.service_model.operation_model(api_name).input_shape
            members = input_shape.members if input_shape is not None else {}
            names = tuple(name for name, shape in members.items() if is_secret_shape(shape))
            self._secret_members[api_name] = names
        return tuple(value for name in names if isinstance(value := params.get(name), str) and value)

    def paginate(self, operation: str, result_key: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Yield the items under ``result_key`` from every page of ``operation``, fetching pages lazily.

        Pages come from botocore's paginator for the operation; each page is one :meth:`call` (a read),
        so a throttled page is retried on its own instead of restarting the listing.
        """
        from botocore.paginate import Paginator

        client = self.client
        api_name = client.meta.method_to_api_mapping.get(operation, operation)
        config = self._paginator_config(client, api_name)
        operation_model = client.meta.service_model.operation_model(api_name)

        def fetch_page(**kwargs: Any) -> dict[str, Any]:
            return self.call(operation, idempotent=True, **kwargs)

        # botocore's stubs type ``method`` as a str; at run time it is the callable each page is fetched with.
        paginator: Paginator[dict[str, Any]] = Paginator(cast("str", fetch_page), config, operation_model)
        pages = paginator.paginate(**params)
        for page in pages:
            yield from page.get(result_key) or ()

    def _paginator_config(self, client: BaseClient, api_name: str) -> Any:
        # The token names live in botocore's paginator model. Reading it through a botocore session's
        # public loader (once per caller) lets our own retrying method fetch each page.
        service_model = client.meta.service_model
        model = self._paginator_models.get(service_model.service_name)
        if model is None:
            import botocore.session

            model = botocore.session.Session().get_paginator_model(
                service_model.service_name, service_model.api_version
            )
            self._paginator_models[service_model.service_name] = model
        return model.get_paginator(api_name)


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
