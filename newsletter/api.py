"""The Python API: a project opened once, with a method for each thing the command line does.

    import newsletter

    project = newsletter.open_project("/srv/nieuwsbrief")      # settings validated, secrets resolved
    report = project.build()                                     # build/<id>/, review pages, site
    dry = project.send("2026-12-schrijven", dry_run=True)         # what would go out, nothing sent
    done = project.unsubscribe(token)                            # what a website's unsubscribe page does

The command line (`newsletter.cli`) and the WSGI app (`newsletter.web`) are thin callers of this
class: whatever they do, a script can do with the same words. The settings are validated and every
secret resolved when the project is opened, from the environment unless passed in as `Secrets`;
nothing below reads the environment.

Heavy libraries (Jinja2, MRML, premailer, the Stripe SDK) are imported by the methods that need
them, so that opening a project, or importing this module, stays cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

from newsletter.errors import NewsletterError, NewsletterErrors
from newsletter.project.environment import Secrets
from newsletter.project.settings import Project, Settings, find_project_root
from newsletter.project.settings import open_project as open_project_files
from newsletter.store import Location, database_location, open_existing, open_store

if TYPE_CHECKING:
    from newsletter.audience.person import Person
    from newsletter.audience.unsubscribe import Token, Unsubscribed
    from newsletter.bounces.apply import Summary
    from newsletter.build import BuildReport
    from newsletter.payments.lock import Lock, LockedLink
    from newsletter.payments.orders import Applied, RecordedOrders, Synced
    from newsletter.payments.sales import BookSales
    from newsletter.payments.stripe_links import SyncResult
    from newsletter.payments.switching import Activation
    from newsletter.project.campaign import Campaign
    from newsletter.project.scaffold import NewCampaign
    from newsletter.render.renderer import Rendered
    from newsletter.review.checks import Checked
    from newsletter.review.screenshot import Shot
    from newsletter.sending.ab_test import Outcome
    from newsletter.sending.message import Recipient
    from newsletter.sending.run import Clock, RunReport
    from newsletter.sending.send import DryRun, Prepared
    from newsletter.sending.status import LogStatus
    from newsletter.sending.stopping import Stop
    from newsletter.sending.transport import Transport
    from newsletter.signup.service import Signups
    from newsletter.store import ABTest, Entry, Funnel, ImportReport, Order, Store, Subscriber, SuppressReport


@dataclass(frozen=True)
class CampaignReport:
    """What `report` shows: the funnel from the send log, and the sales per book from Stripe."""

    campaign: Campaign
    funnel: Funnel
    sales: list[BookSales]
    recorded: RecordedOrders | None = None  # the orders Stripe's webhooks and `orders sync` recorded
    variants: list[Outcome] = field(default_factory=list)  # an A/B test's arms, with their chances
    test: ABTest | None = None

    @property
    def orders(self) -> int:
        return sum(book.checkouts for book in self.sales)

    @property
    def revenue(self) -> int:
        """In cents."""
        return sum(book.revenue for book in self.sales)

    @property
    def orders_per_1000_delivered(self) -> float | None:
        delivered = self.funnel.delivered
        return round(self.orders * 1000 / delivered, 1) if delivered else None


@dataclass(frozen=True)
class Copied:
    """What `copy_audience` copied: where to, and the rows of every table, in the order copied."""

    target: Location  # str() masks a password in a PostgreSQL URL
    tables: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _share(value: float | str | None) -> float | None:
    """A test share as a fraction: 0.2 and "20%" are a fifth."""
    from newsletter.sending.ab_test import parse_share

    return None if value is None else parse_share(value)


def open_project(path: str | Path = ".", *, secrets: Secrets | None = None) -> Newsletter:
    """The project in `path` or the nearest folder above it that holds `newsletter.toml`.

    `secrets` default to the environment (NEWSLETTER_UNSUBSCRIBE_SECRET, NEWSLETTER_SMTP_PASSWORD,
    NEWSLETTER_WEBHOOK_SECRET, STRIPE_API_KEY); pass `Secrets(...)` to give them yourself. Raises
    NewsletterError when there is no project or its settings are wrong.
    """
    root = find_project_root(Path(path))
    return Newsletter(open_project_files(root, secrets))


class Newsletter:
    """An opened project. Every method raises NewsletterError for what a user can fix."""

    def __init__(self, project: Project) -> None:
        self.project = project

    def __repr__(self) -> str:
        return f"<Newsletter {self.project.root}>"

    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def settings(self) -> Settings:
        return self.project.settings

    @property
    def secrets(self) -> Secrets:
        return self.project.secrets

    # -- campaigns ---------------------------------------------------------------------------------

    def campaign_ids(self) -> list[str]:
        """The ids of the campaign files, sorted."""
        from newsletter.project.campaign import campaign_files

        found, problems = campaign_files(self.project)
        if problems:
            raise NewsletterErrors(problems)
        return sorted(found)

    def render(self, campaign_id: str) -> Rendered:
        """One campaign as `build` renders it (HTML, text, links, warnings), nothing written."""
        from newsletter.pipeline import render_one

        return render_one(self.project, campaign_id)

    def build(
        self,
        campaign_ids: Sequence[str] = (),
        *,
        out: Path | None = None,
        strict: bool = False,
        force: bool = False,
    ) -> BuildReport:
        """`newsletter build`: the emails, their review pages and the static site (see `build.build`)."""
        from newsletter.build import build

        return build(self.project, campaign_ids, out=out, strict=strict, force=force)

    def check(self, campaign_ids: Sequence[str] = ()) -> tuple[list[Checked], list[NewsletterError]]:
        """`newsletter check`: every rule on every campaign named (all when none are)."""
        from newsletter.review.checks import check_project

        return check_project(self.project, campaign_ids)

    def new_campaign(
        self, campaign_id: str, column_file: Path, books: Sequence[str] = (), *, locale: str | None = None
    ) -> NewCampaign:
        """`newsletter new`: campaigns/<id>.yaml started from a column, selling `books` (SKUs; none:
        the book the column promotes)."""
        from newsletter.project.scaffold import new_campaign

        return new_campaign(self.project, campaign_id, column_file, books, locale)

    def screenshot(
        self, campaign_id: str, *, out: Path | None = None, chromium: Path | str | None = None
    ) -> list[Shot]:
        """PNG images of the email at 600 and 375 px, taken with headless Chromium."""
        from newsletter.review.screenshot import screenshot_campaign

        return screenshot_campaign(self.project, campaign_id, out=out, chromium=chromium)

    # -- selling through Stripe --------------------------------------------------------------------

    def sync_links(
        self, campaign_ids: Sequence[str] = (), *, live: bool = False
    ) -> tuple[list[Campaign], list[SyncResult]]:
        """`links sync`: the missing Product, Price and Payment Link of every book, recorded in
        payments.lock.json; never anything twice. Returns the campaigns and what each book got."""
        from newsletter.payments.stripe_links import sync_campaigns
        from newsletter.project.campaign import load_campaigns

        campaigns, errors = load_campaigns(self.project, campaign_ids)
        if errors:
            raise NewsletterErrors(errors)
        return campaigns, list(sync_campaigns(self.project, campaigns, live=live))

    def links(self) -> Lock:
        """payments.lock.json: every Payment Link Stripe confirmed."""
        from newsletter.payments.lock import load_lock

        return load_lock(self.project)

    def deactivate_links(self, campaign_id: str, *, live: bool = False) -> list[LockedLink]:
        """`links deactivate`: switch off a campaign's links, until `activate_links`."""
        from newsletter.payments.switching import deactivate_campaign

        return deactivate_campaign(self.project, self._campaign(campaign_id), live=live)

    def activate_links(self, campaign_id: str, *, live: bool = False) -> Activation:
        """`links activate`: switch a deactivated campaign's links on again."""
        from newsletter.payments.switching import activate_campaign

        return activate_campaign(self.project, self._campaign(campaign_id), live=live)

    def report(self, campaign_id: str, *, live: bool = False) -> CampaignReport:
        """`newsletter report`: what became of a campaign's recipients, and what it sold."""
        from newsletter.payments.lock import sells_through_stripe
        from newsletter.payments.orders import recorded_orders
        from newsletter.payments.sales import sales_report
        from newsletter.sending.ab_test import every_variant, outcomes, seed_of
        from newsletter.store import Funnel

        campaign = self._campaign(campaign_id)
        # Stripe's own totals need the key; without it the report still has the recorded orders.
        asked = sells_through_stripe(self.project) and bool(self.secrets.stripe_api_key)
        sales = sales_report(self.project, campaign, live=live) if asked else []
        store = self.existing_audience()
        if store is None:
            return CampaignReport(campaign, Funnel.unsent(campaign_id), sales)
        with store:
            funnel = store.campaign_funnel(campaign_id)
            test, results = store.ab_test(campaign_id), store.variant_results(campaign_id)
            orders = store.orders(campaign=campaign_id)
            readers = {order.subscriber_id for order in orders if order.subscriber_id is not None}
            found = (store.subscriber(reader) for reader in readers)
            labels = {
                s.id: [f"locale:{s.locale}", *(f"tag:{t}" for t in s.tags), *(f"topic:{t}" for t in s.topics)]
                for s in found
                if s is not None
            }
        recorded = recorded_orders(orders, labels) if orders else None
        names = [variant.name for variant in campaign.variants]
        arms = outcomes(every_variant(results, names), seed_of(campaign_id)) if names else []
        return CampaignReport(campaign, funnel, sales, recorded, arms, test)

    # -- orders -------------------------------------------------------------------------------------

    def stripe_event(self, payload: bytes, signature: str) -> Applied:
        """A Stripe webhook request, verified with STRIPE_WEBHOOK_SECRET and applied once: what
        `serve` does at `[stripe] webhook_path`. BadEvent (a NewsletterError) for a forged one."""
        from newsletter.payments.orders import apply_event, verified_event
        from newsletter.project.environment import STRIPE_WEBHOOK_SECRET

        if not self.secrets.stripe_webhook:
            raise NewsletterError(
                f"{STRIPE_WEBHOOK_SECRET} is not set: Stripe's events cannot be verified",
                hint="set it to the signing secret (whsec_...) of the webhook endpoint in Stripe's dashboard",
            )
        return apply_event(self.project, verified_event(payload, signature, self.secrets.stripe_webhook))

    def sync_orders(self, since: datetime, *, live: bool = False) -> Synced:
        """`orders sync`: the completed Checkout Sessions of the project's Payment Links since `since`."""
        from newsletter.payments.orders import sync_orders

        return sync_orders(self.project, since=since, live=live)

    def orders(self, *, since: str | None = None, campaign: str | None = None) -> list[Order]:
        """The orders recorded (`newsletter orders`), oldest first, refunds included."""
        store = self.existing_audience()
        if store is None:
            return []
        with store:
            return store.orders(since=since, campaign=campaign)

    def _campaign(self, campaign_id: str) -> Campaign:
        from newsletter.pipeline import load_one

        return load_one(self.project, campaign_id)

    # -- sending -----------------------------------------------------------------------------------

    def prepare(self, campaign_id: str) -> Prepared:
        """A campaign rendered and checked, with what would stop a real send (`blockers`)."""
        from newsletter.sending.send import prepare

        return prepare(self.project, campaign_id)

    def dry_run(
        self,
        campaign: str | Prepared,
        *,
        transport: Transport | None = None,
        limit: int | None = None,
        new_subscribers_only: bool = False,
        retry_unknown: bool = False,
        test_share: float | str | None = None,
        winner: str | None = None,
    ) -> DryRun:
        """Every message a real send would send now, delivered to `transport` (default: the outbox,
        build/<id>/outbox/*.eml); nothing goes over the network and nothing into the send log."""
        from newsletter.sending.send import dry_run

        return dry_run(
            self._prepared(campaign),
            transport=transport,
            limit=limit,
            new_subscribers_only=new_subscribers_only,
            retry_unknown=retry_unknown,
            test_share=_share(test_share),
            winner=winner,
        )

    @overload
    def send(
        self,
        campaign: str | Prepared,
        *,
        dry_run: Literal[False] = False,
        transport: Callable[[], Transport] | None = None,
        force: bool = False,
        new_subscribers_only: bool = False,
        retry_unknown: bool = False,
        on_start: Callable[[int], None] = ...,
        on_result: Callable[[Entry, str], None] = ...,
        stop: Stop | None = None,
        test_share: float | str | None = None,
        winner: str | None = None,
        workers: int = 1,
    ) -> RunReport: ...

    @overload
    def send(
        self,
        campaign: str | Prepared,
        *,
        dry_run: Literal[True],
        transport: Callable[[], Transport] | None = None,
        force: bool = False,
        new_subscribers_only: bool = False,
        retry_unknown: bool = False,
        on_start: Callable[[int], None] = ...,
        on_result: Callable[[Entry, str], None] = ...,
        stop: Stop | None = None,
        test_share: float | str | None = None,
        winner: str | None = None,
        workers: int = 1,
    ) -> DryRun: ...

    def send(
        self,
        campaign: str | Prepared,
        *,
        dry_run: bool = False,
        transport: Callable[[], Transport] | None = None,
        force: bool = False,
        new_subscribers_only: bool = False,
        retry_unknown: bool = False,
        on_start: Callable[[int], None] = lambda total: None,
        on_result: Callable[[Entry, str], None] = lambda entry, state: None,
        stop: Stop | None = None,
        test_share: float | str | None = None,
        winner: str | None = None,
        workers: int = 1,
    ) -> RunReport | DryRun:
        """The real send, or its resumption: every recipient goes into the send log, so calling it
        again sends to those still pending and to nobody twice. `transport` makes the connection of
        each sending thread (default: SMTP from the settings). With `dry_run`, `dry_run()` instead,
        with `transport()` as its transport when given. A campaign with variants is an A/B test:
        `test_share` (0.2 or "20%") sends them to a share of its audience, `winner` (A to D, or
        "auto": the variant most likely to sell best) the rest. `workers` processes send at once,
        sharing the log's rows with each other and with any other sender of the campaign."""
        if dry_run:
            return self.dry_run(
                campaign,
                transport=None if transport is None else transport(),
                new_subscribers_only=new_subscribers_only,
                retry_unknown=retry_unknown,
                test_share=test_share,
                winner=winner,
            )
        from newsletter.sending.send import ABSend, send

        return send(
            self._prepared(campaign),
            transport=transport,
            force=force,
            new_subscribers_only=new_subscribers_only,
            retry_unknown=retry_unknown,
            on_start=on_start,
            on_result=on_result,
            stop=stop,
            ab=ABSend(_share(test_share), winner, force),
            workers=workers,
        )

    def test_send(
        self, campaign: str | Prepared, addresses: Sequence[str] = (), *, seeds: bool = False
    ) -> list[str]:
        """The personalised message, subject prefixed [TEST], to `addresses` (and, with `seeds`, the
        seed list of the settings) over SMTP; nothing goes into the send log. Returns the addresses."""
        from newsletter.sending.send import test_addresses, test_send

        chosen = test_addresses(self.project, addresses, seeds=seeds)
        test_send(self._prepared(campaign), chosen)
        return chosen

    def recipients(self, campaign: str | Prepared, *, new_subscribers_only: bool = False) -> list[Recipient]:
        """Who a real send would mail now: the audience on a first run, the rows still due on a later
        one (and, when asked, those who subscribed since). Reads only."""
        from newsletter.sending.send import audit

        with contextlib.ExitStack() as stack:
            store = self.existing_audience()
            if store is not None:
                stack.enter_context(store)
            found = audit(self._prepared(campaign), store, new_subscribers_only=new_subscribers_only)
        return found.recipients

    def status(self, campaign_id: str, list_states: Sequence[str] = ()) -> LogStatus:
        """What the send log says of a campaign; the rows in `list_states` too."""
        from newsletter.sending.status import log_status

        return log_status(self.project, campaign_id, list_states)

    def _prepared(self, campaign: str | Prepared) -> Prepared:
        return self.prepare(campaign) if isinstance(campaign, str) else campaign

    # -- the list ----------------------------------------------------------------------------------

    @property
    def database(self) -> Location:
        """The subscriber database: an SQLite file's path, or a PostgreSQL database (`[audience]
        database`, or NEWSLETTER_DATABASE_URL)."""
        return database_location(self.project)

    def audience(self) -> Store:
        """The subscriber store, created on first use; close it, or use it in a `with` block."""
        return open_store(self.project)

    def existing_audience(self) -> Store | None:
        """The store if it exists: for what only reads and must not create it."""
        return open_existing(self.project)

    def copy_audience(
        self, to: str | Location, *, on_table: Callable[[str, int], None] | None = None
    ) -> Copied:
        """`audience copy`: the whole subscriber store into a new, empty one, to move it to
        PostgreSQL (`to`: a `postgresql://` URL; its tables are made on first use) or into a new
        SQLite file (any other `to`: a path, relative to the current folder). Every table, ids
        included, in one transaction of the target, the rows counted on both sides; `on_table(table,
        rows)` after each. The project's own store, or a target holding any rows, is refused, and a
        copy that fails leaves the target empty. The project's setting is not changed: point
        `[audience] database` at the copy once it is made."""
        from newsletter.store.copying import copy_store, copy_target, open_target, same_database

        target = copy_target(to)
        if same_database(self.database, target):
            raise NewsletterError(
                f"{target} is the project's own subscriber database: a store cannot be copied onto itself",
                hint="give a new, empty database to copy it into",
            )
        name = f"the file {target}" if isinstance(target, Path) else f"the database {target}"
        with self._reading() as source, open_target(target) as copy:
            return Copied(target, copy_store(source, copy, target_name=name, on_table=on_table))

    def signups(
        self, *, transport: Callable[[], Transport] | None = None, clock: Clock | None = None
    ) -> Signups:
        """The sign-up desk of `newsletter serve`: sign-ups, confirmations, the preference centre.
        Its mails go through `transport()` (default: SMTP with [smtp]) on a thread of their own."""
        from functools import partial

        from newsletter.sending.run import utc_now
        from newsletter.sending.send import smtp_settings
        from newsletter.sending.transport import Smtp, smtp_password
        from newsletter.signup.mailer import Mailer
        from newsletter.signup.service import Signups, required

        required(self.project)
        if transport is None:
            settings = smtp_settings(self.project)
            transport = partial(Smtp, settings, smtp_password(settings, self.secrets))
        return Signups(self.project, Mailer(transport), clock=clock or utc_now)

    def signup_form(
        self, locale: str | None = None, *, name: str = "website", redirect: str | None = None
    ) -> str:
        """The HTML of a sign-up form for the publisher's own site (`newsletter form`)."""
        from newsletter.signup.embed import form_snippet
        from newsletter.signup.service import consent_text, required

        signup = required(self.project)
        locale = locale or self.settings.locale
        if redirect is not None and not (
            redirect.startswith("https://") and self.settings.is_own_site(redirect)
        ):
            raise NewsletterError("must be a page of site_url", field="--redirect")
        try:
            return form_snippet(
                self.settings,
                locale,
                name=name,
                consent=consent_text(self.settings, signup, locale),
                redirect=redirect,
            )
        except ValueError as exc:
            raise NewsletterError(str(exc), field="--name") from None

    def person(self, address: str) -> Person:
        """Everything stored about one reader (`audience show`): the right of access."""
        from newsletter.audience.person import person

        with self._reading() as store:
            return person(store, self._address(address))

    def forget(self, address: str) -> Subscriber:
        """Erase a reader's personal data but for a keyed hash of the address (`audience forget`)."""
        from newsletter.audience.person import forget
        from newsletter.audience.unsubscribe import signing_key

        secret = signing_key(self.secrets)
        with open_store(self.project) as store:
            return forget(store, self._address(address), secret)

    def _address(self, address: str) -> str:
        from newsletter.store import normalise_address

        try:
            return normalise_address(address.strip())
        except ValueError as exc:
            raise NewsletterError(str(exc), field="ADDRESS") from None

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Store]:
        store = open_existing(self.project)
        if store is None:
            where = self.database
            if isinstance(where, Path):
                raise NewsletterError("there is no subscriber database yet", path=where)
            raise NewsletterError(f"the database {where} holds no subscriber store yet")
        with store:
            yield store

    def import_subscribers(
        self, path: Path, *, source: str | None = None, consent: str | None = None
    ) -> ImportReport:
        """`audience import`: the subscribers in a CSV file (source: default the file's name).
        `consent` says what the readers it adds agreed to, and where and when: required when the file
        adds anyone (ConsentMissing otherwise, and nothing is imported)."""
        from newsletter.audience.importing import import_csv
        from newsletter.audience.person import forgotten_hash
        from newsletter.audience.unsubscribe import signing_key

        forgotten = forgotten_hash(signing_key(self.secrets)) if self.secrets.unsubscribe else None
        with self.audience() as store:
            return import_csv(
                store,
                path,
                default_locale=self.settings.locale,
                source=source or path.name,
                consent=consent,
                forgotten=forgotten,
            )

    def suppress(self, source: Path | Iterable[str], *, status: str = "unsubscribed") -> SuppressReport:
        """`audience suppress`: addresses (a file, or the lines themselves) made unsubscribed,
        bounced or complained; unknown ones are added that way."""
        from newsletter.audience.importing import suppress

        with self.audience() as store:
            return suppress(store, source, status=status, default_locale=self.settings.locale)

    def export_subscribers(
        self,
        out: Path | None = None,
        *,
        status: str | None = None,
        locale: str | None = None,
        tags: Sequence[str] = (),
    ) -> int:
        """`audience export`: the subscribers (of a status, locale and tags; None: all) as CSV that
        `import_subscribers` reads back, into `out` (None: stdout). Returns how many were written."""
        from newsletter.audience.export import export_csv

        with self.audience() as store:
            return export_csv(store, out, status=status, locale=locale, tags=tags)

    def unsubscribe(self, token: str, *, source: str = "one-click", how: str = "") -> Unsubscribed:
        """Check an unsubscribe token and unsubscribe its reader: what a website's page calls.
        Idempotent; a forged or damaged token is a NewsletterError with field "token"."""
        from newsletter.audience.unsubscribe import unsubscribe

        return unsubscribe(self.project, token, source=source, how=how)

    def read_token(self, token: str) -> Token:
        """Whom an unsubscribe token names, checked and looked up, changing nothing."""
        from newsletter.audience.unsubscribe import read_token, resolve, signing_key

        key = signing_key(self.secrets)
        return resolve(self.project, read_token(token, key), key)

    def import_bounces(self, paths: Iterable[Path]) -> Summary:
        """`bounces import`: bounces, complaints and mailed unsubscribes from mailboxes and files."""
        from newsletter.bounces.apply import import_paths

        with self.audience() as store:
            return import_paths(self.project, store, paths)
