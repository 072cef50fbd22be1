"""The layout the README's "How it works" describes stays true: stages import only earlier stages,
no module imports itself back in a circle, and no module grows past what a reader takes in at once.

Imports are read from the source (ast), function-local ones included, because a cycle hidden in a
function is still a cycle for whoever reads the code; imports only for the type checker are left out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"
MAX_LINES = 400
# The stages in pipeline order; a module may import from its own stage and the ones before it.
STAGES = ("shared", "project", "render", "payments", "pipeline", "review", "mail", "web", "cli")
SHARED = {"errors", "files", "placeholders", "vocabulary"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_only(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking_only(node):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    found: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        targets = (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [f"{node.module}.{alias.name}" for alias in node.names] + [node.module or ""]
        )
        for target in targets:
            if target in known and target != name:
                found.add(target)
                break  # `from a.b import c`: the module c when it is one, else a.b
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imported(name, path, known) for name, path in found.items()}


def stage(name: str) -> str:
    parts = name.split(".")
    if len(parts) == 1 or parts[1] in SHARED:
        return "shared"
    return "cli" if parts[1] == "__main__" else parts[1]


def test_no_import_cycles() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_stages_import_only_earlier_stages() -> None:
    backwards = [
        f"{name} -> {target}"
        for name, targets in graph().items()
        for target in targets
        if STAGES.index(stage(target)) > STAGES.index(stage(name))
    ]
    assert backwards == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_too_long(name: str) -> None:
    lines = len(modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


def test_the_graph_sees_imports() -> None:
    """The checks above pass trivially if the graph is empty; it is not."""
    edges = graph()
    assert "newsletter.pipeline" in edges["newsletter.review.site"]
    assert "newsletter.render.renderer" in edges["newsletter.pipeline"]
    assert stage("newsletter.mail.sendlog") == "mail" and stage("newsletter.errors") == "shared"
