"""Every error pipepilot raises, and the one table that maps AWS error codes onto them.

Catch :class:`PipepilotError` for anything pipepilot raises; catch a branch of the tree to handle one kind of
failure (a missing pipeline, a conflict, throttling that outlived the retries) without parsing error codes::

    PipepilotError
    ├─ NotFoundError
    │   ├─ PipelineNotFoundError               PipelineNotFoundException
    │   ├─ PipelineVersionNotFoundError        PipelineVersionNotFoundException
    │   ├─ PipelineExecutionNotFoundError      PipelineExecutionNotFoundException
    │   ├─ StageNotFoundError                  StageNotFoundException
    │   │   └─ NoSuchStageError                ours: no stage by that name in a declaration or state read
    │   ├─ ActionNotFoundError                 ActionNotFoundException
    │   │   └─ NoSuchActionError               ours: no action by that name in a stage read
    │   ├─ ActionExecutionNotFoundError        ActionExecutionNotFoundException
    │   ├─ ActionTypeNotFoundError             ActionTypeNotFoundException
    │   ├─ JobNotFoundError                    JobNotFoundException
    │   ├─ WebhookNotFoundError                WebhookNotFoundException
    │   └─ ResourceNotFoundError               ResourceNotFoundException (CodePipeline and CodeBuild)
    ├─ ConflictError                           ConflictException (HTTP 409)
    │   ├─ ConcurrentModificationError         ConcurrentModificationException
    │   ├─ PipelineNameInUseError              PipelineNameInUseException
    │   ├─ ResourceAlreadyExistsError          ResourceAlreadyExistsException, ActionTypeAlreadyExistsException
    │   ├─ VersionConflictError                ours: the pipeline moved past an expected version
    │   ├─ NotLatestPipelineExecutionError     NotLatestPipelineExecutionException
    │   ├─ PipelineExecutionOutdatedError      PipelineExecutionOutdatedException
    │   ├─ PipelineExecutionNotStoppableError  PipelineExecutionNotStoppableException
    │   ├─ DuplicatedStopRequestError          DuplicatedStopRequestException
    │   ├─ StageNotRetryableError              StageNotRetryableException
    │   ├─ UnableToRollbackStageError          UnableToRollbackStageException
    │   ├─ ConditionNotOverridableError        ConditionNotOverridableException
    │   └─ InvalidJobStateError                InvalidJobStateException
    ├─ InvalidRequestError
    │   ├─ ValidationError                     ValidationException
    │   ├─ RequestValidationError              ours: the request breaks the API's rules, found before sending it
    │   ├─ InvalidInputError                   InvalidInputException (CodeBuild)
    │   ├─ InvalidStructureError               InvalidStructureException
    │   │   └─ MalformedInputError             ours: input that is not the AWS structure it should be (also a ValueError)
    │   │       ├─ NestingTooDeepError         ours: input nests deeper than pipepilot reads
    │   │       └─ MalformedEventError         ours: a Lambda event that is not what the handler reads
    │   ├─ InvalidStageDeclarationError        InvalidStageDeclarationException
    │   ├─ InvalidActionDeclarationError       InvalidActionDeclarationException
    │   ├─ InvalidBlockerDeclarationError      InvalidBlockerDeclarationException
    │   ├─ InvalidArnError                     InvalidArnException
    │   ├─ InvalidNextTokenError               InvalidNextTokenException
    │   ├─ InvalidTagsError                    InvalidTagsException
    │   ├─ TooManyTagsError                    TooManyTagsException
    │   ├─ InvalidClientTokenError             InvalidClientTokenException
    │   ├─ InvalidJobError                     InvalidJobException
    │   ├─ InvalidNonceError                   InvalidNonceException
    │   ├─ OutputVariablesSizeExceededError    OutputVariablesSizeExceededException
    │   ├─ InvalidWebhookError                 InvalidWebhook{AuthenticationParameters,FilterPattern}Exception
    │   ├─ PipelineRenameError                 ours: an update would change the pipeline's name
    │   ├─ PipelineValidationError             ours: local validation found problems (``.problems``)
    │   ├─ ArgumentTypeError                   ours: an argument has the wrong type (also a TypeError)
    │   └─ InvalidArgumentError                ours: an argument's value is refused (also a ValueError)
    ├─ ApprovalError
    │   ├─ ApprovalAlreadyCompletedError       ApprovalAlreadyCompletedException
    │   ├─ InvalidApprovalTokenError           InvalidApprovalTokenException
    │   ├─ ApprovalConflict                    ours: already answered, with the other outcome (also a ConflictError)
    │   ├─ NoApprovalWaitingError              ours: no approval waits where one was asked for
    │   └─ AmbiguousApprovalError              ours: several executions wait there and none was named
    ├─ QuotaError
    │   ├─ LimitExceededError                  LimitExceededException
    │   ├─ ConcurrentPipelineExecutionsLimitExceededError
    │   └─ AccountLimitExceededError           AccountLimitExceededException (CodeBuild)
    ├─ TransientError                          worth retrying later; pipepilot already did, within its policy
    │   ├─ ThrottlingError                     ThrottlingException, Throttling, TooManyRequestsException, ...
    │   ├─ ServiceUnavailableError             HTTP 5xx, InternalFailure, ServiceUnavailable, ...
    │   └─ ConnectionFailure                   no answer: endpoint unreachable, connection closed, timeouts
    ├─ AccessDeniedError                       AccessDenied*, UnrecognizedClient, ...; ``.action``: the IAM action refused
    │   ├─ CredentialsNotFoundError            no (or partial) credentials found (also a ConfigurationError)
    │   └─ ExpiredCredentialsError             ExpiredToken*; credentials to refresh (also a ConfigurationError)
    │       └─ SSOTokenExpiredError            the SSO session expired or was never started: ``aws sso login``
    ├─ ConfigurationError                      ours: AWS settings missing or wrong; the message says what to set
    │   ├─ RegionNotSetError                   no region named by the call, the environment or the config file
    │   └─ ProfileNotFoundError                AWS_PROFILE (or the session) names a profile that does not exist
    ├─ AWSServiceError                         any other AWS error code (keeps ``.code``)
    └─ WaitError
        ├─ WaitTimeout                         ours: the deadline passed; ``.last`` is the last state seen
        ├─ ExecutionUnsuccessful               ours: an execution ended without succeeding
        │   ├─ ExecutionFailed
        │   ├─ ExecutionStopped
        │   ├─ ExecutionSuperseded
        │   └─ ExecutionCancelled
        └─ BuildFailed                         ours: a CodeBuild build ended without succeeding

Errors that come from AWS carry ``code``, ``message`` (AWS's text), ``operation_name``, ``request_id``,
``http_status`` and the raw ``response`` (the parsed error response); the original
:class:`botocore.exceptions.ClientError` stays as ``__cause__``. Errors pipepilot raises itself have
``code``, ``operation_name``, ``request_id``, ``http_status`` and ``response`` set to ``None``; their
``message`` is their text.

Secrets never reach an error's text: AWS may quote a refused value in its message (an approval token, a
job nonce), so the seam passes the secret values of each request to :func:`translating`, which replaces
them with ``***`` in the message, the response and the chained cause (a copy of the original; the original
is not kept). botocore's own parameter validation quotes offending values too; pipepilot's
:class:`RequestValidationError` (and its cause) leaves every value out.

:data:`ERROR_CODES` and :func:`error_class_for` are pure; :func:`translate` and :func:`translating` apply
them at the one seam that calls boto3 (:mod:`pipepilot._calls`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn

from botocore import exceptions as botocore_exceptions

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Sequence

    from pipepilot.model.validation import Problem

__all__ = [
    "ERROR_CODES",
    "THROTTLING_CODES",
    "AWSServiceError",
    "AccessDeniedError",
    "AccountLimitExceededError",
    "ActionExecutionNotFoundError",
    "ActionNotFoundError",
    "ActionTypeNotFoundError",
    "AmbiguousApprovalError",
    "ApprovalAlreadyCompletedError",
    "ApprovalConflict",
    "ApprovalError",
    "ArgumentTypeError",
    "BuildFailed",
    "ConcurrentModificationError",
    "ConcurrentPipelineExecutionsLimitExceededError",
    "ConditionNotOverridableError",
    "ConfigurationError",
    "ConflictError",
    "ConnectionFailure",
    "CredentialsNotFoundError",
    "DuplicatedStopRequestError",
    "ExecutionCancelled",
    "ExecutionFailed",
    "ExecutionStopped",
    "ExecutionSuperseded",
    "ExecutionUnsuccessful",
    "ExpiredCredentialsError",
    "InvalidActionDeclarationError",
    "InvalidApprovalTokenError",
    "InvalidArgumentError",
    "InvalidArnError",
    "InvalidBlockerDeclarationError",
    "InvalidClientTokenError",
    "InvalidInputError",
    "InvalidJobError",
    "InvalidJobStateError",
    "InvalidNextTokenError",
    "InvalidNonceError",
    "InvalidRequestError",
    "InvalidStageDeclarationError",
    "InvalidStructureError",
    "InvalidTagsError",
    "InvalidWebhookError",
    "JobNotFoundError",
    "LimitExceededError",
    "MalformedEventError",
    "MalformedInputError",
    "NestingTooDeepError",
    "NoApprovalWaitingError",
    "NoSuchActionError",
    "NoSuchStageError",
    "NotFoundError",
    "NotLatestPipelineExecutionError",
    "OutputVariablesSizeExceededError",
    "PipelineExecutionNotFoundError",
    "PipelineExecutionNotStoppableError",
    "PipelineExecutionOutdatedError",
    "PipelineNameInUseError",
    "PipelineNotFoundError",
    "PipelineRenameError",
    "PipelineValidationError",
    "PipelineVersionNotFoundError",
    "PipepilotError",
    "ProfileNotFoundError",
    "QuotaError",
    "RegionNotSetError",
    "RequestValidationError",
    "ResourceAlreadyExistsError",
    "ResourceNotFoundError",
    "SSOTokenExpiredError",
    "ServiceUnavailableError",
    "StageNotFoundError",
    "StageNotRetryableError",
    "ThrottlingError",
    "TooManyTagsError",
    "TransientError",
    "UnableToRollbackStageError",
    "ValidationError",
    "VersionConflictError",
    "WaitError",
    "WaitTimeout",
    "WebhookNotFoundError",
    "error_class_for",
    "translate",
    "translate_botocore_error",
    "translate_settings_error",
    "translating",
]


# --------------------------------------------------------------------------------------------------- root


class PipepilotError(Exception):
    """The root of every error pipepilot raises.

    ``code``, ``operation_name``, ``request_id``, ``http_status`` and ``response`` describe the AWS error
    response this error was translated from, and are ``None`` when pipepilot raised it itself.
    ``message`` is AWS's message for AWS errors, and the error's text otherwise.
    """

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        aws_message: str | None = None,
        operation_name: str | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        response: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message if aws_message is None else aws_message
        self.operation_name = operation_name
        self.request_id = request_id
        self.http_status = http_status
        self.response = response


# ---------------------------------------------------------------------------------------------- not found


class NotFoundError(PipepilotError):
    """Something named in the request does not exist."""


class PipelineNotFoundError(NotFoundError):
    """No pipeline has that name in this account and region."""


class PipelineVersionNotFoundError(NotFoundError):
    """The pipeline exists, but not at the version asked for."""


class PipelineExecutionNotFoundError(NotFoundError):
    """The pipeline has no execution with that id (or it aged out of the execution history)."""


class _NamedLookupError(NotFoundError):
    """A name was looked up and missed; ``available`` lists the names that do exist (when known)."""

    def __init__(
        self, message: str = "", *, name: str | None = None, available: Sequence[str] = (), **aws: Any
    ) -> None:
        super().__init__(message, **aws)
        self.name = name
        self.available: tuple[str, ...] = tuple(available)


class StageNotFoundError(_NamedLookupError):
    """No stage has that name: AWS said so (StageNotFoundException), or, as :class:`NoSuchStageError`,
    a declaration or state pipepilot already read has none.

    ``name`` is the name looked up and ``available`` the stage names that exist (empty when AWS raised it).
    """


class NoSuchStageError(StageNotFoundError):
    """A declaration or a pipeline state read earlier has no stage by that name (no call was made).

    pipepilot's own look-up, kept apart from AWS's StageNotFoundException (catch :class:`StageNotFoundError`
    for both); ``available`` lists the stage names that do exist.
    """


class ActionNotFoundError(_NamedLookupError):
    """No action has that name in the stage: AWS said so (ActionNotFoundException), or, as
    :class:`NoSuchActionError`, a declaration or state pipepilot already read has none.

    ``name`` is the name looked up and ``available`` the action names that exist in that stage (empty when
    AWS raised it).
    """


class NoSuchActionError(ActionNotFoundError):
    """A stage of a declaration or pipeline state read earlier has no action by that name (no call was made).

    pipepilot's own look-up, kept apart from AWS's ActionNotFoundException (catch
    :class:`ActionNotFoundError` for both); ``available`` lists the stage's action names.
    """


class ActionExecutionNotFoundError(NotFoundError):
    """No action execution has that id."""


class ActionTypeNotFoundError(NotFoundError):
    """The action type (category, owner, provider, version) is not registered."""


class JobNotFoundError(NotFoundError):
    """No job has that id (it finished, timed out, or never existed)."""


class WebhookNotFoundError(NotFoundError):
    """No webhook has that name."""


class ResourceNotFoundError(NotFoundError):
    """The resource (ARN, CodeBuild project or build, ...) does not exist."""


# ----------------------------------------------------------------------------------------------- conflicts


class ConflictError(PipepilotError):
    """The request clashes with the resource's current state or with another change in flight."""


