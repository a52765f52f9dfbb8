"""Artifacts have content: what flows between stages is a real zip in the artifact store's S3 bucket."""

from __future__ import annotations

import json
import re
from typing import Any

import attrs
import boto3

from ._support import (
    HOUR,
    PIPELINE,
    REGION,
    Env,
    codebuild_action,
    codedeploy_action,
    codestar_source,
    lambda_action,
    s3_source,
    stage,
    unzip_text,
    zip_text,
)

FUNCTION = "artifact-reader"
SOURCE_BUCKET = "conformance-source"
KMS_KEY = f"arn:aws:kms:{REGION}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _output_location(env: Env, stage_name: str, action: str, execution: str) -> dict[str, str]:
    [run] = env.runs_of(stage_name, action, execution)
    [artifact] = run["output"]["outputArtifacts"]
    location = artifact["s3location"]
    return {"bucket": location["bucket"], "key": location["key"]}


def _read(env: Env, location: dict[str, str]) -> bytes:
    return env.s3.get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()


def test_s3_source_output_is_the_source_object(env: Env) -> None:
    """An S3 source action copies its source object, byte for byte, into the artifact store."""
    bundle = zip_text({"template.yml": "Resources: {}\n"})
    env.s3.put_object(Bucket=SOURCE_BUCKET, Key="app.zip", Body=bundle)
    execution = env.create(
        env.declaration(
            stage("Source", s3_source()), stage("Deploy", codedeploy_action(input_artifact="SourceOutput"))
        )
    )
    env.run_until_status(execution, "Succeeded")

    location = _output_location(env, "Source", "Source", execution)
    assert location["bucket"] == env.bucket
    assert _read(env, location) == bundle


def test_artifact_keys_are_shaped_like_aws(env: Env) -> None:
    """Keys are ``<pipeline name cut to 20>/<artifact name cut to 10>/<7 letters and digits>``."""
    name = "a-pipeline-name-longer-than-twenty"
    declaration = env.declaration(
        stage("Source", s3_source(output="SourceArtifactLongName")),
        stage("Deploy", codedeploy_action(input_artifact="SourceArtifactLongName")),
        name=name,
    )
    execution = env.create(declaration)
    env.run_until_status(execution, "Succeeded", name=name)
    [run] = env.runs_of("Source", "Source", execution, name=name)
    key = run["output"]["outputArtifacts"][0]["s3location"]["key"]
    assert re.fullmatch(r"a-pipeline-name-long/SourceArti/[A-Za-z0-9]{7}", key), key


def test_git_source_output_is_a_generated_archive_naming_the_revision(env: Env) -> None:
    """A CodeStar connection source stores a small zip whose README and revision.json name the commit."""
    execution = env.create(
        env.declaration(
            stage("Source", codestar_source()),
            stage("Deploy", codedeploy_action(input_artifact="SourceOutput")),
        )
    )
    env.run_until_status(execution, "Succeeded")
    revision = env.execution(execution)["artifactRevisions"][0]["revisionId"]

    files = unzip_text(_read(env, _output_location(env, "Source", "Source", execution)))
    assert set(files) == {"README.md", "revision.json"}
    assert revision in files["README.md"]
    details = json.loads(files["revision.json"])
    assert details["revisionId"] == revision
    assert details["repository"] == "octo-org/app"


def test_generated_artifacts_are_identical_for_the_same_seed(env: Env) -> None:
    """Two runs of the same revision store byte-identical generated archives (no wall-clock timestamps)."""
    execution = env.create(
        env.declaration(
            stage("Source", codestar_source()),
            stage("Deploy", codedeploy_action(input_artifact="SourceOutput")),
        )
    )
    env.run_until_status(execution, "Succeeded")
    again = env.start()
    env.run_until_status(again, "Succeeded")
    first = _output_location(env, "Source", "Source", execution)
    second = _output_location(env, "Source", "Source", again)
    assert first["key"] != second["key"]
    assert _read(env, first) == _read(env, second)


