"""Subscriber lists as files: importing a CSV file, suppressing the addresses in a file (exporting
CSV is audience_export.py).

Spreadsheets write what they like: a BOM or not, `,` `;` tab or `|` (guessed from the header row),
Dutch or English column names in any case. A row that cannot be read (a bad address, an unknown
locale) is reported with its line and left out; a file that cannot be read as a whole (not UTF-8, no
header, no email column, quoting that swallows rows) is one error, and nothing of it is imported.

An import streams: the rows are parsed in batches into a temporary table of the store, merged there
with earlier rows for the same address, and only when the whole file has been read are they applied
to the subscribers, in one transaction. A list of a million rows so takes no more memory than one of
a thousand, and a file that turns out to be broken on its last line leaves the store as it was.

An export defuses cells that a spreadsheet would run as a formula; an import takes that defusing off.
An import never makes a suppressed address active again (it counts as "kept suppressed"); a status it
does change is recorded in the status history with source `import` and the list's source.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from pathlib import Path

from newsletter.errors import NewsletterError
from newsletter.mail import status_history
from newsletter.mail.audience import (
    Audience,
    BadRow,
    Subscriber,
    SuppressReport,
    email_key,
    find_subscribers,
    insert_subscriber,
    json_tags,
    normalise_address,
    suppress_all,
    timestamp,
    using,
)
from newsletter.mail.audience_export import EXPORT_COLUMNS as EXPORT_COLUMNS
from newsletter.mail.audience_export import export_csv as export_csv
from newsletter.mail.audience_export import revert_inert as _revert_inert
from newsletter.mail.csv_files import (
    file_addresses,
    header_columns,
    line_addresses,
    no_email_column,
    streamed_rows,
    unused_columns,
)
from newsletter.project.validation import CONTROL_CHARACTERS
from newsletter.vocabulary import LOCALES, STATUSES, SUPPRESSED

_TAG_SEPARATORS = re.compile(r"[,;|\s]+")
_BATCH = 10_000  # rows parsed before they are staged
_LOOKUP = 500  # addresses per query for rows staged by an earlier batch
_STAGED = "temp.newsletter_import"


@dataclass
class ImportReport:
    path: Path
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_suppressed: int = 0
    duplicates: int = 0  # rows merged into an earlier row of the same file
    bad: list[BadRow] = field(default_factory=list)
    unused_columns: list[str] = field(default_factory=list)  # the header's columns not read


def _name(cells: list[str], cell: Callable[[list[str], str], str]) -> str:
    """The name column, or the name put together from first name, tussenvoegsel and last name
    columns ("Piet", "de", "Vries" → "Piet de Vries") where a list splits it."""
    whole = cell(cells, "name").strip()
    if whole:
        return whole
    parts = (cell(cells, name).strip() for name in ("first_name", "infix", "last_name"))
    return " ".join(part for part in parts if part)


def _locale(cell: str) -> str | None:
    """'nl', 'NL', 'nl-BE' and 'en_GB' are fine; empty means the default."""
    text = cell.strip().lower().replace("_", "-")
    if not text:
        return None
    language = text.split("-", 1)[0]
    if language not in LOCALES:
        raise ValueError(f"unknown locale {cell.strip()!r} (expected nl or en)")
    return language


def _tags(cell: str) -> frozenset[str]:
    return frozenset(tag.lower() for tag in _TAG_SEPARATORS.split(cell.strip()) if tag)


def _status(cell: str) -> str:
    text = cell.strip().lower() or "active"
    if text not in STATUSES:
        raise ValueError(f"unknown status {cell.strip()!r} (expected one of {', '.join(STATUSES)})")
    return text


# -- reading rows ------------------------------------------------------------------------------


@dataclass
class _Row:
    email: str
    name: str
    locale: str | None
    tags: frozenset[str]
    status: str

    def merge(self, other: _Row) -> _Row:
        """A later row fills in what is empty, adds tags, and may only suppress, never reactivate.
        Associative, so rows may be merged batch by batch."""
        status = self.status if self.status in SUPPRESSED else other.status
        return replace(
            self,
            name=self.name or other.name,
            locale=self.locale or other.locale,
            tags=self.tags | other.tags,
            status=status,
        )


def _columns(records: Iterator[tuple[int, list[str]]], path: Path, unused: list[str]) -> dict[str, int]:
    """The header row's columns; a file without a header or an email column is not a list. The
    columns not read go to `unused`."""
    first = next(records, None)
    if first is None or not any(cell.strip() for cell in first[1]):
        raise NewsletterError("no header row", path=path, line=1, hint="the first row names the columns")
    columns = header_columns(first[1])
    if "email" not in columns:
        raise no_email_column(first[1], path)
    unused += unused_columns(first[1])
    return columns


def _parse(
    records: Iterator[tuple[int, list[str]]], columns: dict[str, int], bad: list[BadRow]
) -> Iterator[tuple[int, _Row]]:
    """The readable rows after the header, with their lines; the others go to `bad`."""

    def cell(cells: list[str], name: str) -> str:
        index = columns.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    for line, cells in records:
        if not any(value.strip() for value in cells):
            continue
        reasons: list[str] = []
        values: dict[str, object] = {}
        for name, parse in (
            ("email", lambda value: normalise_address(_revert_inert(value.strip()))),
            ("locale", _locale),
            ("status", _status),
        ):
            try:
                values[name] = parse(cell(cells, name))
            except ValueError as exc:
                reasons.append(str(exc))
        if reasons:
            bad.append(BadRow(line, "; ".join(reasons)))
            continue
        yield (
            line,
            _Row(
                email=str(values["email"]),
                name=_revert_inert(" ".join(CONTROL_CHARACTERS.sub(" ", _name(cells, cell)).split())),
                locale=values["locale"] if isinstance(values["locale"], str) else None,
                tags=_tags(_revert_inert(cell(cells, "tags"))),
                status=str(values["status"]),
            ),
        )


# -- importing ---------------------------------------------------------------------------------


def import_csv(
    audience: Audience | Path,
    path: Path,
    *,
    default_locale: str,
    source: str,
    now: datetime | None = None,
) -> ImportReport:
    """Import a subscriber list. Bad rows are reported, not imported; the good rows go in one transaction.

    A file-level problem (not UTF-8, no header, no email column) raises NewsletterError and imports
    nothing.
    """
    if default_locale not in LOCALES:
        raise ValueError(f"default_locale must be one of {LOCALES}")
    stamp = timestamp(now)
    report = ImportReport(path=path)
    with streamed_rows(path) as records:
        good = _parse(records, _columns(records, path, report.unused_columns), report.bad)
        with using(audience) as store:
            _import(store, good, report, default_locale=default_locale, source=source, stamp=stamp)
    return report


def _import(
    store: Audience,
    good: Iterator[tuple[int, _Row]],
    report: ImportReport,
    *,
    default_locale: str,
    source: str,
    stamp: str,
) -> None:
    """Stage every row first, then apply them all in one transaction: a file found broken on its
    last line leaves the store as it was."""
    connection = store.connection
    connection.execute(f"DROP TABLE IF EXISTS {_STAGED}")
    connection.execute(
        f"CREATE TABLE {_STAGED} (line INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, email TEXT,"
        " name TEXT, locale TEXT, tags TEXT, status TEXT)"
    )
    try:
        _stage(connection, good, report)
        with store.transaction():
            _apply_staged(connection, report, default_locale=default_locale, source=source, stamp=stamp)
    finally:
        connection.execute(f"DROP TABLE IF EXISTS {_STAGED}")


def _stage(connection: sqlite3.Connection, good: Iterator[tuple[int, _Row]], report: ImportReport) -> None:
    """Each address once, at the line it first appears on, its later rows merged into it."""
    while batch := list(islice(good, _BATCH)):
        merged: dict[str, tuple[int, _Row]] = {}
        for line, row in batch:
            key = email_key(row.email)
            if key in merged:
                merged[key] = (merged[key][0], merged[key][1].merge(row))
                report.duplicates += 1
            else:
                merged[key] = (line, row)
        for key, (line, earlier) in _staged_before(connection, list(merged)).items():
            merged[key] = (line, earlier.merge(merged[key][1]))
            report.duplicates += 1
        connection.executemany(
            f"INSERT OR REPLACE INTO {_STAGED} VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (line, key, row.email, row.name, row.locale, " ".join(row.tags), row.status)
                for key, (line, row) in merged.items()
            ),
        )


def _staged_before(connection: sqlite3.Connection, keys: list[str]) -> dict[str, tuple[int, _Row]]:
    found: dict[str, tuple[int, _Row]] = {}
    for start in range(0, len(keys), _LOOKUP):
        chunk = keys[start : start + _LOOKUP]
        marks = ",".join("?" * len(chunk))
        for line, key, *values in connection.execute(
            f"SELECT line, key, email, name, locale, tags, status FROM {_STAGED} WHERE key IN ({marks})",
            chunk,
        ):
            found[key] = (line, _staged_row(values))
    return found


def _staged_row(values: Sequence[str]) -> _Row:
    email, name, locale, tags, status = values
    return _Row(email, name, locale, frozenset(tags.split()), status)  # a tag holds no white space


def _staged_rows(connection: sqlite3.Connection) -> Iterator[_Row]:
    """In the order of the file, as the rows were first seen."""
    query = f"SELECT email, name, locale, tags, status FROM {_STAGED} ORDER BY line"
    for values in connection.execute(query):
        yield _staged_row(values)


def _apply_staged(
    connection: sqlite3.Connection, report: ImportReport, *, default_locale: str, source: str, stamp: str
) -> None:
    """In the file's order, the subscribers looked up a chunk at a time: each address is staged once,
    so a row applied cannot change what a later one of the chunk finds."""
    staged = _staged_rows(connection)
    while chunk := list(islice(staged, _LOOKUP)):
        known = find_subscribers(connection, [row.email for row in chunk])
        for row in chunk:
            _apply(connection, row, known.get(email_key(row.email)), report, default_locale, source, stamp)


def _apply(
    connection: sqlite3.Connection,
    row: _Row,
    existing: Subscriber | None,
    report: ImportReport,
    default_locale: str,
    source: str,
    stamp: str,
) -> None:
    if existing is None:
        _insert(connection, row, locale=row.locale or default_locale, source=source, stamp=stamp)
        report.added += 1
    elif existing.status in SUPPRESSED:
        report.kept_suppressed += 1
    else:
        name = existing.name or row.name
        locale = row.locale or existing.locale  # a locale in the file is the reader's choice
        tags = json_tags((*existing.tags, *row.tags))
        now_ = (name, locale, tags, row.status)
        if now_ == (existing.name, existing.locale, json_tags(existing.tags), existing.status):
            report.unchanged += 1
            return
        if row.status != existing.status:
            status_history.record(
                connection,
                existing.id,
                existing.status,
                row.status,
                source="import",
                detail=source,
                stamp=stamp,
            )
        connection.execute(
            "UPDATE subscribers SET name = ?, locale = ?, tags = ?, status = ?, updated_at = ? WHERE id = ?",
            (*now_, stamp, existing.id),
        )
        report.updated += 1


def _insert(connection: sqlite3.Connection, row: _Row, *, locale: str, source: str, stamp: str) -> None:
    insert_subscriber(
        connection,
        row.email,
        name=row.name,
        locale=locale,
        tags=row.tags,
        status=row.status,
        source=source,
        stamp=stamp,
    )


# -- suppressing -------------------------------------------------------------------------------


def suppress(
    audience: Audience | Path,
    source: Path | Iterable[str],
    *,
    status: str = "unsubscribed",
    default_locale: str = "nl",
    now: datetime | None = None,
    change_source: str = "suppress",
    detail: str | None = None,
) -> SuppressReport:
    """Mark addresses unsubscribed, bounced or complained; unknown ones are added that way.

    `source` is a file (one address per line, or a CSV with an email column) or the lines themselves.
    Blank lines and lines starting with '#' are skipped. The status history says `change_source`
    (one-click, mailto, ...) and `detail` (default: the file's name).
    """
    if status not in SUPPRESSED:
        raise ValueError(f"status must be one of {sorted(SUPPRESSED)}")
    stamp = timestamp(now)
    bad: list[BadRow] = []
    addresses = file_addresses(source, bad) if isinstance(source, Path) else line_addresses(source, bad)
    if detail is None:
        detail = source.name if isinstance(source, Path) else ""
    report = suppress_all(
        audience,
        addresses,
        status=status,
        default_locale=default_locale,
        stamp=stamp,
        source=change_source,
        detail=detail,
    )
    report.bad = bad
    return report
