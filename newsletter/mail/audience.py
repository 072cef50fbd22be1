"""Subscribers: the SQLite store, suppression, selecting a campaign's audience. Reading and writing
CSV files of subscribers is audience_csv.py.

The store is one SQLite file in the project (`[audience] database`, default `audience.sqlite3`),
created on first use, private to its owner (database_file.py, which also turns SQLite's complaints
about the file into user errors). Its schema is versioned with `PRAGMA user_version`; audience_schema.py
holds one script per version, and an older file is brought up to date on open.

Addresses are validated with email-validator (no DNS lookups) and stored in its normalised form:
the domain lower-cased and IDNA-normalised (`Jörg@BÜCHER.de` -> `Jörg@bücher.de`), the local part as
the subscriber typed it, because a mail server may treat it case-sensitively. Two addresses are the
same subscriber when they differ only in case (`email_key`, the lower-cased address, is unique), so
`Jan@x.nl` unsubscribed also keeps `jan@x.nl` from being mailed.

An unsubscribed, bounced or complained address is never made active again by an import: that row
counts as "kept suppressed". `suppress_all` adds unknown addresses as suppressed, so a later import
of an old list cannot activate them either. Every status a subscriber gets, the first included, is a
row of `status_changes` with its source (status_history.py).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.errors import NewsletterError
from newsletter.mail import status_history
from newsletter.mail.audience_schema import MIGRATIONS
from newsletter.mail.audience_schema import SCHEMA_VERSION as SCHEMA_VERSION
from newsletter.mail.database_file import BUSY_TIMEOUT, create_private, explain
from newsletter.vocabulary import SUPPRESSED

if TYPE_CHECKING:
    from newsletter.project.settings import Project


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
class SuppressReport:
    added: int = 0  # unknown addresses, added as suppressed
    suppressed: int = 0  # known addresses whose status changed
    unchanged: int = 0  # already had that status
    bad: list[BadRow] = field(default_factory=list)


class Audience:
    """An open subscriber store. Use as a context manager: the connection is closed on exit."""

    def __init__(
        self, connection: sqlite3.Connection, path: Path, busy_timeout: float = BUSY_TIMEOUT
    ) -> None:
        self.connection = connection
        self.path = path
        self.busy_timeout = busy_timeout

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Audience:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: BEGIN IMMEDIATE takes the write lock up front, so readers never wait on us.
        A lock held elsewhere too long, or a file that cannot be written, is a user error."""
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise (explain(exc, self.path, self.busy_timeout) or exc) from None
        try:
            yield self.connection
        except BaseException as exc:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            problem = (
                explain(exc, self.path, self.busy_timeout)
                if isinstance(exc, sqlite3.OperationalError)
                else None
            )
            if problem is not None:
                raise problem from None
            raise
        self.connection.execute("COMMIT")


def database_path(project: Project) -> Path:
    return project.root / project.settings.audience.database


def open_audience(project: Project) -> Audience:
    """The project's store, created (with its folder) on first use."""
    return connect(database_path(project))


def open_existing(project: Project) -> Audience | None:
    """The project's store if it exists: what only reads (status, a dry run) must not create it."""
    path = database_path(project)
    return connect(path) if path.exists() else None


def connect(path: Path, *, busy_timeout: float | None = None) -> Audience:
    """Open (or create, mode 0600) the store at `path` and bring its schema up to date. Writers on
    several connections (senders, imports, the website) take turns, each waiting `busy_timeout`
    (default BUSY_TIMEOUT)."""
    busy_timeout = BUSY_TIMEOUT if busy_timeout is None else busy_timeout
    create_private(path)
    try:
        connection = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout)
    except sqlite3.Error as exc:
        raise (explain(exc, path, busy_timeout) or exc) from None
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        connection.create_function("email_key", 1, email_key, deterministic=True)
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
                f"BEGIN IMMEDIATE; {MIGRATIONS[number]}; PRAGMA user_version = {number + 1}; COMMIT;"
            )
    except sqlite3.DatabaseError as exc:
        connection.close()
        problem = explain(exc, path, busy_timeout)
        raise problem or NewsletterError(f"not a usable subscriber database: {exc}", path=path) from None
    except BaseException:
        connection.close()
        raise
    return Audience(connection, path, busy_timeout)


@contextmanager
def using(target: Audience | Path) -> Iterator[Audience]:
    """The store itself, or one opened (and closed again) for a path: callers may pass either."""
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