def test_job_worker_reads_its_input_artifact_with_the_job_credentials(env: Env) -> None:
    """A Lambda job worker downloads its input artifact with the job's artifactCredentials (no 404)."""
    bundle = zip_text({"index.html": "<h1>release</h1>"})
    env.s3.put_object(Bucket=SOURCE_BUCKET, Key="app.zip", Body=bundle)
    downloaded: list[bytes] = []

    def worker(event: dict[str, Any], context: Any) -> None:
        job = event["CodePipeline.job"]
        credentials = job["data"]["artifactCredentials"]
        s3 = boto3.client(
            "s3",
            region_name=REGION,
            aws_access_key_id=credentials["accessKeyId"],
            aws_secret_access_key=credentials["secretAccessKey"],
            aws_session_token=credentials["sessionToken"],
        )
        location = job["data"]["inputArtifacts"][0]["location"]["s3Location"]
        downloaded.append(
            s3.get_object(Bucket=location["bucketName"], Key=location["objectKey"])["Body"].read()
        )
        boto3.client("codepipeline", region_name=REGION).put_job_success_result(jobId=job["id"])

    env.aws.register_lambda(FUNCTION, worker)
    execution = env.create(
        env.declaration(
            stage("Source", s3_source()),
            stage("Invoke", lambda_action("Invoke", function=FUNCTION, inputs=("SourceOutput",))),
        )
    )
    env.run_until_status(execution, "Succeeded")
    assert downloaded == [bundle]


def test_codebuild_output_artifact_holds_the_scripted_files(env: Env) -> None:
    """A CodeBuild action's build uploads its files (``script_build(artifact_files=...)``) as the output zip."""
    env.aws.script_build(
        "conformance-build",
        fail_in=None,
        artifact_files={"dist/app.js": "console.log(1)", "VERSION": "1.2.3"},
    )
    execution = env.create(
        env.declaration(
            stage("Source", s3_source()),
            stage("Build", codebuild_action()),
            stage("Deploy", codedeploy_action()),
        )
    )
    env.run_until_status(execution, "Succeeded")

    location = _output_location(env, "Build", "Build", execution)
    assert unzip_text(_read(env, location)) == {"VERSION": "1.2.3", "dist/app.js": "console.log(1)"}
    [deploy] = env.runs_of("Deploy", "Deploy", execution)
    assert deploy["input"]["inputArtifacts"][0]["s3location"] == location


def test_codebuild_output_without_scripted_files_is_a_generated_archive(env: Env) -> None:
    """Without scripted files the build uploads a small archive naming the build."""
    execution = env.create(env.declaration(stage("Source", s3_source()), stage("Build", codebuild_action())))
    env.run_until_status(execution, "Succeeded")
    [run] = env.runs_of("Build", "Build", execution)
    build_id = run["output"]["executionResult"]["externalExecutionId"]
    files = unzip_text(_read(env, _output_location(env, "Build", "Build", execution)))
    assert build_id in files["README.md"]


def test_pipeline_build_reports_the_artifact_arn_as_its_location(env: Env) -> None:
    """A build started by a pipeline shows its output artifact's S3 ARN as ``artifacts.location``."""
    execution = env.create(env.declaration(stage("Source", s3_source()), stage("Build", codebuild_action())))
    env.run_until_status(execution, "Succeeded")
    [run] = env.runs_of("Build", "Build", execution)
    location = run["output"]["outputArtifacts"][0]["s3location"]
    build = env.build(run["output"]["executionResult"]["externalExecutionId"])
    assert build["artifacts"]["location"] == f"arn:aws:s3:::{location['bucket']}/{location['key']}"


def test_artifacts_use_the_artifact_stores_kms_key(env: Env) -> None:
    """With an encryptionKey on the artifact store, artifacts are stored SSE-KMS under that key."""
    declaration = env.declaration(stage("Source", s3_source()), stage("Build", codebuild_action()))
    declaration["artifactStore"]["encryptionKey"] = {"id": KMS_KEY, "type": "KMS"}
    execution = env.create(declaration)
    env.run_until_status(execution, "Succeeded")
    for stage_name, action in (("Source", "Source"), ("Build", "Build")):
        location = _output_location(env, stage_name, action, execution)
        head = env.s3.head_object(Bucket=location["bucket"], Key=location["key"])
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == KMS_KEY


