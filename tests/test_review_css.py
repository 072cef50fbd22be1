"""The CSS the checks read: colours and contrast, and one colour scheme's rules over the inline styles."""

from __future__ import annotations

import pytest

from newsletter.review.checks.document import parse
from newsletter.review.css import (
    DARK_SCHEME,
    Cascade,
    Declaration,
    background_colour,
    contrast_ratio,
    large_text,
    media_blocks,
    style_rules,
)


@pytest.mark.parametrize(
    ("text", "background", "ratio"),
    [("#ffffff", "#000000", 21.0), ("#ffffff", "#ffffff", 1.0), ("#767676", "#ffffff", 4.54)],
)
def test_contrast_ratio_matches_wcag(text: str, background: str, ratio: float) -> None:
    def rgb(hex_colour: str) -> tuple[int, int, int]:
        return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))

    assert contrast_ratio(rgb(text), rgb(background)) == pytest.approx(ratio, abs=0.01)


def test_dark_rules_are_read_from_media_blocks_only() -> None:
    css = """p { color: red; }
    @media (max-width: 479px) { p { color: blue; } }
    @media screen and (prefers-color-scheme: dark) { /* a comment */ .a, .b p { color: #eee !important; } }
    @media (prefers-color-scheme: light) { p { color: black; } }"""
    [block] = media_blocks(css, DARK_SCHEME)
    rules = style_rules(block)
    assert [(rule.selector, rule.specificity) for rule in rules] == [(".a", (0, 1, 0)), (".b p", (0, 1, 1))]
    assert rules[0].declarations == (Declaration("color", "#eee", important=True),)


def test_a_rule_with_an_unreadable_selector_is_dropped_whole() -> None:
    """As a browser drops it; a pseudo-element styles no element, so only that selector goes."""
    rules = style_rules("a::, .x { color: red } a::after, .y { color: red }")
    assert [rule.selector for rule in rules] == [".y"]


@pytest.mark.parametrize(
    ("inline", "sheet", "expected"),
    [
        ("color: #111", ".c { color: #222 !important }", "#222"),  # !important beats inline
        ("color: #111", ".c { color: #222 }", "#111"),  # inline beats a plain rule
        ("color: #111 !important", ".c { color: #222 !important }", "#111"),  # inline !important wins
        ("", "p.c { color: #333 !important } .c { color: #222 !important }", "#333"),  # specificity
        ("", ".c { color: #222 !important } .c { color: #333 !important }", "#333"),  # then order
    ],
)
def test_the_cascade_of_one_scheme(inline: str, sheet: str, expected: str) -> None:
    root = parse(f'<html><body><p class="c" style="{inline}">Tekst</p></body></html>')
    [paragraph] = root.iter("p")
    assert Cascade(root, style_rules(sheet)).style(paragraph)["color"] == expected


def test_a_background_rule_overrides_an_inline_background_shorthand() -> None:
    root = parse(
        '<html><body><table bgcolor="#ffffff"><tr><td><a style="background:#8c1c13;color:#fff">Koop</a>'
        "</td></tr></table></body></html>"
    )
    [link] = root.iter("a")
    dark = Cascade(root, style_rules("table { background-color: #1e1e1e !important }")).style
    assert background_colour(link, dark) == (0x8C, 0x1C, 0x13)  # its own background still
    [cell] = root.iter("td")
    assert background_colour(cell, dark) == (0x1E, 0x1E, 0x1E)  # CSS beats bgcolor
    light = Cascade(root, style_rules("a { background-color: #eeeeee !important }")).style
    assert background_colour(link, light) == (0xEE, 0xEE, 0xEE)


def test_large_text_is_inherited() -> None:
    root = parse('<html><body><h2 style="font-size:26px;font-weight:bold"><a>Titel</a></h2></body></html>')
    [link] = root.iter("a")
    assert large_text(link)
