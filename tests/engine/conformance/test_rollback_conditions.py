"""RollbackStage (manual and automatic) and stage conditions, with their errors.

Conditions use ``VariableCheck`` rules over a pipeline variable, so whether a rule passes is decided by
the variables a test starts the execution with.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

from ._support import HOUR, PIPELINE, Env, codedeploy_action, expect_error, s3_source, stage

UNKNOWN_ID = "3b7a1c52-9d1e-4f0a-8b6c-2e5d4f3a1b0c"


def _gate(result: str, *, operator: str = "EQ", value: str = "open") -> dict[str, Any]:
    """One condition holding one VariableCheck rule: ``#{variables.GATE} <operator> <value>``."""
    return {
        "result": result,
        "rules": [
            {
                "name": "GateIsOpen",
                "ruleTypeId": {
                    "category": "Rule",
                    "owner": "AWS",
                    "provider": "VariableCheck",
                    "version": "1",
                },
                "configuration": {"Variable": "#{variables.GATE}", "Value": value, "Operator": operator},
            }
        ],
    }


def _gated(env: Env, **conditions: Any) -> dict[str, Any]:
    """Source -> Deploy (conditions as given) -> After, with a pipeline variable GATE defaulting to ``open``."""
    declaration = env.declaration(
        stage("Source", s3_source()),
        stage("Deploy", codedeploy_action("Deploy", input_artifact="SourceOutput"), **conditions),
        stage("After", codedeploy_action("After", input_artifact="SourceOutput")),
        variables=[{"name": "GATE", "defaultValue": "open"}],
    )
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", duration=60)
    env.aws.script_action(PIPELINE, "After", "After", duration=60)
    return declaration


def _rollback(env: Env, target: str, stage_name: str = "Deploy") -> str:
    return env.cp.rollback_stage(
        pipelineName=PIPELINE, stageName=stage_name, targetPipelineExecutionId=target
    )["pipelineExecutionId"]


def _two_successes(env: Env) -> tuple[str, str]:
    """Two successful executions with different source revisions and variable values."""
    declaration = env.linear(("Build", 60), ("Deploy", 60))
    declaration["variables"] = [{"name": "TARGET", "defaultValue": "first"}]
    first = env.create(declaration)
    env.run_until_status(first, "Succeeded")
    second = env.start(
        variables=[{"name": "TARGET", "value": "second"}],
        sourceRevisions=[
            {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": "v-2"}
        ],
    )
    env.run_until_status(second, "Succeeded")
    return first, second


# -- manual rollback -----------------------------------------------------------------------------------------


def test_rollback_creates_a_new_rollback_execution_of_the_target(env: Env) -> None:
    """RollbackStage starts a new ROLLBACK execution (trigger ManualRollback) reusing the target's revisions."""
    first, _second = _two_successes(env)
    rollback = _rollback(env, first)
    assert rollback not in (first, _second)

    execution = env.execution(rollback)
    assert execution["executionType"] == "ROLLBACK"
    assert execution["trigger"]["triggerType"] == "ManualRollback"
    assert execution["rollbackMetadata"]["rollbackTargetPipelineExecutionId"] == first
    target_revisions = [(r["name"], r["revisionId"]) for r in env.execution(first)["artifactRevisions"]]
    assert [(r["name"], r["revisionId"]) for r in execution["artifactRevisions"]] == target_revisions
    assert target_revisions != [
        (r["name"], r["revisionId"]) for r in env.execution(_second)["artifactRevisions"]
    ]
    assert {v["name"]: v["resolvedValue"] for v in execution.get("variables", [])} == {"TARGET": "first"}

    env.run_until_status(rollback, "Succeeded")
    deploy = env.stage_state("Deploy")["latestExecution"]
    assert deploy["pipelineExecutionId"] == rollback
    assert deploy["type"] == "ROLLBACK"
    summary = env.summary(rollback)
    assert summary["executionType"] == "ROLLBACK"
    assert summary["rollbackMetadata"]["rollbackTargetPipelineExecutionId"] == first


def test_rollback_reexecutes_only_the_rolled_back_stage(env: Env) -> None:
    """Only the rolled-back stage runs in the rollback execution (the engine's choice)."""
    first, _ = _two_successes(env)
    rollback = _rollback(env, first, "Build")
    env.run_until_status(rollback, "Succeeded")
    stages = {detail["stageName"] for detail in env.action_executions(execution_id=rollback)}
    assert stages == {"Build"}


@pytest.mark.parametrize(
    "why",
    ["target-failed-in-stage", "source-stage", "target-is-rollback", "structure-changed", "stage-running"],
)
def test_rollback_error_UnableToRollbackStageException(env: Env, why: str) -> None:
    """Unsuitable target (not succeeded there, Source stage, a rollback, older structure) or busy stage."""
    if why == "target-failed-in-stage":
        env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=60, times=1)
    first = env.create(env.linear(("Build", 60), ("Deploy", 60)))
    env.run_until_status(first, "Succeeded", "Failed")
    second = env.start()
    env.run_until_status(second, "Succeeded")
    target, stage_name = first, "Deploy"
    if why == "source-stage":
        stage_name = "Source"
    elif why == "target-is-rollback":
        target = _rollback(env, first)
        env.run_until_status(target, "Succeeded")
    elif why == "structure-changed":
        declaration = env.stored()
        declaration["stages"][2]["actions"][0]["configuration"]["DeploymentGroupName"] = "edited"
        env.update(declaration)
    elif why == "stage-running":
        env.aws.script_action(PIPELINE, "Deploy", "Deploy", duration=HOUR)
        third = env.start()
        env.run_until_in_stage(third, "Deploy")
    before = len(env.summaries())
    with expect_error("UnableToRollbackStageException"):
        _rollback(env, target, stage_name)
    assert len(env.summaries()) == before


