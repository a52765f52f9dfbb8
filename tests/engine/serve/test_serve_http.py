"""The offline world served over HTTP, driven by plain boto3 clients pointed at it (``endpoint_url=``).

The server runs in a thread of the test process; every request below crosses a real socket on the loopback
interface, as it would from another process (the last test checks that it does).
"""

from __future__ import annotations

import http.client
import io
import json
import threading
import zipfile
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from tests.engine.serve._world import (
    ARTIFACT_BUCKET,
    BUILD_PROJECT,
    PIPELINE,
    PROJECT,
    admin,
    client,
    release_pipeline,
    trust,
)

if TYPE_CHECKING:
    from pipepilot.local.server import LocalServer

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


def _set_up_release(server: LocalServer) -> dict[str, Any]:
    """Roles, buckets, the build project and the release pipeline, all made over HTTP; the first execution
    starts (CreatePipeline starts one). Returns the clients."""
    url = server.url
    iam, s3 = client("iam", url), client("s3", url)
    iam.create_role(RoleName="shop-pipeline", AssumeRolePolicyDocument=trust("codepipeline"))
    iam.create_role(RoleName="shop-build", AssumeRolePolicyDocument=trust("codebuild"))
    s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    codebuild, codepipeline = client("codebuild", url), client("codepipeline", url)
    codebuild.create_project(**BUILD_PROJECT)
    status, _ = admin(
        url,
        "scripts/build",
        {
            "project": PROJECT,
            "fail_in": None,
            "log_lines": ["npm ci", "npm run build", "built site v1"],
            "artifact_files": {"index.html": "<h1>shop v1</h1>"},
        },
    )
    assert status == 200
    assert (
        admin(url, "lambdas", {"name": "deploy", "output_variables": {"url": "https://shop.example"}})[0]
        == 200
    )
    codepipeline.create_pipeline(pipeline=release_pipeline())
    return {"codepipeline": codepipeline, "codebuild": codebuild, "s3": s3, "logs": client("logs", url)}


def _approval(codepipeline: Any) -> dict[str, Any]:
    """The approval action's latest run, from GetPipelineState."""
    state = codepipeline.get_pipeline_state(name=PIPELINE)
    (stage,) = [stage for stage in state["stageStates"] if stage["stageName"] == "Approve"]
    return dict(stage["actionStates"][0]["latestExecution"])


def test_a_release_runs_end_to_end_over_http(server: LocalServer) -> None:
    """Created, built, approved and deployed through boto3 clients pointed at the server: the approval's
    token shows in GetPipelineState, PutApprovalResult lets the release through, the Lambda function
    registered through the admin endpoint deploys, and the execution succeeds."""
    clients = _set_up_release(server)
    codepipeline = clients["codepipeline"]
    assert admin(server.url, "clock/advance", {"seconds": 600})[0] == 200
    approval = _approval(codepipeline)
    assert approval["status"] == "InProgress"
    codepipeline.put_approval_result(
        pipelineName=PIPELINE,
        stageName="Approve",
        actionName="Approve",
        result={"summary": "ship it", "status": "Approved"},
        token=approval["token"],
    )
    admin(server.url, "clock/advance", {"seconds": 600})
    (execution,) = codepipeline.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
    assert execution["status"] == "Succeeded"
    details = codepipeline.list_action_executions(pipelineName=PIPELINE)["actionExecutionDetails"]
    (deploy,) = [detail for detail in details if detail["actionName"] == "Deploy"]
    assert deploy["output"]["outputVariables"] == {"url": "https://shop.example"}
    assert admin(server.url, "lambdas")[1]["functions"] == [
        {"name": "deploy", "outcome": "Succeeded", "invocations": 1}
    ]


def test_build_logs_and_artifacts_are_read_through_moto_services(server: LocalServer) -> None:
    """What the engines wrote is readable through the other services of the same server: the build's log
    lines through CloudWatch Logs' GetLogEvents, its output artifact through S3's GetObject (a zip of the
    scripted files)."""
    clients = _set_up_release(server)
    admin(server.url, "clock/advance", {"seconds": 600})
    (build_id,) = clients["codebuild"].list_builds_for_project(projectName=PROJECT)["ids"]
    (build,) = clients["codebuild"].batch_get_builds(ids=[build_id])["builds"]
    events = clients["logs"].get_log_events(
        logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"]
    )["events"]
    messages = [event["message"] for event in events]
    build_phase = messages.index("npm ci")
    assert messages[build_phase : build_phase + 3] == ["npm ci", "npm run build", "built site v1"]
    details = clients["codepipeline"].list_action_executions(pipelineName=PIPELINE)["actionExecutionDetails"]
    (built,) = [detail for detail in details if detail["actionName"] == "Build"]
    (artifact,) = built["output"]["outputArtifacts"]
    location = artifact["s3location"]
    body = clients["s3"].get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.read("index.html") == b"<h1>shop v1</h1>"


