"""The error tree, the code table (complete against botocore's models) and translation at the seam."""

from __future__ import annotations

import pickle
import traceback
import uuid
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import exceptions as botocore_exceptions
from botocore.stub import Stubber

from pipepilot import errors
from pipepilot.errors import (
    ERROR_CODES,
    THROTTLING_CODES,
    AccessDeniedError,
    ActionNotFoundError,
    ApprovalConflict,
    ApprovalError,
    AWSServiceError,
    BuildFailed,
    ConflictError,
    ConnectionFailure,
    ExecutionFailed,
    ExecutionUnsuccessful,
    ExpiredCredentialsError,
    InvalidRequestError,
    LimitExceededError,
    NotFoundError,
    PipelineNotFoundError,
    PipelineValidationError,
    PipepilotError,
    QuotaError,
    RequestValidationError,
    ServiceUnavailableError,
    StageNotFoundError,
    ThrottlingError,
    TransientError,
    ValidationError,
    VersionConflictError,
    WaitError,
    WaitTimeout,
    error_class_for,
    translate,
    translating,
)
from pipepilot.model.validation import Problem

# These tests sign requests that a stub answers: they need credentials (dummy ones), as online code does.
pytestmark = pytest.mark.usefixtures("fake_credentials")

#: Modeled codes that deliberately map to the AWSServiceError fallback, each with the reason.
FALLBACK_IS_FINE = {
    "RequestFailedException": "CodePipeline's 'unknown error, exception, or failure': AWS itself does not "
    "say what went wrong, so no branch of the tree would be truthful.",
    "OAuthProviderException": "CodeBuild's third-party OAuth provider (GitHub, Bitbucket) failed; not "
    "AWS's state, not the caller's request, not a quota.",
}


def _modeled_codes(service: str) -> set[str]:
    model = botocore.session.Session().get_service_model(service)
    return {getattr(shape, "error_code", None) or shape.name for shape in model.error_shapes}


@pytest.mark.parametrize("service", ["codepipeline", "codebuild"])
def test_every_modeled_error_code_maps_to_a_class_or_is_a_declared_fallback(service: str) -> None:
    """Each error code in botocore's service model gets a specific class, or a stated reason why not."""
    codes = _modeled_codes(service)
    assert len(codes) >= {"codepipeline": 42, "codebuild": 6}[service]
    unmapped = {code for code in codes if error_class_for(code, 400) is AWSServiceError}
    assert unmapped <= set(FALLBACK_IS_FINE), (
        f"codes without a class or a reason: {unmapped - set(FALLBACK_IS_FINE)}"
    )


def test_fallback_list_holds_only_codes_the_models_still_have() -> None:
    """A fallback entry for a code botocore no longer models, or that now has a class, is stale."""
    modeled = _modeled_codes("codepipeline") | _modeled_codes("codebuild")
    for code in FALLBACK_IS_FINE:
        assert code in modeled
        assert error_class_for(code, 400) is AWSServiceError


def test_error_classes_all_descend_from_the_one_root() -> None:
    """Every exception class pipepilot exports is a PipepilotError, and the table maps only onto them."""
    exported = [getattr(errors, name) for name in errors.__all__]
    classes = [obj for obj in exported if isinstance(obj, type)]
    assert len(classes) > 50
    for cls in classes:
        assert issubclass(cls, PipepilotError), cls
    assert all(issubclass(cls, PipepilotError) for cls in ERROR_CODES.values())


def test_module_docstring_tree_names_every_exported_class() -> None:
    """The ASCII tree in the module docstring stays in step with the classes."""
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type):
            assert name in doc, name


@pytest.mark.parametrize(
    "code",
    ["ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"],
)
def test_throttling_codes_map_to_a_transient_throttling_error(code: str) -> None:
    """AWS's throttling codes become ThrottlingError, which is a TransientError."""
    assert code in THROTTLING_CODES
    assert error_class_for(code, 400) is ThrottlingError
    assert issubclass(ThrottlingError, TransientError)


