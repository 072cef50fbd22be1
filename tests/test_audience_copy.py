"""`newsletter audience copy --to ...`: the whole store into a new, empty database (newsletter/store/
copying.py), through the command line and the Python API.

The source here is the sample project's SQLite file with rows in every table; the target a new
PostgreSQL database of the test server (tests/conftest.py: skipped without PostgreSQL unless CI is
set), or a new SQLite file.
"""

from __future__ import annotations

import stat
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

import newsletter
from newsletter.audience.unsubscribe import make_token
from newsletter.errors import NewsletterError
from newsletter.store import Location, Order, PostgresDatabase, connect, copying, using
from newsletter.store.copying import TABLES, copy_store
from tests.conftest import Run, write
from tests.store_util import history, select

SECRET = "test-secret-for-the-copy-0123456789abcdef"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
STAMP = "2026-12-01T09:30:00Z"
CAMPAIGN = "2026-12-schrijven"
READERS = """email,name,locale,tags
piet@example.nl,"Jansen, Piet",nl,vip
anna@example.org,Anna de Vries,nl,
jo@example.com,Jo Smith,en,klant
els@example.nl,Els,nl,
wim@example.nl,Wim,nl,
"""


@pytest.fixture
def source(project: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sample project's SQLite store with rows in every table: readers imported with their
    consent, one unsubscribed, one forgotten, a send log, an A/B test, a sender's lease, bounce
    records, sign-up limits and orders with a refund. Returns the database file."""
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL", raising=False)
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    readers = write(project / "lezers.csv", READERS)
    assert run("audience", "import", str(readers), "--consent", "testlijst").exit_code == 0
    assert run("audience", "suppress", str(write(project / "weg.txt", "anna@example.org\n"))).exit_code == 0
    assert run("audience", "forget", "wim@example.nl", "--yes").exit_code == 0
    database = project / "audience.sqlite3"
    with connect(database) as store:
        readers_now = store.select(status=None)
        store.enqueue(CAMPAIGN, readers_now, NOW, variants={s.id: "A" for s in readers_now}, in_test=True)
        with store.transaction():
            store.start_test(CAMPAIGN, 0.2, STAMP)
        store.take_lease("lease-1", CAMPAIGN)
        store.remember_report("<report-1@mx.example.org>", "mailbox", STAMP)
        store.add_soft_bounce("els@example.nl", "<report-1@mx.example.org>", "452 mailbox full", STAMP)
        store.record_event("signup", "192.0.2.1", STAMP)
        store.use_challenge("challenge-1", expires="2026-12-02T00:00:00Z")
        piet = next(s for s in readers_now if s.email == "piet@example.nl")
        store.put_order(_order(piet.id), event_at=1_764_581_400, stamp=STAMP)
        store.put_refund("pi_1", 1000, event_at=1_764_581_500, stamp=STAMP)
        store.event_seen("evt_1", "checkout.session.completed", STAMP)
    assert all(dump(database).values()), "every table has rows, so every table's copy is tested"
    return database


def _order(subscriber_id: int) -> Order:
    return Order(
        session="cs_1",
        mode="test",
        payment_link="plink_A",
        campaign=CAMPAIGN,
        sku="schrijven-is-schrappen",
        subscriber_id=subscriber_id,
        reference=f"{CAMPAIGN}:{subscriber_id}",
        unit_amount=3495,
        quantity=1,
        amount=3495,
        currency="eur",
        payment_status="paid",
        payment_intent="pi_1",
        email="piet@example.nl",
        shipping_name="Piet Jansen",
        shipping_address={"city": "Utrecht", "country": "NL"},
        created_at=STAMP,
    )


def dump(location: Location) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, as column name to value, in an order of its own (so that the
    engines' column orders and row orders do not matter)."""
    found = {}
    with using(location) as store:
        for table in TABLES:
            cursor: Any = store.connection.execute(f"SELECT * FROM {table}")
            names = [column[0] for column in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            found[table] = sorted(rows, key=lambda row: repr(sorted(row.items())))
    return found


def counts(location: Location) -> dict[str, int]:
    return {table: len(rows) for table, rows in dump(location).items()}


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


# -- a copy ----------------------------------------------------------------------------------------


def test_every_table_is_copied_with_its_ids(source: Path, run: Run, postgres_url: str) -> None:
    result = run("audience", "copy", "--to", postgres_url)
    assert result.exit_code == 0, result.output
    target = PostgresDatabase(postgres_url)
    assert dump(target) == dump(source)
    assert select(target, status=None) == select(source, status=None)
    assert history(target) == history(source)
    lines = result.output.splitlines()
    assert lines[: len(TABLES)] == [
        f"{table}: {rows:,} row{'' if rows == 1 else 's'}" for table, rows in counts(source).items()
    ]
    total = sum(counts(source).values())
    assert lines[len(TABLES)] == (
        f"copied the subscriber store to {postgres_url} ({len(TABLES)} tables, {total:,} rows); "
        "point [audience] database at it"
    )
    assert len(lines) == len(TABLES) + 1  # no password, so no word about one


def test_the_copy_is_the_store_the_project_goes_on_with(
    source: Path, run: Run, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pointed at the copy, the project goes on where the file left off: an unsubscribe link already
    sent names the same reader, and new rows get new ids (the identity sequences moved past the ids
    copied) in every table that makes them."""
    piet = next(s for s in select(source) if s.email == "piet@example.nl")
    token = make_token(piet.email, CAMPAIGN, SECRET.encode(), piet.id)
    before = dump(source)
    assert run("audience", "copy", "--to", postgres_url).exit_code == 0
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", postgres_url)

    assert run("unsubscribe", "verify", token, "--apply").exit_code == 0
    assert [s.status for s in select(PostgresDatabase(postgres_url), status=None) if s.id == piet.id] == [
        "unsubscribed"
    ]
    newcomers = write(source.parent / "nieuw.csv", "email,name\nnieuw@example.nl,Nieuw\n")
    result = run("audience", "import", str(newcomers), "--consent", "a text never used before")
    assert result.exit_code == 0, result.output
    after = dump(PostgresDatabase(postgres_url))
    for table in ("subscribers", "status_changes", "consent_texts", "consents"):
        old = max(int(str(row["id"])) for row in before[table])
        new = sorted(int(str(row["id"])) for row in after[table])
        assert new[-1] > old and len(new) == len(set(new)), table
    assert max(int(str(row["id"])) for row in after["subscribers"]) == 1 + max(
        int(str(row["id"])) for row in before["subscribers"]
    )


def test_the_python_api_copies_and_says_what(source: Path, project: Path, postgres_url: str) -> None:
    seen: list[tuple[str, int]] = []
    copied = newsletter.open_project(project).copy_audience(
        postgres_url, on_table=lambda table, rows: seen.append((table, rows))
    )
    assert copied.target == PostgresDatabase(postgres_url)
    assert copied.tables == counts(source) and list(copied.tables) == list(TABLES)
    assert seen == list(copied.tables.items())
    assert copied.rows == sum(counts(source).values())


def test_a_new_sqlite_file_is_a_copy_too_and_back_again(
    source: Path, project: Path, run: Run, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """To PostgreSQL, then from it into a new file (a backup, or the way back), in batches of two
    rows, so that every table takes several and the PostgreSQL source is read by its cursor."""
    monkeypatch.setattr(copying, "BATCH", 2)
    assert run("audience", "copy", "--to", postgres_url).exit_code == 0
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", postgres_url)
    backup = tmp_path / "backup" / "audience.sqlite3"
    result = run("audience", "copy", "--to", str(backup))
    assert result.exit_code == 0, result.output
    assert f"copied the subscriber store to {backup} (" in result.output
    assert dump(backup) == dump(source)
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600  # personal data, as the project's own file


def test_a_relative_file_is_relative_to_the_current_folder(
    source: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert run("audience", "copy", "--to", "kopie.sqlite3").exit_code == 0
    assert dump(elsewhere / "kopie.sqlite3") == dump(source)


def test_every_table_of_the_schema_is_copied(engine_url: str | None, tmp_path: Path) -> None:
    """A table added to the schema but not to TABLES would be left behind by every copy."""
    location: Location = PostgresDatabase(engine_url) if engine_url else tmp_path / "new.sqlite3"
    with using(location) as store:
        if engine_url:
            sql = (
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                " AND table_name <> 'newsletter_schema'"
            )
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        tables = {str(row[0]) for row in store.connection.execute(sql)}
    assert tables == set(TABLES)


# -- refused ---------------------------------------------------------------------------------------


def test_a_target_with_rows_is_refused_and_left_alone(source: Path, run: Run, postgres_url: str) -> None:
    """Rows in any table count, not only subscribers: a store of its own is never mixed in."""
    target = PostgresDatabase(postgres_url)
    with connect(target) as store:
        store.event_seen("evt_other", "checkout.session.completed", STAMP)
    before = dump(target)

    result = run("audience", "copy", "--to", postgres_url)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert (
        f"the database {postgres_url} already holds a subscriber store (stripe_events: 1 row)"
        in result.output
    )
    assert "nothing was written to it" in result.output
    assert dump(target) == before


def test_copying_twice_is_refused_the_second_time(source: Path, run: Run, postgres_url: str) -> None:
    assert run("audience", "copy", "--to", postgres_url).exit_code == 0
    before = dump(PostgresDatabase(postgres_url))
    result = run("audience", "copy", "--to", postgres_url)
    assert result.exit_code == 2
    assert "already holds a subscriber store (subscribers: 5 rows, status_changes: " in result.output
    assert dump(PostgresDatabase(postgres_url)) == before


def test_the_project_store_cannot_be_copied_onto_itself(source: Path, run: Run, project: Path) -> None:
    before = dump(source)
    for spelling in (str(source), str(project / "x" / ".." / "audience.sqlite3")):
        result = run("audience", "copy", "--to", spelling)
        assert result.exit_code == 2
        assert "is the project's own subscriber database" in result.output
    assert dump(source) == before


def test_a_postgresql_store_cannot_be_copied_onto_itself(
    source: Path, run: Run, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("audience", "copy", "--to", postgres_url).exit_code == 0
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", postgres_url)
    before = dump(PostgresDatabase(postgres_url))
    for spelling in (postgres_url, with_password(postgres_url, "s3cret")):
        result = run("audience", "copy", "--to", spelling)
        assert result.exit_code == 2
        assert "is the project's own subscriber database" in result.output
        assert "s3cret" not in result.output
    # A spelling that hides it (the database as a parameter) is still refused: it holds rows.
    parts = urlsplit(postgres_url)
    hidden = urlunsplit(parts._replace(path="/", query=f"dbname={parts.path.strip('/')}"))
    result = run("audience", "copy", "--to", hidden)
    assert result.exit_code == 2
    assert "already holds a subscriber store" in result.output
    assert dump(PostgresDatabase(postgres_url)) == before


def test_without_a_store_there_is_nothing_to_copy(run: Run, project: Path, tmp_path: Path) -> None:
    result = run("audience", "copy", "--to", str(tmp_path / "kopie.sqlite3"))
    assert result.exit_code == 2
    assert "there is no subscriber database yet" in result.output
    assert not (tmp_path / "kopie.sqlite3").exists()
    assert not (project / "audience.sqlite3").exists()


# -- a copy that fails -----------------------------------------------------------------------------


def test_a_copy_that_fails_halfway_leaves_the_target_empty(
    source: Path, run: Run, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consents before their texts: PostgreSQL refuses the first consent (a foreign key), after
    subscribers, their history and the send log went in; all of it is taken back."""
    order = list(TABLES)
    order.remove("consent_texts")
    order.append("consent_texts")
    monkeypatch.setattr(copying, "TABLES", tuple(order))
    result = run("audience", "copy", "--to", postgres_url)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "subscribers: 5 rows" in result.output  # it did get that far
    assert f"cannot copy the table consents into the database {postgres_url}: " in result.output
    assert "foreign key" in result.output and "nothing was written to it" in result.output
    assert not any(counts(PostgresDatabase(postgres_url)).values())

    monkeypatch.setattr(copying, "TABLES", TABLES)  # and the same copy again works
    assert run("audience", "copy", "--to", postgres_url).exit_code == 0
    assert dump(PostgresDatabase(postgres_url)) == dump(source)


def test_rows_that_do_not_add_up_are_not_committed(
    source: Path, run: Run, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row lost on the way (here: the first of the send log, dropped by a broken reader) is caught
    by the counts, and nothing is committed."""
    read = copying._read

    def lossy(store: Any, sql: str) -> Generator[Any, None, None]:
        rows = read(store, sql)
        if sql.endswith("FROM sends"):
            next(rows)
        yield from rows

    monkeypatch.setattr(copying, "_read", lossy)
    result = run("audience", "copy", "--to", postgres_url)
    assert result.exit_code == 2
    sends = counts(source)["sends"]
    problem = f"the copy of the table sends does not add up: the source has {sends} rows, {sends - 1} were"
    assert problem in result.output
    assert not any(counts(PostgresDatabase(postgres_url)).values())


def test_a_failed_sqlite_copy_leaves_the_file_empty(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same into an SQLite file, through the store alone: its foreign keys are checked too."""
    order = [table for table in TABLES if table != "consent_texts"]
    monkeypatch.setattr(copying, "TABLES", (*order, "consent_texts"))
    target = tmp_path / "kopie.sqlite3"
    refused = pytest.raises(
        NewsletterError, match=r"^cannot copy the table consents into the target database: "
    )
    with connect(source) as store, connect(target) as copy, refused:
        copy_store(store, copy)
    monkeypatch.setattr(copying, "TABLES", TABLES)
    assert not any(counts(target).values())


def test_a_column_the_target_lacks_stops_the_copy(source: Path, run: Run, tmp_path: Path) -> None:
    """Whatever a source holds is copied, or the copy is refused: never a column silently left out."""
    with connect(source) as store:
        store.connection.execute("ALTER TABLE orders ADD COLUMN note TEXT")
    target = tmp_path / "kopie.sqlite3"
    result = run("audience", "copy", "--to", str(target))
    assert result.exit_code == 2
    assert f"the file {target} has no column note in its table orders" in result.output
    assert not any(counts(target).values())


# -- the password ----------------------------------------------------------------------------------


def test_a_password_in_the_url_is_never_shown(source: Path, run: Run, postgres_url: str) -> None:
    """The test server trusts its connections, so a password (any) still connects."""
    url = with_password(postgres_url, "s3cret")
    masked = with_password(postgres_url, "***")
    result = run("audience", "copy", "--to", url)
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    assert f"copied the subscriber store to {masked} (" in result.output
    assert "leave the password out of newsletter.toml" in result.output

    refused = run("audience", "copy", "--to", url)  # an error names the database too
    assert refused.exit_code == 2
    assert f"the database {masked} already holds" in refused.output
    assert "s3cret" not in refused.output

    parts = urlsplit(url)
    missing = run("audience", "copy", "--to", urlunsplit(parts._replace(path="/no_such_database")))
    assert missing.exit_code == 2
    assert "no_such_database" in missing.output and "s3cret" not in missing.output


def test_the_python_api_masks_it_too(source: Path, project: Path, postgres_url: str) -> None:
    copied = newsletter.open_project(project).copy_audience(with_password(postgres_url, "s3cret"))
    assert "s3cret" not in f"{copied.target} {copied.target!r} {copied!r}"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://newsletter:s3cret@[::1/nieuwsbrief", "--to: not a PostgreSQL URL: "),
        # libpq quotes the token it cannot decode: the password itself
        ("postgresql://newsletter:s3c%ret@127.0.0.1:1/nieuwsbrief", "invalid percent-encoded token: "),
        ("postgresql://newsletter:s3cret@127.0.0.1:1/nieuwsbrief", "Connection refused"),
        ("postgresql://newsletter@127.0.0.1:1/nieuwsbrief?password=s3cret", "Connection refused"),
    ],
    ids=["unreadable", "quoted-back", "no-server", "as-parameter"],
)
def test_a_target_that_cannot_be_used_is_named_without_its_password(
    source: Path, run: Run, url: str, problem: str
) -> None:
    result = run("audience", "copy", "--to", url)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert problem in result.output
    assert "s3c" not in result.output
    if "not a PostgreSQL URL" not in problem:
        assert "(--to names it; check that the server runs" in result.output
        assert "newsletter.toml" not in result.output  # the setting does not name it: --to does


def test_a_file_that_cannot_be_made_is_named_as_given(source: Path, run: Run, tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.sqlite3"
    folder.mkdir()
    result = run("audience", "copy", "--to", str(folder))
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {folder}: cannot use the subscriber database")
    assert "(--to names this file; give a file in a folder you can write to)" in result.output
