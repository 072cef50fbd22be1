"""The pipeline every command shares: load campaigns, render them, and (for `build`) write them.

`build`, `check`, `send`, `screenshot` and the preview server all load and render through
`render_campaigns` or `render_one`, so they see the same email and the same errors. A campaign that
fails to load or render is reported and skipped; the others still go through, so one broken file does
not hold up the review of the rest. The review pages are written by `newsletter.review.site`, which
builds through this module: the pipeline itself knows nothing of review.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsletter.errors import NewsletterError, NewsletterErrors, unique
from newsletter.files import atomic_write
from newsletter.payments.lock import order_link_provider, sells_through_stripe
from newsletter.project.campaign import Campaign, load_campaigns
from newsletter.project.settings import Project
from newsletter.render.renderer import Rendered, Renderer

if TYPE_CHECKING:
    from newsletter.review.checks import Finding


@dataclass(frozen=True)
class Built:
    rendered: Rendered
    out_dir: Path
    written: bool  # False when --strict refused it for its warnings


@dataclass
class BuildReport:
    built: list[Built] = field(default_factory=list)
    errors: list[NewsletterError] = field(default_factory=list)
    findings: dict[str, list[Finding]] = field(default_factory=dict)  # by campaign id: the checks

    @property
    def refused(self) -> list[Built]:
        return [b for b in self.built if not b.written]


def make_renderer(project: Project) -> Renderer:
    """The renderer every command uses: order buttons from the lock file, shop fallbacks flagged when
    the project sells through Stripe."""
    return Renderer(project, order_link_provider(project), expect_payment_links=sells_through_stripe(project))


def render_campaigns(
    project: Project, ids: Sequence[str] = ()
) -> tuple[list[Rendered], list[NewsletterError]]:
    """Load and render the named campaigns (all when none are named); every error, none raised."""
    campaigns, load_errors = load_campaigns(project, ids)
    errors = list(load_errors)
    rendered: list[Rendered] = []
    if campaigns:
        renderer = make_renderer(project)
        for campaign in campaigns:
            try:
                rendered.append(renderer.render(campaign))
            except NewsletterError as error:
                errors.append(error)
    return rendered, unique(errors)


def load_one(project: Project, campaign_id: str) -> Campaign:
    """One campaign, or every reason it cannot be loaded (raised)."""
    campaigns, errors = load_campaigns(project, [campaign_id])
    if errors:
        raise NewsletterErrors(errors)
    return campaigns[0]


def render_one(project: Project, campaign_id: str) -> Rendered:
    """One campaign rendered as `newsletter build` would, without writing anything."""
    return make_renderer(project).render(load_one(project, campaign_id))


def build(
    project: Project, ids: Sequence[str] = (), *, out: Path | None = None, strict: bool = False
) -> BuildReport:
    """Build the named campaigns (all when none are named) into `out` (default: `build/`)."""
    out = out or project.root / "build"
    rendered, errors = render_campaigns(project, ids)
    report = BuildReport(errors=errors)
    for one in rendered:
        out_dir = out / one.campaign.id
        written = not (strict and one.warnings)
        if written:
            write_campaign(one, out_dir)
        report.built.append(Built(rendered=one, out_dir=out_dir, written=written))
    return report


def write_campaign(rendered: Rendered, out_dir: Path) -> None:
    atomic_write(out_dir / "email.html", rendered.html)
    atomic_write(out_dir / "email.txt", rendered.text)
    atomic_write(out_dir / "meta.json", json.dumps(meta(rendered), indent=2, ensure_ascii=False) + "\n")


def meta(rendered: Rendered) -> dict[str, Any]:
    """What the review page, the checks and the sender need to know without parsing the HTML."""
    campaign = rendered.campaign
    return {
        "id": campaign.id,
        "subject": campaign.subject,
        "preheader": campaign.preheader,
        "locale": campaign.locale,
        "template": campaign.template,
        "sizes": {"html_bytes": rendered.html_bytes, "text_bytes": rendered.text_bytes},
        "links": [
            {"url": link.url, "block": link.block, "kind": str(link.kind), "label": link.label}
            for link in rendered.links
        ],
        "warnings": list(rendered.warnings),
    }
