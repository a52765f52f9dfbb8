"""Job workers for Lambda invoke actions: the typed ``CodePipeline.job`` event, and answering it exactly once.

A Lambda invoke action runs a function with an event naming one *job*; the function must answer the job
with ``PutJobSuccessResult`` (finished, or "in progress" with a continuation token) or
``PutJobFailureResult``, or the action hangs until it times out (20 minutes per job). The contract is easy
to get wrong, and public samples do: they report twice (a ``try`` whose ``except`` reports failure after a
success whose response was lost), report nothing (the function raised, or Lambda killed it at its own
timeout), log the event (it carries the artifact store's temporary credentials), or report a success
CodePipeline refuses (an output variable with a bad name) and leave the action hanging.

:func:`job_worker` turns a function ``work(job, context)`` into a Lambda handler that answers each job
exactly once:

* the function returns ``None``, a mapping of output variables or a :class:`Success`: success;
* it returns an :class:`InProgress` with a state: "in progress" (the state, JSON-encoded, is the
  continuation token; CodePipeline invokes the function again with a new job whose :attr:`Job.state` is
  that state);
* it raises: failure, with the :class:`FailureType` a :class:`JobFailure` names (``JobFailed`` otherwise;
  ``PermissionError`` for an access-denied error), and a message cut to 5,000 characters in which the
  job's artifact credentials are masked;
* it runs too long: the handler reports before Lambda would kill it (failure by default, or "in progress"
  with the state the invocation started from: ``on_timeout="continue"``).

Every report is checked against the API's rules before it is sent. A report whose response was lost is
sent again, and ``InvalidJobStateException`` then means the first one landed (or another invocation
answered): the job is answered, nothing more is sent. A duplicate invocation of a job this process already
answered is a logged no-op.

:class:`Job` is pure (no I/O); the artifact helpers live in :mod:`pipepilot.awslambda._artifacts`.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import threading
import traceback
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, overload

import attrs

from pipepilot.errors import (
    AccessDeniedError,
    ArgumentTypeError,
    InvalidArgumentError,
    InvalidJobStateError,
    MalformedInputError,
    PipepilotError,
    RequestValidationError,
    TransientError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pipepilot._calls import Caller

__all__ = [
    "CONTINUATION_TOKEN_LIMIT",
    "FAILURE_MESSAGE_LIMIT",
    "OUTPUT_VARIABLES_LIMIT",
    "SUMMARY_LIMIT",
    "ArtifactCredentials",
    "EncryptionKey",
    "FailureType",
    "InProgress",
    "Job",
    "JobArtifact",
    "JobFailure",
    "JobOutcome",
    "PipelineContext",
    "Success",
    "job_worker",
]

logger = logging.getLogger(__name__)

#: Longest continuation token CodePipeline accepts (characters).
CONTINUATION_TOKEN_LIMIT = 2048
#: Longest ``executionDetails.summary`` (characters); longer summaries are cut.
SUMMARY_LIMIT = 2048
#: Longest failure message (characters); longer messages are cut.
FAILURE_MESSAGE_LIMIT = 5000
#: Largest total of output variable names and values (bytes, UTF-8).
OUTPUT_VARIABLES_LIMIT = 122_880
#: Longest ``externalExecutionId`` (characters).
EXTERNAL_ID_LIMIT = 1500

_EVENT_KEY = "CodePipeline.job"
_MASK = "***"
_ELLIPSIS = "…"
_VARIABLE_NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@-_")
# Job ids this process answered (or is answering), newest last: a duplicate invocation that lands in the
# same warm Lambda environment is recognised without running the worker again. Bounded: old ids go.
_ANSWERED_LIMIT = 1024
_answered: OrderedDict[str, str] = OrderedDict()
_answered_lock = threading.Lock()
# Sends of one report after a response was lost (each one that gets no answer may still have landed).
_REPORT_ATTEMPTS = 4


# ------------------------------------------------------------------------------------------ the event


@attrs.frozen(kw_only=True)
class ArtifactCredentials:
    """The temporary credentials a job gets for the artifact store (``artifactCredentials``).

    All three parts are secrets: none of them is in ``repr``, and pipepilot masks them in every message
    it logs or reports. ``expiration`` is when they expire (Lambda events carry it; ``None`` otherwise).
    """

    access_key_id: str = attrs.field(repr=False)
    secret_access_key: str = attrs.field(repr=False)
    session_token: str | None = attrs.field(repr=False)
    expiration: datetime | None = None

    def __repr__(self) -> str:
        return f"ArtifactCredentials(access_key_id='***', expiration={self.expiration!r})"

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ArtifactCredentials:
        """Read ``artifactCredentials`` (``expirationTime`` in epoch milliseconds, when present).

        Raises:
            MalformedInputError: a key is missing or is not a string.
        """
        expiration = data.get("expirationTime")
        return cls(
            access_key_id=_string(data, "accessKeyId", "artifactCredentials"),
            secret_access_key=_string(data, "secretAccessKey", "artifactCredentials"),
            session_token=_string(data, "sessionToken", "artifactCredentials", optional=True),
            expiration=(
                datetime.fromtimestamp(expiration / 1000, tz=timezone.utc)
                if isinstance(expiration, (int, float)) and not isinstance(expiration, bool)
                else None
            ),
        )

    def to_api(self) -> dict[str, Any]:
        """The ``artifactCredentials`` object, as the event carries it."""
        data: dict[str, Any] = {"accessKeyId": self.access_key_id, "secretAccessKey": self.secret_access_key}
        if self.session_token is not None:
            data["sessionToken"] = self.session_token
        if self.expiration is not None:
            data["expirationTime"] = round(self.expiration.timestamp() * 1000)
        return data

    def secrets(self) -> tuple[str, ...]:
        """The values to mask wherever text leaves pipepilot (logs, reports, errors)."""
        return tuple(
            value for value in (self.secret_access_key, self.session_token, self.access_key_id) if value
        )


@attrs.frozen(kw_only=True)
class JobArtifact:
    """One input or output artifact of a job: its name, where it lives in S3, and its revision."""

    name: str
    bucket: str
    key: str
    revision: str | None = None

    @classmethod
    def from_api(cls, data: object, *, path: str) -> JobArtifact:
        """Read one entry of ``inputArtifacts`` / ``outputArtifacts``.

        Raises:
            MalformedInputError: it is not an artifact with an S3 location.
        """
        if not isinstance(data, Mapping):
            raise _malformed(f"{path} must be an object", path)
        location = data.get("location")
        s3 = location.get("s3Location") if isinstance(location, Mapping) else None
        if not isinstance(s3, Mapping):
            raise _malformed(f"{path}.location.s3Location is missing", f"{path}.location.s3Location")
        return cls(
            name=_string(data, "name", path),
            bucket=_string(s3, "bucketName", f"{path}.location.s3Location"),
            key=_string(s3, "objectKey", f"{path}.location.s3Location"),
            revision=_string(data, "revision", path, optional=True),
        )

    def to_api(self) -> dict[str, Any]:
        """The artifact as the event shows it (``revision`` null when unknown, as AWS sends it)."""
        return {
            "name": self.name,
            "revision": self.revision,
            "location": {"type": "S3", "s3Location": {"bucketName": self.bucket, "objectKey": self.key}},
        }


@attrs.frozen(kw_only=True)
class EncryptionKey:
    """The artifact store's encryption key (``encryptionKey``): a KMS key id or ARN, and its type."""

    id: str
    type: str = "KMS"

    def to_api(self) -> dict[str, Any]:
        """The ``encryptionKey`` object."""
        return {"id": self.id, "type": self.type}


