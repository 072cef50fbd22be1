"""The subscriber store and `newsletter audience list/count`: the database, addresses, selection.
Importing, suppressing and exporting files are tests/test_audience_importing.py."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from newsletter.errors import NewsletterError
from newsletter.store import Store, connect
from newsletter.store import database as audience
from newsletter.store.database_file import DatabaseUnavailable
from newsletter.store.schema import SCHEMA_VERSION
from newsletter.store.sqlite_engine import SqliteEngine
from tests.conftest import Run, write
from tests.store_util import count, history, select


def emails(project: Path, **filters: object) -> list[str]:
    return [s.email for s in select(project / "audience.sqlite3", **filters)]  # type: ignore[arg-type]


def statuses(project: Path) -> dict[str, str]:
    return {s.email: s.status for s in select(project / "audience.sqlite3", status=None)}


# -- the store itself -------------------------------------------------------------------------


def test_database_is_created_on_first_use_in_the_project_root(project: Path, run: Run) -> None:
    assert not (project / "audience.sqlite3").exists()
    result = run("audience", "count")
    assert result.exit_code == 0, result.output
    database = project / "audience.sqlite3"
    assert database.is_file()
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {
        "subscribers",
        "sends",
        "status_changes",
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
    }


def test_database_location_from_settings(project: Path, run: Run) -> None:
    settings = project / "newsletter.toml"
    settings.write_text(settings.read_text() + '\n[audience]\ndatabase = "data/lezers.sqlite3"\n')
    write(project / "a.csv", "email\nanna@example.nl\n")
    assert run("audience", "import", str(project / "a.csv"), "--consent", "testlijst").exit_code == 0
    assert (project / "data" / "lezers.sqlite3").is_file()
    assert not (project / "audience.sqlite3").exists()


# What schemas 7 to 10 added, taken away again to make a database of an earlier version.
WITHOUT_SENDERS = (
    "DROP TABLE senders; DROP INDEX sends_campaign_sender; ALTER TABLE sends DROP COLUMN sender; "
)
WITHOUT_AB_TESTS = WITHOUT_SENDERS + (
    "DROP TABLE ab_tests; ALTER TABLE sends DROP COLUMN variant; ALTER TABLE sends DROP COLUMN in_test; "
)
WITHOUT_ORDERS = WITHOUT_AB_TESTS + "DROP TABLE orders; DROP TABLE refunds; DROP TABLE stripe_events; "
WITHOUT_CONSENT = WITHOUT_ORDERS + (
    "DROP TABLE consents; DROP TABLE consent_texts; DROP TABLE forgotten; DROP TABLE signup_events; "
    "DROP TABLE used_challenges; DROP INDEX subscribers_unconfirmed; "
    "ALTER TABLE subscribers DROP COLUMN topics; "
)
WITHOUT_RETURN_TOKENS = WITHOUT_CONSENT + (
    "DROP INDEX sends_return_token; DROP INDEX sends_message_id; ALTER TABLE sends DROP COLUMN return_token; "
)


def test_a_database_from_before_the_key_change_is_migrated(project: Path, run: Run) -> None:
    """Schema 2 keyed addresses by casefold(); schema 3 by lower(), so fuß.de stays fuß.de."""
    database = project / "audience.sqlite3"
    write(project / "a.csv", "email\njan@fuß.de\n")
    run("audience", "import", str(project / "a.csv"), "--consent", "testlijst")
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE subscribers SET email_key = 'jan@fuss.de'")
        connection.executescript(  # what schema 2 did not have yet
            "DROP TRIGGER status_changes_unrecorded; DROP TABLE status_changes; DROP TABLE bounce_reports;"
            "DROP TABLE soft_bounces; " + WITHOUT_RETURN_TOKENS + "PRAGMA user_version = 2"
        )
    result = run("audience", "suppress", str(project / "a.csv"))
    assert result.exit_code == 0, result.output
    assert statuses(project) == {"jan@fuß.de": "unsubscribed"}
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT email_key FROM subscribers").fetchall() == [("jan@fuß.de",)]


def test_newer_schema_is_refused(project: Path) -> None:
    database = project / "db.sqlite3"
    with sqlite3.connect(database) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(NewsletterError, match="schema version"):
        connect(database)


def test_a_file_that_is_not_a_database_is_a_user_error(project: Path, run: Run) -> None:
    (project / "audience.sqlite3").write_text("hallo" * 100)
    result = run("audience", "count")
    assert result.exit_code == 2
    assert "audience.sqlite3: not a usable subscriber database" in result.stderr


# -- addresses --------------------------------------------------------------------------------


def test_only_case_makes_two_addresses_one(project: Path, run: Run) -> None:
    """casefold() would merge fuß.de with fuss.de, another domain."""
    write(project / "a.csv", "email\njan@fuss.de\nJAN@FUSS.DE\njan@fuß.de\n")
    result = run("audience", "import", str(project / "a.csv"), "--consent", "testlijst")
    assert "2 added" in result.output
    assert sorted(emails(project)) == ["jan@fuss.de", "jan@fuß.de"]


def test_internationalised_address_is_accepted_and_normalised(project: Path, run: Run) -> None:
    write(project / "a.csv", "email\nJörg@BÜCHER.de\n")
    assert run("audience", "import", str(project / "a.csv"), "--consent", "testlijst").exit_code == 0
    assert emails(project) == ["Jörg@bücher.de"]
    write(project / "b.csv", "email\njörg@xn--bcher-kva.de\n")
    result = run("audience", "import", str(project / "b.csv"), "--consent", "testlijst")
    assert "0 added, 0 updated, 1 unchanged" in result.output


# -- selecting and counting -------------------------------------------------------------------


@pytest.fixture
def filled(project: Path, run: Run) -> Path:
    write(
        project / "a.csv",
        "email,locale,tags\n"
        "a@example.nl,nl,poëzie proza\n"
        "b@example.nl,en,poëzie\n"
        "c@example.nl,nl,poëzie\n"
        "d@example.nl,nl,proza\n",
    )
    assert run("audience", "import", str(project / "a.csv"), "--consent", "testlijst").exit_code == 0
    write(project / "weg.txt", "c@example.nl\n")
    assert run("audience", "suppress", str(project / "weg.txt")).exit_code == 0
    return project


def test_select_by_locale_and_tags(filled: Path) -> None:
    assert emails(filled, locale="nl") == ["a@example.nl", "d@example.nl"]
    assert emails(filled, locale="nl", tags=("Poëzie",)) == ["a@example.nl"]
    assert emails(filled, tags=("poëzie",)) == ["a@example.nl", "b@example.nl"]
    assert emails(filled, tags=("poëzie", "proza")) == ["a@example.nl"]
    assert emails(filled, status="unsubscribed") == ["c@example.nl"]


def test_list_and_count(filled: Path, run: Run) -> None:
    result = run("audience", "list", "--locale", "nl", "--tag", "proza")
    assert result.exit_code == 0
    assert [line.split()[1] for line in result.output.splitlines()[1:]] == ["a@example.nl", "d@example.nl"]
    result = run("audience", "list", "--status", "all")
    assert len(result.output.splitlines()) == 5
    result = run("audience", "count")
    lines = [line.split() for line in result.output.splitlines()]
    assert lines[0] == ["status", "nl", "en", "total"]
    assert ["active", "2", "1", "3"] in lines
    assert ["unsubscribed", "1", "0", "1"] in lines
    assert lines[-1] == ["total", "3", "1", "4"]
    assert count(filled / "audience.sqlite3") == {
        ("active", "en"): 1,
        ("active", "nl"): 2,
        ("unsubscribed", "nl"): 1,
    }


# -- the file: private, and problems with it as user errors -------------------------------------


@pytest.fixture
def umask() -> Iterator[Callable[[int], int]]:
    """Set the process umask for a test, and put the old one back afterwards."""
    old = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o277], ids=["0000", "0022", "0277"])
def test_the_database_and_its_wal_files_are_readable_by_their_owner_only(
    project: Path, run: Run, umask: Callable[[int], int], mask: int
) -> None:
    umask(mask)
    write(project / "a.csv", "email\nanna@example.nl\n")
    assert run("audience", "import", str(project / "a.csv"), "--consent", "testlijst").exit_code == 0
    database = project / "audience.sqlite3"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    with connect(database) as store:  # WAL: -wal and -shm exist while a connection is open
        assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with store.transaction():
            store.connection.execute("UPDATE subscribers SET name = 'Anna'")
        beside = sorted(path.name for path in project.glob("audience.sqlite3-*"))
        assert beside == ["audience.sqlite3-shm", "audience.sqlite3-wal"]
        for name in beside:
            assert stat.S_IMODE((project / name).stat().st_mode) == 0o600, name


def test_an_existing_database_keeps_the_mode_its_owner_gave_it(project: Path, run: Run) -> None:
    """Shared with a group on purpose (say, the website's unsubscribe handler): not ours to undo."""
    assert run("audience", "count").exit_code == 0
    database = project / "audience.sqlite3"
    database.chmod(0o660)
    assert run("audience", "count").exit_code == 0
    assert stat.S_IMODE(database.stat().st_mode) == 0o660


def set_database(project: Path, value: str) -> None:
    settings = project / "newsletter.toml"
    settings.write_text(settings.read_text() + f'\n[audience]\ndatabase = "{value}"\n')


def assert_user_error(result: Result, *texts: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    [paragraph] = result.stderr.splitlines()  # one paragraph
    for text in texts:
        assert text in paragraph, paragraph


SETTING = "[audience] database in newsletter.toml names this file"


def test_a_database_setting_naming_a_folder_is_a_user_error(project: Path, run: Run) -> None:
    (project / "data").mkdir()
    set_database(project, "data")
    write(project / "a.csv", "email\nanna@example.nl\n")
    result = run("audience", "import", str(project / "a.csv"), "--consent", "testlijst")
    assert_user_error(result, "error: data: cannot use the subscriber database: this is a folder", SETTING)


def test_a_database_in_a_folder_that_cannot_be_made_is_a_user_error(project: Path, run: Run) -> None:
    set_database(project, "newsletter.toml/audience.sqlite3")
    result = run("audience", "count")
    where = "newsletter.toml/audience.sqlite3"
    assert_user_error(
        result, f"{where}: cannot use the subscriber database: cannot create its folder", SETTING
    )


def read_only_places() -> Iterator[object]:
    yield pytest.param(
        "read-only",
        marks=pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders"),
        id="read-only-folder",
    )
    yield pytest.param(
        "/sys/audience.sqlite3",
        marks=pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="no Linux sysfs"),
        id="sysfs",  # no file can be made there, not even by root
    )


@pytest.mark.parametrize("where", list(read_only_places()))
def test_a_database_in_a_read_only_place_is_a_user_error(project: Path, run: Run, where: str) -> None:
    if where == "read-only":
        (project / where).mkdir(mode=0o500)
        where = "read-only/audience.sqlite3"
    set_database(project, where)
    write(project / "a.csv", "email\nanna@example.nl\n")
    result = run("audience", "import", str(project / "a.csv"), "--consent", "testlijst")
    assert_user_error(
        result, "audience.sqlite3: cannot use the subscriber database: cannot create it", SETTING
    )


def test_a_database_another_process_is_writing_to_is_busy_try_again(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audience, "BUSY_TIMEOUT", 0.5)  # the real 5 s, shortened for the test
    write(project / "a.csv", "email\nanna@example.nl\n")
    assert run("audience", "import", str(project / "a.csv"), "--consent", "testlijst").exit_code == 0
    other = sqlite3.connect(project / "audience.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # the write lock, held
        started = time.monotonic()
        result = run("audience", "import", str(project / "a.csv"), "--consent", "testlijst")
        waited = time.monotonic() - started
    finally:
        other.close()
    assert_user_error(result, "audience.sqlite3: the subscriber database is busy", "try again")
    assert 0.5 <= waited < 5  # it waited its turn first, then gave up
    assert (
        run("audience", "import", str(project / "a.csv"), "--consent", "testlijst").exit_code == 0
    )  # and works once free


def test_writing_to_a_database_opened_read_only_is_a_user_error(project: Path) -> None:
    """What a read-only file does for a user who is not root (root may write to any file)."""
    database = project / "audience.sqlite3"
    connect(database).close()
    read_only = sqlite3.connect(f"file:{database}?mode=ro", uri=True, isolation_level=None)
    with (
        Store(read_only, SqliteEngine(read_only, database, 5.0)) as store,
        pytest.raises(DatabaseUnavailable) as raised,
    ):
        store.suppress_all(["anna@example.nl"], status="unsubscribed", default_locale="nl", stamp="x")
    assert "cannot use the subscriber database: attempt to write a readonly database" in str(raised.value)


# -- the status history ----------------------------------------------------------------------------


def changes(project: Path) -> list[tuple[str, str | None, str, str, str]]:
    return [
        (c.email, c.old_status, c.new_status, c.source, c.detail)
        for c in history(project / "audience.sqlite3")
    ]


def test_every_status_change_is_recorded_with_its_source(project: Path, run: Run) -> None:
    write(project / "a.csv", "email\nanna@example.nl\nbert@example.nl\n")
    assert (
        run(
            "audience", "import", str(project / "a.csv"), "--source", "beurs-2026", "--consent", "testlijst"
        ).exit_code
        == 0
    )
    write(project / "weg.txt", "anna@example.nl\nonbekend@example.nl\n")
    assert run("audience", "suppress", str(project / "weg.txt"), "--status", "bounced").exit_code == 0
    write(project / "b.csv", "email,status\nbert@example.nl,complained\n")
    assert run("audience", "import", str(project / "b.csv"), "--consent", "testlijst").exit_code == 0
    assert changes(project) == [
        ("anna@example.nl", None, "active", "import", "beurs-2026"),
        ("bert@example.nl", None, "active", "import", "beurs-2026"),
        ("anna@example.nl", "active", "bounced", "suppress", "weg.txt"),
        ("onbekend@example.nl", None, "bounced", "suppress", "weg.txt"),
        ("bert@example.nl", "active", "complained", "import", "b.csv"),
    ]


def test_an_import_never_reactivates_a_suppressed_address_nor_writes_history(project: Path, run: Run) -> None:
    write(project / "a.csv", "email\nanna@example.nl\n")
    assert run("audience", "import", str(project / "a.csv"), "--consent", "testlijst").exit_code == 0
    write(project / "weg.txt", "anna@example.nl\n")
    assert run("audience", "suppress", str(project / "weg.txt")).exit_code == 0
    before = changes(project)
    write(project / "b.csv", "email,status\nANNA@example.nl,active\n")
    result = run("audience", "import", str(project / "b.csv"), "--consent", "testlijst")
    assert "0 updated, 0 unchanged, 1 kept suppressed" in result.output
    assert statuses(project) == {"anna@example.nl": "unsubscribed"}
    assert changes(project) == before


def test_suppress_all_takes_the_source_its_caller_gives(project: Path) -> None:
    database = project / "audience.sqlite3"
    with connect(database) as store:
        store.suppress_all(["jan@example.nl"], status="unsubscribed", default_locale="nl", stamp="t1")
        store.suppress_all(
            ["jan@example.nl"],
            status="complained",
            default_locale="nl",
            stamp="t2",
            source="one-click",
        )
    assert changes(project) == [
        ("jan@example.nl", None, "unsubscribed", "suppress", ""),
        ("jan@example.nl", "unsubscribed", "complained", "one-click", ""),
    ]


def test_a_change_made_without_recording_it_is_still_in_the_history(project: Path) -> None:
    """What sendlog's hard bounce and any future UPDATE get: a row with source `other`."""
    database = project / "audience.sqlite3"
    with connect(database) as store:
        store.suppress_all(["jan@example.nl"], status="unsubscribed", default_locale="nl", stamp="t1")
        store.connection.execute("UPDATE subscribers SET status = 'bounced', updated_at = 't2'")
        store.connection.execute("UPDATE subscribers SET name = 'Jan', updated_at = 't3'")  # no status change
    assert changes(project)[1:] == [
        ("jan@example.nl", "unsubscribed", "bounced", "other", "not recorded by the code that changed it")
    ]


def test_a_database_from_before_the_history_gets_the_current_statuses(project: Path, run: Run) -> None:
    database = project / "audience.sqlite3"
    write(project / "a.csv", "email,status\nanna@example.nl,\nbert@example.nl,bounced\n")
    assert run("audience", "import", str(project / "a.csv"), "--consent", "testlijst").exit_code == 0
    with sqlite3.connect(database) as connection:
        connection.executescript(
            "DROP TRIGGER status_changes_unrecorded; DROP TABLE status_changes; DROP TABLE bounce_reports;"
            "DROP TABLE soft_bounces; " + WITHOUT_RETURN_TOKENS + "PRAGMA user_version = 3"
        )
    assert run("audience", "count").exit_code == 0
    assert [(email, old, new, source) for email, old, new, source, _ in changes(project)] == [
        ("anna@example.nl", None, "active", "other"),
        ("bert@example.nl", None, "bounced", "other"),
    ]


def test_list_shows_the_last_change_and_history_every_change(filled: Path, run: Run) -> None:
    result = run("audience", "list", "--status", "all")
    header, *rows = result.output.splitlines()
    assert header.split() == ["id", "email", "name", "locale", "tags", "status", "since", "by"]
    row = next(line.split() for line in rows if "c@example.nl" in line)
    assert row[-3] == "unsubscribed" and row[-1] == "suppress"  # an empty name makes no column
    result = run("audience", "list", "--status", "unsubscribed", "--history")
    assert result.exit_code == 0
    header, *rows = result.output.splitlines()
    assert header.split() == ["id", "email", "at", "from", "to", "source", "detail"]
    assert [line.split()[3:6] for line in rows] == [
        ["-", "active", "import"],
        ["active", "unsubscribed", "suppress"],
    ]


def test_the_writers_file_takes_the_mode_of_a_database_shared_on_purpose(
    project: Path, run: Run, umask: Callable[[int], int]
) -> None:
    """A database shared with the website's group: the announcement file beside it is shared alike,
    whatever the umask, or every write of the website would fail on it. It is only ever read (flock
    needs no more), and never created through a symlink."""
    umask(0o077)
    assert run("audience", "count").exit_code == 0
    database, writers = project / "audience.sqlite3", project / "audience.sqlite3.writers"
    database.chmod(0o660)
    writers.unlink(missing_ok=True)
    write(project / "a.csv", "email\nanna@example.nl\n")
    assert run("audience", "import", str(project / "a.csv"), "--consent", "testlijst").exit_code == 0
    assert stat.S_IMODE(writers.stat().st_mode) == 0o660
    writers.chmod(0o440)
    assert run("audience", "suppress", str(project / "a.csv")).exit_code == 0
    writers.unlink()
    writers.symlink_to(project / "elsewhere")
    assert_user_error(
        run("audience", "import", str(project / "a.csv"), "--consent", "testlijst"),
        "audience.sqlite3.writers",
    )
    assert not (project / "elsewhere").exists()


def test_a_database_of_schema_6_keeps_its_readers_log_and_history_when_made_anew(
    project: Path, run: Run
) -> None:
    """Schema 7 makes the subscribers table anew (a CHECK cannot be altered): rows, ids, the send log's
    references and the history's trigger all survive."""
    database = project / "audience.sqlite3"
    write(project / "a.csv", "email,status\nanna@example.nl,\nbert@example.nl,bounced\n")
    assert run("audience", "import", str(project / "a.csv"), "--consent", "testlijst").exit_code == 0
    with sqlite3.connect(database) as connection:
        connection.executescript(
            WITHOUT_CONSENT
            + "INSERT INTO sends (campaign, subscriber_id, email, state, created_at, updated_at)"
            " VALUES ('c', 1, 'anna@example.nl', 'sent', 'x', 'x'); PRAGMA user_version = 6"
        )
    assert run("audience", "count").exit_code == 0
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert connection.execute(
            "SELECT id, email, status, topics FROM subscribers ORDER BY id"
        ).fetchall() == [
            (1, "anna@example.nl", "active", "[]"),
            (2, "bert@example.nl", "bounced", "[]"),
        ]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        assert connection.execute("SELECT subscriber_id FROM sends").fetchall() == [(1,)]
        connection.execute(
            "UPDATE subscribers SET status = 'unsubscribed', updated_at = 'later' WHERE id = 1"
        )
        (source,) = connection.execute(
            "SELECT source FROM status_changes ORDER BY id DESC LIMIT 1"
        ).fetchone()
        assert source == "other"  # the trigger came back with the table


def test_processes_opening_a_new_store_at_once_migrate_it_once(tmp_path: Path) -> None:
    """The first requests to a new `serve` arrive together, each opening the store: one runs the
    migrations, the others wait and find them done (before, a step run twice broke the file)."""
    path = tmp_path / "new.sqlite3"
    start = threading.Barrier(16)
    problems: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            connect(path).close()
        except BaseException as problem:
            problems.append(problem)

    threads = [threading.Thread(target=open_it) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not problems
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
