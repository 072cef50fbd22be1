"""`newsletter serve`: the WSGI app driven over real HTTP (waitress on a free port of 127.0.0.1), and the
confirm-then-done flow in real headless Chromium.

What matters most: a GET never unsubscribes (mail scanners fetch every link), a POST with a genuine
token always does (once: the second is "already"), and nothing a request carries (a forged token,
a path with `..`) gets a traceback, a reflected string or a file outside build/site/.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import logging
import socket
import sys
import threading
import types
import wsgiref.util
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

import pytest

from newsletter.api import Newsletter
from newsletter.audience.importing import import_csv
from newsletter.audience.unsubscribe import make_token, make_v1_token
from newsletter.cli.web import create_server
from newsletter.errors import NewsletterError
from newsletter.project.environment import PROJECT_DIR as PROJECT_ENV
from newsletter.project.environment import UNSUBSCRIBE_SECRET as SECRET_ENV
from newsletter.project.environment import Secrets
from newsletter.project.settings import Project, open_project
from newsletter.store import open_store
from newsletter.web.application import MAX_FORM_BYTES, MAX_WEBHOOK_BYTES, environment_app, make_app
from tests.conftest import Run, write
from tests.store_util import break_database, database, history, select
from tests.test_review_pages import fixture_browser, fixture_chromium  # noqa: F401 - fixtures

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("both_engines")

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication

    from playwright.sync_api import Browser

SECRET = b"a-test-secret-of-enough-length"
OTHER_SECRET = b"another-secret-of-enough-length"
NL = "2026-12-schrijven"
EN = "2026-12-paper"
PATH = "/nieuwsbrief/afmelden"
ONE_CLICK = b"List-Unsubscribe=One-Click"
FORM = "application/x-www-form-urlencoded"
# A 1×1 PNG: what the logo URL answers in the browser test (no network here).
LOGO_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
STOP_SECONDS = 10  # bounds the wait for the server thread; it stops in well under a second


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class Server:
    """The app on waitress in a thread, as `newsletter serve` runs it, stopped from inside its loop."""

    def __init__(self, project: Project, *, threads: int = 2, app: WSGIApplication | None = None) -> None:
        app = make_app(Newsletter(project)) if app is None else app
        self.server = create_server(app, "127.0.0.1", 0, threads=threads)
        self.port = int(self.server.effective_port)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        # `close` runs in the loop's thread. A loop that a worker woke may run it, closing the trigger,
        # before the wake-up byte is written: then writing it fails, and the server stops all the same.
        with contextlib.suppress(OSError):
            self.server.trigger.pull_trigger(self.server.close)
        self.thread.join(STOP_SECONDS)
        self.server.task_dispatcher.shutdown()
        assert not self.thread.is_alive(), "the server did not stop"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            answer = Answer(
                response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            )
        finally:
            connection.close()
        return answer

    def one_click(self, token: str) -> Answer:
        return self.request("POST", f"{PATH}?token={token}", ONE_CLICK, {"Content-Type": FORM})

    def confirm(self, token: str) -> Answer:
        body = urlencode({"token": token, "confirm": "yes"}).encode("ascii")
        return self.request("POST", f"{PATH}?token={token}", body, {"Content-Type": FORM})


@pytest.fixture(name="readers")
def fixture_readers(project: Path) -> Project:
    csv = write(
        project / "readers.csv",
        "email,name,locale\njan@example.org,Jan,nl\nels@example.org,Els,nl\nann@example.org,Ann,en\n",
    )
    opened = open_project(project, Secrets(unsubscribe=SECRET.decode()))
    with open_store(opened) as store:
        import_csv(store, csv, default_locale="nl", source="test", consent="testlijst")
    return opened


@pytest.fixture(name="server")
def fixture_server(readers: Project) -> Iterator[Server]:
    running = Server(readers)
    yield running
    running.stop()


def status_of(project: Project) -> dict[str, str]:
    with open_store(project) as store:
        return {s.email: s.status for s in select(store, status=None)}


def last_change(project: Project, email: str) -> tuple[str, str]:
    """The source and detail of the subscriber's latest status change, from the status history."""
    with open_store(project) as store:
        changes = [c for c in history(store) if c.email == email]
    return changes[-1].source, changes[-1].detail


