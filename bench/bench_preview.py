"""How long from saving a campaign file to the reloaded review page? A report, not a test: exits 0.

Run: `.venv/bin/python bench/bench_preview.py [--saves N]`.

A copy of the sample project is served by `PreviewServer` on 127.0.0.1 and its review page is open
in headless Chromium (Playwright). Each save changes the campaign's subject; the time is taken from
just before the file is written to the `load` event of the reloaded page (the email frames included),
and the new subject is then checked on the page. The server's own report of each rebuild splits that
time into noticing the change plus rebuilding, and the rest (the event reaching the page, the reload).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench_build import copy_project  # the same sample-project copy as the build benchmark

from newsletter.errors import NewsletterError
from newsletter.preview.server import PreviewServer, Rebuild
from newsletter.project.settings import open_project
from newsletter.review.screenshot import CHROMIUM_FLAGS, find_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Page

SAMPLE = "2026-12-schrijven"
SUBJECT = "De kunst van het weglaten – en een boek dat je erbij helpt"
GOAL_MS = 500.0
# The product's screenshot flags, less --headless (Playwright adds it) and the resolver rule that keeps
# screenshots off every network (this page is served on 127.0.0.1).
CHROMIUM_ARGS = tuple(f for f in CHROMIUM_FLAGS if f != "--headless" and not f.startswith("--host-resolver"))


def wait_for_subject(page: Page, subject: str) -> float:
    """When the first reloaded page that shows `subject` fired its load event."""
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline:
        page.wait_for_event("load", timeout=10_000)
        loaded = time.perf_counter()
        if page.inner_text("h1#subject") == subject:
            return loaded
    raise SystemExit(f"no reloaded page showed the new subject {subject!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=15, help="how many saves to time (default 15)")
    args = parser.parse_args()
    try:
        chromium = find_chromium()
    except NewsletterError as error:
        print(f"skipped: {error}")
        return
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-preview-") as tmp:
        root = copy_project(Path(tmp) / "project")
        campaign = root / "campaigns" / f"{SAMPLE}.yaml"
        original = campaign.read_text(encoding="utf-8")
        rebuilt_at: list[float] = []
        rebuild_seconds: list[float] = []
        done = threading.Event()

        def on_rebuild(rebuild: Rebuild) -> None:
            rebuilt_at.append(time.perf_counter())
            rebuild_seconds.append(rebuild.seconds)
            done.set()

        to_page: list[float] = []
        to_rebuilt: list[float] = []
        builds: list[float] = []
        with (
            PreviewServer(open_project(root), port=0, on_rebuild=on_rebuild) as server,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=str(chromium), args=list(CHROMIUM_ARGS))
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(f"{server.url}{SAMPLE}/preview.html")
            for save in range(args.saves + 1):  # the first save warms up and is not counted
                subject = f"{SUBJECT} ({save})"
                done.clear()
                started = time.perf_counter()
                campaign.write_text(original.replace(SUBJECT, subject), encoding="utf-8")
                loaded = wait_for_subject(page, subject)
                done.wait(5)
                if save:
                    to_page.append((loaded - started) * 1000)
                    to_rebuilt.append((rebuilt_at[-1] - started) * 1000)
                    builds.append(rebuild_seconds[-1] * 1000)
            browser.close()

    rows = [
        ("save → reloaded page (load event)", to_page, GOAL_MS),
        ("  save → rebuild done (noticing + building)", to_rebuilt, None),
        ("  of which the build", builds, None),
    ]
    print(f"preview: one campaign, {args.saves} saves, watcher polling every {server.interval * 1000:.0f} ms")
    print(f"{'measure':<46}{'median':>9}{'min':>9}{'max':>9}  goal")
    for name, values, goal in rows:
        median = statistics.median(values)
        verdict = "" if goal is None else f"< {goal:.0f} ms: {'met' if median < goal else 'MISSED'}"
        print(f"{name:<46}{median:>7.0f}ms{min(values):>7.0f}ms{max(values):>7.0f}ms  {verdict}")


if __name__ == "__main__":
    main()
