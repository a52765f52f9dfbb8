"""Manual approvals: tokens, timeouts and answers (the SNS notification is an event)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipepilot.local.codepipeline._part import Part
from pipepilot.local.codepipeline._state import (
    FAILED,
    IN_PROGRESS,
    MODE_PARALLEL,
    SUCCEEDED,
    ActionRun,
)

if TYPE_CHECKING:
    from pipepilot.local.codepipeline._host import ActionScriptView


class Approvals(Part):
    """The manual approval actions of one engine."""

    def start(self, run: ActionRun, script: ActionScriptView | None) -> None:
        """Make ``run`` a pending approval: a token, an SNS notice if asked, a timeout or scripted answer."""
        execution = run.execution
        token = self.world.new_uuid()
        run.token = token
        run.token_state = "pending"
        execution.pipeline.approvals[token] = run
        if execution.mode == MODE_PARALLEL:
            run.external_id = token  # the only place a PARALLEL approval's token shows
        timeout = (
            run.action.timeout_minutes * 60.0
            if run.action.timeout_minutes
            else self.settings.approval_timeout_seconds
        )
        topic = run.resolved_configuration.get("NotificationArn")
        if topic:
            self._rt.events.notify_approval(run, topic, timeout)
        if script is not None:
            run.timer = self.later(
                self._rt.actions.duration(run.action, script), lambda: self.answer_scripted(run, script)
            )
        else:
            run.timer = self.later(timeout, lambda: self.expire(run))

    def answer(self, run: ActionRun, status: str, summary: str) -> None:
        """PutApprovalResult after its checks passed."""
        run.token_state = "answered"
        by = self.world.caller_arn
        if status == "Approved":
            self._rt.actions.finish(run, SUCCEEDED, summary=summary, updated_by=by)
        else:
            message = f"Approval rejected: {summary}" if summary else "Approval rejected"
            self._rt.actions.finish(run, FAILED, summary=summary, updated_by=by, error=("JobFailed", message))

    def answer_scripted(self, run: ActionRun, script: ActionScriptView) -> None:
        """Answer a pending approval the way a test scripted it."""
        if run.status != IN_PROGRESS:
            return
        run.token_state = "answered"
        by = self.world.caller_arn
        if script.outcome == SUCCEEDED:
            self._rt.actions.finish(run, SUCCEEDED, summary=script.summary, updated_by=by)
        else:
            error = (script.error_code or "JobFailed", script.error_message or "Approval rejected")
            self._rt.actions.finish(run, FAILED, summary=script.summary, updated_by=by, error=error)

    def expire(self, run: ActionRun) -> None:
        """Fail an approval nobody answered before its timeout."""
        run.timer = None
        self._rt.actions.finish(
            run, FAILED, error=("JobFailed", "The approval request timed out and was not answered.")
        )