@attrs.frozen(kw_only=True)
class PipelineContext:
    """Where a job comes from (``pipelineContext``): custom action jobs carry it, Lambda events do not."""

    pipeline_name: str
    stage_name: str | None = None
    action_name: str | None = None
    action_execution_id: str | None = None
    pipeline_arn: str | None = None
    pipeline_execution_id: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PipelineContext:
        """Read ``pipelineContext``.

        Raises:
            MalformedInputError: ``pipelineName`` is missing.
        """
        path = "data.pipelineContext"
        stage: Mapping[str, Any] = data["stage"] if isinstance(data.get("stage"), Mapping) else {}
        action: Mapping[str, Any] = data["action"] if isinstance(data.get("action"), Mapping) else {}
        return cls(
            pipeline_name=_string(data, "pipelineName", path),
            stage_name=_string(stage, "name", f"{path}.stage", optional=True),
            action_name=_string(action, "name", f"{path}.action", optional=True),
            action_execution_id=_string(action, "actionExecutionId", f"{path}.action", optional=True),
            pipeline_arn=_string(data, "pipelineArn", path, optional=True),
            pipeline_execution_id=_string(data, "pipelineExecutionId", path, optional=True),
        )

    def to_api(self) -> dict[str, Any]:
        """The ``pipelineContext`` object (members that are unknown left out)."""
        data: dict[str, Any] = {"pipelineName": self.pipeline_name}
        if self.stage_name is not None:
            data["stage"] = {"name": self.stage_name}
        if self.action_name is not None:
            action = {"name": self.action_name}
            if self.action_execution_id is not None:
                action["actionExecutionId"] = self.action_execution_id
            data["action"] = action
        if self.pipeline_arn is not None:
            data["pipelineArn"] = self.pipeline_arn
        if self.pipeline_execution_id is not None:
            data["pipelineExecutionId"] = self.pipeline_execution_id
        return data


_NOT_JSON = object()


