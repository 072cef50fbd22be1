"""One-click unsubscribe: a signed token per recipient, checked without a database lookup.

Every message carries `List-Unsubscribe: <https://.../afmelden?token=...>`, and Gmail and Yahoo
POST `List-Unsubscribe=One-Click` to that URL (RFC 8058) when the reader clicks "unsubscribe". The
token says who and which campaign, and is signed with HMAC-SHA256 under a secret from the
environment (NEWSLETTER_UNSUBSCRIBE_SECRET), so the website can trust it without a login and
nobody can unsubscribe someone else by editing the URL.

A website built in Python calls `unsubscribe(project, token)`; anything else can shell out to
`newsletter unsubscribe verify TOKEN`. Tokens do not expire: an unsubscribe link must keep working
for as long as the email sits in someone's inbox.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from newsletter.errors import NewsletterError

if TYPE_CHECKING:
    from newsletter.mail.audience import SuppressReport
    from newsletter.project.settings import Project

SECRET_ENV = "NEWSLETTER_UNSUBSCRIBE_SECRET"
MIN_SECRET_CHARS = 16
_VERSION = "1"
_MAC_BYTES = 16  # 128 bits of HMAC-SHA256: unforgeable, and keeps the URL short


@dataclass(frozen=True)
class Token:
    email: str
    campaign_id: str


@dataclass(frozen=True)
class Unsubscribed:
    token: Token
    report: SuppressReport

    @property
    def changed(self) -> bool:
        return bool(self.report.added or self.report.suppressed)


def secret_from_env() -> bytes:
    secret = os.environ.get(SECRET_ENV, "").strip()
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


def make_token(email: str, campaign_id: str, secret: bytes) -> str:
    payload = "\n".join((_VERSION, campaign_id, email)).encode("utf-8")
    return f"{_b64(payload)}.{_b64(_mac(payload, secret))}"


def read_token(token: str, secret: bytes) -> Token:
    """The token's address and campaign, or a NewsletterError when it is damaged or forged."""
    encoded_payload, _, encoded_mac = token.strip().partition(".")
    try:
        payload = _unb64(encoded_payload)
        mac = _unb64(encoded_mac)
    except (binascii.Error, ValueError):
        raise _invalid("it is not a token newsletter made (damaged or cut off?)") from None
    if not hmac.compare_digest(mac, _mac(payload, secret)):
        raise _invalid("its signature does not match: it was altered, or signed with another secret")
    version, campaign_id, email = ([*payload.decode("utf-8", "replace").split("\n", 2), "", ""])[:3]
    if version != _VERSION or not email:
        raise _invalid(f"unknown token version {version!r}")
    return Token(email=email, campaign_id=campaign_id)


def unsubscribe_url(base: str, token: str) -> str:
    separator = "&" if urlsplit(base).query else "?"
    return base + separator + urlencode({"token": token})


def unsubscribe(project: Project, token: str, *, secret: bytes | None = None) -> Unsubscribed:
    """Check a token and unsubscribe its address: what a website's unsubscribe page calls.

    Idempotent: a second click reports `changed == False`. An address no longer in the database is
    added as unsubscribed, so a later import cannot mail it again.
    """
    from newsletter.mail.audience import open_audience
    from newsletter.mail.audience_csv import suppress

    checked = read_token(token, secret if secret is not None else secret_from_env())
    with open_audience(project) as store:
        report = suppress(
            store, [checked.email], status="unsubscribed", default_locale=project.settings.locale
        )
    return Unsubscribed(checked, report)


def _mac(payload: bytes, secret: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _invalid(reason: str) -> NewsletterError:
    return NewsletterError(f"invalid unsubscribe token: {reason}", field="token")
