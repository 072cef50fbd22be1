"""`newsletter bounces import`: returned mail (Maildir, mbox, .eml) and webhook JSON into statuses.

The samples are shaped like what the servers send: Postfix's RFC 3464 report, Exchange's classic
NDR, qmail's QSBMF, Yahoo's and Gmail's own formats, an RFC 5965 ARF report and the mail the
List-Unsubscribe mailto: makes.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from newsletter.audience.unsubscribe import make_token
from newsletter.bounces.formats import classify, parse
from newsletter.project.environment import UNSUBSCRIBE_SECRET as SECRET_ENV
from tests.conftest import Run, write
from tests.store_util import history, select

SECRET = "a-test-secret-of-enough-length"
SENDER = "nieuwsbrief@uitgeverijlindenhof.nl"
READERS = ["anna", "bert", "carla", "dirk", "eva", "frank", "gerda", "henk", "ilse", "joop"]
DOMAIN = {"eva": "yahoo.com", "frank": "gmail.com", "carla": "example.com"}


def address(name: str) -> str:
    return f"{name}@{DOMAIN.get(name, 'example.nl')}"


def dsn(name: str, status: str, *, action: str = "failed", message_id: str = "") -> str:
    """Postfix's bounce: an RFC 3464 multipart/report with a message/delivery-status part."""
    to = address(name)
    return f"""Return-Path: <>
Date: Wed, 02 Dec 2026 10:15:02 +0100 (CET)
From: MAILER-DAEMON@mail.uitgeverijlindenhof.nl (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {SENDER}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="8C2F01234.1764666902/mail.uitgeverijlindenhof.nl"
Message-Id: <{message_id or name + status}.8C2F01234@mail.uitgeverijlindenhof.nl>

This is a MIME-encapsulated message.

--8C2F01234.1764666902/mail.uitgeverijlindenhof.nl
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.uitgeverijlindenhof.nl.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{to.title()}>: host mx.example.nl[192.0.2.25] said: 550 {status}
    <{to}>: Recipient address rejected

--8C2F01234.1764666902/mail.uitgeverijlindenhof.nl
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.uitgeverijlindenhof.nl
X-Postfix-Queue-ID: 8C2F01234
Arrival-Date: Wed,  2 Dec 2026 10:15:01 +0100 (CET)

Final-Recipient: rfc822; {to.title()}
Original-Recipient: rfc822;{to.title()}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.example.nl
Diagnostic-Code: smtp; 550 {status} <{to}>: Recipient address rejected

--8C2F01234.1764666902/mail.uitgeverijlindenhof.nl
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Uitgeverij Lindenhof <{SENDER}>
To: {to}
Subject: De kunst van het weglaten
Message-ID: <2026-12-schrijven.1.0a1b2c3d4e5f6a7b@uitgeverijlindenhof.nl>

--8C2F01234.1764666902/mail.uitgeverijlindenhof.nl--
"""


EXCHANGE = f"""From: System Administrator <postmaster@exchange.example.com>
To: {SENDER}
Subject: Undeliverable: De kunst van het weglaten
Date: Wed, 2 Dec 2026 10:16:40 +0100
Message-ID: <A1B2C3D4E5F6@EXCH01.exchange.example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset="iso-8859-1"
X-MS-Embedded-Report:

Your message

  To:      carla@example.com
  Subject: De kunst van het weglaten
  Sent:    Wed, 2 Dec 2026 10:15:01 +0100

did not reach the following recipient(s):

carla@example.com on Wed, 2 Dec 2026 10:16:40 +0100
    The recipient name is not recognized
    The MTS-ID of the original message is: c=NL;a= ;p=Example;l=EXCH01-261202091640Z-1234
    MSEXCH:IMS:Example:Amsterdam:EXCH01 0 (000C05A6) Unknown Recipient
"""

QMAIL = f"""Return-Path: <>
From: MAILER-DAEMON@mail.example.nl
To: {SENDER}
Subject: failure notice
Date: 2 Dec 2026 09:17:03 -0000
Message-ID: <20261202091703.4242.qmail@mail.example.nl>

Hi. This is the qmail-send program at mail.example.nl.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<dirk@example.nl>:
192.0.2.8 does not like recipient.
Remote host said: 550 5.1.1 <dirk@example.nl>: Recipient address rejected: User unknown
Giving up on 192.0.2.8.

--- Below this line is a copy of the message.

Return-Path: <{SENDER}>
From: Uitgeverij Lindenhof <{SENDER}>
To: dirk@example.nl
Subject: De kunst van het weglaten
"""

