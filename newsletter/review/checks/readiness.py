"""What stops a real send besides the email itself: the order links it may carry to real readers, the
promotion's end, the secret the unsubscribe links are signed with.

`newsletter check` reports these with the rules over the email, and `newsletter send` refuses for
exactly the same findings (`blockers`), in the same words, so that a campaign `check` passes is one
`send` takes. The review pages of a build leave them out: they show the email, and a build on a laptop
without the production secret is still worth reviewing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from newsletter.payments.lock import sells_through_stripe
from newsletter.project.environment import UNSUBSCRIBE_SECRET
from newsletter.render.links import LinkKind
from newsletter.render.order_policy import OrderIssue, order_link_problems
from newsletter.review.checks.registry import Finding, Rule, describe

if TYPE_CHECKING:
    from newsletter.project.settings import Project
    from newsletter.render.renderer import Rendered

# Findings that stop a real send although `check` weighs them as warnings: readers could not buy what
# the email sells.
BLOCKING_WARNINGS = frozenset({"order-link-fallback"})

describe(
    {
        "order-link-test-mode": Rule(
            "error",
            "no Stripe test-mode link goes to readers: not in a live project, and not in a real send",
        ),
        "promotion-ended": Rule("error", "the campaign's `ends:` date has not passed"),
        "unsubscribe-secret": Rule(
            "error", f"`{UNSUBSCRIBE_SECRET}` is set, so the emails carry working one-click unsubscribe links"
        ),
    }
)


def send_findings(rendered: Rendered, project: Project, checked: Sequence[Finding]) -> list[Finding]:
    """The findings a real send adds to those of the email rules (`checked`), none of them twice."""
    campaign = rendered.campaign.id
    found: list[Finding] = []
    flagged = {(f.rule, f.where) for f in checked}
    problems = order_link_problems(
        rendered, sells_through_stripe=sells_through_stripe(project), live=project.settings.stripe_live
    )
    for problem in problems:
        if (str(problem.issue), problem.block) in flagged:
            continue
        if problem.issue is OrderIssue.TEST_MODE and problem.kind is LinkKind.ORDER_STRIPE_TEST:
            message = (
                "the order button is a Stripe test-mode Payment Link, so readers cannot pay; sync the "
                "links with the live key"
            )
            found.append(Finding("order-link-test-mode", "error", campaign, problem.block, message))
        elif problem.issue is OrderIssue.SHOP_FALLBACK:
            message = "the order button goes to the shop page"
            found.append(Finding("order-link-fallback", "warning", campaign, problem.block, message))
    ends = rendered.campaign.ends
    if ends is not None and ends < date.today():
        message = (
            "the campaign's promotion is over, and the next `newsletter links sync` switches its order "
            "links off; change `ends:` to send it"
        )
        found.append(Finding("promotion-ended", "error", campaign, f"ends: {ends.isoformat()}", message))
    if not project.secrets.unsubscribe:
        message = (
            "not set, so there is no one-click unsubscribe; set it to a long random value your website shares"
        )
        found.append(Finding("unsubscribe-secret", "error", campaign, UNSUBSCRIBE_SECRET, message))
    return found


def blockers(findings: Sequence[Finding]) -> list[str]:
    """What must be fixed (or forced) before a campaign goes to real people, one line each."""
    return [
        f"{finding.rule} ({finding.where}): {finding.message}"
        for finding in findings
        if finding.severity == "error" or finding.rule in BLOCKING_WARNINGS
    ]
