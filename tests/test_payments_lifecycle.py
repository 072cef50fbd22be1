"""A campaign's Payment Links over its life, through the CLI against the local Stripe fake: switched
off and on, kept on for emails already delivered when a price changes, ended by `ends:`, reported.

The promise under test: no email ever carries a dead order button, and none that went out loses its
button because of something done later.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsletter.payments.lock import LOCK_FILE
from tests.conftest import Run, stripe_served, write
from tests.smtp_fake import FakeSMTP, configure
from tests.stripe_fake import FakeStripe

KEY = "sk_test_51NewsletterLifecycleKey012345"
SENT, UNSENT = "2026-12-schrijven", "2027-01-schrijven"  # two campaigns selling one book
SKU = "schrijven-is-schrappen"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    with stripe_served(monkeypatch, KEY) as server:
        yield server


def sync(run: Run, *args: str) -> str:
    result = run("links", "sync", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def entries(project: Path, campaign: str = SENT) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = json.loads((project / LOCK_FILE).read_text("utf-8"))["links"]
    return [link for link in links if link["campaign"] == campaign]


def stripe_links(fake: FakeStripe, campaign: str = SENT) -> dict[int, dict[str, Any]]:
    """The campaign's Payment Links at Stripe, by the amount of their price."""
    amounts = {price["id"]: price["unit_amount"] for price in fake.objects("price")}
    return {
        amounts[link["metadata"]["price"]]: link
        for link in fake.objects("payment_link")
        if link["metadata"]["campaign"] == campaign
    }


def order_button(project: Path, campaign: str = SENT) -> dict[str, str]:
    meta = json.loads((project / "build" / campaign / "meta.json").read_text("utf-8"))
    (button,) = [link for link in meta["links"] if link["block"] == "book-1"]
    return dict(button)


def build(run: Run, campaign: str = SENT) -> str:
    result = run("build", campaign)
    assert result.exit_code == 0, result.output
    return result.stdout


def set_price(project: Path, price: str) -> None:
    book = project / "books" / f"{SKU}.yaml"
    text = re.sub(r"(?m)^price: .*$", f"price: {price}", book.read_text("utf-8"))
    book.write_text(text, encoding="utf-8")


def add_to_campaign(project: Path, campaign: str, yaml: str) -> None:
    path = project / "campaigns" / f"{campaign}.yaml"
    path.write_text(path.read_text("utf-8") + yaml, encoding="utf-8")


# -- switched off, and on again ------------------------------------------------------------------


