"""The PostgreSQL engine: the store's queries on a server that several machines share.

psycopg 3 talks to the server. The queries are the ones SQLite runs (base.py); this connection
rewrites their `?` and `:name` parameters into psycopg's `%s` and `%(name)s` once per query text.

Write transactions take turns here too: each begins by taking one transaction-level advisory lock,
as SQLite's BEGIN IMMEDIATE takes its write lock. So every read-then-write of the store (a reader's
status checked before their row is marked `sending`, an order's event applied once) means on
PostgreSQL exactly what it means on SQLite, and the tests that prove it on one prove it on both.
The transactions are milliseconds long; reads never wait; PostgreSQL queues the waiting writers in
order, so a long import's batches let a one-click unsubscribe in between (`let_writers_in` has
nothing left to do). A writer waits `busy_timeout` at most (`lock_timeout`), then the user is told.

The schema is versioned in the table `newsletter_schema`, brought up to date under a session-level
advisory lock on first use, as the SQLite file is (schema_postgres.py).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from newsletter.errors import NewsletterError, password_of, without_passwords
from newsletter.store.database_file import DatabaseBusy, DatabaseUnavailable
from newsletter.store.location import PostgresDatabase
from newsletter.store.schema import SCHEMA_VERSION, newer_schema
from newsletter.store.schema_postgres import CREATE, FIRST_VERSION, MIGRATIONS

_BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED"
# A session idle inside a transaction this long (a frozen laptop, a lost network) is ended by the
# server, so that its locks do not hold up every writer; ours never idle more than a moment.
IDLE_IN_TRANSACTION_MS = 60_000
# TCP keepalives, so that a server that vanished is noticed in a minute, not after two hours.
KEEPALIVES = "keepalives=1 keepalives_idle=30 keepalives_interval=10 keepalives_count=3"

# Advisory lock keys (any bigint; these spell "nl-write" and "nl-schema" in ASCII).
WRITE_LOCK = 0x6E6C2D7772697465
SCHEMA_LOCK = 0x6E6C2D736368656D
CONNECT_TIMEOUT = 10  # seconds to reach the server
SETTING = "[audience] database in newsletter.toml (or NEWSLETTER_DATABASE_URL)"

# A quoted literal is copied as it is; a `?`, a `:name` (not a `::` cast) or a `%` is rewritten.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\?|(?<!:):([A-Za-z_]\w*)|%")


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite's parameters as psycopg's, and a literal `%` doubled."""

    def swap(found: re.Match[str]) -> str:
        text = found.group(0)
        if text.startswith("'"):
            return text
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        return f"%({found.group(1)})s"

    return _TOKENS.sub(swap, sql)


class PostgresConnection:
    """The sqlite3-like face the queries use, over a psycopg connection in autocommit mode."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Any = (), /) -> psycopg.Cursor[Any]:
        return self.raw.execute(translate(sql), _params(parameters))

    def executemany(self, sql: str, parameters: Any, /) -> psycopg.Cursor[Any]:
        cursor = self.raw.cursor()
        cursor.executemany(translate(sql), [_params(row) for row in parameters])
        return cursor

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


def _params(parameters: Any) -> Any:
    return parameters if isinstance(parameters, dict) else tuple(parameters)


class PostgresEngine:
    name = "postgresql"
    rowid = "ctid"
    skip_locked = " FOR UPDATE SKIP LOCKED"  # rows another transaction is taking are not waited for
    clock = """to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""

    def __init__(
        self, connection: PostgresConnection, database: PostgresDatabase, busy_timeout: float
    ) -> None:
        self.connection = connection
        self.database = database
        self.busy_timeout = busy_timeout

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # One round trip: a query without parameters may hold two statements. READ COMMITTED
        # whatever the database's default: each statement then sees what the writers before it
        # committed, which is what taking turns is for (a REPEATABLE READ snapshot would be taken
        # before the lock is granted, and miss them).
        with self._transaction(f"{_BEGIN}; SELECT pg_advisory_xact_lock({WRITE_LOCK})"):
            yield

    @contextmanager
    def row_transaction(self) -> Iterator[None]:
        """For writes whose every decision is in their statements' own conditions: no store-wide
        lock, only the rows' (the send log's hot path, so that senders do not queue for one lock)."""
        with self._transaction(_BEGIN):
            yield

    @contextmanager
    def local_transaction(self) -> Iterator[None]:
        with self._transaction(_BEGIN):
            yield

    def let_writers_in(self) -> None:
        """Nothing to do: PostgreSQL grants a lock to its waiters in the order they asked."""

    def relax_durability(self) -> None:
        """`synchronous_commit = off`: a commit survives a killed process at once; a crash of the
        server can take back its last fraction of a second, which the send log is made for."""
        self.connection.raw.execute("SET synchronous_commit = off")

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """One holder at a time of `name` among every process using the database: a session-level
        advisory lock, which the server drops when the holder's connection goes."""
        raw = self.connection.raw
        try:
            raw.execute("SET lock_timeout = 0")  # wait as long as the holder needs
            raw.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (name,))
            raw.execute(f"SET lock_timeout = {int(self.busy_timeout * 1000)}")
        except psycopg.Error as exc:
            raise (explain(exc, self.database, self.busy_timeout) or exc) from None
        try:
            yield
        finally:
            if not raw.closed:
                raw.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (name,))

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[None]:
        try:
            self.connection.raw.execute(begin)
            try:
                yield
            except BaseException:
                self._roll_back()
                raise
            self.connection.raw.execute("COMMIT")
        except psycopg.Error as exc:
            self._roll_back()
            raise (explain(exc, self.database, self.busy_timeout) or exc) from None

    def _roll_back(self) -> None:
        """What a failed transaction did is undone; on a connection that broke, the server did it."""
        with contextlib.suppress(psycopg.Error):
            if not self.connection.raw.closed and self.connection.in_transaction:
                self.connection.raw.execute("ROLLBACK")


