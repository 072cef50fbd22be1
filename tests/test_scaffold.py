"""`newsletter new` from columns as blogs export them (issue 11): the title below the page chrome,
a preheader without it, and the book the column promotes found in books/ or started there; the
column copied into columns/ without its chrome (once: the same download again is the same column),
and a campaign that greets and signs off in its locale."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.project.validation import load_yaml
from tests.column_samples import (
    BLOGGER_EN,
    LONG_SENTENCE_NL,
    MARKDOWN_EXPORT,
    NEW_BOOK_NL,
    WORDPRESS_NL,
)
from tests.conftest import Run, write

TODO_URL = "TODO: the https:// address of the full column"
NL_SIGN_OFF = "Hartelijke groet,\n\nUitgeverij Lindenhof\n"
EN_SIGN_OFF = "Kind regards,\n\nUitgeverij Lindenhof\n"


def campaign(project: Path, campaign_id: str) -> dict[str, object]:
    data, _ = load_yaml(project / "campaigns" / f"{campaign_id}.yaml")
    assert isinstance(data, dict)
    return data


def fill_in_url(project: Path, campaign_id: str) -> None:
    path = project / "campaigns" / f"{campaign_id}.yaml"
    text = path.read_text(encoding="utf-8")
    assert TODO_URL in text
    path.write_text(text.replace(TODO_URL, "https://www.uitgeverijlindenhof.nl/columns/x"), encoding="utf-8")


def test_wordpress_export_drops_the_chrome_and_sells_the_promoted_book(
    project: Path, run: Run, tmp_path: Path
) -> None:
    column = write(tmp_path / "social-media.txt", WORDPRESS_NL)

    result = run("new", "2027-01-social", "--column", str(column))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "warning: columns/social-media.txt: dropped page chrome above the title: "
        "“Uitgeverij Lindenhof – boeken die blijven” (site name), "
        "“Home | Boeken | Columns | Agenda | Contact” (menu), “Adverteren of een persbericht?” (question)",
        "book: schrijven-is-schrappen, promoted after the column "
        "(“Boek Schrijven is schrappen met Joost Hendriks, Fatima El Amrani en Pieter-Jan Claes”)",
        "wrote campaigns/2027-01-social.yaml; edit it, then run: newsletter build 2027-01-social",
    ]
    assert campaign(project, "2027-01-social") == {
        "subject": "Social media verandert jouw bedrijf!",
        "preheader": "Wie vandaag een bedrijf heeft, ontkomt niet aan sociale media…",
        "locale": "nl",
        "intro": "Beste {first_name},\n\nHieronder vind je de nieuwe column van Marieke de Wit.\n",
        "teasers": [{"column": "social-media.txt", "url": TODO_URL}],
        "books": ["schrijven-is-schrappen"],
        "sign_off": NL_SIGN_OFF,
    }
    fill_in_url(project, "2027-01-social")
    built = run("build", "2027-01-social")
    assert built.exit_code == 0, built.output
    email = (project / "build" / "2027-01-social" / "email.txt").read_text(encoding="utf-8")
    text = " ".join(email.split())  # the text part wraps its lines
    assert "Social media verandert jouw bedrijf!" in text
    assert "Een helder bericht van drie zinnen" in text  # the excerpt, whole
    for chrome_or_promotion in ("boeken die blijven", "Agenda", "persbericht", "Gratis verzonden"):
        assert chrome_or_promotion not in text


def test_blogger_export_in_english_matches_the_book_whatever_its_case(
    project: Path, run: Run, tmp_path: Path
) -> None:
    column = write(tmp_path / "slow-readers.txt", BLOGGER_EN)

    result = run("new", "2027-01-slow", "--column", str(column), "--locale", "en")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        "warning: columns/slow-readers.txt: dropped page chrome above the title: "
        "“Lindenhof Blog” (short line), “Books, writing and reading” (page header)",
        "book: the-quiet-page, promoted after the column "
        "(“Book THE QUIET PAGE with Thomas Verbeek and Ilse Maas”)",
    ]
    assert campaign(project, "2027-01-slow") == {
        "subject": "Why slow readers remember more",
        "preheader": "Every reader knows the feeling: you finish a page and cannot say what was on it…",
        "locale": "en",
        "intro": "Dear {first_name},\n\nBelow is our new column.\n",
        "teasers": [
            {"column": "slow-readers.txt", "url": TODO_URL, "author": "TODO: an author key from authors.yaml"}
        ],
        "books": ["the-quiet-page"],
        "sign_off": EN_SIGN_OFF,
    }


def test_markdown_export_matches_the_book_by_some_of_its_co_authors(
    project: Path, run: Run, tmp_path: Path
) -> None:
    column = write(tmp_path / "trein.md", MARKDOWN_EXPORT)

    result = run("new", "2027-01-trein", "--column", str(column))

    assert result.exit_code == 0, result.output
    assert (
        "warning: columns/trein.md: dropped page chrome above the title: “Uitgeverij Lindenhof” (site name)"
        in (result.stdout)
    )
    data = campaign(project, "2027-01-trein")
    assert (data["subject"], data["books"]) == ("Lezen in de trein", ["schrijven-is-schrappen"])
    assert (
        data["preheader"]
        == "Iedereen leest in de trein, zegt men. Maar wie om zich heen kijkt, ziet vooral schermen."
    )


def test_a_promoted_book_that_is_not_in_books_is_started_with_todos_that_fail_the_build(
    project: Path, run: Run, tmp_path: Path
) -> None:
    column = write(tmp_path / "bijzin.txt", NEW_BOOK_NL)

    result = run("new", "2027-02-bijzin", "--column", str(column))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "wrote books/weg-ermee.yaml for the book promoted after the column "
        "(“Boek ‘Weg ermee!’ met Joost Hendriks & Anouk van den Berg”); "
        "fill in its TODOs (price, cover_url, cover_alt, shop_url); until then the build fails",
        "wrote campaigns/2027-02-bijzin.yaml; edit it, then run: newsletter build 2027-02-bijzin",
    ]
    data = campaign(project, "2027-02-bijzin")
    assert (data["subject"], data["books"]) == ("Weg met de bijzin", ["weg-ermee"])
    stub = project / "books" / "weg-ermee.yaml"
    book, _ = load_yaml(stub)
    assert book == {
        "title": "Weg ermee!",
        "co_authors": ["Anouk Jansen", "Joost Hendriks", "Anouk van den Berg"],
        "price": "TODO: the price in euros, like 24.95",
        "cover_url": "TODO: the https:// address of the cover image",
        "cover_alt": None,
        "shop_url": "TODO: the https:// address of the book in the web shop",
    }
    assert "cover_alt:  # TODO: describe the cover for screen readers" in stub.read_text(encoding="utf-8")

    fill_in_url(project, "2027-02-bijzin")
    built = run("build", "2027-02-bijzin")
    assert built.exit_code == 2
    errors = [line for line in built.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: books/weg-ermee.yaml:9: price: must be an amount in euros like 34.95 "
        "(a dot before the cents, no € sign) (got 'TODO: the price in euros, like 24.95')",
        "error: books/weg-ermee.yaml:10: cover_url: must be an absolute https:// URL "
        "(got 'TODO: the https:// address of the cover image')",
        "error: books/weg-ermee.yaml:11: cover_alt: must be text",
        "error: books/weg-ermee.yaml:12: shop_url: must be an absolute https:// URL "
        "(got 'TODO: the https:// address of the book in the web shop')",
    ]

    # The next column that promotes the book finds the started file, and leaves it as it is.
    before = stub.read_bytes()
    again = write(tmp_path / "bijzin-2.txt", NEW_BOOK_NL.replace("Weg met de bijzin", "Nog meer weg"))
    second = run("new", "2027-03-bijzin", "--column", str(again))
    assert second.exit_code == 0, second.output
    assert "book: weg-ermee, promoted after the column" in second.stdout
    assert campaign(project, "2027-03-bijzin")["books"] == ["weg-ermee"]
    assert stub.read_bytes() == before


def test_an_existing_book_file_is_never_written_over(project: Path, run: Run, tmp_path: Path) -> None:
    book = project / "books" / "schrijven-is-schrappen.yaml"
    before = book.read_bytes()
    text = NEW_BOOK_NL.replace(
        "Boek ‘Weg ermee!’ met Joost Hendriks & Anouk van den Berg",
        "Boek Schrijven is schrappen met Jan de Vries",
    )
    column = write(tmp_path / "ander.txt", text)

    result = run("new", "2027-02-ander", "--column", str(column))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "book: books/schrijven-is-schrappen.yaml exists already but is not the book promoted "
        "(“Boek Schrijven is schrappen met Jan de Vries”): its title or co-authors differ; "
        "pass --book, or correct the book file"
    )
    assert campaign(project, "2027-02-ander")["books"] == ["TODO: a book SKU from books/"]
    assert book.read_bytes() == before


def test_book_option_wins_over_the_promotion(project: Path, run: Run, tmp_path: Path) -> None:
    column = write(tmp_path / "bijzin.txt", NEW_BOOK_NL)

    result = run("new", "2027-02-x", "--column", str(column), "--book", "the-quiet-page")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "wrote campaigns/2027-02-x.yaml; edit it, then run: newsletter build 2027-02-x"
    ]
    assert campaign(project, "2027-02-x")["books"] == ["the-quiet-page"]
    assert not (project / "books" / "weg-ermee.yaml").exists()


def test_a_column_without_chrome_or_promoted_book_says_nothing_more(project: Path, run: Run) -> None:
    result = run("new", "2027-02-weglaten", "--column", "columns/de-kunst-van-het-weglaten.txt")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "wrote campaigns/2027-02-weglaten.yaml; edit it, then run: newsletter build 2027-02-weglaten"
    ]
    data = campaign(project, "2027-02-weglaten")
    assert (data["subject"], data["books"]) == ("De kunst van het weglaten", ["TODO: a book SKU from books/"])
    assert sorted(p.name for p in (project / "books").iterdir()) == [
        "schrijven-is-schrappen.yaml",
        "the-quiet-page.yaml",
    ]


def test_a_dangling_link_in_columns_is_never_written_through(project: Path, run: Run, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    (project / "columns" / "col-x.txt").symlink_to(outside)
    column = write(tmp_path / "elsewhere" / "col-x.txt", WORDPRESS_NL)
    result = run("new", "2027-02-x", "--column", str(column))
    assert result.exit_code == 2
    assert "columns/col-x.txt is a link to a file that does not exist" in result.stderr
    assert not outside.exists()


def test_a_promoted_title_of_eighty_words_gets_a_short_sku(project: Path, run: Run, tmp_path: Path) -> None:
    title = " ".join(["Woord"] * 80)
    column = write(tmp_path / "lang.txt", WORDPRESS_NL.replace("Schrijven is schrappen met", f"{title} met"))
    result = run("new", "2027-02-lang", "--column", str(column))
    assert result.exit_code == 0, result.output
    [stub] = [p for p in (project / "books").glob("woord-*.yaml")]
    assert len(stub.stem) <= 60


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """As where campaigns are sent from: without it `check` reports an error for every campaign."""
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", "a-test-secret-of-enough-length")


def test_the_same_download_given_again_is_the_column_already_in_columns(
    project: Path, run: Run, tmp_path: Path
) -> None:
    download = write(tmp_path / "Downloads" / "social-media.txt", WORDPRESS_NL)
    assert run("new", "2027-01-social", "--column", str(download)).exit_code == 0
    copy = project / "columns" / "social-media.txt"
    before = copy.read_bytes()

    again = run("new", "2027-02-social", "--column", str(download))

    assert again.exit_code == 0, again.output
    assert campaign(project, "2027-02-social")["teasers"] == [{"column": "social-media.txt", "url": TODO_URL}]
    assert copy.read_bytes() == before
    # Downloaded once more, on Windows this time: still the same column.
    windows = tmp_path / "elders" / "social-media.txt"
    windows.parent.mkdir()
    windows.write_bytes(b"\xef\xbb\xbf" + WORDPRESS_NL.replace("\n", "\r\n").encode("utf-8"))
    assert run("new", "2027-03-social", "--column", str(windows)).exit_code == 0, "a BOM and CRLF differ"
    assert copy.read_bytes() == before

    other = write(tmp_path / "ander" / "social-media.txt", WORDPRESS_NL.replace("zondag", "maandag"))
    refused = run("new", "2027-04-social", "--column", str(other))
    assert refused.exit_code == 2
    assert "columns/social-media.txt exists already and is another file" in refused.stderr
    assert copy.read_bytes() == before


def test_the_column_goes_into_columns_without_its_page_chrome_so_build_and_check_are_clean(
    project: Path, run: Run, tmp_path: Path, secret: None
) -> None:
    column = write(tmp_path / "social-media.txt", WORDPRESS_NL)
    result = run("new", "2027-01-social", "--column", str(column))
    assert "dropped page chrome above the title" in result.stdout  # said once, here

    copy = (project / "columns" / "social-media.txt").read_text(encoding="utf-8")
    assert copy == WORDPRESS_NL[WORDPRESS_NL.index("[Column]") :]
    fill_in_url(project, "2027-01-social")
    built = run("build", "2027-01-social")
    assert built.exit_code == 0, built.output
    assert "0 warnings, checks: 0 errors, 0 warnings" in built.stdout
    assert "chrome" not in built.output
    checked = run("check", "--strict", "2027-01-social")
    assert checked.exit_code == 0, checked.output


def test_markdown_and_a_column_already_in_columns_lose_their_page_chrome_too(
    project: Path, run: Run, tmp_path: Path
) -> None:
    write(tmp_path / "trein.md", MARKDOWN_EXPORT)
    in_columns = write(project / "columns" / "social-media.txt", WORDPRESS_NL)

    assert run("new", "2027-01-trein", "--column", str(tmp_path / "trein.md")).exit_code == 0
    assert run("new", "2027-01-social", "--column", "columns/social-media.txt").exit_code == 0

    markdown = (project / "columns" / "trein.md").read_text(encoding="utf-8")
    assert markdown == MARKDOWN_EXPORT[MARKDOWN_EXPORT.index("# [Column]") :]
    assert in_columns.read_text(encoding="utf-8").startswith(
        "[Column] Social media verandert jouw bedrijf!\n"
    )
    fill_in_url(project, "2027-01-trein")
    fill_in_url(project, "2027-01-social")
    built = run("build")
    assert built.exit_code == 0, built.output
    assert "chrome" not in built.output


def test_a_new_campaign_greets_the_reader_and_signs_off_in_its_locale(project: Path, run: Run) -> None:
    paper = "columns/why-we-still-read-on-paper.md"
    result = run("new", "2027-01-papier", "--column", paper, "--locale", "en", "--book", "the-quiet-page")

    assert result.exit_code == 0, result.output
    data = campaign(project, "2027-01-papier")
    # The column names its author by key: the greeting names them as authors.yaml does.
    assert data["intro"] == "Dear {first_name},\n\nBelow is the new column by Thomas Verbeek.\n"
    assert data["sign_off"] == EN_SIGN_OFF
    text = (project / "campaigns" / "2027-01-papier.yaml").read_text(encoding="utf-8")
    assert "intro: |\n  Dear {first_name},\n\n  Below is" in text  # ready to edit as editors write it
    built = run("build", "2027-01-papier")
    assert built.exit_code == 0, built.output
    email = (project / "build" / "2027-01-papier" / "email.txt").read_text(encoding="utf-8")
    assert "\nDear reader,\n\nBelow is the new column by Thomas Verbeek.\n" in email
    assert "\nKind regards,\n\nUitgeverij Lindenhof\n" in email

    assert run("new", "2027-01-weglaten", "--column", "columns/de-kunst-van-het-weglaten.txt").exit_code == 0
    data = campaign(project, "2027-01-weglaten")
    assert data["intro"] == "Beste {first_name},\n\nHieronder vind je de nieuwe column van Marieke de Wit.\n"
    assert data["sign_off"] == NL_SIGN_OFF


def test_the_preheader_ends_after_a_clause_and_passes_the_preheader_checks(
    project: Path, run: Run, tmp_path: Path, secret: None
) -> None:
    column = write(tmp_path / "intern.txt", LONG_SENTENCE_NL)

    result = run("new", "2027-01-intern", "--column", str(column), "--book", "schrijven-is-schrappen")

    assert result.exit_code == 0, result.output
    preheader = campaign(project, "2027-01-intern")["preheader"]
    assert preheader == "Social media is vandaag echt niet alleen iets voor je eigen klanten…"
    assert isinstance(preheader, str) and 40 <= len(preheader) <= 100
    fill_in_url(project, "2027-01-intern")
    assert run("build", "2027-01-intern").exit_code == 0
    checked = run("check", "--strict", "2027-01-intern")
    assert checked.exit_code == 0, checked.output
    html = (project / "build" / "2027-01-intern" / "email.html").read_text(encoding="utf-8")
    assert preheader in html  # the preview text, first in the body
