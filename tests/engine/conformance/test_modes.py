"""How executions move through stages in SUPERSEDED, QUEUED and PARALLEL mode.

One test per rule of docs/local.md ("Behaviours and choices": E1-E5, S1-S6 with the superseding example,
Q1-Q4, P1-P3). Two documented PARALLEL quirks have no test: CodeCommit and S3 sources fetch their revision
when the execution starts, and the console may lag after a pipeline leaves PARALLEL mode; neither is
behaviour a client can pin down.
"""

from __future__ import annotations

import itertools

import pytest

from ._support import (
    HOUR,
    PIPELINE,
    PIPELINE_STATE_CHANGE,
    Env,
    approval_action,
    codedeploy_action,
    expect_error,
    s3_source,
    stage,
    stage_intervals,
    ts,
)

# The concurrency cap of QUEUED and PARALLEL pipelines is unconfirmed; the engine documents 50.
CONCURRENCY_CAP = 50


def _assert_no_overlap(spans: dict[str, tuple[float, float]]) -> None:
    ordered = sorted(spans.items(), key=lambda item: item[1][0])
    for (first, (_, first_end)), (second, (second_start, _)) in itertools.pairwise(ordered):
        assert second_start >= first_end, (
            f"{second} entered at {second_start} while {first} ran until {first_end}"
        )


# -- rules common to all modes -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["SUPERSEDED", "QUEUED", "PARALLEL"])
def test_stages_run_in_declaration_order(env: Env, mode: str) -> None:
    """An execution visits its stages strictly in declared order: each starts after the previous one ended."""
    execution = env.create(env.linear(("Build", 60), ("Test", 120), ("Deploy", 30), execution_mode=mode))
    env.run_until_status(execution, "Succeeded")

    spans = {}
    for name in ("Source", "Build", "Test", "Deploy"):
        runs = [d for d in env.action_executions(execution_id=execution) if d["stageName"] == name]
        assert len(runs) == 1, name
        spans[name] = (ts(runs[0]["startTime"]), ts(runs[0]["lastUpdateTime"]))
    for before, after in itertools.pairwise(("Source", "Build", "Test", "Deploy")):
        assert spans[after][0] >= spans[before][1], f"{after} started before {before} finished"
    assert spans["Test"][1] - spans["Test"][0] == pytest.approx(120)


def test_a_run_order_group_starts_together_and_the_next_waits_for_all_of_it(env: Env) -> None:
    """Actions of one runOrder start together; the next group (gaps allowed) starts when all have succeeded."""
    declaration = env.declaration(
        stage("Source", s3_source()),
        stage(
            "Deploy",
            codedeploy_action("Fast", input_artifact="SourceOutput", run_order=1),
            codedeploy_action("Slow", input_artifact="SourceOutput", run_order=1),
            codedeploy_action("Second", input_artifact="SourceOutput", run_order=5),
            codedeploy_action("Third", input_artifact="SourceOutput", run_order=9),
        ),
    )
    for action, seconds in (("Fast", 100), ("Slow", 300), ("Second", 50), ("Third", 10)):
        env.aws.script_action(PIPELINE, "Deploy", action, duration=seconds)
    execution = env.create(declaration)
    env.run_until_status(execution, "Succeeded")

    runs = {
        d["actionName"]: d
        for d in env.action_executions(execution_id=execution)
        if d["stageName"] == "Deploy"
    }
    start = {name: ts(run["startTime"]) for name, run in runs.items()}
    end = {name: ts(run["lastUpdateTime"]) for name, run in runs.items()}
    assert start["Fast"] == pytest.approx(start["Slow"])
    assert end["Fast"] == pytest.approx(start["Fast"] + 100)
    # The second group waited for the slow member of the first, not just the fast one.
    assert start["Second"] == pytest.approx(end["Slow"])
    assert start["Third"] == pytest.approx(end["Second"])


