"""The commands, run in-process (click's runner) against an offline world: output, JSON and exit statuses."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import pytest

from pipepilot.cli import _exits

from ..library.functional.offline_world import PIPELINE, PROJECT, World, approval, release_stages
from .conftest import quick_stages

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from click.testing import Result

    Run = Callable[..., Result]


def _json(result: Result) -> dict:  # type: ignore[type-arg]
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


# ------------------------------------------------------------------------------------------- ls, status


def test_ls_lists_pipelines_with_their_latest_execution(world: World, pipepilot: Run) -> None:
    """ls shows each pipeline's latest execution: its status, the stage it is in, and its age."""
    world.create("alpha", quick_stages())
    beta = world.create("beta", quick_stages())
    execution = beta.start()
    world.aws.clock.advance(5)
    result = pipepilot("--output", "json", "ls")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in _json(result)["pipelines"]}
    assert sorted(rows) == ["alpha", "beta"]
    assert rows["beta"]["executionId"] == execution.id
    assert rows["beta"]["status"] == "InProgress"
    assert rows["beta"]["stage"] in ("Source", "Build")
    text = pipepilot("ls", "b*")
    assert text.exit_code == 0
    assert "beta" in text.stdout
    assert "alpha" not in text.stdout
    assert execution.id.split("-")[0] in text.stdout


def test_status_shows_disabled_transitions_failures_and_pending_approvals(
    world: World, pipepilot: Run
) -> None:
    """status shows every stage and action, a disabled transition with its reason, a failed action's
    error and link, and the approvals waiting for an answer."""
    pipeline = world.create(PIPELINE, release_stages())
    pipeline.stage("Prod").inbound.disable("Quarterly freeze")
    execution = pipeline.start()
    pipeline.wait_for_approval("Approval", "Approve", execution=execution)
    result = pipepilot("status", PIPELINE)
    assert result.exit_code == 0, result.output
    assert "transition into Prod disabled" in result.stdout
    assert "'Quarterly freeze'" in result.stdout
    assert f"approval waiting: Approval/Approve for execution {execution.id}" in result.stdout
    data = _json(pipepilot("--output", "json", "status", PIPELINE))
    prod = next(stage for stage in data["stages"] if stage["name"] == "Prod")
    assert prod["inboundTransition"]["enabled"] is False
    assert prod["inboundTransition"]["reason"] == "Quarterly freeze"
    assert data["approvals"][0]["executionId"] == execution.id
    assert "token" not in json.dumps(data).lower()


def test_status_of_an_unknown_pipeline_is_one_line_and_exit_254(world: World, pipepilot: Run) -> None:
    """An unknown pipeline: one line on stderr naming the error, exit 254, no traceback."""
    result = pipepilot("status", "nope")
    assert result.exit_code == _exits.SERVICE
    assert result.stderr.count("\n") == 1
    assert "PipelineNotFoundError" in result.stderr
    assert "Traceback" not in result.stderr


def test_verbose_shows_the_traceback(world: World, pipepilot: Run) -> None:
    """-v adds the traceback (and pipepilot's debug log) to the one-line error, and leaves the process's
    logging as it found it when the command ends."""
    package = logging.getLogger("pipepilot")
    handlers, level = list(package.handlers), package.level
    result = pipepilot("-v", "status", "nope")
    assert result.exit_code == _exits.SERVICE
    assert "Traceback" in result.stderr
    assert "DEBUG pipepilot." in result.stderr
    assert "PipelineNotFoundError" in result.stderr.splitlines()[-1]
    assert (package.handlers, package.level) == (handlers, level)


def test_verbose_never_logs_the_approval_token(world: World, pipepilot: Run) -> None:
    """The debug log of -v shows the calls made to answer an approval, never its token."""
    pipeline = world.create(PIPELINE, release_stages())
    execution = pipeline.start()
    token = pipeline.wait_for_approval("Approval", "Approve", execution=execution).token
    assert token
    result = pipepilot("-v", "approve", PIPELINE, "Approval", "Approve", "--summary", "ok")
    assert result.exit_code == 0, result.output
    assert "PutApprovalResult" in result.stderr or "put_approval_result" in result.stderr
    assert token not in result.output


