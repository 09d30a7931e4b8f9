"""No import cycles between our modules, type-only imports included.

Every module under app/, resolvers/ and storage/ is parsed (not imported), and
every import in it counts: at the top, under ``TYPE_CHECKING`` and inside
functions. A cycle means two modules cannot be understood, tested or moved
apart; breaking it later only gets harder.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "resolvers", "storage")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported(name: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The modules of ours that ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` depends on pkg.mod, not on pkg's __init__.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target in modules and target != name:
                yield target


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for child in sorted(graph[node]):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in on_stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: set(_imported(name, path, modules)) for name, path in modules.items()}


def test_the_import_graph_has_no_cycles() -> None:
    assert _cycles(import_graph()) == []


def test_the_cycle_finder_sees_a_type_only_cycle() -> None:
    # The check itself can fail: two modules importing each other are found.
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_the_graph_follows_type_checking_and_relative_imports() -> None:
    graph = import_graph()
    assert len(graph) > 50
    assert "storage.database" in graph["storage.conversations"]


# What each layer must not import (the first dotted part of any import in it):
# dependencies point app → resolvers → storage, and only app speaks HTTP.
FORBIDDEN = {
    "storage": {"app", "resolvers", "strawberry", "starlette"},
    "resolvers": {"app", "starlette"},
}


def _top_level_imports(path: Path) -> set[str]:
    """The first part of every absolute module ``path`` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.partition(".")[0])
    return found


def layer_violations() -> list[str]:
    violations: list[str] = []
    for name, path in _modules().items():
        forbidden = FORBIDDEN.get(name.partition(".")[0], set())
        violations.extend(
            f"{name} imports {target}" for target in sorted(_top_level_imports(path) & forbidden)
        )
    return violations


def test_storage_and_resolvers_import_nothing_above_them() -> None:
    assert layer_violations() == []


def test_the_layer_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from app import metrics\n    import starlette.requests\n")
    assert _top_level_imports(module) == {"app", "starlette"}