class ConcurrentModificationError(ConflictError):
    """Another change to the same resource was in progress; try again once it settles."""


class PipelineNameInUseError(ConflictError):
    """A pipeline with that name already exists in this account and region."""


class ResourceAlreadyExistsError(ConflictError):
    """A resource (CodeBuild project, custom action type, ...) with that identity already exists."""


class VersionConflictError(ConflictError):
    """The pipeline is no longer at the version the caller expected (optimistic concurrency).

    ``pipeline_name``, ``expected_version`` and ``actual_version`` say what was expected and found.
    """

    def __init__(
        self,
        message: str = "",
        *,
        pipeline_name: str | None = None,
        expected_version: int | None = None,
        actual_version: int | None = None,
        **aws: Any,
    ) -> None:
        super().__init__(message, **aws)
        self.pipeline_name = pipeline_name
        self.expected_version = expected_version
        self.actual_version = actual_version


class NotLatestPipelineExecutionError(ConflictError):
    """The operation needs the pipeline's latest execution in that stage, and this one is not it."""


class PipelineExecutionOutdatedError(ConflictError):
    """The execution is too old for the operation (for example as a rollback target)."""


class PipelineExecutionNotStoppableError(ConflictError):
    """The execution cannot be stopped now (it already finished or stopped)."""


