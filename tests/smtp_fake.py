"""A real SMTP server on loopback for tests: records what it receives and fails on request.

Built on aiosmtpd's threaded ``Controller`` (its own thread and event loop); the product's ``smtplib`` client
talks to it over a real TCP socket::

    with FakeSMTP() as fake:
        with smtplib.SMTP(fake.host, fake.port) as client:
            client.send_message(message)
        assert fake.messages[0].rcpt_tos == ["reader@example.org"]

Options: ``auth={"user": "password"}`` (AUTH PLAIN/LOGIN offered and required before MAIL, without TLS since
this is loopback; wrong credentials get 535) and ``starttls=True`` (a throw-away self-signed certificate for
127.0.0.1/localhost, made at ``start()`` with the ``openssl`` command line because the ``cryptography``
package is not installed; ``.cafile`` lets a client verify it).

Faults, each for the next ``times`` occurrences (``None``: always), and for RCPT optionally for one address:
``fail_connect``, ``fail_mail_from``, ``fail_rcpt``, ``fail_data``, ``drop_before_data``, ``drop_after_data``;
``stop()`` while a client is connected closes its connection too. A reply with code 421 closes the connection
after it is sent, as real servers do. ``data_delay`` (seconds) makes a slow server: each message is recorded,
then its reply waits that long, so a client can be stopped with transactions in flight.

What happened is recorded in ``messages`` (delivered messages), ``sessions`` (connections opened) and
``commands`` (``(session number, verb)`` for every command, so tests can assert connection reuse and RSET).
Records are written before the reply that acknowledges them is sent, so once the client has its reply the
record is there; ``wait_for`` waits with a bound anyway for clients that do not wait for replies.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import shutil
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, AnyStr, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
# Given explicitly: aiosmtpd would otherwise call socket.getfqdn() (a DNS lookup) for every connection.
SERVER_HOSTNAME = "fake-smtp.test"

DEFAULT_REPLIES = {
    421: "4.3.2 Service not available, closing transmission channel",
    450: "4.2.1 Mailbox temporarily unavailable",
    451: "4.3.0 Requested action aborted: local error in processing",
    452: "4.3.1 Insufficient system storage",
    550: "5.1.1 Mailbox unavailable",
    552: "5.2.2 Mailbox full",
    553: "5.1.3 Mailbox name not allowed",
    554: "5.0.0 Transaction failed",
}

FAULT_KINDS = (
    "connect",
    "mail_from",
    "rcpt",
    "drop_at_rcpt",
    "data",
    "drop_before_data",
    "drop_after_data",
    "garble_after_data",
)


@dataclass(frozen=True)
class Delivered:
    """One message the server accepted (or, with ``drop_after_data``, accepted without saying so)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # as received, CRLF line ends, dot-stuffing removed
    message: EmailMessage  # parsed with email.policy.default, line ends as LF
    peer: tuple[str, int]
    session: int
    mail_options: list[str] = field(default_factory=list)
    authenticated_as: str | None = None
    tls: bool = False


@dataclass
class _Fault:
    code: int
    message: str
    times: int | None  # None: every time
    address: str | None = None  # RCPT only; None: any recipient

    @property
    def reply(self) -> str:
        return f"{self.code} {self.message}"


def _reply(code: int, message: str | None) -> str:
    if not 400 <= code <= 599:
        raise ValueError(f"a failure reply needs a 4xx or 5xx code, not {code}")
    return message if message is not None else DEFAULT_REPLIES.get(code, "Failed on purpose")


def _make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed EC certificate for 127.0.0.1 and localhost, by the ``openssl`` command line."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("FakeSMTP(starttls=True) needs the openssl command line to make its certificate")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            f"subjectAltName=IP:{HOST},DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


