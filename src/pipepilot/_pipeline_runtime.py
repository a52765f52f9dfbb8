"""The run-time half of :class:`pipepilot.Pipeline` and :class:`pipepilot.CodePipeline`, as mixins.

:class:`PipelineRuntime` adds starting, reading and waiting for executions, stages, transitions and
approvals to a pipeline handle; :class:`CodePipelineRuntime` adds fleet reads and change freezes to the
facade. Both only need what the classes in :mod:`pipepilot.pipelines` have: the pipeline's ``name`` and the
``_calls`` seam (:class:`pipepilot._calls.Caller`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pipepilot._checks import check_str, check_wait_options
from pipepilot._handles import pipeline_state
from pipepilot.errors import (
    ApprovalNotPending,
    PipelineExecutionNotFoundError,
    PipepilotError,
    TransientError,
)

# The modules behind these methods (models, waits, approvals, fleet work) are imported by the methods that
# use them: creating a facade and its client must not load them (see benchmarks/bench_first_client.py).
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from pipepilot._calls import Caller
    from pipepilot.approvals import Approval
    from pipepilot.executions import Execution, ProgressCallback, RevisionOverride
    from pipepilot.fleet import FleetStates, Selection
    from pipepilot.freeze import Checkpoint, FreezeRecord
    from pipepilot.model.declaration import PipelineDeclaration
    from pipepilot.model.runtime import (
        PipelineExecutionStatus,
        PipelineExecutionSummary,
        PipelineState,
        StageState,
    )
    from pipepilot.polling import PollPolicy, Step
    from pipepilot.stages import Stage
    from pipepilot.transitions import Transition

__all__ = ["CodePipelineRuntime", "PipelineRuntime"]

logger = logging.getLogger(__name__)


class PipelineRuntime:
    """Run-time methods of a pipeline handle (mixed into :class:`pipepilot.Pipeline`)."""

    __slots__ = ()

    # Provided by the class this is mixed into.
    @property
    def name(self) -> str:
        """The pipeline's name."""
        raise NotImplementedError

    @property
    def _calls(self) -> Caller[Any]:
        raise NotImplementedError

    # -------------------------------------------------------------------------------------- executions

    def start(
        self,
        variables: Mapping[str, str] | None = None,
        source_revisions: Iterable[RevisionOverride] | None = None,
        token: str | None = None,
    ) -> Execution:
        """Start an execution and return its handle; a retried start never starts twice.

        ``variables`` override pipeline variables (name -> value); ``source_revisions`` pin source
        revisions. The request always carries a ``clientRequestToken``: ``token``, or a fresh one reused
        across this call's retries.

        Raises:
            ValidationError: a variable, revision or the token breaks the API's rules (nothing was sent).
            PipelineNotFoundError: no such pipeline.
            ConcurrentPipelineExecutionsLimitExceededError: the pipeline runs as many executions as it may.
        """
        from pipepilot.executions import start_execution

        return start_execution(
            self._calls, self.name, variables=variables, source_revisions=source_revisions, token=token
        )

    def execution(self, execution_id: str) -> Execution:
        """The handle of execution ``execution_id`` (no call is made; :meth:`Execution.get` reads it).

        Raises:
            ArgumentTypeError / InvalidArgumentError: ``execution_id`` is not a non-empty string.
        """
        from pipepilot.executions import Execution

        check_str(execution_id, "execution_id")
        return Execution(caller=self._calls, pipeline=self.name, id=execution_id)

    def executions(
        self,
        *,
        status: PipelineExecutionStatus | str | None = None,
        succeeded_in_stage: str | None = None,
    ) -> Iterator[PipelineExecutionSummary]:
        """The pipeline's executions, newest first, as summaries fetched page by page as you iterate.

        ``succeeded_in_stage`` keeps executions that succeeded in that stage (filtered by AWS);
        ``status`` keeps those with that status (filtered here: the API has no such filter).

        Raises:
            PipelineNotFoundError: no such pipeline.
            ArgumentTypeError: ``status`` or ``succeeded_in_stage`` is not a string (nothing was sent).
        """
        from pipepilot.model.runtime import PipelineExecutionSummary

        check_str(status, "status", optional=True)
        check_str(succeeded_in_stage, "succeeded_in_stage", optional=True)
        params: dict[str, Any] = {"pipelineName": self.name}
        if succeeded_in_stage is not None:
            params["filter"] = {"succeededInStage": {"stageName": succeeded_in_stage}}
        wanted = None if status is None else str(status)
        for item in self._calls.paginate("list_pipeline_executions", "pipelineExecutionSummaries", **params):
            summary = PipelineExecutionSummary.from_api(item)
            if wanted is None or str(summary.status) == wanted:
                yield summary

    def latest_execution(self) -> Execution | None:
        """The most recently started execution, or ``None`` if the pipeline never ran (one call).

        Raises:
            PipelineNotFoundError: no such pipeline.
        """
        response = self._calls.call(
            "list_pipeline_executions", idempotent=True, pipelineName=self.name, maxResults=1
        )
        summaries = response.get("pipelineExecutionSummaries") or ()
        if not summaries:
            return None
        return self.execution(summaries[0]["pipelineExecutionId"])

    def state(self) -> PipelineState:
        """Every stage as ``GetPipelineState`` shows it now (stage, action and transition states, latest
        and waiting executions, conditions, retry metadata).

        Raises:
            PipelineNotFoundError: no such pipeline.
        """
        return pipeline_state(self._calls, self.name)

    # ---------------------------------------------------------------------------- stages, transitions

    def stage(self, name: str) -> Stage:
        """The handle of stage ``name`` (its existence is not checked until used).

        Raises:
            ArgumentTypeError / InvalidArgumentError: ``name`` is not a non-empty string.
        """
        from pipepilot.stages import Stage

        check_str(name, "name")
        return Stage(caller=self._calls, pipeline=self.name, name=name)

    def transitions(self) -> tuple[Transition, ...]:
        """Every transition of the pipeline, in stage order: each stage's inbound transition, and the
        outbound transition of every stage but the last (one ``GetPipelineState`` call, for the names).

        Read their states with :meth:`Transition.state`, or all at once from :meth:`state` (each
        ``StageState.inbound_transition_state``).

        Raises:
            PipelineNotFoundError: no such pipeline.
        """
        from pipepilot.model.runtime import StageTransitionType
        from pipepilot.transitions import Transition

        names = [stage.stage_name for stage in self.state().stage_states]
        found: list[Transition] = []
        for index, name in enumerate(names):
            found.append(
                Transition(
                    caller=self._calls, pipeline=self.name, stage=name, kind=StageTransitionType.INBOUND
                )
            )
            if index < len(names) - 1:
                found.append(
                    Transition(
                        caller=self._calls, pipeline=self.name, stage=name, kind=StageTransitionType.OUTBOUND
                    )
                )
        return tuple(found)

    # -------------------------------------------------------------------------------------- approvals

    def approvals(self, *, execution: Execution | str | None = None) -> list[Approval]:
        """The manual approvals waiting for an answer (of one execution, when given), in stage order.

        One ``GetPipeline`` (mode, custom data, links, timeouts) and one ``GetPipelineState``; in PARALLEL
        mode ``ListActionExecutions`` per running execution instead of the state (see
        :mod:`pipepilot.approvals`).

        Raises:
            PipelineNotFoundError: no such pipeline.
        """
        from pipepilot.approvals import pending_approvals
        from pipepilot.executions import execution_id_of

        return pending_approvals(self._calls, self.name, execution_id=execution_id_of(execution))

    def approve(
        self, stage: str, action: str, *, summary: str = "", execution: Execution | str | None = None
    ) -> None:
        """Approve the approval ``stage``/``action`` of ``execution`` (or the only one waiting there).

        With ``execution`` given, only that execution's approval is answered, never another one's; a
        redelivered approval that is already approved is a logged success.

        Raises:
            ValidationError: ``summary`` is over 512 characters (nothing was sent), or several executions
                wait there (PARALLEL mode) and ``execution`` was not given.
            ApprovalNotPending: no approval waits there (for that execution), or the action is not an
                approval (the message says which category it is).
            ApprovalConflict: it was already rejected.
        """
        from pipepilot.approvals import answer_approval
        from pipepilot.executions import execution_id_of
        from pipepilot.model.runtime import ApprovalStatus

        answer_approval(
            self._calls,
            self.name,
            stage,
            action,
            status=ApprovalStatus.APPROVED,
            summary=summary,
            execution_id=execution_id_of(execution),
        )

    def reject(
        self, stage: str, action: str, *, summary: str, execution: Execution | str | None = None
    ) -> None:
        """Reject the approval ``stage``/``action`` of ``execution`` (or the only one waiting there).

        Raises:
            ValidationError: ``summary`` is over 512 characters (nothing was sent), or several executions
                wait there and ``execution`` was not given.
            ApprovalNotPending: no approval waits there (for that execution).
            ApprovalConflict: it was already approved.
        """
        from pipepilot.approvals import answer_approval
        from pipepilot.executions import execution_id_of
        from pipepilot.model.runtime import ApprovalStatus

        answer_approval(
            self._calls,
            self.name,
            stage,
            action,
            status=ApprovalStatus.REJECTED,
            summary=summary,
            execution_id=execution_id_of(execution),
        )

    # ------------------------------------------------------------------------------------------ waits

    def wait_for_approval(
        self,
        stage: str | None = None,
        action: str | None = None,
        *,
        execution: Execution | str | None = None,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        on_progress: ProgressCallback | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> Approval:
        """Wait until an approval waits for an answer, and return it as soon as it appears.

        ``stage``/``action`` narrow which approval (default: any); ``execution`` waits for that
        execution's. One ``GetPipeline`` first, then one ``GetPipelineState`` per poll. In PARALLEL mode a
        poll reads ``ListActionExecutions`` instead (per running execution, or for ``execution`` plus one
        ``GetPipelineExecution`` to notice its end). Throttling slows polling instead of failing.

        ``on_progress`` receives the progress events of ``execution`` (default: of every execution
        running in the pipeline) seen between two polls, as :meth:`Execution.wait` reports them: the
        approval itself arrives as an :class:`~pipepilot.ApprovalPending` event before the wait returns
        it. Reporting costs no extra call, except in PARALLEL mode (one ``GetPipelineState`` per poll).

        ``timeout`` (seconds) overrides ``poll.timeout``; without either, the wait gives up after the
        approval's default (:func:`~pipepilot.polling.approval_timeout`: the approval's lifetime, 7 days
        unless declared, plus the longest the actions before it may run), so a wait held behind another
        execution's approval outlasts it. ``PollPolicy.FOREVER`` waits without a limit.

        Raises:
            ExecutionFailed / ExecutionStopped / ExecutionSuperseded / ExecutionCancelled: ``execution``
                ended before reaching the approval.
            ApprovalNotPending: ``execution`` succeeded without such an approval waiting (it was answered
                between two polls, or the pipeline has none by that name), or ``stage``/``action`` names
                an action that is not an approval (nothing was polled).
            WaitTimeout: none appeared in time (``last`` is the last pipeline state seen, or ``None``).
            PipelineNotFoundError: no such pipeline.
            ArgumentTypeError: an argument has the wrong type; nothing was read.
        """
        from pipepilot.approvals import (
            approvals_in_state,
            check_is_approval,
            is_parallel,
            pending_approvals,
            read_declaration,
        )
        from pipepilot.executions import execution_id_of, execution_may_have_ended
        from pipepilot.polling import (
            PollSchedule,
            approval_timeout,
            poll_jitter,
            wait_policy,
            wait_timing,
            wait_until,
        )

        check_str(stage, "stage", optional=True)
        check_str(action, "action", optional=True)
        check_wait_options(
            timeout=timeout, poll=poll, clock=clock, sleep=sleep, callbacks={"on_progress": on_progress}
        )
        execution_id = execution_id_of(execution)
        policy = wait_policy(poll, timeout)
        now_of, sleep_for = wait_timing(clock, sleep, self._calls)
        where = f"{stage or '*'}/{action or '*'}"
        schedule = PollSchedule(
            policy=policy,
            started=now_of(),
            rng=poll_jitter(self.name, "approval", stage or "*", action or "*", execution_id or "*"),
        )
        declaration = read_declaration(self._calls, self.name)
        check_is_approval(declaration, stage, action)
        schedule.default_timeout = approval_timeout(declaration, stage=stage, action=action)
        parallel = is_parallel(declaration)
        found: list[Approval] = []
        progress = None if on_progress is None else _StateProgress(self._calls, declaration, on_progress)

        def fetch() -> PipelineState | None:
            found.clear()
            if parallel:
                found.extend(
                    pending_approvals(
                        self._calls, self.name, declaration=declaration, execution_id=execution_id
                    )
                )
                if progress is not None:
                    # The state cannot show every run of a PARALLEL pipeline, but it is all there is.
                    progress.observe(self.state(), execution_id)
                return None
            state = self.state()
            if progress is not None:
                progress.observe(state, execution_id)
            found.extend(
                approvals_in_state(self._calls, state, declaration=declaration, execution_id=execution_id)
            )
            return state

        def matches(approval: Approval) -> bool:
            return (stage is None or approval.stage == stage) and (
                action is None or approval.action == action
            )

        def decide(state: PipelineState | None, now: float) -> Step:
            if any(matches(approval) for approval in found):
                return schedule.decide(True, now)
            # The state shows when the execution may have ended; a PARALLEL pipeline's state cannot, so
            # there the execution itself is read on every poll.
            if (
                execution_id is not None
                and (state is None or execution_may_have_ended(state, execution_id))
                and self._succeeded(execution_id, f"reaching approval {where}")
            ):
                raise ApprovalNotPending(
                    f"execution {execution_id} of pipeline {self.name!r} ended Succeeded without approval "
                    f"{where} waiting for an answer (answered between two polls, or there is none)",
                    pipeline=self.name,
                    stage=stage,
                    action=action,
                    execution_id=execution_id,
                )
            return schedule.decide(False, now)

        wait_until(
            fetch,
            decide,
            clock=now_of,
            sleep=sleep_for,
            policy=policy,
            schedule=schedule,
            label=f"approval {where} in {self.name}",
        )
        approval = next(approval for approval in found if matches(approval))
        logger.info("%s is waiting", approval.describe())
        return approval

    def wait_for_stage(
        self,
        stage: str,
        *,
        execution: Execution | str | None = None,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> StageState:
        """Wait until ``execution`` (default: the latest execution now) has succeeded in ``stage``.

        Returns the stage's state then (a stage skipped by its condition counts as passed). An execution
        seen in a later stage, or that succeeded, has passed the stage too; if a newer execution entered the
        stage since, the state returned shows that one. One ``GetPipelineState`` per poll; one
        ``GetPipelineExecution`` when the execution shows nowhere in the state (it may have been superseded).
        ``timeout`` (seconds) overrides ``poll.timeout``; without either, the wait gives up after the
        stage's default (:func:`~pipepilot.polling.stage_timeout`, read with one ``GetPipeline`` once the
        wait has lasted an hour); ``PollPolicy.FOREVER`` waits without a limit.

        Raises:
            ExecutionFailed / ExecutionStopped / ExecutionCancelled: the execution failed, stopped or was
                cancelled in that stage or before it; ``stage``, ``action`` and the error say where.
            ExecutionSuperseded: a newer execution overtook it before the stage.
            StageNotFoundError: the pipeline has no such stage.
            PipelineExecutionNotFoundError: no execution was given and the pipeline never ran.
            WaitTimeout: the timeout passed first (``last`` is the last pipeline state seen).
            ArgumentTypeError: an argument has the wrong type; nothing was read.
        """
        from pipepilot.approvals import read_declaration
        from pipepilot.executions import (
            ENDED_IN_STAGE,
            PASSED_STAGE,
            Where,
            execution_id_of,
            execution_may_have_ended,
            unsuccessful,
            waits_at,
        )
        from pipepilot.polling import (
            DefaultTimeout,
            PollSchedule,
            fallback_timeout,
            poll_jitter,
            stage_timeout,
            wait_policy,
            wait_timing,
            wait_until,
        )

        check_str(stage, "stage")
        check_wait_options(timeout=timeout, poll=poll, clock=clock, sleep=sleep)
        target = execution_id_of(execution)
        if target is None:
            latest = self.latest_execution()
            if latest is None:
                raise PipelineExecutionNotFoundError(f"pipeline {self.name!r} has no execution to wait for")
            target = latest.id
        policy = wait_policy(poll, timeout)
        now_of, sleep_for = wait_timing(clock, sleep, self._calls)

        def default_timeout() -> DefaultTimeout:
            # Read only by a wait that lasts an hour or more: a short wait never pays for GetPipeline.
            try:
                return stage_timeout(read_declaration(self._calls, self.name), stage)
            except PipepilotError as error:
                logger.debug("could not read pipeline %s for its time limits: %s", self.name, error)
                return fallback_timeout(f"pipeline {self.name!r} could not be read")

        schedule = PollSchedule(
            policy=policy,
            started=now_of(),
            rng=poll_jitter(self.name, "stage", stage, target),
            default_timeout=default_timeout,
        )

        def decide(state: PipelineState, now: float) -> Step:
            state.stage(stage)  # an unknown stage raises StageNotFoundError at the first poll
            stages = state.stage_states
            awaited = next(index for index, found in enumerate(stages) if found.stage_name == stage)
            for index, stage_state in enumerate(stages):
                run = stage_state.latest_execution
                if run is None or run.pipeline_execution_id != target:
                    if index > awaited and waits_at(stage_state, target):
                        return schedule.decide(True, now)  # it waits in front of a later stage
                    continue
                status = str(run.status)
                if index > awaited or (index == awaited and status in PASSED_STAGE):
                    return schedule.decide(True, now)
                if status in ENDED_IN_STAGE:
                    raise unsuccessful(self.name, target, status, Where.from_stage(stage_state))
            if execution_may_have_ended(state, target) and self._succeeded(
                target, f"reaching stage {stage!r}"
            ):
                return schedule.decide(True, now)  # it passed every stage
            return schedule.decide(False, now)

        final = wait_until(
            self.state,
            decide,
            clock=now_of,
            sleep=sleep_for,
            policy=policy,
            schedule=schedule,
            label=f"stage {stage} of {self.name}",
        )
        return final.stage(stage)

    def _succeeded(self, execution_id: str, doing: str) -> bool:
        """Whether the execution has succeeded (one call); raise its ExecutionUnsuccessful when it ended
        otherwise. ``False`` while it runs, or when it could not be read (the next poll looks again)."""
        handle = self.execution(execution_id)
        try:
            current = handle.get()
        except TransientError:
            return False
        if not current.is_terminal:
            return False
        handle._outcome(current, state=None, before=doing)  # returns only when it succeeded
        return True


class _StateProgress:
    """Reports the progress a wait sees in successive ``GetPipelineState`` readings (``on_progress``).

    Without an execution to follow, it follows every execution that runs (or waits) in some stage, and
    keeps following one until the reading where it stopped running, so its end is reported too.
    """

    def __init__(
        self, caller: Caller[Any], declaration: PipelineDeclaration, on_progress: ProgressCallback
    ) -> None:

        self.caller = caller
        self.declaration = declaration
        self.on_progress = on_progress
        self.last: PipelineState | None = None

    def observe(self, state: PipelineState, execution_id: str | None) -> None:
        from pipepilot.approvals import ApprovalPending
        from pipepilot.polling import ApprovalWaiting, diff_states

        previous, self.last = self.last, state
        if execution_id is not None:
            followed = [execution_id]
        else:
            followed = _running(state)
            if previous is not None:
                followed += [known for known in _running(previous) if known not in followed]
        for followed_id in followed:
            for event in diff_states(previous, state, followed_id):
                if isinstance(event, ApprovalWaiting):
                    event = ApprovalPending.from_event(
                        event, caller=self.caller, declaration=self.declaration
                    )
                self.on_progress(event)


def _running(state: PipelineState) -> list[str]:
    """The executions running in or waiting in front of some stage, in stage order."""
    from pipepilot.model.runtime import is_terminal_status

    ids: dict[str, None] = {}
    for stage in state.stage_states:
        latest = stage.latest_execution
        if latest is not None and not is_terminal_status(latest.status):
            ids[latest.pipeline_execution_id] = None
        for waiting in stage.waiting_executions():
            ids[waiting.pipeline_execution_id] = None
    return list(ids)


class CodePipelineRuntime:
    """Fleet methods of the facade (mixed into :class:`pipepilot.CodePipeline`)."""

    __slots__ = ()

    # Set by the class this is mixed into (an instance attribute there).
    _calls: Caller[Any]

    def states(
        self, pipelines: Selection, *, max_workers: int | None = None, rate: float | None = None
    ) -> FleetStates:
        """Read the state of many pipelines concurrently, as fast as the account allows.

        ``pipelines`` is a selection: names, an fnmatch pattern or tags (see :mod:`pipepilot.fleet`).
        Requests are paced by the facade's adaptive limiter (no limit until AWS throttles, then half the
        rate, growing back slowly), shared with the facade's other fleet operations; ``rate`` also caps
        this call at ``rate`` requests a second. Pipelines that could not be read are in the result's
        ``errors``, not raised. ``max_workers`` left at ``None`` takes :mod:`pipepilot.fleet`'s default (as
        in :meth:`freeze`, :meth:`thaw`).

        Raises:
            ValueError: ``max_workers`` or ``rate`` is out of range.
            PipepilotError: the selection could not be resolved.
        """
        from pipepilot.fleet import read_states

        return read_states(self._calls, pipelines, **_fleet_options(max_workers, rate))

    def freeze(
        self,
        pipelines: Selection,
        *,
        stage: str,
        reason: str,
        resume: FreezeRecord | None = None,
        checkpoint: Checkpoint | None = None,
        max_workers: int | None = None,
        rate: float | None = None,
    ) -> FreezeRecord:
        """Disable the inbound transition of ``stage`` in every selected pipeline (see :mod:`pipepilot.freeze`).

        Raises:
            ValidationError: ``reason`` or ``stage`` breaks the API's rules (nothing was changed).
            ValueError: ``resume`` is the record of another freeze.
            ArgumentTypeError: ``resume`` is not a :class:`~pipepilot.FreezeRecord` (read a saved one with
                ``FreezeRecord.from_json``), or ``checkpoint`` is not callable (nothing was changed).
            PipepilotError: the selection could not be resolved (nothing was changed).
        """
        from pipepilot.freeze import freeze

        return freeze(
            self._calls,
            pipelines,
            stage=stage,
            reason=reason,
            resume=resume,
            checkpoint=checkpoint,
            **_fleet_options(max_workers, rate),
        )

    def thaw(
        self,
        record: FreezeRecord,
        *,
        checkpoint: Checkpoint | None = None,
        max_workers: int | None = None,
        rate: float | None = None,
    ) -> FreezeRecord:
        """Re-enable exactly what the freeze ``record`` disabled (see :mod:`pipepilot.freeze`).

        Raises:
            ArgumentTypeError: ``record`` is not a :class:`~pipepilot.FreezeRecord` (read a saved one with
                ``FreezeRecord.from_json``), or ``checkpoint`` is not callable (nothing was changed).
            ValueError: ``max_workers`` or ``rate`` is out of range.
        """
        from pipepilot.freeze import thaw

        return thaw(self._calls, record, checkpoint=checkpoint, **_fleet_options(max_workers, rate))


def _fleet_options(max_workers: int | None, rate: float | None) -> dict[str, Any]:
    """The fleet options given; ``None`` leaves pipepilot.fleet's default (kept there, so that a facade's
    signature does not import the fleet module)."""
    options: dict[str, Any] = {}
    if max_workers is not None:
        options["max_workers"] = max_workers
    if rate is not None:
        options["rate"] = rate
    return options