def test_a_stage_succeeds_only_when_all_its_actions_succeed(env: Env) -> None:
    """While one action of the stage still runs, the stage stays InProgress; it succeeds with the last one."""
    declaration = env.declaration(
        stage("Source", s3_source()),
        stage(
            "Deploy",
            codedeploy_action("Fast", input_artifact="SourceOutput"),
            codedeploy_action("Slow", input_artifact="SourceOutput"),
        ),
        stage("After", codedeploy_action("After", input_artifact="SourceOutput")),
    )
    env.aws.script_action(PIPELINE, "Deploy", "Fast", duration=100)
    env.aws.script_action(PIPELINE, "Deploy", "Slow", duration=300)
    execution = env.create(declaration)
    env.run_until(lambda: env.action_status("Deploy", "Fast") == "Succeeded")

    assert env.stage_latest("Deploy") == (execution, "InProgress")
    assert env.action_status("Deploy", "Slow") == "InProgress"
    assert not env.entered("After", execution)

    env.run_until(lambda: env.stage_latest("Deploy")[1] != "InProgress")
    assert env.stage_latest("Deploy") == (execution, "Succeeded")


def test_the_next_stage_requires_an_enabled_inbound_transition(env: Env) -> None:
    """An execution that finished a stage does not enter the next one while its inbound transition is disabled."""
    execution = env.create(env.linear(("Build", 60), ("Deploy", 60)))
    env.cp.disable_stage_transition(
        pipelineName=PIPELINE, stageName="Deploy", transitionType="Inbound", reason="Hold for review"
    )
    env.run_until_waiting(execution, "Deploy")
    env.aws.clock.advance(6 * HOUR)

    assert env.status(execution) == "InProgress"
    assert env.stage_latest("Build") == (execution, "Succeeded")
    assert env.stage_latest("Deploy") == (None, None)
    assert not env.entered("Deploy", execution)

    env.cp.enable_stage_transition(pipelineName=PIPELINE, stageName="Deploy", transitionType="Inbound")
    env.run_until_status(execution, "Succeeded")
    assert env.entered("Deploy", execution)


def test_the_execution_succeeds_when_its_last_stage_succeeds(env: Env) -> None:
    """The execution stays InProgress until its last stage succeeds, and succeeds at that moment."""
    execution = env.create(env.linear(("Build", 60), ("Deploy", 600)))
    env.run_until_in_stage(execution, "Deploy")
    deploy_start = ts(env.runs_of("Deploy", "Deploy", execution)[0]["startTime"])

    env.aws.clock.advance_to(deploy_start + 599)
    assert env.status(execution) == "InProgress"
    env.aws.clock.advance_to(deploy_start + 600)
    env.flush()
    assert env.status(execution) == "Succeeded"
    summary = env.summaries()[0]
    assert summary["pipelineExecutionId"] == execution
    assert ts(summary["lastUpdateTime"]) == pytest.approx(deploy_start + 600)


# -- SUPERSEDED ----------------------------------------------------------------------------------------------


def test_a_stage_runs_one_execution_at_a_time(env: Env) -> None:
    """A stage never runs two executions at once: later arrivals wait until the occupant leaves."""
    first = env.create(env.linear(("Build", 60), ("Deploy", 3600)))
    env.run_until_in_stage(first, "Deploy")
    second = env.start()
    env.run_until_waiting(second, "Deploy")
    env.aws.clock.advance(HOUR / 2)

    assert env.stage_latest("Deploy") == (first, "InProgress")
    assert not env.entered("Deploy", second)

    env.run_until_status(second, "Succeeded")
    for name in ("Source", "Build", "Deploy"):
        _assert_no_overlap(stage_intervals(env, name))


def test_at_most_one_execution_waits_in_front_of_a_stage(env: Env) -> None:
    """However many executions arrive at a busy stage, only one waits there; the others are gone."""
    first = env.create(env.linear(("Build", 60), ("Deploy", 10 * HOUR)))
    env.run_until_in_stage(first, "Deploy")
    arrivals = []
    for _ in range(3):
        arrivals.append(env.start())
        env.run_until_waiting(arrivals[-1], "Deploy")

    in_progress = {s["pipelineExecutionId"] for s in env.summaries() if s["status"] == "InProgress"}
    assert in_progress == {first, arrivals[-1]}
    assert [env.status(e) for e in arrivals[:-1]] == ["Superseded", "Superseded"]
    deploy = env.stage_state("Deploy")
    assert deploy["inboundExecution"]["pipelineExecutionId"] == arrivals[-1]
    assert len(deploy.get("inboundExecutions", [])) <= 1


