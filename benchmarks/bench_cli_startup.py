"""Benchmark: how fast ``pipepilot --help`` answers, against ``python -c 'import boto3'`` and ``aws --version``.

A command that is slow to start gets replaced by a shell loop. Each run is a fresh interpreter (bytecode
compiled beforehand), wall time, median of interleaved runs: ``python -m pipepilot --help`` (what the
``pipepilot`` console script runs), ``python -c 'import boto3'`` (the least any boto3-based command pays), and
``aws --version`` when the AWS CLI is on PATH. ``--help`` loads click and the command's own modules only: no
boto3, no botocore (the commands load the library when they run).

Target (issue 11): at most 1.2 x ``import boto3`` (and so, by far, x ``aws --version``).

Run: ``python benchmarks/bench_cli_startup.py`` (``--quick``: two runs each, to check that it works; no
verdict).
"""

from __future__ import annotations

import compileall
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

TARGET = 1.2
ROOT = Path(__file__).resolve().parent.parent


def _wall(command: Sequence[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main(argv: Sequence[str] = ()) -> int:
    """Print the figures; exit status 1 if ``--help`` misses its target (never with ``--quick``)."""
    quick = "--quick" in argv
    runs = 2 if quick else 15
    compileall.compile_dir(str(ROOT / "src"), quiet=1)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    commands = {
        "pipepilot --help": [sys.executable, "-m", "pipepilot", "--help"],
        "python -c 'import boto3'": [sys.executable, "-c", "import boto3"],
    }
    aws = shutil.which("aws")
    if aws is not None:
        commands["aws --version"] = [aws, "--version"]
    times: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():  # warm the disk cache once
        _wall(command, env)
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(_wall(command, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    ours = medians["pipepilot --help"]
    print(f"wall time, fresh interpreters, median of {runs}")
    for name, median in medians.items():
        ratio = "" if name == "pipepilot --help" else f"   pipepilot --help = {ours / median:.2f} x"
        print(f"  {name:<26} {median * 1000:7.1f} ms{ratio}")
    if quick:
        print("--quick: figures only, no verdict")
        return 0
    against_boto3 = ours / medians["python -c 'import boto3'"]
    verdict = "OK" if against_boto3 <= TARGET else "MISSED"
    print(f"target: <= {TARGET} x import boto3 -> {against_boto3:.2f} x {verdict}")
    return 0 if against_boto3 <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
