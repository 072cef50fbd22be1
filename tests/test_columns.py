"""Reading column files: the format by suffix, and file problems named with their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.errors import NewsletterError
from newsletter.project.columns import make_excerpt, read_column
from tests.column_samples import BLOG_EXPORT, write


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bestaat-niet.md"

    with pytest.raises(NewsletterError) as info:
        read_column(path)

    assert (info.value.path, info.value.field, info.value.message) == (path, None, "column file not found")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.txt", "Titel\n\nCafé.\n".encode("latin-1"))

    with pytest.raises(NewsletterError) as info:
        read_column(path)

    assert (info.value.path, info.value.line, info.value.message) == (
        path,
        3,
        "column file is not UTF-8 text",
    )


def test_a_control_character_is_refused_with_its_line(tmp_path: Path) -> None:
    """Pasted from a word processor: invisible in the editor, and MRML fails on it without saying where."""
    path = write(tmp_path, "column.txt", b"Titel\n\nEen regel\x0bmet een verticale tab.\n")

    with pytest.raises(NewsletterError) as info:
        read_column(path)

    assert (info.value.path, info.value.line, info.value.message) == (
        path,
        3,
        "column file contains a control character (U+000B)",
    )


def test_excerpt_of_column_read_from_file(tmp_path: Path) -> None:
    column = read_column(write(tmp_path, "weglaten.txt", BLOG_EXPORT))

    assert make_excerpt(column.blocks, words=20) == (
        "Elke schrijver kent het moment: de tekst is af, maar hij is te lang. Wat doe je dan? Je schrapt…"
    )