class DuplicatedStopRequestError(ConflictError):
    """A stop request of the same mode is already in progress for that execution."""


class StageNotRetryableError(ConflictError):
    """The stage cannot be retried now: it has no failed actions, or is still running."""


class UnableToRollbackStageError(ConflictError):
    """The stage cannot be rolled back (no earlier successful execution, or one is running)."""


class ConditionNotOverridableError(ConflictError):
    """The stage condition is not in a state that can be overridden."""


class InvalidJobStateError(ConflictError):
    """The job is not in a state that accepts this result (already completed or timed out)."""


# ----------------------------------------------------------------------------------------- invalid request


class InvalidRequestError(PipepilotError):
    """AWS (or pipepilot, before any call) rejected the request itself; retrying it unchanged cannot help."""


class ValidationError(InvalidRequestError):
    """AWS refused a parameter that broke a length, pattern or enum rule (ValidationException)."""


class RequestValidationError(InvalidRequestError):
    """The request breaks the API's rules (a length, a pattern, an enum, a required member), found before it
    was sent, by pipepilot's checks or botocore's parameter validation: nothing was sent.

    The message lists every problem, without the values: a refused value may be a secret.
    """


class InvalidInputError(InvalidRequestError):
    """CodeBuild rejected a parameter (InvalidInputException)."""


class InvalidStructureError(InvalidRequestError):
    """The pipeline structure is invalid, or the service role cannot be assumed by CodePipeline.

    AWS's ``InvalidStructureException``. What pipepilot finds malformed itself, before anything is sent, is
    its subclass :class:`MalformedInputError`, so one ``except`` catches both. ``path`` locates the problem
    in the input when it is known (``stages[0].actions[1]``), and is ``None`` otherwise.
    """

    def __init__(self, message: str = "", *, path: str | None = None, **aws: Any) -> None:
        super().__init__(message, **aws)
        self.path = path


class MalformedInputError(InvalidStructureError, ValueError):
    """Input pipepilot cannot read as the AWS structure it should be; nothing was read or sent.

    Raised locally: a ``from_api`` given something that is not that JSON object (or a whole ``GetPipeline``
    response instead of its ``pipeline``), pipeline JSON that does not parse, or an edit that would give a
    declaration two stages or actions of one name. It is also a ``ValueError``, and an
    :class:`InvalidStructureError` (what AWS answers for the same mistake), so code catching either keeps
    working.
    """