class _Handler:
    """aiosmtpd handler hooks: envelope faults and recording."""

    def __init__(self, fake: FakeSMTP) -> None:
        self.fake = fake

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if self.fake.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        fault = self.fake._take("mail_from")
        if fault is not None:
            return fault.reply
        # A handle_MAIL hook is responsible for the envelope (aiosmtpd only fills it without the hook).
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        fault = self.fake._take("rcpt", address)
        if fault is not None:
            return fault.reply
        if self.fake._take("drop_at_rcpt", address) is not None:
            cast(_FaultySMTP, server).drop_next_reply = True
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self.fake._take("data")
        if fault is not None:
            return fault.reply
        smtp = cast(_FaultySMTP, server)
        data = bytes(envelope.original_content or b"")
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        delivered = Delivered(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            data=data,
            # Parsed from the wire bytes with CRLF turned into LF: bodies read back as the product wrote them
            # (the parser keeps CRLF inside text parts otherwise).
            message=email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=email.policy.default),
            peer=cast(tuple[str, int], session.peer),
            session=smtp.session_number,
            mail_options=list(envelope.mail_options),
            authenticated_as=login.decode() if login is not None else None,
            tls=session.ssl is not None,
        )
        self.fake._record_message(delivered)
        if self.fake.data_delay:  # a slow server: the message is here, the client waits for the reply
            await asyncio.sleep(self.fake.data_delay)
        if self.fake._take("drop_after_data") is not None:
            smtp.drop_next_reply = True
        if self.fake._take("garble_after_data") is not None:
            return "OK queued as 12345"  # no reply code: smtplib reads code -1
        return "250 2.0.0 OK: queued"


