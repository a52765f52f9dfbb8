"""docs/lambda.md stays true: its marked examples run, and the names it documents exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pipepilot.awslambda

ROOT = next(folder for folder in Path(__file__).resolve().parents if (folder / "pyproject.toml").is_file())
DOC = ROOT / "docs" / "lambda.md"
_MARKED_BLOCK = re.compile(r"<!-- test: (?P<name>[a-z0-9-]+) -->\n```python\n(?P<code>.*?)\n```\n", re.DOTALL)


def _examples() -> dict[str, str]:
    return {
        match["name"]: match["code"] + "\n"
        for match in _MARKED_BLOCK.finditer(DOC.read_text(encoding="utf-8"))
    }


def test_the_offline_bot_example_runs() -> None:
    """The 'Testing a bot offline' example runs as written and its release is approved."""
    namespace: dict[str, Any] = {"__name__": "docs_lambda_bot_offline"}
    exec(compile(_examples()["bot-offline"], f"{DOC}#bot-offline", "exec"), namespace)


def test_every_public_name_is_documented() -> None:
    """Each name ``pipepilot.awslambda`` exports appears in the doc."""
    text = DOC.read_text(encoding="utf-8")
    assert [name for name in pipepilot.awslambda.__all__ if name not in text] == []


def test_every_outcome_kind_is_documented() -> None:
    """The outcome table lists every OutcomeKind."""
    text = DOC.read_text(encoding="utf-8")
    assert [kind.name for kind in pipepilot.awslambda.OutcomeKind if f"`{kind.name}`" not in text] == []
