"""The review pages, the live preview server and screenshots, the browser parts in real headless Chromium.

Browser tests skip when Chromium is not installed, unless CI is set: then a missing Chromium (or
Playwright) fails them, so CI cannot pass by skipping. One browser serves the whole module.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest

from newsletter.errors import NewsletterError
from newsletter.project.campaign import load_campaigns
from newsletter.project.settings import open_project
from newsletter.review.preview import PreviewServer, Rebuild, offline_copy, placeholder_image
from newsletter.review.screenshot import find_chromium
from tests.conftest import Run, write

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SAMPLE = "2026-12-schrijven"
SUBJECT = "De kunst van het weglaten – en een boek dat je erbij helpt"
TIMEOUT_MS = 5000  # a rebuild and reload takes well under a second; this only bounds a failure


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def need(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason}, and CI is set: install it (.ci/run installs Debian's chromium)")
    pytest.skip(f"{reason} (with CI=true this fails instead)")


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        return str(find_chromium())
    except NewsletterError:
        need("Chromium is not installed")
        raise  # unreachable: need() skips or fails


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("Playwright is not installed")
        raise
    flags = "--no-sandbox --disable-gpu --disable-background-networking --disable-component-update"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium,
            args=[*flags.split(), "--disable-sync", "--no-first-run"],
        )
        yield launched
        launched.close()


@pytest.fixture
def server(project: Path) -> Iterator[PreviewServer]:
    with PreviewServer(open_project(project), port=0, interval=0.05) as running:
        yield running


@pytest.fixture
def page(browser: Browser, server: PreviewServer) -> Iterator[Page]:
    """A page that records every request and every console error; closed before the server stops."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    opened = context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    opened.on("request", lambda request: requests.append(request.url))
    opened.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    opened.set_default_timeout(TIMEOUT_MS)
    setattr(opened, "requests", requests)  # noqa: B010 - read back by the tests below
    setattr(opened, "problems", problems)  # noqa: B010
    yield opened
    context.close()


def outside_requests(page: Page, allowed_host: str = "127.0.0.1") -> list[str]:
    urls: list[str] = getattr(page, "requests")  # noqa: B009
    return [
        url
        for url in urls
        if urlsplit(url).scheme not in {"data", "about", "blob"} and urlsplit(url).hostname != allowed_host
    ]


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


# -- the pages, as files ---------------------------------------------------------------------------


def test_build_writes_review_pages_and_prints_check_counts(project: Path, run: Run) -> None:
    result = run("build")
    assert result.exit_code == 0, result.output
    line = result.stdout.splitlines()[1]
    assert line.startswith(f"{SAMPLE}  '{SUBJECT}'  ")
    assert re.search(r" 0 warnings, checks: \d+ errors?, \d+ warnings?$", line), line
    out = project / "build"
    page = (out / SAMPLE / "preview.html").read_text(encoding="utf-8")
    email = (out / SAMPLE / "email.html").read_text(encoding="utf-8")
    assert "static/logo-lindenhof.png" in email  # the email itself is untouched ...
    assert "static/logo-lindenhof.png" not in page  # ... its images are placeholders in the preview
    assert "data:image/svg+xml" in page
    gallery = (out / "index.html").read_text(encoding="utf-8")
    assert f'href="{SAMPLE}/preview.html"' in gallery
    assert "Why we still read on paper" in gallery


def test_review_pages_are_deterministic(project: Path, run: Run) -> None:
    run("build")
    first = {p: p.read_bytes() for p in (project / "build").rglob("*.html")}
    run("build")
    assert first == {p: p.read_bytes() for p in (project / "build").rglob("*.html")}


def test_everything_on_the_review_pages_is_escaped(project: Path, run: Run) -> None:
    campaign = project / "campaigns" / f"{SAMPLE}.yaml"
    text = campaign.read_text(encoding="utf-8")
    write(
        campaign, text.replace(f'subject: "{SUBJECT}"', 'subject: "Boeken <script>alert(1)</script> & meer"')
    )
    assert run("build").exit_code == 0
    for page in (project / "build" / SAMPLE / "preview.html", project / "build" / "index.html"):
        html = page.read_text(encoding="utf-8")
        assert "<script>alert" not in html
        assert "Boeken &lt;script&gt;alert(1)&lt;/script&gt; &amp; meer" in html


def test_building_one_campaign_keeps_the_others_in_the_gallery(project: Path, run: Run) -> None:
    assert run("build").exit_code == 0
    assert run("build", SAMPLE).exit_code == 0
    gallery = (project / "build" / "index.html").read_text(encoding="utf-8")
    assert 'id="card-2026-12-paper"' in gallery
    assert f'id="card-{SAMPLE}"' in gallery
    (project / "campaigns" / "2026-12-paper.yaml").unlink()
    assert run("build", SAMPLE).exit_code == 0
    assert 'id="card-2026-12-paper"' not in (project / "build" / "index.html").read_text(encoding="utf-8")


def test_offline_copy_fetches_nothing() -> None:
    email = (
        '<!doctype html><html><head><link rel="stylesheet" href="https://fonts.example/css">'
        "<style>@import url(https://x.example/a.css); td { background: url('https://x.example/b.png') }"
        '</style></head><body><table background="https://x.example/c.png"><tr><td>'
        '<img src="https://x.example/d.png" alt="Omslag &amp; titel" width="170">'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="">'
        '<a href="https://x.example/page">link</a></td></tr></table></body></html>'
    )
    copy = offline_copy(email)
    assert re.findall(r"https://x\.example/\w+", copy) == ["https://x.example/page"]  # links stay
    assert "fonts.example" not in copy
    assert placeholder_image("Omslag & titel", 170) in copy.replace("&amp;", "&")
    assert "data:image/gif;base64" in copy
    assert '<base target="_blank">' in copy


