"""From a raw HTTP request to the request a boto3 client would have sent AWS: service, operation, URL.

:mod:`pipepilot.local.server` receives requests that SDKs and the AWS CLI sent to ``--endpoint-url``. To
answer one exactly as :func:`pipepilot.local.offline` answers an in-process client, the server rebuilds
the botocore request that client would have made (``https://<endpoint prefix>.<region>.amazonaws.com/...``)
and hands it to the same router (:data:`pipepilot.local._wiring.ROUTER`): CodePipeline and CodeBuild go
to the engines, everything else to moto's in-process dispatch, and fault plans see every call. This module
does the translating and nothing else (no sockets, no world), so each rule below is tested on its own:

* **Service and region** come from the SigV4 signature's credential scope
  (``Credential=<key>/<date>/<region>/<service>/aws4_request``, in the ``Authorization`` header or a
  presigned URL's ``X-Amz-Credential``); an unsigned request is identified by its ``X-Amz-Target`` prefix
  (the engines' services), else taken for S3 (anonymous and presigned S3 requests are the common unsigned
  ones). Signatures are not verified, as moto does not verify them either.
* **Operation** (for fault rules and logs): the ``X-Amz-Target`` suffix (JSON protocols), the ``Action``
  parameter (query protocols), or the operation whose HTTP method and ``requestUri`` template match (REST
  protocols), read from botocore's service model.
* **S3 addressing**: path-style (``http://127.0.0.1:7473/bucket/key``) and virtual-hosted
  (``http://bucket.localhost:7473/key``, when the host name is a subdomain of the server's) requests both
  become path-style requests for moto.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs
from botocore.compat import HTTPHeaders

if TYPE_CHECKING:
    from collections.abc import Iterable

    from botocore.model import OperationModel, ServiceModel

__all__ = ["Answer", "Routed", "error_answer", "route"]

# X-Amz-Target prefixes of the services the engines answer; the same table the in-process wiring uses.
_ENGINE_TARGETS = {"CodePipeline_20150709": "codepipeline", "CodeBuild_20161006": "codebuild"}
_ENGINE_SERVICES = frozenset(_ENGINE_TARGETS.values())
# Signing names (credential scope) that differ from the boto3 client name.
_SIGNING_NAMES = {"monitoring": "cloudwatch", "states": "stepfunctions", "email": "ses"}
_CREDENTIAL = re.compile(r"^[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request$")
_SCOPE_IN_HEADER = re.compile(r"Credential=([^,\s]+)")
_URI_LABEL = re.compile(r"\{([^}]+)\}")
# Hop-by-hop and framing headers: the server frames the rebuilt request (and its answer) itself.
_FRAMING = frozenset({"host", "connection", "keep-alive", "transfer-encoding", "te", "upgrade", "expect"})
_JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


@attrs.frozen(kw_only=True)
class Answer:
    """A response the server writes as is: status, headers and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@attrs.frozen(kw_only=True)
class Routed:
    """The botocore request a client would have sent AWS for one raw HTTP request.

    ``service`` is the boto3 client name (``"s3"``, ``"codepipeline"``), ``operation`` the API name or
    ``""`` when none matched, ``event_name`` the ``before-send`` event botocore would have emitted (what the
    router reads the fault plan's service and operation from), ``protocol`` the service's wire protocol.
    """

    service: str
    operation: str
    region: str
    url: str
    headers: HTTPHeaders = attrs.field(repr=False)
    event_name: str
    protocol: str


