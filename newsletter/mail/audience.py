"""Subscribers: the SQLite store, importing CSV files, suppression, selecting a campaign's audience.

The store is one SQLite file in the project (`[audience] database`, default `audience.sqlite3`),
created on first use. Its schema is versioned with `PRAGMA user_version`; `_MIGRATIONS` holds one
script per version (1: subscribers, 2: the send log), and an older file is brought up to date on open.

Addresses are validated with email-validator (no DNS lookups) and stored in its normalised form:
the domain lower-cased and IDNA-normalised (`Jörg@BÜCHER.de` -> `Jörg@bücher.de`), the local part as
the subscriber typed it, because a mail server may treat it case-sensitively. Two addresses are the
same subscriber when they differ only in case (`email_key`, the casefolded address, is unique), so
`Jan@x.nl` unsubscribed also keeps `jan@x.nl` from being mailed.

An unsubscribed, bounced or complained address is never made active again by an import: that row
counts as "kept suppressed". `suppress` adds unknown addresses as suppressed, so a later import of an
old list cannot activate them either.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from newsletter.errors import NewsletterError
from newsletter.files import atomic_write
from newsletter.project.validation import CONTROL_CHARACTERS
from newsletter.vocabulary import LOCALES, SEND_STATES, STATUSES, SUPPRESSED, sql_in

if TYPE_CHECKING:
    from newsletter.project.settings import Project

SCHEMA_VERSION = 3

_MIGRATIONS: tuple[str, ...] = (
    # 1: subscribers.
    f"""
    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        email_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        locale TEXT NOT NULL CHECK ({sql_in("locale", LOCALES)}),
        tags TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL DEFAULT 'active'
            CHECK ({sql_in("status", STATUSES)}),
        source TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX subscribers_status_locale ON subscribers (status, locale);
    """,
    # 2: the send log, one row per (campaign, subscriber); see delivery.py for what each state means.
    f"""
    CREATE TABLE sends (
        campaign TEXT NOT NULL,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
        email TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK ({sql_in("state", SEND_STATES)}),
        attempts INTEGER NOT NULL DEFAULT 0,
        smtp_code INTEGER,
        smtp_response TEXT NOT NULL DEFAULT '',
        message_id TEXT,
        retry_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        sent_at TEXT,
        PRIMARY KEY (campaign, subscriber_id)
    );
    CREATE INDEX sends_campaign_state ON sends (campaign, state);
    """,
    # 3: email_key was casefold(), which made fuß.de and fuss.de one address; now it is lower()
    # (`email_key` is `_key`, registered on every connection). Keys stay unique: equal lower() implies
    # equal casefold().
    "UPDATE subscribers SET email_key = email_key(email)",
)
assert len(_MIGRATIONS) == SCHEMA_VERSION

# Header names, case-insensitive, Dutch and English.
_ALIASES: dict[str, str] = {
    "email": "email",
    "e-mail": "email",
    "e-mailadres": "email",
    "emailadres": "email",
    "email address": "email",
    "e-mail address": "email",
    "name": "name",
    "naam": "name",
    "locale": "locale",
    "taal": "locale",
    "language": "locale",
    "tags": "tags",
    "labels": "tags",
    "status": "status",
}
_DELIMITERS = ",;\t|"
_TAG_SEPARATORS = re.compile(r"[,;|\s]+")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str
    locale: str
    tags: tuple[str, ...]
    status: str
    source: str
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass
class ImportReport:
    path: Path
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_suppressed: int = 0
    duplicates: int = 0  # rows merged into an earlier row of the same file
    bad: list[BadRow] = field(default_factory=list)


@dataclass
class SuppressReport:
    added: int = 0  # unknown addresses, added as suppressed
    suppressed: int = 0  # known addresses whose status changed
    unchanged: int = 0  # already had that status
    bad: list[BadRow] = field(default_factory=list)


class Audience:
    """An open subscriber store. Use as a context manager: the connection is closed on exit."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Audience:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: BEGIN IMMEDIATE takes the write lock up front, so readers never wait on us."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")


def database_path(project: Project) -> Path:
    return project.root / project.settings.audience.database