def test_pipeline_quota_is_a_quota_error_not_throttling() -> None:
    """LimitExceededException is CodePipeline's pipeline quota: back-off cannot fix it, so it is not transient."""
    assert "LimitExceededException" not in THROTTLING_CODES
    cls = error_class_for("LimitExceededException", 400)
    assert cls is LimitExceededError
    assert issubclass(cls, QuotaError)
    assert not issubclass(cls, TransientError)


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("SomethingNew", 500, ServiceUnavailableError),
        ("SomethingNew", 503, ServiceUnavailableError),
        (None, 502, ServiceUnavailableError),
        ("InternalFailure", 500, ServiceUnavailableError),
        ("ServiceUnavailable", 503, ServiceUnavailableError),
        ("AccessDeniedException", 400, AccessDeniedError),
        ("AccessDeniedForDependencyException", 400, AccessDeniedError),
        ("UnrecognizedClientException", 400, AccessDeniedError),
        ("ExpiredTokenException", 400, ExpiredCredentialsError),
        ("SomethingNew", 400, AWSServiceError),
        (None, None, AWSServiceError),
        ("com.amazonaws.codepipeline#PipelineNotFoundException", 400, PipelineNotFoundError),
        ("ConflictException", 409, ConflictError),
        ("PipelineNotFoundException", 500, PipelineNotFoundError),
    ],
)
def test_error_class_for_picks_the_most_specific_class(
    code: str | None, status: int | None, expected: type[PipepilotError]
) -> None:
    """Exact codes first, then AccessDenied*, then 5xx, then the AWSServiceError fallback."""
    assert error_class_for(code, status) is expected


def _client_error(code: str, message: str, *, status: int = 400, operation: str = "GetPipeline") -> Any:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"RequestId": "req-1234", "HTTPStatusCode": status, "RetryAttempts": 0},
    }
    return botocore_exceptions.ClientError(response, operation)


def test_translate_keeps_code_message_operation_request_id_status_and_response() -> None:
    """A translated error carries everything a caller needs to report or branch on."""
    exc = _client_error("PipelineNotFoundException", "Account does not have a pipeline with name 'p'")
    err = translate(exc)
    assert type(err) is PipelineNotFoundError
    assert err.code == "PipelineNotFoundException"
    assert err.message == "Account does not have a pipeline with name 'p'"
    assert err.operation_name == "GetPipeline"
    assert err.request_id == "req-1234"
    assert err.http_status == 400
    assert err.response is exc.response
    assert "GetPipeline" in str(err)
    assert "PipelineNotFoundException" in str(err)
    assert "does not have a pipeline" in str(err)


def test_fallback_keeps_the_unknown_code() -> None:
    """An unmodeled code becomes AWSServiceError that still says which code it was."""
    err = translate(_client_error("BrandNewException", "new", operation="ListPipelines"))
    assert type(err) is AWSServiceError
    assert err.code == "BrandNewException"


def test_translate_accepts_an_operation_override() -> None:
    """The operation name given to translate wins over botocore's."""
    err = translate(_client_error("ValidationException", "bad"), "CreatePipeline")
    assert type(err) is ValidationError
    assert err.operation_name == "CreatePipeline"


def test_translating_raises_the_mapped_error_from_a_real_client_error_keeping_the_cause() -> None:
    """Errors from a real boto3 call come out typed, with the ClientError as ``__cause__``."""
    client = boto3.client("codepipeline", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_pipeline",
            "PipelineNotFoundException",
            "no such pipeline",
            response_meta={"RequestId": "abc-123"},
        )
        with pytest.raises(PipelineNotFoundError) as info, translating("GetPipeline"):
            client.get_pipeline(name="missing")
    err = info.value
    assert isinstance(err.__cause__, botocore_exceptions.ClientError)
    assert err.request_id == "abc-123"
    assert isinstance(err, NotFoundError)


