"""The model package is pure data: it neither imports botocore/boto3 nor reaches the I/O seam."""

from __future__ import annotations

import ast
from pathlib import Path

import pipepilot.model

_MODEL_DIR = Path(pipepilot.model.__file__).parent
_IO_MODULES = ("boto3", "botocore", "pipepilot._calls")


def _imported_modules(source: str) -> set[str]:
    """Modules imported at run time (imports under ``if TYPE_CHECKING:`` only name types)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            node.body = []
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and not node.level:
            names.add(node.module)
    return names


def test_model_modules_import_no_botocore_and_no_io_seam() -> None:
    """No module of ``pipepilot.model`` imports boto3, botocore or the module that calls them.

    Loading botocore's service model is I/O; it lives beside the client seam, and validation asks it for
    the shapes it needs.
    """
    offenders = {
        path.name: sorted(
            name
            for name in _imported_modules(path.read_text(encoding="utf-8"))
            if any(name == io or name.startswith(io + ".") for io in _IO_MODULES)
        )
        for path in sorted(_MODEL_DIR.glob("*.py"))
    }
    assert {name: found for name, found in offenders.items() if found} == {}