# -- the pages, in a browser -----------------------------------------------------------------------


def test_review_page_and_gallery_load_cleanly_and_offline(page: Page, server: PreviewServer) -> None:
    page.goto(server.url)
    cards = page.locator("article.card")
    assert cards.count() == 2
    cards.filter(has_text=SUBJECT).locator("h2 a").click()
    page.wait_for_url(f"**/{SAMPLE}/preview.html")
    assert page.locator("h1#subject").inner_text() == SUBJECT
    inbox = page.locator(".inbox").inner_text()
    assert "Uitgeverij Lindenhof" in inbox and SUBJECT in inbox and "rode potlood" in inbox
    assert "Afmelden: https://www.uitgeverijlindenhof.nl/" in page.locator("pre.text").inner_text()
    assert "of the 102 KB" in page.locator("#size").inner_text()
    assert outside_requests(page) == []
    assert getattr(page, "problems") == []  # noqa: B009


def test_frames_have_their_widths_and_the_phone_does_not_scroll_sideways(
    page: Page, server: PreviewServer
) -> None:
    page.goto(f"{server.url}{SAMPLE}/preview.html")
    widths = page.evaluate(
        """() => ['desktop', 'mobile'].map(name => {
            const root = document.getElementById('frame-' + name).contentDocument.documentElement;
            return [root.clientWidth, root.scrollWidth];
        })"""
    )
    assert widths[0][0] == 800
    assert widths[1][0] == 375
    assert widths[1][1] <= widths[1][0], f"the 375 px frame scrolls sideways: {widths[1]}"


def test_every_listed_link_is_in_the_email(page: Page, server: PreviewServer, project: Path) -> None:
    page.goto(f"{server.url}{SAMPLE}/preview.html")
    listed = page.eval_on_selector_all(
        "#links td.target a", "links => links.map(a => a.getAttribute('href'))"
    )
    in_email = page.evaluate(
        """() => [...document.getElementById('frame-desktop').contentDocument.querySelectorAll('a[href]')]
            .map(a => a.getAttribute('href'))"""
    )
    meta = json.loads((project / "build" / SAMPLE / "meta.json").read_text(encoding="utf-8"))
    assert listed == [link["url"] for link in meta["links"]]
    assert set(listed) <= set(in_email)
    kinds = page.eval_on_selector_all("#links tr.link", "rows => rows.map(r => r.dataset.kind)")
    assert {"site", "order-shop", "web-version", "unsubscribe"} <= set(kinds)


def test_dark_mode_changes_the_email_and_the_page(page: Page, server: PreviewServer) -> None:
    page.goto(f"{server.url}{SAMPLE}/preview.html")
    colour = """() => {
        const doc = document.getElementById('frame-mobile').contentDocument;
        const body = doc && doc.querySelector('.email-body');
        return body ? getComputedStyle(body).backgroundColor : null;
    }"""
    light = page.evaluate(colour)
    before = page.screenshot()
    page.click("#dark-toggle")
    page.wait_for_function(f"() => ({colour})() && ({colour})() !== {json.dumps(light)}")
    assert page.evaluate(colour) == "rgb(30, 30, 30)"  # the template's own dark-mode rule
    assert page.get_attribute("#dark-toggle", "aria-pressed") == "true"
    assert page.screenshot() != before
    page.click("#dark-toggle")
    page.wait_for_function(f"() => ({colour})() === {json.dumps(light)}")


def test_review_page_works_from_a_file(browser: Browser, project: Path, run: Run) -> None:
    assert run("build").exit_code == 0
    context = browser.new_context()
    try:
        opened = context.new_page()
        requests: list[str] = []
        problems: list[str] = []
        opened.on("request", lambda request: requests.append(request.url))
        opened.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        opened.goto((project / "build" / SAMPLE / "preview.html").as_uri())
        assert opened.locator("h1#subject").inner_text() == SUBJECT
        assert [url for url in requests if not url.startswith(("file:", "data:", "about:"))] == []
        assert problems == []
    finally:
        context.close()


# -- the live preview ------------------------------------------------------------------------------


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


# -- screenshots -----------------------------------------------------------------------------------


def test_screenshots_at_600_and_375_px(run: Run, chromium: str, tmp_path: Path) -> None:
    result = run("screenshot", SAMPLE, "--out", str(tmp_path / "shots"), "--chromium", chromium)
    assert result.exit_code == 0, result.output
    sizes = {path.name: png_size(path) for path in (tmp_path / "shots").iterdir()}
    assert sorted(sizes) == [f"{SAMPLE}-375.png", f"{SAMPLE}-600.png"]
    assert sizes[f"{SAMPLE}-600.png"][0] == 600
    assert sizes[f"{SAMPLE}-375.png"][0] == 375
    assert sizes[f"{SAMPLE}-375.png"][1] > sizes[f"{SAMPLE}-600.png"][1] > 800  # the whole email


def test_screenshot_without_chromium_says_what_to_do(run: Run, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-chromium"
    result = run("screenshot", SAMPLE, "--chromium", str(missing))
    assert result.exit_code == 2
    assert f"--chromium: no Chromium executable at {missing}" in result.stderr
    assert "apt-get install chromium" in result.stderr


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
