"""Pipeline executions: start one, read it, stop it, list its action runs, and wait for it to end.

An :class:`Execution` is a handle (pipeline name + execution id); every method reads or acts on AWS when
called and caches nothing, except how far its waits have reported progress (so a second wait goes on from
there). Get one from ``pipeline.start()``, ``pipeline.execution(id)`` or ``pipeline.latest_execution()``.

Waiting economically
--------------------
:meth:`Execution.wait` makes one call per poll: ``GetPipelineExecution`` when only the outcome matters,
``GetPipelineState`` when ``on_progress`` asks for progress events. Polls start often and thin out
(:class:`~pipepilot.polling.PollPolicy`); the pipeline's recent successful executions predict when this
one will end, so polling stays sparse until shortly before then. Throttling slows polling down instead of
failing the wait. The clock and the sleep are the facade's (``CodePipeline(clock=..., sleep=...)``), else
pipepilot's time source (virtual inside :func:`pipepilot.local.offline`), unless given.

Stopping safely
---------------
``StopPipelineExecution`` is not idempotent: a second stop of the same kind fails with
``DuplicatedStopRequestException``. So a stop whose answer was lost (or that stayed throttled past the retry
policy) is never simply sent again: pipepilot reads the execution, and a ``Stopping``/``Stopped`` execution
means the stop took effect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from pipepilot._handles import action_runs, aws_details, check_request
from pipepilot._time import current_time_source, new_uuid
from pipepilot.errors import (
    DuplicatedStopRequestError,
    ExecutionCancelled,
    ExecutionFailed,
    ExecutionStopped,
    ExecutionSuperseded,
    ExecutionUnsuccessful,
    PipelineExecutionNotStoppableError,
    PipepilotError,
    TransientError,
)
from pipepilot.model.runtime import (
    ActionExecutionStatus,
    PipelineExecution,
    PipelineExecutionStatus,
    PipelineExecutionSummary,
    PipelineState,
    StageExecutionStatus,
)
from pipepilot.polling import Forecast, PollPolicy, PollSchedule, poll_jitter, wait_until

if TYPE_CHECKING:
    from datetime import datetime

    from pipepilot._calls import Caller
    from pipepilot.model.runtime import ActionExecutionDetail

__all__ = [
    "Execution",
    "RevisionOverride",
    "execution_history",
    "execution_may_have_ended",
    "start_execution",
]

logger = logging.getLogger(__name__)

#: How many earlier executions a wait looks at to predict the end of this one (one ListPipelineExecutions
#: page): recent runs say most about the next one.
HISTORY_SIZE = 20

# A lost stop is checked and sent again at most this many times (each round reads the execution first).
_STOP_ROUNDS = 4

_UNSUCCESSFUL: Mapping[str, type[ExecutionUnsuccessful]] = {
    PipelineExecutionStatus.FAILED.value: ExecutionFailed,
    PipelineExecutionStatus.STOPPED.value: ExecutionStopped,
    PipelineExecutionStatus.SUPERSEDED.value: ExecutionSuperseded,
    PipelineExecutionStatus.CANCELLED.value: ExecutionCancelled,
}

# Stage statuses after which an execution goes on to the next stage.
_PASSED = frozenset({StageExecutionStatus.SUCCEEDED.value, StageExecutionStatus.SKIPPED.value})

ProgressCallback = Callable[[Any], object]
"""Receives each progress event (see :mod:`pipepilot.model.events`) as it is observed."""


@attrs.frozen(kw_only=True)
class RevisionOverride:
    """Pin the revision one source action uses for an execution (``StartPipelineExecution.sourceRevisions``).

    ``revision_type`` is ``COMMIT_ID``, ``IMAGE_DIGEST``, ``S3_OBJECT_VERSION_ID`` or ``S3_OBJECT_KEY``.
    """

    action: str
    revision_type: str
    value: str

    def to_api(self) -> dict[str, str]:
        """The ``SourceRevisionOverride`` request shape."""
        return {"actionName": self.action, "revisionType": self.revision_type, "revisionValue": self.value}


def start_execution(
    caller: Caller[Any],
    pipeline: str,
    *,
    variables: Mapping[str, str] | None = None,
    source_revisions: Iterable[RevisionOverride] | None = None,
    token: str | None = None,
) -> Execution:
    """Start an execution of ``pipeline`` and return its handle (``pipeline.start()`` calls this).

    Always idempotent: the request carries ``token`` (a fresh UUID when not given) as its
    ``clientRequestToken``, and every retry of this call sends the same one, so AWS starts one execution
    however many attempts it takes. Pass your own ``token`` to make a retry *of your own* (after a crash,
    say) start nothing new either.

    Raises:
        ValidationError: a variable, revision or the token breaks the API's rules (nothing was sent).
        PipelineNotFoundError: no such pipeline.
        ConcurrentPipelineExecutionsLimitExceededError: the pipeline runs as many executions as it may.
    """
    params: dict[str, Any] = {"name": pipeline, "clientRequestToken": token or new_uuid()}
    if variables:
        params["variables"] = [{"name": name, "value": value} for name, value in variables.items()]
    overrides = [override.to_api() for override in source_revisions or ()]
    if overrides:
        params["sourceRevisions"] = overrides
    check_request("StartPipelineExecution", params, doing=f"start pipeline {pipeline!r}")
    response = caller.call("start_pipeline_execution", idempotent=True, **params)
    execution = Execution(caller=caller, pipeline=pipeline, id=response["pipelineExecutionId"])
    logger.info("started execution %s of pipeline %s", execution.id, pipeline)
    return execution


def execution_history(
    caller: Caller[Any], pipeline: str, *, limit: int = HISTORY_SIZE
) -> list[PipelineExecutionSummary]:
    """The ``limit`` most recent execution summaries of ``pipeline`` (one ``ListPipelineExecutions`` call)."""
    response = caller.call(
        "list_pipeline_executions", idempotent=True, pipelineName=pipeline, maxResults=limit
    )
    return [
        PipelineExecutionSummary.from_api(item) for item in response.get("pipelineExecutionSummaries", ())
    ]


class _Progress:
    """What a handle's waits with progress have reported so far: the last pipeline state they diffed."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state: PipelineState | None = None


