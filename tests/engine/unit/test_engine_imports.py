"""The offline engine's modules import one another without cycles.

Every import that runs counts, at module level or inside a function: a cycle that only a lazy import hides
today is one edit away from an import error, and it says two modules are one concern. Imports under
``TYPE_CHECKING`` (annotations only; a collaborator naming the coordinator that owns it) do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pipepilot.local

_PACKAGE = "pipepilot.local"
_ROOT = Path(pipepilot.local.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(_ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((_PACKAGE, *parts))


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(_ROOT.rglob("*.py"))}


def _imports(name: str, path: Path, modules: set[str]) -> set[str]:
    """The engine modules that ``name`` imports, resolving ``from package import module`` to the module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
            ]
        else:
            continue
        found.update(target for target in targets if target in modules and target != name)
    return found


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` except what sits under ``if TYPE_CHECKING:``."""
    nodes: list[ast.AST] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        nodes.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                pending.extend(child.orelse)
                continue
            pending.append(child)
    return nodes


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (its modules in order, the first repeated at the end), or None."""
    done: set[str] = set()
    for root in sorted(graph):
        if root in done:
            continue
        path: list[str] = [root]
        on_path = {root}
        stack = [iter(sorted(graph[root]))]
        while stack:
            successor = next(stack[-1], None)
            if successor is None:
                stack.pop()
                finished = path.pop()
                done.add(finished)
                on_path.discard(finished)
                continue
            if successor in on_path:
                return [*path[path.index(successor) :], successor]
            if successor not in done:
                path.append(successor)
                on_path.add(successor)
                stack.append(iter(sorted(graph[successor])))
    return None


def test_engine_modules_import_each_other_without_cycles() -> None:
    """No pipepilot.local module imports, directly or through others, a module that imports it back."""
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    """The check itself reports a cycle when there is one (so a passing test means something)."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_walk_sees_lazy_imports_and_skips_type_checking_ones() -> None:
    """The World's lazy import of the CodeBuild engine counts as an edge; an annotation-only import does not."""
    modules = _modules()
    world = _imports(f"{_PACKAGE}._world", modules[f"{_PACKAGE}._world"], set(modules))
    assert f"{_PACKAGE}.codebuild" in world
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\nelse:\n    import b\n"
    )
    names = {
        alias.name for node in _runtime_nodes(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    assert names == {"b"}