def test_rollback_error_PipelineExecutionNotFoundException(env: Env) -> None:
    """An unknown target execution id answers PipelineExecutionNotFoundException."""
    _two_successes(env)
    with expect_error("PipelineExecutionNotFoundException"):
        _rollback(env, UNKNOWN_ID)


def test_rollback_error_StageNotFoundException(env: Env) -> None:
    """Rolling back an unknown stage answers StageNotFoundException."""
    first, _ = _two_successes(env)
    with expect_error("StageNotFoundException"):
        _rollback(env, first, "Nowhere")


def test_rollback_error_PipelineNotFoundException(env: Env) -> None:
    """Rolling back in an unknown pipeline answers PipelineNotFoundException."""
    with expect_error("PipelineNotFoundException"):
        env.cp.rollback_stage(
            pipelineName="missing", stageName="Deploy", targetPipelineExecutionId=UNKNOWN_ID
        )


def test_rollback_error_ValidationException(env: Env) -> None:
    """A malformed target id answers ValidationException."""
    _two_successes(env)
    with expect_error("ValidationException"):
        _rollback(env, "not-a-uuid")


# -- automatic rollback --------------------------------------------------------------------------------------


def test_rollback_automatic_on_failure_to_last_success_in_stage(env: Env) -> None:
    """onFailure ROLLBACK rolls the failed stage back to the latest execution that succeeded in it."""
    declaration = _gated(env, onFailure={"result": "ROLLBACK"})
    good = env.create(declaration)
    env.run_until_status(good, "Succeeded")
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=60, times=1)
    bad = env.start()
    env.run_until_status(bad, "Failed")
    env.run_until(lambda: len(env.summaries()) == 3, limit=HOUR, what="automatic rollback started")

    rollback = env.summaries()[0]
    assert rollback["trigger"]["triggerType"] == "AutomatedRollback"
    assert rollback["executionType"] == "ROLLBACK"
    assert rollback["rollbackMetadata"]["rollbackTargetPipelineExecutionId"] == good
    env.run_until_status(rollback["pipelineExecutionId"], "Succeeded")


def test_rollback_automatic_needs_a_previous_success(env: Env) -> None:
    """With no earlier execution that succeeded in the stage, a failure rolls nothing back."""
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=60, times=1)
    first = env.create(_gated(env, onFailure={"result": "ROLLBACK"}))
    env.run_until_status(first, "Failed")
    env.aws.clock.advance(HOUR)
    assert [summary["pipelineExecutionId"] for summary in env.summaries()] == [first]