def token_for(project: Project, email: str, campaign: str = NL) -> str:
    with open_store(project) as store:
        (subscriber,) = [s for s in select(store, status=None) if s.email == email]
    return make_token(email, campaign, SECRET, subscriber.id)


def assert_safe_headers(answer: Answer) -> None:
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "default-src" in answer.headers["content-security-policy"]
    assert "frame-ancestors" in answer.headers["content-security-policy"]


# -- one-click (RFC 8058) ---------------------------------------------------------------------


def test_one_click_post_unsubscribes_and_a_second_is_already_done(server: Server, readers: Project) -> None:
    token = token_for(readers, "jan@example.org")
    first = server.one_click(token)
    assert (first.status, first.body) == (200, b"unsubscribed\n")
    assert first.headers["content-type"].startswith("text/plain")
    assert first.headers["cache-control"] == "no-store"
    assert_safe_headers(first)
    assert status_of(readers) == {
        "jan@example.org": "unsubscribed",
        "els@example.org": "active",
        "ann@example.org": "active",
    }
    second = server.one_click(token)
    assert (second.status, second.body) == (200, b"already unsubscribed\n")
    assert status_of(readers)["jan@example.org"] == "unsubscribed"
    assert last_change(readers, "jan@example.org") == ("one-click", f"{NL}: List-Unsubscribe-Post")


def test_a_v1_token_already_in_inboxes_still_works(server: Server, readers: Project) -> None:
    token = make_v1_token("els@example.org", NL, SECRET)
    assert server.request("GET", f"{PATH}?token={token}").status == 200
    assert server.one_click(token).body == b"unsubscribed\n"
    assert status_of(readers)["els@example.org"] == "unsubscribed"


def test_a_v2_token_in_the_url_holds_no_address(readers: Project) -> None:
    token = token_for(readers, "jan@example.org")
    encoded = token.split(".")[0]
    payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    assert b"jan" not in payload and b"example.org" not in payload and b"@" not in payload
    assert NL.encode() in payload  # the campaign is there, for the page's language


def test_a_test_sends_token_shows_the_pages_and_unsubscribes_nobody(server: Server, readers: Project) -> None:
    token = make_token("redactie@example.org", NL, SECRET, None)
    assert server.request("GET", f"{PATH}?token={token}").status == 200
    assert server.one_click(token).body == b"test email: nobody was unsubscribed\n"
    done = server.confirm(token)
    assert done.status == 200 and "Dit was een test-e-mail" in done.text
    assert set(status_of(readers).values()) == {"active"}


# -- the confirmation page --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("campaign", "question", "button", "lang"),
    [
        (NL, "Weet je zeker dat je je wilt afmelden?", "Afmelden", "nl"),
        (EN, "Are you sure you want to unsubscribe?", "Unsubscribe", "en"),
    ],
)
def test_get_asks_in_the_campaigns_language_and_does_not_unsubscribe(
    server: Server, readers: Project, campaign: str, question: str, button: str, lang: str
) -> None:
    token = token_for(readers, "jan@example.org", campaign)
    page = server.request("GET", f"{PATH}?token={token}")
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert f'<html lang="{lang}">' in page.text
    assert question in page.text
    assert f'<button type="submit">{button}</button>' in page.text
    assert '<form method="post">' in page.text and f'value="{token}"' in page.text
    assert "<script" not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "form-action 'self'" in page.headers["content-security-policy"]
    assert_safe_headers(page)
    head = server.request("HEAD", f"{PATH}?token={token}")
    assert head.status == 200 and head.body == b""
    assert status_of(readers)["jan@example.org"] == "active", "a GET (a mail scanner) must not unsubscribe"


