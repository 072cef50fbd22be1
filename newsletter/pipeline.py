"""Building: load every campaign, render it, write `build/<id>/` — and report every problem in one run.

A campaign that fails to load or render writes nothing; the others are still built, so one broken
file does not hold up the review of the rest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsletter.errors import NewsletterError, unique
from newsletter.files import atomic_write
from newsletter.payments.stripe_links import order_link_provider, sells_through_stripe
from newsletter.project.campaign import load_campaigns
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


def build(
    project: Project, ids: Sequence[str] = (), *, out: Path | None = None, strict: bool = False
) -> BuildReport:
    """Build the named campaigns (all when none are named) into `out` (default: `build/`)."""
    out = out or project.root / "build"
    campaigns, errors = load_campaigns(project, ids)
    report = BuildReport(errors=list(errors))
    if not campaigns:
        return report
    renderer = make_renderer(project)
    for campaign in campaigns:
        try:
            rendered = renderer.render(campaign)
        except NewsletterError as error:
            report.errors.append(error)
            continue
        out_dir = out / campaign.id
        written = not (strict and rendered.warnings)
        if written:
            write_campaign(rendered, out_dir)
        report.built.append(Built(rendered=rendered, out_dir=out_dir, written=written))
    report.errors = unique(report.errors)
    from newsletter.review.preview import write_review_pages  # preview imports this module

    report.findings = write_review_pages(project, report, out)
    return report


def make_renderer(project: Project) -> Renderer:
    """The renderer every command uses: order buttons from the lock file, shop fallbacks flagged when
    the project sells through Stripe."""
    return Renderer(project, order_link_provider(project), expect_payment_links=sells_through_stripe(project))


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
