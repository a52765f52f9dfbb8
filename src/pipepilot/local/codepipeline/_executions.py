"""Executions: start, move between stages (wait, supersede, admit), finish, stop, retry, cancel, forget."""

from __future__ import annotations

import bisect
import logging
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pipepilot.local.codepipeline._events import EVENT_STATE, RESUMED
from pipepilot.local.codepipeline._part import Part
from pipepilot.local.codepipeline._state import (
    ABANDONED,
    CANCELLED,
    FAILED,
    IN_PROGRESS,
    KIND_APPROVAL,
    LIVE_STATUSES,
    MODE_PARALLEL,
    MODE_SUPERSEDED,
    OVERRIDDEN,
    STOPPED,
    STOPPING,
    SUCCEEDED,
    SUPERSEDED,
    TYPE_ROLLBACK,
    TYPE_STANDARD,
    ActionRun,
    Artifact,
    ConditionRun,
    Execution,
    PipelineRecord,
    Revision,
    StageDef,
    StageRun,
    StageSlot,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

logger = logging.getLogger(__name__)

UPDATE_SUMMARY = "Pipeline definition was updated before the pipeline execution could complete."
STALE_SUMMARY = "The stage transition stayed disabled for more than 30 days; start a new execution."
#: The action-run and condition maps of a stage run nothing reads or writes any more (see compact_stage_run).
_FORGOTTEN: Any = MappingProxyType({})
#: The variables of every execution of a pipeline that declares none (nothing writes them after the start).
_NO_VARIABLES: Any = MappingProxyType({})


class Executions(Part):
    """Moves the executions of one engine's pipelines through their stages."""

    def start(
        self,
        pipeline: PipelineRecord,
        *,
        trigger_type: str,
        trigger_detail: str | None,
        variables: Mapping[str, str] | None = None,
        revisions: Mapping[str, Revision] | None = None,
        template: Execution | None = None,
        rollback_stage: StageDef | None = None,
    ) -> Execution:
        """Create an execution and send it towards its first stage (or, for a rollback, its stage)."""
        self.forget_old(pipeline)
        structure = pipeline.current
        now = self.now()
        if template is not None:
            resolved_variables = dict(template.variables)
            chosen = dict(template.revisions)
        else:
            resolved_variables = {name: default or "" for name, default in structure.variables}
            resolved_variables.update(variables or {})
            if not resolved_variables:
                # Most pipelines declare no variables: one shared read-only empty map, not a dict each.
                resolved_variables = _NO_VARIABLES
            given = revisions or {}
            chosen = {
                a.name: given.get(a.name) or self._rt.sources.head(pipeline, a)
                for a in structure.source_actions
            }
        execution = Execution(
            id=self.world.new_uuid(),
            pipeline=pipeline,
            structure=structure,
            status=IN_PROGRESS,
            trigger_type=trigger_type,
            trigger_detail=trigger_detail,
            mode=structure.execution_mode,
            execution_type=TYPE_STANDARD if template is None else TYPE_ROLLBACK,
            start=now,
            last_update=now,
            variables=resolved_variables,
            revisions=chosen,
        )
        if template is not None and rollback_stage is not None:
            execution.rollback_target = template.id
            execution.only_stage = rollback_stage.name
            execution.namespaces = {k: dict(v) for k, v in template.namespaces.items()}
            execution.artifacts = dict(template.artifacts)
            execution.artifact_revisions = template.artifact_revisions
        pipeline.executions[execution.id] = execution
        pipeline.order.append(execution)
        pipeline.live[execution.id] = execution
        self._rt.events.pipeline(execution, "STARTED")
        if rollback_stage is not None:
            self.enter(execution, rollback_stage)
        else:
            self.arrive(execution, 0)
        return execution

    def arrive(self, execution: Execution, index: int) -> None:
        """Send ``execution`` to stage ``index``: enter or wait (per its mode); past the last, succeed."""
        stages = execution.structure.stages
        if index >= len(stages):
            self.finish(execution, SUCCEEDED)
            return
        pipeline = execution.pipeline
        stage = stages[index]
        slot = pipeline.slot(stage.name)
        execution.position = index
        execution.where = "waiting"
        execution.current = None
        blocked = self.entry_blocked(pipeline, stages, index)
        if execution.mode == MODE_PARALLEL:
            if not blocked:
                self.enter(execution, stage)
                return
        elif not blocked and slot.lock is None and not slot.waiting:
            self.enter(execution, stage)
            return
        if execution.mode == MODE_SUPERSEDED:
            # SUPERSEDED: one waiting slot; the newcomer supersedes whoever waits there.
            while slot.waiting:
                self.supersede(slot.waiting.popleft())
        slot.waiting.append(execution)
        slot.inbound_shown = execution

    def supersede(self, execution: Execution) -> None:
        """Mark a waiting execution Superseded by a newer one."""
        if execution.status != IN_PROGRESS or execution.where != "waiting":
            return
        execution.where = "done"
        self.set_status(execution, SUPERSEDED)
        self._rt.events.pipeline(execution, "SUPERSEDED")

    def admit(self, pipeline: PipelineRecord, slot: StageSlot) -> None:
        """Let waiting executions into ``slot``'s stage as far as its lock and transitions allow."""
        structure = pipeline.current
        index = structure.stage_index.get(slot.name)
        if index is None or self.entry_blocked(pipeline, structure.stages, index):
            return
        parallel = structure.execution_mode == MODE_PARALLEL
        while slot.waiting and (parallel or slot.lock is None):
            candidate = slot.waiting.popleft()
            if candidate.status != IN_PROGRESS or candidate.where != "waiting":
                continue
            stage = candidate.structure.stage(slot.name)
            if stage is not None:
                self.enter(candidate, stage)

    def entry_blocked(
        self, pipeline: PipelineRecord, structure_stages: tuple[StageDef, ...], index: int
    ) -> bool:
        """Whether a disabled transition stops executions from entering stage ``index``."""
        if not pipeline.slot(structure_stages[index].name).inbound.enabled:
            return True
        return index > 0 and not pipeline.slot(structure_stages[index - 1].name).outbound.enabled

    def enter(self, execution: Execution, stage: StageDef) -> None:
        """Lock the stage for ``execution`` (unless PARALLEL) and start a stage run and its first step."""
        pipeline = execution.pipeline
        slot = pipeline.slot(stage.name)
        if execution.mode != MODE_PARALLEL:
            slot.lock = execution
        if slot.inbound_shown is execution:
            slot.inbound_shown = None
        stage_run = StageRun(
            execution=execution, stage=stage, slot=slot, status=IN_PROGRESS, start=self.now()
        )
        execution.stage_runs[stage.name] = stage_run
        execution.current = stage_run
        execution.where = "stage"
        execution.position = stage.index
        execution.last_update = stage_run.start
        previous = slot.latest
        if previous is not None and previous.execution.where == "done":
            self.compact_stage_run(previous)  # no longer shown, nor retryable
        slot.latest = stage_run
        self._rt.events.stage(stage_run, "STARTED")
        if stage.before_entry:
            self._rt.conditions.start(
                stage_run, "beforeEntry", stage.before_entry, self._rt.conditions.before_entry_done
            )
        else:
            self.start_group(stage_run)

    def start_group(self, stage_run: StageRun) -> None:
        """Start every action of the stage run's current action group."""
        for action in stage_run.stage.groups[stage_run.group_index]:
            self._rt.actions.start(stage_run, action)

    def after_action(self, stage_run: StageRun) -> None:
        """Decide what a stage does next once an action (or a condition) has settled."""
        execution = stage_run.execution
        if execution.current is not stage_run or stage_run.status not in (IN_PROGRESS, STOPPING):
            return
        if stage_run.active_condition is not None:
            return
        group = stage_run.stage.groups[stage_run.group_index]
        runs = [stage_run.current.get(a.name) for a in group]
        if any(run is not None and run.status == IN_PROGRESS for run in runs):
            return  # siblings run to completion first
        if execution.stop_requested:
            self.finish_stop(stage_run)
        elif execution.cancel_requested:
            self.finish_cancel(stage_run)
        elif any(run is None or run.status != SUCCEEDED for run in runs):
            self.stage_failed(stage_run)  # an action failed, or never ran
        elif stage_run.group_index + 1 < len(stage_run.stage.groups):
            stage_run.group_index += 1
            self.start_group(stage_run)
        elif stage_run.stage.on_success:
            self._rt.conditions.start(
                stage_run, "onSuccess", stage_run.stage.on_success, self._rt.conditions.on_success_done
            )
        else:
            self.stage_succeeded(stage_run)

    def stage_succeeded(self, stage_run: StageRun) -> None:
        """Mark the stage run Succeeded and move its execution on to the next stage (or finish it)."""
        execution = stage_run.execution
        stage_run.status = SUCCEEDED
        self._rt.events.stage(stage_run, "SUCCEEDED")
        if stage_run.stage.name not in execution.succeeded_stages:
            execution.succeeded_stages += (stage_run.stage.name,)
        if execution.execution_type == TYPE_STANDARD:
            stage_run.slot.last_succeeded[execution.structure.version] = execution
        self.leave(stage_run)
        if execution.only_stage is not None:
            self.finish(execution, SUCCEEDED)
        else:
            self.arrive(execution, stage_run.stage.index + 1)

    def stage_failed(self, stage_run: StageRun) -> None:
        """Handle a failed stage: retry it once automatically, run its onFailure condition, or fail it."""
        execution = stage_run.execution
        on_failure = stage_run.stage.on_failure or {}
        retry = on_failure.get("retryConfiguration")
        if retry and stage_run.auto_retries < 1 and execution.execution_type == TYPE_STANDARD:
            # One automatic retry per stage run, before any rollback.
            stage_run.auto_retries += 1
            stage_run.latest_retry_trigger = "AutomatedStageRetry"
            stage_run.status = FAILED
            self._rt.events.stage(stage_run, "FAILED")
            self._rt.events.stage(stage_run, RESUMED)
            self.restart_stage(stage_run, retry.get("retryMode") or "FAILED_ACTIONS")
            return
        if on_failure.get("conditions"):

            def decided(condition: ConditionRun) -> None:
                """Fail the stage run once its onFailure condition has ended, asking for a rollback when the
                condition was met (succeeded or overridden) and its result is ROLLBACK.
                """
                met = condition.status in (SUCCEEDED, OVERRIDDEN)
                self.fail_stage(stage_run, rollback=met and condition.result == "ROLLBACK")

            self._rt.conditions.start(stage_run, "onFailure", on_failure, decided)
            return
        self.fail_stage(stage_run, rollback=on_failure.get("result") == "ROLLBACK")

    def fail_stage(self, stage_run: StageRun, *, rollback: bool) -> None:
        """Fail the stage run and its execution, then start a rollback when one is asked for and possible."""
        execution = stage_run.execution
        if execution.current is not stage_run:
            return
        stage_run.status = FAILED
        self._rt.events.stage(stage_run, "FAILED")
        self.leave(stage_run, admit=False)
        self.finish(execution, FAILED)
        # A failed rollback is not rolled back in turn: its target would fail the same way, for ever.
        if rollback and execution.mode != MODE_PARALLEL and execution.execution_type == TYPE_STANDARD:
            target = stage_run.slot.last_succeeded.get(execution.pipeline.current.version)
            if target is not None and target is not execution and stage_run.stage.index > 0:
                self.start(
                    execution.pipeline,
                    trigger_type="AutomatedRollback",
                    trigger_detail=execution.id,
                    template=target,
                    rollback_stage=stage_run.stage,
                )
        self.admit(execution.pipeline, stage_run.slot)

    def leave(self, stage_run: StageRun, *, admit: bool = True) -> None:
        """Release the stage lock of ``stage_run`` and, if ``admit``, let the next waiting execution in."""
        execution = stage_run.execution
        if stage_run.slot.lock is execution:
            stage_run.slot.lock = None
        if execution.current is stage_run:
            execution.current = None
        if admit:
            self.admit(execution.pipeline, stage_run.slot)

    def finish(self, execution: Execution, status: str, summary: str | None = None) -> None:
        """End ``execution`` with ``status`` and emit its final event."""
        execution.where = "done"
        execution.current = None
        self.set_status(execution, status, summary)
        for stage_run in execution.stage_runs.values():
            if stage_run.slot.latest is not stage_run:
                self.compact_stage_run(stage_run)
        self._rt.events.pipeline(execution, EVENT_STATE[status])

    def set_status(self, execution: Execution, status: str, summary: str | None = None) -> None:
        """Give ``execution`` a new ``status`` (and summary), keeping the pipeline's live set in step."""
        execution.status = status
        execution.last_update = self.now()
        if summary is not None:
            execution.status_summary = summary
        if status in LIVE_STATUSES:
            execution.pipeline.live[execution.id] = execution
        else:
            execution.pipeline.live.pop(execution.id, None)

    def restart_stage(self, stage_run: StageRun, retry_mode: str) -> None:
        """Run a failed or stopped stage again: its failed actions, or all of them from the first group."""
        stage_run.status = IN_PROGRESS
        if retry_mode == "ALL_ACTIONS":
            stage_run.group_index = 0
            stage_run.current = {}
            self.start_group(stage_run)
            return
        group = stage_run.stage.groups[stage_run.group_index]
        failed = [
            a
            for a in group
            if (run := stage_run.current.get(a.name)) is None or run.status in (FAILED, ABANDONED)
        ]
        for action in failed:
            self._rt.actions.start(stage_run, action)
        if not failed:
            self.after_action(stage_run)

    def retry(self, stage_run: StageRun, retry_mode: str) -> None:
        """RetryStageExecution after its checks passed: resume the same execution in that stage."""
        execution = stage_run.execution
        stage_run.manual_retries += 1
        stage_run.latest_retry_trigger = "ManualStageRetry"
        execution.attempt += 1
        if execution.status not in LIVE_STATUSES:
            execution.stop_requested = execution.stop_abandon = False
            execution.status_summary = None
            self.set_status(execution, IN_PROGRESS)
            self._rt.events.pipeline(execution, RESUMED)
            if execution.mode != MODE_PARALLEL:
                stage_run.slot.lock = execution
            execution.current = stage_run
            execution.where = "stage"
            execution.position = stage_run.stage.index
        self._rt.events.stage(stage_run, RESUMED)
        self.restart_stage(stage_run, retry_mode)

    def stop(self, execution: Execution, *, abandon: bool, reason: str | None) -> None:
        """StopPipelineExecution after its checks passed."""
        upgrading = execution.status == STOPPING
        execution.stop_requested = True
        execution.stop_abandon = abandon
        if reason is not None:
            execution.stop_reason = reason
        if not upgrading:
            self.set_status(execution, STOPPING)
            self._rt.events.pipeline(execution, "STOPPING")
        if execution.where == "waiting":
            slot = execution.pipeline.slot(execution.structure.stages[execution.position].name)
            if execution in slot.waiting:
                slot.waiting.remove(execution)
            slot.inbound_shown = execution  # shown as a Stopped inbound execution; never enters
            self.finish(execution, STOPPED)
            return
        stage_run = execution.current
        if stage_run is None:  # pragma: no cover - a live execution is always waiting or in a stage
            self.finish(execution, STOPPED)
            return
        if stage_run.status != STOPPING:
            stage_run.status = STOPPING
            self._rt.events.stage(stage_run, "STOPPING")
        self._rt.conditions.abandon_active(stage_run)
        if abandon:
            for run in list(stage_run.current.values()):
                if run.status == IN_PROGRESS:
                    self._rt.actions.abandon(run)
            self.finish_stop(stage_run)
        else:
            self.after_action(stage_run)

    def finish_stop(self, stage_run: StageRun) -> None:
        """Mark the stopping stage run and its execution Stopped and free the stage."""
        stage_run.status = STOPPED
        self._rt.events.stage(stage_run, "STOPPED")
        self.leave(stage_run, admit=False)
        self.finish(stage_run.execution, STOPPED)
        self.admit(stage_run.execution.pipeline, stage_run.slot)

    def finish_cancel(self, stage_run: StageRun) -> None:
        """Mark the stage run and its execution Cancelled by a pipeline update and free the stage."""
        stage_run.status = CANCELLED
        self._rt.events.stage(stage_run, "CANCELED")
        self.leave(stage_run, admit=False)
        self.finish(stage_run.execution, CANCELLED, UPDATE_SUMMARY)
        self.admit(stage_run.execution.pipeline, stage_run.slot)

    def cancel_for_update(self, pipeline: PipelineRecord) -> None:
        """UpdatePipeline: end every running execution once its running actions finish."""
        live = list(pipeline.live.values())
        # Waiting executions first, so a stage freed below never admits one of them.
        for execution in live:
            if execution.status == IN_PROGRESS and execution.where == "waiting":
                slot = pipeline.slot(execution.structure.stages[execution.position].name)
                if execution in slot.waiting:
                    slot.waiting.remove(execution)
                slot.inbound_shown = execution
                self.finish(execution, self.settings.waiting_status_on_update, UPDATE_SUMMARY)
        for execution in live:
            stage_run = execution.current
            if execution.status != IN_PROGRESS or stage_run is None:
                continue
            execution.cancel_requested = True
            self._rt.conditions.abandon_active(stage_run)
            for run in list(stage_run.current.values()):
                # Approval tokens die with the old definition; other running actions may finish.
                if run.status == IN_PROGRESS and run.action.kind == KIND_APPROVAL:
                    self._rt.actions.abandon(run)
            self.after_action(stage_run)

    def discard(self, pipeline: PipelineRecord) -> None:
        """DeletePipeline: silence every timer and job of the pipeline."""
        pipeline.deleted = True
        for execution in pipeline.live.values():
            stage_run = execution.current
            if stage_run is None:
                continue
            for run in stage_run.current.values():
                if run.timer is not None:
                    run.timer.cancel()
            self._rt.conditions.abandon_active(stage_run)
        for job_id in [
            job_id for job_id, job in self._rt.jobs.by_id.items() if job.run.execution.pipeline is pipeline
        ]:
            job = self._rt.jobs.by_id.pop(job_id)
            if job.timer is not None:
                job.timer.cancel()

    def resume_after_enable(
        self, pipeline: PipelineRecord, slot: StageSlot, disabled_since: float | None
    ) -> None:
        """EnableStageTransition: admit waiting executions, unless the transition was disabled too long."""
        if (
            disabled_since is not None
            and self.now() - disabled_since > self.settings.stale_transition_seconds
        ):
            while slot.waiting:
                stale = slot.waiting.popleft()
                if stale.status == IN_PROGRESS and stale.where == "waiting":
                    slot.inbound_shown = stale
                    self.finish(stale, CANCELLED, STALE_SUMMARY)
            return
        self.admit(pipeline, slot)

    def forget_old(self, pipeline: PipelineRecord) -> None:
        """Forget the completed executions beyond the retention settings: the oldest past the count, and
        those that started before the age limit.

        A forgotten execution answers as an unknown id does, and leaves ListPipelineExecutions and
        ListActionExecutions / ListRuleExecutions with its runs. Executions something still needs are kept
        whatever their age: live or waiting ones, and those GetPipelineState shows (a stage's latest run, an
        inbound execution, an action's latest run) or a failed stage would roll back to. A clean-up runs
        once 1% of the history (at least one execution) can go, so rebuilding the history lists costs O(1)
        per execution started.
        """
        order = pipeline.order
        limit = self.settings.execution_history_limit
        batch = max(1, min(limit, len(order)) // 100)
        horizon = self.now() - self.settings.execution_history_seconds
        # `order` is in start order, so the executions past the age limit are a prefix of it.
        candidates = max(len(order) - limit, bisect.bisect_left(order, horizon, key=_started))
        if candidates < batch:
            return
        kept = _needed(pipeline)
        forget = {
            id(execution): execution
            for execution in order[:candidates]
            if execution.where == "done"
            and execution.status not in LIVE_STATUSES
            and id(execution) not in kept
        }
        if len(forget) < batch:
            return
        forgotten_ids = {execution.id for execution in forget.values()}
        for execution in forget.values():
            del pipeline.executions[execution.id]
        pipeline.order = [execution for execution in order if id(execution) not in forget]
        pipeline.dropped_executions += len(order) - len(pipeline.order)
        actions = [run for run in pipeline.action_history if id(run.execution) not in forget]
        self.delete_artifacts(pipeline.action_history, forget, actions)
        pipeline.dropped_action_runs += len(pipeline.action_history) - len(actions)
        pipeline.action_history = actions
        rules = [
            rule for rule in pipeline.rule_history if id(rule.condition.stage_run.execution) not in forget
        ]
        pipeline.dropped_rule_runs += len(pipeline.rule_history) - len(rules)
        pipeline.rule_history = rules
        pipeline.approvals = {
            token: run for token, run in pipeline.approvals.items() if id(run.execution) not in forget
        }
        pipeline.client_tokens = {
            token: execution_id
            for token, execution_id in pipeline.client_tokens.items()
            if execution_id not in forgotten_ids
        }
        pipeline.seen_revisions = {
            key: execution_id
            for key, execution_id in pipeline.seen_revisions.items()
            if execution_id not in forgotten_ids
        }
        for job_id in [
            job_id for job_id, job in self._rt.jobs.by_id.items() if id(job.run.execution) in forget
        ]:
            del self._rt.jobs.by_id[job_id]
        logger.debug("%s: forgot %d completed executions (retention)", pipeline.name, len(forget))

    def delete_artifacts(
        self, runs: list[ActionRun], forget: Mapping[int, Execution], kept: list[ActionRun]
    ) -> None:
        """Delete the artifact objects the engines wrote for the forgotten executions' action runs.

        As a lifecycle rule on the artifact bucket would on AWS; without it a long-running engine would
        keep every artifact in moto's S3. An artifact a kept run still reads (a rollback re-runs stages on
        an older execution's source artifacts) stays.
        """
        locations = [
            _location(artifact)
            for run in runs
            if id(run.execution) in forget
            for artifact in run.output_artifacts
        ]
        if not locations:
            return
        in_use = {_location(artifact) for run in kept for artifact in run.input_artifacts}
        self.world.delete_written_objects(location for location in locations if location not in in_use)

    @staticmethod
    def compact_stage_run(stage_run: StageRun) -> None:
        """Let go of what only a stage's latest run of a live (or retryable) execution needs.

        The action runs stay in the execution's history, which the read APIs answer from; the per-action
        map of the stage's current runs and its condition map serve only the scheduler and GetPipelineState
        (which shows the latest stage run only).
        """
        # One shared read-only empty map instead of two emptied dicts each: a write would fail loudly.
        stage_run.current = _FORGOTTEN
        stage_run.conditions = _FORGOTTEN
        stage_run.active_condition = None


def _location(artifact: Artifact) -> tuple[str, str]:
    """The ``(bucket, key)`` of an action run's input or output artifact."""
    return artifact.bucket, artifact.key


def _started(execution: Execution) -> float:
    """An execution's start time: the key that bisects a pipeline's executions (kept in start order)."""
    return execution.start


def _needed(pipeline: PipelineRecord) -> set[int]:
    """Ids (``id()``) of the executions GetPipelineState shows or a stage would roll back to."""
    needed: set[int] = set()
    for slot in pipeline.slots.values():
        shown = [slot.lock, slot.inbound_shown, *slot.waiting, *slot.last_succeeded.values()]
        if slot.latest is not None:
            shown.append(slot.latest.execution)
        shown.extend(run.execution for run in slot.action_latest.values())
        needed.update(id(execution) for execution in shown if execution is not None)
    return needed