# ---------------------------------------------------------------------------------------------- watch


def test_watch_prints_timestamped_lines_and_exits_0_when_it_succeeds(world: World, pipepilot: Run) -> None:
    """Off a terminal, watch prints one timestamped line per change, then the ending, and exits 0."""
    pipeline = world.create(PIPELINE, quick_stages())
    execution = pipeline.start()
    result = pipepilot("watch", PIPELINE)
    assert result.exit_code == _exits.OK, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith(f"watching execution {execution.id} of {PIPELINE}")
    assert any("Build/Build: action succeeded" in line for line in lines)
    assert lines[-1].endswith(f"execution {execution.id} of {PIPELINE} Succeeded")
    for line in lines:
        assert line[:8].count(":") == 2, line  # HH:MM:SS first


def test_watch_of_a_failed_build_shows_the_build_log_and_exits_1(world: World, pipepilot: Run) -> None:
    """A failed CodeBuild action: the error, and the last lines of the build's log; exit 1."""
    world.aws.script_build(PROJECT, fail_in="BUILD", log_lines=["compiling", "test_checkout FAILED"])
    pipeline = world.create(PIPELINE, quick_stages())
    execution = pipeline.start()
    result = pipepilot("watch", PIPELINE, execution.id)
    assert result.exit_code == _exits.FAILED, result.output
    assert "Failed in stage Build, action Build" in result.stdout
    assert "| test_checkout FAILED" in result.stdout
    data = _json(pipepilot("--output", "json", "watch", PIPELINE, execution.id))
    assert data["result"] == "failed"
    assert "test_checkout FAILED" in data["buildLogTail"]
    status = pipepilot("status", PIPELINE)
    assert "    error: " in status.stdout


def test_watch_of_a_stopped_execution_exits_3(world: World, pipepilot: Run) -> None:
    """Stopped (like superseded and cancelled) has its own exit status: 3."""
    pipeline = world.create(PIPELINE, quick_stages())
    execution = pipeline.start()
    execution.stop(abandon=True, reason="not today")
    result = pipepilot("watch", PIPELINE, execution.id)
    assert result.exit_code == _exits.STOPPED, result.output
    assert "Stopped" in result.stdout.splitlines()[-1]


def test_watch_that_times_out_exits_4_and_says_the_execution_goes_on(world: World, pipepilot: Run) -> None:
    """--timeout: exit 4, and the last line says the execution goes on."""
    pipeline = world.create(PIPELINE, release_stages())
    pipeline.start()
    result = pipepilot("watch", PIPELINE, "--timeout", "900")
    assert result.exit_code == _exits.TIMED_OUT, result.output
    assert "timed out after" in result.stdout
    assert "goes on" in result.stdout