class _Session(Session):
    """aiosmtpd's smtp_AUTH sets the deprecated ``login_data``, logging a warning each time; just store it."""

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class _FaultySMTP(SMTP):
    """aiosmtpd's SMTP protocol (one instance per connection), with connection faults and a command log."""

    def __init__(self, fake: FakeSMTP, handler: _Handler, probe: bool, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.fake = fake
        self.probe = probe  # the connection Controller.start() makes to check the server answers
        self.session_number = 0
        self.drop_next_reply = False
        self.closed: asyncio.Future[None] = self.loop.create_future()
        # Log every command verb on its way to its smtp_* method (aiosmtpd keeps them in this dict).
        self._smtp_methods = {verb: self._logged(verb, method) for verb, method in self._smtp_methods.items()}

    def _logged(self, verb: str, method: Callable[[str | None], Awaitable[None]]) -> Callable[..., Any]:
        async def run(arg: str | None) -> None:
            if not self.probe:
                self.fake._record_command(self.session_number, verb)
            if verb == "DATA" and self.fake._take("drop_before_data") is not None:
                self.drop()  # the client never sees the 354
                return
            await method(arg)

        return run

    def _create_session(self) -> Session:
        return _Session(self.loop)

    def drop(self) -> None:
        """Close the connection now, without a reply (the client reads end of file)."""
        if self.transport is not None:
            self.transport.close()

    async def _handle_client(self) -> None:
        if not self.probe:
            self.session_number = self.fake._open_session(self)
            fault = self.fake._take("connect")
            if fault is not None:
                await self.push(fault.reply)  # instead of the 220 greeting
                self.drop()
                return
        await super()._handle_client()

    async def push(self, status: AnyStr) -> None:
        if self.drop_next_reply:
            self.drop_next_reply = False
            self.drop()
            return
        await super().push(status)
        line = status if isinstance(status, bytes) else status.encode()
        if line.startswith(b"421"):
            self.drop()

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        if not self.closed.done():
            self.closed.set_result(None)
        self.fake._close_session(self)


class _Controller(Controller):
    def __init__(self, fake: FakeSMTP, port: int, ready_timeout: float) -> None:
        super().__init__(fake._handler, hostname=HOST, port=port, ready_timeout=ready_timeout)
        self.fake = fake
        self.probing = True

    def factory(self) -> _FaultySMTP:
        return _FaultySMTP(
            self.fake,
            self.fake._handler,
            self.probing,
            hostname=SERVER_HOSTNAME,
            enable_SMTPUTF8=True,
            data_size_limit=self.fake.data_size_limit,
            tls_context=self.fake._tls_context,
            auth_require_tls=False,
            authenticator=self.fake._authenticate if self.fake.auth is not None else None,
            loop=self.loop,
        )

    def _trigger_server(self) -> None:
        # aiosmtpd 1.4 binds port 0 happily but then probes port 0; learn the real port from the socket first.
        server = cast(asyncio.Server, self.server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class FakeSMTP:
    """An SMTP server on 127.0.0.1 (a free port) in its own thread, recording and failing on request."""

    def __init__(
        self,
        *,
        auth: dict[str, str] | None = None,
        starttls: bool = False,
        data_size_limit: int | None = 33_554_432,
        ready_timeout: float = 2.0,
        data_delay: float = 0.0,
    ) -> None:
        self.auth = dict(auth) if auth is not None else None
        self.data_delay = data_delay
        self.starttls = starttls
        self.data_size_limit = data_size_limit
        self.ready_timeout = ready_timeout
        self.host = HOST
        self.port = 0
        self.cafile: str | None = None
        self.messages: list[Delivered] = []
        self.sessions = 0
        self.commands: list[tuple[int, str]] = []
        self._changed = threading.Condition()
        self._faults: dict[str, list[_Fault]] = {kind: [] for kind in FAULT_KINDS}
        self._live: set[_FaultySMTP] = set()
        self._handler = _Handler(self)
        self._controller: _Controller | None = None
        self._tls_context: ssl.SSLContext | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> FakeSMTP:
        if self._controller is not None:
            raise RuntimeError("FakeSMTP is already running")
        if self.starttls and self._tls_context is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="fake-smtp-")
            key, cert = _make_certificate(Path(self._tempdir.name))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            self._tls_context = context
            self.cafile = str(cert)
        # A restart keeps the port (asyncio binds with SO_REUSEADDR), so a client can reconnect to it.
        controller = _Controller(self, self.port, self.ready_timeout)
        controller.start()  # returns once the server has answered a probe connection: no sleeps needed
        controller.probing = False
        self._controller = controller
        self.port = controller.port
        return self

    def stop(self) -> None:
        """Stop listening and close every open connection (a fault too: clients see a connection error)."""
        controller = self._controller
        if controller is None:
            return
        self._controller = None
        # aiosmtpd's Controller.stop() cancels the tasks and closes the listening socket but, on Python 3.11,
        # may close the loop with client sockets still open, so clients would hang: close them first.
        future = asyncio.run_coroutine_threadsafe(self._close_connections(controller), controller.loop)
        future.result(timeout=self.ready_timeout)
        controller.stop()

    async def _close_connections(self, controller: _Controller) -> None:
        if controller.server is not None:
            controller.server.close()
        live = list(self._live)
        for server in live:
            server.drop()
        if live:
            await asyncio.wait([server.closed for server in live], timeout=self.ready_timeout)

    def close(self) -> None:
        self.stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None
            self._tls_context = None
            self.cafile = None

    def __enter__(self) -> FakeSMTP:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._controller is not None

    # -- faults ----------------------------------------------------------------------------------------------

    def fail_connect(self, code: int = 421, message: str | None = None, times: int | None = 1) -> None:
        """Greet the next ``times`` connections with ``code`` instead of 220, then close them."""
        self._add("connect", _Fault(code, _reply(code, message), times))

    def fail_mail_from(self, code: int = 451, message: str | None = None, times: int | None = 1) -> None:
        """Refuse the next ``times`` MAIL FROM commands."""
        self._add("mail_from", _Fault(code, _reply(code, message), times))

    def fail_rcpt(
        self, address: str | None, code: int = 550, message: str | None = None, times: int | None = None
    ) -> None:
        """Refuse RCPT TO for ``address`` (``None``: any recipient), always unless ``times`` is given."""
        self._add("rcpt", _Fault(code, _reply(code, message), times, address))

    def drop_at_rcpt(self, address: str | None, times: int | None = None) -> None:
        """Close the connection instead of answering RCPT TO for ``address`` (a server that hangs on it)."""
        self._add("drop_at_rcpt", _Fault(0, "", times, address))

    def fail_data(self, code: int = 451, message: str | None = None, times: int | None = 1) -> None:
        """Answer the end of the next ``times`` messages with ``code``; those messages are not recorded."""
        self._add("data", _Fault(code, _reply(code, message), times))

    def drop_before_data(self, times: int | None = 1) -> None:
        """Close the connection when DATA arrives, before the 354."""
        self._add("drop_before_data", _Fault(0, "", times))

    def drop_after_data(self, times: int | None = 1) -> None:
        """Record the message, then close the connection instead of replying 250 (the "unknown" outcome)."""
        self._add("drop_after_data", _Fault(0, "", times))

    def garble_after_data(self, times: int | None = 1) -> None:
        """Record the message, then answer with a line that has no reply code."""
        self._add("garble_after_data", _Fault(0, "", times))

    def clear_faults(self) -> None:
        with self._changed:
            for faults in self._faults.values():
                faults.clear()

    def _add(self, kind: str, fault: _Fault) -> None:
        if fault.times is not None and fault.times < 1:
            raise ValueError("times must be at least 1, or None for always")
        with self._changed:
            self._faults[kind].append(fault)

    def _take(self, kind: str, address: str | None = None) -> _Fault | None:
        """The first matching fault of ``kind``, used up once; faults added first win."""
        with self._changed:
            faults = self._faults[kind]
            for fault in faults:
                if fault.address is not None and (address or "").lower() != fault.address.lower():
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        faults.remove(fault)
                return fault
        return None

    # -- records ---------------------------------------------------------------------------------------------

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Delivered]:
        """Wait until at least ``count`` messages are recorded; TimeoutError after ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(f"{len(self.messages)} message(s) after {timeout} s, expected {count}")
            return list(self.messages)

    def clear(self) -> None:
        """Forget messages, sessions and commands (faults stay)."""
        with self._changed:
            self.messages.clear()
            self.commands.clear()
            self.sessions = 0

    def verbs(self, session: int | None = None) -> list[str]:
        """The command verbs received, of one session or all."""
        with self._changed:
            return [verb for number, verb in self.commands if session is None or number == session]

    def _open_session(self, server: _FaultySMTP) -> int:
        with self._changed:
            self.sessions += 1
            self._live.add(server)
            self._changed.notify_all()
            return self.sessions

    def _close_session(self, server: _FaultySMTP) -> None:
        with self._changed:
            self._live.discard(server)

    def _record_command(self, session: int, verb: str) -> None:
        with self._changed:
            self.commands.append((session, verb))
            self._changed.notify_all()

    def _record_message(self, delivered: Delivered) -> None:
        with self._changed:
            self.messages.append(delivered)
            self._changed.notify_all()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.auth is not None
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if login in self.auth and self.auth[login] == password:
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)


# -- a project pointed at the fake ------------------------------------------------------------


def smtp_section(port: int, **options: object) -> str:
    settings: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "connections": 1,
        "retry_after": 0,
        "max_errors": 50,
        **options,
    }
    lines = [f"{key} = {_toml(value)}" for key, value in settings.items()]
    return "\n[smtp]\n" + "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    return (
        f'"{value}"'
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )


def configure(project: Path, port: int, **options: object) -> None:
    """Point [smtp] (kept the last table of the file) at the fake, replacing an earlier [smtp]."""
    settings = project / "newsletter.toml"
    text = settings.read_text(encoding="utf-8").split("\n[smtp]\n")[0]
    settings.write_text(text + smtp_section(port, **options), encoding="utf-8")
