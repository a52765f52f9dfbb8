"""Reads: versions, triggers and variables, GetPipelineState, the other read APIs, and pagination."""

from __future__ import annotations

from typing import Any, cast

import pytest

from ._support import (
    HOUR,
    PIPELINE,
    UUID,
    Env,
    approval_action,
    codebuild_action,
    codedeploy_action,
    codestar_source,
    expect_error,
    s3_source,
    stage,
    ts,
)

UNKNOWN_ID = "3b7a1c52-9d1e-4f0a-8b6c-2e5d4f3a1b0c"


# -- versions and creation -----------------------------------------------------------------------------------


def test_create_pipeline_starts_first_execution_with_trigger_CreatePipeline(env: Env) -> None:
    """CreatePipeline stores version 1 (ignoring any supplied version) and starts one execution."""
    declaration = env.linear(("Deploy", 60))
    declaration["version"] = 7
    response = env.cp.create_pipeline(pipeline=cast("Any", declaration))
    assert response["pipeline"]["version"] == 1
    [summary] = env.summaries()
    assert UUID.fullmatch(summary["pipelineExecutionId"])
    assert summary["trigger"]["triggerType"] == "CreatePipeline"
    assert summary["status"] == "InProgress"


def test_update_pipeline_bumps_version_and_starts_nothing(env: Env) -> None:
    """Each UpdatePipeline adds 1 to the version, old versions stay readable, no execution starts."""
    first = env.create(env.linear(("Deploy", 60)))
    env.run_until_status(first, "Succeeded")
    created = ts(env.cp.get_pipeline(name=PIPELINE)["metadata"]["created"])
    env.aws.clock.advance(HOUR)
    declaration = env.stored()
    declaration["stages"][1]["actions"][0]["configuration"]["DeploymentGroupName"] = "v2"
    assert env.update(declaration) == 2
    declaration["stages"][1]["actions"][0]["configuration"]["DeploymentGroupName"] = "v3"
    assert env.update(declaration) == 3

    current = env.cp.get_pipeline(name=PIPELINE)
    assert current["pipeline"]["version"] == 3
    assert ts(current["metadata"]["updated"]) == pytest.approx(env.now())
    assert ts(current["metadata"]["created"]) == pytest.approx(created)
    assert (
        current["metadata"]["pipelineArn"]
        == f"arn:aws:codepipeline:us-east-1:{env.aws.account_id}:{PIPELINE}"
    )
    old = env.cp.get_pipeline(name=PIPELINE, version=2)["pipeline"]
    assert old["version"] == 2
    assert old["stages"][1]["actions"][0]["configuration"]["DeploymentGroupName"] == "v2"
    assert len(env.summaries()) == 1
    assert env.state()["pipelineVersion"] == 3


def test_get_pipeline_error_PipelineVersionNotFoundException(env: Env) -> None:
    """Reading a version that never existed answers PipelineVersionNotFoundException."""
    env.create(env.linear(("Deploy", 60)))
    with expect_error("PipelineVersionNotFoundException"):
        env.cp.get_pipeline(name=PIPELINE, version=2)


def test_get_pipeline_error_PipelineNotFoundException_message(env: Env) -> None:
    """An unknown name answers PipelineNotFoundException whose message names the pipeline."""
    with expect_error("PipelineNotFoundException") as caught:
        env.cp.get_pipeline(name="missing")
    assert "does not have a pipeline with name 'missing'" in caught[0].response["Error"]["Message"]


def test_get_pipeline_error_ValidationException(env: Env) -> None:
    """A name breaking the pattern answers ValidationException."""
    with expect_error("ValidationException"):
        env.cp.get_pipeline(name="bad name")


# -- triggers, revisions and variables -----------------------------------------------------------------------


