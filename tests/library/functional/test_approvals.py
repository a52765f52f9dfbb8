"""Manual approvals on the offline engine: finding them, answering exactly once, PARALLEL mode."""

from __future__ import annotations

import logging
import time
import traceback
from datetime import timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from pipepilot import PollPolicy
from pipepilot.approvals import waiting_in_state
from pipepilot.errors import (
    AmbiguousApprovalError,
    ApprovalConflict,
    ApprovalError,
    ExecutionFailed,
    InvalidApprovalTokenError,
    NoApprovalWaitingError,
    RequestValidationError,
    WaitTimeout,
)
from pipepilot.events import ApprovalRequested

from .offline_world import (
    PIPELINE,
    World,
    approval,
    call_counter,
    deploy,
    local_time_zone,
    s3_source,
    stage,
)

if TYPE_CHECKING:
    from pipepilot.approvals import Approval
    from pipepilot.executions import Execution
    from pipepilot.model.runtime import ActionExecutionDetail
    from pipepilot.pipelines import Pipeline


def gate_stages(*, timeout_minutes: int | None = None) -> list[dict[str, Any]]:
    """Source -> Gate (a manual approval) -> Prod (a short deploy)."""
    return [
        stage("Source", s3_source()),
        stage(
            "Gate",
            approval(
                "Approve",
                custom_data="Check the dashboards",
                link="https://ci.example.com/42",
                timeout_minutes=timeout_minutes,
            ),
        ),
        stage("Prod", {**deploy("Deploy"), "inputArtifacts": [{"name": "SourceOutput"}]}),
    ]


def waiting_approval(world: World, **create: Any) -> tuple[Pipeline, Execution, Approval]:
    world.aws.script_action(PIPELINE, "Prod", "Deploy", duration=60)
    pipeline = world.create(PIPELINE, gate_stages(), **create)
    execution = pipeline.start()
    found = pipeline.wait_for_approval("Gate", "Approve", execution=execution)
    return pipeline, execution, found


def approve_runs(world: World, execution_id: str) -> list[ActionExecutionDetail]:
    """The approval action's runs in one execution (one per answer AWS recorded)."""
    pipeline = world.cp.pipeline(PIPELINE)
    return list(pipeline.stage("Gate").action("Approve").executions(execution=execution_id))


def test_approvals_lists_the_waiting_approval_with_its_details(world: World) -> None:
    """approvals() shows stage, action, execution, custom data, link, review link and expiry (7 days)."""
    pipeline, execution, _ = waiting_approval(world)
    (found,) = pipeline.approvals()
    assert (found.pipeline, found.stage, found.action, found.execution_id) == (
        PIPELINE,
        "Gate",
        "Approve",
        execution.id,
    )
    assert found.custom_data == "Check the dashboards"
    assert found.external_entity_link == "https://ci.example.com/42"
    assert found.review_link == (
        "https://console.aws.amazon.com/codesuite/codepipeline/pipelines/"
        f"{PIPELINE}/view?region=us-east-1#/Gate/Approve/approve/{found.token}"
    )
    latest = pipeline.state().stage("Gate").action("Approve").latest_execution
    assert latest is not None
    assert latest.last_status_change is not None
    assert found.expires == latest.last_status_change + timedelta(days=7)


def test_expiry_follows_the_actions_timeout(world: World) -> None:
    """An approval declared with timeoutInMinutes expires that long after it started."""
    pipeline = world.create(PIPELINE, gate_stages(timeout_minutes=60))
    pipeline.start()
    found = pipeline.wait_for_approval()
    latest = pipeline.state().stage("Gate").action("Approve").latest_execution
    assert latest is not None
    since = latest.last_status_change
    assert since is not None
    assert found.expires == since + timedelta(minutes=60)


def test_expiry_is_utc_whatever_the_local_time_zone(world: World) -> None:
    """botocore reads times into the machine's zone; an approval's expiry is still an aware UTC datetime,
    in the listing and in the progress event alike."""
    with local_time_zone("IST-05:30"):
        assert time.localtime().tm_gmtoff == 5.5 * 3600  # the zone took effect
        pipeline, execution, found = waiting_approval(world)
        latest = pipeline.state().stage("Gate").action("Approve").latest_execution
        events: list[Any] = []
        with pytest.raises(WaitTimeout):
            pipeline.execution(execution.id).wait(on_progress=events.append, poll=PollPolicy(timeout=60))
    assert latest is not None
    assert latest.last_status_change is not None
    pending = next(event.approval for event in events if isinstance(event, ApprovalRequested))
    assert pending is not None
    for expires in (found.expires, pending.expires):
        assert expires is not None
        assert expires.tzinfo is timezone.utc
        assert expires == latest.last_status_change + timedelta(days=7)