def test_translated_messages_never_echo_request_parameters() -> None:
    """A failed PutApprovalResult does not leak its approval token into the error or its repr."""
    client = boto3.client("codepipeline", region_name="us-east-1")
    token = "0f7c6a4e-1111-2222-3333-444455556666"
    with Stubber(client) as stub:
        stub.add_client_error("put_approval_result", "InvalidApprovalTokenException", "token is not valid")
        with pytest.raises(ApprovalError) as info, translating("PutApprovalResult"):
            client.put_approval_result(
                pipelineName="p",
                stageName="s",
                actionName="a",
                result={"summary": "ok", "status": "Approved"},
                token=token,
            )
    err = info.value
    assert token not in str(err)
    assert token not in repr(err)
    assert token not in repr(err.response)


@pytest.mark.parametrize(
    "exc",
    [
        botocore_exceptions.EndpointConnectionError(
            endpoint_url="https://codepipeline.us-east-1.amazonaws.com"
        ),
        botocore_exceptions.ConnectTimeoutError(endpoint_url="https://x"),
        botocore_exceptions.ReadTimeoutError(endpoint_url="https://x"),
        botocore_exceptions.ConnectionClosedError(endpoint_url="https://x"),
    ],
)
def test_connection_errors_become_connection_failure(exc: Exception) -> None:
    """No answer from AWS is a transient ConnectionFailure, original kept as the cause."""
    with pytest.raises(ConnectionFailure) as info, translating("ListPipelines"):
        raise exc
    assert info.value.__cause__ is exc
    assert isinstance(info.value, TransientError)
    assert info.value.operation_name == "ListPipelines"


def test_botocore_parameter_validation_becomes_request_validation_error() -> None:
    """botocore's own client-side validation surfaces as pipepilot's RequestValidationError."""
    client = boto3.client("codepipeline", region_name="us-east-1")
    with pytest.raises(RequestValidationError) as info, translating("GetPipeline"):
        client.get_pipeline(name="")
    assert isinstance(info.value.__cause__, botocore_exceptions.ParamValidationError)
    assert isinstance(info.value, InvalidRequestError)


def _everything_about(error: BaseException) -> str:
    """All a log or a debugger could see of ``error``: its traceback with chained causes, and their fields."""
    shown = "".join(traceback.format_exception(error))
    for link in (error, error.__cause__, error.__context__):
        if link is not None:
            shown += repr(vars(link)) + str(link)
    return shown


def test_parameter_validation_never_quotes_the_values_it_refuses() -> None:
    """botocore's report quotes a mistyped value (a token passed as a UUID object); the error does not."""
    client = boto3.client("codepipeline", region_name="us-east-1")
    token = uuid.UUID("0f7c6a4e-1111-2222-3333-444455556666")
    with pytest.raises(RequestValidationError) as info, translating("PutApprovalResult"):
        client.put_approval_result(
            pipelineName="p",
            stageName="s",
            actionName="a",
            result={"summary": "ok", "status": "Approved"},
            token=token,  # type: ignore[arg-type]
        )
    err = info.value
    assert str(token) not in _everything_about(err)
    assert "Invalid type for parameter token" in str(err)
    assert "uuid.UUID" in str(err)
    assert isinstance(err.__cause__, botocore_exceptions.ParamValidationError)
    assert str(token) not in str(err.__cause__)


def test_secrets_aws_quotes_back_are_concealed_everywhere() -> None:
    """A secret of the request that AWS echoes (its message, its response) appears nowhere in the error.

    The cause is then a copy of the ClientError without the secret; the original is not kept as context.
    """
    token = "0f7c6a4e-1111-2222-3333-444455556666"
    echoed = _client_error(
        "ValidationException",
        f"1 validation error detected: Value '{token}' at 'token' failed to satisfy constraint",
        operation="PutApprovalResult",
    )
    with pytest.raises(ValidationError) as info, translating("PutApprovalResult", conceal=[token]):
        raise echoed
    err = info.value
    assert token not in _everything_about(err)
    assert err.message == "1 validation error detected: Value '***' at 'token' failed to satisfy constraint"
    assert err.response is not None
    assert err.response["Error"]["Message"] == err.message
    assert err.request_id == "req-1234"
    cause = err.__cause__
    assert isinstance(cause, botocore_exceptions.ClientError)
    assert cause is not echoed
    assert cause.operation_name == "PutApprovalResult"
    assert err.__context__ is None
    assert token in str(echoed), "the original is left as botocore made it"


