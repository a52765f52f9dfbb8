"""A served world in a subprocess (``python -m pipepilot.local serve``), for the tests that drive it from
other processes."""

from __future__ import annotations

import json
import re
import selectors
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from tests.engine.serve._world import subprocess_env

if TYPE_CHECKING:
    from pathlib import Path

_URL = re.compile(r"serving (http://\S+) ")


class ServedProcess:
    """``python -m pipepilot.local serve --port 0 ...`` running; :attr:`url` is what it announced."""

    def __init__(self, home: Path, *options: str) -> None:
        self.home = home
        self.env = self.environment(home)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipepilot.local", "serve", "--port", "0", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            text=True,
        )
        self.announcement = self._first_line(timeout=60)
        match = _URL.search(self.announcement)
        if match is None:
            self.process.kill()
            raise AssertionError(f"no URL announced: {self.announcement!r} {self.process.communicate()}")
        self.url = match.group(1)

    @staticmethod
    def environment(home: Path) -> dict[str, str]:
        """The environment of the tests' subprocesses (see :func:`subprocess_env`)."""
        return subprocess_env(home)

    def _first_line(self, *, timeout: float) -> str:
        """The first line the server prints, waiting at most ``timeout`` seconds for it."""
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.process.kill()
                raise AssertionError(
                    f"the server did not start within {timeout} s: {self.process.communicate()}"
                )
        return self.process.stdout.readline()

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Send ``signum``; the exit status and the rest of stdout and stderr."""
        self.process.send_signal(signum)
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err

    def run(self, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``command`` (e.g. the AWS CLI) with the tests' environment (plus ``env``)."""
        return subprocess.run(
            list(command),
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=120,
            check=False,
        )


def aws(served: ServedProcess, *arguments: str, check: bool = True, **env: str) -> Any:
    """Run the AWS CLI against the served world; its parsed JSON output (``None`` when it prints none; the
    text of the ``s3`` commands, which print no JSON), or, with ``check=False``, the completed process."""
    started = time.monotonic()
    completed = served.run("aws", *arguments, "--endpoint-url", served.url, "--output", "json", env=env)
    if not check:
        return completed
    assert completed.returncode == 0, (arguments, completed.stderr, time.monotonic() - started)
    if not completed.stdout.strip():
        return None
    return completed.stdout if arguments[0] == "s3" else json.loads(completed.stdout)
