"""Just enough CSS to read what MJML and templates write inline: declarations, colours, contrast.

The checks judge the email from its inline styles alone (no cascade, no stylesheet), so these helpers
read one `style` attribute at a time and walk up the ancestors where CSS would inherit.
"""

from __future__ import annotations

import re
from typing import Any

NAMED_COLOURS = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "green": (0, 128, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "silver": (192, 192, 192),
    "maroon": (128, 0, 0),
    "navy": (0, 0, 128),
    "purple": (128, 0, 128),
    "teal": (0, 128, 128),
    "olive": (128, 128, 0),
    "lime": (0, 255, 0),
    "aqua": (0, 255, 255),
    "fuchsia": (255, 0, 255),
    "orange": (255, 165, 0),
}
RGB = tuple[int, int, int]
COLOUR = re.compile(
    r"#[0-9a-f]{6}\b|#[0-9a-f]{3}\b|rgba?\([^)]*\)|\btransparent\b|\b(?:" + "|".join(NAMED_COLOURS) + r")\b",
    re.I,
)


def declarations(style: str) -> list[tuple[str, str]]:
    """`color: #fff; background:#000 !important` -> [("color", "#fff"), ("background", "#000")]."""
    pairs = []
    for part in re.sub(r"/\*.*?\*/", "", style, flags=re.DOTALL).split(";"):
        name, colon, value = part.partition(":")
        if colon and name.strip():
            value = re.sub(r"\s*!important\s*$", "", value.strip(), flags=re.I)
            pairs.append((name.strip().lower(), value))
    return pairs


def style_of(element: Any) -> dict[str, str]:
    return dict(declarations(element.get("style") or ""))  # the last declaration wins, as in CSS


def colour(value: str) -> RGB | None:
    """The first colour in a CSS value (None for none, or for transparent)."""
    match = COLOUR.search(re.sub(r"url\([^)]*\)", "", value))
    if not match:
        return None
    token = match.group(0).lower()
    if token.startswith("#"):
        digits = token[1:] if len(token) == 7 else "".join(c * 2 for c in token[1:])
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    if token.startswith("rgb"):
        numbers = re.findall(r"[\d.]+%?", token)
        if len(numbers) < 3 or (len(numbers) > 3 and float(numbers[3].rstrip("%")) == 0):
            return None
        channels = [float(n[:-1]) * 2.55 if n.endswith("%") else float(n) for n in numbers[:3]]
        return (round(channels[0]), round(channels[1]), round(channels[2]))
    return NAMED_COLOURS.get(token)


def text_colour(element: Any) -> RGB | None:
    for node in (element, *element.iterancestors()):
        found = colour(style_of(node).get("color", ""))
        if found:
            return found
    return None


def background_colour(element: Any) -> RGB | None:
    for node in (element, *element.iterancestors()):
        style = style_of(node)
        for value in (style.get("background-color"), style.get("background"), node.get("bgcolor")):
            found = colour(value or "")
            if found:
                return found
    return None


def luminance(rgb: RGB) -> float:
    """Relative luminance as WCAG 2 defines it (https://www.w3.org/TR/WCAG21/#dfn-relative-luminance)."""
    linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: RGB, b: RGB) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def large_text(element: Any) -> bool:
    """WCAG's large text: at least 18pt (24px), or 14pt (about 18.7px) when bold."""
    style = style_of(element)
    size = re.fullmatch(r"\s*([\d.]+)\s*(px|pt)\s*", style.get("font-size", ""))
    if not size:
        return False
    points = float(size.group(1)) * (0.75 if size.group(2) == "px" else 1)
    weight = style.get("font-weight", "").strip().lower()
    bold = weight in ("bold", "bolder") or (weight.isdigit() and int(weight) >= 700)
    return points >= 18 or (bold and points >= 14)


def hex_colour(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)