def test_start_execution_trigger_and_variables_recorded(env: Env) -> None:
    """StartPipelineExecution records its trigger and resolves ``#{variables.X}`` (overrides beat defaults)."""
    deploy = codedeploy_action("Deploy", input_artifact="SourceOutput")
    deploy["configuration"]["DeploymentGroupName"] = "#{variables.TARGET}-#{SourceVariables.ETag}"
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", duration=60)
    first = env.create(
        env.declaration(
            stage("Source", s3_source()),
            stage("Deploy", deploy),
            variables=[
                {"name": "TARGET", "defaultValue": "staging"},
                {"name": "REGION", "defaultValue": "eu"},
            ],
        )
    )
    env.run_until_status(first, "Succeeded")
    execution = env.start(variables=[{"name": "TARGET", "value": "production"}])
    env.run_until_status(execution, "Succeeded")

    detail = env.execution(execution)
    assert detail["trigger"]["triggerType"] == "StartPipelineExecution"
    assert {v["name"]: v["resolvedValue"] for v in detail["variables"]} == {
        "TARGET": "production",
        "REGION": "eu",
    }
    resolved = env.runs_of("Deploy", "Deploy", execution)[0]["input"]["resolvedConfiguration"]
    assert resolved["DeploymentGroupName"].startswith("production-")
    assert "#{" not in resolved["DeploymentGroupName"]
    assert {v["name"]: v["resolvedValue"] for v in env.execution(first)["variables"]}["TARGET"] == "staging"


