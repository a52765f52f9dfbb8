"""``pipepilot local serve``: the offline world over HTTP, for the AWS CLI, other SDKs and other processes.

::

    python -m pipepilot.local serve --port 7473 --speed 60      # or: pipepilot local serve ...
    aws codepipeline list-pipelines --endpoint-url http://127.0.0.1:7473
    curl -s -X POST http://127.0.0.1:7473/_pipepilot/clock/advance -d '{"seconds": 3600}'

One HTTP server answers every AWS service on one port, as the in-process :func:`pipepilot.local.offline`
answers boto3 clients: CodePipeline and CodeBuild requests are answered by pipepilot's engines, every other
service (S3, IAM, SNS, CloudWatch Logs, EventBridge, KMS, Secrets Manager, SSM, STS, ...) by moto in the
same process, over the very backends the engines write to: an artifact the engines store is an object
``aws s3 cp`` downloads, a build's log lines are what ``aws logs get-log-events`` reads. Each request is
rebuilt as the botocore request an in-process client would have sent (:mod:`pipepilot.local._serving`)
and handed to the same router, so the answers are the same bytes, errors included, and fault plans apply.
Paths under ``/_pipepilot/`` are the admin endpoint (:mod:`pipepilot.local._admin`): the clock, faults,
scripts, trivial Lambda functions, events.

The server is the standard library's threaded HTTP/1.1 server (keep-alive, ``Expect: 100-continue``,
chunked request bodies): no dependency beyond the ``local`` extra. It is a development tool: it listens on
the loopback interface by default and checks no signature, as moto does not.

The world's clock runs in real time by default (``speed=1.0``); ``speed=60`` makes a virtual minute pass
every second, and ``speed=0`` stops it: time then moves only through ``POST /_pipepilot/clock/advance``.
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import signal
import socket
import socketserver
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType, TracebackType

    from pipepilot.local import OfflineAWS
    from pipepilot.local._admin import AdminAPI
    from pipepilot.local._serving import Answer

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "DEFAULT_SPEED", "LocalServer", "serve"]

logger = logging.getLogger(__name__)

#: The loopback interface: only this machine reaches the served world.
DEFAULT_HOST = "127.0.0.1"
#: "PIPE" on a phone keypad; free of LocalStack's 4566, moto's 5000 and the usual development ports.
DEFAULT_PORT = 7473
#: Real time: one virtual second per wall second.
DEFAULT_SPEED = 1.0
# How often (wall seconds) a real-time world runs the timers that fell due when no request asks it to, so
# artifacts, logs and events appear for readers of moto's services too.
_TICK = 0.05
# Wall seconds a kept-alive connection may stay idle before the server closes it.
_IDLE_TIMEOUT = 60.0
# Exit statuses of serve(): a requested stop (SIGTERM) and an interrupt (Ctrl-C, 128 + SIGINT).
_EXIT_TERMINATED = 0
_EXIT_INTERRUPTED = 130
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


class _Terminated(BaseException):
    """Raised in the main thread by the SIGTERM handler of :func:`serve`, to leave ``serve_forever``."""


class LocalServer:
    """An offline world served over HTTP: start it, point clients at :attr:`url`, stop it.

    ::

        with LocalServer(port=0) as server:          # any free port; a fresh world of its own
            codepipeline = boto3.client("codepipeline", endpoint_url=server.url, ...)
            server.aws.clock.advance(60)             # the in-process handle works too

    Without ``aws`` the server enters a fresh :func:`pipepilot.local.offline` context of its own
    (``region``, ``seed``, the clock at ``speed``) when it opens, and leaves it when it closes. With an
    active ``aws`` handle it serves that world (its region, seed and clock as they are: ``speed`` becomes
    the world's own, 0 for a clock moved by hand) and leaves it running when it closes. Clients in the same
    process that are pointed at the server really send their requests over HTTP.

    :meth:`start` serves from a background thread (tests); :meth:`open` then :meth:`serve_forever` serve
    from the calling thread (:func:`serve`). :meth:`close` (or leaving the ``with`` block) stops
    serving, closes open connections and joins every thread the server started.

    Raises:
        ValueError: a negative ``speed``, or a port outside 0-65535.
        OSError: (on open) the address cannot be listened on (a port in use, an unknown host).
    """

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        region: str = "us-east-1",
        speed: float | None = DEFAULT_SPEED,
        seed: int = 0,
        aws: OfflineAWS | None = None,
    ) -> None:
        speed = DEFAULT_SPEED if speed is None else speed
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0 <= speed < float("inf"):
            raise ValueError(f"speed is 0 (a clock moved only by the admin endpoint) or more, not {speed!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port is a number from 0 (any free port) to 65535, not {port!r}")
        self.host = host
        self.speed = float(speed)
        self._requested_port = port
        self._region = region
        self._seed = seed
        self._given = aws
        self._aws: OfflineAWS | None = None
        self._owned: OfflineAWS | None = None  # the world the server entered itself
        self._httpd: _HTTPServer | None = None
        self._stack: contextlib.ExitStack | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def __repr__(self) -> str:
        state = f"serving {self.url}" if self._httpd is not None else "closed"
        return f"<LocalServer {state} speed={self.speed}>"

    # -- addresses -------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port listened on (the one the system chose, when asked for port 0).

        Raises:
            RuntimeError: the server is not open.
        """
        return self._open_httpd().server_address[1]

    @property
    def url(self) -> str:
        """The endpoint URL to give clients (``http://127.0.0.1:<port>``; a bracketed IPv6 address).

        A server on every interface (``0.0.0.0``) gives ``127.0.0.1``: the address that reaches it here.

        Raises:
            RuntimeError: the server is not open.
        """
        host = self.host
        if host in _WILDCARDS:
            host = "127.0.0.1" if ":" not in host else "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def requests(self) -> int:
        """How many requests the server has answered since it opened (admin requests included).

        Raises:
            RuntimeError: the server is not open.
        """
        return self._open_httpd().requests_answered()

    @property
    def aws(self) -> OfflineAWS:
        """The served world's handle: scripts, faults and the clock, as in-process.

        Raises:
            RuntimeError: the server is not open.
        """
        if self._aws is None:
            raise RuntimeError("this LocalServer is not open (use start() or a with block)")
        return self._aws

    def _open_httpd(self) -> _HTTPServer:
        """The HTTP server; ``RuntimeError`` when not open."""
        if self._httpd is None:
            raise RuntimeError("this LocalServer is not open (use start() or a with block)")
        return self._httpd

    # -- lifecycle -------------------------------------------------------------------------------------

    def open(self) -> LocalServer:
        """Listen on the address and start the world; serve nothing yet (see :meth:`serve_forever`).

        Raises:
            RuntimeError: already open, or (without ``aws``) another offline context is active.
            OSError: the address cannot be listened on.
        """
        if self._httpd is not None:
            raise RuntimeError("this LocalServer is already open")
        # Listen first: a port in use fails before the world (and moto) start.
        httpd = _HTTPServer((self.host, self._requested_port), _Handler)
        stack = contextlib.ExitStack()
        stack.callback(httpd.server_close)
        try:
            aws = self._given
            if aws is None:
                aws = self._enter_world()
                stack.callback(self._leave_world)
            else:
                aws.world  # noqa: B018 (raises when the given context is not active)
                self.speed = float(aws.speed or 0.0)  # the world's own clock, as it runs
            from pipepilot.local import _wiring

            httpd.bind_world(aws, self._admin(aws, httpd), served_hosts=self._served_hosts())
            stack.callback(_wiring.ROUTER.serve_endpoint(self._bypass_hosts(), httpd.server_address[1]))
            # Run first on close: end kept-alive connections, then join the request threads (server_close),
            # and only then withdraw the endpoint and leave the world.
            stack.callback(httpd.server_close)
            stack.callback(httpd.close_connections)
        except BaseException:
            stack.close()
            raise
        self._aws, self._httpd, self._stack = aws, httpd, stack
        self._stopping.clear()
        if self.speed:
            self._spawn(self._tick, "pipepilot-local-clock")
        logger.info("serving the offline world on %s", self.url)
        return self

    def _enter_world(self) -> OfflineAWS:
        """Enter a fresh offline context of the server's own (``region``, ``seed``, ``speed``)."""
        import pipepilot.local

        aws = pipepilot.local.offline(
            region=self._region,
            seed=self._seed,
            # A real-time world starts at the present, so that at speed 1 its clock reads as the machine's:
            # a client stamping lines with its own clock (pipepilot watch from another process) agrees with
            # the times the service sends. A manual clock (speed 0) starts where offline() does, so a
            # scripted session replays exactly.
            start=float(int(time.time())) if self.speed else None,
            speed=self.speed or None,
            # In real time, the wall clock already stamps calls in order; the latency would only slow
            # every answer down.
            call_latency=0.0 if self.speed else pipepilot.local.DEFAULT_CALL_LATENCY,
        )
        aws.__enter__()
        self._owned = aws
        return aws

    def _leave_world(self) -> None:
        """Leave the offline context the server entered (if it still has one)."""
        owned, self._owned = self._owned, None
        if owned is not None:
            owned.__exit__(None, None, None)

    def _admin(self, aws: OfflineAWS, httpd: _HTTPServer) -> AdminAPI:
        """The admin API of ``aws`` (with ``reset`` only for a world the server started)."""
        from pipepilot.local._admin import AdminAPI

        reset = self._reset_for_admin if self._given is None else None
        return AdminAPI(aws, speed=self.speed, requests=httpd.requests_answered, reset=reset)

    def reset(self, *, seed: int | None = None) -> OfflineAWS:
        """Replace the served world by a fresh one (no pipelines, no objects, the clock at its start).

        Requests that arrive meanwhile wait, and those under way finish first, in the old world. The new
        world has the same region and speed, and ``seed`` if given (else the one before). Connections stay
        open. Returns the new world's handle.

        Raises:
            RuntimeError: the server is not open, or serves a world it did not start (reset that one
                yourself).
            TypeError: ``seed`` is not an int.
        """
        httpd = self._open_httpd()
        if self._given is not None:
            raise RuntimeError("this LocalServer serves a world it did not start: reset that world yourself")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise TypeError(f"seed must be an int, not {seed!r}")
        with httpd.gate.exclusive():
            self._leave_world()
            if seed is not None:
                self._seed = seed
            aws = self._enter_world()
            httpd.bind_world(aws, self._admin(aws, httpd), served_hosts=self._served_hosts())
            self._aws = aws
        logger.info("the served world was reset (seed %s)", self._seed)
        return aws

    def _reset_for_admin(self, seed: int | None) -> dict[str, Any]:
        """``POST /_pipepilot/reset``: reset, then answer the new world's info."""
        aws = self.reset(seed=seed)
        return dict(self._admin(aws, self._open_httpd()).handle("GET", "/_pipepilot/info", "", b"")[1])

    def serve_forever(self) -> None:
        """Answer requests in the calling thread until :meth:`close` is called from another thread (or a
        signal handler raises).

        Raises:
            RuntimeError: the server is not open.
        """
        self._open_httpd().serve_forever(poll_interval=0.2)

    def start(self) -> LocalServer:
        """:meth:`open`, then serve from a background thread; returns the server.

        Raises:
            RuntimeError: already open, or (without ``aws``) another offline context is active.
            OSError: the address cannot be listened on.
        """
        self.open()
        self._spawn(self.serve_forever, "pipepilot-local-server")
        return self

    def close(self) -> None:
        """Stop serving, close every connection, join the server's threads, and leave the world it started.

        Safe to call more than once, and from any thread but one of the server's own.
        """
        httpd, stack = self._httpd, self._stack
        if httpd is None or stack is None:
            return
        self._stopping.set()
        if any(thread.name == "pipepilot-local-server" for thread in self._threads):
            httpd.shutdown()  # returns once serve_forever() (in that thread) has returned
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        # Closes idle kept-alive connections, joins the request threads, then leaves the world.
        stack.close()
        self._httpd = self._stack = self._aws = None
        logger.info("stopped serving the offline world")

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------------

    def _served_hosts(self) -> frozenset[str]:
        """Host names of which a subdomain names an S3 bucket (virtual-hosted addressing)."""
        names = {"localhost"}
        if self.host not in _WILDCARDS and not _is_ip(self.host):
            names.add(self.host.lower())
        return frozenset(names)

    def _bypass_hosts(self) -> frozenset[str]:
        """Host names that reach this server from this process (empty: any, for a wildcard address)."""
        if self.host in _WILDCARDS:
            return frozenset()
        return (
            frozenset({self.host.lower(), *_LOOPBACK_NAMES})
            if self.host in _LOOPBACK_NAMES
            else frozenset({self.host.lower()})
        )

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        """Start a daemon thread of the server (joined by :meth:`close`)."""
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _tick(self) -> None:
        """Real-time mode: run the timers that fell due, every few hundredths of a second, until closed."""
        httpd = self._open_httpd()
        while not self._stopping.wait(_TICK):
            try:
                with httpd.gate.request():  # never half-way through a reset
                    aws = httpd.aws
                    if aws is not None:
                        aws.clock.run_due()
            except Exception:
                # A handler registered in the world failed; the world goes on, as a Lambda failure would.
                logger.exception("a timer of the served world failed")


class _Gate:
    """Lets requests into the world, or holds them while the world is replaced (:meth:`LocalServer.reset`).

    Not a lock held while requests run: a count of requests inside and a flag, each guarded for a few
    instructions, so nothing a request calls (handlers included) runs under it.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._inside = 0
        self._closed = False

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Be inside for the block: wait while the world is being replaced."""
        with self._condition:
            while self._closed:
                self._condition.wait()
            self._inside += 1
        try:
            yield
        finally:
            with self._condition:
                self._inside -= 1
                self._condition.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Be alone for the block: keep new requests out, and wait for those inside to finish."""
        with self._condition:
            while self._closed:  # one replacement at a time
                self._condition.wait()
            self._closed = True
            while self._inside:
                self._condition.wait()
        try:
            yield
        finally:
            with self._condition:
                self._closed = False
                self._condition.notify_all()


class _HTTPServer(http.server.ThreadingHTTPServer):
    """The threaded HTTP server: one thread per connection, each connection tracked so close() can end it."""

    # server_close() joins the request threads: socketserver joins only those that are not daemons.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)
        self.aws: OfflineAWS | None = None
        self.admin: AdminAPI | None = None
        self.served_hosts: frozenset[str] = frozenset()
        self.gate = _Gate()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._requests = 0

    def count_request(self) -> None:
        """Count one request answered (admin requests included)."""
        with self._connections_lock:
            self._requests += 1

    def requests_answered(self) -> int:
        """How many requests the server has answered so far."""
        with self._connections_lock:
            return self._requests

    def server_bind(self) -> None:
        """Bind the listening socket, without HTTPServer's look-up of the host's name."""
        # HTTPServer.server_bind looks the host's name up (socket.getfqdn), which can wait on DNS for
        # seconds; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def bind_world(self, aws: OfflineAWS, admin: AdminAPI, *, served_hosts: frozenset[str]) -> None:
        """Serve ``aws``, with ``admin`` answering ``/_pipepilot/``."""
        self.aws, self.admin, self.served_hosts = aws, admin, served_hosts

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the new connection, then answer it in a thread of its own."""
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection, then close it."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open connection, so the threads waiting on kept-alive ones return."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log an error a connection's thread raised (not a client that went away)."""
        # A client that went away mid-answer is not the server's problem; anything else is logged, once.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        logger.error("error while answering %s", client_address, exc_info=error)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers one connection's requests: admin paths by the admin API, the rest as AWS would."""

    protocol_version = "HTTP/1.1"  # keep-alive, and "Expect: 100-continue" as botocore sends for S3 uploads
    server_version = "pipepilot.local"
    sys_version = ""
    timeout = _IDLE_TIMEOUT
    # A buffered writer: the status line, the headers and the body leave in one write (the base class
    # flushes after each request).
    wbufsize = -1
    server: _HTTPServer

    _METHODS: ClassVar[frozenset[str]] = frozenset(
        {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}
    )

    def setup(self) -> None:
        """Set the connection up, its answers sent without delay."""
        super().setup()
        # Answers go out at once: with Nagle's algorithm, the client's delayed ACK would hold each answer
        # back by some 40 ms.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_expect_100(self) -> bool:
        """Answer ``Expect: 100-continue`` at once (the writer is buffered)."""
        answered = super().handle_expect_100()
        self.wfile.flush()  # the client waits for "100 Continue" before it sends the body
        return answered

    def __getattr__(self, name: str) -> Any:
        # do_GET, do_POST, ...: every method goes to one place.
        if name.startswith("do_") and name[3:] in self._METHODS:
            return self._answer
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        """Log the base class's notices (malformed requests) at DEBUG instead of printing them."""
        # The base class writes malformed-request notices to stderr; they belong in the log.
        logger.debug("%s %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing here: :meth:`_answer` logs each request once, with its service, operation and time."""

    def _answer(self) -> None:
        """Read the request, answer it, and log it with its service, operation and time."""
        started = time.perf_counter()
        try:
            self._dispatch(started)
        finally:
            self.server.count_request()
            aws = self.server.aws
            if aws is not None:
                # Between two requests this connection's thread waits for its client, not for the clock:
                # with a clock moved only by hand, the other threads' sleeps must not wait for it.
                aws.clock.idle()

    def _dispatch(self, started: float) -> None:
        """Answer one request: admin paths by the admin API, the others as AWS would."""
        try:
            body = self._read_body()
        except ValueError as error:
            # The rest of the stream cannot be trusted to start a request: answer, then hang up.
            self.close_connection = True
            self._write_plain(400, f"bad request body: {error}")
            return
        path = self.path.split("?", 1)[0]
        from pipepilot.local._admin import PREFIX

        if (self.command, path.rstrip("/")) == ("POST", PREFIX + "/reset"):
            # Outside the gate: the reset waits for every request inside it to finish.
            label, status = f"admin {self.command} {path}", self._answer_admin(path, body)
        else:
            with self.server.gate.request():
                if path == PREFIX or path.startswith(PREFIX + "/"):
                    label, status = f"admin {self.command} {path}", self._answer_admin(path, body)
                else:
                    label, status = self._answer_aws(body)
        logger.debug("%s -> %s in %.1f ms", label, status, (time.perf_counter() - started) * 1000)

    def _answer_admin(self, path: str, body: bytes) -> int | str:
        """Answer an admin request with JSON; returns the status."""
        from pipepilot.local._admin import as_json

        admin = self.server.admin
        assert admin is not None
        query = self.path.partition("?")[2]
        status, answer = admin.handle(self.command, path, query, body)
        self._write(status, (("Content-Type", "application/json"),), as_json(answer))
        return status

    def _answer_aws(self, body: bytes) -> tuple[str, int | str]:
        """Answer an AWS request as the in-process router does; returns a label and the status."""
        from botocore.awsrequest import AWSPreparedRequest
        from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

        from pipepilot.local import _wiring
        from pipepilot.local._serving import Answer, error_answer, route

        aws = self.server.aws
        assert aws is not None
        routed = route(
            method=self.command,
            target=self.path,
            headers=self.headers.items(),
            body=body,
            served_hosts=self.server.served_hosts,
            default_region=aws.region,
        )
        if isinstance(routed, Answer):
            self._write_answer(routed)
            return f"{self.command} {self.path}", routed.status
        label = f"{routed.service} {routed.operation or self.command}"
        request = AWSPreparedRequest(self.command, routed.url, routed.headers, body, stream_output=False)
        try:
            response = _wiring.ROUTER(request, event_name=routed.event_name)
        except (ConnectionClosedError, EndpointConnectionError):
            # A fault plan's dropped connection or lost response: the client sees the connection close.
            self.close_connection = True
            return label, "connection closed (fault plan)"
        except NotImplementedError as error:  # moto's answer to an operation it does not model
            answer = error_answer(routed.protocol, "NotImplemented", " ".join(str(error).split()), 501)
            self._write_answer(answer)
            return label, answer.status
        except Exception:
            logger.exception("%s failed", label)
            answer = error_answer(routed.protocol, "InternalFailure", "pipepilot.local failed to answer", 500)
            self._write_answer(answer)
            return label, answer.status
        if response is None:  # no moto backend for this URL
            answer = error_answer(
                routed.protocol, "UnknownService", f"no service answers {routed.service}", 404
            )
            self._write_answer(answer)
            return label, answer.status
        headers = tuple(
            (str(name), str(value))
            for name, value in response.headers.items()
            if str(name).lower() != "status"
        )
        self._write(response.status_code, headers, response.content)
        return label, response.status_code

    # -- reading and writing ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        """The request body: ``Content-Length`` bytes, or a chunked body joined; ``ValueError`` if malformed."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def _write_answer(self, answer: Answer) -> None:
        """Send a prepared answer."""
        self._write(answer.status, answer.headers, answer.body)

    def _write_plain(self, status: int, text: str) -> None:
        """Send ``text`` as a plain-text answer with ``status``."""
        self._write(status, (("Content-Type", "text/plain; charset=utf-8"),), text.encode())

    def _write(self, status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> None:
        """Send the status line, ``headers`` and ``body`` (framed by Content-Length; none for HEAD, 204, 304)."""
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        framed = False
        for name, value in headers:
            lowered = name.lower()
            if lowered in ("transfer-encoding", "connection", "date", "server"):
                continue
            if lowered == "content-length":
                # A HEAD answer names the length of the body a GET would get (S3's HeadObject).
                if self.command != "HEAD":
                    continue
                framed = True
            self.send_header(name, value)
        no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        if not framed and not (status in (204, 304) or 100 <= status < 200):
            self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not no_body and body:
            self.wfile.write(body)


def _is_ip(host: str) -> bool:
    """Whether ``host`` is an IP address rather than a name."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def serve(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    speed: float | None = DEFAULT_SPEED,
    region: str = "us-east-1",
    seed: int = 0,
    ready: Callable[[str], object] | None = None,
    out: TextIO | None = None,
) -> int:
    """Serve a fresh offline world over HTTP until Ctrl-C or SIGTERM; returns the exit status.

    Announces the endpoint on one line of ``out`` (default: standard output), flushed at once, which
    scripts and tests read (port 0 lets the system choose a free port)::

        pipepilot.local serving http://127.0.0.1:7473 (region us-east-1, speed 1) - Ctrl-C stops it

    then calls ``ready(url)`` if given. ``speed`` is virtual seconds per wall second (``0``: the clock moves
    only through the admin endpoint; ``None``: the default, real time). ``seed`` seeds ids and tokens as
    in :func:`pipepilot.local.offline`. On SIGTERM it stops and returns 0; on Ctrl-C (SIGINT) it stops and
    returns 130; either way open connections are closed, the world's threads joined and no traceback
    printed. Signal handlers are installed only when called from the main thread.

    Raises:
        ValueError: a negative ``speed``, a port outside 0-65535, a malformed region.
        OSError: the address cannot be listened on (a port in use: ``errno.EADDRINUSE``).
        ModuleNotFoundError: moto is missing (install ``pipepilot[local]``).
    """
    server = LocalServer(host=host, port=port, speed=speed, region=region, seed=seed)
    stream = sys.stdout if out is None else out
    with _stop_signals() as installed:
        try:
            server.open()
            clock = "stopped (admin endpoint moves it)" if not server.speed else f"speed {server.speed:g}"
            stream.write(
                f"pipepilot.local serving {server.url} (region {region}, {clock}) - Ctrl-C stops it\n"
            )
            stream.flush()
            if ready is not None:
                ready(server.url)
            server.serve_forever()
            status = 0
        except KeyboardInterrupt:
            status = _EXIT_INTERRUPTED
        except _Terminated:
            status = _EXIT_TERMINATED
        finally:
            installed.ignore()  # a second Ctrl-C must not cut the clean-up short
            server.close()
    return status


class _Signals:
    """The signal handlers :func:`serve` installed; :meth:`ignore` makes them ignore further signals."""

    def __init__(self) -> None:
        self.ignoring = False

    def ignore(self) -> None:
        """Ignore further signals (the clean-up is under way)."""
        self.ignoring = True

    def on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM: leave ``serve_forever`` (exit status 0)."""
        if not self.ignoring:
            raise _Terminated

    def on_sigint(self, signum: int, frame: FrameType | None) -> None:
        """SIGINT (Ctrl-C): leave ``serve_forever`` as Python's own handler would (exit status 130)."""
        if not self.ignoring:
            raise KeyboardInterrupt


@contextlib.contextmanager
def _stop_signals() -> Iterator[_Signals]:
    """Turn SIGTERM and SIGINT into exceptions in the main thread for the block, then restore the handlers
    that were there (nothing is installed outside the main thread, where Python cannot)."""
    handlers = _Signals()
    if threading.current_thread() is not threading.main_thread():
        yield handlers
        return
    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, handlers.on_sigterm),
        signal.SIGINT: signal.signal(signal.SIGINT, handlers.on_sigint),
    }
    try:
        yield handlers
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
