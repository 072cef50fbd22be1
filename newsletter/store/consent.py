"""Proof of consent, and what is left of a person the publisher was asked to forget.

Dutch law (Telecommunicatiewet art. 11.7, with the AVG/GDPR) puts the burden of proof on the sender:
for each reader the publisher must be able to show when, where and to what text they said yes. So a
consent is a row of its own, never overwritten: the source (a form, an import file), the exact text
the reader saw (`consent_texts`, one row per distinct text: changing the wording makes a new
version), the topics chosen, when it was given and from which IP address (stored as configured), and
for a double opt-in when it was confirmed and the Message-ID of the confirmation mail.

Forgetting a reader (`audience forget`) keeps their subscriber row as a tombstone without personal
data, so the send log's figures stay true, and adds a keyed hash of the address to `forgotten`, so
that a later import of the same address is recognised and refused. The key is the caller's (the
unsubscribe secret: `audience/forgetting.py` says why), named by `key_id` on each row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from newsletter.store.subscribers import Subscribers, json_tags


@dataclass(frozen=True)
class Consent:
    id: int
    source: str  # form:<name>, import:<file>, ...
    text: str
    version: int  # the consent text's row: a new wording is a new version
    topics: tuple[str, ...]
    name: str  # the name and language the form gave, applied when the reader confirms
    locale: str | None
    given_at: str
    ip: str  # as [signup] ip says: the address, "hmac-sha256:<hex>", or ""
    confirmed_at: str | None
    confirmation_message_id: str | None


@dataclass(frozen=True)
class SentTo:
    """One row of the send log, as the right of access shows it."""

    campaign: str
    state: str
    sent_at: str | None
    message_id: str | None


class Consents(Subscribers):
    def consent_text_id(self, text: str, stamp: str) -> int:
        """The version of this exact wording, made on its first use."""
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self.connection.execute(
            "INSERT INTO consent_texts (digest, text, first_used) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (digest, text, stamp),
        )
        (found,) = self.connection.execute(
            "SELECT id FROM consent_texts WHERE digest = ?", (digest,)
        ).fetchone()
        return int(found)

    def add_consent(
        self,
        subscriber_id: int,
        *,
        source: str,
        text_id: int,
        topics: Iterable[str],
        name: str,
        locale: str,
        ip: str,
        stamp: str,
    ) -> int:
        """A consent as a form gave it, unconfirmed."""
        added = self.connection.execute(
            "INSERT INTO consents (subscriber_id, source, text_id, topics, name, locale, given_at, ip)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (subscriber_id, source, text_id, json_tags(topics), name, locale, stamp, ip),
        )
        return int(added.fetchone()[0])

    def add_import_consents(
        self, subscriber_ids: Iterable[int], *, source: str, text_id: int, stamp: str
    ) -> None:
        """The consent an import's `--consent` states, for each subscriber the file added."""
        self.connection.executemany(
            "INSERT INTO consents (subscriber_id, source, text_id, given_at, confirmed_at)"
            " VALUES (?, ?, ?, ?, ?)",
            ((subscriber_id, source, text_id, stamp, stamp) for subscriber_id in subscriber_ids),
        )

    def add_import_consents_after(self, before: int, *, source: str, text_id: int, stamp: str) -> None:
        """`add_import_consents` for every subscriber with an id above `before`: those an import batch
        just added, in one statement."""
        self.connection.execute(
            "INSERT INTO consents (subscriber_id, source, text_id, given_at, confirmed_at)"
            " SELECT id, ?, ?, ?, ? FROM subscribers WHERE id > ?",
            (source, text_id, stamp, stamp, before),
        )

    def consent(self, consent_id: int) -> tuple[int, Consent] | None:
        """A consent and its subscriber's id."""
        row = self.connection.execute(_CONSENTS + " WHERE c.id = ?", (consent_id,)).fetchone()
        return None if row is None else (int(row[-1]), _consent(row))

    def consents_of(self, subscriber_id: int) -> list[Consent]:
        rows = self.connection.execute(
            _CONSENTS + " WHERE c.subscriber_id = ? ORDER BY c.id", (subscriber_id,)
        )
        return [_consent(row) for row in rows]

    def record_confirmation_mail(self, consent_id: int, message_id: str) -> None:
        self.connection.execute(
            "UPDATE consents SET confirmation_message_id = ? WHERE id = ?", (message_id, consent_id)
        )

    def confirm_consent(self, consent_id: int, stamp: str) -> None:
        self.connection.execute(
            "UPDATE consents SET confirmed_at = ? WHERE id = ? AND confirmed_at IS NULL", (stamp, consent_id)
        )

    def sent_to(self, subscriber_id: int) -> list[SentTo]:
        rows = self.connection.execute(
            "SELECT campaign, state, sent_at, message_id FROM sends WHERE subscriber_id = ?"
            " ORDER BY created_at, campaign",
            (subscriber_id,),
        )
        return [SentTo(str(c), str(s), _text(at), _text(m)) for c, s, at, m in rows]

    def soft_bounces_of(self, key: str) -> list[tuple[str, str]]:
        """(when, detail) of the soft bounces counted for an address's key."""
        rows = self.connection.execute(
            "SELECT at, detail FROM soft_bounces WHERE email_key = ? ORDER BY at", (key,)
        )
        return [(str(at), str(detail)) for at, detail in rows]

    # -- forgetting ----------------------------------------------------------------------------

    def forget(self, subscriber_id: int, key: str, *, digest: str, key_id: str, stamp: str) -> None:
        """Erase a reader's personal data, inside the caller's transaction: the subscriber row keeps
        its id and dates (the send log's counts stay true) and gets the status `forgotten`; the send
        log loses the address, consents the name and IP the form gave, and the history its details (a
        bounce's text may quote the address)."""
        old = self.subscriber_status(subscriber_id)
        tombstone = f"forgotten:{subscriber_id}"
        if old != "forgotten":
            self.record_change(subscriber_id, old, "forgotten", source="forget", stamp=stamp)
        self.connection.execute(
            "UPDATE subscribers SET email = ?, email_key = ?, name = '', tags = '[]', topics = '[]',"
            " source = '', status = 'forgotten', updated_at = ? WHERE id = ?",
            (tombstone, tombstone, stamp, subscriber_id),
        )
        self.connection.execute("UPDATE sends SET email = '' WHERE subscriber_id = ?", (subscriber_id,))
        self.connection.execute(
            "UPDATE consents SET ip = '', name = '' WHERE subscriber_id = ?", (subscriber_id,)
        )
        self.connection.execute(
            "UPDATE status_changes SET detail = '' WHERE subscriber_id = ?", (subscriber_id,)
        )
        self.connection.execute("DELETE FROM soft_bounces WHERE email_key = ?", (key,))
        self.connection.execute(
            "INSERT INTO forgotten (digest, key_id, at) VALUES (?, ?, ?)"
            " ON CONFLICT (digest) DO UPDATE SET key_id = excluded.key_id, at = excluded.at",
            (digest, key_id, stamp),
        )

    def forgotten_among(self, digests: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(digests), 500):
            chunk = digests[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                str(row[0])
                for row in self.connection.execute(
                    f"SELECT digest FROM forgotten WHERE digest IN ({marks})", chunk
                )
            )
        return found

    def remember_again(self, digest: str) -> None:
        """A forgotten address confirmed a new sign-up: it is a reader again."""
        self.connection.execute("DELETE FROM forgotten WHERE digest = ?", (digest,))

    def forgotten_keys(self) -> dict[str, int]:
        """How many hashes each key made: a hash made with another key can no longer be matched."""
        rows = self.connection.execute("SELECT key_id, COUNT(*) FROM forgotten GROUP BY key_id")
        return {str(key_id): int(number) for key_id, number in rows}


_CONSENTS = (
    "SELECT c.id, c.source, t.text, t.id, c.topics, c.name, c.locale, c.given_at, c.ip, c.confirmed_at,"
    " c.confirmation_message_id, c.subscriber_id FROM consents c JOIN consent_texts t ON t.id = c.text_id"
)


def _consent(row: tuple[object, ...]) -> Consent:
    id_, source, text, version, topics, name, locale, given_at, ip, confirmed_at, message_id, _ = row
    return Consent(
        int(str(id_)),
        str(source),
        str(text),
        int(str(version)),
        tuple(json.loads(str(topics))),
        str(name),
        _text(locale),
        str(given_at),
        str(ip),
        _text(confirmed_at),
        _text(message_id),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