YAHOO = f"""From: MAILER-DAEMON@yahoo.com
To: {SENDER}
Subject: Failure Notice
Date: Wed, 2 Dec 2026 09:18:11 +0000
Message-ID: <bounce-77123@mta1234.mail.ne1.yahoo.com>
X-UIDL: 9f3e2a

Sorry, we were unable to deliver your message to the following address.

<eva@yahoo.com>:
554: delivery error: dd This user doesn't have a yahoo.com account (eva@yahoo.com) [0]

--- Below this line is a copy of the message.

From: Uitgeverij Lindenhof <{SENDER}>
To: eva@yahoo.com
"""

GMAIL = f"""From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: {SENDER}
Subject: Delivery Status Notification (Failure)
Date: Wed, 2 Dec 2026 01:19:20 -0800
Message-ID: <0016e6d99d5a2c8f5b04a1@google.com>

Delivery to the following recipient failed permanently:

     frank@gmail.com

Technical details of permanent failure:
The email account that you tried to reach does not exist.

----- Original message -----

From: Uitgeverij Lindenhof <{SENDER}>
To: frank@gmail.com
"""


def arf(rcpt_to: str, original_to: str, list_unsubscribe: str = "") -> str:
    """An RFC 5965 feedback report, as a mailbox provider's feedback loop sends it."""
    unsubscribe = f"List-Unsubscribe: {list_unsubscribe}\n" if list_unsubscribe else ""
    rcpt = f"Original-Rcpt-To: <{rcpt_to}>\n" if rcpt_to else ""
    return f"""From: <fbl@example.net>
Date: Thu, 3 Dec 2026 14:00:00 +0100
Subject: FW: De kunst van het weglaten
To: <fbl@uitgeverijlindenhof.nl>
MIME-Version: 1.0
Message-ID: <arf-{rcpt_to or "redacted"}@fbl.example.net>
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"

This is an email abuse report for an email message received from IP
192.0.2.1 on Thu, 3 Dec 2026 14:00:00 +0100.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Mail-From: <{SENDER}>
{rcpt}Arrival-Date: Thu, 3 Dec 2026 13:58:00 +0100
Reported-Domain: uitgeverijlindenhof.nl
Source-IP: 192.0.2.1

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

From: Uitgeverij Lindenhof <{SENDER}>
To: {original_to}
Subject: De kunst van het weglaten
{unsubscribe}Message-ID: <2026-12-schrijven.7.99aa@uitgeverijlindenhof.nl>

Beste lezer, ...
--part1_13d.2e68ed54_boundary--
"""


def mailed_unsubscribe(sender: str, subject: str, *, to: str = SENDER) -> str:
    return f"""From: {sender}
To: {to}
Subject: {subject}
Date: Thu, 3 Dec 2026 08:00:00 +0100
Message-ID: <unsub-{abs(hash(subject))}@mail.example.nl>

"""


