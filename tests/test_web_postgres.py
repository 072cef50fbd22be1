"""`newsletter serve` on PostgreSQL alone: what an SQLite file has no counterpart of."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from newsletter.project.settings import Project
from tests.store_util import database
from tests.test_web_app import Server, fixture_readers, fixture_server, status_of, token_for  # noqa: F401 - fixtures


@pytest.fixture
def on_postgres(project: Path, postgres_url: str) -> str:
    """The project's store in a new PostgreSQL database, before anything is imported into it."""
    settings = project / "newsletter.toml"
    settings.write_text(f'{settings.read_text()}\n[audience]\ndatabase = "{postgres_url}"\n')
    return postgres_url


def test_a_one_click_after_the_database_dropped_its_connections_still_unsubscribes(
    on_postgres: str, server: Server, readers: Project
) -> None:
    """A database server restarted between two one-click POSTs (sent once each, by the mail
    provider): the writer's kept connection is dead, and it opens a new one instead of a 503."""
    assert str(database(readers.root)) == on_postgres
    assert server.one_click(token_for(readers, "jan@example.org")).status == 200
    with psycopg.connect(on_postgres, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    assert server.one_click(token_for(readers, "els@example.org")).status == 200
    assert status_of(readers)["els@example.org"] == "unsubscribed"
