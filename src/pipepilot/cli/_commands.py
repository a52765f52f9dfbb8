"""The commands of ``pipepilot``: each one a thin layer over the library's public API.

A command parses its arguments, makes its calls through the facades (:class:`~pipepilot.cli._app.Cli`),
and hands the result to :meth:`Cli.emit` as JSON-ready data (the fields docs/cli.md documents) and as lines
for people. The library loads inside each command, never at import: ``pipepilot --help`` stays fast.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipepilot.cli import _exits
from pipepilot.cli._app import Cli, cli
from pipepilot.cli._format import age, iso, short_id

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from pipepilot.freeze import FreezeRecord
    from pipepilot.model.runtime import PipelineState, StageState
    from pipepilot.pipelines import CodePipeline, Pipeline

__all__ = ["cli"]

pass_cli = click.make_pass_decorator(Cli)

_TIMEOUT_HELP = (
    "Give up waiting after this many seconds (exit 4); default: the wait's own, from AWS's limits."
)


def _now(cp: CodePipeline) -> float:
    """Now, in epoch seconds, as the service sees it (the offline engine's virtual clock offline)."""
    return cp._calls.time.time()


def _pairs(values: Sequence[str], option: str) -> dict[str, str]:
    """``K=V`` options as a dict, refusing anything else (exit 252)."""
    found: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{value!r} is not NAME=VALUE", param_hint=option)
        found[name] = rest
    return found


# ------------------------------------------------------------------------------------------------- ls


def _latest_activity(state: PipelineState, now: float) -> dict[str, Any]:
    """What ``ls`` shows of a pipeline: the execution that changed last, where it is and how long ago.

    ``GetPipelineState`` shows each stage's latest execution and each action's last change: the execution
    behind the most recent action change is the pipeline's latest activity, and its furthest stage says
    where it is (a stage it succeeded in, short of the last one, means it is on its way: InProgress).
    """
    latest_time = None
    latest_id: str | None = None
    for stage in state.stage_states:
        run = stage.latest_execution
        for action in stage.action_states:
            changed = None if action.latest_execution is None else action.latest_execution.last_status_change
            if run is not None and changed is not None and (latest_time is None or changed > latest_time):
                latest_time, latest_id = changed, run.pipeline_execution_id
    if latest_id is None:
        for stage in state.stage_states:
            if stage.latest_execution is not None:
                latest_id = stage.latest_execution.pipeline_execution_id
    where: StageState | None = None
    for stage in state.stage_states:
        if stage.latest_execution is not None and stage.latest_execution.pipeline_execution_id == latest_id:
            where = stage
    status = None
    if where is not None and where.latest_execution is not None:
        status = str(where.latest_execution.status)
        if status == "Succeeded" and where is not state.stage_states[-1]:
            status = "InProgress"
    return {
        "name": state.pipeline_name,
        "executionId": latest_id,
        "status": status,
        "stage": None if where is None else where.stage_name,
        "lastChange": iso(latest_time),
        "ageSeconds": None if latest_time is None else max(0, round(now - latest_time.timestamp())),
        "error": None,
    }


@cli.command("ls")
@click.argument("pattern", default="*")
@pass_cli
def ls_command(state: Cli, pattern: str) -> None:
    """List pipelines (PATTERN: an fnmatch pattern, default all) with their latest execution.

    One concurrent, rate-limited read of every pipeline's state.
    """
    cp = state.codepipeline()
    fleet = cp.states(pattern)
    now = _now(cp)
    rows = [_latest_activity(fleet[name], now) for name in fleet]
    for name, error in fleet.errors.items():
        rows.append(
            {
                "name": name,
                "executionId": None,
                "status": None,
                "stage": None,
                "lastChange": None,
                "ageSeconds": None,
                "error": f"{type(error).__name__}: {error}",
            }
        )
    rows.sort(key=lambda row: row["name"])

    def text() -> Iterator[str]:
        if not rows:
            yield f"no pipeline matches {pattern!r}"
            return
        width = max(len(row["name"]) for row in rows)
        yield f"{'PIPELINE':<{width}}  {'STATUS':<11}  {'STAGE':<16}  {'AGE':>5}  EXECUTION"
        for row in rows:
            if row["error"]:
                yield f"{row['name']:<{width}}  {'?':<11}  {row['error']}"
                continue
            status = row["status"] or "-"
            yield (
                f"{row['name']:<{width}}  {state.style(f'{status:<11}', status)}  {row['stage'] or '-':<16}  "
                f"{age(row['ageSeconds']):>5}  {short_id(row['executionId'])}"
            )

    state.emit({"pipelines": rows}, text)
    if fleet.errors:
        raise click.exceptions.Exit(_exits.SERVICE)


# --------------------------------------------------------------------------------------------- status


def _transition(stage: StageState) -> dict[str, Any]:
    found = stage.inbound_transition_state
    return {
        "enabled": found is None or found.enabled is not False,
        "reason": None if found is None else found.disabled_reason,
        "changedBy": None if found is None else found.last_changed_by,
        "changedAt": None if found is None else iso(found.last_changed_at),
    }


def _stage_row(stage: StageState) -> dict[str, Any]:
    run = stage.latest_execution
    actions = []
    for action in stage.action_states:
        latest = action.latest_execution
        details = None if latest is None else latest.error_details
        actions.append(
            {
                "name": action.action_name,
                "status": None if latest is None or latest.status is None else str(latest.status),
                "summary": None if latest is None else latest.summary,
                "lastChange": None if latest is None else iso(latest.last_status_change),
                "errorCode": None if details is None else details.code,
                "errorMessage": None if details is None else details.message,
                "url": None if latest is None else latest.external_execution_url,
            }
        )
    return {
        "name": stage.stage_name,
        "status": None if run is None else str(run.status),
        "executionId": None if run is None else run.pipeline_execution_id,
        "inboundTransition": _transition(stage),
        "waitingExecutions": [waiting.pipeline_execution_id for waiting in stage.waiting_executions()],
        "actions": actions,
    }


@cli.command("status")
@click.argument("pipeline")
@pass_cli
def status_command(state: Cli, pipeline: str) -> None:
    """Show PIPELINE's stages and actions, transitions, pending approvals and the failing action's error."""
    handle = state.codepipeline().pipeline(pipeline)
    current = handle.state()
    approvals = handle.approvals()
    data: dict[str, Any] = {
        "pipeline": current.pipeline_name or pipeline,
        "version": current.pipeline_version,
        "stages": [_stage_row(stage) for stage in current.stage_states],
        "approvals": [
            {
                "stage": approval.stage,
                "action": approval.action,
                "executionId": approval.execution_id,
                "expires": iso(approval.expires),
                "customData": approval.custom_data,
                "externalEntityLink": approval.external_entity_link,
            }
            for approval in approvals
        ],
    }

    def text() -> Iterator[str]:
        yield f"pipeline {data['pipeline']} (version {data['version']})"
        for stage in data["stages"]:
            transition = stage["inboundTransition"]
            if not transition["enabled"]:
                by = f" by {transition['changedBy']}" if transition["changedBy"] else ""
                at = f" at {transition['changedAt']}" if transition["changedAt"] else ""
                yield state.style(
                    f"  ⏸ transition into {stage['name']} disabled{by}{at}: {transition['reason']!r}",
                    "disabled",
                )
            status = stage["status"] or "-"
            execution = f"  execution {short_id(stage['executionId'])}" if stage["executionId"] else ""
            waiting = (
                f"  waiting: {', '.join(short_id(e) for e in stage['waitingExecutions'])}"
                if stage["waitingExecutions"]
                else ""
            )
            yield f"{stage['name']:<20} {state.style(f'{status:<11}', status)}{execution}{waiting}"
            for action in stage["actions"]:
                status = action["status"] or "-"
                line = f"  {action['name']:<18} {state.style(f'{status:<11}', status)}"
                if action["summary"]:
                    line += f" {action['summary']}"
                yield line.rstrip()
                if action["status"] == "Failed":
                    yield f"    error: {action['errorCode'] or 'error'}: {action['errorMessage'] or ''}".rstrip(
                        ": "
                    )
                    if action["url"]:
                        yield f"    see: {action['url']}"
        for approval in data["approvals"]:
            expires = f", expires {approval['expires']}" if approval["expires"] else ""
            yield (
                f"approval waiting: {approval['stage']}/{approval['action']} for execution "
                f"{approval['executionId']}{expires}"
            )
            if approval["customData"]:
                yield f"  {approval['customData']}"

    state.emit(data, text)


# ----------------------------------------------------------------------------------- watch, start, stop


def _execution_or_latest(handle: Pipeline, execution_id: str | None) -> Any:
    """The execution named, or the pipeline's latest (as kubectl rollout status follows the newest)."""
    if execution_id is not None:
        return handle.execution(execution_id)
    latest = handle.latest_execution()
    if latest is None:
        from pipepilot.errors import PipelineExecutionNotFoundError

        raise PipelineExecutionNotFoundError(f"pipeline {handle.name!r} has no execution to watch")
    return latest


_live_option = click.option(
    "--live/--plain",
    default=None,
    help="A live view (default on a terminal) or plain timestamped lines (default otherwise, e.g. CI logs).",
)


@cli.command("watch")
@click.argument("pipeline")
@click.argument("execution", required=False)
@click.option("--timeout", type=click.FloatRange(min=1), help=_TIMEOUT_HELP)
@_live_option
@pass_cli
def watch_command(
    state: Cli, pipeline: str, execution: str | None, timeout: float | None, live: bool | None
) -> None:
    """Follow EXECUTION of PIPELINE (default: the latest) until it ends; the exit status says how.

    0 succeeded, 1 failed, 3 stopped/superseded/cancelled, 4 timed out (the execution goes on).
    """
    from pipepilot.cli._watch import follow_execution

    handle = state.codepipeline().pipeline(pipeline)
    target = _execution_or_latest(handle, execution)
    raise click.exceptions.Exit(follow_execution(state, handle, target, timeout=timeout, live=live))


@cli.command("start")
@click.argument("pipeline")
@click.option("--variable", "variables", multiple=True, metavar="NAME=VALUE", help="A pipeline variable.")
@click.option(
    "--source-revision",
    "revisions",
    multiple=True,
    metavar="ACTION=TYPE:VALUE",
    help="Pin a source action's revision, e.g. Source=COMMIT_ID:4f2a9c1.",
)
@click.option("--wait", is_flag=True, help="Follow the execution to its end (exit status as watch).")
@click.option("--timeout", type=click.FloatRange(min=1), help=_TIMEOUT_HELP)
@_live_option
@pass_cli
def start_command(
    state: Cli,
    pipeline: str,
    variables: tuple[str, ...],
    revisions: tuple[str, ...],
    wait: bool,
    timeout: float | None,
    live: bool | None,
) -> None:
    """Start an execution of PIPELINE (never twice, however often the request is retried)."""
    from pipepilot.executions import RevisionOverride

    overrides = []
    for value in revisions:
        action, sep, rest = value.partition("=")
        kind, colon, revision = rest.partition(":")
        if not (sep and colon and action and kind and revision):
            raise click.BadParameter(f"{value!r} is not ACTION=TYPE:VALUE", param_hint="--source-revision")
        overrides.append(RevisionOverride(action=action, revision_type=kind, value=revision))
    handle = state.codepipeline().pipeline(pipeline)
    execution = handle.start(variables=_pairs(variables, "--variable") or None, source_revisions=overrides)
    if not wait:
        state.emit(
            {"pipeline": pipeline, "executionId": execution.id},
            [f"started execution {execution.id} of {pipeline}"],
        )
        return
    state.say(f"started execution {execution.id} of {pipeline}")
    from pipepilot.cli._watch import follow_execution

    raise click.exceptions.Exit(follow_execution(state, handle, execution, timeout=timeout, live=live))


@cli.command("stop")
@click.argument("pipeline")
@click.argument("execution", required=False)
@click.option("--abandon", is_flag=True, help="Abandon running actions instead of letting them finish.")
@click.option("--reason", help="Shown as the execution's stop trigger (up to 200 characters).")
@pass_cli
def stop_command(state: Cli, pipeline: str, execution: str | None, abandon: bool, reason: str | None) -> None:
    """Stop EXECUTION of PIPELINE (default: the latest); a lost answer is read back, never resent blindly."""
    handle = state.codepipeline().pipeline(pipeline)
    target = _execution_or_latest(handle, execution)
    target.stop(abandon=abandon, reason=reason)
    how = "abandoning its running actions" if abandon else "letting running actions finish"
    state.emit(
        {"pipeline": pipeline, "executionId": target.id, "abandon": abandon},
        [f"stopping execution {target.id} of {pipeline} ({how})"],
    )


@cli.command("retry")
@click.argument("pipeline")
@click.argument("stage")
@click.option("--execution", help="The execution to retry (default: the stage's latest).")
@click.option(
    "--all-actions", is_flag=True, help="Rerun every action of the stage, not only the failed ones."
)
@click.option("--wait", is_flag=True, help="Follow the execution to its end (exit status as watch).")
@click.option("--timeout", type=click.FloatRange(min=1), help=_TIMEOUT_HELP)
@_live_option
@pass_cli
def retry_command(
    state: Cli,
    pipeline: str,
    stage: str,
    execution: str | None,
    all_actions: bool,
    wait: bool,
    timeout: float | None,
    live: bool | None,
) -> None:
    """Retry STAGE of PIPELINE (the failed actions, or --all-actions); the same execution resumes."""
    handle = state.codepipeline().pipeline(pipeline)
    mode = "ALL_ACTIONS" if all_actions else "FAILED_ACTIONS"
    resumed = handle.stage(stage).retry(execution=execution, mode=mode)
    data = {"pipeline": pipeline, "stage": stage, "executionId": resumed.id, "mode": mode}
    line = f"retrying stage {stage} of {pipeline} for execution {resumed.id} ({mode})"
    if not wait:
        state.emit(data, [line])
        return
    state.say(line)
    from pipepilot.cli._watch import follow_execution

    raise click.exceptions.Exit(follow_execution(state, handle, resumed, timeout=timeout, live=live))


# ------------------------------------------------------------------------------------------ approvals


def _answer(
    state: Cli, pipeline: str, stage: str, action: str, execution: str | None, summary: str, *, approve: bool
) -> None:
    handle = state.codepipeline().pipeline(pipeline)
    # Without --execution the approval waiting there now is answered, and only if no other execution waits
    # there too (AmbiguousApprovalError otherwise): an answer never lands on a run nobody meant.
    approval = handle.approval(stage, action, execution=execution)
    if approve:
        approval.approve(summary)
    else:
        approval.reject(summary)
    status = "Approved" if approve else "Rejected"
    state.emit(
        {
            "pipeline": pipeline,
            "stage": stage,
            "action": action,
            "executionId": approval.execution_id,
            "status": status,
            "summary": summary,
        },
        [f"{status.lower()} {stage}/{action} of {pipeline} for execution {approval.execution_id}"],
    )


_execution_pin = click.option(
    "--execution",
    help="The execution whose approval to answer; required when several executions wait there.",
)


@cli.command("approve")
@click.argument("pipeline")
@click.argument("stage")
@click.argument("action")
@click.option("--summary", default="", help="The reviewer's comment (up to 512 characters).")
@_execution_pin
@pass_cli
def approve_command(
    state: Cli, pipeline: str, stage: str, action: str, summary: str, execution: str | None
) -> None:
    """Approve the manual approval ACTION in STAGE of PIPELINE (exactly once, even when retried)."""
    _answer(state, pipeline, stage, action, execution, summary, approve=True)


@cli.command("reject")
@click.argument("pipeline")
@click.argument("stage")
@click.argument("action")
@click.option("--summary", required=True, help="Why (up to 512 characters).")
@_execution_pin
@pass_cli
def reject_command(
    state: Cli, pipeline: str, stage: str, action: str, summary: str, execution: str | None
) -> None:
    """Reject the manual approval ACTION in STAGE of PIPELINE: the execution fails there."""
    _answer(state, pipeline, stage, action, execution, summary, approve=False)


# ---------------------------------------------------------------------------------------- transitions


@cli.group("transition")
def transition_group() -> None:
    """Disable or enable the transition into a stage (hold executions in front of it)."""


@transition_group.command("disable")
@click.argument("pipeline")
@click.argument("stage")
@click.option(
    "--reason",
    required=True,
    help="Why (1-300 letters, digits, spaces and ! @ ( ) . * ? -); shown in the console.",
)
@pass_cli
def transition_disable(state: Cli, pipeline: str, stage: str, reason: str) -> None:
    """Disable the transition into STAGE of PIPELINE."""
    state.codepipeline().pipeline(pipeline).stage(stage).inbound.disable(reason)
    state.emit(
        {"pipeline": pipeline, "stage": stage, "enabled": False, "reason": reason},
        [f"disabled the transition into {stage} of {pipeline}: {reason!r}"],
    )


@transition_group.command("enable")
@click.argument("pipeline")
@click.argument("stage")
@pass_cli
def transition_enable(state: Cli, pipeline: str, stage: str) -> None:
    """Enable the transition into STAGE of PIPELINE."""
    state.codepipeline().pipeline(pipeline).stage(stage).inbound.enable()
    state.emit(
        {"pipeline": pipeline, "stage": stage, "enabled": True, "reason": None},
        [f"enabled the transition into {stage} of {pipeline}"],
    )


# ------------------------------------------------------------------------------------- freeze and thaw


def _selection(cp: CodePipeline, patterns: Sequence[str]) -> Any:
    """The fleet selection of PATTERN...: one pattern as it is; several resolved to names (listed once)."""
    if len(patterns) == 1:
        return patterns[0]
    names: dict[str, None] = {}
    listed: list[str] | None = None
    for pattern in patterns:
        if not any(char in pattern for char in "*?["):
            names[pattern] = None
            continue
        if listed is None:
            listed = [summary.name for summary in cp.pipelines()]
        for name in listed:
            if fnmatch.fnmatchcase(name, pattern):
                names[name] = None
    return list(names)


def _write_record(path: Path, record: FreezeRecord) -> None:
    """Write the record so that a crash never leaves half a file: a temporary file, then a rename."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(record.to_json() + "\n", encoding="utf-8")
    temporary.replace(path)


def _read_record(path: Path) -> FreezeRecord:
    from pipepilot.freeze import FreezeRecord

    try:
        text = path.read_bytes()
    except OSError as error:
        raise click.BadParameter(
            f"cannot read {path}: {error.strerror or error}", param_hint="RECORD"
        ) from None
    try:
        return FreezeRecord.from_json(text)
    except ValueError as error:
        raise click.BadParameter(f"{path} is not a freeze record: {error}", param_hint="RECORD") from None


def _record_lines(record: FreezeRecord, *, thaw: bool) -> Iterator[str]:
    for entry in record.pipelines:
        if thaw:
            outcome = entry.thaw.value if entry.thaw is not None else f"untouched ({entry.outcome.value})"
            note = entry.thaw_error or entry.thaw_note
        else:
            outcome = entry.outcome.value
            note = f"{entry.error_code}: {entry.error}" if entry.error else None
            if entry.outcome.value == "already-disabled":
                note = f"left alone: disabled by {entry.changed_by or 'someone'}: {entry.reason!r}"
        yield f"  {entry.pipeline:<30} {outcome}" + (f"  ({note})" if note else "")


@cli.command("freeze")
@click.argument("patterns", nargs=-1, required=True, metavar="PIPELINE|PATTERN...")
@click.option("--stage", required=True, help="The stage to hold executions in front of (e.g. Prod).")
@click.option("--reason", required=True, help="Why (1-300 letters, digits, spaces and ! @ ( ) . * ? -).")
@click.option(
    "--record",
    "record_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The freeze record file (JSON): written as the freeze goes, read by thaw.",
)
@click.option(
    "--resume", is_flag=True, help="Go on with the freeze --record holds (after a failure or Ctrl-C)."
)
@pass_cli
def freeze_command(
    state: Cli, patterns: tuple[str, ...], stage: str, reason: str, record_path: Path, resume: bool
) -> None:
    """Disable the transition into --stage in every pipeline named or matched (fnmatch patterns).

    Transitions already disabled are left alone and noted. The record is written before any change and
    after each pipeline, so an interrupted freeze can be resumed (--resume) or undone (pipepilot thaw).
    """
    previous = None
    if resume:
        previous = _read_record(record_path)
    elif record_path.exists():
        raise click.BadParameter(
            f"{record_path} exists: it may be the record of a freeze still in force (thaw needs it); resume it "
            "with --resume, or choose another file",
            param_hint="--record",
        )
    cp = state.codepipeline()
    saved: list[FreezeRecord] = []

    def checkpoint(record: FreezeRecord) -> None:
        saved[:] = [record]  # first: an interruption during the write still knows what was done
        _write_record(record_path, record)

    try:
        record = cp.freeze(
            _selection(cp, patterns), stage=stage, reason=reason, resume=previous, checkpoint=checkpoint
        )
    except KeyboardInterrupt:
        latest = saved[0] if saved else None
        if latest is not None:
            _write_record(record_path, latest)  # the file may lag one pipeline behind when interrupted
        _interrupted_freeze(state, latest, record_path, patterns, stage, reason)
        raise click.exceptions.Exit(_exits.INTERRUPTED) from None

    def text() -> Iterator[str]:
        if record.nothing_selected:
            yield f"no pipeline matches {' '.join(patterns)}: nothing was frozen"
            return
        yield f"freeze of stage {stage} ({len(record.disabled)} disabled; record: {record_path})"
        yield from _record_lines(record, thaw=False)
        if not record.complete:
            yield f"incomplete: fix what failed, then run again with --resume --record {record_path}"

    state.emit(record.to_dict(), text)
    if not record.complete:
        raise click.exceptions.Exit(_exits.SERVICE)


def _interrupted_freeze(
    state: Cli,
    record: FreezeRecord | None,
    path: Path,
    patterns: Sequence[str],
    stage: str,
    reason: str,
) -> None:
    """Say what an interrupted freeze already did, and how to resume or undo it."""

    def echo(line: str) -> None:
        click.echo(line, err=True)

    if record is None:
        echo("pipepilot: freeze interrupted before any change was recorded; nothing was disabled")
        return
    done = record.disabled
    echo(
        f"pipepilot: freeze interrupted: {len(done)} transition(s) disabled so far"
        + (f" ({', '.join(done)})" if done else "")
        + f"; {len(record.pending)} pipeline(s) not done; the record is in {path}"
    )
    echo(
        "pipepilot: a pipeline in progress when interrupted may be disabled too: thaw finds it from the record"
    )
    resume = " ".join(_quote(part) for part in patterns)
    echo(
        f"pipepilot: resume: pipepilot freeze {resume} --stage {_quote(stage)} --reason {_quote(reason)} "
        f"--record {_quote(str(path))} --resume"
    )
    echo(f"pipepilot: undo:   pipepilot thaw {_quote(str(path))}")


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


@cli.command("thaw")
@click.argument("record_path", metavar="RECORD", type=click.Path(dir_okay=False, path_type=Path))
@pass_cli
def thaw_command(state: Cli, record_path: Path) -> None:
    """Re-enable exactly what the freeze RECORD disabled (changes made since by others are left alone).

    The record file is updated as the thaw goes; thawing it again retries only what failed.
    """
    record = _read_record(record_path)

    def checkpoint(updated: FreezeRecord) -> None:
        _write_record(record_path, updated)

    try:
        thawed = state.codepipeline().thaw(record, checkpoint=checkpoint)
    except KeyboardInterrupt:
        click.echo(
            f"pipepilot: thaw interrupted; {record_path} says what was re-enabled so far; run "
            f"`pipepilot thaw {_quote(str(record_path))}` again to finish",
            err=True,
        )
        raise click.exceptions.Exit(_exits.INTERRUPTED) from None
    _write_record(record_path, thawed)

    def text() -> Iterator[str]:
        yield f"thaw of stage {thawed.stage} (record: {record_path})"
        yield from _record_lines(thawed, thaw=True)
        if not thawed.thawed:
            yield f"incomplete: run `pipepilot thaw {record_path}` again to retry what failed"

    state.emit(thawed.to_dict(), text)
    if not thawed.thawed:
        raise click.exceptions.Exit(_exits.SERVICE)


# ----------------------------------------------------------------------------------------------- build


@cli.group("build")
def build_group() -> None:
    """Start, follow and read the logs of CodeBuild builds."""


def _build_of(state: Cli, target: str) -> Any:
    """The build TARGET names: a build id (``project:uuid``) or ARN, or a project's latest build."""
    codebuild = state.codebuild()
    if ":" in target:
        return codebuild.build(target)
    latest = next(codebuild.project(target).build_ids(), None)
    if latest is None:
        from pipepilot.errors import ResourceNotFoundError

        raise ResourceNotFoundError(f"project {target!r} has no build")
    return codebuild.build(latest)


@build_group.command("start")
@click.argument("project")
@click.option(
    "--env", "env", multiple=True, metavar="NAME=VALUE", help="An environment variable (plaintext)."
)
@click.option("--source-version", help="A commit, branch, tag, pr/<n> or S3 object version.")
@click.option("--wait", is_flag=True, help="Follow the build to its end (exit status as build watch).")
@click.option("--timeout", type=click.FloatRange(min=1), help=_TIMEOUT_HELP)
@pass_cli
def build_start(
    state: Cli,
    project: str,
    env: tuple[str, ...],
    source_version: str | None,
    wait: bool,
    timeout: float | None,
) -> None:
    """Start a build of PROJECT (never twice, however often the request is retried)."""
    build = (
        state.codebuild()
        .project(project)
        .start(env=_pairs(env, "--env") or None, source_version=source_version)
    )
    if not wait:
        state.emit({"project": project, "buildId": build.id}, [f"started build {build.id}"])
        return
    state.say(f"started build {build.id}")
    from pipepilot.cli._watch import follow_build

    raise click.exceptions.Exit(follow_build(state, build, timeout=timeout))


@build_group.command("watch")
@click.argument("target", metavar="PROJECT|BUILD_ID")
@click.option("--timeout", type=click.FloatRange(min=1), help=_TIMEOUT_HELP)
@pass_cli
def build_watch(state: Cli, target: str, timeout: float | None) -> None:
    """Follow a build (or PROJECT's latest) phase by phase until it ends; the exit status says how.

    0 succeeded, 1 failed (FAILED, FAULT, TIMED_OUT), 3 stopped, 4 --timeout passed (the build goes on).
    """
    from pipepilot.cli._watch import follow_build

    raise click.exceptions.Exit(follow_build(state, _build_of(state, target), timeout=timeout))


@build_group.command("logs")
@click.argument("target", metavar="PROJECT|BUILD_ID")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the build has ended.")
@click.option("--tail", type=click.IntRange(min=1), help="Only the last N lines (not with --follow).")
@pass_cli
def build_logs(state: Cli, target: str, follow: bool, tail: int | None) -> None:
    """Print the CloudWatch Logs of a build (or PROJECT's latest build)."""
    if follow and tail:
        raise click.UsageError("--tail and --follow do not go together")
    build = _build_of(state, target)
    lines = build.logs(follow=follow)
    if tail:
        from collections import deque

        lines = iter(deque(lines, maxlen=tail))
    try:
        for line in lines:
            if state.json:
                import json

                click.echo(json.dumps({"timestamp": iso(line.timestamp), "message": str(line)}))
            else:
                click.echo(str(line))
    except KeyboardInterrupt:
        click.echo(f"pipepilot: stopped following the logs of {build.id} (the build goes on)", err=True)
        raise click.exceptions.Exit(_exits.INTERRUPTED) from None


# -------------------------------------------------------------------------------------------- validate


@cli.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--region", "pipeline_region", help="The pipeline's region, for the cross-region rules.")
@click.option(
    "--default-type",
    type=click.Choice(["V1", "V2"]),
    default="V2",
    show_default=True,
    help="The pipeline type assumed when a definition names none.",
)
@pass_cli
def validate_command(
    state: Cli, files: tuple[Path, ...], pipeline_region: str | None, default_type: str
) -> None:
    """Check pipeline definitions locally: every problem, with its path and code; exit 1 on problems.

    A FILE is `aws codepipeline get-pipeline` output or a --cli-input-json file ({"pipeline": {...}}).
    Nothing is sent to AWS. A file that is not a pipeline definition exits 252.
    """
    from pipepilot.errors import InvalidStructureError
    from pipepilot.model import PipelineDocument

    results: list[dict[str, Any]] = []
    unreadable = False
    for path in files:
        entry: dict[str, Any] = {"file": str(path), "pipeline": None, "problems": [], "error": None}
        results.append(entry)
        try:
            document = PipelineDocument.from_json(path.read_bytes())
        except OSError as error:
            entry["error"] = f"cannot read: {error.strerror or error}"
            unreadable = True
            continue
        except InvalidStructureError as error:
            entry["error"] = " ".join(str(error).split())
            unreadable = True
            continue
        declaration = document.declaration
        entry["pipeline"] = declaration.name
        entry["problems"] = [
            {"path": problem.path, "code": problem.code, "message": problem.message}
            for problem in declaration.problems(region=pipeline_region, default_pipeline_type=default_type)
        ]

    def text() -> Iterator[str]:
        for entry in results:
            if entry["error"]:
                yield f"{entry['file']}: {entry['error']}"
            elif not entry["problems"]:
                yield f"{entry['file']}: pipeline {entry['pipeline']}: no problems found"
            else:
                yield f"{entry['file']}: pipeline {entry['pipeline']}: {len(entry['problems'])} problem(s)"
                for problem in entry["problems"]:
                    yield f"  {problem['path']}: {problem['message']} [{problem['code']}]"

    state.emit({"files": results}, text)
    if unreadable:
        raise click.exceptions.Exit(_exits.BAD_PARAMETER)
    if any(entry["problems"] for entry in results):
        raise click.exceptions.Exit(_exits.PROBLEMS)


# ------------------------------------------------------------------------------------- demo and local


@cli.command(
    "demo",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def demo_command(args: tuple[str, ...]) -> None:
    """Run a whole release offline: create, build, approve, freeze, fail and retry (--help for options).

    Needs the 'local' extra (pip install 'pipepilot[local]'); --live runs it on your AWS account.
    """
    from pipepilot.cli._demo import main as demo_main

    try:
        code = demo_main(list(args), prog="pipepilot demo")
    except SystemExit as ended:  # argparse: --help (0) or bad arguments (2, said on stderr)
        code = _exits.OK if ended.code in (0, None) else _exits.BAD_PARAMETER
    except ModuleNotFoundError as error:
        if error.name != "moto" and not (error.name or "").startswith("moto."):
            raise
        click.echo("pipepilot: the demo needs the 'local' extra: pip install 'pipepilot[local]'", err=True)
        code = _exits.OTHER
    raise click.exceptions.Exit(code)


@cli.group("local")
def local_group() -> None:
    """The offline engine (pipepilot.local) for other processes."""


@local_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
# 7473 is pipepilot.local.server.DEFAULT_PORT (not imported here: the server loads only when it serves).
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=7473,
    show_default=True,
    help="The port (0: any free one).",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Virtual seconds per real second (60: a minute a second; 0: moved only by the admin endpoint).",
)
@click.option("--region", "serve_region", default="us-east-1", show_default=True, help="The world's region.")
def local_serve(host: str, port: int, speed: float, serve_region: str) -> None:
    """Serve CodePipeline and CodeBuild offline over HTTP, for the AWS CLI, SDKs and pipepilot --endpoint-url."""
    try:
        from pipepilot.local import server
    except ImportError as error:
        if getattr(error, "name", None) == "pipepilot.local.server":
            click.echo("pipepilot: `local serve` is not available in this version of pipepilot", err=True)
            raise click.exceptions.Exit(_exits.OTHER) from None
        click.echo(
            f"pipepilot: local serve needs the 'local' extra: pip install 'pipepilot[local]' ({error})",
            err=True,
        )
        raise click.exceptions.Exit(_exits.OTHER) from None
    # serve() returns the exit status: 0 after SIGTERM, 130 after Ctrl-C.
    raise click.exceptions.Exit(server.serve(host=host, port=port, speed=speed, region=serve_region) or 0)
