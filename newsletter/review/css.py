"""Just enough CSS to read what MJML and templates write inline: declarations, colours, contrast.

The checks judge the email from its inline styles (what every client keeps), so these helpers read one
`style` attribute at a time and walk up the ancestors where CSS would inherit. The one exception is a
colour scheme: the `@media (prefers-color-scheme: dark)` rules stay in a `<style>` block and override
the inline styles with `!important`, so `Cascade` applies such rules over the inline styles the way a
browser does, and the same helpers then read the colours a dark-mode reader sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
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


IMPORTANT = re.compile(r"\s*!\s*important\s*$", re.I)


@dataclass(frozen=True)
class Declaration:
    name: str  # lower case
    value: str  # without !important
    important: bool


def parse_declarations(style: str) -> list[Declaration]:
    """`color: #fff; background:#000 !important` -> color #fff, and background #000 (important)."""
    found = []
    for part in re.sub(r"/\*.*?\*/", "", style, flags=re.DOTALL).split(";"):
        name, colon, value = part.partition(":")
        if colon and name.strip():
            plain = IMPORTANT.sub("", value.strip())
            found.append(Declaration(name.strip().lower(), plain, plain != value.strip()))
    return found


def declarations(style: str) -> list[tuple[str, str]]:
    """`color: #fff; background:#000 !important` -> [("color", "#fff"), ("background", "#000")]."""
    return [(found.name, found.value) for found in parse_declarations(style)]


def style_of(element: Any) -> dict[str, str]:
    return dict(declarations(element.get("style") or ""))  # the last declaration wins, as in CSS


Styles = Callable[[Any], Mapping[str, str]]  # an element's declared styles: style_of, or Cascade.style


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


def text_colour(element: Any, styles: Styles = style_of) -> RGB | None:
    for node in (element, *element.iterancestors()):
        found = colour(styles(node).get("color", ""))
        if found:
            return found
    return None


def background_colour(element: Any, styles: Styles = style_of) -> RGB | None:
    """The first ancestor's (or the element's own) background colour: CSS, then the bgcolor attribute,
    which any CSS background overrides."""
    for node in (element, *element.iterancestors()):
        style = styles(node)
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


def large_text(element: Any, styles: Styles = style_of) -> bool:
    """WCAG's large text: at least 18pt (24px), or 14pt (about 18.7px) when bold. Size and weight are
    inherited, so a link in a heading is as large as the heading."""
    size = re.fullmatch(r"\s*([\d.]+)\s*(px|pt)\s*", _inherited(element, "font-size", styles))
    if not size:
        return False
    points = float(size.group(1)) * (0.75 if size.group(2) == "px" else 1)
    weight = _inherited(element, "font-weight", styles).strip().lower()
    bold = weight in ("bold", "bolder") or (weight.isdigit() and int(weight) >= 700)
    return points >= 18 or (bold and points >= 14)


def _inherited(element: Any, name: str, styles: Styles) -> str:
    for node in (element, *element.iterancestors()):
        value = styles(node).get(name, "").strip()
        if value and value.lower() != "inherit":
            return value
    return ""


def hex_colour(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


# -- stylesheet rules for one colour scheme -------------------------------------------------------

DARK_SCHEME = re.compile(r"prefers-color-scheme\s*:\s*dark", re.I)


@dataclass(frozen=True)
class StyleRule:
    """One selector (a rule `a, b {...}` is two of these) with its declarations."""

    selector: str
    specificity: tuple[int, int, int]
    declarations: tuple[Declaration, ...]


def media_blocks(css: str, condition: re.Pattern[str]) -> Iterator[str]:
    """The insides of the `@media` blocks whose condition matches `condition`, braces balanced."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    for start in re.finditer(r"@media\b([^{;]*)\{", css, flags=re.I):
        depth, end = 1, start.end()
        while depth and end < len(css):
            depth += {"{": 1, "}": -1}.get(css[end], 0)
            end += 1
        if condition.search(start.group(1)):
            yield css[start.end() : end - 1]


def style_rules(css: str) -> list[StyleRule]:
    """The rules of a block of CSS, one per selector, in order. A rule with a selector cssselect cannot
    read is dropped whole, as a browser drops it; a selector of a pseudo-element (`::before`) styles
    no element and is left out. Rules in a nested at-rule count as if they were not nested."""
    from cssselect import SelectorError, parse

    found = []
    for selectors, body in re.findall(r"([^{}@;]+)\{([^{}]*)\}", css):
        try:
            parsed = parse(selectors.strip())
        except SelectorError:
            continue
        declared = tuple(parse_declarations(body))
        found += [
            StyleRule(one.canonical(), one.specificity(), declared)
            for one in parsed
            if one.pseudo_element is None
        ]
    return found


def scheme_rules(root: Any, condition: re.Pattern[str] = DARK_SCHEME) -> list[StyleRule]:
    """Every rule, in document order, that applies only in the colour scheme `condition` names."""
    rules: list[StyleRule] = []
    for style in root.iter("style"):
        for block in media_blocks(style.text or "", condition):
            rules += style_rules(block)
    return rules


class Cascade:
    """The declared styles of each element in one colour scheme: the inline styles, with the scheme's
    stylesheet rules cascaded over them as CSS does (`!important` beats inline, inline beats the rest,
    then specificity, then order). A `background` shorthand counts as the `background-color` it sets,
    so a rule's `background-color: ... !important` wins over an inline `background`, as it does in a
    browser. Only what the checks read is modelled: no inheritance here (the readers walk up the
    ancestors), and shorthands other than `background` are taken as written."""

    def __init__(self, root: Any, rules: Sequence[StyleRule]) -> None:
        from cssselect import SelectorError
        from lxml.cssselect import CSSSelector

        self._sheet: dict[Any, list[tuple[tuple[Any, ...], Declaration]]] = {}
        self._styles: dict[Any, dict[str, str]] = {}
        order = 0
        for style_rule in rules:
            try:
                matched = CSSSelector(style_rule.selector, translator="html")(root)
            except SelectorError:  # a pseudo-class cssselect cannot translate
                continue
            for declared in style_rule.declarations:
                order += 1
                rank = (declared.important, False, style_rule.specificity, order)
                for element in matched:
                    self._sheet.setdefault(element, []).append((rank, declared))

    def style(self, element: Any) -> dict[str, str]:
        """What `style_of` would say if the scheme's rules were written into the style attribute."""
        if element not in self._styles:
            inline = parse_declarations(element.get("style") or "")
            ranked = [((found.important, True, (0, 0, 0), n), found) for n, found in enumerate(inline)]
            winners: dict[str, tuple[tuple[Any, ...], str]] = {}
            for rank, found in ranked + self._sheet.get(element, []):
                name, value = _longhand(found)
                if name not in winners or rank > winners[name][0]:
                    winners[name] = (rank, value)
            self._styles[element] = {name: value for name, (_, value) in winners.items()}
        return self._styles[element]


def _longhand(found: Declaration) -> tuple[str, str]:
    if found.name != "background":
        return found.name, found.value
    rgb = colour(found.value)
    return "background-color", hex_colour(rgb) if rgb else "transparent"
