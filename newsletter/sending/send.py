"""`newsletter send` as a library: what stops a send, the dry run, the test send and the real send.

The order of a real send: render and check the campaign (refusing one whose checks fail unless
forced), take the campaign's lock, put its audience into the send log once (a later run only resumes
the log, or adds subscribers who joined since with `new_subscribers_only`), then let the run work
through the log (run.py), until it is done or asked to stop (stopping.py). The dry run walks the
same way without a network or a single write to the log: the same composer, with the outbox
(transport.py) as its transport. What the log says afterwards is send_status.py.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter import placeholders
from newsletter.audience.unsubscribe import signing_key
from newsletter.errors import NewsletterError, NewsletterErrors
from newsletter.payments.lock import record_sent
from newsletter.review.counts import plural
from newsletter.sending.message import Composer, DkimSigner, Recipient
from newsletter.sending.names import first_name
from newsletter.sending.publishing import publish_web_version
from newsletter.sending.run import Clock, RunReport, deliver_each, run, utc_now
from newsletter.sending.stopping import Stop
from newsletter.sending.transport import Outbox, Smtp, Transport, smtp_password
from newsletter.store import (
    Result,
    Store,
    Subscriber,
    campaign_lock,
    connect,
    database_path,
    email_key,
    normalise_address,
    open_existing,
)
from newsletter.vocabulary import OPEN_STATES, SEND_STATES

if TYPE_CHECKING:
    from newsletter.project.models import Campaign
    from newsletter.project.settings import Project, SmtpSettings
    from newsletter.render.renderer import Rendered
    from newsletter.review.checks import Finding
    from newsletter.store import Entry


@dataclass(frozen=True)
class Prepared:
    """A campaign rendered and checked, with what would stop a real send."""

    project: Project
    rendered: Rendered
    findings: list[Finding]
    blockers: list[str]

    @property
    def campaign_id(self) -> str:
        return self.rendered.campaign.id


@dataclass
class Plan:
    """A campaign's audience: who gets it, and why the others of its locale do not."""

    recipients: list[Subscriber] = field(default_factory=list)
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (address, why)
    other_locales: int = 0


@dataclass
class Audit:
    """Who a send would go to now, and the state of the campaign's send log."""

    recipients: list[Recipient] = field(default_factory=list)
    plan: Plan = field(default_factory=Plan)
    counts: dict[str, int] = field(default_factory=dict)
    finished: bool = False

    @property
    def started(self) -> bool:
        return any(self.counts.values())


@dataclass
class DryRun:
    prepared: Prepared
    audit: Audit
    outbox: Path | None  # None: the messages went to a transport the caller gave
    written: int
    message_bytes: int  # the size of the first message, headers included
    temporary_secret: bool  # no NEWSLETTER_UNSUBSCRIBE_SECRET: tokens were signed with a throw-away one


def prepare(project: Project, campaign_id: str) -> Prepared:
    from newsletter.pipeline import render_one
    from newsletter.review.checks import check_for_sending
    from newsletter.review.checks.readiness import blockers

    rendered = render_one(project, campaign_id)
    findings = check_for_sending(rendered, project)
    return Prepared(project, rendered, findings, blockers(findings))


def subject_for(prepared: Prepared, recipient: Recipient) -> str:
    """The subject as this reader gets it: their first name, or the fallback ("lezer")."""
    defaults = prepared.rendered.merge_defaults
    values = {"first_name": first_name(recipient.name) or defaults["first_name"]}
    return placeholders.substitute(prepared.rendered.campaign.subject, lambda name: values.get(name, ""))


def make_composer(
    prepared: Prepared, secret: bytes, *, test: bool = False, clock: Clock = utc_now
) -> Composer:
    project = prepared.project
    dkim = DkimSigner(project.settings.dkim, project.root) if project.settings.dkim else None
    return Composer(prepared.rendered, project, secret=secret, dkim=dkim, test=test, now=clock)


# -- who gets it ---------------------------------------------------------------------------------


def plan(
    subscribers: Sequence[Subscriber],
    campaign: Campaign,
    logged: set[int],
    buyers: AbstractSet[int] = frozenset(),
) -> Plan:
    """Who gets the campaign, and everyone of its locale who does not, with the reason; `buyers`
    are the readers who bought one of its books (left out with `exclude_buyers`)."""
    result = Plan()
    wanted = set(campaign.audience_tags)
    topics = set(campaign.audience_topics)
    every = campaign.topics_match == "all"
    for subscriber in subscribers:
        chosen = set(subscriber.topics)
        if subscriber.locale != campaign.locale:
            result.other_locales += 1
        elif subscriber.status != "active":
            result.excluded.append((subscriber.email, subscriber.status))
        elif not wanted <= set(subscriber.tags):
            missing = ", ".join(sorted(wanted - set(subscriber.tags)))
            result.excluded.append((subscriber.email, f"not tagged {missing}"))
        elif topics and not (topics <= chosen if every else topics & chosen):
            missing = ", ".join(sorted(topics - chosen))
            result.excluded.append((subscriber.email, f"not following {'' if every else 'any of '}{missing}"))
        elif subscriber.id in buyers:
            result.excluded.append((subscriber.email, "bought one of its books already"))
        elif subscriber.id in logged:
            result.excluded.append((subscriber.email, "already in this campaign's send log"))
        else:
            result.recipients.append(subscriber)
    return result


