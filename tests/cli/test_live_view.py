"""The live view of ``watch``, drawn on a real pseudo-terminal by a ``pipepilot`` process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A process that sets up an offline world, starts a release and watches it with stdout on the terminal.
SCENARIO = """
import sys

import pipepilot.local
from pipepilot.cli._app import Services, run
from tests.cli.conftest import quick_stages
from tests.library.functional.offline_world import World

with pipepilot.local.offline() as aws:
    world = World.open(aws)
    world.create("release", quick_stages()).start()
    sys.exit(run(["watch", "release"], services=Services(codepipeline=world.cp)))
"""


def _run_on_a_terminal(code: str) -> tuple[int, str]:
    """Run ``code`` with stdin, stdout and stderr on a pseudo-terminal; its exit status and what it drew."""
    import pty

    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
    env.pop("NO_COLOR", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=follower, stdout=follower, stderr=follower, env=env, cwd=ROOT
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow
def test_watch_draws_a_live_board_on_a_terminal() -> None:
    """On a terminal, watch draws a table of every stage and action with colours, ends with every stage
    Succeeded and the closing line, and exits 0."""
    status, drawn = _run_on_a_terminal(SCENARIO)
    assert status == 0, drawn
    assert "\x1b[" in drawn  # colours and cursor moves: a live display, not plain lines
    assert "━" in drawn or "─" in drawn  # the table's rules
    for name in ("Source", "Build", "Deploy", "DeployApp"):
        assert name in drawn
    assert "Succeeded" in drawn
    assert "watching execution" not in drawn  # the plain lines' header is not printed
    assert "of release" in drawn.splitlines()[-1] or "Succeeded" in drawn.splitlines()[-1]
