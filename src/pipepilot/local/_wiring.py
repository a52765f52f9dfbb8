"""How real boto3 clients reach the offline engines: one botocore ``before-send`` handler.

botocore emits ``before-send`` right before it would put a signed request on the wire, calls *every*
handler registered for it, and uses the first response returned. moto plugs in there: it appends its
stubber to ``botocore.handlers.BUILTIN_HANDLERS`` when imported. Two handlers side by side would both act
on every request (moto would also create each project and raise ``NotImplementedError`` for operations it
lacks), so :func:`install` *replaces* moto's entry with :data:`ROUTER`, which calls moto's stubber itself
when moto should answer. While an :func:`pipepilot.local.offline` context is active:

* the fault plan sees every request first, whichever service it is for;
* requests with ``X-Amz-Target: CodePipeline_20150709.<Op>`` or ``CodeBuild_20161006.<Op>`` are answered
  by the World's engines: JSON 1.1 body, ``x-amzn-RequestId`` header, and for a
  :class:`~pipepilot.local._errors.ServiceError` AWS's error envelope ``{"__type", "message"}`` with its
  HTTP status, so botocore raises an ordinary ``ClientError``. An operation the engines do not emulate gets
  ``UnknownOperationException``, never moto's answer: moto keeps pipelines and projects of its own, and two
  sources of truth would disagree (see :func:`pipepilot.local.coverage_table`);
* every other request goes to moto (IAM, S3, SNS, CloudWatch Logs, EventBridge, ...).

Requests addressed to an endpoint that :mod:`pipepilot.local.server` serves from this process
(:meth:`Router.serve_endpoint`) pass through untouched: they go out on the wire to the server, which hands
them back to the router as if they came from another process.

Outside a context the router hands every request to moto's stubber, which answers only while a plain
``moto.mock_aws()`` is active: moto alone keeps working as before.

The router also answers ``pipepilot-time-source`` (:meth:`Router.time_source`): that is how pipepilot's
waits and retries find the virtual clock, through the client they call, in whichever thread.

Sessions created after :func:`install` carry the router; ``boto3.client(...)`` inside a context is always
one of them, because moto resets boto3's default session when it starts. A client built earlier, after
moto was imported, carries moto's stubber instead: while a context is active, :func:`route_moto_stubber`
makes that stubber hand requests to the router, so such clients are served the same way (a request is
routed once, even by a client that carries both). Only a client built before moto was ever imported
carries neither; :func:`patch_client` gives it the router.

botocore sleeps between retries with ``time.sleep`` (``botocore.endpoint``). :func:`route_retry_sleeps`
points that one call at the virtual clock while a context is active, so a throttled plain boto3 client
backs off in virtual time; nothing else in botocore is touched, and the function it returns puts it back.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import botocore.endpoint
import botocore.handlers
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

from pipepilot._time import TIME_SOURCE_EVENT
from pipepilot.local._errors import ServiceError
from pipepilot.local.faults import CONNECTION, LOST_RESPONSE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from botocore.awsrequest import AWSPreparedRequest
    from botocore.client import BaseClient

    from pipepilot.local._world import World
    from pipepilot.local.clock import VirtualClock
    from pipepilot.local.faults import Fault, FaultPlan

__all__ = [
    "ENGINE_SERVICES",
    "ROUTER",
    "Router",
    "error_response",
    "install",
    "patch_client",
    "route_moto_stubber",
    "route_retry_sleeps",
]

logger = logging.getLogger(__name__)

# X-Amz-Target prefix -> the service whose engine answers it.
ENGINE_SERVICES: dict[str, str] = {"CodePipeline_20150709": "codepipeline", "CodeBuild_20161006": "codebuild"}
# botocore service ids (as in event names) whose boto3 client name differs; fault rules use client names.
_CLIENT_NAMES = {"cloudwatch-logs": "logs", "eventbridge": "events"}
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/([a-z0-9-]+)/")
_HOST_REGION = re.compile(r"^https?://[a-z0-9-]+\.([a-z0-9-]+)\.amazonaws\.com")
_UNIQUE_ID = "pipepilot.local.router"
# Marks a prepared request the router has seen (botocore builds a new request object per attempt).
_ROUTED = "_pipepilot_local_routed"
# moto's original BotocoreStubber.__call__, captured by install().
_MOTO_CALL: list[Callable[..., Any]] = []


class _RawBody(io.BytesIO):
    """The raw stream botocore reads a response body from."""

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        """Yield the unread rest of the body in one chunk, consuming it, as botocore reads a urllib3
        response's ``stream()``."""
        contents = self.read()
        while contents:
            yield contents
            contents = self.read()


