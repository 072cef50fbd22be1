"""The subscribers table: finding, adding, suppressing and selecting readers.

An unsubscribed, bounced or complained address is never made active again by an import: that row
counts as "kept suppressed". `suppress_all` adds unknown addresses as suppressed, so a later import
of an old list cannot activate them either. Every status a subscriber gets, the first included, is a
row of `status_changes` with its source (history.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from newsletter.store.addresses import email_key
from newsletter.store.history import History
from newsletter.vocabulary import SUPPRESSED


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
    topics: tuple[str, ...] = ()  # the keys of the [[topics]] the reader chose (sign-up, preferences)


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


def json_tags(tags: Iterable[str]) -> str:
    return json.dumps(sorted(set(tags)), ensure_ascii=False)


def _subscriber(row: sqlite3.Row | tuple[object, ...]) -> Subscriber:
    id_, email, name, locale, tags, status, source, created_at, updated_at, topics = map(str, row)
    return Subscriber(
        int(id_),
        email,
        name,
        locale,
        tuple(json.loads(tags)),
        status,
        source,
        created_at,
        updated_at,
        tuple(json.loads(topics)),
    )


_FIELDS = "id, email, name, locale, tags, status, source, created_at, updated_at, topics"


class Subscribers(History):
    def find_subscriber(self, email: str) -> Subscriber | None:
        found = self.connection.execute(
            f"SELECT {_FIELDS} FROM subscribers WHERE email_key = ?", (email_key(email),)
        ).fetchone()
        return _subscriber(found) if found else None

    def find_subscribers(self, emails: Sequence[str]) -> dict[str, Subscriber]:
        """`find_subscriber` for many addresses in one query (at most 32766), by their `email_key`."""
        marks = ",".join("?" * len(emails))
        found = self.connection.execute(
            f"SELECT {_FIELDS} FROM subscribers WHERE email_key IN ({marks})",
            [email_key(e) for e in emails],
        )
        return {email_key(subscriber.email): subscriber for subscriber in map(_subscriber, found)}

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        found = self.connection.execute(
            f"SELECT {_FIELDS} FROM subscribers WHERE id = ?", (subscriber_id,)
        ).fetchone()
        return _subscriber(found) if found else None

    def subscriber_address(self, subscriber_id: int) -> str | None:
        row = self.connection.execute(
            "SELECT email FROM subscribers WHERE id = ?", (subscriber_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def subscriber_status(self, subscriber_id: int) -> str | None:
        row = self.connection.execute(
            "SELECT status FROM subscribers WHERE id = ?", (subscriber_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def add_subscriber(
        self,
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
        topics: Iterable[str] = (),
    ) -> int:
        """A new subscriber, with the first row of its status history: `change_source` says what added
        it (import, suppress, ...), `source` (the subscriber's own column) where the address came from.
        Returns its id."""
        added = self.connection.execute(
            "INSERT INTO subscribers (email, email_key, name, locale, tags, status, source, created_at,"
            " updated_at, topics) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                email,
                email_key(email),
                name,
                locale,
                json_tags(tags),
                status,
                source,
                stamp,
                stamp,
                json_tags(topics),
            ),
        )
        subscriber_id = int(added.fetchone()[0])
        self.record_change(
            subscriber_id,
            None,
            status,
            source=change_source,
            detail=source if detail is None else detail,
            stamp=stamp,
        )
        return subscriber_id

    def set_preferences(
        self, subscriber_id: int, *, name: str, locale: str, topics: Iterable[str], stamp: str
    ) -> None:
        """What a reader changes on the preference page, or confirms with a sign-up."""
        self.connection.execute(
            "UPDATE subscribers SET name = ?, locale = ?, topics = ?, updated_at = ? WHERE id = ?",
            (name, locale, json_tags(topics), stamp, subscriber_id),
        )

    def suppress_all(
        self,
        addresses: Iterable[str],
        *,
        status: str,
        default_locale: str,
        stamp: str,
        source: str = "suppress",
        detail: str = "",
    ) -> SuppressReport:
        """Give normalised addresses a suppressed status, in one transaction; unknown ones are added with
        it. The file and line side of suppressing is `audience.importing.suppress`. `source` and
        `detail` go into the status history (one-click, mailto, ...)."""
        with self.transaction():
            return self.suppress_within(
                addresses,
                status=status,
                default_locale=default_locale,
                stamp=stamp,
                source=source,
                detail=detail,
            )

    def suppress_within(
        self,
        addresses: Iterable[str],
        *,
        status: str,
        default_locale: str,
        stamp: str,
        source: str = "suppress",
        detail: str = "",
    ) -> SuppressReport:
        """`suppress_all` inside the caller's transaction: for a writer that commits several at once."""
        if status not in SUPPRESSED:
            raise ValueError(f"status must be one of {sorted(SUPPRESSED)}")
        report = SuppressReport()
        seen: set[str] = set()
        for email in addresses:
            if email_key(email) in seen:
                continue
            seen.add(email_key(email))
            existing = self.find_subscriber(email)
            if existing is None:
                self.add_subscriber(
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
                self.change_status(
                    existing.id, existing.status, status, source=source, detail=detail, stamp=stamp
                )
                report.suppressed += 1
        return report

    def select(
        self, *, locale: str | None = None, tags: Sequence[str] = (), status: str | None = "active"
    ) -> list[Subscriber]:
        """Subscribers by id: of one status (None: every status but `forgotten`, which is nobody
        any more), one locale, having all the given tags."""
        query = f"SELECT {_FIELDS} FROM subscribers WHERE "
        params: list[str] = []
        if status is None:
            query += "status != 'forgotten'"
        else:
            query += "status = ?"
            params.append(status)
        if locale is not None:
            query += " AND locale = ?"
            params.append(locale)
        wanted = {tag.lower() for tag in tags}
        rows = self.connection.execute(query + " ORDER BY id", params).fetchall()
        found = [_subscriber(row) for row in rows]
        return [s for s in found if wanted <= set(s.tags)]

    def count(self) -> dict[tuple[str, str], int]:
        """How many subscribers per (status, locale)."""
        rows = self.connection.execute(
            "SELECT status, locale, COUNT(*) FROM subscribers GROUP BY status, locale ORDER BY status, locale"
        ).fetchall()
        return {(str(status), str(locale)): int(number) for status, locale, number in rows}
