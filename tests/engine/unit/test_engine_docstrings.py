"""Every function of the offline engine says in a sentence what it does (or what it changes)."""

from __future__ import annotations

import ast
from pathlib import Path

import pipepilot.local

_LOCAL = Path(pipepilot.local.__file__).parent


def _exempt(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether ``function`` needs no docstring: a dunder method or a property setter."""
    if function.name.startswith("__") and function.name.endswith("__"):
        return True
    return any(isinstance(d, ast.Attribute) and d.attr == "setter" for d in function.decorator_list)


def _undocumented(source: str, *, functions: bool = True) -> list[str]:
    """The qualified name of every function and method in ``source`` without a docstring.

    With ``functions=False`` only methods (functions defined in a class body) are checked.
    """
    missing: list[str] = []

    def visit(node: ast.AST, prefix: str, in_class: bool) -> None:
        for item in ast.iter_child_nodes(node):
            if isinstance(item, ast.ClassDef):
                visit(item, f"{prefix}{item.name}.", True)
            elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + item.name
                if (in_class or functions) and not _exempt(item) and ast.get_docstring(item) is None:
                    missing.append(name)
                visit(item, f"{name}.<locals>.", False)
            else:
                visit(item, prefix, in_class)

    visit(ast.parse(source), "", False)
    return missing


def test_every_engine_function_has_a_docstring() -> None:
    """No function, closure or method of any pipepilot.local module lacks a docstring, engine packages included."""
    missing: dict[str, list[str]] = {}
    for path in sorted(_LOCAL.rglob("*.py")):
        relative = path.relative_to(_LOCAL)
        if names := _undocumented(path.read_text(encoding="utf-8")):
            missing[str(relative)] = names
    assert missing == {}


def test_the_check_covers_every_module_of_the_engine() -> None:
    """The check reads the top-level modules and both engine packages, not an empty or partial tree."""
    checked = {str(path.relative_to(_LOCAL)) for path in _LOCAL.rglob("*.py")}
    assert {"__init__.py", "_wiring.py", "clock.py", "pytest_plugin.py"} <= checked
    assert {"codepipeline/__init__.py", "codebuild/__init__.py"} <= checked


def test_the_docstring_check_finds_a_missing_docstring() -> None:
    """The check reports an undocumented method and accepts a documented one and a property setter."""
    source = (
        "class A:\n"
        "    def done(self):\n        '''Documented.'''\n"
        "    def bare(self):\n        pass\n"
        "    def __eq__(self, other):\n        pass\n"
        "    @property\n    def value(self):\n        '''Value.'''\n"
        "    @value.setter\n    def value(self, v):\n        pass\n"
    )
    assert _undocumented(source) == ["A.bare"]


def test_the_docstring_check_finds_undocumented_functions_and_closures() -> None:
    """Module-level functions and closures are reported, unless only methods are checked."""
    source = (
        "def outer():\n    '''Documented.'''\n    def inner():\n        pass\n"
        "async def bare():\n    pass\n"
        "if True:\n    class B:\n        def method(self):\n            pass\n"
    )
    assert _undocumented(source) == ["outer.<locals>.inner", "bare", "B.method"]
    assert _undocumented(source, functions=False) == ["B.method"]