def connect_postgres(
    database: PostgresDatabase, busy_timeout: float, *, create: bool = True
) -> tuple[PostgresConnection, PostgresEngine] | None:
    """Connect, wait at most `busy_timeout` for any lock, and bring the schema up to date; None
    when the database has no store yet and `create` is false (what only reads makes nothing)."""
    try:
        given = conninfo_to_dict(database.url).get("options") or ""
        settings = f"-c lock_timeout={int(busy_timeout * 1000)} -c idle_in_transaction_session_timeout"
        raw = psycopg.connect(
            make_conninfo(KEEPALIVES, **conninfo_to_dict(database.url)),  # the URL's own win
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT,
            # with the URL's own options, if any; set at the start, not in a round trip of its own
            options=f"{given} {settings}={IDLE_IN_TRANSACTION_MS}".strip(),
        )
    except psycopg.Error as exc:
        raise unavailable(database, _first_line(exc)) from None
    connection = PostgresConnection(raw)
    try:
        if not create and _version(raw) == 0:
            raw.close()
            return None
        _migrate(raw, database)
    except psycopg.Error as exc:
        raw.close()
        raise (explain(exc, database, busy_timeout) or _unusable(database, exc)) from None
    except BaseException:
        raw.close()
        raise
    return connection, PostgresEngine(connection, database, busy_timeout)


def _migrate(raw: psycopg.Connection[Any], database: PostgresDatabase) -> None:
    """The schema made on first use, and the scripts a database has not had yet, under a session
    lock: the first requests of several servers, arriving together, must not run a step twice."""
    if _version(raw) == SCHEMA_VERSION:
        return
    raw.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
    try:
        version = _version(raw)
        if version > SCHEMA_VERSION:
            raise newer_schema(version, str(database))
        with raw.transaction():
            if version == 0:
                raw.execute(CREATE)  # no parameters: the script goes as it is
                raw.execute("CREATE TABLE newsletter_schema (version BIGINT NOT NULL)")
                raw.execute("INSERT INTO newsletter_schema VALUES (%s)", (FIRST_VERSION,))
                version = FIRST_VERSION
            for number in range(version, SCHEMA_VERSION):
                raw.execute(MIGRATIONS[number - FIRST_VERSION])
                raw.execute("UPDATE newsletter_schema SET version = %s", (number + 1,))
    finally:
        raw.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def _version(raw: psycopg.Connection[Any]) -> int:
    """The schema's version, 0 before it was made: one round trip on every open."""
    try:
        row = raw.execute("SELECT version FROM newsletter_schema").fetchone()
    except errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0


def explain(exc: BaseException, database: PostgresDatabase, busy_timeout: float) -> NewsletterError | None:
    """The user error a PostgreSQL error about the database amounts to, or None for any other."""
    if isinstance(exc, errors.LockNotAvailable | errors.DeadlockDetected | errors.SerializationFailure):
        return DatabaseBusy(
            f"the subscriber database {database} is busy: another process has held its write lock "
            f"for over {busy_timeout:g} s",
            hint="try again in a moment; if it stays busy, look for a session that holds a "
            "transaction open (pg_stat_activity)",
        )
    if isinstance(exc, errors.QueryCanceled | errors.IdleInTransactionSessionTimeout):
        return DatabaseBusy(
            f"the subscriber database {database} ended a statement: {_first_line(exc)}",
            hint="run the same command again; a statement_timeout set for this role may be too short",
        )
    if isinstance(exc, errors.DiskFull):
        return DatabaseUnavailable(
            f"the disk of the database server of {database} is full",
            hint="free some space, then run the same command again: what was written before is kept",
        )
    if isinstance(exc, errors.InsufficientPrivilege | psycopg.OperationalError):
        return unavailable(database, _first_line(exc))
    return None


def unavailable(database: PostgresDatabase, problem: str) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"cannot use the subscriber database {database}: {_hiding_password(problem, database)}",
        hint=f"{SETTING} names it; check that the server runs and lets this user in and create tables "
        "(the password comes from PGPASSWORD, ~/.pgpass or NEWSLETTER_DATABASE_URL)",
    )


def _unusable(database: PostgresDatabase, exc: psycopg.Error) -> NewsletterError:
    return NewsletterError(f"not a usable subscriber database {database}: {_first_line(exc)}")


def _hiding_password(problem: str, database: PostgresDatabase) -> str:
    """libpq's words, without the password: it quotes a URL's token it cannot read as it is."""
    secret = password_of(database.url)
    # libpq may read a password with an `@` or a space in it otherwise than meant, and quote a part
    # of it as the host: each part is hidden wherever it shows.
    for part in sorted({secret, *re.split(r"[@\s]+", secret)}, key=len, reverse=True):
        if part and part in problem:
            if len(part) < 4:  # masking each occurrence would garble the message
                return "libpq could not use the URL (its words are left out: they quote the password)"
            problem = problem.replace(part, "***")
    return without_passwords(problem)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
