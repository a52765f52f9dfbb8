"""Events: what a wait reports as an execution moves, and what CodePipeline sends to EventBridge.

Progress events (:class:`ProgressEvent` and its subclasses) are what ``Execution.wait(on_progress=...)``,
``Pipeline.wait_for_approval(on_progress=...)`` and :func:`diff_states` report, one per change seen between
two polls: a stage started, an action failed, an approval waits (:class:`ApprovalRequested`, carrying the
:class:`~pipepilot.Approval` that answers it), an execution is held at a disabled transition.
:func:`print_progress` and :func:`log_progress` are ready-made callbacks.

EventBridge events (:class:`CodePipelineEvent` and its three kinds, :class:`CodeBuildEvent` and its two)
are CodePipeline's and CodeBuild's state-change notifications as a Lambda function or a rule target
receives them; :func:`parse_event` reads one. Each exposes the envelope's ``event_id``: EventBridge
delivers at least once, so deduplicate on it.

Everything here is pure data: no event holds a client, except the :class:`~pipepilot.Approval` a wait
attaches to :class:`ApprovalRequested`.
"""

from __future__ import annotations

from pipepilot.model.events import (
    ActionExecutionStateChange,
    BuildPhaseChange,
    BuildStateChange,
    CodeBuildEvent,
    CodePipelineEvent,
    EventArtifact,
    EventBuildLogs,
    EventBuildPhase,
    EventExecutionResult,
    EventState,
    PipelineExecutionStateChange,
    StageExecutionStateChange,
    parse_event,
)
from pipepilot.polling import (
    ActionAbandoned,
    ActionEvent,
    ActionFailed,
    ActionStarted,
    ActionStatusChanged,
    ActionSucceeded,
    ApprovalRequested,
    ExecutionHeldAtTransition,
    ExecutionWaitingForStage,
    ProgressEvent,
    StageCancelled,
    StageFailed,
    StageSkipped,
    StageStarted,
    StageStatusChanged,
    StageStopped,
    StageSucceeded,
    diff_states,
    log_progress,
    print_progress,
)

__all__ = [
    "ActionAbandoned",
    "ActionEvent",
    "ActionExecutionStateChange",
    "ActionFailed",
    "ActionStarted",
    "ActionStatusChanged",
    "ActionSucceeded",
    "ApprovalRequested",
    "BuildPhaseChange",
    "BuildStateChange",
    "CodeBuildEvent",
    "CodePipelineEvent",
    "EventArtifact",
    "EventBuildLogs",
    "EventBuildPhase",
    "EventExecutionResult",
    "EventState",
    "ExecutionHeldAtTransition",
    "ExecutionWaitingForStage",
    "PipelineExecutionStateChange",
    "ProgressEvent",
    "StageCancelled",
    "StageExecutionStateChange",
    "StageFailed",
    "StageSkipped",
    "StageStarted",
    "StageStatusChanged",
    "StageStopped",
    "StageSucceeded",
    "diff_states",
    "log_progress",
    "parse_event",
    "print_progress",
]
