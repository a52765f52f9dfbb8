"""The public import path: a small top level, namespaces for the rest, each name listed once and lazy.

``pipepilot`` and ``pipepilot.model`` load their names on first use; type checkers read the same names
from a ``TYPE_CHECKING`` import block. These tests hold the two equal, and check that an unknown name is
an error for Python and (because ``__getattr__`` is hidden from type checkers) for mypy too.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import types
from pathlib import Path

import pytest

import pipepilot
import pipepilot.awslambda
import pipepilot.errors
import pipepilot.events
import pipepilot.model

LAZY_PACKAGES = (pipepilot, pipepilot.model, pipepilot.awslambda)
NAMESPACES = (pipepilot, pipepilot.model, pipepilot.errors, pipepilot.events, pipepilot.awslambda)


def _type_checking_imports(module: types.ModuleType) -> dict[str, str]:
    """``name -> module`` of the imports in the ``if TYPE_CHECKING:`` block of ``module``'s source."""
    tree = ast.parse(Path(inspect.getfile(module)).read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom)
                for alias in statement.names:
                    # ``from m import X as X`` is how a typed package re-exports X.
                    assert alias.asname == alias.name, alias.name
                    found[alias.name] = str(statement.module)
    return found


def test_the_top_level_is_small() -> None:
    """About 25 names: facades, handles, the declaration, the policies, the error bases."""
    assert len(pipepilot.__all__) <= 26
    assert {
        "CodePipeline",
        "CodeBuild",
        "Pipeline",
        "Approval",
        "PipelineDeclaration",
        "PipepilotError",
    } <= set(pipepilot.__all__)


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda m: m.__name__)
def test_all_is_unique_and_resolves(namespace: types.ModuleType) -> None:
    """``__all__`` has no duplicates (ruff keeps literal ones sorted), and each name in it resolves."""
    assert len(namespace.__all__) == len(set(namespace.__all__))
    assert [name for name in namespace.__all__ if not hasattr(namespace, name)] == []


@pytest.mark.parametrize("package", LAZY_PACKAGES, ids=lambda m: m.__name__)
def test_type_checkers_see_exactly_the_lazy_names(package: types.ModuleType) -> None:
    """The ``TYPE_CHECKING`` imports and the lazy map name the same things, from the same modules, and each
    name is defined in the module it is mapped to (a class lives in one file)."""
    exports: dict[str, str] = package._EXPORTS
    assert _type_checking_imports(package) == exports
    assert set(exports) <= set(package.__all__)
    for name, module in exports.items():
        value = getattr(importlib.import_module(module), name)
        assert value.__module__ == module, name


@pytest.mark.parametrize("package", LAZY_PACKAGES, ids=lambda m: m.__name__)
def test_getattr_is_hidden_from_type_checkers(package: types.ModuleType) -> None:
    """``__getattr__`` is defined only under ``if not TYPE_CHECKING``: mypy reports ``pipepilot.NoSuchName``
    as an error instead of typing it ``Any``."""
    tree = ast.parse(Path(inspect.getfile(package)).read_text(encoding="utf-8"))
    top_level = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in ast.walk(node)
        if isinstance(target, ast.Name)
    } | {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "__getattr__" not in top_level
    hidden = [
        node
        for node in tree.body
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.UnaryOp)
        and isinstance(node.test.op, ast.Not)
        and getattr(node.test.operand, "id", None) == "TYPE_CHECKING"
    ]
    assert hidden
    assert "__getattr__" in ast.unparse(hidden[0])


@pytest.mark.parametrize("namespace", [*LAZY_PACKAGES, pipepilot.events], ids=lambda m: m.__name__)
def test_no_public_name_leaks_outside_all(namespace: types.ModuleType) -> None:
    """Public attributes of the re-exporting namespaces are exactly their ``__all__`` (plus submodules)."""
    import __future__

    public = {
        name
        for name, value in vars(namespace).items()
        if not name.startswith("_") and not isinstance(value, (types.ModuleType, __future__._Feature))
    }
    public -= {"TYPE_CHECKING", "lazy_module_attributes", "annotations"}
    assert public <= set(namespace.__all__)


def test_unknown_names_raise_attribute_error() -> None:
    """A name pipepilot does not export is an AttributeError, as on any module."""
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        getattr(pipepilot, "Nope")  # noqa: B009
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        getattr(pipepilot.model, "Nope")  # noqa: B009


def test_models_errors_and_events_live_in_their_namespaces() -> None:
    """Each kind of name has one home: a model in ``pipepilot.model``, an error in ``pipepilot.errors``,
    an event in ``pipepilot.events``; none of them is also at the top unless it is a base or a handle."""
    assert "PipelineState" in pipepilot.model.__all__
    assert "ExecutionFailed" in pipepilot.errors.__all__
    assert {"ApprovalRequested", "CodePipelineEvent"} <= set(pipepilot.events.__all__)
    # What the events module's docstring promises a Lambda handler and an on_progress= caller.
    assert {"parse_event", "print_progress", "log_progress", "diff_states"} <= set(pipepilot.events.__all__)
    assert not {"PipelineState", "ExecutionFailed", "ApprovalRequested"} & set(pipepilot.__all__)


def test_one_approval_name_per_meaning() -> None:
    """The approval look-alikes are gone: one handle, one event, one status, one 'none waiting' error."""
    everything = set(pipepilot.__all__) | set(pipepilot.model.__all__) | set(pipepilot.errors.__all__)
    everything |= set(pipepilot.events.__all__)
    for gone in ("ApprovalPending", "ApprovalWaiting", "PendingApproval", "ApprovalNotPending"):
        assert gone not in everything