def test_start_execution_source_revision_override(env: Env) -> None:
    """``sourceRevisions`` pins the revision a source action uses; it shows in artifactRevisions."""
    first = env.create(env.linear(("Deploy", 60)))
    env.run_until_status(first, "Succeeded")
    execution = env.start(
        sourceRevisions=[
            {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": "v-42"}
        ]
    )
    env.run_until_status(execution, "Succeeded")
    [revision] = env.execution(execution)["artifactRevisions"]
    assert revision["name"] == "SourceOutput"
    assert revision["revisionId"] == "v-42"


def test_push_revision_starts_execution_with_that_revision(env: Env) -> None:
    """A push to the watched branch of a connection source starts an execution carrying that commit."""
    commit = "c0ffee" + "0" * 34
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", duration=60)
    first = env.create(
        env.declaration(
            stage("Source", codestar_source(branch="main", account_id=env.aws.account_id)),
            stage("Deploy", codedeploy_action("Deploy", input_artifact="SourceOutput")),
        )
    )
    env.run_until_status(first, "Succeeded")
    assert env.aws.push_revision(PIPELINE, branch="other", revision_id="f" * 40) is None
    execution = env.aws.push_revision(PIPELINE, branch="main", revision_id=commit)
    assert execution is not None
    env.run_until_status(execution, "Succeeded")
    assert env.execution(execution)["artifactRevisions"][0]["revisionId"] == commit
    assert env.action_state("Source", "Source")["currentRevision"]["revisionId"] == commit


def test_v2_trigger_branch_filter_decides_which_pushes_start(env: Env) -> None:
    """A V2 push trigger with a branch filter starts an execution (WebhookV2) only for matching branches."""
    declaration = env.declaration(
        stage("Source", codestar_source(branch="main", account_id=env.aws.account_id)),
        stage("Deploy", codedeploy_action("Deploy", input_artifact="SourceOutput")),
        triggers=[
            {
                "providerType": "CodeStarSourceConnection",
                "gitConfiguration": {
                    "sourceActionName": "Source",
                    "push": [{"branches": {"includes": ["release/*"]}}],
                },
            }
        ],
    )
    env.create(declaration)
    assert env.aws.push_revision(PIPELINE, branch="feature/x", revision_id="a" * 40) is None
    execution = env.aws.push_revision(PIPELINE, branch="release/1.0", revision_id="b" * 40)
    assert execution is not None
    assert env.execution(execution)["trigger"]["triggerType"] == "WebhookV2"
    assert len(env.summaries()) == 2


def test_put_action_revision_starts_execution(env: Env) -> None:
    """PutActionRevision with an unseen revision reports newRevision and starts an execution."""
    first = env.create(env.linear(("Deploy", 60)))
    env.run_until_status(first, "Succeeded")
    response = env.cp.put_action_revision(
        pipelineName=PIPELINE,
        stageName="Source",
        actionName="Source",
        actionRevision={
            "revisionId": "rev-9",
            "revisionChangeId": "change-9",
            "created": env.aws.clock.datetime(),
        },
    )
    assert response["newRevision"] is True
    execution = response["pipelineExecutionId"]
    assert env.execution(execution)["trigger"]["triggerType"] == "PutActionRevision"


@pytest.mark.parametrize(
    ("stage_name", "action", "code"),
    [
        ("Nowhere", "Source", "StageNotFoundException"),
        ("Source", "Nobody", "ActionNotFoundException"),
    ],
)
def test_put_action_revision_errors_not_found(env: Env, stage_name: str, action: str, code: str) -> None:
    """PutActionRevision on an unknown stage or action answers the matching not-found error."""
    env.create(env.linear(("Deploy", 60)))
    with expect_error(code):
        env.cp.put_action_revision(
            pipelineName=PIPELINE,
            stageName=stage_name,
            actionName=action,
            actionRevision={"revisionId": "r", "revisionChangeId": "c", "created": env.aws.clock.datetime()},
        )


def test_put_action_revision_error_PipelineNotFoundException(env: Env) -> None:
    """PutActionRevision on an unknown pipeline answers PipelineNotFoundException."""
    with expect_error("PipelineNotFoundException"):
        env.cp.put_action_revision(
            pipelineName="missing",
            stageName="Source",
            actionName="Source",
            actionRevision={"revisionId": "r", "revisionChangeId": "c", "created": env.aws.clock.datetime()},
        )


# -- GetPipelineState ----------------------------------------------------------------------------------------


def test_state_lists_every_declared_stage_in_order_before_any_run(env: Env) -> None:
    """Every declared stage appears, in order, with the top-level fields; unrun stages have no latestExecution."""
    env.cp.create_pipeline(pipeline=cast("Any", env.linear(("Build", 60), ("Test", 60), ("Deploy", 60))))
    state = env.state()
    assert state["pipelineName"] == PIPELINE
    assert state["pipelineVersion"] == 1
    assert "created" in state
    assert "updated" in state
    assert [entry["stageName"] for entry in state["stageStates"]] == ["Source", "Build", "Test", "Deploy"]
    for entry in state["stageStates"][1:]:
        assert "latestExecution" not in entry
        assert entry["inboundTransitionState"]["enabled"] is True


def test_state_stages_show_different_executions(env: Env) -> None:
    """Stages routinely show different latest executions; latestExecution carries id, status and type."""
    first = env.create(env.linear(("Build", 60), ("Deploy", 3600)))
    env.run_until_in_stage(first, "Deploy")
    second = env.start()
    env.run_until_in_stage(second, "Build")

    build = env.stage_state("Build")["latestExecution"]
    deploy = env.stage_state("Deploy")["latestExecution"]
    assert (build["pipelineExecutionId"], build["status"], build["type"]) == (
        second,
        "InProgress",
        "STANDARD",
    )
    assert (deploy["pipelineExecutionId"], deploy["status"], deploy["type"]) == (
        first,
        "InProgress",
        "STANDARD",
    )


def test_state_action_fields(env: Env) -> None:
    """Action states carry actionExecutionId, status, lastStatusChange; sources a currentRevision."""
    execution = env.create(env.linear(("Deploy", 600)))
    env.run_until_in_stage(execution, "Deploy")
    source = env.action_state("Source", "Source")
    assert source["currentRevision"]["revisionId"]
    assert source["latestExecution"]["status"] == "Succeeded"
    deploy = env.action_state("Deploy", "Deploy")["latestExecution"]
    assert deploy["status"] == "InProgress"
    assert deploy["actionExecutionId"] == env.runs_of("Deploy", "Deploy", execution)[0]["actionExecutionId"]
    assert ts(deploy["lastStatusChange"]) == pytest.approx(
        ts(env.runs_of("Deploy", "Deploy", execution)[0]["startTime"])
    )
    assert "token" not in deploy


def test_state_codebuild_action_external_execution_id_is_build_id(env: Env) -> None:
    """A CodeBuild action's externalExecutionId is the build id ``<project>:<uuid>`` (the engine's choice)."""
    execution = env.create(
        env.declaration(stage("Source", s3_source()), stage("Build", codebuild_action(outputs=())))
    )
    env.run_until_status(execution, "Succeeded")
    build_id = env.action_state("Build", "Build")["latestExecution"]["externalExecutionId"]
    project, _, uuid = build_id.partition(":")
    assert project == "conformance-build"
    assert UUID.fullmatch(uuid)
    build = env.build(build_id)
    assert build["initiator"] == f"codepipeline/{PIPELINE}"
    assert build["source"]["type"] == "CODEPIPELINE"
    assert build["buildStatus"] == "SUCCEEDED"


def test_state_approval_token_only_while_pending(env: Env) -> None:
    """The token field exists only on a pending approval's latestExecution."""
    execution = env.create(
        env.declaration(stage("Source", s3_source()), stage("Approval", approval_action()))
    )
    env.run_until(lambda: env.action_status("Approval", "Approve") == "InProgress", limit=HOUR)
    token = env.action_state("Approval", "Approve")["latestExecution"]["token"]
    env.cp.put_approval_result(
        pipelineName=PIPELINE,
        stageName="Approval",
        actionName="Approve",
        result={"summary": "", "status": "Approved"},
        token=token,
    )
    env.run_until_status(execution, "Succeeded", limit=HOUR)
    assert "token" not in env.action_state("Approval", "Approve")["latestExecution"]


def test_state_error_PipelineNotFoundException(env: Env) -> None:
    """GetPipelineState of an unknown pipeline answers PipelineNotFoundException."""
    with expect_error("PipelineNotFoundException"):
        env.state("missing")


def test_state_error_ValidationException(env: Env) -> None:
    """A name over 100 characters answers ValidationException."""
    with expect_error("ValidationException"):
        env.state("p" * 101)


# -- GetPipelineExecution ------------------------------------------------------------------------------------


def test_get_execution_fields(env: Env) -> None:
    """GetPipelineExecution reports name, version, id, status, revisions, trigger, mode and type."""
    execution = env.create(env.linear(("Deploy", 60), execution_mode="QUEUED"))
    env.run_until_status(execution, "Succeeded")
    detail = env.execution(execution)
    assert detail["pipelineName"] == PIPELINE
    assert detail["pipelineVersion"] == 1
    assert detail["pipelineExecutionId"] == execution
    assert detail["status"] == "Succeeded"
    assert detail["executionMode"] == "QUEUED"
    assert detail["executionType"] == "STANDARD"
    assert detail["trigger"]["triggerType"] == "CreatePipeline"
    [revision] = detail["artifactRevisions"]
    assert revision["name"] == "SourceOutput"
    assert revision["revisionId"]


def test_get_execution_error_PipelineExecutionNotFoundException(env: Env) -> None:
    """An unknown id, or the id of another pipeline's execution, answers PipelineExecutionNotFoundException."""
    env.create(env.linear(("Deploy", 60)))
    other = env.create(env.linear(("Deploy", 60), name="other"))
    with expect_error("PipelineExecutionNotFoundException"):
        env.execution(UNKNOWN_ID)
    with expect_error("PipelineExecutionNotFoundException"):
        env.execution(other)


def test_get_execution_error_PipelineNotFoundException(env: Env) -> None:
    """GetPipelineExecution in an unknown pipeline answers PipelineNotFoundException."""
    with expect_error("PipelineNotFoundException"):
        env.execution(UNKNOWN_ID, "missing")


def test_get_execution_error_ValidationException(env: Env) -> None:
    """A malformed execution id answers ValidationException."""
    env.create(env.linear(("Deploy", 60)))
    with expect_error("ValidationException"):
        env.execution("not-a-uuid")


# -- ListPipelineExecutions ----------------------------------------------------------------------------------


def test_list_executions_newest_first_paginated(env: Env) -> None:
    """Summaries come newest first; maxResults pages them with nextToken and the pages join up exactly."""
    started = [env.create(env.linear(("Deploy", 60), execution_mode="PARALLEL"))]
    for _ in range(4):
        env.aws.clock.advance(10)
        started.append(env.start())

    page = env.cp.list_pipeline_executions(pipelineName=PIPELINE, maxResults=2)
    assert [s["pipelineExecutionId"] for s in page["pipelineExecutionSummaries"]] == started[::-1][:2]
    ids = [s["pipelineExecutionId"] for s in page["pipelineExecutionSummaries"]]
    while "nextToken" in page:
        page = env.cp.list_pipeline_executions(
            pipelineName=PIPELINE, maxResults=2, nextToken=page["nextToken"]
        )
        ids.extend(s["pipelineExecutionId"] for s in page["pipelineExecutionSummaries"])
    assert ids == started[::-1]


def test_list_executions_summary_fields(env: Env) -> None:
    """Summaries carry status, start and update times, source revisions, trigger and mode."""
    execution = env.create(env.linear(("Deploy", 60)))
    env.run_until_status(execution, "Succeeded")
    [summary] = env.summaries()
    assert summary["status"] == "Succeeded"
    assert ts(summary["startTime"]) <= ts(summary["lastUpdateTime"])
    assert summary["trigger"]["triggerType"] == "CreatePipeline"
    assert summary["executionMode"] == "SUPERSEDED"
    assert summary["executionType"] == "STANDARD"
    [revision] = summary["sourceRevisions"]
    assert revision["actionName"] == "Source"
    assert revision["revisionId"]


def test_list_executions_succeeded_in_stage_filter(env: Env) -> None:
    """filter.succeededInStage returns only executions that succeeded in that stage."""
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=60, times=1)
    failed = env.create(env.linear(("Build", 60), ("Deploy", 60)))
    env.run_until_status(failed, "Failed")
    good = env.start()
    env.run_until_status(good, "Succeeded")

    in_deploy = env.summaries(filter={"succeededInStage": {"stageName": "Deploy"}})
    assert [s["pipelineExecutionId"] for s in in_deploy] == [good]
    in_build = env.summaries(filter={"succeededInStage": {"stageName": "Build"}})
    assert [s["pipelineExecutionId"] for s in in_build] == [good, failed]


