"""What a campaign's send log says to the user: `newsletter status`, and the summary after a run.

A row is `sending` only while a sender has its transaction in flight. When no sender of the
campaign holds a live lease (leases.py), a `sending` row was left by one that died mid-transaction:
the server may have the message, exactly what `unknown` means, and the next run records it so. The
counts and rows shown here already say `unknown` for it, without writing: `status` only reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from newsletter.store import INTERRUPTED, Row, Store, open_existing
from newsletter.vocabulary import SEND_STATES

if TYPE_CHECKING:
    from newsletter.project.settings import Project
    from newsletter.sending.run import RunReport


@dataclass(frozen=True)
class LogStatus:
    """What a campaign's send log says: `status`, and the summary after a run."""

    counts: dict[str, int]  # every state, zero when none
    rows: list[Row] = field(default_factory=list)  # the rows in the states asked for
    next_retry: str | None = None  # when the first deferred reader is due again
    senders: int = 0  # how many senders of the campaign hold a live lease

    @property
    def sending_now(self) -> bool:
        return self.senders > 0

    def needs_attention(self, report: RunReport) -> bool:
        """Paused, stopped, deferred, unknown or refused readers: the run went through but is not done."""
        return bool(
            report.paused
            or report.interrupted
            or self.counts["deferred"]
            or self.counts["unknown"]
            or report.outcomes.get("failed")
        )


def settled(counts: dict[str, int], sending_now: bool) -> dict[str, int]:
    """The counts as they stand: `sending` rows of a sender that is gone count as `unknown`."""
    if sending_now or not counts.get("sending"):
        return counts
    return {**counts, "unknown": counts["unknown"] + counts["sending"], "sending": 0}


def settled_rows(store: Store, campaign: str, states: Sequence[str], sending_now: bool) -> list[Row]:
    """The rows in `states`, a dead sender's `sending` rows listed as `unknown` (and not as `sending`)."""
    if sending_now:
        return store.send_rows(campaign, states)
    wanted = [state for state in states if state != "sending"]
    if "unknown" in wanted:
        wanted.append("sending")
    return [
        replace(row, state="unknown", smtp_response=INTERRUPTED) if row.state == "sending" else row
        for row in store.send_rows(campaign, wanted)
    ]


def log_status(project: Project, campaign_id: str, list_states: Sequence[str] = ()) -> LogStatus:
    """The send log's counts per state, and its rows in `list_states`. A campaign that was never sent
    must still exist (a typo gets a "did you mean"); no database is created to say so."""
    from newsletter.project.campaign import campaign_files

    found = LogStatus(dict.fromkeys(SEND_STATES, 0))
    store = open_existing(project)
    if store is not None:
        with store:
            senders = len(store.live_senders(campaign_id))
            running = senders > 0
            counts = settled(store.send_counts(campaign_id), running)
            rows = settled_rows(store, campaign_id, list_states, running) if list_states else []
            retry = store.next_retry(campaign_id)
        found = LogStatus(counts, rows, retry, senders)
    if not any(found.counts.values()):
        files, errors = campaign_files(project, [campaign_id])
        if campaign_id not in files:  # errors may also name duplicate ids of other campaigns
            raise errors[-1]
    return found