@pytest.fixture
def readers(project: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Ten active subscribers, by name with their ids; the unsubscribe secret set."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    write(project / "lezers.csv", "email\n" + "".join(address(name) + "\n" for name in READERS))
    assert run("audience", "import", str(project / "lezers.csv")).exit_code == 0
    return {s.email.split("@")[0]: s.id for s in select(project / "audience.sqlite3")}


def statuses(project: Path) -> dict[str, str]:
    return {s.email.split("@")[0]: s.status for s in select(project / "audience.sqlite3", status=None)}


def token(name: str, readers: dict[str, int]) -> str:
    return make_token(address(name), "2026-12-schrijven", SECRET.encode(), readers[name])


def maildir(root: Path, messages: dict[str, str]) -> Path:
    for folder in ("cur", "new", "tmp"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name, text in messages.items():
        (root / "new" / f"1764666902.{name}.mx:2,").write_text(text, encoding="utf-8")
    return root


def test_a_maildir_of_bounces_complaints_and_unsubscribes(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    box = maildir(
        project / "Maildir",
        {
            "dsn": dsn("anna", "5.1.1"),
            "soft": dsn("bert", "4.2.2", action="delayed"),
            "exchange": EXCHANGE,
            "qmail": QMAIL,
            "yahoo": YAHOO,
            "gmail": GMAIL,
            "arf": arf("gerda@example.nl", "gerda@example.nl"),
            "unsub": mailed_unsubscribe(address("henk"), "unsubscribe " + token("henk", readers)),
            "garbage": "\x00\x01 not mail at all \x7f",
        },
    )
    result = run("bounces", "import", str(box))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "9 messages read: 5 bounced, 1 soft bounces counted, 1 complained, 1 unsubscribed, "
        "0 already suppressed, 0 unknown addresses, 0 already imported, 0 ignored, 1 not understood"
    )
    assert "not understood: Maildir/new/1764666902.garbage.mx:2,: not an email message" in result.output
    assert statuses(project) == {
        "anna": "bounced",
        "bert": "active",
        "carla": "bounced",
        "dirk": "bounced",
        "eva": "bounced",
        "frank": "bounced",
        "gerda": "complained",
        "henk": "unsubscribed",
        "ilse": "active",
        "joop": "active",
    }


def test_history_says_where_each_status_came_from(project: Path, run: Run, readers: dict[str, int]) -> None:
    write(project / "anna.eml", dsn("anna", "5.1.1"))
    write(project / "gerda.eml", arf("gerda@example.nl", "gerda@example.nl"))
    write(project / "henk.eml", mailed_unsubscribe(address("henk"), "unsubscribe " + token("henk", readers)))
    assert (
        run("bounces", "import", *(str(project / f) for f in ("anna.eml", "gerda.eml", "henk.eml"))).exit_code
        == 0
    )
    changes = [c for c in history(project / "audience.sqlite3") if c.old_status is not None]
    assert [(c.email, c.old_status, c.new_status, c.source) for c in changes] == [
        ("anna@example.nl", "active", "bounced", "bounce"),
        ("gerda@example.nl", "active", "complained", "complaint"),
        ("henk@example.nl", "active", "unsubscribed", "mailto"),
    ]
    assert "status 5.1.1" in changes[0].detail and "anna.eml" in changes[0].detail
    assert "token checked" in changes[2].detail


def test_an_mbox_and_importing_it_again_changes_nothing(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    mbox = write(
        project / "bounces.mbox",
        "".join(
            f"From MAILER-DAEMON Wed Dec  2 10:15:02 2026\n{text}\n"
            for text in (dsn("anna", "5.1.1"), QMAIL, dsn("bert", "4.2.2"))
        ),
    )
    first = run("bounces", "import", str(mbox))
    assert first.exit_code == 0, first.output
    assert first.output.startswith("3 messages read: 2 bounced, 1 soft bounces counted,")
    again = run("bounces", "import", str(mbox))
    assert again.exit_code == 0
    assert again.output.startswith("3 messages read: 0 bounced, 0 soft bounces counted,")
    assert "3 already imported" in again.output
    assert statuses(project)["bert"] == "active"


def test_transient_failures_bounce_at_the_limit_counted_once_per_report(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    """A 4.2.2 (mailbox full) with Action: failed is still transient: the mailbox may empty."""
    settings = project / "newsletter.toml"
    settings.write_text(settings.read_text() + "\n[bounces]\nsoft_bounce_limit = 2\n")
    write(project / "one.eml", dsn("bert", "4.2.2", message_id="one"))
    assert "1 soft bounces counted" in run("bounces", "import", str(project / "one.eml")).output
    assert "1 already imported" in run("bounces", "import", str(project / "one.eml")).output
    assert statuses(project)["bert"] == "active"
    write(project / "two.eml", dsn("bert", "4.2.2", action="delayed", message_id="two"))
    result = run("bounces", "import", str(project / "two.eml"))
    assert "1 bounced" in result.output
    assert statuses(project)["bert"] == "bounced"
    last = history(project / "audience.sqlite3")[-1]
    assert last.source == "bounce" and "2 transient failures, the limit is 2" in last.detail


def test_a_bounce_does_not_overwrite_an_unsubscribe_and_unknown_addresses_are_reported(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    write(project / "weg.txt", "anna@example.nl\n")
    assert run("audience", "suppress", str(project / "weg.txt")).exit_code == 0
    write(project / "anna.eml", dsn("anna", "5.1.1"))
    write(project / "stranger.eml", dsn("zoe", "5.1.1"))
    result = run("bounces", "import", str(project / "anna.eml"), str(project / "stranger.eml"))
    assert result.exit_code == 0
    assert "0 bounced" in result.output and "1 already suppressed" in result.output
    assert "unknown: stranger.eml: Zoe@example.nl is not a subscriber" in result.output
    assert statuses(project)["anna"] == "unsubscribed"
    assert "zoe" not in statuses(project)


def test_a_mailed_unsubscribe_without_a_valid_token_counts_for_its_from_address(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    forged = token("ilse", readers)[:-3] + "xyz"
    write(project / "ilse.eml", mailed_unsubscribe("Ilse <Ilse@example.nl>", "unsubscribe " + forged))
    write(project / "joop.eml", mailed_unsubscribe(address("joop"), "Unsubscribe"))
    write(project / "elsewhere.eml", mailed_unsubscribe(address("anna"), "unsubscribe", to="info@example.nl"))
    result = run("bounces", "import", *(str(project / f) for f in ("ilse.eml", "joop.eml", "elsewhere.eml")))
    assert result.exit_code == 0
    assert "2 unsubscribed" in result.output
    assert "not understood: elsewhere.eml: an unsubscribe request not sent to" in result.output
    assert (statuses(project)["ilse"], statuses(project)["joop"], statuses(project)["anna"]) == (
        "unsubscribed",
        "unsubscribed",
        "active",
    )
    details = [c.detail for c in history(project / "audience.sqlite3") if c.source == "mailto"]
    assert "From address" in details[0] and "signature does not match" in details[0]


def test_a_complaint_with_a_redacted_recipient_is_found_by_our_token(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    header = f"<https://www.uitgeverijlindenhof.nl/nieuwsbrief/afmelden?token={token('joop', readers)}>"
    write(project / "arf.eml", arf("", "redacted@example.net", header))
    assert "1 complained" in run("bounces", "import", str(project / "arf.eml")).output
    assert statuses(project)["joop"] == "complained"


def test_webhook_json_files_of_ses_and_postmark(project: Path, run: Run, readers: dict[str, int]) -> None:
    from tests.test_web_webhooks import postmark_bounce, ses_bounce, ses_complaint

    write(
        project / "ses.json", json.dumps([ses_bounce("anna@example.nl"), ses_complaint("gerda@example.nl")])
    )
    write(project / "postmark.json", json.dumps(postmark_bounce("dirk@example.nl", "HardBounce")))
    result = run("bounces", "import", str(project / "ses.json"), str(project / "postmark.json"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("3 messages read: 2 bounced, 0 soft bounces counted, 1 complained,")
    assert (statuses(project)["anna"], statuses(project)["gerda"], statuses(project)["dirk"]) == (
        "bounced",
        "complained",
        "bounced",
    )


def test_a_path_that_is_missing_or_not_mail_is_an_error_and_nothing_is_imported(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    write(project / "anna.eml", dsn("anna", "5.1.1"))
    missing = run("bounces", "import", str(project / "anna.eml"), str(project / "nergens.mbox"))
    assert missing.exit_code == 2
    assert "nergens.mbox: no such file or folder" in missing.output
    (project / "noise.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    garbage = run("bounces", "import", str(project / "anna.eml"), str(project / "noise.bin"))
    assert garbage.exit_code == 2
    assert "noise.bin: not mail" in garbage.output
    assert statuses(project)["anna"] == "active"


def test_random_bytes_never_crash(project: Path, run: Run, readers: dict[str, int]) -> None:
    """Fuzz: garbage inside a Maildir is a message nobody understands, never a traceback."""
    rng = random.Random(12)
    starts = [b"", b"From: x@example.nl\n", b"Content-Type: multipart/report; report-type=delivery-status\n"]
    messages = {}
    for number in range(30):
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        messages[f"f{number}"] = (starts[number % 3] + noise).decode("latin-1")
    box = maildir(project / "Maildir", messages)
    result = run("bounces", "import", str(box))
    assert result.exit_code == 0, result.output
    assert "30 messages read" in result.output
    assert "Traceback" not in result.output
    deep = write(project / "deep.json", "[" * 100_000)
    result = run("bounces", "import", str(deep))
    assert result.exit_code == 0 and "not understood: deep.json: not valid JSON" in result.output
    nested = "".join(f'Content-Type: multipart/mixed; boundary="b{n}"\n\n--b{n}\n' for n in range(3000))
    result = run("bounces", "import", str(write(project / "nested.eml", "From: x@example.nl\n" + nested)))
    assert result.exit_code == 0, result.output
    for number in range(5):
        path = project / f"noise{number}.eml"
        path.write_bytes(os.urandom(64))
        assert run("bounces", "import", str(path)).exit_code in (0, 2)


def test_each_format_is_read_by_flufl() -> None:
    """The non-standard formats are flufl.bounce's; this pins which addresses it finds."""
    never = lambda token: None  # noqa: E731
    for text, expected in (
        (EXCHANGE, "carla@example.com"),
        (QMAIL, "dirk@example.nl"),
        (YAHOO, "eva@yahoo.com"),
        (GMAIL, "frank@gmail.com"),
    ):
        data = text.encode()
        report = classify(parse(data), data, unsubscribe_to=[SENDER], read=never)
        assert [(f.kind, f.address) for f in report.findings] == [("bounce", expected)], text[:40]


def test_a_success_report_is_ignored_and_an_out_of_office_reply_not_understood(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    write(project / "delivered.eml", dsn("anna", "2.0.0", action="delivered"))
    write(
        project / "ooo.eml",
        f"From: bert@example.nl\nTo: {SENDER}\nSubject: Afwezig: De kunst van het weglaten\n"
        "Message-ID: <ooo-1@example.nl>\nAuto-Submitted: auto-replied\n\nIk ben tot 4 januari afwezig.\n",
    )
    result = run("bounces", "import", str(project / "delivered.eml"), str(project / "ooo.eml"))
    assert result.exit_code == 0
    assert "ignored: delivered.eml: a delivery status report without failures" in result.output
    assert "not understood: ooo.eml: no bounce, complaint or unsubscribe request found" in result.output
    assert set(statuses(project).values()) == {"active"}
