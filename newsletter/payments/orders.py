"""Orders as they happen: Stripe's webhook events and `orders sync`, into the store's orders.

Each reader's order link carries `client_reference_id=<campaign>_<subscriber id>_<mac>` (lock.py,
`order_reference`), the mac an HMAC under the unsubscribe secret. A buyer can edit a URL, so the
reference is believed only when its mac holds, it names the campaign of the Payment Link it came
through, and that campaign was sent to the reader; anything else (no reference, a test send's
`_test`, an edited one, a link of no campaign of this project) is kept as an unattributed order.
The campaign and book come from the project's lock file, by the session's Payment Link.

Events (`checkout.session.completed`, `checkout.session.async_payment_succeeded` and `..._failed`,
`charge.refunded`) are verified with the endpoint's signing secret through the Stripe SDK, with its
timestamp tolerance, and applied once each, in any order (store/orders.py). A session in an event
has no line items, so the quantity is its subtotal over the link's unit price.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from newsletter.errors import NewsletterError
from newsletter.files import inert_cell
from newsletter.payments.lock import Lock, LockedLink, load_lock, order_reference
from newsletter.project.settings import Project
from newsletter.project.validation import CONTROL_CHARACTERS
from newsletter.store import Order, Store, connect, database_location, timestamp

if TYPE_CHECKING:
    from stripe import StripeClient

log = logging.getLogger("newsletter.orders")

SESSION_EVENTS = {
    "checkout.session.completed": None,  # the session's own payment_status: paid, or unpaid for now
    "checkout.session.async_payment_succeeded": "paid",
    "checkout.session.async_payment_failed": "failed",
}
REFUND_EVENT = "charge.refunded"
TOLERANCE_SECONDS = 300  # Stripe's default: an older signature is a replay


class BadEvent(NewsletterError):
    """A webhook request that is not a genuine Stripe event for this endpoint (answered 400)."""


@dataclass(frozen=True)
class Applied:
    event: str  # its type
    outcome: str  # applied, already applied, ignored, stale


def verified_event(
    payload: bytes, signature: str, secret: str, *, tolerance: int = TOLERANCE_SECONDS
) -> dict[str, Any]:
    """The event a request carries, once the SDK has checked its `Stripe-Signature` against the
    endpoint's secret and its timestamp against the tolerance; BadEvent otherwise."""
    import stripe

    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature, secret, tolerance)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise BadEvent(f"not a genuine Stripe event: {str(exc).splitlines()[0]}") from None
    except (ValueError, RecursionError):
        raise BadEvent("a signed body that is not JSON") from None
    if not (
        isinstance(event, dict) and isinstance(event.get("id"), str) and isinstance(event.get("type"), str)
    ):
        raise BadEvent("a signed body that is not an event")
    return event


def apply_event(project: Project, event: Mapping[str, Any], *, now: datetime | None = None) -> Applied:
    """Apply one verified event, once: a session's order, or a charge's refund."""
    kind = str(event["type"])
    if kind not in SESSION_EVENTS and kind != REFUND_EVENT:
        return Applied(kind, "ignored")
    obj = _object(event)
    created = _int(event.get("created"))
    stamp = timestamp(now)
    lock = load_lock(project) if kind in SESSION_EVENTS else Lock()
    with connect(database_location(project)) as store, store.transaction():
        if store.event_seen(str(event["id"]), kind, stamp):
            return Applied(kind, "already applied")
        if kind == REFUND_EVENT:
            intent = obj.get("payment_intent")
            if isinstance(intent, str):
                store.put_refund(intent, _int(obj.get("amount_refunded")), event_at=created, stamp=stamp)
            return Applied(kind, "applied")
        order = order_of(store, lock, obj, key=reference_key(project), status=SESSION_EVENTS[kind])
        changed = store.put_order(order, event_at=created, stamp=stamp)
    return Applied(kind, "applied" if changed else "stale")


