"""Subscriber lists as files (audience_csv.py): `newsletter audience import/suppress/export`."""

from __future__ import annotations

import csv
import email
import email.policy
import io
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from newsletter.audience.importing import export_csv, import_csv, suppress
from tests import test_audience
from tests.conftest import Run, write
from tests.store_util import select
from tests.test_audience import emails, statuses

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
LATER = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
filled = test_audience.filled  # the store's tests' fixture: four subscribers, one unsubscribed


# -- importing --------------------------------------------------------------------------------


def test_import_with_bom_and_semicolons(project: Path, run: Run) -> None:
    data = (
        "\ufeffE-mailadres;Naam;Taal;Labels\n"
        "anna@example.nl;Anna de Vries;nl;poëzie, romans\n"
        "bob@example.com;Bob;EN;\n"
    )
    (project / "lijst.csv").write_bytes(data.encode("utf-8"))
    result = run("audience", "import", str(project / "lijst.csv"), "--consent", "testlijst")
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated, 0 unchanged, 0 kept suppressed, 0 bad" in result.output
    anna, bob = select(project / "audience.sqlite3")
    assert (anna.email, anna.name, anna.locale, anna.tags) == (
        "anna@example.nl",
        "Anna de Vries",
        "nl",
        ("poëzie", "romans"),
    )
    assert (bob.email, bob.locale, bob.tags, bob.source) == ("bob@example.com", "en", (), "lijst.csv")


@pytest.mark.parametrize(
    ("data", "unused"),
    [
        (
            "Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME\n"
            "piet@example.nl,Piet,Jansen,2,2024-01-01\nanna@example.nl,Anna,,1,\n",
            "MEMBER_RATING, OPTIN_TIME",
        ),
        (
            "e-mail;voornaam;tussenvoegsel;achternaam;taal;Telefoon\n"
            "piet@example.nl;Piet;;Jansen;nl;0612345678\nanna@example.nl;Anna;;;NL;\n",
            "Telefoon",
        ),
        ("E_MAIL ,  Full Name \npiet@example.nl,Piet Jansen\nanna@example.nl,Anna\n", ""),
    ],
    ids=["mailchimp", "dutch", "spaces-and-case"],
)
def test_the_usual_column_names_are_read_and_the_others_named(
    project: Path, run: Run, data: str, unused: str
) -> None:
    write(project / "export.csv", data)
    result = run("audience", "import", str(project / "export.csv"), "--consent", "testlijst")
    assert result.exit_code == 0, result.output
    assert ("columns not used: " + unused in result.output) == bool(unused)
    names = {s.email: s.name for s in select(project / "audience.sqlite3")}
    assert names == {"piet@example.nl": "Piet Jansen", "anna@example.nl": "Anna"}


