"""Reading CSV files as they stream in (csv_files.py): lines, encoding errors and their precedence."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from newsletter.audience import csv_files
from newsletter.audience.csv_files import streamed_rows, text_rows
from newsletter.audience.importing import import_csv
from newsletter.errors import NewsletterError
from tests.store_util import select


@pytest.fixture(params=[1, 3, 1 << 20], ids=["1-byte-chunks", "3-byte-chunks", "1-MiB-chunks"])
def chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Tiny chunks put every boundary (in a BOM, a UTF-8 character, a CRLF) between two reads."""
    monkeypatch.setattr(csv_files, "_CHUNK", request.param)
    return int(request.param)


def streamed(path: Path) -> list[tuple[int, list[str]]]:
    with streamed_rows(path) as records:
        return list(records)


@pytest.mark.parametrize(
    "text",
    [
        'email,name\r\na@x.nl,"Anna\r\nde Vries"\r\nb@x.nl,Bob\r\n',
        "email;name\rä@x.nl;Änne\r\rb@x.nl;Bob",
        '\ufeffemail\tname\nä@x.nl\t"two\nlines"\n\nb@x.nl\tBob\n',
        "email\n",
        "",
    ],
    ids=["crlf", "cr", "bom-lf", "header-only", "empty"],
)
def test_streamed_rows_are_the_rows_of_the_whole_text(tmp_path: Path, chunk: int, text: str) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(text.encode("utf-8"))
    assert streamed(path) == list(text_rows(text.removeprefix("\ufeff"), path))


def test_a_bad_byte_far_into_the_file_is_reported_at_its_line(tmp_path: Path, chunk: int) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(b"\xef\xbb\xbfemail\r\n" + b"a@x.nl\r\n" * 5 + "Zoë".encode("latin-1") + b"@x.nl\n")
    with pytest.raises(NewsletterError) as caught:
        streamed(path)
    assert (caught.value.message, caught.value.line) == ("not UTF-8: byte 0xeb cannot be read", 7)


def test_a_bad_byte_anywhere_outranks_a_broken_quote_before_it(tmp_path: Path, chunk: int) -> None:
    """Read at once, the file failed on its encoding before its rows were looked at; streamed, too."""
    path = tmp_path / "l.csv"
    path.write_bytes(b'email,name\na@x.nl,"never closed\n' + b"b@x.nl,B\n" * 3 + b"c@x.nl,\xff\n")
    with pytest.raises(NewsletterError) as caught:
        import_csv(tmp_path / "db.sqlite3", path, default_locale="nl", source="x")
    assert (caught.value.message, caught.value.line) == ("not UTF-8: byte 0xff cannot be read", 6)


def test_a_list_can_be_imported_from_a_pipe(tmp_path: Path) -> None:
    """`newsletter audience import <(zcat list.csv.gz)`: the file is read once, front to back."""
    path = tmp_path / "pipe"
    os.mkfifo(path)

    def write() -> None:
        with path.open("w", encoding="utf-8") as pipe:
            pipe.write("email,name\na@x.nl,Anna\nb@x.nl,Bob\n")

    writer = threading.Thread(target=write)
    writer.start()
    report = import_csv(tmp_path / "db.sqlite3", path, default_locale="nl", source="pipe")
    writer.join(5)
    assert report.added == 2
    assert [s.name for s in select(tmp_path / "db.sqlite3")] == ["Anna", "Bob"]
