"""docs/cli.md documents exactly the JSON fields each command prints, and every exit status."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipepilot.cli._exits import EXIT_CODES

from ..library.functional.offline_world import PIPELINE, PROJECT, World, release_stages
from .conftest import quick_stages

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def documented_fields() -> dict[str, set[str]]:
    """The field paths of each ``<!-- fields: COMMAND -->`` table of docs/cli.md."""
    found: dict[str, set[str]] = {}
    current: str | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        marker = re.fullmatch(r"<!-- fields: (.+) -->", line.strip())
        if marker:
            current = marker.group(1)
            found[current] = set()
            continue
        if current is None:
            continue
        cell = re.match(r"\| `([^`]+)` \|", line)
        if cell:
            found[current].add(cell.group(1))
        elif not line.startswith("|"):
            current = None
    return found


def field_paths(value: Any, prefix: str = "") -> set[str]:
    """``{"a": [{"b": 1}], "c": {"d": []}}`` -> ``{"a[].b", "c.d"}`` (a leaf is a scalar or a list of them)."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths |= field_paths(item, path) or {path}
    elif isinstance(value, list):
        for item in value:
            paths |= field_paths(item, f"{prefix}[]")
    return paths


def _json(result: Result) -> Any:
    assert result.exit_code in (0, 1, 254), result.output  # 254: the freeze of a pipeline without the stage
    return json.loads(result.stdout)


def test_the_exit_statuses_are_documented() -> None:
    """The table of exit statuses in docs/cli.md is the one the command uses."""
    text = DOC.read_text(encoding="utf-8").split("<!-- exit-codes -->", 1)[1]
    rows = dict(re.findall(r"^\| (\d+) \| (.+) \|$", text, flags=re.MULTILINE))
    assert {int(code): meaning for code, meaning in rows.items()} == dict(EXIT_CODES)


def test_the_json_output_has_the_documented_fields(
    world: World, pipepilot: Callable[..., Result], tmp_path: Path
) -> None:
    """Each command's JSON carries exactly the fields docs/cli.md lists for it (scripts rely on them)."""
    docs = documented_fields()
    printed: dict[str, list[Any]] = {name: [] for name in docs}

    def run(section: str, *args: str) -> Any:
        data = _json(pipepilot("--output", "json", *args))
        printed[section].append(data)
        return data

    # A release waiting at its approval with Prod frozen, and a pipeline whose build failed.
    release = world.create(PIPELINE, release_stages())
    release.stage("Prod").inbound.disable("Freeze")
    execution = release.start()
    release.wait_for_approval("Approval", "Approve", execution=execution)
    world.aws.script_build(PROJECT, fail_in="BUILD", log_lines=["boom"], times=1)
    world.create("quick", quick_stages())
    run("start", "start", "quick")
    run("watch", "watch", "quick")
    run("ls", "ls")
    run("status", "status", "quick")
    run("status", "status", PIPELINE)
    run("approve", "approve", PIPELINE, "Approval", "Approve", "--summary", "ok")
    run("retry", "retry", "quick", "Build")
    run("watch", "watch", "quick")
    run("stop", "stop", PIPELINE, execution.id)
    run("transition", "transition", "enable", PIPELINE, "Prod")
    record = tmp_path / "freeze.json"
    run(
        "freeze",
        "freeze",
        "quick",
        PIPELINE,
        "--stage",
        "Deploy",
        "--reason",
        "Freeze",
        "--record",
        str(record),
    )
    run("freeze", "thaw", str(record))
    world.aws.script_build(PROJECT, fail_in="BUILD", log_lines=["boom"], times=1)
    build = run("build start", "build", "start", PROJECT)
    run("build watch", "build", "watch", build["buildId"])
    logs = pipepilot("--output", "json", "build", "logs", build["buildId"])
    printed["build logs"] = [json.loads(line) for line in logs.stdout.splitlines()]
    bad = world.declaration("broken", quick_stages()).to_api()
    bad["stages"] = bad["stages"][1:]
    (tmp_path / "broken.json").write_text(json.dumps({"pipeline": bad}))
    run("validate", "validate", str(tmp_path / "broken.json"))

    for section, documented in docs.items():
        seen: set[str] = set()
        for data in printed[section]:
            seen |= field_paths(data)
        # An empty list shows as a leaf; it is fine where the documented fields are its items'.
        seen = {path for path in seen if not any(doc.startswith(f"{path}[]") for doc in documented)}
        assert seen == documented, (
            f"{section}: printed but undocumented {sorted(seen - documented)}, documented but not printed {sorted(documented - seen)}"
        )
