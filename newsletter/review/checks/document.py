"""What every rule looks at: one rendered campaign with its parsed HTML, and ways to read its text."""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Any

from newsletter.project import price_law
from newsletter.render.links import Link
from newsletter.review.checks.registry import RULES, Finding, Severity
from newsletter.review.css import style_of

if TYPE_CHECKING:
    from newsletter.project.campaign import Campaign
    from newsletter.project.settings import Project, Settings
    from newsletter.render.renderer import Rendered


def parse(html: str) -> Any:
    from lxml import html as lxml_html  # lxml is loaded by premailer anyway; not for `--help`

    return lxml_html.document_fromstring(html)


class Email:
    """One rendered campaign with its parsed HTML. Conditional comments (MRML's Outlook tables) are
    comments to the parser, so no rule ever looks inside them."""

    def __init__(self, rendered: Rendered, project: Project, root: Any, today: date | None = None) -> None:
        self.rendered = rendered
        self.project = project
        self.root = root
        self.today = today or price_law.today()  # the day the rules that depend on one are asked on
        body = root.find("body")
        self.body = body if body is not None else root

    @property
    def campaign(self) -> Campaign:
        return self.rendered.campaign

    @property
    def settings(self) -> Settings:
        return self.project.settings

    @property
    def live(self) -> bool:
        return self.settings.stripe_live

    def finding(self, rule: str, severity: Severity, where: str, message: str) -> Finding:
        assert rule in RULES, rule
        return Finding(rule=rule, severity=severity, campaign=self.campaign.id, where=where, message=message)

    def links(self) -> list[Link]:
        seen: set[tuple[str, str]] = set()
        kept = []
        for link in self.rendered.links:
            if (link.block, link.url) not in seen:
                seen.add((link.block, link.url))
                kept.append(link)
        return kept


def norm(text: str) -> str:
    return " ".join(text.split())


def short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_element(node: Any) -> bool:
    return isinstance(node.tag, str)  # comments and processing instructions have a function as tag


def hidden(element: Any) -> bool:
    return element.tag in ("style", "script", "head", "title") or re.sub(
        r"\s", "", style_of(element).get("display", "")
    ).lower().startswith("none")


def visible_text(element: Any) -> str:
    """The text a reader sees: no hidden preheader, no style blocks."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if not hidden(node):
            parts.append(node.text or "")
            for child in node:
                if is_element(child):
                    walk(child)
                parts.append(child.tail or "")

    walk(element)
    return norm(" ".join(parts))


def where_element(element: Any, number: int) -> str:
    """`<p> #12 (class=price)`, or `<div> #3 ("its text…")` for an element without a class."""
    css_class = norm(element.get("class") or "")
    text = norm(element.text_content()) if element.tag not in ("html", "body", "head") else ""
    detail = f"class={short(css_class, 40)}" if css_class else (f'"{short(text, 30)}"' if text else "")
    return f"<{element.tag}> #{number}" + (f" ({detail})" if detail else "")
