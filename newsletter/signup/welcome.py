"""The welcome email: a campaign marked `welcome: true`, sent once to each reader who confirms.

It goes through the send log like any campaign, one row per reader: the row is added when the
reader confirms (a second confirmation finds it there and sends nothing), marked `sending` before
the SMTP transaction with the reader's status read again, and closed with the result. So the
welcome is never sent twice, `newsletter status ID` and `report ID` show it as they show any
campaign, and a mail the server deferred is retried by `newsletter send ID`, which for a welcome
campaign works only through its log and never mails the audience at large.

One welcome per language: the campaign of the reader's locale. It is rendered and checked once
and again only when a campaign file changed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path

from newsletter.errors import NewsletterError
from newsletter.project.settings import Project, SmtpSettings
from newsletter.sending.message import Composer, Recipient
from newsletter.sending.run import Clock
from newsletter.sending.send import Prepared, make_composer, prepare
from newsletter.sending.transport import Transport
from newsletter.store import Entry, connect, database_location

log = logging.getLogger("newsletter.signup")


class Welcome:
    def __init__(self, project: Project, secret: bytes, clock: Clock) -> None:
        self.project = project
        self.secret = secret
        self.clock = clock
        self.lock = threading.Lock()
        self.seen: tuple[tuple[str, float], ...] | None = None
        self.campaigns: dict[str, tuple[Prepared, Composer]] = {}  # by locale

    def send(self, subscriber_id: int, transport: Transport) -> str | None:
        """On the mailer's thread: the welcome of the reader's language, once. The state its row
        ended in, or None when there is no welcome to send (or it was sent before)."""
        database = database_location(self.project)
        with connect(database) as store:
            subscriber = store.subscriber(subscriber_id)
            if subscriber is None or subscriber.status != "active":
                return None
            welcome = self.campaign(subscriber.locale)
            if welcome is None or not store.enqueue(welcome[0].campaign_id, [subscriber], self.clock()):
                return None
            prepared, composer = welcome
            entry = Entry(
                prepared.campaign_id, subscriber.id, subscriber.email, subscriber.name, "pending", 0, "active"
            )
            outgoing = composer.compose(Recipient(subscriber.email, subscriber.name, subscriber.id))
            transport.ready()  # connected before the row says `sending`: a refused connection sends nothing
            if (
                store.mark_sending(entry, outgoing.message_id, self.clock(), outgoing.return_token)
                is not None
            ):
                return None
            result = transport.deliver(outgoing)
            if result.state == "pending":  # nothing reached the server: `send ID` tries again
                result = replace(result, state="deferred")
            settings = self.project.settings.smtp or SmtpSettings()
            return store.record_result(
                entry,
                result,
                self.clock(),
                retry_after=settings.retry_after,
                max_attempts=settings.max_attempts,
            )

    def campaign(self, locale: str) -> tuple[Prepared, Composer] | None:
        """The welcome campaign of a language, rendered and checked, with its composer (made once,
        not per reader); None when there is none, or it does not load (logged: a broken welcome must
        not stop the confirmations)."""
        with self.lock:
            files = _stamps(self.project.campaigns_dir)
            if files != self.seen:
                self.campaigns = self._load()
                self.seen = files
            return self.campaigns.get(locale)

    def _load(self) -> dict[str, tuple[Prepared, Composer]]:
        from newsletter.project.campaign import load_campaigns

        campaigns, problems = load_campaigns(self.project)
        for problem in problems:
            log.error("a campaign does not load, so it cannot be the welcome: %s", problem.format())
        found: dict[str, tuple[Prepared, Composer]] = {}
        for campaign in campaigns:
            if not campaign.welcome:
                continue
            try:
                prepared = prepare(self.project, campaign.id)
            except NewsletterError as error:
                log.error("the welcome campaign %s does not render: %s", campaign.id, error.format())
                continue
            if prepared.blockers:
                log.error(
                    "the welcome campaign %s fails its checks: %s", campaign.id, "; ".join(prepared.blockers)
                )
                continue
            found.setdefault(
                campaign.locale, (prepared, make_composer(prepared, self.secret, clock=self.clock))
            )
        return found


def _stamps(folder: Path) -> tuple[tuple[str, float], ...]:
    try:
        return tuple(sorted((path.name, path.stat().st_mtime) for path in folder.glob("*.yaml")))
    except OSError:
        return ()
