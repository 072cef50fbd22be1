"""Reading CSV files as spreadsheets write them: UTF-8 with or without a BOM, the delimiter guessed
from the header row, and quoting that is checked rather than trusted.

Every problem with a file as a whole is a NewsletterError naming its line, so the user can open the
file there: a byte that is not UTF-8 (anywhere in the file, before any other problem), or a quote
that swallows the rows after it. The header's columns are found by their Dutch or English
names. A file of addresses to suppress may also be a plain list, one address a line. A tags cell
is read in the forms lists write it (`cell_tags`). The caller turns rows into what they mean
(importing.py).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from newsletter.errors import NewsletterError
from newsletter.store import BadRow, normalise_address

# Header names, compared without case, spaces, '-', '_' and '*': the columns of Mailchimp's export
# ("Email Address", "First Name", "Last Name"), of Dutch lists ("e-mail", "voornaam",
# "tussenvoegsel", "achternaam", "naam", "taal") and their English variants.
_ALIASES: dict[str, str] = {
    **dict.fromkeys(("email", "emailadres", "emailaddress", "mail", "mailadres", "emailadress"), "email"),
    **dict.fromkeys(("name", "naam", "fullname", "volledigenaam", "displayname"), "name"),
    **dict.fromkeys(("firstname", "voornaam", "givenname", "roepnaam", "fname"), "first_name"),
    **dict.fromkeys(("tussenvoegsel", "tussenvoegsels", "infix"), "infix"),
    **dict.fromkeys(("lastname", "achternaam", "surname", "familyname", "lname"), "last_name"),
    **dict.fromkeys(("locale", "taal", "language", "lang"), "locale"),
    **dict.fromkeys(("tags", "labels", "tag", "label"), "tags"),
    "status": "status",
}
_DELIMITERS = ",;\t|"
_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20  # bytes read at a time
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")  # a line with its end; the last may have none


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: OSError) -> NewsletterError:
    if isinstance(exc, FileNotFoundError):
        return NewsletterError("file not found", path=path)
    if isinstance(exc, IsADirectoryError):
        return NewsletterError("is a folder, not a file", path=path)
    return NewsletterError(f"cannot read the file: {exc.strerror or exc}", path=path)


def _not_utf8(path: Path, data: bytes, start: int, lines_before: int) -> NewsletterError:
    return NewsletterError(
        f"not UTF-8: byte 0x{data[start]:02x} cannot be read",
        path=path,
        line=lines_before + data[:start].count(b"\n") + 1,
        hint="save the file as UTF-8 (in Excel: 'CSV UTF-8'); nothing was imported",
    )


def read_text(path: Path) -> str:
    """A UTF-8 file, with or without BOM; anything else is one error naming the line of the bad byte."""
    try:
        raw = path.read_bytes().removeprefix(_BOM)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, raw, exc.start, 0) from None


@contextmanager
def streamed_rows(path: Path) -> Iterator[Iterator[tuple[int, list[str]]]]:
    """`rows` of a file read as they are needed (a pipe will do). What goes wrong in the block is
    only raised once the rest of the file has been checked: a byte that is not UTF-8 anywhere is the
    error for the file, as it is when the file is read at once (`read_text`)."""
    with _open(path) as file:
        lines = _lines(file, path)
        first = _through_first_newline(lines)
        try:
            yield rows(chain(first, lines), "".join(first).split("\n", 1)[0], path)
        except NewsletterError:
            for _ in lines:  # raises the UTF-8 error instead, if there is one
                pass
            raise


def _lines(file: BinaryIO, path: Path) -> Iterator[str]:
    """The lines of a UTF-8 file with their ends, split where io.StringIO(newline="") splits them
    ("\r\n", "\r" or "\n"), so that csv counts the same lines."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()  # a BOM is dropped, not counted
    newlines, pending = 0, ""
    chunk = file.read(_CHUNK)
    while True:
        final = not chunk
        try:
            text = pending + decoder.decode(chunk, final=final)
        except UnicodeDecodeError as exc:  # exc.object: bytes held back from before (no b"\n") + chunk
            raise _not_utf8(path, exc.object, exc.start, newlines) from None
        newlines += chunk.count(b"\n")
        end = len(text) if final else max(text.rfind("\n"), text.rfind("\r", 0, len(text) - 1)) + 1
        yield from _LINE.findall(text, 0, end)
        pending = text[end:]
        if final:
            return
        chunk = file.read(_CHUNK)


def _through_first_newline(lines: Iterator[str]) -> list[str]:
    """The lines up to the first that ends in "\n" (all of them if none does): the text before it is
    what the delimiter is guessed from."""
    first: list[str] = []
    for line in lines:
        first.append(line)
        if line.endswith("\n"):
            break
    return first


