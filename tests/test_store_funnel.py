"""`newsletter report`: the whole funnel of a campaign, from the send log and the status history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsletter.audience.unsubscribe import make_token
from tests.conftest import Run, write
from tests.smtp_fake import FakeSMTP
from tests.store_util import database, select
from tests.test_sending_run import CAMPAIGN, READERS, SECRET, fake, send, sender

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("both_engines")

__all__ = ["fake", "sender"]  # the fixtures, used by name


def returned(address: str, fake: FakeSMTP) -> str:
    """A bounce that arrives by mail after the send: an RFC 3464 report for `address`, quoting the
    headers of the last message sent to it."""
    quoted = [m.message["Message-ID"] for m in fake.messages if address in m.rcpt_tos][-1]
    return f"""From: MAILER-DAEMON@mx.example.org
To: nieuwsbrief@uitgeverijlindenhof.nl
Subject: Undelivered Mail Returned to Sender
Message-ID: <later-{address}@mx.example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Your message could not be delivered.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; {address}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--b
Content-Type: text/rfc822-headers

To: {address}
Message-ID: {quoted}

--b--
"""


def test_the_report_shows_the_funnel_of_a_campaign(sender: Path, fake: FakeSMTP, run: Run) -> None:
    fake.fail_rcpt(READERS[0], 550, "5.1.1 <lezer1@example.org>: User unknown")  # bounced while sending
    fake.fail_rcpt(READERS[1], 451, "4.7.1 greylisted, try again later")  # deferred
    assert send(run).exit_code == 1
    write(sender / "bounce.eml", returned(READERS[2], fake))  # bounced afterwards: counted by last touch
    assert run("bounces", "import", str(sender / "bounce.eml")).exit_code == 0
    ids = {s.email: s.id for s in select(database(sender))}
    token = make_token(READERS[3], CAMPAIGN, SECRET.encode(), ids[READERS[3]])
    assert run("unsubscribe", "verify", token, "--apply").exit_code == 0

    result = run("report", CAMPAIGN, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["funnel"] == {
        "recipients": 6,
        "delivered": 3,  # four accepted by their server, one of them returned later
        "deferred": 1,
        "failed": 1,
        "unknown": 0,
        "pending": 0,
        "bounced": 2,
        "complained": 0,
        "unsubscribed": 1,
    }
    assert document["books"] == [] and document["orders"] == 0
    assert document["orders_per_1000_delivered"] == 0
    text = run("report", CAMPAIGN).stdout
    assert "recipients  delivered  deferred  failed" in text
    assert "no orders: the campaign has no Stripe links" in text
    assert "orders: 0, revenue €\xa00,00, 0 per 1.000 delivered" in text  # a Dutch campaign


def test_a_campaign_never_sent_has_an_empty_funnel(project: Path, run: Run) -> None:
    result = run("report", "2026-12-paper", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["funnel"]["recipients"] == 0 and document["orders_per_1000_delivered"] is None


def test_a_change_counts_for_the_campaign_it_names_else_for_the_last_one_delivered(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    later = "2026-12-later"
    source = (sender / "campaigns" / f"{CAMPAIGN}.yaml").read_text(encoding="utf-8")
    write(sender / "campaigns" / f"{later}.yaml", source)
    assert send(run).exit_code == 0
    assert run("send", later, "--yes").exit_code == 0
    ids = {s.email: s.id for s in select(database(sender))}
    token = make_token(READERS[0], CAMPAIGN, SECRET.encode(), ids[READERS[0]])  # from the first email
    assert run("unsubscribe", "verify", token, "--apply").exit_code == 0
    write(sender / "bounce.eml", returned(READERS[1], fake))  # arrives after both: the later one's
    assert run("bounces", "import", str(sender / "bounce.eml")).exit_code == 0

    def outcomes(campaign: str) -> tuple[int, int]:
        funnel = json.loads(run("report", campaign, "--format", "json").stdout)["funnel"]
        return funnel["unsubscribed"], funnel["bounced"]

    assert outcomes(CAMPAIGN) == (1, 0)
    assert outcomes(later) == (0, 1)


def test_the_report_writes_numbers_as_the_campaign_s_readers_do(project: Path, run: Run) -> None:
    assert "orders: 0, revenue €\xa00,00, - per 1.000 delivered" in run("report", CAMPAIGN).stdout
    assert "orders: 0, revenue €0.00, - per 1,000 delivered" in run("report", "2026-12-paper").stdout


def test_the_report_of_a_campaign_never_sent_says_so(project: Path, run: Run) -> None:
    text = run("report", CAMPAIGN).stdout
    assert f"{CAMPAIGN} has not been sent" in text and "recipients" not in text