def test_secrets_that_aws_does_not_quote_leave_the_original_cause() -> None:
    """Without an echo there is nothing to conceal: the response and the cause are botocore's own."""
    exc = _client_error("InvalidApprovalTokenException", "token is not valid", operation="PutApprovalResult")
    with pytest.raises(ApprovalError) as info, translating("PutApprovalResult", conceal=["secret-token"]):
        raise exc
    assert info.value.response is exc.response
    assert info.value.__cause__ is exc


def test_missing_credentials_become_access_denied() -> None:
    """No credentials at all is an AccessDeniedError."""
    with pytest.raises(AccessDeniedError), translating("GetPipeline"):
        raise botocore_exceptions.NoCredentialsError


@pytest.mark.parametrize(
    ("raised", "expected", "says"),
    [
        (botocore_exceptions.NoRegionError(), errors.RegionNotSetError, ["AWS_REGION", "region_name="]),
        (
            botocore_exceptions.ProfileNotFound(profile="ghost"),
            errors.ProfileNotFoundError,
            ["'ghost'", "AWS_PROFILE"],
        ),
        (
            botocore_exceptions.NoCredentialsError(),
            errors.CredentialsNotFoundError,
            ["AWS_PROFILE", "aws sso login"],
        ),
        (
            botocore_exceptions.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
            errors.CredentialsNotFoundError,
            ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"],
        ),
        (botocore_exceptions.UnauthorizedSSOTokenError(), errors.SSOTokenExpiredError, ["aws sso login"]),
        (
            botocore_exceptions.SSOTokenLoadError(error_msg="Token for x does not exist"),
            errors.SSOTokenExpiredError,
            ["aws sso login"],
        ),
        (
            botocore_exceptions.TokenRetrievalError(provider="sso", error_msg="Token has expired"),
            errors.SSOTokenExpiredError,
            ["aws sso login"],
        ),
    ],
)
def test_missing_or_wrong_settings_get_a_typed_one_line_error_saying_what_to_set(
    raised: Exception, expected: type[errors.PipepilotError], says: list[str]
) -> None:
    """Each settings problem is its own ConfigurationError whose single line names what to set."""
    with pytest.raises(expected) as info, translating("ListPipelines"):
        raise raised
    err = info.value
    assert isinstance(err, errors.ConfigurationError)
    text = str(err)
    assert "\n" not in text
    assert text.startswith("ListPipelines was not sent: ")
    for words in says:
        assert words in text
    assert err.__cause__ is raised


def test_missing_credentials_and_an_expired_sso_session_are_still_access_denied() -> None:
    """Code that catches AccessDeniedError for credential trouble keeps working."""
    assert issubclass(errors.CredentialsNotFoundError, AccessDeniedError)
    assert issubclass(errors.SSOTokenExpiredError, errors.ExpiredCredentialsError)
    assert issubclass(errors.ExpiredCredentialsError, AccessDeniedError)


def test_access_denied_names_the_iam_action_aws_refused() -> None:
    """AWS's message names the refused action; the error carries it and says it in one line."""
    message = (
        "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: codepipeline:ListPipelines "
        "on resource: arn:aws:codepipeline:us-east-1:123456789012:* because no identity-based policy allows "
        "the codepipeline:ListPipelines action"
    )
    err = translate(
        _client_error("AccessDeniedException", message, operation="ListPipelines"), service="codepipeline"
    )
    assert type(err) is AccessDeniedError
    assert err.action == "codepipeline:ListPipelines"
    assert str(err).startswith(
        "ListPipelines was refused: the credentials in use may not perform codepipeline:ListPipelines"
    )
    assert "\n" not in str(err)
    assert err.message == message


def test_access_denied_without_an_action_in_the_message_names_the_operation_action() -> None:
    """When AWS does not say which action, it is the service's prefix and the operation's name."""
    err = translate(
        _client_error("AccessDenied", "Access Denied", operation="StartBuild"), service="codebuild"
    )
    assert isinstance(err, AccessDeniedError)
    assert err.action == "codebuild:StartBuild"
    assert "codebuild:StartBuild" in str(err)