def test_list_executions_error_InvalidNextTokenException(env: Env) -> None:
    """A token the service never issued answers InvalidNextTokenException."""
    env.create(env.linear(("Deploy", 60)))
    with expect_error("InvalidNextTokenException"):
        env.cp.list_pipeline_executions(pipelineName=PIPELINE, nextToken="forged-token")


def test_list_executions_error_PipelineNotFoundException(env: Env) -> None:
    """Listing executions of an unknown pipeline answers PipelineNotFoundException."""
    with expect_error("PipelineNotFoundException"):
        env.cp.list_pipeline_executions(pipelineName="missing")


def test_list_executions_error_ValidationException(env: Env) -> None:
    """maxResults over 100 answers ValidationException (botocore checks only the minimum)."""
    env.create(env.linear(("Deploy", 60)))
    with expect_error("ValidationException"):
        env.cp.list_pipeline_executions(pipelineName=PIPELINE, maxResults=101)


# -- ListActionExecutions ------------------------------------------------------------------------------------


def test_list_action_executions_details(env: Env) -> None:
    """Each detail carries ids, version, names, times, status, input (type, configuration) and output."""
    execution = env.create(env.linear(("Deploy", 60)))
    env.run_until_status(execution, "Succeeded")
    details = env.action_executions(execution_id=execution)
    assert {(d["stageName"], d["actionName"]) for d in details} == {
        ("Source", "Source"),
        ("Deploy", "Deploy"),
    }
    deploy = next(d for d in details if d["stageName"] == "Deploy")
    assert deploy["pipelineExecutionId"] == execution
    assert deploy["actionExecutionId"]
    assert deploy["pipelineVersion"] == 1
    assert deploy["status"] == "Succeeded"
    assert ts(deploy["lastUpdateTime"]) - ts(deploy["startTime"]) == pytest.approx(60)
    assert deploy["input"]["actionTypeId"] == {
        "category": "Deploy",
        "owner": "AWS",
        "provider": "CodeDeploy",
        "version": "1",
    }
    assert deploy["input"]["configuration"]["ApplicationName"] == "conformance-app"
    [artifact] = deploy["input"]["inputArtifacts"]
    assert artifact["name"] == "SourceOutput"
    assert artifact["s3location"]["bucket"] == env.bucket
    source = next(d for d in details if d["stageName"] == "Source")
    assert source["output"]["outputArtifacts"][0]["name"] == "SourceOutput"


