"""The node package has no import cycle, not even one held apart by imports inside functions:
every ``import`` in ``zkpot/node/*.py`` (module level or not) is an edge, and the graph over
the package's modules is acyclic."""

from __future__ import annotations

import ast

from zkpot.config import PROJECT_ROOT

NODE = PROJECT_ROOT / "zkpot" / "node"


def imports_of(path) -> set[str]:
    out = set()
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.ImportFrom) and n.module:
            out.add(n.module)
            out |= {f"{n.module}.{a.name}" for a in n.names}     # from zkpot.node import x
        elif isinstance(n, ast.Import):
            out |= {a.name for a in n.names}
    return out


def node_graph() -> dict[str, set[str]]:
    modules = {f"zkpot.node.{p.stem}": p for p in NODE.glob("*.py") if p.stem != "__init__"}
    return {m: {i for i in imports_of(p) if i in modules and i != m} for m, p in modules.items()}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = 2
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_node_package_has_no_import_cycle():
    graph = node_graph()
    assert "zkpot.node.outcomes" in graph and graph["zkpot.node.work"] >= {"zkpot.node.training",
                                                                           "zkpot.node.proving"}
    assert cycle(graph) is None, " -> ".join(cycle(graph))


def test_the_cycle_check_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None