@pytest.mark.parametrize("code", ["UnrecognizedClientException", "InvalidSignatureException"])
def test_unrecognised_credentials_are_not_blamed_on_iam_policies(code: str) -> None:
    """Bad keys are an access error that points at the keys, not at a policy, and names no action."""
    err = translate(
        _client_error(code, "The security token included in the request is invalid."), service="codepipeline"
    )
    assert isinstance(err, AccessDeniedError)
    assert err.action is None
    assert "not recognised" in str(err)


def test_expired_session_credentials_say_to_refresh_them() -> None:
    """ExpiredTokenException is an ExpiredCredentialsError that says how to refresh."""
    err = translate(
        _client_error("ExpiredTokenException", "The security token included in the request is expired")
    )
    assert isinstance(err, errors.ExpiredCredentialsError)
    assert "aws sso login" in str(err)


def test_botocore_errors_without_a_meaning_pass_through() -> None:
    """A botocore error pipepilot has no class for (an endpoint it cannot resolve) is not disguised."""
    with pytest.raises(botocore_exceptions.UnknownEndpointError), translating("GetPipeline"):
        raise botocore_exceptions.UnknownEndpointError(service_name="codepipeline", region_name="moon-1")


def test_non_botocore_errors_pass_through_untouched() -> None:
    """translating() only touches botocore errors."""
    with pytest.raises(KeyError), translating("GetPipeline"):
        raise KeyError("x")


def test_local_lookup_errors_list_the_names_that_exist() -> None:
    """StageNotFoundError/ActionNotFoundError from local look-ups carry the missing and the available names."""
    err = StageNotFoundError("no stage 'Deploy'", name="Deploy", available=["Source", "Build"])
    assert err.name == "Deploy"
    assert err.available == ("Source", "Build")
    assert err.code is None
    assert err.operation_name is None
    assert err.request_id is None
    assert err.http_status is None
    assert err.response is None
    assert err.message == "no stage 'Deploy'"
    action = ActionNotFoundError("no action", name="Test", available=("Unit",))
    assert isinstance(action, NotFoundError)
    assert action.available == ("Unit",)


def test_errors_from_aws_for_named_lookups_have_no_available_names() -> None:
    """The same classes come out of translation, with empty look-up details."""
    err = translate(_client_error("StageNotFoundException", "no stage", operation="RetryStageExecution"))
    assert isinstance(err, StageNotFoundError)
    assert err.name is None
    assert err.available == ()


def test_errors_survive_pickling_with_their_attributes() -> None:
    """Errors cross process boundaries (fleet workers) with their attributes intact."""
    original = VersionConflictError("moved", pipeline_name="p", expected_version=3, actual_version=4)
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is VersionConflictError
    assert (copy.pipeline_name, copy.expected_version, copy.actual_version) == ("p", 3, 4)
    assert str(copy) == "moved"
    translated = pickle.loads(pickle.dumps(translate(_client_error("ThrottlingException", "Rate exceeded"))))
    assert translated.code == "ThrottlingException"


def test_version_conflict_is_a_conflict() -> None:
    """Optimistic-concurrency failures are caught as ConflictError."""
    assert issubclass(VersionConflictError, ConflictError)


def test_approval_conflict_is_both_an_approval_error_and_a_conflict() -> None:
    """A redelivered approval answered the other way is an ApprovalError and a ConflictError."""
    err = ApprovalConflict("already rejected", requested="Approved", actual="Rejected")
    assert isinstance(err, ApprovalError)
    assert isinstance(err, ConflictError)
    assert (err.requested, err.actual) == ("Approved", "Rejected")


