"""What the scheduler announces: EventBridge state-change events and SNS approval notifications."""

from __future__ import annotations

import json
import logging
import time

from pipepilot.local.codepipeline._part import Part
from pipepilot.local.codepipeline._state import (
    ABANDONED,
    CANCELLED,
    FAILED,
    IN_PROGRESS,
    STOPPED,
    STOPPING,
    SUCCEEDED,
    SUPERSEDED,
    ActionRun,
    Execution,
    Json,
    PipelineRecord,
    StageRun,
)

logger = logging.getLogger(__name__)

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


def iso_time(epoch: float) -> str:
    """EventBridge's ``time`` format (UTC, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Events(Part):
    """Builds and emits the CodePipeline events of one engine."""

    def emit(self, pipeline: PipelineRecord, detail_type: str, detail: Json) -> None:
        """Put one CodePipeline event on the World's EventBridge log, stamped with the engine's now."""
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

    def pipeline(self, execution: Execution, state: str) -> None:
        """Emit a pipeline execution state-change event for ``execution`` entering ``state``."""
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
        self.emit(execution.pipeline, PIPELINE_EVENT, detail)

    def stage(self, stage_run: StageRun, state: str) -> None:
        """Emit a stage execution state-change event for ``stage_run`` entering ``state``."""
        execution = stage_run.execution
        self.emit(
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

    def action(self, run: ActionRun, state: str) -> None:
        """Emit an action execution state-change event for ``run`` entering ``state``."""
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
            detail["input-artifacts"] = [a.to_api() for a in run.input_artifacts]
        else:
            if state == "SUCCEEDED":
                detail["output-artifacts"] = [a.to_api() for a in run.output_artifacts]
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
        self.emit(execution.pipeline, ACTION_EVENT, detail)

    def notify_approval(self, run: ActionRun, topic: str, timeout: float) -> None:
        """Publish the approval request of ``run`` to SNS ``topic`` (a failure is logged, not raised)."""
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
