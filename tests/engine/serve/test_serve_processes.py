"""The served world from other processes: ``python -m pipepilot.local serve`` driven by the plain AWS CLI.

These are real subprocesses: the server, then one ``aws ... --endpoint-url`` per call, each with dummy
credentials in its own environment and nothing from the machine's AWS settings. CI installs the AWS CLI in
a virtual environment of its own (it pins its own botocore); where ``aws`` is not on PATH the AWS CLI tests
are skipped, the server's own ones still run.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import zipfile
from typing import TYPE_CHECKING, Any

import pytest

from tests.engine.serve._process import ServedProcess, aws
from tests.engine.serve._world import (
    ARTIFACT_BUCKET,
    BUILD_PROJECT,
    PIPELINE,
    PROJECT,
    admin,
    aws_cli,
    release_pipeline,
    subprocess_env,
    trust,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.slow, pytest.mark.allow_hosts(["127.0.0.1"])]

needs_aws_cli = pytest.mark.skipif(
    aws_cli() is None,
    reason="the AWS CLI (aws) is not on PATH; .ci/run installs it in a venv of its own (pip install awscli)",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProcess]:
    """One server subprocess for the module (its clock moved by hand), stopped with SIGTERM at the end:
    it must exit 0 without a traceback."""
    served = ServedProcess(tmp_path_factory.mktemp("home"), "--speed", "0", "--seed", "1")
    yield served
    status, _, err = served.stop()
    assert status == 0, err
    assert "Traceback" not in err


def _state(served: ServedProcess, name: str = PIPELINE) -> dict[str, Any]:
    """The pipeline's stages by name, as the AWS CLI reads them."""
    return {
        stage["stageName"]: stage
        for stage in aws(served, "codepipeline", "get-pipeline-state", "--name", name)["stageStates"]
    }


