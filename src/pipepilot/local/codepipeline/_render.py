"""JSON views of the engine's records, shaped as the CodePipeline API returns them.

Optional members are left out rather than sent as null, as AWS does; timestamps are epoch-second floats.
"""

from __future__ import annotations

from pipepilot.local.codepipeline._state import (
    IN_PROGRESS,
    KIND_CODEBUILD,
    KIND_SOURCE,
    MASK,
    MODE_PARALLEL,
    MODE_SUPERSEDED,
    SECRET_KEYS,
    ActionDef,
    ActionRun,
    ConditionRun,
    Execution,
    Json,
    PipelineRecord,
    Revision,
    RuleRun,
    StageDef,
    StageRun,
    StageSlot,
    Transition,
)

__all__ = [
    "action_execution_detail",
    "execution_summary",
    "pipeline_execution",
    "pipeline_state",
    "rule_execution_detail",
]

_CONDITION_FIELDS = (
    ("beforeEntry", "beforeEntryConditionState"),
    ("onSuccess", "onSuccessConditionState"),
    ("onFailure", "onFailureConditionState"),
)


def _masked(configuration: dict[str, str]) -> dict[str, str]:
    """A copy of an action configuration with secret values (``OAuthToken``) shown as GetPipeline shows them."""
    shown = dict(configuration)
    for key in SECRET_KEYS.intersection(shown):
        shown[key] = MASK
    return shown


def _errors(error: tuple[str, str] | None) -> Json:
    """An action's or rule's ``(code, message)`` error as ``errorDetails``; empty when there is none."""
    return {"code": error[0], "message": error[1]} if error else {}


def _transition(transition: Transition) -> Json:
    """A stage's ``inboundTransitionState``: whether it is enabled, who last changed it and when, and while
    disabled, why.
    """
    out: Json = {"enabled": transition.enabled}
    if transition.changed_by is not None:
        out["lastChangedBy"] = transition.changed_by
    if transition.changed_at is not None:
        out["lastChangedAt"] = transition.changed_at
    if not transition.enabled and transition.reason is not None:
        out["disabledReason"] = transition.reason
    return out


def _stage_execution(execution: Execution, status: str) -> Json:
    """A ``StageExecution`` member: the id and type of ``execution``, with the given ``status``."""
    return {"pipelineExecutionId": execution.id, "status": status, "type": execution.execution_type}


def _action_latest(run: ActionRun) -> Json:
    """An action state's ``latestExecution`` for ``run``, showing the approval token only while a non-PARALLEL
    approval is pending.
    """
    out: Json = {"actionExecutionId": run.id, "status": run.status}
    if run.summary:
        out["summary"] = run.summary
    out["lastStatusChange"] = run.last_change
    # Only a pending approval shows its token, and never in PARALLEL mode.
    if run.token_state == "pending" and run.status == IN_PROGRESS and run.execution.mode != MODE_PARALLEL:
        out["token"] = run.token
    if run.updated_by:
        out["lastUpdatedBy"] = run.updated_by
    if run.external_id:
        out["externalExecutionId"] = run.external_id
    if run.external_url:
        out["externalExecutionUrl"] = run.external_url
    if run.percent_complete is not None:
        out["percentComplete"] = run.percent_complete
    if run.error:
        out["errorDetails"] = _errors(run.error)
    return out


def _entity_url(action: ActionDef, region: str) -> str | None:
    """The console link shown as an action's ``entityUrl`` (CodeBuild project, CodeCommit branch, source
    bucket, or what a Deploy action deploys to), or None.
    """
    config = action.configuration
    if action.kind == KIND_CODEBUILD and "ProjectName" in config:
        return f"https://console.aws.amazon.com/codebuild/home?region={region}#/projects/{config['ProjectName']}/view"
    if action.provider == "CodeCommit" and "RepositoryName" in config:
        return (
            f"https://console.aws.amazon.com/codecommit/home?region={region}#/repository/"
            f"{config['RepositoryName']}/browse/{config.get('BranchName', 'main')}/--/"
        )
    if action.provider == "S3" and action.kind == KIND_SOURCE and "S3Bucket" in config:
        return f"https://console.aws.amazon.com/s3/home?region={region}#&bucket={config['S3Bucket']}"
    if action.category != "Deploy":
        return None
    # Deploy actions link to what they deploy to: the deployment group, stack, service or bucket.
    if action.provider in ("CodeDeploy", "CodeDeployToECS") and "ApplicationName" in config:
        group = config.get("DeploymentGroupName")
        page = f"/deployment-groups/{group}" if group else ""
        return (
            f"https://console.aws.amazon.com/codedeploy/home?region={region}"
            f"#/applications/{config['ApplicationName']}{page}"
        )
    if action.provider == "CloudFormation" and "StackName" in config:
        return (
            f"https://console.aws.amazon.com/cloudformation/home?region={region}"
            f"#/stacks?filteringText={config['StackName']}"
        )
    if action.provider == "ECS" and "ClusterName" in config and "ServiceName" in config:
        return (
            f"https://console.aws.amazon.com/ecs/v2/clusters/{config['ClusterName']}/services/"
            f"{config['ServiceName']}?region={region}"
        )
    if action.provider == "S3" and "BucketName" in config:
        return f"https://console.aws.amazon.com/s3/home?region={region}#&bucket={config['BucketName']}"
    return None


