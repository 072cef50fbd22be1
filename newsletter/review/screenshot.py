"""Screenshots of a campaign's email at desktop (600 px) and phone (375 px) width, with headless Chromium.

Chromium runs as a subprocess, once per width, with a fresh profile and no network: the page is the
same offline copy the review page shows (images as placeholders carrying their alt text), loaded
from a temporary folder. A first, shorter run measures how tall the email is at each width so that
each PNG holds the whole email and nothing below it.

Chromium is found as `--chromium PATH`, else `$NEWSLETTER_CHROMIUM`, else `chromium` or
`chromium-browser` (or Google Chrome) on the PATH.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from newsletter.errors import NewsletterError
from newsletter.files import atomic_write
from newsletter.project.environment import CHROMIUM as CHROMIUM_ENV
from newsletter.project.settings import Project
from newsletter.review.offline import offline_copy

WIDTHS = (600, 375)
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing reaches the network, whatever the page asks for
)
MAX_HEIGHT = 16384
TIMEOUT_SECONDS = 60
INSTALL_HINT = (
    f"install Chromium (Debian/Ubuntu: apt-get install chromium), or pass --chromium PATH "
    f"or set {CHROMIUM_ENV}"
)


@dataclass(frozen=True)
class Shot:
    path: Path
    width: int
    height: int


def find_chromium(explicit: Path | str | None = None) -> Path:
    """The browser to run; a NewsletterError that says how to get one when there is none."""
    chosen = explicit
    if chosen:
        path = Path(chosen).expanduser()
        found = path if path.is_file() else shutil.which(str(chosen))
        if not found or not os.access(found, os.X_OK):
            raise NewsletterError(
                f"no Chromium executable at {chosen}",
                field="--chromium",
                hint=INSTALL_HINT,
            )
        return Path(found)
    for name in CANDIDATES:
        on_path = shutil.which(name)
        if on_path:
            return Path(on_path)
    raise NewsletterError("screenshots need Chromium, and none was found on the PATH", hint=INSTALL_HINT)


def screenshot_campaign(
    project: Project,
    campaign_id: str,
    *,
    out: Path | None = None,
    chromium: Path | str | None = None,
    widths: Sequence[int] = WIDTHS,
) -> list[Shot]:
    """`<out>/<id>-600.png` and `<out>/<id>-375.png` (out: `build/<id>/`)."""
    browser = find_chromium(chromium)
    from newsletter.pipeline import render_one

    rendered = render_one(project, campaign_id)
    out = out or project.root / "build" / campaign_id
    return screenshots(rendered.html, out, campaign_id, browser, widths)


def screenshots(email_html: str, out: Path, stem: str, chromium: Path, widths: Sequence[int]) -> list[Shot]:
    with tempfile.TemporaryDirectory(prefix="newsletter-shot-") as tmp:
        folder = Path(tmp)
        page = folder / "email.html"
        page.write_text(offline_copy(email_html), encoding="utf-8")
        heights = _measure(chromium, folder, page.read_text(encoding="utf-8"), widths)
        runs = []
        for width in widths:
            png = folder / f"{width}.png"
            command = [
                str(chromium),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={folder / f'profile-{width}'}",
                f"--window-size={width},{heights[width]}",
                f"--screenshot={png}",
                page.as_uri(),
            ]
            runs.append((width, png, _start(command)))
        shots = []
        for width, png, process in runs:
            _finish(process, "taking the screenshot")
            if not png.is_file():
                raise NewsletterError(f"Chromium wrote no screenshot at {width} px", hint=INSTALL_HINT)
            target = out / f"{stem}-{width}.png"
            atomic_write(target, png.read_bytes())
            shots.append(Shot(path=target, width=width, height=heights[width]))
        return shots


def _measure(chromium: Path, folder: Path, email_doc: str, widths: Sequence[int]) -> dict[int, int]:
    """How tall the email is at each width: one run that lays it out in frames and reports."""
    escaped = html.escape(email_doc, quote=True)
    frames = "".join(
        f'<iframe data-width="{w}" style="width:{w}px;height:100px;border:0" srcdoc="{escaped}"></iframe>'
        for w in widths
    )
    script = (  # the answer goes on <body>, before the frames, as "600x1834 375x2410"
        "<script>window.addEventListener('load',function(){var sizes=[];"
        "document.querySelectorAll('iframe').forEach(function(f){sizes.push(f.dataset.width+'x'+"
        "f.contentDocument.documentElement.scrollHeight)});"
        "document.body.setAttribute('data-heights',sizes.join(' '))})</script>"
    )
    page = folder / "measure.html"
    page.write_text(f"<!doctype html><html><body>{frames}{script}</body></html>", encoding="utf-8")
    command = [
        str(chromium),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={folder / 'profile-measure'}",
        "--window-size=1200,800",
        "--dump-dom",
        page.as_uri(),
    ]
    dom = _finish(_start(command), "measuring the email")
    answer = re.search(r'<body data-heights="([\dx ]*)"', dom)
    found = {
        int(width): int(height)
        for width, height in re.findall(r"(\d+)x(\d+)", answer.group(1) if answer else "")
    }
    if set(found) != set(widths):
        raise NewsletterError("Chromium did not lay out the email (no height measured)", hint=INSTALL_HINT)
    return {width: max(1, min(height, MAX_HEIGHT)) for width, height in found.items()}


def _start(command: list[str]) -> subprocess.Popen[str]:
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as exc:
        raise NewsletterError(f"Chromium could not be started: {exc}", hint=INSTALL_HINT) from None


def _finish(process: subprocess.Popen[str], doing: str) -> str:
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise NewsletterError(f"Chromium took more than {TIMEOUT_SECONDS} s {doing}") from None
    if process.returncode != 0:
        last = [line for line in stderr.splitlines() if line.strip()][-3:]
        raise NewsletterError(
            f"Chromium failed {doing} (exit {process.returncode})"
            + (": " + " / ".join(last) if last else ""),
            hint=INSTALL_HINT,
        )
    return stdout
