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

Failures in a row pause the run (`max_errors`): a server refusing everything, or one that keeps
hanging up, is a problem to look at before the rest of the list is burnt. A deferral (a 4xx) is not
such a failure: greylisting and full mailboxes are the readers', retried by a later run, and a retry
run of greylisted readers only must reach them all.

The dry run and the test send keep no log, so they skip the log's bookkeeping (`deliver_each`) and
share the rest: the same composer, the same transports, the same `ready`/`deliver` steps.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.errors import NewsletterError
from newsletter.sending.message import Composer, Outgoing, Recipient
from newsletter.sending.stopping import Stop
from newsletter.sending.transport import ConnectionProblem, Transport
from newsletter.store import Entry, Result, Store, connect
from newsletter.store.database_file import DatabaseBusy, DatabaseUnavailable

if TYPE_CHECKING:
    from newsletter.project.settings import SmtpSettings

Clock = Callable[[], datetime]
JOIN_SLICE = 0.1  # seconds between the main thread's looks at the stop while the threads send
ABORT_GRACE = 2.0  # seconds the threads get to record what they were doing once cut off
# A run waits this long for the database's write lock (an import of a big list holds it for seconds):
# nobody sits waiting for a send, and giving up would stop all of it.
RUN_BUSY_TIMEOUT = 60.0


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
        self.interval = 1 / rate if rate > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self.next_slot = 0.0
        self.lock = threading.Lock()

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
        entries: Sequence[Entry],
        composer: Mapping[str, Composer],
        settings: SmtpSettings,
        transport: Callable[[], Transport],
        database: Path,
        clock: Clock,
        on_result: Callable[[Entry, str], None],
        asked: Stop,
    ) -> None:
        self.queue: deque[Entry] = deque(entries)
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

    def take(self) -> Entry | None:
        with self.lock:
            return None if self.stopping or not self.queue else self.queue.popleft()

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
                while (entry := self.take()) is not None:
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
        """Rows still `sending` now are this run's (it holds the campaign lock), and their threads
        are done or given up on: the server may have their messages, so they are `unknown`."""
        if self.asked.requested:
            self.report.interrupted = self.asked.signal_name
            self.report.aborted = self.asked.aborted
        try:
            with connect(self.database, busy_timeout=RUN_BUSY_TIMEOUT) as store:
                self.report.cut_off = store.recover_interrupted(self.report.campaign, self.clock())
        except (DatabaseBusy, DatabaseUnavailable):  # `status` shows them as unknown; the next run records it
            pass

    def send_one(self, store: Store, transport: Transport, entry: Entry) -> bool:
        """One reader, its row committed before and after; False when the run must stop."""
        composer = self.composers.get(entry.variant, self.composers[""])
        outgoing = composer.compose(Recipient(entry.email, entry.name, entry.subscriber_id))
        if store.mark_sending(entry, outgoing.message_id, self.clock(), outgoing.return_token) is not None:
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


def _sender_refused(sender: str, reply: str) -> ConnectionProblem:
    return ConnectionProblem(
        f"the SMTP server refused the sender address {sender} ({reply})",
        field="sender.address",
        hint="the server must allow this account to send as this address (and SPF/DMARC must match)",
    )


def run(
    database: Path,
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
    """Send every due row of the campaign's log, `settings.connections` threads each with a transport
    of its own from `transport()`, until done or `stop` is requested; each row's message from the
    composer of its A/B variant when `composer` maps them (under "" the campaign's own). The caller
    holds `campaign_lock`. Call it from the main thread when signals are to request `stop`."""
    asked = stop if stop is not None else Stop()
    started = time.monotonic()
    with connect(database, busy_timeout=RUN_BUSY_TIMEOUT) as store:
        recovered = store.recover_interrupted(campaign, clock())
        entries, skipped = _due(store, campaign, clock, retry_unknown)
    on_start(len(entries))
    composers = {"": composer} if isinstance(composer, Composer) else composer
    shared = _Run(entries, composers, settings, transport, database, clock, on_result, asked)
    shared.report.recovered_unknown = recovered
    shared.report.skipped = skipped
    threads = [
        threading.Thread(target=shared.work, name=f"smtp-{number}", daemon=True)
        for number in range(0 if asked.requested else min(settings.connections, len(entries)))
    ]
    for thread in threads:
        thread.start()
    shared.wait(threads)
    if shared.crash is not None:
        raise shared.crash
    shared.settle()
    shared.report.seconds = time.monotonic() - started
    return shared.report


def _due(store: Store, campaign: str, clock: Clock, retry_unknown: bool) -> tuple[list[Entry], int]:
    """The rows to send now, and how many were skipped because their reader left since the send began."""
    entries, skipped = [], 0
    for entry in store.due(campaign, clock(), retry_unknown=retry_unknown):
        if entry.subscriber_status != "active":
            store.skip(entry, f"not sent: the subscriber is {entry.subscriber_status} now", clock())
            skipped += 1
        else:
            entries.append(entry)
    return entries, skipped