def test_wait_errors_carry_their_last_observed_state() -> None:
    """Wait errors keep the state they saw last; nothing is swallowed."""
    state = object()
    timeout = WaitTimeout("gave up", last=state)
    assert timeout.last is state
    failed = ExecutionFailed(
        "failed",
        execution=state,
        stage="Build",
        action="Compile",
        error_code="JobFailed",
        error_message="exit 2",
        external_execution_url="https://example.com/build/1",
    )
    assert isinstance(failed, ExecutionUnsuccessful)
    assert isinstance(failed, WaitError)
    assert (failed.execution, failed.stage, failed.action) == (state, "Build", "Compile")
    assert (failed.error_code, failed.error_message) == ("JobFailed", "exit 2")
    assert failed.external_execution_url == "https://example.com/build/1"
    build = BuildFailed(
        "build failed", build=state, phase="BUILD", contexts=[{"statusCode": "COMMAND_FAILED"}]
    )
    assert build.build is state
    assert build.phase == "BUILD"
    assert build.contexts == ({"statusCode": "COMMAND_FAILED"},)
    for cls in (errors.ExecutionStopped, errors.ExecutionSuperseded, errors.ExecutionCancelled):
        assert issubclass(cls, ExecutionUnsuccessful)


def test_pipeline_validation_error_lists_every_problem() -> None:
    """str() of a PipelineValidationError names every problem with its path, message and code."""
    problems = [
        Problem(path="stages", code="too-few-stages", message="A pipeline needs at least 2 stages."),
        Problem(
            path="stages[0].actions[0].inputArtifacts[0].name",
            code="artifact-not-produced",
            message="No earlier action produces 'src'.",
        ),
    ]
    err = PipelineValidationError(problems=problems, pipeline_name="web")
    text = str(err)
    assert text.splitlines()[0] == "2 problems in pipeline 'web'"
    for problem in problems:
        assert problem.path in text
        assert problem.code in text
        assert problem.message in text
    assert err.problems == tuple(problems)
    assert isinstance(err, InvalidRequestError)
    assert err.code is None


def test_pipeline_validation_error_message_shows_the_first_problems_and_counts_the_rest() -> None:
    """str() of an error with thousands of problems lists the first 20, cuts long lines and counts the rest."""
    problems = [
        Problem(path=f"stages[{index}].name", code="pattern", message="x" * (1000 if index == 0 else 10))
        for index in range(3000)
    ]
    err = PipelineValidationError(problems=problems)
    lines = str(err).splitlines()
    assert lines[0] == "3000 problems in the pipeline declaration"
    assert lines[1].startswith("  stages[0].name: xxx")
    assert len(lines[1]) == PipelineValidationError.MESSAGE_LINE_CHARS
    assert lines[1].endswith("…")
    assert lines[20] == "  stages[19].name: xxxxxxxxxx [pattern]"
    assert lines[21] == "  … and 2980 more (the error's .problems lists all)"
    assert len(lines) == 22
    assert err.problems == tuple(problems)


def test_local_failures_have_classes_of_their_own() -> None:
    """What pipepilot finds wrong before or without AWS never reuses a class that stands for an AWS error
    code: a request refused before sending is a RequestValidationError, not AWS's ValidationError."""
    from pipepilot.errors import AmbiguousApprovalError, NoApprovalWaitingError

    standing_for_codes = set(ERROR_CODES.values())
    for ours in (RequestValidationError, AmbiguousApprovalError, NoApprovalWaitingError, ApprovalConflict):
        assert ours not in standing_for_codes, ours
    assert not issubclass(RequestValidationError, ValidationError)
    assert ERROR_CODES["ValidationException"] is ValidationError


def test_a_look_up_in_a_model_is_told_apart_from_aws_saying_not_found() -> None:
    """A stage or action missing from a declaration or state pipepilot read is a NoSuchStageError /
    NoSuchActionError (still a StageNotFoundError / ActionNotFoundError for code catching those); AWS's
    StageNotFoundException is a StageNotFoundError and never the local class."""
    from pipepilot.errors import NoSuchActionError, NoSuchStageError, StageNotFoundError
    from pipepilot.model import PipelineState, StageState

    state = PipelineState(pipeline_name="web", stage_states=(StageState(stage_name="Build"),))
    with pytest.raises(NoSuchStageError) as stage_missing:
        state.stage("Deploy")
    assert stage_missing.value.available == ("Build",)
    with pytest.raises(NoSuchActionError):
        state.stage("Build").action("Compile")
    assert ERROR_CODES["StageNotFoundException"] is StageNotFoundError
    assert not issubclass(StageNotFoundError, NoSuchStageError)
