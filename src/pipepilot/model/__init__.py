"""Pure data: pipeline declarations, runtime state, builds, summaries, and their local validation.

Every model class is importable from here (``from pipepilot.model import PipelineState``). Nothing in this
package does I/O; the live handles in :mod:`pipepilot` read and act, and hand these models out.

The names load on first use: pipepilot's own modules import ``pipepilot.model.declaration`` and the like,
and each of those imports runs this file first, so loading every model here would make them all pay for
the ones they do not use (about 40 ms).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipepilot._lazy import lazy_module_attributes

if TYPE_CHECKING:
    from pipepilot.model.build import (
        BuildDetails as BuildDetails,
    )
    from pipepilot.model.build import (
        BuildEnvironmentVariable as BuildEnvironmentVariable,
    )
    from pipepilot.model.build import (
        BuildPhase as BuildPhase,
    )
    from pipepilot.model.build import (
        BuildPhaseType as BuildPhaseType,
    )
    from pipepilot.model.build import (
        BuildStatus as BuildStatus,
    )
    from pipepilot.model.build import (
        CloudWatchLogsConfig as CloudWatchLogsConfig,
    )
    from pipepilot.model.build import (
        ExportedEnvironmentVariable as ExportedEnvironmentVariable,
    )
    from pipepilot.model.build import (
        LogsLocation as LogsLocation,
    )
    from pipepilot.model.build import (
        PhaseContext as PhaseContext,
    )
    from pipepilot.model.build import (
        ProjectEnvironment as ProjectEnvironment,
    )
    from pipepilot.model.build import (
        S3LogsConfig as S3LogsConfig,
    )
    from pipepilot.model.declaration import (
        ActionCategory as ActionCategory,
    )
    from pipepilot.model.declaration import (
        ActionDeclaration as ActionDeclaration,
    )
    from pipepilot.model.declaration import (
        ActionOwner as ActionOwner,
    )
    from pipepilot.model.declaration import (
        ActionTypeId as ActionTypeId,
    )
    from pipepilot.model.declaration import (
        ArtifactStore as ArtifactStore,
    )
    from pipepilot.model.declaration import (
        ArtifactStoreType as ArtifactStoreType,
    )
    from pipepilot.model.declaration import (
        BeforeEntryConditions as BeforeEntryConditions,
    )
    from pipepilot.model.declaration import (
        BlockerDeclaration as BlockerDeclaration,
    )
    from pipepilot.model.declaration import (
        BlockerType as BlockerType,
    )
    from pipepilot.model.declaration import (
        Condition as Condition,
    )
    from pipepilot.model.declaration import (
        ConditionResult as ConditionResult,
    )
    from pipepilot.model.declaration import (
        EncryptionKey as EncryptionKey,
    )
    from pipepilot.model.declaration import (
        EncryptionKeyType as EncryptionKeyType,
    )
    from pipepilot.model.declaration import (
        EnvironmentVariable as EnvironmentVariable,
    )
    from pipepilot.model.declaration import (
        EnvironmentVariableType as EnvironmentVariableType,
    )
    from pipepilot.model.declaration import (
        ExecutionMode as ExecutionMode,
    )
    from pipepilot.model.declaration import (
        FailureConditions as FailureConditions,
    )
    from pipepilot.model.declaration import (
        GitBranchFilterCriteria as GitBranchFilterCriteria,
    )
    from pipepilot.model.declaration import (
        GitConfiguration as GitConfiguration,
    )
    from pipepilot.model.declaration import (
        GitFilePathFilterCriteria as GitFilePathFilterCriteria,
    )
    from pipepilot.model.declaration import (
        GitPullRequestEventType as GitPullRequestEventType,
    )
    from pipepilot.model.declaration import (
        GitPullRequestFilter as GitPullRequestFilter,
    )
    from pipepilot.model.declaration import (
        GitPushFilter as GitPushFilter,
    )
    from pipepilot.model.declaration import (
        GitTagFilterCriteria as GitTagFilterCriteria,
    )
    from pipepilot.model.declaration import (
        InputArtifact as InputArtifact,
    )
    from pipepilot.model.declaration import (
        OutputArtifact as OutputArtifact,
    )
    from pipepilot.model.declaration import (
        PipelineDeclaration as PipelineDeclaration,
    )
    from pipepilot.model.declaration import (
        PipelineDocument as PipelineDocument,
    )
    from pipepilot.model.declaration import (
        PipelineMetadata as PipelineMetadata,
    )
    from pipepilot.model.declaration import (
        PipelineTriggerDeclaration as PipelineTriggerDeclaration,
    )
    from pipepilot.model.declaration import (
        PipelineTriggerProviderType as PipelineTriggerProviderType,
    )
    from pipepilot.model.declaration import (
        PipelineType as PipelineType,
    )
    from pipepilot.model.declaration import (
        PipelineVariableDeclaration as PipelineVariableDeclaration,
    )
    from pipepilot.model.declaration import (
        RetryConfiguration as RetryConfiguration,
    )
    from pipepilot.model.declaration import (
        RuleCategory as RuleCategory,
    )
    from pipepilot.model.declaration import (
        RuleDeclaration as RuleDeclaration,
    )
    from pipepilot.model.declaration import (
        RuleOwner as RuleOwner,
    )
    from pipepilot.model.declaration import (
        RuleTypeId as RuleTypeId,
    )
    from pipepilot.model.declaration import (
        StageDeclaration as StageDeclaration,
    )
    from pipepilot.model.declaration import (
        StageRetryMode as StageRetryMode,
    )
    from pipepilot.model.declaration import (
        SuccessConditions as SuccessConditions,
    )
    from pipepilot.model.runtime import (
        ActionExecution as ActionExecution,
    )
    from pipepilot.model.runtime import (
        ActionExecutionDetail as ActionExecutionDetail,
    )
    from pipepilot.model.runtime import (
        ActionExecutionInput as ActionExecutionInput,
    )
    from pipepilot.model.runtime import (
        ActionExecutionOutput as ActionExecutionOutput,
    )
    from pipepilot.model.runtime import (
        ActionExecutionResult as ActionExecutionResult,
    )
    from pipepilot.model.runtime import (
        ActionExecutionStatus as ActionExecutionStatus,
    )
    from pipepilot.model.runtime import (
        ActionRevision as ActionRevision,
    )
    from pipepilot.model.runtime import (
        ActionState as ActionState,
    )
    from pipepilot.model.runtime import (
        ApprovalStatus as ApprovalStatus,
    )
    from pipepilot.model.runtime import (
        ArtifactDetail as ArtifactDetail,
    )
    from pipepilot.model.runtime import (
        ArtifactRevision as ArtifactRevision,
    )
    from pipepilot.model.runtime import (
        ConditionExecution as ConditionExecution,
    )
    from pipepilot.model.runtime import (
        ConditionExecutionStatus as ConditionExecutionStatus,
    )
    from pipepilot.model.runtime import (
        ConditionState as ConditionState,
    )
    from pipepilot.model.runtime import (
        ConditionType as ConditionType,
    )
    from pipepilot.model.runtime import (
        ErrorDetails as ErrorDetails,
    )
    from pipepilot.model.runtime import (
        ExecutionTrigger as ExecutionTrigger,
    )
    from pipepilot.model.runtime import (
        ExecutionType as ExecutionType,
    )
    from pipepilot.model.runtime import (
        PipelineExecution as PipelineExecution,
    )
    from pipepilot.model.runtime import (
        PipelineExecutionStatus as PipelineExecutionStatus,
    )
    from pipepilot.model.runtime import (
        PipelineExecutionSummary as PipelineExecutionSummary,
    )
    from pipepilot.model.runtime import (
        PipelineRollbackMetadata as PipelineRollbackMetadata,
    )
    from pipepilot.model.runtime import (
        PipelineState as PipelineState,
    )
    from pipepilot.model.runtime import (
        ResolvedPipelineVariable as ResolvedPipelineVariable,
    )
    from pipepilot.model.runtime import (
        RetryStageMetadata as RetryStageMetadata,
    )
    from pipepilot.model.runtime import (
        RetryTrigger as RetryTrigger,
    )
    from pipepilot.model.runtime import (
        RuleExecution as RuleExecution,
    )
    from pipepilot.model.runtime import (
        RuleExecutionStatus as RuleExecutionStatus,
    )
    from pipepilot.model.runtime import (
        RuleRevision as RuleRevision,
    )
    from pipepilot.model.runtime import (
        RuleState as RuleState,
    )
    from pipepilot.model.runtime import (
        S3Location as S3Location,
    )
    from pipepilot.model.runtime import (
        SourceRevision as SourceRevision,
    )
    from pipepilot.model.runtime import (
        StageConditionsExecution as StageConditionsExecution,
    )
    from pipepilot.model.runtime import (
        StageConditionState as StageConditionState,
    )
    from pipepilot.model.runtime import (
        StageExecution as StageExecution,
    )
    from pipepilot.model.runtime import (
        StageExecutionStatus as StageExecutionStatus,
    )
    from pipepilot.model.runtime import (
        StageState as StageState,
    )
    from pipepilot.model.runtime import (
        StageTransitionType as StageTransitionType,
    )
    from pipepilot.model.runtime import (
        StopExecutionTrigger as StopExecutionTrigger,
    )
    from pipepilot.model.runtime import (
        TransitionState as TransitionState,
    )
    from pipepilot.model.runtime import (
        TriggerType as TriggerType,
    )
    from pipepilot.model.summaries import (
        PipelineSummary as PipelineSummary,
    )
    from pipepilot.model.validation import (
        Problem as Problem,
    )
    from pipepilot.model.validation import (
        find_problems as find_problems,
    )

# Where each public name is defined; a name loads from its module the first time it is asked for.
_EXPORTS: dict[str, str] = {
    "ActionCategory": "pipepilot.model.declaration",
    "ActionDeclaration": "pipepilot.model.declaration",
    "ActionExecution": "pipepilot.model.runtime",
    "ActionExecutionDetail": "pipepilot.model.runtime",
    "ActionExecutionInput": "pipepilot.model.runtime",
    "ActionExecutionOutput": "pipepilot.model.runtime",
    "ActionExecutionResult": "pipepilot.model.runtime",
    "ActionExecutionStatus": "pipepilot.model.runtime",
    "ActionOwner": "pipepilot.model.declaration",
    "ActionRevision": "pipepilot.model.runtime",
    "ActionState": "pipepilot.model.runtime",
    "ActionTypeId": "pipepilot.model.declaration",
    "ApprovalStatus": "pipepilot.model.runtime",
    "ArtifactDetail": "pipepilot.model.runtime",
    "ArtifactRevision": "pipepilot.model.runtime",
    "ArtifactStore": "pipepilot.model.declaration",
    "ArtifactStoreType": "pipepilot.model.declaration",
    "BeforeEntryConditions": "pipepilot.model.declaration",
    "BlockerDeclaration": "pipepilot.model.declaration",
    "BlockerType": "pipepilot.model.declaration",
    "BuildDetails": "pipepilot.model.build",
    "BuildEnvironmentVariable": "pipepilot.model.build",
    "BuildPhase": "pipepilot.model.build",
    "BuildPhaseType": "pipepilot.model.build",
    "BuildStatus": "pipepilot.model.build",
    "CloudWatchLogsConfig": "pipepilot.model.build",
    "Condition": "pipepilot.model.declaration",
    "ConditionExecution": "pipepilot.model.runtime",
    "ConditionExecutionStatus": "pipepilot.model.runtime",
    "ConditionResult": "pipepilot.model.declaration",
    "ConditionState": "pipepilot.model.runtime",
    "ConditionType": "pipepilot.model.runtime",
    "EncryptionKey": "pipepilot.model.declaration",
    "EncryptionKeyType": "pipepilot.model.declaration",
    "EnvironmentVariable": "pipepilot.model.declaration",
    "EnvironmentVariableType": "pipepilot.model.declaration",
    "ErrorDetails": "pipepilot.model.runtime",
    "ExecutionMode": "pipepilot.model.declaration",
    "ExecutionTrigger": "pipepilot.model.runtime",
    "ExecutionType": "pipepilot.model.runtime",
    "ExportedEnvironmentVariable": "pipepilot.model.build",
    "FailureConditions": "pipepilot.model.declaration",
    "GitBranchFilterCriteria": "pipepilot.model.declaration",
    "GitConfiguration": "pipepilot.model.declaration",
    "GitFilePathFilterCriteria": "pipepilot.model.declaration",
    "GitPullRequestEventType": "pipepilot.model.declaration",
    "GitPullRequestFilter": "pipepilot.model.declaration",
    "GitPushFilter": "pipepilot.model.declaration",
    "GitTagFilterCriteria": "pipepilot.model.declaration",
    "InputArtifact": "pipepilot.model.declaration",
    "LogsLocation": "pipepilot.model.build",
    "OutputArtifact": "pipepilot.model.declaration",
    "PhaseContext": "pipepilot.model.build",
    "PipelineDeclaration": "pipepilot.model.declaration",
    "PipelineDocument": "pipepilot.model.declaration",
    "PipelineExecution": "pipepilot.model.runtime",
    "PipelineExecutionStatus": "pipepilot.model.runtime",
    "PipelineExecutionSummary": "pipepilot.model.runtime",
    "PipelineMetadata": "pipepilot.model.declaration",
    "PipelineRollbackMetadata": "pipepilot.model.runtime",
    "PipelineState": "pipepilot.model.runtime",
    "PipelineSummary": "pipepilot.model.summaries",
    "PipelineTriggerDeclaration": "pipepilot.model.declaration",
    "PipelineTriggerProviderType": "pipepilot.model.declaration",
    "PipelineType": "pipepilot.model.declaration",
    "PipelineVariableDeclaration": "pipepilot.model.declaration",
    "Problem": "pipepilot.model.validation",
    "ProjectEnvironment": "pipepilot.model.build",
    "ResolvedPipelineVariable": "pipepilot.model.runtime",
    "RetryConfiguration": "pipepilot.model.declaration",
    "RetryStageMetadata": "pipepilot.model.runtime",
    "RetryTrigger": "pipepilot.model.runtime",
    "RuleCategory": "pipepilot.model.declaration",
    "RuleDeclaration": "pipepilot.model.declaration",
    "RuleExecution": "pipepilot.model.runtime",
    "RuleExecutionStatus": "pipepilot.model.runtime",
    "RuleOwner": "pipepilot.model.declaration",
    "RuleRevision": "pipepilot.model.runtime",
    "RuleState": "pipepilot.model.runtime",
    "RuleTypeId": "pipepilot.model.declaration",
    "S3Location": "pipepilot.model.runtime",
    "S3LogsConfig": "pipepilot.model.build",
    "SourceRevision": "pipepilot.model.runtime",
    "StageConditionState": "pipepilot.model.runtime",
    "StageConditionsExecution": "pipepilot.model.runtime",
    "StageDeclaration": "pipepilot.model.declaration",
    "StageExecution": "pipepilot.model.runtime",
    "StageExecutionStatus": "pipepilot.model.runtime",
    "StageRetryMode": "pipepilot.model.declaration",
    "StageState": "pipepilot.model.runtime",
    "StageTransitionType": "pipepilot.model.runtime",
    "StopExecutionTrigger": "pipepilot.model.runtime",
    "SuccessConditions": "pipepilot.model.declaration",
    "TransitionState": "pipepilot.model.runtime",
    "TriggerType": "pipepilot.model.runtime",
    "find_problems": "pipepilot.model.validation",
}

__all__ = sorted(_EXPORTS)

if not TYPE_CHECKING:  # type checkers see the imports above, and an unknown name is an error for them too
    __getattr__, __dir__ = lazy_module_attributes(__name__, globals(), _EXPORTS)
