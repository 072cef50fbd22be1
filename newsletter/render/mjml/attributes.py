"""MJML attribute values, checked with the MJML validator's own type rules.

MRML copies any value into the HTML: `padding="banana"` becomes `padding:banana`, which email clients
ignore, and `align="middle"` silently falls back to the default. The official MJML validator knows a
type for each attribute of each component; the types below are copied from mjml 4's components
(`static allowedAttributes` in packages/mjml-*/src/index.js, https://github.com/mjmlio/mjml) and are
written the way MJML writes them, so that the two can be compared line by line. What each type
accepts follows mjml-core's type checkers (packages/mjml-core/src/types/), with three deliberate
differences: colour names may be in any case (CSS allows it, MJML's list is lower case only), and the
`rgb()`/`rgba()` and integer patterns must match the whole value (MJML's find them anywhere in it).

A line break in any value is refused as well: MRML writes it into the HTML as the two characters
`\\n` (alt, href, title...) or as a line break inside a style, and either breaks the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from newsletter.errors import did_you_mean

# Attribute -> MJML type, the same on every component that has the attribute.
TYPES: dict[str, str] = {
    "padding": "unit(px,%){1,4}",
    "padding-top": "unit(px,%)",
    "padding-bottom": "unit(px,%)",
    "padding-left": "unit(px,%)",
    "padding-right": "unit(px,%)",
    "inner-padding": "unit(px,%){1,4}",
    "background-color": "color",
    "border-color": "color",
    "color": "color",
    "container-background-color": "color",
    "inner-background-color": "color",
    "font-size": "unit(px)",
    "line-height": "unit(px,%,)",
    "letter-spacing": "unitWithNegative(px,em)",
    "border-width": "unit(px)",
    "width": "unit(px,%)",
    "height": "unit(px,%)",
    "gap": "unit(px)",
    "align": "enum(left,center,right)",
    "text-align": "enum(left,center,right)",
    "vertical-align": "enum(top,bottom,middle)",
    "direction": "enum(ltr,rtl)",
    "background-repeat": "enum(repeat,no-repeat)",
    "full-width": "enum(full-width,false,)",
    "role": "enum(none,presentation)",
    "table-layout": "enum(auto,fixed,initial,inherit)",
    "position": "enum(file-start)",
    "fluid-on-mobile": "boolean",
    "cellpadding": "integer",
    "cellspacing": "integer",
}

# (tag, attribute) -> MJML type where a component differs from TYPES.
TAG_TYPES: dict[tuple[str, str], str] = {
    ("mj-text", "align"): "enum(left,right,center,justify)",
    ("mj-body", "width"): "unit(px)",
    ("mj-breakpoint", "width"): "unit(px)",
    ("mj-image", "width"): "unit(px)",
    ("mj-image", "height"): "unit(px,auto)",
    ("mj-table", "width"): "unit(px,%,auto)",
}

# Defaults for every component, and classes for any component: no single type applies.
UNTYPED_TAGS = frozenset({"mj-all", "mj-class"})

# mjml-core/src/types/helpers/colors.js: the CSS colour keywords plus inherit and transparent.
_COLOUR_WORDS = """
    aliceblue antiquewhite aqua aquamarine azure beige bisque black blanchedalmond blue blueviolet brown
    burlywood cadetblue chartreuse chocolate coral cornflowerblue cornsilk crimson cyan darkblue
    darkcyan darkgoldenrod darkgray darkgreen darkgrey darkkhaki darkmagenta darkolivegreen darkorange
    darkorchid darkred darksalmon darkseagreen darkslateblue darkslategray darkslategrey darkturquoise
    darkviolet deeppink deepskyblue dimgray dimgrey dodgerblue firebrick floralwhite forestgreen fuchsia
    gainsboro ghostwhite gold goldenrod gray green greenyellow grey honeydew hotpink indianred indigo
    inherit ivory khaki lavender lavenderblush lawngreen lemonchiffon lightblue lightcoral lightcyan
    lightgoldenrodyellow lightgray lightgreen lightgrey lightpink lightsalmon lightseagreen lightskyblue
    lightslategray lightslategrey lightsteelblue lightyellow lime limegreen linen magenta maroon
    mediumaquamarine mediumblue mediumorchid mediumpurple mediumseagreen mediumslateblue
    mediumspringgreen mediumturquoise mediumvioletred midnightblue mintcream mistyrose moccasin
    navajowhite navy oldlace olive olivedrab orange orangered orchid palegoldenrod palegreen
    paleturquoise palevioletred papayawhip peachpuff peru pink plum powderblue purple rebeccapurple red
    rosybrown royalblue saddlebrown salmon sandybrown seagreen seashell sienna silver skyblue slateblue
    slategray slategrey snow springgreen steelblue tan teal thistle tomato transparent turquoise violet
    wheat white whitesmoke yellow yellowgreen"""
COLOUR_NAMES = frozenset(_COLOUR_WORDS.split())
_COLOUR = re.compile(
    r"rgba\(\d{1,3},\s?\d{1,3},\s?\d{1,3},\s?\d(\.\d{1,3})?\)"
    r"|rgb\(\d{1,3},\s?\d{1,3},\s?\d{1,3}\)"
    rf"|#([0-9a-f]{{3}}){{1,2}}|{'|'.join(sorted(COLOUR_NAMES))}",
    re.IGNORECASE,
)
_UNIT_SPEC = re.compile(r"(unit|unitWithNegative)\(([^)]*)\)(?:\{([^}]+)\})?")
_ENUM_SPEC = re.compile(r"enum\(([^)]*)\)")
_LINE_BREAK = re.compile(r"[\r\n]")


@dataclass(frozen=True)
class ValueType:
    """One MJML type: the pattern a whole value must match, and what to tell the editor it takes."""

    spec: str
    pattern: re.Pattern[str]
    takes: str
    options: tuple[str, ...] = ()

    def accepts(self, value: str) -> bool:
        return self.pattern.fullmatch(value) is not None


def type_of(tag: str, attribute: str) -> ValueType | None:
    """The type MJML gives the attribute on this component; None for free text (and unknown names)."""
    if tag in UNTYPED_TAGS:
        return None
    spec = TAG_TYPES.get((tag, attribute)) or TYPES.get(attribute)
    return parse_type(spec) if spec else None


def value_problem(tag: str, attribute: str, value: str) -> tuple[str, str] | None:
    """(message, hint) when the value is wrong for the attribute on this component."""
    if _LINE_BREAK.search(value):
        return (
            f"the value {value!r} of '{attribute}' on <{tag}> has a line break",
            "write the value on one line: MRML copies the line break into the HTML, as the two "
            "characters \\n in attributes such as alt, and email clients then drop the value",
        )
    value_type = type_of(tag, attribute)
    if value_type is None or value_type.accepts(value):
        return None
    close = did_you_mean(value.strip().lower(), value_type.options) if value_type.options else None
    allowed = f"allowed: {value_type.takes}"
    return (
        f"invalid value {value!r} for '{attribute}' on <{tag}>",
        f"{allowed}; {close}" if close else allowed,
    )


@cache
def parse_type(spec: str) -> ValueType:
    """A ValueType from MJML's notation: unit(px,%){1,4}, unitWithNegative(px,em), enum(a,b), color,
    boolean, integer or string."""
    unit = _UNIT_SPEC.fullmatch(spec)
    if unit:
        return _unit(spec, unit.group(2).split(","), unit.group(3), negative=unit.group(1) != "unit")
    enum = _ENUM_SPEC.fullmatch(spec)
    if enum:
        options = tuple(enum.group(1).split(","))
        pattern = re.compile("|".join(re.escape(option) for option in options))
        return ValueType(spec, pattern, _one_of([option or "''" for option in options]), options)
    simple = {
        "color": (_COLOUR, "a colour: #rgb, #rrggbb, rgb(r, g, b), rgba(r, g, b, a) or a name such as white"),
        "boolean": (re.compile("true|false"), "true or false"),
        "integer": (re.compile(r"\d+"), "a whole number such as 0 or 10"),
        "string": (re.compile(".*", re.DOTALL), "any text"),
    }
    if spec not in simple:
        raise ValueError(f"unknown MJML type {spec!r}")
    pattern, takes = simple[spec]
    return ValueType(spec, pattern, takes)


def _unit(spec: str, units: list[str], counts: str | None, *, negative: bool) -> ValueType:
    """mjml-core's unit type: {min,max} numbers (1 when not given), each with one of the units ('' for a
    bare number), or 0, or auto when it is listed; separated by single spaces."""
    low, _, high = (counts or "1").partition(",")
    lengths = "|".join(re.escape(unit) for unit in units if unit != "auto")
    digit = r"[-\d,.]" if negative else r"[\d,.]"  # MJML's (-|\d|,|\.), as a faster class
    single = rf"(?:{digit}+(?:{lengths})|0{'|auto' if 'auto' in units else ''})"
    pattern = re.compile(rf"(?:{single} ?){{{low},{high or low}}}")
    return ValueType(spec, pattern, _describe_unit(units, int(low), int(high or low), negative))


def _describe_unit(units: list[str], low: int, high: int, negative: bool) -> str:
    named = [unit for unit in units if unit and unit != "auto"]
    what = f"a number or a length in {_one_of(named)}" if "" in units else f"a length in {_one_of(named)}"
    if high > 1:
        what = f"{low} to {high} lengths in {_one_of(named)}, separated by spaces"
    what += ", or auto" if "auto" in units else ""
    what += " (negative allowed)" if negative else ""
    example = " ".join(["10" + named[0], "25" + named[0]][: min(high, 2)]) if "" not in units else "1.5"
    return f"{what}, such as '{example}'"


def _one_of(options: list[str]) -> str:
    return options[0] if len(options) == 1 else ", ".join(options[:-1]) + " or " + options[-1]
