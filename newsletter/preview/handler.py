"""The preview server's HTTP side: which requests it answers, for whom, and with which headers.

The server listens on 127.0.0.1 only, but that alone does not keep build/ private. Any web page the
editor has open can make the browser send requests to 127.0.0.1, and with DNS rebinding (a name of
the attacker's that first resolves to their server, then to 127.0.0.1) it can read the answers too,
as the pages then share its origin. And build/ holds more than review pages: the dry run's outbox
(each reader's address and name, and an unsubscribe token that works), the build records, and
whatever else lands there. So the handler:

- answers only an allow-list of URLs (`page_path`): the gallery, each campaign's review page and its
  email, and the reload stream. Everything else is 404, folders included: there are no listings;
- answers only requests addressed to this server by name (`check_host`), which defeats rebinding:
  the browser sends the attacker's name in `Host`;
- answers anything odd (bad encoding, a path that climbs out, an unknown method) with a complete
  4xx response instead of a traceback or a dropped connection;
- sends `SECURITY_HEADERS` with every response.
"""

from __future__ import annotations

import logging
import re
import socket
import sys
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote_to_bytes

from newsletter.errors import NewsletterError
from newsletter.project.models import CAMPAIGN_ID

log = logging.getLogger(__name__)

RELOAD_PATH = "/__reload"
HOST = "127.0.0.1"  # the only address the server binds
CAMPAIGN_PAGES = ("preview.html", "email.html")  # the files of build/<id>/ that are served
ALLOWED_METHODS = ("GET", "HEAD")
MAX_TARGET = 2048  # characters in a request target; the longest URL served is well under 200
MAX_DISCARDED = 1 << 20  # bytes of a refused request read and dropped, so that its answer arrives
LINGER_SECONDS = 1.0  # how long a refused client may take to send them
REQUEST_TIMEOUT = 30  # seconds a client may take to send its request
# frame-ancestors and X-Frame-Options: only a page of this server may frame one (the review pages
# frame the email through srcdoc, which is the same origin); CORP keeps other sites' pages from
# loading the files as resources.
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("Content-Security-Policy", "frame-ancestors 'self'"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
# A request target's path as RFC 3986 allows it: unreserved and sub-delimiter characters, ":", "@",
# "/" and well-formed percent escapes. Browsers escape everything else, so nothing real is refused.
_PATH = re.compile(r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_VERSION = re.compile(r"[0-9]{1,18}")  # the reload stream's `since`


class Site(Protocol):
    """What the handler needs of the preview server (`server.PreviewServer` is one)."""

    out: Path

    def current(self) -> tuple[int, tuple[NewsletterError, ...], str | None]: ...

    def wait_for_change(self, since: int, timeout: float) -> int | None: ...

    def decorate(self, page: str) -> str: ...

    def error_page(self) -> str: ...


class Refused(Exception):
    """A request answered with an error status and a short plain-text reason."""

    def __init__(self, status: HTTPStatus, reason: str = "", allow: str | None = None) -> None:
        super().__init__(reason or status.phrase)
        self.status = status
        self.reason = reason or status.phrase
        self.allow = allow  # the Allow header of a 405


@dataclass(frozen=True)
class Target:
    """A request target that passed `split_target`: the decoded path's segments, and the raw query."""

    segments: tuple[str, ...]  # "/a/b.html" is ("a", "b.html"), "/" is ("",)
    query: str


def split_target(target: str) -> Target:
    """The request target as path segments, or `Refused` (414, 400) for one no browser would send for
    a page of this server: too long, not a path ("*", "http://..."), characters a URL must escape
    (backslashes among them), a broken percent escape, or escapes that decode to invalid UTF-8 or
    to control characters (NUL among them)."""
    if len(target) > MAX_TARGET:
        raise Refused(HTTPStatus.REQUEST_URI_TOO_LONG)
    path, _, query = target.partition("?")
    if not _PATH.fullmatch(path):
        raise Refused(HTTPStatus.BAD_REQUEST, "the request target is not a well-formed path")
    try:
        decoded = unquote_to_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(HTTPStatus.BAD_REQUEST, "the path is not UTF-8") from None
    if _CONTROL.search(decoded) or "\\" in decoded:
        raise Refused(HTTPStatus.BAD_REQUEST, "the path holds control characters or backslashes")
    return Target(tuple(decoded[1:].split("/")), query)


def page_path(segments: tuple[str, ...]) -> PurePosixPath | None:
    """The file under build/ that a URL shows, or None: the URL is not served (a 404).

    The allow-list, by what `newsletter.build` writes for the review pages: `/` and `/index.html` are
    the gallery; `/<id>/preview.html` and `/<id>/email.html` are a campaign's review page and the
    email it shows, where <id> has the form of a campaign id (`CAMPAIGN_ID`: no dots, so no `..`, no
    dot files). Nothing else is: no folder, no email.txt, meta.json, records, screenshots or outbox.
    The pages need nothing more: their CSS, scripts and images are inline.
    """
    match segments:
        case ("",) | ("index.html",):
            return PurePosixPath("index.html")
        case (campaign, name) if CAMPAIGN_ID.fullmatch(campaign) and name in CAMPAIGN_PAGES:
            return PurePosixPath(campaign, name)
    return None


def read_page(out: Path, page: PurePosixPath) -> str | None:
    """The page's text, or None when it is not a regular file reached without a symbolic link below
    `out` (a link could lead out of build/, or to the outbox inside it); `out` itself may be one."""
    try:
        root = out.resolve(strict=True)
        wanted = root.joinpath(*page.parts)
        if wanted.resolve(strict=True) != wanted or not wanted.is_file():
            return None
        return wanted.read_text(encoding="utf-8", errors="replace")
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop
        return None


def allowed_hosts(port: int) -> frozenset[str]:
    """The Host values of a request meant for this server: its address or `localhost`, with its port
    (which a browser leaves out only for port 80). The server binds 127.0.0.1 only, so `[::1]` is no
    name of it."""
    names = (HOST, "localhost")
    bare = names if port == 80 else ()
    return frozenset({*(f"{name}:{port}" for name in names), *bare})


def check_host(values: list[str] | None, port: int) -> None:
    """`Refused` unless the request names this server in exactly one Host header.

    A request without Host is refused (400) as well, HTTP/1.0 ones included: every browser sends
    Host, whatever the version, and a request without it cannot show that it was meant for this
    server rather than for a name rebound to 127.0.0.1. Another name is 421 Misdirected Request.
    """
    if not values or len(values) != 1:
        raise Refused(HTTPStatus.BAD_REQUEST, "a request needs exactly one Host header")
    if values[0].strip().lower() not in allowed_hosts(port):
        raise Refused(HTTPStatus.MISDIRECTED_REQUEST, f"this server answers only to {HOST}:{port}")


class PreviewHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, site: Site) -> None:
        self.site = site
        super().__init__((HOST, port), Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is no error; anything else is a bug in the handler: logged, once."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.debug("connection from %s ended: %r", client_address, error)
            return
        log.error("the preview server failed on a request from %s", client_address, exc_info=True)


def bind(port: int, site: Site) -> PreviewHTTPServer:
    """The server on `port` of 127.0.0.1, or on a free one when that is taken (`port=0`: any)."""
    try:
        return PreviewHTTPServer(port, site)
    except OSError:
        if port == 0:
            raise
        return PreviewHTTPServer(0, site)


class Handler(BaseHTTPRequestHandler):
    """GET and HEAD of the allow-listed pages, GET of the reload stream; a plain 4xx for the rest."""

    server: PreviewHTTPServer
    server_version = "newsletter-preview"
    timeout = REQUEST_TIMEOUT
    linger = False  # set for a refused request: see `finish`

    def parse_request(self) -> bool:
        """The stdlib's parsing, then the checks every request must pass before any route runs."""
        if not super().parse_request():
            return False
        try:
            if self.command not in ALLOWED_METHODS:
                raise Refused(HTTPStatus.METHOD_NOT_ALLOWED, allow=", ".join(ALLOWED_METHODS))
            check_host(self.headers.get_all("Host"), self.server.port)
        except Refused as refused:
            self._refuse(refused)
            return False
        return True

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, *, with_body: bool) -> None:
        try:
            target = split_target(self.path)
            if target.segments == (RELOAD_PATH[1:],):
                if not with_body:
                    raise Refused(HTTPStatus.METHOD_NOT_ALLOWED, allow="GET")
                self._events(target.query)
                return
            status, page = self._page(target)
        except Refused as refused:
            self._refuse(refused)
            return
        self._send(status, "text/html", page, with_body)

    def _page(self, target: Target) -> tuple[HTTPStatus, str]:
        """An allow-listed page as served (see `Site.decorate`); the error page for one that a failed
        build left unwritten; else `Refused` (404)."""
        site = self.server.site
        page = page_path(target.segments)
        if page is None:
            raise Refused(HTTPStatus.NOT_FOUND)
        text = read_page(site.out, page)
        if text is not None:
            return HTTPStatus.OK, site.decorate(text)
        if any(site.current()[1:]):
            return HTTPStatus.INTERNAL_SERVER_ERROR, site.error_page()
        raise Refused(HTTPStatus.NOT_FOUND)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's errors (a malformed request line or header, one too long) as ours: plain text
        with the security headers. Its message quotes the request: shortened, never HTML."""
        status = HTTPStatus(code)
        reason = (message or status.phrase)[:200]
        self._refuse(Refused(status, reason))

    def version_string(self) -> str:
        return self.server_version  # not Python's version: nobody needs it

    def end_headers(self) -> None:
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _refuse(self, refused: Refused) -> None:
        """A complete answer, then the connection closes: after a bad request, what follows on the
        connection cannot be trusted to be a request."""
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # a status line and headers, which any client reads
        self.log_error("%d %s", refused.status, refused.reason)
        self.close_connection = True
        self.linger = True
        status = f"{refused.status.value} {refused.status.phrase}"
        text = status if refused.reason == refused.status.phrase else f"{status}: {refused.reason}"
        body = f"{text}\n".encode()
        self.send_response(refused.status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        if refused.allow:
            self.send_header("Allow", refused.allow)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def finish(self) -> None:
        """After a refusal, a lingering close: the rest of the request (a POST's body, the end of a
        request line too long to read) is read and dropped, within bounds, before the socket closes.
        Closing a socket with unread data resets the connection, and the client might lose the
        answer it was sent."""
        super().finish()
        if not self.linger:
            return
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            for _ in range(MAX_DISCARDED // 65536):
                if not self.connection.recv(65536):
                    break
        except OSError:
            return

    def _send(self, status: HTTPStatus, kind: str, text: str, with_body: bool) -> None:
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def _events(self, query: str) -> None:
        """Server-Sent Events: one message when the build changes from `since` (the version the page
        was served at), a comment every 10 s in between (so a closed page is found out)."""
        site = self.server.site
        values = parse_qs(query).get("since", [])
        # ASCII digits only: str.isdigit() holds for "²" too, which int() refuses
        since = int(values[0]) if values and _VERSION.fullmatch(values[0]) else site.current()[0]
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            self.wfile.write(b"retry: 500\n\n")
            self.wfile.flush()
            while True:
                version = site.wait_for_change(since, timeout=10)
                if version is None:
                    return
                if version != since:
                    self.wfile.write(f"data: {version}\n\n".encode())
                    self.wfile.flush()
                    return
                self.wfile.write(b": still here\n\n")
                self.wfile.flush()
        except (ConnectionError, TimeoutError):
            return
