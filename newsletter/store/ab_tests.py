"""A/B tests: which variant each reader of the test share got, and what each variant sold.

A test starts with a share of the audience (`send ID --test-share 20%`): its rows in the send log
carry their variant and `in_test`. The rest of the audience gets the winner later
(`send ID --winner`), with `in_test` 0, so the comparison only ever counts the test share. The
winner is written once: a second decision for another variant is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from newsletter.store.subscribers import Subscribers


@dataclass(frozen=True)
class ABTest:
    campaign: str
    share: float  # 0 < share < 1
    started_at: str
    winner: str | None
    decided_at: str | None


@dataclass(frozen=True)
class VariantResult:
    """One variant of the test share: readers it was delivered to, and what they bought."""

    variant: str
    delivered: int
    buyers: int
    orders: int
    revenue: int  # cents, paid orders less refunds


class ABTests(Subscribers):
    def start_test(self, campaign: str, share: float, stamp: str) -> None:
        """Inside the caller's transaction, before the test share's rows are added. A test recorded
        before whose rows never came (its process was killed in between) takes the new share."""
        self.connection.execute(
            "INSERT INTO ab_tests (campaign, share, started_at) VALUES (?, ?, ?)"
            " ON CONFLICT (campaign) DO UPDATE SET share = excluded.share, started_at = excluded.started_at"
            " WHERE ab_tests.winner IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM sends WHERE campaign = excluded.campaign AND in_test = 1)",
            (campaign, share, stamp),
        )

    def ab_test(self, campaign: str) -> ABTest | None:
        row = self.connection.execute(
            "SELECT campaign, share, started_at, winner, decided_at FROM ab_tests WHERE campaign = ?",
            (campaign,),
        ).fetchone()
        if row is None:
            return None
        campaign_id, share, started_at, winner, decided_at = row
        return ABTest(str(campaign_id), float(share), str(started_at), winner, decided_at)

    def decide(self, campaign: str, winner: str, stamp: str) -> bool:
        """Record the winner; False when another one was recorded before."""
        self.connection.execute(
            "UPDATE ab_tests SET winner = ?, decided_at = ? WHERE campaign = ? AND winner IS NULL",
            (winner, stamp, campaign),
        )
        found = self.ab_test(campaign)
        return found is not None and found.winner == winner

    def variant_results(self, campaign: str) -> list[VariantResult]:
        """Per variant of the test share: delivered, and the paid orders of its readers through this
        campaign's links (refunds subtracted), by variant name."""
        delivered = dict(
            self.connection.execute(
                "SELECT variant, COUNT(*) FROM sends WHERE campaign = ? AND in_test = 1 AND state = 'sent'"
                " GROUP BY variant",
                (campaign,),
            ).fetchall()
        )
        bought = {
            str(variant): (int(buyers), int(orders), int(revenue))
            for variant, buyers, orders, revenue in self.connection.execute(
                "SELECT s.variant, COUNT(DISTINCT o.subscriber_id), COUNT(*),"
                " SUM(o.amount - CASE WHEN coalesce(r.amount_refunded, 0) < o.amount"
                " THEN coalesce(r.amount_refunded, 0) ELSE o.amount END)"
                " FROM orders o JOIN sends s ON s.campaign = o.campaign AND s.subscriber_id = o.subscriber_id"
                " LEFT JOIN refunds r ON r.payment_intent = o.payment_intent"
                " WHERE o.campaign = ? AND o.payment_status = 'paid' AND s.in_test = 1 AND s.state = 'sent'"
                " GROUP BY s.variant",
                (campaign,),
            )
        }
        return [
            VariantResult(str(variant), int(count), *bought.get(str(variant), (0, 0, 0)))
            for variant, count in sorted(delivered.items())
        ]