class NestingTooDeepError(MalformedInputError):
    """Input nests lists and objects deeper than pipepilot reads; nothing was read or sent.

    No AWS structure nests more than a few levels, so such input (a pipeline definition, a freeze record,
    any wire dict) is a mistake or an attack; reading it would exhaust Python's recursion limit. ``path``
    is where it crossed the limit (``stages[0].extra[0][0]...``, shortened in the text), ``limit`` the
    depth pipepilot reads.
    """

    def __init__(self, message: str = "", *, path: str | None = None, limit: int = 0, **aws: Any) -> None:
        super().__init__(message, path=path, **aws)
        self.limit = limit
        # The value ``path`` starts from, while the error travels out of nested readers (see
        # pipepilot.model._wire.nested_within); not part of the error's meaning.
        self.origin: object = None


class MalformedEventError(MalformedInputError):
    """A Lambda event that is not what its handler reads (an approval notification, say); nothing was done.

    Raised by :mod:`pipepilot.awslambda` readers before anything is answered. ``path`` is where in the
    event the problem is (``Records[0].Sns.Message.approval.token``); the message says what is wrong there
    and never quotes a value from the event, which may carry an approval token.
    """


class InvalidStageDeclarationError(InvalidRequestError):
    """A stage declaration is malformed."""


class InvalidActionDeclarationError(InvalidRequestError):
    """An action declaration is malformed (unknown type, bad configuration, wrong artifact counts)."""


class InvalidBlockerDeclarationError(InvalidRequestError):
    """A stage's ``blockers`` declaration is malformed (the field is reserved)."""


class InvalidArnError(InvalidRequestError):
    """The resource ARN is not a valid CodePipeline ARN."""


class InvalidNextTokenError(InvalidRequestError):
    """A pagination token is stale or belongs to another listing."""


class InvalidTagsError(InvalidRequestError):
    """A tag key or value is not allowed (for example the reserved ``aws:`` prefix)."""


class TooManyTagsError(InvalidRequestError):
    """The resource would carry more tags than allowed."""


class InvalidClientTokenError(InvalidRequestError):
    """A client request token is malformed or was reused with different parameters."""


class InvalidJobError(InvalidRequestError):
    """The job id does not name a valid job for this operation."""


class InvalidNonceError(InvalidRequestError):
    """The job nonce does not match the job."""


class OutputVariablesSizeExceededError(InvalidRequestError):
    """A job's output variables exceed the size CodePipeline accepts."""


class InvalidWebhookError(InvalidRequestError):
    """A webhook's authentication parameters or filter pattern are invalid."""


class ArgumentTypeError(InvalidRequestError, TypeError):
    """An argument given to pipepilot has the wrong type (a ``dict`` where a declaration belongs, a number
    where an execution id belongs ...); nothing was read or sent.

    ``parameter`` names the argument (or the field of the object being built); the text says what to pass
    instead. It is also a ``TypeError``.
    """

    def __init__(self, message: str = "", *, parameter: str | None = None, **aws: Any) -> None:
        super().__init__(message, **aws)
        self.parameter = parameter


class InvalidArgumentError(InvalidRequestError, ValueError):
    """An argument given to pipepilot has the right type but a value it refuses (an empty id, an unknown
    outcome, a negative duration ...); nothing was read or sent.

    ``parameter`` names the argument (or the field of the object being built). It is also a ``ValueError``.
    """

    def __init__(self, message: str = "", *, parameter: str | None = None, **aws: Any) -> None:
        super().__init__(message, **aws)
        self.parameter = parameter


class PipelineRenameError(InvalidRequestError):
    """An update carried another name than the pipeline's: CodePipeline cannot rename a pipeline.

    To rename, create the pipeline under the new name and delete the old one. ``name`` is the pipeline's
    name and ``new_name`` the one the declaration carried. Nothing was sent to AWS.
    """

    def __init__(
        self, message: str = "", *, name: str | None = None, new_name: str | None = None, **aws: Any
    ) -> None:
        super().__init__(message, **aws)
        self.name = name
        self.new_name = new_name


class PipelineValidationError(InvalidRequestError):
    """Local validation found problems in a pipeline declaration; nothing was sent to AWS.

    ``problems`` holds every :class:`~pipepilot.model.validation.Problem` found (each has ``path``, ``code``
    and ``message``). ``str()`` says how many there are and lists the first
    :attr:`MESSAGE_PROBLEMS` of them, one per line (``path: message [code]``, each cut at
    :attr:`MESSAGE_LINE_CHARS` characters), then ``… and N more``: a large broken declaration can have
    thousands of problems, and the message must stay readable in a log line or a Lambda error.
    """

    MESSAGE_PROBLEMS = 20
    MESSAGE_LINE_CHARS = 500

    def __init__(
        self,
        message: str = "",
        *,
        problems: Sequence[Problem] = (),
        pipeline_name: str | None = None,
        **aws: Any,
    ) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.pipeline_name = pipeline_name
        if not message:
            subject = f"pipeline {pipeline_name!r}" if pipeline_name else "the pipeline declaration"
            count = len(self.problems)
            message = f"{count} problem{'' if count == 1 else 's'} in {subject}"
        lines = [message]
        for problem in self.problems[: self.MESSAGE_PROBLEMS]:
            line = f"  {problem}"
            if len(line) > self.MESSAGE_LINE_CHARS:
                line = line[: self.MESSAGE_LINE_CHARS - 1] + "…"
            lines.append(line)
        if len(self.problems) > self.MESSAGE_PROBLEMS:
            lines.append(
                f"  … and {len(self.problems) - self.MESSAGE_PROBLEMS} more (the error's .problems lists all)"
            )
        super().__init__("\n".join(lines), **aws)


