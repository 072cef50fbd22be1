"""Merge fields in every text a reader sees, and never a literal placeholder in an inbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter import placeholders
from newsletter.placeholders import has_fields, without_fields
from tests.conftest import Run
from tests.test_campaign import EN, NL, edit, failing_build

COLUMN = "columns/why-we-still-read-on-paper.md"


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (
            NL,
            "Beste {first_name},",
            "Beste {voornaam},",
            f"{NL}:5: intro: unknown merge field '{{voornaam}}'",
        ),
        (EN, 'subject: "Why', 'subject: "*|FNAME|*, why', f"{EN}:2: subject: '*|FNAME|*' is another tool's"),
        (
            EN,
            'preheader: "',
            'preheader: "{firstname} ',
            f"{EN}:3: preheader: unknown merge field '{{firstname}}'",
        ),
        (
            "books/the-quiet-page.yaml",
            "title: The Quiet Page",
            "title: The Quiet Page for {{ .Subscriber.FirstName }}",
            "books/the-quiet-page.yaml:1: title: '{{ .Subscriber.FirstName }}' is another tool's merge tag",
        ),
        (
            COLUMN,
            'title: "[Column] Why',
            'title: "[Column] {first-name}, why',
            f"{COLUMN}:2: title: unknown merge",
        ),
        (COLUMN, "The announcement", "The {naam} announcement", f"{COLUMN}:7: excerpt: unknown merge field"),
    ],
    ids=[
        "intro-dutch",
        "subject-mailchimp",
        "preheader-typo",
        "book-listmonk",
        "column-title",
        "column-excerpt",
    ],
)
def test_an_unknown_placeholder_is_an_error_with_a_did_you_mean(
    project: Path, run: Run, name: str, old: str, new: str, expected: str
) -> None:
    edit(project, name, old, new)
    stderr = failing_build(run)
    assert expected in stderr
    assert "did you mean '{first_name}'?" in stderr


def test_first_name_works_in_every_text_a_reader_sees(project: Path, run: Run) -> None:
    edit(project, EN, 'subject: "Why', 'subject: "{first_name}, why')
    edit(project, EN, 'preheader: "', 'preheader: "{first_name}: ')
    edit(project, COLUMN, 'title: "[Column] Why', 'title: "[Column] {first_name}, why')
    edit(
        project,
        "books/the-quiet-page.yaml",
        "subtitle: Essays on slow reading",
        "subtitle: 'For {first_name}: essays on slow reading'",
    )
    edit(project, EN, "Happy reading,", "Happy reading, {first_name}, and {{ braces }} stay,")
    result = run("build", "2026-12-paper")
    assert result.exit_code == 0, result.output
    out = project / "build" / "2026-12-paper"
    html, text = (
        (out / "email.html").read_text(encoding="utf-8"),
        (out / "email.txt").read_text(encoding="utf-8"),
    )
    for part in (html, text):
        assert "{first_name}" not in part and "__merge_" not in part
        assert (
            "For reader: essays on slow reading" in part
            and "reader, why we still read on paper" in part.lower()
        )
        assert "Happy reading, reader, and { braces } stay," in part
    assert "<title>reader, why we still read on paper</title>" in html.lower()
    assert "reader: Thomas Verbeek" in html  # the preheader


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("Beste {first_name}, {{first_name}} blijft staan", []),
        ("{ first_name } en {voornaam}", ["{ first_name }", "{voornaam}"]),
        ("een losse { accolade en } nog een", []),
        (
            "*|FNAME|* en %FNAME% en {{ .Subscriber.Name }}",
            ["*|FNAME|*", "%FNAME%", "{{ .Subscriber.Name }}"],
        ),
        (
            "{first_name:>10} {0} {} {first name} {ｆirst_name} __merge_unsubscribe_url__",
            ["{first_name:>10}", "{0}", "{}", "{ｆirst_name}", "{first name}", "__merge_unsubscribe_url__"],
        ),
        (
            "Beste {first_name, en first_name} $first_name {% if x %} en {first_name zonder einde",
            ["$first_name", "{% if x %}", "first_name}", "{first_name"],
        ),
    ],
)
def test_what_counts_as_a_placeholder(text: str, tags: list[str]) -> None:
    assert [tag for tag, _, _ in placeholders.problems(text)] == tags


@pytest.mark.parametrize(
    ("subject", "public"),
    [
        ("{first_name}, de kunst van het weglaten", "De kunst van het weglaten"),
        ("Nieuw voor jou, {first_name}!", "Nieuw voor jou!"),
        ("Beste {first_name} – lees dit", "Beste lees dit"),
        ("Boeken & {first_name}", "Boeken"),
        ("Zonder veld {{ en letterlijke accolades }}", "Zonder veld { en letterlijke accolades }"),
        ("{first_name}", ""),
    ],
)
def test_without_fields_leaves_out_each_field_and_the_punctuation_around_it(
    subject: str, public: str
) -> None:
    assert without_fields(subject) == public
    assert not has_fields(public)


def test_a_public_title_with_a_merge_field_is_refused(project: Path, run: Run) -> None:
    edit(project, NL, "subject:", "title: Voor {first_name}\nsubject:")
    message = failing_build(run)
    assert (
        "title: a title is shown on public pages, to no one in particular: leave out {first_name}" in message
    )