def test_answers_are_the_ones_the_in_process_engine_gives(server: LocalServer) -> None:
    """GetPipelineState, GetPipeline and BatchGetBuilds over HTTP parse to exactly what an in-process client
    of the same world gets (keys sent as null included)."""
    clients = _set_up_release(server)
    admin(server.url, "clock/advance", {"seconds": 120})
    in_process = server.aws.client("codepipeline")
    (build_id,) = clients["codebuild"].list_builds_for_project(projectName=PROJECT)["ids"]

    def strip(answer: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in answer.items() if key != "ResponseMetadata"}

    assert strip(clients["codepipeline"].get_pipeline_state(name=PIPELINE)) == strip(
        in_process.get_pipeline_state(name=PIPELINE)
    )
    assert strip(clients["codepipeline"].get_pipeline(name=PIPELINE)) == strip(
        in_process.get_pipeline(name=PIPELINE)
    )
    assert strip(clients["codebuild"].batch_get_builds(ids=[build_id])) == strip(
        server.aws.client("codebuild").batch_get_builds(ids=[build_id])
    )


def test_transitions_are_disabled_and_enabled_over_http(server: LocalServer) -> None:
    """A transition disabled over HTTP holds the execution in front of its stage, shows its reason in
    GetPipelineState, and lets it in once enabled."""
    clients = _set_up_release(server)
    codepipeline = clients["codepipeline"]
    codepipeline.disable_stage_transition(
        pipelineName=PIPELINE, stageName="Build", transitionType="Inbound", reason="release freeze"
    )
    admin(server.url, "clock/advance", {"seconds": 600})
    state = codepipeline.get_pipeline_state(name=PIPELINE)
    build = next(stage for stage in state["stageStates"] if stage["stageName"] == "Build")
    assert build["inboundTransitionState"]["enabled"] is False
    assert build["inboundTransitionState"]["disabledReason"] == "release freeze"
    assert "latestExecution" not in build
    codepipeline.enable_stage_transition(pipelineName=PIPELINE, stageName="Build", transitionType="Inbound")
    admin(server.url, "clock/advance", {"seconds": 600})
    assert _approval(codepipeline)["status"] == "InProgress"


def test_a_fault_switched_on_through_the_admin_endpoint_reaches_the_client(server: LocalServer) -> None:
    """A throttling rule added through ``POST /_pipepilot/faults`` fails the selected calls with AWS's
    ThrottlingException (HTTP 400), for engine and moto services alike, and shows in the rule's counters;
    ``DELETE`` clears the plan."""
    codepipeline, s3 = client("codepipeline", server.url), client("s3", server.url)
    s3.create_bucket(Bucket="releases")
    status, answer = admin(
        server.url,
        "faults",
        {"service": "codepipeline", "operation": "ListPipelines", "error": "ThrottlingException"},
    )
    assert status == 200
    assert answer["rule"]["operations"] == ["ListPipelines"]
    with pytest.raises(ClientError) as raised:
        codepipeline.list_pipelines()
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    admin(
        server.url, "faults", {"service": "s3", "operation": "ListObjectsV2", "error": "ServiceUnavailable"}
    )
    with pytest.raises(ClientError) as raised:
        s3.list_objects_v2(Bucket="releases")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    s3.head_bucket(Bucket="releases")  # another S3 operation: not selected
    rules = admin(server.url, "faults")[1]["rules"]
    assert [(rule["calls"], rule["fired"]) for rule in rules] == [(1, 1), (1, 1)]
    assert admin(server.url, "faults", method="DELETE") == (200, {"rules": []})
    assert codepipeline.list_pipelines()["pipelines"] == []


def test_a_lost_response_closes_the_connection_after_the_call_was_applied(server: LocalServer) -> None:
    """``error: "lost-response"`` answers nothing and closes the connection (the client sees
    ConnectionClosedError), yet the call was applied: the bucket exists."""
    s3 = client("s3", server.url)
    admin(
        server.url,
        "faults",
        {"service": "s3", "operation": "CreateBucket", "error": "lost-response", "times": 1},
    )
    with pytest.raises(ConnectionClosedError):
        s3.create_bucket(Bucket="committed")
    assert [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]] == ["committed"]


