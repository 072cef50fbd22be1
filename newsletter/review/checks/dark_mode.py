"""Dark mode: text that the `prefers-color-scheme: dark` rules recolour must still be readable.

Clients that honour the dark scheme (Apple Mail and iOS Mail among them) apply the template's dark
rules over the inline styles. A rule that darkens a background but misses one colour set inline (a
footer link, say) leaves light-scheme text on a dark surface, and nothing in the light scheme shows
it. So this rule reads the colours each text element has in the dark scheme
(`newsletter.review.css.Cascade`) and measures them as `button-contrast` does.

Only text whose colour or background the dark rules change is judged: text they leave alone looks as
it does in the light scheme, which the other rules judge (an order button keeps its own colours, and
`button-contrast` speaks for it), so one problem is never reported twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from newsletter.review.checks.accessibility import CONTRAST_AA, CONTRAST_AA_LARGE
from newsletter.review.checks.document import Email, is_element, norm, where_element
from newsletter.review.checks.registry import Finding, Rule, rule
from newsletter.review.css import (
    RGB,
    Cascade,
    Styles,
    background_colour,
    contrast_ratio,
    hex_colour,
    large_text,
    scheme_rules,
    text_colour,
)


@dataclass(frozen=True)
class Low:
    """Text that fails in the dark scheme: where it is, its colours and what it needs."""

    where: str
    text: RGB
    background: RGB
    ratio: float
    needed: float


@rule(
    {
        "dark-contrast": Rule(
            "warning < 4.5:1, error < 3:1",
            (
                "text in the dark colour scheme against the background it sits on there, where the "
                "template's `@media (prefers-color-scheme: dark)` rules change either, cascaded over "
                "the inline styles ([WCAG 2 contrast](https://www.w3.org/TR/WCAG21/#contrast-minimum));"
                " large text needs 3:1"
            ),
        )
    }
)
def dark_contrast(email: Email) -> Iterator[Finding]:
    """One finding per pair of colours, at the first element that has it: a dark rule that misses
    the footer links fails both links, and one sentence says so."""
    rules = scheme_rules(email.root)
    if not rules:
        return
    by_colours: dict[tuple[RGB, RGB], list[Low]] = {}
    for low in _low_contrast(email.root, Cascade(email.root, rules).style):
        by_colours.setdefault((low.text, low.background), []).append(low)
    for lows in by_colours.values():
        yield _finding(email, lows)


def _low_contrast(root: Any, dark: Styles) -> Iterator[Low]:
    """Visible text, in document order, that the dark rules recolour to below what WCAG AA asks."""
    counts: dict[str, int] = {}
    for element in root.iter():
        if not is_element(element):
            continue
        counts[element.tag] = counts.get(element.tag, 0) + 1
        if not _holds_text(element) or _hidden(element, dark):
            continue
        text, background = text_colour(element, dark), background_colour(element, dark)
        if text is None or background is None:
            continue  # a colour the styles do not say is not guessed
        if (text, background) == (text_colour(element), background_colour(element)):
            continue  # as in the light scheme
        ratio = contrast_ratio(text, background)
        needed = CONTRAST_AA_LARGE if large_text(element, dark) else CONTRAST_AA
        if ratio < needed:
            yield Low(where_element(element, counts[element.tag]), text, background, ratio, needed)


def _holds_text(element: Any) -> bool:
    """Text of its own, not only inside its children: the element whose colour that text has."""
    return bool(norm(element.text or "")) or any(norm(child.tail or "") for child in element)


def _hidden(element: Any, styles: Styles) -> bool:
    """In the head, or not displayed in this scheme (by the element or one of its ancestors)."""
    for node in (element, *element.iterancestors()):
        display = "".join(styles(node).get("display", "").split()).lower()
        if node.tag in ("head", "style", "script", "title") or display.startswith("none"):
            return True
    return False


def _finding(email: Email, lows: list[Low]) -> Finding:
    first = lows[0]
    needed = max(low.needed for low in lows)
    shown = math.floor(first.ratio * 100) / 100
    more = f" (and {len(lows) - 1} more with these colours)" if len(lows) > 1 else ""
    return email.finding(
        "dark-contrast",
        "error" if first.ratio < CONTRAST_AA_LARGE else "warning",
        first.where,
        f"in the dark colour scheme this text{more} is {hex_colour(first.text)} on "
        f"{hex_colour(first.background)}, a contrast of {shown:.2f}:1, below the {needed:g}:1 that WCAG "
        "AA asks for; give it a colour that reads on the dark background in the template's "
        "@media (prefers-color-scheme: dark) rules",
    )
