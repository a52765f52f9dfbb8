"""What the served-world tests share: a release pipeline, its roles, and clients pointed at a server."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from pathlib import Path

ACCOUNT = "123456789012"
REGION = "us-east-1"
PIPELINE = "shop"
PROJECT = "shop-build"
ARTIFACT_BUCKET = "shop-artifacts"
PIPELINE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/shop-pipeline"
BUILD_ROLE = f"arn:aws:iam::{ACCOUNT}:role/shop-build"
# Dummy credentials: the server checks no signature, and nothing may come from the machine's settings.
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# botocore's retries would hide the faults some tests inject.
NO_RETRIES = Config(retries={"total_max_attempts": 1})


def trust(service: str) -> str:
    """A trust policy letting ``service`` (e.g. ``codepipeline``) assume a role."""
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": f"{service}.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _action(name: str, category: str, provider: str, **options: Any) -> dict[str, Any]:
    """An AWS-owned action with its input and output artifacts."""
    inputs, outputs = options.pop("inputs", ()), options.pop("outputs", ())
    return {
        "name": name,
        "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
        "configuration": options,
        "inputArtifacts": [{"name": artifact} for artifact in inputs],
        "outputArtifacts": [{"name": artifact} for artifact in outputs],
    }


def release_pipeline(name: str = PIPELINE) -> dict[str, Any]:
    """Source (S3) -> Build (CodeBuild) -> Approve (manual) -> Deploy (a Lambda invoke)."""
    return {
        "name": name,
        "roleArn": PIPELINE_ROLE,
        "artifactStore": {"type": "S3", "location": ARTIFACT_BUCKET},
        "stages": [
            {
                "name": "Source",
                "actions": [
                    _action(
                        "Source", "Source", "S3", outputs=["App"], S3Bucket="shop-src", S3ObjectKey="app.zip"
                    )
                ],
            },
            {
                "name": "Build",
                "actions": [
                    _action(
                        "Build", "Build", "CodeBuild", inputs=["App"], outputs=["Site"], ProjectName=PROJECT
                    )
                ],
            },
            {"name": "Approve", "actions": [_action("Approve", "Approval", "Manual")]},
            {"name": "Deploy", "actions": [_action("Deploy", "Invoke", "Lambda", FunctionName="deploy")]},
        ],
    }


BUILD_PROJECT: dict[str, Any] = {
    "name": PROJECT,
    "source": {"type": "CODEPIPELINE"},
    "artifacts": {"type": "CODEPIPELINE"},
    "environment": {
        "type": "LINUX_CONTAINER",
        "image": "aws/codebuild/standard:7.0",
        "computeType": "BUILD_GENERAL1_SMALL",
    },
    "serviceRole": BUILD_ROLE,
}


def client(service: str, url: str, *, signature_version: str | None = None) -> Any:
    """A plain boto3 client of ``service`` pointed at a served world (dummy credentials, no retries)."""
    session = boto3.session.Session(
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )
    config = (
        NO_RETRIES
        if signature_version is None
        else NO_RETRIES.merge(Config(signature_version=signature_version))
    )
    new_client: Any = session.client  # any service name: the stubs' overloads want literals
    return new_client(service, endpoint_url=url, config=config)


def admin(
    url: str, path: str, body: dict[str, Any] | None = None, *, method: str | None = None
) -> tuple[int, Any]:
    """Call the admin endpoint ``/_pipepilot/<path>``: ``(status, parsed JSON answer)``."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}/_pipepilot/{path}", data=data, method=method or ("POST" if data is not None else "GET")
    )
    # No proxy from the environment may stand between the test and the local server.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def subprocess_env(home: Path) -> dict[str, str]:
    """The environment of a subprocess (the server, the AWS CLI): nothing from the machine's AWS settings,
    dummy credentials, the world's region, an empty home, and no proxy for the loopback interface."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.update(
        HOME=str(home),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(home / "absent"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "absent"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    return environment


def aws_cli() -> str | None:
    """The AWS CLI's executable on PATH, or None."""
    return shutil.which("aws")
