"""How the server reads a raw request: service, region, operation, S3 addressing, and AWS's error shapes."""

from __future__ import annotations

import json

import pytest

from pipepilot.local._serving import Answer, Routed, error_answer, route

SERVED = frozenset({"localhost"})


def _scope(service: str, region: str = "eu-west-1") -> str:
    """A SigV4 Authorization header signed for ``service`` in ``region``."""
    return (
        f"AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )


def _route(method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"") -> Routed:
    """Route a raw request; it must be routed (not refused)."""
    routed = route(
        method=method,
        target=target,
        headers=list((headers or {}).items()),
        body=body,
        served_hosts=SERVED,
        default_region="us-east-1",
    )
    assert isinstance(routed, Routed)
    return routed


def test_the_signature_scope_names_service_and_region() -> None:
    """A SigV4 ``Authorization`` header's credential scope gives the service and region; the request becomes
    the one a client would have sent the service's regional endpoint (Host header included)."""
    routed = _route(
        "POST",
        "/",
        {
            "Authorization": _scope("logs"),
            "X-Amz-Target": "Logs_20140328.GetLogEvents",
            "Host": "127.0.0.1:7473",
        },
    )
    assert (routed.service, routed.region, routed.operation) == ("logs", "eu-west-1", "GetLogEvents")
    assert routed.url == "https://logs.eu-west-1.amazonaws.com/"
    assert routed.headers["Host"] == "logs.eu-west-1.amazonaws.com"
    assert routed.event_name == "before-send.cloudwatch-logs.GetLogEvents"
    assert routed.protocol == "json"


def test_a_presigned_url_and_an_unsigned_request_are_identified() -> None:
    """A presigned URL's ``X-Amz-Credential`` gives the scope; an unsigned request is taken for S3, or for
    the engine its ``X-Amz-Target`` names; SigV2 requests (S3's) keep the default region."""
    presigned = _route(
        "GET", "/b/k?X-Amz-Credential=testing%2F20260101%2Fap-south-1%2Fs3%2Faws4_request&X-Amz-Signature=0"
    )
    assert (presigned.service, presigned.region, presigned.operation) == ("s3", "ap-south-1", "GetObject")
    assert presigned.url.startswith("https://s3.ap-south-1.amazonaws.com/b/k?X-Amz-Credential=")
    anonymous = _route("GET", "/b/k")
    assert (anonymous.service, anonymous.region) == ("s3", "us-east-1")
    sigv2 = _route("GET", "/b/k", {"Authorization": "AWS testing:c2lnbmF0dXJl"})
    assert (sigv2.service, sigv2.operation) == ("s3", "GetObject")
    target = _route("POST", "/", {"X-Amz-Target": "CodeBuild_20161006.ListProjects"}, b"{}")
    assert (target.service, target.operation, target.url) == (
        "codebuild",
        "ListProjects",
        "https://codebuild.us-east-1.amazonaws.com/",
    )


@pytest.mark.parametrize(
    ("method", "target", "headers", "operation"),
    [
        ("PUT", "/b/k", {}, "PutObject"),
        ("PUT", "/b/k", {"x-amz-copy-source": "other/k"}, "CopyObject"),
        ("GET", "/b/k?acl", {}, "GetObjectAcl"),
        ("GET", "/b?list-type=2&prefix=a", {}, "ListObjectsV2"),
        ("GET", "/b", {}, "ListObjects"),
        ("GET", "/", {}, "ListBuckets"),
        ("PUT", "/b/k?partNumber=1&uploadId=u", {}, "UploadPart"),
        ("POST", "/b/k?uploads", {}, "CreateMultipartUpload"),
        ("HEAD", "/b", {}, "HeadBucket"),
        ("DELETE", "/b/dir/k.zip", {}, "DeleteObject"),
        ("PATCH", "/b", {}, ""),
    ],
)
def test_s3_operations_are_told_by_method_path_query_and_headers(
    method: str, target: str, headers: dict[str, str], operation: str
) -> None:
    """A REST request's operation is the one whose method, ``requestUri`` template and required query and
    header members match, the most demanding first (``""`` when none does)."""
    assert _route(method, target, {"Authorization": _scope("s3"), **headers}).operation == operation


def test_query_protocol_operations_come_from_the_action_parameter() -> None:
    """IAM and SNS name their operation in ``Action``, in the form body or the query string."""
    form = {"Authorization": _scope("iam", "us-east-1"), "Content-Type": "application/x-www-form-urlencoded"}
    iam = _route("POST", "/", form, b"Action=CreateRole&Version=2010-05-08&RoleName=r")
    assert (iam.service, iam.operation, iam.event_name) == ("iam", "CreateRole", "before-send.iam.CreateRole")
    assert iam.url == "https://iam.us-east-1.amazonaws.com/"
    assert _route("GET", "/?Action=ListTopics", {"Authorization": _scope("sns")}).operation == "ListTopics"
    assert _route("POST", "/", {"Authorization": _scope("sns")}, b"").operation == ""


def test_virtual_hosted_s3_requests_become_path_style() -> None:
    """``Host: <bucket>.localhost`` moves the bucket into the path (moto's path-style); the server's own
    host name, or a request of another service, keeps its path."""
    signed = {"Authorization": _scope("s3")}
    assert _route("GET", "/dir/k?x=1", {**signed, "Host": "site.localhost:7473"}).url == (
        "https://s3.eu-west-1.amazonaws.com/site/dir/k?x=1"
    )
    assert (
        _route("GET", "/", {**signed, "Host": "site.localhost:7473"}).url
        == "https://s3.eu-west-1.amazonaws.com/site"
    )
    assert _route("GET", "/site/k", {**signed, "Host": "localhost:7473"}).url.endswith("amazonaws.com/site/k")
    assert _route("GET", "/site/k", {**signed, "Host": "[::1]:7473"}).url.endswith("amazonaws.com/site/k")


def test_an_unknown_service_is_passed_on_with_its_signing_name() -> None:
    """A scope naming a service botocore does not know is routed under that name, operation unknown; the
    signing names that differ from client names (``monitoring``) are translated."""
    unknown = _route("POST", "/", {"Authorization": _scope("teleporter")})
    assert (unknown.service, unknown.operation, unknown.url) == (
        "teleporter",
        "",
        "https://teleporter.eu-west-1.amazonaws.com/",
    )
    assert (
        _route("POST", "/", {"Authorization": _scope("monitoring")}, b"Action=ListMetrics").service
        == "cloudwatch"
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Amz-Target": "Bogus_20200101.Thing"},
        {"X-Amz-Target": "CodePipeline_20150709.ListPipelines", "Authorization": _scope("codebuild")},
        {"X-Amz-Target": "CodePipeline_20150709", "Authorization": _scope("codepipeline")},
        {"Authorization": _scope("codepipeline")},
    ],
)
def test_requests_naming_no_operation_of_an_engine_are_refused(headers: dict[str, str]) -> None:
    """An unsigned request with an unknown target, or a request signed for an engine's service whose target
    names no operation of it, is answered ``UnknownOperationException`` (JSON, 400) at once."""
    answer = route(
        method="POST",
        target="/",
        headers=list(headers.items()),
        body=b"{}",
        served_hosts=SERVED,
        default_region="us-east-1",
    )
    assert isinstance(answer, Answer)
    assert answer.status == 400
    assert json.loads(answer.body)["__type"] == "UnknownOperationException"


