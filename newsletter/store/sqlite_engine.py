"""The SQLite engine: one file, opened per connection, its writers taking turns fairly.

Writers take turns through SQLite's write lock, and SQLite's busy handler is no queue: a writer that
waits sleeps up to 100 ms between tries, so one that commits batch after batch (an import of a
million rows) would win the lock again and again while a one-click unsubscribe waits for seconds. So
every transaction first announces itself with a shared `flock` on a file beside the database
(`<database>.writers`), and a long writer lets the announced ones in between its batches
(`let_writers_in`: an exclusive lock it takes and drops at once, which waits while any is announced).
A short write waits for one batch at most. The kernel drops a dead process's locks.

The schema is versioned with `PRAGMA user_version`; schema.py holds one script per version, and an
older file is brought up to date on open.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from newsletter.errors import NewsletterError
from newsletter.store.addresses import email_key
from newsletter.store.database_file import create_private, explain, unavailable
from newsletter.store.schema import MIGRATIONS, SCHEMA_VERSION, newer_schema


class SqliteEngine:
    name = "sqlite"
    rowid = "rowid"
    skip_locked = ""  # a write transaction has the whole file: nothing to skip
    clock = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"  # UTC, as timestamp() writes it

    def __init__(self, connection: sqlite3.Connection, path: Path, busy_timeout: float) -> None:
        self.connection = connection
        self.path = path
        self.busy_timeout = busy_timeout
        self._writers = -1  # the announcement file, opened on the first transaction

    def close(self) -> None:
        self.connection.close()
        if self._writers >= 0:
            os.close(self._writers)
            self._writers = -1

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE takes the write lock up front, so readers never wait on us."""
        writers = self._announcement()
        fcntl.flock(writers, fcntl.LOCK_SH)
        try:
            yield from self._transaction("BEGIN IMMEDIATE")
        finally:
            fcntl.flock(writers, fcntl.LOCK_UN)

    def row_transaction(self) -> AbstractContextManager[None]:
        """SQLite has one write lock for the whole file: the same as `transaction`."""
        return self.transaction()

    @contextmanager
    def local_transaction(self) -> Iterator[None]:
        """A deferred BEGIN locks nothing of the store while only temporary tables are written:
        SQLite then writes their pages out once, at the commit."""
        yield from self._transaction("BEGIN")

    def let_writers_in(self) -> None:
        writers = self._announcement()
        fcntl.flock(writers, fcntl.LOCK_EX)
        fcntl.flock(writers, fcntl.LOCK_UN)

    def relax_durability(self) -> None:
        """`synchronous = NORMAL`: only a power loss can take the last commits back."""
        self.connection.execute("PRAGMA synchronous = NORMAL")

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """One holder at a time of `name`, waiting for the one before: an exclusive `flock` of the
        file `<database>.<name>.lock` beside the database, dropped by the kernel when its holder dies."""
        lock = self.path.with_name(f"{self.path.name}.{name}.lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise unavailable(
                self.path, f"cannot create {lock.name} beside it: {exc.strerror or exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # and with it the lock

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

    def _transaction(self, begin: str) -> Iterator[None]:
        try:
            self.connection.execute(begin)
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


def connect_sqlite(path: Path, busy_timeout: float) -> tuple[sqlite3.Connection, SqliteEngine]:
    """Open (or create, mode 0600) the file at `path` and bring its schema up to date."""
    create_private(path)
    try:
        connection = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout)
    except sqlite3.Error as exc:
        raise (explain(exc, path, busy_timeout) or exc) from None
    try:
        connection.create_function("email_key", 1, email_key, deterministic=True)
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise newer_schema(version, str(path), path)
        connection.execute("PRAGMA journal_mode = WAL")
        if version < SCHEMA_VERSION:
            _migrate(connection, path)
        # On only now: a migration that makes a table anew (7) must drop the old one first, which
        # SQLite refuses while rows elsewhere refer to it. The pragma is a no-op inside a transaction.
        connection.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        connection.close()
        problem = explain(exc, path, busy_timeout)
        raise problem or NewsletterError(f"not a usable subscriber database: {exc}", path=path) from None
    except BaseException:
        connection.close()
        raise
    return connection, SqliteEngine(connection, path, busy_timeout)


def _migrate(connection: sqlite3.Connection, path: Path) -> None:
    """The scripts the file has not had yet, each in its own transaction, under an exclusive lock of
    the writers' announcement file, the version read again once it is held: the first requests to a
    new server, arriving together, each open the store, and only one may run a step. (A script cannot
    test the version itself, and `executescript` commits any transaction first.)"""
    fd = open_announcement(path.with_name(path.name + ".writers"), path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        for number in range(version, SCHEMA_VERSION):
            connection.executescript(
                f"BEGIN IMMEDIATE; {MIGRATIONS[number]}; PRAGMA user_version = {number + 1}; COMMIT;"
            )
    finally:
        os.close(fd)  # and with it the lock


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
