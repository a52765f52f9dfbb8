"""Each offline() world starts from nothing, even though sessions share botocore's immutable set-up.

Sessions copy a process-wide emitter carrying botocore's built-in handlers instead of registering them
again; these tests pin down that nothing a world (or a session) adds is seen by the next one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import botocore.handlers

import pipepilot.local
from pipepilot import _calls

if TYPE_CHECKING:
    import pytest

_ROLE = "arn:aws:iam::123456789012:role/isolation"


def _access_key(client: Any) -> str:
    return str(client._request_signer._credentials.get_frozen_credentials().access_key)


def _pipeline(name: str) -> dict[str, Any]:
    action = {
        "name": "Source",
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {"S3Bucket": "src", "S3ObjectKey": "app.zip"},
        "outputArtifacts": [{"name": "out"}],
    }
    approval = {
        "name": "Approve",
        "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
    }
    return {
        "name": name,
        "roleArn": _ROLE,
        "artifactStore": {"type": "S3", "location": "artifacts"},
        "stages": [{"name": "Source", "actions": [action]}, {"name": "Gate", "actions": [approval]}],
    }


def test_successive_worlds_share_no_pipelines_sessions_credentials_or_hooks() -> None:
    """A second world sees none of the first one's pipelines, sessions, clients, credentials or handlers."""
    called: list[str] = []

    def spy(**kwargs: Any) -> None:
        called.append(kwargs["event_name"])

    with pipepilot.local.offline() as first:
        first.verify_roles = False
        client = first.client("codepipeline")
        client.create_pipeline(pipeline=_pipeline("only-in-the-first-world"))
        first_session = boto3.DEFAULT_SESSION
        assert first_session is not None
        first_session.events.register("before-call.codepipeline.ListPipelines", spy)
        client.meta.events.register("before-call.codepipeline.ListPipelines", spy)
        first_client_session = first._client_session
        first_credentials = first_session.get_credentials()
        assert len(client.list_pipelines()["pipelines"]) == 1
        assert len(called) == 1  # the client's emitter was copied before the session's handler came
    called.clear()

    with pipepilot.local.offline() as second:
        assert boto3.DEFAULT_SESSION is not first_session
        assert second._client_session is None  # made on the first client, never kept from a world before
        again = second.client("codepipeline")
        assert again is not client
        assert second._client_session is not first_client_session
        assert again.list_pipelines()["pipelines"] == []
        assert boto3.client("codepipeline").list_pipelines()["pipelines"] == []
        assert called == []
        assert boto3.DEFAULT_SESSION is not None
        assert boto3.DEFAULT_SESSION.get_credentials() is not first_credentials
        assert _access_key(again) == "testing"


def test_clients_of_one_world_share_its_session_but_keep_their_region_and_config() -> None:
    """aws.client() builds every client from one session per world; region= and config= still apply."""
    from botocore.config import Config

    with pipepilot.local.offline(region="eu-west-1") as aws:
        iam = aws.client("iam")
        s3 = aws.client("s3")
        elsewhere = aws.client("codepipeline", region="ap-south-1")
        configured = aws.client("codepipeline", config=Config(retries={"total_max_attempts": 7}))
        assert aws.client("iam") is iam
        assert s3.meta.region_name == "eu-west-1"
        assert elsewhere.meta.region_name == "ap-south-1"
        assert configured.meta.region_name == "eu-west-1"
        assert configured.meta.config.retries["total_max_attempts"] == 7
        assert configured is not aws.client("codepipeline")
        assert s3.list_buckets()["Buckets"] == []


def test_handlers_registered_on_one_session_never_reach_another() -> None:
    """Sessions copy botocore's built-in handlers; what one session registers stays its own."""
    seen: list[str] = []

    def spy(**kwargs: Any) -> None:
        seen.append("spied")

    one = _calls.new_session(credentials=("a", "b"))
    one.events.register("pipepilot-test.event", spy)
    other = _calls.new_session(credentials=("a", "b"))
    other.events.emit("pipepilot-test.event")
    _calls.new_session(credentials=("a", "b")).events.emit("pipepilot-test.event")
    assert seen == []
    one.events.emit("pipepilot-test.event")
    assert seen == ["spied"]


def test_a_session_carries_the_handlers_a_plain_botocore_session_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A handler added to botocore's built-in list (as moto does on import) reaches sessions made after."""
    seen: list[str] = []

    def builtin(**kwargs: Any) -> None:
        seen.append(kwargs["event_name"])

    _calls.new_session(credentials=("a", "b"))  # the template as it was
    monkeypatch.setattr(
        botocore.handlers,
        "BUILTIN_HANDLERS",
        [*botocore.handlers.BUILTIN_HANDLERS, ("pipepilot-test.builtin", builtin)],
    )
    _calls.new_session(credentials=("a", "b")).events.emit("pipepilot-test.builtin")
    assert seen == ["pipepilot-test.builtin"]
    monkeypatch.undo()
    _calls.new_session(credentials=("a", "b")).events.emit("pipepilot-test.builtin")
    assert seen == ["pipepilot-test.builtin"]
