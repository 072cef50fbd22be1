"""Stripe Payment Links through the CLI, against a local Stripe-compatible server (tests/stripe_fake.py).

The promise under test: whatever happens (reruns, a deleted lock file, faults between Stripe and us),
every book in every campaign has exactly one Product, one Price and one Payment Link.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.payments import stripe_api
from newsletter.payments.lock import LOCK_FILE
from tests.conftest import Run, stripe_served
from tests.stripe_fake import FakeStripe

KEY = "sk_test_51NewsletterSecretKey0123456789"
KINDS = ("product", "price", "payment_link")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    with stripe_served(monkeypatch, KEY) as server:
        yield server


def counts(fake: FakeStripe) -> dict[str, int]:
    return {kind: fake.created_count(kind) for kind in KINDS}


def posts(fake: FakeStripe) -> list[str]:
    return [r.path for r in fake.requests if r.method == "POST"]


def lock(project: Path) -> list[dict[str, object]]:
    links: list[dict[str, object]] = json.loads((project / LOCK_FILE).read_text("utf-8"))["links"]
    return links


def sync(run: Run, *args: str) -> str:
    result = run("links", "sync", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_first_sync_creates_one_product_price_and_link_per_book(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    out = sync(run)
    assert counts(fake) == {"product": 2, "price": 2, "payment_link": 2}
    assert len(re.findall(r"created\s+created\s+created", out)) == 2
    assert re.search(
        r"2026-12-schrijven\s+schrijven-is-schrappen\s+€\xa034,95\s+https://buy.stripe.com/test_", out
    )
    entries = lock(project)
    assert [(e["campaign"], e["sku"], e["amount"], e["mode"]) for e in entries] == [
        ("2026-12-paper", "the-quiet-page", 2450, "test"),
        ("2026-12-schrijven", "schrijven-is-schrappen", 3495, "test"),
    ]
    urls = {link["url"] for link in fake.objects("payment_link")}
    assert {e["url"] for e in entries} == urls


def test_objects_carry_what_stripe_needs(run: Run, fake: FakeStripe) -> None:
    sync(run, "2026-12-schrijven")
    (product,) = fake.objects("product")
    assert (product["name"], product["metadata"], product["url"]) == (
        "Schrijven is schrappen",
        {"sku": "schrijven-is-schrappen"},
        "https://www.uitgeverijlindenhof.nl/winkel/schrijven-is-schrappen",
    )
    (price,) = fake.objects("price")
    assert (price["unit_amount"], price["currency"], price["tax_behavior"], price["lookup_key"]) == (
        3495,
        "eur",
        "inclusive",
        "book-schrijven-is-schrappen-eur",
    )
    (create,) = [r for r in fake.requests if r.method == "POST" and r.path == "/v1/payment_links"]
    params = create.params
    assert params["line_items"] == [
        {
            "price": price["id"],
            "quantity": "1",
            "adjustable_quantity": {"enabled": "true", "minimum": "1", "maximum": "10"},
        }
    ]
    assert params["shipping_address_collection"] == {"allowed_countries": ["NL", "BE"]}
    expected = {"campaign": "2026-12-schrijven", "sku": "schrijven-is-schrappen", "price": price["id"]}
    assert params["metadata"] == expected
    assert params["payment_intent_data"] == {"metadata": expected}
    assert params["inactive_message"].startswith("Deze aanbieding is afgelopen")
    assert "payment_method_types" not in params, "left to Stripe's dynamic selection (iDEAL, Bancontact)"
    assert (
        create.idempotency_key
        == f"newsletter-link-test-2026-12-schrijven-schrijven-is-schrappen-{price['id']}"
    )


def test_settings_shape_the_payment_link(project: Path, run: Run, fake: FakeStripe) -> None:
    toml = project / "newsletter.toml"
    toml.write_text(
        toml.read_text("utf-8") + '\n[stripe]\nmax_quantity = 3\nshipping_countries = ["NL"]\n'
        'allow_promotion_codes = true\nthank_you_url = "https://www.uitgeverijlindenhof.nl/bedankt"\n'
        'payment_method_types = ["ideal", "card"]\ntax_behavior = "exclusive"\n',
        encoding="utf-8",
    )
    sync(run, "2026-12-paper")
    (create,) = [r for r in fake.requests if r.method == "POST" and r.path == "/v1/payment_links"]
    assert create.params["line_items"][0]["adjustable_quantity"]["maximum"] == "3"
    assert create.params["shipping_address_collection"] == {"allowed_countries": ["NL"]}
    assert create.params["allow_promotion_codes"] == "true"
    assert create.params["after_completion"] == {
        "type": "redirect",
        "redirect": {"url": "https://www.uitgeverijlindenhof.nl/bedankt"},
    }
    assert create.params["payment_method_types"] == ["ideal", "card"]
    assert create.params["inactive_message"].startswith("This offer has ended")
    assert fake.objects("price")[0]["tax_behavior"] == "exclusive"


def test_second_sync_only_reads_the_state_of_each_link(run: Run, fake: FakeStripe) -> None:
    sync(run)
    before = len(fake.requests)
    out = sync(run)
    reads = [(r.method, r.path.rsplit("/", 1)[0]) for r in fake.requests[before:]]
    assert reads == [("GET", "/v1/payment_links")] * 2
    assert len(re.findall(r"reused\s+reused\s+reused", out)) == 2


def test_a_link_switched_off_in_the_dashboard_is_seen_by_the_next_sync(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    sync(run)
    paper = next(x for x in fake.objects("payment_link") if x["metadata"]["campaign"] == "2026-12-paper")
    deactivate = urllib.request.Request(  # what the dashboard's "Deactivate" does, behind our back
        f"{fake.url}/v1/payment_links/{paper['id']}",
        data=b"active=false",
        headers={"Authorization": f"Bearer {KEY}"},
        method="POST",
    )
    urllib.request.urlopen(deactivate, timeout=5).close()
    out = sync(run)
    assert re.search(r"2026-12-paper\s+the-quiet-page\s+.*inactive", out)
    assert run("build", "2026-12-paper").exit_code == 0
    meta = json.loads((project / "build" / "2026-12-paper" / "meta.json").read_text(encoding="utf-8"))
    assert [link["kind"] for link in meta["links"] if link["block"] == "book-1"] == ["order-shop"]


def test_sync_after_deleting_the_lock_finds_everything_and_creates_nothing(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    sync(run)
    first = lock(project)
    (project / LOCK_FILE).unlink()
    out = sync(run)
    assert counts(fake) == {"product": 2, "price": 2, "payment_link": 2}
    assert "created" not in out
    assert lock(project) == first


def test_price_change_makes_one_new_price_and_link_and_switches_the_old_link_off(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    sync(run, "2026-12-schrijven")
    (old_link,) = fake.objects("payment_link")
    book = project / "books" / "schrijven-is-schrappen.yaml"
    book.write_text(book.read_text("utf-8").replace("price: 34.95", "price: 29.95"), encoding="utf-8")
    out = sync(run, "2026-12-schrijven")
    assert re.search(r"reused\s+created\s+created", out) and old_link["id"] in out
    assert counts(fake) == {"product": 1, "price": 2, "payment_link": 2}
    prices = {p["unit_amount"]: p for p in fake.objects("price")}
    assert prices[2995]["lookup_key"] == "book-schrijven-is-schrappen-eur" and prices[2995]["active"]
    assert prices[3495]["lookup_key"] is None and not prices[3495]["active"]
    links = {link["id"]: link for link in fake.objects("payment_link")}
    assert links[old_link["id"]]["active"] is False
    assert [(e["amount"], e["active"]) for e in lock(project)] == [(2995, True), (3495, False)]
    build = run("build", "2026-12-schrijven")
    html = (project / "build" / "2026-12-schrijven" / "email.html").read_text("utf-8")
    assert build.exit_code == 0 and "€\xa029,95" in html
    new_url = next(link["url"] for link in links.values() if link["active"])
    assert f'href="{new_url}"' in html and old_link["url"] not in html


@pytest.mark.parametrize("fault", ["500", "429", "drop_before", "drop_after"])
@pytest.mark.parametrize("path", ["/v1/products", "/v1/prices", "/v1/payment_links"])
def test_each_fault_still_ends_with_exactly_one_of_each(
    project: Path, run: Run, fake: FakeStripe, fault: str, path: str
) -> None:
    fake.inject(fault, method="POST", path_prefix=path)
    sync(run, "2026-12-schrijven")
    assert counts(fake) == {"product": 1, "price": 1, "payment_link": 1}
    assert len(lock(project)) == 1
    assert any(r.fault == fault for r in fake.requests)


def test_crash_between_stripe_and_the_lock_write_creates_no_duplicate(
    project: Path, run: Run, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stripe made the link, then the process died before writing the lock; search has not caught up."""
    fake.search_lag = True

    def crash(*args: object) -> None:
        raise SystemError("power cut")

    monkeypatch.setattr(stripe_api, "save_lock", crash)
    with pytest.raises(SystemError, match="power cut"):
        run("links", "sync", "2026-12-schrijven")
    monkeypatch.undo()
    monkeypatch.setenv("STRIPE_API_KEY", KEY)
    monkeypatch.setenv("STRIPE_API_BASE", fake.url)
    assert not (project / LOCK_FILE).exists()
    sync(run, "2026-12-schrijven")
    assert counts(fake) == {"product": 1, "price": 1, "payment_link": 1}


