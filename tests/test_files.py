"""Reading the user's files: UTF-8 with or without BOM, and a bad byte named by its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.errors import NewsletterError
from newsletter.files import read_user_text


def test_a_bad_byte_on_line_3_names_line_3(tmp_path: Path) -> None:
    path = tmp_path / "column.txt"
    path.write_bytes("Titel\n\nCafé.\n".encode("latin-1"))

    with pytest.raises(NewsletterError) as info:
        read_user_text(path, what="column file")

    error = info.value
    assert (error.path, error.line, error.message) == (path, 3, "column file is not UTF-8 text")
    assert error.hint == "save the file as UTF-8"


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_the_line_of_a_bad_byte_counts_every_kind_of_line_end_once(tmp_path: Path, newline: bytes) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(newline.join([b"a: 1", b"b: 2", b"c: caf\xe9"]))

    with pytest.raises(NewsletterError) as info:
        read_user_text(path)

    assert (info.value.line, info.value.message) == (3, "file is not UTF-8 text")


def test_bom_is_dropped_and_line_ends_become_newlines(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbfeen\r\ntwee\rdrie\n")
    assert read_user_text(path) == "een\ntwee\ndrie\n"


def test_a_missing_file_is_named_with_the_hint(tmp_path: Path) -> None:
    path = tmp_path / "weg.md"

    with pytest.raises(NewsletterError) as info:
        read_user_text(path, what="column file", missing_hint="check the column path in the campaign")

    assert (info.value.path, info.value.message, info.value.hint) == (
        path,
        "column file not found",
        "check the column path in the campaign",
    )


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(NewsletterError) as info:
        read_user_text(tmp_path, what="settings file")

    assert info.value.message.startswith("cannot read settings file: ")