def order_of(
    store: Store, lock: Lock, session: Mapping[str, Any], *, key: bytes | None, status: str | None = None
) -> Order:
    """A Checkout Session as an order of this project, attributed when its reference holds up
    (`key`: the unsubscribe secret the references were signed with; None: nobody is attributed)."""
    link = lock.by_id(str(session.get("payment_link") or ""))
    mode = "live" if session.get("livemode") is True else "test"
    if link is not None and link.mode != mode:  # a live payment through a test link id: not ours
        link = None
    reference = _line(session.get("client_reference_id"), 200)
    shipping = _shipping(session)
    customer = session.get("customer_details")
    email = customer.get("email") if isinstance(customer, dict) else None
    subtotal = _int(session.get("amount_subtotal"))
    quantity = max(1, round(subtotal / link.amount)) if link and link.amount else 1
    payment_status = status or str(session.get("payment_status") or "unpaid")
    if payment_status == "no_payment_required":
        payment_status = "paid"
    intent = session.get("payment_intent")
    return Order(
        session=str(session.get("id")),
        mode=mode,
        payment_link=link.payment_link if link else _text(session.get("payment_link")),
        campaign=link.campaign if link else None,
        sku=link.sku if link else None,
        subscriber_id=_reader(store, link, reference, key),
        reference=reference,
        unit_amount=link.amount if link else None,
        quantity=quantity,
        amount=_int(session.get("amount_total")),
        currency=str(session.get("currency") or "eur"),
        payment_status=payment_status,
        payment_intent=intent if isinstance(intent, str) else None,
        email=_line(email, 320),
        shipping_name=_line(shipping.get("name"), 200),
        shipping_address={key: _line(value, 200) for key, value in _address(shipping).items()},
        created_at=timestamp(datetime.fromtimestamp(min(_int(session.get("created")), 2**35), UTC)),
    )


def _reader(store: Store, link: LockedLink | None, reference: str, key: bytes | None) -> int | None:
    """The subscriber a reference names, when it is the signed reference (`order_reference`) of
    this link's campaign and a reader the campaign was sent to; None otherwise."""
    number = reference.rpartition("_")[0].rpartition("_")[2]  # <campaign>_<number>_<mac>
    if link is None or key is None or not re.fullmatch(r"[1-9][0-9]{0,17}", number):
        return None
    if not hmac.compare_digest(order_reference(link.campaign, int(number), key), reference):
        return None
    if store.subscriber_status(int(number)) == "forgotten":
        return None
    return int(number) if int(number) in store.logged_ids(link.campaign) else None


def reference_key(project: Project) -> bytes | None:
    """What the order references were signed with: the unsubscribe secret, as the emails had it."""
    secret = project.secrets.unsubscribe
    return secret.encode("utf-8") if secret else None


def _object(event: Mapping[str, Any]) -> Mapping[str, Any]:
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise BadEvent("an event without its object")
    return obj


def _shipping(session: Mapping[str, Any]) -> Mapping[str, Any]:
    """The shipping details, where this API version puts them."""
    collected = session.get("collected_information")
    if isinstance(collected, dict) and isinstance(collected.get("shipping_details"), dict):
        found: Mapping[str, Any] = collected["shipping_details"]
        return found
    older = session.get("shipping_details")
    return older if isinstance(older, dict) else {}


def _address(shipping: Mapping[str, Any]) -> dict[str, Any]:
    address = shipping.get("address")
    if not isinstance(address, dict):
        return {}
    return {key: value for key, value in address.items() if isinstance(value, str) and value}


def _int(value: object) -> int:
    """A count, an amount or a time as Stripe writes it; anything else (or absurd) is 0."""
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return value if 0 <= value < 2**53 else 0


def _line(value: object, limit: int) -> str:
    """One line of text from a session (a name, an address line): control characters would break
    the shipping list's rows, and a spreadsheet reads a line break as a new row."""
    text = value if isinstance(value, str) else ""
    return " ".join(CONTROL_CHARACTERS.sub(" ", text).split())[:limit]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass
class Synced:
    """What `orders sync` found: sessions read, and the orders it wrote or brought up to date."""

    sessions: int = 0
    written: int = 0
    links: int = 0


def sync_orders(
    project: Project, *, since: datetime, live: bool = False, now: datetime | None = None
) -> Synced:
    """The completed Checkout Sessions of every Payment Link of the project since `since`, read from
    Stripe and written as orders: for the time the server was down. Idempotent with the webhook (an
    order is its session's id), and never older than what an event already wrote."""
    from newsletter.payments.stripe_api import StripeSession

    session = StripeSession(project, live=live)
    links = [link for link in session.lock.links if link.mode == session.mode]
    found: list[Mapping[str, Any]] = []
    for link in links:
        found += session.call(None, partial(_sessions, link=link, since=since))
    result = Synced(sessions=len(found), links=len(links))
    stamp = timestamp(now)
    at = int((now or datetime.now(UTC)).timestamp())
    with connect(database_location(project)) as store, store.transaction():
        for checkout in found:
            try:
                order = order_of(store, session.lock, checkout, key=reference_key(project))
            except (ValueError, OverflowError, TypeError):  # one odd session must not stop the others
                log.error(
                    "orders sync: session %s skipped: not an order this tool can read", checkout.get("id")
                )
                continue
            if store.put_order(order, event_at=at, stamp=stamp):
                result.written += 1
    return result