def test_the_form_post_unsubscribes_and_shows_done_then_already(server: Server, readers: Project) -> None:
    token = token_for(readers, "ann@example.org", EN)
    done = server.confirm(token)
    assert done.status == 200 and "You have been unsubscribed" in done.text
    assert status_of(readers)["ann@example.org"] == "unsubscribed"
    assert last_change(readers, "ann@example.org") == ("one-click", f"{EN}: unsubscribe page")
    again = server.confirm(token)
    assert again.status == 200 and "You were already unsubscribed" in again.text
    dutch = server.confirm(token_for(readers, "jan@example.org"))
    assert "Je bent afgemeld" in dutch.text


# -- what is refused ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        make_token("jan@example.org", NL, OTHER_SECRET, 1),
        make_token("jan@example.org", NL, SECRET, 1)[:-4],
        make_token("jan@example.org", NL, SECRET, 2),  # Els's id with Jan's fingerprint
        make_token("jan@example.org", NL, SECRET, 999),  # nobody
    ],
    ids=["empty", "garbage", "script", "attribute", "other-secret", "cut-short", "other-id", "no-one"],
)
def test_bad_tokens_get_a_400_page_without_traceback_or_the_token(
    server: Server, readers: Project, token: str
) -> None:
    query = f"{PATH}?token={quote(token)}"
    answers = [
        server.request("GET", query),
        server.request("POST", query, ONE_CLICK, {"Content-Type": FORM}),
        server.request(
            "POST", PATH, urlencode({"token": token, "confirm": "yes"}).encode(), {"Content-Type": FORM}
        ),
    ]
    for answer in answers:
        assert answer.status == 400
        assert "Deze afmeldlink werkt niet" in answer.text
        assert "Traceback" not in answer.text and "NewsletterError" not in answer.text
        assert "<script" not in answer.text and "onerror" not in answer.text
        if len(token) > 3:
            assert token not in answer.text and quote(token) not in answer.text
        assert_safe_headers(answer)
    assert set(status_of(readers).values()) == {"active"}


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_get_405(server: Server, readers: Project, method: str) -> None:
    token = token_for(readers, "jan@example.org")
    answer = server.request(method, f"{PATH}?token={token}", ONE_CLICK)
    assert answer.status == 405
    assert answer.headers["allow"] == "GET, HEAD, POST"
    assert status_of(readers)["jan@example.org"] == "active"
    assert server.request(method, "/nieuwsbrief/").status == 405


def test_a_body_over_the_limit_is_refused_with_413(server: Server, readers: Project) -> None:
    token = token_for(readers, "jan@example.org")
    answer = server.request("POST", f"{PATH}?token={token}", b"x" * 20_000, {"Content-Type": FORM})
    assert answer.status == 413
    assert status_of(readers)["jan@example.org"] == "active"


def raw(server: Server, data: bytes) -> Answer:
    """`data` sent over a socket as it is (http.client neither sends a broken chunk nor reads an
    answer to a request it has not finished sending), and the answer read until the server closes."""
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        # A server that refuses a body it has not read to the end may close before the last of it is
        # sent, and reset the connection: its answer, read up to then, is what the test checks.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.sendall(data)
        with contextlib.suppress(ConnectionResetError):
            while chunk := connection.recv(65536):
                received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return Answer(int(status_line.split()[1]), headers, body)


def chunked(*parts: bytes) -> bytes:
    """A body in chunked transfer coding, one chunk per part."""
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def post_head(token: str, *headers: str) -> bytes:
    lines = [f"POST {PATH}?token={token} HTTP/1.1", "Host: localhost", f"Content-Type: {FORM}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def test_the_answers_waitress_makes_itself_carry_the_security_headers(
    server: Server, readers: Project
) -> None:
    """A body over the server's limit, or a broken chunked body, is refused by waitress before the
    app sees it; the answer still carries the headers of every answer."""
    token = token_for(readers, "jan@example.org")
    too_long = raw(server, post_head(token, f"Content-Length: {10 * MAX_WEBHOOK_BYTES}"))
    assert too_long.status == 413
    broken = raw(server, post_head(token, "Transfer-Encoding: chunked") + b"zz\r\nList\r\n0\r\n\r\n")
    assert broken.status == 400
    for answer in (too_long, broken):
        assert_safe_headers(answer)
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-frame-options"] == "DENY"
    assert status_of(readers)["jan@example.org"] == "active"


