"""``pipepilot --endpoint-url URL watch / approve / freeze`` against ``python -m pipepilot.local serve``.

Real subprocesses: the served world, then the ``pipepilot`` command (``python -m pipepilot``, which the
``cli`` extra provides) pointed at it, with dummy credentials in its own environment, as a release engineer
runs it against AWS. The clock is moved by hand through the admin endpoint, so each step is reproducible.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from tests.engine.serve._process import ServedProcess
from tests.engine.serve._world import admin, client

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.allow_hosts(["127.0.0.1"]),
    pytest.mark.skipif(
        importlib.util.find_spec("pipepilot.cli") is None or importlib.util.find_spec("click") is None,
        reason="the pipepilot command is missing: it needs src/pipepilot/cli (issue 11's CLI) and click",
    ),
]

ARTIFACTS = "release-artifacts"


def _action(name: str, category: str, provider: str, **configuration: str) -> dict[str, Any]:
    """An AWS-owned action: a source outputs App, a deploy takes it."""
    return {
        "name": name,
        "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
        "configuration": configuration,
        "inputArtifacts": [{"name": "App"}] if category == "Deploy" else [],
        "outputArtifacts": [{"name": "App"}] if category == "Source" else [],
    }


def _pipeline(name: str) -> dict[str, Any]:
    """Source (S3) -> Approve (manual) -> Deploy (S3)."""
    return {
        "name": name,
        "roleArn": "arn:aws:iam::123456789012:role/release",
        "artifactStore": {"type": "S3", "location": ARTIFACTS},
        "stages": [
            {
                "name": "Source",
                "actions": [_action("Source", "Source", "S3", S3Bucket="src", S3ObjectKey="app.zip")],
            },
            {"name": "Approve", "actions": [_action("Approve", "Approval", "Manual")]},
            {
                "name": "Deploy",
                "actions": [_action("Deploy", "Deploy", "S3", BucketName="site", Extract="true")],
            },
        ],
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProcess]:
    """A served world (clock moved by hand) holding the artifact bucket, roles accepted as they are."""
    served = ServedProcess(tmp_path_factory.mktemp("home"), "--speed", "0")
    admin(served.url, "settings", {"verify_roles": False})
    client("s3", served.url).create_bucket(Bucket=ARTIFACTS)
    yield served
    status, _, err = served.stop()
    assert status == 0, err


def _pipepilot(served: ServedProcess, *arguments: str) -> list[str]:
    """The pipepilot command line pointed at the served world."""
    return [
        sys.executable,
        "-m",
        "pipepilot",
        "--endpoint-url",
        served.url,
        "--region",
        "us-east-1",
        *arguments,
    ]


def _run(served: ServedProcess, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run pipepilot against the served world."""
    return served.run(*_pipepilot(served, *arguments))


def test_watch_follows_an_execution_that_approve_lets_through(served: ServedProcess) -> None:
    """``pipepilot watch`` follows the execution from another process while ``pipepilot approve`` answers
    its approval; watch ends when the execution succeeds, exit 0, with its JSON fields."""
    codepipeline = client("codepipeline", served.url)
    codepipeline.create_pipeline(pipeline=_pipeline("shop"))
    admin(served.url, "clock/advance", {"seconds": 60})  # the source ran; the approval waits
    watch = subprocess.Popen(
        _pipepilot(served, "--output", "json", "watch", "shop", "--timeout", "600"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=served.env,
        text=True,
    )
    try:
        approved = _run(
            served, "--output", "json", "approve", "shop", "Approve", "Approve", "--summary", "ship it"
        )
        assert approved.returncode == 0, approved.stderr
        answer = json.loads(approved.stdout)
        assert (answer["pipeline"], answer["stage"], answer["status"], answer["summary"]) == (
            "shop",
            "Approve",
            "Approved",
            "ship it",
        )
        admin(served.url, "clock/advance", {"seconds": 600})
        out, err = watch.communicate(timeout=300)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.communicate()
    assert watch.returncode == 0, err
    ended = json.loads(out)
    assert (ended["pipeline"], ended["status"], ended["result"]) == ("shop", "Succeeded", "succeeded")
    assert ended["executionId"] == answer["executionId"]


def test_approve_refuses_when_nothing_waits(served: ServedProcess) -> None:
    """``pipepilot approve`` with no approval waiting exits 254 with one line and answers nothing."""
    client("codepipeline", served.url).create_pipeline(pipeline=_pipeline("idle"))
    admin(served.url, "clock/advance", {"seconds": 60})
    _run(served, "approve", "idle", "Approve", "Approve", "--summary", "first")
    refused = _run(served, "approve", "idle", "Approve", "Approve", "--summary", "again")
    assert refused.returncode == 254
    assert refused.stderr.startswith("pipepilot: ")
    assert refused.stderr.count("\n") == 1


def test_freeze_and_thaw_a_fleet(served: ServedProcess, tmp_path: Path) -> None:
    """``pipepilot freeze 'web-*'`` disables the transition into Deploy in every matching pipeline (as
    GetPipelineState shows, with the reason) and writes the record; ``thaw`` enables exactly those again."""
    codepipeline = client("codepipeline", served.url)
    for name in ("web-a", "web-b"):
        codepipeline.create_pipeline(pipeline=_pipeline(name))
    record = tmp_path / "freeze.json"
    frozen = _run(
        served,
        "--output",
        "json",
        "freeze",
        "web-*",
        "--stage",
        "Deploy",
        "--reason",
        "release freeze",
        "--record",
        str(record),
    )
    assert frozen.returncode == 0, frozen.stderr
    outcomes = {entry["pipeline"]: entry["outcome"] for entry in json.loads(frozen.stdout)["pipelines"]}
    assert outcomes == {"web-a": "disabled", "web-b": "disabled"}
    assert json.loads(record.read_text())["format"] == "pipepilot.freeze/1"
    for name in ("web-a", "web-b"):
        deploy = codepipeline.get_pipeline_state(name=name)["stageStates"][2]["inboundTransitionState"]
        assert (deploy["enabled"], deploy["disabledReason"]) == (False, "release freeze")
    thawed = _run(served, "--output", "json", "thaw", str(record))
    assert thawed.returncode == 0, thawed.stderr
    assert {entry["thaw"] for entry in json.loads(thawed.stdout)["pipelines"]} == {"enabled"}
    for name in ("web-a", "web-b"):
        assert codepipeline.get_pipeline_state(name=name)["stageStates"][2]["inboundTransitionState"][
            "enabled"
        ]


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_pipepilot_local_serve_serves_and_stops(tmp_path: Path, signum: int, status: int) -> None:
    """``pipepilot local serve --port 0 --speed 0`` announces its URL and answers (its clock stopped);
    SIGTERM stops it with exit 0, Ctrl-C with 130, without a traceback."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pipepilot", "local", "serve", "--port", "0", "--speed", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ServedProcess.environment(tmp_path),
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("pipepilot.local serving http://127.0.0.1:")
        url = line.split()[2]
        assert admin(url, "info")[1]["speed"] == 0
        assert client("codepipeline", url).list_pipelines()["pipelines"] == []
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == status, err
    assert "Traceback" not in err
