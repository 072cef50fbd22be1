"""`newsletter send` as a library: what stops a send, the dry run, the test send and the real send.

The order of a real send: render and check the campaign (refusing one whose checks fail unless
forced), then, one sender at a time, put its audience into the send log once (a later run only
resumes the log, or adds subscribers who joined since with `new_subscribers_only`); a sender that
finds others at work joins them instead. Then the run works through the log (run.py), in `workers`
processes (workers.py), until it is done or asked to stop (stopping.py). The dry run walks the
same way without a network or a single write to the log: the same composer, with the outbox
(transport.py) as its transport. What the log says afterwards is send_status.py.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter import placeholders
from newsletter.audience.unsubscribe import signing_key
from newsletter.errors import NewsletterError, NewsletterErrors
from newsletter.payments.lock import record_sent
from newsletter.review.counts import plural
from newsletter.sending.ab_test import every_variant, outcomes, pick_winner, seed_of, split
from newsletter.sending.message import Composer, DkimSigner, Recipient
from newsletter.sending.names import first_name
from newsletter.sending.publishing import publish_web_version
from newsletter.sending.run import RUN_BUSY_TIMEOUT, Clock, RunReport, deliver_each, run, utc_now
from newsletter.sending.stopping import Stop
from newsletter.sending.transport import Outbox, Smtp, Transport, smtp_password
from newsletter.sending.workers import run_workers
from newsletter.store import (
    Location,
    Result,
    Store,
    Subscriber,
    VariantResult,
    connect,
    database_location,
    email_key,
    normalise_address,
    open_existing,
    timestamp,
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
    variants: Mapping[str, Rendered] = field(default_factory=dict)  # an A/B test's, by name

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
    variants: dict[int, str] | None = None  # an A/B send's variant per reader id

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
    """The campaign rendered and checked; an A/B test's variants rendered each with its own subject
    and preheader (the preheader is in the body)."""
    from newsletter.pipeline import load_one, make_renderer
    from newsletter.review.checks import check_for_sending
    from newsletter.review.checks.readiness import blockers

    campaign = load_one(project, campaign_id)
    renderer = make_renderer(project)
    rendered = renderer.render(campaign)
    variants = {
        variant.name: renderer.render(replace(campaign, subject=variant.subject, preheader=variant.preheader))
        for variant in campaign.variants
    }
    findings = check_for_sending(rendered, project)
    return Prepared(project, rendered, findings, blockers(findings), variants)


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


def make_composers(prepared: Prepared, secret: bytes, *, clock: Clock = utc_now) -> dict[str, Composer]:
    """The campaign's composer under "", and one per A/B variant under its name."""
    composers = {"": make_composer(prepared, secret, clock=clock)}
    for name, rendered in prepared.variants.items():
        composers[name] = make_composer(replace(prepared, rendered=rendered), secret, clock=clock)
    return composers


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
    test_share: float | None = None,
    winner: str | None = None,
    clock: Clock = utc_now,
) -> DryRun:
    """Build every message a real send would send now and write them as .eml files to the outbox
    (or hand them to `transport`, an in-memory one say):
    no network, and nothing written to the send log. The outbox is replaced as a whole. With
    `test_share` or `winner`, what that A/B send would send (the same split as the real one)."""
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
    composers = make_composers(prepared, secret, clock=clock)
    composer = composers[""]
    variants = _variants_of(prepared, found, test_share, winner)
    if variants is None and prepared.variants and not found.started:
        raise _needs_a_test(prepared)  # what the real send would say
    recipients = found.recipients
    if variants is not None:  # the test share of the audience, or the winner's rest
        recipients = [Recipient(s.email, s.name, s.id) for s in found.plan.recipients if s.id in variants]
        found.recipients, found.variants = recipients, variants
    outbox = prepared.project.root / "build" / prepared.campaign_id / "outbox"
    chosen = recipients if limit is None else recipients[:limit]
    first_size = 0

    def pick(recipient: Recipient) -> Composer:
        return composers[(variants or {}).get(recipient.subscriber_id or 0, "")]

    with transport if transport is not None else Outbox(outbox) as box:
        for outgoing, _ in deliver_each(box, composer, chosen, pick):
            first_size = first_size or len(outgoing.data)
    if not chosen:
        sample = composer.compose(Recipient(prepared.project.settings.sender.address))
        first_size = len(sample.data)
    return DryRun(prepared, found, None if transport else outbox, len(chosen), first_size, temporary)


# -- A/B tests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ABSend:
    """What a send asks of an A/B test: start it with a share, or end it with a winner."""

    test_share: float | None = None
    winner: str | None = None  # A to D, or auto
    force: bool = False  # --winner auto: take the best even when it is not likely enough