def test_the_token_is_never_shown_or_logged(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """Neither repr nor any log line (at DEBUG) contains the approval token."""
    with caplog.at_level(logging.DEBUG, logger="pipepilot"):
        _, _, found = waiting_approval(world)
        found.approve("fine")
        found.approve("fine")  # redelivery path logs too
    assert str(found.token) not in repr(found)
    assert str(found.token) not in caplog.text
    assert "review_link" not in repr(found)


def test_approve_lets_the_execution_go_on(world: World) -> None:
    """approve() makes the approval succeed with the summary; the execution then succeeds."""
    _, execution, found = waiting_approval(world)
    found.approve("dashboards are green")
    assert execution.wait().status == "Succeeded"
    (run,) = approve_runs(world, execution.id)
    assert run.status == "Succeeded"
    assert run.output is not None
    assert run.output.execution_result is not None
    assert run.output.execution_result.external_execution_summary == "dashboards are green"


def test_reject_fails_the_execution(world: World) -> None:
    """reject() fails the approval, the stage and the execution."""
    _, execution, found = waiting_approval(world)
    found.reject("not today")
    with pytest.raises(ExecutionFailed) as raised:
        execution.wait()
    assert (raised.value.stage, raised.value.action) == ("Gate", "Approve")


def test_a_summary_over_512_characters_is_refused_before_sending(world: World) -> None:
    """The summary limit (0-512) is checked before anything is sent; the approval still waits."""
    pipeline, _, found = waiting_approval(world)
    calls = call_counter(world.cp)
    with pytest.raises(RequestValidationError, match="512"):
        found.approve("x" * 513)
    with pytest.raises(RequestValidationError, match="512"):
        pipeline.approval("Gate", "Approve").reject("x" * 513)
    assert "PutApprovalResult" not in calls
    assert len(pipeline.approvals()) == 1


def test_a_lost_response_is_confirmed_by_reading_the_action(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The answer is recorded but its response lost: approve() reads the run, logs success, answers once."""
    _, execution, found = waiting_approval(world)
    world.aws.faults.add(operation="PutApprovalResult", error="lost-response", nth=1)
    calls = call_counter(world.cp)
    with caplog.at_level(logging.INFO, logger="pipepilot.approvals"):
        found.approve("ok")
    assert calls["PutApprovalResult"] == 1
    assert "confirmed" in caplog.text
    assert execution.wait().status == "Succeeded"
    assert len(approve_runs(world, execution.id)) == 1


def test_an_answer_that_never_arrived_is_sent_again(world: World) -> None:
    """A 5xx before the engine acted: the approval still waits, so the answer is sent again and lands."""
    _, execution, found = waiting_approval(world)
    world.aws.faults.add(operation="PutApprovalResult", error="ServiceUnavailable", nth=1)
    calls = call_counter(world.cp)
    found.approve("ok")
    assert calls["PutApprovalResult"] == 2
    assert execution.wait().status == "Succeeded"


def test_approving_twice_is_a_logged_success(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """A redelivered approve meets ApprovalAlreadyCompleted/InvalidApprovalToken, reads the run, succeeds."""
    _, execution, found = waiting_approval(world)
    found.approve("ok")
    with caplog.at_level(logging.INFO, logger="pipepilot.approvals"):
        found.approve("ok")
    assert "already approved" in caplog.text
    assert len(approve_runs(world, execution.id)) == 1


def test_approve_then_reject_is_a_conflict(world: World) -> None:
    """Rejecting an approval already approved raises ApprovalConflict with both outcomes."""
    _, _, found = waiting_approval(world)
    found.approve("ok")
    with pytest.raises(ApprovalConflict) as raised:
        found.reject("changed my mind")
    assert (raised.value.requested, raised.value.actual) == ("Rejected", "Approved")


def test_reject_then_approve_is_a_conflict(world: World) -> None:
    """Approving an approval already rejected raises ApprovalConflict."""
    _, _, found = waiting_approval(world)
    found.reject("no")
    with pytest.raises(ApprovalConflict) as raised:
        found.approve("yes")
    assert (raised.value.requested, raised.value.actual) == ("Approved", "Rejected")


def test_an_approval_whose_execution_was_stopped_is_not_taken_for_rejected(world: World) -> None:
    """Rejecting an approval abandoned by a stop is refused, not a logged "already rejected" success:
    nobody answered it (a late notification for a stopped execution)."""
    _, execution, found = waiting_approval(world)
    execution.stop(abandon=True, reason="superseded by a hotfix")
    world.aws.clock.advance(5)
    assert [run.status for run in approve_runs(world, execution.id)] == ["Abandoned"]
    for answer in (found.reject, found.approve):
        with pytest.raises(ApprovalError) as raised:
            answer("late")
        assert not isinstance(raised.value, ApprovalConflict)
        assert found.token is not None
        assert found.token not in str(raised.value)


def test_a_stale_token_is_not_mistaken_for_a_redelivery(world: World) -> None:
    """After a reject and a stage retry the approval waits again with a new token: the old one is refused."""
    pipeline, execution, found = waiting_approval(world)
    found.reject("no")
    world.aws.clock.advance(5)
    pipeline.stage("Gate").retry(execution=execution)
    world.aws.clock.advance(5)
    with pytest.raises(ApprovalConflict) as raised:
        found.approve("yes")  # the run this token belongs to was rejected
    assert raised.value.actual == "Rejected"
    (again,) = pipeline.approvals()
    assert again.token != found.token
    again.approve("yes")
    assert execution.wait().status == "Succeeded"


def test_pipeline_approve_answers_the_named_execution(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """pipeline.approval(..., execution=) answers that execution; repeated it is a logged no-op."""
    pipeline, execution, _ = waiting_approval(world)
    pipeline.approval("Gate", "Approve", execution=execution).approve("ok")
    with caplog.at_level(logging.INFO, logger="pipepilot.approvals"):
        pipeline.approval("Gate", "Approve", execution=execution.id).approve("ok")
    assert "already approved" in caplog.text
    with pytest.raises(ApprovalConflict):
        pipeline.approval("Gate", "Approve", execution=execution).reject("no")
    assert execution.wait().status == "Succeeded"


def test_pipeline_approve_never_answers_another_executions_approval(world: World) -> None:
    """Naming an execution that is not at the approval raises NoApprovalWaitingError and changes nothing."""
    pipeline, waiting, _ = waiting_approval(world)
    other = pipeline.start()
    with pytest.raises(NoApprovalWaitingError) as raised:
        pipeline.approval("Gate", "Approve", execution=other)
    assert raised.value.execution_id == other.id
    (still,) = pipeline.approvals()
    assert still.execution_id == waiting.id


def test_pipeline_approve_without_anything_waiting(world: World) -> None:
    """With nothing waiting at that approval, NoApprovalWaitingError says where it looked."""
    world.aws.script_action(PIPELINE, "Prod", "Deploy", duration=60)
    pipeline = world.create(PIPELINE, gate_stages())
    with pytest.raises(NoApprovalWaitingError, match="Gate/Approve"):
        pipeline.approval("Gate", "Approve")


# ------------------------------------------------------------------------------------------------ PARALLEL


def parallel_pair(world: World) -> tuple[Pipeline, Execution, Execution]:
    world.aws.script_action(PIPELINE, "Prod", "Deploy", duration=60)
    pipeline = world.create(PIPELINE, gate_stages(), execution_mode="PARALLEL")
    first = pipeline.start()
    second = pipeline.start()
    world.aws.clock.advance(60)
    return pipeline, first, second


def test_parallel_approvals_are_found_through_action_executions(world: World) -> None:
    """In PARALLEL mode the state shows no token; approvals() still lists both, with working tokens."""
    pipeline, first, second = parallel_pair(world)
    assert waiting_in_state(pipeline.state()) == []
    found = pipeline.approvals()
    assert sorted(str(a.execution_id) for a in found) == sorted([first.id, second.id])
    assert all(a.token for a in found)
    assert all(a.custom_data == "Check the dashboards" for a in found)
    for item in found:
        item.approve("ok")
    assert first.wait().status == "Succeeded"
    assert second.wait().status == "Succeeded"


def test_parallel_approve_answers_only_the_named_execution(world: World) -> None:
    """pipeline.approval(execution=second) approves the second run only; the first still waits."""
    pipeline, first, second = parallel_pair(world)
    pipeline.approval("Gate", "Approve", execution=second).approve("ok")
    assert second.wait().status == "Succeeded"
    (left,) = pipeline.approvals()
    assert left.execution_id == first.id


def test_parallel_approve_without_an_execution_is_ambiguous(world: World) -> None:
    """With two executions waiting and none named, nothing is approved: AmbiguousApprovalError says to
    name one, and lists them."""
    pipeline, first, second = parallel_pair(world)
    with pytest.raises(AmbiguousApprovalError, match="execution=") as raised:
        pipeline.approval("Gate", "Approve")
    assert sorted(raised.value.execution_ids) == sorted([first.id, second.id])
    assert len(pipeline.approvals()) == 2


def test_an_approval_pinned_to_a_token_answers_only_that_run(world: World) -> None:
    """pipeline.approval(token=) makes no call and answers exactly the run the token belongs to: the
    other execution waiting at the same approval is untouched; answering it again is a no-op."""
    pipeline, first, second = parallel_pair(world)
    token = next(a.token for a in pipeline.approvals() if a.execution_id == second.id)
    assert token is not None
    calls = call_counter(world.cp)
    pinned = pipeline.approval("Gate", "Approve", token=token)
    assert calls == {}
    pinned.approve("ok")
    pinned.approve("ok")  # a redelivery: the run says it is approved already
    assert second.wait().status == "Succeeded"
    (left,) = pipeline.approvals()
    assert left.execution_id == first.id


def test_parallel_wait_for_approval(world: World) -> None:
    """wait_for_approval(execution=) finds the PARALLEL approval of that execution."""
    world.aws.script_action(PIPELINE, "Prod", "Deploy", duration=60)
    pipeline = world.create(PIPELINE, gate_stages(), execution_mode="PARALLEL")
    execution = pipeline.start()
    found = pipeline.wait_for_approval(execution=execution)
    assert found.execution_id == execution.id
    found.approve("ok")
    assert execution.wait().status == "Succeeded"


def test_parallel_wait_for_approval_notices_a_failure_first(world: World) -> None:
    """In PARALLEL mode too, an execution that fails before the approval ends the wait with ExecutionFailed."""
    world.aws.script_action(PIPELINE, "Source", "Source", outcome="Failed", error_message="no such object")
    pipeline = world.create(PIPELINE, gate_stages(), execution_mode="PARALLEL")
    execution = pipeline.start()
    with pytest.raises(ExecutionFailed):
        pipeline.wait_for_approval(execution=execution, poll=PollPolicy(timeout=3600))


def _everything_about(error: BaseException) -> str:
    """All a user or a log could see of ``error``: its traceback with every chained cause, and its fields."""
    shown = "".join(traceback.format_exception(error))
    for link in (error, error.__cause__, error.__context__):
        if link is not None:
            shown += repr(vars(link))
    return shown


def test_a_refused_token_never_shows_in_the_error(world: World) -> None:
    """AWS may echo a refused token in its message; the error pipepilot raises (its text, AWS message,
    response and chained causes) still never contains it."""
    _, _, found = waiting_approval(world)
    wrong = attrs.evolve(found, token="0123abcd-0000-4000-8000-00000000beef")
    with pytest.raises(InvalidApprovalTokenError) as raised:
        wrong.approve("yes")
    assert raised.value.code == "InvalidApprovalTokenException"
    assert "not valid" in str(raised.value)
    assert str(wrong.token) not in _everything_about(raised.value)
    assert len(world.cp.pipeline(PIPELINE).approvals()) == 1  # the real approval still waits


def test_a_stale_token_conflict_does_not_carry_the_token(world: World) -> None:
    """The ApprovalConflict a stale token leads to has no trace of the token, in any chained error."""
    pipeline, execution, found = waiting_approval(world)
    found.reject("no")
    world.aws.clock.advance(5)
    pipeline.stage("Gate").retry(execution=execution)
    world.aws.clock.advance(5)
    with pytest.raises(ApprovalConflict) as raised:
        found.approve("yes")
    assert str(found.token) not in _everything_about(raised.value)


def test_parallel_tokens_are_never_shown_or_logged(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """A PARALLEL approval's token is its run's externalExecutionId: it shows in no repr (approvals, the
    approval's action run, a wait's progress events) and in no log line, at DEBUG, as approvals are found,
    waited for, answered and answered again."""
    events: list[Any] = []
    with caplog.at_level(logging.DEBUG, logger="pipepilot"):
        pipeline, first, second = parallel_pair(world)
        found = pipeline.approvals()
        waited = pipeline.wait_for_approval("Gate", "Approve", execution=first)
        pipeline.approval("Gate", "Approve", execution=second).approve("ok")
        pipeline.approval("Gate", "Approve", execution=second).approve("ok")  # a redelivery
        waited.approve("ok")
        first.wait(on_progress=events.append)
    tokens = {approval.token for approval in found}
    assert len(tokens) == 2
    runs = [run for execution in (first, second) for run in execution.actions()]
    shown = caplog.text + repr(found) + repr(waited) + repr(runs) + repr(events)
    assert not [token for token in tokens if str(token) in shown]
