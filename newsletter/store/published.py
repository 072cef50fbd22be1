"""Which campaigns went out, from the send log, for the static site (site/writer.py).

A campaign counts as sent once at least one reader's row in the log is `sent`; the first `sent_at`
is its send date. The database is opened read-only, through SQLite's own `mode=ro`: a build must
never create the file (no file means nothing was sent), migrate it, or take the write lock a
running send needs. Only the standard library is imported, so that an unchanged `newsletter build`
can ask on every run. A PostgreSQL store is asked through the store itself, without creating it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from newsletter.store.database_file import unavailable
from newsletter.store.location import Location

_QUERY = (
    "SELECT campaign, MIN(sent_at) FROM sends WHERE state = 'sent' AND sent_at IS NOT NULL GROUP BY campaign"
)


def first_sends(database: Location) -> dict[str, str]:
    """Campaign id -> the UTC timestamp (`2026-12-02T09:00:00Z`) of its first delivered message.

    Empty without a database file, or with one from before the send log existed.
    """
    if not isinstance(database, Path):
        from newsletter.store.postgres_engine import connect_postgres

        opened = connect_postgres(database, 5.0, create=False)
        if opened is None:
            return {}
        server, engine = opened
        try:
            return {str(campaign): str(stamp) for campaign, stamp in server.execute(_QUERY)}
        finally:
            engine.close()
    if not database.is_file():
        return {}
    try:
        connection = sqlite3.connect(database.resolve().as_uri() + "?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise unavailable(database, str(exc)) from None
    try:
        found = connection.execute(_QUERY).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # schema version 1: subscribers only, nothing ever sent
            return {}
        raise unavailable(database, str(exc)) from None
    except sqlite3.DatabaseError as exc:
        raise unavailable(database, f"not a usable subscriber database: {exc}") from None
    finally:
        connection.close()
    return {str(campaign): str(stamp) for campaign, stamp in found}