def test_a_dutch_list_with_a_tussenvoegsel_greets_by_first_name(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", "s" * 32)
    write(
        project / "lijst.csv",
        "E-mail;Voornaam;Tussenvoegsel;Achternaam\njan@example.nl;Jan;de;Vries\n"
        "dhr@example.nl;Dhr. J.;de;Vries\nvd@example.nl;;van;Dam\n",
    )
    assert run("audience", "import", str(project / "lijst.csv"), "--consent", "testlijst").exit_code == 0
    assert run("send", "2026-12-schrijven", "--dry-run").exit_code == 0
    greetings = {}
    for eml in (project / "build" / "2026-12-schrijven" / "outbox").rglob("*.eml"):
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        plain = message.get_body(("plain",))
        assert isinstance(message, EmailMessage) and plain is not None
        text = plain.get_content()
        greetings[message["To"].addresses[0].username] = "Beste Jan," in text, "Beste lezer," in text
    assert greetings == {"jan": (True, False), "dhr": (False, True), "vd": (False, True)}


def test_import_without_bom_with_tabs(project: Path, run: Run) -> None:
    write(project / "l.tsv", "email\tname\ttags\ncees@example.nl\tCees\tproza|nieuw\n")
    result = run("audience", "import", str(project / "l.tsv"), "--source", "beurs", "--consent", "testlijst")
    assert result.exit_code == 0, result.output
    (cees,) = select(project / "audience.sqlite3")
    assert (cees.name, cees.tags, cees.source, cees.locale) == ("Cees", ("nieuw", "proza"), "beurs", "nl")


def test_comma_file_with_tags_separated_inside_the_cell(project: Path) -> None:
    path = write(project / "l.csv", 'Email,Tags\nanna@example.nl,"poëzie;proza"\nbob@example.nl,a b|c\n')
    report = import_csv(
        project / "db.sqlite3", path, default_locale="en", source="x", now=NOW, consent="testlijst"
    )
    assert report.added == 2
    tags = [s.tags for s in select(project / "db.sqlite3")]
    assert tags == [("poëzie", "proza"), ("a", "b", "c")]


def test_every_bad_row_is_reported_with_line_and_reason(project: Path, run: Run) -> None:
    write(
        project / "l.csv",
        "email,name,locale\n"
        "goed@example.nl,Goed,nl\n"
        "niet-een-adres,Fout,nl\n"
        '"een@example.nl, twee@example.nl",Twee,nl\n'
        ",Leeg,nl\n"
        "\n"
        '"multi\nline@example.nl",Regel,nl\n'
        "duits@example.de,Duits,de\n"
        "ook-goed@example.nl,,en\n",
    )
    result = run("audience", "import", str(project / "l.csv"), "--consent", "testlijst")
    assert result.exit_code == 1
    assert "2 added, 0 updated, 0 unchanged, 0 kept suppressed, 5 bad" in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert lines[0].startswith("error: l.csv:3: invalid address 'niet-een-adres': ")
    assert "@-sign" in lines[0]
    assert lines[1] == "error: l.csv:4: two addresses in one cell: 'een@example.nl, twee@example.nl'"
    assert lines[2] == "error: l.csv:5: empty address"
    assert lines[3].startswith("error: l.csv:7: invalid address 'multi\\nline@example.nl'")
    assert lines[4] == "error: l.csv:9: unknown locale 'de' (expected nl or en)"
    assert len(lines) == 5
    assert emails(project) == ["goed@example.nl", "ook-goed@example.nl"]


def test_missing_email_column_is_one_error_for_the_file(project: Path, run: Run) -> None:
    write(project / "l.csv", "naam;taal\nAnna;nl\n")
    result = run("audience", "import", str(project / "l.csv"), "--consent", "testlijst")
    assert result.exit_code == 2
    assert "l.csv:1: the header has no email column" in result.stderr
    assert "'naam', 'taal'" in result.stderr
    assert emails(project) == []


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('email,name\nq1@example.nl,"Niet gesloten\nv0@example.nl,N0\nv1@example.nl,N1\n', 2),
        ('email,name\nq1@example.nl,"Laat"" gesloten\nv0@example.nl,N0\nv1@example.nl,"N1\n', 2),
        ('email,name\nq1@example.nl,"Te lang\n' + "v@example.nl,N\n" * 12_000, 2),
    ],
    ids=["never-closed", "closed-rows-later", "over-the-field-limit"],
)
def test_a_broken_quote_is_one_error_for_the_file_not_rows_swallowed(
    project: Path, run: Run, text: str, line: int
) -> None:
    write(project / "l.csv", text)
    result = run("audience", "import", str(project / "l.csv"), "--consent", "testlijst")
    assert result.exit_code == 2
    assert f"l.csv:{line}: the CSV quoting is broken" in result.stderr
    assert "Traceback" not in result.output
    assert emails(project) == []


def test_line_breaks_inside_quoted_cells_are_still_fine(project: Path, run: Run) -> None:
    """Notes and bounce reasons hold addresses and commas over several lines; stray quotes are kept."""
    write(
        project / "a.csv",
        "email,name,notes\n"
        'jan@example.nl,"Jan" de Vries,"Schreef in via\nredactie@example.nl, op de beurs"\n'
        "piet@example.nl,Piet,\n",
    )
    result = run("audience", "import", str(project / "a.csv"), "--consent", "testlijst")
    assert result.exit_code == 0, result.output
    assert [s.name for s in select(project / "audience.sqlite3")] == ["Jan de Vries", "Piet"]
    write(
        project / "b.csv",
        'email,reason\njan@example.nl,"550 5.1.1 <jan@example.nl>: Recipient rejected,\nuser unknown"\n',
    )
    assert run("audience", "suppress", str(project / "b.csv"), "--status", "bounced").exit_code == 0
    assert statuses(project)["jan@example.nl"] == "bounced"


def test_a_file_that_cannot_be_read_is_a_clear_error(project: Path, run: Run) -> None:
    write(project / "l.csv", "email\n")
    result = run("audience", "import", str(project / "l.csv" / "x.csv"), "--consent", "testlijst")
    assert result.exit_code == 2
    assert "x.csv: cannot read the file: Not a directory" in result.stderr