# -- conditions ----------------------------------------------------------------------------------------------


def test_conditions_before_entry_met_enters_stage(env: Env) -> None:
    """beforeEntry: when every rule succeeds the stage is entered normally."""
    execution = env.create(_gated(env, beforeEntry={"conditions": [_gate("FAIL")]}))
    env.run_until_status(execution, "Succeeded")
    assert env.entered("Deploy", execution)
    state = env.stage_state("Deploy")["beforeEntryConditionState"]
    assert state["latestExecution"]["status"] == "Succeeded"


def test_conditions_before_entry_FAIL_fails_the_stage(env: Env) -> None:
    """beforeEntry FAIL: a failing rule fails the stage and the execution; no action of it runs."""
    env.run_until_status(env.create(_gated(env, beforeEntry={"conditions": [_gate("FAIL")]})), "Succeeded")
    execution = env.start(variables=[{"name": "GATE", "value": "closed"}])
    env.run_until_status(execution, "Failed", "Succeeded")

    assert env.status(execution) == "Failed"
    assert not env.entered("Deploy", execution)
    assert not env.entered("After", execution)
    assert env.stage_latest("Deploy") == (execution, "Failed")
    state = env.stage_state("Deploy")["beforeEntryConditionState"]
    assert state["latestExecution"]["status"] == "Failed"


def test_conditions_before_entry_SKIP_skips_the_stage(env: Env) -> None:
    """beforeEntry SKIP: a failing rule marks the stage Skipped and the execution moves on."""
    env.run_until_status(env.create(_gated(env, beforeEntry={"conditions": [_gate("SKIP")]})), "Succeeded")
    execution = env.start(variables=[{"name": "GATE", "value": "closed"}])
    env.run_until_status(execution, "Failed", "Succeeded")

    assert env.status(execution) == "Succeeded"
    assert not env.entered("Deploy", execution)
    assert env.entered("After", execution)
    assert env.stage_latest("Deploy") == (execution, "Skipped")


def test_conditions_on_success_FAIL_fails_after_actions_succeed(env: Env) -> None:
    """onSuccess FAIL: actions succeed, the failing rule then fails the stage (AWS documents ROLLBACK only)."""
    env.run_until_status(env.create(_gated(env, onSuccess={"conditions": [_gate("FAIL")]})), "Succeeded")
    execution = env.start(variables=[{"name": "GATE", "value": "closed"}])
    env.run_until_status(execution, "Failed", "Succeeded")

    assert env.status(execution) == "Failed"
    assert env.runs_of("Deploy", "Deploy", execution)[0]["status"] == "Succeeded"
    assert not env.entered("After", execution)
    assert env.stage_state("Deploy")["onSuccessConditionState"]["latestExecution"]["status"] == "Failed"


def test_conditions_on_success_ROLLBACK_rolls_back(env: Env) -> None:
    """onSuccess ROLLBACK: when the rule fails after success, the stage rolls back to the previous success."""
    good = env.create(_gated(env, onSuccess={"conditions": [_gate("ROLLBACK")]}))
    env.run_until_status(good, "Succeeded")
    bad = env.start(variables=[{"name": "GATE", "value": "closed"}])
    env.run_until_status(bad, "Failed", "Succeeded")
    env.run_until(lambda: len(env.summaries()) == 3, limit=HOUR, what="rollback started")

    rollback = env.summaries()[0]
    assert rollback["executionType"] == "ROLLBACK"
    assert rollback["rollbackMetadata"]["rollbackTargetPipelineExecutionId"] == good


def test_conditions_override_error_ConditionNotOverridableException(env: Env) -> None:
    """Overriding a condition that is not in progress answers ConditionNotOverridableException."""
    execution = env.create(_gated(env, beforeEntry={"conditions": [_gate("FAIL")]}))
    env.run_until_status(execution, "Succeeded")
    with expect_error("ConditionNotOverridableException"):
        env.cp.override_stage_condition(
            pipelineName=PIPELINE,
            stageName="Deploy",
            pipelineExecutionId=execution,
            conditionType="BEFORE_ENTRY",
        )


