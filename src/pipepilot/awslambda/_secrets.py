"""Secrets a Lambda function needs (a Slack signing secret, a bot token, a webhook URL), read once per cold start.

A :class:`Secret` says where a secret lives: in AWS Secrets Manager (the whole secret string, or one key of
a JSON secret), in SSM Parameter Store (a ``SecureString``, decrypted), or in an environment variable.
Building one reads nothing; :meth:`Secret.value` reads it the first time it is asked for and keeps it for
the life of the process, which in Lambda is one cold start: every later invocation of the same container
gets it from memory, with no call and no added latency. Concurrent first reads from several threads make
one call between them.

The value is the one thing never shown: not in a ``repr``, not in a log line, not in an error message (a
JSON secret without the key asked for names the key, never the value). AWS calls go through pipepilot's
one boto3 seam, so their errors are pipepilot's (:class:`~pipepilot.errors.ResourceNotFoundError` for a
secret or parameter that does not exist, :class:`~pipepilot.errors.AccessDeniedError` when the function's
role may not read it).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any, Literal

from pipepilot.errors import ArgumentTypeError, ConfigurationError, InvalidArgumentError

__all__ = ["Secret", "forget_secrets"]

logger = logging.getLogger(__name__)

SecretSource = Literal["secretsmanager", "ssm", "environment"]

# The values read so far in this process, by where they came from. One lock guards the table; each entry
# has its own lock for the read, so one slow secret does not hold up another.
_values: dict[tuple[str, str, str | None, str | None], str] = {}
_reading: dict[tuple[str, str, str | None, str | None], threading.Lock] = {}
_table_lock = threading.Lock()


def forget_secrets() -> None:
    """Forget every secret value read in this process, so the next :meth:`Secret.value` reads it again.

    For tests (each offline world has its own secrets), and for a function that learns its secret was
    rotated (Slack refused the token it had).
    """
    with _table_lock:
        _values.clear()
        _reading.clear()


class Secret:
    """Where a secret is kept; :meth:`value` reads it once per process.

    Build one with :meth:`secrets_manager`, :meth:`parameter`, :meth:`environment`, or :meth:`from_reference`
    (one string naming any of them, handy in an environment variable). ``repr`` shows where the secret is,
    never its value. Equal references share one cached value.
    """

    __slots__ = ("key", "name", "region", "source")

    source: SecretSource
    name: str
    key: str | None
    region: str | None

    def __init__(self, *, source: SecretSource, name: str, key: str | None = None, region: str | None = None):
        if source not in ("secretsmanager", "ssm", "environment"):
            raise InvalidArgumentError(
                f"source must be 'secretsmanager', 'ssm' or 'environment', not {source!r}", parameter="source"
            )
        for parameter, value, optional in (
            ("name", name, False),
            ("key", key, True),
            ("region", region, True),
        ):
            if value is None and optional:
                continue
            if not isinstance(value, str):
                raise ArgumentTypeError(
                    f"{parameter} must be a string, not {type(value).__name__}", parameter=parameter
                )
            if not value:
                raise InvalidArgumentError(f"{parameter} must not be empty", parameter=parameter)
        if key is not None and source != "secretsmanager":
            raise InvalidArgumentError(
                "key= picks a member of a JSON secret in Secrets Manager; it has no meaning for " + source,
                parameter="key",
            )
        set_field = object.__setattr__
        set_field(self, "source", source)
        set_field(self, "name", name)
        set_field(self, "key", key)
        set_field(self, "region", region)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Secret is immutable (cannot set {name})")

    def __repr__(self) -> str:
        key = "" if self.key is None else f", key={self.key!r}"
        return f"Secret({self.source}: {self.name!r}{key})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and self._cache_key == other._cache_key

    def __hash__(self) -> int:
        return hash(self._cache_key)

    @property
    def _cache_key(self) -> tuple[str, str, str | None, str | None]:
        return (self.source, self.name, self.key, self.region)

    # ----------------------------------------------------------------------------------------- builders

    @classmethod
    def secrets_manager(cls, secret_id: str, *, key: str | None = None, region: str | None = None) -> Secret:
        """A secret in AWS Secrets Manager: its ARN or name; ``key`` picks one member of a JSON secret.

        ``region`` defaults to the function's own (``AWS_REGION``); a full ARN names its region itself.
        """
        return cls(source="secretsmanager", name=secret_id, key=key, region=region or _arn_region(secret_id))

    @classmethod
    def parameter(cls, name: str, *, region: str | None = None) -> Secret:
        """A parameter in SSM Parameter Store (a ``SecureString`` is decrypted): its name or ARN."""
        return cls(source="ssm", name=name, region=region or _arn_region(name))

    @classmethod
    def environment(cls, variable: str) -> Secret:
        """An environment variable (for a local run; in AWS prefer Secrets Manager or Parameter Store)."""
        return cls(source="environment", name=variable)

    @classmethod
    def from_reference(cls, reference: str) -> Secret:
        """A secret named by one string, as a template passes it in an environment variable.

        * ``arn:aws:secretsmanager:...`` (a secret's ARN), optionally ``#key`` for one member of a JSON secret;
        * ``arn:aws:ssm:...:parameter/...`` or ``ssm:/name`` (a parameter);
        * ``secretsmanager:name`` (optionally ``#key``);
        * ``env:NAME`` (an environment variable).

        Raises:
            InvalidArgumentError: the string names none of these (the message shows the form, not the string).
        """
        if not isinstance(reference, str):
            raise ArgumentTypeError(
                f"a secret reference is a string, not {type(reference).__name__}", parameter="reference"
            )
        if reference.startswith("arn:") and ":secretsmanager:" in reference:
            secret_id, _, key = reference.partition("#")
            return cls.secrets_manager(secret_id, key=key or None)
        if reference.startswith("arn:") and ":ssm:" in reference:
            return cls.parameter(reference)
        if reference.startswith("secretsmanager:"):
            secret_id, _, key = reference.removeprefix("secretsmanager:").partition("#")
            return cls.secrets_manager(secret_id, key=key or None)
        if reference.startswith("ssm:"):
            return cls.parameter(reference.removeprefix("ssm:"))
        if reference.startswith("env:"):
            return cls.environment(reference.removeprefix("env:"))
        # Never quote the string: a misconfigured function may have been given the secret itself.
        raise InvalidArgumentError(
            "a secret reference is a Secrets Manager ARN (optionally #key), an SSM parameter ARN, "
            "'secretsmanager:<name>[#key]', 'ssm:<name>' or 'env:<VARIABLE>'",
            parameter="reference",
        )

    # -------------------------------------------------------------------------------------------- reading

    def value(self, *, client: Any = None) -> str:
        """The secret's value: read on the first call in this process, from memory afterwards.

        ``client`` is the boto3 client to read it with (``secretsmanager`` or ``ssm``; for unusual sessions
        or credentials); by default one is made from boto3's default session, in :attr:`region` or the
        function's own. Either way the call goes through pipepilot's error translation.

        Raises:
            ConfigurationError: the environment variable is not set or empty; the secret is binary, empty, or
                (with ``key``) not a JSON object holding that key as a non-empty string.
            ResourceNotFoundError: no such secret or parameter.
            AccessDeniedError: the function's role may not read it (or not decrypt it with its KMS key).
        """
        cache_key = self._cache_key
        value = _values.get(cache_key)
        if value is not None:
            return value
        with _table_lock:
            lock = _reading.setdefault(cache_key, threading.Lock())
        with lock:  # one read per process, however many threads ask at once
            value = _values.get(cache_key)
            if value is None:
                value = self._read(client)
                with _table_lock:
                    _values[cache_key] = value
                logger.debug("read %r", self)
        return value

    def _read(self, client: Any) -> str:
        if self.source == "environment":
            text = os.environ.get(self.name)
            if not text:
                raise ConfigurationError(f"the environment variable {self.name} (a secret) is not set")
            return text
        from pipepilot._calls import ClientSettings

        caller = ClientSettings(region_name=None if client is not None else self.region).caller(
            self.source, client
        )
        if self.source == "ssm":
            response = caller.call("get_parameter", idempotent=True, Name=self.name, WithDecryption=True)
            text = (response.get("Parameter") or {}).get("Value")
            if not isinstance(text, str) or not text:
                raise ConfigurationError(f"the parameter {self.name!r} is empty")
            return text
        response = caller.call("get_secret_value", idempotent=True, SecretId=self.name)
        text = response.get("SecretString")
        if not isinstance(text, str) or not text:
            raise ConfigurationError(
                f"the secret {self.name!r} holds no text (a binary or empty secret cannot be used here)"
            )
        if self.key is None:
            return text
        return self._member(text)

    def _member(self, text: str) -> str:
        """The member :attr:`key` of the JSON secret ``text`` (errors name the key, never a value)."""
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            # ``from None``: the JSON error would quote the secret's text.
            raise ConfigurationError(
                f"the secret {self.name!r} is not a JSON object, so it has no key {self.key!r}"
            ) from None
        member = document.get(self.key)
        if not isinstance(member, str) or not member:
            raise ConfigurationError(
                f"the secret {self.name!r} has no key {self.key!r} holding a non-empty string "
                f"(its keys: {', '.join(sorted(map(str, document))) or 'none'})"
            )
        return member


def _arn_region(name: str) -> str | None:
    """The region an ARN names (``arn:aws:service:region:account:...``), else ``None``."""
    parts = name.split(":")
    if len(parts) > 4 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return None
