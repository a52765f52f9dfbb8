"""Benchmark: what a user's first client costs with pipepilot next to plain boto3, and a further facade's.

1. ``import pipepilot`` + the first ``CodePipeline(...).client``, against ``import boto3`` +
   ``boto3.client("codepipeline")``. Each run is a fresh interpreter (bytecode already compiled: every
   program runs once before timing) that times its own statements, so interpreter start-up is left out
   of both sides. The time is the process's CPU time (``time.process_time``): on a shared machine wall
   time mostly measures the other jobs. The programs alternate, so drift on the machine affects both
   alike. Target (issue 12): median ratio at most 1.10.
2. A further facade's ``.client`` in the same process (another ``CodePipeline()``), against another
   ``boto3.client("codepipeline")``: the median of five in each interpreter. Target: at most 5 ms. For
   the record, a CodeBuild facade's client (``CodePipeline(...).codebuild().client``: its module and
   service model load with the first) against ``boto3.client("codebuild")`` after a CodePipeline client.

Every interpreter runs with an empty ``HOME``, no AWS setting but dummy credentials and an explicit
region, so no profile, file or metadata service is consulted on either side.

Run: ``python benchmarks/bench_first_client.py [--runs N] [--quick]`` (default 21 runs of each; ``--quick``
runs each once to check that the benchmark works, and never fails on a target). Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MAX_RATIO = 1.10
MAX_FURTHER_MS = 5.0
REGION = "us-east-1"

_TIMED = "import time\nt = time.process_time()\n{setup}\nprint(time.process_time() - t)\n"
_TIMED_ONCE_AFTER = (
    "{setup}\nimport time\nt = time.process_time()\n{statement}\nprint(time.process_time() - t)\n"
)
# A further client is timed five times and the median kept: one of them may pay for a full garbage
# collection that the imports before it made due, on either side, which is no cost of that client.
_TIMED_AFTER = (
    "{setup}\nimport statistics, time\ntimes = []\nfor _ in range(5):\n    t = time.process_time()\n"
    "    {statement}\n    times.append(time.process_time() - t)\nprint(statistics.median(times))\n"
)

PROGRAMS = {
    "pipepilot first client": _TIMED.format(
        setup=f"import pipepilot\npipepilot.CodePipeline(region_name={REGION!r}).client"
    ),
    "boto3 first client": _TIMED.format(
        setup=f"import boto3\nboto3.client('codepipeline', region_name={REGION!r})"
    ),
    "pipepilot further facade": _TIMED_AFTER.format(
        setup=f"import pipepilot\ncp = pipepilot.CodePipeline(region_name={REGION!r})\ncp.client",
        statement=f"pipepilot.CodePipeline(region_name={REGION!r}).client",
    ),
    "boto3 further client": _TIMED_AFTER.format(
        setup=f"import boto3\nboto3.client('codepipeline', region_name={REGION!r})",
        statement=f"boto3.client('codepipeline', region_name={REGION!r})",
    ),
    "pipepilot codebuild facade": _TIMED_ONCE_AFTER.format(
        setup=f"import pipepilot\ncp = pipepilot.CodePipeline(region_name={REGION!r})\ncp.client",
        statement="cp.codebuild().client",
    ),
    "boto3 codebuild client": _TIMED_ONCE_AFTER.format(
        setup=f"import boto3\nboto3.client('codepipeline', region_name={REGION!r})",
        statement=f"boto3.client('codebuild', region_name={REGION!r})",
    ),
}


def _environment(home: str) -> dict[str, str]:
    """A clean environment: no AWS settings from this machine, dummy credentials, an empty HOME."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.update(
        HOME=home,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=str(Path(home) / "absent"),
        AWS_SHARED_CREDENTIALS_FILE=str(Path(home) / "absent"),
    )
    return environment


def run(program: str, environment: dict[str, str]) -> float:
    """Seconds one fresh interpreter reports for ``program``."""
    done = subprocess.run(
        [sys.executable, "-c", program], check=True, capture_output=True, text=True, env=environment
    )
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Measure, print the figures; return 1 if a target is missed (never with ``--quick``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=21, help="fresh interpreters per program (default 21)")
    parser.add_argument("--quick", action="store_true", help="1 run, to check that it works; no verdict")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else max(5, args.runs)
    with tempfile.TemporaryDirectory() as home:
        environment = _environment(home)
        for program in PROGRAMS.values():
            run(program, environment)  # compiles the bytecode and warms the file cache
        times: dict[str, list[float]] = {name: [] for name in PROGRAMS}
        for _ in range(runs):
            for name, program in PROGRAMS.items():
                times[name].append(run(program, environment))
    median = {name: statistics.median(values) for name, values in times.items()}
    ratio = median["pipepilot first client"] / median["boto3 first client"]
    further_ms = median["pipepilot further facade"] * 1000
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"runs: {runs} fresh interpreters per program, interleaved; medians (load average {load})")
    for name, seconds in median.items():
        print(f"  {name:28} {seconds * 1000:8.1f} ms")
    print(
        f"first client, pipepilot / boto3: {ratio:.2f} (target <= {MAX_RATIO:.2f}) "
        f"{'OK' if ratio <= MAX_RATIO else 'MISSED'}"
    )
    print(
        f"further facade's client: {further_ms:.1f} ms, {further_ms / (median['boto3 further client'] * 1000):.2f} x "
        f"boto3's further client (target <= {MAX_FURTHER_MS:.0f} ms) "
        f"{'OK' if further_ms <= MAX_FURTHER_MS else 'MISSED'}"
    )
    codebuild = median["pipepilot codebuild facade"] / median["boto3 codebuild client"]
    print(
        f"for the record, cp.codebuild().client / boto3.client('codebuild') after a first client: {codebuild:.2f}"
    )
    if args.quick:
        print("quick mode: figures above are indicative only; no target is checked")
        return 0
    return 0 if ratio <= MAX_RATIO and further_ms <= MAX_FURTHER_MS else 1


if __name__ == "__main__":
    sys.exit(main())