def test_conditions_override_error_NotLatestPipelineExecutionException(env: Env) -> None:
    """Overriding for an execution that is not the stage's latest answers NotLatestPipelineExecutionException."""
    first = env.create(_gated(env, beforeEntry={"conditions": [_gate("FAIL")]}))
    env.run_until_status(first, "Succeeded")
    second = env.start()
    env.run_until_status(second, "Succeeded")
    with expect_error("NotLatestPipelineExecutionException"):
        env.cp.override_stage_condition(
            pipelineName=PIPELINE, stageName="Deploy", pipelineExecutionId=first, conditionType="BEFORE_ENTRY"
        )


@pytest.mark.parametrize(
    ("pipeline", "stage_name", "code"),
    [("missing", "Deploy", "PipelineNotFoundException"), (PIPELINE, "Nowhere", "StageNotFoundException")],
)
def test_conditions_override_error_not_found(env: Env, pipeline: str, stage_name: str, code: str) -> None:
    """Overriding in an unknown pipeline or stage answers the matching not-found error."""
    execution = env.create(_gated(env, beforeEntry={"conditions": [_gate("FAIL")]}))
    with expect_error(code):
        env.cp.override_stage_condition(
            pipelineName=pipeline,
            stageName=stage_name,
            pipelineExecutionId=execution,
            conditionType="BEFORE_ENTRY",
        )


def test_conditions_override_error_ValidationException(env: Env) -> None:
    """A conditionType outside the enum answers ValidationException."""
    execution = env.create(_gated(env, beforeEntry={"conditions": [_gate("FAIL")]}))
    with expect_error("ValidationException"):
        env.cp.override_stage_condition(
            pipelineName=PIPELINE,
            stageName="Deploy",
            pipelineExecutionId=execution,
            conditionType="ON_FAILURE",  # type: ignore[arg-type]
        )


@pytest.mark.parametrize("shape", ["two-conditions", "six-rules"])
def test_conditions_shape_rules(env: Env, shape: str) -> None:
    """A condition block holds exactly one condition of 1-5 rules; more is refused with ValidationException."""
    gate = _gate("FAIL")
    if shape == "two-conditions":
        block = {"conditions": [gate, _gate("FAIL", value="x")]}
    else:
        block = {
            "conditions": [
                {"result": "FAIL", "rules": [{**gate["rules"][0], "name": f"R{i}"} for i in range(6)]}
            ]
        }
    with expect_error(("ValidationException", "InvalidStageDeclarationException")):
        env.create_only(_gated(env, beforeEntry=block))
    assert env.cp.list_pipelines()["pipelines"] == []


def test_conditions_require_v2(env: Env) -> None:
    """Stage conditions are V2-only: on an explicit V1 pipeline they are refused (R12)."""
    declaration = _gated(env, beforeEntry={"conditions": [_gate("FAIL")]})
    declaration["pipelineType"] = "V1"
    del declaration["variables"]
    declaration["stages"][1]["beforeEntry"]["conditions"][0]["rules"][0]["configuration"]["Variable"] = (
        "#{SourceVariables.ETag}"
    )
    with expect_error(
        ("InvalidStructureException", "InvalidStageDeclarationException", "ValidationException")
    ):
        env.create_only(declaration)


def test_rollback_error_PipelineExecutionOutdatedException(env: Env) -> None:
    """A target older than the history window is refused as outdated (the engine's window: 365 days)."""
    first = env.create(env.linear(("Build", 60), ("Deploy", 60)))
    env.run_until_status(first, "Succeeded")
    env.aws.clock.advance(366 * 24 * HOUR)
    second = env.start()
    env.run_until_status(second, "Succeeded")
    with expect_error("PipelineExecutionOutdatedException"):
        _rollback(env, first)


