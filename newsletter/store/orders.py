"""The orders paid through the campaigns' Payment Links: one row per Checkout Session.

Stripe delivers its events at least once and in any order, and `orders sync` reads the same sessions
again: so an order is written by its session's id (never twice), an event id is applied once
(`stripe_events`), and a session's state moves only forwards in time (`event_at`, the event's
`created`): a late `checkout.session.completed` (unpaid, for a method that settles later) cannot undo
the `async_payment_succeeded` that came before it. A refund is kept by payment intent, whatever
arrives first, and subtracted where orders are added up.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from newsletter.store.subscribers import Subscribers


@dataclass(frozen=True)
class Order:
    session: str
    mode: str  # test or live
    payment_link: str | None
    campaign: str | None  # None: a link of no campaign of this project
    sku: str | None
    subscriber_id: int | None  # None: not attributed (no reference, a test send's, a stranger's)
    reference: str  # the client_reference_id as Stripe reported it
    unit_amount: int | None  # cents
    quantity: int
    amount: int  # cents, what the buyer paid (with tax and shipping)
    currency: str
    payment_status: str  # paid, unpaid (settles later) or failed
    payment_intent: str | None
    email: str
    shipping_name: str
    shipping_address: Mapping[str, str]
    created_at: str
    refunded: int = 0  # cents

    @property
    def net(self) -> int:
        """What the order brought in: paid, less its refund (never below nothing: a refund reported in
        another currency, or larger than the order, takes no more than the order)."""
        return self.amount - min(self.refunded, self.amount) if self.payment_status == "paid" else 0


_COLUMNS = (
    "session, mode, payment_link, campaign, sku, subscriber_id, reference, unit_amount, quantity, amount,"
    " currency, payment_status, payment_intent, email, shipping_name, shipping_address, created_at"
)


class Orders(Subscribers):
    def event_seen(self, event_id: str, event_type: str, stamp: str) -> bool:
        """Record an event as applied, inside the caller's transaction; True when it was already."""
        added = self.connection.execute(
            "INSERT INTO stripe_events (id, type, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (event_id, event_type, stamp),
        )
        return added.rowcount == 0

    def put_order(self, order: Order, *, event_at: int, stamp: str) -> bool:
        """Write an order as of `event_at` (a Unix time); an older report of it changes nothing.
        True when the row changed."""
        values = (
            order.session,
            order.mode,
            order.payment_link,
            order.campaign,
            order.sku,
            order.subscriber_id,
            order.reference,
            order.unit_amount,
            order.quantity,
            order.amount,
            order.currency,
            order.payment_status,
            order.payment_intent,
            order.email,
            order.shipping_name,
            json.dumps(dict(order.shipping_address), ensure_ascii=False, sort_keys=True),
            order.created_at,
        )
        changed = self.connection.execute(
            f"INSERT INTO orders ({_COLUMNS}, event_at, updated_at) VALUES ({', '.join('?' * 19)})"
            " ON CONFLICT (session) DO UPDATE SET payment_status = excluded.payment_status,"
            " amount = excluded.amount, quantity = excluded.quantity, payment_intent ="
            " coalesce(excluded.payment_intent, orders.payment_intent),"
            # A forgotten buyer's order keeps no personal data, whatever Stripe reports again later.
            " shipping_name = CASE WHEN orders.forgotten = 1 THEN '' ELSE excluded.shipping_name END,"
            " shipping_address = CASE WHEN orders.forgotten = 1 THEN '{}' ELSE excluded.shipping_address END,"
            " email = CASE WHEN orders.forgotten = 1 THEN '' ELSE excluded.email END,"
            " event_at = excluded.event_at, updated_at = excluded.updated_at"
            " WHERE excluded.event_at > orders.event_at"
            " OR (excluded.event_at = orders.event_at AND orders.payment_status = 'unpaid')",
            (*values, event_at, stamp),
        )
        return changed.rowcount == 1

    def put_refund(self, payment_intent: str, amount_refunded: int, *, event_at: int, stamp: str) -> None:
        """A charge's refunded amount (its total so far), kept however the events are ordered."""
        self.connection.execute(
            "INSERT INTO refunds (payment_intent, amount_refunded, event_at, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (payment_intent) DO UPDATE SET amount_refunded = CASE WHEN"
            " excluded.amount_refunded > refunds.amount_refunded THEN excluded.amount_refunded ELSE"
            " refunds.amount_refunded END, event_at = CASE WHEN excluded.event_at > refunds.event_at THEN"
            " excluded.event_at ELSE refunds.event_at END, updated_at = excluded.updated_at",
            (payment_intent, amount_refunded, event_at, stamp),
        )

    def orders(
        self, *, campaign: str | None = None, since: str | None = None, subscriber_id: int | None = None
    ) -> list[Order]:
        """Orders with their refunds, oldest first: of one campaign, since a time, of one reader."""
        columns = ", ".join("o." + column.strip() for column in _COLUMNS.split(","))
        query = (
            f"SELECT {columns}, coalesce(r.amount_refunded, 0) FROM orders o"
            " LEFT JOIN refunds r ON r.payment_intent = o.payment_intent WHERE TRUE"
        )
        params: list[object] = []
        for column, value in (("o.campaign", campaign), ("o.subscriber_id", subscriber_id)):
            if value is not None:
                query += f" AND {column} = ?"
                params.append(value)
        if since is not None:
            query += " AND o.created_at >= ?"
            params.append(since)
        rows = self.connection.execute(query + " ORDER BY o.created_at, o.session", params).fetchall()
        return [_order(row) for row in rows]

    def buyers_of(self, skus: Iterable[str]) -> set[int]:
        """The readers with a paid order, not refunded in full, of any of these books."""
        wanted = list(skus)
        if not wanted:
            return set()
        marks = ",".join("?" * len(wanted))
        rows = self.connection.execute(
            "SELECT DISTINCT o.subscriber_id FROM orders o LEFT JOIN refunds r ON r.payment_intent ="
            f" o.payment_intent WHERE o.sku IN ({marks}) AND o.payment_status = 'paid' AND"
            " o.subscriber_id IS NOT NULL AND coalesce(r.amount_refunded, 0) < o.amount",
            wanted,
        )
        return {int(row[0]) for row in rows}

    def forget_orders_of(self, subscriber_id: int) -> None:
        """Orders are bookkeeping the law keeps for seven years: they stay, without the person."""
        self.connection.execute(
            "UPDATE orders SET subscriber_id = NULL, reference = '', email = '', shipping_name = '',"
            " shipping_address = '{}', forgotten = 1 WHERE subscriber_id = ?",
            (subscriber_id,),
        )


def _order(row: tuple[object, ...]) -> Order:
    (
        session,
        mode,
        payment_link,
        campaign,
        sku,
        subscriber_id,
        reference,
        unit_amount,
        quantity,
        amount,
        currency,
        payment_status,
        payment_intent,
        email,
        shipping_name,
        shipping_address,
        created_at,
        refunded,
    ) = row
    return Order(
        str(session),
        str(mode),
        _optional(payment_link),
        _optional(campaign),
        _optional(sku),
        None if subscriber_id is None else int(str(subscriber_id)),
        str(reference),
        None if unit_amount is None else int(str(unit_amount)),
        int(str(quantity)),
        int(str(amount)),
        str(currency),
        str(payment_status),
        _optional(payment_intent),
        str(email),
        str(shipping_name),
        json.loads(str(shipping_address)),
        str(created_at),
        int(str(refunded)),
    )


def _optional(value: object) -> str | None:
    return None if value is None else str(value)
