"""The email as the review frames and screenshots show it: a copy that fetches nothing."""

from __future__ import annotations

import re

from newsletter.review.offline import offline_copy, placeholder_image


def test_offline_copy_fetches_nothing() -> None:
    email = (
        '<!doctype html><html><head><link rel="stylesheet" href="https://fonts.example/css">'
        "<style>@import url(https://x.example/a.css); td { background: url('https://x.example/b.png') }"
        '</style></head><body><table background="https://x.example/c.png"><tr><td>'
        '<img src="https://x.example/d.png" alt="Omslag &amp; titel" width="170">'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="">'
        '<a href="https://x.example/page">link</a></td></tr></table></body></html>'
    )
    copy = offline_copy(email)
    assert re.findall(r"https://x\.example/\w+", copy) == ["https://x.example/page"]  # links stay
    assert "fonts.example" not in copy
    assert placeholder_image("Omslag & titel", 170) in copy.replace("&amp;", "&")
    assert "data:image/gif;base64" in copy
    assert '<base target="_blank">' in copy