@attrs.frozen(kw_only=True)
class Job:
    """A CodePipeline job, as a Lambda invoke action's event (``CodePipeline.job``) describes it.

    Read one with :meth:`from_event` (the Lambda event) or :meth:`from_api` (the job object itself, also
    what ``PollForJobs`` and ``GetJobDetails`` return). ``configuration`` is the action's configuration;
    ``function_name`` and ``user_parameters`` (the raw string) come from it, and :attr:`parameters` is
    ``UserParameters`` parsed as JSON when it is JSON. ``credentials`` are the artifact store's temporary
    credentials: a secret, never in ``repr``. ``continuation_token`` is set when this job continues an
    earlier one ("in progress"); :attr:`state` is that token decoded.
    """

    job_id: str
    account_id: str
    configuration: Mapping[str, str] = attrs.field(factory=dict)
    input_artifacts: tuple[JobArtifact, ...] = ()
    output_artifacts: tuple[JobArtifact, ...] = ()
    credentials: ArtifactCredentials | None = attrs.field(default=None, repr=False)
    continuation_token: str | None = None
    encryption_key: EncryptionKey | None = None
    pipeline_context: PipelineContext | None = None
    action_type: Mapping[str, str] | None = None

    @classmethod
    def from_event(cls, event: object) -> Job:
        """The job of a Lambda invoke action's event: ``{"CodePipeline.job": {...}}``.

        Raises:
            MalformedInputError: the event is not a mapping with a well-formed ``CodePipeline.job`` (the
                message says what is missing, never a value: the event carries credentials).
        """
        if not isinstance(event, Mapping):
            raise _malformed(
                f"a job worker's event must be a mapping with a {_EVENT_KEY!r} key, not {type(event).__name__}",
                None,
            )
        job = event.get(_EVENT_KEY)
        if job is None:
            keys = ", ".join(sorted(str(key) for key in event)[:5]) or "none"
            raise _malformed(
                f"the event has no {_EVENT_KEY!r} key (its keys: {keys}): it is not a CodePipeline job; "
                "was the function invoked by something other than a Lambda invoke action?",
                _EVENT_KEY,
            )
        return cls.from_api(job)

    @classmethod
    def from_api(cls, data: object) -> Job:
        """Read the job object (``{"id", "accountId", "data": {...}}``).

        Raises:
            MalformedInputError: it is not a well-formed job.
        """
        if not isinstance(data, Mapping):
            raise _malformed(f"{_EVENT_KEY} must be an object, not {type(data).__name__}", _EVENT_KEY)
        job_id = _string(data, "id", _EVENT_KEY)
        account_id = _string(data, "accountId", _EVENT_KEY, optional=True) or ""
        body = data.get("data")
        if not isinstance(body, Mapping):
            raise _malformed(f"{_EVENT_KEY}.data is missing or not an object", f"{_EVENT_KEY}.data")
        action = body.get("actionConfiguration")
        configuration = action.get("configuration") if isinstance(action, Mapping) else None
        if configuration is None:
            configuration = {}
        if not isinstance(configuration, Mapping) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in configuration.items()
        ):
            raise _malformed(
                "data.actionConfiguration.configuration must map names to strings",
                "data.actionConfiguration.configuration",
            )
        credentials = body.get("artifactCredentials")
        if credentials is not None and not isinstance(credentials, Mapping):
            raise _malformed("data.artifactCredentials must be an object", "data.artifactCredentials")
        key = body.get("encryptionKey")
        if key is not None and not (isinstance(key, Mapping) and isinstance(key.get("id"), str)):
            raise _malformed("data.encryptionKey must be an object with an id", "data.encryptionKey")
        context = body.get("pipelineContext")
        if context is not None and not isinstance(context, Mapping):
            raise _malformed("data.pipelineContext must be an object", "data.pipelineContext")
        type_id = body.get("actionTypeId")
        return cls(
            job_id=job_id,
            account_id=account_id,
            configuration=dict(configuration),
            input_artifacts=_artifacts(body, "inputArtifacts"),
            output_artifacts=_artifacts(body, "outputArtifacts"),
            credentials=ArtifactCredentials.from_api(credentials) if credentials is not None else None,
            continuation_token=_string(body, "continuationToken", "data", optional=True),
            encryption_key=(
                EncryptionKey(id=key["id"], type=str(key.get("type") or "KMS")) if key is not None else None
            ),
            pipeline_context=PipelineContext.from_api(context) if context is not None else None,
            action_type=(
                {str(k): str(v) for k, v in type_id.items()} if isinstance(type_id, Mapping) else None
            ),
        )

    def to_api(self) -> dict[str, Any]:
        """The job object this was read from (the value of ``CodePipeline.job``)."""
        data: dict[str, Any] = {}
        if self.action_type is not None:
            data["actionTypeId"] = dict(self.action_type)
        data["actionConfiguration"] = {"configuration": dict(self.configuration)}
        if self.pipeline_context is not None:
            data["pipelineContext"] = self.pipeline_context.to_api()
        data["inputArtifacts"] = [artifact.to_api() for artifact in self.input_artifacts]
        data["outputArtifacts"] = [artifact.to_api() for artifact in self.output_artifacts]
        if self.credentials is not None:
            data["artifactCredentials"] = self.credentials.to_api()
        if self.continuation_token is not None:
            data["continuationToken"] = self.continuation_token
        if self.encryption_key is not None:
            data["encryptionKey"] = self.encryption_key.to_api()
        return {"id": self.job_id, "accountId": self.account_id, "data": data}

    @property
    def function_name(self) -> str | None:
        """The action's ``FunctionName``."""
        return self.configuration.get("FunctionName")

    @property
    def user_parameters(self) -> str | None:
        """The action's ``UserParameters``, as the raw string (``None`` when the action sets none)."""
        return self.configuration.get("UserParameters")

    @property
    def parameters(self) -> Any:
        """``UserParameters`` parsed as JSON (an object is a ``dict``); ``None`` when it is not JSON or unset.

        The raw string is always in :attr:`user_parameters`.
        """
        parsed = _json_or(self.user_parameters)
        return None if parsed is _NOT_JSON else parsed

    @property
    def state(self) -> Any:
        """The state an earlier invocation handed on with :class:`InProgress`, or ``None`` on a first job.

        The continuation token decoded from JSON; a token that is not JSON (another worker's) is returned as
        the raw string.
        """
        if self.continuation_token is None:
            return None
        parsed = _json_or(self.continuation_token)
        return self.continuation_token if parsed is _NOT_JSON else parsed

    @property
    def is_continuation(self) -> bool:
        """Whether this job continues an earlier one (it carries a continuation token)."""
        return self.continuation_token is not None

    def input_artifact(self, name: str | None = None) -> JobArtifact:
        """The input artifact ``name``, or the only one when ``name`` is not given.

        Raises:
            InvalidArgumentError: no input artifact has that name, or ``name`` is missing and there is not
                exactly one.
        """
        return _pick(self.input_artifacts, name, "input")

    def output_artifact(self, name: str | None = None) -> JobArtifact:
        """The output artifact ``name``, or the only one when ``name`` is not given.

        Raises:
            InvalidArgumentError: no output artifact has that name, or ``name`` is missing and there is not
                exactly one.
        """
        return _pick(self.output_artifacts, name, "output")

    def conceal(self, text: str) -> str:
        """``text`` with the job's artifact credentials masked (``***``)."""
        if self.credentials is None:
            return text
        for secret in self.credentials.secrets():
            text = text.replace(secret, _MASK)
        return text


