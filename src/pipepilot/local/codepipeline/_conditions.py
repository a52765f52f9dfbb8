"""Stage conditions: beforeEntry, onSuccess and onFailure rules, evaluated on the clock."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from pipepilot.local.codepipeline._part import Part
from pipepilot.local.codepipeline._state import (
    ABANDONED,
    FAILED,
    IN_PROGRESS,
    OVERRIDDEN,
    SKIPPED,
    SUCCEEDED,
    ConditionRun,
    Json,
    RuleRun,
    StageRun,
    resolve_text,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pipepilot.local.codepipeline._host import RuleScriptView

SCRIPTED_RULE_FAILURE = "The rule failed (scripted by pipepilot.local)."


class Conditions(Part):
    """Starts, evaluates, settles and overrides stage conditions."""

    def start(
        self, stage_run: StageRun, kind: str, block: Json, callback: Callable[[ConditionRun], None]
    ) -> None:
        """Start a condition of ``kind``: a timed evaluation per rule, then ``callback`` once all settled."""
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
            execution.rule_runs += (rule_run,)
            execution.pipeline.rule_history.append(rule_run)
            provider = (rule.get("ruleTypeId") or {}).get("provider", "")
            delay = (
                float(script.duration)
                if script is not None and script.duration is not None
                else float(self.world.default_durations.get(f"Rule:{provider}", 0.0))
            )
            rule_run.timer = self.later(delay, functools.partial(self.evaluate_rule, rule_run, script))
        if not condition.rules:
            self.later(0, lambda: self.settled(condition))

    def evaluate_rule(self, rule_run: RuleRun, script: RuleScriptView | None) -> None:
        """Evaluate one rule (scripted, a variable check, or passing); settle its condition if it was last."""
        if rule_run.status != IN_PROGRESS:
            return
        rule_run.timer = None
        execution = rule_run.condition.stage_run.execution
        lookup = self._rt.actions.variable_lookup(execution)
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
            self.settled(rule_run.condition)

    def settled(self, condition: ConditionRun) -> None:
        """Give a condition whose rules all finished its outcome and hand it to its callback."""
        if condition.status != IN_PROGRESS or condition.stage_run.active_condition is not condition:
            return
        passed = all(r.status == SUCCEEDED for r in condition.rules)
        condition.status = SUCCEEDED if passed else FAILED
        condition.last_change = self.now()
        condition.stage_run.active_condition = None
        if condition.callback is not None:
            condition.callback(condition)

    def before_entry_done(self, condition: ConditionRun) -> None:
        """Enter, skip or fail the stage once its beforeEntry condition settled."""
        stage_run = condition.stage_run
        execution = stage_run.execution
        if execution.current is not stage_run or stage_run.status != IN_PROGRESS:
            return
        if condition.status in (SUCCEEDED, OVERRIDDEN):
            self._rt.executions.start_group(stage_run)
        elif condition.result == "SKIP":
            stage_run.status = SKIPPED
            self._rt.executions.leave(stage_run)
            self._rt.executions.arrive(execution, stage_run.stage.index + 1)
        else:
            self._rt.executions.fail_stage(stage_run, rollback=False)

    def on_success_done(self, condition: ConditionRun) -> None:
        """Succeed or fail the stage once its onSuccess condition settled."""
        stage_run = condition.stage_run
        if stage_run.execution.current is not stage_run or stage_run.status != IN_PROGRESS:
            return
        if condition.status in (SUCCEEDED, OVERRIDDEN):
            self._rt.executions.stage_succeeded(stage_run)
        else:
            self._rt.executions.fail_stage(stage_run, rollback=condition.result == "ROLLBACK")

    def override(self, condition: ConditionRun) -> None:
        """OverrideStageCondition after its checks passed: the condition counts as met."""
        self.end(condition, OVERRIDDEN)
        condition.summary = f"Overridden by {self.world.caller_arn}"
        condition.stage_run.active_condition = None
        if condition.callback is not None:
            condition.callback(condition)

    def abandon_active(self, stage_run: StageRun) -> None:
        """Abandon the stage run's condition in progress, if any."""
        condition = stage_run.active_condition
        if condition is None:
            return
        stage_run.active_condition = None
        self.end(condition, ABANDONED)

    def end(self, condition: ConditionRun, status: str) -> None:
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


def _variable_check(config: Mapping[str, str]) -> bool:
    """Whether a VariableCheck rule passes: ``Variable`` against ``Value`` by ``Operator`` (EQ by default, NE,
    CONTAINS, or MATCHES as a full regex match); an unknown operator or a bad regex fails.
    """
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
