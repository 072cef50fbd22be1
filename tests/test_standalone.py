"""The repository stands on its own: no code reads, and no Markdown links to, a file outside it.

A clone in a folder of its own must pass its tests, so nothing may reach above the repository root: no
``Path(__file__).parents[n]`` (or ``.parent.parent...``, ``os.path.dirname(...)``) chain that climbs past it,
no ``"../..."`` string opened as a path, no relative Markdown link or image that resolves outside it, and no
mention of the sibling ``shared`` folder (reference material on one machine, never part of the project).
Paths in prose (``/srv/nieuwsbrief``, ``~/Maildir``) and URLs are fine.

Each check is a function over a repository root and its ``git ls-files``; the ``*_reports_*`` tests run it on
a small repository in ``tmp_path`` to show that it does fail when it should.
"""

from __future__ import annotations

import ast
import posixpath
import re
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parent.parent

# The sibling folder of reference material, however it is reached (written so that this file does not itself
# contain the reference it looks for).
SHARED = re.compile(r"\.\./shared\b")

# Parts of a path relative to the repository root; a leading ".." means above the root.
Parts = tuple[str, ...]

PATH_TYPES = {"Path", "PurePath", "PosixPath", "PurePosixPath", "WindowsPath", "PureWindowsPath"}
SAME_PATH_METHODS = {"resolve", "absolute", "expanduser"}
SAME_PATH_OS_FUNCS = {"abspath", "realpath", "normpath", "expanduser"}
# Calls whose first argument is a path, and keywords that take one: a "../" literal there leaves the folder.
OPENERS = PATH_TYPES | {
    "open",
    "join",
    "abspath",
    "realpath",
    "normpath",
    "exists",
    "isfile",
    "isdir",
    "listdir",
    "scandir",
    "chdir",
    "walk",
    "glob",
    "iglob",
    "copy",
    "copy2",
    "copyfile",
    "copytree",
    "rmtree",
    "move",
    "joinpath",
}
PATH_KEYWORDS = {"cwd", "path", "file", "filename", "root", "directory", "fixtures_path"}