def test_a_chunked_body_is_read_and_refused_like_any_other(server: Server, readers: Project) -> None:
    """waitress de-chunks a body and sets its Content-Length before the app reads it."""
    jan = token_for(readers, "jan@example.org")
    done = raw(
        server,
        post_head(jan, "Transfer-Encoding: chunked", "Connection: close")
        + chunked(b"List-Unsub", b"scribe=One-Click"),
    )
    assert (done.status, done.body) == (200, b"unsubscribed\n")
    assert status_of(readers)["jan@example.org"] == "unsubscribed"
    els = token_for(readers, "els@example.org")
    over_the_form_limit = raw(
        server,
        post_head(els, "Transfer-Encoding: chunked", "Connection: close")
        + chunked(b"x" * (MAX_FORM_BYTES + 1)),
    )
    assert over_the_form_limit.status == 413 and "<html" in over_the_form_limit.text  # the app's page
    over_the_server_limit = raw(
        server, post_head(els, "Transfer-Encoding: chunked") + chunked(b"x" * (MAX_WEBHOOK_BYTES + 1))
    )
    assert over_the_server_limit.status == 413 and b"<html" not in over_the_server_limit.body  # waitress's
    for answer in (done, over_the_form_limit, over_the_server_limit):
        assert_safe_headers(answer)
    assert status_of(readers)["els@example.org"] == "active"


def test_a_database_that_cannot_be_used_is_a_503_to_retry_not_a_traceback(
    server: Server, readers: Project
) -> None:
    token = token_for(readers, "jan@example.org")
    break_database(readers.root)  # every open fails
    for answer in (server.request("GET", f"{PATH}?token={token}"), server.one_click(token)):
        assert answer.status == 503 and answer.headers["retry-after"] == "60"
        assert "Er ging iets mis" in answer.text and "Traceback" not in answer.text


