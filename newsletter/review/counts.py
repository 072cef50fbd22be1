"""Counting findings and saying how many: one place, so the build's line, the review pages, the
gallery and `newsletter check --format json` can never disagree.

Imports nothing at run time, so the build command can print a summary without loading the checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsletter.review.checks.registry import Finding


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 error`, `2 errors`; `many` for words that do not just take an s (`address does`)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def count_findings(findings: Iterable[Finding]) -> tuple[int, int]:
    """(errors, warnings)."""
    listed = list(findings)
    errors = sum(1 for finding in listed if finding.severity == "error")
    return errors, len(listed) - errors


def findings_summary(errors: int, warnings: int) -> str:
    """`0 errors, 1 warning`, as the review pages and the gallery show it."""
    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"


def checks_summary(findings: Iterable[Finding]) -> str:
    """`checks: 0 errors, 1 warning`, as the build command prints it."""
    return f"checks: {findings_summary(*count_findings(findings))}"