def test_a_locale_in_the_file_updates_an_existing_subscriber(project: Path, run: Run) -> None:
    write(project / "a.csv", "email,name\nzed@example.nl,Zed\n")
    run("audience", "import", str(project / "a.csv"), "--consent", "testlijst")
    write(project / "b.csv", "email,locale\nzed@example.nl,en\n")
    result = run("audience", "import", str(project / "b.csv"), "--consent", "testlijst")
    assert "0 added, 1 updated" in result.output
    assert emails(project, locale="en") == ["zed@example.nl"]


def test_file_that_is_not_utf8_is_refused_with_the_line(project: Path, run: Run) -> None:
    data = "email,name\nanna@example.nl,Anna\nbob@example.nl,Zoë\n".encode("latin-1")
    (project / "l.csv").write_bytes(data)
    result = run("audience", "import", str(project / "l.csv"), "--consent", "testlijst")
    assert result.exit_code == 2
    assert "l.csv:3: not UTF-8: byte 0xeb cannot be read" in result.stderr
    assert emails(project, status=None) == []


def test_duplicates_are_merged_within_the_file_and_across_imports(project: Path, run: Run) -> None:
    write(
        project / "a.csv",
        "email,name,locale,tags\nanna@example.nl,,,proza\nANNA@Example.NL,Anna,en,poëzie\nbob@example.nl,Bob,,\n",
    )
    result = run("audience", "import", str(project / "a.csv"), "--consent", "testlijst")
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output and "1 duplicate rows merged" in result.output
    anna = select(project / "audience.sqlite3")[0]
    assert (anna.email, anna.name, anna.locale, anna.tags) == (
        "anna@example.nl",
        "Anna",
        "en",
        ("poëzie", "proza"),
    )

    write(project / "b.csv", "email,naam,tags\nAnna@example.nl,Andere Naam,nieuw\nbob@example.nl,Bob,\n")
    result = run("audience", "import", str(project / "b.csv"), "--consent", "testlijst")
    assert "0 added, 1 updated, 1 unchanged, 0 kept suppressed, 0 bad" in result.output
    anna = select(project / "audience.sqlite3")[0]
    assert (anna.name, anna.tags) == ("Anna", ("nieuw", "poëzie", "proza"))
    assert len(select(project / "audience.sqlite3")) == 2


