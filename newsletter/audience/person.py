"""One person on the list: everything stored about them (the right of access, AVG/GDPR art. 15), and
forgetting them (the right to erasure, art. 17).

`forget` keeps a keyed hash of the address so that a later import of an old list cannot bring the
person back; only a new sign-up, confirmed by the reader, does. The key is derived from
NEWSLETTER_UNSUBSCRIBE_SECRET, the secret the project already keeps out of its files: a hash
without the secret cannot be tested against a list of addresses, which a plain SHA-256 of an
address could be. When the secret changes, the hashes made under the old one no longer match: each
row names its key (`key_id`), and an import refuses to run without the secret while there are
forgotten addresses. The orders a forgotten reader paid for stay (Dutch tax law keeps bookkeeping
for seven years), without the link to the person or their address.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from newsletter.errors import NewsletterError
from newsletter.store import Consent, Order, SentTo, StatusChange, Store, Subscriber, email_key, timestamp


@dataclass(frozen=True)
class Person:
    """What `audience show` prints: the subscriber row, every consent, every change of status, every
    message of the send log, and the soft bounces counted."""

    subscriber: Subscriber
    consents: list[Consent]
    history: list[StatusChange]
    messages: list[SentTo]
    soft_bounces: list[tuple[str, str]]
    orders: list[Order]

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["history"] = [
            {key: value for key, value in change.items() if key not in ("subscriber_id", "email")}
            for change in data["history"]
        ]
        data["soft_bounces"] = [{"at": at, "detail": detail} for at, detail in self.soft_bounces]
        return data


def forget_key(secret: bytes) -> bytes:
    return hmac.new(secret, b"newsletter forgotten addresses", hashlib.sha256).digest()


def key_id(secret: bytes) -> str:
    """Names the key without revealing it: which secret made a hash."""
    return hmac.new(forget_key(secret), b"key id", hashlib.sha256).hexdigest()[:12]


def forgotten_hash(secret: bytes) -> Callable[[str], str]:
    """An address's key (store.email_key) to its keyed hash, as `forget` stores it."""
    key = forget_key(secret)
    return lambda address_key: hmac.new(key, address_key.encode("utf-8"), hashlib.sha256).hexdigest()


def person(store: Store, address: str) -> Person:
    found = store.find_subscriber(address)
    if found is None:
        raise NewsletterError(f"{address} is not on the list", field="ADDRESS")
    return Person(
        found,
        store.consents_of(found.id),
        store.history([found.id]),
        store.sent_to(found.id),
        store.soft_bounces_of(email_key(found.email)),
        store.orders(subscriber_id=found.id),
    )


def forget(store: Store, address: str, secret: bytes, *, now: datetime | None = None) -> Subscriber:
    """Erase a person's data but for a keyed hash of the address; returns the row as it was."""
    found = store.find_subscriber(address)
    if found is None:
        raise NewsletterError(
            f"{address} is not on the list",
            field="ADDRESS",
            hint="to keep an unknown address from ever being imported, `newsletter audience suppress` it",
        )
    key = email_key(found.email)
    with store.transaction():
        store.forget(
            found.id, key, digest=forgotten_hash(secret)(key), key_id=key_id(secret), stamp=timestamp(now)
        )
        store.forget_orders_of(found.id)  # bookkeeping the law keeps: the orders stay, not the person
    return found