def test_executions_are_superseded_only_between_stages(env: Env) -> None:
    """A waiting execution is superseded by a newer arrival; one running inside a stage never is."""
    first = env.create(env.linear(("Build", 1800), ("Deploy", 10 * HOUR)))
    env.run_until_in_stage(first, "Build")
    mid_stage = env.start()  # waits at Build, then runs there while the next ones arrive
    env.run_until_in_stage(mid_stage, "Build")
    waiting = env.start()
    env.run_until_waiting(waiting, "Build")
    newest = env.start()
    env.run_until_waiting(newest, "Build")

    assert env.status(waiting) == "Superseded"
    assert env.status(mid_stage) == "InProgress"
    assert env.stage_latest("Build") == (mid_stage, "InProgress")
    # Superseded is final: a stop request is refused.
    with expect_error("PipelineExecutionNotStoppableException"):
        env.cp.stop_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=waiting)

    env.run_until(
        lambda: env.stage_latest("Build")[0] == newest and env.stage_latest("Build")[1] == "Succeeded"
    )
    assert env.runs_of("Build", "Build", mid_stage)[0]["status"] == "Succeeded"
    assert not env.entered("Build", waiting)


@pytest.mark.parametrize("pipeline_type", ["V1", "V2"])
def test_a_superseded_execution_never_deploys(env: Env, pipeline_type: str) -> None:
    """The superseding example: E2 waits at Deploy, E3 supersedes it, E3 enters when E1 leaves; E2 never deploys."""
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", duration=10 * HOUR)  # Deploy is slow
    e1 = env.create(env.three_stage(pipeline_type=pipeline_type))
    env.run_until_in_stage(e1, "Deploy")

    # 1. E1 in Deploy. E2 finishes Build, waits at Deploy (inbound).
    e2 = env.start()
    env.run_until_waiting(e2, "Deploy")
    assert env.stage_latest("Build") == (e2, "Succeeded")
    assert env.stage_latest("Deploy") == (e1, "InProgress")
    assert env.status(e2) == "InProgress"

    # 2. E3 finishes Build -> E2 = Superseded, E3 waits.
    e3 = env.start()
    env.run_until(lambda: env.stage_latest("Build") == (e3, "Succeeded"), what="E3 finished Build")
    env.flush()
    assert env.status(e2) == "Superseded"
    assert env.inbound_id("Deploy") == e3
    assert env.stage_latest("Deploy") == (e1, "InProgress")

    # 3. E1 finishes Deploy -> E3 enters Deploy.
    env.run_until_status(e1, "Succeeded")
    env.flush()
    assert env.stage_latest("Deploy") == (e3, "InProgress")
    assert env.inbound_id("Deploy") is None
    e1_left = ts(env.runs_of("Deploy", "Deploy", e1)[0]["lastUpdateTime"])
    assert ts(env.runs_of("Deploy", "Deploy", e3)[0]["startTime"]) == pytest.approx(e1_left)

    # E2 never deploys.
    env.run_until_status(e3, "Succeeded")
    assert env.status(e2) == "Superseded"
    assert not env.entered("Deploy", e2)


@pytest.mark.parametrize("leaves_by", ["success", "failure", "stop-and-wait", "stop-and-abandon"])
def test_a_stage_admits_its_waiting_execution_when_the_occupant_leaves(env: Env, leaves_by: str) -> None:
    """The stage admits the waiting execution the moment the occupant leaves: success, failure or stop."""
    declaration = env.linear(("Build", 60), ("Deploy", 3600))
    if leaves_by == "failure":
        env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=3600, times=1)
    occupant = env.create(declaration)
    env.run_until_in_stage(occupant, "Deploy")
    waiting = env.start()
    env.run_until_waiting(waiting, "Deploy")

    if leaves_by.startswith("stop"):
        env.cp.stop_pipeline_execution(
            pipelineName=PIPELINE,
            pipelineExecutionId=occupant,
            abandon=leaves_by == "stop-and-abandon",
            reason="Stopping for the test",
        )
    expected = {"success": "Succeeded", "failure": "Failed"}.get(leaves_by, "Stopped")
    env.run_until_status(occupant, expected)
    env.flush()

    assert env.stage_latest("Deploy") == (waiting, "InProgress")
    occupant_left = ts(env.summary(occupant)["lastUpdateTime"])
    assert occupant_left == pytest.approx(env.now())
    assert ts(env.runs_of("Deploy", "Deploy", waiting)[0]["startTime"]) == pytest.approx(occupant_left)


