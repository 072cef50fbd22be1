"""Inlining: premailer puts the `mj-style inline` rules on the elements and leaves MRML's head alone."""

from __future__ import annotations

import re
import socket

import pytest

from newsletter.render.inline import inline, to_html


def test_inline_keeps_media_rules_of_the_inline_block_and_leaves_other_styles_alone() -> None:
    html = (
        "<!doctype html><html><head><style>.keep { color: red; }</style></head>"
        '<body><p class="x">a</p><!--[if mso]><style>.mso { width: 1px; }</style><![endif]--></body></html>'
    )
    result = inline(html, ".x { color: blue; } @media (max-width: 480px) { .x { color: green; } }")
    assert '<p class="x" style="color:blue">a</p>' in result
    assert "<style>.keep { color: red; }</style>" in result  # MRML's own blocks are not touched
    assert "<!--[if mso]><style>.mso { width: 1px; }</style><![endif]-->" in result
    assert re.search(r"@media \(max-width: 480px\) \{\s*\.x \{\s*color: green !important", result)


def test_to_html_without_inline_rules_skips_premailer() -> None:
    source = "<mjml><mj-body><mj-section><mj-column><mj-text>Hoi</mj-text></mj-column></mj-section></mj-body>"
    assert to_html(source, lambda mjml: "<html>compiled</html>") == "<html>compiled</html>"


def test_inlining_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object) -> None:
        raise AssertionError("premailer tried to connect")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    html = (
        '<!doctype html><html><head><link href="https://fonts.example.org/lato.css" rel="stylesheet">'
        "<style>@import url(https://fonts.example.org/x.css);</style></head>"
        '<body><p class="x">a</p></body></html>'
    )
    result = inline(html, ".x { color: red; } .y { unknown-property: 1; mso-line-height-rule: exactly; }")
    assert '<p class="x" style="color:red">a</p>' in result
    assert '<link href="https://fonts.example.org/lato.css" rel="stylesheet">' in result


def test_inlining_logs_nothing_about_email_only_css(capfd: pytest.CaptureFixture[str]) -> None:
    """cssutils warns about every email-only CSS property (mso-*, -ms-*) unless told not to."""
    html = '<html><head></head><body><p class="x" style="mso-padding-alt:0">a</p></body></html>'
    result = inline(html, ".x { mso-line-height-rule: exactly; -ms-interpolation-mode: bicubic; }")
    assert "mso-line-height-rule:exactly" in result
    assert capfd.readouterr().err == ""
