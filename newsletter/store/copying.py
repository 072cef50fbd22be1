"""A whole store copied into another, empty one: how a project moves from its SQLite file to
PostgreSQL (`newsletter audience copy --to postgresql://...`), or back, or into a backup file.

Every table goes over as it is, ids included: the send log, the history, the consents and the orders
refer to subscribers by id, and so does every unsubscribe link already in a reader's inbox. The
tables go in the order their foreign keys need, in batches, all inside one transaction of the
target: a copy that fails anywhere (a row the target refuses, a lost connection, rows that do not
add up) leaves the target as empty as it was, and can simply be run again. Only an empty target is
written to, so that nothing of another store is ever mixed in or overwritten.

The source is read in one snapshot (SQLite's read transaction, PostgreSQL's REPEATABLE READ), so
the copy is of one moment even while a sender or the website writes on; what they write after that
moment stays behind in the source. On PostgreSQL the identity columns are then moved past the ids
copied, so the next subscriber added gets a new id instead of a duplicate-key error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from newsletter.errors import NewsletterError
from newsletter.store.base import StoreBase
from newsletter.store.location import Location, PostgresDatabase, locate

if TYPE_CHECKING:
    from newsletter.store.database import Store

# Every table of the schema (schema.py, schema_postgres.py), each after the tables it refers to.
TABLES = (
    "subscribers",
    "status_changes",
    "sends",
    "bounce_reports",
    "soft_bounces",
    "consent_texts",
    "consents",
    "forgotten",
    "signup_events",
    "used_challenges",
    "orders",
    "refunds",
    "stripe_events",
    "ab_tests",
    "senders",
)
# Rows per INSERT batch: large enough that a million rows take seconds, small enough to hold in memory.
BATCH = 5_000
_CURSOR = "newsletter_copy"  # the server-side cursor a PostgreSQL source is read with


def copy_store(
    source: StoreBase,
    target: StoreBase,
    *,
    target_name: str = "the target database",
    on_table: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Copy every table of `source` into the empty store `target`, in one transaction of the target;
    `on_table(table, rows)` after each table. Returns the rows copied per table, in the order copied.
    A target with any rows, or a copy whose counts do not match the source's, is a NewsletterError
    (naming `target_name`), and the target is left as it was."""
    problems = _database_errors(source, target)
    copied: dict[str, int] = {}
    with _snapshot(source), target.transaction():
        _refuse_rows(target, target_name)
        for table in TABLES:
            try:
                copied[table] = _copy_table(source, target, table, target_name)
            except problems as exc:
                raise NewsletterError(
                    f"cannot copy the table {table} into {target_name}: {_first_line(exc)}",
                    hint=f"nothing was written to it; {_AGAIN}",
                ) from None
            if on_table is not None:
                on_table(table, copied[table])
        _verify(source, target, copied, target_name)
        if target.engine.name == "postgresql":
            _move_identities(target)  # last: a sequence keeps its setval() through a rollback
    return copied


_AGAIN = "fix what the message says, then run the same copy again"


def copy_target(to: str | Location) -> Location:
    """Where `--to` points: a PostgreSQL database by its URL (a password in it is the user's own
    business on their command line, and is never shown), else an SQLite file, relative to the
    current folder as any path typed in a shell. A URL too broken to be shown masked is refused
    here, without being shown."""
    location = locate(to, Path()) if isinstance(to, str) else to
    if isinstance(location, PostgresDatabase):
        try:
            urlsplit(location.url).port  # noqa: B018 - what raises for a URL libpq would not read
        except ValueError as exc:
            raise NewsletterError(
                f"not a PostgreSQL URL: {exc}", field="--to", hint="postgresql://USER@HOST:PORT/DATABASE"
            ) from None
    return location


def open_target(target: Location) -> Store:
    """The target opened (made, with its tables, on first use), with what an error about it says
    fitted to a target given as `--to`: that names it, not the project's setting."""
    from newsletter.store.database import connect
    from newsletter.store.database_file import DatabaseUnavailable

    try:
        return connect(target)
    except NewsletterError as problem:
        message, hint = problem.message, problem.hint
        if isinstance(problem, DatabaseUnavailable):
            hint = (
                "--to names this file; give a file in a folder you can write to"
                if isinstance(target, Path)
                else "--to names it; check that the server runs and lets this user in and create tables"
                " (the password comes from the URL, PGPASSWORD or ~/.pgpass)"
            )
        raise NewsletterError(message, path=problem.path, field=problem.field, hint=hint) from None


def same_database(one: Location, other: Location) -> bool:
    """Whether two locations name one database, as far as their names tell: the same file, or the
    same database on the same server and port, whoever connects and however. What this misses (a
    server by two host names) is still refused, by the target's rows."""
    if isinstance(one, Path) and isinstance(other, Path):
        if one.exists() and other.exists():
            return os.path.samefile(one, other)
        return one.resolve() == other.resolve()
    if isinstance(one, PostgresDatabase) and isinstance(other, PostgresDatabase):
        return _server_and_name(one) == _server_and_name(other)
    return False


