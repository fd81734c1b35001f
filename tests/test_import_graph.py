"""Imports inside the core point one way: no module of tracker_core imports one that imports it back.

The graph is read from the sources (every ``import``, including those inside functions, except the
ones under ``if TYPE_CHECKING:``), so a lazy import that closes a loop is caught too.
"""

from __future__ import annotations

import ast
import pathlib

import tracker_core

PACKAGE = pathlib.Path(tracker_core.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = ["tracker_core", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, modules: set[str]) -> set[str]:
    found: set[str] = set()
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        pending.extend(ast.iter_child_nodes(node))
    return {name for name in found if name in modules}


def import_graph() -> dict[str, set[str]]:
    """tracker_core module -> the tracker_core modules it imports (the package itself left out)."""
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules = set(paths) - {"tracker_core"}
    return {name: _imports(ast.parse(path.read_text(encoding="utf-8")), modules) - {name}
            for name, path in paths.items() if name in modules}


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """A path of imports from ``start`` to ``goal``, or None."""
    seen = {start}
    paths = [[start]]
    while paths:
        path = paths.pop()
        for following in sorted(graph.get(path[-1], ())):
            if following == goal:
                return [*path, following]
            if following not in seen:
                seen.add(following)
                paths.append([*path, following])
    return None


def test_the_graph_sees_lazy_imports() -> None:
    graph = import_graph()
    assert "tracker_core.store._log" in graph["tracker_core.api"]
    assert "tracker_core.artifacts" in graph["tracker_core.api"]  # imported inside a method


def test_the_read_api_is_in_no_import_loop() -> None:
    graph = import_graph()
    for imported in sorted(graph["tracker_core.api"]):
        loop = _reaches(graph, imported, "tracker_core.api")
        assert loop is None, "import loop: tracker_core.api -> " + " -> ".join(loop or [])


def test_the_artifact_handle_lives_with_the_run_handle() -> None:
    from tracker_core.api import StoredArtifact, StoredRun

    assert StoredArtifact.__module__ == StoredRun.__module__ == "tracker_core.api"
    assert not (PACKAGE / "_artifact_handle.py").exists()
