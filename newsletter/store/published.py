"""Which campaigns went out, from the send log, for the static site (site/writer.py).

A campaign counts as sent once at least one reader's row in the log is `sent`; the first `sent_at`
is its send date. The database is opened read-only, through SQLite's own `mode=ro`: a build must
never create the file (no file means nothing was sent), migrate it, or take the write lock a
running send needs. Only the standard library is imported, so that an unchanged `newsletter build`
can ask on every run.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from newsletter.store.database_file import unavailable


def first_sends(database: Path) -> dict[str, str]:
    """Campaign id -> the UTC timestamp (`2026-12-02T09:00:00Z`) of its first delivered message.

    Empty without a database file, or with one from before the send log existed.
    """
    if not database.is_file():
        return {}
    try:
        connection = sqlite3.connect(database.resolve().as_uri() + "?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise unavailable(database, str(exc)) from None
    try:
        found = connection.execute(
            "SELECT campaign, MIN(sent_at) FROM sends WHERE state = 'sent' AND sent_at IS NOT NULL "
            "GROUP BY campaign"
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # schema version 1: subscribers only, nothing ever sent
            return {}
        raise unavailable(database, str(exc)) from None
    except sqlite3.DatabaseError as exc:
        raise unavailable(database, f"not a usable subscriber database: {exc}") from None
    finally:
        connection.close()
    return {str(campaign): str(stamp) for campaign, stamp in found}
