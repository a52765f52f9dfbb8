"""Least privilege, checked: the AWS calls a Lambda example makes against its SAM template's IAM policy.

Use it in three steps (any example: approval bot, Slack approvals, job worker)::

    grants = policy_grants(EXAMPLE_DIR, parameters={"PipelineName": "release"})
    with recording_calls() as calls:
        ...  # run the handler inside pipepilot.local.offline()
    assert least_privilege_problems(calls, grants) == []

:func:`recording_calls` records every AWS API call any boto3 client makes while it is active (clients made
before it too), as the IAM action it needs (``codepipeline:PutApprovalResult``) and, where the harness
knows how to name it (:data:`RESOURCE_OF`), the resource ARN the call touches. :func:`policy_grants` reads
the template (CloudFormation short tags such as ``!Sub`` and ``!Ref`` load; ``Ref``, ``Fn::Sub``,
``Fn::Join``, ``Fn::Split``, ``Fn::Select`` and pseudo parameters resolve, with the parameters given or
their defaults) and lists what its functions' inline policies allow. :func:`least_privilege_problems`
reports every call the policy does not allow and every grant (action, and resource when it is not ``*``)
no call used. Extend :data:`RESOURCE_OF` and :data:`IAM_ACTION_ALIASES` for services the examples add.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib.util
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.client import BaseClient

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from types import ModuleType

__all__ = [
    "EXAMPLES",
    "IAM_ACTION_ALIASES",
    "RESOURCE_OF",
    "ApiCall",
    "Grant",
    "least_privilege_problems",
    "load_example",
    "load_template",
    "policy_grants",
    "recording_calls",
]

PARTITION = "aws"

#: Where the deployable Lambda examples live (one folder each: app.py, template.yaml, README.md).
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "lambda"

#: API operations whose IAM action is not ``<service>:<Operation>``.
IAM_ACTION_ALIASES: dict[str, str] = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
    "lambda:Invoke": "lambda:InvokeFunction",
}


def _pipeline_arn(region: str, account: str, name: str) -> str:
    return f"arn:{PARTITION}:codepipeline:{region}:{account}:{name}"


#: IAM action -> the resource ARN a call touches, from (params, region, account); None when unknown.
RESOURCE_OF: dict[str, Callable[[Mapping[str, Any], str, str], str | None]] = {
    "codepipeline:GetPipeline": lambda p, r, a: _pipeline_arn(r, a, p["name"]),
    "codepipeline:GetPipelineState": lambda p, r, a: _pipeline_arn(r, a, p["name"]),
    "codepipeline:GetPipelineExecution": lambda p, r, a: _pipeline_arn(r, a, p["pipelineName"]),
    "codepipeline:ListPipelineExecutions": lambda p, r, a: _pipeline_arn(r, a, p["pipelineName"]),
    "codepipeline:ListActionExecutions": lambda p, r, a: _pipeline_arn(r, a, p["pipelineName"]),
    "codepipeline:PutApprovalResult": lambda p, r, a: _pipeline_arn(
        r, a, f"{p['pipelineName']}/{p['stageName']}/{p['actionName']}"
    ),
    "codepipeline:StopPipelineExecution": lambda p, r, a: _pipeline_arn(r, a, p["pipelineName"]),
    "codepipeline:RetryStageExecution": lambda p, r, a: _pipeline_arn(
        r, a, f"{p['pipelineName']}/{p['stageName']}"
    ),
    # Job APIs have no resource-level permissions: they need "*".
    "codepipeline:PutJobSuccessResult": lambda p, r, a: "*",
    "codepipeline:PutJobFailureResult": lambda p, r, a: "*",
    "codepipeline:GetJobDetails": lambda p, r, a: "*",
    "secretsmanager:GetSecretValue": lambda p, r, a: (
        p["SecretId"] if str(p["SecretId"]).startswith("arn:") else None
    ),
    "ssm:GetParameter": lambda p, r, a: (
        f"arn:{PARTITION}:ssm:{r}:{a}:parameter/{str(p['Name']).lstrip('/')}"
        if not str(p["Name"]).startswith("arn:")
        else str(p["Name"])
    ),
}


class ApiCall(NamedTuple):
    """One AWS API call: the IAM action it needs, and the resource it touches (None when unknown)."""

    action: str
    resource: str | None


class Grant(NamedTuple):
    """One action an inline policy allows, on these resource patterns (``*`` for any)."""

    action: str
    resources: tuple[str, ...]
    function: str


# The method every operation and paginator page of a botocore client goes through.
_API_CALL = "_make_api_call"


@contextlib.contextmanager
def recording_calls(*, account: str = "123456789012") -> Iterator[list[ApiCall]]:
    """Record every AWS API call made by any boto3 client while the block runs, in order.

    Wraps ``BaseClient._make_api_call`` (every operation and paginator page goes through it), so clients
    made before the block are recorded too; a ``before-call`` handler on a session would miss those.
    The call is recorded before it is sent: a call AWS refused still needed the permission.
    """
    calls: list[ApiCall] = []
    original = getattr(BaseClient, _API_CALL)

    def recording(self: BaseClient, operation_name: str, api_params: Mapping[str, Any]) -> Any:
        model = self.meta.service_model
        prefix = model.signing_name or model.endpoint_prefix
        action = f"{prefix}:{operation_name}"
        action = IAM_ACTION_ALIASES.get(action, action)
        resource_of = RESOURCE_OF.get(action)
        resource = None
        if resource_of is not None:
            try:
                resource = resource_of(api_params, self.meta.region_name, account)
            except KeyError:
                resource = None  # a parameter missing: botocore will refuse the call itself
        calls.append(ApiCall(action, resource))
        return original(self, operation_name, api_params)

    setattr(BaseClient, _API_CALL, recording)
    try:
        yield calls
    finally:
        setattr(BaseClient, _API_CALL, original)


def load_example(example_dir: Path | str, module: str = "app") -> ModuleType:
    """Import ``<example_dir>/<module>.py`` afresh (under a name of its own), as Lambda would at a cold start.

    Set the environment the handler reads (``monkeypatch.setenv``) before calling this: module-level
    configuration is read at import, as in Lambda.
    """
    path = Path(example_dir) / f"{module}.py"
    name = f"lambda_example_{Path(example_dir).name}_{module}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    spec.loader.exec_module(loaded)
    return loaded


# ---------------------------------------------------------------------------------------------- template


def load_template(example_dir: Path | str) -> dict[str, Any]:
    """The example's ``template.yaml``, parsed; short tags (``!Sub``, ``!Ref``, ...) become ``Fn::`` forms."""
    from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped]

    text = (Path(example_dir) / "template.yaml").read_text(encoding="utf-8")
    loaded = cfn_yaml.loads(text)
    if not isinstance(loaded, dict):
        raise ValueError(f"{example_dir}/template.yaml is not a mapping")
    plain: dict[str, Any] = _plain(loaded)
    return plain


