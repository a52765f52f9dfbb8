"""The modeled errors of pipeline CRUD and StartPipelineExecution, which declaration problem gets which, and
wire facts."""

from __future__ import annotations

from typing import Any, cast

import pytest

from ._support import (
    PIPELINE,
    UUID,
    Env,
    codedeploy_action,
    expect_error,
    s3_source,
    stage,
)


def _valid(env: Env, **kwargs: Any) -> dict[str, Any]:
    return env.linear(("Deploy", 60), **kwargs)


def _nothing_created(env: Env) -> None:
    assert env.cp.list_pipelines()["pipelines"] == []


# -- CreatePipeline ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda d: d.update(name="has space"), id="name-pattern"),
        pytest.param(lambda d: d.update(name="p" * 101), id="name-too-long"),
        pytest.param(lambda d: d["stages"][1].update(name="bad/stage"), id="stage-name-pattern"),
        pytest.param(
            lambda d: d["stages"][1]["actions"][0].update(name="a" * 101), id="action-name-too-long"
        ),
        pytest.param(lambda d: d["stages"][1]["actions"][0].update(runOrder=1000), id="run-order-over-999"),
        pytest.param(
            lambda d: d["stages"][0]["actions"][0]["outputArtifacts"][0].update(name="out.put"),
            id="artifact-name-no-dot",
        ),
        pytest.param(lambda d: d.update(executionMode="SOMETIMES"), id="execution-mode-enum"),
        pytest.param(lambda d: d.update(pipelineType="V3"), id="pipeline-type-enum"),
        pytest.param(
            lambda d: d["stages"][1]["actions"][0]["actionTypeId"].update(category="Magic"), id="category"
        ),
        pytest.param(lambda d: d["artifactStore"].update(type="GCS"), id="artifact-store-type"),
        pytest.param(
            lambda d: d.update(roleArn="arn:aws:iam::123:role/short-account"), id="role-arn-pattern"
        ),
    ],
)
def test_create_error_ValidationException(env: Env, mutate: Any) -> None:
    """Length, pattern and enum violations the client does not check answer ValidationException."""
    declaration = _valid(env)
    mutate(declaration)
    with expect_error("ValidationException"):
        env.create_only(declaration)
    _nothing_created(env)


def test_validation_message_counts_every_violation_in_aws_words(env: Env) -> None:
    """A declaration breaking three field rules gets one message listing all three as AWS words them.

    ``N validation errors detected: Value '…' at '<path>' failed to satisfy constraint: …`` with list items
    as ``stages.2.member`` and a map entry's problem reported against the map.
    """
    declaration = _valid(env)
    declaration["name"] = "has space"
    declaration["stages"][1]["actions"][0]["runOrder"] = 1000
    declaration["stages"][1]["actions"][0]["configuration"]["ApplicationName"] = "a" * 1001
    with expect_error("ValidationException") as caught:
        env.create_only(declaration)
    message = caught[0].response["Error"]["Message"]
    action = "pipeline.stages.2.member.actions.1.member"
    assert message == (
        "3 validation errors detected: "
        "Value 'has space' at 'pipeline.name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [A-Za-z0-9.@\\-_]+; "
        f"Value '1000' at '{action}.runOrder' failed to satisfy constraint: "
        "Member must have value less than or equal to 999; "
        f"Value at '{action}.configuration' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have length less than or equal to 1000]"
    )
    _nothing_created(env)


def test_validation_message_of_a_bad_map_key_names_the_map(env: Env) -> None:
    """A configuration key breaking its rules is reported against the map, as ``Map keys must satisfy …``."""
    declaration = _valid(env)
    declaration["stages"][1]["actions"][0]["configuration"]["K" * 51] = "value"
    with expect_error("ValidationException") as caught:
        env.create_only(declaration)
    assert caught[0].response["Error"]["Message"] == (
        "1 validation error detected: Value at 'pipeline.stages.2.member.actions.1.member.configuration' "
        "failed to satisfy constraint: Map keys must satisfy constraint: "
        "[Member must have length less than or equal to 50]"
    )


def test_validation_message_of_one_request_field(env: Env) -> None:
    """A single bad request member reads ``1 validation error detected: Value '…' at '<member>' …``."""
    with expect_error("ValidationException") as caught:
        env.cp.delete_pipeline(name="bad name")
    assert caught[0].response["Error"]["Message"] == (
        "1 validation error detected: Value 'bad name' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [A-Za-z0-9.@\\-_]+"
    )


