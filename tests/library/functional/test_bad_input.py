# Every row below passes a wrong type on purpose: that is what is being tested.
# mypy: disable-error-code="arg-type, dict-item, list-item"
"""Malformed calls fail at the boundary: a typed error that names the parameter, and no AWS call.

Each row of :data:`MALFORMED` is one wrong-type (or wrong-value) call of a public method of the live
objects, the facades, the freeze entry points or the ``pipepilot.local`` scripting hooks. Before these
checks, 22 of them escaped as an ``AttributeError`` (or a bare ``TypeError``) from deep inside, some after
calls had already been made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest

import pipepilot
from pipepilot import CodeBuild, CodePipeline, PipelineDeclaration, PipepilotError, PollPolicy, RetryPolicy
from pipepilot.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    NoApprovalWaitingError,
    PipelineNotFoundError,
)
from pipepilot.events import ApprovalRequested, ProgressEvent
from pipepilot.freeze import FreezeRecord
from pipepilot.model import PipelineDocument
from tests._data import load_json

from .offline_world import REGION, World, call_counter, shared_session

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipepilot.local import OfflineAWS

# A valid two-stage declaration (S3 source, CodeBuild), the starting point of every malformed variant.
DECLARATION: dict[str, Any] = load_json("runtime/two-stage-declaration.json")


@dataclass
class Handles:
    """Everything a malformed call is made on; none of it made a call to exist."""

    aws: OfflineAWS
    cp: CodePipeline
    codebuild: CodeBuild

    @property
    def pipeline(self) -> pipepilot.Pipeline:
        return self.cp.pipeline("web")

    @property
    def execution(self) -> pipepilot.Execution:
        return self.pipeline.execution("0a1b2c3d-0000-0000-0000-000000000000")

    @property
    def stage(self) -> pipepilot.Stage:
        return self.pipeline.stage("Build")

    @property
    def declaration(self) -> PipelineDeclaration:
        return PipelineDeclaration.from_api(DECLARATION)

    @property
    def record(self) -> FreezeRecord:
        return FreezeRecord(
            id="r", stage="Build", reason="freeze", started_at=datetime(2026, 1, 1, tzinfo=timezone.utc)
        )


# (id, the malformed call, the error class, the parameter the error must name)
MALFORMED: list[tuple[str, Callable[[Handles], object], type[Exception], str]] = [
    # -- the facade and the pipeline's declaration
    ("create_pipeline(dict)", lambda h: h.cp.create_pipeline(DECLARATION), ArgumentTypeError, "declaration"),
    (
        "create_pipeline(json text)",
        lambda h: h.cp.create_pipeline(json.dumps(DECLARATION)),
        ArgumentTypeError,
        "declaration",
    ),
    (
        "create_pipeline(tags=list)",
        lambda h: h.cp.create_pipeline(h.declaration, tags=["team"]),
        ArgumentTypeError,
        "tags",
    ),
    (
        "create_pipeline(tags={1: 2})",
        lambda h: h.cp.create_pipeline(h.declaration, tags={1: 2}),
        ArgumentTypeError,
        "tags",
    ),
    ("update(dict)", lambda h: h.pipeline.update(DECLARATION), ArgumentTypeError, "declaration"),
    (
        "update(document)",
        lambda h: h.pipeline.update(PipelineDocument(declaration=h.declaration)),
        ArgumentTypeError,
        "declaration",
    ),
    (
        "update(expected_version='3')",
        lambda h: h.pipeline.update(h.declaration, expected_version="3"),
        ArgumentTypeError,
        "expected_version",
    ),
    ("document(version='1')", lambda h: h.pipeline.document(version="1"), ArgumentTypeError, "version"),
    ("tag(list)", lambda h: h.pipeline.tag(["team"]), ArgumentTypeError, "tags"),
    ("tag('a=b')", lambda h: h.pipeline.tag("team=web"), ArgumentTypeError, "tags"),
    ("tag(team=1)", lambda h: h.pipeline.tag(team=1), ArgumentTypeError, "tags"),
    ("untag(1)", lambda h: h.pipeline.untag(1), ArgumentTypeError, "keys"),
    # -- executions
    ("start(variables='x=1')", lambda h: h.pipeline.start(variables="x=1"), ArgumentTypeError, "variables"),
    (
        "start(variables=pairs)",
        lambda h: h.pipeline.start(variables=[("x", "1")]),
        ArgumentTypeError,
        "variables",
    ),
    (
        "start(variables={'x': 1})",
        lambda h: h.pipeline.start(variables={"x": 1}),
        ArgumentTypeError,
        "variables",
    ),
    (
        "start(source_revisions='abc')",
        lambda h: h.pipeline.start(source_revisions="abc"),
        ArgumentTypeError,
        "source_revisions",
    ),
    (
        "start(source_revisions=[dict])",
        lambda h: h.pipeline.start(source_revisions=[{"actionName": "Source"}]),
        ArgumentTypeError,
        "source_revisions",
    ),
    ("start(token=123)", lambda h: h.pipeline.start(token=123), ArgumentTypeError, "token"),
    ("execution(123)", lambda h: h.pipeline.execution(123), ArgumentTypeError, "execution_id"),
    ("execution('')", lambda h: h.pipeline.execution(""), InvalidArgumentError, "execution_id"),
    ("executions(status=1)", lambda h: list(h.pipeline.executions(status=1)), ArgumentTypeError, "status"),
    (
        "executions(succeeded_in_stage=1)",
        lambda h: list(h.pipeline.executions(succeeded_in_stage=1)),
        ArgumentTypeError,
        "succeeded_in_stage",
    ),
    ("wait(poll=30)", lambda h: h.execution.wait(poll=30), ArgumentTypeError, "poll"),
    (
        "wait(on_progress='print')",
        lambda h: h.execution.wait(on_progress="print"),
        ArgumentTypeError,
        "on_progress",
    ),
    # -- stages and actions
    ("stage(1)", lambda h: h.pipeline.stage(1), ArgumentTypeError, "name"),
    ("retry(execution=123)", lambda h: h.stage.retry(execution=123), ArgumentTypeError, "execution"),
    ("retry(execution={})", lambda h: h.stage.retry(execution={}), ArgumentTypeError, "execution"),
    ("retry(execution='')", lambda h: h.stage.retry(execution=""), InvalidArgumentError, "execution"),
    ("rollback(123)", lambda h: h.stage.rollback(123), ArgumentTypeError, "to"),
    ("rollback(None)", lambda h: h.stage.rollback(None), ArgumentTypeError, "to"),
    (
        "override_condition(execution=123)",
        lambda h: h.stage.override_condition("BEFORE_ENTRY", execution=123),
        ArgumentTypeError,
        "execution",
    ),
    ("stage.action(1)", lambda h: h.stage.action(1), ArgumentTypeError, "name"),
    (
        "action.executions(123)",
        lambda h: list(h.stage.action("Build").executions(execution=123)),
        ArgumentTypeError,
        "execution",
    ),
    (
        "action.latest_execution(123)",
        lambda h: h.stage.action("Build").latest_execution(execution=123),
        ArgumentTypeError,
        "execution",
    ),
    (
        "action.build(codebuild='x')",
        lambda h: h.stage.action("Build").build(codebuild="x"),
        ArgumentTypeError,
        "codebuild",
    ),
    # -- approvals and waits
    (
        "approvals(execution=123)",
        lambda h: h.pipeline.approvals(execution=123),
        ArgumentTypeError,
        "execution",
    ),
    (
        "approve(execution=123)",
        lambda h: h.pipeline.approval("Prod", "Approve", execution=123),
        ArgumentTypeError,
        "execution",
    ),
    (
        "approve(summary=1)",
        lambda h: h.pipeline.approval("Prod", "Approve", token="a-token").approve(1),
        ArgumentTypeError,
        "summary",
    ),
    (
        "reject(summary=None)",
        lambda h: h.pipeline.approval("Prod", "Approve", token="a-token").reject(None),
        ArgumentTypeError,
        "summary",
    ),
    (
        "wait_for_approval(poll=30)",
        lambda h: h.pipeline.wait_for_approval(poll=30),
        ArgumentTypeError,
        "poll",
    ),
    (
        "wait_for_approval(execution=123)",
        lambda h: h.pipeline.wait_for_approval(execution=123),
        ArgumentTypeError,
        "execution",
    ),
    ("wait_for_approval(1)", lambda h: h.pipeline.wait_for_approval(1), ArgumentTypeError, "stage"),
    (
        "wait_for_approval(on_progress=1)",
        lambda h: h.pipeline.wait_for_approval(on_progress=1),
        ArgumentTypeError,
        "on_progress",
    ),
    ("wait_for_stage(1)", lambda h: h.pipeline.wait_for_stage(1), ArgumentTypeError, "stage"),
    (
        "wait_for_stage(poll=30)",
        lambda h: h.pipeline.wait_for_stage("Build", poll=30),
        ArgumentTypeError,
        "poll",
    ),
    (
        "wait_for_stage(execution=123)",
        lambda h: h.pipeline.wait_for_stage("Build", execution=123),
        ArgumentTypeError,
        "execution",
    ),
    # -- freezes
    ("thaw('{}')", lambda h: h.cp.thaw("{}"), ArgumentTypeError, "record"),
    ("thaw(dict)", lambda h: h.cp.thaw(h.record.to_dict()), ArgumentTypeError, "record"),
    ("thaw(checkpoint=1)", lambda h: h.cp.thaw(h.record, checkpoint=1), ArgumentTypeError, "checkpoint"),
    (
        "freeze(resume='{}')",
        lambda h: h.cp.freeze(["web"], stage="Build", reason="freeze", resume="{}"),
        ArgumentTypeError,
        "resume",
    ),
    (
        "freeze(resume=dict)",
        lambda h: h.cp.freeze(["web"], stage="Build", reason="freeze", resume=h.record.to_dict()),
        ArgumentTypeError,
        "resume",
    ),
    (
        "freeze(checkpoint='f')",
        lambda h: h.cp.freeze(["web"], stage="Build", reason="freeze", checkpoint="f"),
        ArgumentTypeError,
        "checkpoint",
    ),
    ("FreezeRecord.from_json(1)", lambda h: FreezeRecord.from_json(1), ArgumentTypeError, "text"),
    # -- CodeBuild
    ("get_builds('abc')", lambda h: h.codebuild.get_builds("web:abc"), ArgumentTypeError, "ids"),
    ("refresh('abc')", lambda h: h.codebuild.refresh("abc"), ArgumentTypeError, "builds"),
    ("build.wait(poll=30)", lambda h: h.codebuild.build("web:abc").wait(poll=30), ArgumentTypeError, "poll"),
    (
        "build.wait(on_phase='print')",
        lambda h: h.codebuild.build("web:abc").wait(on_phase="print"),
        ArgumentTypeError,
        "on_phase",
    ),
    # -- pipepilot.local scripting hooks (attrs validators re-raised as pipepilot errors naming the field)
    (
        "script_action(outcome='x')",
        lambda h: h.aws.script_action("web", "Build", "Build", outcome="x"),
        InvalidArgumentError,
        "outcome",
    ),
    (
        "script_action(times=0)",
        lambda h: h.aws.script_action("web", "Build", "Build", times=0),
        InvalidArgumentError,
        "times",
    ),
    (
        "script_action(duration=-1)",
        lambda h: h.aws.script_action("web", "Build", "Build", duration=-1),
        InvalidArgumentError,
        "duration",
    ),
    (
        "script_action(duration='5')",
        lambda h: h.aws.script_action("web", "Build", "Build", duration="5"),
        ArgumentTypeError,
        "duration",
    ),
    ("script_action(stage=1)", lambda h: h.aws.script_action("web", 1, "Build"), ArgumentTypeError, "stage"),
    (
        "script_action(output_variables='a=b')",
        lambda h: h.aws.script_action("web", "Build", "Build", output_variables="a=b"),
        ArgumentTypeError,
        "output_variables",
    ),
    (
        "script_rule(outcome='x')",
        lambda h: h.aws.script_rule("web", "Build", "Gate", outcome="x"),
        InvalidArgumentError,
        "outcome",
    ),
    (
        "script_build(status='x')",
        lambda h: h.aws.script_build("web", status="x"),
        InvalidArgumentError,
        "status",
    ),
    (
        "script_build(fail_in='NOPE')",
        lambda h: h.aws.script_build("web", fail_in="NOPE"),
        InvalidArgumentError,
        "fail_in",
    ),
    (
        "script_build(phase_durations='x')",
        lambda h: h.aws.script_build("web", phase_durations="x"),
        ArgumentTypeError,
        "phase_durations",
    ),
    (
        "script_build(phase_durations={'BUILD': '5'})",
        lambda h: h.aws.script_build("web", phase_durations={"BUILD": "5"}),
        ArgumentTypeError,
        "phase_durations",
    ),
    (
        "script_build(log_lines=5)",
        lambda h: h.aws.script_build("web", log_lines=5),
        ArgumentTypeError,
        "log_lines",
    ),
    (
        "register_lambda(1, handler)",
        lambda h: h.aws.register_lambda(1, lambda event, context: None),
        ArgumentTypeError,
        "name",
    ),
    ("push_revision(1)", lambda h: h.aws.push_revision(1), ArgumentTypeError, "pipeline"),
    (
        "push_revision(file_paths=5)",
        lambda h: h.aws.push_revision("web", file_paths=5),
        ArgumentTypeError,
        "file_paths",
    ),
    ("client(1)", lambda h: h.aws.client(1), ArgumentTypeError, "service"),
]


@pytest.fixture
def handles(offline_aws: OfflineAWS) -> Handles:
    """A facade and handles over the offline engine; the pipeline they name was never created."""
    cp = CodePipeline(session=shared_session(), region_name=REGION)
    return Handles(aws=offline_aws, cp=cp, codebuild=cp.codebuild())


def _count_calls(handles: Handles) -> list[str]:
    calls: list[str] = []

    def count(model: Any, **_: Any) -> None:
        calls.append(model.name)

    handles.cp.client.meta.events.register("before-call", count)
    handles.codebuild.client.meta.events.register("before-call", count)
    return calls


@pytest.mark.parametrize(
    ("call", "error", "parameter"), [row[1:] for row in MALFORMED], ids=[row[0] for row in MALFORMED]
)
def test_malformed_call_is_refused_naming_the_parameter_before_any_aws_call(
    handles: Handles, call: Callable[[Handles], object], error: type[Exception], parameter: str
) -> None:
    """A wrong type or value is a pipepilot error (also a TypeError or ValueError) naming the parameter,
    raised before anything is sent to AWS."""
    calls = _count_calls(handles)
    with pytest.raises(error) as raised:
        call(handles)
    assert isinstance(raised.value, PipepilotError)
    assert isinstance(raised.value, TypeError if error is ArgumentTypeError else ValueError)
    assert parameter in str(raised.value)
    assert getattr(raised.value, "parameter", parameter).startswith(parameter)
    assert calls == []


def test_a_dict_for_a_declaration_says_how_to_read_one(handles: Handles) -> None:
    """Passing the wire dict where a declaration belongs names PipelineDeclaration.from_api."""
    with pytest.raises(TypeError, match=r"PipelineDeclaration\.from_api"):
        handles.cp.create_pipeline(DECLARATION)


def test_a_number_for_a_poll_policy_says_what_was_meant(handles: Handles) -> None:
    """``poll=30`` suggests both ``PollPolicy(interval=30)`` and ``PollPolicy(timeout=30)``."""
    with pytest.raises(ArgumentTypeError, match=r"PollPolicy\(interval=30\).*PollPolicy\(timeout=30\)"):
        handles.execution.wait(poll=30)


def test_a_correct_poll_policy_still_passes_the_check(handles: Handles) -> None:
    """The boundary checks refuse only wrong types: a real PollPolicy goes on to the (failing) wait."""
    with pytest.raises(PipelineNotFoundError):
        handles.execution.wait(poll=PollPolicy(interval=1, max_interval=1, sparse_interval=1, timeout=5))


def test_a_huge_wrong_value_is_not_quoted_whole() -> None:
    """A refused freeze-record value is quoted shortened, not a megabyte of it."""
    record = {
        "format": "pipepilot.freeze/1",
        "id": "r",
        "stage": "Prod",
        "reason": ["x" * 1_000_000],
        "started_at": "2026-01-01T00:00:00+00:00",
        "pipelines": [],
    }
    with pytest.raises(ValueError, match="reason") as raised:
        FreezeRecord.from_json(json.dumps(record))
    assert len(str(raised.value)) < 300


# -- messages that point the right way, and progress while waiting for an approval


@pytest.mark.parametrize("answer", ["approve", "reject"])
def test_answering_an_action_that_is_not_an_approval_says_what_it_is(world: World, answer: str) -> None:
    """approve/reject on a Build action says it is a Build action (CodeBuild), not an approval."""
    pipeline = world.create()
    with pytest.raises(
        NoApprovalWaitingError, match=r"not an approval: it is a Build action \(AWS CodeBuild\)"
    ):
        getattr(pipeline.approval("Build", "Build"), answer)("ok")


def test_waiting_for_an_approval_at_a_non_approval_action_fails_at_once(world: World) -> None:
    """wait_for_approval at a Deploy action raises before polling, naming its category."""
    pipeline = world.create()
    calls = call_counter(world.cp)
    with pytest.raises(NoApprovalWaitingError, match="it is a Deploy action"):
        pipeline.wait_for_approval("Staging", "DeployStaging", poll=PollPolicy(timeout=3600))
    assert calls == {"GetPipeline": 1}


def test_wait_for_approval_reports_progress_like_the_other_waits(world: World) -> None:
    """wait_for_approval(on_progress=...) reports the execution's progress up to the approval, which
    arrives as an ApprovalRequested event carrying the Approval; no token in any line."""
    pipeline = world.create()
    execution = pipeline.start()
    events: list[ProgressEvent] = []
    approval = pipeline.wait_for_approval(on_progress=events.append)
    assert {event.execution_id for event in events} == {execution.id}
    kinds = [(type(event).__name__, event.where) for event in events]
    assert ("StageSucceeded", "Staging") in kinds
    assert kinds[-1] == ("ApprovalRequested", "Approval/Approve")
    pending = events[-1]
    assert isinstance(pending, ApprovalRequested)
    assert pending.approval is not None
    assert pending.approval.token == approval.token
    assert all(str(approval.token) not in str(event) for event in events)


def test_wait_for_approval_of_one_execution_reports_only_that_execution(world: World) -> None:
    """With execution=, only that execution's progress is reported."""
    pipeline = world.create()
    execution = pipeline.start()
    events: list[ProgressEvent] = []
    pipeline.wait_for_approval(execution=execution, on_progress=events.append)
    assert events
    assert {event.execution_id for event in events} == {execution.id}