def test_conditions_override_in_progress_before_entry_enters_stage(env: Env) -> None:
    """Overriding a beforeEntry condition still being evaluated marks it Overridden and lets the stage start."""
    env.aws.default_durations["Rule:DeploymentWindow"] = 10 * HOUR
    window = {
        "result": "FAIL",
        "rules": [
            {
                "name": "Window",
                "ruleTypeId": {
                    "category": "Rule",
                    "owner": "AWS",
                    "provider": "DeploymentWindow",
                    "version": "1",
                },
                "configuration": {"Cron": "0 9 ? * MON-FRI *", "TimeZone": "UTC"},
            }
        ],
    }
    execution = env.create(_gated(env, beforeEntry={"conditions": [window]}))

    def state() -> dict[str, Any]:
        condition = cast("dict[str, Any]", env.stage_state("Deploy").get("beforeEntryConditionState", {}))
        return cast("dict[str, Any]", condition.get("latestExecution", {}))

    env.run_until(lambda: state().get("status") == "InProgress", limit=HOUR)
    assert not env.entered("Deploy", execution)

    env.cp.override_stage_condition(
        pipelineName=PIPELINE, stageName="Deploy", pipelineExecutionId=execution, conditionType="BEFORE_ENTRY"
    )
    env.run_until_status(execution, "Succeeded", limit=HOUR)
    assert state()["status"] == "Overridden"
    assert env.entered("Deploy", execution)


# -- conditions whose rules a test scripts (any provider) ----------------------------------------------------


def _alarm(result: str) -> dict[str, Any]:
    """One condition holding one CloudWatchAlarm rule: it passes unless the test scripts it to fail."""
    return {
        "result": result,
        "rules": [
            {
                "name": "ErrorsAlarm",
                "ruleTypeId": {
                    "category": "Rule",
                    "owner": "AWS",
                    "provider": "CloudWatchAlarm",
                    "version": "1",
                },
                "configuration": {"AlarmName": "errors", "AlarmStates": "ALARM"},
            }
        ],
    }


def _alarm_fires(env: Env, *, times: int | None = 1) -> None:
    env.aws.script_rule(
        PIPELINE, "Deploy", "ErrorsAlarm", outcome="Failed", summary="errors is in ALARM", times=times
    )


def test_scripted_rule_before_entry_FAIL_fails_the_stage(env: Env) -> None:
    """beforeEntry FAIL with a scripted failing rule: the stage and execution fail, no action of it runs,
    and ListRuleExecutions reports the rule Failed with the script's summary."""
    _alarm_fires(env)
    execution = env.create(_gated(env, beforeEntry={"conditions": [_alarm("FAIL")]}))
    env.run_until_status(execution, "Failed", "Succeeded")

    assert env.status(execution) == "Failed"
    assert not env.entered("Deploy", execution)
    assert not env.entered("After", execution)
    assert env.stage_latest("Deploy") == (execution, "Failed")
    assert env.stage_state("Deploy")["beforeEntryConditionState"]["latestExecution"]["status"] == "Failed"
    [rule] = env.cp.list_rule_executions(pipelineName=PIPELINE, filter={"pipelineExecutionId": execution})[
        "ruleExecutionDetails"
    ]
    assert (rule["ruleName"], rule["status"]) == ("ErrorsAlarm", "Failed")
    assert rule["output"]["executionResult"]["errorDetails"] == {
        "code": "RuleFailed",
        "message": "errors is in ALARM",
    }


def test_scripted_rule_before_entry_SKIP_skips_the_stage(env: Env) -> None:
    """beforeEntry SKIP with a scripted failing rule: the stage is Skipped and the execution moves on."""
    _alarm_fires(env)
    execution = env.create(_gated(env, beforeEntry={"conditions": [_alarm("SKIP")]}))
    env.run_until_status(execution, "Failed", "Succeeded")

    assert env.status(execution) == "Succeeded"
    assert not env.entered("Deploy", execution)
    assert env.entered("After", execution)
    assert env.stage_latest("Deploy") == (execution, "Skipped")


def test_scripted_rule_on_success_FAIL_fails_after_actions_succeed(env: Env) -> None:
    """onSuccess FAIL with a scripted failing rule: the actions succeed, then the stage and execution fail."""
    _alarm_fires(env)
    execution = env.create(_gated(env, onSuccess={"conditions": [_alarm("FAIL")]}))
    env.run_until_status(execution, "Failed", "Succeeded")

    assert env.status(execution) == "Failed"
    assert env.runs_of("Deploy", "Deploy", execution)[0]["status"] == "Succeeded"
    assert not env.entered("After", execution)
    assert env.stage_state("Deploy")["onSuccessConditionState"]["latestExecution"]["status"] == "Failed"


