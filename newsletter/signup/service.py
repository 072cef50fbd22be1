"""The sign-up, the confirmation, the preference centre and the data page, as `newsletter serve` and
the Python API use them. Pages and HTTP are web/'s; this module decides.

A sign-up answers the same whether the address is new, waiting for its confirmation, subscribed or
suppressed, and takes as long (the mail goes out on the mailer's thread): nobody can find out from
the form who is on the list. What differs is only what happens next, in the reader's inbox.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

from newsletter.audience.person import Person, forgotten_hash, person
from newsletter.audience.reader_links import (
    DATA_LINK_LIFETIME,
    ReaderLink,
    link_url,
    make_link_token,
    read_link_token,
)
from newsletter.audience.signing import mac as make_mac
from newsletter.audience.signing import read_varint, signed, unb64, varint
from newsletter.audience.unsubscribe import signing_key
from newsletter.errors import NewsletterError
from newsletter.project.settings import Project, Settings, SignupSettings
from newsletter.sending.message import Recipient
from newsletter.sending.run import Clock, utc_now
from newsletter.sending.transport import Transport
from newsletter.signup import altcha
from newsletter.signup.forms import (
    HONEYPOT,
    SignupRequest,
    first,
    parse_locale,
    parse_name,
    parse_signup,
    parse_topics,
)
from newsletter.signup.limits import MAIL_INTERVAL_HOURS, ip_record, limit_key, network
from newsletter.signup.mailer import Mailer
from newsletter.signup.mails import compose, render_mail
from newsletter.signup.welcome import Welcome
from newsletter.store import Store, Subscriber, connect, database_location, email_key, timestamp

log = logging.getLogger("newsletter.signup")

CHALLENGE_LIFETIME = timedelta(minutes=20)
CHALLENGE_DIFFICULTY = 50_000  # ALTCHA's maxnumber: about a second of a phone's work, on average half


@dataclass(frozen=True)
class _Mail:
    """A confirmation mail to make and send: to whom, in which language, for which consent, when."""

    recipient: Recipient
    locale: str
    consent_id: int
    at: datetime
    limit_key: str  # the address's key in the "one mail an hour" limit, taken back if the mail fails


class TooMany(NewsletterError):
    """Too many sign-ups from one network: answered 429, for every address alike."""


@dataclass(frozen=True)
class SignupAnswer:
    locale: str
    quiet: bool  # nothing was done (a honeypot, too fast): the answer is the same all the same


@dataclass(frozen=True)
class Confirmed:
    subscriber: Subscriber
    newly: bool  # this click made the reader active


def required(project: Project) -> SignupSettings:
    if project.settings.signup is None:
        raise NewsletterError(
            "there is no [signup] section",
            path=project.root / "newsletter.toml",
            field="signup",
            hint='add [signup] with url = "https://<your site>/nieuwsbrief/aanmelden" (docs/signup.md)',
        )
    return project.settings.signup


def consent_text(settings: Settings, signup: SignupSettings, locale: str) -> str:
    """The consent text as the form shows it, word for word: what each consent keeps."""
    text = signup.consent.en if locale == "en" else signup.consent.nl
    return text.replace("{brand}", settings.brand.name)


class Signups:
    """One project's sign-up desk. `mailer` delivers the mails; `clock` is the time (tests move it)."""

    def __init__(self, project: Project, mailer: Mailer, *, clock: Clock = utc_now) -> None:
        self.project = project
        self.settings = required(project)
        self.secret = signing_key(project.secrets)
        self.altcha_key = hmac.new(self.secret, b"newsletter altcha", hashlib.sha256).digest()
        self.mailer = mailer
        self.clock = clock
        self.database = database_location(project)
        self.welcome = Welcome(project, self.secret, clock)

    # -- the form ------------------------------------------------------------------------------

    def consent_text(self, locale: str) -> str:
        return consent_text(self.project.settings, self.settings, locale)

    def challenge(self) -> dict[str, object]:
        """A proof-of-work challenge for the hosted form's widget."""
        return altcha.new_challenge(
            self.altcha_key, now=self.clock(), lifetime=CHALLENGE_LIFETIME, max_number=CHALLENGE_DIFFICULTY
        )

    def started_token(self) -> str:
        """When the form was shown, signed: a form filled in faster than a person can is a bot's."""
        return signed(b"\x21" + varint(int(self.clock().timestamp())), self.secret)

    def sign_up(self, fields: Mapping[str, Sequence[str]], client: str) -> SignupAnswer:
        """Check the form and the limits, record the sign-up and queue the confirmation mail. Raises
        FormProblem for a field to correct, TooMany over the limit of the client's network."""
        now = self.clock()
        locale = _locale_or(first(fields, "locale"), self.project.settings.locale)
        if first(fields, HONEYPOT):
            log.info("sign-up ignored: the honeypot was filled in")
            return SignupAnswer(locale, quiet=True)
        request = parse_signup(fields, self.project.settings, default_locale=locale)
        if self._too_fast(first(fields, "started"), now):
            log.info("sign-up ignored: the form was filled in too fast")
            return SignupAnswer(request.locale, quiet=True)
        proven = self._proven(first(fields, "altcha"), now)
        limit = self.settings.per_ip_per_hour if proven else self.settings.per_ip_per_hour_without_script
        with connect(self.database) as store, store.transaction():
            mail = self._record(store, request, network(client), limit, client, now)
        if mail is not None:  # made and sent on the mailer's thread: the answer takes as long without
            self.mailer.submit(partial(self._confirmation_mail, mail))
        return SignupAnswer(request.locale, quiet=False)

    def _record(
        self, store: Store, request: SignupRequest, net: str, limit: int, client: str, now: datetime
    ) -> _Mail | None:
        """Inside the transaction: the limits, the sign-up, and whether a confirmation mail goes."""
        hour_ago = timestamp(now - timedelta(hours=1))
        self._purge(store, now)
        ip_key = limit_key(net, self.secret)
        if store.count_events("ip", ip_key, hour_ago) >= limit:
            raise TooMany(f"more than {limit} sign-ups from {net} in an hour")
        store.record_event("ip", ip_key, timestamp(now))
        signed_up = store.sign_up(
            request.email,
            name=request.name,
            locale=request.locale,
            topics=request.topics,
            source=request.source,
            consent_text=self.consent_text(request.locale),
            ip=ip_record(client, self.settings, self.secret),
            stamp=timestamp(now),
        )
        if store.subscriber_status(signed_up.subscriber_id) == "complained":
            log.info("sign-up recorded; no confirmation mail: the address reported us as spam")
            return None
        mail_key = limit_key(email_key(request.email), self.secret)
        since = timestamp(now - timedelta(hours=MAIL_INTERVAL_HOURS))
        if store.count_events("mail", mail_key, since):
            log.info("sign-up recorded; no confirmation mail: one went to this address within the hour")
            return None
        store.record_event("mail", mail_key, timestamp(now))
        recipient = Recipient(request.email, request.name, signed_up.subscriber_id)
        log.info("sign-up recorded: subscriber %d; a confirmation mail goes out", signed_up.subscriber_id)
        return _Mail(recipient, request.locale, signed_up.consent_id, now, mail_key)

    def purge_expired(self) -> int:
        """Erase the sign-ups nobody confirmed in time (and the limits' old rows); `serve` does it as it
        starts, and every sign-up does it again. How many unconfirmed readers went."""
        with connect(self.database) as store, store.transaction():
            return self._purge(store, self.clock())

    def _purge(self, store: Store, now: datetime) -> int:
        store.purge_events(timestamp(now - timedelta(days=1)))
        return store.purge_unconfirmed(timestamp(now - timedelta(days=self.settings.confirm_days)))

    def _confirmation_mail(self, mail: _Mail, transport: Transport) -> None:
        """On the mailer's thread: made, sent, and its Message-ID kept with the consent."""
        assert mail.recipient.subscriber_id is not None
        token = make_link_token(
            "confirm",
            mail.recipient.email,
            mail.recipient.subscriber_id,
            self.secret,
            number=mail.consent_id,
            now=mail.at,
        )
        url = link_url(self.settings.url, "confirm", token)
        made = render_mail(self.project, "confirm", mail.locale, url)
        outgoing = compose(self.project, made, mail.recipient, now=mail.at)
        try:
            transport.ready()
            result = transport.deliver(outgoing)
        except BaseException:
            self._mail_not_sent(mail)
            raise
        if result.state != "sent":
            log.error("confirmation mail not accepted: %s %s", result.code, result.text)
            self._mail_not_sent(mail)
            return
        with connect(self.database) as store, store.transaction():
            store.record_confirmation_mail(mail.consent_id, outgoing.message_id)

    def _mail_not_sent(self, mail: _Mail) -> None:
        """A mail that did not go out does not count towards the address's limit: the next sign-up
        sends it."""
        with connect(self.database) as store, store.transaction():
            store.forget_event("mail", mail.limit_key, timestamp(mail.at))

    def _too_fast(self, started: str, now: datetime) -> bool:
        """A `started` token says when the hosted form was shown; an embedded form has none."""
        if not started:
            return False
        encoded, _, mac = started.partition(".")
        try:
            payload, given = unb64(encoded), unb64(mac)
            shown, _ = read_varint(payload, 1)
        except ValueError:
            return True
        if payload[:1] != b"\x21" or given != make_mac(payload, self.secret):
            return True
        return now.timestamp() - shown < self.settings.min_fill_seconds

    def _proven(self, payload: str, now: datetime) -> bool:
        """A genuine, unexpired, unused solution of one of our challenges."""
        if not payload:
            return False
        solved = altcha.check_solution(payload, self.altcha_key, now=now)
        if solved is None:
            return False
        with connect(self.database) as store, store.transaction():
            return store.use_challenge(solved, expires=timestamp(now + CHALLENGE_LIFETIME))

    # -- the confirmation ----------------------------------------------------------------------

    def confirmation(self, token: str) -> tuple[ReaderLink, Subscriber]:
        """A confirmation link that still works (genuine, not expired, its sign-up still there), and
        its reader."""
        link = read_link_token(
            token,
            "confirm",
            self.secret,
            now=self.clock(),
            lifetime=timedelta(days=self.settings.confirm_days),
        )
        with connect(self.database) as store:
            found = store.consent(link.number)
            subscriber = store.subscriber(link.subscriber_id)
        if found is None or found[0] != link.subscriber_id or subscriber is None:
            raise NewsletterError("the sign-up of this link is gone", field="token", hint="expired")
        if not link.belongs_to(subscriber.email, self.secret):
            raise NewsletterError("the link's subscriber has another address now", field="token")
        return link, subscriber

    def confirm(self, token: str) -> Confirmed:
        link, _ = self.confirmation(token)
        now = timestamp(self.clock())
        with connect(self.database) as store, store.transaction():
            done = store.confirm(link.number, stamp=now)
            subscriber = store.subscriber(link.subscriber_id)
            if done is None or subscriber is None:
                raise NewsletterError("the sign-up of this link is gone", field="token", hint="expired")
            store.remember_again(forgotten_hash(self.secret)(email_key(subscriber.email)))
        if done[1]:
            self.mailer.submit(partial(self.welcome.send, subscriber.id))
        return Confirmed(subscriber, done[1])

    # -- the preference centre -----------------------------------------------------------------

    def reader(self, token: str, purpose: Literal["preferences", "data"] = "preferences") -> Subscriber:
        """The reader a preference (or data) link belongs to; a NewsletterError (field token) if none."""
        lifetime = DATA_LINK_LIFETIME if purpose == "data" else None
        link = read_link_token(token, purpose, self.secret, now=self.clock(), lifetime=lifetime)
        with connect(self.database) as store:
            subscriber = store.subscriber(link.subscriber_id)
        if (
            subscriber is None
            or subscriber.status == "forgotten"
            or not link.belongs_to(subscriber.email, self.secret)
        ):
            raise NewsletterError("the link's reader is not on the list", field="token")
        return subscriber

    def save_preferences(self, token: str, fields: Mapping[str, Sequence[str]]) -> Subscriber:
        subscriber = self.reader(token)
        name = parse_name(first(fields, "name"))
        locale = parse_locale(first(fields, "locale") or subscriber.locale)
        topics = parse_topics(fields.get("topics", []), self.project.settings)
        now = timestamp(self.clock())
        added = tuple(topic for topic in topics if topic not in subscriber.topics)
        with connect(self.database) as store, store.transaction():
            store.set_preferences(subscriber.id, name=name, locale=locale, topics=topics, stamp=now)
            if added:  # a topic chosen on the page is consent the reader gives there: kept like a sign-up's
                consent = store.add_consent(
                    subscriber.id,
                    source="preferences",
                    text_id=store.consent_text_id(self.consent_text(locale), now),
                    topics=added,
                    name=name,
                    locale=locale,
                    ip="",
                    stamp=now,
                )
                store.confirm_consent(consent, now)  # the page's link went to the reader's own inbox
            changed = store.subscriber(subscriber.id)
        assert changed is not None
        return changed

    def leave(self, token: str) -> Subscriber:
        """Unsubscribe from everything, from the preference page."""
        subscriber = self.reader(token)
        if subscriber.status == "active" or subscriber.status == "unconfirmed":
            with connect(self.database) as store, store.transaction():
                store.change_status(
                    subscriber.id,
                    subscriber.status,
                    "unsubscribed",
                    source="preferences",
                    stamp=timestamp(self.clock()),
                )
        return subscriber

    def send_data_link(self, token: str) -> Subscriber:
        """Mail a link to the reader's data, to the address itself: whoever holds a forwarded email
        holds the preference link, but only the reader reads their own inbox."""
        subscriber = self.reader(token)
        now = self.clock()
        with connect(self.database) as store, store.transaction():
            key = limit_key("data:" + email_key(subscriber.email), self.secret)
            if store.count_events("mail", key, timestamp(now - timedelta(hours=MAIL_INTERVAL_HOURS))):
                return subscriber
            store.record_event("mail", key, timestamp(now))
        self.mailer.submit(partial(self._data_mail, subscriber, now))
        return subscriber

    def _data_mail(self, subscriber: Subscriber, now: datetime, transport: Transport) -> None:
        token = make_link_token("data", subscriber.email, subscriber.id, self.secret, now=now)
        url = link_url(self.settings.url, "data", token)
        made = render_mail(self.project, "data", subscriber.locale, url)
        recipient = Recipient(subscriber.email, subscriber.name, subscriber.id)
        transport.ready()
        transport.deliver(compose(self.project, made, recipient, now=now))

    def data(self, token: str) -> Person:
        subscriber = self.reader(token, "data")
        with connect(self.database) as store:
            return person(store, subscriber.email)

    def preferences_url(self, subscriber: Subscriber) -> str:
        token = make_link_token("preferences", subscriber.email, subscriber.id, self.secret, now=self.clock())
        return link_url(self.settings.url, "preferences", token)


def _locale_or(value: str, default: str) -> str:
    try:
        return parse_locale(value)
    except ValueError:
        return default
