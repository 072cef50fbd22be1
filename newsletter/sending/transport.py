"""Where composed messages go: an SMTP server (`Smtp`), the dry run's folder of .eml files (`Outbox`),
or a list (`Memory`). The dry run, the test send and the real send differ in their transport and in
whether they keep the send log, not in how they compose and hand over a message (run.py).

A transport is a context manager: `ready()` before each message, `deliver(outgoing)` for it,
`abort()` from another thread to cut a delivery off (a second Ctrl-C), and leaving the block ends
it (the SMTP connection is closed; the outbox is published, or thrown away if the block raised).
`ready()` is separate from `deliver()` so that the run connects before it commits a row as
`sending`: a server that never answers must leave readers pending, not "maybe sent".

How SMTP replies are read (RFC 5321): 4xx is temporary, so the recipient is deferred and retried
later with a doubling wait; 552 counts as temporary too (RFC 5321 section 4.5.3.1.10); other 5xx
fail that recipient, and one that says the mailbox does not exist (5.1.x, "user unknown") marks the
subscriber bounced. A connection that cannot be opened (refused, 421 greeting, authentication, TLS)
is a ConnectionProblem. A connection lost after the message data went out leaves that recipient
`unknown`: the server may have delivered it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import smtplib
import socket
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from newsletter.errors import NewsletterError
from newsletter.project.environment import SMTP_PASSWORD as PASSWORD_ENV
from newsletter.project.environment import Secrets
from newsletter.store.sendlog import Result

if TYPE_CHECKING:
    from newsletter.project.settings import SmtpSettings
    from newsletter.sending.message import Outgoing

# The mailbox does not exist: enhanced status codes 5.1.1-5.1.3 and 5.1.10, or the words for it.
HARD_BOUNCE = re.compile(
    r"\b5\.1\.(?:1|2|3|10)\b|user unknown|unknown user|no such user|does not exist|recipient rejected",
    re.IGNORECASE,
)


class ConnectionProblem(NewsletterError):
    """No usable connection to the SMTP server: the run stops, with the rest still pending."""


class Transport(Protocol):
    def ready(self) -> None:
        """Be able to take the next message now, or raise ConnectionProblem."""

    def deliver(self, outgoing: Outgoing) -> Result:
        """Hand over one message; after `ready()`."""

    def abort(self) -> None:
        """From another thread: make a `deliver` in progress return now (its outcome as far as it got)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None: ...


# -- in memory -------------------------------------------------------------------------------------


class Memory:
    """Keeps every message. `reply` decides each result (default: accepted), so tests can make the run
    meet any SMTP outcome without a server."""

    def __init__(self, reply: Callable[[Outgoing], Result] | None = None) -> None:
        self.messages: list[Outgoing] = []
        self.reply = reply or (lambda outgoing: Result("sent", 250, "kept in memory"))

    def ready(self) -> None:
        pass

    def deliver(self, outgoing: Outgoing) -> Result:
        self.messages.append(outgoing)
        return self.reply(outgoing)

    def abort(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


# -- the dry run's outbox -------------------------------------------------------------------------


class Outbox:
    """Writes each message as `000001-<address>.eml`, numbered in delivery order, into a staging folder
    beside `folder` that replaces `folder` as a whole when the block ends without an error: a dry run
    that fails halfway leaves the previous outbox as it was."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.staging: Path | None = None
        self.staging_fd = -1  # files are opened relative to it: no path to build and resolve each time
        self.written = 0

    def ready(self) -> None:
        pass

    def deliver(self, outgoing: Outgoing) -> Result:
        if self.staging is None:
            raise RuntimeError("an Outbox delivers inside its `with` block")
        self.written += 1
        name = f"{self.written:06d}-{_file_safe(outgoing.recipient.email)}.eml"
        try:
            _write(self.staging_fd, name, outgoing.data)
        except OSError as exc:  # a full disk, say: the outbox as it was stays, and nothing was sent
            raise NewsletterError(
                f"cannot write the dry run's outbox: {exc.strerror or exc}",
                path=self.folder,
                hint="free some space (or write fewer messages with --limit); the outbox of the last "
                "dry run is left as it was",
            ) from None
        return Result("sent", None, f"written to {name}")

    def abort(self) -> None:
        pass

    def __enter__(self) -> Self:
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=".outbox-", dir=self.folder.parent))
        self.staging_fd = os.open(self.staging, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        staging, self.staging = self.staging, None
        if staging is None:
            return
        os.close(self.staging_fd)
        try:
            if kind is None:
                _replace_directory(self.folder, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # gone already when it took the folder's place


def _write(folder_fd: int, name: str, data: bytes) -> None:
    """os.open and os.write rather than Path.write_bytes: a third less time per file, which a dry run
    of 100,000 messages notices."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666, dir_fd=folder_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _file_safe(address: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", address)[:80]


def _replace_directory(target: Path, new: Path) -> None:
    """Two renames, so that the old outbox is whole until the new one takes its place; only then is
    it deleted (the slow part, for 100,000 files)."""
    old = new.with_name(new.name + "-old")
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


# -- SMTP -----------------------------------------------------------------------------------------


class Smtp:
    """One SMTP connection, opened by the first `ready()`, reused (RSET between messages), renewed
    every `messages_per_connection` and after a lost connection."""

    def __init__(self, settings: SmtpSettings, password: str | None) -> None:
        self.settings = settings
        self.password = password
        self.client: smtplib.SMTP | None = None
        self.used = 0

    def ready(self) -> None:
        if self.client is not None and self.used < self.settings.messages_per_connection:
            try:
                code, _ = self.client.rset()
                if code == 250:
                    return
            except (OSError, smtplib.SMTPException):
                pass
        _close(self.client)
        self.client, self.used = None, 0
        self.client = open_connection(self.settings, self.password)

    def deliver(self, outgoing: Outgoing) -> Result:
        if self.client is None:
            raise RuntimeError("Smtp.deliver before ready()")
        result = transact(self.client, outgoing)
        self.used += 1
        if result.connection_lost:
            self.client.close()
            self.client, self.used = None, 0
        return result

    def abort(self) -> None:
        """Shut the socket down under the sending thread: its read or write fails at once, and the
        transaction ends as a lost connection (`unknown` once the message data went out)."""
        client = self.client
        sock = client.sock if client is not None else None
        if sock is None:
            return
        with contextlib.suppress(OSError):  # closed meanwhile: nothing left to cut off
            sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        _close(self.client)
        self.client = None


def smtp_password(settings: SmtpSettings, secrets: Secrets) -> str | None:
    if not settings.user:
        return None
    password = secrets.smtp_password
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
