"""The email as the review frames and the screenshots show it: a copy that fetches nothing.

A review page must work from file:// and must not tell anybody (an image host, a tracker) that an
editor opened it, so its copy of the email loads no resource from the network. `email.html` itself
is never touched.
"""

from __future__ import annotations

import html as html_lib
import re
import textwrap
from functools import partial
from urllib.parse import quote

# The email copies inherit the review pages' policy; this one blocks whatever the copy missed.
EMAIL_CSP = "default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'"

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
    result = _CSS_IMPORT.sub("", _TAG.sub(_tag, email_html))
    result = _CSS_URL.sub("none", result)
    head = (
        f'<meta http-equiv="Content-Security-Policy" content="{EMAIL_CSP}">'
        '<meta name="referrer" content="no-referrer"><base target="_blank">'
    )
    found = _HEAD.search(result)
    if found:
        return result[: found.end()] + head + result[found.end() :]
    return head + result


def _tag(match: re.Match[str]) -> str:
    name, attrs = match.group(1), match.group(2) or ""
    if name is None:
        return match.group(0)
    if name.lower() == "link" and re.search(r"stylesheet|preload|icon", attrs, re.I):
        return ""
    if not _RESOURCE_ATTR.search(attrs):
        return match.group(0)
    return f"<{name}{_RESOURCE_ATTR.sub(partial(_resource, name.lower(), attrs), attrs)}>"


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