def test_validation_message_never_quotes_a_secret(env: Env) -> None:
    """A malformed approval token is reported by path only (``Value at 'token'``), never quoted."""
    secret = "not-a-uuid-but-secret"
    with expect_error("ValidationException") as caught:
        env.cp.put_approval_result(
            pipelineName=PIPELINE,
            stageName="Approval",
            actionName="Approve",
            result={"summary": "ok", "status": "Approved"},
            token=secret,
        )
    message = caught[0].response["Error"]["Message"]
    assert message.startswith("1 validation error detected: Value at 'token' failed to satisfy constraint: ")
    assert secret not in message


def test_create_error_PipelineNameInUseException(env: Env) -> None:
    """A second pipeline with a taken name is refused with the model's PipelineNameInUseException (a choice)."""
    env.create(_valid(env))
    with expect_error("PipelineNameInUseException"):
        env.create_only(_valid(env))
    assert len(env.cp.list_pipelines()["pipelines"]) == 1


@pytest.mark.parametrize(
    "why",
    ["one-stage", "role-not-assumable", "source-outside-first-stage", "unresolved-input", "duplicate-output"],
)
def test_create_error_InvalidStructureException(env: Env, why: str) -> None:
    """Structural problems (R1, role trust, R3, R8, R7) answer InvalidStructureException."""
    declaration = _valid(env)
    if why == "one-stage":
        declaration["stages"] = declaration["stages"][:1]
    elif why == "role-not-assumable":
        untrusted = env.iam.create_role(
            RoleName="untrusted",
            AssumeRolePolicyDocument=(
                '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                '"Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
            ),
        )
        declaration["roleArn"] = untrusted["Role"]["Arn"]
    elif why == "source-outside-first-stage":
        declaration["stages"].append(stage("Late", s3_source("LateSource", output="LateOutput")))
    elif why == "unresolved-input":
        declaration["stages"][1]["actions"][0]["inputArtifacts"] = [{"name": "NoSuchArtifact"}]
    else:
        declaration["stages"][1]["actions"].append(
            {
                **codedeploy_action("Second", input_artifact="SourceOutput"),
                "actionTypeId": {
                    "category": "Build",
                    "owner": "AWS",
                    "provider": "CodeBuild",
                    "version": "1",
                },
                "configuration": {"ProjectName": "conformance-build"},
                "outputArtifacts": [{"name": "SourceOutput"}],
            }
        )
    with expect_error("InvalidStructureException"):
        env.create_only(declaration)
    _nothing_created(env)


@pytest.mark.parametrize("why", ["unknown-provider", "artifact-count", "timeout-on-non-approval"])
def test_create_error_InvalidActionDeclarationException(env: Env, why: str) -> None:
    """Unknown action type, wrong artifact count, or timeoutInMinutes off an approval (R9, R14)."""
    declaration = _valid(env)
    action = declaration["stages"][1]["actions"][0]
    if why == "unknown-provider":
        action["actionTypeId"]["provider"] = "NoSuchProvider"
    elif why == "artifact-count":
        action["inputArtifacts"] = []  # CodeDeploy takes exactly one input
    else:
        action["timeoutInMinutes"] = 60
    with expect_error(("InvalidActionDeclarationException", "InvalidStructureException")):
        env.create_only(declaration)
    _nothing_created(env)


def test_create_error_InvalidStageDeclarationException(env: Env) -> None:
    """A stage with no actions is a malformed stage (the engine's choice of exception)."""
    declaration = _valid(env)
    declaration["stages"][1]["actions"] = []
    with expect_error(("InvalidStageDeclarationException", "InvalidStructureException")):
        env.create_only(declaration)
    _nothing_created(env)


def test_create_error_InvalidBlockerDeclarationException(env: Env) -> None:
    """The reserved ``blockers`` field is refused with InvalidBlockerDeclarationException."""
    declaration = _valid(env)
    declaration["stages"][1]["blockers"] = [{"name": "Window", "type": "Schedule"}]
    with expect_error("InvalidBlockerDeclarationException"):
        env.create_only(declaration)
    _nothing_created(env)


def test_create_error_V2_only_features_on_V1(env: Env) -> None:
    """QUEUED mode on an explicit V1 pipeline is refused (R12)."""
    with expect_error(("InvalidStructureException", "ValidationException")):
        env.create_only(_valid(env, pipeline_type="V1", execution_mode="QUEUED"))
    _nothing_created(env)


