"""The review pages: what an editor looks at before a campaign goes out.

`newsletter build` writes, next to each email, `build/<id>/preview.html` (the email at desktop and
phone width, the inbox line, the text part, every link, the checks, the size against Gmail's clipping
limit and a dark-mode view) and `build/index.html`, a gallery of every campaign. Both are
self-contained: inline CSS and JS, no request to the internet, so they work from file:// as well.
The email frames show `offline_copy` of the email. The templates (templates/) and the CSS and JS
they inline (static/) are package data files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache, lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from newsletter.files import atomic_write, modified_day
from newsletter.project.campaign import campaign_files
from newsletter.render.links import LinkKind
from newsletter.render.renderer import GMAIL_CLIP_BYTES, Rendered
from newsletter.review.checks import check_campaign
from newsletter.review.counts import count_findings, findings_summary, plural
from newsletter.review.offline import offline_copy

if TYPE_CHECKING:
    from newsletter.pipeline import Built
    from newsletter.project.settings import Project
    from newsletter.review.checks import Finding

DESKTOP_FRAME = 800  # px: a desktop client's reading pane around the 600 px email
MOBILE_FRAME = 375  # px: a common phone width
DATA_ID = "campaign-data"  # the gallery keeps its cards as JSON, so a partial build can update it

# The pages load nothing but themselves; the email copies inside them inherit this policy, so an
# external resource the offline copy missed is blocked instead of fetched.
PAGE_CSP = (
    "default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; connect-src 'self'; frame-src 'self' about: data:"
)

KIND_LABELS = {
    LinkKind.SITE: "site, with UTM",
    LinkKind.EXTERNAL: "external",
    LinkKind.ORDER_SHOP: "order: shop page (fallback)",
    LinkKind.ORDER_STRIPE_TEST: "order: Stripe, test mode",
    LinkKind.ORDER_STRIPE_LIVE: "order: Stripe, LIVE",
    LinkKind.WEB_VERSION: "web version",
    LinkKind.UNSUBSCRIBE: "unsubscribe",
    LinkKind.PREFERENCES: "preferences",
}


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


def write_review_pages(project: Project, built: Sequence[Built], out: Path) -> dict[str, list[Finding]]:
    """Run the checks on every built campaign, write its preview.html and the gallery (index.html).

    Returns the findings by campaign id (the build command prints their counts). The gallery keeps
    the campaigns built earlier that still exist, so `newsletter build ONE` does not empty it.
    """
    findings = {b.rendered.campaign.id: check_campaign(b.rendered, project) for b in built}
    cards = {card.id: card for card in read_cards(out / "index.html")}
    for one in built:
        if not one.written:
            continue
        campaign_findings = findings[one.rendered.campaign.id]
        atomic_write(one.out_dir / "preview.html", review_page(one.rendered, project, campaign_findings))
        card = card_for(one.rendered, campaign_findings)
        cards[card.id] = card
    if not any(one.written for one in built):
        return findings  # nothing new to show: a run whose campaigns all failed writes nothing at all
    existing, _ = campaign_files(project)
    shown = [cards[key] for key in sorted(cards) if key in existing and (out / key / "email.html").is_file()]
    atomic_write(out / "index.html", gallery_page(project, shown, out))
    return findings


def card_for(rendered: Rendered, findings: Sequence[Finding]) -> Card:
    campaign = rendered.campaign
    modified = modified_day(campaign.path)
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


def review_page(rendered: Rendered, project: Project, findings: Sequence[Finding]) -> str:
    campaign = rendered.campaign
    errors, warnings = count_findings(findings)
    return _template("preview.html.j2").render(
        csp=PAGE_CSP,
        css=stylesheet(),
        js=_asset("preview.js"),
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
        summary=findings_summary(errors, warnings),
        status=_status(errors, warnings),
        size=_size(rendered.html_bytes),
        desktop=DESKTOP_FRAME,
        mobile=MOBILE_FRAME,
    )


def _size(html_bytes: int) -> dict[str, str]:
    """The size bar: the HTML against Gmail's clipping limit."""
    share = html_bytes / GMAIL_CLIP_BYTES
    return {
        "kb": f"{html_bytes / 1024:.1f}",
        "limit_kb": f"{GMAIL_CLIP_BYTES / 1024:.0f}",
        "percent": f"{share * 100:.0f}",
        "width": f"{min(share, 1) * 100:.1f}",
        "state": "over" if share > 1 else "near" if share > 0.75 else "ok",
    }


def gallery_page(project: Project, cards: Sequence[Card], out: Path) -> str:
    data = json.dumps([asdict(card) for card in cards], ensure_ascii=False, sort_keys=True)
    return _template("gallery.html.j2").render(
        csp=PAGE_CSP,
        css=stylesheet(),
        brand=project.settings.brand.name,
        sender=project.settings.sender,
        cards=[
            {
                "card": card,
                "email_doc": offline_copy((out / card.id / "email.html").read_text(encoding="utf-8")),
                "status": _status(card.errors, card.warnings),
                "summary": findings_summary(card.errors, card.warnings),
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


def stylesheet() -> str:
    """The CSS every page inlines (the preview server's error page too)."""
    return _asset("preview.css")


@cache
def _asset(name: str) -> str:
    """A file of static/, read once: the files ship with the package and do not change under it."""
    return (files("newsletter.review") / "static" / name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """Built once, on first use: the page templates are files of this package."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("newsletter.review", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["plural"] = plural
    return environment


def _template(name: str) -> jinja2.Template:
    return _environment().get_template(name)