def test_duplicates_in_different_batches_are_merged_as_within_one(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import stages its rows batch by batch; a row for an address staged earlier merges into it."""

    from newsletter.store import imports

    monkeypatch.setattr(imports, "_BATCH", 1)
    monkeypatch.setattr(imports, "_LOOKUP", 1)
    monkeypatch.setattr(imports, "_APPLY", 2)
    test_duplicates_are_merged_within_the_file_and_across_imports(project, run)


def test_import_never_reactivates_a_suppressed_address(project: Path, run: Run) -> None:
    write(project / "a.csv", "email,status\nweg@example.nl,unsubscribed\nkapot@example.nl,bounced\n")
    assert run("audience", "import", str(project / "a.csv"), "--consent", "testlijst").exit_code == 0
    write(
        project / "b.csv",
        "email,status,tags\nWEG@example.nl,active,x\nkapot@example.nl,,y\nnieuw@example.nl,,\n",
    )
    result = run("audience", "import", str(project / "b.csv"), "--consent", "testlijst")
    assert "1 added, 0 updated, 0 unchanged, 2 kept suppressed, 0 bad" in result.output
    assert statuses(project) == {
        "weg@example.nl": "unsubscribed",
        "kapot@example.nl": "bounced",
        "nieuw@example.nl": "active",
    }
    assert emails(project) == ["nieuw@example.nl"]


def _failing_at(monkeypatch: pytest.MonkeyPatch, failing_call: int) -> None:
    """The `failing_call`th batch fails after writing its rows, inside its transaction."""
    from newsletter.store import Store

    calls = 0
    write_batch = Store._write_batch

    def failing_write(self: Store, *args: object, **kwargs: object) -> None:
        nonlocal calls
        calls += 1
        write_batch(self, *args, **kwargs)  # type: ignore[arg-type]
        if calls == failing_call:
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(Store, "_write_batch", failing_write)


def test_a_batch_is_one_transaction(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(project / "a.csv", "email\na@example.nl\nb@example.nl\n")
    _failing_at(monkeypatch, 1)
    with pytest.raises(RuntimeError):
        import_csv(
            project / "db.sqlite3", path, default_locale="nl", source="x", now=NOW, consent="testlijst"
        )
    assert select(project / "db.sqlite3", status=None) == []


def test_an_import_stopped_between_batches_is_finished_by_running_it_again(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches keep the write lock short for everyone else; a stop between them leaves the batches
    applied so far, and the same import again applies the rest and nothing twice."""
    from newsletter.store import imports

    monkeypatch.setattr(imports, "_APPLY", 2)
    path = write(project / "a.csv", "email\na@example.nl\nb@example.nl\nc@example.nl\n")
    database = project / "db.sqlite3"
    with monkeypatch.context() as failing:
        _failing_at(failing, 2)
        with pytest.raises(RuntimeError):
            import_csv(database, path, default_locale="nl", source="x", now=NOW, consent="testlijst")
    assert [s.email for s in select(database)] == ["a@example.nl", "b@example.nl"]
    again = import_csv(database, path, default_locale="nl", source="x", now=NOW, consent="testlijst")
    assert (again.added, again.unchanged) == (1, 2)
    assert [s.email for s in select(database)] == ["a@example.nl", "b@example.nl", "c@example.nl"]


@pytest.mark.parametrize(("apply", "lookup"), [(2_000, 500), (3, 2), (1, 1)])
def test_the_batched_writes_record_every_status_change_in_the_order_of_the_file(
    project: Path, monkeypatch: pytest.MonkeyPatch, apply: int, lookup: int
) -> None:
    """Adds, updates, suppressed and unchanged rows mixed in one batch or spread over many: the
    history has one row per status given, in the order of the file, with the import's source,
    detail and stamp, and no row from the fallback trigger."""
    import sqlite3

    from newsletter.store import imports

    monkeypatch.setattr(imports, "_APPLY", apply)
    monkeypatch.setattr(imports, "_LOOKUP", lookup)
    database = project / "db.sqlite3"
    first = write(
        project / "eerste.csv",
        "email,status\na@example.nl,\nb@example.nl,\nc@example.nl,unsubscribed\nd@example.nl,\n",
    )
    import_csv(database, first, default_locale="nl", source="eerste", now=NOW, consent="testlijst")
    second = write(
        project / "tweede.csv",
        "email,status,tags\n"
        "e@example.nl,,\n"
        "A@example.nl,bounced,\n"
        "c@example.nl,active,\n"
        "b@example.nl,,x\n"
        "f@example.nl,complained,\n"
        "d@example.nl,,\n"
        "g@example.nl,,\n"
        "e@example.nl,unsubscribed,\n",
    )
    report = import_csv(
        database, second, default_locale="nl", source="tweede", now=LATER, consent="testlijst"
    )
    assert (report.added, report.updated, report.unchanged, report.kept_suppressed, report.duplicates) == (
        3,
        2,
        1,
        1,
        1,
    )
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT s.email, c.old_status, c.new_status, c.source, c.detail, c.at"
            " FROM status_changes c JOIN subscribers s ON s.id = c.subscriber_id ORDER BY c.id"
        ).fetchall()
        ids = [row[0] for row in connection.execute("SELECT email FROM subscribers ORDER BY id")]
    connection.close()
    then, later = "2026-12-01T09:30:00Z", "2026-12-02T10:00:00Z"
    assert rows == [
        ("a@example.nl", None, "active", "import", "eerste", then),
        ("b@example.nl", None, "active", "import", "eerste", then),
        ("c@example.nl", None, "unsubscribed", "import", "eerste", then),
        ("d@example.nl", None, "active", "import", "eerste", then),
        ("e@example.nl", None, "unsubscribed", "import", "tweede", later),
        ("a@example.nl", "active", "bounced", "import", "tweede", later),
        ("f@example.nl", None, "complained", "import", "tweede", later),
        ("g@example.nl", None, "active", "import", "tweede", later),
    ]
    assert ids == [f"{letter}@example.nl" for letter in "abcdefg"]
    assert {s.email: s.status for s in select(database, status=None)} == {
        "a@example.nl": "bounced",
        "b@example.nl": "active",
        "c@example.nl": "unsubscribed",
        "d@example.nl": "active",
        "e@example.nl": "unsubscribed",
        "f@example.nl": "complained",
        "g@example.nl": "active",
    }