def tracked(root: Path, *patterns: str) -> list[str]:
    """The files git tracks under root matching the patterns (paths relative to root, POSIX style)."""
    result = subprocess.run(
        ["git", "ls-files", "-z", "--", *patterns],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    # A file deleted in the work tree but not yet in the index has nothing left to check.
    return sorted(name for name in result.stdout.split("\0") if name and (root / name).is_file())


# ------------------------------------------------------------------------------------------------
# Python: paths built from __file__, and "../" strings opened as paths


def _up(parts: Parts, levels: int) -> Parts:
    for _ in range(levels):
        parts = parts[:-1] if parts and parts[-1] != ".." else (*parts, "..")
    return parts


def _join(parts: Parts, piece: str) -> Parts | None:
    if piece.startswith(("/", "~")):
        return None  # an absolute path: not built from __file__ any more
    for name in piece.split("/"):
        if name == "..":
            parts = _up(parts, 1)
        elif name not in ("", "."):
            parts = (*parts, name)
    return parts


def _integer(node: ast.expr) -> int | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _integer(node.operand)
        return None if value is None else -value
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    return None


def _callee(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_os_path(func: ast.expr) -> bool:
    """`os.path.f`, `path.f` (from os import path) or a bare `f` (from os.path import f)."""
    if isinstance(func, ast.Name):
        return True
    if isinstance(func, ast.Attribute):
        owner = func.value
        return (isinstance(owner, ast.Name) and owner.id in ("path", "posixpath")) or (
            isinstance(owner, ast.Attribute) and owner.attr == "path"
        )
    return False


class _Locator:
    """Where a path expression points, relative to the repository root, when it is built from __file__."""

    def __init__(self, file_parts: Parts) -> None:
        self.file_parts = file_parts
        self.names: dict[str, Parts] = {}

    def _joined(self, base: Parts | None, pieces: Sequence[ast.expr]) -> Parts | None:
        for piece in pieces:
            if base is None or not (isinstance(piece, ast.Constant) and isinstance(piece.value, str)):
                return None
            base = _join(base, piece.value)
        return base

    def locate(self, node: ast.expr) -> Parts | None:
        if isinstance(node, ast.Name):
            return self.file_parts if node.id == "__file__" else self.names.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            inner = self.locate(node.value)
            return None if inner is None else _up(inner, 1)
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
        ):
            inner = self.locate(node.value.value)
            index = _integer(node.slice)
            if inner is None or index is None:
                return None
            # parents[-1] is the file system's root, above any repository.
            return _up(inner, index + 1) if index >= 0 else ("..",)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return self._joined(self.locate(node.left), [node.right])
        if isinstance(node, ast.Call) and not node.keywords:
            return self._locate_call(node)
        return None

    def _locate_call(self, node: ast.Call) -> Parts | None:
        func, args = node.func, node.args
        name = _callee(func)
        if name in PATH_TYPES and args:
            return self._joined(self.locate(args[0]), args[1:])
        if isinstance(func, ast.Attribute) and name in SAME_PATH_METHODS and not args:
            return self.locate(func.value)
        if isinstance(func, ast.Attribute) and name == "joinpath":
            return self._joined(self.locate(func.value), args)
        if _is_os_path(func) and args:
            if name == "dirname" and len(args) == 1:
                inner = self.locate(args[0])
                return None if inner is None else _up(inner, 1)
            if name in SAME_PATH_OS_FUNCS and len(args) == 1:
                return self.locate(args[0])
            if name == "join":
                return self._joined(self.locate(args[0]), args[1:])
        return None


def _climbs(locator: _Locator, node: ast.AST, found: list[ast.expr]) -> None:
    """The outermost expressions under node that are built from __file__ and point above the root."""
    if isinstance(node, ast.expr) and not isinstance(node, ast.Name):
        parts = locator.locate(node)
        if parts is not None:
            if parts[:1] == ("..",):
                found.append(node)
            return
    for child in ast.iter_child_nodes(node):
        _climbs(locator, child, found)


def _parent_literal(node: ast.expr) -> str | None:
    """The text of a string literal (or f-string) that starts by going up a folder, else None."""
    if isinstance(node, ast.JoinedStr) and node.values:
        node = node.values[0]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
        if text == ".." or text.startswith(("../", "..\\")):
            return text
    return None


def _path_literals(tree: ast.Module) -> list[tuple[int, str]]:
    """'../' strings used as paths: opened, joined, passed as cwd=/path=, or named as a module constant."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        candidates: list[ast.expr] = []
        if isinstance(node, ast.Call) and _callee(node.func) in OPENERS:
            candidates += node.args
        if isinstance(node, ast.Call):
            candidates += [word.value for word in node.keywords if word.arg in PATH_KEYWORDS]
        for candidate in candidates:
            text = _parent_literal(candidate)
            if text is not None:
                found.append((candidate.lineno, text))
    for statement in tree.body:
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            text = _parent_literal(statement.value)
            if text is not None:
                found.append((statement.lineno, text))
    return found


def python_escapes(root: Path, files: Iterable[str]) -> list[str]:
    """Every place in the given Python files that reads, or builds a path to, something outside root."""
    problems: list[str] = []
    for name in files:
        source = (root / name).read_text(encoding="utf-8")
        for number, line in enumerate(source.splitlines(), 1):
            if SHARED.search(line):
                problems.append(f"{name}:{number}: refers to the sibling folder: {line.strip()}")
        tree = ast.parse(source, filename=name)
        locator = _Locator(tuple(Path(name).parts))
        # Module constants such as REPO = Path(__file__).resolve().parent.parent, in the order they are set.
        unsure: set[str] = set()
        assigned = [node for node in ast.walk(tree) if isinstance(node, ast.Assign | ast.AnnAssign)]
        for node in sorted(assigned, key=lambda node: (node.lineno, node.col_offset)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            parts = locator.locate(node.value) if node.value is not None else None
            for target in targets:
                if not isinstance(target, ast.Name) or target.id in unsure:
                    continue
                if parts is None or locator.names.get(target.id, parts) != parts:
                    unsure.add(target.id)  # set to something else too: where it points depends on the run
                    locator.names.pop(target.id, None)
                else:
                    locator.names[target.id] = parts
        climbs: list[ast.expr] = []
        _climbs(locator, tree, climbs)
        problems += [
            f"{name}:{node.lineno}: {ast.unparse(node)} climbs above the repository root" for node in climbs
        ]
        problems += [
            f"{name}:{number}: {text!r} is a path above the folder it runs in"
            for number, text in _path_literals(tree)
        ]
    return sorted(set(problems))


# ------------------------------------------------------------------------------------------------
# Markdown: link and image targets

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_TARGET = re.compile(r"\]\(\s*(<[^>\n]*>|[^)\s]*)")
REFERENCE_TARGET = re.compile(r"^\s{0,3}\[(?!\^)[^\]]+\]:\s*(<[^>\n]*>|\S+)")
HTML_TARGET = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _outside(document: str, target: str) -> bool:
    """Whether a link target in the Markdown file `document` points outside the repository."""
    target = target.strip("<>").strip()
    target = unquote(re.split(r"[#?]", target, maxsplit=1)[0])
    if not target or SCHEME.match(target):
        return False  # an anchor in the same file, or a URL (http:, https:, mailto:, ...)
    if target.startswith("~"):
        return True  # a home folder
    if target.startswith("/"):
        resolved = posixpath.normpath(target.lstrip("/"))  # from the repository root, as GitHub reads it
    else:
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(document), target))
    return resolved == ".." or resolved.startswith("../")


def markdown_escapes(root: Path, files: Iterable[str]) -> list[str]:
    """Every link or image in the given Markdown files that points outside root, and every mention of the
    sibling folder of reference material."""
    problems: list[str] = []
    for name in files:
        fence: str | None = None
        for number, line in enumerate((root / name).read_text(encoding="utf-8").splitlines(), 1):
            if SHARED.search(line):
                problems.append(f"{name}:{number}: refers to the sibling folder: {line.strip()}")
            opening = FENCE.match(line)
            if opening:
                marker = opening.group(1)
                if fence is None:
                    fence = marker
                elif marker[0] == fence[0] and len(marker) >= len(fence):
                    fence = None
                continue
            if fence is not None:
                continue  # a code block: examples, not links
            prose = CODE_SPAN.sub("", line)
            targets = [match.group(1) for match in INLINE_TARGET.finditer(prose)]
            targets += [match.group(1) for match in HTML_TARGET.finditer(prose)]
            reference = REFERENCE_TARGET.match(prose)
            if reference:
                targets.append(reference.group(1))
            problems += [
                f"{name}:{number}: link target {target!r} is outside the repository"
                for target in targets
                if _outside(name, target)
            ]
    return problems


# ------------------------------------------------------------------------------------------------
# The repository itself


@pytest.fixture(scope="module")
def git_tree() -> Path:
    if not (REPO / ".git").exists():
        pytest.skip("not a git work tree: nothing to list the tracked files with")
    return REPO


def test_python_stays_inside_the_repository(git_tree: Path) -> None:
    assert python_escapes(git_tree, tracked(git_tree, "*.py")) == []


def test_markdown_links_stay_inside_the_repository(git_tree: Path) -> None:
    assert markdown_escapes(git_tree, tracked(git_tree, "*.md")) == []


def test_stripe_example_data_is_in_the_repository() -> None:
    from tests.stripe_fake import FIXTURES_PATH

    folder = REPO / "tests" / "fixtures" / "stripe"
    assert FIXTURES_PATH.resolve() == folder / "fixtures3.json"
    assert FIXTURES_PATH.is_file()
    assert "MIT License" in (folder / "LICENSE").read_text(encoding="utf-8")
    assert "github.com/stripe/openapi" in (folder / "README.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# The checks do fail: a small repository that reaches outside itself

ESCAPING_PY = """\
from pathlib import Path
import os

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIXTURES = Path(__file__).resolve().parents[3] / 'shared' / 'stripe'
GUIDE = REPO.parent / "GUIDE.md"
OLD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "x")
UP = Path(__file__).parent.parent.parent
TEMPLATES = HERE / "templates"
ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ["../index.html", "../../etc/hostname"]


