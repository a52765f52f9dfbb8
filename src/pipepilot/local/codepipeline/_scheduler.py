"""The execution machine of the CodePipeline engine: stages, locks, actions, conditions, jobs, events.

Everything here runs under the clock's lock, either inside a request (called by
:class:`~pipepilot.local.codepipeline.CodePipelineEngine`) or inside a timer callback. Work that takes
time is a timer; nothing completes synchronously inside the call that started it, so a request never
re-enters the scheduler half-way through a state change. The one exception is user code: a Lambda
handler is called from an unlocked timer, outside the lock, so it may call the engine from any thread.
"""

from __future__ import annotations

import bisect
import functools
import json
import logging
import re
import time
from collections import deque
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from pipepilot.local._arns import partition_of
from pipepilot.local._artifacts import artifact_key, generated_archive, missing_bucket_message
from pipepilot.local._errors import ServiceError
from pipepilot.local.codepipeline._state import (
    ABANDONED,
    CANCELLED,
    FAILED,
    IN_PROGRESS,
    KIND_APPROVAL,
    KIND_CODEBUILD,
    KIND_CUSTOM,
    KIND_LAMBDA,
    KIND_SOURCE,
    LIVE_STATUSES,
    MODE_PARALLEL,
    MODE_SUPERSEDED,
    OVERRIDDEN,
    SKIPPED,
    STOPPED,
    STOPPING,
    SUCCEEDED,
    SUPERSEDED,
    TYPE_ROLLBACK,
    TYPE_STANDARD,
    ActionDef,
    ActionRun,
    ConditionRun,
    Execution,
    Job,
    Json,
    PipelineRecord,
    Revision,
    RuleRun,
    StageDef,
    StageRun,
    StageSlot,
    Structure,
    resolve_text,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pipepilot.local.clock import Timer
    from pipepilot.local.codepipeline._host import (
        ActionScriptView,
        CodePipelineSettings,
        EngineWorld,
        RuleScriptView,
    )

__all__ = ["LambdaContext", "Runtime"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: API status -> EventBridge ``detail.state`` (note the single-L CANCELED).
EVENT_STATE = {
    IN_PROGRESS: "STARTED",
    SUCCEEDED: "SUCCEEDED",
    FAILED: "FAILED",
    STOPPING: "STOPPING",
    STOPPED: "STOPPED",
    SUPERSEDED: "SUPERSEDED",
    CANCELLED: "CANCELED",
    ABANDONED: "ABANDONED",
}
RESUMED = "RESUMED"

PIPELINE_EVENT = "CodePipeline Pipeline Execution State Change"
STAGE_EVENT = "CodePipeline Stage Execution State Change"
ACTION_EVENT = "CodePipeline Action Execution State Change"

#: Seconds an unscripted action takes when the World's ``default_durations`` has no entry for it.
FALLBACK_DURATIONS = {
    "Source": 2.0,
    "Build": 120.0,
    "Test": 120.0,
    "Deploy": 120.0,
    "Invoke": 30.0,
    "Approval": 0.0,
    "Compute": 60.0,
}
_DEFAULT_FALLBACK = 60.0

#: ``summary`` of a deploy action that succeeded unscripted, for providers whose summary AWS documents.
_DEPLOY_SUMMARIES = {"CodeDeploy": "Deployment Succeeded", "CodeDeployToECS": "Deployment Succeeded"}

_GIT_PROVIDERS = frozenset({"CodeCommit", "CodeStarSourceConnection", "GitHub", "Bitbucket", "GitLab"})

JOB_TIMEOUT_MESSAGE = (
    "The action failed because a job worker exceeded its time limit. If this is a custom action, "
    "make sure that the job worker is configured correctly."
)
SCRIPTED_RULE_FAILURE = "The rule failed (scripted by pipepilot.local)."
UPDATE_SUMMARY = "Pipeline definition was updated before the pipeline execution could complete."
STALE_SUMMARY = "The stage transition stayed disabled for more than 30 days; start a new execution."


def iso_time(epoch: float) -> str:
    """EventBridge's ``time`` format (UTC, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class LambdaContext:
    """The ``context`` object a registered Lambda handler receives (the attributes handlers use)."""

    def __init__(
        self, *, function_name: str, request_id: str, arn: str, deadline: float, now: Callable[[], float]
    ):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = 128
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"offline/[$LATEST]{request_id.replace('-', '')}"
        self._deadline = deadline
        self._now = now

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds of (virtual) time left before the function's own timeout."""
        return max(0, int((self._deadline - self._now()) * 1000))


class Runtime:
    """Runs executions for every pipeline of one engine (one account and region)."""

    def __init__(self, world: EngineWorld, region: str, settings: CodePipelineSettings) -> None:
        self.world = world
        self.region = region
        self.settings = settings
        self.jobs: dict[str, Job] = {}
        self.job_queues: dict[tuple[str, str, str], deque[Job]] = {}
        self.custom_types: set[tuple[str, str, str]] = set()
        #: >0 while engine code runs (a request or a timer); requests arriving then skip ``run_due``.
        self.depth = 0
        #: Virtual now, frozen for the unit of work in progress (see :meth:`now`).
        self.time = world.clock.now()

    # -- plumbing ---------------------------------------------------------------------------------------

    def now(self) -> float:
        """Virtual now: fixed while engine work runs, the clock's otherwise.

        In real-time mode reading the clock catches it up, which runs due timers; doing that half-way
        through a state change would re-enter the scheduler, so engine work reads the time it started at.
        """
        return self.time if self.depth > 0 else self.world.clock.now()

    def serve(self, work: Callable[[], _T]) -> _T:
        """Run ``work`` (a request, or a scripting hook such as a pushed revision) as one unit of engine work.

        It runs under the clock's lock, after the timers that already fell due (so it sees the state of
        "now"), with :meth:`now` frozen for its duration. Due timers run before the lock is taken (they may
        call user handlers, which may call the engine from other threads). Work started from inside other
        engine work (a Lambda handler calling PutJobSuccessResult, a build finishing on a timer) runs no due
        timers: they must not run half-way through the outer work (the clock's ``run_due`` is a no-op inside
        a timer callback and under the lock).
        """
        clock = self.world.clock
        clock.run_due()
        with clock.lock:
            outer = self.enter()
            try:
                return work()
            finally:
                self.leave(outer)

    def enter(self) -> float:
        """Mark the start of a unit of engine work (a request or a callback); returns the outer time."""
        outer = self.time
        if self.depth == 0:
            self.time = self.world.clock.now()
        self.depth += 1
        return outer

    def leave(self, outer: float) -> None:
        """Mark the end of the unit of work :meth:`enter` started."""
        self.depth -= 1
        if self.depth > 0:
            self.time = outer

    def later(self, delay: float, callback: Callable[[], object]) -> Timer:
        """Run ``callback`` on the clock after ``delay`` seconds, marked as engine activity."""
        scheduled: list[Timer] = []

        def run() -> None:
            outer = self.time
            self.time = max(outer, scheduled[0].when) if self.depth > 0 else scheduled[0].when
            self.depth += 1
            try:
                callback()
            finally:
                self.depth -= 1
                if self.depth > 0:
                    self.time = outer

        timer = self.world.clock.call_later(delay, run)
        scheduled.append(timer)
        return timer

    def hex_id(self, length: int) -> str:
        """``length`` lowercase hex digits from the World's seeded generator."""
        digits = ""
        while len(digits) < length:
            digits += self.world.new_uuid().replace("-", "")
        return digits[:length]

    def _emit(self, pipeline: PipelineRecord, detail_type: str, detail: Json) -> None:
        self.world.put_event(
            {
                "version": "0",
                "id": self.world.new_uuid(),
                "detail-type": detail_type,
                "source": "aws.codepipeline",
                "account": self.world.account_id,
                "time": iso_time(self.now()),
                "region": self.region,
                "resources": [pipeline.arn],
                "detail": detail,
            }
        )

    def _pipeline_event(self, execution: Execution, state: str) -> None:
        detail: Json = {
            "pipeline": execution.pipeline.name,
            "execution-id": execution.id,
            "state": state,
            "version": float(execution.structure.version),
        }
        if state == "STARTED":
            trigger = {"trigger-type": execution.trigger_type}
            if execution.trigger_detail:
                trigger["trigger-detail"] = execution.trigger_detail
            detail["execution-trigger"] = trigger
        elif state == "STOPPING" and execution.stop_reason:
            detail["stop-execution-comments"] = execution.stop_reason
        if execution.attempt > 1:
            detail["pipeline-execution-attempt"] = float(execution.attempt)
        self._emit(execution.pipeline, PIPELINE_EVENT, detail)

    def _stage_event(self, stage_run: StageRun, state: str) -> None:
        execution = stage_run.execution
        self._emit(
            execution.pipeline,
            STAGE_EVENT,
            {
                "pipeline": execution.pipeline.name,
                "execution-id": execution.id,
                "stage": stage_run.stage.name,
                "state": state,
                "version": float(execution.structure.version),
            },
        )

    def _action_event(self, run: ActionRun, state: str) -> None:
        execution, action = run.execution, run.action
        detail: Json = {
            "pipeline": execution.pipeline.name,
            "execution-id": execution.id,
            "stage": action.stage,
            "action": action.name,
            "state": state,
            "region": action.region or self.region,
            "type": {
                "owner": action.owner,
                "category": action.category,
                "provider": action.provider,
                "version": action.version,
            },
            "version": float(execution.structure.version),
        }
        if state == "STARTED":
            detail["input-artifacts"] = [_event_artifact(a) for a in run.input_artifacts]
        else:
            if state == "SUCCEEDED":
                detail["output-artifacts"] = [_event_artifact(a) for a in run.output_artifacts]
            result: Json = {}
            if run.external_url:
                result["external-execution-url"] = run.external_url
            if run.summary:
                result["external-execution-summary"] = run.summary
            if run.external_id:
                result["external-execution-id"] = run.external_id
            if state == "FAILED" and run.error:
                result["error-code"] = run.error[0]
            if result:
                detail["execution-result"] = result
        self._emit(execution.pipeline, ACTION_EVENT, detail)

    def _set_status(self, execution: Execution, status: str, summary: str | None = None) -> None:
        execution.status = status
        execution.last_update = self.now()
        if summary is not None:
            execution.status_summary = summary
        if status in LIVE_STATUSES:
            execution.pipeline.live[execution.id] = execution
        else:
            execution.pipeline.live.pop(execution.id, None)

    # -- source revisions -------------------------------------------------------------------------------

    def new_revision(
        self,
        action: ActionDef,
        *,
        revision_id: str | None = None,
        summary: str | None = None,
        branch: str | None = None,
    ) -> Revision:
        """A revision for a source action: the given id or a fake one shaped like the provider's."""
        provider = action.provider
        if revision_id is None:
            if provider == "ECR":
                revision_id = "sha256:" + self.hex_id(64)
            elif provider == "S3":
                revision_id = self.hex_id(32)
            else:
                revision_id = self.hex_id(40)
        change_id = revision_id if provider in _GIT_PROVIDERS or provider == "ECR" else self.hex_id(32)
        branch = branch or action.configuration.get("BranchName")
        return Revision(
            revision_id=revision_id,
            change_id=change_id[:100],
            summary=summary if summary is not None else f"pipepilot offline revision {revision_id[:7]}",
            created=self.now(),
            branch=branch if provider in _GIT_PROVIDERS else None,
            url=self._revision_url(action, revision_id),
        )

    def _revision_url(self, action: ActionDef, revision_id: str) -> str | None:
        config = action.configuration
        if action.provider == "CodeCommit" and "RepositoryName" in config:
            return (
                f"https://{self.region}.console.aws.amazon.com/codesuite/codecommit/repositories/"
                f"{config['RepositoryName']}/commit/{revision_id}?region={self.region}"
            )
        repository = config.get("FullRepositoryId")
        if repository is None and "Owner" in config and "Repo" in config:
            repository = f"{config['Owner']}/{config['Repo']}"
        if repository is not None and action.provider in _GIT_PROVIDERS:
            return f"https://github.com/{repository}/commit/{revision_id}"
        return None

    def head(self, pipeline: PipelineRecord, action: ActionDef) -> Revision:
        """The newest known revision of a source action (invented on first use)."""
        revision = pipeline.source_heads.get(action.name)
        if revision is None:
            revision = pipeline.source_heads[action.name] = self.new_revision(action)
        return revision

    def _source_outputs(self, action: ActionDef, revision: Revision, execution: Execution) -> dict[str, str]:
        config = action.configuration
        created = iso_time(revision.created)
        provider = action.provider
        if provider == "CodeCommit":
            return {
                "AuthorDate": created,
                "BranchName": revision.branch or config.get("BranchName", ""),
                "CommitId": revision.revision_id,
                "CommitMessage": revision.summary or "",
                "CommitterDate": created,
                "RepositoryName": config.get("RepositoryName", ""),
            }
        if provider in ("CodeStarSourceConnection", "GitHub", "Bitbucket", "GitLab"):
            outputs = {
                "AuthorDate": created,
                "BranchName": revision.branch or config.get("BranchName", ""),
                "CommitId": revision.revision_id,
                "CommitMessage": revision.summary or "",
            }
            if provider == "CodeStarSourceConnection":
                outputs["ConnectionArn"] = config.get("ConnectionArn", "")
                outputs["FullRepositoryName"] = config.get("FullRepositoryId", "")
            else:
                outputs["CommitterDate"] = created
                outputs["CommitUrl"] = revision.url or ""
                outputs["RepositoryName"] = config.get("Repo", "")
            return outputs
        if provider == "S3":
            return {"ETag": revision.change_id, "VersionId": revision.revision_id}
        if provider == "ECR":
            repository = config.get("RepositoryName", "")
            tag = config.get("ImageTag", "latest")
            registry = self.world.account_id
            return {
                "ImageDigest": revision.revision_id,
                "ImageTag": tag,
                "ImageURI": f"{registry}.dkr.ecr.{self.region}.amazonaws.com/{repository}:{tag}",
                "RegistryId": registry,
                "RepositoryName": repository,
            }
        return {}

    # -- starting executions ----------------------------------------------------------------------------

    def start_execution(
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
        self.forget_old_executions(pipeline)
        structure = pipeline.current
        now = self.now()
        if template is not None:
            resolved_variables = dict(template.variables)
            chosen = dict(template.revisions)
        else:
            resolved_variables = {name: default or "" for name, default in structure.variables}
            resolved_variables.update(variables or {})
            given = revisions or {}
            chosen = {a.name: given.get(a.name) or self.head(pipeline, a) for a in structure.source_actions}
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
            execution.artifact_revisions = list(template.artifact_revisions)
        pipeline.executions[execution.id] = execution
        pipeline.order.append(execution)
        pipeline.live[execution.id] = execution
        self._pipeline_event(execution, "STARTED")
        if rollback_stage is not None:
            self._enter(execution, rollback_stage)
        else:
            self._arrive(execution, 0)
        return execution

    # -- history retention ------------------------------------------------------------------------------

    def forget_old_executions(self, pipeline: PipelineRecord) -> None:
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
        for job_id in [job_id for job_id, job in self.jobs.items() if id(job.run.execution) in forget]:
            del self.jobs[job_id]
        logger.debug("%s: forgot %d completed executions (retention)", pipeline.name, len(forget))

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

    # -- moving between stages --------------------------------------------------------------------------

    def entry_blocked(
        self, pipeline: PipelineRecord, structure_stages: tuple[StageDef, ...], index: int
    ) -> bool:
        """Whether a disabled transition stops executions from entering stage ``index``."""
        if not pipeline.slot(structure_stages[index].name).inbound.enabled:
            return True
        return index > 0 and not pipeline.slot(structure_stages[index - 1].name).outbound.enabled

    def _arrive(self, execution: Execution, index: int) -> None:
        stages = execution.structure.stages
        if index >= len(stages):
            self._finish_execution(execution, SUCCEEDED)
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
                self._enter(execution, stage)
                return
        elif not blocked and slot.lock is None and not slot.waiting:
            self._enter(execution, stage)
            return
        if execution.mode == MODE_SUPERSEDED:
            # S2/S3: one waiting slot; the newcomer supersedes whoever waits there.
            while slot.waiting:
                self._supersede(slot.waiting.popleft())
        slot.waiting.append(execution)
        slot.inbound_shown = execution

    def _supersede(self, execution: Execution) -> None:
        if execution.status != IN_PROGRESS or execution.where != "waiting":
            return
        execution.where = "done"
        self._set_status(execution, SUPERSEDED)
        self._pipeline_event(execution, "SUPERSEDED")

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
                self._enter(candidate, stage)

    def _enter(self, execution: Execution, stage: StageDef) -> None:
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
        self._stage_event(stage_run, "STARTED")
        if stage.before_entry:
            self._start_condition(stage_run, "beforeEntry", stage.before_entry, self._before_entry_done)
        else:
            self._start_group(stage_run)

    def _leave(self, stage_run: StageRun, *, admit: bool = True) -> None:
        execution = stage_run.execution
        if stage_run.slot.lock is execution:
            stage_run.slot.lock = None
        if execution.current is stage_run:
            execution.current = None
        if admit:
            self.admit(execution.pipeline, stage_run.slot)

    def _finish_execution(self, execution: Execution, status: str, summary: str | None = None) -> None:
        execution.where = "done"
        execution.current = None
        self._set_status(execution, status, summary)
        for stage_run in execution.stage_runs.values():
            if stage_run.slot.latest is not stage_run:
                self.compact_stage_run(stage_run)
        self._pipeline_event(execution, EVENT_STATE[status])

    # -- inside a stage ---------------------------------------------------------------------------------

    def _start_group(self, stage_run: StageRun) -> None:
        for action in stage_run.stage.groups[stage_run.group_index]:
            self._start_action(stage_run, action)

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
            return  # F1: siblings run to completion
        if execution.stop_requested:
            self._finish_stop(stage_run)
        elif execution.cancel_requested:
            self._finish_cancel(stage_run)
        elif any(run is None or run.status != SUCCEEDED for run in runs):
            self._stage_failed(stage_run)  # F2/F3
        elif stage_run.group_index + 1 < len(stage_run.stage.groups):
            stage_run.group_index += 1
            self._start_group(stage_run)
        elif stage_run.stage.on_success:
            self._start_condition(stage_run, "onSuccess", stage_run.stage.on_success, self._on_success_done)
        else:
            self._stage_succeeded(stage_run)

    def _stage_succeeded(self, stage_run: StageRun) -> None:
        execution = stage_run.execution
        stage_run.status = SUCCEEDED
        self._stage_event(stage_run, "SUCCEEDED")
        if stage_run.stage.name not in execution.succeeded_stages:
            execution.succeeded_stages += (stage_run.stage.name,)
        if execution.execution_type == TYPE_STANDARD:
            stage_run.slot.last_succeeded[execution.structure.version] = execution
        self._leave(stage_run)
        if execution.only_stage is not None:
            self._finish_execution(execution, SUCCEEDED)
        else:
            self._arrive(execution, stage_run.stage.index + 1)

    def _stage_failed(self, stage_run: StageRun) -> None:
        execution = stage_run.execution
        on_failure = stage_run.stage.on_failure or {}
        retry = on_failure.get("retryConfiguration")
        if retry and stage_run.auto_retries < 1 and execution.execution_type == TYPE_STANDARD:
            # F7: one automatic retry per stage run, before any rollback.
            stage_run.auto_retries += 1
            stage_run.latest_retry_trigger = "AutomatedStageRetry"
            stage_run.status = FAILED
            self._stage_event(stage_run, "FAILED")
            self._stage_event(stage_run, RESUMED)
            self.restart_stage(stage_run, retry.get("retryMode") or "FAILED_ACTIONS")
            return
        if on_failure.get("conditions"):

            def decided(condition: ConditionRun) -> None:
                met = condition.status in (SUCCEEDED, OVERRIDDEN)
                self._fail_stage(stage_run, rollback=met and condition.result == "ROLLBACK")

            self._start_condition(stage_run, "onFailure", on_failure, decided)
            return
        self._fail_stage(stage_run, rollback=on_failure.get("result") == "ROLLBACK")

    def _fail_stage(self, stage_run: StageRun, *, rollback: bool) -> None:
        execution = stage_run.execution
        if execution.current is not stage_run:
            return
        stage_run.status = FAILED
        self._stage_event(stage_run, "FAILED")
        self._leave(stage_run, admit=False)
        self._finish_execution(execution, FAILED)
        # A failed rollback is not rolled back in turn: its target would fail the same way, for ever.
        if rollback and execution.mode != MODE_PARALLEL and execution.execution_type == TYPE_STANDARD:
            target = stage_run.slot.last_succeeded.get(execution.pipeline.current.version)
            if target is not None and target is not execution and stage_run.stage.index > 0:
                self.start_execution(
                    execution.pipeline,
                    trigger_type="AutomatedRollback",
                    trigger_detail=execution.id,
                    template=target,
                    rollback_stage=stage_run.stage,
                )
        self.admit(execution.pipeline, stage_run.slot)

    def restart_stage(self, stage_run: StageRun, retry_mode: str) -> None:
        """Run a failed or stopped stage again: its failed actions, or all of them from the first group."""
        stage_run.status = IN_PROGRESS
        if retry_mode == "ALL_ACTIONS":
            stage_run.group_index = 0
            stage_run.current = {}
            self._start_group(stage_run)
            return
        group = stage_run.stage.groups[stage_run.group_index]
        failed = [
            a
            for a in group
            if (run := stage_run.current.get(a.name)) is None or run.status in (FAILED, ABANDONED)
        ]
        for action in failed:
            self._start_action(stage_run, action)
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
            self._set_status(execution, IN_PROGRESS)
            self._pipeline_event(execution, RESUMED)
            if execution.mode != MODE_PARALLEL:
                stage_run.slot.lock = execution
            execution.current = stage_run
            execution.where = "stage"
            execution.position = stage_run.stage.index
        self._stage_event(stage_run, RESUMED)
        self.restart_stage(stage_run, retry_mode)

    # -- stop, cancel, delete ---------------------------------------------------------------------------

    def stop(self, execution: Execution, *, abandon: bool, reason: str | None) -> None:
        """StopPipelineExecution after its checks passed."""
        upgrading = execution.status == STOPPING
        execution.stop_requested = True
        execution.stop_abandon = abandon
        if reason is not None:
            execution.stop_reason = reason
        if not upgrading:
            self._set_status(execution, STOPPING)
            self._pipeline_event(execution, "STOPPING")
        if execution.where == "waiting":
            slot = execution.pipeline.slot(execution.structure.stages[execution.position].name)
            if execution in slot.waiting:
                slot.waiting.remove(execution)
            slot.inbound_shown = execution  # T3: shown as a Stopped inbound execution; never enters
            self._finish_execution(execution, STOPPED)
            return
        stage_run = execution.current
        if stage_run is None:  # pragma: no cover - a live execution is always waiting or in a stage
            self._finish_execution(execution, STOPPED)
            return
        if stage_run.status != STOPPING:
            stage_run.status = STOPPING
            self._stage_event(stage_run, "STOPPING")
        self._abandon_condition(stage_run)
        if abandon:
            for run in list(stage_run.current.values()):
                if run.status == IN_PROGRESS:
                    self._abandon_run(run)
            self._finish_stop(stage_run)
        else:
            self.after_action(stage_run)

    def _finish_stop(self, stage_run: StageRun) -> None:
        stage_run.status = STOPPED
        self._stage_event(stage_run, "STOPPED")
        self._leave(stage_run, admit=False)
        self._finish_execution(stage_run.execution, STOPPED)
        self.admit(stage_run.execution.pipeline, stage_run.slot)

    def _finish_cancel(self, stage_run: StageRun) -> None:
        stage_run.status = CANCELLED
        self._stage_event(stage_run, "CANCELED")
        self._leave(stage_run, admit=False)
        self._finish_execution(stage_run.execution, CANCELLED, UPDATE_SUMMARY)
        self.admit(stage_run.execution.pipeline, stage_run.slot)

    def cancel_for_update(self, pipeline: PipelineRecord) -> None:
        """F6/T6: an UpdatePipeline ends every running execution once its running actions finish."""
        live = list(pipeline.live.values())
        # Waiting executions first, so a stage freed below never admits one of them.
        for execution in live:
            if execution.status == IN_PROGRESS and execution.where == "waiting":
                slot = pipeline.slot(execution.structure.stages[execution.position].name)
                if execution in slot.waiting:
                    slot.waiting.remove(execution)
                slot.inbound_shown = execution
                self._finish_execution(execution, self.settings.waiting_status_on_update, UPDATE_SUMMARY)
        for execution in live:
            stage_run = execution.current
            if execution.status != IN_PROGRESS or stage_run is None:
                continue
            execution.cancel_requested = True
            self._abandon_condition(stage_run)
            for run in list(stage_run.current.values()):
                # Approval tokens die with the old definition; other running actions may finish.
                if run.status == IN_PROGRESS and run.action.kind == KIND_APPROVAL:
                    self._abandon_run(run)
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
            self._abandon_condition(stage_run)
        for job_id in [job_id for job_id, job in self.jobs.items() if job.run.execution.pipeline is pipeline]:
            job = self.jobs.pop(job_id)
            if job.timer is not None:
                job.timer.cancel()

    def _abandon_run(self, run: ActionRun) -> None:
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        if run.job is not None:
            self._end_job(run.job, FAILED)
        if run.token_state == "pending":
            run.token_state = "void"
        run.status = ABANDONED
        run.last_change = self.now()
        self._action_event(run, "ABANDONED")

    def _abandon_condition(self, stage_run: StageRun) -> None:
        condition = stage_run.active_condition
        if condition is None:
            return
        stage_run.active_condition = None
        self._end_condition(condition, ABANDONED)

    def _end_condition(self, condition: ConditionRun, status: str) -> None:
        """Give a condition its final ``status``, abandoning the rules still being evaluated."""
        now = self.now()
        for rule in condition.rules:
            if rule.status == IN_PROGRESS:
                if rule.timer is not None:
                    rule.timer.cancel()
                rule.status = ABANDONED
                rule.last_change = now
        condition.status = status
        condition.last_change = now

    # -- actions ----------------------------------------------------------------------------------------

    def variable_lookup(self, execution: Execution) -> dict[str, dict[str, str]]:
        """Namespaces visible to ``#{...}`` references in this execution."""
        lookup = dict(execution.namespaces)
        lookup["variables"] = execution.variables
        lookup["codepipeline"] = {"PipelineExecutionId": execution.id}
        return lookup

    def _artifact_location(self, execution: Execution, action: ActionDef, artifact: str) -> Json:
        bucket = execution.structure.artifact_bucket(action.region or self.region)
        # One draw from the seeded ids, as ever: seeded runs keep every later id.
        randomness = int(self.world.new_uuid().replace("-", ""), 16)
        return {"bucket": bucket, "key": artifact_key(execution.pipeline.name, artifact, randomness)}

    def _artifact_kms_key(self, run: ActionRun) -> str | None:
        key = run.execution.structure.encryption_key(run.action.region or self.region)
        return str(key["id"]) if key and key.get("id") else None

    def _store_outputs(self, run: ActionRun, content: Callable[[str], bytes]) -> tuple[str, str] | None:
        """Write each output artifact of ``run`` (``content(name)``) to the artifact store.

        Returns the error to fail the action with when the store's bucket does not exist, else None.
        """
        kms_key_id = self._artifact_kms_key(run)
        for artifact in run.output_artifacts:
            location = artifact["s3location"]
            body = content(artifact["name"])
            if not self.world.write_object(location["bucket"], location["key"], body, kms_key_id=kms_key_id):
                return ("JobFailed", missing_bucket_message(artifact["name"], location["bucket"]))
        return None

    def _generated_output(self, run: ActionRun) -> Callable[[str], bytes]:
        """Stand-in content for the outputs of an action that produces no files of its own offline."""
        action, execution = run.action, run.execution

        def content(artifact: str) -> bytes:
            return generated_archive(
                f"# {artifact}\n\nOutput artifact of action {action.stage}/{action.name} "
                f"({action.category}/{action.provider}) in pipeline {execution.pipeline.name}.",
                {
                    "pipelineName": execution.pipeline.name,
                    "pipelineExecutionId": execution.id,
                    "stageName": action.stage,
                    "actionName": action.name,
                    "artifactName": artifact,
                    "externalExecutionId": run.external_id,
                },
            )

        return content

    def _source_output(self, run: ActionRun, revision: Revision) -> Callable[[str], bytes]:
        """A source action's output: the S3 source object itself, else an archive naming the revision."""
        action = run.action
        config = run.resolved_configuration
        if action.provider == "S3" and config.get("S3Bucket") and config.get("S3ObjectKey"):
            found = self.world.read_object(config["S3Bucket"], config["S3ObjectKey"])
            if found is not None:
                return lambda artifact: found
        repository = config.get("FullRepositoryId") or config.get("RepositoryName") or config.get("Repo")
        title = f"# {repository or action.provider} at {revision.revision_id}"
        details = {
            "provider": action.provider,
            "repository": repository,
            "branch": revision.branch,
            "revisionId": revision.revision_id,
            "revisionSummary": revision.summary,
            "revisionUrl": revision.url,
        }
        archive = generated_archive(title, details)
        return lambda artifact: archive

    def _duration(self, action: ActionDef, script: ActionScriptView | None) -> float:
        if script is not None and script.duration is not None:
            return float(script.duration)
        durations = self.world.default_durations
        for key in (f"{action.category}:{action.provider}", action.provider, action.category, "default"):
            if key in durations:
                return float(durations[key])
        return FALLBACK_DURATIONS.get(action.category, _DEFAULT_FALLBACK)

    def _start_action(self, stage_run: StageRun, action: ActionDef) -> None:
        execution = stage_run.execution
        pipeline = execution.pipeline
        now = self.now()
        lookup = self.variable_lookup(execution)
        resolved: dict[str, str] = {}
        missing: list[str] = []
        for key, value in action.configuration.items():
            resolved[key], unresolved = resolve_text(value, lookup)
            missing.extend(unresolved)
        if all(resolved[key] is value for key, value in action.configuration.items()):
            resolved = action.configuration  # nothing to resolve: share the (never mutated) declaration's
        run = ActionRun(
            id=self.world.new_uuid(),
            execution=execution,
            stage_run=stage_run,
            action=action,
            status=IN_PROGRESS,
            start=now,
            last_change=now,
            resolved_configuration=resolved,
            input_artifacts=[
                {
                    "name": name,
                    "s3location": execution.artifacts.get(name)
                    or self._artifact_location(execution, action, name),
                }
                for name in action.input_artifacts
            ],
            output_artifacts=[
                {"name": name, "s3location": self._artifact_location(execution, action, name)}
                for name in action.output_artifacts
            ],
        )
        stage_run.current[action.name] = run
        stage_run.slot.action_latest[action.name] = run
        execution.action_runs.append(run)
        pipeline.action_history.append(run)
        execution.last_update = now
        self._action_event(run, "STARTED")
        if missing:
            message = "Unable to resolve the variable(s) " + ", ".join(f"#{{{m}}}" for m in missing)
            run.timer = self.later(0, lambda: self.finish(run, FAILED, error=("ConfigurationError", message)))
            return
        script = self.world.scripts.action_outcome(pipeline.name, action.stage, action.name)
        kind = action.kind
        if kind == KIND_APPROVAL:
            self._start_approval(run, script)
        elif script is not None:
            run.external_url = self._deploy_url(action, None, resolved)
            run.timer = self.later(self._duration(action, script), lambda: self._finish_scripted(run, script))
        elif kind == KIND_SOURCE:
            run.timer = self.later(self._duration(action, None), lambda: self._finish_source(run))
        elif kind == KIND_LAMBDA:
            self._new_job(run, lambda_function=resolved.get("FunctionName", ""))
        elif kind == KIND_CODEBUILD:
            self._start_build(run)
        elif kind == KIND_CUSTOM:
            self._new_job(run, lambda_function=None)
        else:
            if action.provider == "CodeDeploy" or action.provider == "CodeDeployToECS":
                run.external_id = "d-" + self.hex_id(9).upper()
            run.external_url = self._deploy_url(action, run.external_id, resolved)
            run.timer = self.later(self._duration(action, None), lambda: self._finish_scripted(run, None))

    def _deploy_url(
        self, action: ActionDef, external_id: str | None, config: Mapping[str, str]
    ) -> str | None:
        """The console page of what a deploy action does (its ``externalExecutionUrl``), where one exists."""
        if action.category != "Deploy":
            return None
        region = action.region or self.region
        provider = action.provider
        if provider in ("CodeDeploy", "CodeDeployToECS") and external_id:
            return (
                f"https://console.aws.amazon.com/codedeploy/home?region={region}#/deployments/{external_id}"
            )
        if provider == "CloudFormation" and config.get("StackName"):
            return (
                f"https://console.aws.amazon.com/cloudformation/home?region={region}"
                f"#/stacks/stackinfo?stackId={config['StackName']}"
            )
        if provider == "ECS" and config.get("ClusterName") and config.get("ServiceName"):
            return (
                f"https://console.aws.amazon.com/ecs/v2/clusters/{config['ClusterName']}/services/"
                f"{config['ServiceName']}/deployments?region={region}"
            )
        if provider == "S3" and config.get("BucketName"):
            return f"https://s3.console.aws.amazon.com/s3/buckets/{config['BucketName']}?region={region}"
        return None

    def finish(
        self,
        run: ActionRun,
        status: str,
        *,
        summary: str | None = None,
        error: tuple[str, str] | None = None,
        external_id: str | None = None,
        output_variables: Mapping[str, str] | None = None,
        updated_by: str | None = None,
    ) -> None:
        """End an action run with ``status`` and let its stage move on."""
        if run.status != IN_PROGRESS or run.execution.pipeline.deleted:
            return
        execution = run.execution
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        if run.token_state == "pending":
            run.token_state = "void"
        now = self.now()
        run.status = status
        run.last_change = now
        if summary is not None:
            run.summary = summary
        if external_id is not None:
            run.external_id = external_id
        if updated_by is not None:
            run.updated_by = updated_by
        if error is not None:
            run.error = error
        if status == SUCCEEDED:
            outputs = dict(output_variables or {})
            run.output_variables = outputs or None  # most actions publish none: no empty dict per run
            if run.revision is not None:
                execution.pipeline.source_current[run.action.name] = run.revision
            if run.action.namespace:
                execution.namespaces[run.action.namespace] = outputs
            for artifact in run.output_artifacts:
                execution.artifacts[artifact["name"]] = artifact["s3location"]
        execution.last_update = now
        self._action_event(run, EVENT_STATE[status])
        self.after_action(run.stage_run)

    def _finish_scripted(self, run: ActionRun, script: ActionScriptView | None) -> None:
        if script is not None and script.outcome != SUCCEEDED:
            self.finish(
                run,
                FAILED,
                summary=script.summary,
                error=(script.error_code or "JobFailed", script.error_message or "Action failed (scripted)"),
                external_id=script.external_execution_id,
            )
            return
        if run.action.kind == KIND_SOURCE:
            self._finish_source(run, script)
            return
        external_id = script.external_execution_id if script else None
        if external_id is not None:
            run.external_id = external_id
            # A scripted deployment id links to its deployment, as an unscripted one does.
            run.external_url = self._deploy_url(run.action, external_id, run.resolved_configuration)
        failure = self._store_outputs(run, self._generated_output(run))
        if failure is not None:
            self.finish(run, FAILED, error=failure)
            return
        self.finish(
            run,
            SUCCEEDED,
            summary=(script.summary if script else None) or _DEPLOY_SUMMARIES.get(run.action.provider),
            external_id=external_id,
            output_variables=script.output_variables if script else None,
        )

    def _finish_source(self, run: ActionRun, script: ActionScriptView | None = None) -> None:
        if run.status != IN_PROGRESS:
            return
        execution = run.execution
        revision = execution.revisions.get(run.action.name) or self.head(execution.pipeline, run.action)
        run.revision = revision
        outputs = self._source_outputs(run.action, revision, execution)
        if script is not None and script.output_variables:
            outputs.update(script.output_variables)
        failure = self._store_outputs(run, self._source_output(run, revision))
        if failure is not None:
            self.finish(run, FAILED, error=failure)
            return
        for artifact in run.action.output_artifacts:
            entry = {
                "name": artifact,
                "revisionId": revision.revision_id,
                "revisionChangeIdentifier": revision.change_id,
                "revisionSummary": revision.summary,
                "created": revision.created,
                "revisionUrl": revision.url,
            }
            # Absent members are left out of the answer anyway; storing fewer keeps the dict smaller.
            execution.artifact_revisions.append(
                {key: value for key, value in entry.items() if value is not None}
            )
        run.external_url = revision.url
        self.finish(
            run,
            SUCCEEDED,
            summary=(script.summary if script and script.summary else revision.summary),
            external_id=(script.external_execution_id if script else None) or revision.revision_id,
            output_variables=outputs,
        )

    # -- manual approvals ------------------------------------------------------------------------------

    def _start_approval(self, run: ActionRun, script: ActionScriptView | None) -> None:
        execution = run.execution
        token = self.world.new_uuid()
        run.token = token
        run.token_state = "pending"
        execution.pipeline.approvals[token] = run
        if execution.mode == MODE_PARALLEL:
            run.external_id = token  # P2: the only place a PARALLEL approval's token shows
        timeout = (
            run.action.timeout_minutes * 60.0
            if run.action.timeout_minutes
            else self.settings.approval_timeout_seconds
        )
        topic = run.resolved_configuration.get("NotificationArn")
        if topic:
            self._notify_approval(run, topic, timeout)
        if script is not None:
            run.timer = self.later(
                self._duration(run.action, script), lambda: self._scripted_approval(run, script)
            )
        else:
            run.timer = self.later(timeout, lambda: self._expire_approval(run))

    def _notify_approval(self, run: ActionRun, topic: str, timeout: float) -> None:
        pipeline = run.execution.pipeline.name
        stage, action = run.action.stage, run.action.name
        config = run.resolved_configuration
        # The console's current address (AWS's own notifications moved to it from ``home#/view/...``).
        console = f"https://console.aws.amazon.com/codesuite/codepipeline/pipelines/{pipeline}/view?region={self.region}"
        # Every key is always sent: an unset link or comment is null, as AWS sends it (bots index them).
        approval: Json = {
            "pipelineName": pipeline,
            "stageName": stage,
            "actionName": action,
            "token": run.token,
            "expires": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(run.start + timeout)),
            "externalEntityLink": config.get("ExternalEntityLink") or None,
            "approvalReviewLink": f"{console}#/{stage}/{action}/approve/{run.token}",
            "customData": config.get("CustomData") or None,
        }
        message = json.dumps({"region": self.region, "consoleLink": console, "approval": approval})
        subject = f"APPROVAL NEEDED: AWS CodePipeline {pipeline} for action {action}"
        try:
            self.world.publish_sns(topic, message, subject[:100])
        except Exception:
            # AWS keeps the approval pending when the notification cannot be delivered.
            logger.warning("approval notification to %s failed", topic, exc_info=True)

    def answer_approval(self, run: ActionRun, status: str, summary: str) -> None:
        """PutApprovalResult after its checks passed."""
        run.token_state = "answered"
        by = self.world.caller_arn
        if status == "Approved":
            self.finish(run, SUCCEEDED, summary=summary, updated_by=by)
        else:
            message = f"Approval rejected: {summary}" if summary else "Approval rejected"
            self.finish(run, FAILED, summary=summary, updated_by=by, error=("JobFailed", message))

    def _scripted_approval(self, run: ActionRun, script: ActionScriptView) -> None:
        if run.status != IN_PROGRESS:
            return
        run.token_state = "answered"
        by = self.world.caller_arn
        if script.outcome == SUCCEEDED:
            self.finish(run, SUCCEEDED, summary=script.summary, updated_by=by)
        else:
            error = (script.error_code or "JobFailed", script.error_message or "Approval rejected")
            self.finish(run, FAILED, summary=script.summary, updated_by=by, error=error)

    def _expire_approval(self, run: ActionRun) -> None:
        run.timer = None
        self.finish(run, FAILED, error=("JobFailed", "The approval request timed out and was not answered."))

    # -- CodeBuild actions ------------------------------------------------------------------------------

    def _start_build(self, run: ActionRun) -> None:
        action = run.action
        config = run.resolved_configuration
        region = action.region or self.region
        try:
            environment = _environment_variables(config.get("EnvironmentVariables"))
        except ValueError as exc:
            message = f"Invalid EnvironmentVariables configuration: {exc}"
            run.timer = self.later(0, lambda: self.finish(run, FAILED, error=("ConfigurationError", message)))
            return
        primary = config.get("PrimarySource") or (
            action.input_artifacts[0] if action.input_artifacts else None
        )
        source_version = None
        for artifact in run.input_artifacts:
            if artifact["name"] == primary:
                location = artifact["s3location"]
                source_version = f"arn:{partition_of(region)}:s3:::{location['bucket']}/{location['key']}"
        try:
            build = self.world.codebuild(region).start_pipeline_build(
                config.get("ProjectName", ""),
                pipeline_name=run.execution.pipeline.name,
                source_version=source_version,
                environment_variables_override=environment,
                output_artifacts=[
                    {"name": a["name"], "bucket": a["s3location"]["bucket"], "key": a["s3location"]["key"]}
                    for a in run.output_artifacts
                ],
                artifact_kms_key_id=self._artifact_kms_key(run),
                # CodeBuild calls back from its own timer: run it as engine work like any other.
                on_complete=lambda build: self.serve(lambda: self._build_done(run, build)),
            )
        except ServiceError as err:
            message = (
                f"Error calling startBuild: {err.message} (Service: AWSCodeBuild; Status Code: {err.status}; "
                f"Error Code: {err.code}; Request ID: {self.world.new_uuid()}; Proxy: null)"
            )
            run.timer = self.later(0, lambda: self.finish(run, FAILED, error=("JobFailed", message)))
            return
        build_id = str(build.get("id", ""))
        if run.external_id is None:
            run.external_id = build_id
        run.external_url = (
            f"https://console.aws.amazon.com/codebuild/home?region={region}#/builds/{build_id}/view/new"
        )

    def _build_done(self, run: ActionRun, build: Mapping[str, Any]) -> None:
        status = str(build.get("buildStatus", "FAILED"))
        run.external_id = str(build.get("id") or run.external_id or "")
        if status == "SUCCEEDED":
            variables = {
                str(v["name"]): str(v.get("value", ""))
                for v in build.get("exportedEnvironmentVariables") or ()
            }
            self.finish(run, SUCCEEDED, output_variables=variables)
        else:
            self.finish(run, FAILED, error=("JobFailed", f"Build terminated with state: {status}"))

    # -- jobs: Lambda invoke and custom actions ---------------------------------------------------------

    def register_custom_types(self, structure: Structure) -> None:
        """Remember the custom action types a pipeline version uses (PollForJobs accepts only those)."""
        for stage in structure.stages:
            for action in stage.actions:
                if action.owner == "Custom":
                    self.custom_types.add((action.category, action.provider, action.version))

    def _credentials(self) -> dict[str, str]:
        return {
            "accessKeyId": "ASIA" + self.hex_id(16).upper(),
            "secretAccessKey": self.hex_id(40),
            "sessionToken": self.hex_id(120),
        }

    def _new_job(
        self, run: ActionRun, *, lambda_function: str | None, continuation: str | None = None
    ) -> Job:
        now = self.now()
        job = Job(
            id=self.world.new_uuid(),
            nonce=self.world.new_uuid(),
            run=run,
            status="InProgress" if lambda_function is not None else "Queued",
            created=now,
            lambda_function=lambda_function,
            continuation_token=continuation,
            credentials=self._credentials(),
        )
        self.jobs[job.id] = job
        run.job = job
        if lambda_function is not None:
            remaining = run.start + self.settings.lambda_action_timeout_seconds - now
            window = max(0.0, min(self.settings.lambda_job_timeout_seconds, remaining))
            job.timer = self.later(window, lambda: self._job_timed_out(job))
            # Unlocked: the handler is user code, which may call the engine from other threads.
            self.world.clock.call_later(0.0, lambda: self._invoke_lambda(job), locked=False)
        else:
            action = run.action
            key = (action.category, action.provider, action.version)
            self.job_queues.setdefault(key, deque()).append(job)
            job.timer = self.later(self.settings.custom_job_timeout_seconds, lambda: self._job_timed_out(job))
        return job

    def job_data(self, job: Job, *, for_lambda: bool) -> Json:
        """``JobData`` (GetJobDetails / PollForJobs), or the ``data`` of a Lambda event."""
        run = job.run
        action = run.action
        execution = run.execution
        data: Json = {}
        if not for_lambda:
            data["actionTypeId"] = action.type_id()
        data["actionConfiguration"] = {"configuration": dict(run.resolved_configuration)}
        if not for_lambda:
            data["pipelineContext"] = {
                "pipelineName": execution.pipeline.name,
                "stage": {"name": action.stage},
                "action": {"name": action.name, "actionExecutionId": run.id},
                "pipelineArn": execution.pipeline.arn,
                "pipelineExecutionId": execution.id,
            }
        revisions = {r["name"]: r["revisionId"] for r in execution.artifact_revisions}
        data["inputArtifacts"] = [_job_artifact(a, revisions.get(a["name"])) for a in run.input_artifacts]
        data["outputArtifacts"] = [_job_artifact(a, None) for a in run.output_artifacts]
        data["artifactCredentials"] = dict(job.credentials)
        if job.continuation_token is not None:
            data["continuationToken"] = job.continuation_token
        key = execution.structure.encryption_key(action.region or self.region)
        if key is not None:
            data["encryptionKey"] = key
        return data

    def _invoke_lambda(self, job: Job) -> None:
        """Call the job's Lambda handler: the event is built under the engine's lock, the handler runs outside it."""
        call = self.serve(lambda: self._lambda_call(job))
        if call is None:
            return
        handler, event, context = call
        name = context.function_name
        try:
            handler(event, context)
        except Exception as exc:
            logger.warning("Lambda handler for %s raised %s", name, type(exc).__name__, exc_info=True)
            if self.settings.lambda_errors_fail_action:
                message = f"Lambda function {name} raised {type(exc).__name__}: {exc}"
                self.serve(lambda: self._fail_raised(job, message))

    def _fail_raised(self, job: Job, message: str) -> None:
        if job.status == "InProgress":
            self.job_failure(job, "JobFailed", message)

    def _lambda_call(self, job: Job) -> tuple[Callable[..., object], Json, LambdaContext] | None:
        """The handler, event and context of a job's invocation, or None when there is nothing to invoke."""
        if job.status != "InProgress" or job.run.status != IN_PROGRESS or job.lambda_function is None:
            return None
        if job.run.execution.pipeline.deleted:
            return None
        function = job.lambda_function
        handler = self.world.lambda_handler(function)
        if handler is None:
            logger.info("no handler registered for Lambda %s; job waits for its timeout", function)
            return None
        event: Json = {
            "CodePipeline.job": {
                "id": job.id,
                "accountId": self.world.account_id,
                "data": self.job_data(job, for_lambda=True),
            }
        }
        name = function.rsplit(":function:", 1)[-1].split(":")[0]
        context = LambdaContext(
            function_name=name,
            request_id=self.world.new_uuid(),
            arn=f"arn:{partition_of(self.region)}:lambda:{self.region}:{self.world.account_id}:function:{name}",
            deadline=self.now() + 900.0,
            # The clock's, not the runtime's frozen now: the handler runs outside engine work.
            now=self.world.clock.now,
        )
        return handler, event, context

    def _job_timed_out(self, job: Job) -> None:
        job.timer = None
        if job.status in ("Succeeded", "Failed", "TimedOut"):
            return
        job.status = "TimedOut"
        self.finish(job.run, FAILED, error=("JobFailed", JOB_TIMEOUT_MESSAGE))

    def _end_job(self, job: Job, status: str) -> None:
        job.status = status
        if job.timer is not None:
            job.timer.cancel()
            job.timer = None

    def job_success(
        self,
        job: Job,
        *,
        continuation_token: str | None,
        details: Mapping[str, Any] | None,
        output_variables: Mapping[str, str] | None,
        current_revision: Mapping[str, Any] | None,
    ) -> None:
        """PutJobSuccessResult after its checks passed."""
        run = job.run
        self._end_job(job, "Succeeded")
        if details:
            if details.get("summary") is not None:
                run.summary = str(details["summary"])
            if details.get("externalExecutionId") is not None:
                run.external_id = str(details["externalExecutionId"])
            if details.get("percentComplete") is not None:
                run.percent_complete = int(details["percentComplete"])
        if continuation_token is not None:
            run.last_change = self.now()
            self._new_job(run, lambda_function=job.lambda_function, continuation=continuation_token)
            return
        if current_revision and run.action.kind == KIND_SOURCE:
            run.revision = Revision(
                revision_id=str(current_revision["revision"]),
                change_id=str(current_revision["changeIdentifier"]),
                summary=current_revision.get("revisionSummary"),
                created=float(current_revision.get("created") or self.now()),
            )
        self.finish(run, SUCCEEDED, output_variables=output_variables or {})

    def job_failure(self, job: Job, failure_type: str, message: str, external_id: str | None = None) -> None:
        """PutJobFailureResult after its checks passed (also used for handlers that raise)."""
        self._end_job(job, "Failed")
        self.finish(job.run, FAILED, error=(failure_type, message), external_id=external_id)

    def poll_jobs(self, key: tuple[str, str, str], max_batch: int, query: Mapping[str, str]) -> list[Job]:
        """Hand out queued jobs of a custom action type (marks them Dispatched)."""
        queue = self.job_queues.get(key)
        if not queue:
            return []
        handed: list[Job] = []
        kept: deque[Job] = deque()
        while queue:
            job = queue.popleft()
            if job.status != "Queued" or job.run.status != IN_PROGRESS or job.id not in self.jobs:
                continue  # finished, abandoned or deleted: drop it from the queue
            config = job.run.resolved_configuration
            if len(handed) < max_batch and all(config.get(k) == v for k, v in query.items()):
                job.status = "Dispatched"
                handed.append(job)
            else:
                kept.append(job)
        self.job_queues[key] = kept
        return handed

    # -- stage conditions --------------------------------------------------------------------------------

    def _start_condition(
        self, stage_run: StageRun, kind: str, block: Json, callback: Callable[[ConditionRun], None]
    ) -> None:
        execution = stage_run.execution
        conditions = block.get("conditions") or [{}]
        declared = conditions[0]
        now = self.now()
        condition = ConditionRun(
            kind=kind,
            result=declared.get("result") or block.get("result"),
            stage_run=stage_run,
            status=IN_PROGRESS,
            last_change=now,
            callback=callback,
        )
        stage_run.conditions[kind] = condition
        stage_run.active_condition = condition
        scripts = self.world.scripts
        for rule in declared.get("rules") or ():
            script = scripts.rule_outcome(execution.pipeline.name, stage_run.stage.name, rule["name"])
            rule_run = RuleRun(
                id=self.world.new_uuid(),
                name=rule["name"],
                declaration=rule,
                condition=condition,
                status=IN_PROGRESS,
                start=now,
                last_change=now,
            )
            condition.rules.append(rule_run)
            execution.rule_runs.append(rule_run)
            execution.pipeline.rule_history.append(rule_run)
            provider = (rule.get("ruleTypeId") or {}).get("provider", "")
            delay = (
                float(script.duration)
                if script is not None and script.duration is not None
                else float(self.world.default_durations.get(f"Rule:{provider}", 0.0))
            )
            rule_run.timer = self.later(delay, functools.partial(self._evaluate_rule, rule_run, script))
        if not condition.rules:
            self.later(0, lambda: self._condition_settled(condition))

    def _evaluate_rule(self, rule_run: RuleRun, script: RuleScriptView | None) -> None:
        if rule_run.status != IN_PROGRESS:
            return
        rule_run.timer = None
        execution = rule_run.condition.stage_run.execution
        lookup = self.variable_lookup(execution)
        config = rule_run.declaration.get("configuration") or {}
        missing: list[str] = []
        for key, value in config.items():
            rule_run.resolved_configuration[key], unresolved = resolve_text(str(value), lookup)
            missing.extend(unresolved)
        provider = (rule_run.declaration.get("ruleTypeId") or {}).get("provider", "")
        if script is not None:
            passed = script.outcome == SUCCEEDED
            rule_run.summary = script.summary
            if not passed:
                rule_run.error = ("RuleFailed", script.summary or SCRIPTED_RULE_FAILURE)
        elif missing:
            passed = False
            rule_run.error = (
                "ConfigurationError",
                "Unable to resolve " + ", ".join(f"#{{{m}}}" for m in missing),
            )
        elif provider == "VariableCheck":
            passed = _variable_check(rule_run.resolved_configuration)
            rule_run.summary = "Variable check passed" if passed else "Variable check failed"
            if not passed:
                rule_run.error = ("RuleFailed", rule_run.summary)
        else:
            passed = True
        rule_run.status = SUCCEEDED if passed else FAILED
        rule_run.last_change = self.now()
        if all(r.status != IN_PROGRESS for r in rule_run.condition.rules):
            self._condition_settled(rule_run.condition)

    def _condition_settled(self, condition: ConditionRun) -> None:
        if condition.status != IN_PROGRESS or condition.stage_run.active_condition is not condition:
            return
        passed = all(r.status == SUCCEEDED for r in condition.rules)
        condition.status = SUCCEEDED if passed else FAILED
        condition.last_change = self.now()
        condition.stage_run.active_condition = None
        if condition.callback is not None:
            condition.callback(condition)

    def override_condition(self, condition: ConditionRun) -> None:
        """OverrideStageCondition after its checks passed: the condition counts as met."""
        self._end_condition(condition, OVERRIDDEN)
        condition.summary = f"Overridden by {self.world.caller_arn}"
        condition.stage_run.active_condition = None
        if condition.callback is not None:
            condition.callback(condition)

    def _before_entry_done(self, condition: ConditionRun) -> None:
        stage_run = condition.stage_run
        execution = stage_run.execution
        if execution.current is not stage_run or stage_run.status != IN_PROGRESS:
            return
        if condition.status in (SUCCEEDED, OVERRIDDEN):
            self._start_group(stage_run)
        elif condition.result == "SKIP":
            stage_run.status = SKIPPED
            self._leave(stage_run)
            self._arrive(execution, stage_run.stage.index + 1)
        else:
            self._fail_stage(stage_run, rollback=False)

    def _on_success_done(self, condition: ConditionRun) -> None:
        stage_run = condition.stage_run
        if stage_run.execution.current is not stage_run or stage_run.status != IN_PROGRESS:
            return
        if condition.status in (SUCCEEDED, OVERRIDDEN):
            self._stage_succeeded(stage_run)
        else:
            self._fail_stage(stage_run, rollback=condition.result == "ROLLBACK")

    # -- transitions ------------------------------------------------------------------------------------

    def resume_after_enable(
        self, pipeline: PipelineRecord, slot: StageSlot, disabled_since: float | None
    ) -> None:
        """EnableStageTransition: admit waiting executions, unless the transition was disabled too long (T4)."""
        if (
            disabled_since is not None
            and self.now() - disabled_since > self.settings.stale_transition_seconds
        ):
            while slot.waiting:
                stale = slot.waiting.popleft()
                if stale.status == IN_PROGRESS and stale.where == "waiting":
                    slot.inbound_shown = stale
                    self._finish_execution(stale, CANCELLED, STALE_SUMMARY)
            return
        self.admit(pipeline, slot)


# -- helpers --------------------------------------------------------------------------------------------


def _event_artifact(artifact: Json) -> Json:
    return {"name": artifact["name"], "s3location": dict(artifact["s3location"])}


def _job_artifact(artifact: Json, revision: str | None) -> Json:
    location = artifact["s3location"]
    return {
        "name": artifact["name"],
        "revision": revision,
        "location": {
            "type": "S3",
            "s3Location": {"bucketName": location["bucket"], "objectKey": location["key"]},
        },
    }


def _environment_variables(raw: str | None) -> list[dict[str, str]]:
    if not raw:
        return []
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(parsed, list):
        raise ValueError("expected a JSON array")
    variables: list[dict[str, str]] = []
    for item in parsed:
        if not isinstance(item, dict) or "name" not in item:
            raise ValueError("each entry needs a name")
        variables.append(
            {
                "name": str(item["name"]),
                "value": str(item.get("value", "")),
                "type": str(item.get("type", "PLAINTEXT")),
            }
        )
    return variables


def _variable_check(config: Mapping[str, str]) -> bool:
    operator = config.get("Operator", "EQ")
    actual = config.get("Variable", "")
    expected = config.get("Value", "")
    if operator == "EQ":
        return actual == expected
    if operator == "NE":
        return actual != expected
    if operator == "CONTAINS":
        return expected in actual
    if operator == "MATCHES":
        try:
            return re.fullmatch(expected, actual) is not None
        except re.error:
            return False
    return False


#: The action-run and condition maps of a stage run nothing reads or writes any more (see compact_stage_run).
_FORGOTTEN: Any = MappingProxyType({})


def _started(execution: Execution) -> float:
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
