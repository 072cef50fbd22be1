"""Loading campaigns, books and authors: every bad input is one clear message through the CLI.

Each message names the file, the line where the YAML has one, the field and what is expected; the
command exits 2 with no traceback and writes nothing for the campaign concerned.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsletter.project.campaign import Campaign, load_campaigns
from newsletter.project.settings import open_project
from tests.conftest import REPO, Run, write

NL = "campaigns/2026-12-schrijven.yaml"
EN = "campaigns/2026-12-paper.yaml"
BOOK = "books/schrijven-is-schrappen.yaml"


def edit(project: Path, name: str, old: str, new: str) -> None:
    path = project / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def failing_build(run: Run, *args: str) -> str:
    result = run("build", *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.stderr


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        pytest.param(NL, "subject:", "subject: [niet af\nx:", f"{NL}:3: broken YAML", id="broken-yaml"),
        pytest.param(
            NL,
            "  - schrijven-is-schrappen",
            "  schrijven: schrappen",
            f"{NL}:17: books: must be a list (one item per line, starting with '- ')",
            id="mapping-for-list",
        ),
        pytest.param(
            NL,
            "subject:",
            "subjct:",
            f"{NL}:2: subjct: unknown key (did you mean 'subject'?)",
            id="unknown-key",
        ),
        pytest.param(NL, "subject:", "subjct:", f"{NL}:2: subject: is required", id="missing-field"),
        pytest.param(
            NL,
            "excerpt_words: 50",
            "excerpt_words: veel",
            f"{NL}:15: teasers[0].excerpt_words: must be a whole number (got 'veel')",
            id="wrong-type",
        ),
        pytest.param(
            NL,
            "locale: nl",
            "locale: de",
            f"{NL}:4: locale: input should be 'nl' or 'en' (got 'de')",
            id="unknown-locale",
        ),
        pytest.param(
            NL,
            "url: https://www",
            "url: http://www",
            f"{NL}:13: teasers[0].url: must be an absolute https:// URL "
            "(got 'http://www.uitgeverijlindenhof.nl/columns/de-kunst-van-het-weglaten')",
            id="non-https-link",
        ),
        pytest.param(
            NL,
            "author: marieke-de-wit",
            "author: marieke",
            f"{NL}:14: teasers[0].author: unknown author 'marieke' (did you mean 'marieke-de-wit'?)",
            id="unknown-author",
        ),
        pytest.param(
            NL,
            "  - schrijven-is-schrappen",
            "  - schrijven-is-schrapen",
            f"{NL}:17: books[0]: unknown book 'schrijven-is-schrapen' "
            "(did you mean 'schrijven-is-schrappen'?)",
            id="unknown-book",
        ),
        pytest.param(
            NL,
            "column: de-kunst-van-het-weglaten.txt",
            "column: de-kunst-van-het-weglatem.txt",
            f"{NL}:12: teasers[0].column: column file not found: columns/de-kunst-van-het-weglatem.txt "
            "(did you mean 'de-kunst-van-het-weglaten.txt'?)",
            id="missing-column-file",
        ),
        pytest.param(
            NL,
            "column: de-kunst-van-het-weglaten.txt",
            "column: ../newsletter.toml",
            f"{NL}:12: teasers[0].column: column file not found: columns/../newsletter.toml",
            id="column-outside-columns-folder",
        ),
        pytest.param(
            BOOK,
            "price: 34.95",
            "price: 0",
            f"{BOOK}:8: price: must be a positive amount like 34.95 (got 0)",
            id="zero-price",
        ),
        pytest.param(
            BOOK,
            "price: 34.95",
            "price: -34.95",
            f"{BOOK}:8: price: must be a positive amount like 34.95 (got -34.95)",
            id="negative-price",
        ),
        pytest.param(
            BOOK,
            "price: 34.95",
            "price: 34.955",
            f"{BOOK}:8: price: must have at most two decimals (whole cents) like 34.95 (got 34.955)",
            id="three-decimals",
        ),
        pytest.param(
            BOOK,
            "price: 34.95",
            "price: '34,95'",
            f"{BOOK}:8: price: must be an amount in euros like 34.95 (a dot before the cents, no € sign)",
            id="price-with-comma",
        ),
        pytest.param(
            BOOK,
            "currency: EUR",
            "currency: USD",
            f"{BOOK}:9: currency: must be EUR: books are sold in euros (got 'USD')",
            id="other-currency",
        ),
        pytest.param(
            BOOK,
            "cover_url: https://www.uitgeverijlindenhof.nl/static/",
            "cover_url: /static/",
            f"{BOOK}:10: cover_url: must be an absolute https:// URL "
            "(got '/static/covers/schrijven-is-schrappen.jpg')",
            id="relative-image-url",
        ),
    ],
)
def test_bad_input_is_one_clear_message(
    project: Path, run: Run, name: str, old: str, new: str, expected: str
) -> None:
    edit(project, name, old, new)
    stderr = failing_build(run)
    assert f"error: {expected}" in stderr
    assert not (project / "build" / "2026-12-schrijven").exists(), "nothing is written for a broken campaign"
    assert (project / "build" / "2026-12-paper" / "email.html").exists(), "the other campaign is still built"


def test_duplicate_campaign_ids_are_reported(project: Path, run: Run) -> None:
    (project / "campaigns" / "2026-12-paper.yml").write_text(
        (project / EN).read_text(encoding="utf-8"), encoding="utf-8"
    )
    stderr = failing_build(run)
    assert (
        "error: campaigns/2026-12-paper.yml: duplicate campaign id '2026-12-paper': 2026-12-paper.yaml has it"
        in stderr
    )


def test_missing_teasers_and_books_are_required_to_have_items(project: Path, run: Run) -> None:
    write(project / "campaigns" / "leeg.yaml", "subject: Leeg\npreheader: Niets\nteasers: []\nbooks: []\n")
    stderr = failing_build(run, "leeg")
    assert (
        "campaigns/leeg.yaml:3: teasers: list should have at least 1 item after validation, not 0" in stderr
    )
    assert "campaigns/leeg.yaml:4: books: list should have at least 1 item" in stderr


def test_teaser_needs_a_column_or_inline_fields(project: Path, run: Run) -> None:
    write(
        project / "campaigns" / "inline.yaml",
        "subject: Inline\npreheader: Zonder column\nteasers:\n  - title: Alleen een titel\n"
        "    url: https://www.uitgeverijlindenhof.nl/a\nbooks: [the-quiet-page]\n",
    )
    stderr = failing_build(run, "inline")
    assert (
        "campaigns/inline.yaml:4: teasers[0]: needs a 'column' file, or a 'title' and an 'excerpt'" in stderr
    )


def test_inline_teaser_without_column_builds(project: Path, run: Run) -> None:
    write(
        project / "campaigns" / "inline.yaml",
        "subject: Inline\npreheader: Een teaser zonder columnbestand\nteasers:\n"
        "  - title: Een losse titel\n    url: https://www.uitgeverijlindenhof.nl/a\n"
        "    author: thomas-verbeek\n    excerpt: Kort en goed.\nbooks: [the-quiet-page]\n",
    )
    result = run("build", "inline")
    assert result.exit_code == 0, result.output
    assert "Kort en goed." in (project / "build" / "inline" / "email.txt").read_text(encoding="utf-8")


def test_author_named_in_a_column_file_is_checked_too(project: Path, run: Run) -> None:
    edit(project, "columns/why-we-still-read-on-paper.md", "author: thomas-verbeek", "author: thomas")
    stderr = failing_build(run)
    assert (
        f"{EN}:10: teasers[0].author: unknown author 'thomas' "
        "(named in columns/why-we-still-read-on-paper.md)" in stderr
    )


def test_column_byline_is_the_author_when_the_campaign_names_none(project: Path, run: Run) -> None:
    edit(project, NL, "    author: marieke-de-wit\n", "")
    result = run("build")
    assert result.exit_code == 0, result.output
    html = (project / "build" / "2026-12-schrijven" / "email.html").read_text(encoding="utf-8")
    assert "Ze woont met twee katten" in html, "matched to authors.yaml by handle, so the long bio is used"


def test_all_problems_of_all_campaigns_are_reported_in_one_run(project: Path, run: Run) -> None:
    edit(project, NL, "subject:", "subjct:")
    edit(project, "books/the-quiet-page.yaml", "price: 24.50", "price: 0")
    write(project / "campaigns" / "kapot.yaml", "subject: [kapot\n")
    stderr = failing_build(run)
    assert f"{NL}:2: subjct: unknown key" in stderr
    assert f"{NL}:2: subject: is required" in stderr
    assert "books/the-quiet-page.yaml:6: price: must be a positive amount" in stderr
    assert "campaigns/kapot.yaml:1: broken YAML" in stderr  # the last line, not one past it
    assert "4 problem(s)" in stderr
    assert not (project / "build").exists()


def test_broken_book_shared_by_campaigns_is_reported_once(project: Path, run: Run) -> None:
    edit(project, EN, "  - the-quiet-page", "  - the-quiet-page\n  - schrijven-is-schrappen")
    edit(project, BOOK, "price: 34.95", "price: 0")
    stderr = failing_build(run)
    assert stderr.count("price: must be a positive amount") == 1


def test_template_syntax_error_names_template_file_and_line(project: Path, run: Run) -> None:
    edit(project, "templates/partials/book.mjml.j2", "{{ book.title }}", "{{ book.title }")
    stderr = failing_build(run)
    assert "error: templates/partials/book.mjml.j2:9: template syntax error: unexpected '}'" in stderr
    assert stderr.count("template syntax error") == 1, "one broken template is one problem"


def test_template_that_is_not_utf8_names_template_file_and_line(project: Path, run: Run) -> None:
    path = project / "templates" / "partials" / "book.mjml.j2"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\n{# caf\xe9 #}\n", 1))
    stderr = failing_build(run)
    assert "error: templates/partials/book.mjml.j2:2: template is not UTF-8 text" in stderr
    assert "Traceback" not in stderr


def test_undefined_template_variable_names_template_file_and_line(project: Path, run: Run) -> None:
    edit(project, "templates/partials/teaser.mjml.j2", "teaser.excerpt_blocks", "teaser.exerpt_blocks")
    stderr = failing_build(run)
    assert (
        "error: templates/partials/teaser.mjml.j2:17: undefined template variable: "
        "'TeaserView' has no attribute 'exerpt_blocks'" in stderr
    )


def test_unknown_template_is_an_error_naming_the_ones_that_exist(project: Path, run: Run) -> None:
    edit(project, NL, "locale: nl", "locale: nl\ntemplate: feestelijk")
    stderr = failing_build(run)
    assert (
        f"{NL}:5: template: no such template: templates/feestelijk.mjml.j2 (templates/ has: email)" in stderr
    )
    (project / "templates" / "feestelijk.mjml.j2").write_text("<mjml></mjml>", encoding="utf-8")
    stderr = failing_build(run)
    assert f"{NL}:5: template: no such template: templates/feestelijk.txt.j2" in stderr


def test_templates_are_sandboxed(project: Path, run: Run) -> None:
    edit(project, "templates/email.mjml.j2", "{{ campaign.subject }}", "{{ campaign.__class__.__mro__ }}")
    lines = (project / "templates" / "email.mjml.j2").read_text(encoding="utf-8").split("\n")
    line = next(n for n, text in enumerate(lines, start=1) if "__mro__" in text)
    stderr = failing_build(run)
    assert f"templates/email.mjml.j2:{line}: not allowed: access to attribute '__class__'" in stderr


def test_header_values_with_line_breaks_are_refused(project: Path, run: Run) -> None:
    edit(project, NL, 'subject: "De kunst', 'subject: "Bcc: iedereen@example.org\\nDe kunst')
    stderr = failing_build(run)
    assert f"{NL}:2: subject: must be a single line (line breaks are not allowed here)" in stderr


def test_control_characters_in_running_text_are_refused(project: Path, run: Run) -> None:
    """Only a double-quoted YAML string can hold one (`\\0`), but MRML fails on it without saying where."""
    edit(project, NL, "intro: |\n  Beste", 'intro: "Beste\\0')
    edit(project, NL, "collega’s maakte.\n", 'collega’s maakte."\n')
    stderr = failing_build(run)
    assert f"{NL}:5: intro: must not contain control characters (found U+0000)" in stderr


@pytest.mark.parametrize(
    ("field", "old", "escape", "found"),
    [
        ("subject", 'subject: "De kunst', "\\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("subject", 'subject: "De kunst', "\\u200b", "U+200B ZERO WIDTH SPACE"),
        ("subject", 'subject: "De kunst', "\\u00ad", "U+00AD SOFT HYPHEN"),
        ("preheader", 'preheader: "Marieke', "\\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        ("preheader", 'preheader: "Marieke', "\\u2067", "U+2067 RIGHT-TO-LEFT ISOLATE"),
    ],
)
def test_invisible_formatting_characters_in_header_values_are_refused(
    project: Path, run: Run, field: str, old: str, escape: str, found: str
) -> None:
    """A right-to-left override or a zero-width space in the subject changes what the inbox shows;
    the intro, running text, keeps its emoji with their zero-width joiner."""
    edit(project, NL, old, old + escape)
    edit(project, NL, "intro: |\n  Beste", 'intro: "\\U0001F469\\u200D\\U0001F4BB Beste')
    edit(project, NL, "collega’s maakte.\n", 'collega’s maakte."\n')
    stderr = failing_build(run)
    line = 2 if field == "subject" else 3
    expected = f"{field}: must not contain invisible formatting characters (found {found})"
    assert f"error: {NL}:{line}: {expected}" in stderr
    assert chr(int(found[2:6], 16)) not in stderr  # named, not shown
    assert "intro" not in stderr


def test_campaign_that_is_not_utf8_is_an_error_at_the_line_of_the_bad_byte(project: Path, run: Run) -> None:
    path = project / NL
    path.write_bytes(path.read_bytes().replace(b"subject:", b"# caf\xe9 (Latin-1)\nsubject:", 1))
    assert f"{NL}:2: file is not UTF-8 text (save the file as UTF-8)" in failing_build(run)


def test_empty_campaign_file_is_an_error(project: Path, run: Run) -> None:
    write(project / "campaigns" / "leeg.yaml", "# nog niets\n")
    assert "campaigns/leeg.yaml: the file is empty" in failing_build(run, "leeg")


def test_unknown_campaign_id_on_the_command_line(run: Run) -> None:
    stderr = failing_build(run, "2026-12-schrijve")
    assert "error: no campaign '2026-12-schrijve' in campaigns/ (did you mean '2026-12-schrijven'?)" in stderr


def test_authors_file_is_validated(project: Path, run: Run) -> None:
    edit(project, "authors.yaml", '  handle: "@tverbeek"', '  handle: "@t verbeek"\n  twitter: x')
    stderr = failing_build(run)
    assert "authors.yaml:13: thomas-verbeek.handle: must be a social handle like @mariekeschrijft" in stderr
    assert "authors.yaml:14: thomas-verbeek.twitter: unknown key" in stderr


def load(root: Path, campaign_id: str) -> Campaign:
    campaigns, errors = load_campaigns(open_project(root), [campaign_id])
    assert errors == []
    return campaigns[0]


def test_campaign_loader_exposes_resolved_teaser_and_book() -> None:
    campaign = load(REPO, "2026-12-schrijven")
    (teaser,) = campaign.teasers
    assert teaser.label == "Column"
    assert teaser.author.handle == "mariekeschrijft"
    assert teaser.excerpt.endswith("wilde zeggen…")
    (book,) = campaign.books
    assert (book.sku, str(book.price), book.currency) == ("schrijven-is-schrappen", "34.95", "EUR")


def test_a_campaign_with_schema_errors_still_has_its_references_checked(project: Path, run: Run) -> None:
    edit(project, EN, "subject:", "subjct:")
    edit(project, EN, "why-we-still-read-on-paper.md", "why-we-read.md")
    edit(project, EN, "  - the-quiet-page", "  - the-quiet-pag")
    path = project / EN
    path.write_text(path.read_text(encoding="utf-8") + "template: fancy\n", encoding="utf-8")
    stderr = failing_build(run)
    assert f"{EN}:2: subjct: unknown key" in stderr
    assert f"{EN}:10: teasers[0].column: column file not found: columns/why-we-read.md" in stderr
    assert f"{EN}:12: books[0]: unknown book 'the-quiet-pag' (did you mean 'the-quiet-page'?)" in stderr
    assert "template: no such template: templates/fancy.mjml.j2" in stderr


def test_page_chrome_dropped_from_a_column_is_a_warning_of_build_and_check(project: Path, run: Run) -> None:
    from tests.column_samples import WORDPRESS_NL

    write(project / "columns" / "de-kunst-van-het-weglaten.txt", WORDPRESS_NL)
    built = run("build", "2026-12-schrijven")
    assert built.exit_code == 0, built.output
    warning = "columns/de-kunst-van-het-weglaten.txt: dropped page chrome above the title: "
    assert (
        f"warning: {warning}" in built.output
        and "“Home | Boeken | Columns | Agenda | Contact” (menu)" in built.output
    )
    checked = run("check", "2026-12-schrijven", "--format", "json")
    findings = json.loads(checked.stdout)["campaigns"][0]["findings"]
    assert any(
        f["rule"] == "column-cleanup" and f["where"] == "teaser-1" and warning in f["message"]
        for f in findings
    )
    assert run("build", "2026-12-schrijven", "--strict").exit_code != 0