def load() -> str:
    return open("../notes.txt").read()
"""

# The link is built from its pieces so that this repository does not contain the very reference it forbids.
OUTSIDE_GUIDE = "/".join(("..", "shared", "GUIDE.md"))

ESCAPING_MD = f"""\
# Guide

See the [guide]({OUTSIDE_GUIDE}) and ![diagram](docs/../../diagram.png).
Install into `/srv/nieuwsbrief`; mail lands in `~/Maildir`.
[Home](https://example.org), [mail](mailto:a@b.nl), [top](#guide), [columns](columns/why.md),
[root](/README.md).

```sh
cp ../notes.md .
```

[notes]: ../notes.md "Notes"
[^1]: a footnote, not a link
"""


@pytest.fixture
def mini_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "stripe_fake.py").write_text(ESCAPING_PY, encoding="utf-8")
    (root / "README.md").write_text(ESCAPING_MD, encoding="utf-8")
    (root / "untracked.py").write_text("from pathlib import Path\nUP = Path(__file__).parents[5]\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "tests", "README.md"], cwd=root, check=True)
    return root


def test_python_check_reports_paths_above_the_root(mini_repo: Path) -> None:
    files = tracked(mini_repo, "*.py")
    assert files == ["tests/stripe_fake.py"]
    problems = python_escapes(mini_repo, files)
    lines = sorted({int(problem.split(":")[1]) for problem in problems})
    # FIXTURES (parents[3]), GUIDE (REPO.parent), OLD (dirname x2, then ".."), UP (three parents), and
    # open("../notes.txt"); not HERE, REPO, TEMPLATES, ROOT, nor the "../" test inputs in SAMPLES.
    assert lines == [6, 7, 8, 9, 16], problems
    assert any("parents[3]" in problem for problem in problems)


def test_markdown_check_reports_links_outside_the_root(mini_repo: Path) -> None:
    problems = markdown_escapes(mini_repo, tracked(mini_repo, "*.md"))
    assert problems == [
        "README.md:3: refers to the sibling folder: "
        f"See the [guide]({OUTSIDE_GUIDE}) and ![diagram](docs/../../diagram.png).",
        f"README.md:3: link target {OUTSIDE_GUIDE!r} is outside the repository",
        "README.md:3: link target 'docs/../../diagram.png' is outside the repository",
        "README.md:12: link target '../notes.md' is outside the repository",
    ]


@pytest.mark.parametrize(
    ("expression", "outside"),
    [
        ("Path(__file__).resolve().parents[1]", False),
        ("Path(__file__).resolve().parents[2]", True),
        ("Path(__file__).parent.parent", False),
        ("Path(__file__).parent.parent.parent / 'repo'", True),
        ("Path(__file__).parent / '..' / '..'", True),
        ("Path(__file__).parent.joinpath('../..')", True),
        ("pathlib.Path(__file__).absolute().parents[-1]", True),
        ("os.path.dirname(os.path.dirname(__file__))", False),
        ("os.path.join(os.path.dirname(__file__), '../..')", True),
        ("Path(__file__).with_name('x.py')", False),
    ],
)
def test_locator(expression: str, outside: bool) -> None:
    locator = _Locator(("tests", "test_x.py"))
    found: list[ast.expr] = []
    _climbs(locator, ast.parse(expression, mode="eval"), found)
    assert bool(found) == outside