# ---------------------------------------------------------------------------------------------- approvals


class ApprovalError(PipepilotError):
    """A manual approval could not be answered."""


class ApprovalAlreadyCompletedError(ApprovalError):
    """The approval was already answered, or it expired."""


class InvalidApprovalTokenError(ApprovalError):
    """The approval token does not match the approval now waiting (a newer run replaced it)."""


class ApprovalConflict(ApprovalError, ConflictError):
    """The approval was already answered with the other outcome than the one being sent.

    Raised when a redelivered request (Lambda, SNS) finds the approval completed differently; answering
    the same way twice is a no-op, not this error. ``requested`` and ``actual`` are the two outcomes
    (for example ``"Approved"`` and ``"Rejected"``).
    """

    def __init__(
        self, message: str = "", *, requested: str | None = None, actual: str | None = None, **aws: Any
    ) -> None:
        super().__init__(message, **aws)
        self.requested = requested
        self.actual = actual


class NoApprovalWaitingError(ApprovalError):
    """No approval waits where one was asked for: the execution has not reached it, or it never will.

    ``pipeline``, ``stage``, ``action`` and ``execution_id`` say where pipepilot looked.
    """

    def __init__(
        self,
        message: str = "",
        *,
        pipeline: str | None = None,
        stage: str | None = None,
        action: str | None = None,
        execution_id: str | None = None,
        **aws: Any,
    ) -> None:
        super().__init__(message, **aws)
        self.pipeline = pipeline
        self.stage = stage
        self.action = action
        self.execution_id = execution_id


class AmbiguousApprovalError(ApprovalError):
    """Several executions wait at the approval asked for, and none was named: nothing was answered.

    Name the one meant with ``execution=`` (or answer the approval a notification or a wait handed over).
    ``pipeline``, ``stage`` and ``action`` say where; ``execution_ids`` lists the executions waiting there.
    """

    def __init__(
        self,
        message: str = "",
        *,
        pipeline: str | None = None,
        stage: str | None = None,
        action: str | None = None,
        execution_ids: Sequence[str] = (),
        **aws: Any,
    ) -> None:
        super().__init__(message, **aws)
        self.pipeline = pipeline
        self.stage = stage
        self.action = action
        self.execution_ids: tuple[str, ...] = tuple(execution_ids)


# -------------------------------------------------------------------------------------------------- quotas


class QuotaError(PipepilotError):
    """An account or resource quota is reached; waiting for something to finish, or a quota raise, helps."""


class LimitExceededError(QuotaError):
    """A CodePipeline quota is reached (for example the number of pipelines in the account)."""


class ConcurrentPipelineExecutionsLimitExceededError(QuotaError):
    """The pipeline already runs (or queues) as many executions as its quota allows."""


class AccountLimitExceededError(QuotaError):
    """A CodeBuild account quota is reached (builds queued or running, projects, ...)."""


# ----------------------------------------------------------------------------------------------- transient


class TransientError(PipepilotError):
    """A failure that may pass by itself. pipepilot already retried within its retry policy."""


class ThrottlingError(TransientError):
    """AWS is rate-limiting the caller ("Rate exceeded")."""


class ServiceUnavailableError(TransientError):
    """AWS failed on its side (HTTP 5xx, InternalFailure, ServiceUnavailable)."""


class ConnectionFailure(TransientError):
    """No answer came back: the endpoint was unreachable, or the connection dropped or timed out.

    A write that failed this way may or may not have taken effect.
    """


# ------------------------------------------------------------------------------------- access and fallback


class AccessDeniedError(PipepilotError):
    """The caller's credentials are missing, invalid or expired, or do not allow the operation.

    ``action`` is the IAM action that was refused (``"codepipeline:StartPipelineExecution"``) when AWS
    refused one: the one AWS's message names, else the service's prefix and the operation's name.
    """

    def __init__(self, message: str = "", *, action: str | None = None, **aws: Any) -> None:
        super().__init__(message, **aws)
        self.action = action


class ConfigurationError(PipepilotError):
    """The AWS settings pipepilot needs are missing or wrong; the message says what to set.

    Nothing was sent. Raised when a client is created (no region, an unknown profile) or when a request
    is signed (no credentials, an expired SSO session).
    """


class RegionNotSetError(ConfigurationError):
    """No region is named by ``region_name=``, the session, ``AWS_REGION``/``AWS_DEFAULT_REGION`` or the
    config file."""


class ProfileNotFoundError(ConfigurationError):
    """The profile named by ``AWS_PROFILE`` (or the session) is not in the config or credentials file.

    ``profile`` is its name.
    """

    def __init__(self, message: str = "", *, profile: str | None = None, **aws: Any) -> None:
        super().__init__(message, **aws)
        self.profile = profile


class CredentialsNotFoundError(ConfigurationError, AccessDeniedError):
    """No credentials were found (or only part of a key pair): nothing could be signed or sent."""


class ExpiredCredentialsError(ConfigurationError, AccessDeniedError):
    """The credentials in use have expired (``ExpiredToken``); refresh them and try again."""


class SSOTokenExpiredError(ExpiredCredentialsError):
    """The profile's IAM Identity Center (SSO) session has expired or was never started: run
    ``aws sso login``."""


class AWSServiceError(PipepilotError):
    """An AWS error pipepilot has no more specific class for; ``code`` says which."""


# --------------------------------------------------------------------------------------------------- waits


class WaitError(PipepilotError):
    """A wait ended without the outcome it waited for."""


class WaitTimeout(WaitError):
    """The wait's deadline passed; ``last`` is the last state observed (never swallowed)."""

    def __init__(self, message: str = "", *, last: object = None, **aws: Any) -> None:
        super().__init__(message, **aws)
        self.last = last


