"""The subscriber database as a file: created private, and every way of not getting at it turned into
a user error that names the file and the setting that put it there.

The file holds personal data, so it is created readable and writable by its owner only (0600),
whatever the umask says. SQLite would create it 0644 minus the umask; it gives the files beside it
(`-wal` and `-shm`, for the WAL journal the store uses, or a `-journal`) the mode of the database
file, so creating that file first makes them private too. An existing file keeps its mode: an owner
who shares it on purpose (say, with the website's unsubscribe handler through a group) decides.

SQLite's errors about the file (a folder where the file should be, a read-only place, another
process holding the write lock) reach the user as `DatabaseUnavailable` or `DatabaseBusy`, one
paragraph each, instead of a traceback.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from newsletter.errors import NewsletterError

SETTING = "[audience] database in newsletter.toml"
# How long a writer waits for another to finish. The sending threads and the website's unsubscribe
# handler hold the lock for milliseconds, an import of 100,000 rows for a few seconds. Longer means
# someone holds it on purpose (an open `sqlite3` shell, say), and waiting on does not help. A send
# waits longer (run.py): nobody sits at it waiting, and giving up would stop the whole run.
BUSY_TIMEOUT = 5.0
MODE = 0o600

_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_UNAVAILABLE = {
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_PERM,
    sqlite3.SQLITE_AUTH,
    sqlite3.SQLITE_IOERR,
}


class DatabaseUnavailable(NewsletterError):
    """The subscriber database cannot be created, opened or written: fix the path or the permissions."""


class DatabaseBusy(NewsletterError):
    """Another process held the database's write lock longer than the busy timeout: try again."""


def unavailable(path: Path, problem: str) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"cannot use the subscriber database: {problem}",
        path=path,
        hint=f"{SETTING} names this file; point it at a file in a folder you can write to",
    )


def busy(path: Path, timeout: float) -> DatabaseBusy:
    return DatabaseBusy(
        f"the subscriber database is busy: another process has held its write lock for over {timeout:g} s",
        path=path,
        hint="try again in a moment; if it stays busy, look for a program that has the file open",
    )


def full(path: Path) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        "the disk that holds the subscriber database is full",
        path=path,
        hint="free some space, then run the same command again: what was written before is kept, "
        "and a send goes on with those still pending",
    )


def create_private(path: Path) -> None:
    """Make sure `path` can be the database file: create its folder and, when there is no file yet,
    an empty one with mode 0600 (SQLite takes an empty file as an empty database)."""
    if path.is_dir():
        raise unavailable(path, "this is a folder, not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unavailable(path, f"cannot create its folder: {_reason(exc)}") from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, MODE)
    except FileExistsError:
        return
    except OSError as exc:
        raise unavailable(path, f"cannot create it: {_reason(exc)}") from None
    try:
        os.fchmod(fd, MODE)  # the umask may have taken away more (0o277 would leave it unwritable)
    finally:
        os.close(fd)


def explain(exc: sqlite3.Error, path: Path, busy_timeout: float = BUSY_TIMEOUT) -> NewsletterError | None:
    """The user error an SQLite error about the file amounts to, or None for any other error (a bug,
    or a constraint the caller handles)."""
    code = getattr(exc, "sqlite_errorcode", -1) & 0xFF  # extended codes keep the primary code below
    if code in _BUSY:
        return busy(path, busy_timeout)
    if code == sqlite3.SQLITE_FULL:
        return full(path)
    if code in _UNAVAILABLE:
        return unavailable(path, str(exc))
    if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        return NewsletterError(f"not a usable subscriber database: {exc}", path=path)
    return None


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
