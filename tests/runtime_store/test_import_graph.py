"""Imports flow one way: no cycle in service/, Settings imports nothing of the runtime, and the
service starts without the training, export or importer code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[2] / "service"


def module_graph() -> dict[str, set[str]]:
    """service module -> the service modules it imports (at the top or inside functions)."""
    names = {}
    for path in SERVICE.rglob("*.py"):
        parts = path.relative_to(SERVICE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in names}
    for name, path in names.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in names
                           else node.module for a in node.names]  # fmt: skip
            else:
                continue
            for target in targets:
                while target and target not in names:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycle_from(graph: dict[str, set[str]]) -> list[str] | None:
    """Some import cycle as a path of modules, or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_no_import_cycle_in_service() -> None:
    graph = module_graph()
    assert cycle_from({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]  # the check can fail
    assert cycle_from(graph) is None
    assert not any(m.startswith("service.runtime") for m in graph["service.config"])


def test_serving_imports_no_training_export_or_importer() -> None:
    code = ("import sys, service.api.app; print(' '.join(m for m in sys.modules if m.startswith("
            "('service.training', 'service.importers', 'service.network.export'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=SERVICE.parent)  # fmt: skip
    assert out.stdout.strip() == ""
