"""Local pipeline validation: one positive and one negative case per rule, plus ordering and robustness."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from pipepilot.model import validation
from pipepilot.model.validation import Problem, find_problems

Pipeline = dict[str, Any]
Mutation = Callable[[Pipeline], None]

_ROLE = "arn:aws:iam::123456789012:role/pipeline-role"


def _action(name: str, category: str, provider: str, *, owner: str = "AWS", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": {"category": category, "owner": owner, "provider": provider, "version": "1"},
        **extra,
    }


def _approval(name: str, **extra: Any) -> dict[str, Any]:
    return _action(name, "Approval", "Manual", **extra)


def _store(bucket: str = "artifact-bucket") -> dict[str, Any]:
    return {"type": "S3", "location": bucket}


def base() -> Pipeline:
    """A valid V1 pipeline touching most rules: artifacts, namespaces, references, parallel groups."""
    return {
        "name": "demo",
        "roleArn": _ROLE,
        "artifactStore": _store(),
        "stages": [
            {
                "name": "Source",
                "actions": [
                    _action(
                        "Checkout",
                        "Source",
                        "CodeStarSourceConnection",
                        configuration={
                            "ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/abc",
                            "FullRepositoryId": "octo/demo",
                            "BranchName": "main",
                        },
                        outputArtifacts=[{"name": "src"}],
                        namespace="SourceVariables",
                    )
                ],
            },
            {
                "name": "Build",
                "actions": [
                    _action(
                        "Compile",
                        "Build",
                        "CodeBuild",
                        configuration={"ProjectName": "demo"},
                        inputArtifacts=[{"name": "src"}],
                        outputArtifacts=[{"name": "built"}],
                        namespace="BuildVariables",
                    )
                ],
            },
            {
                "name": "Deploy",
                "actions": [
                    _approval(
                        "Approve",
                        runOrder=1,
                        configuration={"CustomData": "commit #{SourceVariables.CommitId}"},
                    ),
                    _action(
                        "Release",
                        "Deploy",
                        "CloudFormation",
                        runOrder=2,
                        configuration={
                            "ActionMode": "CREATE_UPDATE",
                            "StackName": "demo",
                            "ParameterOverrides": '{"Version": "#{BuildVariables.Version}"}',
                        },
                        inputArtifacts=[{"name": "built"}],
                    ),
                ],
            },
        ],
    }


def _stage(pipeline: Pipeline, name: str) -> dict[str, Any]:
    return next(stage for stage in pipeline["stages"] if stage["name"] == name)


def _find(pipeline: Pipeline, name: str) -> dict[str, Any]:
    return next(
        action for stage in pipeline["stages"] for action in stage["actions"] if action["name"] == name
    )


def _set(action: str, /, **values: Any) -> Mutation:
    def mutate(pipeline: Pipeline) -> None:
        _find(pipeline, action).update(values)

    return mutate


def _top(**values: Any) -> Mutation:
    def mutate(pipeline: Pipeline) -> None:
        pipeline.update(values)

    return mutate


def _delete(key: str) -> Mutation:
    def mutate(pipeline: Pipeline) -> None:
        del pipeline[key]

    return mutate


def _both(*mutations: Mutation) -> Mutation:
    def mutate(pipeline: Pipeline) -> None:
        for mutation in mutations:
            mutation(pipeline)

    return mutate


def _approval_stages(count: int, per_stage: int = 1, prefix: str = "Extra") -> Mutation:
    def mutate(pipeline: Pipeline) -> None:
        for index in range(count):
            actions = [_approval(f"A{position}") for position in range(per_stage)]
            pipeline["stages"].append({"name": f"{prefix}{index}", "actions": actions})

    return mutate


def _deploy_actions(actions: list[dict[str, Any]]) -> Mutation:
    def mutate(pipeline: Pipeline) -> None:
        _stage(pipeline, "Deploy")["actions"] = actions

    return mutate


def _add_action(stage: str, action: dict[str, Any]) -> Mutation:
    def mutate(pipeline: Pipeline) -> None:
        _stage(pipeline, stage)["actions"].append(action)

    return mutate


def _stage_block(stage: str, block: str, value: Any) -> Mutation:
    def mutate(pipeline: Pipeline) -> None:
        _stage(pipeline, stage)[block] = value

    return mutate


def _second_source() -> Mutation:
    return _add_action(
        "Source",
        _action(
            "Templates",
            "Source",
            "S3",
            configuration={"S3Bucket": "templates", "S3ObjectKey": "t.zip"},
            outputArtifacts=[{"name": "tpl"}],
        ),
    )


def _package_in_parallel_with_release() -> Mutation:
    """Deploy runs Package and Release together (runOrder 1), Release reading Package's output "pkg"."""
    return _deploy_actions(
        [
            _action(
                "Package",
                "Build",
                "CodeBuild",
                inputArtifacts=[{"name": "built"}],
                outputArtifacts=[{"name": "pkg"}],
            ),
            _action("Release", "Deploy", "CloudFormation", inputArtifacts=[{"name": "pkg"}]),
        ]
    )