def open_audience(project: Project) -> Audience:
    """The project's store, created (with its folder) on first use."""
    return connect(database_path(project))


def connect(path: Path) -> Audience:
    """Open (or create) the store at `path` and bring its schema up to date."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        connection.create_function("email_key", 1, _key, deterministic=True)
        connection.execute("PRAGMA busy_timeout = 10000")  # senders on several connections take turns
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise NewsletterError(
                f"the subscriber database has schema version {version}; this newsletter knows "
                f"up to {SCHEMA_VERSION}",
                path=path,
                hint="upgrade newsletter",
            )
        connection.execute("PRAGMA journal_mode = WAL")
        for number in range(version, SCHEMA_VERSION):
            connection.executescript(
                f"BEGIN IMMEDIATE; {_MIGRATIONS[number]}; PRAGMA user_version = {number + 1}; COMMIT;"
            )
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise NewsletterError(f"not a usable subscriber database: {exc}", path=path) from None
    except BaseException:
        connection.close()
        raise
    return Audience(connection, path)


@contextmanager
def _using(target: Audience | Path) -> Iterator[Audience]:
    if isinstance(target, Audience):
        yield target
    else:
        with connect(target) as audience:
            yield audience


def timestamp(now: datetime | None) -> str:
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- addresses ---------------------------------------------------------------------------------


def normalise_address(cell: str) -> str:
    """The normalised address, or ValueError with the reason a user can act on."""
    text = cell.strip()
    if not text:
        raise ValueError("empty address")
    if len([part for part in re.split(r"[\s,;|]+", text) if "@" in part]) > 1:
        raise ValueError(f"two addresses in one cell: {text!r}")
    from email_validator import EmailNotValidError, validate_email

    try:
        normalized = validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"invalid address {text!r}: {exc}") from None
    local, _, domain = normalized.rpartition("@")
    return f"{local}@{domain.lower()}"


def _key(email: str) -> str:
    """Case-insensitive, and nothing more: casefold() would make fuß.de and fuss.de one address."""
    return email.lower()


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


# -- reading files -----------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """A UTF-8 file, with or without BOM; anything else is one error naming the line of the bad byte."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NewsletterError("file not found", path=path) from None
    except IsADirectoryError:
        raise NewsletterError("is a folder, not a file", path=path) from None
    except OSError as exc:
        raise NewsletterError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise NewsletterError(
            f"not UTF-8: byte 0x{raw[exc.start]:02x} cannot be read",
            path=path,
            line=line,
            hint="save the file as UTF-8 (in Excel: 'CSV UTF-8'); nothing was imported",
        ) from None


