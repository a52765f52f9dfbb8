"""Pipeline executions: start one, read it, stop it, list its action runs, and wait for it to end.

An :class:`Execution` is a handle (pipeline name + execution id); every method reads or acts on AWS when
called and caches nothing, except how far its waits have reported progress (so a second wait goes on from
there). Get one from ``pipeline.start()``, ``pipeline.execution(id)`` or ``pipeline.latest_execution()``.

Waiting economically
--------------------
:meth:`Execution.wait` makes one call per poll: ``GetPipelineExecution`` when only the outcome matters,
``GetPipelineState`` when ``on_progress`` asks for progress events. Polls start often and thin out as the wait
goes on (:class:`~pipepilot.polling.PollPolicy`): the end is noticed within 30 s during the first two hours,
then within 2 % of the time waited (at most 5 minutes), however early or late it comes. A wait without a
timeout gets a default one derived from the pipeline's actions' AWS time limits. Throttling slows polling down
instead of failing the wait. The clock and the sleep are the facade's (``CodePipeline(clock=...,
sleep=...)``), else pipepilot's time source (virtual inside :func:`pipepilot.local.offline`).

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
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import attrs

from pipepilot._checks import check_instances, check_str, check_str_map, check_wait_options, type_name
from pipepilot._handles import action_runs, aws_details, check_request, pipeline_state
from pipepilot._time import new_uuid
from pipepilot.approvals import read_declaration, with_approval
from pipepilot.errors import (
    ArgumentTypeError,
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
from pipepilot.polling import (
    ApprovalRequested,
    DefaultTimeout,
    Forecast,
    PollPolicy,
    PollSchedule,
    ProgressEvent,
    diff_states,
    execution_timeout,
    fallback_timeout,
    poll_jitter,
    wait_policy,
    wait_timing,
    wait_until,
)

if TYPE_CHECKING:
    from pipepilot._calls import Caller
    from pipepilot.model.declaration import PipelineDeclaration
    from pipepilot.model.runtime import ActionExecutionDetail, StageState

__all__ = [
    "Execution",
    "RevisionOverride",
    "Where",
    "execution_history",
    "execution_id_of",
    "execution_may_have_ended",
    "start_execution",
    "unsuccessful",
    "waits_at",
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

#: Stage statuses after which an execution goes on to the next stage.
PASSED_STAGE = frozenset({StageExecutionStatus.SUCCEEDED.value, StageExecutionStatus.SKIPPED.value})
#: Stage statuses that end an execution's run through the pipeline in that stage.
ENDED_IN_STAGE = frozenset(
    {
        StageExecutionStatus.FAILED.value,
        StageExecutionStatus.STOPPED.value,
        StageExecutionStatus.CANCELLED.value,
    }
)
# Action statuses that end an execution's run through a stage unsuccessfully.
_ACTION_ENDINGS = frozenset({ActionExecutionStatus.FAILED.value, ActionExecutionStatus.ABANDONED.value})

ProgressCallback = Callable[[ProgressEvent], object]
"""Receives each progress event (a :class:`pipepilot.polling.ProgressEvent`) as it is observed."""


def execution_id_of(execution: Execution | str | None, parameter: str = "execution") -> str | None:
    """The id of ``execution``, given as a handle or as an id (``None`` stays ``None``).

    Raises:
        ArgumentTypeError: ``execution`` is neither (a number, a dict ...); ``parameter`` names it.
        InvalidArgumentError: it is an empty string.
    """
    if execution is None:
        return None
    if isinstance(execution, Execution):
        return execution.id
    if not isinstance(execution, str):
        raise ArgumentTypeError(
            f"{parameter} must be an Execution handle or an execution id string, not {type_name(execution)}",
            parameter=parameter,
        )
    check_str(execution, parameter)
    return execution


@attrs.frozen(kw_only=True)
class Where:
    """Where an unsuccessful execution ended and why: the details :class:`ExecutionUnsuccessful` carries."""

    stage: str | None = None
    action: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    external_execution_url: str | None = None

    @classmethod
    def from_stage(cls, stage: StageState) -> Where:
        """The stage, and its first failed (or abandoned) action as ``GetPipelineState`` shows it."""
        for action in stage.action_states:
            run = action.latest_execution
            if run is not None and str(run.status) in _ACTION_ENDINGS:
                details = run.error_details
                return cls(
                    stage=stage.stage_name,
                    action=action.action_name,
                    error_code=None if details is None else details.code,
                    error_message=None if details is None else details.message,
                    external_execution_url=run.external_execution_url,
                )
        return cls(stage=stage.stage_name)

    @classmethod
    def from_run(cls, run: ActionExecutionDetail) -> Where:
        """The stage, action and error of one action run (``ListActionExecutions``)."""
        details = run.error_details
        result = None if run.output is None else run.output.execution_result
        return cls(
            stage=run.stage_name,
            action=run.action_name,
            error_code=None if details is None else details.code,
            error_message=None if details is None else details.message,
            external_execution_url=None if result is None else result.external_execution_url,
        )


def unsuccessful(
    pipeline: str,
    execution_id: str,
    status: str,
    where: Where,
    *,
    execution: PipelineExecution | None = None,
    before: str | None = None,
) -> ExecutionUnsuccessful:
    """The error for execution ``execution_id`` of ``pipeline`` that ended ``status`` (not raised).

    The text says where and why (``where``), ``before`` what the caller was waiting for, and falls back on
    the execution's status summary.
    """
    text = f"execution {execution_id} of pipeline {pipeline!r} ended {status}"
    if before:
        text += f" before {before}"
    if where.stage:
        text += f" in stage {where.stage!r}"
        if where.action:
            text += f", action {where.action!r}"
    if where.error_code or where.error_message:
        text += f": {where.error_code or 'error'}: {where.error_message or ''}".rstrip(": ")
    elif execution is not None and execution.status_summary:
        text += f": {execution.status_summary}"
    if where.external_execution_url:
        text += f" (see {where.external_execution_url})"
    return _UNSUCCESSFUL.get(status, ExecutionFailed)(text, execution=execution, **attrs.asdict(where))


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
        RequestValidationError: a variable, revision or the token breaks the API's rules (nothing was sent).
        PipelineNotFoundError: no such pipeline.
        ConcurrentPipelineExecutionsLimitExceededError: the pipeline runs as many executions as it may.
        ArgumentTypeError: ``variables`` is not a mapping of names to values, ``source_revisions`` not an
            iterable of :class:`RevisionOverride`, or ``token`` not a string (nothing was sent).
    """
    check_str_map(variables, "variables", example='{"STAGE": "prod"}')
    overrides = [
        override.to_api()
        for override in check_instances(
            source_revisions,
            RevisionOverride,
            "source_revisions",
            hint='for example [RevisionOverride(action="Source", revision_type="COMMIT_ID", value="...")]',
        )
    ]
    check_str(token, "token", optional=True)
    params: dict[str, Any] = {"name": pipeline, "clientRequestToken": token or new_uuid(caller.time)}
    if variables:
        params["variables"] = [{"name": name, "value": value} for name, value in variables.items()]
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
        again: the execution is read, and ``Stopping``/``Stopped`` counts as success (logged at INFO). When
        it cannot be read either, the stop is sent again, and the "duplicate" or "not stoppable" answer
        that its lost predecessor causes counts as success too.

        Raises:
            RequestValidationError: ``reason`` is too long (nothing was sent).
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
            except PipelineExecutionNotStoppableError:
                # On a resend, our earlier request (whose answer was lost) may be what stopped it.
                if round_number > 1 and self._stop_took_effect(abandon):
                    logger.info("%s of execution %s confirmed by its status", mode, self.id)
                    return
                raise
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
        poll: PollPolicy | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> PipelineExecution:
        """Wait until the execution ends; return it when it succeeded, raise when it did not.

        ``poll.timeout`` (seconds) bounds the wait. Without it, the wait gives up after the default
        for an execution (:func:`~pipepilot.polling.execution_timeout`: twice the longest the pipeline's
        actions may run by AWS's limits, read with one ``GetPipeline`` once the wait has lasted an hour);
        ``PollPolicy(timeout=PollPolicy.FOREVER)`` waits without a limit. The wait notices the end within 30 s during its first
        two hours, then within 2 % of the time waited, at most 5 minutes. Without ``on_progress`` each poll is
        one ``GetPipelineExecution``; with it, each poll is one ``GetPipelineState``, and ``on_progress``
        receives every change seen between two polls (stage and action started/succeeded/failed, approval
        waiting, held at a disabled transition or behind a busy stage) once, in order. A later wait with
        progress on this handle picks up where the last one stopped: what it reported is not reported
        again (a retried stage shows as started again; the stages before it do not). Before the first
        poll one ``ListPipelineExecutions`` reads recent executions (when this one started, and the
        durations a policy with ``sparse_interval`` predicts the end from), and when the state suggests
        the end, one ``GetPipelineExecution`` confirms it. Throttling slows polling instead of
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
            ArgumentTypeError: an option has the wrong type (``poll=30`` instead of
                ``poll=PollPolicy(...)``, say); nothing was read.
        """
        check_wait_options(poll=poll, callbacks={"on_progress": on_progress})
        policy = wait_policy(poll)
        now_of, sleep_for = wait_timing(self.caller)
        started = now_of()
        forecast, listed = self._forecast()
        started_at = listed.start_time if listed is not None else None
        elapsed = 0.0
        if started_at is not None:
            elapsed = max(0.0, self.caller.time.time() - started_at.timestamp())
        schedule = PollSchedule(
            policy=policy,
            started=started,
            elapsed=elapsed,
            forecast=forecast,
            rng=poll_jitter(self.pipeline, self.id),
            default_timeout=self._default_timeout,
        )
        label = f"execution {self.id} of {self.pipeline}"
        if on_progress is None:
            # The history read already showed this execution: while it was running, that read is the
            # first poll, so the wait costs no call more than its polls.
            running = listed if listed is not None and not listed.is_terminal else None

            def fetch() -> PipelineExecution | PipelineExecutionSummary:
                nonlocal running
                if running is not None:
                    observed, running = running, None
                    return observed
                return self.get()

            final = wait_until(
                fetch,
                lambda execution, now: schedule.decide(execution.is_terminal, now),
                clock=now_of,
                sleep=sleep_for,
                policy=policy,
                schedule=schedule,
                status_of=lambda execution: execution.status,
                label=label,
            )
            # Only an execution still running is taken from the history, so the one that ended was read.
            assert isinstance(final, PipelineExecution)
            return self._outcome(final, state=None)
        tracker = _ProgressTracker(self, on_progress, since=started_at, memory=self._progress)
        wait_until(
            tracker.fetch,
            lambda state, now: schedule.decide(tracker.observe(state), now),
            clock=now_of,
            sleep=sleep_for,
            policy=policy,
            schedule=schedule,
            label=label,
        )
        assert tracker.final is not None
        return self._outcome(tracker.final, state=tracker.last_state)

    def _default_timeout(self) -> DefaultTimeout:
        """The wait's default timeout, from the pipeline's declaration (one ``GetPipeline`` call, made only
        by a wait that lasts an hour or more)."""
        try:
            return execution_timeout(read_declaration(self.caller, self.pipeline))
        except PipepilotError as error:
            logger.debug("could not read pipeline %s for its time limits: %s", self.pipeline, error)
            return fallback_timeout(f"pipeline {self.pipeline!r} could not be read")

    def _forecast(self) -> tuple[Forecast | None, PipelineExecutionSummary | None]:
        """A forecast from recent successful runs, and this execution's own summary (if listed)."""
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
        listed = next((s for s in history if s.pipeline_execution_id == self.id), None)
        return Forecast.from_history(d for d in durations if d is not None), listed

    def _outcome(
        self, execution: PipelineExecution, *, state: PipelineState | None, before: str | None = None
    ) -> PipelineExecution:
        """Return ``execution`` when it succeeded; otherwise raise its ExecutionUnsuccessful, saying where.

        ``before`` names what a caller was waiting for when the execution ended.
        """
        status = str(execution.status)
        if status == PipelineExecutionStatus.SUCCEEDED:
            logger.info("execution %s of pipeline %s succeeded", self.id, self.pipeline)
            return execution
        where = Where()
        if status in (PipelineExecutionStatus.FAILED, PipelineExecutionStatus.STOPPED):
            where = self._where_it_ended(state, stopped=status == PipelineExecutionStatus.STOPPED)
        raise unsuccessful(self.pipeline, self.id, status, where, execution=execution, before=before)

    def _where_it_ended(self, state: PipelineState | None, *, stopped: bool) -> Where:
        """Find the failing (or stopped) stage and action: one ``ListActionExecutions`` read (per page).

        A stage can fail without a failed action (a condition failed): then the stage comes from ``state``,
        read once with ``GetPipelineState`` if the wait did not already hold one.
        """
        wanted = _ACTION_ENDINGS if stopped else {ActionExecutionStatus.FAILED.value}
        culprit: ActionExecutionDetail | None = None
        try:
            for run in self.actions():
                if str(run.status) in wanted and (culprit is None or _later(run, culprit)):
                    culprit = run
        except PipepilotError as error:
            logger.debug("could not read the action runs of execution %s: %s", self.id, error)
        if culprit is not None:
            return Where.from_run(culprit)
        if state is None:
            try:
                state = pipeline_state(self.caller, self.pipeline)
            except PipepilotError as error:
                logger.debug("could not read the state of pipeline %s: %s", self.pipeline, error)
                return Where()
        for stage in state.stage_states:
            latest = stage.latest_execution
            if (
                latest is not None
                and latest.pipeline_execution_id == self.id
                and str(latest.status) in ENDED_IN_STAGE
            ):
                return Where(stage=stage.stage_name)
        return Where()


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
        self._declaration: PipelineDeclaration | None = None
        self._declaration_read = False

    def fetch(self) -> PipelineState:
        return pipeline_state(self.execution.caller, self.execution.pipeline)

    def observe(self, state: PipelineState) -> bool:
        """Report what changed since the last reading; whether the execution has ended (confirmed)."""
        previous, self.last_state = self.last_state, state
        observed_at = datetime.fromtimestamp(self.execution.caller.time.time(), tz=timezone.utc)
        for event in diff_states(
            previous, state, self.execution.id, since=self.since, observed_at=observed_at
        ):
            if isinstance(event, ApprovalRequested):
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

    def _with_approval(self, event: ApprovalRequested) -> ApprovalRequested:
        if not self._declaration_read:
            # Read once, when the first approval shows up: custom data, links and timeouts live there.
            self._declaration_read = True
            try:
                self._declaration = read_declaration(self.execution.caller, self.execution.pipeline)
            except PipepilotError as error:
                logger.debug(
                    "could not read pipeline %s for approval details: %s", self.execution.pipeline, error
                )
        return with_approval(event, caller=self.execution.caller, declaration=self._declaration)


def waits_at(stage: StageState, execution_id: str) -> bool:
    """Whether the execution waits in front of ``stage`` (at a disabled transition, or for the stage)."""
    return any(waiting.pipeline_execution_id == execution_id for waiting in stage.waiting_executions())


def execution_may_have_ended(state: PipelineState, execution_id: str) -> bool:
    """Whether a ``GetPipelineState`` reading suggests the execution has ended (to be confirmed).

    True when the execution succeeded in the last stage, ended some other way in a stage and runs nowhere,
    or shows nowhere at all (superseded executions vanish; PARALLEL pipelines cannot show every run).
    """
    visible = running = ended = False
    stages = state.stage_states
    for index, stage in enumerate(stages):
        if waits_at(stage, execution_id):
            visible = running = True
        latest = stage.latest_execution
        if latest is None or latest.pipeline_execution_id != execution_id:
            continue
        visible = True
        status = str(latest.status)
        if status in (StageExecutionStatus.IN_PROGRESS.value, StageExecutionStatus.STOPPING.value):
            running = True
        elif status not in PASSED_STAGE or index == len(stages) - 1:
            ended = True
    return not visible or (ended and not running)