class ExecutionUnsuccessful(WaitError):
    """A pipeline execution ended without succeeding.

    ``execution`` is the last observed execution; ``stage`` and ``action`` name where it went wrong, with
    the action's ``error_code``, ``error_message`` and ``external_execution_url`` when AWS reported them.
    """

    def __init__(
        self,
        message: str = "",
        *,
        execution: object = None,
        stage: str | None = None,
        action: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
        external_execution_url: str | None = None,
        **aws: Any,
    ) -> None:
        super().__init__(message, **aws)
        self.execution = execution
        self.stage = stage
        self.action = action
        self.error_code = error_code
        self.error_message = error_message
        self.external_execution_url = external_execution_url


class ExecutionFailed(ExecutionUnsuccessful):
    """The execution ended ``Failed``."""


class ExecutionStopped(ExecutionUnsuccessful):
    """The execution was stopped (``Stopped``)."""


class ExecutionSuperseded(ExecutionUnsuccessful):
    """A newer execution overtook this one (``Superseded``, SUPERSEDED mode)."""


class ExecutionCancelled(ExecutionUnsuccessful):
    """The execution was cancelled (``Cancelled``, for example when its queue was discarded)."""


class BuildFailed(WaitError):
    """A CodeBuild build ended without succeeding (FAILED, FAULT, TIMED_OUT or STOPPED).

    ``build`` is the last observed build, ``phase`` the phase that failed, and ``contexts`` the phase's
    status contexts (CodeBuild's explanation of the failure).
    """

    def __init__(
        self,
        message: str = "",
        *,
        build: object = None,
        phase: str | None = None,
        contexts: Sequence[object] = (),
        **aws: Any,
    ) -> None:
        super().__init__(message, **aws)
        self.build = build
        self.phase = phase
        self.contexts: tuple[object, ...] = tuple(contexts)


# --------------------------------------------------------------------------------------------- code table

#: Error codes AWS uses for throttling across services (botocore's ``retries/standard.py`` list, minus
#: ``LimitExceededException``: CodePipeline uses that code for its pipeline quota, which no back-off fixes).
THROTTLING_CODES: frozenset[str] = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)

_SERVICE_UNAVAILABLE_CODES = (
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "InternalServerException",
    "InternalServiceError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServiceException",
    "RequestTimeout",
    "RequestTimeoutException",
)

_ACCESS_DENIED_CODES = (
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "NotAuthorized",
    "AccountSuspendedException",
)

_EXPIRED_CODES = ("ExpiredToken", "ExpiredTokenException")

_SPECIFIC_CODES: dict[str, type[PipepilotError]] = {
    # not found
    "PipelineNotFoundException": PipelineNotFoundError,
    "PipelineVersionNotFoundException": PipelineVersionNotFoundError,
    "PipelineExecutionNotFoundException": PipelineExecutionNotFoundError,
    "StageNotFoundException": StageNotFoundError,
    "ActionNotFoundException": ActionNotFoundError,
    "ActionExecutionNotFoundException": ActionExecutionNotFoundError,
    "ActionTypeNotFoundException": ActionTypeNotFoundError,
    "JobNotFoundException": JobNotFoundError,
    "WebhookNotFoundException": WebhookNotFoundError,
    "ResourceNotFoundException": ResourceNotFoundError,
    # conflicts
    "ConflictException": ConflictError,
    "ConcurrentModificationException": ConcurrentModificationError,
    "PipelineNameInUseException": PipelineNameInUseError,
    "ResourceAlreadyExistsException": ResourceAlreadyExistsError,
    "ActionTypeAlreadyExistsException": ResourceAlreadyExistsError,
    "NotLatestPipelineExecutionException": NotLatestPipelineExecutionError,
    "PipelineExecutionOutdatedException": PipelineExecutionOutdatedError,
    "PipelineExecutionNotStoppableException": PipelineExecutionNotStoppableError,
    "DuplicatedStopRequestException": DuplicatedStopRequestError,
    "StageNotRetryableException": StageNotRetryableError,
    "UnableToRollbackStageException": UnableToRollbackStageError,
    "ConditionNotOverridableException": ConditionNotOverridableError,
    "InvalidJobStateException": InvalidJobStateError,
    # invalid requests
    "ValidationException": ValidationError,
    "InvalidInputException": InvalidInputError,
    "InvalidStructureException": InvalidStructureError,
    "InvalidStageDeclarationException": InvalidStageDeclarationError,
    "InvalidActionDeclarationException": InvalidActionDeclarationError,
    "InvalidBlockerDeclarationException": InvalidBlockerDeclarationError,
    "InvalidArnException": InvalidArnError,
    "InvalidNextTokenException": InvalidNextTokenError,
    "InvalidTagsException": InvalidTagsError,
    "TooManyTagsException": TooManyTagsError,
    "InvalidClientTokenException": InvalidClientTokenError,
    "InvalidJobException": InvalidJobError,
    "InvalidNonceException": InvalidNonceError,
    "OutputVariablesSizeExceededException": OutputVariablesSizeExceededError,
    "InvalidWebhookAuthenticationParametersException": InvalidWebhookError,
    "InvalidWebhookFilterPatternException": InvalidWebhookError,
    # approvals
    "ApprovalAlreadyCompletedException": ApprovalAlreadyCompletedError,
    "InvalidApprovalTokenException": InvalidApprovalTokenError,
    # quotas
    "LimitExceededException": LimitExceededError,
    "ConcurrentPipelineExecutionsLimitExceededException": ConcurrentPipelineExecutionsLimitExceededError,
    "AccountLimitExceededException": AccountLimitExceededError,
}

