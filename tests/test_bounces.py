"""`newsletter bounces import`: returned mail (Maildir, mbox, .eml) and webhook JSON into statuses.

The samples are shaped like what the servers send: Postfix's RFC 3464 report, Exchange's classic
NDR, qmail's QSBMF, Yahoo's and Gmail's own formats, an RFC 5965 ARF report and the mail the
List-Unsubscribe mailto: makes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.audience.unsubscribe import make_token
from newsletter.bounces.formats import classify, parse
from newsletter.project.environment import UNSUBSCRIBE_SECRET as SECRET_ENV
from newsletter.store import Result, connect
from tests.conftest import Run, write
from tests.store_util import database, history, select

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("both_engines")

SECRET = "a-test-secret-of-enough-length"
SENDER = "nieuwsbrief@uitgeverijlindenhof.nl"
BOUNCES = "bounces@uitgeverijlindenhof.nl"  # [bounces] address: the VERP envelope senders' mailbox
CAMPAIGN = "2026-12-schrijven"
READERS = ["anna", "bert", "carla", "dirk", "eva", "frank", "gerda", "henk", "ilse", "joop"]
DOMAIN = {"eva": "yahoo.com", "frank": "gmail.com", "carla": "example.com"}


def address(name: str) -> str:
    return f"{name}@{DOMAIN.get(name, 'example.nl')}"


def return_token(name: str) -> str:
    """The VERP token of the message the campaign sent to this reader (see `readers`)."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def message_id(name: str) -> str:
    return f"<{CAMPAIGN}.{name}.{return_token(name)}@uitgeverijlindenhof.nl>"


def returned_to(name: str) -> str:
    """Where the bounce of that message goes: the VERP envelope sender it was sent with."""
    return f"bounces+{return_token(name)}@uitgeverijlindenhof.nl"


def dsn(name: str, status: str, *, action: str = "failed", own_id: str = "", quoted: str = "") -> str:
    """Postfix's bounce: an RFC 3464 multipart/report with a message/delivery-status part, the
    returned message's headers quoted (by default those of the message sent to `name`)."""
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
Message-Id: <{own_id or name + status}.8C2F01234@mail.uitgeverijlindenhof.nl>

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
Message-ID: {quoted or message_id(name)}

--8C2F01234.1764666902/mail.uitgeverijlindenhof.nl--
"""


EXCHANGE = f"""From: System Administrator <postmaster@exchange.example.com>
To: {returned_to("carla")}
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
To: {returned_to("dirk")}
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
To: {returned_to("eva")}
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
To: {returned_to("frank")}
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


def arf(rcpt_to: str, original_to: str, list_unsubscribe: str = "", quoted: str = "") -> str:
    """An RFC 5965 feedback report, as a mailbox provider's feedback loop sends it, the complained-about
    message returned with its Message-ID `quoted` (by default one that is not ours)."""
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
{unsubscribe}Message-ID: {quoted or "<2026-12-schrijven.7.99aa@uitgeverijlindenhof.nl>"}

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
    """Ten active subscribers, by name with their ids, each sent the campaign (with the Message-ID
    and VERP token above); the unsubscribe secret and the bounce address set."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    settings = project / "newsletter.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + f'\n[bounces]\naddress = "{BOUNCES}"\n')
    write(project / "lezers.csv", "email\n" + "".join(address(name) + "\n" for name in READERS))
    assert run("audience", "import", str(project / "lezers.csv"), "--consent", "testlijst").exit_code == 0
    found = {s.email.split("@")[0]: s.id for s in select(database(project))}
    sent(project, READERS)
    return found


def sent(project: Path, names: list[str]) -> None:
    """The send log as a real send leaves it: each reader's message went out with its Message-ID."""
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    with connect(database(project)) as store:
        wanted = {address(name) for name in names}
        store.enqueue(CAMPAIGN, [s for s in store.select() if s.email in wanted], now)
        for entry in store.due(CAMPAIGN, now):
            name = entry.email.split("@")[0]
            assert store.mark_sending(entry, message_id(name), now, return_token(name)) is None
            store.record_result(entry, Result("sent", 250, "ok"), now, retry_after=0, max_attempts=1)


