"""`newsletter send --dry-run`: what would go out, written as .eml files, with no network and no log."""

from __future__ import annotations

import email
import email.policy
import json
import sqlite3
from pathlib import Path

import pytest

from newsletter.audience.unsubscribe import read_token
from newsletter.store import connect
from tests.conftest import LOCKED, Run, write, write_lock

CAMPAIGN = "2026-12-schrijven"
SECRET = "a-test-secret-of-enough-length"


@pytest.fixture
def readers(project: Path, run: Run) -> Path:
    """Three active Dutch readers (one tagged vip), one unsubscribed, one English reader."""
    write(
        project / "readers.csv",
        "email,name,locale,tags,status\n"
        "jan@example.org,Jan de Vries,nl,vip,\n"
        "els@example.org,,nl,,\n"
        "piet@example.org,Piet,nl,,\n"
        "weg@example.org,Weg,nl,,unsubscribed\n"
        "ann@example.org,Ann,en,,\n",
    )
    assert run("audience", "import", str(project / "readers.csv"), "--consent", "testlijst").exit_code == 0
    return project


def outbox(project: Path) -> list[Path]:
    return sorted((project / "build" / CAMPAIGN / "outbox").glob("*.eml"))


def parse(path: Path) -> email.message.EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_dry_run_shows_recipients_exclusions_links_and_writes_every_message(
    readers: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    result = run("send", CAMPAIGN, "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "nothing was sent and nothing recorded" in out
    assert "recipients: 3" in out and "jan@example.org  (Jan de Vries)" in out
    assert "excluded: 1 (and 1 of other locales)" in out
    assert "weg@example.org: unsubscribed" in out
    assert "book-1    order-shop" in out
    assert "checks that would stop a real send: none" in out
    assert "wrote 3 of 3 messages to build/2026-12-schrijven/outbox/" in out
    files = outbox(readers)
    assert [path.name for path in files] == [
        "000001-jan@example.org.eml",
        "000002-els@example.org.eml",
        "000003-piet@example.org.eml",
    ]
    jan = parse(files[0])
    assert jan["To"].addresses[0].addr_spec == "jan@example.org"
    token = jan["List-Unsubscribe"].split("token=")[1].split(">")[0]
    assert read_token(token, SECRET.encode()).subscriber_id == 1
    els = parse(files[1]).get_body(("plain",))
    assert els is not None and "Beste lezer," in els.get_content()
    with connect(readers / "audience.sqlite3") as store:
        assert store.connection.execute("SELECT COUNT(*) FROM sends").fetchone()[0] == 0


def test_dry_run_with_limit_writes_only_that_many_and_replaces_the_old_outbox(
    readers: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    run("send", CAMPAIGN, "--dry-run")
    result = run("send", CAMPAIGN, "--dry-run", "--limit", "1")
    assert "wrote 1 of 3 messages" in result.output
    assert len(outbox(readers)) == 1


def test_dry_run_lists_what_would_stop_a_real_send(
    readers: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSLETTER_UNSUBSCRIBE_SECRET", raising=False)
    settings = readers / "newsletter.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + "\n[stripe]\nlive = false\n", encoding="utf-8")
    result = run("send", CAMPAIGN, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "checks that would stop a real send: 2" in result.output
    assert "order-link-fallback (book-1)" in result.output
    assert "unsubscribe-secret (NEWSLETTER_UNSUBSCRIBE_SECRET): not set" in result.output
    assert "signed with a throw-away secret" in result.output
    assert len(outbox(readers)) == 3


def test_a_campaign_whose_promotion_ended_is_not_sent_without_force(
    readers: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    campaign = readers / "campaigns" / f"{CAMPAIGN}.yaml"
    campaign.write_text(campaign.read_text(encoding="utf-8") + "ends: 2020-01-31\n", encoding="utf-8")
    result = run("send", CAMPAIGN, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "promotion-ended (ends: 2020-01-31): the campaign's promotion is over" in result.output
    refused = run("send", CAMPAIGN, "--yes")
    assert refused.exit_code == 2 and "promotion-ended" in refused.stderr


def test_check_finds_every_reason_send_refuses_in_the_same_words(
    readers: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Stripe test-mode link in a test project, an ended promotion, no unsubscribe secret: none is
    wrong with the email itself, and each stops a real send."""
    monkeypatch.delenv("NEWSLETTER_UNSUBSCRIBE_SECRET", raising=False)
    write_lock(readers, LOCKED)
    campaign = readers / "campaigns" / f"{CAMPAIGN}.yaml"
    campaign.write_text(campaign.read_text(encoding="utf-8") + "ends: 2020-01-31\n", encoding="utf-8")
    checked = run("check", CAMPAIGN, "--format", "json")
    assert checked.exit_code == 1, checked.output
    [entry] = json.loads(checked.stdout)["campaigns"]
    said = {f"{f['rule']} ({f['where']}): {f['message']}" for f in entry["findings"]}
    refused = run("send", CAMPAIGN, "--yes")
    assert refused.exit_code == 2
    lines = {line.removeprefix("error: ").split(": ", 1)[1] for line in refused.stderr.splitlines()[1:]}
    assert said == lines and len(said) == 3
    assert {line.split(" ", 1)[0] for line in said} == {
        "order-link-test-mode",
        "promotion-ended",
        "unsubscribe-secret",
    }


def test_dry_run_needs_no_smtp_settings_and_no_subscriber_database(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    result = run("send", CAMPAIGN, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "recipients: 0" in result.output
    assert "excluded: 0\n" in result.output  # no "(and 0 of other locales)"
    assert not (project / "audience.sqlite3").exists()


def test_a_campaign_audience_selects_by_tag(readers: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    path = readers / "campaigns" / f"{CAMPAIGN}.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "audience:\n  tags: [VIP]\n", encoding="utf-8")
    result = run("send", CAMPAIGN, "--dry-run")
    assert "recipients: 1" in result.output
    assert "els@example.org: not tagged vip" in result.output


def test_a_bad_audience_in_a_campaign_file_names_file_line_and_field(project: Path, run: Run) -> None:
    path = project / "campaigns" / f"{CAMPAIGN}.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "audience:\n  tag: vip\n", encoding="utf-8")
    result = run("send", CAMPAIGN, "--dry-run")
    assert result.exit_code == 2
    assert "campaigns/2026-12-schrijven.yaml:" in result.output and "audience.tag" in result.output
    assert "Traceback" not in result.output


def test_limit_without_dry_run_is_a_usage_error(project: Path, run: Run) -> None:
    result = run("send", CAMPAIGN, "--limit", "2")
    assert result.exit_code == 2
    assert "--limit goes with --dry-run" in result.output


def test_an_unknown_campaign_is_a_clear_error(project: Path, run: Run) -> None:
    result = run("send", "2026-13-nope", "--dry-run")
    assert result.exit_code == 2
    assert "2026-13-nope" in result.output and "Traceback" not in result.output


def test_a_dry_run_after_a_partial_send_shows_only_who_is_still_due(
    readers: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    with sqlite3.connect(readers / "audience.sqlite3") as db:
        ids = dict(db.execute("SELECT email, id FROM subscribers").fetchall())
        for address, state in (("jan@example.org", "sent"), ("els@example.org", "pending")):
            db.execute(
                "INSERT INTO sends (campaign, subscriber_id, email, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, 'x', 'x')",
                (CAMPAIGN, ids[address], address, state),
            )
    result = run("send", CAMPAIGN, "--dry-run")
    assert "send log: 1 pending, 1 sent" in result.output
    assert "recipients: 1" in result.output and "els@example.org" in result.output


@pytest.mark.parametrize(
    ("audience", "expected", "reason"),
    [
        ("  topics: [boeken]\n", ["jan@example.org", "els@example.org"], "not following any of boeken"),
        (
            "  topics: [boeken, columns]\n  topics_match: all\n",
            ["jan@example.org"],
            "not following boeken, columns",
        ),
    ],
)
def test_a_campaign_targets_readers_by_topic(
    readers: Path, run: Run, audience: str, expected: list[str], reason: str
) -> None:
    """Any of the topics by default, all of them with `topics_match: all`; a reader who left one
    topic still gets the campaigns of the others."""
    with connect(readers / "audience.sqlite3") as store, store.transaction():
        for email, topics in (("jan@example.org", ("boeken", "columns")), ("els@example.org", ("boeken",))):
            found = store.find_subscriber(email)
            assert found is not None
            store.set_preferences(
                found.id, name=found.name, locale="nl", topics=topics, stamp="2026-12-01T00:00:00Z"
            )
    path = readers / "campaigns" / f"{CAMPAIGN}.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "audience:\n" + audience, encoding="utf-8")
    result = run("send", CAMPAIGN, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"recipients: {len(expected)}" in result.output
    for email in expected:
        assert email in result.output
    assert f"piet@example.org: {reason}" in result.output


def test_a_topic_the_settings_do_not_declare_is_an_error_at_its_line(readers: Path, run: Run) -> None:
    path = readers / "campaigns" / f"{CAMPAIGN}.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "audience:\n  topics: [poezie]\n", encoding="utf-8")
    result = run("check", CAMPAIGN)
    assert result.exit_code != 0 and "no such topic: poezie" in result.output
    assert "boeken" in result.output  # the hint names the declared topics
