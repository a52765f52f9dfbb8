"""The one seam through which pipepilot talks to AWS: client creation, error translation, retries, paging.

No other pipepilot module imports boto3 or calls a client directly. boto3 itself is imported lazily (when
the first client is made), so ``import pipepilot`` does not pay for it. :class:`ClientSettings` is what a
facade builds its clients from and retries with; a :class:`Caller` keeps the settings it was made with, so
a handle can reach another service (a pipeline action's CodeBuild build) configured the same way.

Sessions and the first client
-----------------------------
A facade given no ``session`` creates its clients from boto3's default session (:func:`default_session`),
as ``boto3.client()`` does: one botocore session per process, so credentials are resolved once and a
further facade's client costs milliseconds. Model files are read through one data loader
(:func:`shared_loader`), shared by clients, local validation and paging. Creating a client loads neither
attrs nor tenacity: :class:`RetryPolicy` and the retry loop live in :mod:`pipepilot._retry`, imported by
the first call. Settings botocore cannot do without (a region, an existing profile) are checked when the
client is created, credentials when a request is signed; either way the error is a
:class:`~pipepilot.errors.ConfigurationError` that says what to set.

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

from botocore import exceptions as botocore_exceptions

from pipepilot import _time
from pipepilot.errors import (
    ConnectionFailure,
    InvalidStructureError,
    ThrottlingError,
    TransientError,
    translate_settings_error,
    translating,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    import boto3
    from botocore.client import BaseClient
    from botocore.config import Config

    from pipepilot._retry import RetryPolicy

__all__ = [
    "IDEMPOTENCY_TOKENS",
    "Caller",
    "ClientSettings",
    "RetryPolicy",
    "client_max_attempts",
    "default_session",
    "is_role_propagation_error",
    "make_client",
    "may_have_acted",
    "new_session",
    "shared_loader",
]

logger = logging.getLogger(__name__)


def __getattr__(name: str) -> Any:
    # RetryPolicy lives in pipepilot._retry (attrs and tenacity load with it, at the first call); it is
    # still importable from here, where it always was.
    if name == "RetryPolicy":
        from pipepilot._retry import RetryPolicy

        return RetryPolicy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


class ClientSettings:
    """What a facade creates its boto3 clients from, and how it retries and waits (immutable).

    ``session`` (default: the process's shared session, see :func:`default_session`), ``region_name`` and
    ``config`` build clients that were not injected; ``retry`` is the :class:`RetryPolicy` (``None``: the
    default policy, built on first use); ``clock`` (monotonic seconds) and ``sleep`` default to
    pipepilot's time source, looked up at each call. The CodePipeline and CodeBuild facades share one of
    these when one is reached through the other.

    A plain class rather than attrs: a facade is made before its first client, and creating a client must
    not load attrs (see ``benchmarks/bench_first_client.py``).
    """

    __slots__ = ("_retry", "clock", "config", "region_name", "session", "sleep")

    session: boto3.session.Session | None
    region_name: str | None
    config: Config | None
    _retry: RetryPolicy | None
    clock: Callable[[], float] | None
    sleep: Callable[[float], None] | None

    def __init__(
        self,
        *,
        session: boto3.session.Session | None = None,
        region_name: str | None = None,
        config: Config | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        set_field = object.__setattr__
        set_field(self, "session", session)
        set_field(self, "region_name", region_name)
        set_field(self, "config", config)
        set_field(self, "_retry", retry)
        set_field(self, "clock", clock)
        set_field(self, "sleep", sleep)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ClientSettings is immutable; use replace() to change {name}")

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _SETTINGS_FIELDS)
        return f"ClientSettings({fields})"

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy (the default one when none was given)."""
        retry = self._retry
        if retry is None:
            from pipepilot._retry import RetryPolicy

            retry = RetryPolicy()
            object.__setattr__(self, "_retry", retry)  # equal whichever thread stores it
        return retry

    @property
    def retry_if_given(self) -> RetryPolicy | None:
        """The retry policy these settings were given, or ``None`` for the default (never builds one)."""
        return self._retry

    def replace(self, **changes: Any) -> ClientSettings:
        """A copy with ``changes`` (keyword per field) applied."""
        fields = {name: getattr(self, "_retry" if name == "retry" else name) for name in _SETTINGS_FIELDS}
        fields.update(changes)
        return ClientSettings(**fields)

    def caller(self, service: str, client: Any = None) -> Caller[Any]:
        """A :class:`Caller` of ``client``, or of a ``service`` client created from these settings on first use."""

        def create_client() -> Any:
            return make_client(
                service, session=self.session, region_name=self.region_name, config=self.config
            )

        return Caller(client, client_factory=create_client, settings=self)


_SETTINGS_FIELDS = ("session", "region_name", "config", "retry", "clock", "sleep")

# botocore sessions are not safe to create clients from in several threads at once (their components are
# built lazily, and credentials are resolved on first use); every client pipepilot creates, and the shared
# session itself, are made under this lock. Client creation is rare and takes milliseconds.
_session_lock = threading.RLock()
_loader: Any = None


def shared_loader(data_path: str | None = None) -> Any:
    """The process's botocore data loader: each service model file is read and parsed once per process.

    Sessions pipepilot creates use it, and so does local validation (:mod:`pipepilot._shapes`) and
    paging, so the CodePipeline model that validates a declaration is the one its client was built from.
    ``data_path`` (botocore's ``AWS_DATA_PATH`` setting, extra model folders) applies when the loader is
    created by this call.
    """
    global _loader
    with _session_lock:
        if _loader is None:
            import botocore.loaders

            _loader = botocore.loaders.create_loader(data_path)
        return _loader


# botocore's built-in handlers, registered once per process on an emitter that no session uses: each new
# session gets a copy of it (see _builtin_hooks). Keyed by the handler list it was built from.
_builtin_emitter: tuple[tuple[Any, ...], Any] | None = None


def _builtin_hooks() -> Any:
    """A new event emitter carrying botocore's built-in handlers, as ``botocore.session.Session()`` has.

    Registering them is most of what a botocore session costs (~20 ms: each of ~260 handlers has its
    signature inspected); copying an emitter that already has them costs a tenth of that, and is how botocore
    itself gives every client its own emitter. The copy has its own handler lists: what a session or its
    clients register later never reaches the template or another session. The handlers themselves are the
    module-level objects of ``botocore.handlers.BUILTIN_HANDLERS``, shared by every session anyway. The
    template is rebuilt whenever that list changes (moto, when imported, and pipepilot.local's router edit
    it), so a session always carries the handlers a plain ``botocore.session.Session()`` would.
    """
    global _builtin_emitter
    import copy

    import botocore.handlers
    from botocore.hooks import EventAliaser, HierarchicalEmitter

    specs = tuple(botocore.handlers.BUILTIN_HANDLERS)
    with _session_lock:
        if _builtin_emitter is None or _builtin_emitter[0] != specs:
            emitter = HierarchicalEmitter()
            # What botocore.session.Session._register_builtin_handlers does, through the same aliasing.
            events = EventAliaser(emitter)
            for event_name, handler, *where in specs:
                if not where:
                    events.register(event_name, handler)
                elif where[0] is botocore.handlers.REGISTER_FIRST:
                    events.register_first(event_name, handler)
                elif where[0] is botocore.handlers.REGISTER_LAST:
                    events.register_last(event_name, handler)
            _builtin_emitter = (specs, emitter)
        return copy.copy(_builtin_emitter[1])


def new_session(
    *,
    region_name: str | None = None,
    fallback_region: str | None = None,
    credentials: tuple[str, str] | None = None,
) -> boto3.session.Session:
    """A new boto3 session sharing the process's data loader (see :func:`shared_loader`).

    Everything else about it is new, as with ``boto3.session.Session()``: its credentials, region, config
    store, components and event emitter (a copy of botocore's built-in handlers made once per process, so a
    session costs a few milliseconds rather than twenty; handlers registered on it stay its own). ``fallback_region`` is the region
    of clients for which neither the call, the environment (``AWS_REGION``, ``AWS_DEFAULT_REGION``) nor the
    config file names one; unlike ``region_name`` it never overrides them. ``credentials`` (access key id,
    secret key) replace botocore's credential chain: no profile, file or metadata service is consulted.
    """
    import boto3.session
    import botocore.configprovider
    import botocore.session

    core = botocore.session.Session(event_hooks=_builtin_hooks(), include_builtin_handlers=False)
    loader = shared_loader(core.get_config_variable("data_path"))
    core.register_component("data_loader", loader)
    if fallback_region is not None:
        # Last in botocore's own chain, which is read per client: an AWS_DEFAULT_REGION set later wins too.
        store = core.get_component("config_store")
        store.set_config_provider(
            "region",
            botocore.configprovider.ChainProvider(
                providers=[
                    store.get_config_provider("region"),
                    botocore.configprovider.ConstantProvider(fallback_region),
                ]
            ),
        )
    if credentials is not None:
        core.set_credentials(*credentials)
    session = boto3.session.Session(botocore_session=core, region_name=region_name)
    # Each boto3 session appends boto3's own model folder to its loader's search path; on a shared loader
    # that would grow by one entry per session (an offline context makes one each time).
    with _session_lock:
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return session


def default_session() -> boto3.session.Session:
    """The session facades create clients from when given none: boto3's default session.

    That is the session ``boto3.client(...)`` uses, so ``boto3.setup_default_session(profile_name=...)``
    applies to pipepilot too, and every facade in a process shares one botocore session: its credentials
    are resolved once and each service model is loaded once. It is created here (sharing
    :func:`shared_loader`) when boto3 has none yet. Inside :func:`pipepilot.local.offline` boto3's
    default session is the offline world's (its region, dummy credentials); the context puts the previous
    one back when it ends, so no client made afterwards inherits the offline world. Safe to call from
    several threads: only one session is ever created.
    """
    import boto3

    with _session_lock:
        session = boto3.DEFAULT_SESSION
        if session is None:
            session = boto3.DEFAULT_SESSION = new_session()
        return session


def make_client(
    service: str,
    *,
    session: boto3.session.Session | None = None,
    region_name: str | None = None,
    config: Config | None = None,
    credentials: tuple[str, str, str | None] | None = None,
) -> Any:
    """A boto3 client for ``service`` whose botocore retries are off, so that pipepilot owns them.

    ``session`` defaults to :func:`default_session`. ``config`` is merged over pipepilot's; if it sets
    ``retries`` itself, that wins and pipepilot then adds no transient retries (see the module docstring).
    ``credentials`` (access key id, secret key, session token) sign this client's requests instead of the
    session's: a job's temporary credentials for the artifact store, say.

    Raises:
        RegionNotSetError: neither ``region_name``, the session, the environment nor the config file
            names a region.
        ProfileNotFoundError: the profile named (``AWS_PROFILE`` or the session's) does not exist.
    """
    from botocore.config import Config

    from pipepilot import __version__

    ours = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        user_agent_extra=f"pipepilot/{__version__}",
    )
    merged = ours if config is None else ours.merge(config)
    try:
        with _session_lock:
            session = session if session is not None else default_session()
            logger.debug("creating a %s client (region %s)", service, region_name or session.region_name)
            keys: dict[str, Any] = {}
            if credentials is not None:
                keys = dict(
                    zip(
                        ("aws_access_key_id", "aws_secret_access_key", "aws_session_token"),
                        credentials,
                        strict=True,
                    )
                )
            return session.client(service, region_name=region_name, config=merged, **keys)  # type: ignore[call-overload]
    except botocore_exceptions.BotoCoreError as exc:
        mapped = translate_settings_error(exc, f"cannot create a {service} client")
        if mapped is None:
            raise
        raise mapped from exc