def test_create_error_TooManyTagsException(env: Env) -> None:
    """More than 50 tags answers TooManyTagsException."""
    tags = [{"key": f"k{index}", "value": "v"} for index in range(51)]
    with expect_error("TooManyTagsException"):
        env.cp.create_pipeline(pipeline=cast("Any", _valid(env)), tags=cast("Any", tags))
    _nothing_created(env)


def test_create_error_InvalidTagsException(env: Env) -> None:
    """A tag key with the reserved ``aws:`` prefix answers InvalidTagsException."""
    with expect_error("InvalidTagsException"):
        env.cp.create_pipeline(pipeline=cast("Any", _valid(env)), tags=[{"key": "aws:owner", "value": "me"}])
    _nothing_created(env)


def test_create_returns_stored_declaration_and_tags(env: Env) -> None:
    """CreatePipeline echoes the stored declaration (version 1) and the tags."""
    response = env.cp.create_pipeline(
        pipeline=cast("Any", _valid(env)), tags=[{"key": "team", "value": "web"}]
    )
    assert response["pipeline"]["name"] == PIPELINE
    assert response["pipeline"]["version"] == 1
    assert response["tags"] == [{"key": "team", "value": "web"}]


# -- UpdatePipeline / DeletePipeline -------------------------------------------------------------------------


def test_update_error_ValidationException(env: Env) -> None:
    """An update breaking a pattern answers ValidationException and keeps the stored version."""
    env.create(_valid(env))
    declaration = env.stored()
    declaration["stages"][1]["name"] = "bad stage"
    with expect_error("ValidationException"):
        env.update(declaration)
    assert env.cp.get_pipeline(name=PIPELINE)["pipeline"]["version"] == 1


def test_update_error_InvalidStructureException(env: Env) -> None:
    """An update leaving one stage answers InvalidStructureException and changes nothing."""
    env.create(_valid(env))
    declaration = env.stored()
    declaration["stages"] = declaration["stages"][:1]
    with expect_error("InvalidStructureException"):
        env.update(declaration)
    assert len(env.cp.get_pipeline(name=PIPELINE)["pipeline"]["stages"]) == 2


def test_update_unknown_pipeline_is_refused(env: Env) -> None:
    """Updating a pipeline that does not exist is refused (the engine's choice: PipelineNotFoundException)."""
    with expect_error(("PipelineNotFoundException", "ResourceNotFoundException")):
        env.update(_valid(env))


def test_delete_pipeline_unknown_name_succeeds_and_delete_removes(env: Env) -> None:
    """DeletePipeline removes the pipeline; deleting an unknown name succeeds silently (the engine's choice)."""
    env.create(_valid(env))
    env.cp.delete_pipeline(name=PIPELINE)
    with expect_error("PipelineNotFoundException"):
        env.cp.get_pipeline(name=PIPELINE)
    env.cp.delete_pipeline(name="never-existed")


def test_delete_error_ValidationException(env: Env) -> None:
    """A name breaking the pattern answers ValidationException."""
    with expect_error("ValidationException"):
        env.cp.delete_pipeline(name="bad name")


# -- StartPipelineExecution ----------------------------------------------------------------------------------


def test_start_error_PipelineNotFoundException(env: Env) -> None:
    """Starting an unknown pipeline answers PipelineNotFoundException."""
    with expect_error("PipelineNotFoundException"):
        env.start("missing")


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"clientRequestToken": "has space"}, id="client-token-pattern"),
        pytest.param({"variables": [{"name": "bad name!", "value": "x"}]}, id="variable-name-pattern"),
        pytest.param({"variables": [{"name": "UNDECLARED", "value": "x"}]}, id="undeclared-variable"),
    ],
)
def test_start_error_ValidationException(env: Env, kwargs: dict[str, Any]) -> None:
    """A malformed client token or bad variable override answers ValidationException; nothing starts."""
    execution = env.create(_valid(env, pipeline_type="V2"))
    env.run_until_status(execution, "Succeeded")
    with expect_error("ValidationException"):
        env.start(**kwargs)
    assert len(env.summaries()) == 1


def test_start_returns_uuid_and_same_client_token_same_execution(env: Env) -> None:
    """The execution id is a lowercase UUID; reusing a clientRequestToken returns the same execution.

    What a reused token returns is the engine's choice.
    """
    first = env.create(_valid(env))
    env.run_until_status(first, "Succeeded")
    one = env.start(clientRequestToken="release-2026-01-01")
    two = env.start(clientRequestToken="release-2026-01-01")
    assert UUID.fullmatch(one)
    assert one == two
    assert len(env.summaries()) == 2


# -- wire facts ----------------------------------------------------------------------------------------------


