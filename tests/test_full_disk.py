"""A full disk is a clear error, never a traceback: the subscriber database, a send's log, a dry
run's outbox. What was written before stays, and a send goes on with those still pending."""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newsletter.store import Store, database_file
from tests.conftest import Run, write
from tests.smtp_fake import FakeSMTP
from tests.test_sending_run import CAMPAIGN, READERS, fake, send, sender, states

__all__ = ["fake", "sender"]  # the fixtures, used by name


def no_room_to_grow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection the store opens from now on may not grow the file: SQLite answers as it
    does on a full disk (SQLITE_FULL, "database or disk is full")."""
    connect: Callable[..., sqlite3.Connection] = sqlite3.connect

    def full(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = connect(*args, **kwargs)
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {max(pages, 1)}")
        return connection

    monkeypatch.setattr(sqlite3, "connect", full)  # as store/database.py calls it


def test_an_import_onto_a_full_disk_says_so(project: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project / "a.csv", "email\nfirst@example.nl\n")
    assert run("audience", "import", str(project / "a.csv"), "--consent", "testlijst").exit_code == 0
    rows = "".join(f"lezer{n}@example.nl\n" for n in range(2000))
    write(project / "b.csv", "email\n" + rows)
    no_room_to_grow(monkeypatch)
    result = run("audience", "import", str(project / "b.csv"), "--consent", "testlijst")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: audience.sqlite3: the disk that holds the subscriber database is full"
    )
    assert "Traceback" not in result.output


def test_a_send_whose_log_cannot_be_written_stops_with_the_rest_pending(
    sender: Path, fake: FakeSMTP, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = Store.record_result
    calls = 0

    def fills_the_disk(self: Store, *args: Any, **kwargs: Any) -> str:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise database_file.full(self.engine.path)  # type: ignore[attr-defined]
        return recorded(self, *args, **kwargs)

    monkeypatch.setattr(Store, "record_result", fills_the_disk)
    result = send(run)
    assert result.exit_code == 2
    assert "error: audience.sqlite3: the disk that holds the subscriber database is full" in result.stderr
    assert "Traceback" not in result.output
    logged = list(states(sender).values())
    assert logged.count("sent") == 2 and logged.count("unknown") == 1  # the third went out, unrecorded
    assert logged.count("pending") == len(READERS) - 3
    monkeypatch.setattr(Store, "record_result", recorded)
    resumed = send(run)
    assert resumed.exit_code == 1, resumed.output  # the unknown one waits for --retry-unknown
    assert list(states(sender).values()).count("sent") == len(READERS) - 1


def test_a_dry_run_onto_a_full_disk_keeps_the_last_outbox(
    sender: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("send", CAMPAIGN, "--dry-run").exit_code == 0
    outbox = sender / "build" / CAMPAIGN / "outbox"
    before = sorted(path.name for path in outbox.iterdir())

    def no_space(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", no_space)  # as the outbox writes each message
    result = run("send", CAMPAIGN, "--dry-run")
    assert result.exit_code == 2
    assert "cannot write the dry run's outbox: No space left on device" in result.stderr
    assert "Traceback" not in result.output
    assert sorted(path.name for path in outbox.iterdir()) == before
