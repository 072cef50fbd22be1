"""Hostile and careless YAML: alias bombs, self-reference, deep nesting, keys given twice, errors at
the end of a file, and references that point out of the project. Every case through `newsletter build`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import Run, write
from tests.test_campaign import EN, edit, failing_build

BOOK = "books/the-quiet-page.yaml"
COLUMN = "columns/why-we-still-read-on-paper.md"


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """'Billion laughs': nine levels of nine aliases, 9**9 values when expanded."""
    lines = ["bomb:", f"  a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"  a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * width)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("name", "kind"),
    [(EN, "campaign"), (BOOK, "book"), ("authors.yaml", "authors")],
)
def test_an_alias_bomb_is_refused_at_once(project: Path, run: Run, name: str, kind: str) -> None:
    path = project / name
    path.write_text(path.read_text(encoding="utf-8") + alias_bomb(), encoding="utf-8")
    started = time.monotonic()
    stderr = failing_build(run)
    assert time.monotonic() - started < 10  # unchecked, it runs for minutes and takes gigabytes
    assert f"{name}:" in stderr and "YAML aliases expand to more than 100,000 values" in stderr, kind


def test_an_alias_bomb_in_a_columns_front_matter_is_refused(project: Path, run: Run) -> None:
    edit(project, COLUMN, "---\n", "---\nlabel: &a [x, x, x, x]\n")
    stderr = failing_build(run)
    assert f"{COLUMN}:2: label: must be text" in stderr


@pytest.mark.parametrize(
    ("addition", "expected"),
    [
        ("loop: &a [*a]\n", "YAML alias refers to itself"),
        ("deep: " + "[" * 150 + "]" * 150 + "\n", "nested"),
    ],
    ids=["self-reference", "deep-nesting"],
)
def test_self_reference_and_deep_nesting_are_errors(
    project: Path, run: Run, addition: str, expected: str
) -> None:
    path = project / EN
    lines = path.read_text(encoding="utf-8").count("\n")
    path.write_text(path.read_text(encoding="utf-8") + addition, encoding="utf-8")
    stderr = failing_build(run)
    assert f"{EN}:{lines + 1}: " in stderr and expected in stderr


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (EN, "locale: en\n", "locale: en\nsubject: Again\n", f"{EN}:5: subject: key 'subject' appears twice"),
        (BOOK, "price:", "title: Other\nprice:", f"{BOOK}:"),
        ("authors.yaml", "thomas-verbeek:", "thomas-verbeek:\n  name: X\nthomas-verbeek:", "authors.yaml:"),
    ],
    ids=["campaign", "book", "authors"],
)
def test_a_key_given_twice_is_an_error(
    project: Path, run: Run, name: str, old: str, new: str, expected: str
) -> None:
    edit(project, name, old, new)
    stderr = failing_build(run)
    assert expected in stderr and "appears twice in one mapping" in stderr


def test_yaml_merge_keys_are_not_duplicates(project: Path, run: Run) -> None:
    edit(project, BOOK, "price:", "x-base: &base {cta: Koop}\nprice:")
    result = run("build")
    assert "appears twice" not in result.output


def test_a_broken_last_line_is_reported_on_a_line_that_exists(project: Path, run: Run) -> None:
    path = project / EN
    text = path.read_text(encoding="utf-8") + 'x: "never closed'
    path.write_text(text, encoding="utf-8")
    stderr = failing_build(run)
    assert f"{EN}:{text.count(chr(10)) + 1}: broken YAML" in stderr


@pytest.mark.parametrize(
    "reference", ["/etc/hostname", "../../../../etc/hostname", "../books/the-quiet-page", ".hidden"]
)
def test_a_book_is_named_by_its_file_never_by_a_path(project: Path, run: Run, reference: str) -> None:
    write(project / "outside.yaml", "title: Smuggled\n")
    edit(project, EN, "  - the-quiet-page", f"  - {reference!r}")
    stderr = failing_build(run)
    assert f"{EN}:12: books[0]: {reference!r} is not a book name" in stderr


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("url", "javascript:alert(document.cookie)"),
        ("url", "data:text/html,<script>alert(1)</script>"),
        ("image", "data:image/svg+xml,<svg onload=alert(1)>"),
        ("url", "http://www.example.org/plain-http"),
        ("image", "images/relative.jpg"),
    ],
)
def test_front_matter_links_are_held_to_the_campaigns_rule(
    project: Path, run: Run, key: str, value: str
) -> None:
    line = {"url": "url: https://www.uitgeverijlindenhof.nl/en/columns/why-we-still-read-on-paper\n"}
    edit(
        project,
        COLUMN,
        line["url"],
        f"url: {value!r}\n" if key == "url" else line["url"] + f"image: {value!r}\n",
    )
    stderr = failing_build(run)
    assert f"{COLUMN}:{4 if key == 'url' else 5}: {key}: must be an absolute https:// URL" in stderr


@pytest.mark.parametrize("out", ["/proc/no-such-place", "{file}/sub"])
def test_an_unwritable_out_folder_is_an_error_not_a_traceback(project: Path, run: Run, out: str) -> None:
    a_file = write(project / "a-file", "x")
    result = run("build", "--out", out.format(file=a_file))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "cannot write the file" in result.stderr


def test_a_number_too_long_for_python_is_an_error_not_a_traceback(project: Path, run: Run) -> None:
    edit(project, BOOK, "price: 24.50", "price: " + "9" * 5000)
    assert f"{BOOK}: broken YAML: a number of more than 4,300 digits" in failing_build(run)
    edit(project, BOOK, "price: " + "9" * 5000, "price: 24.50")
    edit(project, "newsletter.toml", "[brand]\n", "[brand]\nlogo_width = " + "9" * 5000 + "\n")
    assert "newsletter.toml: broken TOML: a number of more than 4,300 digits" in failing_build(run)
