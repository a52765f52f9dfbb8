"""Secrets for Lambda functions (``pipepilot.awslambda.Secret``): Secrets Manager, SSM Parameter Store and the
environment, read once per process, never shown (offline: moto answers Secrets Manager and SSM)."""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING

import pytest

from pipepilot.awslambda import Secret, forget_secrets
from pipepilot.errors import ConfigurationError, InvalidArgumentError, NotFoundError, PipepilotError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pipepilot.local import OfflineAWS

VALUE = "xoxb-0000-secret-value"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Each test starts as a cold start: no secret read yet."""
    forget_secrets()
    yield
    forget_secrets()


def _secret(aws: OfflineAWS, text: str, name: str = "slack") -> str:
    return str(aws.client("secretsmanager").create_secret(Name=name, SecretString=text)["ARN"])


def test_a_secrets_manager_secret_is_read_once_per_process(offline_aws: OfflineAWS) -> None:
    """The first value() reads the secret; later ones come from memory, with no call (the secret may even be
    gone): one read per cold start."""
    arn = _secret(offline_aws, VALUE)
    reads = offline_aws.faults.add(operation="GetSecretValue", latency=0.001)
    assert Secret.secrets_manager(arn).value() == VALUE
    offline_aws.client("secretsmanager").delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert Secret.from_reference(arn).value() == VALUE
    assert reads.calls == 1


def test_one_key_of_a_json_secret(offline_aws: OfflineAWS) -> None:
    """``key`` picks one member of a JSON secret (``#key`` in a reference)."""
    arn = _secret(offline_aws, json.dumps({"signing_secret": "abc123", "bot_token": VALUE}))
    assert Secret.secrets_manager(arn, key="bot_token").value() == VALUE
    assert Secret.from_reference(f"{arn}#signing_secret").value() == "abc123"
    assert Secret.from_reference("secretsmanager:slack#signing_secret").value() == "abc123"


@pytest.mark.parametrize(
    "text", [json.dumps({"other": VALUE}), json.dumps({"bot_token": 7}), VALUE, "[1, 2]"]
)
def test_a_missing_key_names_the_key_never_the_value(offline_aws: OfflineAWS, text: str) -> None:
    """A JSON secret without the key (or a secret that is not JSON) is a ConfigurationError naming the key;
    the secret's text is in neither the message nor the chained errors."""
    arn = _secret(offline_aws, text)
    with pytest.raises(ConfigurationError) as caught:
        Secret.secrets_manager(arn, key="bot_token").value()
    assert "bot_token" in str(caught.value)
    assert VALUE not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or VALUE not in repr(caught.value.__context__)


def test_an_ssm_secure_string_is_decrypted(offline_aws: OfflineAWS) -> None:
    """A SecureString parameter is read decrypted, by name or ``ssm:`` reference."""
    offline_aws.client("ssm").put_parameter(Name="/slack/signing", Value=VALUE, Type="SecureString")
    assert Secret.parameter("/slack/signing").value() == VALUE
    forget_secrets()
    assert Secret.from_reference("ssm:/slack/signing").value() == VALUE


def test_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment variable works too (for local runs); an unset one is a ConfigurationError."""
    monkeypatch.setenv("SLACK_SIGNING_SECRET", VALUE)
    assert Secret.from_reference("env:SLACK_SIGNING_SECRET").value() == VALUE
    with pytest.raises(ConfigurationError, match="SLACK_BOT_TOKEN"):
        Secret.environment("SLACK_BOT_TOKEN").value()


def test_secrets_that_do_not_exist_are_pipepilot_errors(offline_aws: OfflineAWS) -> None:
    """A missing secret or parameter raises a pipepilot error (not found), and nothing is cached."""
    with pytest.raises(NotFoundError):
        Secret.secrets_manager("absent").value()
    with pytest.raises(PipepilotError):
        Secret.parameter("/absent").value()
    arn = _secret(offline_aws, VALUE, name="absent")
    assert Secret.secrets_manager(arn).value() == VALUE


def test_concurrent_first_reads_make_one_call(offline_aws: OfflineAWS) -> None:
    """Threads asking at once at a cold start share one read."""
    arn = _secret(offline_aws, VALUE)
    reads = offline_aws.faults.add(operation="GetSecretValue", latency=0.05)
    secret = Secret.secrets_manager(arn)
    values: list[str] = []
    threads = [threading.Thread(target=lambda: values.append(secret.value())) for _ in range(8)]
    with offline_aws.clock.waiting():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert values == [VALUE] * 8
    assert reads.calls == 1


def test_the_value_is_never_shown_or_logged(
    offline_aws: OfflineAWS, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither repr nor pipepilot's logs show the value."""
    caplog.set_level(logging.DEBUG, logger="pipepilot")
    arn = _secret(offline_aws, VALUE)
    secret = Secret.secrets_manager(arn, key=None)
    assert secret.value() == VALUE
    assert VALUE not in repr(secret)
    assert "secretsmanager" in repr(secret)
    assert VALUE not in caplog.text


@pytest.mark.parametrize("reference", [VALUE, "https://hooks.slack.com/services/T0/B0/" + VALUE, ""])
def test_a_malformed_reference_is_refused_without_quoting_it(reference: str) -> None:
    """A string that names no secret (perhaps the secret itself, pasted by mistake) is refused, unquoted."""
    with pytest.raises(InvalidArgumentError) as caught:
        Secret.from_reference(reference)
    if reference:
        assert reference not in str(caught.value)


def test_equal_references_are_equal_and_immutable() -> None:
    """Two references to the same place are equal (and share one cached value); a Secret cannot be changed."""
    assert Secret.parameter("/a") == Secret.from_reference("ssm:/a")
    assert hash(Secret.parameter("/a")) == hash(Secret.from_reference("ssm:/a"))
    with pytest.raises(AttributeError):
        Secret.parameter("/a").name = "/b"
    with pytest.raises(InvalidArgumentError):
        Secret(source="ssm", name="/a", key="k")


def test_a_given_client_is_used(offline_aws: OfflineAWS) -> None:
    """``value(client=...)`` reads with that boto3 client (another session or credentials)."""
    arn = _secret(offline_aws, VALUE)
    client = offline_aws.client("secretsmanager", region="us-east-1")
    assert Secret.secrets_manager(arn).value(client=client) == VALUE