def _sessions(client: StripeClient, *, link: LockedLink, since: datetime) -> list[Mapping[str, Any]]:
    listed = client.v1.checkout.sessions.list(
        params={
            "payment_link": link.payment_link,
            "status": "complete",
            "created": {"gte": int(since.timestamp())},
            "limit": 100,
        }
    )
    return [checkout.to_dict() for checkout in listed.auto_paging_iter()]


SUMMARY_COLUMNS = (  # what `newsletter orders` shows in a table
    "created_at",
    "session",
    "campaign",
    "sku",
    "quantity",
    "amount",
    "refunded",
    "currency",
    "payment_status",
    "subscriber_id",
)
ADDRESS_COLUMNS = ("line1", "line2", "postal_code", "city", "state", "country")
ORDER_COLUMNS = (*SUMMARY_COLUMNS, "email", "shipping_name", *ADDRESS_COLUMNS)  # the shipping list


def order_rows(orders: list[Order]) -> list[dict[str, str]]:
    """The orders as a shipping list: one flat row each, amounts in euros ("34.95")."""
    return [
        {
            "created_at": order.created_at,
            "session": order.session,
            "campaign": order.campaign or "",
            "sku": order.sku or "",
            "quantity": str(order.quantity),
            "amount": f"{order.amount / 100:.2f}",
            "refunded": f"{order.refunded / 100:.2f}",
            "currency": order.currency.upper(),
            "payment_status": order.payment_status,
            "subscriber_id": "" if order.subscriber_id is None else str(order.subscriber_id),
            "email": order.email,
            "shipping_name": order.shipping_name,
            **{key: str(order.shipping_address.get(key, "")) for key in ADDRESS_COLUMNS},
        }
        for order in orders
    ]


def orders_csv(orders: list[Order]) -> str:
    """UTF-8 CSV with a header, each cell that a spreadsheet would run as a formula made inert."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ORDER_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({key: inert_cell(value) for key, value in row.items()} for row in order_rows(orders))
    return buffer.getvalue()


@dataclass(frozen=True)
class BookOrders:
    sku: str
    orders: int
    quantity: int
    net: int  # cents: paid, less refunds


@dataclass(frozen=True)
class RecordedOrders:
    """What a campaign's recorded orders add up to (`newsletter report`): paid orders only, refunds
    subtracted; buyers are the attributed readers, counted once."""

    orders: int
    buyers: int
    net: int  # cents
    refunded: int  # cents
    unattributed: int
    books: tuple[BookOrders, ...]
    by_label: tuple[tuple[str, int], ...]  # ("locale:nl" / "tag:vip" / "topic:boeken", buyers), most first

    def per_1000(self, value: int, delivered: int) -> float | None:
        return round(value * 1000 / delivered, 1) if delivered else None


def recorded_orders(orders: list[Order], buyers: Mapping[int, Sequence[str]]) -> RecordedOrders:
    """Sum a campaign's orders; `buyers` gives each attributed reader's labels (locale:, tag:, topic:)."""
    paid = [order for order in orders if order.payment_status == "paid"]
    readers = {order.subscriber_id for order in paid if order.subscriber_id is not None}
    books: dict[str, list[Order]] = {}
    for order in paid:
        books.setdefault(order.sku or "-", []).append(order)
    labels: dict[str, int] = {}
    for reader in readers:
        for label in buyers.get(reader, ()):
            labels[label] = labels.get(label, 0) + 1
    return RecordedOrders(
        orders=len(paid),
        buyers=len(readers),
        net=sum(order.net for order in paid),
        refunded=sum(min(order.refunded, order.amount) for order in paid),
        unattributed=sum(1 for order in paid if order.subscriber_id is None),
        books=tuple(
            BookOrders(sku, len(found), sum(o.quantity for o in found), sum(o.net for o in found))
            for sku, found in books.items()
        ),
        by_label=tuple(sorted(labels.items(), key=lambda item: (-item[1], item[0]))),
    )
