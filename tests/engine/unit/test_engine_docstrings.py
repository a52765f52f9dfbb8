"""Every method of the offline engines says in a sentence what it does (or what it changes)."""

from __future__ import annotations

import ast
from pathlib import Path

import pipepilot.local

_ENGINES = [Path(pipepilot.local.__file__).parent / name for name in ("codepipeline", "codebuild")]


def _undocumented(source: str) -> list[str]:
    """``Class.method`` of every method without a docstring (dunders and property setters excepted)."""
    missing: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if not isinstance(item, ast.FunctionDef) or item.name.startswith("__"):
                continue
            if any(isinstance(d, ast.Attribute) and d.attr == "setter" for d in item.decorator_list):
                continue
            if ast.get_docstring(item) is None:
                missing.append(f"{node.name}.{item.name}")
    return missing


def test_every_engine_method_has_a_docstring() -> None:
    """No method of the CodePipeline or CodeBuild engine packages lacks a docstring."""
    missing = {
        str(path.relative_to(path.parents[1])): names
        for engine in _ENGINES
        for path in sorted(engine.glob("*.py"))
        if (names := _undocumented(path.read_text(encoding="utf-8")))
    }
    assert missing == {}


def test_the_docstring_check_finds_a_missing_docstring() -> None:
    """The check reports an undocumented method and accepts a documented one and a property setter."""
    source = (
        "class A:\n"
        "    def done(self):\n        '''Documented.'''\n"
        "    def bare(self):\n        pass\n"
        "    @property\n    def value(self):\n        '''Value.'''\n"
        "    @value.setter\n    def value(self, v):\n        pass\n"
    )
    assert _undocumented(source) == ["A.bare"]
