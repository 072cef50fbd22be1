"""Reading the store in tests: the store's own queries, for a store or a database file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from newsletter.store import StatusChange, Store, Subscriber, using


def select(
    target: Store | Path,
    *,
    locale: str | None = None,
    tags: Sequence[str] = (),
    status: str | None = "active",
) -> list[Subscriber]:
    with using(target) as store:
        return store.select(locale=locale, tags=tags, status=status)


def count(target: Store | Path) -> dict[tuple[str, str], int]:
    with using(target) as store:
        return store.count()


def history(target: Store | Path) -> list[StatusChange]:
    with using(target) as store:
        return store.history()
