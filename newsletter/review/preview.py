"""Review pages and the live preview: what an editor looks at before a campaign goes out.

`newsletter build` writes, next to each email, `build/<id>/preview.html` (the email at desktop and
phone width, the inbox line, the text part, every link, the checks, the size against Gmail's clipping
limit and a dark-mode view) and `build/index.html`, a gallery of every campaign. Both are
self-contained: inline CSS and JS, no request to the internet, so they work from file:// as well.
The email frames show a copy of the email whose external images are replaced by placeholders that
carry the alt text (`offline_copy`); `email.html` itself is never touched.

`PreviewServer` serves those pages on 127.0.0.1, watches the project's files, rebuilds what changed
and makes open pages reload (Server-Sent Events on `/__reload`; the little script that listens is
added to pages as they are served, never to the files). A build error shows as an overlay naming file
and line, and the server keeps running until the file is fixed.
"""

from __future__ import annotations

import html as html_lib
import json
import logging
import os
import re
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cached_property, lru_cache, partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

import jinja2

from newsletter.errors import NewsletterError, flatten
from newsletter.files import atomic_write
from newsletter.payments.lock import lock_path
from newsletter.pipeline import BuildReport, build
from newsletter.project.campaign import campaign_files
from newsletter.project.settings import SETTINGS_FILE, Project, open_project
from newsletter.render.links import LinkKind
from newsletter.render.renderer import GMAIL_CLIP_BYTES, Rendered

if TYPE_CHECKING:
    from newsletter.review.checks import Finding

log = logging.getLogger(__name__)

DESKTOP_FRAME = 800  # px: a desktop client's reading pane around the 600 px email
MOBILE_FRAME = 375  # px: a common phone width
RELOAD_PATH = "/__reload"
SETTLE_SECONDS = 0.03  # a change is built once the files have stayed the same this long
DATA_ID = "campaign-data"  # the gallery keeps its cards as JSON, so a partial build can update it

# The pages load nothing but themselves; the email copies inside them inherit this policy, so an
# external resource the offline copy missed is blocked instead of fetched.
PAGE_CSP = (
    "default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; connect-src 'self'; frame-src 'self' about: data:"
)
EMAIL_CSP = "default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'"

KIND_LABELS = {
    LinkKind.SITE: "site, with UTM",
    LinkKind.EXTERNAL: "external",
    LinkKind.ORDER_SHOP: "order: shop page (fallback)",
    LinkKind.ORDER_STRIPE_TEST: "order: Stripe, test mode",
    LinkKind.ORDER_STRIPE_LIVE: "order: Stripe, LIVE",
    LinkKind.WEB_VERSION: "web version",
    LinkKind.UNSUBSCRIBE: "unsubscribe",
}


# -- the email, offline -------------------------------------------------------------------------

_TAG = re.compile(r"<!--.*?-->|<([A-Za-z][\w:-]*)(\s[^<>]*)?>", re.DOTALL)
_RESOURCE_ATTR = re.compile(
    r"\s(src|srcset|background|poster)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)", re.IGNORECASE
)
_ATTR = r"\s{name}\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))"
_CSS_URL = re.compile(r"url\(\s*(?![\"']?\s*data:)[^)]*\)", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"@import\b[^;]*;", re.IGNORECASE)
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


def offline_copy(email_html: str) -> str:
    """The email as the review frames and screenshots show it: nothing is fetched from the network.

    Images become placeholders showing their alt text (at the width the email gives them); other
    external resources (stylesheets, CSS `url()`, background attributes) are dropped; links open in a
    new window instead of inside the frame. Conditional comments for Outlook are left as they are.
    """

    def tag(match: re.Match[str]) -> str:
        name, attrs = match.group(1), match.group(2) or ""
        if name is None:
            return match.group(0)
        if name.lower() == "link" and re.search(r"stylesheet|preload|icon", attrs, re.I):
            return ""
        if not _RESOURCE_ATTR.search(attrs):
            return match.group(0)
        return f"<{name}{_RESOURCE_ATTR.sub(partial(_resource, name.lower(), attrs), attrs)}>"

    result = _CSS_IMPORT.sub("", _TAG.sub(tag, email_html))
    result = _CSS_URL.sub("none", result)
    head = (
        f'<meta http-equiv="Content-Security-Policy" content="{EMAIL_CSP}">'
        '<meta name="referrer" content="no-referrer"><base target="_blank">'
    )
    found = _HEAD.search(result)
    if found:
        return result[: found.end()] + head + result[found.end() :]
    return head + result


