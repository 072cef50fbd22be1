"""Every change of a subscriber's status, with where it came from and when: the `status_changes` table.

A status decides who is mailed, so "why is this reader bounced?" must have an answer months later:
an import of which file, a one-click unsubscribe, a bounce report, a webhook. The queries that
change a status (`suppress_all`, the CSV import, the bounce import) write the row themselves, with
their `source` (a word from SOURCES, or `webhook:<service>`) and a `detail` (the file, the SMTP
status, the report). A writer that does not is still caught by a trigger (schema.py), which is why
`change_status` writes the history before the update. A new subscriber's first row has no old status.
"""

from __future__ import annotations

from dataclasses import dataclass

from newsletter.store.base import StoreBase

# The sources this package writes; webhooks add `webhook:<service>` (webhook:ses, webhook:postmark).
SOURCES = (
    "import",
    "suppress",
    "one-click",
    "bounce",
    "complaint",
    "mailto",
    "send",
    "signup",
    "confirmation",
    "preferences",
    "forget",
    "other",
)


@dataclass(frozen=True)
class StatusChange:
    subscriber_id: int
    email: str
    old_status: str | None
    new_status: str
    source: str
    detail: str
    at: str


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


class History(StoreBase):
    def record_change(
        self,
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
        self.connection.execute(
            "INSERT INTO status_changes (subscriber_id, old_status, new_status, source, detail, at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (subscriber_id, old_status, new_status, source, detail, stamp),
        )

    def change_status(
        self,
        subscriber_id: int,
        old_status: str,
        new_status: str,
        *,
        source: str,
        detail: str = "",
        stamp: str,
    ) -> None:
        """Set a status and record why, as one step for callers that change nothing else."""
        self.record_change(subscriber_id, old_status, new_status, source=source, detail=detail, stamp=stamp)
        self.connection.execute(
            "UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ?",
            (new_status, stamp, subscriber_id),
        )

    def history(self, subscriber_ids: list[int] | None = None) -> list[StatusChange]:
        """The changes in the order they happened, of some subscribers or (None) of all."""
        if subscriber_ids is None:
            rows = self.connection.execute(_SELECT + " ORDER BY c.id").fetchall()
        else:
            rows = []
            for start in range(0, len(subscriber_ids), 500):
                chunk = subscriber_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += self.connection.execute(
                    _SELECT + f" WHERE c.subscriber_id IN ({marks})", chunk
                ).fetchall()
            rows.sort(key=lambda row: int(str(row[0])))
        return [_change(row) for row in rows]

    def last_changes(self) -> dict[int, StatusChange]:
        """Each subscriber's latest change: what `audience list` shows beside the status."""
        rows = self.connection.execute(
            _SELECT + " WHERE c.id IN (SELECT MAX(id) FROM status_changes GROUP BY subscriber_id)"
        ).fetchall()
        return {change.subscriber_id: change for change in map(_change, rows)}
