"""The store's two engines (sqlite_engine.py, postgres_engine.py): the same tables, the same queries,
a PostgreSQL URL's password kept out of newsletter.toml and out of every message."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest

from newsletter.project.environment import Secrets
from newsletter.project.settings import open_project
from newsletter.store import PostgresDatabase, connect, database_location
from newsletter.store.location import masked
from newsletter.store.postgres_engine import translate
from newsletter.store.schema import SCHEMA_VERSION
from tests.conftest import Run, write
from tests.store_util import history, select


def test_parameters_become_psycopgs_and_quoted_text_is_left_alone() -> None:
    assert (
        translate("SELECT * FROM t WHERE a = ? AND b = :name")
        == "SELECT * FROM t WHERE a = %s AND b = %(name)s"
    )
    assert translate("SELECT '?', 'a:b', 'it''s ?' || ?") == "SELECT '?', 'a:b', 'it''s ?' || %s"
    assert translate("SELECT x::text, 5 % 2 FROM t") == "SELECT x::text, 5 %% 2 FROM t"


def test_a_password_is_masked_wherever_the_url_is_shown() -> None:
    url = "postgresql://anna:geheim@db.example.nl:5432/lezers?password=ook&sslmode=require"
    assert masked(url) == "postgresql://anna:***@db.example.nl:5432/lezers?password=***&sslmode=require"
    database = PostgresDatabase(url)
    assert "geheim" not in f"{database} {database!r}" and "ook" not in str(database)


def columns_sqlite(path: Path) -> dict[str, set[str]]:
    with connect(path) as store:
        tables = [
            row[0] for row in store.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        return {t: {row[1] for row in store.connection.execute(f"PRAGMA table_info({t})")} for t in tables}


def columns_postgres(url: str) -> dict[str, set[str]]:
    with connect(PostgresDatabase(url)) as store:
        rows = store.connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        ).fetchall()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found


def test_both_engines_have_the_same_tables_and_columns(tmp_path: Path, postgres_url: str) -> None:
    """schema_postgres.py makes at once what schema.py's scripts make one by one: neither drifts."""
    on_sqlite = columns_sqlite(tmp_path / "db.sqlite3")
    on_postgres = columns_postgres(postgres_url)
    assert on_postgres.pop("newsletter_schema") == {"version"}
    assert on_postgres == on_sqlite


def test_the_schema_is_made_once_and_a_newer_one_is_refused(postgres_url: str) -> None:
    connect(PostgresDatabase(postgres_url)).close()
    connect(PostgresDatabase(postgres_url)).close()  # the second open finds it made
    with psycopg.connect(postgres_url, autocommit=True) as raw:
        assert raw.execute("SELECT version FROM newsletter_schema").fetchall() == [(SCHEMA_VERSION,)]
        raw.execute("UPDATE newsletter_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(
        Exception, match=f"has schema version {SCHEMA_VERSION + 1}; this newsletter knows up to"
    ):
        connect(PostgresDatabase(postgres_url))


def test_the_history_trigger_catches_an_unrecorded_change_on_postgresql(postgres_url: str) -> None:
    with connect(PostgresDatabase(postgres_url)) as store:
        with store.transaction():
            reader = store.add_subscriber(
                "jan@example.org", name="", locale="nl", tags=(), status="active", source="t", stamp="x"
            )
        store.connection.execute(
            "UPDATE subscribers SET status = 'unsubscribed', updated_at = 'y' WHERE id = ?", (reader,)
        )
        [_, caught] = history(store)
    assert (caught.old_status, caught.new_status, caught.source) == ("active", "unsubscribed", "other")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://anna:geheim@db.example.nl/lezers",
        "postgres://anna@db.example.nl/lezers?password=geheim",
        "postgres://anna@db.example.nl/lezers?pass%77ord=geheim",  # libpq decodes the key
        "postgresql://anna:ge heim@db.example.nl/lezers",
        "postgresql://anna:ge@heim@db.example.nl/lezers",
        "host=db.example.nl dbname=lezers password=geheim",
    ],
)
def test_a_password_in_newsletter_toml_is_refused_without_showing_it(
    project: Path, run: Run, url: str
) -> None:
    settings = project / "newsletter.toml"
    settings.write_text(settings.read_text() + f'\n[audience]\ndatabase = "{url}"\n')
    result = run("status", "2026-12-schrijven")
    assert result.exit_code == 2
    assert "the URL holds a password" in result.output and "NEWSLETTER_DATABASE_URL" in result.output
    assert "heim" not in result.output


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://anna:ge heim@127.0.0.1:{port}/lezers",
        "postgresql://anna:ge@heim@127.0.0.1:{port}/lezers",
        "host=127.0.0.1 port={port} dbname=lezers password=geheim",
        "postgresql://anna:geh%eim@127.0.0.1:{port}/lezers",  # libpq quotes the token it cannot read
    ],
)
def test_odd_urls_in_the_environment_never_show_their_password(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", url.format(port=port))
    result = run("status", "2026-12-schrijven")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "cannot use the subscriber database" in result.output
    assert "heim" not in result.output and "geh" not in result.output


def test_an_environment_url_that_is_not_postgresqls_is_refused(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", "audience.sqlite3")
    result = run("status", "2026-12-schrijven")
    assert result.exit_code == 2
    assert "NEWSLETTER_DATABASE_URL is not a PostgreSQL URL" in result.output


def test_an_unreachable_server_is_a_user_error_naming_the_database_not_its_password(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"postgresql://anna:geheim@127.0.0.1:{port}/lezers")
    write(project / "a.csv", "email\nanna@example.nl\n")
    result = run("audience", "import", str(project / "a.csv"), "--consent", "testlijst")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert (
        f"cannot use the subscriber database postgresql://anna:***@127.0.0.1:{port}/lezers" in result.output
    )
    assert "PGPASSWORD" in result.output and "geheim" not in result.output


def test_the_url_in_the_environment_wins_over_the_setting(
    project: Path, run: Run, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", postgres_url)
    assert database_location(open_project(project)) == PostgresDatabase(postgres_url)
    assert database_location(open_project(project, Secrets())) == project / "audience.sqlite3"
    write(project / "a.csv", "email\nanna@example.nl\n")
    assert run("audience", "import", str(project / "a.csv"), "--consent", "testlijst").exit_code == 0
    assert not (project / "audience.sqlite3").exists()
    assert [s.email for s in select(PostgresDatabase(postgres_url))] == ["anna@example.nl"]


def test_transactions_read_what_was_committed_whatever_the_databases_default(postgres_url: str) -> None:
    """A REPEATABLE READ or SERIALIZABLE default would take a transaction's snapshot before its turn
    came, and miss what the writer before it committed: the engine asks for READ COMMITTED."""
    with psycopg.connect(postgres_url, autocommit=True) as raw:
        name = raw.execute("SELECT current_database()").fetchone()
        assert name is not None
        raw.execute(f"ALTER DATABASE \"{name[0]}\" SET default_transaction_isolation = 'serializable'")
    with connect(PostgresDatabase(postgres_url)) as store:
        for begin in (store.transaction, store.row_transaction):
            with begin():
                (level,) = store.connection.execute("SHOW transaction_isolation").fetchone()
                assert level == "read committed"