def _variants_of(
    prepared: Prepared, found: Audit, test_share: float | None, winner: str | None
) -> dict[int, str] | None:
    """For a dry run: each reader's variant in the A/B send asked for; None for a plain send. The
    test share is taken from the audience, the winner's readers are the rest (not yet in the log)."""
    if test_share is None and winner is None:
        return None
    names = _variant_names(prepared, test_share, winner)
    ids = [s.id for s in found.plan.recipients]
    if test_share is not None:
        return _split(prepared, ids, names, test_share)
    return dict.fromkeys(ids, _winner(prepared, winner or "auto", force=True))


def _split(prepared: Prepared, ids: list[int], names: list[str], share: float) -> dict[int, str]:
    """The test share, refused when it cannot give every variant a reader and leave some for the winner."""
    chosen = split(ids, names, share, seed_of(prepared.campaign_id))
    if len(chosen) < len(names) or len(chosen) == len(ids):
        raise NewsletterError(
            f"a test share of {share:.0%} of {plural(len(ids), 'reader')} gives {len(chosen)} to "
            f"{len(names)} variants and leaves {len(ids) - len(chosen)} for the winner",
            field="--test-share",
            hint="an A/B test needs a reader per variant in the share and readers left for the winner",
        )
    return chosen


def _variant_names(prepared: Prepared, test_share: float | None, winner: str | None) -> list[str]:
    campaign = prepared.rendered.campaign
    names = [variant.name for variant in campaign.variants]
    option = "--test-share" if test_share is not None else "--winner"
    if not names:
        raise NewsletterError(
            f"campaign {campaign.id} has no variants to test",
            path=campaign.path,
            field=option,
            hint="give it `variants:` with two to four subjects or preheaders (docs/sending.md)",
        )
    if campaign.welcome:
        raise NewsletterError(
            f"campaign {campaign.id} is the welcome email: `serve` sends it as readers confirm",
            path=campaign.path,
            field=option,
        )
    if test_share is not None and winner is not None:
        raise NewsletterError("--test-share starts a test, --winner ends it: one at a time", field="--winner")
    if winner is not None and winner != "auto" and winner not in names:
        raise NewsletterError(
            f"campaign {campaign.id} has no variant {winner}",
            field="--winner",
            hint=f"its variants: {', '.join(names)}",
        )
    return names


def _winner(prepared: Prepared, choice: str, *, force: bool) -> str:
    """The variant `--winner` names; for `auto`, the one the test share's orders favour enough. A
    variant none of whose readers was delivered counts too, with nothing known of it."""
    if choice != "auto":
        return choice
    store = open_existing(prepared.project)
    results = [] if store is None else _results(store, prepared.campaign_id)
    names = [variant.name for variant in prepared.rendered.campaign.variants]
    return pick_winner(
        choice, outcomes(every_variant(results, names), seed_of(prepared.campaign_id)), force=force
    )


def _results(store: Store, campaign_id: str) -> list[VariantResult]:
    with store:
        return store.variant_results(campaign_id)


