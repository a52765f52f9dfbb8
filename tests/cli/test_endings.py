"""More endings of the commands: the live view in-process, interruptions, empty selections, timeouts, and
the pure helpers (exit statuses, formats)."""

from __future__ import annotations

import io
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest

from pipepilot import polling as p
from pipepilot.cli import _exits, main
from pipepilot.cli._format import age, duration, iso
from pipepilot.cli._watch import Board
from pipepilot.errors import (
    BuildFailed,
    ConfigurationError,
    CredentialsNotFoundError,
    ExecutionCancelled,
    ExecutionFailed,
    ExecutionStopped,
    ExecutionSuperseded,
    PipelineNotFoundError,
    RequestValidationError,
    ThrottlingError,
    WaitTimeout,
)
from pipepilot.model.runtime import ActionExecution, PipelineState

from ..library.functional.offline_world import PIPELINE, PROJECT, World, release_stages
from .conftest import quick_stages

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from click.testing import Result

    Run = Callable[..., Result]


def _interrupt(*args: object, **kwargs: object) -> Any:
    raise KeyboardInterrupt


# ------------------------------------------------------------------------------------------ live view


def test_the_live_view_ends_with_every_stage_succeeded(world: World, pipepilot: Run) -> None:
    """--live draws the board (here off a terminal: its final state) with every stage, then the ending."""
    world.create(PIPELINE, quick_stages()).start()
    result = pipepilot("watch", PIPELINE, "--live")
    assert result.exit_code == 0, result.output
    assert "DeployApp" in result.stdout
    assert result.stdout.count("Succeeded") >= 6
    assert "watching for" in result.stdout


def test_the_live_view_shows_a_hold_and_a_waiting_approval(world: World, pipepilot: Run) -> None:
    """A release held at a disabled transition shows why; its approval shows as waiting; --timeout ends
    the watch with 4."""
    pipeline = world.create(PIPELINE, release_stages())
    pipeline.stage("Approval").inbound.disable("Audit")
    pipeline.start()
    held = pipepilot("watch", PIPELINE, "--live", "--timeout", "900")
    assert held.exit_code == _exits.TIMED_OUT, held.output
    assert "held: Audit" in held.stdout
    pipeline.stage("Approval").inbound.enable()
    waiting = pipepilot("watch", PIPELINE, "--live", "--timeout", "900")
    assert "approval waiting for an answer" in waiting.stdout


def test_the_live_view_of_a_failed_deploy(world: World, pipepilot: Run) -> None:
    """A failed action (not a CodeBuild one: no build log) shows its error; exit 1."""
    world.aws.script_action(PIPELINE, "Deploy", "DeployApp", outcome="Failed", error_message="Rollback")
    world.create(PIPELINE, quick_stages()).start()
    result = pipepilot("watch", PIPELINE, "--live")
    assert result.exit_code == _exits.FAILED
    assert "JobFailed: Rollback" in result.stdout
    assert "build log" not in result.stdout


def _run(status: str) -> ActionExecution:
    return ActionExecution.from_api(
        {"status": status, "lastStatusChange": datetime(2026, 1, 1, tzinfo=timezone.utc)}
    )


def test_the_board_takes_every_kind_of_event() -> None:
    """Each progress event moves the board: stage statuses, holds, waits, action outcomes."""
    layout = PipelineState.from_api(
        {"pipelineName": "web", "stageStates": [{"stageName": "A", "actionStates": [{"actionName": "X"}]}]}
    )
    board = Board("web", "e-1", layout, now=lambda: 0.0)
    where = {"pipeline_name": "web", "execution_id": "e-1", "stage_name": "A"}
    board.apply(p.ExecutionWaitingForStage(**where, occupied_by="e-0"))
    assert board.notes["A"] == "waiting for the stage"
    board.apply(p.StageStarted(**where))
    board.apply(p.ActionAbandoned(**where, action_name="X", run=_run("Abandoned")))
    assert board.actions["A"]["X"][0] == "Abandoned"
    for event, status in (
        (p.StageStatusChanged(**where, status="Stopping"), "Stopping"),
        (p.StageStopped(**where), "Stopped"),
        (p.StageCancelled(**where), "Cancelled"),
        (p.StageSkipped(**where), "Skipped"),
        (p.StageFailed(**where), "Failed"),
    ):
        board.apply(event)
        assert board.stages["A"] == status
    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=100).print(board)
    assert "Failed" in out.getvalue()
    assert "Abandoned" in out.getvalue()


@pytest.mark.parametrize(
    ("output", "live", "terminal", "expected"),
    [
        ("text", None, True, True),
        ("text", None, False, False),
        ("text", True, False, True),
        ("text", False, True, False),
        ("json", True, True, False),
    ],
)
def test_the_live_view_is_the_default_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch, output: str, live: bool | None, terminal: bool, expected: bool
) -> None:
    """Without --live/--plain a terminal gets the board and anything else plain lines; JSON never."""
    from pipepilot.cli._app import Cli, Services
    from pipepilot.cli._watch import _use_live

    class Stdout(io.StringIO):
        def isatty(self) -> bool:
            return terminal

    monkeypatch.setattr(sys, "stdout", Stdout())
    state = Cli(services=Services(), output=output, verbose=False, color=False)
    assert _use_live(state, live) is expected


# ------------------------------------------------------------------------------------------ endings


