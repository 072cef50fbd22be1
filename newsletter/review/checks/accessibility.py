"""Accessibility: the language screen readers speak, order buttons that can be read, headings that
give the email an outline."""

from __future__ import annotations

import math
from collections.abc import Iterator

from newsletter.review.checks.document import Email, norm, short
from newsletter.review.checks.links import ORDER_KINDS
from newsletter.review.checks.registry import Finding, Rule, rule
from newsletter.review.css import RGB, background_colour, contrast_ratio, hex_colour, large_text, text_colour

CONTRAST_AA = 4.5  # WCAG 2 success criterion 1.4.3, normal text
CONTRAST_AA_LARGE = 3.0  # large text: at least 18pt, or 14pt bold


@rule({"html-lang": Rule("warning", "`<html lang>` is the campaign's locale")})
def html_lang(email: Email) -> Iterator[Finding]:
    lang = (email.root.get("lang") or "").strip()
    locale = email.campaign.locale
    if not lang or lang.lower() == "und":
        yield email.finding(
            "html-lang",
            "warning",
            "<html>",
            "the email declares no language, so screen readers may read it with the wrong voice; "
            f'set <mjml lang="{{{{ campaign.locale }}}}"> ({locale})',
        )
    elif lang.split("-")[0].lower() != locale:
        yield email.finding(
            "html-lang",
            "warning",
            "<html>",
            f'the email declares lang="{lang}" but the campaign is in "{locale}", so screen readers use the '
            'wrong voice; set <mjml lang="{{ campaign.locale }}">',
        )


@rule(
    {
        "button-contrast": (
            Rule(
                "warning < 4.5:1, error < 3:1",
                (
                    "order button text against its background, from the inline styles ([WCAG 2 "
                    "contrast](https://www.w3.org/TR/WCAG21/#contrast-minimum)); large text (24px, or"
                    " 18.7px bold) needs 3:1"
                ),
            )
        ),
    }
)
def button_contrast(email: Email) -> Iterator[Finding]:
    """The order buttons: each link with text whose target is a book's order link. A button whose
    colours cannot be read from the inline styles is skipped, not guessed."""
    for block, (ratio, large, text, background) in _worst_buttons(email).items():
        needed = CONTRAST_AA_LARGE if large else CONTRAST_AA
        if ratio >= needed:
            continue
        shown = math.floor(ratio * 100) / 100
        yield email.finding(
            "button-contrast",
            "error" if ratio < CONTRAST_AA_LARGE else "warning",
            block,
            f"the order button's text {hex_colour(text)} on {hex_colour(background)} has a contrast of "
            f"{shown:.2f}:1, below the {needed:g}:1 that WCAG AA asks for; change colours.button_text or "
            "colours.primary",
        )


def _worst_buttons(email: Email) -> dict[str, tuple[float, bool, RGB, RGB]]:
    """By block: the lowest contrast among its order buttons, whether that one is large text, and its
    colours."""
    worst: dict[str, tuple[float, bool, RGB, RGB]] = {}
    orders = {link.url: link.block for link in email.links() if link.kind in ORDER_KINDS}
    for anchor in email.body.iter("a"):
        block = orders.get((anchor.get("href") or "").strip())
        if block is None or not norm(anchor.text_content()):
            continue
        text, background = text_colour(anchor), background_colour(anchor)
        if text is None or background is None:
            continue
        ratio = contrast_ratio(text, background)
        if block not in worst or ratio < worst[block][0]:
            worst[block] = (ratio, large_text(anchor), text, background)
    return worst


@rule(
    {
        "heading-order": Rule(
            "warning", ("headings never skip a level going down (h2 then h4); the first may be any level")
        )
    }
)
def heading_order(email: Email) -> Iterator[Finding]:
    """Like axe-core's `heading-order`: the first heading may have any level, and each next heading
    may go deeper by one level at most (going back up any number of levels is fine)."""
    previous = 0
    counts: dict[str, int] = {}
    for heading in email.body.iter("h1", "h2", "h3", "h4", "h5", "h6"):
        level = int(heading.tag[1])
        counts[heading.tag] = counts.get(heading.tag, 0) + 1
        if previous and level > previous + 1:
            text = short(norm(heading.text_content()), 40)
            yield email.finding(
                "heading-order",
                "warning",
                f"<{heading.tag}> #{counts[heading.tag]} ({text})",
                f"an h{level} follows an h{previous}, so screen reader users miss a level; "
                f"use an h{previous + 1} here (style it as you like)",
            )
        previous = level
