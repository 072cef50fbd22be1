"""What the bounce import remembers between runs, so that importing the same files again changes nothing.

`bounce_reports` holds the key of every report already applied: its Message-ID (or, without one, a
hash of its bytes), or the id the email service gave its notification. A report seen before is
skipped as a whole. `soft_bounces` holds one row per (address, report) for transient failures, so
the count towards `[bounces] soft_bounce_limit` is of distinct reports, whichever run brought them.
"""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE bounce_reports (
    key TEXT PRIMARY KEY,
    origin TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE soft_bounces (
    email_key TEXT NOT NULL,
    report_key TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    PRIMARY KEY (email_key, report_key)
);
"""


def seen(connection: sqlite3.Connection, key: str) -> bool:
    return connection.execute("SELECT 1 FROM bounce_reports WHERE key = ?", (key,)).fetchone() is not None


def remember(connection: sqlite3.Connection, key: str, origin: str, stamp: str) -> None:
    connection.execute("INSERT OR IGNORE INTO bounce_reports VALUES (?, ?, ?)", (key, origin, stamp))


def add_soft_bounce(
    connection: sqlite3.Connection, key: str, report_key: str, detail: str, stamp: str
) -> int:
    """Count one transient failure of an address (once per report); returns its count so far."""
    connection.execute(
        "INSERT OR IGNORE INTO soft_bounces VALUES (?, ?, ?, ?)", (key, report_key, detail, stamp)
    )
    found = connection.execute("SELECT COUNT(*) FROM soft_bounces WHERE email_key = ?", (key,)).fetchone()
    return int(found[0])