def _queue_ab(
    prepared: Prepared, store: Store, found: Audit, ab: ABSend, clock: Clock, *, new_only: bool
) -> None:
    """An A/B send's rows, inside the campaign's lock: the test share on the first run, the rest with
    the winner once it is named; a plain run resumes what is due, and otherwise says what is next."""
    campaign_id = prepared.campaign_id
    names = _variant_names(prepared, ab.test_share, ab.winner)
    test = store.ab_test(campaign_id)
    due = sum(found.counts[state] for state in OPEN_STATES)
    if ab.test_share is not None:
        if found.started:
            raise NewsletterError(
                f"campaign {campaign_id} was sent already{'' if test is None else ' (its test share)'}",
                field="--test-share",
                hint=f"`newsletter send {campaign_id} --winner auto` sends the rest the best variant",
            )
        chosen = _split(prepared, [s.id for s in found.plan.recipients], names, ab.test_share)
        # The test is recorded with its rows, or a process killed in between leaves it started
        # without any: a new --test-share then starts it again (start_test takes the new share).
        with store.transaction():
            store.start_test(campaign_id, ab.test_share, timestamp(clock()))
        store.enqueue(
            campaign_id,
            [s for s in found.plan.recipients if s.id in chosen],
            clock(),
            variants=chosen,
            in_test=True,
        )
        return
    if ab.winner is not None:
        if ab.winner == "auto" and test is None:
            raise NewsletterError("auto needs a test share first", field="--winner", hint="--test-share 20%")
        if test is not None and due and test.winner is None:
            raise NewsletterError(
                f"the test share of {campaign_id} is still being sent ({due} to go)",
                field="--winner",
                hint=f"finish it first: `newsletter send {campaign_id}`",
            )
        chosen_winner = _winner(prepared, ab.winner, force=ab.force)
        with store.transaction():
            store.start_test(campaign_id, 0, timestamp(clock()))  # a winner without a test: share 0
            if not store.decide(campaign_id, chosen_winner, timestamp(clock())):
                decided = store.ab_test(campaign_id)
                earlier = decided.winner if decided else "?"
                raise NewsletterError(
                    f"campaign {campaign_id} was decided for variant {earlier} already", field="--winner"
                )
        _enqueue_winner(store, campaign_id, found, chosen_winner, clock)
        return
    if test is not None and test.winner is not None:
        if new_only:  # those who subscribed since get the winner too
            _enqueue_winner(store, campaign_id, found, test.winner, clock)
        elif found.finished:
            raise NewsletterError(
                f"campaign {campaign_id} was already sent ({found.counts['sent']} sent, the rest "
                f"variant {test.winner})",
                hint="--new-subscribers-only sends it to those who subscribed since",
            )
        return
    if test is not None and found.started and not due:
        raise NewsletterError(
            f"campaign {campaign_id} has sent its test share; the rest waits for the winner",
            hint=f"`newsletter report {campaign_id}` shows how each variant sold; then "
            f"`newsletter send {campaign_id} --winner auto` (or --winner A)",
        )
    if not found.started:
        raise _needs_a_test(prepared)


def _needs_a_test(prepared: Prepared) -> NewsletterError:
    """A plain send of an A/B test that has not started: it starts with a test share (or a winner)."""
    campaign_id = prepared.campaign_id
    return NewsletterError(
        f"campaign {campaign_id} is an A/B test of {len(prepared.variants)} variants",
        hint=f"start with `newsletter send {campaign_id} --test-share 20%`, or send everyone one "
        "variant with --winner A",
    )


def _enqueue_winner(store: Store, campaign_id: str, found: Audit, winner: str, clock: Clock) -> None:
    rest = found.plan.recipients
    store.enqueue(campaign_id, rest, clock(), variants=dict.fromkeys((s.id for s in rest), winner))


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
    ab: ABSend | None = None,
    workers: int = 1,
) -> RunReport:
    """The real send, or its resumption, until done or `stop` is requested; `transport()` makes the
    connection of each sending thread (default: SMTP with the settings' server). Raises
    NewsletterError before anything is sent when the campaign is blocked or already finished. With
    other senders at work on the campaign, this one joins them. `workers` processes send at once
    (workers.py). A campaign with variants is an A/B test (`ab`, ab_test.py)."""
    if workers < 1:
        raise NewsletterError(f"--workers must be 1 or more, not {workers}")
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
    composers = make_composers(prepared, signing_key(prepared.project.secrets), clock=clock)
    database = database_location(prepared.project)
    with (
        connect(database, busy_timeout=RUN_BUSY_TIMEOUT) as store,
        store.engine.exclusive(f"{campaign_id}.send-setup"),
    ):
        joining = bool(store.live_senders(campaign_id))
        if not joining:  # the senders at work did this, and the log is theirs as it stands
            _queue(prepared, database, new_subscribers_only, retry_unknown, clock, ab or ABSend())
            publish_web_version(prepared.project, campaign_id, clock())  # online before the first message
            record_sent(prepared.project, prepared.rendered)  # its Payment Links stay on at their price
    asked = stop if stop is not None else Stop()

    def work(asked: Stop, on_result: Callable[[Entry, str], None]) -> RunReport:
        return run(
            database,
            campaign_id,
            composers,
            settings,
            transport,
            retry_unknown=retry_unknown,
            clock=clock,
            on_start=on_start if workers == 1 else lambda total: None,
            on_result=on_result,
            stop=asked,
        )

    if workers == 1:
        return work(asked, on_result)
    with connect(database) as store:
        on_start(store.count_due(campaign_id, clock(), retry_unknown=retry_unknown))
    return run_workers(workers, campaign_id, work, asked, on_result)


def _queue(
    prepared: Prepared,
    database: Location,
    new_subscribers_only: bool,
    retry_unknown: bool,
    clock: Clock,
    ab: ABSend,
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
        if prepared.variants or ab.test_share is not None or ab.winner is not None:
            _queue_ab(prepared, store, found, ab, clock, new_only=new_subscribers_only)
            return
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
