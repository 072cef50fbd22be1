"""The layout docs/architecture.md describes stays true: stages import only earlier stages, and no
module imports itself back in a circle.

Imports are read from the source (ast), function-local ones included, because a cycle hidden in a
function is still a cycle for whoever reads the code. Imports only for the type checker
(`if TYPE_CHECKING:`) follow the stage order too, since a reader meets them as dependencies; they
are left out of the cycle check alone, where they are what breaks a cycle at run time.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"
# The stages in the order data flows; a module may import from its own stage and the ones before it.
STAGES = (
    "shared",
    "project",
    "store",
    "render",
    "payments",
    "pipeline",
    "review",
    "site",
    "build",
    "preview",
    "audience",
    "sending",
    "signup",
    "bounces",
    "api",
    "web",
    "wsgi",
    "cli",
)
SHARED = {"errors", "files", "placeholders", "vocabulary"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(tree: ast.AST, *, typing_too: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if _type_checking_only(node) and not typing_too:
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node, typing_too=typing_too)


def imported(name: str, path: Path, known: set[str], *, typing_too: bool = False) -> set[str]:
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in _imports(tree, typing_too=typing_too):
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


def graph(*, typing_too: bool = False) -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imported(name, path, known, typing_too=typing_too) for name, path in found.items()}


def stage(name: str) -> str:
    """The stage of a module: its subpackage or top-level module; the package itself is the API."""
    parts = name.split(".")
    if len(parts) == 1:
        return "api"
    if parts[1] in SHARED:
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
        for name, targets in graph(typing_too=True).items()
        for target in targets
        if STAGES.index(stage(target)) > STAGES.index(stage(name))
    ]
    assert backwards == []


def test_every_module_belongs_to_a_stage() -> None:
    assert {stage(name) for name in modules()} <= set(STAGES)


def test_the_graph_sees_imports() -> None:
    """The checks above pass trivially if the graph is empty; it is not."""
    edges = graph()
    assert "newsletter.render.renderer" in edges["newsletter.pipeline"]
    assert stage("newsletter.store.sendlog") == "store" and stage("newsletter.errors") == "shared"
    typed = graph(typing_too=True)
    assert "newsletter.project.settings" in typed["newsletter.pipeline"]


def _sources() -> dict[str, str]:
    return {name: path.read_text(encoding="utf-8") for name, path in modules().items()}


def test_only_the_environment_module_reads_the_environment() -> None:
    """Settings and secrets are resolved once, into the project; nothing deeper looks them up."""
    readers = sorted(name for name, text in _sources().items() if "os.environ" in text or "getenv" in text)
    assert readers == ["newsletter.project.environment"]


def test_only_the_store_runs_sql() -> None:
    """One room owns every SQL statement: nothing outside newsletter/store/ touches a connection."""
    outside = sorted(
        name
        for name, text in _sources().items()
        if re.search(r"\.execute(many|script)?\(|sqlite3\.connect", text) and stage(name) != "store"
    )
    assert outside == []