def test_list_action_executions_paginated(env: Env) -> None:
    """maxResults pages action executions with nextToken; the pages add up to the whole list."""
    first = env.create(env.linear(("Build", 10), ("Deploy", 10)))
    env.run_until_status(first, "Succeeded")
    second = env.start()
    env.run_until_status(second, "Succeeded")
    everything = env.action_executions()
    assert len(everything) == 6

    page = env.cp.list_action_executions(pipelineName=PIPELINE, maxResults=4)
    assert len(page["actionExecutionDetails"]) == 4
    rest = env.cp.list_action_executions(pipelineName=PIPELINE, maxResults=4, nextToken=page["nextToken"])
    assert "nextToken" not in rest
    ids = [d["actionExecutionId"] for d in page["actionExecutionDetails"] + rest["actionExecutionDetails"]]
    assert sorted(ids) == sorted(d["actionExecutionId"] for d in everything)
    assert len(set(ids)) == 6


def test_list_action_executions_error_PipelineExecutionNotFoundException(env: Env) -> None:
    """Filtering on an unknown execution id answers PipelineExecutionNotFoundException."""
    env.create(env.linear(("Deploy", 60)))
    with expect_error("PipelineExecutionNotFoundException"):
        env.cp.list_action_executions(pipelineName=PIPELINE, filter={"pipelineExecutionId": UNKNOWN_ID})


