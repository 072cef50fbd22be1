"""The shared words: each Literal and its tuple agree, and the database refuses what they do not name."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import get_args

import pytest

from newsletter import vocabulary
from newsletter.store import connect


@pytest.mark.parametrize(
    ("literal", "values"),
    [
        (vocabulary.Locale, vocabulary.LOCALES),
        (vocabulary.Status, vocabulary.STATUSES),
        (vocabulary.SendState, vocabulary.SEND_STATES),
    ],
)
def test_each_literal_matches_its_tuple(literal: object, values: tuple[str, ...]) -> None:
    assert get_args(literal) == values


def test_suppressed_and_open_states_are_subsets() -> None:
    assert set(vocabulary.SUPPRESSED) < set(vocabulary.STATUSES)
    assert "active" not in vocabulary.SUPPRESSED
    assert set(vocabulary.OPEN_STATES) < set(vocabulary.SEND_STATES)


def test_the_database_checks_come_from_the_vocabulary(tmp_path: Path) -> None:
    with connect(tmp_path / "audience.sqlite") as store:
        db = store.connection
        sql = " ".join(row[0] for row in db.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"))
        for value in (*vocabulary.LOCALES, *vocabulary.STATUSES, *vocabulary.SEND_STATES):
            assert f"'{value}'" in sql
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(
                "INSERT INTO subscribers (email, email_key, locale, created_at, updated_at)"
                " VALUES ('a@b.nl', 'a@b.nl', 'de', '', '')"
            )