def statuses(project: Path) -> dict[str, str]:
    return {s.email.split("@")[0]: s.status for s in select(database(project), status=None)}


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
            "arf": arf("gerda@example.nl", "gerda@example.nl", quoted=message_id("gerda")),
            "unsub": mailed_unsubscribe(address("henk"), "unsubscribe " + token("henk", readers)),
            "garbage": "\x00\x01 not mail at all \x7f",
        },
    )
    result = run("bounces", "import", str(box))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "9 messages read: 5 bounced, 1 soft bounce counted, 1 complained, 1 unsubscribed, "
        "0 already suppressed, 0 unknown addresses, 0 not ours, 0 already imported, 0 ignored, "
        "1 not understood"
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
    write(project / "gerda.eml", arf("gerda@example.nl", "gerda@example.nl", quoted=message_id("gerda")))
    write(project / "henk.eml", mailed_unsubscribe(address("henk"), "unsubscribe " + token("henk", readers)))
    assert (
        run("bounces", "import", *(str(project / f) for f in ("anna.eml", "gerda.eml", "henk.eml"))).exit_code
        == 0
    )
    changes = [c for c in history(database(project)) if c.old_status is not None]
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
    assert first.output.startswith("3 messages read: 2 bounced, 1 soft bounce counted,")
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
    settings.write_text(settings.read_text() + "soft_bounce_limit = 2\n")  # [bounces] is the last table
    write(project / "one.eml", dsn("bert", "4.2.2", own_id="one"))
    assert "1 soft bounce counted" in run("bounces", "import", str(project / "one.eml")).output
    assert "1 already imported" in run("bounces", "import", str(project / "one.eml")).output
    assert statuses(project)["bert"] == "active"
    write(project / "two.eml", dsn("bert", "4.2.2", action="delayed", own_id="two"))
    result = run("bounces", "import", str(project / "two.eml"))
    assert "1 bounced" in result.output
    assert statuses(project)["bert"] == "bounced"
    last = history(database(project))[-1]
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
    assert "not ours: stranger.eml: names no message of ours to Zoe@example.nl" in result.output
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
    details = [c.detail for c in history(database(project)) if c.source == "mailto"]
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


# -- only a message of ours is answered ------------------------------------------------------------------


def forged_dsn(recipients: list[str]) -> str:
    """A delivery status report anyone could mail to the bounce mailbox, naming whom they like."""
    blocks = "".join(
        f"\nFinal-Recipient: rfc822; {r}\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1\n"
        for r in recipients
    )
    return f"""From: MAILER-DAEMON@evil.example
To: {BOUNCES}
Subject: Undelivered Mail Returned to Sender
Message-Id: <forged-{len(recipients)}@evil.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Not delivered.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; evil.example
{blocks}
--b--
"""


