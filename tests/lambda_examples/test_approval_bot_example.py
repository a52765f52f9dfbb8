"""``examples/lambda/approval_bot``: its template lints, its handler works offline, its policy is exact."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ..library.functional.offline_world import PIPELINE, World, deploy, s3_source, stage
from .policy import (
    EXAMPLES,
    ApiCall,
    Grant,
    least_privilege_problems,
    load_example,
    load_template,
    policy_grants,
    recording_calls,
)

if TYPE_CHECKING:
    from types import ModuleType

EXAMPLE = EXAMPLES / "approval_bot"
ACCOUNT = "123456789012"
REGION = "us-east-1"


def _lint(text: str) -> list[str]:
    from cfnlint.api import lint  # type: ignore[import-untyped]

    return [f"{match.rule.id} {match.message}" for match in lint(text)]


def test_template_passes_cfn_lint() -> None:
    """cfn-lint (with the SAM transform) finds nothing in the template."""
    assert _lint((EXAMPLE / "template.yaml").read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("good", "bad", "rule"),
    [("python3.12", "python2.7", "E2533"), ("MemorySize: 256", "MemorySize: 1", "E3034")],
)
def test_cfn_lint_really_checks_the_sam_template(good: str, bad: str, rule: str) -> None:
    """The lint is not vacuous: the function with a runtime Lambda no longer accepts, or too little
    memory, fails it."""
    text = (EXAMPLE / "template.yaml").read_text(encoding="utf-8")
    assert good in text
    assert [problem for problem in _lint(text.replace(good, bad)) if problem.startswith(rule)] != []


def test_short_tags_load() -> None:
    """The harness reads CloudFormation short tags (!Ref, !Sub, !GetAtt) as their long forms."""
    template = load_template(EXAMPLE)
    function = template["Resources"]["ApprovalBotFunction"]["Properties"]
    assert function["Environment"]["Variables"]["PIPELINE_NAMES"] == {"Ref": "PipelineName"}
    assert template["Outputs"]["ApprovalBotFunctionArn"]["Value"] == {
        "Fn::GetAtt": ["ApprovalBotFunction", "Arn"]
    }


# ---------------------------------------------------------------------------------------- the handler


def _topic(world: World) -> str:
    return str(world.aws.client("sns").create_topic(Name="approvals")["TopicArn"])


def _stages(topic: str, custom_data: str) -> list[dict[str, Any]]:
    gate = {
        "name": "Approve",
        "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
        "runOrder": 1,
        "configuration": {"NotificationArn": topic, "CustomData": custom_data},
    }
    return [
        stage("Source", s3_source()),
        stage("Gate", gate),
        stage("Prod", {**deploy("Deploy"), "inputArtifacts": [{"name": "SourceOutput"}]}),
    ]


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example's handler module, configured as the template configures it (hold rule on)."""
    monkeypatch.setenv("PIPELINE_NAMES", PIPELINE)
    monkeypatch.setenv("APPROVE_CUSTOM_DATA", "branch=main")
    monkeypatch.setenv("REJECT_CUSTOM_DATA", "branch=forbidden")
    monkeypatch.setenv("HOLD_REVISION_SUMMARY", r"\[hold\]")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "approval-bot")
    return load_example(EXAMPLE)


class Recorder:
    """Subscribes the handler to the topic and keeps what it returned."""

    def __init__(self, world: World, app: ModuleType) -> None:
        self.results: list[dict[str, Any]] = []
        world.aws.subscribe(_topic(world), self)
        self.app = app

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        self.results.extend(self.app.handler(event, context)["results"])


def _release(world: World, custom_data: str, *, mode: str = "SUPERSEDED") -> str:
    world.aws.script_action(PIPELINE, "Prod", "Deploy", duration=60)
    pipeline = world.create(PIPELINE, _stages(_topic(world), custom_data), execution_mode=mode)
    execution = pipeline.start()
    world.aws.clock.advance(600)
    return execution.id


def _status(world: World, execution_id: str) -> str:
    return str(world.cp.pipeline(PIPELINE).execution(execution_id).get().status)


