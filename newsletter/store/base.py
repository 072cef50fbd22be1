"""An open connection to the subscriber database and its transactions: what every part of the store
builds on. The queries themselves are the mixins beside this module, one per table group, put
together as `Store` in database.py.

Writers take turns through SQLite's write lock, and SQLite's busy handler is no queue: a writer that
waits sleeps up to 100 ms between tries, so one that commits batch after batch (an import of a
million rows) would win the lock again and again while a one-click unsubscribe waits for seconds. So
every transaction first announces itself with a shared `flock` on a file beside the database
(`<database>.writers`), and a long writer lets the announced ones in between its batches
(`let_writers_in`: an exclusive lock it takes and drops at once, which waits while any is announced).
A short write waits for one batch at most. The kernel drops a dead process's locks.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from newsletter.store.database_file import BUSY_TIMEOUT, explain, unavailable


class StoreBase:
    """One connection to the store. Use as a context manager: the connection is closed on exit."""

    def __init__(
        self, connection: sqlite3.Connection, path: Path, busy_timeout: float = BUSY_TIMEOUT
    ) -> None:
        self.connection = connection
        self.path = path
        self.busy_timeout = busy_timeout
        self._writers = -1  # the announcement file, opened on the first transaction

    def close(self) -> None:
        self.connection.close()
        if self._writers >= 0:
            os.close(self._writers)
            self._writers = -1

    def __enter__(self) -> StoreBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: BEGIN IMMEDIATE takes the write lock up front, so readers never wait on us.
        A lock held elsewhere too long, or a file that cannot be written, is a user error. Queries
        called inside take part in it."""
        writers = self._announcement()
        fcntl.flock(writers, fcntl.LOCK_SH)
        try:
            yield from self._transaction()
        finally:
            fcntl.flock(writers, fcntl.LOCK_UN)

    def let_writers_in(self) -> None:
        """Between the batches of a long write: wait until the transactions announced meanwhile are
        done. Call it outside a transaction."""
        writers = self._announcement()
        fcntl.flock(writers, fcntl.LOCK_EX)
        fcntl.flock(writers, fcntl.LOCK_UN)

    def _announcement(self) -> int:
        if self._writers < 0:
            name = self.path.with_name(self.path.name + ".writers")
            try:
                self._writers = open_announcement(name, self.path)
            except OSError as exc:
                raise unavailable(
                    self.path, f"cannot open {name.name} beside it: {exc.strerror or exc}"
                ) from None
        return self._writers

    def _transaction(self) -> Iterator[None]:
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
        try:
            self.connection.execute("COMMIT")  # where a full disk shows: the WAL grows here
        except sqlite3.OperationalError as exc:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            raise (explain(exc, self.path, self.busy_timeout) or exc) from None

    def relax_durability(self) -> None:
        """`synchronous = NORMAL` on this connection: a commit survives a killed process, and only a
        power loss can take the last ones back. The sender's choice: its rows say what to resend."""
        self.connection.execute("PRAGMA synchronous = NORMAL")


def open_announcement(name: Path, database: Path) -> int:
    """The announcement file, opened read-only: `flock` needs no more, so a database shared with a
    group on purpose (the website's unsubscribe handler) works for every user who may write it. It is
    created with the database's mode, as SQLite creates the -wal and -shm files, whatever the umask;
    never through a symlink (O_EXCL), so no file elsewhere is made."""
    mode = stat.S_IMODE(os.stat(database).st_mode) & 0o666
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except FileExistsError:
        return os.open(name, os.O_RDONLY | os.O_CLOEXEC)
    os.fchmod(fd, mode)
    return fd


def timestamp(now: datetime | None) -> str:
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
