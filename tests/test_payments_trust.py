"""What the order button may be: only a Payment Link Stripe confirmed, on Stripe's own host.

payments.lock.json is committed with the campaigns, so anyone who can change it could put any URL
behind every "BESTEL NU!" button; a book's price must be one Stripe can sell at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from newsletter.payments.lock import LOCK_FILE
from tests.conftest import LOCKED, Run, stripe_served, write_lock
from tests.stripe_fake import FakeStripe

CAMPAIGN = "2026-12-schrijven"
SKU = "schrijven-is-schrappen"
KEY = "sk_test_51NewsletterTrustKey0123456789"
PHISH = "https://pay.evil-phish.net/schrijven-is-schrappen"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    with stripe_served(monkeypatch, KEY) as server:
        yield server


def email_html(project: Path) -> Path:
    return project / "build" / CAMPAIGN / "email.html"


def test_a_phishing_url_in_the_lock_stops_build_check_and_send(project: Path, run: Run) -> None:
    write_lock(project, {**LOCKED, "url": PHISH})
    build = run("build", CAMPAIGN)
    assert build.exit_code == 2
    (line,) = [line for line in build.stderr.splitlines() if PHISH in line]
    assert line.startswith(f"error: {LOCK_FILE}: links[0]: campaign {CAMPAIGN}, book {SKU}: url ")
    assert "is not a Stripe Payment Link" in line and "newsletter links sync" in line
    assert not email_html(project).exists()
    check = run("check", CAMPAIGN)
    assert check.exit_code == 2 and PHISH in check.stderr
    for args in (["--dry-run"], ["--yes"], ["--yes", "--force"]):
        send = run("send", CAMPAIGN, *args)
        assert send.exit_code == 2, args
        assert PHISH in send.stderr and "sent" not in send.stdout
    assert not (project / "build" / CAMPAIGN / "outbox").exists()


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "http://buy.stripe.com/test_abc123",
        "https://buy.stripe.com.evil-phish.net/test_abc123",
        "https://buy.stripe.com@evil-phish.net/test_abc123",
        "https://buy.stripe.com:8443/test_abc123",
        "https://buy.stripe.com/test_abc123?next=https://evil-phish.net",
        "https://buy.stripe.com/test_abc123#x",
        "https://buy.stripe.com/test_abc/../../evil",
        "https://buy.stripe.com/test_abc123\n",
        "https://BUY.STRIPE.COM/test_abc123",
        "https://checkout.stripe.com/c/pay/cs_test_abc",
        "https://buy.stripe.com/abc123",  # a live link, in an entry that says test mode
        "",
    ],
)
def test_only_stripe_payment_link_urls_of_the_entrys_mode_are_accepted(
    project: Path, run: Run, url: str
) -> None:
    write_lock(project, {**LOCKED, "url": url})
    result = run("build", CAMPAIGN)
    assert result.exit_code == 2
    assert f"error: {LOCK_FILE}: links[0]: campaign {CAMPAIGN}, book {SKU}: url" in result.stderr
    assert not email_html(project).exists()


def test_a_live_link_in_a_live_entry_is_accepted(project: Path, run: Run) -> None:
    settings = project / "newsletter.toml"
    settings.write_text(settings.read_text("utf-8") + "\n[stripe]\nlive = true\n", encoding="utf-8")
    write_lock(project, {**LOCKED, "mode": "live", "url": "https://buy.stripe.com/4gw8A0bC1dE"})
    result = run("build", CAMPAIGN)
    assert result.exit_code == 0, result.output
    assert 'href="https://buy.stripe.com/4gw8A0bC1dE"' in email_html(project).read_text("utf-8")


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("payment_link", "evil", "is not a Stripe id (plink_...)"),
        ("price", "", "is not a Stripe id (price_...)"),
        ("product", None, "is not a Stripe id (prod_...)"),
        ("amount", "3495", "must be whole cents"),
        ("active", "yes", "must be true or false"),
        ("mode", "production", "must be 'test' or 'live'"),
        ("confirmed_by", "me", "is not a field a sync writes"),
    ],
)
def test_an_entry_a_sync_did_not_write_is_refused(
    project: Path, run: Run, field: str, value: object, says: str
) -> None:
    write_lock(project, {**LOCKED, field: value})
    result = run("build", CAMPAIGN)
    assert result.exit_code == 2
    assert f"error: {LOCK_FILE}: links[0]: campaign {CAMPAIGN}, book {SKU}: {field} {says}" in result.stderr


def test_every_bad_entry_is_reported_in_one_run(project: Path, run: Run) -> None:
    other = {**LOCKED, "campaign": "2026-12-paper", "sku": "the-quiet-page", "payment_link": "plink_B"}
    write_lock(project, {**LOCKED, "url": PHISH}, {**other, "url": "javascript:void(0)", "price": "x"})
    result = run("build")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 3
    assert "links[1]: campaign 2026-12-paper, book the-quiet-page: price" in result.stderr
    assert "links[1]: campaign 2026-12-paper, book the-quiet-page: url 'javascript:void(0)'" in result.stderr


def test_links_list_and_sync_refuse_a_tampered_lock_before_any_request(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    write_lock(project, {**LOCKED, "url": PHISH})
    for args in (["links", "list"], ["links", "sync"], ["report", CAMPAIGN]):
        result = run(*args)
        assert result.exit_code == 2 and PHISH in result.stderr, args
    assert fake.requests == []


def test_what_a_sync_writes_is_read_back(project: Path, run: Run, fake: FakeStripe) -> None:
    assert run("links", "sync").exit_code == 0
    entries = json.loads((project / LOCK_FILE).read_text("utf-8"))["links"]
    assert {entry["url"].split("/test_")[0] for entry in entries} == {"https://buy.stripe.com"}
    result = run("build")
    assert result.exit_code == 0, result.output
    assert "0 warnings" in result.stdout


# -- the price of a book -----------------------------------------------------------------------------


def set_price(project: Path, price: str) -> Path:
    book = project / "books" / f"{SKU}.yaml"
    text = re.sub(r"(?m)^price: .*$", f"price: {price}", book.read_text("utf-8"))
    book.write_text(text, encoding="utf-8")
    return book


def test_a_price_above_what_stripe_accepts_is_a_load_error_at_its_line(project: Path, run: Run) -> None:
    book = set_price(project, "1000000.00")
    line = next(n for n, text in enumerate(book.read_text("utf-8").splitlines(), 1) if "price:" in text)
    result = run("build", CAMPAIGN)
    assert result.exit_code == 2
    assert (
        f"error: books/{SKU}.yaml:{line}: price: must be at most 999999.99: Stripe accepts prices up to "
        "99,999,999 cents (got 1000000.00)"
    ) in result.stderr
    assert run("check", CAMPAIGN).exit_code == 2


def test_the_highest_price_stripe_accepts_syncs(project: Path, run: Run, fake: FakeStripe) -> None:
    set_price(project, "999999.99")
    result = run("links", "sync", CAMPAIGN)
    assert result.exit_code == 0, result.output
    assert [price["unit_amount"] for price in fake.objects("price")] == [99_999_999]
    set_price(project, "1000000")
    refused = run("links", "sync", CAMPAIGN)
    assert refused.exit_code == 2 and "price: must be at most 999999.99" in refused.stderr
    assert fake.created_count("price") == 1


def test_the_fake_refuses_an_amount_stripe_refuses(fake: FakeStripe) -> None:
    client = stripe.StripeClient(KEY, base_addresses={"api": fake.url})
    product = client.v1.products.create(params={"name": "Boek"})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.prices.create(params={"product": product.id, "currency": "eur", "unit_amount": 100_000_000})
    assert refused.value.param == "unit_amount"
    assert "less than or equal to 99999999" in str(refused.value.user_message)
