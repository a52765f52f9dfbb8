"""Stages and actions of a live pipeline: their state, retries, rollbacks, condition overrides, builds.

:class:`Stage` and :class:`Action` are handles (pipeline name + stage name, + action name); each method
reads or acts on AWS when called. Get them from ``pipeline.stage("Deploy")`` and
``pipeline.stage("Build").action("Compile")``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import attrs

from pipepilot._checks import check_str, type_name
from pipepilot._handles import action_runs, aws_details, check_request, latest_run, pipeline_state
from pipepilot._writes import send_checked
from pipepilot.errors import (
    ArgumentTypeError,
    ConditionNotOverridableError,
    NotLatestPipelineExecutionError,
    PipepilotError,
    RequestValidationError,
    StageNotRetryableError,
    TransientError,
)
from pipepilot.executions import Execution, execution_id_of
from pipepilot.model.declaration import StageRetryMode
from pipepilot.model.runtime import (
    ConditionType,
    ExecutionType,
    PipelineExecutionSummary,
    StageExecutionStatus,
    StageTransitionType,
)
from pipepilot.transitions import Transition

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pipepilot._calls import Caller
    from pipepilot.builds import Build
    from pipepilot.codebuild import CodeBuild
    from pipepilot.model.runtime import ActionExecutionDetail, ActionState, StageState

__all__ = ["Action", "Stage"]

logger = logging.getLogger(__name__)

# Seconds of clock difference tolerated between this machine and AWS when recognising the rollback
# execution a lost RollbackStage response created.
_CLOCK_SLACK = 300.0


def _enum_value(value: Any, enum_type: Any, what: str) -> str:
    try:
        return str(enum_type(value).value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_type)
        raise RequestValidationError(f"{what} must be one of {allowed}, not {value!r}") from None


def _manual_retries(stage: StageState) -> int:
    metadata = stage.retry_stage_metadata
    return 0 if metadata is None else metadata.manual_stage_retry_attempt or 0


@attrs.frozen(kw_only=True)
class Stage:
    """One stage of one pipeline (a handle: nothing is cached)."""

    caller: Caller[Any] = attrs.field(repr=False, eq=False)
    pipeline: str
    name: str

    @property
    def inbound(self) -> Transition:
        """The transition in front of this stage (disable it to hold executions before the stage)."""
        return Transition(
            caller=self.caller, pipeline=self.pipeline, stage=self.name, kind=StageTransitionType.INBOUND
        )

    @property
    def outbound(self) -> Transition:
        """The transition after this stage (its state cannot be read back; see :mod:`pipepilot.transitions`)."""
        return Transition(
            caller=self.caller, pipeline=self.pipeline, stage=self.name, kind=StageTransitionType.OUTBOUND
        )

    def action(self, name: str) -> Action:
        """The handle of the action ``name`` in this stage (its existence is not checked until used).

        Raises:
            ArgumentTypeError / InvalidArgumentError: ``name`` is not a non-empty string.
        """
        check_str(name, "name")
        return Action(caller=self.caller, pipeline=self.pipeline, stage=self.name, name=name)

    def state(self) -> StageState:
        """The stage as ``GetPipelineState`` shows it now: latest and waiting executions, action states,
        inbound transition, condition states and retry metadata.

        Raises:
            StageNotFoundError: the pipeline has no such stage (``available`` lists those it has).
            PipelineNotFoundError: no such pipeline.
        """
        return pipeline_state(self.caller, self.pipeline).stage(self.name)

    def _latest_execution_id(self, doing: str, refusal: type[PipepilotError]) -> str:
        latest = self.state().latest_execution
        if latest is None:
            raise refusal(
                f"cannot {doing} stage {self.name!r} of pipeline {self.pipeline!r}: no execution has entered "
                "it yet; start one"
            )
        return latest.pipeline_execution_id

    # ----------------------------------------------------------------------------------------- retry

    def retry(
        self, *, execution: Execution | str | None = None, mode: StageRetryMode | str = "FAILED_ACTIONS"
    ) -> Execution:
        """Run the stage again for ``execution`` (default: the stage's latest execution); returns it.

        ``mode`` ``FAILED_ACTIONS`` reruns only the failed actions (running siblings go on);
        ``ALL_ACTIONS`` reruns the whole stage (nothing may be running in it). The retry resumes the same
        execution: no new one is created. When ``execution`` is a handle, that handle is returned, so a
        wait on it reports only what happens after the progress its earlier waits reported.

        A stage is never retried twice for one call. The stage is read first (one ``GetPipelineState``)
        to note how often it was retried by hand (``retryStageMetadata.manualStageRetryAttempt``). When
        the answer is an error that may come after AWS applied the retry (a 5xx, a dropped connection),
        the stage is read again: a higher count for the same execution means the retry took effect (and
        it is not sent again); the same count means it did not, and it is sent again under the retry
        policy. If another execution has entered the stage since, the execution's action runs
        (``ListActionExecutions``) show whether the stage ran again after the first reading.

        Raises:
            RequestValidationError: ``mode`` is not a retry mode (nothing was sent).
            ArgumentTypeError: ``execution`` is not an execution handle or id (nothing was sent).
            NotLatestPipelineExecutionError: a newer execution has entered the stage since; retry that one,
                or start a new execution.
            StageNotRetryableError: nothing to retry (no failed action, still running, already being
                retried, or the pipeline changed since the failure); the message says which applies.
            StageNotFoundError / PipelineNotFoundError: no such stage or pipeline.
            TransientError: the request failed past the retry policy, or its answer was lost and reading
                the stage back could not tell whether it took effect (it may have).
        """
        retry_mode = _enum_value(mode, StageRetryMode, "the retry mode")
        execution_id = execution_id_of(execution)
        if execution_id is not None:
            check_request(
                "RetryStageExecution",
                self._retry_params(execution_id, retry_mode),
                doing=f"retry stage {self.name!r}",
            )
        before = self.state()
        if execution_id is None:
            latest = before.latest_execution
            if latest is None:
                raise StageNotRetryableError(
                    f"cannot retry stage {self.name!r} of pipeline {self.pipeline!r}: no execution has entered "
                    "it yet; start one"
                )
            execution_id = latest.pipeline_execution_id
        params = self._retry_params(execution_id, retry_mode)
        check_request("RetryStageExecution", params, doing=f"retry stage {self.name!r}")
        target = execution_id

        def confirm() -> bool | None:
            return self._retry_applied(target, before)

        try:
            response = send_checked(
                self.caller,
                "retry_stage_execution",
                confirm=confirm,
                doing=f"the retry of stage {self.name} of {self.pipeline}",
                **params,
            )
        except NotLatestPipelineExecutionError as error:
            latest_id = self._latest_or_none()
            newer = f" ({latest_id} is)" if latest_id and latest_id != execution_id else ""
            raise NotLatestPipelineExecutionError(
                f"cannot retry stage {self.name!r} of pipeline {self.pipeline!r} for execution {execution_id}: "
                f"it is no longer the stage's latest execution{newer}. Retry the latest execution instead, "
                "or start a new execution",
                **aws_details(error),
            ) from error
        except StageNotRetryableError as error:
            raise StageNotRetryableError(
                self._not_retryable_text(execution_id, retry_mode), **aws_details(error)
            ) from error
        if response is None:
            logger.info(
                "retry of stage %s for execution %s confirmed by the stage's state (its answer was lost)",
                self.name,
                execution_id,
            )
            return self._handle(execution, execution_id)
        logger.info(
            "retrying stage %s of %s for execution %s (%s)",
            self.name,
            self.pipeline,
            execution_id,
            retry_mode,
        )
        return self._handle(execution, response.get("pipelineExecutionId", execution_id))

    def _retry_params(self, execution_id: str, retry_mode: str) -> dict[str, str]:
        return {
            "pipelineName": self.pipeline,
            "stageName": self.name,
            "pipelineExecutionId": execution_id,
            "retryMode": retry_mode,
        }

    def _retry_applied(self, execution_id: str, before: StageState) -> bool | None:
        """Whether a retry of the stage for ``execution_id`` took effect since ``before`` was read.

        ``True``: it did; ``False``: certainly not; ``None``: cannot tell.
        """
        was_latest = before.latest_execution is not None and (
            before.latest_execution.pipeline_execution_id == execution_id
        )
        if not was_latest:
            return False  # AWS refuses a retry of an execution that is not the stage's latest
        after = self.state()
        latest = after.latest_execution
        if latest is not None and latest.pipeline_execution_id == execution_id:
            # Every manual retry of the stage for this execution adds one to the count.
            return _manual_retries(after) > _manual_retries(before)
        # Another execution has entered the stage since: if the retry ran, it left action runs of this
        # execution in the stage that started after the last change the first reading showed.
        changes = [
            action.latest_execution.last_status_change
            for action in before.action_states
            if action.latest_execution is not None and action.latest_execution.last_status_change is not None
        ]
        if not changes:
            return None
        mark = max(changes)
        return any(
            run.stage_name == self.name and run.start_time is not None and run.start_time > mark
            for run in action_runs(self.caller, self.pipeline, execution_id)
        )

    def _handle(self, given: Execution | str | None, execution_id: str) -> Execution:
        """The handle of ``execution_id``: the caller's own when it passed one, so a later wait on it goes
        on reporting progress from where the last one stopped."""
        if isinstance(given, Execution) and given.id == execution_id and given.pipeline == self.pipeline:
            return given
        return Execution(caller=self.caller, pipeline=self.pipeline, id=execution_id)

    def _latest_or_none(self) -> str | None:
        try:
            latest = self.state().latest_execution
        except PipepilotError:
            return None
        return None if latest is None else latest.pipeline_execution_id

    def _not_retryable_text(self, execution_id: str, mode: str) -> str:
        where = f"stage {self.name!r} of pipeline {self.pipeline!r} for execution {execution_id}"
        try:
            stage = self.state()
        except PipepilotError:
            return f"cannot retry {where}: AWS says it is not retryable now"
        latest = stage.latest_execution
        status = None if latest is None else str(latest.status)
        if status in (StageExecutionStatus.IN_PROGRESS.value, StageExecutionStatus.STOPPING.value):
            if mode == StageRetryMode.ALL_ACTIONS.value:
                return (
                    f"cannot retry {where} with ALL_ACTIONS: the stage is still running; wait for it to end, "
                    "or retry with FAILED_ACTIONS"
                )
            return f"cannot retry {where}: the stage is still running (a retry may already be under way); wait for it to end"
        if status == StageExecutionStatus.SUCCEEDED.value:
            return f"cannot retry {where}: the stage succeeded, nothing failed"
        return (
            f"cannot retry {where}: AWS says it is not retryable (the stage is {status or 'not run'}; the pipeline "
            "may have changed since the failure): start a new execution"
        )

    # -------------------------------------------------------------------------------------- rollback

    def rollback(self, to: Execution | str) -> Execution:
        """Roll the stage back to an earlier execution that succeeded in it (V2 pipelines); returns the
        new rollback execution.

        The rollback reuses the target's source revisions, artifacts and variables. Not available in
        PARALLEL mode, nor for a Source stage. A rollback whose answer was lost is recognised among the
        pipeline's recent executions (a ``ROLLBACK`` execution targeting ``to``) rather than sent again.

        Raises:
            UnableToRollbackStageError: the target did not succeed in this stage, ran under another version
                of the pipeline, is itself a rollback, or the stage is running.
            PipelineExecutionOutdatedError: the target is too old.
            PipelineExecutionNotFoundError / StageNotFoundError / PipelineNotFoundError: unknown names.
            ArgumentTypeError: ``to`` is not an execution handle or id (nothing was sent).
        """
        target = execution_id_of(to, "to")
        if target is None:
            raise ArgumentTypeError(
                "to must be the Execution handle or id of the execution to roll back to, not None",
                parameter="to",
            )
        params = {"pipelineName": self.pipeline, "stageName": self.name, "targetPipelineExecutionId": target}
        check_request("RollbackStage", params, doing=f"roll back stage {self.name!r}")
        asked_at = self.caller.time.time()
        try:
            response = self.caller.call("rollback_stage", idempotent=False, **params)
        except TransientError:
            created = self._rollback_created(target, asked_at)
            if created is None:
                raise
            logger.info("rollback of stage %s to %s confirmed: execution %s", self.name, target, created)
            return Execution(caller=self.caller, pipeline=self.pipeline, id=created)
        execution = Execution(caller=self.caller, pipeline=self.pipeline, id=response["pipelineExecutionId"])
        logger.info(
            "rolling back stage %s of %s to %s: execution %s", self.name, self.pipeline, target, execution.id
        )
        return execution

    def _rollback_created(self, target: str, asked_at: float) -> str | None:
        try:
            response = self.caller.call(
                "list_pipeline_executions", idempotent=True, pipelineName=self.pipeline, maxResults=10
            )
        except PipepilotError:
            return None
        for item in response.get("pipelineExecutionSummaries", ()):
            summary = PipelineExecutionSummary.from_api(item)
            metadata = summary.rollback_metadata
            if (
                summary.execution_type == ExecutionType.ROLLBACK
                and metadata is not None
                and metadata.rollback_target_pipeline_execution_id == target
                and summary.start_time is not None
                and summary.start_time.timestamp() >= asked_at - _CLOCK_SLACK
            ):
                return summary.pipeline_execution_id
        return None

    # ---------------------------------------------------------------------------------- conditions

    def override_condition(
        self, condition_type: ConditionType | str, execution: Execution | str | None = None
    ) -> None:
        """Override the stage's ``BEFORE_ENTRY`` or ``ON_SUCCESS`` condition for ``execution`` (default: the
        stage's latest), letting it proceed as if the condition had passed.

        Raises:
            RequestValidationError: ``condition_type`` is not one of the two (nothing was sent).
            ArgumentTypeError: ``execution`` is not an execution handle or id (nothing was sent).
            ConditionNotOverridableError: the condition is not being evaluated (or already finished), or
                no execution has entered the stage yet.
            NotLatestPipelineExecutionError: another execution entered the stage since.
            StageNotFoundError / PipelineNotFoundError: unknown names.
        """
        kind = _enum_value(condition_type, ConditionType, "the condition type")
        execution_id = execution_id_of(execution) or self._latest_execution_id(
            "override a condition of", ConditionNotOverridableError
        )
        params = {
            "pipelineName": self.pipeline,
            "stageName": self.name,
            "pipelineExecutionId": execution_id,
            "conditionType": kind,
        }
        check_request("OverrideStageCondition", params, doing=f"override a condition of stage {self.name!r}")
        self.caller.call("override_stage_condition", idempotent=False, **params)
        logger.info("overrode the %s condition of stage %s for execution %s", kind, self.name, execution_id)


@attrs.frozen(kw_only=True)
class Action:
    """One action of one stage of one pipeline (a handle: nothing is cached)."""

    caller: Caller[Any] = attrs.field(repr=False, eq=False)
    pipeline: str
    stage: str
    name: str

    def state(self) -> ActionState:
        """The action as ``GetPipelineState`` shows it: latest run, current revision, links.

        Raises:
            ActionNotFoundError / StageNotFoundError / PipelineNotFoundError: unknown names.
        """
        return pipeline_state(self.caller, self.pipeline).stage(self.stage).action(self.name)

    def executions(self, *, execution: Execution | str | None = None) -> Iterator[ActionExecutionDetail]:
        """The runs of this action (of one pipeline execution, when given), newest first, fetched lazily.

        ``ListActionExecutions`` cannot filter by stage or action, so pages of the pipeline's runs are read
        and filtered here.

        Raises:
            PipelineNotFoundError / PipelineExecutionNotFoundError: unknown names.
        """
        for run in action_runs(self.caller, self.pipeline, execution_id_of(execution)):
            if run.stage_name == self.stage and run.action_name == self.name:
                yield run

    def latest_execution(self, *, execution: Execution | str | None = None) -> ActionExecutionDetail | None:
        """The most recent run of this action (in ``execution``, when given), or ``None`` if it never ran."""
        execution_id = execution_id_of(execution)
        if execution_id is None:
            return next(self.executions(), None)
        return latest_run(action_runs(self.caller, self.pipeline, execution_id), self.stage, self.name)

    def build(self, *, codebuild: CodeBuild | None = None) -> Build:
        """The CodeBuild build behind this action's latest run (its ``externalExecutionId``).

        ``codebuild`` is the CodeBuild facade to read it through. By default it is the one configured like
        the pipeline's facade (``CodePipeline.codebuild()``: same session, botocore config, retry policy,
        clock and sleep, in the pipeline's region), shared by every handle of that facade.

        Raises:
            ValueError: the action has not run yet, it is not a CodeBuild action, or its latest run has not
                started a build yet.
            ArgumentTypeError: ``codebuild`` is not a :class:`~pipepilot.CodeBuild` facade (nothing was read).
        """
        from pipepilot.codebuild import CodeBuild

        if codebuild is not None and not isinstance(codebuild, CodeBuild):
            raise ArgumentTypeError(
                f"codebuild must be a CodeBuild facade or None, not {type_name(codebuild)}",
                parameter="codebuild",
            )
        run = self.latest_execution()
        result = None if run is None or run.output is None else run.output.execution_result
        build_id = None if result is None else result.external_execution_id
        provider = None
        if run is not None and run.input is not None and run.input.action_type_id is not None:
            provider = run.input.action_type_id.provider
        if run is None or provider != "CodeBuild" or not build_id:
            if run is None:
                why = "it has not run yet"
            elif provider != "CodeBuild":
                why = f"it is a {provider or 'non-CodeBuild'} action"
            else:
                why = "its latest run has not started a build yet"
            raise ValueError(
                f"action {self.stage}/{self.name} of pipeline {self.pipeline!r} has no CodeBuild build: {why}"
            )
        if codebuild is None:
            from pipepilot.codebuild import codebuild_beside

            codebuild = codebuild_beside(self.caller)
        return codebuild.build(build_id)
