"""What a rule is and where rules are registered: each rule function says, once, in its decorator,
which rule ids it reports and what each one checks, so `RULES` cannot drift from the rules that run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from newsletter.review.checks.document import Email

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    rule: str  # a key of RULES
    severity: Severity
    campaign: str  # campaign id
    where: str  # block, element or line: "book-1", "<img> #2 (src=...)", "email.txt", "newsletter.toml"
    message: str  # one sentence: what is wrong and what to do


@dataclass(frozen=True)
class Rule:
    """A rule as the table in docs/checks.md shows it (generated from these by docs/hooks.py)."""

    severity: str  # as a reader weighs it: "error", "warning", "warning > 80 KB, error > 102 KB"
    checks: str  # one line of Markdown: what an email must do to pass


Check = Callable[["Email"], Iterator[Finding]]

RULES: dict[str, Rule] = {}  # rule id -> its docs, in the order the rules are registered
_REGISTERED: dict[Check, tuple[str, ...]] = {}


def rule(described: Mapping[str, Rule]) -> Callable[[Check], Check]:
    """Register a rule function with the ids it reports (one or more), each with its docs.

    A rule id registered twice is a mistake in the code, found as the module is imported."""

    def register(check: Check) -> Check:
        twice = [rule_id for rule_id in described if rule_id in RULES]
        if twice:
            raise ValueError(f"the rule {twice[0]!r} is registered twice")
        RULES.update(described)
        _REGISTERED[check] = tuple(described)
        return check

    return register


def describe(described: Mapping[str, Rule]) -> None:
    """Document rules that are not run over the email (readiness.py): for the docs and the JSON
    consumers, as `rule` does for the others; a rule already documented keeps its first words."""
    RULES.update({rule_id: text for rule_id, text in described.items() if rule_id not in RULES})


def registered() -> dict[Check, tuple[str, ...]]:
    """Every rule function, in the order registered, with the rule ids it reports."""
    return dict(_REGISTERED)
