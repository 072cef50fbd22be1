"""Delivery: SMTP connections, one transaction per recipient, the send log around each, and the run
that ties them together (resumable, rate-limited, paused by repeated errors). What to send and
whether to send at all is decided before, in sending.py.

Every recipient's row is committed as `sending` before its SMTP transaction starts and with the
outcome after it ends (sendlog.py), so killing the sender at any moment loses nobody and can only
leave "maybe sent" (`unknown`) rows, which are never resent without being asked.

How replies are read (RFC 5321): 4xx is temporary, so the recipient is deferred and retried later
with a doubling wait; 552 counts as temporary too (RFC 5321 section 4.5.3.1.10); other 5xx fail that
recipient, and one that says the mailbox does not exist (5.1.x, "user unknown") marks the subscriber
bounced. A connection that cannot be opened (refused, 421 greeting, authentication, TLS) stops the run
with everyone left pending. A connection lost after the message data went out leaves that recipient
`unknown`: the server may have delivered it.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from newsletter.errors import NewsletterError
from newsletter.mail import sendlog
from newsletter.mail.audience import Subscriber, connect
from newsletter.mail.message import Composer, Outgoing, Recipient

if TYPE_CHECKING:
    from newsletter.mail.sendlog import Entry
    from newsletter.project.settings import SmtpSettings

PASSWORD_ENV = "NEWSLETTER_SMTP_PASSWORD"
Outcome = Literal["sent", "failed", "deferred", "unknown", "pending"]
# The mailbox does not exist: enhanced status codes 5.1.1-5.1.3 and 5.1.10, or the words for it.
HARD_BOUNCE = re.compile(
    r"\b5\.1\.(?:1|2|3|10)\b|user unknown|unknown user|no such user|does not exist|recipient rejected",
    re.IGNORECASE,
)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Result:
    """How one SMTP transaction ended. `pending` means nothing reached the server: send it again."""

    state: Outcome
    code: int | None
    text: str
    bounce: bool = False
    connection_lost: bool = False
    sender_refused: bool = False  # a 5xx to MAIL FROM is about us, not the reader: stop the run


class ConnectionProblem(NewsletterError):
    """No usable connection to the SMTP server: the run stops, with the rest still pending."""


# -- one connection ------------------------------------------------------------------------------


def smtp_password(settings: SmtpSettings) -> str | None:
    if not settings.user:
        return None
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise NewsletterError(
            f"{PASSWORD_ENV} is not set, and [smtp] user = {settings.user!r} needs a password",
            path=Path("newsletter.toml"),
            field="smtp.user",
            hint=f"export {PASSWORD_ENV}=... (the password never goes into newsletter.toml)",
        )
    return password


def open_connection(settings: SmtpSettings, password: str | None) -> smtplib.SMTP:
    """Connect, say EHLO, secure the connection and log in, or raise ConnectionProblem saying why."""
    where = f"{settings.host}:{settings.port}"
    client: smtplib.SMTP | None = None
    try:
        if settings.security == "tls":
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        client.ehlo()
        if settings.security == "starttls":
            if not client.has_extn("starttls"):
                raise ConnectionProblem(
                    f"the SMTP server {where} does not offer STARTTLS",
                    hint='use security = "tls" for a port with TLS from the start (465)',
                )
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if settings.user and password is not None:
            client.login(settings.user, password)
        return client
    except ConnectionProblem:
        _close(client)
        raise
    except smtplib.SMTPAuthenticationError as exc:
        _close(client)
        raise ConnectionProblem(
            f"the SMTP server {where} did not accept the user name and password: {_reply_text(exc)}",
            field="smtp.user",
            hint=f"check [smtp] user in newsletter.toml and {PASSWORD_ENV}",
        ) from None
    except smtplib.SMTPConnectError as exc:
        _close(client)
        raise ConnectionProblem(
            f"the SMTP server {where} refused the connection: {_reply_text(exc)}"
        ) from None
    except ssl.SSLError as exc:
        _close(client)
        raise ConnectionProblem(
            f"TLS with the SMTP server {where} failed: {exc.reason or exc}",
            hint="the server's certificate must be valid for its host name",
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        _close(client)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise ConnectionProblem(f"cannot talk to the SMTP server {where}: {reason}") from None


def _close(client: smtplib.SMTP | None) -> None:
    if client is None:
        return
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def _reply_text(exc: smtplib.SMTPResponseException) -> str:
    message = (
        exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
    )
    return f"{exc.smtp_code} {message}"


def transact(client: smtplib.SMTP, outgoing: Outgoing) -> Result:
    """One message to its one envelope recipient: MAIL, RCPT, DATA, step by step, so that a broken
    conversation is known to have broken before the message went out (send it again), or after
    (`unknown`: the server may have it)."""
    options: list[str] = []
    if outgoing.smtputf8:
        if not client.has_extn("smtputf8"):
            return Result("failed", None, "the address needs SMTPUTF8, which this SMTP server does not offer")
        options = ["SMTPUTF8", "BODY=8BITMIME"]
    try:
        code, reply = client.mail(outgoing.envelope_from, options)
        if 500 <= code < 600:
            text = f"MAIL: {code} {reply.decode('utf-8', 'replace')}"
            return Result("pending", code, text, sender_refused=True)
        if code != 250:
            return classify(code, reply, "MAIL")
        code, reply = client.rcpt(outgoing.envelope_to)
        if code not in (250, 251):
            return classify(code, reply, "RCPT")
        client.putcmd("data")
        code, reply = client.getreply()
        if code != 354:
            return classify(code, reply, "DATA")
        client.send(_dot_stuffed(outgoing.data))
    except (OSError, smtplib.SMTPException) as exc:
        text = f"the connection broke off before the message was sent: {exc or type(exc).__name__}"
        return Result("pending", None, text, connection_lost=True)
    try:
        code, reply = client.getreply()
    except (OSError, smtplib.SMTPException) as exc:
        code, reply = -1, str(exc).encode()
    if code == 250:
        return Result("sent", code, reply.decode("utf-8", "replace"))
    if code == -1:  # no reply, or one without a code: the message may well have been accepted
        said = reply.decode("utf-8", "replace") or "nothing"
        text = f"no readable reply after the message was sent; the server may have accepted it ({said})"
        return Result("unknown", None, text, connection_lost=True)
    return classify(code, reply, "DATA")


def classify(code: int, reply: bytes, stage: str) -> Result:
    text = f"{stage}: {code} {reply.decode('utf-8', 'replace')}"
    if code == 421:
        return Result("deferred", code, text, connection_lost=True)  # the server closes after a 421
    if 400 <= code < 500 or code == 552:
        return Result("deferred", code, text)
    if code == -1:  # smtplib's way of saying the connection went away while waiting for the reply
        return Result("pending", None, f"{stage}: connection lost", connection_lost=True)
    bounce = stage == "RCPT" and 500 <= code < 600 and bool(HARD_BOUNCE.search(text))
    return Result("failed", code, text, bounce=bounce)


def _dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 section 4.5.2: a line starting with "." gets another; then the end-of-data line."""
    stuffed = re.sub(rb"(?m)^\.", b"..", data)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


