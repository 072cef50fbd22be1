"""Sign-ups as the store sees them: unconfirmed readers, their confirmation, and the limits that keep
the form from being used against someone's inbox.

A sign-up adds the address as `unconfirmed` (or, for an address the list already knows, only records
the new consent): nobody is mailed a campaign before they confirm. The limits are rows of
`signup_events` (what happened, for which key, when), counted over a window: they live in the
database so that several `serve` processes, on one machine or more, hold them together. A solved
proof-of-work challenge is recorded in `used_challenges`, so that one solution cannot be posted twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from newsletter.store.consent import Consents


@dataclass(frozen=True)
class SignedUp:
    """The subscriber a sign-up is for (new, or known already) and the consent it recorded."""

    subscriber_id: int
    consent_id: int


class Signups(Consents):
    def sign_up(
        self,
        email: str,
        *,
        name: str,
        locale: str,
        topics: tuple[str, ...],
        source: str,
        consent_text: str,
        ip: str,
        stamp: str,
    ) -> SignedUp:
        """Inside the caller's transaction. A new address becomes an unconfirmed subscriber; a known
        one keeps everything it has: anyone can post any address, so what a form says (name,
        language, topics) is kept with the consent and applied only when the reader confirms that
        very sign-up. Each records the consent as given, unconfirmed."""
        text_id = self.consent_text_id(consent_text, stamp)
        existing = self.find_subscriber(email)
        if existing is None:
            subscriber_id = self.add_subscriber(
                email,
                name=name,
                locale=locale,
                tags=(),
                topics=topics,
                status="unconfirmed",
                source=source,
                stamp=stamp,
                change_source="signup",
            )
        else:
            subscriber_id = existing.id
        consent_id = self.add_consent(
            subscriber_id,
            source=source,
            text_id=text_id,
            topics=topics,
            name=name,
            locale=locale,
            ip=ip,
            stamp=stamp,
        )
        return SignedUp(subscriber_id, consent_id)

    def confirm(self, consent_id: int, *, stamp: str) -> tuple[int, bool] | None:
        """Make the consent's reader active with the name, language and topics of that sign-up (for
        one active already: its topics added to theirs). (subscriber id, whether this made them
        active), or None when the consent is gone (purged, or its reader forgotten)."""
        found = self.consent(consent_id)
        if found is None:
            return None
        subscriber_id, consent = found
        subscriber = self.subscriber(subscriber_id)
        if subscriber is None or subscriber.status == "forgotten":
            return None
        self.confirm_consent(consent_id, stamp)
        if subscriber.status == "active":
            if consent.confirmed_at is None:  # a new sign-up of a reader already in: the new topics
                topics = tuple(sorted({*subscriber.topics, *consent.topics}))
                self.set_preferences(
                    subscriber_id,
                    name=subscriber.name,
                    locale=subscriber.locale,
                    topics=topics,
                    stamp=stamp,
                )
            return subscriber_id, False
        self.change_status(
            subscriber_id,
            subscriber.status,
            "active",
            source="confirmation",
            detail=consent.source,
            stamp=stamp,
        )
        self.set_preferences(
            subscriber_id,
            name=consent.name or subscriber.name,
            locale=consent.locale or subscriber.locale,
            topics=consent.topics,
            stamp=stamp,
        )
        return subscriber_id, True

    def purge_unconfirmed(self, before: str) -> int:
        """Forget the sign-ups nobody confirmed in time: the unconfirmed subscribers whose last
        sign-up is older than `before`, with their history and consents, and the unconfirmed
        consents of readers who were already known. Inside the caller's transaction."""
        doomed = "SELECT id FROM subscribers WHERE status = 'unconfirmed' AND updated_at < ?"
        self.connection.execute(f"DELETE FROM status_changes WHERE subscriber_id IN ({doomed})", (before,))
        self.connection.execute(f"DELETE FROM consents WHERE subscriber_id IN ({doomed})", (before,))
        gone = self.connection.execute(
            "DELETE FROM subscribers WHERE status = 'unconfirmed' AND updated_at < ?", (before,)
        ).rowcount
        self.connection.execute("DELETE FROM consents WHERE confirmed_at IS NULL AND given_at < ?", (before,))
        return int(gone)

    # -- limits --------------------------------------------------------------------------------

    def count_events(self, kind: str, key: str, since: str) -> int:
        (number,) = self.connection.execute(
            "SELECT COUNT(*) FROM signup_events WHERE kind = ? AND key = ? AND at > ?", (kind, key, since)
        ).fetchone()
        return int(number)

    def record_event(self, kind: str, key: str, stamp: str) -> None:
        self.connection.execute(
            "INSERT INTO signup_events (kind, key, at) VALUES (?, ?, ?)", (kind, key, stamp)
        )

    def forget_event(self, kind: str, key: str, stamp: str) -> None:
        """Take back one event (a mail that could not be sent)."""
        self.connection.execute(
            f"DELETE FROM signup_events WHERE {self.engine.rowid} IN (SELECT {self.engine.rowid}"
            " FROM signup_events WHERE kind = ? AND key = ? AND at = ? LIMIT 1)",
            (kind, key, stamp),
        )

    def purge_events(self, before: str) -> None:
        self.connection.execute("DELETE FROM signup_events WHERE at < ?", (before,))
        self.connection.execute("DELETE FROM used_challenges WHERE expires < ?", (before,))

    def use_challenge(self, challenge_id: str, *, expires: str) -> bool:
        """True the first time a solved challenge is presented, False ever after."""
        added = self.connection.execute(
            "INSERT INTO used_challenges (id, expires) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (challenge_id, expires),
        )
        return added.rowcount == 1
