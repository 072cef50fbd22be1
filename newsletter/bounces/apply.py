"""Bounces, complaints and mailed unsubscribes into subscriber statuses: `newsletter bounces import`
and the webhooks of email services (web/webhooks.py) both end here.

What each message or notification says is bounce_formats.py (mail) and bounce_notifications.py
(JSON); where they come from is bounce_sources.py. This module applies them to the store:

- a permanent failure marks the subscriber `bounced`;
- a transient one (4.x.x, an SES Transient, a Postmark SoftBounce) is counted, once per report, and
  marks the subscriber `bounced` when it reaches `[bounces] soft_bounce_limit` (default 3);
- a complaint marks them `complained`; a mailed unsubscribe `unsubscribed`.

Only a message of ours is answered: a bounce or a complaint that came by mail changes a reader only
when it names a message the send log says went to that very address — by the token of the VERP
envelope sender it was returned to, by the returned message's Message-ID, or by the signed unsubscribe
token in its List-Unsubscribe header (formats.Evidence). Anyone can mail the bounce mailbox; a report
that names no message of ours, or names one sent to somebody else, is counted as "not ours" and
changes nothing, and a soft bounce counts towards the limit only when it is ours. The webhooks of
email services are authenticated instead, and their notifications are applied as they come.

Only an active subscriber changes: one already unsubscribed, bounced or complained keeps the status
they have (counted as "already suppressed"), so a bounce never overwrites the reader's own choice.
Addresses match subscribers case-insensitively (`email_key`); an address that is not a subscriber
is reported as unknown and not added. Every change is in the status history, with source `bounce`,
`complaint`, `mailto` or `webhook:<service>`.

Idempotent: every report applied is remembered by its key (Message-ID, or the service's event id;
store/bounce_records.py), and one seen before is skipped, so importing the same Maildir twice, or a webhook
retried by its service, changes nothing the second time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.bounces import notifications as bounce_notifications
from newsletter.bounces.formats import Evidence, Finding, Report, TokenReader, read_message
from newsletter.bounces.notifications import Confirmation
from newsletter.bounces.sources import Item, items, kinds
from newsletter.errors import NewsletterError
from newsletter.store import Store, email_key, normalise_address, timestamp

if TYPE_CHECKING:
    from newsletter.project.settings import Project

APPLY_BATCH = 200  # reports per transaction
ANSWERS_A_MESSAGE = ("bounce", "soft", "complaint")  # a mailed unsubscribe is the reader's own wish
NEW_STATUS = {
    "bounce": "bounced",
    "soft": "bounced",
    "complaint": "complained",
    "unsubscribe": "unsubscribed",
}


@dataclass
class Summary:
    """What an import (or one webhook call) did: `read` counts messages and JSON notifications;
    each list holds (where, what)."""

    read: int = 0
    bounced: int = 0
    soft_counted: int = 0
    complained: int = 0
    unsubscribed: int = 0
    already_suppressed: int = 0
    already_imported: int = 0
    unknown: list[tuple[str, str]] = field(default_factory=list)
    not_ours: list[tuple[str, str]] = field(default_factory=list)  # (where, address): no message of ours
    ignored: list[tuple[str, str]] = field(default_factory=list)
    not_understood: list[tuple[str, str]] = field(default_factory=list)
    confirmations: list[tuple[str, Confirmation]] = field(default_factory=list)

    def count(self, status: str) -> None:
        if status == "bounced":
            self.bounced += 1
        elif status == "complained":
            self.complained += 1
        else:
            self.unsubscribed += 1


# -- reading -----------------------------------------------------------------------------------------


def unsubscribe_addresses(project: Project) -> tuple[str, ...]:
    """Where the List-Unsubscribe mailto: sends readers (message.py): the setting, or the sender."""
    sender = project.settings.sender
    return (sender.unsubscribe_mailto or sender.address,)


def token_reader(project: Project, secret: bytes | None) -> TokenReader:
    """Checks an unsubscribe token (v1 or v2) and finds its reader, as the one-click page does."""
    from newsletter.audience.unsubscribe import read_token, resolve
    from newsletter.project.environment import UNSUBSCRIBE_SECRET as SECRET_ENV

    def read(token: str) -> str | None:
        if secret is None:
            raise ValueError(f"{SECRET_ENV} is not set, so the token could not be checked")
        try:
            checked = read_token(token, secret)
            return None if checked.is_test else resolve(project, checked, secret).address
        except NewsletterError as exc:
            raise ValueError(exc.message) from None

    return read


def secret_if_set(project: Project) -> bytes | None:
    """The unsubscribe secret, when the project has a usable one: without it tokens cannot be
    checked, which makes mailed unsubscribes fall back to their From address, not fail."""
    from newsletter.audience.unsubscribe import signing_key

    try:
        return signing_key(project.secrets)
    except NewsletterError:
        return None


def reports(
    item: Item, unsubscribe_to: Sequence[str], read: TokenReader, return_address: str | None = None
) -> list[Report | Confirmation]:
    """What one message or JSON document says (a JSON list: each of its notifications)."""
    if item.kind == "message":
        return [
            read_message(item.data, unsubscribe_to=unsubscribe_to, read=read, return_address=return_address)
        ]
    try:
        document = json.loads(item.data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return [Report("", problem=f"not valid JSON: {exc}")]
    found: list[Report | Confirmation] = []
    for notification in document if isinstance(document, list) else [document]:
        service = bounce_notifications.service_of(notification)
        if service is None:
            found.append(Report("", problem="JSON that is neither an SES (SNS) nor a Postmark notification"))
        else:
            found.append(bounce_notifications.read(notification, service))
    return found


# -- applying ----------------------------------------------------------------------------------------


def apply(
    store: Store,
    report: Report,
    where: str,
    summary: Summary,
    *,
    soft_limit: int,
    stamp: str,
    secret: bytes | None = None,
) -> None:
    """One report, inside the caller's transaction. `secret` checks the unsubscribe tokens a returned
    message quotes."""
    if report.problem:
        summary.not_understood.append((where, report.problem))
        return
    if report.ignored:
        summary.ignored.append((where, report.ignored))
        return
    if store.report_seen(report.key):
        summary.already_imported += 1
        return
    ours = None if report.trusted else sent_to(store, report.evidence, secret)
    for finding in report.findings:
        named = _as_stored(finding.address)
        if ours is not None and finding.kind in ANSWERS_A_MESSAGE and email_key(named) not in ours:
            summary.not_ours.append((where, named))
            continue
        _apply_finding(store, finding, report.key, where, summary, soft_limit=soft_limit, stamp=stamp)
    store.remember_report(report.key, where, stamp)


def _as_stored(address: str) -> str:
    """The address as the store would hold it, or as written when it is not one."""
    try:
        return normalise_address(address)
    except ValueError:
        return address


def sent_to(store: Store, evidence: Evidence, secret: bytes | None) -> set[str]:
    """The addresses (by `email_key`) of the messages in the send log that the evidence names."""
    from newsletter.audience.unsubscribe import read_token

    rows: list[tuple[str, int]] = []
    for token in evidence.unsubscribe_tokens:
        if secret is None:
            break
        try:
            checked = read_token(token, secret)
        except NewsletterError:
            continue  # forged or damaged: names nothing
        if checked.subscriber_id is not None:
            rows.append((checked.campaign_id, checked.subscriber_id))
        elif checked.address is not None and (found := store.find_subscriber(checked.address)):
            rows.append((checked.campaign_id, found.id))
    sent = store.sent_messages(
        message_ids=evidence.message_ids, return_tokens=evidence.return_tokens, rows=rows
    )
    return {email_key(message.email) for message in sent}


def _apply_finding(
    store: Store,
    finding: Finding,
    key: str,
    where: str,
    summary: Summary,
    *,
    soft_limit: int,
    stamp: str,
) -> None:
    try:
        address = normalise_address(finding.address)
    except ValueError:
        summary.unknown.append((where, finding.address))
        return
    subscriber = store.find_subscriber(address)
    if subscriber is None:
        summary.unknown.append((where, address))
        return
    detail = f"{finding.detail} ({where})"
    if finding.kind == "soft":
        counted = store.add_soft_bounce(email_key(address), key, finding.detail, stamp)
        if counted < soft_limit or subscriber.status != "active":
            summary.soft_counted += 1
            return
        detail = f"{counted} transient failures, the limit is {soft_limit}; last: {detail}"
    if subscriber.status != "active":
        summary.already_suppressed += 1
        return
    new = NEW_STATUS[finding.kind]
    store.change_status(
        subscriber.id, subscriber.status, new, source=finding.source, detail=detail, stamp=stamp
    )
    summary.count(new)


def import_paths(
    project: Project,
    store: Store,
    paths: Iterable[Path],
    *,
    now: datetime | None = None,
) -> Summary:
    """`newsletter bounces import`: every message of every path read first (no write lock is held
    while the detectors work), then applied, `APPLY_BATCH` reports per transaction: a one-click
    unsubscribe arriving meanwhile waits milliseconds, not for the whole import. A report is applied
    whole or not at all, and remembered in its transaction, so an import stopped half way and run
    again applies the rest once."""
    checked = kinds(list(paths))
    secret = secret_if_set(project)
    read = token_reader(project, secret)
    unsubscribe_to = unsubscribe_addresses(project)
    return_address = project.settings.bounces.address
    summary = Summary()
    found: list[tuple[str, Report]] = []
    root = project.root
    for path, kind in checked:
        for item in items(path, kind):
            where = _relative(item.label, root)
            for report in reports(item, unsubscribe_to, read, return_address):
                summary.read += 1
                if isinstance(report, Confirmation):
                    summary.confirmations.append((where, report))
                else:
                    found.append((where, report))
    stamp = timestamp(now)
    limit = project.settings.bounces.soft_bounce_limit
    for start in range(0, len(found), APPLY_BATCH):
        store.let_writers_in()
        with store.transaction():
            for where, report in found[start : start + APPLY_BATCH]:
                apply(store, report, where, summary, soft_limit=limit, stamp=stamp, secret=secret)
    return summary


def _relative(label: str, root: Path) -> str:
    try:
        return str(Path(label).relative_to(root))
    except ValueError:
        return label