# -- the run ---------------------------------------------------------------------------------------


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
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.attempted / self.seconds if self.seconds else 0.0


class _Run:
    """What the sending threads share: the queue, the limiter, the error count and the stop flag."""

    def __init__(
        self,
        entries: Sequence[Entry],
        composer: Composer,
        settings: SmtpSettings,
        password: str | None,
        database: Path,
        clock: Clock,
        on_result: Callable[[Entry, str], None],
    ) -> None:
        self.queue: deque[Entry] = deque(entries)
        self.composer = composer
        self.settings = settings
        self.password = password
        self.database = database
        self.clock = clock
        self.on_result = on_result
        self.limiter = RateLimiter(settings.rate)
        self.lock = threading.Lock()
        self.errors_in_a_row = 0
        self.retried: set[int] = set()
        self.report = RunReport(composer.campaign.id)
        self.crash: BaseException | None = None

    @property
    def stopping(self) -> bool:
        return self.report.paused is not None or self.report.stopped is not None or self.crash is not None

    def take(self) -> Entry | None:
        with self.lock:
            return None if self.stopping or not self.queue else self.queue.popleft()

    def tally(self, entry: Entry, state: str, result: Result) -> None:
        with self.lock:
            self.report.attempted += 1
            self.report.outcomes[state] += 1
            self.report.bounced += result.bounce
        if state == "sent":
            with self.lock:
                self.errors_in_a_row = 0
        else:
            self.count_error(result)
        self.on_result(entry, state)

    def count_error(self, result: Result) -> None:
        """Failures in a row mean something is wrong on our side or theirs: pause, do not burn the list."""
        with self.lock:
            self.errors_in_a_row += 1
            if self.errors_in_a_row >= self.settings.max_errors and self.report.paused is None:
                self.report.paused = f"{self.errors_in_a_row} failures in a row, the last: {result.text}"

    def first_try(self, entry: Entry) -> bool:
        """Whether this run has not yet put the entry back: a reader whose transaction keeps
        breaking off (a server that hangs on that address) must not hold up the rest."""
        with self.lock:
            if entry.subscriber_id in self.retried:
                return False
            self.retried.add(entry.subscriber_id)
            return True

    def stop(self, problem: NewsletterError) -> None:
        with self.lock:
            if self.report.stopped is None:
                self.report.stopped = problem

    def work(self) -> None:
        """One sending thread: its own SMTP connection, reused (RSET between messages) and renewed
        every `messages_per_connection`, and its own database connection."""
        client: smtplib.SMTP | None = None
        used = 0
        try:
            with connect(self.database) as store:
                store.connection.execute("PRAGMA synchronous = NORMAL")  # survives a killed process
                while (entry := self.take()) is not None:
                    self.limiter.wait()
                    try:  # connect before the row says `sending`: a hanging server is not "maybe sent"
                        client, used = self._ready(client, used)
                    except ConnectionProblem as problem:
                        self.stop(problem)
                        break
                    recipient = Recipient(entry.email, entry.name, entry.subscriber_id)
                    outgoing = self.composer.compose(recipient)
                    sendlog.mark_sending(store, entry, outgoing.message_id, self.clock())
                    result = transact(client, outgoing)
                    used += 1
                    if result.state == "pending" and (result.sender_refused or self.first_try(entry)):
                        # Nothing reached the server: once more, first in line, on a new connection.
                        sendlog.release(store, entry, self.clock())
                        with self.lock:
                            self.queue.appendleft(entry)
                        if result.sender_refused:
                            self.stop(_sender_refused(outgoing.envelope_from, result.text))
                            break
                        self.count_error(result)
                    elif result.state == "pending" and entry.state == "unknown":
                        sendlog.release(store, entry, self.clock())  # still maybe delivered earlier
                        self.count_error(result)
                    else:
                        if result.state == "pending":  # broke off twice: a later run tries again
                            result = replace(result, state="deferred")
                        state = sendlog.record(
                            store,
                            entry,
                            result,
                            self.clock(),
                            retry_after=self.settings.retry_after,
                            max_attempts=self.settings.max_attempts,
                        )
                        self.tally(entry, state, result)
                    if result.connection_lost:
                        client.close()
                        client, used = None, 0
        except BaseException as exc:  # a bug: stop the other threads too, and re-raise in the main thread
            with self.lock:
                self.crash = exc
        finally:
            _close(client)

    def _ready(self, client: smtplib.SMTP | None, used: int) -> tuple[smtplib.SMTP, int]:
        if client is not None and used < self.settings.messages_per_connection:
            try:
                code, _ = client.rset()
                if code == 250:
                    return client, used
            except (OSError, smtplib.SMTPException):
                pass
        _close(client)
        return open_connection(self.settings, self.password), 0


