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
from tests.conftest import LOCKED, Run, stripe_served, write_lock
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


# -- VAT, invoices, shipping rates, and a change of settings -----------------------------------------


def append_settings(project: Path, text: str) -> None:
    toml = project / "newsletter.toml"
    toml.write_text(toml.read_text("utf-8") + text, encoding="utf-8")


def link_creates(fake: FakeStripe) -> list[dict[str, object]]:
    return [r.params for r in fake.requests if r.method == "POST" and r.path == "/v1/payment_links"]


SELLING = (
    '\n[stripe]\nautomatic_tax = true\ninvoice_creation = true\nshipping_options = ["shr_1Brievenbus", '
    '"shr_2Pakket"]\n'
)


def test_stripe_tax_invoices_and_shipping_rates_reach_the_link_and_the_product(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    append_settings(project, SELLING)
    sync(run, "2026-12-schrijven")
    (product,) = fake.objects("product")
    assert product["tax_code"] == "txcd_35010000", "Stripe's tax code of a printed book"
    (create,) = [r for r in fake.requests if r.method == "POST" and r.path == "/v1/payment_links"]
    params = create.params
    assert params["automatic_tax"] == {"enabled": "true"}
    assert params["invoice_creation"] == {"enabled": "true"}
    assert params["shipping_options"] == [
        {"shipping_rate": "shr_1Brievenbus"},
        {"shipping_rate": "shr_2Pakket"},
    ]
    assert params["shipping_address_collection"] == {"allowed_countries": ["NL", "BE"]}
    (link,) = fake.objects("payment_link")
    assert link["automatic_tax"]["enabled"] is True and link["invoice_creation"]["enabled"] is True
    terms = params["metadata"]["terms"]
    assert (
        re.fullmatch(r"[0-9a-f]{12}", terms) and params["payment_intent_data"]["metadata"]["terms"] == terms
    )
    assert create.idempotency_key == (
        f"newsletter-link-test-2026-12-schrijven-schrijven-is-schrappen-{params['metadata']['price']}-{terms}"
    )
    (entry,) = lock(project)
    assert entry["terms"] == terms
    assert run("build", "2026-12-schrijven").exit_code == 0
    meta = json.loads((project / "build" / "2026-12-schrijven" / "meta.json").read_text("utf-8"))
    assert [x["url"] for x in meta["links"] if x["block"] == "book-1"] == [link["url"]]


def test_an_ebook_is_not_shipped_and_has_the_ebook_tax_code(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    append_settings(project, SELLING)
    book = project / "books" / "the-quiet-page.yaml"
    book.write_text(book.read_text("utf-8").replace("format: printed", "format: ebook"), encoding="utf-8")
    sync(run, "2026-12-paper")
    assert fake.objects("product")[0]["tax_code"] == "txcd_10302000"
    (params,) = link_creates(fake)
    assert "shipping_address_collection" not in params and "shipping_options" not in params
    assert params["automatic_tax"] == {"enabled": "true"}


def test_a_changed_setting_makes_a_new_link_and_switches_the_old_one_off(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    """As a changed price does: the lock has no link for the book under the new settings, so a build
    falls back to the shop until a sync makes one; the old link goes off, and comes back with them."""
    sync(run, "2026-12-schrijven")
    (first,) = fake.objects("payment_link")
    assert "terms" not in first["metadata"] and "terms" not in lock(project)[0], "the defaults: as before"
    append_settings(project, "\n[stripe]\ninvoice_creation = true\n")
    assert run("build", "2026-12-schrijven").exit_code == 0
    meta = json.loads((project / "build" / "2026-12-schrijven" / "meta.json").read_text("utf-8"))
    assert [x["kind"] for x in meta["links"] if x["block"] == "book-1"] == ["order-shop"]
    out = sync(run, "2026-12-schrijven")
    assert re.search(r"reused\s+reused\s+created\s+" + first["id"], out)
    assert counts(fake) == {"product": 1, "price": 1, "payment_link": 2}
    links = {x["id"]: x for x in fake.objects("payment_link")}
    assert links[first["id"]]["active"] is False
    (second,) = [x for x in links.values() if x["id"] != first["id"]]
    assert second["invoice_creation"]["enabled"] is True
    assert {(e["payment_link"], e["active"], e["off"]) for e in lock(project)} == {
        (first["id"], False, "new-terms"),
        (second["id"], True, None),
    }
    assert re.search(r"inactive\s+https://\S+\s+new settings", run("links", "list").stdout)
    toml = project / "newsletter.toml"
    toml.write_text(toml.read_text("utf-8").replace("invoice_creation = true", ""), encoding="utf-8")
    back = sync(run, "2026-12-schrijven")
    assert re.search(r"reused\s+reused\s+reactivated", back)
    assert counts(fake) == {"product": 1, "price": 1, "payment_link": 2}
    assert {x["id"]: x["active"] for x in fake.objects("payment_link")} == {
        first["id"]: True,
        second["id"]: False,
    }


def test_a_changed_setting_keeps_the_link_a_sent_email_carries(
    project: Path, run: Run, fake: FakeStripe
) -> None:
    sync(run, "2026-12-schrijven")
    entries = lock(project)
    (project / LOCK_FILE).write_text(
        json.dumps({"version": 1, "links": [{**entries[0], "sent": True}]}), encoding="utf-8"
    )
    append_settings(project, "\n[stripe]\nautomatic_tax = true\n")
    out = sync(run, "2026-12-schrijven")
    assert "was sent, so the links in its emails stay on at their price" in out
    assert all(x["active"] for x in fake.objects("payment_link")) and counts(fake)["payment_link"] == 2


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ('tax_code = "35010000"', "stripe.tax_code: must be a Stripe tax code like txcd_35010000"),
        (
            'shipping_options = ["pakket"]',
            "stripe.shipping_options[0]: must be the id of a Stripe Shipping Rate",
        ),
        ('automatic_tax = "ja"', "stripe.automatic_tax: must be true or false"),
    ],
)
def test_bad_selling_settings_are_one_clear_message(
    project: Path, run: Run, setting: str, expected: str
) -> None:
    append_settings(project, f"\n[stripe]\n{setting}\n")
    result = run("links", "list")
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = (project / "newsletter.toml").read_text("utf-8").count("\n")
    assert result.stderr.startswith(f"error: newsletter.toml:{lines}: {expected}"), result.stderr


def test_a_lock_entry_with_terms_no_sync_writes_is_refused(project: Path, run: Run) -> None:
    write_lock(project, {**LOCKED, "terms": "../../etc"})
    result = run("build", "2026-12-schrijven")
    assert result.exit_code == 2 and "Traceback" not in result.output
    entry = "campaign 2026-12-schrijven, book schrijven-is-schrappen"
    assert f"payments.lock.json: links[0]: {entry}: terms is not what a sync records" in result.stderr
