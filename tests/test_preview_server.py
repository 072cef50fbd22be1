"""The live preview server: rebuilds on change, reloads open pages, shows build errors, stops cleanly;
and serves nothing but the review pages, to nobody but 127.0.0.1 by name, whatever it is sent.

The browser tests use the fixtures of tests/test_review_pages.py (and skip or fail the same way). The
hardening tests talk HTTP to a real server over sockets: `exchange` sends bytes as they are and reads
the whole answer, so a dropped connection or an incomplete response fails them.
"""

from __future__ import annotations

import http.client
import logging
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest

from newsletter.preview.server import PreviewServer, Rebuild
from newsletter.project.campaign import load_campaigns
from newsletter.project.settings import open_project
from tests.conftest import Run, write
from tests.test_review_pages import (  # noqa: F401 - fixtures
    SAMPLE,
    SUBJECT,
    TIMEOUT_MS,
    fixture_browser,
    fixture_chromium,
    fixture_page,
    fixture_server,
    outside_requests,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page


def test_a_saved_change_shows_without_a_reload_and_a_broken_file_shows_its_error(
    page: Page, server: PreviewServer, project: Path
) -> None:
    from playwright.sync_api import expect

    campaign = project / "campaigns" / f"{SAMPLE}.yaml"
    original = campaign.read_text(encoding="utf-8")
    page.goto(f"{server.url}{SAMPLE}/preview.html")
    expect(page.locator("h1#subject")).to_have_text(SUBJECT)

    write(campaign, original.replace(SUBJECT, "Schrappen, live bekeken"))
    expect(page.locator("h1#subject")).to_have_text("Schrappen, live bekeken", timeout=TIMEOUT_MS)

    write(campaign, original.replace("locale: nl", "locale: [nl"))
    _, errors = load_campaigns(open_project(project), [SAMPLE])
    expected = errors[0].format(project)
    assert re.match(rf"campaigns/{SAMPLE}\.yaml:\d+: ", expected)
    overlay = page.locator("#newsletter-build-errors")
    expect(overlay).to_contain_text(expected, timeout=TIMEOUT_MS)
    expect(overlay).to_be_visible()

    write(campaign, original)
    expect(overlay).to_have_count(0, timeout=TIMEOUT_MS)
    expect(page.locator("h1#subject")).to_have_text(SUBJECT)
    assert outside_requests(page) == []


def test_a_campaign_change_rebuilds_that_campaign_and_a_shared_file_all(project: Path) -> None:
    rebuilds: queue.Queue[Rebuild] = queue.Queue()
    with PreviewServer(open_project(project), port=0, interval=0.02, on_rebuild=rebuilds.put):
        assert rebuilds.get(timeout=5).campaigns == ("2026-12-paper", SAMPLE)
        campaign = project / "campaigns" / f"{SAMPLE}.yaml"
        write(campaign, campaign.read_text(encoding="utf-8").replace(SUBJECT, "Nieuw onderwerp"))
        rebuild = rebuilds.get(timeout=5)
        assert (rebuild.changed, rebuild.campaigns) == ((campaign,), (SAMPLE,))
        book = project / "books" / "the-quiet-page.yaml"
        write(book, book.read_text(encoding="utf-8") + "\n")
        assert rebuilds.get(timeout=5).campaigns == ("2026-12-paper", SAMPLE)


def test_a_page_that_was_never_built_shows_the_error(project: Path) -> None:
    write(project / "campaigns" / "2027-01-kapot.yaml", "subject: [kapot\n")
    with PreviewServer(open_project(project), port=0) as server:
        with pytest.raises(Exception) as failed:
            urlopen(f"{server.url}2027-01-kapot/preview.html", timeout=5)
        body = failed.value.read().decode("utf-8")  # type: ignore[attr-defined]
        assert "campaigns/2027-01-kapot.yaml:" in body
        assert "/__reload?since=" in body  # it reloads once the file is fixed
        with urlopen(server.url, timeout=5) as response:  # the others are still served
            assert SUBJECT in response.read().decode("utf-8")
    assert "/__reload" not in (project / "build" / "index.html").read_text(encoding="utf-8")


def test_a_taken_port_falls_back_to_a_free_one(project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with PreviewServer(open_project(project), port=port) as server:
            assert server.url.startswith("http://127.0.0.1:")
            assert not server.url.endswith(f":{port}/")


def test_preview_command_serves_and_stops_cleanly_on_ctrl_c(project: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "--project", str(project), "preview", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(20, process.kill)  # a hung server fails the test instead of hanging it
    watchdog.start()
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("serving"):
                break
        url = re.search(r"http://127\.0\.0\.1:\d+/", "".join(lines))
        assert url, lines
        with urlopen(url.group(0), timeout=5) as response:
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        watchdog.cancel()
        process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err


def test_broken_settings_stay_an_error_until_fixed(project: Path) -> None:
    rebuilds: queue.Queue[Rebuild] = queue.Queue()
    settings = project / "newsletter.toml"
    good = settings.read_text(encoding="utf-8")
    with PreviewServer(open_project(project), port=0, interval=0.02, on_rebuild=rebuilds.put):
        rebuilds.get(timeout=5)
        write(settings, good.replace('locale = "nl"', 'locale = "nl'))
        assert "newsletter.toml:" in rebuilds.get(timeout=5).errors[0].format(project)
        campaign = project / "campaigns" / f"{SAMPLE}.yaml"
        write(campaign, campaign.read_text(encoding="utf-8") + "\n")
        assert rebuilds.get(timeout=5).errors  # another save does not hide the broken settings
        write(settings, good)
        assert rebuilds.get(timeout=5).errors == ()


# -- what is served, and to whom -------------------------------------------------------------------

SECRET = "a-test-secret-of-enough-length"
EXPECTED_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-frame-options": "SAMEORIGIN",
    "content-security-policy": "frame-ancestors 'self'",
}


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


def port_of(server: PreviewServer) -> int:
    port = urlsplit(server.url).port
    assert port is not None
    return port


def exchange(port: int, data: bytes, *, head: bool = False) -> Reply:
    """Send `data` as it is and read the answer to the end (the server closes after each one); the
    answer must be whole: a status line, headers, and as many bytes of body as they announce (none
    for a `head` request)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    header_block, blank, body = received.partition(b"\r\n\r\n")
    assert blank, f"no complete header in {received[:200]!r}"
    status_line, *lines = header_block.decode("iso-8859-1").split("\r\n")
    assert re.fullmatch(r"HTTP/1\.[01] \d{3} .*", status_line), status_line
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    assert body == b"" if head else int(headers["content-length"]) == len(body), headers
    return Reply(int(status_line.split()[1]), headers, body)


def get(port: int, path: str, *, host: str | None = None, method: str = "GET") -> Reply:
    host = f"127.0.0.1:{port}" if host is None else host
    return exchange(port, f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode("iso-8859-1"))


def stream_headers(port: int, path: str) -> dict[str, str]:
    """The headers of a 200 answer that goes on (the reload stream), read up to the blank line."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received and (chunk := connection.recv(4096)):
            received += chunk
    status, *lines = received.partition(b"\r\n\r\n")[0].decode("iso-8859-1").split("\r\n")
    assert status.split()[1] == "200", status
    return {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}


def assert_secured(reply: Reply) -> None:
    assert {name: reply.headers.get(name) for name in EXPECTED_HEADERS} == EXPECTED_HEADERS


@pytest.fixture
def dry_run(project: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`newsletter send --dry-run` of the sample campaign to two readers: its first .eml file."""
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    write(project / "readers.csv", "email,name\njan@example.org,Jan de Vries\nels@example.org,Els\n")
    assert run("audience", "import", str(project / "readers.csv"), "--consent", "testlijst").exit_code == 0
    result = run("send", SAMPLE, "--dry-run")
    assert result.exit_code == 0, result.output
    return sorted((project / "build" / SAMPLE / "outbox").glob("*.eml"))[0]


def test_only_the_review_pages_are_served_not_the_outbox_or_the_rest_of_build(
    project: Path, dry_run: Path
) -> None:
    with PreviewServer(open_project(project), port=0) as server:
        port = port_of(server)
        assert dry_run.is_file() and b"jan@example.org" in dry_run.read_bytes()
        for path in ("/", "/index.html", f"/{SAMPLE}/preview.html", f"/{SAMPLE}/email.html"):
            reply = get(port, path)
            assert reply.status == 200, path
            assert reply.headers["content-type"] == "text/html; charset=utf-8"
            assert_secured(reply)
        hidden = [
            f"/{SAMPLE}/outbox/{dry_run.name}",
            f"/{SAMPLE}/outbox/{dry_run.name.replace('@', '%40')}",
            f"/{SAMPLE}/outbox/",
            f"/{SAMPLE}/outbox",
            f"/{SAMPLE}/",  # a folder is no page: 404, never a listing
            f"/{SAMPLE}",
            f"/{SAMPLE}/meta.json",
            f"/{SAMPLE}/email.txt",
            "/.build.json",
            "/index.html/",
            "/audience.sqlite3",
            "/%2e%2e/audience.sqlite3",
            "/%2E%2E/newsletter.toml",
        ]
        for path in hidden:
            reply = get(port, path)
            assert reply.status == 404, path
            assert b"jan@example.org" not in reply.body and dry_run.name.encode() not in reply.body
            assert reply.headers["content-type"] == "text/plain; charset=utf-8"
            assert_secured(reply)


def test_a_symbolic_link_is_not_followed_out_of_build_nor_to_the_outbox(
    project: Path, dry_run: Path, tmp_path: Path
) -> None:
    outside = write(tmp_path / "outside" / "preview.html", "<p>a file outside build/</p>")
    build = project / "build"
    (build / "zz-file").mkdir()
    (build / "zz-file" / "preview.html").symlink_to(outside)
    (build / "zz-folder").symlink_to(outside.parent, target_is_directory=True)
    (build / "zz-outbox").mkdir()
    (build / "zz-outbox" / "email.html").symlink_to(dry_run)
    with PreviewServer(open_project(project), port=0) as server:
        port = port_of(server)
        for path in ("/zz-file/preview.html", "/zz-folder/preview.html", "/zz-outbox/email.html"):
            reply = get(port, path)
            assert reply.status == 404, path
            assert b"outside build" not in reply.body and b"jan@example.org" not in reply.body


def test_a_request_for_another_host_or_without_one_is_refused(server: PreviewServer) -> None:
    port = port_of(server)
    assert get(port, "/", host=f"localhost:{port}").status == 200
    assert get(port, "/", host=f"LocalHost:{port}").status == 200
    for host in (
        f"evil.example:{port}",
        "evil.example",
        f"127.0.0.1:{port + 1}",
        "127.0.0.1",
        f"[::1]:{port}",
    ):
        for path in ("/", f"/{SAMPLE}/preview.html", "/__reload?since=0"):
            reply = get(port, path, host=host)
            assert reply.status == 421, (host, path)
            assert reply.headers["content-type"] == "text/plain; charset=utf-8"
            assert SUBJECT.encode() not in reply.body and len(reply.body) < 200
            assert_secured(reply)
    without = [
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET /\r\n\r\n",  # HTTP/0.9: answered with a status line all the same
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\n\r\n".encode(),
    ]
    for data in without:
        reply = exchange(port, data)
        assert reply.status == 400, data
        assert SUBJECT.encode() not in reply.body


@pytest.mark.parametrize(
    "target",
    [
        "/%00",
        "/index.html%00.eml",
        "/..%2f..%2fetc/passwd",
        "/../../etc/passwd",
        "//etc/passwd",
        "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/" + "a" * 5000,
        "/" + "a" * 70000,  # longer than the stdlib reads of a request line
        "/..\\..\\etc\\passwd",
        "/%5c..%5cetc%5cpasswd",
        "/%zz",
        "/%",
        "/%ff%fe",
        "/%0d%0aSet-Cookie:%20x=1",
        "/<script>",
        "*",
        "http://evil.example/",
        "",
    ],
)
def test_odd_request_targets_get_a_complete_4xx_and_no_traceback(
    server: PreviewServer, target: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    port = port_of(server)
    reply = get(port, target)
    assert 400 <= reply.status < 500, reply
    assert_secured(reply)
    assert b"root:" not in reply.body and "set-cookie" not in reply.headers
    assert get(port, "/").status == 200  # and the server goes on serving
    assert [record for record in caplog.records if record.exc_info] == []
    assert "Traceback" not in capfd.readouterr().err


def test_malformed_request_lines_get_a_complete_4xx(server: PreviewServer) -> None:
    port = port_of(server)
    for data in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.x\r\n\r\n", b"GET / / / HTTP/1.1\r\n\r\n"):
        reply = exchange(port, data)
        assert 400 <= reply.status < 500, data
        assert_secured(reply)


def test_only_get_and_head_are_allowed(server: PreviewServer) -> None:
    port = port_of(server)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        for method in ("POST", "PUT"):
            connection.request(method, "/index.html", body=b"x" * 10000)
            response = connection.getresponse()
            body = response.read()
            assert (response.status, response.getheader("Allow")) == (405, "GET, HEAD"), method
            assert int(response.getheader("Content-Length") or -1) == len(body)
            connection.close()
    finally:
        connection.close()
    for method in ("DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "BREW"):
        reply = get(port, "/", method=method)
        assert (reply.status, reply.headers.get("allow")) == (405, "GET, HEAD"), method
        assert_secured(reply)
    page = get(port, f"/{SAMPLE}/preview.html")
    head = exchange(
        port, f"HEAD /{SAMPLE}/preview.html HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(), head=True
    )
    assert (head.status, head.body) == (200, b"")
    assert head.headers["content-length"] == page.headers["content-length"]
    assert_secured(head)
    missing = exchange(port, f"HEAD /nope HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(), head=True)
    assert (missing.status, missing.body) == (404, b"")


def test_the_reload_stream_and_the_error_page_carry_the_security_headers(project: Path) -> None:
    write(project / "campaigns" / "2027-01-kapot.yaml", "subject: [kapot\n")
    with PreviewServer(open_project(project), port=0) as server:
        port = port_of(server)
        broken = get(port, "/2027-01-kapot/preview.html")
        assert broken.status == 500 and b"campaigns/2027-01-kapot.yaml:" in broken.body
        assert_secured(broken)
        for query in ("since=0", "since=%C2%B2", "since=x&since=%00"):  # "²" is a digit to str.isdigit()
            headers = stream_headers(port, f"/__reload?{query}")
            assert headers["content-type"] == "text/event-stream"
            assert_secured(Reply(200, headers, b""))