def route(
    *,
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    served_hosts: frozenset[str],
    default_region: str,
) -> Routed | Answer:
    """Where one raw request goes: a :class:`Routed` request for the router, or an error :class:`Answer`.

    ``target`` is the request line's target (path and query); ``served_hosts`` the server's own host names,
    of which a subdomain names an S3 bucket (virtual-hosted addressing).
    """
    pairs = list(headers)
    lowered = {name.lower(): value for name, value in pairs}
    parts = urlsplit(target)
    path, query = parts.path or "/", parts.query
    amz_target = lowered.get("x-amz-target", "")
    scope = _credential_scope(lowered.get("authorization", ""), query)
    if scope is not None:
        region, signing_name = scope
        service = _SIGNING_NAMES.get(signing_name, signing_name)
    else:
        region = default_region
        service = _ENGINE_TARGETS.get(amz_target.partition(".")[0], "s3" if not amz_target else "")
        if not service:
            return error_answer(
                "json", "UnknownOperationException", f"Unknown X-Amz-Target {amz_target!r}", 400
            )
    model = _model(service)
    protocol = model.protocol if model is not None else ("json" if amz_target else "rest-xml")
    if service in _ENGINE_SERVICES:
        prefix, _, name = amz_target.partition(".")
        if _ENGINE_TARGETS.get(prefix) != service or not name:
            # What AWS answers a JSON-protocol call whose target names no operation of the service.
            return error_answer(protocol, "UnknownOperationException", "Unknown operation", 400)
    if service == "s3":
        path = _path_style(lowered.get("host", ""), path, served_hosts)
    operation = _operation(
        model, method=method, path=path, query=query, target=amz_target, body=body, headers=lowered
    )
    prefix = model.endpoint_prefix if model is not None else service
    netloc = f"{prefix}.{region}.amazonaws.com"
    url = f"https://{netloc}{path}" + (f"?{query}" if query else "")
    rebuilt = HTTPHeaders()
    for name, value in pairs:
        if name.lower() not in _FRAMING:
            rebuilt[name] = value
    rebuilt["Host"] = netloc
    service_id = model.service_id.hyphenize() if model is not None else service
    return Routed(
        service=service,
        operation=operation,
        region=region,
        url=url,
        headers=rebuilt,
        event_name=f"before-send.{service_id}.{operation}",
        protocol=protocol,
    )


def _credential_scope(authorization: str, query: str) -> tuple[str, str] | None:
    """``(region, signing name)`` from a SigV4 ``Authorization`` header or a presigned URL's query, or None."""
    credential = None
    if authorization.startswith("AWS4-"):
        match = _SCOPE_IN_HEADER.search(authorization)
        credential = match.group(1) if match else None
    elif "X-Amz-Credential=" in query:
        credential = dict(parse_qsl(query)).get("X-Amz-Credential")
    elif authorization.startswith("AWS "):
        return None  # SigV2 is S3's only: no scope, and S3 is what an unidentified request is taken for
    if credential is None:
        return None
    match = _CREDENTIAL.match(unquote(credential))
    return (match.group(1), match.group(2)) if match else None


@functools.cache
def _model(service: str) -> ServiceModel | None:
    """botocore's model of ``service`` (a boto3 client name), or None when botocore knows no such service."""
    from botocore.exceptions import DataNotFoundError, UnknownServiceError

    from pipepilot._shapes import service_model

    try:
        return service_model(service)
    except (DataNotFoundError, UnknownServiceError):
        return None


def _path_style(host_header: str, path: str, served_hosts: frozenset[str]) -> str:
    """The path-style path of an S3 request: a virtual-hosted request's bucket (the subdomain of one of the
    server's host names in ``Host``) moved into the path; a path-style request's path unchanged."""
    host = host_header.rsplit(":", 1)[0].lower() if not host_header.startswith("[") else ""
    for served in served_hosts:
        if host.endswith("." + served):
            bucket = host[: -len(served) - 1]
            return f"/{bucket}{path}" if path != "/" else f"/{bucket}"
    return path


def _operation(
    model: ServiceModel | None,
    *,
    method: str,
    path: str,
    query: str,
    target: str,
    body: bytes,
    headers: dict[str, str],
) -> str:
    """The API operation a request calls (``""`` when it cannot be told), by the service's protocol."""
    if target:
        return target.partition(".")[2]
    if model is None:
        return ""
    if model.protocol in ("query", "ec2"):
        action = dict(parse_qsl(query)).get("Action")
        if action is None and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            action = dict(parse_qsl(body.decode("utf-8", "replace"))).get("Action")
        return action or ""
    return _rest_operation(model, method, path, query, headers)


@attrs.frozen
class _RestTemplate:
    """How to recognise one operation of a REST service: its method, path pattern, what the query must hold
    (``(key, value)`` pairs from the ``requestUri``, an empty value meaning the key alone, plus the
    required query members), the headers it requires, and how many literal characters its path has."""

    operation: str
    method: str
    path: re.Pattern[str]
    query: tuple[tuple[str, str], ...]
    headers: tuple[str, ...]
    literal: int


