"""Payment Links without Stripe: the lock file drives the build, and a missing link is a clear warning."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from newsletter.payments.lock import LOCK_FILE, personalised_order_url
from tests.conftest import LOCKED, Run, write_lock


def meta(project: Path, campaign_id: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((project / "build" / campaign_id / "meta.json").read_text("utf-8"))
    return data


def test_build_uses_the_locked_payment_link_without_a_key(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    write_lock(project, LOCKED)
    result = run("build", "2026-12-schrijven")
    assert result.exit_code == 0, result.output
    assert "0 warnings" in result.stdout
    links = meta(project, "2026-12-schrijven")["links"]
    assert {
        "url": LOCKED["url"],
        "block": "book-1",
        "kind": "order-stripe-test",
        "label": "BESTEL NU!",
    } in links  # type: ignore[operator]
    html = (project / "build" / "2026-12-schrijven" / "email.html").read_text("utf-8")
    assert 'href="https://buy.stripe.com/test_abc123"' in html
    assert "winkel/schrijven-is-schrappen" not in html


def test_book_without_a_link_falls_back_to_its_shop_page_with_a_warning(project: Path, run: Run) -> None:
    write_lock(project, LOCKED)
    result = run("build", "2026-12-paper")
    assert result.exit_code == 0, result.output
    assert "1 warning" in result.stdout
    assert "book-1 (the-quiet-page) has no active Stripe Payment Link" in result.stdout
    strict = run("build", "2026-12-paper", "--strict")
    assert strict.exit_code == 1


def test_locked_link_at_an_old_price_is_not_used(project: Path, run: Run) -> None:
    write_lock(project, {**LOCKED, "amount": 2995})
    result = run("build", "2026-12-schrijven")
    assert "has no active Stripe Payment Link" in result.stdout
    assert 'href="https://buy.stripe.com' not in (project / "build/2026-12-schrijven/email.html").read_text(
        "utf-8"
    )


def test_a_broken_lock_file_is_a_clear_error(project: Path, run: Run) -> None:
    (project / LOCK_FILE).write_text("{not json", encoding="utf-8")
    result = run("build")
    assert result.exit_code == 2
    assert f"error: {LOCK_FILE}: the lock file cannot be read" in result.stderr


def test_building_with_a_lock_does_not_import_stripe(project: Path) -> None:
    write_lock(project, LOCKED)
    code = (
        "import sys\n"
        "from newsletter.project.settings import open_project\n"
        "from newsletter.build import build\n"
        f"report = build(open_project(__import__('pathlib').Path({str(project)!r})))\n"
        "assert not report.errors, report.errors\n"
        "print('stripe' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_personalised_order_url_prefills_email_and_reference() -> None:
    url = personalised_order_url(
        "https://buy.stripe.com/test_abc",
        email="an+na@voorbeeld.nl",
        campaign_id="2026-12-x",
        subscriber_id=42,
    )
    query = parse_qs(urlsplit(url).query)
    assert query == {"prefilled_email": ["an+na@voorbeeld.nl"], "client_reference_id": ["2026-12-x_42"]}
    odd = personalised_order_url(
        "https://buy.stripe.com/x?a=1", email="a@b.nl", campaign_id="c.d", subscriber_id="é" * 300
    )
    reference = parse_qs(urlsplit(odd).query)["client_reference_id"][0]
    assert len(reference) == 200 and set(reference) <= set("abcdefghijklmnopqrstuvwxyz0123456789_-c")
    assert odd.startswith("https://buy.stripe.com/x?a=1&prefilled_email=")