def _resource(tag: str, attrs: str, match: re.Match[str]) -> str:
    name, value = match.group(1).lower(), html_lib.unescape(match.group(2).strip("\"'"))
    if value.startswith("data:"):
        return match.group(0)
    if tag == "img" and name == "src":
        width = _attr(attrs, "width")
        alt = _attr(attrs, "alt") or "image"
        pixels = int(width) if width and width.isdigit() else 300
        return f' src="{html_lib.escape(placeholder_image(alt, pixels))}"'
    return ""


def _attr(attrs: str, name: str) -> str | None:
    found = re.search(_ATTR.format(name=name), attrs, re.IGNORECASE)
    if not found:
        return None
    return html_lib.unescape(next(group for group in found.groups() if group is not None))


def placeholder_image(alt: str, width: int) -> str:
    """An inline SVG, as a data: URI, the size of the image it stands for, showing its alt text."""
    width = max(40, min(width, 1200))
    height = max(40, round(width * 0.6))
    lines = textwrap.wrap(" ".join(alt.split()), width=max(8, width // 7))[:4] or ["image"]
    first = height / 2 - (len(lines) - 1) * 8
    text = "".join(
        f'<tspan x="50%" y="{first + 16 * n:.0f}">{html_lib.escape(line)}</tspan>'
        for n, line in enumerate(lines)
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><rect width="100%" height="100%" fill="#dcd6cc"/>'
        f'<text font-family="sans-serif" font-size="12" fill="#4a4a4a" text-anchor="middle" '
        f'dominant-baseline="middle">{text}</text></svg>'
    )
    return "data:image/svg+xml," + quote(svg, safe="=:/,.;()")


# -- the review pages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """One campaign in the gallery; kept as JSON in index.html so a partial build can update it."""

    id: str
    subject: str
    preheader: str
    locale: str
    date: str | None  # the campaign file's modification date: the build time would not be repeatable
    errors: int
    warnings: int
    html_bytes: int


def write_review_pages(project: Project, report: BuildReport, out: Path) -> dict[str, list[Finding]]:
    """Run the checks on every built campaign, write its preview.html and the gallery (index.html).

    Returns the findings by campaign id (the build command prints their counts). The gallery keeps
    the campaigns built earlier that still exist, so `newsletter build ONE` does not empty it.
    """
    from newsletter.review.checks import check_campaign

    findings = {b.rendered.campaign.id: check_campaign(b.rendered, project) for b in report.built}
    cards = {card.id: card for card in read_cards(out / "index.html")}
    for built in report.built:
        if not built.written:
            continue
        campaign_findings = findings[built.rendered.campaign.id]
        atomic_write(built.out_dir / "preview.html", review_page(built.rendered, project, campaign_findings))
        card = card_for(built.rendered, campaign_findings)
        cards[card.id] = card
    if not any(built.written for built in report.built):
        return findings  # nothing new to show: a run whose campaigns all failed writes nothing at all
    existing, _ = campaign_files(project)
    shown = [cards[key] for key in sorted(cards) if key in existing and (out / key / "email.html").is_file()]
    atomic_write(out / "index.html", gallery_page(project, shown, out))
    return findings


def card_for(rendered: Rendered, findings: Sequence[Finding]) -> Card:
    campaign = rendered.campaign
    try:
        modified: str | None = date.fromtimestamp(campaign.path.stat().st_mtime).isoformat()
    except OSError:
        modified = None
    errors, warnings = count_findings(findings)
    return Card(
        id=campaign.id,
        subject=campaign.subject,
        preheader=campaign.preheader,
        locale=campaign.locale,
        date=modified,
        errors=errors,
        warnings=warnings,
        html_bytes=rendered.html_bytes,
    )


def read_cards(index: Path) -> list[Card]:
    """The cards of an earlier gallery; an unreadable or foreign index.html simply has none."""
    try:
        text = index.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    found = re.search(rf'<script type="application/json" id="{DATA_ID}">(.*?)</script>', text, re.DOTALL)
    if not found:
        return []
    try:
        return [Card(**entry) for entry in json.loads(found.group(1))]
    except (ValueError, TypeError):
        return []


def count_findings(findings: Iterable[Finding]) -> tuple[int, int]:
    listed = list(findings)
    errors = sum(1 for finding in listed if finding.severity == "error")
    return errors, len(listed) - errors


def checks_summary(findings: Iterable[Finding]) -> str:
    """`checks: 0 errors, 1 warning`, as the build command prints it."""
    errors, warnings = count_findings(findings)
    return f"checks: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def review_page(rendered: Rendered, project: Project, findings: Sequence[Finding]) -> str:
    campaign = rendered.campaign
    errors, warnings = count_findings(findings)
    share = rendered.html_bytes / GMAIL_CLIP_BYTES
    return _template("preview").render(
        csp=PAGE_CSP,
        css=_CSS,
        js=_PREVIEW_JS,
        campaign=campaign,
        sender=project.settings.sender,
        email_doc=offline_copy(rendered.html),
        text=rendered.text,
        links=[
            {
                "block": link.block,
                "kind": str(link.kind),
                "kind_label": KIND_LABELS.get(link.kind, str(link.kind)),
                "label": link.label,
                "url": link.url,
            }
            for link in rendered.links
        ],
        findings=findings,
        warnings=rendered.warnings,
        summary=f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}",
        status=_status(errors, warnings),
        size={
            "kb": f"{rendered.html_bytes / 1024:.1f}",
            "limit_kb": f"{GMAIL_CLIP_BYTES / 1024:.0f}",
            "percent": f"{share * 100:.0f}",
            "width": f"{min(share, 1) * 100:.1f}",
            "state": "over" if share > 1 else "near" if share > 0.75 else "ok",
        },
        desktop=DESKTOP_FRAME,
        mobile=MOBILE_FRAME,
    )


def gallery_page(project: Project, cards: Sequence[Card], out: Path) -> str:
    data = json.dumps([asdict(card) for card in cards], ensure_ascii=False, sort_keys=True)
    return _template("gallery").render(
        csp=PAGE_CSP,
        css=_CSS,
        brand=project.settings.brand.name,
        sender=project.settings.sender,
        cards=[
            {
                "card": card,
                "email_doc": offline_copy((out / card.id / "email.html").read_text(encoding="utf-8")),
                "status": _status(card.errors, card.warnings),
                "summary": f"{_plural(card.errors, 'error')}, {_plural(card.warnings, 'warning')}",
                "kb": f"{card.html_bytes / 1024:.1f}",
            }
            for card in cards
        ],
        data_id=DATA_ID,
        data=data.replace("<", "\\u003c"),
        desktop=DESKTOP_FRAME,
    )


def _status(errors: int, warnings: int) -> str:
    return "error" if errors else "warning" if warnings else "ok"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """Built once, on first use: the page templates are constants of this module."""
    return jinja2.Environment(
        loader=jinja2.DictLoader({"head": _HEAD_HTML, "preview": _PREVIEW_HTML, "gallery": _GALLERY_HTML}),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _template(name: str) -> jinja2.Template:
    return _environment().get_template(name)


_CSS = """
:root { color-scheme: light; --bg: #f3f1ed; --fg: #1f1f1f; --muted: #666; --card: #fff; --line: #ddd8cf;
  --accent: #8c1c13; --ok: #2e7d32; --warn: #b26a00; --err: #c62828; }
body.dark { color-scheme: dark; --bg: #17181a; --fg: #e8e6e3; --muted: #a3a09b; --card: #232427;
  --line: #3a3b3f; --accent: #ff8a7a; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
a { color: var(--accent); }
header.bar { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: baseline; padding: 14px 24px;
  background: var(--card); border-bottom: 1px solid var(--line); }
header.bar h1 { font-size: 18px; margin: 0; flex: 1 1 320px; }
header.bar .facts { color: var(--muted); font-size: 13px; }
main { padding: 16px 24px 48px; }
section { margin: 0 0 28px; }
h2 { font-size: 15px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
  margin: 0 0 8px; }
button { font: inherit; padding: 4px 12px; border-radius: 6px; border: 1px solid var(--line);
  background: var(--bg); color: var(--fg); cursor: pointer; }
button[aria-pressed="true"] { background: var(--fg); color: var(--bg); }
.inbox { display: flex; gap: 12px; align-items: baseline; max-width: 1200px; padding: 10px 14px;
  background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
.inbox .sender { font-weight: 700; flex: 0 0 auto; max-width: 200px; overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; }
.inbox .line { flex: 1 1 auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.inbox .subject { font-weight: 600; }
.inbox .preheader { color: var(--muted); }
.frames { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
figure { margin: 0; }
figcaption { font-size: 13px; color: var(--muted); margin-bottom: 6px; }
iframe.email { display: block; box-sizing: content-box; border: 1px solid var(--line); background: #fff;
  height: 900px; }
.size .track { width: 100%; max-width: 600px; height: 14px; border-radius: 7px; background: var(--line);
  overflow: hidden; }
.size .fill { height: 100%; background: var(--ok); }
.size .fill.near { background: var(--warn); }
.size .fill.over { background: var(--err); }
table { border-collapse: collapse; width: 100%; max-width: 1200px; background: var(--card); font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid var(--line); }
td.target { word-break: break-all; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  color: #fff; background: var(--ok); }
.badge.warning { background: var(--warn); }
.badge.error { background: var(--err); }
.kind-order-stripe-live { color: var(--err); font-weight: 700; }
pre.text { background: var(--card); border: 1px solid var(--line); padding: 12px 16px; max-width: 80ch;
  white-space: pre-wrap; overflow-wrap: anywhere; font-size: 13px; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, 402px); gap: 20px; }
.card { position: relative; background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  overflow: hidden; }
.card .thumb { height: 360px; overflow: hidden; border-bottom: 1px solid var(--line); background: #fff; }
.card .thumb iframe { width: 800px; height: 720px; border: 0; transform: scale(.5);
  transform-origin: 0 0; pointer-events: none; }
.card .meta { padding: 10px 14px 14px; }
.card h2 { font-size: 15px; text-transform: none; letter-spacing: 0; color: var(--fg); margin: 0 0 4px; }
.card h2 a { color: inherit; text-decoration: none; }
.card h2 a::after { content: ""; position: absolute; inset: 0; }
.card p { margin: 0 0 6px; font-size: 13px; color: var(--muted); }
.empty { color: var(--muted); }
"""

_PREVIEW_JS = r"""
(function () {
  "use strict";
  var frames = [].slice.call(document.querySelectorAll("iframe.email"));
  var light = frames.map(function (frame) { return frame.getAttribute("srcdoc") || ""; });
  var toggle = document.getElementById("dark-toggle");
  function fit(frame) {
    var doc = frame.contentDocument;
    if (doc && doc.documentElement) frame.style.height = doc.documentElement.scrollHeight + "px";
  }
  // Clients that support dark mode apply the email's prefers-color-scheme rules; an email without
  // any is shown the way clients that force dark mode treat it (colours inverted, images kept).
  function toDark(html) {
    var own = /prefers-color-scheme\s*:\s*dark/i.test(html);
    var extra = '<meta name="color-scheme" content="dark"><style>:root{color-scheme:dark}' +
      (own ? "" : "html{filter:invert(1) hue-rotate(180deg)}img{filter:invert(1) hue-rotate(180deg)}") +
      "</style>";
    return html
      .replace(/\(\s*prefers-color-scheme\s*:\s*dark\s*\)/gi, "(min-width:0px)")
      .replace(/\(\s*prefers-color-scheme\s*:\s*light\s*\)/gi, "(max-width:0px)")
      .replace(/<\/head>/i, function () { return extra + "</head>"; });
  }
  function setDark(on) {
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    document.body.classList.toggle("dark", on);
    frames.forEach(function (frame, i) { frame.srcdoc = on ? toDark(light[i]) : light[i]; });
    try { sessionStorage.setItem("newsletter-dark", on ? "1" : ""); } catch (e) { /* file:// */ }
  }
  frames.forEach(function (frame) {
    frame.addEventListener("load", function () { fit(frame); });
    fit(frame);
  });
  toggle.addEventListener("click", function () {
    setDark(toggle.getAttribute("aria-pressed") !== "true");
  });
  var remembered = "";
  try { remembered = sessionStorage.getItem("newsletter-dark") || ""; } catch (e) { /* file:// */ }
  if (remembered) setDark(true);
})();
"""

# The head both pages share: self-contained (inline CSS), and a CSP that keeps them off the network.
_HEAD_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<link rel="icon" href="data:,">
<title>{{ title }}</title>
<style>{{ css|safe }}</style>
</head>
"""

_PREVIEW_HTML = """{% with title = campaign.subject ~ " · " ~ campaign.id ~ " · preview" %}
{% include "head" %}
{% endwith +%}
<body>
<header class="bar">
  <a href="../index.html">← All campaigns</a>
  <h1 id="subject" lang="{{ campaign.locale }}">{{ campaign.subject }}</h1>
  <span class="facts">{{ campaign.id }} · {{ campaign.locale }} · template {{ campaign.template }}</span>
  <span class="badge {{ status }}" id="check-status">{{ summary }}</span>
  <button id="dark-toggle" type="button" aria-pressed="false">Dark mode</button>
</header>
<main>
<section aria-labelledby="inbox-heading">
  <h2 id="inbox-heading">Inbox</h2>
  <div class="inbox" lang="{{ campaign.locale }}">
    <span class="sender">{{ sender.name }}</span>
    <span class="line"><span class="subject">{{ campaign.subject }}</span>
      <span class="preheader">– {{ campaign.preheader }}</span></span>
  </div>
</section>
<section class="frames" aria-label="The email">
  <figure>
    <figcaption>Desktop: the {{ desktop - 200 }} px email in a {{ desktop }} px window</figcaption>
    <iframe class="email" id="frame-desktop" title="Email at desktop width" width="{{ desktop }}"
      sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"
      srcdoc="{{ email_doc }}"></iframe>
  </figure>
  <figure>
    <figcaption>Phone: {{ mobile }} px</figcaption>
    <iframe class="email" id="frame-mobile" title="Email at phone width" width="{{ mobile }}"
      sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"
      srcdoc="{{ email_doc }}"></iframe>
  </figure>
</section>
<section class="size" id="size" aria-labelledby="size-heading">
  <h2 id="size-heading">Size</h2>
  <p>HTML {{ size.kb }} KB of the {{ size.limit_kb }} KB Gmail shows before clipping ({{ size.percent }}%)</p>
  <div class="track" role="meter" aria-valuemin="0" aria-valuemax="100" aria-valuenow="{{ size.percent }}"
    aria-label="HTML size against Gmail's clipping limit"><div class="fill {{ size.state }}"
    style="width: {{ size.width }}%"></div></div>
</section>
<section id="checks" aria-labelledby="checks-heading">
  <h2 id="checks-heading">Checks: {{ summary }}</h2>
{% if findings %}
  <table>
    <thead><tr><th>severity</th><th>rule</th><th>where</th><th>message</th></tr></thead>
    <tbody>
{% for finding in findings %}
      <tr class="finding {{ finding.severity }}">
        <td><span class="badge {{ finding.severity }}">{{ finding.severity }}</span></td>
        <td>{{ finding.rule }}</td><td>{{ finding.where }}</td><td>{{ finding.message }}</td></tr>
{% endfor %}
    </tbody>
  </table>
{% else %}
  <p class="empty">No findings.</p>
{% endif %}
{% if warnings %}
  <h2>Build warnings</h2>
  <ul>
{% for warning in warnings %}
    <li>{{ warning }}</li>
{% endfor %}
  </ul>
{% endif %}
</section>
<section id="links" aria-labelledby="links-heading">
  <h2 id="links-heading">Links ({{ links|length }})</h2>
  <table>
    <thead><tr><th>block</th><th>kind</th><th>label</th><th>target</th></tr></thead>
    <tbody>
{% for link in links %}
      <tr class="link" data-kind="{{ link.kind }}"><td>{{ link.block }}</td>
        <td class="kind-{{ link.kind }}">{{ link.kind_label }}</td><td>{{ link.label }}</td>
        <td class="target"><a href="{{ link.url }}" target="_blank"
          rel="noopener noreferrer">{{ link.url }}</a></td></tr>
{% endfor %}
    </tbody>
  </table>
</section>
<section id="text" aria-labelledby="text-heading">
  <h2 id="text-heading">Text part</h2>
  <pre class="text" lang="{{ campaign.locale }}">{{ text }}</pre>
</section>
</main>
<script>{{ js|safe }}</script>
</body>
</html>
"""

_GALLERY_HTML = """{% with title = brand ~ " · campaigns" %}
{% include "head" %}
{% endwith +%}
<body>
<header class="bar">
  <h1>{{ brand }} · campaigns</h1>
  <span class="facts">{{ cards|length }} campaign{{ "" if cards|length == 1 else "s" }}
    · from {{ sender.name }}</span>
</header>
<main>
{% if cards %}
<div class="gallery">
{% for entry in cards %}
  <article class="card" id="card-{{ entry.card.id }}">
    <div class="thumb"><iframe title="{{ entry.card.subject }}" tabindex="-1" aria-hidden="true" sandbox=""
      width="{{ desktop }}" srcdoc="{{ entry.email_doc }}"></iframe></div>
    <div class="meta">
      <h2 lang="{{ entry.card.locale }}"><a
        href="{{ entry.card.id }}/preview.html">{{ entry.card.subject }}</a></h2>
      <p lang="{{ entry.card.locale }}">{{ entry.card.preheader }}</p>
      <p>{{ entry.card.id }} · {{ entry.card.locale }}
        {%- if entry.card.date %} · {{ entry.card.date }}{% endif %} · {{ entry.kb }} KB</p>
      <span class="badge {{ entry.status }}">checks: {{ entry.summary }}</span>
    </div>
  </article>
{% endfor %}
</div>
{% else %}
<p class="empty">No campaigns built yet.</p>
{% endif %}
</main>
<script type="application/json" id="{{ data_id }}">{{ data|safe }}</script>
</body>
</html>
"""


# -- the live preview ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rebuild:
    """What one rebuild did, for whoever started the server (the CLI prints it)."""

    changed: tuple[Path, ...]  # empty for the first build
    campaigns: tuple[str, ...]  # the campaigns built
    errors: tuple[NewsletterError, ...]
    seconds: float
    crash: str | None = None  # a bug in the tool: its traceback


@dataclass
class _State:
    version: int = 0
    errors: tuple[NewsletterError, ...] = ()
    crash: str | None = None
    stopping: bool = False
    condition: threading.Condition = field(default_factory=threading.Condition)


class PreviewServer:
    """Serve build/ on 127.0.0.1, rebuild on change, reload open pages.

    `start()` builds every campaign, then serves and watches in background threads; `stop()` ends
    both. `port=0` takes a free port; a taken port falls back to a free one (see `url`).
    """

    def __init__(
        self,
        project: Project,
        *,
        port: int = 8000,
        out: Path | None = None,
        interval: float = 0.1,
        on_rebuild: Callable[[Rebuild], None] | None = None,
    ) -> None:
        self.project = project
        self.out = out or project.root / "build"
        self.requested_port = port
        self.interval = interval
        self.on_rebuild = on_rebuild
        self._state = _State()
        self._httpd: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the preview server is not running")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/"

    @cached_property
    def watched(self) -> tuple[Path, ...]:
        p = self.project
        return (
            p.campaigns_dir,
            p.columns_dir,
            p.books_dir,
            p.authors_file,
            p.templates_dir,
            p.root / SETTINGS_FILE,
            lock_path(p),
        )

    def start(self) -> PreviewServer:
        snapshot = watch_snapshot(self.watched)
        self._rebuild(())
        self._httpd = _bind(self.requested_port, self)
        self.out.mkdir(parents=True, exist_ok=True)
        serve = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="preview-http", daemon=True
        )
        watch = threading.Thread(target=self._watch, args=(snapshot,), name="preview-watch", daemon=True)
        self._threads = [serve, watch]
        for thread in self._threads:
            thread.start()
        return self

    def wait(self) -> None:
        """Block until `stop()` (the CLI stops on Ctrl-C)."""
        while not self._stopped.wait(0.5):
            pass

    def stop(self) -> None:
        with self._state.condition:
            self._state.stopping = True
            self._state.condition.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._stopped.set()

    def __enter__(self) -> PreviewServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- watching and rebuilding

    def _watch(self, snapshot: dict[Path, tuple[int, int]]) -> None:
        while not self._state.stopping:
            time.sleep(self.interval)
            current = watch_snapshot(self.watched)
            if current != snapshot:
                current = self._settled(current)
                changed = tuple(
                    sorted(p for p in current.keys() | snapshot.keys() if current.get(p) != snapshot.get(p))
                )
                snapshot = current
                self._rebuild(changed)

    def _settled(self, current: dict[Path, tuple[int, int]]) -> dict[Path, tuple[int, int]]:
        """Wait until the files stop changing (a save is often a truncate, then writes), up to a second:
        building a half-written file would flash an error that was never really there."""
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            time.sleep(SETTLE_SECONDS)
            again = watch_snapshot(self.watched)
            if again == current:
                break
            current = again
        return current

    def _rebuild(self, changed: tuple[Path, ...]) -> None:
        started = time.perf_counter()
        ids: tuple[str, ...] = ()
        errors: tuple[NewsletterError, ...] = ()
        crash = None
        try:
            if changed:  # settings are read afresh: a broken newsletter.toml stays an error until fixed
                self.project = open_project(self.project.root)
            ids = self._campaigns_to_build(changed)
            report = build(self.project, ids, out=self.out)
            report.findings = write_review_pages(self.project, report, self.out)
            ids = tuple(b.rendered.campaign.id for b in report.built)
            errors = tuple(flatten(report.errors))
        except NewsletterError as error:
            errors = tuple(flatten([error]))
        except Exception:  # a bug in the tool must not take the preview down with it
            crash = traceback.format_exc()
            log.exception("rebuild failed")
        with self._state.condition:
            self._state.version += 1
            self._state.errors = errors
            self._state.crash = crash
            self._state.condition.notify_all()
        if self.on_rebuild:
            self.on_rebuild(Rebuild(changed, ids, errors, time.perf_counter() - started, crash))

    def _campaigns_to_build(self, changed: Sequence[Path]) -> tuple[str, ...]:
        """Only the changed campaigns when nothing else changed and all was well; else everything
        (a shared file, a deleted campaign, or errors that a full build must confirm or clear)."""
        if not changed or self._state.errors or self._state.crash:
            return ()
        campaigns = self.project.campaigns_dir
        ids = []
        for path in changed:
            if path.parent != campaigns or path.suffix not in {".yaml", ".yml"} or not path.exists():
                return ()
            ids.append(path.stem)
        return tuple(sorted(set(ids)))

    # -- what the HTTP handlers need

    def current(self) -> tuple[int, tuple[NewsletterError, ...], str | None]:
        with self._state.condition:
            return self._state.version, self._state.errors, self._state.crash

    def wait_for_change(self, since: int, timeout: float) -> int | None:
        """The new version once there is one; None when stopping; `since` again on timeout."""
        with self._state.condition:
            self._state.condition.wait_for(
                lambda: self._state.version != since or self._state.stopping, timeout=timeout
            )
            return None if self._state.stopping else self._state.version

    def decorate(self, page: str) -> str:
        """A served page: the build errors on top of it, and the script that reloads it on change."""
        version, errors, crash = self.current()
        extra = error_overlay(errors, crash, self.project.root) + _RELOAD_SCRIPT.replace(
            "__VERSION__", str(version)
        )
        found = list(re.finditer(r"</body\s*>", page, re.IGNORECASE))
        if found:
            at = found[-1].start()
            return page[:at] + extra + page[at:]
        return page + extra

    def error_page(self) -> str:
        return self.decorate(
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
            f"<title>Build failed</title><style>{_CSS}</style></head><body><main></main></body></html>"
        )


_RELOAD_SCRIPT = (
    "<script>(function(){var s=new EventSource('" + RELOAD_PATH + "?since=__VERSION__');"
    "s.onmessage=function(){s.close();location.reload();};})();</script>"
)


def error_overlay(errors: Sequence[NewsletterError], crash: str | None, root: Path) -> str:
    if not errors and not crash:
        return ""
    lines = [error.format(root) for error in errors]
    if crash:
        lines.append(f"internal error (a bug in newsletter):\n{crash}")
    body = html_lib.escape("\n".join(lines))
    count = len(errors) + (1 if crash else 0)
    return (
        '<div id="newsletter-build-errors" role="alert" style="position:fixed;inset:0 0 auto 0;'
        "z-index:2147483647;max-height:80vh;overflow:auto;background:#fff4f4;color:#7a0000;"
        "border-bottom:3px solid #c62828;"
        'padding:14px 24px;font:14px/1.45 system-ui,sans-serif;box-shadow:0 4px 16px rgba(0,0,0,.25)">'
        f"<strong>Build failed: {count} problem{'s' if count != 1 else ''}.</strong> "
        "The page shows the last good build; it reloads when the files are fixed."
        '<pre style="white-space:pre-wrap;margin:8px 0 0;'
        'font:13px/1.5 ui-monospace,Menlo,Consolas,monospace">'
        f"{body}</pre></div>"
    )


def watch_snapshot(paths: Iterable[Path]) -> dict[Path, tuple[int, int]]:
    """Modification time and size of every file under `paths` (editors' backup and swap files aside)."""
    found: dict[Path, tuple[int, int]] = {}
    for path in paths:
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for name in files:
                    if not _ignored(name):
                        _stat_into(found, Path(folder, name))
        else:
            _stat_into(found, path)
    return found


def _ignored(name: str) -> bool:
    return name.startswith((".", "#")) or name.endswith(("~", ".swp", ".tmp"))


def _stat_into(found: dict[Path, tuple[int, int]], path: Path) -> None:
    try:
        stat = path.stat()
    except OSError:
        return
    found[path] = (stat.st_mtime_ns, stat.st_size)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], preview: PreviewServer) -> None:
        self.preview = preview
        super().__init__(address, partial(_Handler, directory=str(preview.out)))


def _bind(port: int, preview: PreviewServer) -> _HTTPServer:
    try:
        return _HTTPServer(("127.0.0.1", port), preview)
    except OSError:
        if port == 0:
            raise
        return _HTTPServer(("127.0.0.1", 0), preview)  # taken: any free port will do


class _Handler(SimpleHTTPRequestHandler):
    server: _HTTPServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == RELOAD_PATH:
            self._events(parts.query)
            return
        target = Path(self.translate_path(parts.path))
        if target.is_dir():
            if not parts.path.endswith("/"):
                super().do_GET()  # the redirect to the folder with a slash
                return
            pages = [target / name for name in ("index.html", "preview.html")]
            target = next((page for page in pages if page.is_file()), target)
        preview = self.server.preview
        if target.suffix == ".html" and target.is_file():
            self._send_html(HTTPStatus.OK, preview.decorate(target.read_text(encoding="utf-8")))
        elif target.suffix in {".html", ""} and any(preview.current()[1:]):
            self._send_html(HTTPStatus.INTERNAL_SERVER_ERROR, preview.error_page())
        else:
            super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _send_html(self, status: HTTPStatus, page: str) -> None:
        body = page.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _events(self, query: str) -> None:
        preview = self.server.preview
        values = parse_qs(query).get("since", [])
        since = int(values[0]) if values and values[0].isdigit() else preview.current()[0]
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            self.wfile.write(b"retry: 500\n\n")
            self.wfile.flush()
            while True:
                version = preview.wait_for_change(since, timeout=10)
                if version is None:
                    return
                if version != since:
                    self.wfile.write(f"data: {version}\n\n".encode())
                    self.wfile.flush()
                    return
                self.wfile.write(b": still here\n\n")  # finds a closed page out
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return