def _pick(artifacts: tuple[JobArtifact, ...], name: str | None, kind: str) -> JobArtifact:
    """The artifact of ``artifacts`` named ``name`` (or the only one)."""
    if name is None:
        if len(artifacts) != 1:
            names = ", ".join(artifact.name for artifact in artifacts) or "none"
            raise InvalidArgumentError(
                f"the job has {len(artifacts)} {kind} artifacts ({names}); name the one you want",
                parameter="name",
            )
        return artifacts[0]
    for artifact in artifacts:
        if artifact.name == name:
            return artifact
    names = ", ".join(artifact.name for artifact in artifacts) or "none"
    raise InvalidArgumentError(f"the job has no {kind} artifact {name!r} (it has: {names})", parameter="name")


def _json_or(text: str | None) -> Any:
    """``text`` parsed as JSON, or ``_NOT_JSON`` (also for ``None``, and for JSON nested too deep to read)."""
    if text is None:
        return _NOT_JSON
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _malformed(message: str, path: str | None) -> MalformedInputError:
    """The error for a job event that is not what CodePipeline sends."""
    return MalformedInputError(message, path=path)


def _string(data: Mapping[str, Any], key: str, path: str, *, optional: bool = False) -> Any:
    """``data[key]`` when it is a string (or missing/null when ``optional``)."""
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or (not value and not optional):
        what = (
            "missing"
            if value is None
            else f"not a string ({type(value).__name__})"
            if value != ""
            else "empty"
        )
        raise _malformed(f"{path}.{key} is {what}", f"{path}.{key}")
    return value


def _artifacts(body: Mapping[str, Any], key: str) -> tuple[JobArtifact, ...]:
    """The artifacts listed under ``data[key]`` (none when absent or null)."""
    entries = body.get(key)
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise _malformed(f"data.{key} must be a list", f"data.{key}")
    return tuple(
        JobArtifact.from_api(entry, path=f"data.{key}[{index}]") for index, entry in enumerate(entries)
    )


# ----------------------------------------------------------------------------------------- the answers


class FailureType(enum.Enum):
    """Why a job failed, as ``PutJobFailureResult`` names it (``failureDetails.type``)."""

    JOB_FAILED = "JobFailed"
    CONFIGURATION_ERROR = "ConfigurationError"
    PERMISSION_ERROR = "PermissionError"
    REVISION_OUT_OF_SYNC = "RevisionOutOfSync"
    REVISION_UNAVAILABLE = "RevisionUnavailable"
    SYSTEM_UNAVAILABLE = "SystemUnavailable"


def _check_summary(summary: object) -> None:
    """Refuse a summary that is not a string (its length is cut when sent, never refused)."""
    if summary is not None and not isinstance(summary, str):
        raise ArgumentTypeError(
            f"summary must be a string or None, not {type(summary).__name__}", parameter="summary"
        )


def _check_details(external_execution_id: object, percent_complete: object) -> None:
    """Refuse an external execution id or a percentage that CodePipeline would refuse."""
    if external_execution_id is not None:
        if not isinstance(external_execution_id, str):
            raise ArgumentTypeError(
                "external_execution_id must be a string or None", parameter="external_execution_id"
            )
        if not 1 <= len(external_execution_id) <= EXTERNAL_ID_LIMIT:
            raise RequestValidationError(
                f"external_execution_id must be 1 to {EXTERNAL_ID_LIMIT} characters long, not "
                f"{len(external_execution_id)}"
            )
    if percent_complete is not None:
        if not isinstance(percent_complete, int) or isinstance(percent_complete, bool):
            raise ArgumentTypeError(
                "percent_complete must be an integer or None", parameter="percent_complete"
            )
        if not 0 <= percent_complete <= 100:
            raise RequestValidationError(
                f"percent_complete must be between 0 and 100, not {percent_complete}"
            )


