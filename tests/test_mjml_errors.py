"""MJML that MRML cannot parse is an error at the template line that wrote it, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Run
from tests.test_campaign import edit, failing_build

MAIN = "templates/email.mjml.j2"
TEASER = "templates/partials/teaser.mjml.j2"
BOOK = "templates/partials/book.mjml.j2"


def line_of(project: Path, name: str, needle: str) -> int:
    lines = (project / name).read_text(encoding="utf-8").split("\n")
    return next(number for number, line in enumerate(lines, start=1) if needle in line)


def drop_line(project: Path, name: str, number: int) -> None:
    path = project / name
    lines = path.read_text(encoding="utf-8").split("\n")
    del lines[number - 1]
    path.write_text("\n".join(lines), encoding="utf-8")


def test_stray_text_between_components_names_its_template_line(project: Path, run: Run) -> None:
    edit(project, MAIN, "    <mj-section", "    stray words\n    <mj-section")
    line = line_of(project, MAIN, "stray words")
    stderr = failing_build(run)
    assert f"{MAIN}:{line}: MJML could not be parsed: unexpected token" in stderr


@pytest.mark.parametrize("partial", [TEASER, BOOK])
def test_a_missing_end_tag_in_a_partial_names_the_partial_and_the_open_tag(
    project: Path, run: Run, partial: str
) -> None:
    opened = line_of(project, partial, "<mj-text")
    drop_line(project, partial, line_of(project, partial, "</mj-text>"))
    stderr = failing_build(run)
    assert (
        f"{partial}:{opened}: MJML could not be parsed: <mj-text> is not closed before </mj-column>" in stderr
    )


def test_unclosed_html_inside_raw_content_is_named_too(project: Path, run: Run) -> None:
    edit(project, MAIN, "    <mj-section", "    <mj-raw><div></mj-raw>\n    <mj-section")
    line = line_of(project, MAIN, "<mj-raw><div></mj-raw>")
    stderr = failing_build(run)
    assert f"{MAIN}:{line}: MJML could not be parsed: <div> is not closed before </mj-raw>" in stderr
