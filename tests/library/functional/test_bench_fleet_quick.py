"""``benchmarks/bench_fleet.py --quick`` runs and prints its figures (CI checks it runs; timing is not judged)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# A benchmark run as a subprocess: part of the full run only.
pytestmark = pytest.mark.slow

ROOT = next(folder for folder in Path(__file__).resolve().parents if (folder / "pyproject.toml").is_file())
BENCHMARK = ROOT / "benchmarks" / "bench_fleet.py"


def test_the_fleet_benchmark_runs_in_quick_mode() -> None:
    """The quick mode exits 0 and prints each figure the issue asks for, against its baseline."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    src = str(ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    finished = subprocess.run(
        [sys.executable, str(BENCHMARK), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    out = finished.stdout
    for figure in (
        "speed-up:",
        "errors reaching the user:",
        "throttled after the first second:",
        "pipelines returned:",
        "quick mode",
    ):
        assert figure in out, out
