"""Reading CSV files as they stream in (csv_files.py): lines, encoding errors and their precedence;
the tags in a cell, in the forms lists write them."""

from __future__ import annotations

import json
import os
import random
import re
import threading
from pathlib import Path

import pytest

from newsletter.audience import csv_files
from newsletter.audience.csv_files import cell_tags, header_columns, streamed_rows, text_rows
from newsletter.audience.importing import import_csv
from newsletter.errors import NewsletterError
from newsletter.store import connect
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
        import_csv(tmp_path / "db.sqlite3", path, default_locale="nl", source="x", consent="testlijst")
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
    report = import_csv(
        tmp_path / "db.sqlite3", path, default_locale="nl", source="pipe", consent="testlijst"
    )
    writer.join(5)
    assert report.added == 2
    assert [s.name for s in select(tmp_path / "db.sqlite3")] == ["Anna", "Bob"]


# -- tags --------------------------------------------------------------------------------------

VIP_KLANT = frozenset({"vip", "klant"})


@pytest.mark.parametrize(
    "cell",
    [
        '"vip","klant"',
        '"vip", "klant"',
        '"VIP" , "Klant"',
        "vip,klant",
        "vip, klant",
        "vip; klant",
        "vip|klant",
        "vip klant",
        " Vip ;| klant, ",
        '["vip","klant"]',
        '[ "VIP", "klant" ]',
        "['vip', 'klant']",
    ],
    ids=[
        "mailchimp",
        "mailchimp-spaces",
        "mailchimp-case",
        "kit-commas",
        "commas-spaces",
        "semicolons",
        "pipes",
        "spaces",
        "mixed",
        "json",
        "json-spaces",
        "python-list",
    ],
)
def test_tags_in_the_forms_lists_write_them(cell: str) -> None:
    assert cell_tags(cell) == VIP_KLANT


@pytest.mark.parametrize(
    ("cell", "tags"),
    [('"vip"', {"vip"}), ('["vip"]', {"vip"}), ("vip", {"vip"}), ('""', set()), ("[]", set()), ("", set())],
    ids=["mailchimp", "json", "plain", "mailchimp-empty", "json-empty", "empty"],
)
def test_one_tag_or_none(cell: str, tags: set[str]) -> None:
    assert cell_tags(cell) == tags


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_tags_of_a_mailchimp_export_row_are_clean(tmp_path: Path, delimiter: str) -> None:
    """Mailchimp quotes each tag inside the TAGS cell, and the CSV writer doubles those quotes: the
    cell that the CSV reader gives back holds `"vip","klant"`, quotes and all."""
    header = delimiter.join(["Email Address", "First Name", "TAGS"])
    row = delimiter.join(["anna@example.nl", "Anna", '"""vip"",""klant"""'])
    (_, cells), (line, row_cells) = text_rows(f"{header}\r\n{row}\r\n", tmp_path / "l.csv")
    column = header_columns(cells)["tags"]
    assert (line, row_cells[column]) == (2, '"vip","klant"')
    assert cell_tags(row_cells[column]) == VIP_KLANT


def test_a_quoted_tag_with_a_comma_or_space_gives_the_words_in_it() -> None:
    """One element in Mailchimp's or JSON's form, but a tag holds no separator: the store stages a
    row's tags space-separated and an export joins them with `;`, so `a, b` kept whole would come back
    as `a,` and `b`, and `a,b` as `a` and `b` after an export and an import."""
    assert cell_tags('"a, b","c"') == {"a", "b", "c"}
    assert cell_tags('"a,b", "c"') == {"a", "b", "c"}
    assert cell_tags('["Black Friday", "c"]') == {"black", "friday", "c"}
    assert cell_tags('"Black Friday"') == {"black", "friday"}


def test_cells_without_quotes_or_brackets_are_read_as_before() -> None:
    """Until now a cell was split at `,` `;` `|` and white space, and lower-cased; so it still is."""

    def before(cell: str) -> frozenset[str]:
        return frozenset(tag.lower() for tag in re.split(r"[,;|\s]+", cell.strip()) if tag)

    generator = random.Random(20261201)
    cells = ["", " ", ",;|", "poëzie;proza", "a b|c", "ÄBC", "x\u00a0y\u2003z", "=kop"]
    cells += ["".join(generator.choices("aZé1-_.'=,;| \t\n", k=generator.randint(0, 30))) for _ in range(500)]
    for cell in cells:
        assert cell_tags(cell) == before(cell), cell


@pytest.mark.parametrize(
    ("cell", "tags"),
    [
        ('"vip,klant', {"vip", "klant"}),
        ('vip","klant', {"vip", "klant"}),
        ('"', set()),
        ('"""', set()),
        ('["vip", "klant"', {"vip", "klant"}),
        ("vip]", {"vip]"}),
        ('["vip", 3, null, true, 1.5, {"a": "b"}, ["c"]]', {"vip", "3"}),
        ('[{"a": "b"}]', set()),
        ("[" * 50_000, set()),
        ("[" * 50_000 + "]" * 50_000, set()),
        ('["\\ud800vip"]', {"\\ud800vip"}),
        ("[" + "9" * 5_000 + "]", {"9" * 5_000}),
        ("[vip; klant]", {"vip", "klant"}),
    ],
    ids=[
        "quote-never-closed",
        "quote-closed-only-inside",
        "one-quote",
        "three-quotes",
        "json-never-closed",
        "bracket-only-at-the-end",
        "json-not-strings",
        "json-object",
        "opened-50000-deep",
        "nested-50000-deep",
        "json-lone-surrogate",
        "json-number-too-long",
        "brackets-not-json",
    ],
)
def test_a_hostile_tags_cell_gives_tags_not_a_traceback(cell: str, tags: set[str]) -> None:
    assert cell_tags(cell) == tags


def test_thousands_of_tags_and_a_huge_one_are_read_whole() -> None:
    """What fits in a cell (the CSV reader stops at 131,072 characters) is read in linear time."""
    many = [f"t{number}" for number in range(12_000)]
    assert cell_tags(",".join(f'"{tag}"' for tag in many)) == set(many)
    assert cell_tags(json.dumps(many)) == set(many)
    assert cell_tags("|".join(many)) == set(many)
    huge = "x" * 130_000
    assert cell_tags(f'"{huge}"') == {huge}
    assert cell_tags(",;| " * 30_000) == set()


def test_a_tags_cell_over_the_field_limit_is_one_error_for_the_file(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    mailchimp = '"' + '""vip"",' * 25_000 + '"'  # the cell "vip","vip",... as a CSV writer quotes it
    text = "email,tags\na@x.nl,vip\nb@x.nl," + mailchimp + "\nc@x.nl,klant\n"
    with pytest.raises(NewsletterError) as caught:
        list(text_rows(text, path))
    assert caught.value.line == 3
    assert caught.value.message.startswith("the CSV quoting is broken: field larger than field limit")


def test_a_mailchimp_export_imports_clean_tags(tmp_path: Path) -> None:
    """Mailchimp writes `"vip","klant"` in one cell; `--tag vip` must find the reader."""
    path = tmp_path / "mailchimp.csv"
    path.write_text('Email Address,TAGS\njan@example.nl,"""vip"",""klant"""\n', encoding="utf-8")
    import_csv(tmp_path / "db.sqlite3", path, default_locale="nl", source="mc", consent="testlijst")
    with connect(tmp_path / "db.sqlite3") as store:
        assert [s.email for s in store.select(tags=["vip"])] == ["jan@example.nl"]
        (jan,) = store.select()
    assert jan.tags == ("klant", "vip")
