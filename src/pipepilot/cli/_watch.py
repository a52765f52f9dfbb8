"""Following an execution or a build to its end: ``watch``, ``start --wait``, ``retry --wait``, ``build watch``.

The waiting is the library's (``Execution.wait`` with ``on_progress``, ``Build.wait`` with ``on_phase``, on
their default :class:`~pipepilot.PollPolicy`): polls start often and thin out, so a long release costs a
fraction of a fixed loop's requests and its end is still noticed within 30 s. This module only shows what
they report: a live board (rich) on a terminal, plain timestamped lines elsewhere (CI logs), then one
closing line, or one JSON object with ``--output json``, and the exit status that says how it ended.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pipepilot.cli import _exits
from pipepilot.cli._format import clock_time, duration

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import RenderableType

    from pipepilot.builds import Build
    from pipepilot.cli._app import Cli
    from pipepilot.executions import Execution
    from pipepilot.model.build import BuildPhase
    from pipepilot.model.runtime import PipelineState
    from pipepilot.pipelines import Pipeline
    from pipepilot.polling import ProgressEvent

__all__ = ["LOG_TAIL_LINES", "Board", "follow_build", "follow_execution"]

logger = logging.getLogger(__name__)

#: How many of a failed build's last log lines are shown.
LOG_TAIL_LINES = 20


def _epoch_of(caller: Any) -> Callable[[], float]:
    """Epoch seconds on the time source of the service ``caller`` calls: AWS's is the machine's clock,
    the offline engine's is its virtual clock (so the lines show the times the events have)."""
    return caller.time.time  # type: ignore[no-any-return]


def _use_live(state: Cli, live: bool | None) -> bool:
    """A live view when asked, else when stdout is a terminal and carries no JSON."""
    if state.json:
        return False
    if live is not None:
        return live
    return sys.stdout.isatty()


def _poll(timeout: float | None) -> Any:
    from pipepilot.polling import PollPolicy

    return None if timeout is None else PollPolicy(timeout=timeout)


def _log_tail(state: Cli, build: Build | None) -> list[str]:
    """The last lines of ``build``'s log, or none when they cannot be read (never an error of its own)."""
    from pipepilot.errors import PipepilotError

    if build is None:
        return []
    try:
        return [str(line) for line in deque(build.logs(), maxlen=LOG_TAIL_LINES)]
    except (PipepilotError, ValueError) as error:
        logger.debug("could not read the log of build %s: %s", build.id, error)
        return []


def _action_build(state: Cli, pipeline: Pipeline, stage: str, action: str) -> Build | None:
    """The CodeBuild build behind ``stage``/``action``, or ``None`` when it is not a CodeBuild action."""
    from pipepilot.errors import PipepilotError

    try:
        return pipeline.stage(stage).action(action).build(codebuild=state.codebuild())
    except (PipepilotError, ValueError):
        return None


# ------------------------------------------------------------------------------------------ executions


def follow_execution(
    state: Cli, pipeline: Pipeline, execution: Execution, *, timeout: float | None, live: bool | None
) -> int:
    """Follow ``execution`` to its end, showing its progress; print how it ended and return the exit status."""
    from pipepilot.errors import ExecutionUnsuccessful, WaitTimeout

    _now = _epoch_of(execution.caller)
    started = _now()
    data: dict[str, Any] = {
        "pipeline": pipeline.name,
        "executionId": execution.id,
        "status": None,
        "result": None,
        "stage": None,
        "action": None,
        "errorCode": None,
        "errorMessage": None,
        "externalExecutionUrl": None,
        "buildLogTail": [],
        "watchedSeconds": None,
    }
    poll = _poll(timeout)
    code = _exits.OK
    try:
        if _use_live(state, live):
            _wait_live(state, pipeline, execution, poll, now=_now)
        else:
            state.say(f"{clock_time(_now())} watching execution {execution.id} of {pipeline.name}")
            execution.wait(poll=poll, on_progress=_plain_printer(state, _now))
        data.update(status="Succeeded", result="succeeded")
    except ExecutionUnsuccessful as error:
        code = _exits.exit_code_for(error)
        final = getattr(error.execution, "status", None)
        status = str(final) if final is not None else type(error).__name__.removeprefix("Execution")
        data.update(
            status=status,
            result=status.lower(),
            stage=error.stage,
            action=error.action,
            errorCode=error.error_code,
            errorMessage=error.error_message,
            externalExecutionUrl=error.external_execution_url,
        )
        if error.stage and error.action and status == "Failed":
            data["buildLogTail"] = _log_tail(state, _action_build(state, pipeline, error.stage, error.action))
    except WaitTimeout:
        code = _exits.TIMED_OUT
        data.update(result="timed-out")
    except KeyboardInterrupt:
        state.say(
            f"pipepilot: stopped watching; execution {execution.id} of {pipeline.name} goes on "
            f"(`pipepilot watch {pipeline.name} {execution.id}` to follow it again, "
            f"`pipepilot stop {pipeline.name} {execution.id}` to stop it)"
        )
        return _exits.INTERRUPTED
    data["watchedSeconds"] = round(_now() - started, 3)
    state.emit(data, lambda: _closing_lines(state, data, _now()))
    return code