def _plain(value: Any) -> Any:
    # cfn-lint's nodes subclass dict/list/str with positions; plain values compare and print simply.
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def policy_grants(
    example_dir: Path | str,
    *,
    parameters: Mapping[str, Any] | None = None,
    function: str | None = None,
    region: str = "us-east-1",
    account: str = "123456789012",
) -> list[Grant]:
    """What the inline IAM policies of the template's functions allow (of ``function`` only, when given).

    Reads ``AWS::Serverless::Function`` ``Policies`` (inline documents) and the ``PolicyDocument`` of
    ``AWS::IAM::Role`` / ``AWS::IAM::Policy`` resources. Managed policies and SAM policy templates are
    refused: they cannot be checked here (and rarely are least privilege).

    Raises:
        ValueError: the template uses something this reader cannot resolve or check.
    """
    template = load_template(example_dir)
    values = {
        name: (parameters or {}).get(name, spec.get("Default"))
        for name, spec in (template.get("Parameters") or {}).items()
    }
    for name, spec in (template.get("Parameters") or {}).items():
        if spec.get("Type") == "CommaDelimitedList" and isinstance(values[name], str):
            values[name] = [part.strip() for part in values[name].split(",")]
    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": PARTITION,
        "AWS::StackName": "stack",
        "AWS::URLSuffix": "amazonaws.com",
    }
    grants: list[Grant] = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type")
        properties = resource.get("Properties") or {}
        documents: list[Any] = []
        if kind == "AWS::Serverless::Function":
            policies = properties.get("Policies")
            if policies is None:
                continue
            for policy in policies if isinstance(policies, list) else [policies]:
                if not isinstance(policy, dict) or "Statement" not in policy:
                    raise ValueError(
                        f"{logical_id}: only inline policy documents can be checked, not {policy!r}"
                    )
                documents.append(policy)
        elif kind == "AWS::IAM::Role":
            if properties.get("ManagedPolicyArns"):
                raise ValueError(f"{logical_id}: managed policies cannot be checked")
            documents.extend(policy["PolicyDocument"] for policy in properties.get("Policies") or [])
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(properties["PolicyDocument"])
        else:
            continue
        if function is not None and logical_id != function:
            continue
        for document in documents:
            for statement in _listed(document["Statement"]):
                if statement.get("Effect") != "Allow":
                    continue
                resources = tuple(
                    str(item) for item in _flat(_resolve(statement.get("Resource", "*"), values, pseudo))
                )
                for action in _listed(_resolve(statement["Action"], values, pseudo)):
                    grants.append(Grant(str(action), resources, logical_id))
    return grants


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _flat(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _flat(item)]
    return [value]


