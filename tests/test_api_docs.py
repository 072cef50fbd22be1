"""The Python API as docs/api.md shows it: every Python example on the page runs, in order, in a copy
of the sample project, and a `print(...)` with a comment must print exactly that comment."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

PAGE = REPO / "docs" / "api.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)
EXPECTED = re.compile(r"^(\s*)print\((.*)\)  # (.+)$", re.M)


def examples(page: Path = PAGE) -> list[str]:
    """The page's Python blocks, each print that has a comment turned into a check of its output."""
    blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
    return [
        EXPECTED.sub(lambda found: f"{found[1]}__expect__({found[3]!r}, {found[2]})", block)
        for block in blocks
    ]


def _expect(expected: str, *values: object) -> None:
    printed = " ".join(map(str, values))
    assert printed == expected, f"docs/api.md says {expected!r}, the code prints {printed!r}"


def run_examples(blocks: list[str]) -> None:
    namespace: dict[str, object] = {"__expect__": _expect, "__name__": "docs_api"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/api.md, example {number}", "exec"), namespace)


def test_the_examples_run_and_print_what_the_page_says(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NEWSLETTER_UNSUBSCRIBE_SECRET", "NEWSLETTER_SMTP_PASSWORD", "STRIPE_API_KEY"):
        monkeypatch.delenv(name, raising=False)  # the page passes its secrets itself
    blocks = examples()
    assert len(blocks) >= 5 and sum(block.count("__expect__") for block in blocks) >= 6
    with contextlib.chdir(project):
        run_examples(blocks)
    assert (project / "build" / "2026-12-schrijven" / "email.html").is_file()
    assert (project / "build" / "site").is_dir()


def test_a_wrong_comment_fails(project: Path, tmp_path: Path) -> None:
    page = tmp_path / "api.md"
    page.write_text("```python\nprint(1 + 1)  # 3\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="says '3', the code prints '2'"):
        run_examples(examples(page))
