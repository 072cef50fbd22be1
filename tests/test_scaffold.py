"""`newsletter new` from columns as blogs export them (issue 11): the title below the page chrome,
a preheader without it, and the book the column promotes found in books/ or started there."""

from __future__ import annotations

from pathlib import Path

from newsletter.project.validation import load_yaml
from tests.column_samples import BLOGGER_EN, MARKDOWN_EXPORT, NEW_BOOK_NL, WORDPRESS_NL, WORDPRESS_NL_EXCERPT
from tests.conftest import Run, write

TODO_URL = "TODO: the https:// address of the full column"


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
        "preheader": WORDPRESS_NL_EXCERPT,
        "locale": "nl",
        "teasers": [{"column": "social-media.txt", "url": TODO_URL}],
        "books": ["schrijven-is-schrappen"],
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
        "teasers": [
            {"column": "slow-readers.txt", "url": TODO_URL, "author": "TODO: an author key from authors.yaml"}
        ],
        "books": ["the-quiet-page"],
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
