"""The email in the dark colour scheme, as real headless Chromium paints it (issue 11).

`newsletter check` reads the dark-mode rules the way a browser would (tests/test_checks.py has the
`dark-contrast` cases); this file asks an actual browser, so a palette that only looks right to our
own CSS reader cannot pass. Chromium is found by the fixture of tests/test_review_pages.py (and the
test skips or fails the same way).

`--blink-settings=preferredColorScheme=0` is Blink's own setting (0 is dark) and makes
`@media (prefers-color-scheme: dark)` match in headless Chromium, without the forced "auto dark"
inversion of pages that do not ask for it. A page that frames the email reports what Chromium
computed in an attribute, read back with `--dump-dom`, the way `newsletter.review.screenshot`
measures heights.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from newsletter.pipeline import render_one
from newsletter.project.settings import open_project
from newsletter.render.renderer import Rendered
from newsletter.review.css import RGB, colour, contrast_ratio, luminance
from newsletter.review.offline import offline_copy
from newsletter.review.screenshot import CHROMIUM_FLAGS, TIMEOUT_SECONDS
from tests.test_review_pages import fixture_chromium  # noqa: F401 - a fixture

DARK = "--blink-settings=preferredColorScheme=0"
LIGHT = "--blink-settings=preferredColorScheme=1"
CAMPAIGNS = ("2026-12-schrijven", "2026-12-paper")
WINDOW = (600, 8000)  # taller than either sample, so the bottom of the window is below the email
AA = 4.5
PRIMARY = "#8c1c13"  # colours.primary and colours.background in newsletter.toml
BACKGROUND = "#f4efe6"

# Runs in the page that frames the email, once it has loaded (the offline copy's Content-Security-Policy
# allows no script inside the email): the colours Chromium computed for the parts issue 11 names.
PROBE = """<script>
window.addEventListener('load', function () {
  var frame = document.querySelector('iframe'), doc = frame.contentDocument, win = frame.contentWindow;
  function clear(c) { return c === 'transparent' || /rgba\\(.*, 0\\)$/.test(c); }
  function background(el) {
    for (; el; el = el.parentElement) {
      var c = win.getComputedStyle(el).backgroundColor;
      if (!clear(c)) { return c; }
    }
    return null;
  }
  function parts(selector) {
    return Array.prototype.map.call(doc.querySelectorAll(selector), function (el) {
      var s = win.getComputedStyle(el);
      return {color: s.color, background: background(el), border: s.borderTopColor,
              borderWidth: s.borderTopWidth};
    });
  }
  var root = win.getComputedStyle(doc.documentElement).backgroundColor;
  var below = doc.elementFromPoint(5, win.innerHeight - 5);
  var found = {
    dark: win.matchMedia('(prefers-color-scheme: dark)').matches,
    text: parts('.email-body td div p:not([class])'),
    muted: parts('.email-body p.byline, .email-body p.bio, .email-body p.co-authors'),
    footer: parts('.email-body p.footer'),
    footerLink: parts('.email-body p.footer a'),
    label: parts('.email-body p.label'),
    kicker: parts('.email-body p.book-kicker'),
    button: parts('.email-body td[bgcolor] > a'),
    bookBorder: parts('.email-body td[style*="border-top"]'),
    below: below ? below.tagName.toLowerCase() : null,
    canvas: clear(root) ? win.getComputedStyle(doc.body).backgroundColor : root
  };
  document.body.setAttribute('data-probe', JSON.stringify(found));
});
</script>"""


def painted(chromium: str, email_html: str, scheme: str, folder: Path) -> dict[str, Any]:
    """What Chromium computed for the email in one colour scheme."""
    framed = html.escape(offline_copy(email_html), quote=True)
    width, height = WINDOW
    page = folder / f"probe{scheme[-1]}.html"
    page.write_text(
        f'<!doctype html><html><body style="margin:0"><iframe style="width:{width}px;height:{height}px;'
        f'border:0" srcdoc="{framed}"></iframe>{PROBE}</body></html>',
        encoding="utf-8",
    )
    command = [
        chromium,
        *CHROMIUM_FLAGS,
        scheme,
        f"--user-data-dir={folder / f'profile{scheme[-1]}'}",
        f"--window-size={width},{height + 100}",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = re.search(r'<body[^>]*\sdata-probe="([^"]*)"', done.stdout)
    assert answer, "the probe did not run: " + done.stdout[:500]
    probed: dict[str, Any] = json.loads(html.unescape(answer.group(1)))
    return probed


def rgb(css: str | None) -> RGB:
    found = colour(css or "")
    assert found is not None, css
    return found


def contrast(part: dict[str, str]) -> float:
    return contrast_ratio(rgb(part["color"]), rgb(part["background"]))


def render(project: Path, campaign_id: str) -> Rendered:
    return render_one(open_project(project), campaign_id)


@pytest.fixture(name="rendered", params=CAMPAIGNS)
def fixture_rendered(request: pytest.FixtureRequest, project: Path) -> Rendered:
    return render(project, request.param)


def test_dark_scheme_as_chromium_paints_it(chromium: str, rendered: Rendered, tmp_path: Path) -> None:
    """Every problem of issue 11 is listed at once, so a failure says all that is still wrong."""
    seen = painted(chromium, rendered.html, DARK, tmp_path)
    assert seen["dark"], "Chromium did not switch to the dark colour scheme"
    assert seen["below"] in ("html", "body"), "the window does not reach below the email"
    assert seen["bookBorder"], "the book block has no border-top: update this test"
    problems = dark_problems(seen)
    assert problems == [], "\n".join(problems)


def dark_problems(seen: dict[str, Any]) -> list[str]:
    problems = []
    if luminance(rgb(seen["canvas"])) >= 0.05:
        problems.append(f"below the email the page is {seen['canvas']}, not dark")
    for name in ("text", "muted", "footer", "footerLink", "label", "kicker", "button"):
        if not seen[name]:
            problems.append(f"the email has no {name} to look at: update this test")
        problems += [
            f"{name}: {part['color']} on {part['background']} has a contrast of {contrast(part):.2f}:1"
            for part in seen[name]
            if contrast(part) < AA
        ]
    for part in seen["label"] + seen["kicker"]:  # still the brand's red, only lighter
        red, green, blue = rgb(part["color"])
        if red < green + 60 or red < blue + 60:
            problems.append(f"a label lost the brand colour: it is {part['color']}")
    for border in seen["bookBorder"]:
        if contrast_ratio(rgb(border["border"]), rgb(border["background"])) >= 1.5:
            problems.append(f"the book block's border {border['border']} shows on {border['background']}")
    return problems


def test_light_scheme_is_unchanged(chromium: str, project: Path, tmp_path: Path) -> None:
    seen = painted(chromium, render(project, CAMPAIGNS[0]).html, LIGHT, tmp_path)
    assert not seen["dark"]
    assert rgb(seen["canvas"]) == rgb(BACKGROUND)
    assert {rgb(part["color"]) for part in seen["label"] + seen["kicker"]} == {rgb(PRIMARY)}
    assert {rgb(part["color"]) for part in seen["footerLink"]} == {rgb("#5f5f5f")}
    assert [rgb(part["border"]) for part in seen["bookBorder"]] == [rgb(BACKGROUND)]