def _server_and_name(database: PostgresDatabase) -> tuple[str, int, str]:
    try:
        parts = urlsplit(database.url)
        port = parts.port or 5432
    except ValueError:  # a URL urllib cannot read: connecting says what is wrong with it
        return (database.url, -1, "")
    name = parts.path.strip("/") or parts.username or ""
    return ((parts.hostname or "").lower(), port, name)


@contextmanager
def _snapshot(store: StoreBase) -> Iterator[None]:
    """The source as of one moment: a read transaction, which blocks no writer on either engine (a
    deferred BEGIN in SQLite's WAL mode; REPEATABLE READ, which PostgreSQL's default is not)."""
    with store.engine.local_transaction():
        if store.engine.name == "postgresql":
            store.connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _refuse_rows(target: StoreBase, target_name: str) -> None:
    """Checked inside the target's write transaction, so nobody fills it between the check and the copy."""
    filled = {table: rows for table in TABLES if (rows := _count(target, table))}
    if filled:
        listed = ", ".join(f"{table}: {_rows(rows)}" for table, rows in filled.items())
        raise NewsletterError(
            f"{target_name} already holds a subscriber store ({listed}); a copy goes only into an empty one",
            hint="nothing was written to it; copy into a new, empty database: one made with createdb, "
            "or a new file",
        )


def _copy_table(source: StoreBase, target: StoreBase, table: str, target_name: str) -> int:
    """The source's columns, by name, into the target's: both engines made the same schema version,
    but a column the target lacks must stop the copy rather than lose what it holds."""
    columns, known = _columns(source, table), set(_columns(target, table))
    missing = [column for column in columns if column not in known]
    if missing:
        raise NewsletterError(
            f"{target_name} has no column {', '.join(missing)} in its table {table}",
            hint="nothing was written to it; copy with the newsletter version that made the source",
        )
    names = ", ".join(_quoted(column) for column in columns)
    insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
    total = 0
    with closing(_read(source, f"SELECT {names} FROM {table}")) as rows:
        while batch := list(islice(rows, BATCH)):
            target.connection.executemany(insert, batch)
            total += len(batch)
    return total


def _read(store: StoreBase, sql: str) -> Generator[Any, None, None]:
    """The rows of a query, fetched as they are needed: sqlite3 steps through them; psycopg would
    fetch them all at once, so a PostgreSQL source is read through a server-side cursor."""
    if store.engine.name != "postgresql":
        yield from store.connection.execute(sql)
        return
    from newsletter.store.postgres_engine import PostgresConnection

    assert isinstance(store.connection, PostgresConnection)
    with store.connection.raw.cursor(name=_CURSOR) as cursor:
        cursor.itersize = BATCH
        cursor.execute(sql)
        yield from cursor


def _columns(store: StoreBase, table: str) -> list[str]:
    if store.engine.name == "postgresql":
        found = store.connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
        return [str(row[0]) for row in found]
    return [str(row[1]) for row in store.connection.execute(f"PRAGMA table_info({_quoted(table)})")]


def _move_identities(target: StoreBase) -> None:
    """Each identity column's sequence past the largest id copied (`setval(seq, max)` makes the next
    id max + 1; an empty table's starts at 1 again), found from the catalogue so none is forgotten."""
    identities = target.connection.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY table_name"
    ).fetchall()
    for table, column in identities:
        target.connection.execute(
            f"SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max({_quoted(column)}), 1),"
            f" max({_quoted(column)}) IS NOT NULL) FROM {_quoted(table)}",
            (_quoted(table), column),
        )


def _verify(source: StoreBase, target: StoreBase, copied: dict[str, int], target_name: str) -> None:
    """Counted again on both sides, still inside both transactions: what the copy read, what it
    wrote and what the target now holds must be one number per table, or nothing is committed."""
    for table, rows in copied.items():
        expected, found = _count(source, table), _count(target, table)
        if not expected == rows == found:
            raise NewsletterError(
                f"the copy of the table {table} does not add up: the source has {_rows(expected)}, "
                f"{rows:,} were copied, {target_name} would hold {_rows(found)}",
                hint=f"nothing was written to it; {_AGAIN}",
            )


def _count(store: StoreBase, table: str) -> int:
    return int(store.connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _database_errors(*stores: StoreBase) -> tuple[type[Exception], ...]:
    """The exceptions that mean a database refused or lost a statement: sqlite3's, and psycopg's
    when either store is on PostgreSQL (imported only then, as the engine itself is)."""
    import sqlite3

    found: tuple[type[Exception], ...] = (sqlite3.Error,)
    if any(store.engine.name == "postgresql" for store in stores):
        import psycopg

        found += (psycopg.Error,)
    return found


def _quoted(name: str) -> str:
    """An identifier as both engines read it: in double quotes, any inside doubled."""
    return '"' + name.replace('"', '""') + '"'


def _rows(number: int) -> str:
    return f"{number:,} row" + ("" if number == 1 else "s")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
