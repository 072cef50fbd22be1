"""The subscriber store: one SQLite file that owns every SQL statement of the project.

The store is one SQLite file in the project (`[audience] database`, default `audience.sqlite3`),
created on first use, private to its owner (database_file.py, which also turns SQLite's complaints
about the file into user errors). Its schema is versioned with `PRAGMA user_version`; schema.py
holds one script per version, and an older file is brought up to date on open.

`Store` is put together from one mixin per table group: subscribers (subscribers.py), their status
history (history.py), list imports (imports.py), the send log (sendlog.py), the bounce import's
records (bounce_records.py), what a campaign's recipients did (funnel.py), proof of consent and
the forgotten (consent.py), sign-ups with their limits (signups.py), and the orders paid through the
campaigns' Payment Links (orders.py), and A/B tests (ab_tests.py). Every query takes and
returns plain data; nothing outside this package touches a connection, so a second engine can come
in behind the same methods.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.errors import NewsletterError
from newsletter.store.ab_tests import ABTests
from newsletter.store.addresses import email_key
from newsletter.store.base import open_announcement
from newsletter.store.bounce_records import BounceRecords
from newsletter.store.database_file import BUSY_TIMEOUT, create_private, explain
from newsletter.store.funnel import Reports
from newsletter.store.imports import Imports
from newsletter.store.orders import Orders
from newsletter.store.schema import MIGRATIONS, SCHEMA_VERSION
from newsletter.store.signups import Signups

if TYPE_CHECKING:
    from newsletter.project.settings import Project


class Store(Imports, Signups, Orders, ABTests, Reports, BounceRecords):
    """An open subscriber store: every query of the project, on one connection."""

    def __enter__(self) -> Store:
        return self


def database_path(project: Project) -> Path:
    return project.root / project.settings.audience.database


def open_store(project: Project) -> Store:
    """The project's store, created (with its folder) on first use."""
    return connect(database_path(project))


def open_existing(project: Project) -> Store | None:
    """The project's store if it exists: what only reads (status, a dry run) must not create it."""
    path = database_path(project)
    return connect(path) if path.exists() else None


def connect(path: Path, *, busy_timeout: float | None = None) -> Store:
    """Open (or create, mode 0600) the store at `path` and bring its schema up to date. Writers on
    several connections (senders, imports, the website) take turns, each waiting `busy_timeout`
    (default BUSY_TIMEOUT)."""
    busy_timeout = BUSY_TIMEOUT if busy_timeout is None else busy_timeout
    create_private(path)
    try:
        connection = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout)
    except sqlite3.Error as exc:
        raise (explain(exc, path, busy_timeout) or exc) from None
    try:
        connection.create_function("email_key", 1, email_key, deterministic=True)
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise NewsletterError(
                f"the subscriber database has schema version {version}; this newsletter knows "
                f"up to {SCHEMA_VERSION}",
                path=path,
                hint="upgrade newsletter",
            )
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
    return Store(connection, path, busy_timeout)


def _migrate(connection: sqlite3.Connection, path: Path) -> None:
    """The scripts the file has not had yet, each in its own transaction, under an exclusive lock of
    the writers' announcement file (base.py), the version read again once it is held: the first
    requests to a new server, arriving together, each open the store, and only one may run a step.
    (A script cannot test the version itself, and `executescript` commits any transaction first.)"""
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


@contextmanager
def using(target: Store | Path) -> Iterator[Store]:
    """The store itself, or one opened (and closed again) for a path: callers may pass either."""
    if isinstance(target, Store):
        yield target
    else:
        with connect(target) as store:
            yield store