#: AWS error code -> the class pipepilot raises for it. Codes not listed fall back by HTTP status
#: (5xx -> :class:`ServiceUnavailableError`) and then to :class:`AWSServiceError`.
ERROR_CODES: Mapping[str, type[PipepilotError]] = MappingProxyType(
    {
        **_SPECIFIC_CODES,
        **dict.fromkeys(THROTTLING_CODES, ThrottlingError),
        **dict.fromkeys(_SERVICE_UNAVAILABLE_CODES, ServiceUnavailableError),
        **dict.fromkeys(_ACCESS_DENIED_CODES, AccessDeniedError),
        **dict.fromkeys(_EXPIRED_CODES, ExpiredCredentialsError),
    }
)


def error_class_for(code: str | None, http_status: int | None = None) -> type[PipepilotError]:
    """The class for an AWS error ``code`` (and HTTP status): specific when known, else a fallback.

    Order: the exact code in :data:`ERROR_CODES`; any code starting ``AccessDenied``; an HTTP status of 500
    or more; finally :class:`AWSServiceError`. A ``namespace#`` prefix on the code is ignored.
    """
    if code:
        code = code.rpartition("#")[2]
        known = ERROR_CODES.get(code)
        if known is not None:
            return known
        if code.startswith("AccessDenied"):
            return AccessDeniedError
    if http_status is not None and http_status >= 500:
        return ServiceUnavailableError
    return AWSServiceError


def translate(
    exc: botocore_exceptions.ClientError,
    operation: str | None = None,
    *,
    conceal: Collection[str] = (),
    service: str | None = None,
) -> PipepilotError:
    """The pipepilot error for a botocore ``ClientError`` (not raised; the caller raises it ``from exc``).

    ``operation`` overrides the operation name botocore recorded. The text names the operation, the code
    and AWS's message, and never the request's parameters. Every string in ``conceal`` (the request's
    secrets) is replaced by ``***`` wherever AWS's answer quotes it: in the message and in ``response``
    (a copy then; otherwise ``response`` is the ``ClientError``'s own). ``service`` is the IAM prefix of
    the service called (``"codepipeline"``): an :class:`AccessDeniedError` names the action refused as
    AWS's message does, or else as ``<service>:<operation>``.
    """
    response: Mapping[str, Any] = exc.response
    secrets = [secret for secret in conceal if secret]
    if secrets:
        concealed = _concealed(response, secrets)
        if concealed != response:
            response = concealed
    error = response.get("Error") or {}
    metadata = response.get("ResponseMetadata") or {}
    code = error.get("Code") or None
    status = metadata.get("HTTPStatusCode")
    aws_message = str(error.get("Message") or "")
    operation_name = operation or getattr(exc, "operation_name", None)
    cls = error_class_for(code, status)
    text = f"{operation_name or 'AWS call'} failed: {code or f'HTTP {status}'}"
    if aws_message:
        text += f": {aws_message}"
    details: dict[str, Any] = {
        "code": code,
        "aws_message": aws_message,
        "operation_name": operation_name,
        "request_id": metadata.get("RequestId"),
        "http_status": status,
        "response": response,
    }
    if issubclass(cls, AccessDeniedError):
        action, hint = _access_denied_hint(cls, code, aws_message, service, operation_name)
        # One line that says what to do first; AWS's own words follow.
        text = f"{operation_name or 'AWS call'} was refused: {hint} ({code or f'HTTP {status}'}"
        text += f": {aws_message})" if aws_message else ")"
        return cls(text, action=action, **details)
    return cls(text, **details)


# AWS names the refused action in its message: "... is not authorized to perform: codepipeline:ListPipelines
# on resource: ..." (the colon after "perform" is missing in some services' messages).
_REFUSED_ACTION = re.compile(r"\bperform:?\s+([A-Za-z0-9-]+:[A-Za-z0-9*]+)")
_BAD_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
    }
)


def _access_denied_hint(
    cls: type[PipepilotError], code: str | None, aws_message: str, service: str | None, operation: str | None
) -> tuple[str | None, str]:
    """The IAM action refused (when one was), and what to do about an access error, in a few words."""
    if issubclass(cls, ExpiredCredentialsError):
        return (
            None,
            "the credentials in use have expired; refresh them (`aws sso login`, or assume the role again)",
        )
    if code in _BAD_CREDENTIAL_CODES:
        return None, "the credentials in use were not recognised; check AWS_PROFILE or the access keys set"
    found = _REFUSED_ACTION.search(aws_message)
    action = found.group(1) if found else (f"{service}:{operation}" if service and operation else None)
    if action is None:
        return None, "the credentials in use are not allowed to do this; check their IAM policies"
    return action, f"the credentials in use may not perform {action}; allow it in their IAM policy"


_CONCEALED = "***"