def test_the_history_finds_the_added_subscribers_when_sqlite_numbers_them_at_random(project: Path) -> None:
    """Past the largest id SQLite can store, it gives new rows random ids: the import then looks the
    added subscribers up by their address to record their first status."""
    import sqlite3

    database = project / "db.sqlite3"
    import_csv(
        database,
        write(project / "a.csv", "email\na@example.nl\n"),
        default_locale="nl",
        source="a",
        now=NOW,
        consent="testlijst",
    )
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE subscribers SET id = 9223372036854775807")  # foreign keys are off
        connection.execute("UPDATE status_changes SET subscriber_id = 9223372036854775807")
    connection.close()
    path = write(
        project / "b.csv", "email,status\nb@example.nl,\nc@example.nl,bounced\nA@example.nl,unsubscribed\n"
    )
    report = import_csv(database, path, default_locale="nl", source="b", now=LATER, consent="testlijst")
    assert (report.added, report.updated) == (2, 1)
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT s.email, c.old_status, c.new_status, c.source, c.detail"
            " FROM status_changes c JOIN subscribers s ON s.id = c.subscriber_id ORDER BY c.id"
        ).fetchall()
    connection.close()
    assert rows == [
        ("a@example.nl", None, "active", "import", "a"),
        ("b@example.nl", None, "active", "import", "b"),
        ("c@example.nl", None, "bounced", "import", "b"),
        ("a@example.nl", "active", "unsubscribed", "import", "b"),
    ]


def test_timestamps_come_from_the_clock(project: Path) -> None:
    database = project / "db.sqlite3"
    import_csv(
        database,
        write(project / "a.csv", "email\na@example.nl\n"),
        default_locale="nl",
        source="a",
        now=NOW,
        consent="testlijst",
    )
    import_csv(
        database,
        write(project / "b.csv", "email,tags\na@example.nl,x\n"),
        default_locale="nl",
        source="b",
        now=LATER,
        consent="testlijst",
    )
    (a,) = select(database)
    assert (a.created_at, a.updated_at, a.source) == ("2026-12-01T09:30:00Z", "2026-12-02T10:00:00Z", "a")


# -- suppression ------------------------------------------------------------------------------


def test_suppress_then_import(project: Path, run: Run) -> None:
    write(project / "a.csv", "email\nanna@example.nl\nbob@example.nl\n")
    run("audience", "import", str(project / "a.csv"), "--consent", "testlijst")
    write(project / "weg.txt", "# afmeldingen\nAnna@example.nl\n\nonbekend@example.nl\ngeen adres\n")
    result = run("audience", "suppress", str(project / "weg.txt"))
    assert result.exit_code == 1
    assert "1 unsubscribed, 1 added as unsubscribed, 0 unchanged, 1 bad" in result.output
    assert "weg.txt:5: invalid address 'geen adres'" in result.stderr
    write(project / "b.csv", "email\nonbekend@example.nl\nanna@example.nl\n")
    result = run("audience", "import", str(project / "b.csv"), "--consent", "testlijst")
    assert "0 added, 0 updated, 0 unchanged, 2 kept suppressed" in result.output
    assert emails(project) == ["bob@example.nl"]


def test_suppress_a_csv_with_an_email_column_as_bounced(project: Path, run: Run) -> None:
    write(project / "a.csv", "email\nanna@example.nl\n")
    run("audience", "import", str(project / "a.csv"), "--consent", "testlijst")
    write(
        project / "bounces.csv",
        "Datum;E-mail;Status\n2026-12-01;anna@example.nl;hard bounce\n2026-12-01;bob@example.nl;soft\n",
    )
    result = run("audience", "suppress", str(project / "bounces.csv"), "--status", "bounced")
    assert result.exit_code == 0, result.output
    assert "1 bounced, 1 added as bounced, 0 unchanged, 0 bad" in result.output
    assert statuses(project) == {"anna@example.nl": "bounced", "bob@example.nl": "bounced"}


def test_suppress_a_csv_without_an_email_column_is_one_error(project: Path, run: Run) -> None:
    write(project / "b.csv", "Recipient,Reason\na@example.nl,550 user unknown\n")
    result = run("audience", "suppress", str(project / "b.csv"))
    assert result.exit_code == 2
    assert "b.csv:1: the header has no email column" in result.stderr
    assert "'Recipient', 'Reason'" in result.stderr


def test_suppress_counts_lines_as_an_editor_does(project: Path, run: Run) -> None:
    """str.splitlines() also breaks at form feeds and U+2028, which would shift every line number."""
    write(project / "b.txt", "a@example.nl\f\nb@example.nl\u2028\nniet-een-adres\n")
    result = run("audience", "suppress", str(project / "b.txt"))
    assert "b.txt:3: invalid address 'niet-een-adres'" in result.stderr


