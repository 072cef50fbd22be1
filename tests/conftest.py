"""Shared fixtures: a copy of the sample project in a temporary folder, the CLI as a user runs it, and a
throw-away PostgreSQL server with an empty database for each test that asks for one."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from newsletter.cli import main
from newsletter.payments.lock import LOCK_FILE
from tests.postgres_server import PostgresServer, postgres_for_tests
from tests.stripe_fake import FakeStripe

REPO = Path(__file__).resolve().parent.parent
PROJECT_PARTS = ["newsletter.toml", "authors.yaml", "books", "columns", "campaigns", "templates"]
# The sample campaign's book with a test-mode Payment Link, as `newsletter links sync` records it.
LOCKED = {
    "campaign": "2026-12-schrijven",
    "sku": "schrijven-is-schrappen",
    "amount": 3495,
    "currency": "eur",
    "mode": "test",
    "product": "prod_A",
    "price": "price_A",
    "payment_link": "plink_A",
    "url": "https://buy.stripe.com/test_abc123",
    "active": True,
}


def write_lock(project: Path, *links: dict[str, object]) -> None:
    (project / LOCK_FILE).write_text(json.dumps({"version": 1, "links": list(links)}), encoding="utf-8")


Run = Callable[..., Result]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The repository's own sample project, copied so a test may break it."""
    return copy_sample(tmp_path / "project")


def copy_sample(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part)
        else:
            shutil.copy(source, root / part)
    return root


@pytest.fixture
def run(project: Path) -> Run:
    """`newsletter --project <copy> ARGS...`, through click's runner, like a user would type it."""

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, ["--project", str(project), *args], catch_exceptions=False)

    return invoke


@contextmanager
def stripe_served(monkeypatch: pytest.MonkeyPatch, key: str) -> Iterator[FakeStripe]:
    """The fake Stripe on a free port, the SDK pointed at it with `key`, and no waiting between
    the SDK's retries (they are counted, not timed)."""
    from stripe._http_client import HTTPClient

    from newsletter.payments import stripe_api

    monkeypatch.setattr(HTTPClient, "INITIAL_DELAY", 0.0)
    monkeypatch.setattr(HTTPClient, "MAX_DELAY", 0.0)
    monkeypatch.setattr(stripe_api, "RATE_LIMIT_DELAY", 0.0)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with FakeStripe() as server:
        monkeypatch.setenv("STRIPE_API_KEY", key)
        monkeypatch.setenv("STRIPE_API_BASE", server.url)
        yield server


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throw-away PostgreSQL cluster for the whole session (about a second to start), started only
    when a test asks for it; skips without PostgreSQL, fails when CI is set (tests/postgres_server.py)."""
    with postgres_for_tests() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database, the test's own: CREATE DATABASE is cheaper than cleaning up."""
    return postgres_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def engine_url(request: pytest.FixtureRequest) -> str | None:
    """Runs a store test on both engines: None for SQLite (the store's own file), the URL of a new,
    empty PostgreSQL database for PostgreSQL. The server is asked for only then, so the SQLite half
    neither waits for it nor skips without it."""
    if request.param == "sqlite":
        return None
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def both_engines(request: pytest.FixtureRequest) -> str:
    """Runs a test on both engines. On PostgreSQL, the `project` fixture's newsletter.toml points
    `[audience] database` at a new, empty database, as a publisher's would, so every command, the
    Python API and `serve` of the test use it; read the store with `tests.store_util.database`.
    Returns the engine's name."""
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        settings = request.getfixturevalue("project") / "newsletter.toml"
        text = settings.read_text(encoding="utf-8")
        settings.write_text(f'{text}\n[audience]\ndatabase = "{server.new_database()}"\n', encoding="utf-8")
    return str(request.param)