def email_key(email: str) -> str:
    """Case-insensitive, and nothing more: casefold() would make fuß.de and fuss.de one address."""
    return email.lower()


# -- rows ----------------------------------------------------------------------------------------


def _subscriber(row: sqlite3.Row | tuple[object, ...]) -> Subscriber:
    id_, email, name, locale, tags, status, source, created_at, updated_at = map(str, row)
    return Subscriber(
        int(id_), email, name, locale, tuple(json.loads(tags)), status, source, created_at, updated_at
    )


_FIELDS = "id, email, name, locale, tags, status, source, created_at, updated_at"


def find_subscriber(connection: sqlite3.Connection, email: str) -> Subscriber | None:
    found = connection.execute(
        f"SELECT {_FIELDS} FROM subscribers WHERE email_key = ?", (email_key(email),)
    ).fetchone()
    return _subscriber(found) if found else None


def find_subscribers(connection: sqlite3.Connection, emails: Sequence[str]) -> dict[str, Subscriber]:
    """`find_subscriber` for many addresses in one query (at most 32766), by their `email_key`."""
    marks = ",".join("?" * len(emails))
    found = connection.execute(
        f"SELECT {_FIELDS} FROM subscribers WHERE email_key IN ({marks})", [email_key(e) for e in emails]
    )
    return {email_key(subscriber.email): subscriber for subscriber in map(_subscriber, found)}


def insert_subscriber(
    connection: sqlite3.Connection,
    email: str,
    *,
    name: str,
    locale: str,
    tags: Iterable[str],
    status: str,
    source: str,
    stamp: str,
    change_source: str = "import",
    detail: str | None = None,
) -> None:
    """A new subscriber, with the first row of its status history: `change_source` says what added
    it (import, suppress, ...), `source` (the subscriber's own column) where the address came from."""
    added = connection.execute(
        "INSERT INTO subscribers (email, email_key, name, locale, tags, status, source, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (email, email_key(email), name, locale, json_tags(tags), status, source, stamp, stamp),
    )
    status_history.record(
        connection,
        int(added.lastrowid or 0),
        None,
        status,
        source=change_source,
        detail=source if detail is None else detail,
        stamp=stamp,
    )


def json_tags(tags: Iterable[str]) -> str:
    return json.dumps(sorted(set(tags)), ensure_ascii=False)


def suppress_all(
    audience: Audience | Path,
    addresses: Iterable[str],
    *,
    status: str,
    default_locale: str,
    stamp: str,
    source: str = "suppress",
    detail: str = "",
) -> SuppressReport:
    """Give normalised addresses a suppressed status, in one transaction; unknown ones are added with
    it. The file and line side of suppressing is `audience_csv.suppress`. `source` and `detail` go
    into the status history (one-click, mailto, ...)."""
    if status not in SUPPRESSED:
        raise ValueError(f"status must be one of {sorted(SUPPRESSED)}")
    report = SuppressReport()
    seen: set[str] = set()
    with using(audience) as store, store.transaction() as connection:
        for email in addresses:
            if email_key(email) in seen:
                continue
            seen.add(email_key(email))
            existing = find_subscriber(connection, email)
            if existing is None:
                insert_subscriber(
                    connection,
                    email,
                    name="",
                    locale=default_locale,
                    tags=(),
                    status=status,
                    source=source,
                    stamp=stamp,
                    change_source=source,
                    detail=detail,
                )
                report.added += 1
            elif existing.status == status:
                report.unchanged += 1
            else:
                status_history.change_status(
                    connection,
                    existing.id,
                    existing.status,
                    status,
                    source=source,
                    detail=detail,
                    stamp=stamp,
                )
                report.suppressed += 1
    return report


# -- reading -------------------------------------------------------------------------------------


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
    with using(audience) as store:
        rows = store.connection.execute(query + " ORDER BY id", params).fetchall()
    found = [_subscriber(row) for row in rows]
    return [s for s in found if wanted <= set(s.tags)]


def count(audience: Audience | Path) -> dict[tuple[str, str], int]:
    """How many subscribers per (status, locale)."""
    with using(audience) as store:
        rows = store.connection.execute(
            "SELECT status, locale, COUNT(*) FROM subscribers GROUP BY status, locale ORDER BY status, locale"
        ).fetchall()
    return {(str(status), str(locale)): int(number) for status, locale, number in rows}
