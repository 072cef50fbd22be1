"""An open connection to the subscriber database and its transactions: what every part of the store
builds on. The queries themselves are the mixins beside this module, one per table group, put
together as `Store` in database.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from newsletter.store.database_file import BUSY_TIMEOUT, explain


class StoreBase:
    """One connection to the store. Use as a context manager: the connection is closed on exit."""

    def __init__(
        self, connection: sqlite3.Connection, path: Path, busy_timeout: float = BUSY_TIMEOUT
    ) -> None:
        self.connection = connection
        self.path = path
        self.busy_timeout = busy_timeout

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> StoreBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: BEGIN IMMEDIATE takes the write lock up front, so readers never wait on us.
        A lock held elsewhere too long, or a file that cannot be written, is a user error. Queries
        called inside take part in it."""
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise (explain(exc, self.path, self.busy_timeout) or exc) from None
        try:
            yield
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

    def relax_durability(self) -> None:
        """`synchronous = NORMAL` on this connection: a commit survives a killed process, and only a
        power loss can take the last ones back. The sender's choice: its rows say what to resend."""
        self.connection.execute("PRAGMA synchronous = NORMAL")


def timestamp(now: datetime | None) -> str:
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