def test_suppress_takes_lines(project: Path) -> None:
    report = suppress(project / "db.sqlite3", ["x@example.nl", "X@example.nl"], status="complained", now=NOW)
    assert (report.added, report.unchanged) == (1, 0)
    assert [s.status for s in select(project / "db.sqlite3", status=None)] == ["complained"]


# -- exporting --------------------------------------------------------------------------------


def test_export_round_trips(filled: Path, run: Run, tmp_path: Path) -> None:
    result = run("audience", "export", "--out", str(filled / "export.csv"))
    assert result.exit_code == 0, result.output
    assert "wrote 4 subscribers to export.csv" in result.output
    text = (filled / "export.csv").read_text(encoding="utf-8")
    assert text.startswith("email,name,locale,tags,status,source,created_at,updated_at\n")

    copy = tmp_path / "copy.sqlite3"
    report = import_csv(
        copy, filled / "export.csv", default_locale="en", source="backup", now=NOW, consent="testlijst"
    )
    assert (report.added, report.bad) == (4, [])

    def essentials(database: Path) -> list[tuple[object, ...]]:
        return [(s.email, s.name, s.locale, s.tags, s.status) for s in select(database, status=None)]

    assert essentials(copy) == essentials(filled / "audience.sqlite3")


def test_export_defuses_formulas_and_reads_them_back(project: Path, run: Run, tmp_path: Path) -> None:
    """A name like =HYPERLINK(...) from a sign-up form must not run in Excel (CSV injection)."""
    names = ['=HYPERLINK("http://evil.example","klik")', "+31 6 1234", "@SUM(1)", "-x", "Anna"]
    source = io.StringIO()
    csv.writer(source).writerows([["email", "name"], *([f"r{n}@example.nl", v] for n, v in enumerate(names))])
    write(project / "a.csv", source.getvalue())
    run("audience", "import", str(project / "a.csv"), "--consent", "testlijst")
    assert run("audience", "export", "--out", str(project / "out.csv")).exit_code == 0
    with (project / "out.csv").open(encoding="utf-8", newline="") as file:
        exported = {row["email"]: row["name"] for row in csv.DictReader(file)}
    assert [exported[f"r{n}@example.nl"] for n in range(len(names))] == [
        "'" + name if name[0] in "=+@-" else name for name in names
    ]
    assert (project / "out.csv").stat().st_mode & 0o777 == 0o600  # personal data
    copy = tmp_path / "copy.sqlite3"
    import_csv(copy, project / "out.csv", default_locale="nl", source="backup", now=NOW, consent="testlijst")
    assert sorted(s.name for s in select(copy)) == sorted(names)


def test_export_defuses_an_address_that_is_a_formula(project: Path, run: Run, tmp_path: Path) -> None:
    address = "=cmd|'/Ccalc'!A0@example.nl"  # valid: all of these may stand before the @
    write(project / "a.csv", f"email\n{address}\n")
    assert run("audience", "import", str(project / "a.csv"), "--consent", "testlijst").exit_code == 0
    run("audience", "export", "--out", str(project / "out.csv"))
    assert (project / "out.csv").read_text(encoding="utf-8").splitlines()[1].startswith(f"'{address},")
    copy = tmp_path / "copy.sqlite3"
    import_csv(copy, project / "out.csv", default_locale="nl", source="backup", now=NOW, consent="testlijst")
    assert [s.email for s in select(copy)] == [address]


def test_export_to_a_path_that_cannot_be_written_is_a_clear_error(project: Path, run: Run) -> None:
    write(project / "a.csv", "email\n")
    result = run("audience", "export", "--out", str(project / "a.csv" / "out.csv"))
    assert result.exit_code == 2
    assert "out.csv: cannot write the export:" in result.stderr
    assert "Traceback" not in result.output


def test_export_to_stdout_with_filters(filled: Path, run: Run) -> None:
    result = run("audience", "export", "--status", "active", "--tag", "poëzie")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["email"] for row in rows] == ["a@example.nl", "b@example.nl"]
    assert rows[0]["tags"] == "poëzie;proza"


def test_export_to_a_stream(project: Path) -> None:
    out = io.StringIO()
    assert export_csv(project / "db.sqlite3", out) == 0
    assert out.getvalue() == "email,name,locale,tags,status,source,created_at,updated_at\n"
