"""A/B tests decided by sales: a dry run and a real send of a test share to a loopback SMTP server,
orders (signed Stripe events) for one variant, the report's chances, then `--winner auto`.

What matters most: each reader of the test share gets exactly one variant, recorded in the send log;
the rest get the winner once, through the same resumable send; `auto` never names a winner on too
little evidence; public pages never show a variant.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.api import Newsletter, open_project
from newsletter.errors import NewsletterError
from newsletter.payments.lock import order_reference
from newsletter.project.environment import Secrets
from newsletter.sending.ab_test import Outcome, outcomes, parse_share, split
from newsletter.store import VariantResult, connect
from tests.conftest import LOCKED, Run, write, write_lock
from tests.smtp_fake import FakeSMTP, configure
from tests.stripe_fake import signed_event

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("both_engines")

SECRET = "a-test-secret-of-enough-length"
WEBHOOK = "whsec_ab_test"
CAMPAIGN = "2026-12-schrijven"
VARIANTS = """variants:
  - subject: "Schrappen: de kunst van het weglaten"
  - subject: "{first_name}, minder woorden, meer zeggen"
    preheader: "Het boek dat erbij helpt, nu te bestellen."
"""
READERS = 40
LIVE = {**LOCKED, "mode": "live", "url": "https://buy.stripe.com/abc123"}


@pytest.fixture
def ab(project: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Newsletter, FakeSMTP]]:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    path = project / "campaigns" / f"{CAMPAIGN}.yaml"
    path.write_text(path.read_text(encoding="utf-8") + VARIANTS, encoding="utf-8")
    write_lock(project, LIVE)  # a live link in a live project: no check stops the send
    settings = project / "newsletter.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + "\n[stripe]\nlive = true\n", encoding="utf-8")
    rows = "".join(f"lezer{n}@example.nl,Lezer {n},nl\n" for n in range(READERS))
    write(project / "l.csv", "email,name,locale\n" + rows)
    assert run("audience", "import", str(project / "l.csv"), "--consent", "beurs").exit_code == 0
    with FakeSMTP() as smtp:
        configure(project, smtp.port)
        yield open_project(project, secrets=Secrets(unsubscribe=SECRET, stripe_webhook=WEBHOOK)), smtp


def subjects(smtp: FakeSMTP) -> Counter[str]:
    return Counter(str(message.message["Subject"]).split(",")[0] for message in smtp.messages)


def buy(newsletter: Newsletter, email: str, number: int) -> None:
    """A paid order through the campaign's link by the reader of `email`, as Stripe's webhook says."""
    with connect(newsletter.database) as store:
        reader = store.find_subscriber(email)
    assert reader is not None
    session = {
        "id": f"cs_test_{number}",
        "object": "checkout.session",
        "payment_link": LOCKED["payment_link"],
        "client_reference_id": order_reference(CAMPAIGN, reader.id, SECRET.encode()),
        "amount_subtotal": 3495,
        "amount_total": 3495,
        "currency": "eur",
        "payment_status": "paid",
        "payment_intent": f"pi_{number}",
        "created": 1_800_000_000,
        "livemode": True,
    }
    newsletter.stripe_event(*signed_event(WEBHOOK, "checkout.session.completed", session))


def variant_of(newsletter: Newsletter) -> dict[str, str]:
    with connect(newsletter.database) as store:
        rows = store.connection.execute("SELECT email, variant FROM sends WHERE campaign = ?", (CAMPAIGN,))
        return {str(email): str(variant) for email, variant in rows}


def test_the_dry_run_shows_the_split_a_real_send_would_make(
    ab: tuple[Newsletter, FakeSMTP], run: Run
) -> None:
    result = run("send", CAMPAIGN, "--dry-run", "--test-share", "50%")
    assert result.exit_code == 0, result.output
    assert "recipients: 20" in result.output
    assert "variant A: 10 readers, subject 'Schrappen: de kunst van het weglaten'" in result.output
    assert "variant B: 10 readers" in result.output
    outbox = sorted((ab[0].root / "build" / CAMPAIGN / "outbox").glob("*.eml"))
    assert len(outbox) == 20
    texts = [path.read_bytes() for path in outbox]
    assert sum(b"Het boek dat erbij helpt" in text for text in texts) == 10  # B's preheader, in the body
    assert variant_of(ab[0]) == {}  # a dry run records nothing


def test_a_test_share_then_orders_then_the_winner_sends_everyone_once(
    ab: tuple[Newsletter, FakeSMTP], run: Run
) -> None:
    newsletter, smtp = ab
    first = run("send", CAMPAIGN, "--test-share", "50%", "--yes")
    assert first.exit_code == 0, first.output
    assert sum(subjects(smtp).values()) == 20
    logged = variant_of(newsletter)
    assert Counter(logged.values()) == {"A": 10, "B": 10}
    assert {str(m.message["Subject"]).startswith("Lezer") for m in smtp.messages} == {False, True}

    refused = run("send", CAMPAIGN, "--yes")
    assert refused.exit_code == 2 and "--winner auto" in refused.output
    too_early = run("send", CAMPAIGN, "--winner", "auto", "--yes")
    assert too_early.exit_code == 2 and "95%" in too_early.output

    buyers = [email for email, variant in sorted(logged.items()) if variant == "B"][:6]
    for number, email in enumerate(buyers):
        buy(newsletter, email, number)
    report = json.loads(run("report", CAMPAIGN, "--format", "json").output)
    arms = {arm["variant"]: arm for arm in report["variants"]}
    assert (arms["A"]["delivered"], arms["A"]["buyers"], arms["B"]["buyers"]) == (10, 0, 6)
    assert arms["B"]["revenue_per_1000"] == 6 * 3495 * 100  # cents per 1,000 delivered
    assert arms["B"]["chance_best"] > 0.99
    assert "no winner yet" not in run("report", CAMPAIGN).output

    done = run("send", CAMPAIGN, "--winner", "auto", "--yes")
    assert done.exit_code == 0, done.output
    assert len(smtp.messages) == READERS  # everyone once
    assert Counter(variant_of(newsletter).values()) == {"A": 10, "B": 30}
    rest = smtp.messages[20:]
    assert all(str(m.message["Subject"]).endswith("minder woorden, meer zeggen") for m in rest)
    again = run("send", CAMPAIGN, "--winner", "A", "--yes")
    assert again.exit_code == 2 and "decided for variant B" in again.output
    assert json.loads(run("report", CAMPAIGN, "--format", "json").output)["winner"] == "B"
    pages = "".join(
        p.read_text(encoding="utf-8") for p in (newsletter.root / "build" / "site").rglob("*.html")
    )
    assert "De kunst van het weglaten – en een boek" in pages  # public pages: the campaign's own title
    assert "Schrappen: de kunst" not in pages and "nu te bestellen." not in pages


def test_auto_never_claims_a_winner_on_too_little_evidence() -> None:
    even = [VariantResult("A", 10, 1, 1, 3495), VariantResult("B", 10, 0, 0, 0)]
    chances = outcomes(even, "x")
    assert 0.5 < chances[0].chance < 0.95
    with pytest.raises(NewsletterError, match="no variant is best"):
        from newsletter.sending.ab_test import pick_winner

        pick_winner("auto", chances, force=False)
    assert outcomes(even, "x") == chances  # the same figures, the same chances
    nothing = outcomes([VariantResult("A", 0, 0, 0, 0), VariantResult("B", 0, 0, 0, 0)], "x")
    assert all(0.4 < arm.chance < 0.6 for arm in nothing)
    assert isinstance(nothing[0], Outcome) and nothing[0].revenue_per_1000 is None


def test_the_split_is_equal_random_and_the_same_for_the_same_audience() -> None:
    ids = list(range(1, 1001))
    chosen = split(ids, ["A", "B", "C"], 0.3, "c:ab")
    assert len(chosen) == 300 and Counter(chosen.values()) == {"A": 100, "B": 100, "C": 100}
    assert chosen == split(ids, ["A", "B", "C"], 0.3, "c:ab")
    assert sorted(chosen) != ids[:300]


@pytest.mark.parametrize(("text", "share"), [("20%", 0.2), (" 12.5 % ", 0.125), (0.2, 0.2)])
def test_a_share_is_a_percentage_or_from_python_a_fraction(text: str | float, share: float) -> None:
    assert parse_share(text) == pytest.approx(share)


@pytest.mark.parametrize("text", ["0%", "100%", "150%", "abc", "-5%", "", "20", "0.5", "1"])
def test_a_share_that_leaves_no_test_or_no_rest_is_refused(
    ab: tuple[Newsletter, FakeSMTP], run: Run, text: str
) -> None:
    result = run("send", CAMPAIGN, "--dry-run", "--test-share", text)
    assert result.exit_code == 2 and "--test-share" in result.output and "Traceback" not in result.output


def test_a_campaign_of_one_or_five_variants_is_an_error_at_its_line(project: Path, run: Run) -> None:
    path = project / "campaigns" / f"{CAMPAIGN}.yaml"
    base = path.read_text(encoding="utf-8")
    path.write_text(base + 'variants:\n  - subject: "Alleen"\n', encoding="utf-8")
    one = run("check", CAMPAIGN)
    assert one.exit_code != 0 and "two to four variants" in one.output
    five = "".join(f'  - subject: "S{n}"\n' for n in range(5))
    path.write_text(base + "variants:\n" + five, encoding="utf-8")
    assert re.search(r"variants.*at most 4", run("check", CAMPAIGN).output)
    path.write_text(base + "variants:\n  - {}\n  - subject: x\n", encoding="utf-8")
    assert "a subject, a preheader or both" in run("check", CAMPAIGN).output


def test_a_campaign_without_variants_has_no_test_to_start(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    result = run("send", CAMPAIGN, "--dry-run", "--test-share", "20%")
    assert result.exit_code == 2 and "has no variants to test" in result.output


# -- what an attacker and a newcomer tried (reviews of this feature) --------------------------------


def test_a_share_that_leaves_a_variant_without_readers_is_refused(
    ab: tuple[Newsletter, FakeSMTP], run: Run
) -> None:
    tiny = run("send", CAMPAIGN, "--dry-run", "--test-share", "2%")  # 1 of 40 readers for 2 variants
    assert tiny.exit_code == 2 and "gives 1 to 2 variants" in tiny.output
    assert run("send", CAMPAIGN, "--test-share", "2%", "--yes").exit_code == 2
    assert variant_of(ab[0]) == {}


def test_a_variant_nobody_was_delivered_counts_as_unknown_not_as_lost(
    ab: tuple[Newsletter, FakeSMTP], run: Run
) -> None:
    newsletter, _ = ab
    assert run("send", CAMPAIGN, "--test-share", "10%", "--yes").exit_code == 0
    with connect(newsletter.database) as store:  # every reader of B bounced, say
        store.connection.execute("UPDATE sends SET state = 'failed' WHERE variant = 'B'")
    report = json.loads(run("report", CAMPAIGN, "--format", "json").output)
    assert [arm["variant"] for arm in report["variants"]] == ["A", "B"]
    assert all(arm["chance_best"] < 0.95 for arm in report["variants"])
    assert run("send", CAMPAIGN, "--winner", "auto", "--yes").exit_code == 2


def test_the_dry_run_of_the_winner_shows_the_rest_and_a_plain_dry_run_says_what_send_would(
    ab: tuple[Newsletter, FakeSMTP], run: Run
) -> None:
    plain = run("send", CAMPAIGN, "--dry-run")
    assert plain.exit_code == 2 and "is an A/B test of 2 variants" in plain.output
    assert run("send", CAMPAIGN, "--test-share", "25%", "--yes").exit_code == 0
    rest = run("send", CAMPAIGN, "--dry-run", "--winner", "B")
    assert rest.exit_code == 0 and "recipients: 30" in rest.output


def test_after_the_winner_new_readers_get_it_and_another_winner_is_refused(
    ab: tuple[Newsletter, FakeSMTP], run: Run
) -> None:
    newsletter, smtp = ab
    assert run("send", CAMPAIGN, "--winner", "A", "--yes").exit_code == 0  # no test: everyone A
    assert len(smtp.messages) == READERS
    again = run("send", CAMPAIGN, "--yes")
    assert again.exit_code == 2 and "already sent" in again.output
    assert "decided for variant A" in run("send", CAMPAIGN, "--winner", "B", "--yes").output
    write(newsletter.root / "new.csv", "email,name,locale\nnieuw@example.nl,Nieuw,nl\n")
    assert run("audience", "import", str(newsletter.root / "new.csv"), "--consent", "beurs").exit_code == 0
    assert run("send", CAMPAIGN, "--new-subscribers-only", "--yes").exit_code == 0
    assert variant_of(newsletter)["nieuw@example.nl"] == "A"


def test_a_test_started_by_a_process_killed_before_its_rows_starts_again(
    ab: tuple[Newsletter, FakeSMTP], run: Run
) -> None:
    newsletter, _ = ab
    with connect(newsletter.database) as store, store.transaction():
        store.start_test(CAMPAIGN, 0.5, "2026-12-01T00:00:00Z")  # and then the process died
    plain = run("send", CAMPAIGN, "--yes")
    assert plain.exit_code == 2 and "--test-share" in plain.output
    assert run("send", CAMPAIGN, "--test-share", "20%", "--yes").exit_code == 0
    with connect(newsletter.database) as store:
        test = store.ab_test(CAMPAIGN)
    assert test is not None and test.share == pytest.approx(0.2)
    assert Counter(variant_of(newsletter).values()) == {"A": 4, "B": 4}


def test_a_welcome_email_cannot_be_an_a_b_test(ab: tuple[Newsletter, FakeSMTP], run: Run) -> None:
    path = ab[0].root / "campaigns" / f"{CAMPAIGN}.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "welcome: true\n", encoding="utf-8")
    result = run("send", CAMPAIGN, "--test-share", "50%", "--yes")
    assert result.exit_code == 2 and "cannot be an A/B test" in result.output
    assert variant_of(ab[0]) == {}