def test_errors_are_json_envelopes_with_http_400(env: Env) -> None:
    """Modeled errors come back with their code, a message and HTTP 400 (ConflictException alone is 409)."""
    with expect_error("PipelineNotFoundException", status=400) as caught:
        env.state("missing")
    assert caught[0].response["Error"]["Message"]


@pytest.mark.slow
def test_create_error_LimitExceededException(env: Env) -> None:
    """Past the pipeline quota (1000 per region) CreatePipeline answers LimitExceededException.

    botocore's standard retry mode classifies the code as throttling, so it is retried before the
    caller sees it (the message tells how often); the back-off runs on the virtual clock.
    """
    for index in range(1000):
        env.create_only(_valid(env, name=f"p{index}"))
    with expect_error("LimitExceededException") as caught:
        env.create_only(_valid(env, name="one-too-many"))
    assert "reached max retries" in str(caught[0])
    with expect_error("PipelineNotFoundException"):
        env.cp.get_pipeline(name="one-too-many")


def test_plain_default_boto3_client_is_served(env: Env) -> None:
    """A client from boto3's default session, made inside the context, reaches the same engine."""
    import boto3

    env.create(_valid(env))
    client = boto3.client("codepipeline", region_name="us-east-1")
    assert [p["name"] for p in client.list_pipelines()["pipelines"]] == [PIPELINE]


# -- tagging (TagResource / UntagResource / ListTagsForResource) ---------------------------------------------


def _arn(env: Env, name: str = PIPELINE) -> str:
    return f"arn:aws:codepipeline:us-east-1:{env.aws.account_id}:{name}"


def test_tags_round_trip(env: Env) -> None:
    """TagResource adds or replaces tags, UntagResource removes them, ListTagsForResource reads them."""
    env.cp.create_pipeline(pipeline=cast("Any", _valid(env)), tags=[{"key": "team", "value": "web"}])
    env.cp.tag_resource(
        resourceArn=_arn(env), tags=[{"key": "team", "value": "api"}, {"key": "tier", "value": "1"}]
    )
    tags = env.cp.list_tags_for_resource(resourceArn=_arn(env))["tags"]
    assert sorted((t["key"], t["value"]) for t in tags) == [("team", "api"), ("tier", "1")]
    env.cp.untag_resource(resourceArn=_arn(env), tagKeys=["tier"])
    assert env.cp.list_tags_for_resource(resourceArn=_arn(env))["tags"] == [{"key": "team", "value": "api"}]


@pytest.mark.parametrize("operation", ["list", "tag", "untag"])
def test_tags_error_ResourceNotFoundException(env: Env, operation: str) -> None:
    """Tagging operations on the ARN of a pipeline that does not exist answer ResourceNotFoundException."""
    arn = _arn(env, "missing")
    with expect_error("ResourceNotFoundException"):
        if operation == "list":
            env.cp.list_tags_for_resource(resourceArn=arn)
        elif operation == "tag":
            env.cp.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "b"}])
        else:
            env.cp.untag_resource(resourceArn=arn, tagKeys=["a"])


def test_tags_error_malformed_arn(env: Env) -> None:
    """An ARN that is not a CodePipeline ARN is refused.

    AWS's code is unconfirmed: InvalidArnException, or ValidationException from the ARN pattern.
    """
    with expect_error(("InvalidArnException", "ValidationException")):
        env.cp.list_tags_for_resource(resourceArn="arn:aws:s3:::bucket")


def test_tags_error_TooManyTagsException(env: Env) -> None:
    """Tagging past 50 tags on the resource answers TooManyTagsException and adds none."""
    env.create(_valid(env))
    env.cp.tag_resource(resourceArn=_arn(env), tags=[{"key": f"k{i}", "value": "v"} for i in range(50)])
    with expect_error("TooManyTagsException"):
        env.cp.tag_resource(resourceArn=_arn(env), tags=[{"key": "one-more", "value": "v"}])
    assert len(env.cp.list_tags_for_resource(resourceArn=_arn(env))["tags"]) == 50


@pytest.mark.parametrize("operation", ["tag", "untag"])
def test_tags_error_InvalidTagsException(env: Env, operation: str) -> None:
    """Tags with the reserved ``aws:`` prefix cannot be added or removed: InvalidTagsException."""
    env.create(_valid(env))
    with expect_error("InvalidTagsException"):
        if operation == "tag":
            env.cp.tag_resource(resourceArn=_arn(env), tags=[{"key": "aws:x", "value": "v"}])
        else:
            env.cp.untag_resource(resourceArn=_arn(env), tagKeys=["aws:x"])