def test_errors_take_the_shape_of_the_services_protocol() -> None:
    """JSON protocols answer ``{"__type", "message"}`` (REST-JSON with ``x-amzn-ErrorType`` too); query
    protocols an ``<ErrorResponse>`` (``Sender``/``Receiver`` by status); REST-XML an ``<Error>`` document;
    text is XML-escaped."""
    json_answer = error_answer("json", "UnknownOperationException", "Unknown operation", 400)
    assert json.loads(json_answer.body) == {
        "__type": "UnknownOperationException",
        "message": "Unknown operation",
    }
    assert dict(json_answer.headers)["Content-Type"] == "application/x-amz-json-1.1"
    assert (
        dict(error_answer("rest-json", "NotImplemented", "no", 501).headers)["x-amzn-ErrorType"]
        == "NotImplemented"
    )
    query = error_answer("query", "InternalFailure", "a < b & c", 500).body.decode()
    assert "<Type>Receiver</Type><Code>InternalFailure</Code><Message>a &lt; b &amp; c</Message>" in query
    assert "<Type>Sender</Type>" in error_answer("ec2", "Bad", "x", 400).body.decode()
    rest_xml = error_answer("rest-xml", "NotImplemented", "x > y", 501)
    assert "<Error><Code>NotImplemented</Code><Message>x &gt; y</Message>" in rest_xml.body.decode()
    assert dict(rest_xml.headers)["Content-Type"] == "application/xml"


def test_s3_operations_are_told_even_after_a_client_rewrote_the_shared_model() -> None:
    """botocore strips ``/{Bucket}`` from S3's URIs in the shared model once a client has called an
    operation; the operations are still told apart as the model declares them."""
    from pipepilot._shapes import service_model

    model = service_model("s3")
    stripped = {}
    for name in ("GetObject", "ListObjects", "GetBucketAcl"):
        http = model.operation_model(name).http
        stripped[name] = http["requestUri"]
        http["requestUri"] = http["requestUri"].removeprefix("/{Bucket}")  # as botocore does, if not done yet
    try:
        from pipepilot.local import _serving

        _serving._rest_templates.cache_clear()
        for method, target, operation in (
            ("GET", "/b", "ListObjects"),
            ("GET", "/b/k", "GetObject"),
            ("GET", "/b?acl", "GetBucketAcl"),
        ):
            assert _route(method, target, {"Authorization": _scope("s3")}).operation == operation
    finally:
        for name, uri in stripped.items():
            model.operation_model(name).http["requestUri"] = uri
        _serving._rest_templates.cache_clear()
