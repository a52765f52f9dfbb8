"""The exit statuses of the ``pipepilot`` command, and which error ends in which (pure: no click).

Errors follow the AWS CLI, so scripts that already handle ``aws`` handle ``pipepilot``: 130 interrupted,
252 bad syntax or parameter (found before anything was sent), 253 AWS configuration or credentials, 254 an
error answered by AWS (or by pipepilot on its behalf: no such pipeline, ambiguous approval, a freeze that
failed somewhere), 255 anything else. Commands that follow an execution or a build to its end (``watch``,
``start --wait``, ``build watch``) say how it ended with values that cannot be mistaken for those:
0 succeeded, 1 failed, 3 stopped, superseded or cancelled, 4 timed out (the wait's ``--timeout``, not the
build's own). ``validate`` exits 1 when it finds problems.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "BAD_PARAMETER",
    "CONFIGURATION",
    "EXIT_CODES",
    "FAILED",
    "INTERRUPTED",
    "OK",
    "OTHER",
    "PROBLEMS",
    "SERVICE",
    "STOPPED",
    "TIMED_OUT",
    "exit_code_for",
]

OK = 0
FAILED = 1
PROBLEMS = 1
STOPPED = 3
TIMED_OUT = 4
INTERRUPTED = 130
BAD_PARAMETER = 252
CONFIGURATION = 253
SERVICE = 254
OTHER = 255

#: Every exit status and what it means (docs/cli.md lists the same; a test keeps them in step).
EXIT_CODES: Mapping[int, str] = {
    OK: "success; the execution or build followed succeeded",
    FAILED: "the execution or build followed failed; validate found problems",
    STOPPED: "the execution followed was stopped, superseded or cancelled; the build was stopped",
    TIMED_OUT: "the wait's --timeout passed before the end (the execution or build goes on)",
    INTERRUPTED: "interrupted (Ctrl-C); what goes on and how to resume is printed",
    BAD_PARAMETER: "bad syntax or parameter, found before anything was sent",
    CONFIGURATION: "AWS configuration or credentials missing or wrong (region, profile, credentials)",
    SERVICE: "AWS (or pipepilot on its behalf) refused or failed the request",
    OTHER: "any other error",
}


def exit_code_for(error: BaseException) -> int:
    """The exit status an error ends the command with."""
    from pipepilot.errors import (
        ArgumentTypeError,
        BuildFailed,
        ConfigurationError,
        ExecutionFailed,
        ExecutionUnsuccessful,
        InvalidArgumentError,
        MalformedInputError,
        PipelineValidationError,
        PipepilotError,
        RequestValidationError,
        WaitTimeout,
    )

    if isinstance(error, WaitTimeout):
        return TIMED_OUT
    if isinstance(error, ExecutionUnsuccessful):
        return FAILED if isinstance(error, ExecutionFailed) else STOPPED
    if isinstance(error, BuildFailed):
        return STOPPED if str(getattr(error.build, "build_status", "")) == "STOPPED" else FAILED
    # Checked before the service errors: missing credentials are also an AccessDeniedError.
    if isinstance(error, ConfigurationError):
        return CONFIGURATION
    # Refused by pipepilot before sending anything: the input is wrong, as the AWS CLI's 252.
    if isinstance(
        error,
        (
            RequestValidationError,
            ArgumentTypeError,
            InvalidArgumentError,
            MalformedInputError,
            PipelineValidationError,
        ),
    ):
        return BAD_PARAMETER
    if isinstance(error, PipepilotError):
        return SERVICE
    if isinstance(error, (ValueError, TypeError)):
        return BAD_PARAMETER
    return OTHER