def _rule_latest(rule: RuleRun) -> Json:
    """A rule state's ``latestExecution`` for one rule run of a condition."""
    out: Json = {"ruleExecutionId": rule.id, "status": rule.status}
    if rule.summary:
        out["summary"] = rule.summary
    out["lastStatusChange"] = rule.last_change
    if rule.error:
        out["errorDetails"] = _errors(rule.error)
    return out


def _condition_state(condition: ConditionRun) -> Json:
    """A stage's ``*ConditionState`` for a condition run: its status and summary, and one ``conditionStates``
    entry with the state of each rule.
    """
    latest: Json = {"status": condition.status}
    if condition.summary:
        latest["summary"] = condition.summary
    one: Json = {"latestExecution": dict(latest, lastStatusChange=condition.last_change)}
    one["ruleStates"] = [{"ruleName": r.name, "latestExecution": _rule_latest(r)} for r in condition.rules]
    return {"latestExecution": latest, "conditionStates": [one]}


def _stage_state(pipeline: PipelineRecord, stage: StageDef, slot: StageSlot | None, region: str) -> Json:
    """One ``stageStates`` entry of GetPipelineState: the inbound transition and executions, action states,
    latest execution, condition states and retry metadata of ``stage``.
    """
    state: Json = {"stageName": stage.name}
    if slot is None:
        if stage.index > 0:
            state["inboundTransitionState"] = {"enabled": True}
        state["actionStates"] = [_action_state(pipeline, a, None, region) for a in stage.actions]
        return state
    if stage.index > 0 or slot.inbound.changed_at is not None:
        state["inboundTransitionState"] = _transition(slot.inbound)
    waiting = [w for w in slot.waiting if w.status == IN_PROGRESS]
    shown = waiting[0] if waiting else slot.inbound_shown
    if shown is not None:
        state["inboundExecution"] = _stage_execution(shown, shown.status)
    if waiting and waiting[0].mode != MODE_SUPERSEDED:
        state["inboundExecutions"] = [_stage_execution(w, w.status) for w in waiting]
    state["actionStates"] = [_action_state(pipeline, a, slot, region) for a in stage.actions]
    latest = slot.latest
    if latest is not None:
        state["latestExecution"] = _stage_execution(latest.execution, latest.status)
        for kind, field in _CONDITION_FIELDS:
            condition = latest.conditions.get(kind)
            if condition is not None:
                state[field] = _condition_state(condition)
        if latest.auto_retries or latest.manual_retries:
            metadata: Json = {
                "autoStageRetryAttempt": latest.auto_retries,
                "manualStageRetryAttempt": latest.manual_retries,
            }
            if latest.latest_retry_trigger:
                metadata["latestRetryTrigger"] = latest.latest_retry_trigger
            state["retryStageMetadata"] = metadata
    return state


def _action_state(pipeline: PipelineRecord, action: ActionDef, slot: StageSlot | None, region: str) -> Json:
    """One ``actionStates`` entry of GetPipelineState: a source action's current revision, the action's latest
    run and its console link.
    """
    out: Json = {"actionName": action.name}
    if action.kind == KIND_SOURCE:
        revision = pipeline.source_current.get(action.name)
        if revision is not None:
            out["currentRevision"] = {
                "revisionId": revision.revision_id,
                "revisionChangeId": revision.change_id,
                "created": revision.created,
            }
            if revision.url:
                out["revisionUrl"] = revision.url
    run = slot.action_latest.get(action.name) if slot is not None else None
    if run is not None:
        out["latestExecution"] = _action_latest(run)
    entity = _entity_url(action, action.region or region)
    if entity:
        out["entityUrl"] = entity
    return out


def pipeline_state(pipeline: PipelineRecord, region: str) -> Json:
    """GetPipelineState's response."""
    structure = pipeline.current
    return {
        "pipelineName": pipeline.name,
        "pipelineVersion": structure.version,
        "stageStates": [
            _stage_state(pipeline, stage, pipeline.slots.get(stage.name), region)
            for stage in structure.stages
        ],
        "created": pipeline.created,
        "updated": pipeline.updated,
    }


def _add_origin(out: Json, execution: Execution) -> Json:
    """The members GetPipelineExecution and ListPipelineExecutions share: trigger, mode, type, rollback."""
    trigger: Json = {"triggerType": execution.trigger_type}
    if execution.trigger_detail:
        trigger["triggerDetail"] = execution.trigger_detail
    out["trigger"] = trigger
    out["executionMode"] = execution.mode
    out["executionType"] = execution.execution_type
    if execution.rollback_target:
        out["rollbackMetadata"] = {"rollbackTargetPipelineExecutionId": execution.rollback_target}
    return out