def check_output_variables(variables: object) -> dict[str, str]:
    """``variables`` as a dict, once it passes the API's rules for ``outputVariables``.

    Raises:
        ArgumentTypeError: not a mapping of strings to strings.
        RequestValidationError: a name with characters other than letters, digits, ``@``, ``-`` and ``_``,
            or names and values over 122,880 bytes in total.
    """
    if not isinstance(variables, Mapping):
        raise ArgumentTypeError(
            f"output variables must be a mapping of names to strings, not {type(variables).__name__}",
            parameter="output_variables",
        )
    checked: dict[str, str] = {}
    size = 0
    for name, value in variables.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ArgumentTypeError(
                f"output variables map names to strings; {name!r} is a {type(name).__name__} mapped to a "
                f"{type(value).__name__} (convert values with str())",
                parameter="output_variables",
            )
        if not name or not set(name) <= _VARIABLE_NAME_CHARACTERS:
            raise RequestValidationError(
                f"output variable name {name[:100]!r} is not allowed: names use letters, digits, '@', '-' and "
                "'_' only"
            )
        size += len(name.encode()) + len(value.encode())
        checked[name] = value
    if size > OUTPUT_VARIABLES_LIMIT:
        raise RequestValidationError(
            f"output variables total {size:,} bytes (names and values); CodePipeline accepts at most "
            f"{OUTPUT_VARIABLES_LIMIT:,}"
        )
    return checked


@attrs.frozen(kw_only=True, init=False)
class Success:
    """What a job worker returns when the job is done: a success, with output variables and a summary.

    ``output_variables`` become the action's variables (``#{Namespace.NAME}`` downstream); ``summary``
    (cut to 2,048 characters), ``external_execution_id`` and ``percent_complete`` show on the action.
    Checked when made, so a worker learns of a refused name where it made it.

    Raises:
        ArgumentTypeError: a value has the wrong type.
        RequestValidationError: an output variable name or total size, an external id or a percentage that
            CodePipeline would refuse.
    """

    output_variables: Mapping[str, str]
    summary: str | None
    external_execution_id: str | None
    percent_complete: int | None

    def __init__(
        self,
        *,
        output_variables: Mapping[str, str] | None = None,
        summary: str | None = None,
        external_execution_id: str | None = None,
        percent_complete: int | None = None,
    ) -> None:
        _check_summary(summary)
        _check_details(external_execution_id, percent_complete)
        self.__attrs_init__(
            output_variables=check_output_variables(output_variables or {}),
            summary=summary,
            external_execution_id=external_execution_id,
            percent_complete=percent_complete,
        )


@attrs.frozen(kw_only=True, init=False)
class InProgress:
    """What a job worker returns when the job goes on: "in progress", handing ``state`` to the next invocation.

    ``state`` is any JSON value (``None`` too); it is encoded into the continuation token, which
    CodePipeline limits to 2,048 characters, so it is checked when made. The next invocation receives it as
    :attr:`Job.state`. ``summary`` and ``percent_complete`` show on the action meanwhile.

    Raises:
        ArgumentTypeError: ``state`` is not JSON-serialisable, or another value has the wrong type.
        RequestValidationError: the encoded state is over 2,048 characters, or the details are refused.
    """

    state: Any
    token: str
    summary: str | None
    external_execution_id: str | None
    percent_complete: int | None

    def __init__(
        self,
        state: Any = None,
        *,
        summary: str | None = None,
        external_execution_id: str | None = None,
        percent_complete: int | None = None,
    ) -> None:
        _check_summary(summary)
        _check_details(external_execution_id, percent_complete)
        try:
            token = json.dumps(
                state, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
            )
        except (TypeError, ValueError) as exc:
            raise ArgumentTypeError(
                f"an InProgress state must be JSON-serialisable (dicts, lists, strings, numbers, booleans, None): "
                f"{exc}",
                parameter="state",
            ) from None
        if len(token) > CONTINUATION_TOKEN_LIMIT:
            raise RequestValidationError(
                f"the InProgress state encodes to {len(token):,} characters of JSON; a continuation token holds "
                f"at most {CONTINUATION_TOKEN_LIMIT:,}: keep ids in the state, not data (store data in S3)"
            )
        self.__attrs_init__(
            state=state,
            token=token,
            summary=summary,
            external_execution_id=external_execution_id,
            percent_complete=percent_complete,
        )


class JobFailure(Exception):
    """Raise it from a job worker to fail the job with a chosen :class:`FailureType` and message.

    Any other exception fails the job too (``JobFailed``, or ``PermissionError`` for an access-denied
    error), with ``"<ExceptionType>: <text>"`` as its message. The message is cut to 5,000 characters and
    the job's artifact credentials are masked in it.
    """

    def __init__(
        self,
        message: str,
        *,
        failure_type: FailureType | str = FailureType.JOB_FAILED,
        external_execution_id: str | None = None,
    ) -> None:
        super().__init__(message)
        try:
            self.failure_type = FailureType(failure_type)
        except ValueError:
            known = ", ".join(member.value for member in FailureType)
            raise InvalidArgumentError(
                f"failure_type must be one of {known}, not {failure_type!r}", parameter="failure_type"
            ) from None
        _check_details(external_execution_id, None)
        self.message = message
        self.external_execution_id = external_execution_id


