"""A/B tests decided by sales: a share of the audience split over the variants, and the winner.

A campaign gives two to four `variants` (A, B, C, D) of its subject and/or preheader. `send ID
--test-share 20%` sends them to equal random parts of a fifth of its audience, recording each
reader's variant in the send log; `send ID --winner auto|A|B|C|D` sends the rest the winning variant,
once, through the same resumable send.

The winner is the variant whose readers bought most. Each variant's buyers among its delivered
readers are a Beta-Binomial model: with a uniform prior, the rate of variant v is
Beta(1 + buyers, 1 + delivered − buyers). The chance that v is the best is estimated by drawing
from every variant's Beta at once, many times, and counting how often v's draw is the highest (with
a fixed seed per campaign, so a report says the same each time it is run on the same figures).
`auto` refuses while the best's chance is below THRESHOLD: on too little evidence no winner is
claimed, whatever the difference in revenue looks like.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.errors import NewsletterError
from newsletter.store import VariantResult

THRESHOLD = 0.95
DRAWS = 20_000


@dataclass(frozen=True)
class Outcome:
    """A variant's figures and its chance of being the best."""

    result: VariantResult
    chance: float

    @property
    def revenue_per_1000(self) -> float | None:
        delivered = self.result.delivered
        return round(self.result.revenue * 1000 / delivered) if delivered else None


def seed_of(campaign_id: str) -> str:
    """The split is the same for the dry run and the real send of the same audience, and a report's
    chances are the same each time it is run on the same figures."""
    return f"{campaign_id}:ab"


def parse_share(text: str | float) -> float:
    """`20%` → 0.2 (a percentage, with its sign: `1` could be 1 % or all); a fraction as a number,
    from the Python API. Whether the share gives each variant a reader is the send's to say."""
    if isinstance(text, float):
        share = text
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", text)
        if match is None:
            raise NewsletterError(
                f"not a share of the audience: {text!r}", field="--test-share", hint="a percentage, like 20%"
            )
        share = float(match.group(1)) / 100
    if not 0 < share < 1:
        raise NewsletterError("a test share is more than 0 % and less than 100 %", field="--test-share")
    return share


def split(reader_ids: Sequence[int], variants: Sequence[str], share: float, seed: str) -> dict[int, str]:
    """A random `share` of the readers, in equal parts (to one reader) over the variants."""
    chosen = list(reader_ids)
    random.Random(seed).shuffle(chosen)
    chosen = chosen[: round(len(chosen) * share)]
    return {reader: variants[index % len(variants)] for index, reader in enumerate(chosen)}


def every_variant(results: Sequence[VariantResult], names: Sequence[str]) -> list[VariantResult]:
    """The results of every variant of the campaign: one nobody was delivered counts, with nothing known
    of it (else a test whose only delivered variant is A would make A the sure winner)."""
    found = {result.variant: result for result in results}
    return [found.get(name, VariantResult(name, 0, 0, 0, 0)) for name in names]


def outcomes(results: Sequence[VariantResult], seed: str, draws: int = DRAWS) -> list[Outcome]:
    """Each variant with its chance of selling best, from the Beta-Binomial model above."""
    if not results:
        return []
    generator = random.Random(seed)
    wins = dict.fromkeys((r.variant for r in results), 0)
    shapes = [(r.variant, 1 + r.buyers, 1 + max(r.delivered - r.buyers, 0)) for r in results]
    for _ in range(draws):
        drawn = [(generator.betavariate(a, b), variant) for variant, a, b in shapes]
        wins[max(drawn)[1]] += 1
    return [Outcome(r, wins[r.variant] / draws) for r in results]


def pick_winner(choice: str, found: Sequence[Outcome], *, force: bool) -> str:
    """The variant `--winner` names, or for `auto` the one most likely best, when it is likely enough."""
    if choice != "auto":
        return choice
    if not found:
        raise NewsletterError("auto: the test share has not been delivered to anyone yet", field="--winner")
    best = max(found, key=lambda outcome: outcome.chance)
    if best.chance < THRESHOLD and not force:
        figures = ", ".join(f"{o.result.variant} {o.chance:.0%}" for o in found)
        raise NewsletterError(
            f"auto: no variant is best with a chance of {THRESHOLD:.0%} yet ({figures})",
            field="--winner",
            hint="wait for more orders, name the winner (--winner A), or pass --force to take "
            f"{best.result.variant} anyway",
        )
    return best.result.variant
