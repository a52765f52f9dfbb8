"""The same boto3 calls answered by pipepilot's offline engine and by moto alone, per-call medians.

Target (issue 3): for every operation both answer, the engine costs no more than moto. Both sides run in
this process with the same botocore, the same kind of client and the same requests: moto inside a plain
``moto.mock_aws()``, the engine inside ``pipepilot.local.offline()``. Everything botocore does on the client
side (parameter validation, signing, parsing) is part of both figures, as a user would see it.

    .venv/bin/python benchmarks/bench_engine_vs_moto.py            # print the table
    .venv/bin/python benchmarks/bench_engine_vs_moto.py --check    # exit 1 if a ratio exceeds 1.0
    .venv/bin/python benchmarks/bench_engine_vs_moto.py --calls 300

Each operation is timed call by call (``time.perf_counter``) after a few warm-up calls; the figure is the
median. moto is measured first, in its own wiring (before pipepilot has replaced moto's botocore handler).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any

import boto3
import botocore.loaders
import botocore.session

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_ROLE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        # One statement per service: moto compares each statement's Service with a plain string.
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            for service in ("codepipeline.amazonaws.com", "codebuild.amazonaws.com")
        ],
    }
)
_ROLE = "arn:aws:iam::123456789012:role/bench"
_WARM_UP = 5
_LOADER = botocore.loaders.create_loader()


def _client(service: str) -> Any:
    # A fresh session per context (as a test would have) sharing parsed models, so set-up stays quick.
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    session = boto3.session.Session(botocore_session=core, region_name="us-east-1")
    return session.client(service)  # type: ignore[call-overload]


def _pipeline(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "roleArn": _ROLE,
        "artifactStore": {"type": "S3", "location": "bench-artifacts"},
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": "Source",
                        "actionTypeId": {
                            "category": "Source",
                            "owner": "AWS",
                            "provider": "S3",
                            "version": "1",
                        },
                        "configuration": {"S3Bucket": "bench-source", "S3ObjectKey": "app.zip"},
                        "outputArtifacts": [{"name": "SourceOutput"}],
                        "runOrder": 1,
                    }
                ],
            },
            {
                "name": "Build",
                "actions": [
                    {
                        "name": "Build",
                        "actionTypeId": {
                            "category": "Build",
                            "owner": "AWS",
                            "provider": "CodeBuild",
                            "version": "1",
                        },
                        "configuration": {"ProjectName": "bench"},
                        "inputArtifacts": [{"name": "SourceOutput"}],
                        "outputArtifacts": [{"name": "BuildOutput"}],
                        "runOrder": 1,
                    }
                ],
            },
        ],
    }


def _project_request(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "source": {"type": "GITHUB", "location": "https://github.com/example/bench"},
        "artifacts": {"type": "NO_ARTIFACTS"},
        "environment": {
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        "serviceRole": _ROLE,
    }


def _median_call(call: Callable[[int], object], calls: int) -> float:
    for index in range(_WARM_UP):
        call(-1 - index)
    samples = []
    for index in range(calls):
        started = time.perf_counter()
        call(index)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def measure(calls: int) -> dict[str, float]:
    """Per-call medians (seconds) of each operation against whatever answers now."""
    iam = _client("iam")
    iam.create_role(RoleName="bench", AssumeRolePolicyDocument=_ROLE_TRUST)
    s3 = _client("s3")
    s3.create_bucket(Bucket="bench-artifacts")
    codebuild = _client("codebuild")
    codepipeline = _client("codepipeline")
    codebuild.create_project(**_project_request("bench"))
    codepipeline.create_pipeline(pipeline=_pipeline("bench"))
    build_id = codebuild.start_build(projectName="bench")["build"]["id"]
    return {
        "codebuild CreateProject": _median_call(
            lambda i: codebuild.create_project(**_project_request(f"p{i + _WARM_UP}")), calls
        ),
        "codebuild BatchGetProjects": _median_call(
            lambda i: codebuild.batch_get_projects(names=["bench"]), calls
        ),
        "codebuild ListProjects": _median_call(lambda i: codebuild.list_projects(), calls),
        "codebuild StartBuild": _median_call(lambda i: codebuild.start_build(projectName="bench"), calls),
        "codebuild BatchGetBuilds": _median_call(lambda i: codebuild.batch_get_builds(ids=[build_id]), calls),
        "codebuild ListBuildsForProject": _median_call(
            lambda i: codebuild.list_builds_for_project(projectName="bench"), calls
        ),
        "codepipeline CreatePipeline": _median_call(
            lambda i: codepipeline.create_pipeline(pipeline=_pipeline(f"p{i + _WARM_UP}")), calls
        ),
        "codepipeline GetPipeline": _median_call(lambda i: codepipeline.get_pipeline(name="bench"), calls),
        "codepipeline ListPipelines": _median_call(lambda i: codepipeline.list_pipelines(), calls),
        "codepipeline UpdatePipeline": _median_call(
            lambda i: codepipeline.update_pipeline(pipeline=_pipeline("bench")), calls
        ),
    }


@contextlib.contextmanager
def _quiet_env() -> Iterator[None]:
    saved = {
        key: os.environ.get(key)
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main(argv: list[str] | None = None) -> int:
    """Print the table; with ``--check`` return 1 when the engine is slower than moto somewhere."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="timed calls per operation (default 200)")
    parser.add_argument("--check", action="store_true", help="exit 1 if any ratio engine/moto exceeds 1.0")
    parser.add_argument("--quick", action="store_true", help="5 calls per operation, to check that it works")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.check = 5, False

    from moto import mock_aws

    with _quiet_env():
        with mock_aws():
            moto_figures = measure(args.calls)

        import pipepilot.local

        with pipepilot.local.offline() as aws:
            aws.build_phase_durations.update(
                dict.fromkeys(aws.build_phase_durations, 1e9)
            )  # builds never end
            engine_figures = measure(args.calls)

    print(f"per-call medians over {args.calls} calls (microseconds); ratio = engine / moto")
    print(f"{'operation':34} {'moto':>10} {'engine':>10} {'ratio':>7}")
    worst = 0.0
    for operation, moto_seconds in moto_figures.items():
        engine_seconds = engine_figures[operation]
        ratio = engine_seconds / moto_seconds
        worst = max(worst, ratio)
        print(f"{operation:34} {moto_seconds * 1e6:10.0f} {engine_seconds * 1e6:10.0f} {ratio:7.2f}")
    print(f"worst ratio: {worst:.2f} (target <= 1.00)")
    return 1 if args.check and worst > 1.0 else 0


if __name__ == "__main__":
    sys.exit(main())
