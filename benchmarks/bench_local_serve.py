"""``pipepilot local serve`` answering GetPipelineState: requests per second over HTTP, against in-process.

Issue 11 asks for the figure: how many ``get-pipeline-state`` requests a second the served world answers on
this machine. The server runs as a real subprocess (``python -m pipepilot.local serve --port 0 -v``), as a
user starts it, holding one pipeline mid-release; it is asked by

* a boto3 client in a loop (one kept-alive connection), and by four such clients in threads;
* the plain AWS CLI, one process per call (``aws codepipeline get-pipeline-state --endpoint-url ...``), where
  starting the CLI dominates: the figure is invocations a second, next to ``aws --version`` alone;

against the baseline measured in the same run: the same boto3 calls answered by the engine in-process
(``pipepilot.local.offline()``). The server's own time per request (reading, routing, the engine, writing,
as its ``-v`` log reports it) is printed too, to show where an HTTP request's time goes.

    .venv/bin/python benchmarks/bench_local_serve.py            # the figures
    .venv/bin/python benchmarks/bench_local_serve.py --quick    # a small run that only checks it works

No target is checked: it prints figures and exits 0 (1 only when something fails to run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

_PIPELINE = "bench"
_SERVER_TIME = re.compile(r"codepipeline GetPipelineState -> 200 in ([0-9.]+) ms")


def _declaration() -> dict[str, Any]:
    def action(name: str, category: str, provider: str, **configuration: str) -> dict[str, Any]:
        return {
            "name": name,
            "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
            "configuration": configuration,
            "inputArtifacts": [{"name": "App"}] if category == "Deploy" else [],
            "outputArtifacts": [{"name": "App"}] if category == "Source" else [],
        }

    return {
        "name": _PIPELINE,
        "roleArn": "arn:aws:iam::123456789012:role/bench",
        "artifactStore": {"type": "S3", "location": "bench-artifacts"},
        "stages": [
            {
                "name": "Source",
                "actions": [action("Source", "Source", "S3", S3Bucket="src", S3ObjectKey="app.zip")],
            },
            {"name": "Approve", "actions": [action("Approve", "Approval", "Manual")]},
            {
                "name": "Deploy",
                "actions": [action("Deploy", "Deploy", "S3", BucketName="site", Extract="true")],
            },
        ],
    }


def _environment(home: Path) -> dict[str, str]:
    """No AWS settings from the machine: dummy credentials, a region, an empty home, no proxy."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.update(
        HOME=str(home),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(home / "absent"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "absent"),
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    return environment


def _client(url: str | None = None) -> Any:
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return session.client("codepipeline", endpoint_url=url, config=Config(retries={"total_max_attempts": 1}))


def _set_up(codepipeline: Any, s3: Any) -> None:
    s3.create_bucket(Bucket="bench-artifacts")
    codepipeline.create_pipeline(pipeline=_declaration())


def _loop(codepipeline: Any, calls: int) -> list[float]:
    """Seconds per GetPipelineState call, call by call, after a few warm-up calls."""
    for _ in range(5):
        codepipeline.get_pipeline_state(name=_PIPELINE)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        codepipeline.get_pipeline_state(name=_PIPELINE)
        times.append(time.perf_counter() - started)
    return times


def _in_process(calls: int) -> list[float]:
    """The baseline: the same calls answered by the engine in this process."""
    import pipepilot.local

    with pipepilot.local.offline() as aws:
        aws.verify_roles = False
        codepipeline = aws.client("codepipeline")
        _set_up(codepipeline, aws.client("s3"))
        aws.clock.advance(60)
        return _loop(codepipeline, calls)


class _Server:
    """``python -m pipepilot.local serve --port 0 --speed 0 -v`` in a subprocess."""

    def __init__(self, home: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipepilot.local", "serve", "--port", "0", "--speed", "0", "-v"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_environment(home),
            text=True,
        )
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(120):
                self.process.kill()
                raise SystemExit("the server did not start within 120 s")
        line = self.process.stdout.readline()
        match = re.search(r"serving (http://\S+) ", line)
        if match is None:
            raise SystemExit(f"the server announced no URL: {line!r}")
        self.url = match.group(1)
        # The -v log goes to stderr: drain it in a thread (a full pipe would stall the server), keeping it.
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    def admin(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(f"{self.url}/_pipepilot/{path}", data=json.dumps(body).encode())
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=60) as response:
            return json.loads(response.read())

    def server_times(self) -> list[float]:
        """The server's own milliseconds per GetPipelineState request so far, from its log."""
        return [float(match.group(1)) for line in list(self.log) if (match := _SERVER_TIME.search(line))]

    def stop(self) -> int:
        self.process.terminate()
        self.process.wait(timeout=60)
        self._reader.join(timeout=10)
        return self.process.returncode


