"""The senders of a campaign, each with a lease in the database: what lets several processes, on one
machine or several, share one campaign's send log, and what tells a row in flight from one left by a
sender that died.

A sender takes a lease when it starts (`take_lease`), renews it with a heartbeat while it runs
(`renew_lease`), and gives it up when it ends (`end_lease`). Its rows name it (`sends.sender`) from
the moment it claims them (sendlog.py). A lease is live while its process is: on the same machine
that is known at once (the process id, and the process's start time, so a reused id is not taken for
it); on another machine when its heartbeat is younger than LEASE_SECONDS. A dead sender's rows are
taken back by the next claim of any sender (`reap`): those it had marked `sending` become `unknown`
(the server may have their messages), the ones it had only claimed go back to the pool.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from newsletter.store.base import StoreBase, timestamp

LEASE_SECONDS = 30.0  # a sender on another machine counts as dead when silent this long
HEARTBEAT_SECONDS = 5.0  # how often a sender renews its lease
# What an `unknown` row left by a sender that stopped mid-transaction says.
INTERRUPTED = "the sender stopped during the SMTP transaction"


@dataclass(frozen=True)
class Lease:
    id: str
    campaign: str
    host: str
    pid: int
    process_start: str
    started_at: str
    heartbeat_at: str

    def alive(self, now: datetime, lease_seconds: float = LEASE_SECONDS) -> bool:
        if self.host == this_machine():
            return process_start(self.pid) == self.process_start
        return self.heartbeat_at >= timestamp(now - timedelta(seconds=lease_seconds))


@cache
def this_machine() -> str:
    """The host's name and the kernel's boot id: a machine, and not the same name after a reboot
    (when every process of before is gone)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as file:
            boot = file.read().strip()
    except OSError:
        boot = ""
    return f"{socket.gethostname()}/{boot}"


def process_start(pid: int) -> str:
    """When the process started, in clock ticks since boot ("" when there is no such process, or no
    /proc to ask: then only the heartbeat tells)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            stat = file.read()
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


class Leases(StoreBase):
    def take_lease(self, lease_id: str, campaign: str, now: datetime) -> None:
        stamp = timestamp(now)
        pid = os.getpid()
        with self.transaction():
            self.connection.execute(
                "INSERT INTO senders (id, campaign, host, pid, process_start, started_at, heartbeat_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (lease_id, campaign, this_machine(), pid, process_start(pid), stamp, stamp),
            )

    def renew_lease(self, lease_id: str, now: datetime) -> bool:
        """The heartbeat; False when the lease is gone (another sender took this one for dead)."""
        with self.transaction():
            renewed = self.connection.execute(
                "UPDATE senders SET heartbeat_at = ? WHERE id = ?", (timestamp(now), lease_id)
            )
            return renewed.rowcount == 1

    def end_lease(self, campaign: str, lease_id: str, now: datetime) -> int:
        """The sender is done: what it still has `sending` is `unknown` (the caller made sure nothing
        is in flight), what it claimed and did not send goes back; returns the rows made unknown."""
        with self.transaction():
            return self._release(campaign, lease_id, timestamp(now))

    def leases(self, campaign: str) -> list[Lease]:
        rows = self.connection.execute(
            "SELECT id, campaign, host, pid, process_start, started_at, heartbeat_at FROM senders"
            " WHERE campaign = ? ORDER BY started_at, id",
            (campaign,),
        ).fetchall()
        return [Lease(*row) for row in rows]

    def live_senders(self, campaign: str, now: datetime) -> list[Lease]:
        return [lease for lease in self.leases(campaign) if lease.alive(now)]

    def reap(self, campaign: str, now: datetime) -> int:
        """Inside a transaction: take back the rows of the campaign's dead senders, and the rows left
        `sending` by a sender from before leases (none names it); returns the rows made unknown."""
        stamp = timestamp(now)
        unknown = 0
        for lease in self.leases(campaign):
            if not lease.alive(now):
                unknown += self._release(campaign, lease.id, stamp)
        orphans = self.connection.execute(
            "UPDATE sends SET state = 'unknown', smtp_response = ?, updated_at = ?"
            " WHERE campaign = ? AND state = 'sending' AND sender IS NULL",
            (INTERRUPTED, stamp, campaign),
        )
        return unknown + orphans.rowcount

    def _release(self, campaign: str, lease_id: str, stamp: str) -> int:
        made_unknown = self.connection.execute(
            "UPDATE sends SET state = 'unknown', smtp_response = ?, updated_at = ?, sender = NULL"
            " WHERE campaign = ? AND sender = ? AND state = 'sending'",
            (INTERRUPTED, stamp, campaign, lease_id),
        )
        self.connection.execute(
            "UPDATE sends SET sender = NULL WHERE campaign = ? AND sender = ?", (campaign, lease_id)
        )
        self.connection.execute("DELETE FROM senders WHERE id = ?", (lease_id,))
        return made_unknown.rowcount