def test_a_deactivated_campaign_stays_off_through_sync_and_build(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    sync(run, SENT)
    url = entries(project)[0]["url"]
    assert run("links", "deactivate", SENT).exit_code == 0
    out = sync(run, SENT)
    assert re.search(rf"{SENT}\s+{SKU}\s+€\xa034,95\s+{re.escape(url)}\s+-\s+-\s+inactive", out)
    assert f"`newsletter links activate {SENT}` switches them on again" in out
    assert [(e["active"], e["off"]) for e in entries(project)] == [(False, "deactivated")]
    assert stripe_links(fake)[3495]["active"] is False
    assert fake.created_count("payment_link") == 1
    built = build(run)
    assert "book-1 (schrijven-is-schrappen) has no active Stripe Payment Link" in built
    assert order_button(project)["kind"] == "order-shop"
    assert url not in (project / "build" / SENT / "email.html").read_text("utf-8")


def test_a_sync_without_the_lock_finds_the_switched_off_link_and_keeps_it_off(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    """Stripe replays the first answer to an idempotency key, with `active: true` in it: a sync that
    took that at its word would switch the dead link back into every email."""
    sync(run, SENT)
    run("links", "deactivate", SENT)
    (project / LOCK_FILE).unlink()
    sync(run, SENT)
    assert [(e["active"], e["off"]) for e in entries(project)] == [(False, "deactivated")]
    assert fake.created_count("payment_link") == 1
    assert stripe_links(fake)[3495]["active"] is False
    build(run)
    assert order_button(project)["kind"] == "order-shop"


def test_activate_switches_the_campaign_on_again(project: Path, run: Run, fake: FakeStripe) -> None:
    sync(run, SENT)
    run("links", "deactivate", SENT)
    result = run("links", "activate", SENT)
    assert result.exit_code == 0, result.output
    url = entries(project)[0]["url"]
    assert f"activated {SKU}: {url}" in result.stdout
    assert stripe_links(fake)[3495]["active"] is True
    assert [(e["active"], e["off"]) for e in entries(project)] == [(True, None)]
    assert re.search(r"reused\s+reused\s+reused", sync(run, SENT))
    build(run)
    assert order_button(project) == {
        "url": url,
        "block": "book-1",
        "kind": "order-stripe-test",
        "label": "BESTEL NU!",
    }
    again = run("links", "activate", SENT)
    assert f"{SENT} has no switched-off links" in again.stdout


def test_a_price_change_while_deactivated_makes_no_link_until_activated(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    sync(run, SENT)
    run("links", "deactivate", SENT)
    set_price(project, "29.95")
    sync(run, SENT)
    assert fake.created_count("payment_link") == 1
    activated = run("links", "activate", SENT)
    assert (
        f"{SKU} has no link at its current price yet: run `newsletter links sync {SENT}`" in activated.stdout
    )
    assert f"{SENT} has no switched-off links" in activated.stdout  # the old price's link never went out
    assert re.search(r"reused\s+created\s+created", sync(run, SENT))
    assert {amount: link["active"] for amount, link in stripe_links(fake).items()} == {
        3495: False,
        2995: True,
    }


# -- a campaign that was sent ----------------------------------------------------------------------


@pytest.fixture
def two_campaigns(project: Path) -> Path:
    """A second, unsent campaign selling the same book."""
    shutil.copy(project / "campaigns" / f"{SENT}.yaml", project / "campaigns" / f"{UNSENT}.yaml")
    return project


def send_for_real(project: Path, run: Run, monkeypatch: pytest.MonkeyPatch, campaign: str) -> None:
    """A real send over SMTP to two readers (forced: a test-mode Payment Link blocks a real send)."""
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", "a-test-secret-of-enough-length")
    monkeypatch.delenv("NEWSLETTER_SMTP_PASSWORD", raising=False)
    readers = write(
        project / "readers.csv", "email,name,locale\nan@example.org,An,nl\nbo@example.org,Bo,nl\n"
    )
    assert run("audience", "import", str(readers), "--consent", "testlijst").exit_code == 0
    with FakeSMTP() as smtp:
        configure(project, smtp.port)
        result = run("send", campaign, "--yes", "--force")
        assert result.exit_code == 0, result.output
        assert len(smtp.messages) == 2


def test_a_price_change_keeps_the_links_of_a_sent_campaign_on(
    two_campaigns: Path, run: Run, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = two_campaigns
    sync(run)
    sent_url = entries(project, SENT)[0]["url"]
    send_for_real(project, run, monkeypatch, SENT)
    assert [e["sent"] for e in entries(project, SENT)] == [True]
    assert [e["sent"] for e in entries(project, UNSENT)] == [False]
    set_price(project, "29.95")
    out = sync(run)
    assert "was sent, so the links in its emails stay on at their price" in out
    sent, unsent = stripe_links(fake, SENT), stripe_links(fake, UNSENT)
    assert {amount: link["active"] for amount, link in sent.items()} == {3495: True, 2995: True}
    assert {amount: link["active"] for amount, link in unsent.items()} == {3495: False, 2995: True}
    assert sent[3495]["url"] == sent_url
    assert [(e["amount"], e["active"], e["sent"]) for e in entries(project, SENT)] == [
        (2995, True, False),
        (3495, True, True),
    ]
    assert [(e["amount"], e["active"], e["off"]) for e in entries(project, UNSENT)] == [
        (2995, True, None),
        (3495, False, "new-price"),
    ]
    prices = {price["unit_amount"]: price for price in fake.objects("price")}
    assert prices[3495]["active"] and prices[3495]["lookup_key"] is None  # still sold by the sent email
    assert prices[2995]["lookup_key"] == f"book-{SKU}-eur"
    build(run, UNSENT)
    assert order_button(project, UNSENT)["url"] == unsent[2995]["url"]
    # Once the promotion is switched off, the old Price is no longer sold anywhere: archived.
    assert run("links", "deactivate", SENT).exit_code == 0
    prices = {price["unit_amount"]: price for price in fake.objects("price")}
    assert not prices[3495]["active"] and prices[2995]["active"]


def test_a_link_reactivated_with_its_sent_campaign_gets_its_price_back(
    two_campaigns: Path, run: Run, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = two_campaigns
    sync(run, SENT)
    send_for_real(project, run, monkeypatch, SENT)
    set_price(project, "29.95")
    sync(run, SENT)
    run("links", "deactivate", SENT)
    assert run("links", "activate", SENT).exit_code == 0
    assert {amount: link["active"] for amount, link in stripe_links(fake).items()} == {3495: True, 2995: True}
    prices = {price["unit_amount"]: price for price in fake.objects("price")}
    assert prices[3495]["active"] and prices[3495]["lookup_key"] is None


def test_links_list_says_which_links_went_out_and_why_others_are_off(
    two_campaigns: Path, run: Run, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = two_campaigns
    sync(run)
    send_for_real(project, run, monkeypatch, SENT)
    set_price(project, "29.95")
    sync(run)
    listed = run("links", "list").stdout
    assert re.search(
        rf"{SENT}\s+{SKU}\s+34.95\s+test\s+active\s+https://buy.stripe.com/test_\w+\s+sent", listed
    )
    assert re.search(rf"{UNSENT}\s+{SKU}\s+34.95\s+test\s+inactive\s+https://\S+\s+new price", listed)


def test_a_price_going_back_reuses_the_campaigns_earlier_link(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    sync(run, SENT)
    set_price(project, "29.95")
    sync(run, SENT)
    set_price(project, "34.95")
    out = sync(run, SENT)
    assert re.search(r"reused\s+reused\s+reactivated", out)
    assert counts(fake) == (2, 2)
    assert {amount: link["active"] for amount, link in stripe_links(fake).items()} == {
        3495: True,
        2995: False,
    }
    prices = {price["unit_amount"]: price for price in fake.objects("price")}
    assert prices[3495]["active"] and prices[3495]["lookup_key"] == f"book-{SKU}-eur"
    assert not prices[2995]["active"]
    build(run)
    assert order_button(project)["url"] == stripe_links(fake)[3495]["url"]


def counts(fake: FakeStripe) -> tuple[int, int]:
    return fake.created_count("price"), fake.created_count("payment_link")


# -- the end of a promotion ------------------------------------------------------------------------


def test_a_sync_after_the_promotion_ended_switches_its_links_off(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    sync(run)
    add_to_campaign(project, SENT, "ends: 2020-01-31\n")
    out = sync(run)
    assert re.search(rf"{SENT}\s+{SKU}\s+.*\s+ended\s+plink_\w+", out)
    assert f"{SENT}: the promotion ended on 2020-01-31" in out
    assert stripe_links(fake)[3495]["active"] is False
    assert [(e["active"], e["off"]) for e in entries(project)] == [(False, "ended")]
    assert all(link["active"] for link in stripe_links(fake, "2026-12-paper").values())
    before = len(fake.requests)
    assert "ended" in sync(run, SENT) and len(fake.requests) == before  # nothing left to switch off
    build(run)
    assert order_button(project)["kind"] == "order-shop"
    refused = run("links", "activate", SENT)
    assert refused.exit_code == 2
    assert f"campaigns/{SENT}.yaml" in refused.stderr and "ends: the promotion of" in refused.stderr


def test_a_promotion_that_has_not_ended_keeps_its_links(project: Path, run: Run, fake: FakeStripe) -> None:
    add_to_campaign(project, SENT, "ends: 2999-12-31\n")
    sync(run, SENT)
    assert re.search(r"reused\s+reused\s+reused", sync(run, SENT))
    assert stripe_links(fake)[3495]["active"] is True


def test_ends_must_be_a_date(project: Path, run: Run) -> None:
    add_to_campaign(project, SENT, "ends: 31-01-2027\n")
    result = run("build", SENT)
    assert result.exit_code == 2
    assert re.search(rf"campaigns/{SENT}.yaml:\d+: ends: must be a date like 2027-01-31", result.stderr)


# -- what a campaign sold ----------------------------------------------------------------------------


def test_the_report_counts_the_links_the_email_carried_not_those_made_since(
    two_campaigns: Path, run: Run, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = two_campaigns
    sync(run, SENT)
    send_for_real(project, run, monkeypatch, SENT)
    set_price(project, "29.95")
    sync(run, SENT)
    links = stripe_links(fake)
    fake.add_checkout_session(links[3495]["id"], quantity=2)
    fake.add_checkout_session(links[2995]["id"], quantity=1)
    fake.add_checkout_session(links[2995]["id"], quantity=1)
    text = run("report", SENT).stdout
    rows = [line for line in text.splitlines() if line.startswith(SKU)]
    assert len(rows) == 1, "the 29,95 link was made after the campaign went out: it was never in it"
    assert re.search(rf"{SKU}\s+test\s+€\xa034,95\s+1\s+2\s+€\xa069,90", rows[0])
    assert "orders: 1, revenue €\xa069,90," in text
    (book,) = json.loads(run("report", SENT, "--format", "json").stdout)["books"]
    assert (book["sku"], book["checkouts"], book["quantity"], book["revenue"]) == (SKU, 1, 2, 6990)
    assert [(p["amount"], p["checkouts"], p["payment_links"]) for p in book["prices"]] == [
        (3495, 1, [links[3495]["id"]]),
    ]
