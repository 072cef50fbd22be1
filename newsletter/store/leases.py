"""The senders of a campaign, each with a lease in the database: what lets several processes, on one
machine or several, share one campaign's send log, and what tells a row in flight from one left by a
sender that died.

A sender takes a lease when it starts (`take_lease`), renews it with a heartbeat while it runs
(`renew_lease`), and gives it up when it ends (`end_lease`). Its rows name it (`sends.sender`) from
the moment it claims them (sendlog.py). A lease is live while its process is: on the same machine
that is known at once (the process id, and the process's start time, so a reused id is not taken for
it); on another machine when its heartbeat is younger than LEASE_SECONDS. Heartbeats are written
and judged by the database's clock, so machines whose clocks disagree still agree on a lease. A
dead sender's rows are taken back by the next claim of any sender (`reap`): those it had marked
`sending` become `unknown` (the server may have their messages), the ones it had only claimed go
back to the pool.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

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

    def alive(self, database_now: datetime, lease_seconds: float = LEASE_SECONDS) -> bool:
        """Its process runs (on this machine, where /proc tells), or its heartbeat is recent (by the
        database's clock, `database_now`)."""
        if self.host == this_machine() and self.process_start and _processes_visible():
            return process_start(self.pid) == self.process_start
        return self.heartbeat_at >= timestamp(database_now - timedelta(seconds=lease_seconds))


@cache
def this_machine() -> str:
    """The host's name, the kernel's boot id and the process-id namespace: where a process id names
    one process (a container sharing the host's name has ids of its own), and not the same after a
    reboot, when every process of before is gone."""
    parts = [socket.gethostname()]
    for where in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        try:
            parts.append(os.readlink(where) if where.endswith("/pid") else Path(where).read_text().strip())
        except OSError:
            parts.append("")
    return "/".join(parts)


@cache
def _processes_visible() -> bool:
    """Whether /proc shows this machine's processes (not on macOS): else heartbeats alone decide."""
    return bool(process_start(os.getpid()))


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
    def take_lease(self, lease_id: str, campaign: str) -> None:
        pid = os.getpid()
        clock = self.engine.clock
        with self.row_transaction():
            self.connection.execute(
                "INSERT INTO senders (id, campaign, host, pid, process_start, started_at, heartbeat_at)"
                f" VALUES (?, ?, ?, ?, ?, {clock}, {clock})",
                (lease_id, campaign, this_machine(), pid, process_start(pid)),
            )

    def renew_lease(self, lease_id: str) -> bool:
        """The heartbeat; False when the lease is gone (another sender took this one for dead)."""
        with self.row_transaction():
            renewed = self.connection.execute(
                f"UPDATE senders SET heartbeat_at = {self.engine.clock} WHERE id = ?", (lease_id,)
            )
            return renewed.rowcount == 1

    def database_now(self) -> datetime:
        """The time by the database's clock, which every sender's heartbeat is written with."""
        (stamp,) = self.connection.execute(f"SELECT {self.engine.clock}").fetchone()
        return datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

    def end_lease(self, campaign: str, lease_id: str, now: datetime) -> int:
        """The sender is done: what it still has `sending` is `unknown` (the caller made sure nothing
        is in flight), what it claimed and did not send goes back; returns the rows made unknown."""
        with self.row_transaction():
            return self._release(campaign, lease_id, timestamp(now))

    def leases(self, campaign: str) -> list[Lease]:
        rows = self.connection.execute(
            "SELECT id, campaign, host, pid, process_start, started_at, heartbeat_at FROM senders"
            " WHERE campaign = ? ORDER BY started_at, id",
            (campaign,),
        ).fetchall()
        return [Lease(*row) for row in rows]

    def live_senders(self, campaign: str) -> list[Lease]:
        database_now = self.database_now()
        return [lease for lease in self.leases(campaign) if lease.alive(database_now)]

    def reap(self, campaign: str, now: datetime) -> int:
        """Inside a transaction: take back the rows of the campaign's dead senders, and the rows left
        `sending` by a sender that names none (one from before leases, or the welcome mailer of
        `serve`) once they are older than a lease; returns the rows made unknown."""
        stamp = timestamp(now)
        database_now = self.database_now()
        unknown = 0
        for lease in self.leases(campaign):
            if not lease.alive(database_now):
                unknown += self._release(campaign, lease.id, stamp)
        orphans = self.connection.execute(
            "UPDATE sends SET state = 'unknown', smtp_response = ?, updated_at = ?"
            " WHERE campaign = ? AND state = 'sending' AND sender IS NULL AND updated_at < ?",
            (INTERRUPTED, stamp, campaign, timestamp(now - timedelta(seconds=LEASE_SECONDS))),
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