def _rows(text: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line of the row's start, cells) for every record; the delimiter is guessed from the header.

    A quote that is opened and never closed, or closed rows later, would silently turn the rows in
    between into one cell: that is an error for the whole file, not a name with line breaks."""
    header = text.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(header, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
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


def _no_email_column(header: list[str], path: Path, *alternatives: str) -> NewsletterError:
    found = ", ".join(repr(name.strip()) for name in header)
    advice = ", ".join(["name it email, e-mail or e-mailadres", *alternatives])
    return NewsletterError(
        "the header has no email column", path=path, line=1, hint=f"{advice}; found {found}"
    )


def _columns(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        canonical = _ALIASES.get(" ".join(name.strip().lower().replace("_", " ").split()))
        if canonical and canonical not in columns:
            columns[canonical] = index
    return columns


@dataclass
class _Row:
    email: str
    name: str
    locale: str | None
    tags: frozenset[str]
    status: str

    def merge(self, other: _Row) -> _Row:
        """A later row fills in what is empty, adds tags, and may only suppress, never reactivate."""
        status = self.status if self.status in SUPPRESSED else other.status
        return replace(
            self,
            name=self.name or other.name,
            locale=self.locale or other.locale,
            tags=self.tags | other.tags,
            status=status,
        )


def _parse(text: str, path: Path) -> tuple[list[tuple[int, _Row]], list[BadRow]]:
    rows = _rows(text, path)
    first = next(rows, None)
    if first is None or not any(cell.strip() for cell in first[1]):
        raise NewsletterError("no header row", path=path, line=1, hint="the first row names the columns")
    columns = _columns(first[1])
    if "email" not in columns:
        raise _no_email_column(first[1], path)

    def cell(cells: list[str], name: str) -> str:
        index = columns.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    good: list[tuple[int, _Row]] = []
    bad: list[BadRow] = []
    for line, cells in rows:
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
        row = _Row(
            email=str(values["email"]),
            name=_revert_inert(" ".join(CONTROL_CHARACTERS.sub(" ", cell(cells, "name")).split())),
            locale=values["locale"] if isinstance(values["locale"], str) else None,
            tags=_tags(_revert_inert(cell(cells, "tags"))),
            status=str(values["status"]),
        )
        good.append((line, row))
    return good, bad


# -- the store ---------------------------------------------------------------------------------


def _subscriber(row: sqlite3.Row | tuple[object, ...]) -> Subscriber:
    id_, email, name, locale, tags, status, source, created_at, updated_at = row
    return Subscriber(
        id=int(str(id_)),
        email=str(email),
        name=str(name),
        locale=str(locale),
        tags=tuple(json.loads(str(tags))),
        status=str(status),
        source=str(source),
        created_at=str(created_at),
        updated_at=str(updated_at),
    )


_FIELDS = "id, email, name, locale, tags, status, source, created_at, updated_at"


def _find(connection: sqlite3.Connection, email: str) -> Subscriber | None:
    found = connection.execute(
        f"SELECT {_FIELDS} FROM subscribers WHERE email_key = ?", (_key(email),)
    ).fetchone()
    return _subscriber(found) if found else None


def _insert(connection: sqlite3.Connection, row: _Row, *, locale: str, source: str, stamp: str) -> None:
    connection.execute(
        "INSERT INTO subscribers (email, email_key, name, locale, tags, status, source, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row.email,
            _key(row.email),
            row.name,
            locale,
            _json_tags(row.tags),
            row.status,
            source,
            stamp,
            stamp,
        ),
    )


def _json_tags(tags: Iterable[str]) -> str:
    return json.dumps(sorted(set(tags)), ensure_ascii=False)


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
    good, bad = _parse(read_text(path), path)
    report = ImportReport(path=path, bad=bad)
    merged: dict[str, _Row] = {}
    for _, row in good:
        key = _key(row.email)
        if key in merged:
            merged[key] = merged[key].merge(row)
            report.duplicates += 1
        else:
            merged[key] = row
    with _using(audience) as store, store.transaction() as connection:
        for row in merged.values():
            existing = _find(connection, row.email)
            if existing is None:
                _insert(connection, row, locale=row.locale or default_locale, source=source, stamp=stamp)
                report.added += 1
            elif existing.status in SUPPRESSED:
                report.kept_suppressed += 1
            else:
                name = existing.name or row.name
                locale = row.locale or existing.locale  # a locale in the file is the reader's choice
                tags = _json_tags((*existing.tags, *row.tags))
                status = row.status
                now_ = (name, locale, tags, status)
                if now_ == (existing.name, existing.locale, _json_tags(existing.tags), existing.status):
                    report.unchanged += 1
                    continue
                connection.execute(
                    "UPDATE subscribers SET name = ?, locale = ?, tags = ?, status = ?, updated_at = ?"
                    " WHERE id = ?",
                    (*now_, stamp, existing.id),
                )
                report.updated += 1
    return report


def suppress(
    audience: Audience | Path,
    source: Path | Iterable[str],
    *,
    status: str = "unsubscribed",
    default_locale: str = "nl",
    now: datetime | None = None,
) -> SuppressReport:
    """Mark addresses unsubscribed, bounced or complained; unknown ones are added that way.

    `source` is a file (one address per line, or a CSV with an email column) or the lines themselves.
    Blank lines and lines starting with '#' are skipped.
    """
    if status not in SUPPRESSED:
        raise ValueError(f"status must be one of {sorted(SUPPRESSED)}")
    stamp = timestamp(now)
    report = SuppressReport()
    addresses: list[tuple[int, str]] = []
    if isinstance(source, Path):
        text = read_text(source)
        rows = _rows(text, source)
        header = next(rows, (1, []))[1]
        column = _columns(header).get("email")
        if column is None and len(header) > 1:
            raise _no_email_column(header, source, "or give one address per line")
        if column is not None:
            # A CSV (say, a bounce report): only its email column counts.
            for line, cells in rows:
                if not any(value.strip() for value in cells):
                    continue
                try:
                    addresses.append((line, normalise_address(cells[column] if column < len(cells) else "")))
                except ValueError as exc:
                    report.bad.append(BadRow(line, str(exc)))
            lines: Iterable[str] = ()
        else:
            lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # not \f or U+2028
    else:
        lines = source
    for number, raw in enumerate(lines, start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            addresses.append((number, normalise_address(raw)))
        except ValueError as exc:
            report.bad.append(BadRow(number, str(exc)))
    seen: set[str] = set()
    with _using(audience) as store, store.transaction() as connection:
        for _, email in addresses:
            if _key(email) in seen:
                continue
            seen.add(_key(email))
            existing = _find(connection, email)
            if existing is None:
                row = _Row(email=email, name="", locale=None, tags=frozenset(), status=status)
                _insert(connection, row, locale=default_locale, source="suppress", stamp=stamp)
                report.added += 1
            elif existing.status == status:
                report.unchanged += 1
            else:
                connection.execute(
                    "UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ?",
                    (status, stamp, existing.id),
                )
                report.suppressed += 1
    return report


def _inert(cell: str) -> str:
    """Names come from sign-up forms: a cell starting with = + - @ is a formula to Excel and
    LibreOffice (CSV injection), so it gets a leading apostrophe, which `import_csv` takes off."""
    return "'" + cell if cell[:1] in _FORMULA_STARTS else cell


def _revert_inert(cell: str) -> str:
    return cell[1:] if cell[:1] == "'" and cell[1:2] in _FORMULA_STARTS else cell


def select(
    audience: Audience | Path,
    *,
    locale: str | None = None,
    tags: Sequence[str] = (),
    status: str | None = "active",
) -> list[Subscriber]:
    """Subscribers by id: of one status (None: every status), one locale, having all the given tags."""
    query = f"SELECT {_FIELDS} FROM subscribers WHERE 1"
    params: list[str] = []
    if status is not None:
        query += " AND status = ?"
        params.append(status)
    if locale is not None:
        query += " AND locale = ?"
        params.append(locale)
    wanted = {tag.lower() for tag in tags}
    with _using(audience) as store:
        rows = store.connection.execute(query + " ORDER BY id", params).fetchall()
    found = [_subscriber(row) for row in rows]
    return [s for s in found if wanted <= set(s.tags)]


def count(audience: Audience | Path) -> dict[tuple[str, str], int]:
    """How many subscribers per (status, locale)."""
    with _using(audience) as store:
        rows = store.connection.execute(
            "SELECT status, locale, COUNT(*) FROM subscribers GROUP BY status, locale ORDER BY status, locale"
        ).fetchall()
    return {(str(status), str(locale)): int(number) for status, locale, number in rows}


EXPORT_COLUMNS = ("email", "name", "locale", "tags", "status", "source", "created_at", "updated_at")


def export_csv(
    audience: Audience | Path,
    out: Path | TextIO | None = None,
    *,
    locale: str | None = None,
    tags: Sequence[str] = (),
    status: str | None = None,
) -> int:
    """Write subscribers as UTF-8 CSV (every status by default, so an export is a backup that
    `import_csv` reads back). A Path is written atomically; None means stdout. Returns the row count."""
    subscribers = select(audience, locale=locale, tags=tags, status=status)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for s in subscribers:
        tags = ";".join(s.tags)
        writer.writerow(
            [
                _inert(s.email),  # `=cmd|...@example.nl` is a valid address
                _inert(s.name),
                s.locale,
                _inert(tags),
                s.status,
                _inert(s.source),
                s.created_at,
                s.updated_at,
            ]
        )
    if isinstance(out, Path):
        try:  # personal data: readable by its owner only
            atomic_write(out, buffer.getvalue(), mode=0o600)
        except OSError as exc:
            raise NewsletterError(f"cannot write the export: {exc.strerror or exc}", path=out) from None
    else:
        (out or sys.stdout).write(buffer.getvalue())
    return len(subscribers)