@pytest.mark.parametrize("mode", ["SUPERSEDED", "PARALLEL"])
def test_the_bot_approves_main_and_records_who_and_why(world: World, app: ModuleType, mode: str) -> None:
    """Custom data ``branch=main`` is approved (in PARALLEL mode too); the summary names the bot and the rule."""
    recorder = Recorder(world, app)
    execution_id = _release(world, "branch=main", mode=mode)
    assert _status(world, execution_id) == "Succeeded"
    (result,) = recorder.results
    assert (result["decision"], result["outcome"]) == ("approve", "answered")
    runs = world.cp.pipeline(PIPELINE).stage("Gate").action("Approve").executions(execution=execution_id)
    (run,) = list(runs)
    assert run.output is not None
    assert run.output.execution_result is not None
    summary = run.output.execution_result.external_execution_summary or ""
    assert summary.startswith("Approved by approval-bot: custom data 'branch=main'")


def test_the_bot_leaves_other_branches_to_a_human(world: World, app: ModuleType) -> None:
    """Custom data no rule approves: nothing is answered, the approval keeps waiting."""
    recorder = Recorder(world, app)
    execution_id = _release(world, "branch=feature")
    assert _status(world, execution_id) == "InProgress"
    assert [r["outcome"] for r in recorder.results] == ["left"]


def test_the_bot_rejects_by_rule(world: World, app: ModuleType) -> None:
    """Custom data the reject rule matches is rejected: the execution fails."""
    recorder = Recorder(world, app)
    execution_id = _release(world, "branch=forbidden")
    assert _status(world, execution_id) == "Failed"
    assert [r["outcome"] for r in recorder.results] == ["answered"]


def test_a_hold_in_the_commit_message_leaves_it_to_a_human(world: World, app: ModuleType) -> None:
    """A source revision whose summary says [hold] is left to a human although the branch matches."""
    recorder = Recorder(world, app)
    world.aws.script_action(PIPELINE, "Prod", "Deploy", duration=60)
    pipeline = world.create(PIPELINE, _stages(_topic(world), "branch=main"))
    world.aws.clock.advance(600)  # the first release (created with the pipeline) is approved
    world.aws.push_revision(PIPELINE, summary="risky change [hold]")
    execution = pipeline.start()
    world.aws.clock.advance(600)
    assert _status(world, execution.id) == "InProgress"
    assert [r["outcome"] for r in recorder.results][-1] == "left"


# ------------------------------------------------------------------------------------ least privilege


def _calls_of_every_path(world: World, app: ModuleType, mode: str) -> list[ApiCall]:
    """Run the handler through its paths: answer, redelivery (refused answer read back), hold rule."""
    events: list[dict[str, Any]] = []
    world.aws.subscribe(_topic(world), lambda event, context: events.append(event))
    execution_id = _release(world, "branch=main", mode=mode)
    with recording_calls(account=ACCOUNT) as calls:
        app.handler(events[0], None)
        app.handler(events[0], None)  # SNS redelivers: the refused answer is read back
    world.aws.clock.advance(600)
    assert _status(world, execution_id) == "Succeeded"
    return calls


def test_policy_allows_every_call_and_nothing_more(world: World, app: ModuleType) -> None:
    """Across its paths (SUPERSEDED and PARALLEL pipelines, an answer and a redelivery), every call the
    handler makes is allowed by the template's policy on this pipeline's ARNs, and every grant is used."""
    grants = policy_grants(EXAMPLE, parameters={"PipelineName": PIPELINE}, region=REGION, account=ACCOUNT)
    calls = _calls_of_every_path(world, app, "SUPERSEDED")
    world.cp.pipeline(PIPELINE).delete()
    calls += _calls_of_every_path(world, app, "PARALLEL")
    assert least_privilege_problems(calls, grants) == []


# --------------------------------------------------------------------------------- the harness itself