def _json_default(value: object) -> object:
    """Encode a ``datetime`` in a response as epoch seconds, as AWS's JSON protocol does; anything else is a
    ``TypeError``."""
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot encode {type(value).__name__} in a JSON response")


def _response(url: str, status: int, body: dict[str, Any]) -> AWSResponse:
    """A botocore response with ``status`` and ``body`` as compact JSON 1.1 under a fresh request id."""
    payload = json.dumps(body, separators=(",", ":"), default=_json_default).encode()
    headers = {
        "x-amzn-RequestId": str(uuid.uuid4()),
        "Content-Type": "application/x-amz-json-1.1",
        "Content-Length": str(len(payload)),
    }
    return AWSResponse(url, status, headers, _RawBody(payload))  # type: ignore[arg-type]


def error_response(url: str, code: str, message: str, status: int) -> AWSResponse:
    """AWS's JSON 1.1 error envelope, which botocore turns into a ``ClientError``."""
    return _response(url, status, {"__type": code, "message": message})


def _region_of(request: AWSPreparedRequest, default: str) -> str:
    """The region ``request`` was signed for (its Authorization header's credential scope), else the one in
    its endpoint host, else ``default``."""
    authorization = request.headers.get("Authorization")
    if authorization:
        text = authorization.decode() if isinstance(authorization, bytes) else authorization
        match = _CREDENTIAL_SCOPE.search(text)
        if match:
            return match.group(1)
    match = _HOST_REGION.match(request.url or "")
    return match.group(1) if match else default


def _decode(body: object) -> dict[str, Any]:
    """The request body as a dict (empty when there is no body); ``ValueError`` when it is not a JSON
    object."""
    if body is None or body == b"" or body == "":
        return {}
    if hasattr(body, "read"):
        body = body.read()
    decoded = json.loads(body)  # type: ignore[arg-type]
    if not isinstance(decoded, dict):
        raise ValueError("the request body is not a JSON object")
    return decoded


class _Active:
    __slots__ = ("faults", "world")

    def __init__(self, world: World, faults: FaultPlan) -> None:
        self.world = world
        self.faults = faults


