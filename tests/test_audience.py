"""The subscriber store and `newsletter audience list/count`: the database, addresses, selection.
Importing, suppressing and exporting files are tests/test_mail_audience_csv.py."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from newsletter.errors import NewsletterError
from newsletter.mail.audience import SCHEMA_VERSION, connect, count, select
from tests.conftest import Run, write


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
    assert tables == {"subscribers", "sends"}


def test_database_path_from_settings(project: Path, run: Run) -> None:
    settings = project / "newsletter.toml"
    settings.write_text(settings.read_text() + '\n[audience]\ndatabase = "data/lezers.sqlite3"\n')
    write(project / "a.csv", "email\nanna@example.nl\n")
    assert run("audience", "import", str(project / "a.csv")).exit_code == 0
    assert (project / "data" / "lezers.sqlite3").is_file()
    assert not (project / "audience.sqlite3").exists()


def test_a_database_from_before_the_key_change_is_migrated(project: Path, run: Run) -> None:
    """Schema 2 keyed addresses by casefold(); schema 3 by lower(), so fuß.de stays fuß.de."""
    database = project / "audience.sqlite3"
    write(project / "a.csv", "email\njan@fuß.de\n")
    run("audience", "import", str(project / "a.csv"))
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE subscribers SET email_key = 'jan@fuss.de'")
        connection.execute("PRAGMA user_version = 2")
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
    result = run("audience", "import", str(project / "a.csv"))
    assert "2 added" in result.output
    assert sorted(emails(project)) == ["jan@fuss.de", "jan@fuß.de"]


def test_internationalised_address_is_accepted_and_normalised(project: Path, run: Run) -> None:
    write(project / "a.csv", "email\nJörg@BÜCHER.de\n")
    assert run("audience", "import", str(project / "a.csv")).exit_code == 0
    assert emails(project) == ["Jörg@bücher.de"]
    write(project / "b.csv", "email\njörg@xn--bcher-kva.de\n")
    result = run("audience", "import", str(project / "b.csv"))
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
    assert run("audience", "import", str(project / "a.csv")).exit_code == 0
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