def test_rate_limit_that_does_not_end_is_reported_clearly(run: Run, fake: FakeStripe) -> None:
    fake.inject("429", method="*", times=50)
    result = run("links", "sync", "2026-12-schrijven")
    assert result.exit_code == 2
    assert "error: book 'schrijven-is-schrappen': Stripe kept answering 'too many requests'" in result.stderr


def test_live_key_is_refused_unless_the_project_sells_for_real(
    run: Run, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    live_key = "sk_" + "live_51NotARealKeyOnlyAPrefix"
    monkeypatch.setenv("STRIPE_API_KEY", live_key)
    result = run("links", "sync")
    assert result.exit_code == 2
    assert "STRIPE_API_KEY is a live key, and this project does not sell for real" in result.stderr
    assert fake.requests == []
    assert live_key not in result.output


def test_wrong_key_and_missing_permission_are_explained(
    run: Run, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "pk_test_publishable")
    wrong = run("links", "sync", "2026-12-paper")
    assert wrong.exit_code == 2
    assert "error: book 'the-quiet-page': Stripe did not accept STRIPE_API_KEY" in wrong.stderr
    monkeypatch.setenv("STRIPE_API_KEY", "rk_test_restricted0001")
    fake.restricted_denied = {"payment_links"}
    denied = run("links", "sync", "2026-12-paper")
    assert denied.exit_code == 2
    assert "error: book 'the-quiet-page': the restricted key lacks a permission" in denied.stderr
    monkeypatch.delenv("STRIPE_API_KEY")
    missing = run("links", "sync")
    assert missing.exit_code == 2 and "STRIPE_API_KEY is not set" in missing.stderr


def test_the_key_never_appears_in_output_or_files(project: Path, run: Run, fake: FakeStripe) -> None:
    outputs = [
        run("build", "--sync-links").output,
        run("links", "list").output,
        run("report", "2026-12-paper").output,
    ]
    fake.inject("500", method="*", times=20, should_retry=False)
    outputs.append(run("links", "deactivate", "2026-12-paper").output)
    for text in outputs:
        assert KEY not in text and KEY[-4:] not in text
    for path in project.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_build_sync_links_puts_the_payment_links_in_the_email(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    result = run("build", "--sync-links")
    assert result.exit_code == 0, result.output
    assert "0 warnings" in result.stdout
    meta = json.loads((project / "build" / "2026-12-paper" / "meta.json").read_text("utf-8"))
    (order,) = [link for link in meta["links"] if link["block"] == "book-1"]
    assert order["kind"] == "order-stripe-test" and order["url"].startswith("https://buy.stripe.com/test_")


def test_links_list_and_deactivate(project: Path, run: Run, fake: FakeStripe) -> None:
    sync(run)
    listed = run("links", "list").stdout
    assert re.search(
        r"2026-12-schrijven\s+schrijven-is-schrappen\s+34.95\s+test\s+active\s+https://buy.stripe.com/test_",
        listed,
    )
    result = run("links", "deactivate", "2026-12-schrijven")
    assert result.exit_code == 0, result.output
    assert "deactivated schrijven-is-schrappen: https://buy.stripe.com/test_" in result.stdout
    (link,) = [x for x in fake.objects("payment_link") if x["metadata"]["campaign"] == "2026-12-schrijven"]
    assert link["active"] is False
    assert link["inactive_message"].startswith("Deze aanbieding is afgelopen")
    assert re.search(r"inactive\s+https://buy.stripe.com/test_", run("links", "list").stdout)
    again = run("links", "deactivate", "2026-12-schrijven")
    assert "2026-12-schrijven has no active links" in again.stdout


def test_report_sums_completed_checkouts_per_book(run: Run, fake: FakeStripe) -> None:
    sync(run)
    link = next(x for x in fake.objects("payment_link") if x["metadata"]["campaign"] == "2026-12-schrijven")
    fake.add_checkout_session(link["id"], quantity=2)
    fake.add_checkout_session(link["id"], quantity=1)
    fake.add_checkout_session(link["id"], quantity=5, status="open")  # not paid: not counted
    result = run("report", "2026-12-schrijven", "--format", "json")
    assert result.exit_code == 0, result.output
    (book,) = json.loads(result.stdout)["books"]
    assert (book["sku"], book["checkouts"], book["quantity"], book["revenue"]) == (
        "schrijven-is-schrappen",
        2,
        3,
        3 * 3495,
    )
    text = run("report", "2026-12-schrijven").stdout
    assert re.search(r"schrijven-is-schrappen\s+test\s+€\xa034,95\s+2\s+3\s+€\xa0104,85", text)
