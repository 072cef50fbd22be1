"""MJML to inlined HTML: MRML compiles, premailer puts the `mj-style inline` rules on the elements.

Many mail clients (Gmail's apps among them) drop or ignore style blocks, so the rules that make the
email look right must sit in `style` attributes; the head keeps only resets and media queries.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

INLINE_STYLE = re.compile(r"<mj-style\s+inline\s*=\s*[\"']inline[\"']\s*>(.*?)</mj-style>", re.DOTALL | re.I)


def to_html(mjml_source: str, compile_mjml: Callable[[str], str]) -> str:
    """MRML leaves `mj-style inline` rules in a <style> block; premailer puts them on the elements.

    The inline rules are taken out of the MJML and given to premailer alone, and every style block
    MRML wrote is marked to be left as it is: its resets and media queries must stay in the head,
    and inlining them would only bloat every table cell.
    """
    inline_css = "\n".join(INLINE_STYLE.findall(mjml_source))
    html = compile_mjml(INLINE_STYLE.sub("", mjml_source))
    return inline(html, inline_css) if inline_css.strip() else html


def inline(html: str, css: str) -> str:
    """Put `css` on the elements it matches; the style blocks already in `html` stay as they are."""
    from premailer import Premailer  # heavy (lxml, cssutils, requests): only when building

    marked = re.sub(
        r"<!--.*?-->|<style\b",
        lambda m: m.group(0) if m.group(0).startswith("<!--") else '<style data-premailer="ignore"',
        html,
        flags=re.DOTALL,
    )
    result: str = Premailer(
        marked,
        css_text=css,
        keep_style_tags=False,
        remove_classes=False,
        strip_important=False,
        disable_validation=True,
        disable_link_rewrites=True,
        allow_network=False,
        allow_loading_external_files=False,
        cssutils_logging_level=logging.CRITICAL,
        align_floating_images=False,  # MJML images are not floated; this pass only costs time
    ).transform()
    # lxml drops the doctype; without it clients render in quirks mode.
    return "<!doctype html>\n" + result.removeprefix("<!DOCTYPE html>").lstrip()
