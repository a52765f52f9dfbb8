"""Small pieces the live handles (executions, stages, approvals, transitions, freezes) share.

Nothing here is public: checking a request against botocore's model before sending it, reading action runs,
and naming things in messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipepilot.errors import PipepilotError, ValidationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from pipepilot._calls import Caller
    from pipepilot.model.runtime import ActionExecutionDetail

__all__ = ["action_runs", "aws_details", "check_request", "latest_run"]


def check_request(
    operation: str, params: Mapping[str, Any], *, doing: str, service: str = "codepipeline"
) -> None:
    """Check ``params`` of ``service``'s ``operation`` (API name) against botocore's model before sending.

    botocore checks only types, required members and minimums; lengths, patterns and enums are left to the
    service, which reports one problem at a time. Checking here reports them all, and sends nothing.

    Raises:
        ValidationError: the request breaks the model; the message lists every problem (what to fix).
    """
    # Imported here: _shapes loads botocore's session and models, which ``import pipepilot`` avoids.
    from pipepilot.model._shapes import request_problems

    problems = request_problems(service, operation, dict(params))
    if problems:
        listed = "; ".join(problem.message for problem in problems)
        raise ValidationError(f"cannot {doing}: {listed}", operation_name=operation)


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