def _closing_lines(state: Cli, data: dict[str, Any], now: float) -> list[str]:
    when = clock_time(now)
    subject = f"execution {data['executionId']} of {data['pipeline']}"
    if data["result"] == "timed-out":
        return [f"{when} timed out after {duration(data['watchedSeconds'])}: {subject} goes on"]
    status = data["status"]
    line = f"{when} {subject} {state.style(str(status), status)}"
    if data["stage"]:
        line += f" in stage {data['stage']}" + (f", action {data['action']}" if data["action"] else "")
    if data["errorCode"] or data["errorMessage"]:
        line += f": {data['errorCode'] or 'error'}: {data['errorMessage'] or ''}".rstrip(": ")
    lines = [line]
    if data["externalExecutionUrl"]:
        lines.append(f"  see {data['externalExecutionUrl']}")
    if data["buildLogTail"]:
        lines.append(f"  last {len(data['buildLogTail'])} lines of the build log:")
        lines += [f"  | {text}" for text in data["buildLogTail"]]
    return lines


def _plain_printer(state: Cli, now: Callable[[], float]) -> Callable[[ProgressEvent], None]:
    """One timestamped line per progress event (the event's own time when it has one)."""

    def show(event: ProgressEvent) -> None:
        state.say(event.describe(when=datetime.fromtimestamp(now(), tz=timezone.utc)))

    return show


def _wait_live(
    state: Cli, pipeline: Pipeline, execution: Execution, poll: Any, *, now: Callable[[], float]
) -> None:
    from rich.console import Console
    from rich.live import Live

    board = Board(pipeline.name, execution.id, pipeline.state(), now=now)
    console = Console(no_color=not state.color, highlight=False)
    with Live(board, console=console, refresh_per_second=4, transient=False):
        try:
            execution.wait(poll=poll, on_progress=board.apply)
        finally:
            board.done = True


class Board:
    """The live view of one execution: every stage and action of the pipeline with its status.

    ``apply`` takes the wait's progress events (the waiting thread); rich renders the board from its
    refresh thread, so both go through one lock (no callback runs under it).
    """

    def __init__(
        self, pipeline: str, execution_id: str, layout: PipelineState, *, now: Callable[[], float]
    ) -> None:
        self.pipeline = pipeline
        self.execution_id = execution_id
        self.now = now
        self.started = now()
        self.done = False
        self._lock = threading.Lock()
        self.stages: dict[str, str] = {}
        self.notes: dict[str, str] = {}
        self.actions: dict[str, dict[str, tuple[str, str]]] = {}
        for stage in layout.stage_states:
            self.stages[stage.stage_name] = ""
            self.actions[stage.stage_name] = {action.action_name: ("", "") for action in stage.action_states}
        self.last = ""

    def apply(self, event: ProgressEvent) -> None:
        """Take one progress event into the board."""
        from pipepilot import polling as p

        stage = event.stage_name
        with self._lock:
            self.last = event.describe(when=datetime.fromtimestamp(self.now(), tz=timezone.utc))
            actions = self.actions.setdefault(stage, {})
            self.stages.setdefault(stage, "")
            if isinstance(event, p.StageStarted):
                self.stages[stage] = "InProgress"
                self.notes.pop(stage, None)
            elif isinstance(event, p.StageStatusChanged):
                self.stages[stage] = str(event.status)
            elif isinstance(event, p.ExecutionHeldAtTransition):
                self.notes[stage] = f"held: {event.reason or 'transition disabled'}"
            elif isinstance(event, p.ExecutionWaitingForStage):
                self.notes[stage] = "waiting for the stage"
            elif isinstance(event, p.ApprovalRequested):
                actions[event.action_name] = ("Waiting", "approval waiting for an answer")
            elif isinstance(event, p.ActionFailed):
                details = event.error_details
                note = "" if details is None else f"{details.code or 'error'}: {details.message or ''}"
                actions[event.action_name] = ("Failed", note)
            elif isinstance(event, p.ActionEvent):
                status = str(event.run.status or "")
                actions[event.action_name] = (status, event.run.summary or "")
            else:
                for kind, status in (
                    (p.StageSucceeded, "Succeeded"),
                    (p.StageFailed, "Failed"),
                    (p.StageStopped, "Stopped"),
                    (p.StageCancelled, "Cancelled"),
                    (p.StageSkipped, "Skipped"),
                ):
                    if isinstance(event, kind):
                        self.stages[stage] = status
                        self.notes.pop(stage, None)

    def __rich__(self) -> RenderableType:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            elapsed = duration(self.now() - self.started)
            header = Text.assemble(
                (self.pipeline, "bold"),
                f"  execution {self.execution_id}  ",
                (f"watching for {elapsed}", "dim"),
            )
            table = Table(expand=False)
            table.add_column("Stage")
            table.add_column("Action")
            table.add_column("Status")
            table.add_column("Detail", overflow="fold", max_width=70)
            for stage, status in self.stages.items():
                table.add_row(
                    Text(stage, style="bold"),
                    "",
                    Text(status or "·", style=_BOARD_COLOURS.get(status, "")),
                    self.notes.get(stage, ""),
                )
                for action, (action_status, note) in self.actions.get(stage, {}).items():
                    table.add_row(
                        "",
                        action,
                        Text(action_status or "·", style=_BOARD_COLOURS.get(action_status, "")),
                        note,
                    )
            parts: list[RenderableType] = [header, table]
            if self.last and not self.done:
                parts.append(Text(self.last, style="dim"))
            return Group(*parts)