_SUB = re.compile(r"\$\{(!?)([^}]*)\}")


def _resolve(value: Any, parameters: Mapping[str, Any], pseudo: Mapping[str, str]) -> Any:
    """``value`` with ``Ref``/``Fn::Sub``/``Fn::Join``/``Fn::Split``/``Fn::Select`` worked out."""
    if isinstance(value, list):
        return [_resolve(item, parameters, pseudo) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        return {key: _resolve(item, parameters, pseudo) for key, item in value.items()}
    ((key, argument),) = value.items()
    if key == "Ref":
        return _reference(str(argument), parameters, pseudo)
    if key == "Fn::Sub":
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        local = {name: _resolve(item, parameters, pseudo) for name, item in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            if match.group(1):
                return "${" + match.group(2) + "}"
            name = match.group(2)
            found = local[name] if name in local else _reference(name, parameters, pseudo)
            if isinstance(found, list):
                raise ValueError(f"Fn::Sub of a list ({name}): join it first")
            return str(found)

        return _SUB.sub(substitute, text)
    if key == "Fn::Join":
        separator, items = argument
        return str(separator).join(str(item) for item in _flat(_resolve(items, parameters, pseudo)))
    if key == "Fn::Split":
        separator, text = argument
        return str(_resolve(text, parameters, pseudo)).split(str(separator))
    if key == "Fn::Select":
        index, items = argument
        return _flat(_resolve(items, parameters, pseudo))[int(_resolve(index, parameters, pseudo))]
    if key == "Fn::GetAtt":
        target = argument if isinstance(argument, str) else ".".join(argument)
        return f"<{target}>"
    if key.startswith("Fn::") or key == "Condition":
        raise ValueError(f"cannot resolve {key} in a policy")
    return {key: _resolve(argument, parameters, pseudo)}


def _reference(name: str, parameters: Mapping[str, Any], pseudo: Mapping[str, str]) -> Any:
    if name in pseudo:
        return pseudo[name]
    if name in parameters:
        return parameters[name]
    if "." in name:
        return f"<{name}>"  # ${Resource.Attribute}
    return f"<{name}>"  # a resource's logical id: its physical id is not known here


# ------------------------------------------------------------------------------------------------- check


def _matches(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def least_privilege_problems(calls: list[ApiCall], grants: list[Grant]) -> list[str]:
    """What breaks least privilege: calls the grants do not allow, and grants no call used.

    A call is allowed by a grant whose action matches it (IAM wildcards, case-insensitive) and, when the
    call's resource is known, one of whose resources matches it. A grant is used when a call matches its
    action and (for each resource other than ``*``) that resource. Empty when the policy is exactly right.
    """
    problems: list[str] = []
    for call in dict.fromkeys(calls):
        allowed = any(
            _matches(grant.action.lower(), call.action.lower())
            and (call.resource is None or any(_matches(r, call.resource) for r in grant.resources))
            for grant in grants
        )
        if not allowed:
            where = f" on {call.resource}" if call.resource else ""
            problems.append(f"not allowed by the policy: {call.action}{where}")
    for grant in grants:
        used_calls = [c for c in calls if _matches(grant.action.lower(), c.action.lower())]
        if not used_calls:
            problems.append(f"granted but never used: {grant.action} ({grant.function})")
            continue
        for resource in grant.resources:
            if resource == "*":
                if any(c.resource not in (None, "*") for c in used_calls):
                    problems.append(f"granted on * but only specific resources are used: {grant.action}")
                continue
            if not any(c.resource is None or _matches(resource, c.resource) for c in used_calls):
                problems.append(f"granted but never used: {grant.action} on {resource} ({grant.function})")
    return problems