def audit(
    prepared: Prepared,
    store: Store | None,
    *,
    new_subscribers_only: bool = False,
    retry_unknown: bool = False,
    clock: Clock = utc_now,
) -> Audit:
    """Who a send would go to now: everyone in the audience on the first run; on a later run the log's
    due rows (and, when asked, subscribers who joined since). Reads only."""
    result = Audit()
    if store is None:  # no subscriber database yet: nobody to send to
        result.counts = dict.fromkeys(SEND_STATES, 0)
        return result
    campaign = prepared.rendered.campaign
    result.counts = store.send_counts(campaign.id)
    open_rows = sum(result.counts[state] for state in OPEN_STATES)
    result.finished = result.started and not open_rows and not (retry_unknown and result.counts["unknown"])
    logged = store.logged_ids(campaign.id)
    buyers = store.buyers_of(book.sku for book in campaign.books) if campaign.exclude_buyers else set()
    result.plan = plan(store.select(status=None), campaign, logged, buyers)
    if result.started:
        result.recipients = [
            Recipient(entry.email, entry.name, entry.subscriber_id)
            for entry in store.due(campaign.id, clock(), retry_unknown=retry_unknown)
            if entry.subscriber_status == "active"
        ]
    if (not result.started or new_subscribers_only) and not campaign.welcome:
        # A welcome goes to each reader as they confirm (signup/welcome.py), never to the audience.
        result.recipients += [Recipient(s.email, s.name, s.id) for s in result.plan.recipients]
    return result


# -- the dry run -----------------------------------------------------------------------------------


def dry_run(
    prepared: Prepared,
    *,
    transport: Transport | None = None,
    limit: int | None = None,
    new_subscribers_only: bool = False,
    retry_unknown: bool = False,
    clock: Clock = utc_now,
) -> DryRun:
    """Build every message a real send would send now and write them as .eml files to the outbox
    (or hand them to `transport`, an in-memory one say):
    no network, and nothing written to the send log. The outbox is replaced as a whole."""
    store = open_existing(prepared.project)
    try:
        found = audit(
            prepared,
            store,
            new_subscribers_only=new_subscribers_only,
            retry_unknown=retry_unknown,
            clock=clock,
        )
    finally:
        if store is not None:
            store.close()
    temporary = not prepared.project.secrets.unsubscribe
    secret = secrets.token_bytes(32) if temporary else signing_key(prepared.project.secrets)
    composer = make_composer(prepared, secret, clock=clock)
    outbox = prepared.project.root / "build" / prepared.campaign_id / "outbox"
    chosen = found.recipients if limit is None else found.recipients[:limit]
    first_size = 0
    with transport if transport is not None else Outbox(outbox) as box:
        for outgoing, _ in deliver_each(box, composer, chosen):
            first_size = first_size or len(outgoing.data)
    if not chosen:
        sample = composer.compose(Recipient(prepared.project.settings.sender.address))
        first_size = len(sample.data)
    return DryRun(prepared, found, None if transport else outbox, len(chosen), first_size, temporary)


# -- sending -------------------------------------------------------------------------------------


def smtp_settings(project: Project) -> SmtpSettings:
    if project.settings.smtp is None:
        raise NewsletterError(
            "no [smtp] section: newsletter does not know which server sends the mail",
            path=project.root / "newsletter.toml",
            field="smtp",
            hint='add [smtp] with host, port, security ("starttls" or "tls") and user; the password comes '
            "from NEWSLETTER_SMTP_PASSWORD",
        )
    return project.settings.smtp


def test_addresses(project: Project, given: Sequence[str], *, seeds: bool = False) -> list[str]:
    """The addresses of a test send: each `--to` (a value may hold several, separated by commas,
    semicolons or spaces, as pasted from an address book), and with `seeds` the settings' list;
    normalised, each once, all checked before anything is sent."""
    written = [part for value in given for part in re.split(r"[,;\s]+", value) if part]
    if given and not written:
        raise NewsletterError("empty address", field="--to")
    if seeds:
        if not project.settings.sender.test_recipients:
            raise NewsletterError(
                "--test sends to [sender] test_recipients, and newsletter.toml has none",
                path=project.root / "newsletter.toml",
                hint='add test_recipients = ["redactie@example.nl"] under [sender]',
            )
        written += project.settings.sender.test_recipients
    addresses: dict[str, str] = {}
    for address in written:
        try:
            email = normalise_address(address)
        except ValueError as exc:
            raise NewsletterError(str(exc), field="--to") from None
        addresses.setdefault(email_key(email), email)
    return list(addresses.values())


