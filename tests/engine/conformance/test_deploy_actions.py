"""Deploy actions report where they deployed: entityUrl, externalExecutionUrl and (CodeDeploy) a summary."""

from __future__ import annotations

from typing import Any

from ._support import (
    REGION,
    Env,
    cloudformation_action,
    codedeploy_action,
    s3_deploy_action,
    s3_source,
    stage,
)

CONSOLE = "https://console.aws.amazon.com"


def _ecs_action(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "ECS", "version": "1"},
        "runOrder": 1,
        "configuration": {"ClusterName": "shop", "ServiceName": "web", "FileName": "images.json"},
        "inputArtifacts": [{"name": "SourceOutput"}],
        "outputArtifacts": [],
    }


def _deploy_everything(env: Env) -> str:
    actions = [
        codedeploy_action("CodeDeploy", input_artifact="SourceOutput", deployment_group="prod"),
        cloudformation_action("Stack", role_arn=env.role_arn),
        _ecs_action("Service"),
        s3_deploy_action("Site"),
    ]
    execution = env.create(env.declaration(stage("Source", s3_source()), stage("Deploy", *actions)))
    env.run_until_status(execution, "Succeeded")
    return execution


def test_deploy_actions_link_to_what_they_deploy(env: Env) -> None:
    """Each deploy provider shows an entityUrl and an externalExecutionUrl into its own console."""
    _deploy_everything(env)
    states = {state["actionName"]: state for state in env.stage_state("Deploy")["actionStates"]}

    codedeploy = states["CodeDeploy"]
    deployment = codedeploy["latestExecution"]["externalExecutionId"]
    assert codedeploy["entityUrl"] == (
        f"{CONSOLE}/codedeploy/home?region={REGION}#/applications/conformance-app/deployment-groups/prod"
    )
    assert codedeploy["latestExecution"]["externalExecutionUrl"] == (
        f"{CONSOLE}/codedeploy/home?region={REGION}#/deployments/{deployment}"
    )
    stack = states["Stack"]
    assert (
        stack["entityUrl"]
        == f"{CONSOLE}/cloudformation/home?region={REGION}#/stacks?filteringText=stack-Stack"
    )
    assert stack["latestExecution"]["externalExecutionUrl"] == (
        f"{CONSOLE}/cloudformation/home?region={REGION}#/stacks/stackinfo?stackId=stack-Stack"
    )
    service = states["Service"]
    assert service["entityUrl"] == f"{CONSOLE}/ecs/v2/clusters/shop/services/web?region={REGION}"
    assert service["latestExecution"]["externalExecutionUrl"].startswith(f"{CONSOLE}/ecs/v2/clusters/shop/")
    site = states["Site"]
    assert site["entityUrl"] == f"{CONSOLE}/s3/home?region={REGION}#&bucket=conformance-site"
    assert "conformance-site" in site["latestExecution"]["externalExecutionUrl"]


def test_codedeploy_action_summary_says_the_deployment_succeeded(env: Env) -> None:
    """A CodeDeploy action that succeeded shows summary "Deployment Succeeded" in state and history."""
    execution = _deploy_everything(env)
    states = {state["actionName"]: state for state in env.stage_state("Deploy")["actionStates"]}
    assert states["CodeDeploy"]["latestExecution"]["summary"] == "Deployment Succeeded"
    [run] = env.runs_of("Deploy", "CodeDeploy", execution)
    result = run["output"]["executionResult"]
    assert result["externalExecutionSummary"] == "Deployment Succeeded"
    assert result["externalExecutionUrl"].endswith(f"#/deployments/{result['externalExecutionId']}")


def test_scripted_deployment_links_to_its_scripted_deployment_id(env: Env) -> None:
    """A scripted CodeDeploy run with an external execution id links to that deployment."""
    env.aws.script_action("conformance", "Deploy", "CodeDeploy", external_execution_id="d-SCRIPTED1")
    execution = env.create(
        env.declaration(
            stage("Source", s3_source()),
            stage("Deploy", codedeploy_action("CodeDeploy", input_artifact="SourceOutput")),
        )
    )
    env.run_until_status(execution, "Succeeded")
    [run] = env.runs_of("Deploy", "CodeDeploy", execution)
    result = run["output"]["executionResult"]
    assert result["externalExecutionId"] == "d-SCRIPTED1"
    assert (
        result["externalExecutionUrl"]
        == f"{CONSOLE}/codedeploy/home?region={REGION}#/deployments/d-SCRIPTED1"
    )
    assert result["externalExecutionSummary"] == "Deployment Succeeded"
