"""Every change of a subscriber's status, with where it came from and when: the `status_changes` table.

A status decides who is mailed, so "why is this reader bounced?" must have an answer months later:
an import of which file, a one-click unsubscribe, a bounce report, a webhook. The functions that
change a status (`audience.suppress_all`, the CSV import, the bounce import) write the row
themselves, with their `source` (a word from SOURCES, or `webhook:<service>`) and a `detail` (the
file, the SMTP status, the report).

A writer that does not (an UPDATE added somewhere later, or a tool outside this package) is still
caught: a trigger records such a change with source `other`. It fires only when no row for exactly
that change was written first, which is why `change_status` writes the history before the update.
A new subscriber's first row has no old status.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

# The sources this package writes; webhooks add `webhook:<service>` (webhook:ses, webhook:postmark).
SOURCES = ("import", "suppress", "one-click", "bounce", "complaint", "mailto", "send", "other")

SCHEMA = """
CREATE TABLE status_changes (
    id INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
    old_status TEXT,
    new_status TEXT NOT NULL,
    source TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE INDEX status_changes_subscriber ON status_changes (subscriber_id, id);
CREATE TRIGGER status_changes_unrecorded AFTER UPDATE OF status ON subscribers
WHEN OLD.status IS NOT NEW.status AND NOT EXISTS (
    SELECT 1 FROM status_changes WHERE subscriber_id = NEW.id AND old_status IS OLD.status
        AND new_status = NEW.status AND at = NEW.updated_at
)
BEGIN
    INSERT INTO status_changes (subscriber_id, old_status, new_status, source, detail, at)
    VALUES (NEW.id, OLD.status, NEW.status, 'other', 'not recorded by the code that changed it',
            NEW.updated_at);
END;
"""


@dataclass(frozen=True)
class StatusChange:
    subscriber_id: int
    email: str
    old_status: str | None
    new_status: str
    source: str
    detail: str
    at: str


def record(
    connection: sqlite3.Connection,
    subscriber_id: int,
    old_status: str | None,
    new_status: str,
    *,
    source: str,
    detail: str = "",
    stamp: str,
) -> None:
    """One history row. Call it before the UPDATE it describes, in the same transaction, with the
    same stamp as the row's updated_at: then the fallback trigger knows the change is recorded."""
    connection.execute(
        "INSERT INTO status_changes (subscriber_id, old_status, new_status, source, detail, at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (subscriber_id, old_status, new_status, source, detail, stamp),
    )


def change_status(
    connection: sqlite3.Connection,
    subscriber_id: int,
    old_status: str,
    new_status: str,
    *,
    source: str,
    detail: str = "",
    stamp: str,
) -> None:
    """Set a status and record why, as one step for callers that change nothing else."""
    record(connection, subscriber_id, old_status, new_status, source=source, detail=detail, stamp=stamp)
    connection.execute(
        "UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ?", (new_status, stamp, subscriber_id)
    )


_SELECT = (
    "SELECT c.id, c.subscriber_id, s.email, c.old_status, c.new_status, c.source, c.detail, c.at"
    " FROM status_changes c JOIN subscribers s ON s.id = c.subscriber_id"
)


def _change(row: tuple[object, ...]) -> StatusChange:
    _, subscriber_id, email, old, new, source, detail, at = row
    return StatusChange(
        int(str(subscriber_id)),
        str(email),
        None if old is None else str(old),
        str(new),
        str(source),
        str(detail),
        str(at),
    )


def history(connection: sqlite3.Connection, subscriber_ids: list[int] | None = None) -> list[StatusChange]:
    """The changes in the order they happened, of some subscribers or (None) of all."""
    if subscriber_ids is None:
        rows = connection.execute(_SELECT + " ORDER BY c.id").fetchall()
    else:
        rows = []
        for start in range(0, len(subscriber_ids), 500):
            chunk = subscriber_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += connection.execute(_SELECT + f" WHERE c.subscriber_id IN ({marks})", chunk).fetchall()
        rows.sort(key=lambda row: int(str(row[0])))
    return [_change(row) for row in rows]


def last_changes(connection: sqlite3.Connection) -> dict[int, StatusChange]:
    """Each subscriber's latest change: what `audience list` shows beside the status."""
    rows = connection.execute(
        _SELECT + " WHERE c.id IN (SELECT MAX(id) FROM status_changes GROUP BY subscriber_id)"
    ).fetchall()
    return {change.subscriber_id: change for change in map(_change, rows)}