def test_harness_reports_a_call_the_policy_does_not_allow() -> None:
    """A call on another pipeline, or an action not granted, is reported."""
    grants = [Grant("codepipeline:GetPipeline", ("arn:aws:codepipeline:us-east-1:1:web",), "F")]
    calls = [
        ApiCall("codepipeline:GetPipeline", "arn:aws:codepipeline:us-east-1:1:web"),
        ApiCall("codepipeline:GetPipeline", "arn:aws:codepipeline:us-east-1:1:other"),
        ApiCall("codepipeline:PutApprovalResult", "arn:aws:codepipeline:us-east-1:1:web/Gate/Approve"),
    ]
    assert least_privilege_problems(calls, grants) == [
        "not allowed by the policy: codepipeline:GetPipeline on arn:aws:codepipeline:us-east-1:1:other",
        "not allowed by the policy: codepipeline:PutApprovalResult on arn:aws:codepipeline:us-east-1:1:web/Gate/Approve",
    ]


def test_harness_reports_a_grant_nothing_used() -> None:
    """An action never called, a resource never touched, and * where specific resources suffice are reported."""
    grants = [
        Grant(
            "codepipeline:GetPipeline",
            ("arn:aws:codepipeline:us-east-1:1:web", "arn:aws:codepipeline:us-east-1:1:x"),
            "F",
        ),
        Grant("codepipeline:StopPipelineExecution", ("*",), "F"),
        Grant("codepipeline:GetPipelineState", ("*",), "F"),
    ]
    calls = [
        ApiCall("codepipeline:GetPipeline", "arn:aws:codepipeline:us-east-1:1:web"),
        ApiCall("codepipeline:GetPipelineState", "arn:aws:codepipeline:us-east-1:1:web"),
    ]
    assert least_privilege_problems(calls, grants) == [
        "granted but never used: codepipeline:GetPipeline on arn:aws:codepipeline:us-east-1:1:x (F)",
        "granted but never used: codepipeline:StopPipelineExecution (F)",
        "granted on * but only specific resources are used: codepipeline:GetPipelineState",
    ]


def test_harness_records_calls_of_clients_made_before_it(world: World) -> None:
    """A client made before recording started is recorded too, with the resource its call touched."""
    client = world.aws.client("codepipeline")
    with recording_calls(account=ACCOUNT) as calls:
        client.list_pipelines()
        with pytest.raises(client.exceptions.PipelineNotFoundException):
            client.get_pipeline(name="nope")
    assert calls == [
        ApiCall("codepipeline:ListPipelines", None),
        ApiCall("codepipeline:GetPipeline", f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:nope"),
    ]


def test_harness_resolves_sub_join_split_and_parameters(tmp_path: Any) -> None:
    """Policies written with !Sub (with variables), !Join, !Split and CommaDelimitedList parameters resolve."""
    (tmp_path / "template.yaml").write_text(
        """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Names: {Type: CommaDelimitedList, Default: "a,b"}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: codepipeline:GetPipeline
              Resource: !Split [",", !Sub ["arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${N}", {N: !Join [",", !Ref Names]}]]
            - Effect: Allow
              Action: [sns:Publish]
              Resource: !Sub "arn:aws:sns:${AWS::Region}:${AWS::AccountId}:${!Literal}"
""",
        encoding="utf-8",
    )
    grants = policy_grants(tmp_path, region="eu-west-1", account="1")
    assert grants == [
        Grant("codepipeline:GetPipeline", ("arn:aws:codepipeline:eu-west-1:1:a", "b"), "Fn"),
        Grant("sns:Publish", ("arn:aws:sns:eu-west-1:1:${Literal}",), "Fn"),
    ]


def test_importing_the_handler_loads_no_aws_client_machinery() -> None:
    """The handler module's import (paid at every cold start) loads neither boto3 nor the facades: they
    load at the first invocation, and the facade is then kept for warm ones."""
    import json
    import subprocess
    import sys

    code = (
        f"import sys, json; sys.path.insert(0, {str(EXAMPLE)!r}); import app; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = set(json.loads(done.stdout))
    assert {"boto3", "botocore.session", "pipepilot.pipelines", "moto"} & loaded == set()
