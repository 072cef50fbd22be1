"""The lint rules of `newsletter check`: what to fix before a rendered campaign is sent.

Every rule looks at one `Rendered` campaign (its HTML, text part and link inventory) and the project
settings, and returns findings: a stable rule id, a severity, where in the email, and one sentence on
what is wrong and what to do. The rules read no campaign files, write nothing and use no network, so
the preview server can run them on every reload; `check_project` loads and renders campaigns for the
command the way `build` does.

Severities: an *error* is an email that is broken, unlawful or loses money for some readers (a link
that goes nowhere, no unsubscribe link or postal address, a shop fallback in a live campaign, text on
a button most readers cannot make out, an image without alt text); a *warning* is a worse inbox
experience or a deliverability risk that a person should weigh. `RULES` lists every rule for the docs
and for consumers of `newsletter check --format json`.

The rules live in one module per theme and register themselves with `registry.rule` as they are
imported: the order of the imports below is the order of `RULES` (and of the table in docs/checks.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

# isort: off
from newsletter.review.checks import size, images, links, content, accessibility, dark_mode, css_support
from newsletter.review.checks import price_law, readiness

# isort: on
from newsletter.review.checks.document import Email, parse
from newsletter.review.checks.registry import RULES, Finding, Rule, Severity, registered, rule
from newsletter.review.counts import count_findings

if TYPE_CHECKING:
    from newsletter.errors import NewsletterError
    from newsletter.project.settings import Project
    from newsletter.render.renderer import Rendered

__all__ = [
    "RULES",
    "Checked",
    "Finding",
    "Rule",
    "Severity",
    "check_campaign",
    "check_project",
    "rule",
    "to_json",
]
# As imported: the order of RULES.
THEMES = (size, images, links, content, accessibility, dark_mode, css_support, price_law)


def check_campaign(rendered: Rendered, project: Project, today: date | None = None) -> list[Finding]:
    """All rules over one rendered campaign, as on `today` (default: the day it is); errors first,
    then by rule and where."""
    email = Email(rendered, project, parse(rendered.html), today)
    findings = {finding for check in registered() for finding in check(email)}
    return sorted(findings, key=_order)


def _order(finding: Finding) -> tuple[Any, ...]:
    natural = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", finding.where)]
    return (finding.severity != "error", finding.rule, natural, finding.message)


# -- a whole project, for the command ------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """The findings of one campaign."""

    campaign: str
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return count_findings(self.findings)[0]

    @property
    def warnings(self) -> int:
        return count_findings(self.findings)[1]


def check_for_sending(rendered: Rendered, project: Project, today: date | None = None) -> list[Finding]:
    """The rules over the email and what else stops a real send (readiness.py): `check` and `send`."""
    findings = check_campaign(rendered, project, today)
    return sorted([*findings, *readiness.send_findings(rendered, project, findings)], key=_order)


def check_project(project: Project, ids: Sequence[str] = ()) -> tuple[list[Checked], list[NewsletterError]]:
    """Load and render the named campaigns (all when none are named) as `build` would, without writing,
    and check each as a real send would. A campaign that cannot be loaded or rendered is a user
    error, not a finding."""
    from newsletter.pipeline import render_campaigns

    rendered, errors = render_campaigns(project, ids)
    return [Checked(one.campaign.id, tuple(check_for_sending(one, project))) for one in rendered], errors


def to_json(checked: Iterable[Checked]) -> dict[str, Any]:
    """The stable `--format json` document (version 1)."""
    return {
        "version": 1,
        "campaigns": [
            {
                "id": c.campaign,
                "errors": c.errors,
                "warnings": c.warnings,
                "findings": [
                    {"rule": f.rule, "severity": f.severity, "where": f.where, "message": f.message}
                    for f in c.findings
                ],
            }
            for c in checked
        ],
    }