def test_list_action_executions_error_PipelineNotFoundException(env: Env) -> None:
    """Listing action executions of an unknown pipeline answers PipelineNotFoundException."""
    with expect_error("PipelineNotFoundException"):
        env.cp.list_action_executions(pipelineName="missing")


def test_list_action_executions_error_InvalidNextTokenException(env: Env) -> None:
    """A forged token answers InvalidNextTokenException."""
    env.create(env.linear(("Deploy", 60)))
    with expect_error("InvalidNextTokenException"):
        env.cp.list_action_executions(pipelineName=PIPELINE, nextToken="forged-token")


def test_list_action_executions_error_ValidationException(env: Env) -> None:
    """maxResults over 100 answers ValidationException."""
    env.create(env.linear(("Deploy", 60)))
    with expect_error("ValidationException"):
        env.cp.list_action_executions(pipelineName=PIPELINE, maxResults=101)


# -- ListPipelines -------------------------------------------------------------------------------------------


def test_list_pipelines_fields_and_pagination(env: Env) -> None:
    """ListPipelines pages with nextToken and reports name, version, type, mode and times."""
    for index in range(3):
        env.create(env.linear(("Deploy", 60), name=f"pipe-{index}", execution_mode="QUEUED"))
    page = env.cp.list_pipelines(maxResults=2)
    names = [p["name"] for p in page["pipelines"]]
    assert len(names) == 2
    page = env.cp.list_pipelines(maxResults=2, nextToken=page["nextToken"])
    names += [p["name"] for p in page["pipelines"]]
    assert "nextToken" not in page
    assert sorted(names) == ["pipe-0", "pipe-1", "pipe-2"]
    entry = env.cp.list_pipelines()["pipelines"][0]
    assert entry["version"] == 1
    assert entry["pipelineType"] == "V2"
    assert entry["executionMode"] == "QUEUED"
    assert "created" in entry
    assert "updated" in entry


