"""How findings are counted and said: the same words on the build's line, the pages and the gallery."""

from __future__ import annotations

from newsletter.review.checks import Finding
from newsletter.review.counts import checks_summary, count_findings, plural


def test_counts_and_words() -> None:
    error = Finding("html-size", "error", "c", "email.html", "too big")
    warning = Finding("html-size", "warning", "c", "email.html", "big")
    assert count_findings([error, warning, warning]) == (1, 2)
    assert checks_summary([error, warning, warning]) == "checks: 1 error, 2 warnings"
    assert checks_summary([]) == "checks: 0 errors, 0 warnings"
    assert [plural(n, "campaign") for n in (0, 1, 2)] == ["0 campaigns", "1 campaign", "2 campaigns"]
    assert [plural(n, "address does", "addresses do") for n in (1, 2)] == ["1 address does", "2 addresses do"]