def test_ls_with_no_match_and_with_unreadable_pipelines(
    world: World, pipepilot: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ls says when nothing matches; a pipeline whose state could not be read is listed with the error
    (exit 254)."""
    world.create("web", quick_stages())
    assert "no pipeline matches 'zzz*'" in pipepilot("ls", "zzz*").stdout
    from pipepilot.fleet import FleetStates
    from pipepilot.pipelines import CodePipeline

    monkeypatch.setattr(
        CodePipeline,
        "states",
        lambda self, selection: FleetStates(states={}, errors={"web": ThrottlingError("slow down")}),
    )
    result = pipepilot("ls")
    assert result.exit_code == _exits.SERVICE
    assert "ThrottlingError: slow down" in result.stdout


def test_watch_of_a_pipeline_that_never_ran(
    world: World, pipepilot: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to watch: one line, exit 254."""
    world.create(PIPELINE, quick_stages())
    monkeypatch.setattr("pipepilot.pipelines.Pipeline.latest_execution", lambda self: None)
    result = pipepilot("watch", PIPELINE)
    assert result.exit_code == _exits.SERVICE
    assert "no execution to watch" in result.stderr


def test_an_interrupted_command_exits_130(
    world: World, pipepilot: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in any command: 'interrupted', exit 130."""
    world.create(PIPELINE, quick_stages())
    monkeypatch.setattr("pipepilot.pipelines.Pipeline.state", _interrupt)
    result = pipepilot("status", PIPELINE)
    assert result.exit_code == _exits.INTERRUPTED
    assert "interrupted" in result.stderr


def test_freeze_of_nothing_and_freeze_interrupted_at_once(
    world: World, pipepilot: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pattern matching nothing freezes nothing and says so (exit 254); Ctrl-C before any change says
    nothing was disabled (exit 130)."""
    world.create("web", quick_stages())
    nothing = pipepilot(
        "freeze", "zzz*", "--stage", "Deploy", "--reason", "F", "--record", str(tmp_path / "a")
    )
    assert nothing.exit_code == _exits.SERVICE
    assert "nothing was frozen" in nothing.stdout
    monkeypatch.setattr("pipepilot.pipelines.CodePipeline.freeze", _interrupt)
    result = pipepilot("freeze", "web", "--stage", "Deploy", "--reason", "F", "--record", str(tmp_path / "b"))
    assert result.exit_code == _exits.INTERRUPTED
    assert "nothing was disabled" in result.stderr


def test_build_endings(world: World, pipepilot: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """A project without builds (254), --tail with --follow (252), a build watched past --timeout (4),
    and Ctrl-C while following logs or a build (130)."""
    assert pipepilot("build", "watch", PROJECT).exit_code == _exits.SERVICE
    assert pipepilot("build", "logs", PROJECT, "--follow", "--tail", "3").exit_code == _exits.BAD_PARAMETER
    world.aws.script_build(PROJECT, fail_in=None, status="SUCCEEDED", phase_durations={"BUILD": 3600.0})
    started = pipepilot("build", "start", PROJECT, "--wait", "--timeout", "120")
    assert started.exit_code == _exits.TIMED_OUT
    assert "goes on" in started.stdout
    monkeypatch.setattr("pipepilot.builds.Build.logs", _interrupt)
    assert pipepilot("build", "logs", PROJECT).exit_code == _exits.INTERRUPTED
    monkeypatch.setattr("pipepilot.builds.Build.wait", _interrupt)
    watched = pipepilot("build", "watch", PROJECT)
    assert watched.exit_code == _exits.INTERRUPTED
    assert "goes on" in watched.output


def test_validate_of_a_missing_file(world: World, pipepilot: Run, tmp_path: Path) -> None:
    """A file that cannot be read: its error, exit 252."""
    result = pipepilot("validate", str(tmp_path / "missing.json"))
    assert result.exit_code == _exits.BAD_PARAMETER
    assert "cannot read" in result.stdout


def test_demo_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """`pipepilot demo --help` shows the demo's options and exits 0."""
    assert main(["demo", "--help"]) == 0
    assert "pipepilot demo" in capsys.readouterr().out


def test_main_without_click(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """main() without click: the one line about the extra, status 255."""
    monkeypatch.setitem(sys.modules, "click", None)
    assert main(["--help"]) == 255
    assert "pip install 'pipepilot[cli]'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ pure helpers


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (WaitTimeout("late"), _exits.TIMED_OUT),
        (ExecutionFailed("x"), _exits.FAILED),
        (ExecutionStopped("x"), _exits.STOPPED),
        (ExecutionSuperseded("x"), _exits.STOPPED),
        (ExecutionCancelled("x"), _exits.STOPPED),
        (BuildFailed("x", build=None), _exits.FAILED),
        (CredentialsNotFoundError("no credentials"), _exits.CONFIGURATION),
        (ConfigurationError("x"), _exits.CONFIGURATION),
        (RequestValidationError("x"), _exits.BAD_PARAMETER),
        (PipelineNotFoundError("x"), _exits.SERVICE),
        (ValueError("x"), _exits.BAD_PARAMETER),
        (RuntimeError("x"), _exits.OTHER),
    ],
)
def test_exit_status_of_each_error(error: BaseException, code: int) -> None:
    """Each kind of error ends with its documented status."""
    assert _exits.exit_code_for(error) == code


def test_a_stopped_build_exits_3() -> None:
    """A build that was stopped is 3, like a stopped execution."""

    class Stopped:
        build_status = "STOPPED"

    assert _exits.exit_code_for(BuildFailed("x", build=Stopped())) == _exits.STOPPED


def test_formats() -> None:
    """Ages, durations and times as the commands print them."""
    assert [age(None), age(42), age(420), age(7200), age(200000)] == ["-", "42s", "7m", "2h", "2d"]
    assert [duration(5), duration(95), duration(3725)] == ["5s", "1m35s", "1h02m05s"]
    assert iso(None) is None
    assert iso(datetime(2026, 1, 1)) == "2026-01-01T00:00:00+00:00"  # noqa: DTZ001 (naive is UTC)