def test_a_missing_artifact_bucket_fails_the_action_clearly(env: Env) -> None:
    """When the artifact store's bucket does not exist the source action fails, naming the bucket."""
    declaration = env.declaration(stage("Source", s3_source()), stage("Build", codebuild_action()))
    declaration["artifactStore"]["location"] = "no-such-artifact-bucket"
    execution = env.create(declaration)
    env.run_until_status(execution, "Failed", limit=HOUR)
    [run] = env.runs_of("Source", "Source", execution)
    error = run["output"]["executionResult"]["errorDetails"]
    assert error["code"] == "JobFailed"
    assert "no-such-artifact-bucket" in error["message"]
    assert "NoSuchBucket" in error["message"]
    assert (
        env.cp.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution)[
            "pipelineExecution"
        ]["status"]
        == "Failed"
    )


def _artifact_keys(env: Env) -> set[str]:
    listed = env.s3.list_objects_v2(Bucket=env.bucket).get("Contents", [])
    return {entry["Key"] for entry in listed}


def _output_keys(env: Env, execution: str) -> set[str]:
    runs = env.action_executions(execution_id=execution)
    return {
        artifact["s3location"]["key"]
        for run in runs
        for artifact in run.get("output", {}).get("outputArtifacts", [])
    }


def test_artifacts_of_forgotten_executions_are_deleted_and_users_objects_kept(env: Env) -> None:
    """Executions forgotten under retention take the artifacts the engine wrote for them along (as a
    lifecycle rule on the artifact bucket would); the user's objects stay, in either bucket, even one the
    user put at a forgotten execution's artifact key."""
    env.aws.codepipeline_settings = attrs.evolve(env.aws.codepipeline_settings, execution_history_limit=2)
    env.s3.put_object(Bucket=SOURCE_BUCKET, Key="app.zip", Body=zip_text({"app.py": "print('hi')\n"}))
    env.s3.put_object(Bucket=env.bucket, Key="notes/readme.txt", Body=b"the user's own object")
    declaration = env.declaration(
        stage("Source", s3_source()),
        stage("Build", codebuild_action()),
        stage("Deploy", codedeploy_action()),
    )
    executions = [env.create(declaration)]
    env.run_until_status(executions[0], "Succeeded")
    first_keys = _output_keys(env, executions[0])
    assert len(first_keys) == 2  # the source's and the build's outputs (the build's written by CodeBuild)
    replaced = sorted(first_keys)[0]
    env.s3.put_object(Bucket=env.bucket, Key=replaced, Body=b"the user's object now")
    for _ in range(4):
        executions.append(env.start())
        env.run_until_status(executions[-1], "Succeeded")

    kept = [summary["pipelineExecutionId"] for summary in env.summaries()]
    assert kept == executions[:-3:-1]
    expected = {"notes/readme.txt", replaced} | {
        key for execution in kept for key in _output_keys(env, execution)
    }
    assert _artifact_keys(env) == expected
    assert env.s3.get_object(Bucket=env.bucket, Key=replaced)["Body"].read() == b"the user's object now"
    assert env.s3.get_object(Bucket=SOURCE_BUCKET, Key="app.zip")["ContentLength"] > 0


def test_forgotten_artifact_leaves_a_versioned_bucket_without_a_delete_marker(env: Env) -> None:
    """In a versioned artifact bucket the engine deletes the very version it wrote: no delete marker is
    left behind, and a version the user put at the same key stays."""
    env.s3.put_bucket_versioning(Bucket=env.bucket, VersioningConfiguration={"Status": "Enabled"})
    env.aws.codepipeline_settings = attrs.evolve(env.aws.codepipeline_settings, execution_history_limit=1)
    env.s3.put_object(Bucket=SOURCE_BUCKET, Key="app.zip", Body=zip_text({"app.py": "print('hi')\n"}))
    declaration = env.declaration(
        stage("Source", s3_source()), stage("Deploy", codedeploy_action(input_artifact="SourceOutput"))
    )
    first = env.create(declaration)
    env.run_until_status(first, "Succeeded")
    [key] = _output_keys(env, first)
    env.s3.put_object(Bucket=env.bucket, Key=key, Body=b"the user's version")
    for _ in range(2):
        env.run_until_status(env.start(), "Succeeded")

    versions = env.s3.list_object_versions(Bucket=env.bucket, Prefix=key)
    assert [version["IsLatest"] for version in versions.get("Versions", [])] == [True]
    assert versions.get("DeleteMarkers", []) == []
    assert env.s3.get_object(Bucket=env.bucket, Key=key)["Body"].read() == b"the user's version"