def test_send(prepared: Prepared, addresses: Sequence[str], *, clock: Clock = utc_now) -> list[Result]:
    """The personalised message, subject prefixed [TEST], to each address over one connection;
    nothing goes in the log. A subscriber's own name and links are used where the address is one."""
    settings = smtp_settings(prepared.project)
    password = smtp_password(settings, prepared.project.secrets)
    recipients = [Recipient(email) for email in addresses]
    store = open_existing(prepared.project)
    if store is not None:
        with store:
            known = store.find_subscribers(addresses)
        recipients = [
            Recipient(s.email, s.name, s.id) if (s := known.get(email_key(r.email))) else r
            for r in recipients
        ]
    composer = make_composer(prepared, signing_key(prepared.project.secrets), test=True, clock=clock)
    with Smtp(settings, password) as smtp:
        results = [result for _, result in deliver_each(smtp, composer, recipients)]
    refused = [
        f"{r.email}: {result.text}"
        for r, result in zip(recipients, results, strict=True)
        if result.state != "sent"
    ]
    if refused:
        raise NewsletterError("the test message was not accepted for " + "; ".join(refused))
    return results


def send(
    prepared: Prepared,
    *,
    force: bool = False,
    new_subscribers_only: bool = False,
    retry_unknown: bool = False,
    clock: Clock = utc_now,
    transport: Callable[[], Transport] | None = None,
    on_start: Callable[[int], None] = lambda total: None,
    on_result: Callable[[Entry, str], None] = lambda entry, state: None,
    stop: Stop | None = None,
) -> RunReport:
    """The real send, or its resumption, until done or `stop` is requested; `transport()` makes the
    connection of each sending thread (default: SMTP with the settings' server). Raises
    NewsletterError before anything is sent when the campaign is blocked, already finished, or being
    sent by another process."""
    campaign_id = prepared.campaign_id
    if prepared.blockers and not force:
        path = prepared.rendered.campaign.path
        summary = NewsletterError(
            f"campaign {campaign_id} is not ready to send: "
            f"{plural(len(prepared.blockers), 'check fails', 'checks fail')}",
            path=path,
            hint="fix them (`newsletter check` explains), or pass --force to send anyway",
        )
        raise NewsletterErrors([summary, *(NewsletterError(b, path=path) for b in prepared.blockers)])
    if transport is None:
        settings = smtp_settings(prepared.project)
        transport = partial(Smtp, settings, smtp_password(settings, prepared.project.secrets))
    else:  # the run's pace (connections, rate, retries) from [smtp], its defaults without one
        from newsletter.project.settings import SmtpSettings

        settings = prepared.project.settings.smtp or SmtpSettings()
    composer = make_composer(prepared, signing_key(prepared.project.secrets), clock=clock)
    database = database_path(prepared.project)
    with campaign_lock(database, campaign_id):
        _queue(prepared, database, new_subscribers_only, retry_unknown, clock)
        publish_web_version(prepared.project, campaign_id, clock())  # online before the first message
        record_sent(prepared.project, prepared.rendered)  # its Payment Links stay on at their price
        return run(
            database,
            campaign_id,
            composer,
            settings,
            transport,
            retry_unknown=retry_unknown,
            clock=clock,
            on_start=on_start,
            on_result=on_result,
            stop=stop,
        )


def _queue(
    prepared: Prepared, database: Path, new_subscribers_only: bool, retry_unknown: bool, clock: Clock
) -> None:
    """Enter the audience in the send log on a first run. A function of its own so that the audit,
    which holds every recipient, is freed before the run (100,000 of them take ~100 MB)."""
    campaign_id = prepared.campaign_id
    with connect(database) as store:
        found = audit(
            prepared,
            store,
            new_subscribers_only=new_subscribers_only,
            retry_unknown=retry_unknown,
            clock=clock,
        )
        welcome = prepared.rendered.campaign.welcome  # only its log: readers are added as they confirm
        if found.finished and not new_subscribers_only and not welcome:
            unknown = found.counts["unknown"]
            hint = (
                f"{plural(unknown, 'reader')} may not have got it (unknown: the connection broke off after "
                f"the message went out); `newsletter status {campaign_id} --list unknown` lists them, "
                f"`newsletter send {campaign_id} --retry-unknown` sends them again"
                if unknown
                else "--new-subscribers-only sends it to those who subscribed since; "
                f"`newsletter status {campaign_id}` shows the log"
            )
            raise NewsletterError(
                f"campaign {campaign_id} was already sent ({found.counts['sent']} sent"
                + (f", {unknown} unknown" if unknown else "")
                + f", last activity {store.last_activity(campaign_id)})",
                hint=hint,
            )
        if (not found.started or new_subscribers_only) and not welcome:
            store.enqueue(campaign_id, found.plan.recipients, clock())
