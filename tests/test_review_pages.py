"""The review pages (build/<id>/preview.html and the gallery build/index.html), as files and in real
headless Chromium.

Browser tests skip when Chromium is not installed, unless CI is set: then a missing Chromium (or
Playwright) fails them, so CI cannot pass by skipping. One browser serves the whole module. The
browser fixtures below (`fixture_*`, named so that another module can import them) serve the
preview server's and the screenshots' tests too.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from newsletter.errors import NewsletterError
from newsletter.preview.server import PreviewServer
from newsletter.project.settings import open_project
from newsletter.review.screenshot import find_chromium
from tests.ci import need
from tests.conftest import REPO, Run, write

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SAMPLE = "2026-12-schrijven"
SUBJECT = "De kunst van het weglaten – en een boek dat je erbij helpt"
TIMEOUT_MS = 5000  # a rebuild and reload takes well under a second; this only bounds a failure


@pytest.fixture(name="chromium", scope="module")
def fixture_chromium() -> str:
    try:
        return str(find_chromium())
    except NewsletterError:
        need("Chromium is not installed", "chromium")


@pytest.fixture(name="browser", scope="module")
def fixture_browser(chromium: str) -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("Playwright is not installed", "chromium")
        raise
    flags = "--no-sandbox --disable-gpu --disable-background-networking --disable-component-update"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium,
            args=[*flags.split(), "--disable-sync", "--no-first-run"],
        )
        yield launched
        launched.close()


@pytest.fixture(name="server")
def fixture_server(project: Path) -> Iterator[PreviewServer]:
    with PreviewServer(open_project(project), port=0, interval=0.05) as running:
        yield running


@pytest.fixture(name="page")
def fixture_page(browser: Browser, server: PreviewServer) -> Iterator[Page]:
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


def test_the_templates_css_and_js_are_package_data(project: Path, run: Run) -> None:
    """The pages are made from files of the package, which pyproject.toml ships with it."""
    package = files("newsletter.review")
    shipped = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["newsletter.review"]
    for folder in ("templates", "static"):
        names = [entry.name for entry in (package / folder).iterdir() if entry.is_file()]
        assert names, folder
        assert all(any(fnmatch(f"{folder}/{name}", glob) for glob in shipped) for name in names), names
    css = (package / "static" / "preview.css").read_text(encoding="utf-8")
    js = (package / "static" / "preview.js").read_text(encoding="utf-8")
    assert run("build").exit_code == 0
    page = (project / "build" / SAMPLE / "preview.html").read_text(encoding="utf-8")
    gallery = (project / "build" / "index.html").read_text(encoding="utf-8")
    assert f"<style>\n{css}</style>" in page and f"<style>\n{css}</style>" in gallery
    assert f"<script>\n{js}</script>" in page


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
