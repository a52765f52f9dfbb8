"""Fixtures of the served-world tests: a server in a thread of the test process, on a free port.

The tests talk to it over real sockets, on the loopback interface only (pytest-socket lets them connect to
127.0.0.1 and nowhere else), with clients that take nothing from the machine's AWS settings.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from pipepilot.local.server import LocalServer

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy from the environment stands between a client and the local server."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def server(no_proxy: None) -> Iterator[LocalServer]:
    """A fresh world served on a free port, its clock moved by hand (speed 0); closed after the test, and
    every thread it started gone."""
    before = set(threading.enumerate())
    with LocalServer(port=0, speed=0, seed=3) as served:
        yield served
    leaked = [thread for thread in set(threading.enumerate()) - before if thread.is_alive()]
    assert not leaked, f"threads left running after close(): {leaked}"
