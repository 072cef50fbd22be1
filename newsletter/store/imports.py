"""A list import as the store sees it: rows staged in a temporary table, then applied a batch per
transaction. Reading the file, and what a row may hold, is `audience.importing`.

The rows are staged in batches (in a temporary table of this connection, which locks nobody out),
merged there with earlier rows for the same address, and only when the whole file has been read are
they applied to the subscribers. A list of a million rows so takes no more memory than one of a
thousand, and a file that turns out to be broken on its last line leaves the store as it was.

The rows are applied in transactions of `_APPLY` rows, each holding the write lock for some tens of
milliseconds: a one-click unsubscribe or a webhook that arrives meanwhile waits that long, not for the
whole import (a million rows take a minute). A process killed while applying leaves the rows applied
so far; importing the same file again applies the rest and changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path

from newsletter.errors import NewsletterError
from newsletter.store.addresses import email_key
from newsletter.store.consent import Consents
from newsletter.store.subscribers import BadRow, json_tags
from newsletter.vocabulary import SUPPRESSED

_BATCH = 10_000  # rows parsed before they are staged
_LOOKUP = 500  # addresses per query for rows staged by an earlier batch
_APPLY = 2_000  # rows applied per transaction: the longest another writer waits for the lock
_STAGED = "newsletter_import"  # a temporary table: it hides no table of the store


@dataclass
class ImportReport:
    path: Path
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_suppressed: int = 0
    kept_unconfirmed: int = 0  # signed up, not confirmed: only the reader's own click makes them active
    duplicates: int = 0  # rows merged into an earlier row of the same file
    bad: list[BadRow] = field(default_factory=list)
    unused_columns: list[str] = field(default_factory=list)  # the header's columns not read


@dataclass(slots=True)
class ImportRow:
    """One readable row of a list: a normalised address and what the file says of its reader."""

    email: str
    name: str
    locale: str | None
    tags: frozenset[str]
    status: str

    def merge(self, other: ImportRow) -> ImportRow:
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


def _staged_row(values: Sequence[str]) -> ImportRow:
    email, name, locale, tags, status = values
    return ImportRow(email, name, locale, frozenset(tags.split()), status)  # a tag holds no white space


@dataclass(frozen=True)
class _Grant:
    """The consent an import gives each subscriber it adds: its source, text version and time."""

    source: str
    text_id: int
    stamp: str


class ConsentMissing(NewsletterError):
    """The file adds subscribers, and the import was given no statement of their consent."""


@dataclass(frozen=True)
class ImportConsent:
    """What an import says of the consent of the readers it adds, and how it knows the forgotten."""

    text: str | None  # `--consent`: required when the file adds anyone
    forgotten: Callable[[str], str] | None = None  # an address's key -> its keyed hash (consent.py)


class Imports(Consents):
    def import_rows(
        self,
        good: Iterator[tuple[int, ImportRow]],
        report: ImportReport,
        *,
        default_locale: str,
        source: str,
        stamp: str,
        consent: ImportConsent = ImportConsent(None),
    ) -> None:
        """Stage every row first, then apply them a batch per transaction: a file found broken on its
        last line, or one that adds readers without a consent statement, leaves the store as it was."""
        self.connection.execute(f"DROP TABLE IF EXISTS {_STAGED}")
        self.connection.execute(
            f"CREATE TEMPORARY TABLE {_STAGED} (line INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,"
            " email TEXT, name TEXT, locale TEXT, tags TEXT, status TEXT)"
        )
        try:
            # One transaction of the temporary table alone: it locks nothing of the store, and
            # SQLite writes its pages out once, not after every batch staged.
            with self.engine.local_transaction():
                self._stage(good, report)
            self._check_consent(consent)
            self._apply_staged(
                report, default_locale=default_locale, source=source, stamp=stamp, consent=consent
            )
        finally:
            self.connection.execute(f"DROP TABLE IF EXISTS {_STAGED}")

    def _stage(self, good: Iterator[tuple[int, ImportRow]], report: ImportReport) -> None:
        """Each address once, at the line it first appears on, its later rows merged into it."""
        while batch := list(islice(good, _BATCH)):
            merged: dict[str, tuple[int, ImportRow]] = {}
            for line, row in batch:
                key = email_key(row.email)
                if key in merged:
                    merged[key] = (merged[key][0], merged[key][1].merge(row))
                    report.duplicates += 1
                else:
                    merged[key] = (line, row)
            for key, (line, earlier) in self._staged_before(list(merged)).items():
                merged[key] = (line, earlier.merge(merged[key][1]))
                report.duplicates += 1
            self.connection.executemany(
                f"INSERT INTO {_STAGED} VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                " line = excluded.line, email = excluded.email, name = excluded.name,"
                " locale = excluded.locale, tags = excluded.tags, status = excluded.status",
                (
                    (line, key, row.email, row.name, row.locale, " ".join(row.tags), row.status)
                    for key, (line, row) in merged.items()
                ),
            )

    def _check_consent(self, consent: ImportConsent) -> None:
        """Before anything is applied: a file that adds readers needs a consent statement, and the
        forgotten can only be recognised with the key that hashed them."""
        if consent.text is None:
            (new,) = self.connection.execute(
                f"SELECT COUNT(*) FROM {_STAGED} WHERE key NOT IN (SELECT email_key FROM subscribers)"
            ).fetchone()
            if new:
                raise ConsentMissing(
                    f"the file adds {new} subscriber{'' if new == 1 else 's'}, and the import has no "
                    "statement of their consent",
                    field="consent",
                    hint='say what they agreed to, where and when, e.g. --consent "signed up at the book '
                    'fair, 2026-10-12, on the paper form"; nothing was imported',
                )
        if consent.forgotten is None and self.forgotten_keys():
            raise NewsletterError(
                "the list has forgotten addresses, and without NEWSLETTER_UNSUBSCRIBE_SECRET (the key "
                "of their hashes) this import cannot tell whether the file brings one back",
                hint="set NEWSLETTER_UNSUBSCRIBE_SECRET as when they were forgotten; nothing was imported",
            )

    def _staged_before(self, keys: list[str]) -> dict[str, tuple[int, ImportRow]]:
        found: dict[str, tuple[int, ImportRow]] = {}
        for start in range(0, len(keys), _LOOKUP):
            chunk = keys[start : start + _LOOKUP]
            marks = ",".join("?" * len(chunk))
            for line, key, *values in self.connection.execute(
                f"SELECT line, key, email, name, locale, tags, status FROM {_STAGED} WHERE key IN ({marks})",
                chunk,
            ):
                found[key] = (line, _staged_row(values))
        return found

    def _staged_batch(self, after: int) -> list[tuple[int, str, str, str, str | None, str, str]]:
        """The next `_APPLY` rows after line `after`, in the order of the file, as staged: line, key,
        email, name, locale, tags (space-separated) and status. Each batch is a query of its own: a
        cursor kept open across commits would keep the connection reading an old snapshot, and
        SQLite refuses it the write lock once another process has written since."""
        query = (
            f"SELECT line, key, email, name, locale, tags, status FROM {_STAGED}"
            " WHERE line > ? ORDER BY line LIMIT ?"
        )
        return self.connection.execute(query, (after, _APPLY)).fetchall()

    def _apply_staged(
        self, report: ImportReport, *, default_locale: str, source: str, stamp: str, consent: ImportConsent
    ) -> None:
        """In the file's order, the subscribers looked up a chunk at a time: each address is staged
        once, so a row applied cannot change what a later one of the chunk finds."""
        after = 0
        text_id: int | None = None
        while batch := self._staged_batch(after):
            self.let_writers_in()
            with self.transaction():
                if consent.text is not None and text_id is None:
                    text_id = self.consent_text_id(consent.text, stamp)
                grant = None if text_id is None else _Grant(f"import:{source}", text_id, stamp)
                self._apply_batch(batch, report, default_locale, source, stamp, consent.forgotten, grant)
            after = batch[-1][0]

    def _apply_batch(
        self,
        batch: list[tuple[int, str, str, str, str | None, str, str]],
        report: ImportReport,
        default_locale: str,
        source: str,
        stamp: str,
        forgotten: Callable[[str], str] | None,
        grant: _Grant | None,
    ) -> None:
        """One transaction's rows, decided first and then written with three `executemany`: the new
        subscribers, then every status change in the file's order (before the updates they describe,
        as the history's trigger wants), then the updates; with `grant`, the consent of each added."""
        added: list[tuple[str, str, str, str, str, str, str, str, str]] = []
        changes: list[tuple[int | None, str, str | None, str, str, str]] = []
        updates: list[tuple[str, str, str, str, str, int]] = []
        for at in range(0, len(batch), _LOOKUP):
            chunk = batch[at : at + _LOOKUP]
            known = self.find_subscribers([row[2] for row in chunk])
            hashes = (
                {}
                if forgotten is None
                else {row[1]: forgotten(row[1]) for row in chunk if row[1] not in known}
            )
            gone = self.forgotten_among(list(hashes.values())) if hashes else set()
            for _, key, email, row_name, row_locale, row_tags, status in chunk:
                existing = known.get(key)
                if existing is None and hashes.get(key) in gone:
                    report.kept_suppressed += 1  # forgotten: only a new sign-up brings it back
                    continue
                if existing is None:
                    tags = json_tags(row_tags.split()) if row_tags else "[]"
                    locale = row_locale or default_locale
                    added.append((email, key, row_name, locale, tags, status, source, stamp, stamp))
                    changes.append((None, key, None, status, source, stamp))
                    report.added += 1
                    continue
                if existing.status in SUPPRESSED:
                    report.kept_suppressed += 1
                    continue
                if existing.status == "unconfirmed":  # anyone can sign up any address: a list cannot
                    report.kept_unconfirmed += 1  # confirm it for them, nor bring back the forgotten
                    continue
                name = existing.name or row_name
                locale = row_locale or existing.locale  # a locale in the file is the reader's choice
                tags = json_tags((*existing.tags, *row_tags.split()))
                if (name, locale, tags, status) == (
                    existing.name,
                    existing.locale,
                    json_tags(existing.tags),
                    existing.status,
                ):
                    report.unchanged += 1
                    continue
                if status != existing.status:
                    changes.append((existing.id, key, existing.status, status, source, stamp))
                updates.append((name, locale, tags, status, stamp, existing.id))
                report.updated += 1
        self._write_batch(added, changes, updates, grant)

    def _write_batch(
        self,
        added: list[tuple[str, str, str, str, str, str, str, str, str]],
        changes: list[tuple[int | None, str, str | None, str, str, str]],
        updates: list[tuple[str, str, str, str, str, int]],
        grant: _Grant | None = None,
    ) -> None:
        """Inside the batch's transaction. A status change is (subscriber id, or None for one added
        here, key, old status, new status, detail, stamp); the ids of the added are read back, and
        `grant` gives each of them its consent."""
        ids: dict[str, int] = {}
        if added:
            (before,) = self.connection.execute("SELECT coalesce(max(id), 0) FROM subscribers").fetchone()
            self.connection.executemany(
                "INSERT INTO subscribers (email, email_key, name, locale, tags, status, source, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                added,
            )
            # Every row past the largest id before is one of these; SQLite numbers them so unless the
            # largest id ever used is the largest it can store: then they are looked up by key.
            ids = dict(
                self.connection.execute("SELECT email_key, id FROM subscribers WHERE id > ?", (before,))
            )
            if len(ids) == len(added):
                if grant is not None:  # one statement for the batch: no row of it passes through Python
                    self.add_import_consents_after(
                        before, source=grant.source, text_id=grant.text_id, stamp=grant.stamp
                    )
            else:
                ids = {}
                keys = [row[1] for row in added]
                for at in range(0, len(keys), _LOOKUP):
                    chunk = keys[at : at + _LOOKUP]
                    marks = ",".join("?" * len(chunk))
                    ids.update(
                        self.connection.execute(
                            f"SELECT email_key, id FROM subscribers WHERE email_key IN ({marks})", chunk
                        )
                    )
                if grant is not None:
                    self.add_import_consents(
                        ids.values(), source=grant.source, text_id=grant.text_id, stamp=grant.stamp
                    )
        self.connection.executemany(
            "INSERT INTO status_changes (subscriber_id, old_status, new_status, source, detail, at)"
            " VALUES (?, ?, ?, 'import', ?, ?)",
            [
                (ids[key] if subscriber_id is None else subscriber_id, old, new, detail, at)
                for subscriber_id, key, old, new, detail, at in changes
            ],
        )
        self.connection.executemany(
            "UPDATE subscribers SET name = ?, locale = ?, tags = ?, status = ?, updated_at = ? WHERE id = ?",
            updates,
        )
