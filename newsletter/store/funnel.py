"""What became of a campaign's recipients: the send log's states, and the bounces, complaints and
unsubscribes that followed it.

A change of status belongs to a campaign when it names the campaign itself (a refusal during its
send, an unsubscribe through its token), and otherwise to the last campaign delivered to that
reader before the change ("last touch", as Mailchimp and listmonk count them): a bounce or a
complaint that arrives later by mail answers the newest message the reader got.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from newsletter.store.sendlog import SendLog
from newsletter.vocabulary import SEND_STATES

OUTCOMES = ("bounced", "complained", "unsubscribed")


@dataclass(frozen=True)
class Funnel:
    campaign: str
    recipients: int
    states: dict[str, int] = field(default_factory=dict)  # every send state, 0 where none
    outcomes: dict[str, int] = field(default_factory=dict)  # bounced, complained, unsubscribed
    returned: int = 0  # accepted by their server (`sent`), then bounced: not delivered after all

    @property
    def delivered(self) -> int:
        """Accepted by the reader's server and not returned by it later."""
        return self.states.get("sent", 0) - self.returned

    @classmethod
    def unsent(cls, campaign: str) -> Funnel:
        """A campaign with nobody in its send log (or no subscriber database at all)."""
        return cls(campaign, 0, dict.fromkeys(SEND_STATES, 0), dict.fromkeys(OUTCOMES, 0))


# Does change c name campaign x in its detail ("x" or "x: ...")?
_NAMES = "(c.detail = {x} OR substr(c.detail, 1, length({x}) + 1) = {x} || ':')"
# Each change to a suppressed status of this campaign's recipients that belongs to it: it names the
# campaign, or it names none of the reader's campaigns and this one was delivered to them last
# before it. A reader counts once per outcome.
_OUTCOMES = f"""
    SELECT c.new_status, COUNT(DISTINCT c.subscriber_id),
        COUNT(DISTINCT CASE WHEN mine.state = 'sent' THEN c.subscriber_id END)
    FROM status_changes c
    JOIN sends mine ON mine.campaign = :campaign AND mine.subscriber_id = c.subscriber_id
    WHERE c.new_status IN ('bounced', 'complained', 'unsubscribed') AND (
        {_NAMES.format(x=":campaign")}
        OR NOT EXISTS (
            SELECT 1 FROM sends other WHERE other.subscriber_id = c.subscriber_id
            AND {_NAMES.format(x="other.campaign")}
        ) AND :campaign = (
            SELECT last.campaign FROM sends last
            WHERE last.subscriber_id = c.subscriber_id AND last.state = 'sent' AND last.sent_at <= c.at
            ORDER BY last.sent_at DESC, last.rowid DESC LIMIT 1
        )
    )
    GROUP BY c.new_status
"""


class Reports(SendLog):
    def campaign_funnel(self, campaign: str) -> Funnel:
        counted = self.send_counts(campaign)
        outcomes = dict.fromkeys(OUTCOMES, 0)
        returned = 0
        for status, readers, after_delivery in self.connection.execute(
            _OUTCOMES.replace("last.rowid", f"last.{self.engine.rowid}"), {"campaign": campaign}
        ):
            outcomes[status] = readers
            returned += after_delivery if status == "bounced" else 0
        return Funnel(campaign, sum(counted.values()), counted, outcomes, returned)
