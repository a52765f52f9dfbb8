"""The server's edges: odd requests, failures inside it, listening on every interface, the router's
pass-through for local servers, and ``python -m pipepilot.local serve -v``."""

from __future__ import annotations

import http.client
import json
import logging
import socket
from typing import TYPE_CHECKING, Any

import pytest

from pipepilot.local import _wiring
from pipepilot.local.__main__ import main
from pipepilot.local.server import LocalServer
from tests.engine.serve._world import admin, client

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = [pytest.mark.allow_hosts(["127.0.0.1"]), pytest.mark.usefixtures("no_proxy")]


def _exchange(server: LocalServer, raw: bytes) -> bytes:
    """Send ``raw`` bytes as they are; everything the server answers before it closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(raw)
        connection.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_malformed_requests_get_400_and_no_traceback(
    server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A method HTTP has not (501), a negative Content-Length and a broken chunked body (400) are refused;
    nothing is printed (the notices go to the log)."""
    assert _exchange(server, b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 501")
    negative = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"
    assert _exchange(server, negative).startswith(b"HTTP/1.1 400")
    chunked = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    answer = _exchange(server, chunked)
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"Connection: close" in answer
    assert capsys.readouterr() == ("", "")


class _FailingRouter:
    """Stands in for the router: raises ``error`` (or answers nothing) for every request."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error

    def __call__(self, request: object, event_name: str = "") -> None:
        if self.error is not None:
            raise self.error


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotImplementedError("The  ListThings action\n has not been implemented"), 501, "NotImplemented"),
        (RuntimeError("a bug"), 500, "InternalFailure"),
        (None, 404, "UnknownService"),
    ],
)
def test_failures_inside_the_server_are_answered_as_aws_errors(
    server: LocalServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: BaseException | None,
    status: int,
    code: str,
) -> None:
    """What moto does not model answers NotImplemented (501), a failure of the server InternalFailure
    (500, logged with its traceback), a request nothing answers UnknownService (404): each in the error
    shape of the service's protocol, so clients raise their ordinary error."""
    monkeypatch.setattr(_wiring, "ROUTER", _FailingRouter(error))
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {
        "X-Amz-Target": "Logs_20140328.ListThings",
        "Authorization": "AWS4-HMAC-SHA256 Credential=t/20260101/us-east-1/logs/aws4_request",
    }
    try:
        connection.request("POST", "/", body=b"{}", headers=headers)
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())["__type"]) == (status, code)
    finally:
        connection.close()
    assert ("a bug" in caplog.text) == (status == 500)


def test_a_failing_timer_does_not_stop_a_real_time_world(caplog: pytest.LogCaptureFixture) -> None:
    """A timer that raises while the world runs in real time is logged, and the world goes on."""
    with LocalServer(port=0, speed=1000) as server:

        def broken() -> None:
            raise RuntimeError("broken timer")

        server.aws.clock.call_later(0, broken, locked=False)
        server.aws.clock.call_later(1, lambda: None, locked=False)
        while server.aws.clock.pending():
            pass
        assert admin(server.url, "info")[1]["status"] == "ok"
    assert "broken timer" in caplog.text


def test_the_error_handler_ignores_clients_that_went_away(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that hung up mid-answer is not logged; any other error of a connection is."""
    httpd: Any = server._httpd
    try:
        raise ConnectionResetError
    except ConnectionResetError:
        httpd.handle_error(None, ("127.0.0.1", 1))
    assert caplog.text == ""
    try:
        raise RuntimeError("unexpected")
    except RuntimeError:
        httpd.handle_error(None, ("127.0.0.1", 1))
    assert "unexpected" in caplog.text


def test_a_server_on_every_interface_is_reached_through_the_loopback_address() -> None:
    """Listening on 0.0.0.0, the server's URL names 127.0.0.1, and clients of this process reach it over
    HTTP whatever host name they use for it."""
    with LocalServer(host="0.0.0.0", port=0, speed=0) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        before = server.requests
        client("sts", server.url).get_caller_identity()
        assert server.requests == before + 1


def test_a_server_named_by_host_name_takes_virtual_hosted_buckets_of_that_name() -> None:
    """A server given a host name (``localhost``) answers on it, and ``<bucket>.<host>`` addresses a bucket."""
    with LocalServer(host="localhost", port=0, speed=0) as server:
        assert server.url == f"http://localhost:{server.port}"
        assert server._served_hosts() == frozenset({"localhost"})
        assert "127.0.0.1" in server._bypass_hosts()


@pytest.mark.parametrize(
    ("url", "bypassed"),
    [
        ("http://127.0.0.1:7999/", True),
        ("http://LOCALHOST:7999/bucket", True),
        ("http://bucket.localhost:7999/key", True),
        ("http://127.0.0.1:8000/", False),
        ("http://example.com:7999/", False),
        ("https://codepipeline.us-east-1.amazonaws.com/", False),
        ("http://127.0.0.1:port/", False),
    ],
)
def test_the_router_passes_requests_to_a_local_server_through(url: str, bypassed: bool) -> None:
    """A registered endpoint (host names and port) matches its hosts and their subdomains on its port only;
    a malformed URL matches nothing; an endpoint without host names matches any host on its port;
    withdrawing it (twice is harmless) restores routing."""
    router = _wiring.Router()
    withdraw: Callable[[], None] = router.serve_endpoint(frozenset({"127.0.0.1", "localhost"}), 7999)
    assert router._to_served_endpoint(url) is bypassed
    withdraw()
    withdraw()
    assert router._to_served_endpoint(url) is False
    router.serve_endpoint(frozenset(), 7999)
    assert router._to_served_endpoint("http://10.1.2.3:7999/") is True


def test_python_m_serve_verbose_logs_requests(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-v`` logs the server's requests on standard error (logging set up by the command, not the
    library); a missing moto is one line and exit 1."""
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logging.getLogger("pipepilot.local.server"), "level", logging.NOTSET)
    served: list[int] = []

    def fake_serve(**options: Any) -> int:
        logging.getLogger("pipepilot.local.server").debug("codepipeline ListPipelines -> 200 in 0.1 ms")
        served.append(options["port"])
        return 130

    monkeypatch.setattr("pipepilot.local.server.serve", fake_serve)
    assert main(["serve", "-v", "--port", "0"]) == 130
    assert served == [0]
    assert "codepipeline ListPipelines -> 200" in capsys.readouterr().err

    def no_moto(**options: Any) -> int:
        raise ModuleNotFoundError("No module named 'moto'", name="moto")

    monkeypatch.setattr("pipepilot.local.server.serve", no_moto)
    assert main(["serve"]) == 1
    assert (
        capsys.readouterr().err
        == "python -m pipepilot.local serve: No module named 'moto'; install pipepilot[local]\n"
    )


def _ipv6_loopback() -> bool:
    """Whether this machine can listen on the IPv6 loopback address."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.allow_hosts(["::1"])
@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback interface on this machine")
def test_a_server_on_the_ipv6_loopback_address() -> None:
    """``host="::1"`` listens on IPv6; the URL brackets the address, and clients reach it over HTTP."""
    with LocalServer(host="::1", port=0, speed=0) as server:
        assert server.url == f"http://[::1]:{server.port}"
        client("sts", server.url).get_caller_identity()
        assert server.requests == 1