_BOARD_COLOURS = {
    "Succeeded": "green",
    "Failed": "red",
    "InProgress": "cyan",
    "Waiting": "magenta",
    "Stopped": "yellow",
    "Stopping": "yellow",
    "Cancelled": "yellow",
    "Abandoned": "yellow",
    "Skipped": "dim",
}


# ---------------------------------------------------------------------------------------------- builds


def follow_build(state: Cli, build: Build, *, timeout: float | None) -> int:
    """Follow ``build`` phase by phase to its end; print how it ended and return the exit status."""
    from pipepilot.errors import BuildFailed, WaitTimeout

    _now = _epoch_of(build.service._calls)

    started = _now()
    data: dict[str, Any] = {
        "buildId": build.id,
        "project": build.project_name,
        "status": None,
        "result": None,
        "phase": None,
        "logTail": [],
        "watchedSeconds": None,
    }

    def on_phase(phase: BuildPhase) -> None:
        took = f" ({duration(phase.duration_in_seconds)})" if phase.duration_in_seconds is not None else ""
        status = f" {phase.phase_status}" if phase.phase_status is not None else ""
        state.say(f"{clock_time(_now())} {build.id} {phase.phase_type}{status}{took}")

    state.say(f"{clock_time(_now())} watching build {build.id}")
    code = _exits.OK
    try:
        details = build.wait(poll=_poll(timeout), on_phase=on_phase)
        data.update(status=str(details.build_status), result="succeeded")
    except BuildFailed as error:
        code = _exits.exit_code_for(error)
        status = str(getattr(error.build, "build_status", "FAILED"))
        data.update(status=status, result=status.lower().replace("_", "-"), phase=error.phase)
        data["logTail"] = _log_tail(state, build)
    except WaitTimeout:
        code = _exits.TIMED_OUT
        data.update(result="timed-out")
    except KeyboardInterrupt:
        state.say(f"pipepilot: stopped watching; build {build.id} goes on")
        return _exits.INTERRUPTED
    data["watchedSeconds"] = round(_now() - started, 3)

    def text() -> list[str]:
        when = clock_time(_now())
        if data["result"] == "timed-out":
            return [f"{when} timed out after {duration(data['watchedSeconds'])}: build {build.id} goes on"]
        line = f"{when} build {build.id} {state.style(str(data['status']), data['status'])}"
        if data["phase"]:
            line += f" in phase {data['phase']}"
        lines = [line]
        if data["logTail"]:
            lines.append(f"  last {len(data['logTail'])} lines of the build log:")
            lines += [f"  | {text}" for text in data["logTail"]]
        return lines

    state.emit(data, text)
    return code