def pipeline_execution(execution: Execution) -> Json:
    """GetPipelineExecution's ``pipelineExecution``."""
    out: Json = {
        "pipelineName": execution.pipeline.name,
        "pipelineVersion": execution.structure.version,
        "pipelineExecutionId": execution.id,
        "status": execution.status,
    }
    if execution.status_summary:
        out["statusSummary"] = execution.status_summary
    out["artifactRevisions"] = [
        _artifact_revision(name, revision) for name, revision in execution.artifact_revisions
    ]
    declared = [name for name, _ in execution.structure.variables]
    if declared:
        out["variables"] = [{"name": n, "resolvedValue": execution.variables.get(n, "")} for n in declared]
    return _add_origin(out, execution)


def execution_summary(execution: Execution) -> Json:
    """One ``pipelineExecutionSummaries`` entry of ListPipelineExecutions."""
    out: Json = {"pipelineExecutionId": execution.id, "status": execution.status}
    if execution.status_summary:
        out["statusSummary"] = execution.status_summary
    out["startTime"] = execution.start
    out["lastUpdateTime"] = execution.last_update
    sources = []
    for action_name, revision in execution.revisions.items():
        entry: Json = {"actionName": action_name, "revisionId": revision.revision_id}
        if revision.summary:
            entry["revisionSummary"] = revision.summary
        if revision.url:
            entry["revisionUrl"] = revision.url
        sources.append(entry)
    out["sourceRevisions"] = sources
    if execution.stop_requested or execution.stop_reason:
        out["stopTrigger"] = {"reason": execution.stop_reason} if execution.stop_reason else {}
    return _add_origin(out, execution)


def action_execution_detail(run: ActionRun, region: str) -> Json:
    """One ``actionExecutionDetails`` entry of ListActionExecutions."""
    action = run.action
    execution = run.execution
    input_: Json = {
        "actionTypeId": action.type_id(),
        "configuration": _masked(action.configuration),
        "resolvedConfiguration": _masked(run.resolved_configuration),
        "roleArn": action.role_arn or execution.structure.declaration.get("roleArn"),
        "region": action.region or region,
        "inputArtifacts": [a.to_api() for a in run.input_artifacts],
    }
    if action.namespace:
        input_["namespace"] = action.namespace
    result: Json = {}
    if run.external_id:
        result["externalExecutionId"] = run.external_id
    if run.summary:
        result["externalExecutionSummary"] = run.summary
    if run.external_url:
        result["externalExecutionUrl"] = run.external_url
    if run.error:
        result["errorDetails"] = _errors(run.error)
    output: Json = {
        "outputArtifacts": ([a.to_api() for a in run.output_artifacts] if run.status == "Succeeded" else []),
        "executionResult": result,
    }
    if run.output_variables:
        output["outputVariables"] = dict(run.output_variables)
    out: Json = {
        "pipelineExecutionId": execution.id,
        "actionExecutionId": run.id,
        "pipelineVersion": execution.structure.version,
        "stageName": action.stage,
        "actionName": action.name,
        "startTime": run.start,
        "lastUpdateTime": run.last_change,
    }
    if run.updated_by:
        out["updatedBy"] = run.updated_by
    out["status"] = run.status
    out["input"] = input_
    out["output"] = output
    return out


def rule_execution_detail(rule: RuleRun, region: str) -> Json:
    """One ``ruleExecutionDetails`` entry of ListRuleExecutions."""
    stage_run: StageRun = rule.condition.stage_run
    execution = stage_run.execution
    declaration = rule.declaration
    input_: Json = {
        "ruleTypeId": dict(declaration.get("ruleTypeId") or {}),
        "configuration": dict(declaration.get("configuration") or {}),
        "resolvedConfiguration": dict(rule.resolved_configuration),
        "region": declaration.get("region") or region,
        "inputArtifacts": [],
    }
    if declaration.get("roleArn"):
        input_["roleArn"] = declaration["roleArn"]
    result: Json = {}
    if rule.summary:
        result["externalExecutionSummary"] = rule.summary
    if rule.error:
        result["errorDetails"] = _errors(rule.error)
    return {
        "pipelineExecutionId": execution.id,
        "ruleExecutionId": rule.id,
        "pipelineVersion": execution.structure.version,
        "stageName": stage_run.stage.name,
        "ruleName": rule.name,
        "startTime": rule.start,
        "lastUpdateTime": rule.last_change,
        "status": rule.status,
        "input": input_,
        "output": {"executionResult": result},
    }


def _artifact_revision(name: str, revision: Revision) -> Json:
    """One ``artifactRevisions`` entry: absent members are left out, as AWS leaves them out."""
    entry: Json = {
        "name": name,
        "revisionId": revision.revision_id,
        "revisionChangeIdentifier": revision.change_id,
        "revisionSummary": revision.summary,
        "created": revision.created,
        "revisionUrl": revision.url,
    }
    return {key: value for key, value in entry.items() if value is not None}
