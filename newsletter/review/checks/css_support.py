"""CSS that major clients drop, from the table in `newsletter.review.client_support`."""

from __future__ import annotations

import re
from collections.abc import Iterator

from newsletter.review.checks.document import Email, is_element, norm, where_element
from newsletter.review.checks.registry import Finding, Rule, rule
from newsletter.review.client_support import FEATURES, Feature
from newsletter.review.css import colour, declarations


@rule(
    {
        "css-unsupported": Rule(
            "warning",
            (
                "CSS that major clients drop, from the table in "
                "`newsletter/review/client_support.py` "
                "([caniemail.com](https://www.caniemail.com/) data, each entry names its feature "
                "page): `display:flex`/`grid`, `position`, CSS variables, `background-image` "
                "without a background colour. Inline styles and `<style>` blocks; MRML's "
                "conditional comments are not read"
            ),
        )
    }
)
def css_support(email: Email) -> Iterator[Finding]:
    counts: dict[str, int] = {}
    for element in email.root.iter():
        if not is_element(element):
            continue
        counts[element.tag] = counts.get(element.tag, 0) + 1
        if element.tag == "style":
            css = re.sub(r"/\*.*?\*/", "", element.text or "", flags=re.DOTALL)
            for block in re.findall(r"\{([^{}]*)\}", css):
                for feature in _unsupported(declarations(block), has_bgcolor=False):
                    yield _css_finding(email, feature, f"<style> #{counts['style']}")
        elif element.get("style"):
            found = declarations(element.get("style"))
            for feature in _unsupported(found, has_bgcolor=bool(element.get("bgcolor"))):
                yield _css_finding(email, feature, where_element(element, counts[element.tag]))


def _unsupported(found: list[tuple[str, str]], *, has_bgcolor: bool) -> Iterator[Feature]:
    normalised = [f"{name}:{norm(value).lower()}" for name, value in found]
    coloured = has_bgcolor or any(
        colour(value) is not None for name, value in found if name in ("background", "background-color")
    )
    for feature in FEATURES:
        if feature.needs_background_colour and coloured:
            continue
        if any(feature.pattern.search(declaration) for declaration in normalised):
            yield feature


def _css_finding(email: Email, feature: Feature, where: str) -> Finding:
    return email.finding(
        "css-unsupported",
        "warning",
        where,
        f"{feature.name} is dropped by {feature.dropped_by} ({feature.source}, tested {feature.tested}); "
        f"{feature.fix}",
    )