def _concealed(value: Any, secrets: Sequence[str]) -> Any:
    """A copy of ``value`` (a parsed response) with each secret replaced by ``***`` in every string."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, _CONCEALED)
        return value
    if isinstance(value, Mapping):
        return {key: _concealed(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_concealed(item, secrets) for item in value]
    return value


# Connection problems botocore raises instead of a ClientError (no HTTP answer came back). SSL and proxy
# errors are left out on purpose: they are configuration problems, and retrying cannot fix them.
_CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    botocore_exceptions.EndpointConnectionError,
    botocore_exceptions.ConnectTimeoutError,
    botocore_exceptions.ConnectionClosedError,
    botocore_exceptions.ReadTimeoutError,
)
# The SSO session behind a profile is missing or expired: botocore's SSO credential and token providers.
_SSO_ERRORS: tuple[type[Exception], ...] = (
    botocore_exceptions.SSOError,
    botocore_exceptions.TokenRetrievalError,
)

#: What to set when no region is found (``RegionNotSetError``).
REGION_HINT = "set AWS_REGION (or AWS_DEFAULT_REGION), or pass region_name="
#: What to set when no credentials are found (``CredentialsNotFoundError``).
CREDENTIALS_HINT = (
    "set AWS_PROFILE to a configured profile (then `aws sso login` if it uses SSO), "
    "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)


def translate_settings_error(
    exc: Exception, where: str, operation: str | None = None
) -> PipepilotError | None:
    """The :class:`ConfigurationError` for botocore's complaint about missing or wrong settings, or ``None``.

    ``where`` starts the message (``"cannot create a codepipeline client"``). Each message is one line:
    what is wrong, then what to set.
    """
    if isinstance(exc, botocore_exceptions.NoRegionError):
        return RegionNotSetError(f"{where}: no AWS region is set; {REGION_HINT}", operation_name=operation)
    if isinstance(exc, botocore_exceptions.ProfileNotFound):
        profile = exc.kwargs.get("profile")
        return ProfileNotFoundError(
            f"{where}: the AWS profile {profile!r} is not in the AWS config or credentials file; set "
            "AWS_PROFILE to a profile that exists (`aws configure list-profiles`), or unset it",
            profile=profile,
            operation_name=operation,
        )
    if isinstance(exc, botocore_exceptions.NoCredentialsError):
        return CredentialsNotFoundError(
            f"{where}: no AWS credentials found; {CREDENTIALS_HINT}", operation_name=operation
        )
    if isinstance(exc, botocore_exceptions.PartialCredentialsError):
        return CredentialsNotFoundError(
            f"{where}: incomplete AWS credentials ({exc}); {CREDENTIALS_HINT}", operation_name=operation
        )
    if isinstance(exc, _SSO_ERRORS):
        return SSOTokenExpiredError(
            f"{where}: the AWS SSO session of the profile in use has expired or was never started; run "
            "`aws sso login` (with --profile <name> when AWS_PROFILE is not set)",
            operation_name=operation,
        )
    return None


# botocore's parameter report quotes the offending value ("Invalid type for parameter token, value: ...,
# type: <class 'uuid.UUID'>, valid types: <class 'str'>"); the value may be a secret, and what is wrong
# with it is said by the rest of the line.
_QUOTED_VALUE = re.compile(
    r"(, value: ).*?(, type: <class '[^']*'>, valid types: |, valid min (?:value|length): )", re.DOTALL
)


def _parameter_report(exc: botocore_exceptions.ParamValidationError) -> str:
    """botocore's report of what is wrong with the parameters, with every quoted value left out."""
    report = str(exc.kwargs.get("report", ""))
    return _QUOTED_VALUE.sub(r"\g<1>(not shown)\g<2>", report)


def translate_botocore_error(
    exc: Exception,
    operation: str | None = None,
    *,
    conceal: Collection[str] = (),
    service: str | None = None,
) -> PipepilotError | None:
    """The pipepilot error for a botocore exception, or ``None`` if pipepilot leaves it as it is.

    ``ClientError`` goes through :func:`translate` (with ``conceal``); dropped connections and timeouts
    become :class:`ConnectionFailure`; botocore's own parameter validation becomes :class:`RequestValidationError`
    (its report without the values it quotes); missing settings (region, profile, credentials, an expired
    SSO session) become a :class:`ConfigurationError` (see :func:`translate_settings_error`).
    """
    if isinstance(exc, botocore_exceptions.ClientError):
        return translate(exc, operation, conceal=conceal, service=service)
    where = operation or "AWS call"
    if isinstance(exc, _CONNECTION_ERRORS):
        return ConnectionFailure(
            f"{where} failed: no answer from AWS ({type(exc).__name__})", operation_name=operation
        )
    if isinstance(exc, botocore_exceptions.ParamValidationError):
        return RequestValidationError(
            f"{where} was not sent: parameter validation failed:\n{_parameter_report(exc)}",
            operation_name=operation,
        )
    return translate_settings_error(exc, f"{where} was not sent", operation)


def _clean_cause(exc: Exception, mapped: PipepilotError) -> Exception:
    """``exc``, or a copy of it whose text holds no secret and no quoted parameter (traceback kept)."""
    copy: Exception
    if isinstance(exc, botocore_exceptions.ClientError):
        if mapped.response is exc.response:
            return exc
        concealed: Any = mapped.response
        copy = botocore_exceptions.ClientError(concealed, exc.operation_name)
    elif isinstance(exc, botocore_exceptions.ParamValidationError):
        copy = botocore_exceptions.ParamValidationError(report=_parameter_report(exc))
    else:
        return exc
    return copy.with_traceback(exc.__traceback__)


def _raise_from_clean_cause(error: PipepilotError, cause: Exception) -> NoReturn:
    """Raise ``error`` from ``cause``, with no trace of the exception being handled (it holds a secret).

    Python records the exception being handled as the new one's ``__context__``; tracebacks hide it once
    there is a ``__cause__``, but it would stay reachable, so it is dropped.
    """
    try:
        raise error from cause
    except PipepilotError:
        error.__context__ = None
        raise


@contextlib.contextmanager
def translating(
    operation: str | None = None, *, conceal: Collection[str] = (), service: str | None = None
) -> Iterator[None]:
    """Run a boto3 call, raising the pipepilot error for any botocore error (original kept as ``__cause__``).

    ``conceal`` lists the request's secret values (approval token, job nonce): they are replaced by
    ``***`` in the error, and the ``__cause__`` is then a copy of the original without them. ``service``
    is the IAM prefix of the service called, for :class:`AccessDeniedError`'s ``action``. Botocore
    errors that have no pipepilot meaning (for example a misconfigured endpoint) pass through.
    """
    try:
        yield
    except (botocore_exceptions.ClientError, botocore_exceptions.BotoCoreError) as exc:
        mapped = translate_botocore_error(exc, operation, conceal=conceal, service=service)
        if mapped is None:
            raise
        cause = _clean_cause(exc, mapped)
        if cause is exc:
            raise mapped from exc
        _raise_from_clean_cause(mapped, cause)