@attrs.frozen(kw_only=True)
class Execution:
    """One execution of one pipeline (a handle: every method reads or acts on AWS when called).

    The one thing a handle remembers is how far its waits reported progress: a second
    ``wait(on_progress=...)`` on the same handle (after ``stage.retry(execution)``, say) reports only
    what changed since the first one's last poll. A new handle (``pipeline.execution(id)``) reports the
    execution's whole history again.
    """

    caller: Caller[Any] = attrs.field(repr=False, eq=False)
    pipeline: str
    id: str
    _progress: _Progress = attrs.field(factory=_Progress, init=False, repr=False, eq=False)

    # ------------------------------------------------------------------------------------------- reads

    def get(self) -> PipelineExecution:
        """The execution as it is now: status, summary, artifact revisions, resolved variables, trigger,
        mode, type and rollback metadata (one ``GetPipelineExecution`` call).

        Raises:
            PipelineExecutionNotFoundError: the pipeline has no execution with this id.
            PipelineNotFoundError: no such pipeline.
        """
        response = self.caller.call(
            "get_pipeline_execution", idempotent=True, pipelineName=self.pipeline, pipelineExecutionId=self.id
        )
        return PipelineExecution.from_api(response["pipelineExecution"])

    def actions(self) -> Iterator[ActionExecutionDetail]:
        """Every action run of this execution (``ListActionExecutions``), page by page as you iterate.

        Each retry of a stage lists its action runs again, so one action may appear several times.

        Raises:
            PipelineExecutionNotFoundError / PipelineNotFoundError: no such execution or pipeline.
        """
        return action_runs(self.caller, self.pipeline, self.id)

    # ------------------------------------------------------------------------------------------- stop

    def stop(self, *, abandon: bool = False, reason: str | None = None) -> None:
        """Stop the execution: let running actions finish (default), or ``abandon`` them.

        A stop-and-wait leaves the execution ``Stopping`` until its running actions end, then ``Stopped``;
        calling ``stop(abandon=True)`` meanwhile upgrades it. ``reason`` (up to 200 characters) shows as the
        execution's stop trigger.

        When the answer is lost, or throttling outlasts the retry policy, the request is not blindly sent
        again: the execution is read, and ``Stopping``/``Stopped`` counts as success (logged at INFO).

        Raises:
            ValidationError: ``reason`` is too long (nothing was sent).
            DuplicatedStopRequestError: a stop of the same kind was already requested for this execution.
            PipelineExecutionNotStoppableError: the execution already ended (or already stopped).
            PipelineNotFoundError: no such pipeline.
        """
        params: dict[str, Any] = {
            "pipelineName": self.pipeline,
            "pipelineExecutionId": self.id,
            "abandon": abandon,
        }
        if reason is not None:
            params["reason"] = reason
        check_request("StopPipelineExecution", params, doing=f"stop execution {self.id}")
        mode = "abandon" if abandon else "stop"
        for round_number in range(1, _STOP_ROUNDS + 1):
            try:
                self.caller.call("stop_pipeline_execution", idempotent=False, **params)
            except DuplicatedStopRequestError as error:
                if round_number > 1:
                    # Our earlier request, whose answer was lost, is the one AWS reports as a duplicate.
                    logger.info(
                        "%s of execution %s confirmed (AWS reports it as already requested)", mode, self.id
                    )
                    return
                raise DuplicatedStopRequestError(
                    self._duplicate_text(abandon), **aws_details(error)
                ) from error
            except TransientError as error:
                logger.warning(
                    "%s of execution %s of pipeline %s got no answer (%s); reading the execution",
                    mode,
                    self.id,
                    self.pipeline,
                    error.code or type(error).__name__,
                )
                if self._stop_took_effect(abandon):
                    logger.info("%s of execution %s confirmed by its status", mode, self.id)
                    return
                if round_number == _STOP_ROUNDS:
                    raise
                continue
            logger.info("%s requested for execution %s of pipeline %s", mode, self.id, self.pipeline)
            return

    def _stop_took_effect(self, abandon: bool) -> bool:
        """Read the execution after an unanswered stop: whether it is stopping as asked.

        Raises PipelineExecutionNotStoppableError when it ended some other way meanwhile.
        """
        try:
            status = self.get().status
        except TransientError:
            return False  # still no answer: the caller sends the stop again (a duplicate is recognised)
        if status == PipelineExecutionStatus.STOPPED:
            return True
        if status == PipelineExecutionStatus.STOPPING:
            # A stop-and-wait is in force. It is what was asked, unless we asked to abandon: then send the
            # abandon again (an upgrade is allowed; a duplicate means ours landed).
            return not abandon
        if status == PipelineExecutionStatus.IN_PROGRESS:
            return False
        raise PipelineExecutionNotStoppableError(
            f"execution {self.id} of pipeline {self.pipeline!r} ended {status} before it could be stopped"
        )

    def _duplicate_text(self, abandon: bool) -> str:
        if abandon:
            return (
                f"execution {self.id} of pipeline {self.pipeline!r} is already being abandoned; "
                "wait for it to reach Stopped"
            )
        return (
            f"execution {self.id} of pipeline {self.pipeline!r} is already stopping (a stop-and-wait was "
            "requested before); wait for its running actions to finish, or call stop(abandon=True) to "
            "abandon them"
        )

    # ------------------------------------------------------------------------------------------- wait

    def wait(
        self,
        *,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        on_progress: ProgressCallback | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> PipelineExecution:
        """Wait until the execution ends; return it when it succeeded, raise when it did not.

        ``timeout`` (seconds) overrides ``poll.timeout``. Without ``on_progress`` each poll is one
        ``GetPipelineExecution``; with it, each poll is one ``GetPipelineState``, and ``on_progress``
        receives every change seen between two polls (stage and action started/succeeded/failed, approval
        waiting, held at a disabled transition or behind a busy stage) once, in order. A later wait with
        progress on this handle picks up where the last one stopped: what it reported is not reported
        again (a retried stage shows as started again; the stages before it do not). Before the first
        poll one ``ListPipelineExecutions`` reads recent durations to predict the end, and when the state
        suggests the end, one ``GetPipelineExecution`` confirms it. Throttling slows polling instead of
        failing the wait. (A PARALLEL pipeline's state cannot show every run, so a wait with progress on
        one costs a ``GetPipelineExecution`` per poll as well, and reports only what the state shows.)

        Raises:
            ExecutionFailed: it ended ``Failed``; ``stage``, ``action``, ``error_code``,
                ``error_message`` and ``external_execution_url`` say where and why (one
                ``ListActionExecutions`` read at the end).
            ExecutionStopped / ExecutionSuperseded / ExecutionCancelled: it ended that way.
            WaitTimeout: the timeout passed first; ``last`` is the last execution (or, with
                ``on_progress``, pipeline state) seen.
            PipelineExecutionNotFoundError / PipelineNotFoundError: no such execution or pipeline.
        """
        policy = poll if poll is not None else PollPolicy()
        if timeout is not None:
            policy = attrs.evolve(policy, timeout=timeout)
        source = current_time_source()
        now_of = clock or self.caller.clock or source.monotonic
        sleep = sleep or self.caller.sleep
        started = now_of()
        forecast, started_at = self._forecast()
        elapsed = 0.0 if started_at is None else max(0.0, source.time() - started_at.timestamp())
        schedule = PollSchedule(
            policy=policy,
            started=started,
            elapsed=elapsed,
            forecast=forecast,
            rng=poll_jitter(self.pipeline, self.id),
        )
        label = f"execution {self.id} of {self.pipeline}"
        if on_progress is None:
            final = wait_until(
                self.get,
                lambda execution, now: schedule.decide(execution.is_terminal, now),
                clock=now_of,
                sleep=sleep,
                policy=policy,
                deadline=schedule.deadline,
                status_of=lambda execution: execution.status,
                label=label,
            )
            return self._outcome(final, state=None)
        tracker = _ProgressTracker(self, on_progress, since=started_at, memory=self._progress)
        wait_until(
            tracker.fetch,
            lambda state, now: schedule.decide(tracker.observe(state), now),
            clock=now_of,
            sleep=sleep,
            policy=policy,
            deadline=schedule.deadline,
            label=label,
        )
        assert tracker.final is not None
        return self._outcome(tracker.final, state=tracker.last_state)

    def _forecast(self) -> tuple[Forecast | None, datetime | None]:
        """A forecast from recent successful runs, and when this execution started (if listed)."""
        try:
            history = execution_history(self.caller, self.pipeline)
        except PipepilotError as error:
            # The prediction only saves calls; a wait works without it.
            logger.debug("no execution history for %s (%s); polling without a forecast", self.pipeline, error)
            return None, None
        durations = [
            summary.duration
            for summary in history
            if summary.status == PipelineExecutionStatus.SUCCEEDED
            and summary.pipeline_execution_id != self.id
        ]
        started_at = next((s.start_time for s in history if s.pipeline_execution_id == self.id), None)
        return Forecast.from_history(d for d in durations if d is not None), started_at

    def _outcome(self, execution: PipelineExecution, *, state: PipelineState | None) -> PipelineExecution:
        status = execution.status
        if status == PipelineExecutionStatus.SUCCEEDED:
            logger.info("execution %s of pipeline %s succeeded", self.id, self.pipeline)
            return execution
        error_type = _UNSUCCESSFUL.get(str(getattr(status, "value", status)), ExecutionFailed)
        where = _Where()
        if error_type is ExecutionFailed or error_type is ExecutionStopped:
            where = self._where_it_ended(state, stopped=error_type is ExecutionStopped)
        text = f"execution {self.id} of pipeline {self.pipeline!r} ended {status}"
        if where.stage:
            text += f" in stage {where.stage!r}"
            if where.action:
                text += f", action {where.action!r}"
        if where.error_code or where.error_message:
            text += f": {where.error_code or 'error'}: {where.error_message or ''}".rstrip(": ")
        elif execution.status_summary:
            text += f": {execution.status_summary}"
        if where.external_execution_url:
            text += f" (see {where.external_execution_url})"
        raise error_type(
            text,
            execution=execution,
            stage=where.stage,
            action=where.action,
            error_code=where.error_code,
            error_message=where.error_message,
            external_execution_url=where.external_execution_url,
        )

    def _where_it_ended(self, state: PipelineState | None, *, stopped: bool) -> _Where:
        """Find the failing (or stopped) stage and action: one ``ListActionExecutions`` read.

        A stage can fail without a failed action (a condition failed): then the stage comes from ``state``,
        read once with ``GetPipelineState`` if the wait did not already hold one.
        """
        wanted = {ActionExecutionStatus.FAILED.value}
        if stopped:
            wanted.add(ActionExecutionStatus.ABANDONED.value)
        try:
            response = self.caller.call(
                "list_action_executions",
                idempotent=True,
                pipelineName=self.pipeline,
                filter={"pipelineExecutionId": self.id},
            )
        except PipepilotError as error:
            logger.debug("could not read the action runs of execution %s: %s", self.id, error)
            response = {}
        from pipepilot.model.runtime import ActionExecutionDetail

        culprit: ActionExecutionDetail | None = None
        for item in response.get("actionExecutionDetails", ()):
            run = ActionExecutionDetail.from_api(item)
            if str(getattr(run.status, "value", run.status)) not in wanted:
                continue
            if culprit is None or _later(run, culprit):
                culprit = run
        if culprit is not None:
            details = culprit.error_details
            result = None if culprit.output is None else culprit.output.execution_result
            return _Where(
                stage=culprit.stage_name,
                action=culprit.action_name,
                error_code=None if details is None else details.code,
                error_message=None if details is None else details.message,
                external_execution_url=None if result is None else result.external_execution_url,
            )
        if state is None:
            try:
                state = PipelineState.from_api(
                    self.caller.call("get_pipeline_state", idempotent=True, name=self.pipeline)
                )
            except PipepilotError as error:
                logger.debug("could not read the state of pipeline %s: %s", self.pipeline, error)
                return _Where()
        ended = {StageExecutionStatus.FAILED.value, StageExecutionStatus.STOPPED.value}
        for stage in state.stage_states:
            latest = stage.latest_execution
            if (
                latest is not None
                and latest.pipeline_execution_id == self.id
                and str(getattr(latest.status, "value", latest.status)) in ended
            ):
                return _Where(stage=stage.stage_name)
        return _Where()


@attrs.frozen(kw_only=True)
class _Where:
    stage: str | None = None
    action: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    external_execution_url: str | None = None


def _later(run: ActionExecutionDetail, other: ActionExecutionDetail) -> bool:
    mine = run.last_update_time or run.start_time
    theirs = other.last_update_time or other.start_time
    return mine is not None and (theirs is None or mine > theirs)


class _ProgressTracker:
    """Polls ``GetPipelineState`` for a wait with progress: reports changes, and tells when it ended.

    The state shows an execution only where it is the latest or the waiting execution of a stage. When the
    state says the execution ended (or it vanished from every stage, as a superseded execution does), one
    ``GetPipelineExecution`` confirms the status; the confirmed execution becomes :attr:`final`.
    """

    def __init__(
        self,
        execution: Execution,
        on_progress: ProgressCallback,
        *,
        since: datetime | None,
        memory: _Progress,
    ) -> None:
        self.execution = execution
        self.on_progress = on_progress
        self.since = since
        self.memory = memory
        # Diffing starts from the last state an earlier wait on the handle reported, if there is one.
        self.last_state: PipelineState | None = memory.state
        self.final: PipelineExecution | None = None
        self._declaration: Any = None
        self._declaration_read = False

    def fetch(self) -> PipelineState:
        execution = self.execution
        response = execution.caller.call("get_pipeline_state", idempotent=True, name=execution.pipeline)
        return PipelineState.from_api(response)

    def observe(self, state: PipelineState) -> bool:
        """Report what changed since the last reading; whether the execution has ended (confirmed)."""
        from pipepilot.polling import ApprovalWaiting, diff_states

        previous, self.last_state = self.last_state, state
        for event in diff_states(previous, state, self.execution.id, since=self.since):
            if isinstance(event, ApprovalWaiting):
                event = self._with_approval(event)
            where = event.stage_name
            action = getattr(event, "action_name", None)
            if action:
                where += f"/{action}"
            logger.info(
                "execution %s of %s: %s at %s",
                event.execution_id,
                event.pipeline_name,
                type(event).__name__,
                where,
            )
            self.on_progress(event)
        # Remembered once every event was delivered: if a callback raises, the next wait on the handle
        # reports this poll's changes again rather than lose the ones after the failing callback.
        self.memory.state = state
        if not execution_may_have_ended(state, self.execution.id):
            return False
        try:
            execution = self.execution.get()
        except TransientError:
            return False  # the next poll looks again
        if execution.is_terminal:
            self.final = execution
            return True
        return False

    def _with_approval(self, event: Any) -> Any:
        from pipepilot.approvals import ApprovalPending, read_declaration

        if not self._declaration_read:
            # Read once, when the first approval shows up: custom data, links and timeouts live there.
            self._declaration_read = True
            try:
                self._declaration = read_declaration(self.execution.caller, self.execution.pipeline)
            except PipepilotError as error:
                logger.debug(
                    "could not read pipeline %s for approval details: %s", self.execution.pipeline, error
                )
        return ApprovalPending.from_event(event, caller=self.execution.caller, declaration=self._declaration)


def execution_may_have_ended(state: PipelineState, execution_id: str) -> bool:
    """Whether a ``GetPipelineState`` reading suggests the execution has ended (to be confirmed).

    True when the execution succeeded in the last stage, ended some other way in a stage and runs nowhere,
    or shows nowhere at all (superseded executions vanish; PARALLEL pipelines cannot show every run).
    """
    visible = running = ended = False
    stages = state.stage_states
    for index, stage in enumerate(stages):
        if any(waiting.pipeline_execution_id == execution_id for waiting in stage.waiting_executions()):
            visible = running = True
        latest = stage.latest_execution
        if latest is None or latest.pipeline_execution_id != execution_id:
            continue
        visible = True
        status = str(getattr(latest.status, "value", latest.status))
        if status in (StageExecutionStatus.IN_PROGRESS.value, StageExecutionStatus.STOPPING.value):
            running = True
        elif status not in _PASSED or index == len(stages) - 1:
            ended = True
    return not visible or (ended and not running)