@attrs.frozen(kw_only=True)
class JobOutcome:
    """What a :func:`job_worker` handler did with one invocation (its return value; no secrets in it).

    ``outcome`` is ``"succeeded"``, ``"in-progress"`` or ``"failed"`` (the report sent, ``failure_type``
    set for a failure), ``"already-answered"`` (the job had an answer: a duplicate invocation, or a
    report whose lost response was sent again) or ``"duplicate"`` (this process had answered the job
    already: nothing was run or sent). ``timed_out`` says the worker was still running when the handler
    reported, before Lambda's timeout.
    """

    job_id: str
    outcome: Literal["succeeded", "in-progress", "failed", "already-answered", "duplicate"]
    failure_type: str | None = None
    message: str | None = None
    timed_out: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON-ready data (a Lambda handler's return value)."""
        return {
            "jobId": self.job_id,
            "outcome": self.outcome,
            "failureType": self.failure_type,
            "message": self.message,
            "timedOut": self.timed_out,
        }


# ----------------------------------------------------------------------------------------- the decorator


@overload
def job_worker(
    function: Callable[[Job, Any], object], /
) -> Callable[[Mapping[str, Any], Any], dict[str, Any]]: ...


@overload
def job_worker(
    function: None = None,
    /,
    *,
    margin: float = ...,
    on_timeout: Literal["fail", "continue"] = ...,
    client: Any = ...,
) -> Callable[[Callable[[Job, Any], object]], Callable[[Mapping[str, Any], Any], dict[str, Any]]]: ...


def job_worker(
    function: Callable[[Job, Any], object] | None = None,
    /,
    *,
    margin: float = 10.0,
    on_timeout: Literal["fail", "continue"] = "fail",
    client: Any = None,
) -> Any:
    """Make ``function(job, context)`` a Lambda handler that answers its CodePipeline job exactly once.

    Use as ``@job_worker`` or ``@job_worker(margin=..., on_timeout=..., client=...)``. The handler reads the
    event (:meth:`Job.from_event`), runs ``function`` with the :class:`Job` and Lambda's ``context``, and
    reports what it returned or raised (see the module docstring): ``None``, a mapping of output variables
    or a :class:`Success` report success; an :class:`InProgress` reports "in progress" with its state;
    an exception reports failure (:class:`JobFailure` chooses the type).

    ``function`` runs in a worker thread while the handler watches ``context.get_remaining_time_in_millis()``:
    when less than ``margin`` seconds remain it reports without waiting any longer, a failure by default,
    or with ``on_timeout="continue"`` "in progress" with the state this invocation started from, so the
    next invocation retries the step. The worker's late result is then dropped (logged). Without a context
    that tells the remaining time, it waits for the function.

    ``client`` is a boto3 CodePipeline client for the reports (default: one made from boto3's default
    session on first use, whose retries pipepilot owns). The handler returns a :class:`JobOutcome` as a
    dict. It raises only when the job could not be answered (an error CodePipeline keeps answering, such
    as access denied, or a transient error that outlived the retries), so that Lambda's retry of the
    invocation is the retry.

    Raises:
        MalformedInputError: (from the handler) the event is not a CodePipeline job event; nothing is run
            or reported.
        ArgumentTypeError: (at decoration) an option has the wrong type.
        InvalidArgumentError: (at decoration) ``margin`` is negative or ``on_timeout`` unknown.
    """
    if isinstance(margin, bool) or not isinstance(margin, (int, float)):
        raise ArgumentTypeError(
            f"margin must be a number of seconds, not {type(margin).__name__}", parameter="margin"
        )
    if not 0 <= margin < float("inf"):
        raise InvalidArgumentError(f"margin must be zero or more seconds, not {margin!r}", parameter="margin")
    if on_timeout not in ("fail", "continue"):
        raise InvalidArgumentError(
            f"on_timeout must be 'fail' or 'continue', not {on_timeout!r}", parameter="on_timeout"
        )
    if client is not None:
        from pipepilot._checks import check_client

        check_client(client, "client", "codepipeline")

    def decorate(work: Callable[[Job, Any], object]) -> Callable[[Mapping[str, Any], Any], dict[str, Any]]:
        if not callable(work):
            raise ArgumentTypeError(
                f"job_worker decorates a function, not {type(work).__name__}", parameter="function"
            )
        reporter = _Reporter(client)

        @functools.wraps(work)
        def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
            job = Job.from_event(event)
            outcome = _handle(
                work, job, context, reporter=reporter, margin=float(margin), on_timeout=on_timeout
            )
            return outcome.to_dict()

        return handler

    if function is not None:
        return decorate(function)
    return decorate


class _Reporter:
    """Sends a job's report through pipepilot's seam (a CodePipeline :class:`Caller`), made on first use.

    Without an injected client it follows boto3's default session: a new one (a new offline world, a
    ``boto3.setup_default_session``) gets a new client.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._caller: Caller[Any] | None = None
        self._session: object = None
        self._lock = threading.Lock()

    def caller(self) -> Caller[Any]:
        """The caller to report with."""
        from pipepilot._calls import ClientSettings, default_session

        with self._lock:
            if self._client is not None:
                if self._caller is None:
                    self._caller = ClientSettings().caller("codepipeline", self._client)
                return self._caller
            session = default_session()
            if self._caller is None or self._session is not session:
                self._caller = ClientSettings(session=session).caller("codepipeline")
                self._session = session
            return self._caller


def _remember(job_id: str, outcome: str) -> bool:
    """Record that this process answers ``job_id``; False when it already had (a duplicate invocation)."""
    with _answered_lock:
        if job_id in _answered:
            _answered.move_to_end(job_id)
            return False
        _answered[job_id] = outcome
        while len(_answered) > _ANSWERED_LIMIT:
            _answered.popitem(last=False)
        return True


def _forget(job_id: str) -> None:
    """Forget ``job_id`` (its report could not be sent: a retried invocation must try again)."""
    with _answered_lock:
        _answered.pop(job_id, None)


class _Run:
    """The worker thread's result: what ``work`` returned, or the exception it raised."""

    __slots__ = ("done", "error", "late", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: object = None
        self.error: BaseException | None = None
        # Set when the handler reported without waiting for the worker: its result is then dropped.
        self.late = False


def _handle(
    work: Callable[[Job, Any], object],
    job: Job,
    context: Any,
    *,
    reporter: _Reporter,
    margin: float,
    on_timeout: str,
) -> JobOutcome:
    """Run ``work`` for one invocation and report its job exactly once."""
    if not _remember(job.job_id, "running"):
        logger.info(
            "job %s: duplicate invocation; this process answers (or answered) it already, nothing to do",
            job.job_id,
        )
        return JobOutcome(job_id=job.job_id, outcome="duplicate")
    logger.info("job %s: invoked%s", job.job_id, " (continuation)" if job.is_continuation else "")
    try:
        run, thread = _prepare(work, job, context)
        timed_out = not _wait(run, thread, context, reporter, margin)
        if timed_out:
            run.late = True
            report = _timeout_report(job, on_timeout, context, margin)
        elif run.error is not None:
            report = _failure_report(job, run.error)
        else:
            report = _result_report(job, run.value)
        outcome = _send(reporter.caller(), job, report)
    except BaseException:
        _forget(job.job_id)
        raise
    return attrs.evolve(outcome, timed_out=timed_out)


def _prepare(work: Callable[[Job, Any], object], job: Job, context: Any) -> tuple[_Run, threading.Thread]:
    """A daemon thread (not started) that runs ``work(job, context)``, and the :class:`_Run` it fills in."""
    run = _Run()

    def target() -> None:
        """Call the worker and keep its result or exception for the handler."""
        try:
            run.value = work(job, context)
        except BaseException as exc:  # the handler reports any failure, even SystemExit
            run.error = exc
        finally:
            run.done.set()
            if run.late:
                outcome = "raised " + type(run.error).__name__ if run.error is not None else "returned"
                logger.warning(
                    "job %s: the worker %s after the job was reported (it ran out of time); result dropped",
                    job.job_id,
                    outcome,
                )

    thread = threading.Thread(target=target, name=f"job-worker-{job.job_id[:8]}", daemon=True)
    return run, thread


def _wait(run: _Run, thread: threading.Thread, context: Any, reporter: _Reporter, margin: float) -> bool:
    """Start the worker and wait for it until ``margin`` seconds before Lambda's timeout; whether it finished.

    The wait follows the time source of the reporting client: on AWS the wall clock, inside
    ``pipepilot.local.offline()`` the virtual clock (which then never moves past the deadline while the
    worker sleeps on it).
    """
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        thread.start()
        run.done.wait()
        return True
    from pipepilot import _time

    source = _time.time_source_for(reporter.caller().client)
    budget = remaining() / 1000.0 - margin
    if budget <= 0:
        # Not even the margin is left: report at once (the worker is not started).
        return False
    return _time.wait_for_event(source, run.done, budget, start=thread.start)


def _timeout_report(job: Job, on_timeout: str, context: Any, margin: float) -> dict[str, Any]:
    """The report sent when the worker is still running ``margin`` seconds before Lambda's timeout."""
    if on_timeout == "continue":
        logger.warning(
            "job %s: the worker is still running near Lambda's timeout; reporting in progress", job.job_id
        )
        token = job.continuation_token if job.continuation_token is not None else InProgress(None).token
        return {
            "operation": "put_job_success_result",
            "params": {
                "continuationToken": token,
                "executionDetails": {"summary": "Still running; continued in a new invocation"},
            },
        }
    message = (
        f"The job worker was still running {margin:g} seconds before its Lambda function's timeout; the job "
        "is failed before Lambda ends the invocation. Give the function a longer timeout, or return "
        "InProgress(state) to go on in a new invocation."
    )
    logger.error("job %s: %s", job.job_id, message)
    return _failure_params(FailureType.JOB_FAILED, message, None)


def _failure_report(job: Job, error: BaseException) -> dict[str, Any]:
    """The failure report for a worker that raised ``error``."""
    if isinstance(error, JobFailure):
        failure_type, text, external = error.failure_type, error.message, error.external_execution_id
    else:
        failure_type = FailureType.PERMISSION_ERROR if _is_access_denied(error) else FailureType.JOB_FAILED
        text, external = f"{type(error).__name__}: {error}", None
    text = job.conceal(text)
    if isinstance(error, JobFailure):
        logger.info("job %s: the worker failed the job (%s): %s", job.job_id, failure_type.value, text[:500])
    else:
        frames = "".join(traceback.format_tb(error.__traceback__)).rstrip()
        logger.error(
            "job %s: the worker raised %s: %s\n%s", job.job_id, type(error).__name__, text[:500], frames
        )
    return _failure_params(failure_type, text, external)


def _failure_params(failure_type: FailureType, message: str, external: str | None) -> dict[str, Any]:
    """A ``PutJobFailureResult`` report (its message cut to what the API accepts)."""
    details: dict[str, Any] = {
        "type": failure_type.value,
        "message": _cut(message or failure_type.value, FAILURE_MESSAGE_LIMIT),
    }
    if external is not None:
        details["externalExecutionId"] = external
    return {"operation": "put_job_failure_result", "params": {"failureDetails": details}}


def _is_access_denied(error: BaseException) -> bool:
    """Whether ``error`` says access was denied (pipepilot's error, or a botocore ``ClientError``)."""
    if isinstance(error, AccessDeniedError):
        return True
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, Mapping) else None
    return isinstance(code, str) and (
        code.startswith("AccessDenied") or code in ("UnauthorizedOperation", "Forbidden")
    )


def _result_report(job: Job, value: object) -> dict[str, Any]:
    """The report for what the worker returned."""
    try:
        if value is None:
            value = Success()
        elif isinstance(value, Mapping):
            value = Success(output_variables=value)
    except PipepilotError as exc:
        return _failure_report(job, exc)
    if isinstance(value, Success):
        params: dict[str, Any] = {}
        if value.output_variables:
            params["outputVariables"] = dict(value.output_variables)
        details = _details(job, value.summary, value.external_execution_id, value.percent_complete)
        if details:
            params["executionDetails"] = details
        return {"operation": "put_job_success_result", "params": params}
    if isinstance(value, InProgress):
        params = {"continuationToken": value.token}
        details = _details(job, value.summary, value.external_execution_id, value.percent_complete)
        if details:
            params["executionDetails"] = details
        return {"operation": "put_job_success_result", "params": params}
    message = (
        f"The job worker returned a {type(value).__name__}; a job worker returns None, a mapping of output "
        "variables, Success(...) or InProgress(state)"
    )
    logger.error("job %s: %s", job.job_id, message)
    return _failure_params(FailureType.CONFIGURATION_ERROR, message, None)


def _details(job: Job, summary: str | None, external: str | None, percent: int | None) -> dict[str, Any]:
    """``executionDetails`` (a summary cut to 2,048 characters, credentials masked)."""
    details: dict[str, Any] = {}
    if summary:
        details["summary"] = _cut(job.conceal(summary), SUMMARY_LIMIT)
    if external is not None:
        details["externalExecutionId"] = external
    if percent is not None:
        details["percentComplete"] = percent
    return details


def _cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def _outcome_of(report: Mapping[str, Any]) -> Literal["succeeded", "in-progress", "failed"]:
    """What sending ``report`` means for the job."""
    if report["operation"] == "put_job_failure_result":
        return "failed"
    return "in-progress" if "continuationToken" in report["params"] else "succeeded"


def _send(caller: Caller[Any], job: Job, report: dict[str, Any]) -> JobOutcome:
    """Send ``report`` for ``job`` once; resend it after a lost response; never send a different one after.

    A refusal of a success (CodePipeline refused what the worker returned) is answered with a failure
    report saying so, since nothing was recorded.
    """
    from pipepilot._calls import may_have_acted
    from pipepilot._time import current_random

    outcome = _outcome_of(report)
    details = report["params"].get("failureDetails") or {}
    sent_before = False
    for attempt in range(1, _REPORT_ATTEMPTS + 1):
        try:
            caller.call(report["operation"], idempotent=False, jobId=job.job_id, **report["params"])
        except InvalidJobStateError:
            if sent_before:
                logger.info(
                    "job %s: reported %s (the first answer landed; its response was lost)",
                    job.job_id,
                    outcome,
                )
                return JobOutcome(
                    job_id=job.job_id,
                    outcome=outcome,
                    failure_type=details.get("type"),
                    message=details.get("message"),
                )
            logger.info(
                "job %s: already answered (a duplicate invocation, or the job timed out or was stopped); "
                "nothing sent",
                job.job_id,
            )
            return JobOutcome(job_id=job.job_id, outcome="already-answered")
        except TransientError as exc:
            if not may_have_acted(exc) or attempt == _REPORT_ATTEMPTS:
                raise
            sent_before = True
            pause = min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + current_random(caller.time).random())
            logger.warning(
                "job %s: no answer to the %s report (%s); checking by sending it again in %.1f s",
                job.job_id,
                outcome,
                type(exc).__name__,
                pause,
            )
            (caller.sleep or caller.time.sleep)(pause)
            continue
        except PipepilotError as exc:
            if report["operation"] == "put_job_success_result" and not sent_before and _refused(exc):
                message = f"CodePipeline refused the job worker's report ({exc.code}): {exc.message or exc}"
                logger.error("job %s: %s", job.job_id, job.conceal(message))
                return _send(
                    caller, job, _failure_params(FailureType.CONFIGURATION_ERROR, job.conceal(message), None)
                )
            raise
        logger.info("job %s: reported %s", job.job_id, outcome)
        return JobOutcome(
            job_id=job.job_id,
            outcome=outcome,
            failure_type=details.get("type"),
            message=details.get("message"),
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _refused(error: PipepilotError) -> bool:
    """Whether ``error`` is CodePipeline refusing a report's content (not its permission or the job)."""
    from pipepilot.errors import InvalidRequestError

    return isinstance(error, InvalidRequestError)


def reset_answered_jobs() -> None:
    """Forget which jobs this process answered (for tests that replay the same event)."""
    with _answered_lock:
        _answered.clear()


def answered_jobs() -> Sequence[str]:
    """The job ids this process answered, oldest first (at most the newest 1,024)."""
    with _answered_lock:
        return tuple(_answered)
