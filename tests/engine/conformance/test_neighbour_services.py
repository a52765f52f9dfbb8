"""Services release automation calls around a pipeline answer inside ``offline()`` (moto, with its extras)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3
import pytest

from ._support import REGION

if TYPE_CHECKING:
    from pipepilot.local import OfflineAWS

_TEMPLATE: dict[str, object] = {
    "Resources": {"Site": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "release-site"}}},
    "Outputs": {"SiteName": {"Value": {"Ref": "Site"}}},
}


@pytest.mark.slow
def test_cloudformation_stacks_deploy_offline(aws: OfflineAWS) -> None:
    """A CloudFormation stack creates its resources inside offline() (no ModuleNotFoundError from moto)."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(StackName="release", TemplateBody=json.dumps(_TEMPLATE))

    [stack] = cloudformation.describe_stacks(StackName="release")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack.get("Outputs", [])[0]["OutputValue"] == "release-site"
    s3 = boto3.client("s3", region_name=REGION)
    assert "release-site" in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]


def test_secrets_and_parameters_are_readable_offline(aws: OfflineAWS) -> None:
    """Secrets Manager secrets and SSM parameters a bot reads (a Slack token, a channel) answer offline."""
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.create_secret(Name="slack/bot-token", SecretString="xoxb-offline")
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/release/channel", Value="#deploys", Type="String")

    assert secrets.get_secret_value(SecretId="slack/bot-token")["SecretString"] == "xoxb-offline"
    assert ssm.get_parameter(Name="/release/channel")["Parameter"]["Value"] == "#deploys"