@pytest.fixture(scope="module")
def release(served: ServedProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The release pipeline created with the AWS CLI (roles, buckets, project, pipeline), its build
    scripted through the admin endpoint, and run up to its approval."""
    files = tmp_path_factory.mktemp("declarations")
    aws(
        served,
        "iam",
        "create-role",
        "--role-name",
        "shop-pipeline",
        "--assume-role-policy-document",
        trust("codepipeline"),
    )
    aws(
        served,
        "iam",
        "create-role",
        "--role-name",
        "shop-build",
        "--assume-role-policy-document",
        trust("codebuild"),
    )
    aws(served, "s3", "mb", f"s3://{ARTIFACT_BUCKET}")
    aws(served, "s3", "mb", "s3://shop-src")
    source = files / "app.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("app.py", "print('shop v1')\n" * 2000)  # big enough for a chunked upload
    aws(served, "s3", "cp", str(source), "s3://shop-src/app.zip")
    (files / "project.json").write_text(json.dumps(BUILD_PROJECT))
    aws(served, "codebuild", "create-project", "--cli-input-json", f"file://{files / 'project.json'}")
    admin(
        served.url,
        "scripts/build",
        {
            "project": PROJECT,
            "fail_in": None,
            "log_lines": ["compiled shop v1"],
            "artifact_files": {"index.html": "shop v1"},
        },
    )
    admin(served.url, "lambdas", {"name": "deploy"})
    (files / "pipeline.json").write_text(json.dumps(release_pipeline()))
    created = aws(
        served, "codepipeline", "create-pipeline", "--pipeline", f"file://{files / 'pipeline.json'}"
    )
    assert created["pipeline"]["version"] == 1
    assert admin(served.url, "clock/advance", {"seconds": 600})[0] == 200
    return {"files": files, "source": source}


@needs_aws_cli
def test_the_aws_cli_sees_the_approval_and_answers_it(served: ServedProcess, release: dict[str, Any]) -> None:
    """``aws codepipeline get-pipeline-state`` shows the pending approval with its token;
    ``put-approval-result`` with it lets the release through to success."""
    approval = _state(served)["Approve"]["actionStates"][0]["latestExecution"]
    assert approval["status"] == "InProgress"
    result = aws(
        served,
        "codepipeline",
        "put-approval-result",
        "--pipeline-name",
        PIPELINE,
        "--stage-name",
        "Approve",
        "--action-name",
        "Approve",
        "--result",
        "summary=ship it,status=Approved",
        "--token",
        approval["token"],
    )
    assert "approvedAt" in result
    admin(served.url, "clock/advance", {"seconds": 600})
    (execution,) = aws(served, "codepipeline", "list-pipeline-executions", "--pipeline-name", PIPELINE)[
        "pipelineExecutionSummaries"
    ]
    assert execution["status"] == "Succeeded"


@needs_aws_cli
def test_the_aws_cli_reads_build_logs_and_downloads_artifacts(
    served: ServedProcess, release: dict[str, Any], tmp_path: Path
) -> None:
    """``aws logs get-log-events`` reads the build's log lines and ``aws s3 cp`` downloads its output
    artifact (the zip the engine wrote to the artifact store), and the source artifact: byte for byte the
    object ``aws s3 cp`` uploaded."""
    (build_id,) = aws(served, "codebuild", "list-builds-for-project", "--project-name", PROJECT)["ids"]
    (build,) = aws(served, "codebuild", "batch-get-builds", "--ids", build_id)["builds"]
    assert build["buildStatus"] == "SUCCEEDED"
    logs = build["logs"]
    events = aws(
        served,
        "logs",
        "get-log-events",
        "--log-group-name",
        logs["groupName"],
        "--log-stream-name",
        logs["streamName"],
    )["events"]
    assert "compiled shop v1" in [event["message"] for event in events]
    details = aws(served, "codepipeline", "list-action-executions", "--pipeline-name", PIPELINE)[
        "actionExecutionDetails"
    ]
    (built,) = [detail for detail in details if detail["actionName"] == "Build"]
    location = built["output"]["outputArtifacts"][0]["s3location"]
    target = tmp_path / "site.zip"
    aws(served, "s3", "cp", f"s3://{location['bucket']}/{location['key']}", str(target))
    with zipfile.ZipFile(target) as archive:
        assert archive.read("index.html") == b"shop v1"
    (sourced,) = [detail for detail in details if detail["actionName"] == "Source"]
    location = sourced["output"]["outputArtifacts"][0]["s3location"]
    aws(served, "s3", "cp", f"s3://{location['bucket']}/{location['key']}", str(tmp_path / "source.zip"))
    assert (tmp_path / "source.zip").read_bytes() == release["source"].read_bytes()


@needs_aws_cli
def test_the_aws_cli_disables_and_enables_a_transition(
    served: ServedProcess, release: dict[str, Any]
) -> None:
    """``disable-stage-transition`` shows in get-pipeline-state with its reason; ``enable-stage-transition``
    clears it."""
    aws(
        served,
        "codepipeline",
        "disable-stage-transition",
        "--pipeline-name",
        PIPELINE,
        "--stage-name",
        "Deploy",
        "--transition-type",
        "Inbound",
        "--reason",
        "change freeze",
    )
    transition = _state(served)["Deploy"]["inboundTransitionState"]
    assert (transition["enabled"], transition["disabledReason"]) == (False, "change freeze")
    aws(
        served,
        "codepipeline",
        "enable-stage-transition",
        "--pipeline-name",
        PIPELINE,
        "--stage-name",
        "Deploy",
        "--transition-type",
        "Inbound",
    )
    assert _state(served)["Deploy"]["inboundTransitionState"]["enabled"] is True


@needs_aws_cli
def test_the_aws_cli_sees_a_fault_switched_on_and_errors_like_aws(
    served: ServedProcess, release: dict[str, Any]
) -> None:
    """A ThrottlingException rule added through the admin endpoint fails ``get-pipeline-state`` (retried
    once by the AWS CLI) with AWS's message, and the rule counts both attempts; an unknown pipeline answers PipelineNotFoundException; both
    exit non-zero with the error on stderr."""
    admin(
        served.url,
        "faults",
        {"service": "codepipeline", "operation": "GetPipelineState", "error": "ThrottlingException"},
    )
    try:
        failed = aws(
            served,
            "codepipeline",
            "get-pipeline-state",
            "--name",
            PIPELINE,
            check=False,
            AWS_RETRY_MODE="standard",
            AWS_MAX_ATTEMPTS="2",
        )
        (rule,) = admin(served.url, "faults")[1]["rules"]
        assert (rule["calls"], rule["fired"]) == (2, 2)
    finally:
        admin(served.url, "faults", method="DELETE")
    assert failed.returncode != 0
    assert "ThrottlingException" in failed.stderr
    assert "Rate exceeded" in failed.stderr
    missing = aws(served, "codepipeline", "get-pipeline-state", "--name", "nope", check=False)
    assert missing.returncode != 0
    assert "PipelineNotFoundException" in missing.stderr
    assert _state(served)["Source"]["stageName"] == "Source"  # cleared: answered again


@needs_aws_cli
def test_the_aws_cli_works_in_another_region(served: ServedProcess) -> None:
    """A request signed for another region reaches that region's engine (empty) and moto's backend."""
    assert aws(served, "codepipeline", "list-pipelines", "--region", "eu-west-1")["pipelines"] == []
    assert aws(served, "sts", "get-caller-identity")["Account"] == "123456789012"


def test_ctrl_c_stops_the_server_with_130_and_no_traceback(tmp_path: Path) -> None:
    """SIGINT (Ctrl-C) stops ``python -m pipepilot.local serve`` with exit status 130 and no traceback; a
    request answered before it shows in the ``-v`` log."""
    served = ServedProcess(tmp_path, "--speed", "60", "-v")
    assert "speed 60" in served.announcement
    assert admin(served.url, "info")[1]["speed"] == 60
    status, _, err = served.stop(signal.SIGINT)
    assert status == 130
    assert "Traceback" not in err
    assert "admin GET /_pipepilot/info -> 200" in err


def test_a_busy_port_exits_1_with_one_line(tmp_path: Path) -> None:
    """On a port already in use, ``python -m pipepilot.local serve`` exits 1 with a one-line message."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        completed = subprocess.run(
            [sys.executable, "-m", "pipepilot.local", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            env=subprocess_env(tmp_path),
            timeout=120,
            check=False,
        )
    assert completed.returncode == 1
    assert (
        completed.stderr.strip()
        == f"python -m pipepilot.local serve: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
