"""Reading the store in tests: the store's own queries, for a store or a database file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from newsletter.project.settings import open_project
from newsletter.store import Location, StatusChange, Store, Subscriber, using
from newsletter.store.database import database_location


def database(project: Path) -> Location:
    """The project's store as its commands find it: the sample's SQLite file, or the PostgreSQL
    database the `both_engines` fixture named in its newsletter.toml."""
    return database_location(open_project(project))


def select(
    target: Store | Location,
    *,
    locale: str | None = None,
    tags: Sequence[str] = (),
    status: str | None = "active",
) -> list[Subscriber]:
    with using(target) as store:
        return store.select(locale=locale, tags=tags, status=status)


def count(target: Store | Location) -> dict[tuple[str, str], int]:
    with using(target) as store:
        return store.count()


def history(target: Store | Location) -> list[StatusChange]:
    with using(target) as store:
        return store.history()


def query(project: Path, sql: str, parameters: Sequence[object] = ()) -> list[tuple[object, ...]]:
    """Rows of a query of the test's own (`?` parameters) on the project's store, on either engine."""
    with using(database(project)) as store:
        return [tuple(row) for row in store.connection.execute(sql, tuple(parameters)).fetchall()]


def break_database(project: Path) -> None:
    """Make the project's store unusable under a running server: an SQLite file becomes a folder; a
    PostgreSQL database is dropped, its sessions ended."""
    location = database(project)
    if isinstance(location, Path):
        location.unlink()
        location.mkdir()
        return
    import psycopg

    server, _, name = location.url.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