def test_a_failed_execution_is_retryable_while_still_latest_in_its_stage(env: Env) -> None:
    """A failed execution that is still the stage's latest execution can be retried (same execution id)."""
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=60, times=1)
    execution = env.create(env.linear(("Build", 60), ("Deploy", 60)))
    env.run_until_status(execution, "Failed")

    response = env.cp.retry_stage_execution(
        pipelineName=PIPELINE, stageName="Deploy", pipelineExecutionId=execution, retryMode="FAILED_ACTIONS"
    )
    assert response["pipelineExecutionId"] == execution
    assert env.status(execution) == "InProgress"
    env.run_until_status(execution, "Succeeded")


def test_a_failed_execution_is_not_retryable_once_another_entered_its_stage(env: Env) -> None:
    """Once a newer execution entered the stage, retrying the failed one is refused as out of date."""
    env.aws.script_action(PIPELINE, "Deploy", "Deploy", outcome="Failed", duration=600, times=1)
    failed = env.create(env.linear(("Build", 60), ("Deploy", 600)))
    env.run_until_in_stage(failed, "Deploy")
    newer = env.start()
    env.run_until_waiting(newer, "Deploy")
    env.run_until_status(failed, "Failed")
    env.flush()
    assert env.stage_latest("Deploy") == (newer, "InProgress")

    with expect_error("NotLatestPipelineExecutionException"):
        env.cp.retry_stage_execution(
            pipelineName=PIPELINE, stageName="Deploy", pipelineExecutionId=failed, retryMode="FAILED_ACTIONS"
        )
    assert env.status(failed) == "Failed"


def test_newer_executions_never_preempt_a_running_one(env: Env) -> None:
    """Executions started later do not cancel or cut short one that is running inside a stage."""
    first = env.create(env.linear(("Build", 60), ("Deploy", 3600)))
    env.run_until_in_stage(first, "Deploy")
    later = [env.start() for _ in range(3)]
    env.run_until_status(first, "Succeeded")

    run = env.runs_of("Deploy", "Deploy", first)
    assert len(run) == 1
    assert run[0]["status"] == "Succeeded"
    assert ts(run[0]["lastUpdateTime"]) - ts(run[0]["startTime"]) == pytest.approx(3600)
    assert all(env.status(execution) in {"InProgress", "Superseded"} for execution in later)
    assert "SUPERSEDED" not in env.states(PIPELINE_STATE_CHANGE, execution_id=first)


# -- QUEUED --------------------------------------------------------------------------------------------------


def test_queued_mode_runs_one_execution_per_stage(env: Env) -> None:
    """QUEUED mode keeps the stage lock: a queued execution enters only after the occupant leaves."""
    first = env.create(env.linear(("Build", 60), ("Deploy", 3600), execution_mode="QUEUED"))
    env.run_until_in_stage(first, "Deploy")
    second = env.start()
    env.run_until(lambda: env.stage_latest("Build") == (second, "Succeeded"))
    env.aws.clock.advance(HOUR / 4)

    assert env.stage_latest("Deploy") == (first, "InProgress")
    assert not env.entered("Deploy", second)
    assert env.status(second) == "InProgress"

    env.run_until_status(second, "Succeeded")
    _assert_no_overlap(stage_intervals(env, "Deploy"))


def test_queued_waiters_are_never_superseded_and_enter_in_arrival_order(env: Env) -> None:
    """QUEUED mode never supersedes: waiting executions enter one by one in the order they arrived."""
    first = env.create(env.linear(("Build", 60), ("Deploy", 3600), execution_mode="QUEUED"))
    env.run_until_in_stage(first, "Deploy")
    queued = [env.start() for _ in range(3)]
    everyone = [first, *queued]
    env.run_until(lambda: all(env.status(e) == "Succeeded" for e in everyone), what="all succeeded")

    assert all(s["status"] == "Succeeded" for s in env.summaries())
    spans = stage_intervals(env, "Deploy")
    assert sorted(spans, key=lambda e: spans[e][0]) == everyone
    _assert_no_overlap(spans)
    assert not any("SUPERSEDED" in env.states(PIPELINE_STATE_CHANGE, execution_id=e) for e in everyone)


