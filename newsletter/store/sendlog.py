"""The send log: one row per (campaign, subscriber) in the subscriber database, so a send can be
resumed after anything and nobody gets a campaign twice.

States: `pending` (to send), `sending` (committed just before the SMTP transaction starts),
then `sent`, `failed` (a 5xx, or too many deferrals), `deferred` (a 4xx; retried after `retry_at`)
or `unknown` (the connection was lost after the whole message went out, so the server may have
accepted it). A row still `sending` when a run starts belongs to a sender that was killed mid-
transaction: it becomes `unknown` too. Unknown rows are reported and only resent on request: a
possible duplicate is the user's call, not ours.

What a transport reports for one message is a `Result`, defined here with the log it is written to,
so that the transports (transport.py) and the run (run.py) depend on the log and not the other way.

Several senders may share a campaign (on one machine or several): each claims rows in batches
(`claim`), and marks a row `sending` only while the row still names it. Each holds a lease
(leases.py) that tells a row in flight from one left by a sender that died.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from newsletter.store.base import timestamp
from newsletter.store.leases import Leases
from newsletter.store.subscribers import Subscriber, Subscribers
from newsletter.vocabulary import SEND_STATES

# The send states a delivery can end in (all of SEND_STATES but `sending`, which is the run's own).
Outcome = Literal["sent", "failed", "deferred", "unknown", "pending"]
# How many of each kind of reference one returned message is matched by: a real one names one message.
_MATCH_LIMIT = 20
# What `mark_sending` answers for a row another sender took over (this one was taken for dead).
TAKEN = "taken"


@dataclass(frozen=True)
class Result:
    """How one delivery ended. `pending` means nothing reached the server: send it again."""

    state: Outcome
    code: int | None
    text: str
    bounce: bool = False
    connection_lost: bool = False
    sender_refused: bool = False  # a 5xx to MAIL FROM is about us, not the reader: stop the run


@dataclass(frozen=True)
class Entry:
    """A row of the log joined with its subscriber: what a sender needs to build the message."""

    campaign: str
    subscriber_id: int
    email: str
    name: str
    state: str
    attempts: int
    subscriber_status: str
    variant: str = ""  # the A/B test's variant it goes out with; "" without a test
    sender: str | None = None  # the lease of the sender that claimed it (leases.py)


@dataclass(frozen=True)
class SentMessage:
    """A message of the log that went to a server: what a returned message can be matched to."""

    campaign: str
    subscriber_id: int
    email: str


@dataclass(frozen=True)
class Row:
    email: str
    state: str
    attempts: int
    smtp_code: int | None
    smtp_response: str
    message_id: str | None
    updated_at: str


class SendLog(Leases, Subscribers):
    def send_counts(self, campaign: str) -> dict[str, int]:
        """How many rows per state, every state present (zero when none)."""
        found = dict(
            self.connection.execute(
                "SELECT state, COUNT(*) FROM sends WHERE campaign = ? GROUP BY state", (campaign,)
            ).fetchall()
        )
        return {state: int(found.get(state, 0)) for state in SEND_STATES}

    def send_rows(self, campaign: str, states: Iterable[str]) -> list[Row]:
        wanted = tuple(states)
        if not wanted:  # `IN ()` is SQLite's, not PostgreSQL's
            return []
        marks = ",".join("?" * len(wanted))
        found = self.connection.execute(
            "SELECT email, state, attempts, smtp_code, smtp_response, message_id, updated_at FROM sends "
            f"WHERE campaign = ? AND state IN ({marks}) ORDER BY subscriber_id",
            (campaign, *wanted),
        ).fetchall()
        return [Row(*row) for row in found]

    def logged_ids(self, campaign: str) -> set[int]:
        found = self.connection.execute("SELECT subscriber_id FROM sends WHERE campaign = ?", (campaign,))
        return {int(row[0]) for row in found}

    def last_activity(self, campaign: str) -> str | None:
        found = self.connection.execute("SELECT MAX(updated_at) FROM sends WHERE campaign = ?", (campaign,))
        value = found.fetchone()[0]
        return str(value) if value else None

    def enqueue(
        self,
        campaign: str,
        subscribers: Iterable[Subscriber],
        now: datetime,
        *,
        variants: Mapping[int, str] | None = None,
        in_test: bool = False,
    ) -> int:
        """Add subscribers as pending, in one transaction; ones already in the log are left alone.
        `variants` gives each subscriber's A/B variant by id; `in_test`: rows of the test share."""
        stamp = timestamp(now)
        chosen = variants or {}
        with self.transaction():
            added = self.connection.executemany(
                "INSERT INTO sends (campaign, subscriber_id, email, state, created_at, updated_at,"
                " variant, in_test) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (campaign, s.id, s.email, stamp, stamp, chosen.get(s.id, ""), int(in_test))
                    for s in subscribers
                ],
            )
            return max(added.rowcount, 0)

    def due(self, campaign: str, now: datetime, *, retry_unknown: bool = False) -> list[Entry]:
        """Rows to send now: pending, deferred whose retry time has come, and unknown when asked."""
        where, params = _due_rows(campaign, now, retry_unknown)
        found = self.connection.execute(_ENTRIES + where + " ORDER BY s.subscriber_id", params).fetchall()
        return [Entry(*row) for row in found]

    def count_due(self, campaign: str, now: datetime, *, retry_unknown: bool = False) -> int:
        """How many rows are due and claimed by no sender."""
        where, params = _due_rows(campaign, now, retry_unknown)
        (count,) = self.connection.execute(
            "SELECT COUNT(*) FROM sends s " + where + " AND s.sender IS NULL", params
        ).fetchone()
        return int(count)

    def claim(
        self, campaign: str, sender: str, now: datetime, limit: int, *, retry_unknown: bool = False
    ) -> tuple[list[Entry], int]:
        """Up to `limit` due rows no sender has, taken for `sender` in one transaction, after the
        rows of dead senders were taken back (leases.py); returns them and how many rows were made
        `unknown` taking them back. A row stays the sender's until its lease ends."""
        where, params = _due_rows(campaign, now, retry_unknown)
        with self.row_transaction():  # SKIP LOCKED keeps claims apart on PostgreSQL
            recovered = self.reap(campaign, now)
            # Picked once, in a materialised CTE: as a plain subquery of the UPDATE, PostgreSQL may
            # run it again for each row and so take more than `limit`.
            claimed = self.connection.execute(
                f"WITH picked AS MATERIALIZED (SELECT s.subscriber_id FROM sends s {where}"
                f" AND s.sender IS NULL ORDER BY s.subscriber_id LIMIT ?{self.engine.skip_locked})"
                " UPDATE sends SET sender = ? WHERE campaign = ? AND subscriber_id IN"
                " (SELECT subscriber_id FROM picked) RETURNING subscriber_id",
                (*params, limit, sender, campaign),
            ).fetchall()
            if not claimed:
                return [], recovered
            found = self.connection.execute(
                _ENTRIES + "WHERE s.campaign = ? AND s.sender = ? AND s.subscriber_id IN"
                f" ({','.join('?' * len(claimed))}) ORDER BY s.subscriber_id",
                (campaign, sender, *(row[0] for row in claimed)),
            ).fetchall()
        return [Entry(*row) for row in found], recovered

    def next_retry(self, campaign: str) -> str | None:
        found = self.connection.execute(
            "SELECT MIN(retry_at) FROM sends WHERE campaign = ? AND state = 'deferred'", (campaign,)
        ).fetchone()[0]
        return str(found) if found else None

    def skip(self, entry: Entry, reason: str, now: datetime) -> None:
        """A subscriber who unsubscribed (or bounced elsewhere) after the send began is not mailed."""
        with self.row_transaction():
            self._skip(entry, reason, timestamp(now))

    def _skip(self, entry: Entry, reason: str, stamp: str) -> None:
        self.connection.execute(
            "UPDATE sends SET state = 'failed', smtp_code = NULL, smtp_response = ?, updated_at = ? "
            "WHERE campaign = ? AND subscriber_id = ?",
            (reason, stamp, entry.campaign, entry.subscriber_id),
        )

    def mark_sending(
        self, entry: Entry, message_id: str, now: datetime, return_token: str | None = None
    ) -> str | None:
        """Committed before the SMTP transaction starts: after a crash, this row says "maybe sent".

        The reader's status is read in the same transaction: one who unsubscribed, bounced or
        complained since the send began (a one-click POST, a webhook, during a run of hours) is not
        mailed; their row is closed as `failed` with the reason. Returns None when the row is marked
        `sending`, else the status that stopped it. `return_token` is the token of the message's
        VERP envelope sender, recorded with its Message-ID to match a bounce to it."""
        stamp = timestamp(now)
        # The row as the sender took it: still its own (a sender taken for dead has lost it), in
        # the state it was taken in (not sent meanwhile by another way, such as the welcome).
        claimed = ("sender = ? AND " if entry.sender is not None else "sender IS NULL AND ") + "state = ?"
        owner = (entry.sender, entry.state) if entry.sender is not None else (entry.state,)
        with self.row_transaction():
            # One statement in the usual case: the row is marked only while its reader is active,
            # which the statement reads as it writes, so no lock of the whole store is needed.
            marked = self.connection.execute(
                "UPDATE sends SET state = 'sending', attempts = attempts + 1, message_id = ?,"
                f" return_token = ?, updated_at = ? WHERE campaign = ? AND subscriber_id = ? AND {claimed}"
                " AND (SELECT status FROM subscribers WHERE id = ?) = 'active'",
                (
                    message_id,
                    return_token,
                    stamp,
                    entry.campaign,
                    entry.subscriber_id,
                    *owner,
                    entry.subscriber_id,
                ),
            )
            if marked.rowcount == 1:
                return None
            mine = self.connection.execute(
                f"SELECT 1 FROM sends WHERE campaign = ? AND subscriber_id = ? AND {claimed}",
                (entry.campaign, entry.subscriber_id, *owner),
            ).fetchone()
            if mine is None:  # this sender was taken for dead, and its rows were taken back
                return TAKEN
            status = self.subscriber_status(entry.subscriber_id)
            self._skip(entry, f"not sent: the subscriber is {status} now", stamp)
            return status or "gone"

    def sent_messages(
        self,
        *,
        message_ids: Sequence[str] = (),
        return_tokens: Sequence[str] = (),
        rows: Sequence[tuple[str, int]] = (),
    ) -> list[SentMessage]:
        """The logged messages with these Message-IDs, VERP tokens or (campaign, subscriber id), of
        those that reached a server (a Message-ID is recorded when the transaction starts)."""
        found: list[SentMessage] = []
        select = "SELECT campaign, subscriber_id, email FROM sends WHERE message_id IS NOT NULL AND "
        for column, values in (("message_id", message_ids), ("return_token", return_tokens)):
            wanted = list(dict.fromkeys(values))[:_MATCH_LIMIT]
            if wanted:
                marks = ",".join("?" * len(wanted))
                found += [
                    SentMessage(*row)
                    for row in self.connection.execute(f"{select}{column} IN ({marks})", wanted)
                ]
        for campaign, subscriber_id in list(dict.fromkeys(rows))[:_MATCH_LIMIT]:
            query = f"{select}campaign = ? AND subscriber_id = ?"
            found += [SentMessage(*row) for row in self.connection.execute(query, (campaign, subscriber_id))]
        return found

    def release(self, entry: Entry, now: datetime) -> None:
        """Nothing reached the server: the row goes back exactly as it was (an `unknown` row tried with
        --retry-unknown stays unknown, so no plain resume sends it), the attempt not counted."""
        with self.row_transaction():
            self.connection.execute(
                "UPDATE sends SET state = ?, attempts = attempts - 1, updated_at = ? "
                "WHERE campaign = ? AND subscriber_id = ? AND state = 'sending'",
                (entry.state, timestamp(now), entry.campaign, entry.subscriber_id),
            )

    def record_result(
        self,
        entry: Entry,
        result: Result,
        now: datetime,
        *,
        retry_after: float,
        max_attempts: int,
    ) -> str:
        """Write what the transaction ended in; returns the state written. A hard bounce marks the
        subscriber bounced in the same transaction, so no later campaign is sent to that address."""
        state, response, retry_at = result.state, result.text, None
        attempts = entry.attempts + 1
        if state == "deferred":
            if attempts >= max_attempts:
                state, response = "failed", f"gave up after {attempts} attempts; last reply: {result.text}"
            else:
                retry_at = timestamp(now + timedelta(seconds=retry_after * 2 ** (attempts - 1)))
        stamp = timestamp(now)
        # A bounce changes the reader's status, a read-then-write that takes the store's turn.
        with self.transaction() if result.bounce else self.row_transaction():
            self.connection.execute(
                "UPDATE sends SET state = ?, smtp_code = ?, smtp_response = ?, retry_at = ?, updated_at = ?,"
                " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END "
                "WHERE campaign = ? AND subscriber_id = ?",
                (
                    state,
                    result.code,
                    response,
                    retry_at,
                    stamp,
                    state,
                    stamp,
                    entry.campaign,
                    entry.subscriber_id,
                ),
            )
            if result.bounce and self.subscriber_status(entry.subscriber_id) == "active":
                self.change_status(
                    entry.subscriber_id,
                    "active",
                    "bounced",
                    source="send",
                    detail=f"{entry.campaign}: {result.text}",
                    stamp=stamp,
                )
        return state


_ENTRIES = (
    "SELECT s.campaign, s.subscriber_id, s.email, sub.name, s.state, s.attempts, sub.status, s.variant,"
    " s.sender FROM sends s JOIN subscribers sub ON sub.id = s.subscriber_id "
)


def _due_rows(campaign: str, now: datetime, retry_unknown: bool) -> tuple[str, tuple[str, ...]]:
    """The WHERE clause of the rows due now, and its parameters."""
    states = ("pending", "deferred", "unknown") if retry_unknown else ("pending", "deferred")
    where = (
        f"WHERE s.campaign = ? AND s.state IN ({','.join('?' * len(states))}) "
        "AND (s.state != 'deferred' OR s.retry_at IS NULL OR s.retry_at <= ?)"
    )
    return where, (campaign, *states, timestamp(now))
