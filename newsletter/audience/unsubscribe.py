"""One-click unsubscribe: a signed token per recipient, checked without a database lookup.

Every message carries `List-Unsubscribe: <https://.../afmelden?token=...>`, and Gmail and Yahoo
POST `List-Unsubscribe=One-Click` to that URL (RFC 8058) when the reader clicks "unsubscribe". The
token says who and which campaign, and is signed with HMAC-SHA256 under the project's secret
(NEWSLETTER_UNSUBSCRIBE_SECRET, resolved with the project), so the website can trust it without a login and
nobody can unsubscribe someone else by editing the URL.

Two versions, told apart by the payload's first byte (both are `base64url(payload).base64url(mac)`,
the mac being the first 16 bytes of HMAC-SHA256(secret, payload)):

- v1 (sent before version 2 existed, still accepted): the payload is the text
  `1\\n<campaign>\\n<address>`, so anyone holding the URL (a proxy log, a forwarded email) could
  read the reader's address from it.
- v2 (what `make_token` makes): opaque. The payload is the byte 0x02, a 4-byte fingerprint of the
  address (HMAC under the secret, so it reveals nothing without it), the subscriber id as an
  unsigned LEB128 varint and the campaign id in UTF-8. The id finds the reader; the fingerprint
  makes sure the id still belongs to the address the email went to (a database rebuilt from an
  export renumbers its readers, and the token must then refuse rather than unsubscribe a stranger).
  A test send (`send --to` an address outside the list) has no subscriber id: its token names
  subscriber 0, which is valid and shows the pages, but unsubscribes nobody (`Token.is_test`), so
  an editor can try the link in a test email without leaving the list.

A website built in Python calls `unsubscribe(project, token)` (the WSGI app `newsletter.web:app`
does); anything else can shell out to `newsletter unsubscribe verify TOKEN`. Tokens do not expire:
an unsubscribe link must keep working for as long as the email sits in someone's inbox.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from newsletter.audience.signing import mac as _mac
from newsletter.audience.signing import read_varint as _read_varint
from newsletter.audience.signing import signed as _signed
from newsletter.audience.signing import unb64 as _unb64
from newsletter.audience.signing import varint as _varint
from newsletter.errors import NewsletterError
from newsletter.project.environment import UNSUBSCRIBE_SECRET as SECRET_ENV
from newsletter.project.environment import Secrets

if TYPE_CHECKING:
    from newsletter.project.settings import Project
    from newsletter.store import Store, SuppressReport

MIN_SECRET_CHARS = 16
TEST_SUBSCRIBER = 0  # the subscriber id in a test send's token; SQLite ids start at 1
_V1 = b"1\n"
_V2 = 2
_FINGERPRINT_BYTES = 4  # enough to notice a renumbered database; not an address anyone can read


@dataclass(frozen=True)
class Token:
    """Whom a token unsubscribes, from which campaign's email.

    `address` is None for a v2 token until `unsubscribe` or `resolve` looked the subscriber up:
    the token itself no longer holds it.
    """

    address: str | None
    campaign_id: str
    subscriber_id: int | None = None  # v2 only
    fingerprint: bytes = field(default=b"", repr=False, compare=False)

    @property
    def email(self) -> str:
        """The address, or what to call the reader when the token holds none (for messages and logs)."""
        if self.address is not None:
            return self.address
        return "a test address" if self.is_test else f"subscriber {self.subscriber_id}"

    @property
    def is_test(self) -> bool:
        return self.subscriber_id == TEST_SUBSCRIBER

    @property
    def version(self) -> int:
        return 1 if self.subscriber_id is None else _V2


@dataclass(frozen=True)
class Unsubscribed:
    token: Token
    report: SuppressReport

    @property
    def changed(self) -> bool:
        return bool(self.report.added or self.report.suppressed)


def signing_key(secrets: Secrets) -> bytes:
    """The unsubscribe secret as the key tokens are signed with, or why it cannot be one."""
    secret = secrets.unsubscribe
    if not secret:
        raise NewsletterError(
            f"{SECRET_ENV} is not set: the one-click unsubscribe links need it to sign their tokens",
            hint='set it to a long random value, e.g. `export NEWSLETTER_UNSUBSCRIBE_SECRET="$(openssl rand '
            '-hex 32)"`, and give your website the same value; changing it breaks earlier links',
        )
    if len(secret) < MIN_SECRET_CHARS:
        raise NewsletterError(
            f"{SECRET_ENV} is too short: use at least {MIN_SECRET_CHARS} random characters",
            hint="for example the output of `openssl rand -hex 32`",
        )
    return secret.encode("utf-8")


def make_token(email: str, campaign_id: str, secret: bytes, subscriber_id: int | None) -> str:
    """A v2 token for the subscriber with this id and address; None (a test send): subscriber 0."""
    number = TEST_SUBSCRIBER if subscriber_id is None else subscriber_id
    if number < 0 or number.bit_length() > 64:
        raise ValueError(f"not a subscriber id: {number}")
    payload = bytes([_V2]) + fingerprint(email, secret) + _varint(number) + campaign_id.encode("utf-8")
    return _signed(payload, secret)


def make_v1_token(email: str, campaign_id: str, secret: bytes) -> str:
    """The format of the emails sent before v2: no longer made for sending, kept so tests and tools
    can make the tokens readers still hold."""
    return _signed(_V1 + "\n".join((campaign_id, email)).encode("utf-8"), secret)


def read_token(token: str, secret: bytes) -> Token:
    """What the token names, or a NewsletterError when it is damaged or forged."""
    encoded_payload, _, encoded_mac = token.strip().partition(".")
    try:
        payload = _unb64(encoded_payload)
        mac = _unb64(encoded_mac)
    except (binascii.Error, ValueError):
        raise _invalid("it is not a token newsletter made (damaged or cut off?)") from None
    if not hmac.compare_digest(mac, _mac(payload, secret)):
        raise _invalid("its signature does not match: it was altered, or signed with another secret")
    if payload.startswith(_V1):
        return _read_v1(payload)
    if payload[:1] == bytes([_V2]):
        return _read_v2(payload)
    raise _invalid(f"unknown token version {payload[:1]!r}")


def fingerprint(email: str, secret: bytes) -> bytes:
    """A keyed hash of the address as the store compares addresses (case-insensitively)."""
    from newsletter.store import email_key

    return hmac.new(secret, b"address\n" + email_key(email).encode("utf-8"), hashlib.sha256).digest()[
        :_FINGERPRINT_BYTES
    ]


def unsubscribe_url(base: str, token: str) -> str:
    separator = "&" if urlsplit(base).query else "?"
    return base + separator + urlencode({"token": token})


def unsubscribe(project: Project, token: str, *, source: str = "one-click", how: str = "") -> Unsubscribed:
    """Check a token and unsubscribe its reader: what a website's unsubscribe page calls.

    Idempotent: a second click reports `changed == False`. An address (v1 token) no longer in the
    database is added as unsubscribed, so a later import cannot mail it again. The status history
    records `source`, and the campaign and `how` as its detail ("2026-12-schrijven: unsubscribe
    page"), the form `newsletter report` reads to count the unsubscribe for that campaign. A test
    send's token changes nothing. A v2 token whose subscriber is missing, or whose id now belongs to
    another address, is a NewsletterError: unsubscribing nobody and saying "done" would keep
    mailing them.
    """
    from newsletter.store import open_store

    secret = signing_key(project.secrets)
    checked = read_token(token, secret)
    with open_store(project) as store, store.transaction():
        return unsubscribe_within(store, project, checked, secret, source=source, how=how)


def unsubscribe_within(
    store: Store, project: Project, checked: Token, secret: bytes, *, source: str = "one-click", how: str = ""
) -> Unsubscribed:
    """`unsubscribe` of a token already read (`read_token`), inside the caller's transaction: for a
    server that commits the unsubscribes arriving together at once (web/group_commit.py)."""
    from newsletter.store import SuppressReport, timestamp

    if checked.is_test:
        return Unsubscribed(checked, SuppressReport())
    if checked.address is None:
        checked = _looked_up(store, checked, secret)
    assert checked.address is not None
    # The address comes from the token or the database, checked already: straight to the store
    # (the file reader would take an address starting with '#' for a comment).
    report = store.suppress_within(
        [checked.address],
        status="unsubscribed",
        default_locale=project.settings.locale,
        stamp=timestamp(None),
        source=source,
        detail=f"{checked.campaign_id}: {how}" if how else checked.campaign_id,
    )
    return Unsubscribed(checked, report)


def resolve(project: Project, token: Token, secret: bytes) -> Token:
    """The token with its address filled in from the database (read only; nothing is created)."""
    from newsletter.store import open_existing

    if token.address is not None or token.is_test:
        return token
    store = open_existing(project)
    if store is None:
        raise _unknown_subscriber(token)
    with store:
        return _looked_up(store, token, secret)


def _looked_up(store: Store, token: Token, secret: bytes) -> Token:
    address = store.subscriber_address(token.subscriber_id or 0)
    if address is None:
        raise _unknown_subscriber(token)
    if not hmac.compare_digest(fingerprint(address, secret), token.fingerprint):
        raise NewsletterError(
            f"the unsubscribe token names subscriber {token.subscriber_id}, but that id now belongs to "
            "another address",
            field="token",
            hint="was the subscriber database replaced or re-imported? unsubscribe the reader by address "
            "with `newsletter audience suppress`",
        )
    return replace(token, address=address)


def _read_v1(payload: bytes) -> Token:
    campaign_id, _, email = payload[len(_V1) :].decode("utf-8", "replace").partition("\n")
    if not email:
        raise _invalid("a version 1 token without an address")
    return Token(address=email, campaign_id=campaign_id)


def _read_v2(payload: bytes) -> Token:
    start = 1 + _FINGERPRINT_BYTES
    try:
        number, end = _read_varint(payload, start)
        campaign_id = payload[end:].decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise _invalid("a version 2 token with a damaged payload") from None
    if not campaign_id:
        raise _invalid("a version 2 token without a campaign")
    return Token(None, campaign_id, subscriber_id=number, fingerprint=payload[1:start])


def _invalid(reason: str) -> NewsletterError:
    return NewsletterError(f"invalid unsubscribe token: {reason}", field="token")


def _unknown_subscriber(token: Token) -> NewsletterError:
    return NewsletterError(
        f"the unsubscribe token names subscriber {token.subscriber_id}, who is not in the subscriber "
        "database",
        field="token",
        hint="is the website using the same project and database as `newsletter send`?",
    )
