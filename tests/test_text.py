"""The plain-text part's filters."""

from __future__ import annotations

from newsletter.render.text import wrap


def test_wrap_never_breaks_urls() -> None:
    url = "https://www.uitgeverijlindenhof.nl/" + "a" * 90
    assert wrap(f"Lees {url} nu") == f"Lees\n{url}\nnu"
