"""Opening and closing a served world: addresses, errors, real time, signals, ``python -m ... serve``."""

from __future__ import annotations

import io
import os
import signal
import socket
import threading
import time
from typing import TYPE_CHECKING

import pytest

import pipepilot.local
from pipepilot.local.__main__ import main
from pipepilot.local.server import LocalServer, serve
from tests.engine.serve._world import admin, client, release_pipeline

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.allow_hosts(["127.0.0.1"]), pytest.mark.usefixtures("no_proxy")]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def _no_world_active() -> bool:
    """Whether no offline context is active in this process."""
    try:
        pipepilot.local.active()
    except RuntimeError:
        return True
    return False


def test_a_closed_server_has_no_address_and_closes_twice_quietly() -> None:
    """Before it opens (and after it closes) a server has no port, URL or world; closing again does
    nothing; opening twice is refused."""
    server = LocalServer(port=0, speed=0)
    for name in ("port", "url", "aws", "requests"):
        with pytest.raises(RuntimeError):
            getattr(server, name)
    server.close()
    with server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert repr(server) == f"<LocalServer serving {server.url} speed=0.0>"
        with pytest.raises(RuntimeError):
            server.open()
    server.close()
    assert repr(server) == "<LocalServer closed speed=0.0>"
    assert _no_world_active()


@pytest.mark.parametrize(
    ("options", "message"), [({"speed": -1}, "speed"), ({"port": 70000}, "port"), ({"port": True}, "port")]
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    """A negative speed or a port outside 0-65535 raises ValueError naming it."""
    with pytest.raises(ValueError, match=message):
        LocalServer(**options)  # type: ignore[arg-type]


def test_a_port_in_use_fails_before_the_world_starts(busy_port: int) -> None:
    """Listening on a busy port raises OSError, and no offline world is left running."""
    with pytest.raises(OSError, match="in use"):
        LocalServer(port=busy_port).open()
    assert _no_world_active()


def test_a_server_can_serve_a_world_it_did_not_start() -> None:
    """Given an active offline context, the server serves that very world (what the test scripts in-process
    is what clients see) and leaves it running when it closes."""
    with pipepilot.local.offline(seed=5) as aws:
        aws.client("s3").create_bucket(Bucket="made-in-process")
        with LocalServer(port=0, aws=aws) as server:
            assert server.aws is aws
            assert server.speed == 0  # the world's clock is moved by hand
            buckets = client("s3", server.url).list_buckets()["Buckets"]
            assert [bucket["Name"] for bucket in buckets] == ["made-in-process"]
        assert pipepilot.local.active() is aws
        assert aws.client("s3").list_buckets()["Buckets"][0]["Name"] == "made-in-process"


def test_a_server_needs_an_active_world_to_serve() -> None:
    """A handle of a context that is not active is refused on open."""
    with pytest.raises(RuntimeError, match="not active"):
        LocalServer(port=0, aws=pipepilot.local.offline()).open()


def test_a_real_time_world_moves_without_requests() -> None:
    """At a speed, virtual time follows the wall clock, and timers run without any request asking (so what
    the engines write appears in moto's services); the admin endpoint reports the speed; a reset starts
    the clock again from the world's start."""
    with LocalServer(port=0, speed=3600) as server:
        server.aws.verify_roles = False
        client("s3", server.url).create_bucket(Bucket="shop-artifacts")
        client("codepipeline", server.url).create_pipeline(pipeline=release_pipeline())
        events = len(server.aws.events)
        deadline = time.monotonic() + 10
        while len(server.aws.events) == events and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(server.aws.events) > events
        info = admin(server.url, "info")[1]
        assert info["speed"] == 3600
        assert info["now"] > 1_767_225_600.0
        fresh = server.reset()  # a new real-time world: its clock runs too
        assert len(fresh.events) == 0
        assert admin(server.url, "info")[1]["now"] < info["now"]


def _serve_with(action: str) -> tuple[int, str]:
    """Run serve() in the main thread; once it announces itself, ``action`` stops it. Returns the exit
    status and what it printed."""
    out = io.StringIO()
    seen: list[str] = []

    def ready(url: str) -> None:
        seen.append(url)
        if action == "interrupt-at-once":
            raise KeyboardInterrupt
        if action == "terminate-at-once":
            signal.raise_signal(signal.SIGTERM)

        def later() -> None:
            client("codepipeline", url).list_pipelines()  # a request, then Ctrl-C while it serves
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=later).start()

    status = serve(port=0, speed=0, ready=ready, out=out)
    assert seen
    assert out.getvalue().startswith(f"pipepilot.local serving {seen[0]} ")
    return status, out.getvalue()


def test_serve_announces_itself_and_stops_on_ctrl_c_with_130() -> None:
    """serve() prints one line with the URL, and stops on Ctrl-C (while serving, or at once) with exit
    status 130; its signal handlers are restored and no world is left running."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    status, printed = _serve_with("interrupt-while-serving")
    assert status == 130
    assert printed.count("\n") == 1
    assert "(region us-east-1, stopped (admin endpoint moves it)) - Ctrl-C stops it" in printed
    assert _serve_with("interrupt-at-once")[0] == 130
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert _no_world_active()


def test_serve_stops_on_sigterm_with_0() -> None:
    """SIGTERM stops serve() cleanly with exit status 0."""
    assert _serve_with("terminate-at-once")[0] == 0
    assert _no_world_active()


def test_serve_outside_the_main_thread_installs_no_signal_handler() -> None:
    """Called from another thread, serve() installs no signal handler (Python allows none there) and still
    stops cleanly on KeyboardInterrupt; the main thread's handlers are untouched."""
    before = signal.getsignal(signal.SIGINT)
    statuses: list[int] = []

    def ready(url: str) -> None:
        assert signal.getsignal(signal.SIGINT) is before
        raise KeyboardInterrupt

    thread = threading.Thread(
        target=lambda: statuses.append(serve(port=0, speed=0, ready=ready, out=io.StringIO()))
    )
    thread.start()
    thread.join()
    assert statuses == [130]
    assert _no_world_active()


def test_python_m_serve_reports_a_busy_port_in_one_line(
    busy_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m pipepilot.local serve`` on a busy port exits 1 with one line naming the address; a
    negative speed exits 2."""
    assert main(["serve", "--port", str(busy_port)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{busy_port}" in error
    assert main(["serve", "--speed", "-1"]) == 2
    assert "speed" in capsys.readouterr().err