def _compile_from_both_sources(primary: str) -> Mutation:
    """A second source action, and Compile reading both sources with ``primary`` as PrimarySource."""
    return _both(
        _second_source(),
        _set(
            "Compile",
            inputArtifacts=[{"name": "src"}, {"name": "tpl"}],
            configuration={"ProjectName": "demo", "PrimarySource": primary},
        ),
    )


def _trigger(source: str) -> dict[str, Any]:
    return {
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {"sourceActionName": source, "push": [{"branches": {"includes": ["main"]}}]},
    }


def _rule(configuration: dict[str, str]) -> dict[str, Any]:
    return {
        "name": "Check",
        "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": "VariableCheck", "version": "1"},
        "configuration": configuration,
    }


def _condition(result: str, configuration: dict[str, str] | None = None) -> dict[str, Any]:
    rule_config = configuration or {
        "Variable": "#{SourceVariables.BranchName}",
        "Value": "main",
        "Operator": "EQ",
    }
    return {"conditions": [{"result": result, "rules": [_rule(rule_config)]}]}


_V2 = _top(pipelineType="V2")
_STORES = {"us-east-1": _store(), "eu-west-1": _store("artifacts-eu")}
# artifactStore replaced by one store per region (us-east-1 and eu-west-1)
_REGIONAL_STORES = _both(_delete("artifactStore"), _top(artifactStores=_STORES))
_V2_PARALLEL = _both(_V2, _top(executionMode="PARALLEL"))