def test_a_forged_report_naming_readers_never_sent_anything_changes_nobody(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    others = [f"lezer{n}@example.org" for n in range(200)]
    write(project / "others.csv", "email\n" + "\n".join(others) + "\n")
    assert run("audience", "import", str(project / "others.csv"), "--consent", "testlijst").exit_code == 0
    write(project / "forged.eml", forged_dsn(others))
    result = run("bounces", "import", str(project / "forged.eml"))
    assert result.exit_code == 0, result.output
    assert "0 bounced" in result.output and "200 not ours" in result.output
    assert "not ours: forged.eml: names no message of ours to lezer0@example.org" in result.output
    assert {s.status for s in select(database(project), status=None)} == {"active"}


def test_a_forged_complaint_without_a_message_of_ours_changes_nobody(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    write(project / "arf.eml", arf("ilse@example.nl", "ilse@example.nl"))
    result = run("bounces", "import", str(project / "arf.eml"))
    assert "0 complained" in result.output and "1 not ours" in result.output
    assert statuses(project)["ilse"] == "active"


def test_a_report_quoting_our_message_to_someone_else_changes_nobody(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    """Anna's Message-ID (from an email she forwarded, say) does not make a bounce for Bert ours."""
    write(project / "bert.eml", dsn("bert", "5.1.1", quoted=message_id("anna")))
    verp = dsn("carla", "5.1.1", quoted="<nothing@example.nl>").replace(
        f"To: {SENDER}", f"To: {returned_to('anna')}"
    )
    write(project / "carla.eml", verp)
    result = run("bounces", "import", str(project / "bert.eml"), str(project / "carla.eml"))
    assert "0 bounced" in result.output and "2 not ours" in result.output
    assert (statuses(project)["bert"], statuses(project)["carla"], statuses(project)["anna"]) == (
        "active",
    ) * 3


def test_a_soft_bounce_counts_only_when_it_is_ours(project: Path, run: Run, readers: dict[str, int]) -> None:
    settings = project / "newsletter.toml"
    settings.write_text(settings.read_text() + "soft_bounce_limit = 1\n")
    write(project / "forged.eml", dsn("bert", "4.2.2", quoted="<forged@example.nl>"))
    result = run("bounces", "import", str(project / "forged.eml"))
    assert "0 soft bounces counted" in result.output and "1 not ours" in result.output
    assert statuses(project)["bert"] == "active"
    write(project / "real.eml", dsn("bert", "4.2.2", own_id="real"))
    assert "1 bounced" in run("bounces", "import", str(project / "real.eml")).output


def test_a_bounce_is_matched_by_its_verp_address_alone(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    """No returned headers at all (Exchange's NDR): the address it came back to names the message."""
    write(project / "carla.eml", EXCHANGE)
    without_verp = EXCHANGE.replace(returned_to("carla"), SENDER)
    write(project / "carla-plain.eml", without_verp.replace("A1B2C3D4E5F6", "OTHER"))
    result = run("bounces", "import", str(project / "carla-plain.eml"))
    assert "1 not ours" in result.output and statuses(project)["carla"] == "active"
    assert "1 bounced" in run("bounces", "import", str(project / "carla.eml")).output


@pytest.mark.parametrize("subject", ["afmelden", "Afmelden", "RE: afmelden", "uitschrijven", "Unsubscribe"])
def test_the_words_the_pages_ask_for_unsubscribe_by_mail(
    project: Path, run: Run, readers: dict[str, int], subject: str
) -> None:
    """The Dutch page whose link does not work says: mail 'afmelden' to the unsubscribe address."""
    write(project / "mail.eml", mailed_unsubscribe(address("joop"), subject))
    result = run("bounces", "import", str(project / "mail.eml"))
    assert "1 unsubscribed" in result.output, result.output
    assert statuses(project)["joop"] == "unsubscribed"


def test_a_subject_that_only_starts_like_the_word_is_not_an_unsubscribe(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    write(project / "mail.eml", mailed_unsubscribe(address("joop"), "Afmeldenlijst van de club"))
    assert "0 unsubscribed" in run("bounces", "import", str(project / "mail.eml")).output
    assert statuses(project)["joop"] == "active"


def test_a_notification_nested_too_deeply_is_not_understood_and_the_others_are_applied(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    from tests.test_web_webhooks import deeply_nested, postmark_bounce, ses_bounce, ses_complaint

    notifications = [ses_bounce("anna@example.nl"), deeply_nested(), ses_complaint("gerda@example.nl")]
    write(project / "ses.json", json.dumps(notifications))
    write(project / "postmark.json", json.dumps(postmark_bounce("dirk@example.nl", "HardBounce")))
    result = run("bounces", "import", str(project / "ses.json"), str(project / "postmark.json"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("4 messages read: 2 bounced, 0 soft bounces counted, 1 complained,")
    assert result.output.splitlines()[0].endswith(", 1 not understood")
    reason = "an SNS notification whose Message is not valid JSON: nested too deeply"
    assert f"\nnot understood: ses.json: {reason}\n" in result.output
    assert (statuses(project)["anna"], statuses(project)["gerda"], statuses(project)["dirk"]) == (
        "bounced",
        "complained",
        "bounced",
    )


def test_values_from_a_notification_cannot_forge_a_line_of_the_output(
    project: Path, run: Run, readers: dict[str, int]
) -> None:
    """Each line printed starts with what it is; a CR, LF or ESC from outside is shown escaped."""
    from tests.test_web_webhooks import TOPIC, postmark_bounce

    forged = "\r\nto confirm: x.json: an SNS SubscriptionConfirmation for evil; open https://evil.example/"
    url = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + TOPIC
    confirmation = {"Type": "SubscriptionConfirmation", "TopicArn": TOPIC, "SubscribeURL": url}
    notifications = [
        confirmation,
        {**confirmation, "TopicArn": TOPIC + forged},
        {**confirmation, "SubscribeURL": url + forged},
        {**postmark_bounce("anna@example.nl", "HardBounce"), "RecordType": "Open" + forged + "\x1b[2K"},
    ]
    write(project / "sns.json", json.dumps(notifications))
    folder = project / "bounce\nunknown: forged.json"  # a file name may hold a line break too
    write(folder / "x.json", json.dumps(postmark_bounce("zoe@example.nl", "HardBounce")))
    result = run("bounces", "import", str(project / "sns.json"), str(folder))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1:] == [
        "unknown: bounce\\nunknown: forged.json/x.json: zoe@example.nl is not a subscriber",
        "ignored: sns.json: a Postmark Open\\r\\nto confirm: x.json: an SNS SubscriptionConfirmation for "
        "evil; open https://evil.example/\\x1b[2K record",
        "not understood: sns.json: an SNS SubscriptionConfirmation whose TopicArn or SubscribeURL holds "
        "control characters",
        "not understood: sns.json: an SNS SubscriptionConfirmation whose TopicArn or SubscribeURL holds "
        "control characters",
        f"to confirm: sns.json: an SNS SubscriptionConfirmation for {TOPIC}; open {url} to confirm it",
    ]


def test_the_counts_are_in_the_singular_for_one(project: Path, run: Run, readers: dict[str, int]) -> None:
    write(project / "anna.eml", dsn("anna", "4.2.2"))
    first = run("bounces", "import", str(project / "anna.eml")).output.splitlines()[0]
    assert first.startswith("1 message read: 0 bounced, 1 soft bounce counted,")
    write(
        project / "zoe.json",
        json.dumps({"RecordType": "Bounce", "Type": "HardBounce", "ID": 7, "Email": "zoe@example.nl"}),
    )
    assert "1 unknown address," in run("bounces", "import", str(project / "zoe.json")).output