def rows(lines: Iterable[str], header: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line of the row's start, cells) for every record; the delimiter is guessed from the header.

    A quote that is opened and never closed, or closed rows later, would silently turn the rows in
    between into one cell: that is an error for the whole file, not a name with line breaks."""
    try:
        delimiter = csv.Sniffer().sniff(header, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(lines, delimiter=delimiter)
    start = 1
    try:
        width = 0
        for cells in reader:
            width = width or len(cells)  # the header's
            if any(_swallowed_row(cell, delimiter, width) for cell in cells if "\n" in cell):
                raise csv.Error("a quoted cell holds what look like further rows")
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise NewsletterError(
            f"the CSV quoting is broken: {exc}",
            path=path,
            line=start,
            hint='a quote (") opened on this line is not closed where the cell ends; nothing was imported',
        ) from None


def text_rows(text: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    return rows(io.StringIO(text, newline=""), text.split("\n", 1)[0], path)


def _swallowed_row(cell: str, delimiter: str, width: int) -> bool:
    """Whether a later line of a multi-line cell looks like a row of the file: an address first,
    and as many delimiters as the header has (CSV writers write every column). Text with line breaks,
    a note or a bounce reason, rarely does."""
    for line in cell.split("\n")[1:]:
        first = line.split(delimiter, 1)[0]
        if "@" in first and line.count(delimiter) >= width - 1:
            try:
                normalise_address(first.strip())
            except ValueError:
                continue
            return True
    return False


def no_email_column(header: list[str], path: Path, *alternatives: str) -> NewsletterError:
    found = ", ".join(repr(name.strip()) for name in header)
    advice = ", ".join(["name it email, e-mail or e-mailadres", *alternatives])
    return NewsletterError(
        "the header has no email column", path=path, line=1, hint=f"{advice}; found {found}"
    )


def header_columns(header: list[str]) -> dict[str, int]:
    """Our field names by the index of the first column that holds each."""
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        canonical = _ALIASES.get(_header_key(name))
        if canonical and canonical not in columns:
            columns[canonical] = index
    return columns


def unused_columns(header: list[str]) -> list[str]:
    """The header's columns that an import does not read, as written: said in its summary, so
    that a list whose names sit in a column we do not know is noticed before everyone is "lezer"."""
    used = set(header_columns(header).values())
    return [name.strip() for index, name in enumerate(header) if index not in used and name.strip()]


def _header_key(name: str) -> str:
    return re.sub(r"[\s\-_*.:]+", "", name.lower())


# The separators of the tags in one cell: `,` (Kit, and most lists), `;`, `|`, white space, and the
# quotes of Mailchimp's export, which writes `"vip","klant"`. In a cell that starts with `[` but is not
# a JSON array, a list as Python prints it (`['vip', 'klant']`) or one never closed, `'`, `[` and `]`
# separate as well.
_TAG_SEPARATORS = re.compile(r'[,;|\s"]+')
_LIST_SEPARATORS = re.compile(r"[,;|\s\"'\[\]]+")


def cell_tags(cell: str) -> frozenset[str]:
    """The tags in a tags cell, lower-cased: `vip, klant`, `vip;klant`, `vip|klant`, `vip klant`,
    Mailchimp's `"vip","klant"` and a JSON array `["vip","klant"]` all give vip and klant.

    Whatever the cell holds, the answer is a set of tags, never an error: a quote left open or a
    list never closed only separates, and the work is linear in the cell (a cell over the CSV
    reader's limit of 131,072 characters is already an error for the file, from `rows`).

    A tag holds no white space, `,`, `;`, `|` or `"`: the store keeps the tags of a row
    space-separated while importing, and an export joins them with `;`. So the words of a quoted
    tag (Mailchimp's `"a, b"`, a JSON "Black Friday") become tags of their own, as in a plain cell."""
    text = cell.strip()
    if text.startswith("["):
        items = _json_tags(text)
        if items is None:
            return _split(_LIST_SEPARATORS, text)
        text = " ".join(items)
    return _split(_TAG_SEPARATORS, text)


def _split(separators: re.Pattern[str], text: str) -> frozenset[str]:
    return frozenset(tag.lower() for tag in separators.split(text) if tag)


def _json_tags(text: str) -> list[str] | None:
    """The strings and whole numbers of a JSON array (anything else in it is not a tag), or None when
    the text is not one: not JSON, nested too deep for the parser, or a string with a lone surrogate
    (`"\\ud800"`), which no UTF-8 store can hold."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    items = [
        item if isinstance(item, str) else str(item)
        for item in value
        if isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool))
    ]
    try:
        " ".join(items).encode("utf-8")
    except UnicodeEncodeError:
        return None
    return items


def file_addresses(path: Path, bad: list[BadRow]) -> list[str]:
    """A CSV (say, a bounce report) counts by its email column only; any other file by its lines."""
    text = read_text(path)
    records = text_rows(text, path)
    header = next(records, (1, []))[1]
    column = header_columns(header).get("email")
    if column is None and len(header) > 1:
        raise no_email_column(header, path, "or give one address per line")
    if column is None:
        return line_addresses(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), bad)  # not \f
    addresses: list[str] = []
    for line, cells in records:
        if not any(value.strip() for value in cells):
            continue
        try:
            addresses.append(normalise_address(cells[column] if column < len(cells) else ""))
        except ValueError as exc:
            bad.append(BadRow(line, str(exc)))
    return addresses


def line_addresses(lines: Iterable[str], bad: list[BadRow]) -> list[str]:
    """One address a line, numbered as an editor numbers them; blank lines and # comments skipped."""
    addresses: list[str] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            addresses.append(normalise_address(raw))
        except ValueError as exc:
            bad.append(BadRow(number, str(exc)))
    return addresses
