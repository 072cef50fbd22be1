"""The sending run: compose each recipient's message and hand it to a transport (transport.py); the
real send does it through the send log, resumable, rate-limited and paused by repeated errors.

Every recipient's row is committed as `sending` before its transaction starts and with the outcome
after it ends (sendlog.py), so killing the sender at any moment loses nobody and can only leave
"maybe sent" (`unknown`) rows, which are never resent without being asked. A transport that cannot
get ready (no connection) stops the run with everyone left pending; one whose conversation broke off
before the message went out gets that reader once more, then a later run does.

A `Stop` (stopping.py) asked once makes the threads take no new reader and finish the transactions
in flight, so a stopped run is a clean pause; asked twice, the run cuts them off (`Transport.abort`)
and records what it can. Whatever is still `sending` when the run ends is recorded `unknown` then.

Several runs may share a campaign, in one process each (`send --workers`), on one machine or
several: each holds a lease in the database (leases.py) and claims the log's rows in batches of
CLAIM_BATCH, so each reader is taken by exactly one run. `[smtp] rate` is the total over them: each
run paces itself at the rate divided by the live senders, counted again at every heartbeat. Whatever
a run leaves `sending` when its lease ends, or when it dies, becomes `unknown`.

Failures in a row pause the run (`max_errors`): a server refusing everything, or one that keeps
hanging up, is a problem to look at before the rest of the list is burnt. A deferral (a 4xx) is not
such a failure: greylisting and full mailboxes are the readers', retried by a later run, and a retry
run of greylisted readers only must reach them all.

The dry run and the test send keep no log, so they skip the log's bookkeeping (`deliver_each`) and
share the rest: the same composer, the same transports, the same `ready`/`deliver` steps.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from newsletter.errors import NewsletterError
from newsletter.sending.message import Composer, Outgoing, Recipient
from newsletter.sending.stopping import Stop
from newsletter.sending.transport import ConnectionProblem, Transport
from newsletter.store import TAKEN, Entry, Location, Result, Store, connect
from newsletter.store.database_file import DatabaseBusy, DatabaseUnavailable
from newsletter.store.leases import HEARTBEAT_SECONDS

if TYPE_CHECKING:
    from newsletter.project.settings import SmtpSettings

Clock = Callable[[], datetime]
JOIN_SLICE = 0.1  # seconds between the main thread's looks at the stop while the threads send
ABORT_GRACE = 2.0  # seconds the threads get to record what they were doing once cut off
# A run waits this long for the database's write lock (an import of a big list holds it for seconds):
# nobody sits waiting for a send, and giving up would stop all of it.
RUN_BUSY_TIMEOUT = 60.0
# Rows a run claims at a time: enough to keep its connections busy between claims, few enough that
# the senders of a campaign run out of rows together.
CLAIM_BATCH = 50


def utc_now() -> datetime:
    return datetime.now(UTC)


def deliver_each(
    transport: Transport,
    composer: Composer,
    recipients: Iterable[Recipient],
    pick: Callable[[Recipient], Composer] | None = None,
) -> Iterator[tuple[Outgoing, Result]]:
    """Each recipient's message through `transport`, with no send log: the dry run and the test send.
    `pick` chooses another composer for a recipient (an A/B test's variant)."""
    for recipient in recipients:
        transport.ready()
        outgoing = (composer if pick is None else pick(recipient)).compose(recipient)
        yield outgoing, transport.deliver(outgoing)


class RateLimiter:
    """At most `rate` messages per second over all connections (0: no limit)."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 0.0
        self.pace(rate)
        self.clock = clock
        self.sleep = sleep
        self.next_slot = 0.0
        self.lock = threading.Lock()

    def pace(self, rate: float) -> None:
        """A new rate from now on (the campaign's senders came or went)."""
        self.interval = 1 / rate if rate > 0 else 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = self.clock()
            slot = max(self.next_slot, now)
            self.next_slot = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


@dataclass
class RunReport:
    campaign: str
    attempted: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # state written -> how many, this run
    bounced: int = 0
    skipped: int = 0  # unsubscribed or bounced since the send began
    recovered_unknown: int = 0  # rows a killed sender left in `sending`
    paused: str | None = None  # why the run paused (too many errors in a row)
    stopped: NewsletterError | None = None  # why the run stopped (no connection)
    interrupted: str | None = None  # who asked it to stop ("SIGTERM", ...), when someone did
    aborted: bool = False  # asked twice: the transactions in flight were cut off
    finished_after_stop: int = 0  # transactions that were in flight when the stop came, recorded
    cut_off: int = 0  # rows still `sending` at the end (threads given up on), recorded `unknown`
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.attempted / self.seconds if self.seconds else 0.0


class _Run:
    """What the sending threads share: the queue, the limiter, the error count and the stop."""

    def __init__(
        self,
        lease: str,
        composer: Mapping[str, Composer],
        settings: SmtpSettings,
        transport: Callable[[], Transport],
        database: Location,
        clock: Clock,
        on_result: Callable[[Entry, str], None],
        asked: Stop,
        retry_unknown: bool,
    ) -> None:
        self.lease = lease
        self.retry_unknown = retry_unknown
        self.queue: deque[Entry] = deque()
        self.exhausted = False  # no row is left to claim
        self.beating = threading.Event()  # set: the heartbeat stops
        self.composers = composer  # by the entry's A/B variant; "" without one
        self.settings = settings
        self.transport = transport
        self.database = database
        self.clock = clock
        self.on_result = on_result
        self.limiter = RateLimiter(settings.rate)
        self.lock = threading.Lock()
        self.errors_in_a_row = 0
        self.retried: set[int] = set()
        self.report = RunReport(composer[""].campaign.id)
        self.crash: BaseException | None = None
        self.asked = asked
        self.transports: list[Transport] = []  # every thread's, for `abort`

    @property
    def stopping(self) -> bool:
        return (
            self.asked.requested
            or self.report.paused is not None
            or self.report.stopped is not None
            or self.crash is not None
        )

    def take(self, store: Store) -> Entry | None:
        with self.lock:
            if self.stopping:
                return None
            if not self.queue and not self.exhausted:
                self.claim(store)
            return self.queue.popleft() if self.queue else None

    def claim(self, store: Store) -> None:
        """The next batch of rows for this run (under the lock): readers who left since the send
        began are closed as `failed` here, not mailed."""
        while not self.queue and not self.exhausted:
            campaign = self.report.campaign
            entries, recovered = store.claim(
                campaign, self.lease, self.clock(), CLAIM_BATCH, retry_unknown=self.retry_unknown
            )
            self.report.recovered_unknown += recovered
            self.exhausted = not entries
            for entry in entries:
                if entry.subscriber_status == "active":
                    self.queue.append(entry)
                else:
                    store.skip(
                        entry, f"not sent: the subscriber is {entry.subscriber_status} now", self.clock()
                    )
                    self.report.skipped += 1

    def heartbeat(self) -> None:
        """Renew the lease, and pace this run at its share of the rate, until the run ends. A lease
        found gone (this run was silent so long that another sender took it for dead and took its
        rows back) stops the run: its rows may be another's now."""
        try:
            with connect(self.database, busy_timeout=RUN_BUSY_TIMEOUT) as store:
                while not self.beating.wait(HEARTBEAT_SECONDS):
                    if not store.renew_lease(self.lease):
                        self.stop_with(_lease_lost())
                        return
                    with store.engine.local_transaction():  # its errors as the user's, not a traceback
                        senders = len(store.live_senders(self.report.campaign))
                    self.limiter.pace(self.settings.rate / max(senders, 1))
        except (DatabaseBusy, DatabaseUnavailable) as problem:
            self.stop_with(problem)

    def tally(self, entry: Entry, state: str, result: Result) -> None:
        with self.lock:
            self.report.attempted += 1
            self.report.outcomes[state] += 1
            self.report.bounced += result.bounce
            self.report.finished_after_stop += int(self.asked.requested)
        if state == "sent":
            with self.lock:
                self.errors_in_a_row = 0
        elif not _deferral(result):
            self.count_error(result)
        self.on_result(entry, state)

    def count_error(self, result: Result) -> None:
        """Failures in a row mean something is wrong on our side or theirs: pause, do not burn the list."""
        with self.lock:
            self.errors_in_a_row += 1
            if (
                self.errors_in_a_row >= self.settings.max_errors
                and self.report.paused is None
                and not self.asked.requested  # connections cut off on purpose are no reason to pause
            ):
                self.report.paused = f"{self.errors_in_a_row} failures in a row, the last: {result.text}"

    def first_try(self, entry: Entry) -> bool:
        """Whether this run has not yet put the entry back: a reader whose transaction keeps
        breaking off (a server that hangs on that address) must not hold up the rest."""
        with self.lock:
            if entry.subscriber_id in self.retried:
                return False
            self.retried.add(entry.subscriber_id)
            return True

    def stop_with(self, problem: NewsletterError) -> None:
        with self.lock:
            if self.report.stopped is None:
                self.report.stopped = problem

    def work(self) -> None:
        """One sending thread: its own transport (so its own SMTP connection) and database connection."""
        try:
            with (
                connect(self.database, busy_timeout=RUN_BUSY_TIMEOUT) as store,
                self.transport() as transport,
            ):
                with self.lock:
                    self.transports.append(transport)
                store.relax_durability()
                while (entry := self.take(store)) is not None:
                    self.limiter.wait()
                    try:  # connect before the row says `sending`: a hanging server is not "maybe sent"
                        transport.ready()
                    except ConnectionProblem as problem:
                        self.stop_with(problem)
                        break
                    if self.asked.requested:  # asked while waiting for its turn: the reader stays pending
                        break
                    if not self.send_one(store, transport, entry):
                        break
        except (DatabaseBusy, DatabaseUnavailable) as problem:  # the log cannot be written: stop cleanly
            self.stop_with(problem)
        except BaseException as exc:  # a bug: stop the other threads too, and re-raise in the main thread
            with self.lock:
                self.crash = exc

    def wait(self, threads: Sequence[threading.Thread]) -> None:
        """Join the threads, in slices: the main thread must see a second stop request and cut the
        transactions off, and a thread that does not end then (stuck connecting) is given up on."""
        cut_at: float | None = None
        for thread in threads:
            while thread.is_alive():
                if self.asked.aborted and cut_at is None:
                    for transport in tuple(self.transports):
                        transport.abort()
                    cut_at = time.monotonic()
                if cut_at is not None and time.monotonic() - cut_at > ABORT_GRACE:
                    return  # daemon threads: they end with the process
                thread.join(JOIN_SLICE)

    def settle(self) -> None:
        """The lease ends: this run's rows still `sending` now have threads that are done or given
        up on, and the server may have their messages, so they are `unknown`; the rows it claimed
        and did not send go back for another run."""
        self.beating.set()
        if self.asked.requested:
            self.report.interrupted = self.asked.signal_name
            self.report.aborted = self.asked.aborted
        try:
            with connect(self.database, busy_timeout=RUN_BUSY_TIMEOUT) as store:
                self.report.cut_off = store.end_lease(self.report.campaign, self.lease, self.clock())
        except (DatabaseBusy, DatabaseUnavailable):  # the next claim of another sender reaps the lease
            pass

    def send_one(self, store: Store, transport: Transport, entry: Entry) -> bool:
        """One reader, its row committed before and after; False when the run must stop."""
        composer = self.composers.get(entry.variant, self.composers[""])
        outgoing = composer.compose(Recipient(entry.email, entry.name, entry.subscriber_id))
        refused = store.mark_sending(entry, outgoing.message_id, self.clock(), outgoing.return_token)
        if refused == TAKEN:
            self.stop_with(_lease_lost())
            return False
        if refused is not None:
            with self.lock:  # unsubscribed, bounced or complained since the run took its rows
                self.report.skipped += 1
            self.on_result(entry, "failed")
            return True
        with self.lock:
            self.asked.in_flight += 1
        try:
            result = transport.deliver(outgoing)
        finally:
            with self.lock:
                self.asked.in_flight -= 1
        if result.state == "pending" and (result.sender_refused or self.first_try(entry)):
            # Nothing reached the server: once more, first in line, on a new connection.
            store.release(entry, self.clock())
            with self.lock:
                self.queue.appendleft(entry)
            if result.sender_refused:
                self.stop_with(_sender_refused(outgoing.envelope_from, result.text))
                return False
            self.count_error(result)
        elif result.state == "pending" and entry.state == "unknown":
            store.release(entry, self.clock())  # still maybe delivered earlier
            self.count_error(result)
        else:
            if result.state == "pending":  # broke off twice: a later run tries again
                result = replace(result, state="deferred")
            state = store.record_result(
                entry,
                result,
                self.clock(),
                retry_after=self.settings.retry_after,
                max_attempts=self.settings.max_attempts,
            )
            self.tally(entry, state, result)
        return True


def _deferral(result: Result) -> bool:
    """A 4xx the server answered on a connection that stays usable: the reader's, not the run's
    problem. A 421 (the server is closing) or a conversation that broke off twice is the run's."""
    return result.state == "deferred" and not result.connection_lost


def _lease_lost() -> NewsletterError:
    return NewsletterError(
        "this sender was taken for dead by another sender of the campaign (its lease was not renewed "
        "in time), which took its rows back",
        hint="it sent none of the rows it lost; run the same command again to go on",
    )


def _sender_refused(sender: str, reply: str) -> ConnectionProblem:
    return ConnectionProblem(
        f"the SMTP server refused the sender address {sender} ({reply})",
        field="sender.address",
        hint="the server must allow this account to send as this address (and SPF/DMARC must match)",
    )


def run(
    database: Location,
    campaign: str,
    composer: Composer | Mapping[str, Composer],
    settings: SmtpSettings,
    transport: Callable[[], Transport],
    *,
    retry_unknown: bool = False,
    clock: Clock = utc_now,
    on_start: Callable[[int], None] = lambda total: None,
    on_result: Callable[[Entry, str], None] = lambda entry, state: None,
    stop: Stop | None = None,
) -> RunReport:
    """Send the due rows of the campaign's log that no other sender has, `settings.connections`
    threads each with a transport of its own from `transport()`, until done or `stop` is requested;
    each row's message from the composer of its A/B variant when `composer` maps them (under "" the
    campaign's own). Call it from the main thread when signals are to request `stop`."""
    asked = stop if stop is not None else Stop()
    started = time.monotonic()
    lease = secrets.token_hex(8)
    with connect(database, busy_timeout=RUN_BUSY_TIMEOUT) as store:
        with store.row_transaction():
            recovered = store.reap(campaign, clock())
        store.take_lease(lease, campaign)
        total = store.count_due(campaign, clock(), retry_unknown=retry_unknown)
        senders = len(store.live_senders(campaign))
    on_start(total)
    composers = {"": composer} if isinstance(composer, Composer) else composer
    shared = _Run(lease, composers, settings, transport, database, clock, on_result, asked, retry_unknown)
    shared.limiter.pace(settings.rate / max(senders, 1))
    shared.report.recovered_unknown = recovered
    threads = [
        threading.Thread(target=shared.work, name=f"smtp-{number}", daemon=True)
        for number in range(0 if asked.requested else min(settings.connections, total))
    ]
    beat = threading.Thread(target=shared.heartbeat, name="heartbeat", daemon=True)
    beat.start()
    for thread in threads:
        thread.start()
    try:
        shared.wait(threads)
    finally:
        shared.beating.set()
    if shared.crash is not None:
        shared.settle()
        raise shared.crash
    shared.settle()
    shared.report.seconds = time.monotonic() - started
    return shared.report