# (id, mutation, region, expected [(path, code)] — the complete list of problems)
NEGATIVE: list[tuple[str, Mutation, str | None, list[tuple[str, str]]]] = [
    (
        "one-stage",
        lambda p: p.update(stages=p["stages"][:1]),
        None,
        [("stages", "too-few-stages")],
    ),
    ("51-stages", _approval_stages(48), None, [("stages", "too-many-stages")]),
    (
        "first-stage-empty",
        lambda p: _stage(p, "Source").update(actions=[]),
        None,
        [
            ("stages[0].actions", "first-stage-empty"),
            ("stages[1].actions[0].inputArtifacts[0].name", "artifact-not-produced"),
            ("stages[2].actions[0].configuration.CustomData", "unknown-namespace"),
        ],
    ),
    (
        "stage-without-actions",
        lambda p: _stage(p, "Build").update(actions=[]),
        None,
        [
            ("stages[1].actions", "too-few-actions"),
            ("stages[2].actions[1].configuration.ParameterOverrides", "unknown-namespace"),
            ("stages[2].actions[1].inputArtifacts[0].name", "artifact-not-produced"),
        ],
    ),
    (
        "51-actions-in-a-stage",
        _deploy_actions([_approval(f"A{index}") for index in range(51)]),
        None,
        [("stages[2].actions", "too-many-actions")],
    ),
    ("501-actions", _approval_stages(11, per_stage=46), None, [("stages", "too-many-total-actions")]),
    (
        "duplicate-stage-name",
        lambda p: _stage(p, "Deploy").update(name="Build"),
        None,
        [("stages[2].name", "duplicate-stage-name")],
    ),
    (
        "duplicate-action-name",
        _set("Release", name="Approve"),
        None,
        [("stages[2].actions[1].name", "duplicate-action-name")],
    ),
    (
        "approval-in-first-stage",
        _add_action("Source", _approval("Gate")),
        None,
        [("stages[0].actions[1].actionTypeId.category", "non-source-in-first-stage")],
    ),
    (
        "source-in-build-stage",
        _add_action(
            "Build",
            _action(
                "Docs", "Source", "S3", configuration={"S3Bucket": "b"}, outputArtifacts=[{"name": "docs"}]
            ),
        ),
        None,
        [("stages[1].actions[1].actionTypeId.category", "source-not-in-first-stage")],
    ),
    (
        "duplicate-output",
        _set("Compile", outputArtifacts=[{"name": "built"}, {"name": "src"}]),
        None,
        [("stages[1].actions[0].outputArtifacts[1].name", "duplicate-output-artifact")],
    ),
    (
        "input-never-produced",
        _set("Release", inputArtifacts=[{"name": "bulit"}]),
        None,
        [("stages[2].actions[1].inputArtifacts[0].name", "artifact-not-produced")],
    ),
    (
        "input-from-parallel-action",
        _package_in_parallel_with_release(),
        None,
        [("stages[2].actions[1].inputArtifacts[0].name", "artifact-produced-later")],
    ),
    (
        "second-input-never-produced",
        _set(
            "Compile",
            inputArtifacts=[{"name": "src"}, {"name": "late"}],
            configuration={"PrimarySource": "src"},
        ),
        None,
        [("stages[1].actions[0].inputArtifacts[1].name", "artifact-not-produced")],
    ),
    (
        "input-from-own-output",
        _set("Compile", inputArtifacts=[{"name": "built"}]),
        None,
        [("stages[1].actions[0].inputArtifacts[0].name", "artifact-produced-later")],
    ),
    (
        "input-from-next-stage",
        _both(
            _set(
                "Compile",
                inputArtifacts=[{"name": "src"}, {"name": "report"}],
                configuration={"PrimarySource": "src"},
            ),
            _set("Release", outputArtifacts=[{"name": "report"}]),
        ),
        None,
        [("stages[1].actions[0].inputArtifacts[1].name", "artifact-produced-later")],
    ),
    (
        "approval-with-input",
        _set("Approve", inputArtifacts=[{"name": "src"}]),
        None,
        [("stages[2].actions[0].inputArtifacts", "too-many-input-artifacts")],
    ),
    (
        "codebuild-without-input",
        _set("Compile", inputArtifacts=[]),
        None,
        [("stages[1].actions[0].inputArtifacts", "too-few-input-artifacts")],
    ),
    (
        "cloudformation-two-outputs",
        _set("Release", outputArtifacts=[{"name": "a"}, {"name": "b"}]),
        None,
        [("stages[2].actions[1].outputArtifacts", "too-many-output-artifacts")],
    ),
    (
        "source-without-output",
        _set("Checkout", outputArtifacts=[]),
        None,
        [
            ("stages[0].actions[0].outputArtifacts", "too-few-output-artifacts"),
            ("stages[1].actions[0].inputArtifacts[0].name", "artifact-not-produced"),
        ],
    ),
    (
        "codebuild-two-inputs-no-primary",
        _both(_second_source(), _set("Compile", inputArtifacts=[{"name": "src"}, {"name": "tpl"}])),
        None,
        [("stages[1].actions[0].configuration", "primary-source-required")],
    ),
    (
        "codebuild-primary-not-an-input",
        _compile_from_both_sources("source"),
        None,
        [("stages[1].actions[0].configuration.PrimarySource", "primary-source-unknown")],
    ),
    ("no-artifact-store", _delete("artifactStore"), None, [("artifactStore", "artifact-store-missing")]),
    (
        "both-artifact-stores",
        _top(artifactStores={"us-east-1": _store()}),
        None,
        [("artifactStores", "artifact-store-conflict")],
    ),
    (
        "cross-region-with-single-store",
        _set("Release", region="eu-west-1"),
        "us-east-1",
        [("stages[2].actions[1].region", "cross-region-requires-artifact-stores")],
    ),
    (
        "several-regions-unknown-pipeline-region",
        _both(_set("Release", region="eu-west-1"), _set("Compile", region="us-east-1")),
        None,
        [("artifactStore", "cross-region-requires-artifact-stores")],
    ),
    (
        "action-region-without-store",
        _both(
            _delete("artifactStore"),
            _top(artifactStores={"us-east-1": _store()}),
            _set("Release", region="eu-west-1"),
        ),
        "us-east-1",
        [("stages[2].actions[1].region", "artifact-store-region-missing")],
    ),
    (
        "pipeline-region-without-store",
        _both(_REGIONAL_STORES, _set("Release", region="eu-west-1")),
        "eu-central-1",
        [("artifactStores", "artifact-store-region-missing")],
    ),
    (
        "cross-region-source",
        _both(_REGIONAL_STORES, _set("Checkout", region="eu-west-1")),
        "us-east-1",
        [("stages[0].actions[0].region", "cross-region-not-allowed")],
    ),
    (
        "cross-region-third-party",
        _both(
            _REGIONAL_STORES,
            _set(
                "Release",
                region="eu-west-1",
                actionTypeId={
                    "category": "Deploy",
                    "owner": "ThirdParty",
                    "provider": "Vendor",
                    "version": "1",
                },
            ),
        ),
        "us-east-1",
        [("stages[2].actions[1].region", "cross-region-not-allowed")],
    ),
    (
        "queued-on-v1",
        _top(pipelineType="V1", executionMode="QUEUED"),
        None,
        [("executionMode", "requires-v2")],
    ),
    (
        "parallel-on-explicit-v1",
        _top(pipelineType="V1", executionMode="PARALLEL"),
        None,
        [("executionMode", "requires-v2")],
    ),
    (
        "variables-on-v1",
        _top(pipelineType="V1", variables=[{"name": "env"}]),
        None,
        [("variables", "requires-v2")],
    ),
    (
        "triggers-on-v1",
        _top(pipelineType="V1", triggers=[_trigger("Checkout")]),
        None,
        [("triggers", "requires-v2")],
    ),
    (
        "stage-condition-on-v1",
        _both(_top(pipelineType="V1"), _stage_block("Deploy", "onFailure", {"result": "ROLLBACK"})),
        None,
        [("stages[2].onFailure", "requires-v2")],
    ),
    (
        "rollback-in-parallel",
        _both(_V2_PARALLEL, _stage_block("Deploy", "onFailure", {"result": "ROLLBACK"})),
        None,
        [("stages[2].onFailure.result", "rollback-in-parallel-mode")],
    ),
    (
        "rollback-condition-in-parallel",
        _both(_V2_PARALLEL, _stage_block("Deploy", "onSuccess", _condition("ROLLBACK"))),
        None,
        [("stages[2].onSuccess.conditions[0].result", "rollback-in-parallel-mode")],
    ),
    (
        "timeout-on-deploy",
        _set("Release", timeoutInMinutes=60),
        None,
        [("stages[2].actions[1].timeoutInMinutes", "timeout-not-allowed")],
    ),
    (
        "timeout-out-of-range",
        _set("Approve", timeoutInMinutes=4),
        None,
        [("stages[2].actions[0].timeoutInMinutes", "out-of-range")],
    ),
    (
        "trigger-unknown-action",
        _both(_V2, _top(triggers=[_trigger("Chekout")])),
        None,
        [("triggers[0].gitConfiguration.sourceActionName", "trigger-source-unknown")],
    ),
    (
        "trigger-names-build-action",
        _both(_V2, _top(triggers=[_trigger("Compile")])),
        None,
        [("triggers[0].gitConfiguration.sourceActionName", "trigger-source-unknown")],
    ),
    (
        "trigger-on-codecommit",
        _both(
            _V2,
            _top(triggers=[_trigger("Checkout")]),
            _set(
                "Checkout",
                actionTypeId={"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
            ),
        ),
        None,
        [("triggers[0].gitConfiguration.sourceActionName", "trigger-source-not-connection")],
    ),
    (
        "two-triggers-one-source",
        _both(_V2, _top(triggers=[_trigger("Checkout"), _trigger("Checkout")])),
        None,
        [("triggers[1].gitConfiguration.sourceActionName", "duplicate-trigger")],
    ),
    (
        "duplicate-variable",
        _both(_V2, _top(variables=[{"name": "env"}, {"name": "env", "defaultValue": "prod"}])),
        None,
        [("variables[1].name", "duplicate-variable")],
    ),
    (
        "undeclared-variable",
        _both(
            _V2,
            _top(variables=[{"name": "stage"}]),
            _set("Approve", configuration={"CustomData": "#{variables.stag}"}),
        ),
        None,
        [("stages[2].actions[0].configuration.CustomData", "unknown-variable")],
    ),
    (
        "duplicate-namespace",
        _set("Release", namespace="BuildVariables"),
        None,
        [("stages[2].actions[1].namespace", "duplicate-namespace")],
    ),
    (
        "undeclared-namespace",
        _set("Approve", configuration={"CustomData": "#{SrcVariables.CommitId}"}),
        None,
        [("stages[2].actions[0].configuration.CustomData", "unknown-namespace")],
    ),
    (
        "namespace-of-later-action",
        _both(
            _set("Release", namespace="ReleaseVariables"),
            _set("Approve", configuration={"CustomData": "#{ReleaseVariables.StackId}"}),
        ),
        None,
        [("stages[2].actions[0].configuration.CustomData", "namespace-declared-later")],
    ),
    (
        "before-entry-sees-only-earlier-stages",
        _both(
            _V2, _stage_block("Build", "beforeEntry", _condition("SKIP", {"Variable": "#{BuildVariables.X}"}))
        ),
        None,
        [("stages[1].beforeEntry.conditions[0].rules[0].configuration.Variable", "namespace-declared-later")],
    ),
]

# (id, mutation, region) — each a valid variant exercising the rule its negative twin breaks
POSITIVE: list[tuple[str, Mutation, str | None]] = [
    ("base", lambda p: None, None),
    ("two-stages", lambda p: p.update(stages=p["stages"][:2]), None),
    ("50-stages", _approval_stages(47), None),
    ("50-actions-in-a-stage", _deploy_actions([_approval(f"A{index}") for index in range(50)]), None),
    (
        "500-actions",
        _both(_approval_stages(9, per_stage=50), _approval_stages(1, per_stage=46, prefix="Last")),
        None,
    ),
    ("same-action-name-in-other-stage", _set("Approve", name="Compile"), None),
    ("two-sources-in-first-stage", _second_source(), None),
    (
        "input-from-earlier-run-order",
        _deploy_actions(
            [
                _action(
                    "Package",
                    "Build",
                    "CodeBuild",
                    inputArtifacts=[{"name": "built"}],
                    outputArtifacts=[{"name": "pkg"}],
                ),
                _action(
                    "Release",
                    "Deploy",
                    "CloudFormation",
                    runOrder=3,
                    inputArtifacts=[{"name": "pkg"}, {"name": "src"}],
                ),
            ]
        ),
        None,
    ),
    ("run-order-gaps", _both(_set("Approve", runOrder=3), _set("Release", runOrder=7)), None),
    (
        "unknown-provider-and-custom-pass",
        _add_action(
            "Deploy",
            _action(
                "Ship", "Deploy", "InHouse", owner="Custom", inputArtifacts=[{"name": "src"}] * 7, runOrder=3
            ),
        ),
        None,
    ),
    (
        "codebuild-two-inputs-with-primary",
        _compile_from_both_sources("tpl"),
        None,
    ),
    (
        "artifact-stores-only",
        _both(_delete("artifactStore"), _top(artifactStores={"us-east-1": _store()})),
        "us-east-1",
    ),
    (
        "cross-region-with-stores",
        _both(_REGIONAL_STORES, _set("Release", region="eu-west-1")),
        "us-east-1",
    ),
    (
        "same-region-everywhere-unknown-pipeline-region",
        _both(_set("Checkout", region="eu-west-1"), _set("Release", region="eu-west-1")),
        None,
    ),
    ("same-region-as-given", _set("Checkout", region="us-east-1"), "us-east-1"),
    (
        "v2-features",
        _both(
            _V2,
            _top(
                executionMode="QUEUED",
                variables=[{"name": "env", "defaultValue": "dev"}],
                triggers=[_trigger("Checkout")],
            ),
            _stage_block("Deploy", "onFailure", {"result": "ROLLBACK"}),
            _stage_block("Build", "beforeEntry", _condition("SKIP")),
            _set(
                "Approve",
                configuration={"CustomData": "#{variables.env} #{codepipeline.PipelineExecutionId}"},
            ),
        ),
        None,
    ),
    (
        "parallel-with-retry",
        _both(_V2_PARALLEL, _stage_block("Deploy", "onFailure", {"result": "RETRY"})),
        None,
    ),
    ("superseded-on-v1", _top(pipelineType="V1", executionMode="SUPERSEDED"), None),
    ("empty-v2-lists-on-v1", _top(variables=[], triggers=[]), None),
    ("approval-timeout", _set("Approve", timeoutInMinutes=60), None),
    (
        "on-success-sees-own-stage",
        _both(
            _V2, _stage_block("Build", "onSuccess", _condition("FAIL", {"Variable": "#{BuildVariables.X}"}))
        ),
        None,
    ),
]


@pytest.mark.parametrize(
    ("mutation", "region", "expected"), [case[1:] for case in NEGATIVE], ids=[case[0] for case in NEGATIVE]
)
def test_rule_violations_are_reported(
    mutation: Mutation, region: str | None, expected: list[tuple[str, str]]
) -> None:
    """Breaking one rule yields exactly its problem(s) at the expected paths, with a stable code."""
    pipeline = base()
    mutation(pipeline)
    problems = find_problems(pipeline, region=region)
    assert [(problem.path, problem.code) for problem in problems] == expected
    assert all(problem.message for problem in problems)


@pytest.mark.parametrize(
    ("mutation", "region"), [case[1:] for case in POSITIVE], ids=[case[0] for case in POSITIVE]
)
def test_valid_variants_have_no_problems(mutation: Mutation, region: str | None) -> None:
    """Valid variants at the edge of each rule are accepted (no false positives)."""
    pipeline = base()
    mutation(pipeline)
    assert find_problems(pipeline, region=region) == []


def test_every_semantic_code_has_a_negative_case_and_documentation() -> None:
    """Each semantic code is exercised by a negative case above and explained in the module docstring."""
    exercised = {code for case in NEGATIVE for _, code in case[3]}
    assert validation._SEMANTIC_CODES - exercised == set()
    documentation = validation.__doc__ or ""
    documented = set(re.findall(r"^  ([a-z0-9]+(?:-[a-z0-9]+)+)(?:\s|$)", documentation, re.MULTILINE))
    assert documented == validation._SEMANTIC_CODES


def test_default_pipeline_type_decides_when_pipeline_type_is_absent() -> None:
    """Without pipelineType, V2-only features make the pipeline V2 (as AWS documents) unless told V1."""
    pipeline = base()
    pipeline["executionMode"] = "QUEUED"
    assert find_problems(pipeline) == []
    strict = find_problems(pipeline, default_pipeline_type="V1")
    assert [problem.code for problem in strict] == ["requires-v2"]
    assert "not set, so it is taken as V1" in strict[0].message
    pipeline["pipelineType"] = "V1"
    assert [problem.code for problem in find_problems(pipeline)] == ["requires-v2"]


def test_problems_come_in_document_order() -> None:
    """Problems are sorted by where they sit in the document, absent members after present ones."""
    pipeline = base()
    del pipeline["roleArn"]
    pipeline["stages"][2]["actions"][1]["inputArtifacts"] = [{"name": "nope"}]
    pipeline["stages"][0]["actions"][0]["name"] = "Check out"
    pipeline["name"] = "demo pipeline"
    assert [problem.path for problem in find_problems(pipeline)] == [
        "name",
        "stages[0].actions[0].name",
        "stages[2].actions[1].inputArtifacts[0].name",
        "roleArn",
    ]


def test_shape_and_semantic_problems_are_reported_together() -> None:
    """Shape problems (from botocore's model) and semantic problems arrive in one list."""
    pipeline = base()
    pipeline["stages"][1]["actions"][0]["outputArtifacts"] = [{"name": "built.zip"}]
    found = [(problem.path, problem.code) for problem in find_problems(pipeline)]
    assert found == [
        ("stages[1].actions[0].outputArtifacts[0].name", "pattern"),
        ("stages[2].actions[1].inputArtifacts[0].name", "artifact-not-produced"),
    ]


def test_messages_say_how_to_fix() -> None:
    """Messages name the culprit and the remedy; str() shows path, message and code."""
    pipeline = base()
    _package_in_parallel_with_release()(pipeline)
    (problem,) = find_problems(pipeline)
    assert str(problem) == (
        "stages[2].actions[1].inputArtifacts[0].name: input artifact 'pkg' is produced by action 'Package' "
        "(stage 'Deploy', runOrder 1), which runs in parallel with 'Release' (same runOrder); give 'Release' a "
        "runOrder greater than 1 [artifact-produced-later]"
    )
    pipeline["stages"][2]["actions"][1]["inputArtifacts"] = [{"name": "pgk"}]
    (problem,) = find_problems(pipeline)
    assert "did you mean 'pkg'?" not in problem.message  # pkg is not produced *before* Release
    assert "available here: built, src" in problem.message


def _many_sources(pipeline: Pipeline, count: int) -> None:
    """Give the source stage `count` more S3 sources, each with its own output artifact and namespace."""
    _stage(pipeline, "Source")["actions"] += [
        _action(
            f"Source-{index}",
            "Source",
            "S3",
            configuration={"S3Bucket": "sources", "S3ObjectKey": f"app-{index}.zip"},
            outputArtifacts=[{"name": f"artifact-{index:03d}"}],
            namespace=f"Variables{index:03d}",
        )
        for index in range(count)
    ]


def test_near_misses_are_suggested_among_many_names() -> None:
    """In a large pipeline, a misspelt artifact or namespace still gets its "did you mean" suggestion."""
    pipeline = base()
    _many_sources(pipeline, 120)
    compile_action = _find(pipeline, "Compile")
    compile_action["inputArtifacts"] = [{"name": "artifcat-077"}]
    compile_action["configuration"]["EnvironmentVariables"] = '[{"value": "#{Varaibles042.CommitId}"}]'
    messages = {problem.code: problem.message for problem in find_problems(pipeline)}
    assert "did you mean 'artifact-077'?" in messages["artifact-not-produced"]
    assert "did you mean 'Variables042'?" in messages["unknown-namespace"]


def test_long_lists_of_available_artifacts_are_cut() -> None:
    """A message lists at most 10 available artifacts, after saying how many there are."""
    pipeline = base()
    _many_sources(pipeline, 120)
    _find(pipeline, "Compile")["inputArtifacts"] = [{"name": "missing"}]
    (problem,) = [found for found in find_problems(pipeline) if found.code == "artifact-not-produced"]
    assert "available here: 121 artifacts, the first " in problem.message
    assert problem.message.endswith("artifact-008, artifact-009, …)")
    assert problem.message.count("artifact-") == 10
    assert len(problem.message) < 400


def test_problem_str_for_the_pipeline_itself() -> None:
    """A problem about the whole pipeline prints a readable placeholder path."""
    assert str(Problem(path="", code="type", message="x")) == "<pipeline>: x [type]"


def test_non_object_pipeline_is_one_problem() -> None:
    """A pipeline that is not an object yields one type problem instead of an exception."""
    assert [(p.path, p.code) for p in find_problems(["stages"])] == [("", "type")]  # type: ignore[arg-type]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "actions",
                    "actionTypeId",
                    "category",
                    "region",
                    "inputArtifacts",
                    "configuration",
                    "x",
                ]
            ),
            children,
            max_size=3,
        )
    ),
    max_leaves=10,
)
_SPOTS = st.sampled_from(
    [
        ("stages",),
        ("stages", 1),
        ("stages", 1, "actions"),
        ("stages", 1, "actions", 0),
        ("stages", 1, "actions", 0, "actionTypeId"),
        ("stages", 1, "actions", 0, "inputArtifacts"),
        ("stages", 1, "actions", 0, "configuration"),
        ("stages", 1, "actions", 0, "runOrder"),
        ("stages", 2, "onFailure"),
        ("triggers",),
        ("variables",),
        ("artifactStores",),
    ]
)


@settings(max_examples=150, deadline=None)
@given(spot=_SPOTS, junk=_JSON)
def test_garbage_anywhere_is_reported_not_raised(spot: tuple[str | int, ...], junk: Any) -> None:
    """Whatever value sits anywhere in the document, find_problems returns problems and never raises."""
    pipeline = copy.deepcopy(base())
    node: Any = pipeline
    for step in spot[:-1]:
        node = node[step]
    node[spot[-1]] = junk
    problems = find_problems(pipeline, region="us-east-1")
    assert all(isinstance(problem, Problem) for problem in problems)