def client_max_attempts(client: BaseClient) -> int:
    """How many attempts botocore itself makes per request with this client (1 = it does not retry)."""
    # botocore resolves the mode and attempt count into ``config.retries`` when it builds the client.
    retries: Mapping[str, Any] = getattr(client.meta.config, "retries", None) or {}
    total = retries.get("total_max_attempts")
    if total is not None:
        return max(1, int(total))
    return _DEFAULT_ATTEMPTS_BY_MODE.get(str(retries.get("mode", "standard")), 3)


def _is_stream(value: object) -> bool:
    """Whether ``value`` is a seekable file-like object (a request body to rewind before each attempt)."""
    return all(callable(getattr(value, name, None)) for name in ("read", "seek", "tell"))


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


class Caller(Generic[ClientT]):
    """Calls one boto3 client: translates errors, retries what is safe to retry, and pages.

    ``client`` is used as given; without it ``client_factory`` builds one on first use (never before).
    ``settings`` are the facade's (:class:`ClientSettings`); ``retry``, ``clock`` and ``sleep``, when
    given, override theirs. ``clock`` and ``sleep`` default to :attr:`time`, the time source serving the
    client (the engine's virtual clock for a client :func:`pipepilot.local.offline` serves).
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
        if retry is not None or clock is not None or sleep is not None:
            settings = settings.replace(
                retry=retry if retry is not None else settings.retry_if_given,
                clock=clock if clock is not None else settings.clock,
                sleep=sleep if sleep is not None else settings.sleep,
            )
        self.settings = settings
        self._client = client
        self._client_factory = client_factory
        self._client_lock = threading.Lock()
        self._client_attempts: int | None = None
        self._paginator_models: dict[str, Any] = {}
        self._secret_members: dict[str, tuple[str, ...]] = {}
        self._companions: dict[str, Any] = {}
        #: The time source serving the client, resolved at each use (see :func:`pipepilot._time.time_source_for`).
        self.time: _time.TimeSource = _time.ClientTime(lambda: self.client)

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of every call."""
        return self.settings.retry

    @property
    def clock(self) -> Callable[[], float] | None:
        """The injected clock (monotonic seconds), or ``None`` for :attr:`time`."""
        return self.settings.clock

    @property
    def sleep(self) -> Callable[[float], None] | None:
        """The injected sleep, or ``None`` for :attr:`time`."""
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
                settings = settings.replace(region_name=self.client.meta.region_name)
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
            params[token_name] = _time.new_uuid(self.time)
        api_name: str = client.meta.method_to_api_mapping.get(operation, operation)
        method = getattr(client, operation)
        secrets = self._secret_values(client, api_name, params)
        iam_prefix = client.meta.service_model.signing_name
        source = self.time
        clock = self.clock or source.monotonic
        transient_retries = not self.client_retries_itself
        role_retries = operation in _ROLE_PROPAGATION_OPERATIONS

        def should_retry(error: BaseException) -> bool:
            if role_retries and is_role_propagation_error(error):
                return True
            if not transient_retries or not isinstance(error, TransientError):
                return False
            return idempotent or _not_acted_on(error)

        # A file given as a parameter (an S3 upload's Body) is read by each attempt: every retry starts it
        # again from where it started, or it would send what is left after the failed attempt (nothing).
        streams = [(value, value.tell()) for value in params.values() if _is_stream(value)]

        def attempt() -> dict[str, Any]:
            for stream, start in streams:
                stream.seek(start)
            logger.debug("calling %s", api_name)
            with translating(api_name, conceal=secrets, service=iam_prefix):
                response: dict[str, Any] = method(**params)
            return response

        from pipepilot._retry import retrying

        return retrying(
            attempt,
            api_name=api_name,
            policy=self.retry,
            clock=clock,
            sleep=self.sleep or source.sleep,
            rng=_time.current_random(source),
            should_retry=should_retry,
        )

    def _secret_values(self, client: BaseClient, api_name: str, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The values of the request's secret parameters, by botocore's model of the operation's input."""
        names = self._secret_members.get(api_name)
        if names is None:
            from pipepilot._shapes import is_secret_shape

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
        # The token names live in botocore's paginator model, read (once per caller) through the process's
        # data loader, which has it cached after the first caller; our own retrying method fetches each page.
        service_model = client.meta.service_model
        model = self._paginator_models.get(service_model.service_name)
        if model is None:
            from botocore.paginate import PaginatorModel

            config = shared_loader().load_service_model(
                service_model.service_name, "paginators-1", service_model.api_version
            )
            model = PaginatorModel(config)
            self._paginator_models[service_model.service_name] = model
        return model.get_paginator(api_name)
