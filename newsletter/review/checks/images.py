"""Images: alt text for readers who cannot see them, an https source, a width for Outlook, the covers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from newsletter.review.checks.document import Email, short
from newsletter.review.checks.registry import Finding, Rule, rule


@rule(
    {
        "img-alt": Rule(
            "error",
            (
                'every `<img>` has alt text; `alt=""` only on an unlinked decorative image with '
                '`role="presentation"` (or `none`)'
            ),
        ),
        "img-src": Rule("error", "every `<img>` src is an absolute `https://` URL"),
        "img-width": Rule(
            "warning",
            ("every `<img>` has a `width` in pixels (Outlook for Windows shows the file's size otherwise)"),
        ),
    }
)
def images(email: Email) -> Iterator[Finding]:
    for number, img in enumerate(email.body.iter("img"), start=1):
        src = (img.get("src") or "").strip()
        where = f"<img> #{number} (src={short(src)})"
        yield from _image_alt(email, img, where)
        parts = urlsplit(src)
        if parts.scheme.lower() != "https" or not parts.hostname:
            yield email.finding(
                "img-src",
                "error",
                where,
                "the image is not an absolute https:// URL, so mail clients cannot load it or warn "
                "about it; use the full https:// address",
            )
        if not re.fullmatch(r"\s*\d+\s*(px)?\s*", img.get("width") or ""):
            yield email.finding(
                "img-width",
                "warning",
                where,
                "the image has no width attribute in pixels, so Outlook for Windows shows it at the size "
                'of the file; give it a width (mj-image width="...px")',
            )


def _image_alt(email: Email, img: Any, where: str) -> Iterator[Finding]:
    """alt="" is right for a purely decorative image, but only when the image says so itself with
    role="presentation" (or role="none"): an empty alt on a linked image leaves the link without a
    name, and an empty alt by accident is indistinguishable from one by intent otherwise."""
    alt = img.get("alt")
    if alt is None:
        yield email.finding(
            "img-alt",
            "error",
            where,
            "the image has no alt attribute, so screen readers read out its file name and clients that "
            "block images show nothing; describe the image in alt",
        )
        return
    if alt.strip():
        return
    linked = any(a.tag == "a" and a.get("href") for a in img.iterancestors())
    decorative = (img.get("role") or "").strip().lower() in ("presentation", "none")
    if linked:
        yield email.finding(
            "img-alt",
            "error",
            where,
            "the image is a link with empty alt text, so the link has no name for screen readers; "
            "describe where the link goes in alt",
        )
    elif not decorative:
        yield email.finding(
            "img-alt",
            "error",
            where,
            "the image has empty alt text: describe it, or mark a purely decorative image "
            'with role="presentation"',
        )


@rule({"book-cover-missing": Rule("warning", "each book's `cover_url` is an `<img src>`")})
def book_covers(email: Email) -> Iterator[Finding]:
    sources = {(img.get("src") or "").strip() for img in email.body.iter("img")}
    for number, book in enumerate(email.campaign.books, start=1):
        if book.cover_url not in sources:
            yield email.finding(
                "book-cover-missing",
                "warning",
                f"book-{number}",
                f"the cover of {book.sku} ({book.cover_url}) is not in the email; "
                "the book template should show {{ book.cover_url }} as an image",
            )
