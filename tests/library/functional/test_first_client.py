"""How a user's first client comes to be: offline with no AWS settings, online with a clear error, shared.

The suite's conftest leaves no AWS setting in the environment, so these tests see what a new user sees.
"""

from __future__ import annotations

import json
import os
import threading
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

import pipepilot
import pipepilot.local
from pipepilot import _calls
from pipepilot.errors import (
    AccessDeniedError,
    CredentialsNotFoundError,
    ProfileNotFoundError,
    RegionNotSetError,
    SSOTokenExpiredError,
)

if TYPE_CHECKING:
    from pathlib import Path


def _access_key(client: Any) -> str:
    credentials = client._request_signer._credentials
    return str(credentials.get_frozen_credentials().access_key)


def _count_new_sessions(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The sessions pipepilot creates from now on (boto3's default one, when there is none yet)."""
    made: list[Any] = []
    real = _calls.new_session

    def counted(**options: Any) -> Any:
        made.append(real(**options))
        return made[-1]

    monkeypatch.setattr(_calls, "new_session", counted)
    return made


# -- offline ----------------------------------------------------------------------------------------------------


def test_offline_needs_no_aws_settings() -> None:
    """With no region, profile or credentials anywhere, a facade inside offline() lists pipelines."""
    assert not [name for name in os.environ if name.startswith("AWS_") and "FILE" not in name]
    with pipepilot.local.offline():
        cp = pipepilot.CodePipeline()
        assert list(cp.pipelines()) == []
        assert cp.client.meta.region_name == "us-east-1"
        assert pipepilot.CodeBuild().client.meta.region_name == "us-east-1"


def test_offline_clients_get_the_worlds_region_and_dummy_credentials_not_the_environments() -> None:
    """Clients made inside offline() sign with dummy credentials, and no region is put in os.environ."""
    with pipepilot.local.offline(region="eu-west-1"):
        client = pipepilot.CodePipeline().client
        assert client.meta.region_name == "eu-west-1"
        assert _access_key(client) == "testing"
        assert "AWS_REGION" not in os.environ
        assert "AWS_DEFAULT_REGION" not in os.environ


def test_the_offline_world_does_not_leak_into_clients_made_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the context, facades (even one made inside it) create clients from the user's own settings."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDUSERSOWN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "users-own-secret")
    before = _calls.default_session()
    with pipepilot.local.offline(region="eu-west-1"):
        inside = _calls.default_session()
        made_inside = pipepilot.CodePipeline()
    assert inside is not before
    assert _calls.default_session() is before
    with pytest.raises(RegionNotSetError):
        made_inside.client  # noqa: B018 (no region outside the world, and the world's is not inherited)
    client = pipepilot.CodePipeline(region_name="ap-south-1").client
    assert _access_key(client) == "AKIDUSERSOWN"
    assert client.meta.events is not None


# -- one session per process ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("fake_credentials")
def test_facades_share_one_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every facade given no session creates its clients from boto3's default session, made once."""
    made = _count_new_sessions(monkeypatch)
    first = pipepilot.CodePipeline(region_name="us-east-1").client
    second = pipepilot.CodePipeline(region_name="us-east-1").client
    builds = pipepilot.CodeBuild(region_name="us-east-1").client
    assert len(made) == 1
    assert boto3.DEFAULT_SESSION is made[0]
    assert first is not second
    assert first.meta.service_model.service_name == "codepipeline"
    assert builds.meta.service_model.service_name == "codebuild"


@pytest.mark.usefixtures("fake_credentials")
def test_a_users_default_session_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3.setup_default_session(...) applies to pipepilot's facades as it does to boto3.client()."""
    boto3.setup_default_session(region_name="sa-east-1")
    assert pipepilot.CodePipeline().client.meta.region_name == "sa-east-1"


@pytest.mark.usefixtures("fake_credentials")
def test_a_session_passed_in_is_used_instead_of_the_shared_one() -> None:
    """session= still wins: the facade's clients come from it, and the default session is not created."""
    session = boto3.session.Session(region_name="ca-central-1")
    assert pipepilot.CodePipeline(session=session).client.meta.region_name == "ca-central-1"
    assert boto3.DEFAULT_SESSION is None


@pytest.mark.usefixtures("fake_credentials")
def test_first_clients_from_many_threads_share_one_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads racing to their first client create one default session between them, and all succeed."""
    made = _count_new_sessions(monkeypatch)
    start = threading.Barrier(8)
    clients: list[Any] = []
    failures: list[BaseException] = []

    def first_client() -> None:
        start.wait()
        try:
            clients.append(pipepilot.CodePipeline(region_name="us-east-1").client)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=first_client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(clients) == 8
    assert len(made) == 1


# -- online, without settings -----------------------------------------------------------------------------------


def test_no_region_is_a_region_not_set_error_saying_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """Online with no region anywhere, the first client raises RegionNotSetError in one line."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # botocore looks for credentials first
    cp = pipepilot.CodePipeline()
    with pytest.raises(RegionNotSetError) as info:
        cp.client  # noqa: B018
    text = str(info.value)
    assert "\n" not in text
    assert "AWS_REGION" in text
    assert "region_name=" in text


def test_an_unknown_profile_is_a_profile_not_found_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_PROFILE naming no profile raises ProfileNotFoundError naming it, in one line."""
    monkeypatch.setenv("AWS_PROFILE", "does-not-exist")
    with pytest.raises(ProfileNotFoundError) as info:
        pipepilot.CodePipeline(region_name="us-east-1").client  # noqa: B018
    assert info.value.profile == "does-not-exist"
    assert "'does-not-exist'" in str(info.value)
    assert "AWS_PROFILE" in str(info.value)


def test_no_credentials_is_a_credentials_not_found_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a region but no credentials, the first call raises CredentialsNotFoundError (nothing is sent)."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # this machine is no EC2 instance either
    cp = pipepilot.CodePipeline(region_name="us-east-1")
    with pytest.raises(CredentialsNotFoundError) as info:
        list(cp.pipelines())
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("ListPipelines was not sent: no AWS credentials found")
    assert "AWS_PROFILE" in text


def test_an_sso_profile_without_a_live_session_says_aws_sso_login(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A profile using IAM Identity Center whose login is missing or expired raises SSOTokenExpiredError."""
    config = tmp_path / "config"
    config.write_text(
        "[profile dev]\n"
        "sso_start_url = https://example.awsapps.com/start\n"
        "sso_region = us-east-1\n"
        "sso_account_id = 123456789012\n"
        "sso_role_name = Developer\n"
        "region = us-east-1\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "dev")
    monkeypatch.setenv("HOME", str(tmp_path))  # the SSO token cache (~/.aws/sso/cache) is empty
    cache = tmp_path / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    expired = {"startUrl": "https://example.awsapps.com/start", "region": "us-east-1", "accessToken": "x"}
    expired["expiresAt"] = "2020-01-01T00:00:00Z"
    (cache / "stale.json").write_text(json.dumps(expired))
    cp = pipepilot.CodePipeline()
    with pytest.raises(SSOTokenExpiredError) as info:
        list(cp.pipelines())
    assert "aws sso login" in str(info.value)
    assert isinstance(info.value, AccessDeniedError)


@pytest.mark.usefixtures("fake_credentials")
def test_access_denied_names_the_refused_iam_action() -> None:
    """An AccessDeniedException from AWS becomes AccessDeniedError with the IAM action that was refused."""
    client = boto3.client("codepipeline", region_name="us-east-1")
    cp = pipepilot.CodePipeline(client)
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_pipeline_state",
            service_error_code="AccessDeniedException",
            service_message="User: arn:aws:sts::123456789012:assumed-role/ci/bot is not authorized to perform: "
            "codepipeline:GetPipelineState on resource: arn:aws:codepipeline:us-east-1:123456789012:shop",
            http_status_code=400,
        )
        with pytest.raises(AccessDeniedError) as info:
            cp.pipeline("shop").state()
    assert info.value.action == "codepipeline:GetPipelineState"
    assert "may not perform codepipeline:GetPipelineState" in str(info.value)
