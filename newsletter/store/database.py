"""The subscriber store: every SQL statement of the project, on SQLite or PostgreSQL.

`[audience] database` names the store: an SQLite file in the project (default `audience.sqlite3`,
created on first use, private to its owner: database_file.py), or a PostgreSQL database by its URL
(location.py), which several machines share. Each engine keeps its schema up to date on open
(sqlite_engine.py, postgres_engine.py); the queries are the same on both (base.py).

`Store` is put together from one mixin per table group: subscribers (subscribers.py), their status
history (history.py), list imports (imports.py), the send log (sendlog.py) and its senders'
leases (leases.py), the bounce import's records (bounce_records.py), what a campaign's recipients did
(funnel.py), proof of consent and the forgotten (consent.py), sign-ups with their limits
(signups.py), the orders paid through the campaigns' Payment Links (orders.py), and A/B tests
(ab_tests.py). Every query takes and returns plain data; nothing outside this package touches a
connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.store.ab_tests import ABTests
from newsletter.store.bounce_records import BounceRecords
from newsletter.store.database_file import BUSY_TIMEOUT
from newsletter.store.funnel import Reports
from newsletter.store.imports import Imports
from newsletter.store.location import Location, PostgresDatabase, locate
from newsletter.store.orders import Orders
from newsletter.store.signups import Signups

if TYPE_CHECKING:
    from newsletter.project.settings import Project


class Store(Imports, Signups, Orders, ABTests, Reports, BounceRecords):
    """An open subscriber store: every query of the project, on one connection."""

    def __enter__(self) -> Store:
        return self


def database_location(project: Project) -> Location:
    """The project's store: NEWSLETTER_DATABASE_URL when set, else `[audience] database`."""
    return locate(project.settings.audience.database, project.root, project.secrets.database_url)


def open_store(project: Project) -> Store:
    """The project's store, created (with its folder, or its tables) on first use."""
    return connect(database_location(project))


def open_existing(project: Project) -> Store | None:
    """The project's store if it exists: what only reads (status, a dry run) must not create it."""
    location = database_location(project)
    if isinstance(location, PostgresDatabase):
        return _connect(location, BUSY_TIMEOUT, create=False)
    return connect(location) if location.exists() else None


def connect(location: Location, *, busy_timeout: float | None = None) -> Store:
    """Open (or create) the store at `location` and bring its schema up to date. Writers on several
    connections (senders, imports, the website) take turns, each waiting `busy_timeout` (default
    BUSY_TIMEOUT)."""
    store = _connect(location, BUSY_TIMEOUT if busy_timeout is None else busy_timeout, create=True)
    assert store is not None  # made when missing
    return store


def _connect(location: Location, busy_timeout: float, *, create: bool) -> Store | None:
    if isinstance(location, Path):
        from newsletter.store.sqlite_engine import connect_sqlite

        return Store(*connect_sqlite(location, busy_timeout))
    from newsletter.store.postgres_engine import connect_postgres  # psycopg only when asked for

    opened = connect_postgres(location, busy_timeout, create=create)
    return None if opened is None else Store(*opened)


@contextmanager
def using(target: Store | Location) -> Iterator[Store]:
    """The store itself, or one opened (and closed again) for a location: callers may pass either."""
    if isinstance(target, Store):
        yield target
    else:
        with connect(target) as store:
            yield store
