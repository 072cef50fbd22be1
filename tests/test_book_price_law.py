"""The fixed book price law (Wet op de vaste boekenprijs) through the CLI: `check` reports, and `links
sync` refuses, promotion codes on a printed Dutch or Frisian book and a price changed sooner than the
law allows; the book file keeps what the rules need (language, format, published, the price history),
and whatever it says that cannot be true is one clear message at its line.

The rules compare with the day they run on: `price_law.today` is fixed here to 15 December 2026.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from newsletter.project import price_law
from newsletter.project.campaign import load_campaigns
from newsletter.project.settings import open_project
from tests.conftest import Run, stripe_served
from tests.stripe_fake import FakeStripe

KEY = "sk_test_51NewsletterPriceLawKey0123456"
NL = "2026-12-schrijven"
BOOK = "books/schrijven-is-schrappen.yaml"
TODAY = date(2026, 12, 15)
# The Dutch sample book in five lines, so that what a test adds starts at line 6.
BASE = (
    "title: Schrijven is schrappen\n"
    "price: 34.95\n"
    "cover_url: https://www.uitgeverijlindenhof.nl/static/covers/schrijven-is-schrappen.jpg\n"
    "cover_alt: Omslag van Schrijven is schrappen\n"
    "shop_url: https://www.uitgeverijlindenhof.nl/winkel/schrijven-is-schrappen\n"
)
# A price that changed on 1 December, two months after the one before it took effect.
CHANGED = (
    "published: 2026-10-01\n"
    "price_since: 2026-12-01\n"
    "price_history:\n"
    "  - price: 29.95\n"
    "    since: 2026-10-01\n"
)


@pytest.fixture(autouse=True)
def today(monkeypatch: pytest.MonkeyPatch) -> None:
    set_today(monkeypatch, TODAY)
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", "a-test-secret-of-enough-length")


def set_today(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    monkeypatch.setattr(price_law, "today", lambda: day)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    with stripe_served(monkeypatch, KEY) as server:
        yield server


def book(project: Path, extra: str = "", base: str = BASE) -> None:
    (project / BOOK).write_text(base + extra, encoding="utf-8")


def promotion_codes(project: Path) -> None:
    path = project / "newsletter.toml"
    path.write_text(path.read_text("utf-8") + "\n[stripe]\nallow_promotion_codes = true\n", encoding="utf-8")


def findings(run: Run, campaign: str = NL) -> list[dict[str, Any]]:
    result = run("check", campaign, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    found: list[dict[str, Any]] = json.loads(result.stdout)["campaigns"][0]["findings"]
    return [f for f in found if f["rule"].startswith("fixed-price")]


def rules(run: Run, campaign: str = NL) -> list[tuple[str, str, str]]:
    return [(f["rule"], f["severity"], f["where"]) for f in findings(run, campaign)]


# -- the book file ------------------------------------------------------------------------------------


def test_the_sample_books_say_what_the_law_asks(project: Path) -> None:
    campaigns, errors = load_campaigns(open_project(project))
    assert errors == []
    books = {book.sku: book for campaign in campaigns for book in campaign.books}
    dutch, english = books["schrijven-is-schrappen"], books["the-quiet-page"]
    assert (dutch.language, dutch.format, dutch.published) == ("nl", "printed", date(2026, 10, 1))
    assert dutch.price_since == date(2026, 10, 1)  # no price_since: the price holds since publication
    assert price_law.has_fixed_price(dutch, TODAY) and not price_law.has_fixed_price(english, TODAY)
    assert price_law.liftable_from(dutch) == date(2027, 10, 1)


def test_an_old_book_file_takes_the_projects_locale_and_is_printed(project: Path, run: Run) -> None:
    """A book file from before these fields: in a Dutch project it is a Dutch printed book, so its
    Payment Link may carry no promotion codes; in an English project it is not."""
    book(project)
    promotion_codes(project)
    assert rules(run) == [("fixed-price-promotion-codes", "error", "book-1")]
    toml = project / "newsletter.toml"
    toml.write_text(toml.read_text("utf-8").replace('locale = "nl"', 'locale = "en"', 1), encoding="utf-8")
    assert rules(run) == []


# -- promotion codes ------------------------------------------------------------------------------


def test_promotion_codes_on_a_fixed_price_are_an_error_of_check_and_refused_by_sync(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    promotion_codes(project)
    [finding] = findings(run)
    assert (finding["rule"], finding["severity"], finding["where"]) == (
        "fixed-price-promotion-codes",
        "error",
        "book-1",
    )
    message = finding["message"]
    assert "'Schrijven is schrappen' is a printed book in Dutch with a fixed price" in message
    assert "Wet op de vaste boekenprijs, art. 1 and 3" in message and "set it to false" in message
    assert "its fixed price may be lifted from 2027-10-01 on (art. 7)" in message
    assert run("check", NL).exit_code == 1
    refused = run("links", "sync")
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    toml_line = next(
        number
        for number, line in enumerate((project / "newsletter.toml").read_text("utf-8").splitlines(), 1)
        if line.startswith("allow_promotion_codes")
    )
    assert refused.stderr == f"error: newsletter.toml:{toml_line}: stripe.allow_promotion_codes: {message}\n"
    assert fake.requests == [], "refused before the first request"


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param("format: ebook\n", id="an-e-book"),
        pytest.param("language: en\n", id="in-english"),
        pytest.param("language: de\n", id="in-german"),
        pytest.param("published: 2025-06-01\nfixed_price_lifted: 2026-12-01\n", id="lifted"),
    ],
)
def test_promotion_codes_are_fine_where_there_is_no_fixed_price(project: Path, run: Run, extra: str) -> None:
    book(project, extra)
    promotion_codes(project)
    assert rules(run) == []


def test_frisian_has_a_fixed_price_until_the_day_it_is_lifted(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    book(project, "language: fy\npublished: 2025-06-01\nfixed_price_lifted: 2027-01-01\n")
    promotion_codes(project)
    [finding] = findings(run)
    assert "a printed book in Frisian" in finding["message"]
    assert "its fixed price may be lifted since 2026-06-01 (art. 7)" in finding["message"]
    set_today(monkeypatch, date(2027, 1, 1))
    assert rules(run) == []


def test_without_promotion_codes_a_fixed_price_book_passes(project: Path, run: Run) -> None:
    book(project, "published: 2026-10-01\n")
    assert rules(run) == []


# -- price changes ------------------------------------------------------------------------------------


def test_a_price_changed_within_six_months_is_an_error_of_check_and_refused_by_sync(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    book(project, CHANGED)
    [finding] = findings(run)
    assert (finding["rule"], finding["severity"], finding["where"]) == (
        "fixed-price-change",
        "error",
        "book-1",
    )
    message = finding["message"]
    assert "its price changed to 34.95 on 2026-12-01" in message
    assert "after the price before it took effect on 2026-10-01" in message
    assert "Wet op de vaste boekenprijs, art. 5, allows the change from 2027-04-01 on" in message
    assert "art. 5(3): then say `price_vat_change: true`" in message
    refused = run("links", "sync", NL)
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert refused.stderr == f"error: {BOOK}:7: price_since: {message}\n"
    assert [r for r in fake.requests if r.method == "POST"] == []


def test_a_change_of_the_vat_rate_may_change_the_price_sooner(project: Path, run: Run) -> None:
    book(project, CHANGED + "price_vat_change: true\n")
    assert rules(run) == []


def test_once_the_half_year_has_run_the_price_may_be_asked(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    book(project, CHANGED)
    set_today(monkeypatch, date(2027, 3, 31))
    assert rules(run) == [("fixed-price-change", "error", "book-1")]
    set_today(monkeypatch, date(2027, 4, 1))
    assert rules(run) == []


def test_a_change_six_months_after_the_last_one_is_fine(project: Path, run: Run) -> None:
    book(
        project,
        "published: 2025-09-01\nprice_since: 2026-06-01\nprice_history:\n"
        "  - {price: 32.50, since: 2025-12-01, vat_change: true}\n  - {price: 29.95, since: 2025-09-01}\n",
    )
    assert rules(run) == []


def test_without_a_history_a_price_since_after_publication_counts_from_publication(
    project: Path, run: Run
) -> None:
    book(project, "published: 2026-10-01\nprice_since: 2026-11-15\n")
    [finding] = findings(run)
    assert "less than six months after the price before it took effect on 2026-10-01" in finding["message"]


def test_a_price_not_yet_in_effect_is_an_error(project: Path, run: Run) -> None:
    book(
        project,
        "published: 2026-01-10\nprice_since: 2027-01-01\n"
        "price_history:\n  - {price: 29.95, since: 2026-01-10}\n",
    )
    [finding] = findings(run)
    assert finding["rule"] == "fixed-price-change"
    assert "its price 34.95 takes effect on 2027-01-01 (`price_since`), after today" in finding["message"]
    assert "send the campaign from 2027-01-01 on" in finding["message"]


def test_an_e_book_may_change_its_price_at_any_time(project: Path, run: Run) -> None:
    book(project, CHANGED + "format: ebook\n")
    assert rules(run) == []


def test_a_sync_says_when_a_fixed_price_may_change_and_be_lifted(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    result = run("links", "sync")
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stdout.splitlines() if "fixed price" in line]
    assert notes == [
        "schrijven-is-schrappen: sold at its fixed price (Wet op de vaste boekenprijs): no promotion "
        "codes, no other price before 2027-04-01 (art. 5); its fixed price may be lifted from 2027-10-01 "
        "on (art. 7), and once it is, `fixed_price_lifted:` in its book file says so"
    ]


# -- what a book file cannot say ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(
            "published: 2026-13-01\n",
            "6: published: must be a date like 2027-01-31 (year-month-day) (got '2026-13-01')",
            id="no-such-month",
        ),
        pytest.param(
            "published: 1 oktober 2026\n",
            "6: published: must be a date like 2027-01-31 (year-month-day) (got '1 oktober 2026')",
            id="date-in-words",
        ),
        pytest.param(
            "published: 2026-10-01 10:00:00\n",
            "6: published: must be a date without a time, like 2027-01-31",
            id="date-with-a-time",
        ),
        pytest.param(
            "price_since: 2026-12-01\nprice_history:\n  - {price: 29.95, since: gisteren}\n",
            "8: price_history[0].since: must be a date like 2027-01-31 (year-month-day) (got 'gisteren')",
            id="history-date-in-words",
        ),
        pytest.param(
            "price_since: 2026-12-01\nprice_history:\n  - {price: -29.95, since: 2026-01-01}\n",
            "8: price_history[0].price: must be a positive amount like 34.95",
            id="negative-price",
        ),
        pytest.param(
            "price_since: 2026-12-01\nprice_history:\n  - {price: 29.955, since: 2026-01-01}\n",
            "8: price_history[0].price: must have at most two decimals (whole cents) like 34.95",
            id="fractions-of-a-cent",
        ),
        pytest.param(
            "price_since: 2026-12-01\nprice_history:\n"
            "  - {price: 29.95, since: 2025-06-01}\n  - {price: 27.50, since: 2026-01-01}\n",
            "9: price_history[1].since: must be before 2025-06-01 (price_history[0].since): the history "
            "lists the earlier prices newest first",
            id="history-out-of-order",
        ),
        pytest.param(
            "price_since: 2026-12-01\nprice_history:\n  - {price: 29.95, since: 2027-01-01}\n",
            "8: price_history[0].since: must be before 2026-12-01 (price_since)",
            id="history-after-the-current-price",
        ),
        pytest.param(
            "price_since: 2026-12-01\nprice_history:\n  - {price: 34.95, since: 2026-01-01}\n",
            "8: price_history[0].price: is 34.95, the price after it too: list only the prices a change "
            "ended",
            id="no-change",
        ),
        pytest.param(
            "price_history:\n  - {price: 29.95, since: 2026-01-01}\n",
            "7: price_history: needs `price_since:`, the day `price` took effect",
            id="history-without-price-since",
        ),
        pytest.param(
            "price_since: 2026-12-01\nprice_history:\n  - {price: 29.95, sinse: 2026-01-01}\n",
            "8: price_history[0].sinse: unknown key (did you mean 'since'?)",
            id="typo-in-history",
        ),
        pytest.param(
            "price_since: 2026-12-01\nprice_history: 29.95\n",
            "7: price_history: must be a list (one item per line, starting with '- ')",
            id="history-not-a-list",
        ),
        pytest.param(
            "published: 2026-10-01\nfixed_price_lifted: 2027-03-01\n",
            "7: fixed_price_lifted: must be 2027-10-01 or later: a fixed price may be lifted one year after "
            "the book came out (Wet op de vaste boekenprijs, art. 7; published: 2026-10-01)",
            id="lifted-too-soon",
        ),
        pytest.param(
            "language: Nederlands\n",
            "6: language: must be a two-letter language code like nl, fy or en (got 'Nederlands')",
            id="language-in-words",
        ),
        pytest.param(
            "format: paperback\n",
            "6: format: must be printed or ebook (got 'paperback')",
            id="unknown-format",
        ),
        pytest.param(
            "price_vat_change: misschien\n",
            "6: price_vat_change: must be true or false (got 'misschien')",
            id="not-a-boolean",
        ),
    ],
)
def test_a_book_file_that_cannot_be_true_is_one_clear_message(
    project: Path, run: Run, extra: str, expected: str
) -> None:
    book(project, extra)
    result = run("check", NL)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    said = [line for line in result.stderr.splitlines() if BOOK in line]
    assert any(line.startswith(f"error: {BOOK}:{expected}") for line in said), said


def test_every_problem_of_a_book_file_is_reported_at_once(project: Path, run: Run) -> None:
    book(
        project,
        "published: 2026-10-01\nfixed_price_lifted: 2027-01-01\nprice_since: 2026-12-01\nprice_history:\n"
        "  - {price: 29.95, since: 2025-06-01}\n  - {price: 29.95, since: 2026-01-01}\n",
    )
    result = run("build", NL)
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert [line.split(": ", 3)[1:3] for line in errors] == [
        [f"{BOOK}:11", "price_history[1].since"],
        [f"{BOOK}:11", "price_history[1].price"],
        [f"{BOOK}:7", "fixed_price_lifted"],
    ]
