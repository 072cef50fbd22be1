"""The throw-away PostgreSQL server of tests/postgres_server.py: the store's PostgreSQL tests rely on
each database being a real, empty database of its own, so that is checked here, not assumed."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import errors

from tests.postgres_server import PostgresServer


def test_a_new_database_is_empty_utf8_and_keeps_what_is_committed(postgres_url: str) -> None:
    name = urlsplit(postgres_url).path.lstrip("/")
    with psycopg.connect(postgres_url) as connection:
        database, encoding = connection.execute(
            "SELECT current_database(), pg_encoding_to_char(encoding) FROM pg_database"
            " WHERE datname = current_database()"
        ).fetchone() or ("", "")
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        connection.execute("CREATE TABLE reader (email text PRIMARY KEY, name text NOT NULL)")
        connection.execute("INSERT INTO reader VALUES (%s, %s)", ("jan@example.org", "Jan Ørsted – ✓"))
    assert (database, encoding) == (name, "UTF8")
    assert tables == (0,)
    # A second connection (a second server process) sees the row: it is in the server, committed.
    with psycopg.connect(postgres_url) as again:
        assert again.execute("SELECT email, name FROM reader").fetchall() == [
            ("jan@example.org", "Jan Ørsted – ✓")
        ]


def test_two_databases_do_not_share_tables(postgres_server: PostgresServer) -> None:
    first = postgres_server.new_database()
    name = "named_" + first.rsplit("_", 1)[-1]  # unique, should the server be one that outlives us
    second = postgres_server.new_database(name)
    assert first != second
    with psycopg.connect(first) as connection:
        connection.execute("CREATE TABLE reader (email text)")
        connection.execute("INSERT INTO reader VALUES ('in-first@example.org')")
    with psycopg.connect(second) as connection:
        assert connection.execute("SELECT current_database()").fetchone() == (name,)
        with pytest.raises(errors.UndefinedTable):
            connection.execute("SELECT * FROM reader")
        connection.rollback()
        connection.execute("CREATE TABLE reader (email text)")
        connection.execute("INSERT INTO reader VALUES ('in-second@example.org')")
    with psycopg.connect(first) as connection:
        assert connection.execute("SELECT email FROM reader").fetchall() == [("in-first@example.org",)]
    with pytest.raises(errors.DuplicateDatabase):
        postgres_server.new_database(name)


def test_engine_url_is_none_for_sqlite_and_an_empty_database_for_postgresql(
    engine_url: str | None, request: pytest.FixtureRequest
) -> None:
    if request.node.callspec.id == "sqlite":
        assert engine_url is None
        return
    assert engine_url is not None
    parts = urlsplit(engine_url)
    with psycopg.connect(engine_url) as connection:
        row = connection.execute(
            "SELECT current_database(), current_user,"
            " (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')"
        ).fetchone()
    assert row == (parts.path.lstrip("/"), parts.username, 0)
    assert parts.path.lstrip("/") not in {"", "postgres", "template1"}
