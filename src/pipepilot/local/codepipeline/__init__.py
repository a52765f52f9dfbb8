"""The offline CodePipeline engine: pipelines, executions, approvals, jobs and events on a virtual clock.

:class:`CodePipelineEngine` answers CodePipeline API calls for one account and region. It is served to real
boto3 clients by :mod:`pipepilot.local` (botocore validates and parses as usual), and it follows how
CodePipeline documents its runtime behaviour: SUPERSEDED / QUEUED / PARALLEL execution modes, runOrder groups,
failures, retries, stops, rollbacks, stage conditions, transitions, manual approvals, Lambda invoke and
custom-action jobs, and EventBridge events for every state change.

Requests are validated against botocore's service model (patterns, lengths, enums → ``ValidationException``)
and pipeline declarations against :func:`pipepilot.model.validation.find_problems`.

Choices where AWS's behaviour is unconfirmed (docs/local.md lists them too); the ones that are cheap to
change are :class:`CodePipelineSettings`:

* A pipeline declared without ``pipelineType`` is V2 (``default_pipeline_type``); UpdatePipeline without
  one keeps the pipeline's current type.
* CreatePipeline with a name in use answers ``PipelineNameInUseException`` (the model's choice, not moto's).
  UpdatePipeline of an unknown pipeline answers ``PipelineNotFoundException``; DeletePipeline of one succeeds.
* UpdatePipeline always bumps the version, even with identical content. Running executions end
  ``Cancelled`` once their running actions finish; pending approvals are abandoned at once (their tokens
  die with the old definition); waiting executions end ``Cancelled`` (``waiting_status_on_update``).
* QUEUED and PARALLEL pipelines allow 50 live executions (``concurrent_execution_cap``); starting or
  retrying beyond that answers ``ConcurrentPipelineExecutionsLimitExceededException``.
* ``clientRequestToken`` is remembered as long as the execution it started is kept: reusing one returns
  that execution's id and starts nothing.
* A pipeline keeps at most ``execution_history_limit`` completed executions, none that started more than
  ``execution_history_seconds`` (400 days: AWS's 12 months and a margin) ago; the others are forgotten
  with their action and rule runs (their ids answer ``PipelineExecutionNotFoundException``), except those
  still running or waiting, shown by GetPipelineState, or kept as a stage's rollback target.
* Disabling the first stage's inbound transition is accepted; new executions then wait in front of it.
  ``Outbound`` on stage X blocks entry to stage X+1 (accepted, and meaningless, on the last stage).
  Disabling a disabled transition (or enabling an enabled one) succeeds; a re-disable updates the reason
  and ``lastChangedAt`` (the 30 days below still count from the first disable).
  A transition re-enabled after more than 30 days ends its waiting executions ``Cancelled`` instead of
  resuming them (``stale_transition_seconds``).
* Stopping an unknown execution answers ``PipelineExecutionNotFoundException``. Stop-and-wait waits for
  pending approvals and Lambda jobs like any running action.
* RetryStageExecution with an id that is not the stage's latest execution (unknown ids included) answers
  ``NotLatestPipelineExecutionException``; FAILED_ACTIONS retries ``Abandoned`` actions too, and on a stage
  stopped between runOrder groups it resumes with the next group. ``ConflictException`` is never raised.
* A rollback re-runs only the rolled-back stage, and enters it even while its inbound transition is
  disabled. Rollback targets older than 365 days answer ``PipelineExecutionOutdatedException``.
* The one automatic stage retry (``onFailure.retryConfiguration``) happens before any automatic rollback;
  a rollback execution that fails is not rolled back again. An ``onFailure`` condition applies its result
  when its rules succeed. ``VariableCheck`` rules compare their resolved variables; rules of every other
  provider (``CloudWatchAlarm``, ``DeploymentWindow``, ``LambdaInvoke``, ...) succeed unless a test scripts
  them with :meth:`pipepilot.local.OfflineAWS.script_rule` (``ScriptBook.rule_outcome``).
* PutApprovalResult on a non-approval action answers ``ActionNotFoundException``; a token already answered
  answers ``ApprovalAlreadyCompletedException``, any other non-pending token ``InvalidApprovalTokenException``.
  A rejected or expired approval fails with ``errorDetails.code`` ``JobFailed``. The SNS subject is
  ``APPROVAL NEEDED: AWS CodePipeline <pipeline> for action <action>``.
* Lambda handlers are called on the clock right after the action starts (as an asynchronous invocation).
  A handler that raises fails the action at once (``lambda_errors_fail_action``) instead of leaving the job
  to time out; a missing handler leaves it to time out after 20 minutes.
* PollForJobs answers ``ActionTypeNotFoundException`` for non-Custom owners and for custom types no
  pipeline uses. PutActionRevision accepts only source actions.
* A CodeBuild build ending ``STOPPED`` fails the action, like ``FAILED``, ``FAULT`` and ``TIMED_OUT``.
* ListActionExecutions and ListPipelineExecutions list newest first; ListPipelines lists by name, up to
  1000 per page when ``maxResults`` is absent.
* EventBridge events are emitted synchronously, in state-change order; a retry emits ``RESUMED`` for the
  pipeline and the stage (an automatic retry: the stage's ``FAILED`` then ``RESUMED``); skipped stages and
  condition evaluations emit no events.
* Declaration errors map as the API reference suggests: field errors ``ValidationException`` (always reported before
  structure errors); stage-level rules ``InvalidStageDeclarationException``; artifact counts, PrimarySource,
  timeouts, cross-region, variables/namespaces and AWS-owned action types outside the documented
  category/provider list ``InvalidActionDeclarationException``; the rest ``InvalidStructureException``.
  ``blockers`` answer ``InvalidBlockerDeclarationException``.
* An action whose configuration references a variable that no earlier action produced fails with
  ``errorDetails.code`` ``ConfigurationError``.

Not modelled: ``pollingDisabledAt``, pull-request triggers (``push_revision`` models pushes only), webhooks,
custom action type CRUD (any Custom type a pipeline uses is pollable), third-party job operations.

The package splits by concern: ``_engine`` (the wire: validation and one handler per operation), ``_state``
(pipelines, executions and runs as the engine keeps them), ``_render`` (that state as API answers),
``_host`` (what the engine asks of the World, as protocols), ``_settings`` (its settings) and
``_scheduler`` (the execution machine, a thin coordinator of one part per concern: clock, events,
executions, actions, sources, builds, approvals, jobs and conditions).
"""

from __future__ import annotations

from pipepilot.local.codepipeline._engine import CodePipelineEngine
from pipepilot.local.codepipeline._host import (
    ActionScriptView,
    CodeBuildBackend,
    EngineWorld,
    LambdaFunctionView,
    LambdaHandler,
    RuleScriptView,
    ScriptBook,
)
from pipepilot.local.codepipeline._settings import CodePipelineSettings

__all__ = [
    "ActionScriptView",
    "CodeBuildBackend",
    "CodePipelineEngine",
    "CodePipelineSettings",
    "EngineWorld",
    "LambdaFunctionView",
    "LambdaHandler",
    "RuleScriptView",
    "ScriptBook",
]
