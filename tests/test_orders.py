"""Orders as they happen: Stripe's webhooks through `newsletter serve` (waitress on a free port),
signed as Stripe signs them, `orders sync` against the Stripe test server, and what the orders add
up to in `newsletter report`.

What matters most: an order is attributed only to the reader the campaign's link was sent to; each
event is applied once, in any order; a forged or replayed-late event changes nothing; a refund is
subtracted whenever it arrives.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from newsletter.api import Newsletter, open_project
from newsletter.project.environment import Secrets
from newsletter.sending.transport import Memory
from newsletter.store import Order
from tests.conftest import Run, stripe_served, write
from tests.stripe_fake import FakeStripe, refunded_charge, signed_event
from tests.test_web_app import Answer, Server

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("both_engines")

KEY = "sk_test_orders"
WEBHOOK_SECRET = "whsec_test_orders_secret"
UNSUBSCRIBE = "a-test-secret-of-enough-length"
CAMPAIGN = "2026-12-schrijven"
PATH = "/webhooks/stripe"


@dataclass
class Shop:
    project: Path
    newsletter: Newsletter
    fake: FakeStripe
    server: Server
    link: str  # the campaign's Payment Link id
    references: dict[str, str]  # address -> client_reference_id of the link sent to them

    def post(self, body: bytes, signature: str) -> Answer:
        headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
        return self.server.request("POST", PATH, body, headers)

    def event(self, event_type: str, obj: dict[str, object], **options: object) -> Answer:
        return self.post(*signed_event(WEBHOOK_SECRET, event_type, obj, **options))  # type: ignore[arg-type]

    def buy(self, email: str | None, *, quantity: int = 1, reference: str | None = None) -> dict[str, object]:
        ref = reference if reference is not None else (self.references[email] if email else None)
        return self.fake.add_checkout_session(
            self.link, quantity=quantity, email=email, client_reference_id=ref
        )

    def orders(self) -> list[Order]:
        return self.newsletter.orders()


@pytest.fixture
def shop(project: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", UNSUBSCRIBE)
    with stripe_served(monkeypatch, KEY) as fake:
        settings = project / "newsletter.toml"
        settings.write_text(settings.read_text(encoding="utf-8") + "\n[stripe]\n", encoding="utf-8")
        assert run("links", "sync").exit_code == 0
        write(project / "l.csv", "email,name,tags\njan@example.nl,Jan,vip\nels@example.nl,Els,\n")
        assert run("audience", "import", str(project / "l.csv"), "--consent", "beurs").exit_code == 0
        secrets = Secrets(unsubscribe=UNSUBSCRIBE, stripe_webhook=WEBHOOK_SECRET, stripe_api_key=KEY,
                          stripe_api_base=fake.url)  # fmt: skip
        newsletter = open_project(project, secrets=secrets)
        sent = Memory()
        newsletter.send(CAMPAIGN, transport=lambda: sent, force=True)  # test-mode links: a check fails
        references = {}
        for outgoing in sent.messages:
            html = outgoing.parsed().get_body(("html",)).get_content()  # type: ignore[union-attr]
            url = next(part for part in html.split('"') if "client_reference_id=" in part)
            references[outgoing.envelope_to] = parse_qs(urlsplit(url.replace("&amp;", "&")).query)[
                "client_reference_id"
            ][0]
        (link,) = [x["id"] for x in fake.objects("payment_link") if x["metadata"]["campaign"] == CAMPAIGN]
        server = Server(newsletter.project)
        try:
            yield Shop(project, newsletter, fake, server, link, references)
        finally:
            server.stop()


def test_a_paid_checkout_becomes_an_order_of_the_reader_it_was_sent_to_once(shop: Shop) -> None:
    session = shop.buy("jan@example.nl", quantity=2)
    session["collected_information"] = {
        "shipping_details": {
            "name": "Jan de Vries",
            "address": {
                "line1": "Lindengracht 1",
                "postal_code": "1015 KN",
                "city": "Amsterdam",
                "country": "NL",
            },
        }
    }
    body, signature = signed_event(WEBHOOK_SECRET, "checkout.session.completed", session)
    answer = shop.post(body, signature)
    assert answer.status == 200 and answer.text == "applied\n"
    assert answer.headers["x-content-type-options"] == "nosniff"
    (order,) = shop.orders()
    assert (order.campaign, order.sku, order.quantity, order.amount, order.payment_status) == (
        CAMPAIGN,
        "schrijven-is-schrappen",
        2,
        2 * 3495,
        "paid",
    )
    jan = shop.newsletter.person("jan@example.nl").subscriber
    assert order.subscriber_id == jan.id and order.shipping_name == "Jan de Vries"
    assert order.shipping_address["city"] == "Amsterdam"
    assert shop.post(body, signature).text == "already applied\n"  # Stripe retries: applied once
    assert len(shop.orders()) == 1


def test_forged_old_and_unsigned_events_are_refused(shop: Shop) -> None:
    session = shop.buy("jan@example.nl")
    body, signature = signed_event("whsec_someone_else", "checkout.session.completed", session)
    assert shop.post(body, signature).status == 400
    body, signature = signed_event(WEBHOOK_SECRET, "checkout.session.completed", session)
    assert shop.post(body.replace(b'"paid"', b'"PAID"'), signature).status == 400  # altered
    assert shop.post(body, "").status == 400
    assert shop.post(body, "t=1,v1=00").status == 400
    stale = signed_event(WEBHOOK_SECRET, "checkout.session.completed", session, signed_at=1_700_000_000)
    assert shop.post(*stale).status == 400  # outside the SDK's tolerance: a replay
    assert shop.server.request("GET", PATH).status == 405
    assert shop.orders() == []


def test_without_the_signing_secret_stripe_is_told_to_retry_later(shop: Shop) -> None:
    project = shop.newsletter.project
    bare = Newsletter(type(project)(project.root, project.settings, Secrets(unsubscribe=UNSUBSCRIBE)))
    server = Server(bare.project)
    try:
        body, signature = signed_event(
            WEBHOOK_SECRET, "checkout.session.completed", shop.buy("jan@example.nl")
        )
        answer = server.request("POST", PATH, body, {"Stripe-Signature": signature})
        assert answer.status == 503 and answer.headers["retry-after"] == "60"
    finally:
        server.stop()


def test_events_in_any_order_end_in_the_latest_state(shop: Shop) -> None:
    session = shop.buy("els@example.nl")
    unpaid = {**session, "payment_status": "unpaid"}  # iDEAL and the like settle later
    assert shop.event("checkout.session.async_payment_succeeded", session, created=2_000).status == 200
    assert shop.event("checkout.session.completed", unpaid, created=1_000).text == "stale\n"
    assert [o.payment_status for o in shop.orders()] == ["paid"]
    failed = shop.buy("jan@example.nl")
    shop.event("checkout.session.completed", {**failed, "payment_status": "unpaid"}, created=1_000)
    shop.event("checkout.session.async_payment_failed", failed, created=2_000)
    statuses = {o.subscriber_id: o.payment_status for o in shop.orders()}
    assert sorted(statuses.values()) == ["failed", "paid"]


def test_a_refund_is_subtracted_whether_it_comes_before_or_after_its_order(shop: Shop) -> None:
    first, second = shop.buy("jan@example.nl"), shop.buy("els@example.nl")
    assert shop.event("charge.refunded", refunded_charge(str(first["payment_intent"]), 3495)).status == 200
    shop.event("checkout.session.completed", first)
    shop.event("checkout.session.completed", second)
    shop.event("charge.refunded", refunded_charge(str(second["payment_intent"]), 1000))
    assert sorted(order.net for order in shop.orders()) == [0, 2495]


@pytest.mark.parametrize(
    "reference",
    [
        None,
        f"{CAMPAIGN}_test",
        "2026-12-paper_1",
        f"{CAMPAIGN}_999",
        f"{CAMPAIGN}_x1",
        "'; DROP TABLE orders; --",
    ],
)
def test_an_order_without_a_genuine_reference_is_kept_unattributed(shop: Shop, reference: str | None) -> None:
    shop.event("checkout.session.completed", shop.buy(None, reference=reference))
    (order,) = shop.orders()
    assert order.subscriber_id is None and order.campaign == CAMPAIGN and order.payment_status == "paid"


def test_events_of_other_kinds_and_links_of_no_campaign_are_taken_quietly(shop: Shop) -> None:
    assert shop.event("customer.created", {"id": "cus_1", "object": "customer"}).text == "ignored\n"
    stranger = {**shop.buy("jan@example.nl"), "payment_link": "plink_not_ours"}
    assert shop.event("checkout.session.completed", stranger).status == 200
    (order,) = shop.orders()
    assert (order.campaign, order.sku, order.subscriber_id) == (None, None, None)


def test_orders_sync_fetches_what_came_while_the_server_was_down(shop: Shop, run: Run) -> None:
    shop.buy("jan@example.nl", quantity=3)
    shop.buy("els@example.nl")
    shop.fake.add_checkout_session(shop.link, status="open")  # not paid: not an order
    synced = run("orders", "sync", "--since", "2026-01-01")
    assert synced.exit_code == 0, synced.output
    assert "2 completed sessions of 2 links, 2 orders written" in synced.output  # a link per campaign
    assert sorted(o.quantity for o in shop.orders()) == [1, 3]
    assert "0 orders written" in run("orders", "sync", "--since", "2026-01-01").output
    (jan_order,) = [o for o in shop.orders() if o.quantity == 3]
    assert jan_order.subscriber_id == shop.newsletter.person("jan@example.nl").subscriber.id


def test_the_shipping_list_is_written_for_the_owner_only_and_defused(shop: Shop, run: Run) -> None:
    session = shop.buy("jan@example.nl")
    session["collected_information"] = {"shipping_details": {"name": '=HYPERLINK("x")', "address": {}}}
    shop.event("checkout.session.completed", session)
    written = run("orders", "--format", "csv", "--out", str(shop.project / "verzending.csv"))
    assert written.exit_code == 0, written.output
    path = shop.project / "verzending.csv"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    assert text.startswith("created_at,session,campaign,sku,quantity,amount")
    assert "'=HYPERLINK" in text and ",34.95," in text
    listed = json.loads(run("orders", "--format", "json").output)
    assert listed[0]["email"] == "jan@example.nl"
    assert "no orders" in run("orders", "--since", "2099-01-01").output


def test_the_report_adds_up_orders_per_reader_with_refunds_subtracted(shop: Shop, run: Run) -> None:
    jan, els = shop.buy("jan@example.nl", quantity=2), shop.buy("els@example.nl")
    shop.event("checkout.session.completed", jan)
    shop.event("checkout.session.completed", els)
    shop.event("charge.refunded", refunded_charge(str(els["payment_intent"]), 3495))
    shop.event("checkout.session.completed", shop.buy(None, reference=f"{CAMPAIGN}_test"))
    report = json.loads(run("report", CAMPAIGN, "--format", "json").output)["recorded"]
    assert (report["orders"], report["buyers"], report["unattributed"]) == (3, 2, 1)
    assert (report["revenue"], report["refunded"]) == (3 * 3495, 3495)
    assert report["orders_per_1000_delivered"] == 1500.0  # 3 orders, 2 delivered
    assert report["buyers_by_label"] == {"locale:nl": 2, "tag:vip": 1}
    text = run("report", CAMPAIGN).output
    assert "recorded orders (webhooks, orders sync): 3 from 2 readers (1 not attributed)" in text


def test_a_campaign_can_leave_out_readers_who_bought_its_book(shop: Shop) -> None:
    refunded = shop.buy("els@example.nl")
    shop.event("checkout.session.completed", shop.buy("jan@example.nl"))
    shop.event("checkout.session.completed", refunded)
    shop.event("charge.refunded", refunded_charge(str(refunded["payment_intent"]), 3495))
    campaign = shop.project / "campaigns" / "2026-12-tweede.yaml"
    source = (shop.project / "campaigns" / f"{CAMPAIGN}.yaml").read_text(encoding="utf-8")
    campaign.write_text(source + "audience:\n  exclude_buyers: true\n", encoding="utf-8")
    dry = shop.newsletter.dry_run("2026-12-tweede", transport=Memory())
    assert [r.email for r in dry.audit.recipients] == ["els@example.nl"]  # a refunded buyer stays
    assert ("jan@example.nl", "bought one of its books already") in dry.audit.plan.excluded


def test_forgetting_a_buyer_keeps_the_order_without_the_person(shop: Shop, run: Run) -> None:
    session = shop.buy("jan@example.nl")
    session["collected_information"] = {"shipping_details": {"name": "Jan", "address": {"city": "Amsterdam"}}}
    shop.event("checkout.session.completed", session)
    assert "orders:" in run("audience", "show", "jan@example.nl").output
    assert run("audience", "forget", "jan@example.nl", "--yes").exit_code == 0
    (order,) = shop.orders()
    assert (order.subscriber_id, order.email, order.shipping_name, dict(order.shipping_address)) == (
        None,
        "",
        "",
        {},
    )
    assert order.amount == 3495


# -- what an attacker tried (a review of this feature) --------------------------------------------


def test_a_forgotten_buyer_stays_forgotten_when_stripe_reports_the_order_again(shop: Shop, run: Run) -> None:
    session = shop.buy("jan@example.nl")
    session["collected_information"] = {"shipping_details": {"name": "Jan", "address": {"city": "Amsterdam"}}}
    shop.event("checkout.session.completed", session, created=1_000)
    assert run("audience", "forget", "jan@example.nl", "--yes").exit_code == 0
    shop.event("checkout.session.async_payment_succeeded", session, created=2_000)  # late, or a retry
    assert "written" in run("orders", "sync", "--since", "2026-01-01").output
    (order,) = shop.orders()
    assert (order.subscriber_id, order.email, order.shipping_name, dict(order.shipping_address)) == (
        None,
        "",
        "",
        {},
    )
    later = shop.buy(
        "els@example.nl", reference=shop.references["jan@example.nl"]
    )  # jan's link, after forget
    shop.event("checkout.session.completed", later)
    assert all(o.subscriber_id is None for o in shop.orders())


@pytest.mark.parametrize(
    "change",
    [
        {"client_reference_id": f"{CAMPAIGN}_\u00b2"},
        {"client_reference_id": f"{CAMPAIGN}_01"},
        {"client_reference_id": f"{CAMPAIGN}_\uff11"},
        {"amount_total": 2**63},
        {"amount_subtotal": 10**400},
        {"created": -(10**12)},
        {"livemode": True},  # a live payment through a test link's id: not this project's order
    ],
)
def test_odd_values_in_a_signed_event_are_never_a_500_and_odd_references_credit_nobody(
    shop: Shop, change: dict[str, object]
) -> None:
    session = {**shop.buy("jan@example.nl"), **change}
    answer = shop.event("checkout.session.completed", session)
    assert answer.status == 200, answer.text
    (order,) = shop.orders()
    odd_reference = "client_reference_id" in change or "livemode" in change
    assert (order.subscriber_id is None) == odd_reference and 0 <= order.amount < 2**53


def test_a_refund_larger_than_its_order_takes_no_more_than_the_order(shop: Shop, run: Run) -> None:
    session = shop.buy("jan@example.nl")
    shop.event("checkout.session.completed", session)
    shop.event("charge.refunded", refunded_charge(str(session["payment_intent"]), 10_000))
    (order,) = shop.orders()
    assert order.net == 0
    assert json.loads(run("report", CAMPAIGN, "--format", "json").output)["recorded"]["revenue"] == 0


def test_the_shipping_list_has_one_row_per_order_whatever_a_name_holds(shop: Shop, run: Run) -> None:
    session = shop.buy("jan@example.nl")
    address = {"line1": "Straat 1\r=1+1", "city": 'Jan;=HYPERLINK("x")'}
    session["collected_information"] = {"shipping_details": {"name": "a\nb\r=c", "address": address}}
    shop.event("checkout.session.completed", session)
    text = run("orders", "--format", "csv").output
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 2
    cells = rows[1]
    assert "a b =c" in cells and "Straat 1 =1+1" in cells and 'Jan;\'=HYPERLINK("x")' in cells
    semicolon_rows = [cell for line in text.splitlines() for cell in line.split(";")]
    assert not any(cell.lstrip('"').startswith("=") for cell in semicolon_rows)


def test_a_reference_edited_to_credit_another_reader_credits_nobody(shop: Shop) -> None:
    jan, els = shop.references["jan@example.nl"], shop.references["els@example.nl"]
    campaign, number, mac = jan.rsplit("_", 2)
    other = els.rsplit("_", 2)[1]
    for forged in (
        f"{campaign}_{other}_{mac}",
        f"{campaign}_{number}_{'0' * len(mac)}",
        f"{campaign}_{number}",
    ):
        shop.event("checkout.session.completed", shop.buy(None, reference=forged))
    assert [order.subscriber_id for order in shop.orders()] == [None, None, None]
    shop.event("checkout.session.completed", shop.buy("jan@example.nl"))
    (genuine,) = [order for order in shop.orders() if order.email == "jan@example.nl"]
    assert genuine.subscriber_id == shop.newsletter.person("jan@example.nl").subscriber.id


def test_two_servers_on_one_database_apply_an_event_once(shop: Shop) -> None:
    """Several `serve` processes (gunicorn's workers, or two machines) share one database: one event,
    delivered to both at once again and again (Stripe retries), makes one order, applied once."""
    other = Server(shop.newsletter.project)
    body, signature = signed_event(WEBHOOK_SECRET, "checkout.session.completed", shop.buy("jan@example.nl"))
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(
                    lambda n: (shop.server, other)[n % 2].request("POST", PATH, body, headers), range(16)
                )
            )
    finally:
        other.stop()
    assert [answer.status for answer in answers] == [200] * 16
    assert Counter(answer.text for answer in answers) == {"applied\n": 1, "already applied\n": 15}
    (order,) = shop.orders()
    assert order.subscriber_id == shop.newsletter.person("jan@example.nl").subscriber.id
