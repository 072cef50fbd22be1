"""The signed links a reader gets besides the unsubscribe link: confirm a sign-up, change their
preferences, see what is stored about them.

Each token is made like the unsubscribe token (signing.py), under a key derived from the same secret
(NEWSLETTER_UNSUBSCRIBE_SECRET) for these links alone, and its payload starts with its purpose, so a
token made for one page is refused by every other. The payload then holds a keyed fingerprint of the
address (as the unsubscribe token does: a renumbered database must not show one reader's page to
another), the subscriber id, a number (the consent a confirmation link confirms) and the moment it
was made. The confirmation link and the data link expire; the preference link, like the unsubscribe
link, works for as long as the email sits in an inbox.

Nothing in a token says who the reader is without the secret: the page looks the reader up, and
shows the address masked.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlencode

from newsletter.audience.signing import mac as make_mac
from newsletter.audience.signing import read_varint, signed, unb64, varint
from newsletter.audience.unsubscribe import fingerprint
from newsletter.errors import NewsletterError

Purpose = Literal["confirm", "preferences", "data"]
_PURPOSES: dict[Purpose, int] = {"confirm": 0x11, "preferences": 0x12, "data": 0x13}
_FINGERPRINT = 4
DATA_LINK_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class ReaderLink:
    """What a genuine token names. `number` is the consent of a confirmation link, else 0."""

    purpose: Purpose
    subscriber_id: int
    number: int
    issued: datetime
    fingerprint: bytes

    def belongs_to(self, address: str, secret: bytes) -> bool:
        return hmac.compare_digest(fingerprint(address, secret), self.fingerprint)


def links_key(secret: bytes) -> bytes:
    """The key of these links: derived, so that no token of one kind is ever a valid token of another."""
    return hmac.new(secret, b"newsletter reader links", hashlib.sha256).digest()


def make_link_token(
    purpose: Purpose, email: str, subscriber_id: int, secret: bytes, *, number: int = 0, now: datetime
) -> str:
    payload = (
        bytes([_PURPOSES[purpose]])
        + fingerprint(email, secret)
        + varint(subscriber_id)
        + varint(number)
        + varint(int(now.timestamp()))
    )
    return signed(payload, links_key(secret))


def read_link_token(
    token: str, purpose: Purpose, secret: bytes, *, now: datetime, lifetime: timedelta | None
) -> ReaderLink:
    """The link's contents, or a NewsletterError (field "token") when it is damaged, forged, made for
    another page, or older than `lifetime` (None: it does not expire)."""
    encoded_payload, _, encoded_mac = token.strip().partition(".")
    try:
        payload, mac = unb64(encoded_payload), unb64(encoded_mac)
    except ValueError:
        raise _invalid("it is not a link newsletter made (damaged or cut off?)") from None
    if not hmac.compare_digest(mac, make_mac(payload, links_key(secret))):
        raise _invalid("its signature does not match: it was altered, or signed with another secret")
    if payload[:1] != bytes([_PURPOSES[purpose]]):
        raise _invalid(f"it is not a {purpose} link")
    try:
        subscriber_id, at = read_varint(payload, 1 + _FINGERPRINT)
        number, at = read_varint(payload, at)
        issued, at = read_varint(payload, at)
    except ValueError:
        raise _invalid("a damaged payload") from None
    if at != len(payload):
        raise _invalid("a damaged payload")
    made = datetime.fromtimestamp(min(issued, 2**35), now.tzinfo)  # 2**35 s: the year 3058
    if lifetime is not None and not now - lifetime <= made <= now + timedelta(minutes=5):
        raise NewsletterError("the link has expired", field="token", hint="expired")
    return ReaderLink(purpose, subscriber_id, number, made, payload[1 : 1 + _FINGERPRINT])


def link_url(base: str, path: str, token: str) -> str:
    """`<signup url>/<path>?token=...`."""
    return f"{base.rstrip('/')}/{path}?{urlencode({'token': token})}"


def _invalid(reason: str) -> NewsletterError:
    return NewsletterError(f"invalid link: {reason}", field="token")