def _sender_refused(sender: str, reply: str) -> ConnectionProblem:
    return ConnectionProblem(
        f"the SMTP server refused the sender address {sender} ({reply})",
        field="sender.address",
        hint="the server must allow this account to send as this address (and SPF/DMARC must match)",
    )


def run(
    database: Path,
    campaign: str,
    composer: Composer,
    settings: SmtpSettings,
    *,
    retry_unknown: bool = False,
    clock: Clock = utc_now,
    on_start: Callable[[int], None] = lambda total: None,
    on_result: Callable[[Entry, str], None] = lambda entry, state: None,
) -> RunReport:
    """Send every due row of the campaign's log. The caller holds `sendlog.campaign_lock`."""
    password = smtp_password(settings)
    started = time.monotonic()
    with connect(database) as store:
        recovered = sendlog.recover_interrupted(store, campaign, clock())
        entries, skipped = [], 0
        for entry in sendlog.due(store, campaign, clock(), retry_unknown=retry_unknown):
            if entry.subscriber_status != "active":
                sendlog.skip(
                    store, entry, f"not sent: the subscriber is {entry.subscriber_status} now", clock()
                )
                skipped += 1
            else:
                entries.append(entry)
    on_start(len(entries))
    shared = _Run(entries, composer, settings, password, database, clock, on_result)
    shared.report.recovered_unknown = recovered
    shared.report.skipped = skipped
    threads = [
        threading.Thread(target=shared.work, name=f"smtp-{number}", daemon=True)
        for number in range(min(settings.connections, len(entries)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if shared.crash is not None:
        raise shared.crash
    shared.report.seconds = time.monotonic() - started
    return shared.report


def plan(subscribers: Sequence[Subscriber], locale: str, tags: Sequence[str], logged: set[int]) -> Plan:
    """Who gets the campaign, and everyone of its locale who does not, with the reason."""
    result = Plan()
    wanted = set(tags)
    for subscriber in subscribers:
        if subscriber.locale != locale:
            result.other_locales += 1
        elif subscriber.status != "active":
            result.excluded.append((subscriber.email, subscriber.status))
        elif not wanted <= set(subscriber.tags):
            missing = ", ".join(sorted(wanted - set(subscriber.tags)))
            result.excluded.append((subscriber.email, f"not tagged {missing}"))
        elif subscriber.id in logged:
            result.excluded.append((subscriber.email, "already in this campaign's send log"))
        else:
            result.recipients.append(subscriber)
    return result


@dataclass
class Plan:
    recipients: list[Subscriber] = field(default_factory=list)
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (address, why)
    other_locales: int = 0