def test_the_queued_waiting_line_shows_in_inbound_executions(env: Env) -> None:
    """The QUEUED waiting line in front of a stage shows in ``inboundExecutions``, oldest first (a choice)."""
    first = env.create(env.linear(("Build", 60), ("Deploy", 10 * HOUR), execution_mode="QUEUED"))
    env.run_until_in_stage(first, "Deploy")
    queued = []
    for _ in range(3):
        queued.append(env.start())
        env.run_until(lambda: env.stage_latest("Build") == (queued[-1], "Succeeded"))
        env.flush()

    line = env.stage_state("Deploy").get("inboundExecutions", [])
    assert [entry["pipelineExecutionId"] for entry in line] == queued
    assert all(entry["status"] == "InProgress" for entry in line)


@pytest.mark.parametrize("mode", ["QUEUED", "PARALLEL"])
def test_queued_and_parallel_pipelines_cap_their_live_executions(env: Env, mode: str) -> None:
    """Starting more active executions than the cap is refused (the cap is unconfirmed; the engine's is 50)."""
    first = env.create(env.linear(("Deploy", 10 * HOUR), execution_mode=mode))
    started = [first] + [env.start() for _ in range(CONCURRENCY_CAP - 1)]
    assert len(set(started)) == CONCURRENCY_CAP

    with expect_error("ConcurrentPipelineExecutionsLimitExceededException"):
        env.start()
    assert len(env.summaries()) == CONCURRENCY_CAP


# -- PARALLEL ------------------------------------------------------------------------------------------------


def test_parallel_executions_run_independently(env: Env) -> None:
    """PARALLEL mode: executions run through every stage at the same time, none superseded or queued."""
    first = env.create(env.linear(("Build", 60), ("Deploy", 3600), execution_mode="PARALLEL"))
    others = [env.start() for _ in range(2)]
    everyone = [first, *others]
    env.run_until(lambda: all(env.entered("Deploy", e) for e in everyone), limit=HOUR)
    assert all(env.status(e) == "InProgress" for e in everyone)

    env.run_until(lambda: all(env.status(e) == "Succeeded" for e in everyone), what="all succeeded")
    spans = stage_intervals(env, "Deploy")
    latest_start = max(start for start, _ in spans.values())
    earliest_end = min(end for _, end in spans.values())
    assert latest_start < earliest_end, "Deploy runs of parallel executions should overlap"


def test_a_parallel_approval_token_comes_from_list_action_executions(env: Env) -> None:
    """PARALLEL mode: no token in GetPipelineState; the approval's externalExecutionId is the token to answer."""
    first = env.create(
        env.declaration(
            stage("Source", s3_source()), stage("Approval", approval_action()), execution_mode="PARALLEL"
        )
    )
    second = env.start()
    env.run_until(lambda: all(env.entered("Approval", e) for e in (first, second)))

    for entry in env.state()["stageStates"]:
        for action in entry.get("actionStates", []):
            assert "token" not in action.get("latestExecution", {})
    run = env.runs_of("Approval", "Approve", second)[0]
    token = run["output"]["executionResult"]["externalExecutionId"]
    env.cp.put_approval_result(
        pipelineName=PIPELINE,
        stageName="Approval",
        actionName="Approve",
        result={"summary": "ship it", "status": "Approved"},
        token=token,
    )
    env.run_until_status(second, "Succeeded", limit=HOUR)
    assert env.status(first) == "InProgress"


def test_parallel_mode_rejects_an_on_failure_rollback(env: Env) -> None:
    """PARALLEL mode has no stage rollback: an onFailure ROLLBACK condition is rejected on create."""
    declaration = env.linear(("Deploy", 60), execution_mode="PARALLEL")
    declaration["stages"][1]["onFailure"] = {"result": "ROLLBACK"}
    with expect_error(
        ("InvalidStructureException", "InvalidStageDeclarationException", "ValidationException")
    ):
        env.create_only(declaration)
    assert env.cp.list_pipelines()["pipelines"] == []


def test_parallel_mode_rejects_a_manual_rollback(env: Env) -> None:
    """PARALLEL mode has no manual rollback: RollbackStage is refused."""
    first = env.create(env.linear(("Deploy", 60), execution_mode="PARALLEL"))
    env.run_until_status(first, "Succeeded")
    env.run_until_status(env.start(), "Succeeded")
    with expect_error("UnableToRollbackStageException"):
        env.cp.rollback_stage(pipelineName=PIPELINE, stageName="Deploy", targetPipelineExecutionId=first)
