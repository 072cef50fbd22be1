"""An open connection to the subscriber database and its transactions: what every part of the store
builds on. The queries themselves are the mixins beside this module, one per table group, put
together as `Store` in database.py.

Two engines stand behind the same queries (sqlite_engine.py, postgres_engine.py). The queries are
written once, in the SQL both understand (`ON CONFLICT`, `RETURNING`, `CASE` instead of SQLite's
two-argument `max()`), with `?` and `:name` parameters, which the PostgreSQL connection rewrites.
What differs is the engine's: how a write transaction takes its turn, how durable a commit is, and
what an error about the database means to the user.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol


class Cursor(Protocol):
    """What a query returns, on either engine."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The part of a DB-API connection the queries use: sqlite3's, or postgres_engine's wrapper."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Any, /) -> Cursor: ...


class Engine(Protocol):
    """What differs between SQLite and PostgreSQL beyond the SQL itself."""

    name: str  # "sqlite" or "postgresql"
    rowid: str  # the column naming a row physically: SQLite's rowid, PostgreSQL's ctid
    skip_locked: str  # what a claim's SELECT adds to pass over rows being claimed elsewhere
    clock: str  # SQL for the database's time, as `timestamp()` writes it

    def transaction(self) -> AbstractContextManager[None]: ...

    def row_transaction(self) -> AbstractContextManager[None]:
        """A write whose decisions are all in its statements' conditions: it needs no turn of its own
        beyond the rows it changes (on PostgreSQL; SQLite's lock is the whole file's)."""
        ...

    def local_transaction(self) -> AbstractContextManager[None]:
        """A transaction that only touches this connection's temporary tables: it locks nobody out."""
        ...

    def let_writers_in(self) -> None: ...

    def relax_durability(self) -> None: ...

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """One holder at a time of `name`, across processes and machines; the next one waits."""
        ...

    def close(self) -> None: ...


class StoreBase:
    """One connection to the store. Use as a context manager: the connection is closed on exit."""

    def __init__(self, connection: Connection, engine: Engine) -> None:
        self.connection = connection
        self.engine = engine

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> StoreBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> AbstractContextManager[None]:
        """All or nothing, and writers take turns: the write lock is taken up front (SQLite's
        BEGIN IMMEDIATE, an advisory lock on PostgreSQL), so what a transaction reads stays true until
        it commits. A lock held elsewhere too long, or a database that cannot be written, is a user
        error. Queries called inside take part in it."""
        return self.engine.transaction()

    def row_transaction(self) -> AbstractContextManager[None]:
        """All or nothing, for writes that decide nothing in Python between a read and a write: each
        statement's own conditions (`WHERE sender = ? AND state = ?`) say whether it applies. On
        PostgreSQL it takes no store-wide lock, so the senders of a campaign, on several machines,
        do not queue for one; on SQLite it is `transaction`."""
        return self.engine.row_transaction()

    def let_writers_in(self) -> None:
        """Between the batches of a long write: let the transactions waiting meanwhile go first.
        Call it outside a transaction."""
        self.engine.let_writers_in()

    def relax_durability(self) -> None:
        """A commit survives a killed process, and only a crash of the machine (or of the database
        server) can take the last ones back. The sender's choice: its rows say what to resend."""
        self.engine.relax_durability()


def timestamp(now: datetime | None) -> str:
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