def _threaded(url: str, threads: int, calls: int) -> float:
    """Requests a second with ``threads`` clients calling at once, ``calls`` each."""
    clients = [_client(url) for _ in range(threads)]
    for codepipeline in clients:
        codepipeline.get_pipeline_state(name=_PIPELINE)
    workers = [
        threading.Thread(
            target=lambda c=codepipeline: [c.get_pipeline_state(name=_PIPELINE) for _ in range(calls)]
        )
        for codepipeline in clients
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return threads * calls / (time.perf_counter() - started)


def _cli_runs(command: list[str], environment: dict[str, str], runs: int) -> list[float]:
    """Wall seconds of each run of ``command`` (a fresh process each)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, env=environment, timeout=120, check=False)
        times.append(time.perf_counter() - started)
        if completed.returncode != 0:
            raise SystemExit(f"{' '.join(command[:3])} failed: {completed.stderr.decode()[-500:]}")
    return times


def _aws_cli() -> str | None:
    """The AWS CLI's script: behind a pyenv shim (a bash script that starts pyenv first), the real one."""
    found = shutil.which("aws")
    if found is None or "/shims/" not in found or shutil.which("pyenv") is None:
        return found
    resolved = subprocess.run(["pyenv", "which", "aws"], capture_output=True, text=True, check=False)
    real = resolved.stdout.strip()
    return real if resolved.returncode == 0 and Path(real).is_file() else found


def main(argv: list[str] | None = None) -> int:
    """Measure and print the figures; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a small run: checks it works, figures mean nothing"
    )
    options = parser.parse_args(argv)
    calls, cli_runs = (20, 2) if options.quick else (2000, 20)

    baseline = _in_process(calls)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        server = _Server(home)
        try:
            server.admin("settings", {"verify_roles": False})
            codepipeline = _client(server.url)
            session = boto3.session.Session(
                region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
            )
            _set_up(codepipeline, session.client("s3", endpoint_url=server.url))
            server.admin("clock/advance", {"seconds": 60})
            over_http = _loop(codepipeline, calls)
            threaded = _threaded(server.url, 4, max(5, calls // 4))
            server_ms = server.server_times()
            aws = _aws_cli()
            cli: list[float] | None = None
            version: list[float] | None = None
            if aws is not None:
                environment = _environment(home)
                command = [
                    aws,
                    "codepipeline",
                    "get-pipeline-state",
                    "--name",
                    _PIPELINE,
                    "--endpoint-url",
                    server.url,
                ]
                cli = _cli_runs(command, environment, cli_runs)
                version = _cli_runs([aws, "--version"], environment, cli_runs)
        finally:
            status = server.stop()
    if status != 0:
        print(f"the server exited {status} on SIGTERM (expected 0)")
        return 1

    base, http = statistics.median(baseline), statistics.median(over_http)
    print(
        f"GetPipelineState, {calls} calls each{' (--quick: figures mean nothing)' if options.quick else ''}"
    )
    print(f"  in-process engine (baseline): {base * 1000:7.2f} ms a call, {1 / base:8.0f} requests/s")
    print(
        f"  served, boto3 loop:           {http * 1000:7.2f} ms a call, {1 / http:8.0f} requests/s "
        f"({http / base:.2f} x the in-process time)"
    )
    print(f"  served, 4 boto3 threads:                   {threaded:8.0f} requests/s")
    if server_ms:
        print(
            f"  the server's own time:        {statistics.median(server_ms):7.2f} ms a request (median; "
            f"the rest is the client and the socket)"
        )
    if cli is not None and version is not None:
        per_call, start_only = statistics.median(cli), statistics.median(version)
        print(
            f"  AWS CLI, a process per call:  {per_call * 1000:7.0f} ms a call, {1 / per_call:8.2f} invocations/s "
            f"(`aws --version` alone: {start_only * 1000:.0f} ms; the service model, request and answer: "
            f"{max(0.0, per_call - start_only) * 1000:.0f} ms)"
        )
    else:
        print("  AWS CLI: not on PATH, not measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
