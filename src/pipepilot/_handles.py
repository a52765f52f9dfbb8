"""Small pieces the live handles (executions, stages, approvals, transitions, freezes) share.

Nothing here is public: checking a request against botocore's model before sending it, reading the pipeline
state and action runs, and carrying AWS's error details over to a clearer error (with any secret masked).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipepilot.errors import PipepilotError, RequestValidationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from pipepilot._calls import Caller
    from pipepilot.model.runtime import ActionExecutionDetail, PipelineState

__all__ = ["action_runs", "aws_details", "check_request", "latest_run", "pipeline_state", "without_secret"]

# What stands in for a secret that an AWS error message echoed.
_MASK = "<redacted>"


def check_request(
    operation: str, params: Mapping[str, Any], *, doing: str, service: str = "codepipeline"
) -> None:
    """Check ``params`` of ``service``'s ``operation`` (API name) against botocore's model before sending.

    botocore checks only types, required members and minimums; lengths, patterns and enums are left to the
    service, which reports one problem at a time. Checking here reports them all, and sends nothing.

    Raises:
        RequestValidationError: the request breaks the model; the message lists every problem (what to fix).
    """
    # Imported here: _shapes loads botocore's session and models, which ``import pipepilot`` avoids.
    from pipepilot._shapes import request_problems

    problems = request_problems(service, operation, dict(params))
    if problems:
        listed = "; ".join(problem.message for problem in problems)
        raise RequestValidationError(f"cannot {doing}: {listed}", operation_name=operation)


def pipeline_state(caller: Caller[Any], pipeline: str) -> PipelineState:
    """``GetPipelineState`` of ``pipeline``, typed (one call).

    Raises:
        PipelineNotFoundError: no such pipeline.
    """
    from pipepilot.model.runtime import PipelineState

    return PipelineState.from_api(caller.call("get_pipeline_state", idempotent=True, name=pipeline))


def action_runs(
    caller: Caller[Any], pipeline: str, execution_id: str | None = None
) -> Iterator[ActionExecutionDetail]:
    """``ListActionExecutions`` of ``pipeline`` (one execution's, when ``execution_id`` is given), lazily."""
    from pipepilot.model.runtime import ActionExecutionDetail

    params: dict[str, Any] = {"pipelineName": pipeline}
    if execution_id is not None:
        params["filter"] = {"pipelineExecutionId": execution_id}
    for item in caller.paginate("list_action_executions", "actionExecutionDetails", **params):
        yield ActionExecutionDetail.from_api(item)


def latest_run(
    runs: Iterable[ActionExecutionDetail], stage: str, action: str
) -> ActionExecutionDetail | None:
    """The most recent run of ``stage``/``action`` among ``runs`` (by start time; AWS lists newest first)."""
    best: ActionExecutionDetail | None = None
    for run in runs:
        if run.stage_name != stage or run.action_name != action:
            continue
        if best is None or (
            run.start_time is not None and best.start_time is not None and run.start_time > best.start_time
        ):
            best = run
    return best


def aws_details(error: PipepilotError) -> dict[str, Any]:
    """The AWS fields of ``error`` as keyword arguments, to raise a clearer error of the same kind."""
    return {
        "code": error.code,
        "aws_message": error.message,
        "operation_name": error.operation_name,
        "request_id": error.request_id,
        "http_status": error.http_status,
        "response": error.response,
    }


def without_secret(error: PipepilotError, secret: str) -> PipepilotError | None:
    """A copy of ``error`` with ``secret`` masked everywhere it shows, or ``None`` when it shows nowhere.

    AWS may echo a request's secret (an approval token, say) in its error message, and from there it would
    reach tracebacks and logs: in the error's text, ``message`` and ``response``, and in the botocore error
    chained to it. The copy is of the same class, with the same AWS fields masked; raise it outside the
    ``except`` block that caught ``error``, so that neither is chained to it.
    """
    if not secret or secret not in f"{error} {error.message} {error.response!r} {error.__cause__!r}":
        return None

    def mask(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(secret, _MASK)
        if isinstance(value, dict):
            return {key: mask(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [mask(item) for item in value]
        return value

    details = {name: mask(value) for name, value in aws_details(error).items()}
    return type(error)(mask(str(error)), **details)