def _rest_operation(model: ServiceModel, method: str, path: str, query: str, headers: dict[str, str]) -> str:
    """The operation of a REST-protocol service whose method, ``requestUri`` and required members match the
    request: of several, the one that requires the most, then the one with the longest literal path."""
    present = dict(parse_qsl(query, keep_blank_values=True))
    best: tuple[int, int] | None = None
    found = ""
    for template in _rest_templates(model):
        if template.method != method or not template.path.fullmatch(path):
            continue
        if any(name not in headers for name in template.headers):
            continue
        # botocore leaves S3's "x-id" out of the URL it sends, so it is checked only when present.
        if any(
            (key not in present and key != "x-id") or (value and key in present and present[key] != value)
            for key, value in template.query
        ):
            continue
        rank = (len(template.query) + len(template.headers), template.literal)
        if best is None or rank > best:
            best, found = rank, template.operation
    return found


@functools.cache
def _rest_templates(model: ServiceModel) -> tuple[_RestTemplate, ...]:
    """A :class:`_RestTemplate` per operation of a REST service, from its model's ``http`` traits."""
    templates = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        http = operation.http
        uri_path, _, uri_query = _original_uri(operation).partition("?")
        pattern, position, literal = "", 0, 0
        for match in _URI_LABEL.finditer(uri_path):
            text = uri_path[position : match.start()]
            pattern += re.escape(text)
            literal += len(text)
            pattern += ".+" if match.group(1).endswith("+") else "[^/]+"
            position = match.end()
        tail = uri_path[position:]
        pattern += re.escape(tail) + ("" if tail.endswith("/") else "/?")
        literal += len(tail)
        query = [
            (key, value) for key, _, value in (item.partition("=") for item in uri_query.split("&") if item)
        ]
        headers = []
        shape = operation.input_shape
        if shape is not None:
            for member in shape.required_members:
                trait = shape.members[member].serialization
                if trait.get("location") == "header":
                    headers.append(trait.get("name", member).lower())
                elif trait.get("location") == "querystring":
                    query.append((trait.get("name", member), ""))
        templates.append(
            _RestTemplate(
                operation=name,
                method=http.get("method", "POST"),
                path=re.compile(pattern),
                query=tuple(dict.fromkeys(query)),
                headers=tuple(headers),
                literal=literal,
            )
        )
    return tuple(templates)


def _original_uri(operation: OperationModel) -> str:
    """The operation's ``requestUri`` as the model declares it.

    botocore strips ``/{Bucket}`` from S3's URIs in the (shared) model the first time a client calls an
    operation, the bucket then going into the host name; put it back for operations that carry the bucket
    in the URI, whether or not that has happened yet.
    """
    uri = str(operation.http.get("requestUri", "/"))
    shape = operation.input_shape
    if shape is not None and "{Bucket}" not in uri:
        bucket = shape.members.get("Bucket")
        if bucket is not None and bucket.serialization.get("location") == "uri":
            uri = "/{Bucket}" + uri
    return uri


def error_answer(protocol: str, code: str, message: str, status: int) -> Answer:
    """AWS's error response for ``protocol``, which every SDK parses into its error type with ``code``.

    JSON protocols carry ``{"__type", "message"}``; REST-JSON adds the ``x-amzn-ErrorType`` header; query
    protocols an ``<ErrorResponse>``; REST-XML (S3) an ``<Error>`` document.
    """
    request_id = str(uuid.uuid4())
    if protocol in ("json", "rest-json", "smithy-rpc-v2-cbor"):
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", _JSON_CONTENT_TYPE), ("x-amzn-RequestId", request_id)]
        if protocol == "rest-json":
            headers.append(("x-amzn-ErrorType", code))
        return Answer(status=status, headers=tuple(headers), body=body)
    code_xml, message_xml = _xml_text(code), _xml_text(message)
    if protocol in ("query", "ec2"):
        text = (
            f"<ErrorResponse><Error><Type>{'Sender' if status < 500 else 'Receiver'}</Type>"
            f"<Code>{code_xml}</Code><Message>{message_xml}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    else:
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code_xml}</Code><Message>{message_xml}</Message><RequestId>{request_id}</RequestId></Error>"
        )
    headers_xml = (("Content-Type", "application/xml"), ("x-amzn-RequestId", request_id))
    return Answer(status=status, headers=headers_xml, body=text.encode())


def _xml_text(text: str) -> str:
    """``text`` escaped for an XML element."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
