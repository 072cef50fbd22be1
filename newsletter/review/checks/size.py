"""The size of the HTML: Gmail clips a message above 102 KB and hides the rest, footer included."""

from __future__ import annotations

from collections.abc import Iterator

from newsletter.render.renderer import GMAIL_CLIP_BYTES
from newsletter.review.checks.document import Email
from newsletter.review.checks.registry import Finding, Rule, rule

SIZE_WARNING_BYTES = 80 * 1024  # leaves room for what the sending platform adds (tracking, merge fields)
SIZE_ERROR_BYTES = GMAIL_CLIP_BYTES  # Gmail hides everything after 102 KB, the footer included


@rule(
    {
        "html-size": Rule(
            "warning > 80 KB, error > 102 KB",
            "HTML size; Gmail clips above 102 KB, unsubscribe link included",
        )
    }
)
def html_size(email: Email) -> Iterator[Finding]:
    size = email.rendered.html_bytes
    if size > SIZE_ERROR_BYTES:
        yield email.finding(
            "html-size",
            "error",
            "email.html",
            f"the HTML is {size / 1024:.1f} KB: Gmail clips messages above 102 KB and hides the rest, "
            "unsubscribe link included; shorten excerpts or send fewer teasers or books",
        )
    elif size > SIZE_WARNING_BYTES:
        yield email.finding(
            "html-size",
            "warning",
            "email.html",
            f"the HTML is {size / 1024:.1f} KB, close to Gmail's 102 KB clipping limit once the sending "
            "platform adds its tracking; shorten excerpts to stay under 80 KB",
        )