def test_watch_interrupted_says_the_execution_continues(
    world: World, pipepilot: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during watch: exit 130 and a line saying the execution goes on and how to follow it again."""
    pipeline = world.create(PIPELINE, quick_stages())
    execution = pipeline.start()

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("pipepilot.executions.Execution.wait", interrupted)
    result = pipepilot("watch", PIPELINE)
    assert result.exit_code == _exits.INTERRUPTED
    assert f"execution {execution.id} of {PIPELINE} goes on" in result.output
    assert f"pipepilot watch {PIPELINE} {execution.id}" in result.output


def test_watch_of_a_pipeline_that_never_ran_is_a_service_error(world: World, pipepilot: Run) -> None:
    """Nothing to watch: one line, exit 254."""
    pipeline = world.create(PIPELINE, quick_stages(), settle=False)
    first = pipeline.latest_execution()
    assert first is not None
    result = pipepilot("watch", "missing-pipeline")
    assert result.exit_code == _exits.SERVICE


# ----------------------------------------------------------------------------------- start, stop, retry


def test_start_with_wait_follows_to_the_end(world: World, pipepilot: Run) -> None:
    """start --wait starts one execution (with its variables) and exits as watch does."""
    pipeline = world.create(PIPELINE, quick_stages(), variables={"STAGE": "dev"})
    result = pipepilot("--output", "json", "start", PIPELINE, "--variable", "STAGE=prod", "--wait")
    assert result.exit_code == 0, result.output
    data = _json(result)
    assert data["status"] == "Succeeded"
    got = pipeline.execution(data["executionId"]).get()
    assert [(v.name, v.resolved_value) for v in got.variables] == [("STAGE", "prod")]


@pytest.mark.parametrize(
    "args", [("--variable", "NOEQUALS"), ("--source-revision", "Source"), ("--source-revision", "Source=x")]
)
def test_start_refuses_malformed_options_with_252(
    world: World, pipepilot: Run, args: tuple[str, ...]
) -> None:
    """A malformed --variable or --source-revision: exit 252, and nothing is started."""
    pipeline = world.create(PIPELINE, quick_stages())
    before = pipeline.latest_execution()
    result = pipepilot("start", PIPELINE, *args)
    assert result.exit_code == _exits.BAD_PARAMETER
    latest = pipeline.latest_execution()
    assert latest is not None
    assert before is not None
    assert latest.id == before.id


def test_stop_then_retry(world: World, pipepilot: Run) -> None:
    """stop stops the latest execution; retry reruns a failed stage of the same execution."""
    world.aws.script_action(PIPELINE, "Deploy", "DeployApp", outcome="Failed", times=1)
    pipeline = world.create(PIPELINE, quick_stages())
    execution = pipeline.start()
    assert pipepilot("watch", PIPELINE).exit_code == _exits.FAILED
    result = pipepilot("--output", "json", "retry", PIPELINE, "Deploy", "--wait")
    assert result.exit_code == 0, result.output
    assert _json(result)["executionId"] == execution.id
    second = pipeline.start()
    stopped = pipepilot("stop", PIPELINE, "--abandon")
    assert stopped.exit_code == 0
    assert second.id in stopped.stdout
    world.aws.clock.advance(60)
    assert second.get().status == "Stopped"


# ------------------------------------------------------------------------------------------- approvals


def test_approve_answers_the_waiting_approval(world: World, pipepilot: Run) -> None:
    """approve answers the approval of the execution waiting there; the release then succeeds."""
    pipeline = world.create(PIPELINE, release_stages())
    execution = pipeline.start()
    pipeline.wait_for_approval("Approval", "Approve", execution=execution)
    result = pipepilot("--output", "json", "approve", PIPELINE, "Approval", "Approve", "--summary", "LGTM")
    assert result.exit_code == 0, result.output
    assert _json(result) == {
        "pipeline": PIPELINE,
        "stage": "Approval",
        "action": "Approve",
        "executionId": execution.id,
        "status": "Approved",
        "summary": "LGTM",
    }
    assert pipepilot("watch", PIPELINE, execution.id).exit_code == 0


def test_reject_fails_the_execution(world: World, pipepilot: Run) -> None:
    """reject (pinned to the execution) fails the execution at the approval."""
    pipeline = world.create(PIPELINE, release_stages())
    execution = pipeline.start()
    pipeline.wait_for_approval("Approval", "Approve", execution=execution)
    result = pipepilot(
        "reject", PIPELINE, "Approval", "Approve", "--summary", "no", "--execution", execution.id
    )
    assert result.exit_code == 0, result.output
    assert pipepilot("watch", PIPELINE, execution.id).exit_code == _exits.FAILED


def test_approve_refuses_when_several_executions_wait(world: World, pipepilot: Run) -> None:
    """In PARALLEL mode two executions can wait at one approval: without --execution, approve refuses
    (exit 254, saying so) and answers neither."""
    stages = [
        {"name": "Source", "actions": [release_stages()[0]["actions"][0]]},
        {"name": "Approval", "actions": [approval()]},
    ]
    pipeline = world.create(PIPELINE, stages, execution_mode="PARALLEL")
    first, second = pipeline.start(), pipeline.start()
    for execution in (first, second):
        pipeline.wait_for_approval("Approval", "Approve", execution=execution)
    result = pipepilot("approve", PIPELINE, "Approval", "Approve")
    assert result.exit_code == _exits.SERVICE
    assert "AmbiguousApprovalError" in result.stderr
    assert len(pipeline.approvals()) == 2
    pinned = pipepilot("approve", PIPELINE, "Approval", "Approve", "--execution", second.id)
    assert pinned.exit_code == 0, pinned.output
    assert [a.execution_id for a in pipeline.approvals()] == [first.id]


# ---------------------------------------------------------------------------------------- transitions


def test_transition_disable_and_enable(world: World, pipepilot: Run) -> None:
    """transition disable holds executions in front of the stage, with the reason; enable lets them go."""
    pipeline = world.create(PIPELINE, quick_stages())
    assert pipepilot("transition", "disable", PIPELINE, "Deploy", "--reason", "Release freeze").exit_code == 0
    state = pipeline.stage("Deploy").inbound.state()
    assert state is not None
    assert state.enabled is False
    assert state.disabled_reason == "Release freeze"
    assert pipepilot("transition", "enable", PIPELINE, "Deploy").exit_code == 0
    state = pipeline.stage("Deploy").inbound.state()
    assert state is not None
    assert state.enabled is True


def test_bad_reason_characters_are_refused_before_sending(world: World, pipepilot: Run) -> None:
    """A reason with characters AWS refuses: one line naming them, exit 252, nothing changed."""
    pipeline = world.create(PIPELINE, quick_stages())
    result = pipepilot("transition", "disable", PIPELINE, "Deploy", "--reason", "freeze: no deploys, please")
    assert result.exit_code == _exits.BAD_PARAMETER
    assert result.stderr.count("\n") == 1
    state = pipeline.stage("Deploy").inbound.state()
    assert state is not None
    assert state.enabled is not False


def test_unknown_stage_is_a_service_error(world: World, pipepilot: Run) -> None:
    """An unknown stage: one line, exit 254."""
    world.create(PIPELINE, quick_stages())
    result = pipepilot("transition", "enable", PIPELINE, "Nope")
    assert result.exit_code == _exits.SERVICE
    assert "Nope" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------- freeze and thaw


def test_freeze_and_thaw_by_pattern_through_the_record_file(
    world: World, pipepilot: Run, tmp_path: Path
) -> None:
    """freeze disables the transition in every pipeline matched and writes the record; thaw reads it and
    re-enables exactly those, leaving one disabled by someone else alone."""
    for name in ("web-a", "web-b", "api"):
        world.create(name, quick_stages())
    world.cp.pipeline("web-b").stage("Deploy").inbound.disable("Incident 42")
    record = tmp_path / "freeze.json"
    result = pipepilot(
        "freeze", "web-*", "--stage", "Deploy", "--reason", "Holiday freeze", "--record", str(record)
    )
    assert result.exit_code == 0, result.output
    saved = json.loads(record.read_text())
    assert saved["format"] == "pipepilot.freeze/1"
    outcomes = {entry["pipeline"]: entry["outcome"] for entry in saved["pipelines"]}
    assert outcomes == {"web-a": "disabled", "web-b": "already-disabled"}
    again = pipepilot(
        "freeze", "web-*", "--stage", "Deploy", "--reason", "Holiday freeze", "--record", str(record)
    )
    assert again.exit_code == _exits.BAD_PARAMETER  # never overwrite the record of a freeze in force
    thawed = pipepilot("--output", "json", "thaw", str(record))
    assert thawed.exit_code == 0, thawed.output
    assert {e["pipeline"]: e["thaw"] for e in _json(thawed)["pipelines"]} == {
        "web-a": "enabled",
        "web-b": None,
    }
    state = world.cp.pipeline("web-b").stage("Deploy").inbound.state()
    assert state is not None
    assert state.enabled is False


def test_freeze_of_several_names_and_patterns(world: World, pipepilot: Run, tmp_path: Path) -> None:
    """Several PIPELINE|PATTERN arguments select the union; a name that does not exist fails alone (254)."""
    for name in ("web-a", "api"):
        world.create(name, quick_stages())
    record = tmp_path / "r.json"
    result = pipepilot(
        "freeze", "api", "web-*", "ghost", "--stage", "Deploy", "--reason", "Freeze", "--record", str(record)
    )
    assert result.exit_code == _exits.SERVICE
    outcomes = {entry["pipeline"]: entry["outcome"] for entry in json.loads(record.read_text())["pipelines"]}
    assert outcomes == {"api": "disabled", "web-a": "disabled", "ghost": "failed"}
    assert "--resume" in result.stdout


def test_an_interrupted_thaw_says_how_to_finish(
    world: World, pipepilot: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during a thaw: exit 130 and the command that finishes it."""
    world.create("p1", quick_stages())
    record = tmp_path / "freeze.json"
    assert (
        pipepilot("freeze", "p1", "--stage", "Deploy", "--reason", "F", "--record", str(record)).exit_code
        == 0
    )

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("pipepilot.pipelines.CodePipeline.thaw", interrupted)
    result = pipepilot("thaw", str(record))
    assert result.exit_code == _exits.INTERRUPTED
    assert f"pipepilot thaw {record}" in result.stderr


def test_a_malformed_record_file_is_refused_with_252(world: World, pipepilot: Run, tmp_path: Path) -> None:
    """thaw of a file that is not a freeze record: one line, exit 252."""
    record = tmp_path / "bad.json"
    record.write_text('{"format": "something else"}')
    result = pipepilot("thaw", str(record))
    assert result.exit_code == _exits.BAD_PARAMETER
    assert "not a freeze record" in result.stderr
    missing = pipepilot("thaw", str(tmp_path / "missing.json"))
    assert missing.exit_code == _exits.BAD_PARAMETER


def test_an_interrupted_freeze_says_what_it_disabled_and_how_to_resume_or_thaw(
    world: World, pipepilot: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in the middle of a freeze: exit 130, the pipelines already disabled, the commands to resume
    and to thaw; resuming finishes the freeze and thawing undoes all of it."""
    for name in ("p1", "p2", "p3"):
        world.create(name, quick_stages())
    record = tmp_path / "freeze.json"
    import pipepilot.cli._commands as commands

    real_write = commands._write_record
    writes: list[int] = []

    def write_then_interrupt(path: Path, saved: object) -> None:
        real_write(path, saved)  # type: ignore[arg-type]
        writes.append(1)
        if len(writes) == 2:  # the record before any change, then after the first pipeline
            raise KeyboardInterrupt

    monkeypatch.setattr(commands, "_write_record", write_then_interrupt)
    args = ("freeze", "p1", "p2", "p3", "--stage", "Deploy", "--reason", "Freeze", "--record", str(record))
    result = pipepilot(*args)
    assert result.exit_code == _exits.INTERRUPTED
    assert "1 transition(s) disabled so far" in result.stderr
    assert "--resume" in result.stderr
    assert f"pipepilot thaw {record}" in result.stderr
    monkeypatch.setattr(commands, "_write_record", real_write)
    resumed = pipepilot(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert pipepilot("thaw", str(record)).exit_code == 0
    for name in ("p1", "p2", "p3"):
        state = world.cp.pipeline(name).stage("Deploy").inbound.state()
        assert state is not None
        assert state.enabled is True


# ----------------------------------------------------------------------------------------------- build


def test_build_start_wait_watch_and_logs(world: World, pipepilot: Run) -> None:
    """build start --wait follows the build phase by phase; logs prints its log; a failed build exits 1
    and shows the log's last lines; watch of a project follows its latest build."""
    world.aws.script_build(PROJECT, fail_in=None, status="SUCCEEDED", log_lines=["hello from the build"])
    result = pipepilot("--output", "json", "build", "start", PROJECT, "--env", "A=1", "--wait")
    assert result.exit_code == 0, result.output
    data = _json(result)
    assert data["status"] == "SUCCEEDED"
    assert data["project"] == PROJECT
    assert "PROVISIONING" in result.stderr  # phases go to stderr when stdout carries JSON
    logs = pipepilot("build", "logs", data["buildId"])
    assert "hello from the build" in logs.stdout
    assert pipepilot("build", "logs", PROJECT, "--tail", "1").stdout.count("\n") == 1
    world.aws.script_build(PROJECT, fail_in="BUILD", log_lines=["boom"])
    started = pipepilot("--output", "json", "build", "start", PROJECT)
    build_id = _json(started)["buildId"]
    failed = pipepilot("build", "watch", PROJECT)
    assert failed.exit_code == _exits.FAILED, failed.output
    assert build_id in failed.stdout
    assert "| boom" in failed.stdout
    followed = pipepilot("build", "logs", "--follow", build_id)
    assert "boom" in followed.stdout


def test_build_of_an_unknown_project_is_a_service_error(world: World, pipepilot: Run) -> None:
    """An unknown project: one line, exit 254."""
    result = pipepilot("build", "start", "no-such-project")
    assert result.exit_code == _exits.SERVICE
    assert "Traceback" not in result.stderr


# -------------------------------------------------------------------------------------------- validate


def test_validate_lists_every_problem_with_its_path(world: World, pipepilot: Run, tmp_path: Path) -> None:
    """validate: every problem of every file, each with its path and code; exit 1 on problems, 0 when
    clean, 252 when a file is not a pipeline definition."""
    good = world.declaration(PIPELINE, quick_stages()).to_api()
    bad = json.loads(json.dumps(good))
    bad["stages"][1]["actions"][0]["inputArtifacts"] = [{"name": "Nowhere"}]
    bad["stages"] = bad["stages"][1:]
    (tmp_path / "good.json").write_text(json.dumps({"pipeline": good}))
    (tmp_path / "bad.json").write_text(json.dumps({"pipeline": bad}))
    (tmp_path / "junk.json").write_text("[1, 2")
    assert pipepilot("validate", str(tmp_path / "good.json")).exit_code == 0
    result = pipepilot(
        "--output", "json", "validate", str(tmp_path / "good.json"), str(tmp_path / "bad.json")
    )
    assert result.exit_code == _exits.PROBLEMS
    files = _json(result)["files"]
    assert files[0]["problems"] == []
    assert len(files[1]["problems"]) >= 2
    assert all(problem["path"].startswith("stages[") or problem["path"] for problem in files[1]["problems"])
    text = pipepilot("validate", str(tmp_path / "bad.json"))
    assert "stages[0].actions[0].inputArtifacts[0]" in text.stdout
    junk = pipepilot("validate", str(tmp_path / "junk.json"))
    assert junk.exit_code == _exits.BAD_PARAMETER


# -------------------------------------------------------------------------------------- colour, usage


def test_colours_only_when_wanted(world: World, pipepilot: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Statuses are coloured for a terminal, not with --no-color, nor with NO_COLOR set."""
    world.create(PIPELINE, quick_stages())
    assert "\x1b[" in pipepilot("status", PIPELINE, color=True).stdout
    assert "\x1b[" not in pipepilot("--no-color", "status", PIPELINE, color=True).stdout
    assert "\x1b[" not in pipepilot("status", PIPELINE, color=True, env={"NO_COLOR": "1"}).stdout


def test_usage_errors_exit_252(world: World, pipepilot: Run) -> None:
    """Bad syntax (an unknown option, a missing argument) exits 252, as the AWS CLI does."""
    assert pipepilot("--bogus").exit_code == _exits.BAD_PARAMETER
    assert pipepilot("watch").exit_code == _exits.BAD_PARAMETER
    assert pipepilot("--output", "yaml", "ls").exit_code == _exits.BAD_PARAMETER
