"""What the bounce import remembers between runs, so that importing the same files again changes nothing.

`bounce_reports` holds the key of every report already applied: its Message-ID (or, without one, a
hash of its bytes), or the id the email service gave its notification. A report seen before is
skipped as a whole. `soft_bounces` holds one row per (address, report) for transient failures, so
the count towards `[bounces] soft_bounce_limit` is of distinct reports, whichever run brought them.
"""

from __future__ import annotations

from newsletter.store.base import StoreBase


class BounceRecords(StoreBase):
    def report_seen(self, key: str) -> bool:
        found = self.connection.execute("SELECT 1 FROM bounce_reports WHERE key = ?", (key,))
        return found.fetchone() is not None

    def remember_report(self, key: str, origin: str, stamp: str) -> None:
        self.connection.execute(
            "INSERT INTO bounce_reports VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (key, origin, stamp)
        )

    def add_soft_bounce(self, key: str, report_key: str, detail: str, stamp: str) -> int:
        """Count one transient failure of an address (once per report); returns its count so far."""
        self.connection.execute(
            "INSERT INTO soft_bounces VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (key, report_key, detail, stamp),
        )
        found = self.connection.execute(
            "SELECT COUNT(*) FROM soft_bounces WHERE email_key = ?", (key,)
        ).fetchone()
        return int(found[0])