def test_scripted_rule_on_success_ROLLBACK_rolls_back(env: Env) -> None:
    """onSuccess ROLLBACK: the rule passes for the first execution and, scripted to fail, rolls the second one
    back to the first."""
    good = env.create(_gated(env, onSuccess={"conditions": [_alarm("ROLLBACK")]}))
    env.run_until_status(good, "Succeeded")
    _alarm_fires(env)
    bad = env.start()
    env.run_until_status(bad, "Failed", "Succeeded")
    env.run_until(lambda: len(env.summaries()) == 3, limit=HOUR, what="rollback started")

    assert env.status(bad) == "Failed"
    rollback = env.summaries()[0]
    assert rollback["trigger"]["triggerType"] == "AutomatedRollback"
    assert rollback["rollbackMetadata"]["rollbackTargetPipelineExecutionId"] == good


@pytest.mark.parametrize("rule_passes", [True, False], ids=["rule-passes", "rule-fails"])
def test_scripted_rule_on_failure_decides_the_rollback(env: Env, rule_passes: bool) -> None:
    """onFailure ROLLBACK holding a rule: after a failed stage the rollback happens when the rule succeeds,
    and not when it is scripted to fail (the execution stays Failed either way)."""
    declaration = _gated(env, onFailure={"conditions": [_alarm("ROLLBACK")]})
    good = env.create(declaration)
    env.run_until_status(good, "Succeeded")
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=60, times=1)
    if not rule_passes:
        _alarm_fires(env)
    bad = env.start()
    env.run_until_status(bad, "Failed", "Succeeded")
    env.aws.clock.advance(HOUR)

    assert env.status(bad) == "Failed"
    [rule] = env.cp.list_rule_executions(pipelineName=PIPELINE, filter={"pipelineExecutionId": bad})[
        "ruleExecutionDetails"
    ]
    assert rule["status"] == ("Succeeded" if rule_passes else "Failed")
    triggers = [summary["trigger"]["triggerType"] for summary in env.summaries()]
    if rule_passes:
        assert triggers == ["AutomatedRollback", "StartPipelineExecution", "CreatePipeline"]
    else:
        assert triggers == ["StartPipelineExecution", "CreatePipeline"]


# -- ListRuleExecutions --------------------------------------------------------------------------------------


def test_list_rule_executions_details(env: Env) -> None:
    """ListRuleExecutions reports each rule run: names, status, resolved configuration."""
    execution = env.create(_gated(env, beforeEntry={"conditions": [_gate("FAIL")]}))
    env.run_until_status(execution, "Succeeded")
    [detail] = env.cp.list_rule_executions(pipelineName=PIPELINE, filter={"pipelineExecutionId": execution})[
        "ruleExecutionDetails"
    ]
    assert detail["pipelineExecutionId"] == execution
    assert detail["stageName"] == "Deploy"
    assert detail["ruleName"] == "GateIsOpen"
    assert detail["status"] == "Succeeded"
    assert detail["input"]["resolvedConfiguration"]["Variable"] == "open"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        pytest.param({"pipelineName": "missing"}, "PipelineNotFoundException", id="pipeline"),
        pytest.param(
            {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": UNKNOWN_ID}},
            "PipelineExecutionNotFoundException",
            id="execution",
        ),
        pytest.param(
            {"pipelineName": PIPELINE, "nextToken": "forged"}, "InvalidNextTokenException", id="token"
        ),
        pytest.param({"pipelineName": PIPELINE, "maxResults": 101}, "ValidationException", id="max-results"),
    ],
)
def test_list_rule_executions_errors(env: Env, kwargs: dict[str, Any], code: str) -> None:
    """ListRuleExecutions answers its modeled errors: not-found pipeline/execution, bad token, validation."""
    env.create(_gated(env, beforeEntry={"conditions": [_gate("FAIL")]}))
    with expect_error(code):
        env.cp.list_rule_executions(**kwargs)