class Router:
    """The ``before-send`` handler: engines for CodePipeline/CodeBuild, fault plans for everything."""

    def __init__(self) -> None:
        self._active: _Active | None = None
        # moto's BotocoreStubber, which this router stands in for (set by install()).
        self.moto: Callable[..., AWSResponse | None] | None = None
        # Endpoints served over HTTP from this process, as (host names, port); replaced, never mutated, so
        # a request reads it without a lock.
        self._served: tuple[tuple[frozenset[str], int], ...] = ()

    def __repr__(self) -> str:
        return f"<pipepilot.local Router {'active' if self._active else 'idle'}>"

    @property
    def active(self) -> bool:
        """Whether an offline context is being served."""
        return self._active is not None

    def activate(self, world: World, faults: FaultPlan) -> None:
        """Serve requests from ``world`` (and inject ``faults``) until :meth:`deactivate`."""
        self._active = _Active(world, faults)

    def time_source(self, **_: Any) -> VirtualClock | None:
        """The ``pipepilot-time-source`` handler: the world's virtual clock while active, else ``None``.

        This is how the engine injects time: pipepilot asks a client's event system which time source
        serves it (:func:`pipepilot._time.time_source_for`), and a client the router serves answers with
        the clock of the world it is served from. Outside a context nothing answers: the system's time.
        """
        active = self._active
        return None if active is None else active.world.clock

    def deactivate(self) -> None:
        """Stop serving: every request passes through untouched again."""
        self._active = None

    def serve_endpoint(self, hosts: frozenset[str], port: int) -> Callable[[], None]:
        """Let requests to ``port`` on one of ``hosts`` (or a subdomain of one) pass through to the network.

        A local server (:mod:`pipepilot.local.server`) calls this for its own address: a client in the
        same process that is pointed at it (``endpoint_url=``) must really send its request, not be
        answered here. An empty ``hosts`` matches any host on ``port`` (a server listening on every
        interface). Returns the function that withdraws the endpoint.
        """
        entry = (frozenset(host.lower() for host in hosts), port)
        self._served = (*self._served, entry)

        def withdraw() -> None:
            """Answer requests to this endpoint here again."""
            served = list(self._served)
            if entry in served:
                served.remove(entry)
            self._served = tuple(served)

        return withdraw

    def _to_served_endpoint(self, url: str) -> bool:
        """Whether ``url`` points at an endpoint :meth:`serve_endpoint` registered."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return False
        host = (parts.hostname or "").lower()
        for hosts, served_port in self._served:
            if port == served_port and (
                not hosts or host in hosts or any(host.endswith("." + name) for name in hosts)
            ):
                return True
        return False

    def __call__(
        self, request: AWSPreparedRequest, event_name: str = "", **kwargs: Any
    ) -> AWSResponse | None:
        if getattr(request, _ROUTED, False):
            return None  # this client carries the router twice (itself and via moto's stubber)
        setattr(request, _ROUTED, True)
        if self._served and self._to_served_endpoint(request.url):
            return None  # for a local server of this process: it goes out on the wire
        active = self._active
        if active is None:
            return self._moto(request, event_name)
        # This thread now uses the engine: the virtual clock's sleeps take it into account.
        active.world.clock.enlist()
        target = request.headers.get("X-Amz-Target")
        if target:
            text = target.decode() if isinstance(target, bytes) else target
            prefix, _, operation = text.partition(".")
            service = ENGINE_SERVICES.get(prefix)
            if service is not None:
                return self._serve_engine(active, request, service, operation)
        if not active.faults.rules:
            return self._moto(request, event_name)
        return self._serve_moto_with_faults(active, request, event_name)

    def _moto(self, request: AWSPreparedRequest, event_name: str) -> AWSResponse | None:
        """Let moto answer the request through the stubber's own ``__call__``; None when no moto stubber is
        installed."""
        moto = self.moto
        if moto is None:
            return None
        # The stubber's own __call__, even while route_moto_stubber() has replaced it with a forwarder.
        return _MOTO_CALL[0](moto, event_name, request)  # type: ignore[no-any-return]

    # -- engines ---------------------------------------------------------------------------------------

    def _serve_engine(
        self, active: _Active, request: AWSPreparedRequest, service: str, operation: str
    ) -> AWSResponse:
        """Answer a call of an engine service: apply the fault plan's decision, spend the call latency on the
        virtual clock, run due timers, dispatch to the region's engine under the clock's lock (where the
        engine's state changes) and return its answer or error as a JSON response, or raise the connection
        error a fault plans."""
        world = active.world
        fault = (
            active.faults.decide(service, operation, now=world.clock.now()) if active.faults.rules else None
        )
        if fault is not None:
            early = _before_call(fault, world.clock, request)
            if early is not None:
                return early
        region = _region_of(request, world.region)
        try:
            params = _decode(request.body)
        except ValueError as error:  # not JSON: what AWS answers to a malformed body
            return error_response(request.url, "SerializationException", str(error), 400)
        clock = world.clock
        if world.call_latency > 0:
            # The request's way to AWS takes this thread some virtual time: calls are stamped in order.
            clock.sleep(world.call_latency)
        # Timers already due run first, outside the engines' lock (they may call user handlers, which may
        # call the engines from other threads). From inside a callback (a Lambda handler's
        # PutJobSuccessResult) this runs nothing: other timers never run half-way through that work.
        clock.run_due()
        try:
            with clock.lock:
                engine = world.engine(service, region)
                if not engine.implements(operation):
                    raise ServiceError(
                        "UnknownOperationException",
                        f"pipepilot.local does not emulate {service} {operation} "
                        "(see pipepilot.local.coverage_table())",
                    )
                body = engine.dispatch(operation, params)
        except ServiceError as error:
            logger.debug("%s %s -> %s", service, operation, error.code)
            if fault is not None and fault.error == LOST_RESPONSE:
                raise ConnectionClosedError(endpoint_url=request.url) from None
            return error_response(request.url, error.code, error.message, error.status)
        if fault is not None and fault.error == LOST_RESPONSE:
            logger.debug("%s %s applied, response lost (fault plan)", service, operation)
            raise ConnectionClosedError(endpoint_url=request.url)
        if fault is not None and fault.applied and fault.error is not None:
            logger.debug("%s %s applied, answered %s (fault plan)", service, operation, fault.error)
            return error_response(request.url, fault.error, fault.message, fault.status)
        return _response(request.url, 200, body)

    # -- moto ------------------------------------------------------------------------------------------

    def _serve_moto_with_faults(
        self, active: _Active, request: AWSPreparedRequest, event_name: str
    ) -> AWSResponse | None:
        """Let moto answer a call of another service under the fault plan's decision: delay it, fail it before
        moto sees it, or lose or replace moto's answer after moto applied it."""
        # event_name is "before-send.<service id>.<Operation>"
        _, _, rest = event_name.partition(".")
        service_id, _, operation = rest.partition(".")
        service = _CLIENT_NAMES.get(service_id, service_id)
        fault = active.faults.decide(service, operation, now=active.world.clock.now())
        if fault is None:
            return self._moto(request, event_name)
        early = _before_call(fault, active.world.clock, request)
        if early is not None:
            return early
        answer = self._moto(request, event_name)
        if fault.error == LOST_RESPONSE:
            raise ConnectionClosedError(endpoint_url=request.url)  # applied by moto, then the answer is lost
        if fault.applied and fault.error is not None:
            return error_response(request.url, fault.error, fault.message, fault.status)
        return answer


def _before_call(fault: Fault, clock: VirtualClock, request: AWSPreparedRequest) -> AWSResponse | None:
    """Apply a fault's latency, then fail the call if the fault says so before it is applied."""
    if fault.virtual_latency > 0:
        clock.sleep(fault.virtual_latency)
    if fault.latency > 0:
        time.sleep(fault.latency)  # real time on purpose: concurrent callers must really overlap
    if fault.error is None or fault.error == LOST_RESPONSE or fault.applied:
        return None
    if fault.error == CONNECTION:
        raise EndpointConnectionError(endpoint_url=request.url)
    return error_response(request.url, fault.error, fault.message, fault.status)


ROUTER = Router()


def install() -> None:
    """Replace moto's stubber in botocore's built-in handlers with :data:`ROUTER` (idempotent).

    Imports moto first, so its import-time registration has happened and cannot come back later.
    """
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.models import botocore_stubber

    if not _MOTO_CALL:
        _MOTO_CALL.append(BotocoreStubber.__call__)
    ROUTER.moto = botocore_stubber
    handlers = botocore.handlers.BUILTIN_HANDLERS
    handlers[:] = [spec for spec in handlers if spec[1] is not botocore_stubber]
    if not any(spec[1] is ROUTER for spec in handlers):
        handlers.append(("before-send", ROUTER))
    if not any(spec[1] == ROUTER.time_source for spec in handlers):
        handlers.append((TIME_SOURCE_EVENT, ROUTER.time_source))


# A handler registered N times is removed by N unregister calls (botocore ignores extra ones); clients
# never carry more than a couple of copies, so a few calls cover them without reaching into botocore.
_UNREGISTER_ATTEMPTS = 4


def patch_client(client: BaseClient) -> None:
    """Make a client created before :func:`install` reach the offline engines (and moto) via the router.

    Removes moto's stubber and any earlier copy of the router from the client's ``before-send`` handlers,
    then registers the router once. Safe to call more than once.
    """
    install()
    events = client.meta.events
    events.unregister("before-send", unique_id=_UNIQUE_ID)
    for _ in range(_UNREGISTER_ATTEMPTS):
        events.unregister("before-send", ROUTER)  # type: ignore[arg-type]
        events.unregister("before-send", ROUTER.moto)  # type: ignore[arg-type]
    events.register_first("before-send", ROUTER, unique_id=_UNIQUE_ID)  # type: ignore[arg-type]
    events.register(TIME_SOURCE_EVENT, ROUTER.time_source, unique_id=_UNIQUE_ID + "-time")  # type: ignore[arg-type]


def _stubber_via_router(stubber: object, event_name: str, request: AWSPreparedRequest, **kwargs: Any) -> Any:
    """Stand-in for ``BotocoreStubber.__call__`` that hands the request to :data:`ROUTER`."""
    return ROUTER(request, event_name=event_name)


def route_moto_stubber() -> Callable[[], None]:
    """Make moto's stubber forward to the router (for clients that carry only moto's handler).

    Returns the function that puts moto's own ``__call__`` back.
    """
    install()
    from moto.core.botocore_stubber import BotocoreStubber

    setattr(BotocoreStubber, "__call__", _stubber_via_router)  # noqa: B010

    def restore() -> None:
        """Put moto's own ``BotocoreStubber.__call__`` back."""
        setattr(BotocoreStubber, "__call__", _MOTO_CALL[0])  # noqa: B010

    return restore


class _VirtualRetryTime:
    """Stands in for the ``time`` module inside ``botocore.endpoint``: ``sleep`` runs on the virtual clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of virtual time on the clock (botocore's retry back-off) instead of real time."""
        self._clock.sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def route_retry_sleeps(clock: VirtualClock) -> Callable[[], None]:
    """Make botocore's retry back-off sleep on ``clock``; returns the function that undoes it."""
    # botocore.endpoint imports the time module and calls time.sleep(delay) in _needs_retry; that global is
    # the narrowest place to reroute the back-off (the stubs do not declare it, hence getattr/setattr).
    original = getattr(botocore.endpoint, "time")  # noqa: B009
    setattr(botocore.endpoint, "time", _VirtualRetryTime(clock))  # noqa: B010

    def restore() -> None:
        """Give ``botocore.endpoint`` back the ``time`` module it had."""
        setattr(botocore.endpoint, "time", original)  # noqa: B010

    return restore
