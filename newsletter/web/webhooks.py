"""Bounce and complaint webhooks of email services: `POST /webhooks/ses` and `/webhooks/postmark`.

`newsletter serve` (app.py) routes the request here; `handle` answers (status, short text) and
never raises. What a notification means, and how it changes statuses, is the same code as
`newsletter bounces import` (bounces/apply.py), with source `webhook:<service>` in the history.

Every request must carry the shared secret from the environment (NEWSLETTER_WEBHOOK_SECRET, at
least 16 characters; without it every webhook answers 503), compared in constant time, as:

- the password of HTTP basic auth (Postmark: `https://hook:SECRET@host/webhooks/postmark`; SNS
  accepts the same form in an HTTPS subscription's URL),
- the header `X-Newsletter-Secret` (Postmark's webhook settings can add headers), or
- the query parameter `?secret=SECRET` (when the server passes the query string on).

SNS also signs its messages, but checking that signature means fetching AWS's signing certificate,
which a server that works offline cannot do: the shared secret is what authenticates SNS here, so
it is required for SES too. An SNS `SubscriptionConfirmation` is answered 200 and its SubscribeURL
logged (logger `newsletter.webhooks`) for the operator to open; nothing here fetches it. Whatever a
request brings is logged through `printable`, so that no value can forge a line of the log.

Answers: 200 with what was done (also for a notification that needs nothing, so the service does
not retry it); 400 for a body that is not a notification of that service, or a query of more than
MAX_QUERY_FIELDS fields; 401 for a missing or wrong secret; 404 for an unknown service; 503 when the
secret is not configured or the database is busy (the service retries later, and the retry is
applied once: reports are remembered by id).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from newsletter.bounces import notifications as bounce_notifications
from newsletter.bounces.notifications import Confirmation
from newsletter.errors import NewsletterError
from newsletter.project.environment import WEBHOOK_SECRET as SECRET_ENV
from newsletter.project.validation import printable

if TYPE_CHECKING:
    from newsletter.bounces.apply import Summary
    from newsletter.bounces.formats import Report
    from newsletter.project.settings import Project

SECRET_HEADER = "x-newsletter-secret"
MIN_SECRET_CHARS = 16
MAX_QUERY_FIELDS = 20  # `?secret=...` and what a proxy may add; hundreds are nobody's webhook URL
log = logging.getLogger("newsletter.webhooks")


def handle(
    project: Project, service: str, headers: Mapping[str, str], body: bytes, *, query: str = ""
) -> tuple[int, str]:
    """Check one webhook request and apply it. `headers` by lower-case name; `query` the raw query
    string, when the server passes it."""
    if service not in bounce_notifications.SERVICES:
        return 404, f"no webhook for {service!r}"
    fields = _query_fields(query)
    if fields is None:
        return 400, f"more than {MAX_QUERY_FIELDS} query fields"
    secret = project.secrets.webhook
    if len(secret) < MIN_SECRET_CHARS:
        return 503, f"webhooks are off: set {SECRET_ENV} (at least {MIN_SECRET_CHARS} characters)"
    lower = {name.lower(): value for name, value in headers.items()}
    if not _authorised(secret, lower, fields.get("secret", [])[:1]):
        return 401, "unauthorized"
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return 400, "not JSON"
    if bounce_notifications.service_of(data) != service:
        return 400, f"not a {service} notification"
    found = bounce_notifications.read(data, service)
    if isinstance(found, Confirmation):
        topic, url = printable(found.topic), printable(found.url)
        log.warning("SNS %s for %s: open %s to confirm it", printable(found.kind), topic, url)
        return 200, "subscription confirmation logged; the operator confirms it"
    try:
        summary = _apply(project, found, service)
    except NewsletterError as error:
        log.warning("webhook %s not applied: %s", service, error)
        return 503, "busy, try again"
    if summary.not_understood:
        return 400, summary.not_understood[0][1]
    return 200, _answer(summary)


def _query_fields(query: str) -> dict[str, list[str]] | None:
    """The query's fields, or None for more than MAX_QUERY_FIELDS: `parse_qs` refuses those with a
    ValueError, which must be a 400 for the caller, not a 500 and a traceback in the log."""
    try:
        return parse_qs(query, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        return None


def _authorised(secret: str, headers: Mapping[str, str], from_query: list[str]) -> bool:
    """Any of the three places may hold the secret; each candidate is compared in constant time."""
    candidates = [
        headers.get(SECRET_HEADER, ""),
        _basic_password(headers.get("authorization", "")),
        *from_query,
    ]
    expected = secret.encode("utf-8")
    matches = [hmac.compare_digest(candidate.encode("utf-8"), expected) for candidate in candidates]
    return any(matches)


def _basic_password(authorization: str) -> str:
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[2]


def _apply(project: Project, report: Report, service: str) -> Summary:
    from newsletter.bounces.apply import Summary, apply
    from newsletter.store import open_store, timestamp

    summary = Summary(read=1)
    with open_store(project) as store, store.transaction():
        apply(
            store,
            report,
            f"webhook {service}",
            summary,
            soft_limit=project.settings.bounces.soft_bounce_limit,
            stamp=timestamp(None),
        )
    return summary


def _answer(summary: Summary) -> str:
    counts = {
        "bounced": summary.bounced,
        "soft bounce counted": summary.soft_counted,
        "complained": summary.complained,
        "unsubscribed": summary.unsubscribed,
        "already suppressed": summary.already_suppressed,
        "unknown": len(summary.unknown),
        "already received": summary.already_imported,
        "ignored": len(summary.ignored),
    }
    done = [f"{number} {what}" for what, number in counts.items() if number]
    return "ok: " + (", ".join(done) or "nothing to do")
