"""The live preview server: rebuilds on change, reloads open pages, shows build errors, stops cleanly.

The browser tests use the fixtures of tests/test_review_pages.py (and skip or fail the same way).
"""

from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.request import urlopen

import pytest

from newsletter.project.campaign import load_campaigns
from newsletter.project.settings import open_project
from newsletter.review.server import PreviewServer, Rebuild
from tests.conftest import write
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