def _raw(
    server: LocalServer, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Send one request with http.client: its status, headers (lower-cased names) and body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return (
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


_SIGNED_FOR_CODEPIPELINE = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/codepipeline/aws4_request, "
    "SignedHeaders=host;x-amz-target, Signature=0"
)


def test_an_unknown_target_is_answered_like_aws(server: LocalServer) -> None:
    """A request whose X-Amz-Target names no operation of the service it is signed for answers
    ``UnknownOperationException`` in the JSON error envelope, HTTP 400; so does an unsigned request whose
    target names no service the server knows."""
    for target, authorization in (
        ("CodePipeline_20150709.LaunchRockets", _SIGNED_FOR_CODEPIPELINE),
        ("Bogus_20200101.ListThings", _SIGNED_FOR_CODEPIPELINE),
        ("Bogus_20200101.ListThings", None),
    ):
        headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
        if authorization:
            headers["Authorization"] = authorization
        status, answer_headers, body = _raw(server, "POST", "/", b"{}", headers)
        assert status == 400, target
        assert json.loads(body)["__type"] == "UnknownOperationException"
        assert answer_headers["content-type"] == "application/x-amz-json-1.1"
        assert answer_headers["x-amzn-requestid"]


def test_malformed_json_is_answered_like_aws(server: LocalServer) -> None:
    """A CodePipeline request whose body is not JSON answers ``SerializationException``, HTTP 400."""
    headers = {
        "X-Amz-Target": "CodePipeline_20150709.ListPipelines",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": _SIGNED_FOR_CODEPIPELINE,
    }
    status, _, body = _raw(server, "POST", "/", b"{not json", headers)
    assert status == 400
    assert json.loads(body)["__type"] == "SerializationException"


def test_engine_errors_keep_their_codes_and_statuses(server: LocalServer) -> None:
    """An engine's error reaches a boto3 client as the ClientError an in-process client gets (code, message,
    HTTP status), and moto's XML errors (S3's NoSuchBucket, 404) come through unchanged."""
    with pytest.raises(ClientError) as raised:
        client("codepipeline", server.url).get_pipeline_state(name="nope")
    assert raised.value.response["Error"]["Code"] == "PipelineNotFoundException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as raised:
        client("s3", server.url).get_object(Bucket="no-such-bucket", Key="x")
    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


_SIGNED_FOR_S3 = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
)


def test_s3_answers_path_style_virtual_hosted_and_presigned_requests(server: LocalServer) -> None:
    """The same object is read path-style (``/bucket/key``), virtual-hosted (``Host: bucket.localhost``) and
    through a presigned URL (the credential scope in the query string); HEAD answers its length and no body;
    an anonymous read of a private object is refused (403), as on AWS."""
    s3 = client("s3", server.url)
    s3.create_bucket(Bucket="site")
    s3.put_object(Bucket="site", Key="dir/index.html", Body=b"<h1>hi</h1>")
    signed = {"Authorization": _SIGNED_FOR_S3}
    assert _raw(server, "GET", "/site/dir/index.html", headers=signed)[::2] == (200, b"<h1>hi</h1>")
    virtual = {**signed, "Host": f"site.localhost:{server.port}"}
    assert _raw(server, "GET", "/dir/index.html", headers=virtual)[::2] == (200, b"<h1>hi</h1>")
    sigv4 = client("s3", server.url, signature_version="s3v4")
    for presigner, scope in ((s3, "AWSAccessKeyId="), (sigv4, "X-Amz-Credential=")):
        url = presigner.generate_presigned_url(
            "get_object", Params={"Bucket": "site", "Key": "dir/index.html"}
        )
        path = url[len(server.url) :]
        assert scope in path
        assert _raw(server, "GET", path)[::2] == (200, b"<h1>hi</h1>")
    status, headers, body = _raw(server, "HEAD", "/site/dir/index.html", headers=signed)
    assert (status, headers["content-length"], body) == (200, "11", b"")
    assert _raw(server, "GET", "/site/dir/index.html")[0] == 403


def test_a_chunked_request_body_is_read_whole(server: LocalServer) -> None:
    """A request sent with ``Transfer-Encoding: chunked`` (no Content-Length) is answered like any other."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest("POST", "/")
        for name, value in {
            "X-Amz-Target": "CodePipeline_20150709.ListPipelines",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": _SIGNED_FOR_CODEPIPELINE,
            "Transfer-Encoding": "chunked",
        }.items():
            connection.putheader(name, value)
        connection.endheaders()
        connection.send(b"1\r\n{\r\n1\r\n}\r\n0\r\n\r\n")
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (200, {"pipelines": []})
    finally:
        connection.close()


def test_clients_in_the_same_process_really_go_over_http(server: LocalServer) -> None:
    """A boto3 client of the test process pointed at the server sends its requests on the wire (the server
    counts them), although the offline context is active in this process too."""
    before = server.requests
    client("codepipeline", server.url).list_pipelines()
    client("sts", server.url).get_caller_identity()
    assert server.requests == before + 2


def test_concurrent_clients_are_all_answered(server: LocalServer) -> None:
    """Clients calling at once from several threads (engine and moto services mixed) are all answered
    correctly, with the clock moved by hand: a connection's thread waiting for its client holds nobody's
    virtual time."""
    _set_up_release(server)
    errors: list[BaseException] = []

    def calls() -> None:
        codepipeline, s3 = client("codepipeline", server.url), client("s3", server.url)
        try:
            for _ in range(15):
                assert codepipeline.get_pipeline_state(name=PIPELINE)["pipelineName"] == PIPELINE
                assert s3.head_bucket(Bucket=ARTIFACT_BUCKET)["ResponseMetadata"]["HTTPStatusCode"] == 200
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    workers = [threading.Thread(target=calls) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