def test_list_pipelines_error_InvalidNextTokenException(env: Env) -> None:
    """A forged token answers InvalidNextTokenException."""
    with expect_error("InvalidNextTokenException"):
        env.cp.list_pipelines(nextToken="forged-token")


def test_list_pipelines_error_ValidationException(env: Env) -> None:
    """maxResults over 1000 answers ValidationException."""
    with expect_error("ValidationException"):
        env.cp.list_pipelines(maxResults=1001)


def test_put_action_revision_error_ConcurrentPipelineExecutionsLimitExceededException(env: Env) -> None:
    """PutActionRevision on a QUEUED pipeline at its live-execution cap is refused (the engine's cap: 50)."""
    env.create(env.linear(("Deploy", 10 * HOUR), execution_mode="QUEUED"))
    for _ in range(49):
        env.start()
    with expect_error("ConcurrentPipelineExecutionsLimitExceededException"):
        env.cp.put_action_revision(
            pipelineName=PIPELINE,
            stageName="Source",
            actionName="Source",
            actionRevision={"revisionId": "r", "revisionChangeId": "c", "created": env.aws.clock.datetime()},
        )
    assert len(env.summaries()) == 50


def test_every_source_action_runs_when_one_changes(env: Env) -> None:
    """With two source actions, a change in one starts an execution in which both run."""
    declaration = env.declaration(
        stage(
            "Source",
            codestar_source("App", output="AppOutput", account_id=env.aws.account_id),
            s3_source("Config", output="ConfigOutput", namespace=None),
        ),
        stage("Deploy", codedeploy_action("Deploy", input_artifact="AppOutput")),
    )
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", duration=60)
    first = env.create(declaration)
    env.run_until_status(first, "Succeeded")
    execution = env.aws.push_revision(PIPELINE, "App", "d" * 40, branch="main")
    assert execution is not None
    env.run_until_status(execution, "Succeeded")
    ran = {
        d["actionName"] for d in env.action_executions(execution_id=execution) if d["stageName"] == "Source"
    }
    assert ran == {"App", "Config"}
    assert {r["name"] for r in env.execution(execution)["artifactRevisions"]} == {"AppOutput", "ConfigOutput"}


def test_executions_record_the_structure_version_they_ran_under(env: Env) -> None:
    """GetPipelineExecution and ListActionExecutions carry the pipeline version each execution ran under."""
    first = env.create(env.linear(("Deploy", 60)))
    env.run_until_status(first, "Succeeded")
    declaration = env.stored()
    declaration["stages"][1]["actions"][0]["configuration"]["DeploymentGroupName"] = "v2"
    env.update(declaration)
    second = env.start()
    env.run_until_status(second, "Succeeded")

    assert env.execution(first)["pipelineVersion"] == 1
    assert env.execution(second)["pipelineVersion"] == 2
    assert {d["pipelineVersion"] for d in env.action_executions(execution_id=first)} == {1}
    assert {d["pipelineVersion"] for d in env.action_executions(execution_id=second)} == {2}
