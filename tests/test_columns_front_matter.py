"""Front matter of Markdown columns: every mistake names its line and what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.errors import NewsletterError
from newsletter.project.columns import parse_markdown, read_column
from tests.column_samples import write


def test_markdown_unknown_front_matter_key_names_line_and_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, "c.md", "---\ntitle: T\nlabel: Column\nauhtor: marieke\n---\nTekst.\n")

    with pytest.raises(NewsletterError) as info:
        read_column(path)

    error = info.value
    assert (error.path, error.line, error.field) == (path, 4, "auhtor")
    assert error.message == "unknown front matter key 'auhtor'"
    assert error.hint == "did you mean 'author'?"


def test_markdown_unknown_far_off_key_lists_known_keys() -> None:
    with pytest.raises(NewsletterError) as info:
        parse_markdown("---\nzzz: 1\n---\nTekst.\n", Path("c.md"))

    assert info.value.line == 2
    assert info.value.hint == "known keys: author, date, image, image_alt, label, title, url"


def test_markdown_broken_front_matter_yaml_names_line() -> None:
    with pytest.raises(NewsletterError) as info:
        parse_markdown("---\ntitle: T\nlabel: Column\nurl: a: b\n---\nTekst.\n", Path("c.md"))

    assert info.value.line == 4
    assert info.value.message == "front matter is not valid YAML: mapping values are not allowed here"


def test_markdown_front_matter_must_be_a_mapping() -> None:
    with pytest.raises(NewsletterError) as info:
        parse_markdown("---\n- title\n- label\n---\nTekst.\n", Path("c.md"))

    assert (info.value.line, info.value.message) == (2, "front matter must be 'key: value' lines")


def test_markdown_unclosed_front_matter() -> None:
    with pytest.raises(NewsletterError) as info:
        parse_markdown("---\ntitle: T\n\nTekst.\n", Path("c.md"))

    assert (info.value.line, info.value.message) == (1, "front matter is not closed")
