"""The send log and its outcome types (sendlog.py), below the run that writes it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import pytest

from newsletter.store import Location, PostgresDatabase, Result, Store, connect
from newsletter.store.sendlog import Outcome
from newsletter.vocabulary import SEND_STATES
from tests.store_util import select

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_every_outcome_is_a_send_state_and_only_sending_is_not_an_outcome() -> None:
    assert set(SEND_STATES) - set(get_args(Outcome)) == {"sending"}


@pytest.fixture
def location(tmp_path: Path, engine_url: str | None) -> Location:
    """A new store on each engine (tests/conftest.py)."""
    return tmp_path / "db.sqlite3" if engine_url is None else PostgresDatabase(engine_url)


def one_reader(path: Location) -> Store:
    store = connect(path)
    with store.transaction():
        store.add_subscriber(
            "jan@example.org",
            name="Jan",
            locale="nl",
            tags=(),
            status="active",
            source="t",
            stamp="x",
        )
    store.enqueue("c", select(store), NOW)
    return store


def test_a_deferral_waits_twice_as_long_each_time_then_fails(location: Location) -> None:
    with one_reader(location) as store:
        deferred = Result("deferred", 451, "RCPT: 451 later")
        waits = []
        for _ in range(3):
            [entry] = store.due("c", datetime(2027, 1, 1, tzinfo=UTC))
            store.mark_sending(entry, "<m>", NOW)
            state = store.record_result(entry, deferred, NOW, retry_after=60, max_attempts=3)
            waits.append((state, store.next_retry("c")))
        [row] = store.send_rows("c", ["failed"])
    assert waits == [
        ("deferred", "2026-12-01T09:01:00Z"),
        ("deferred", "2026-12-01T09:02:00Z"),
        ("failed", None),
    ]
    assert row.smtp_response == "gave up after 3 attempts; last reply: RCPT: 451 later"


def test_a_hard_bounce_marks_the_subscriber_bounced_with_the_row(location: Location) -> None:
    with one_reader(location) as store:
        [entry] = store.due("c", NOW)
        store.mark_sending(entry, "<m>", NOW)
        bounce = Result("failed", 550, "RCPT: 550 5.1.1 user unknown", bounce=True)
        assert store.record_result(entry, bounce, NOW, retry_after=60, max_attempts=3) == "failed"
        assert [s.status for s in select(store, status=None)] == ["bounced"]


def test_a_reader_who_left_after_the_run_took_the_rows_is_not_marked_sending(location: Location) -> None:
    """The status is read in the transaction that marks the row: an unsubscribe answered a moment
    before means the row is closed, never `sending`."""
    with one_reader(location) as store:
        [entry] = store.due("c", NOW)
        [reader] = select(store)
        with store.transaction():
            store.change_status(reader.id, "active", "unsubscribed", source="one-click", stamp="y")
        assert store.mark_sending(entry, "<m>", NOW) == "unsubscribed"
        [row] = store.send_rows("c", ["failed"])
        assert row.smtp_response == "not sent: the subscriber is unsubscribed now"
        assert row.attempts == 0 and row.message_id is None
        assert store.send_rows("c", ["sending"]) == []


def test_an_active_reader_is_marked_sending_with_the_message_id(location: Location) -> None:
    with one_reader(location) as store:
        [entry] = store.due("c", NOW)
        assert store.mark_sending(entry, "<m>", NOW) is None
        [row] = store.send_rows("c", ["sending"])
        assert (row.attempts, row.message_id) == (1, "<m>")