def test_a_path_with_line_breaks_forges_no_log_line(
    server: Server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The path of a request that fails is logged; WSGI hands it over decoded, `%0d%0a` as CR LF."""
    from newsletter.web.serve_files import StaticSite

    def broken(self: StaticSite, url_path: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(StaticSite, "respond", broken)
    with caplog.at_level(logging.INFO):
        answer = server.request("GET", "/a%0d%0a2026-12-02%2009:00:00%20newsletter.web:%20forged%1b[2K")
    assert answer.status == 500 and "Traceback" not in answer.text
    (record,) = [r for r in caplog.records if r.name == "newsletter.web"]
    assert record.getMessage() == "GET /a\\r\\n2026-12-02 09:00:00 newsletter.web: forged\\x1b[2K failed"


# -- the static site ------------------------------------------------------------------------------


@pytest.fixture
def site(readers: Project) -> Path:
    root = readers.root / "build" / "site"
    write(root / "nieuwsbrief" / "index.html", "<!doctype html><title>Archief</title>")
    write(
        root / "nieuwsbrief" / "feed.xml",
        '<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom"/>',
    )
    write(root / "nieuwsbrief" / NL / "index.html", "<!doctype html><title>Web version</title>")
    write(root / "nieuwsbrief" / "style.css", "body{}")
    write(root / "nieuwsbrief" / "empty" / "notes.txt", "no index here")
    write(root / ".site.old" / "index.html", "old")
    write(readers.root / "build" / NL / "outbox" / "000001-jan@example.org.eml", "secret link")
    (root / "nieuwsbrief" / "link").symlink_to(readers.root)
    return root


@pytest.mark.parametrize(
    ("path", "content_type", "text"),
    [
        ("/nieuwsbrief/", "text/html; charset=utf-8", "Archief"),
        ("/nieuwsbrief/index.html", "text/html; charset=utf-8", "Archief"),
        (f"/nieuwsbrief/{NL}/", "text/html; charset=utf-8", "Web version"),
        ("/nieuwsbrief/feed.xml", "application/atom+xml; charset=utf-8", "<feed"),
        ("/nieuwsbrief/style.css", "text/css; charset=utf-8", "body{}"),
    ],
)
def test_the_static_site_is_served_with_its_types(
    server: Server, site: Path, path: str, content_type: str, text: str
) -> None:
    answer = server.request("GET", path)
    assert answer.status == 200
    assert answer.headers["content-type"] == content_type
    assert text in answer.text
    assert "script-src 'none'" in answer.headers["content-security-policy"]
    assert_safe_headers(answer)


def test_a_folder_without_its_slash_is_redirected(server: Server, site: Path) -> None:
    answer = server.request("GET", f"/nieuwsbrief/{NL}")
    assert answer.status == 301 and answer.headers["location"] == f"/nieuwsbrief/{NL}/"


@pytest.mark.parametrize(
    "path",
    [
        "/nieuwsbrief/../../newsletter.toml",
        "/nieuwsbrief/%2e%2e/%2e%2e/newsletter.toml",
        "/%2e%2e/audience.sqlite3",
        "/..%2f..%2faudience.sqlite3",
        "/nieuwsbrief/..%5c..%5cnewsletter.toml",
        f"/../{NL}/outbox/000001-jan@example.org.eml",
        "//etc/passwd",
        "/nieuwsbrief//index.html",
        "/.site.old/index.html",
        "/nieuwsbrief/link/newsletter.toml",
        "/nieuwsbrief/empty/",
        "/nieuwsbrief/index.html/",
        "/nieuwsbrief/%00",
        "/nieuwsbrief/%ff",
        "/no-such-page",
        "/" + "a" * 300,  # longer than a file name may be
    ],
)
def test_traversal_hidden_files_links_and_listings_are_404(server: Server, site: Path, path: str) -> None:
    answer = server.request("GET", path)
    assert answer.status == 404, path
    assert "Deze pagina bestaat niet." in answer.text
    assert "secret link" not in answer.text and "[sender]" not in answer.text


def test_without_a_built_site_everything_else_is_404(server: Server) -> None:
    assert server.request("GET", "/").status == 404
    assert server.request("GET", "/nieuwsbrief/").status == 404


# -- webhooks ----------------------------------------------------------------------------------------


@pytest.fixture
def webhooks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """A stand-in for newsletter/web/webhooks.py (tested on its own): records its calls."""
    calls: list[tuple[object, ...]] = []
    module = types.ModuleType("newsletter.web.webhooks")

    def handle(
        project: Project, service: str, headers: Mapping[str, str], body: bytes, *, query: str = ""
    ) -> tuple[int, str]:
        calls.append((project.root, service, dict(headers), body, query))
        return 202, "accepted"

    setattr(module, "handle", handle)  # noqa: B010
    monkeypatch.setitem(sys.modules, "newsletter.web.webhooks", module)
    return calls


def test_webhooks_go_to_the_handler_with_lower_case_headers(
    server: Server, readers: Project, webhooks: list[tuple[object, ...]]
) -> None:
    body = b'{"Type": "Notification"}'
    answer = server.request(
        "POST",
        "/webhooks/ses?secret=s",
        body,
        {"X-Amz-Sns-Message-Type": "Notification", "Content-Type": "text/plain"},
    )
    assert (answer.status, answer.body) == (202, b"accepted\n")
    ((root, service, headers, received, query),) = webhooks
    assert (root, service, received, query) == (readers.root, "ses", body, "secret=s")
    assert isinstance(headers, dict)
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["content-type"] == "text/plain"
    assert server.request("POST", "/webhooks/postmark", b"{}").status == 202


def test_webhooks_refuse_other_services_methods_and_big_bodies(
    server: Server, webhooks: list[tuple[object, ...]]
) -> None:
    assert server.request("POST", "/webhooks/mailgun", b"{}").status == 404
    assert server.request("POST", "/webhooks/ses/x", b"{}").status == 404
    get = server.request("GET", "/webhooks/ses")
    assert get.status == 405 and get.headers["allow"] == "POST"
    # Over the limit by its Content-Length, the body not sent: the server answers from the header
    # alone (a client still sending a megabyte may meet the closed connection first: a timing race).
    declared = "Content-Length: 1048577"
    head = f"POST /webhooks/ses HTTP/1.1\r\nHost: localhost\r\n{declared}\r\n\r\n{{}}"
    assert raw(server, head.encode("ascii")).status == 413
    assert webhooks == []


def test_webhooks_are_404_while_their_module_is_missing(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "newsletter.web.webhooks", None)  # what a missing module raises
    assert server.request("POST", "/webhooks/ses", b"{}").status == 404


# -- newsletter.web:app and the CLI ---------------------------------------------------------------------


@pytest.mark.parametrize("module", ["newsletter.wsgi", "newsletter.web"])
def test_the_wsgi_app_finds_the_project_from_the_environment(
    readers: Project, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    """`newsletter.wsgi:app` as gunicorn loads it, and `newsletter.web:app`, its older name."""
    import importlib

    monkeypatch.setenv(PROJECT_ENV, str(readers.root / "campaigns"))  # found upwards, as the CLI does
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    monkeypatch.delitem(sys.modules, "newsletter.wsgi", raising=False)
    environment_app.cache_clear()
    try:
        application = importlib.import_module(module).app
        assert callable(application)
        environ: dict[str, object] = {}
        wsgiref.util.setup_testing_defaults(environ)
        environ["PATH_INFO"] = PATH
        environ["QUERY_STRING"] = "token=" + token_for(readers, "jan@example.org")
        started: list[str] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
            started.append(status)

        body = b"".join(application(environ, start_response))
        assert started == ["200 OK"] and "Weet je zeker" in body.decode()
    finally:
        environment_app.cache_clear()
        sys.modules.pop("newsletter.wsgi", None)


def test_the_wsgi_app_refuses_to_start_without_a_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    monkeypatch.setenv(PROJECT_ENV, str(tmp_path))
    monkeypatch.delitem(sys.modules, "newsletter.wsgi", raising=False)
    environment_app.cache_clear()
    try:
        with pytest.raises(NewsletterError, match=r"no newsletter\.toml found") as caught:
            importlib.import_module("newsletter.wsgi")
        assert caught.value.hint == f"set {PROJECT_ENV} to the project folder"
    finally:
        environment_app.cache_clear()
        sys.modules.pop("newsletter.wsgi", None)


def test_serve_help(run: Run) -> None:
    result = run("serve", "--help")
    assert result.exit_code == 0
    assert "--port" in result.output and "8025" in result.output and "127.0.0.1" in result.output


def test_serve_refuses_to_start_without_the_secret(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    result = run("serve", "--port", "0")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {SECRET_ENV} is not set")
    assert "Traceback" not in result.stderr


def test_serve_says_when_the_port_is_taken(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run("serve", "--port", str(taken.getsockname()[1]))
    assert result.exit_code == 2
    assert "error: cannot listen on 127.0.0.1:" in result.stderr


# -- in a real browser ------------------------------------------------------------------------------------


def test_confirm_then_done_in_chromium(browser: Browser, server: Server, readers: Project) -> None:
    context = browser.new_context()
    logo = readers.settings.brand.logo_url  # the publisher's site, as the browser would fetch it
    context.route(logo, lambda route: route.fulfill(body=LOGO_PNG, content_type="image/png"))
    try:
        page = context.new_page()
        page.set_default_timeout(5000)
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        token = token_for(readers, "jan@example.org")
        page.goto(f"{server.url}{PATH}?token={token}")
        assert page.locator("h1").inner_text() == "Afmelden voor de nieuwsbrief"
        assert page.locator("img").evaluate("img => img.complete && img.naturalWidth") == 1, (
            "the CSP allows it"
        )
        assert page.get_by_text("Adres: j•••@example.org").is_visible()
        assert status_of(readers)["jan@example.org"] == "active"
        colour = page.locator("button").evaluate("b => getComputedStyle(b).backgroundColor")
        assert colour == "rgb(140, 28, 19)", "the style sheet is blocked by the CSP"
        page.get_by_role("button", name="Afmelden").click()
        page.wait_for_selector("text=Je bent afgemeld")
        assert status_of(readers)["jan@example.org"] == "unsubscribed"
        assert problems == []
    finally:
        context.close()


def test_the_reader_s_pages_show_the_logo_and_whose_address_is_unsubscribed(
    server: Server, readers: Project
) -> None:
    token = token_for(readers, "jan@example.org")
    asked = server.request("GET", f"{PATH}?token={token}")
    page = asked.text
    assert f'<img src="{readers.settings.brand.logo_url}"' in page
    assert "Adres: j•••@example.org" in page and "jan@example.org" not in page
    assert asked.headers["content-security-policy"].endswith("; img-src https://www.uitgeverijlindenhof.nl")
    assert "Adres: j•••@example.org" in server.confirm(token).text
    missing = server.request("GET", "/nergens")
    assert "<img" not in missing.text and "img-src" not in missing.headers["content-security-policy"]


def test_one_click_posts_arriving_together_are_each_answered_after_their_commit(readers: Project) -> None:
    """The server commits the unsubscribes of the moment together (web/group_commit.py): each POST is
    answered for its own token, a forged one among them fails alone, and every reader is out."""
    import concurrent.futures

    with open_store(readers) as store:
        for number in range(40):
            store.add_subscriber(
                f"samen{number}@example.org", name="", locale="nl", tags=(), status="active",
                source="test", stamp="2026-12-02T10:00:00Z",
            )  # fmt: skip
    ids = {s.email: s.id for s in select(database(readers.root))}
    tokens = [token_for(readers, f"samen{number}@example.org") for number in range(40)]
    forged = make_token("samen0@example.org", NL, OTHER_SECRET, ids["samen0@example.org"])
    running = Server(readers, threads=16)
    try:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(running.one_click, [*tokens, forged]))
    finally:
        running.stop()
    assert [a.status for a in answers[:-1]] == [200] * 40 and answers[-1].status == 400
    assert all(a.body == b"unsubscribed\n" for a in answers[:-1])
    statuses = status_of(readers)
    assert all(statuses[f"samen{number}@example.org"] == "unsubscribed" for number in range(40))
    with open_store(readers) as store:
        changes = [c for c in store.history() if c.email.startswith("samen") and c.old_status == "active"]
    assert len(changes) == 40 and {c.source for c in changes} == {"one-click"}


def test_two_servers_on_one_database_unsubscribe_each_reader_once(server: Server, readers: Project) -> None:
    """Several `serve` processes share one database: every reader's one-click POST, arriving at both
    at once (a mail provider's retry), unsubscribes them once, with one change in their history."""
    other = Server(readers)
    addresses = ["jan@example.org", "els@example.org", "ann@example.org"]
    tokens = [
        token_for(readers, address, NL if address != "ann@example.org" else EN) for address in addresses
    ]
    try:
        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(lambda n: (server, other)[n % 2].one_click(tokens[n % 3]), range(24)))
    finally:
        other.stop()
    assert [answer.status for answer in answers] == [200] * 24
    assert status_of(readers) == dict.fromkeys(addresses, "unsubscribed")
    with open_store(readers) as store:
        left = Counter(c.email for c in history(store) if c.new_status == "unsubscribed")
    assert left == dict.fromkeys(addresses, 1)