# ----------------------------------------------------------------------------------------- facade options


@pytest.mark.parametrize(
    ("make", "parameter", "hint"),
    [
        (lambda: CodePipeline(client="x"), "client", r"boto3\.client\('codepipeline'\)"),
        (lambda: CodePipeline(retry=3), "retry", r"RetryPolicy\(max_attempts=3\)"),
        (lambda: CodePipeline(clock=1), "clock", r"clock=time\.monotonic"),
        (lambda: CodePipeline(sleep="soon"), "sleep", r"sleep=time\.sleep"),
        (lambda: CodePipeline(region_name=1), "region_name", "a string"),
        (lambda: CodePipeline(config={"retries": 1}), "config", "Config"),
        (lambda: CodePipeline.from_session("default"), "session", "Session"),
        (lambda: CodeBuild(retry=RetryPolicy, clock=1), "retry", "RetryPolicy"),
        (lambda: CodeBuild(logs_client=object()), "logs_client", "logs client"),
    ],
)
def test_a_facade_refuses_a_wrong_option_naming_it(
    make: Callable[[], object], parameter: str, hint: str
) -> None:
    """A wrong facade option is an ArgumentTypeError naming the parameter and what to pass, at once."""
    with pytest.raises(ArgumentTypeError, match=hint) as raised:
        make()
    assert raised.value.parameter == parameter
    assert str(raised.value).startswith(parameter)


def test_a_client_of_another_service_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CodePipeline client given to the CodeBuild facade says which service it is for."""
    import boto3

    client = boto3.client(
        "codepipeline", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    with pytest.raises(
        ArgumentTypeError, match="must be a boto3 codebuild client, not a codepipeline client"
    ):
        CodeBuild(client=client)
    assert CodePipeline(client=client).client is client
