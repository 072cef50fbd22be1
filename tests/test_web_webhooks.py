"""`newsletter.web.webhooks.handle`: SES (through SNS) and Postmark notifications, checked by the
shared secret and applied like `bounces import`.

The payloads follow the services' documented examples: SES's notification contents
(docs.aws.amazon.com/ses/latest/dg/notification-contents.html) inside an SNS HTTP(S) envelope
(docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html), and Postmark's bounce and
spam complaint webhooks (postmarkapp.com/developer/webhooks).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsletter.project.environment import UNSUBSCRIBE_SECRET as UNSUBSCRIBE_SECRET_ENV
from newsletter.project.environment import WEBHOOK_SECRET as SECRET_ENV
from newsletter.project.settings import open_project
from newsletter.web.webhooks import handle
from tests.conftest import Run, write
from tests.store_util import database, history, select
from tests.test_web_app import Answer, Server, assert_safe_headers

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("both_engines")

WEBHOOK_SECRET = "webhook-secret-0123456789"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"


def sns(message: dict[str, Any], message_id: str = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324") -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": TOPIC,
        "Message": json.dumps(message),
        "Timestamp": "2026-12-02T09:15:03.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2eg"
        "U3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + TOPIC,
    }


def _mail(destination: str) -> dict[str, Any]:
    return {
        "timestamp": "2026-12-02T09:15:01.000Z",
        "source": "nieuwsbrief@uitgeverijlindenhof.nl",
        "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/uitgeverijlindenhof.nl",
        "sendingAccountId": "123456789012",
        "messageId": "0102018c2a5f5f5f-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-000000",
        "destination": [destination],
    }


def ses_bounce(email: str, bounce_type: str = "Permanent", feedback_id: str = "") -> dict[str, Any]:
    status = "5.1.1" if bounce_type == "Permanent" else "4.2.2"
    return sns(
        {
            "notificationType": "Bounce",
            "bounce": {
                "bounceType": bounce_type,
                "bounceSubType": "General" if bounce_type == "Permanent" else "MailboxFull",
                "bouncedRecipients": [
                    {
                        "emailAddress": email,
                        "action": "failed",
                        "status": status,
                        "diagnosticCode": f"smtp; 550 {status} user unknown",
                    }
                ],
                "timestamp": "2026-12-02T09:15:02.000Z",
                "feedbackId": feedback_id or f"0102018c-bounce-{email}-{bounce_type}",
                "remoteMtaIp": "192.0.2.25",
                "reportingMTA": "dsn; a4-1.smtp-out.eu-west-1.amazonses.com",
            },
            "mail": _mail(email),
        },
        message_id=f"sns-{email}-{bounce_type}-{feedback_id}",
    )


def ses_complaint(email: str) -> dict[str, Any]:
    return sns(
        {
            "notificationType": "Complaint",
            "complaint": {
                "userAgent": "ExampleCorp Feedback Loop (V0.01)",
                "complainedRecipients": [{"emailAddress": email}],
                "complaintFeedbackType": "abuse",
                "arrivalDate": "2026-12-02T09:20:00.000Z",
                "timestamp": "2026-12-02T09:20:05.000Z",
                "feedbackId": f"0102018c-complaint-{email}",
            },
            "mail": _mail(email),
        },
        message_id=f"sns-complaint-{email}",
    )


def postmark_bounce(email: str, kind: str, record_id: int = 4323372036854775807) -> dict[str, Any]:
    return {
        "RecordType": "Bounce",
        "MessageStream": "broadcast",
        "ID": record_id,
        "Type": kind,
        "TypeCode": {"HardBounce": 1, "SoftBounce": 4096, "Transient": 2, "AutoResponder": 64}[kind],
        "Name": "Hard bounce" if kind == "HardBounce" else kind,
        "Tag": "2026-12-schrijven",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {"campaign": "2026-12-schrijven"},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "nieuwsbrief@uitgeverijlindenhof.nl",
        "BouncedAt": "2026-12-02T09:15:04.9070259Z",
        "DumpAvailable": True,
        "Inactive": kind == "HardBounce",
        "CanActivate": True,
        "Subject": "De kunst van het weglaten",
        "Content": "Return-Path: <>\r\nReceived: ...",
    }


def postmark_complaint(email: str) -> dict[str, Any]:
    return {
        "RecordType": "SpamComplaint",
        "MessageStream": "broadcast",
        "ID": 42,
        "Type": "SpamComplaint",
        "TypeCode": 100001,
        "Name": "Spam complaint",
        "Tag": "2026-12-schrijven",
        "MessageID": "00000000-0000-0000-0000-000000000000",
        "Metadata": {},
        "ServerID": 1234,
        "Description": "",
        "Details": "Test spam complaint details",
        "Email": email,
        "From": "nieuwsbrief@uitgeverijlindenhof.nl",
        "BouncedAt": "2026-12-02T09:21:00Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": False,
        "Subject": "De kunst van het weglaten",
        "Content": "<Abuse report dump>",
    }


def basic(password: str, user: str = "postmark") -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def body(data: object) -> bytes:
    return json.dumps(data).encode()


@pytest.fixture
def filled(project: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(SECRET_ENV, WEBHOOK_SECRET)
    write(project / "lezers.csv", "email\nanna@example.nl\nbert@example.nl\ngerda@example.nl\n")
    assert run("audience", "import", str(project / "lezers.csv"), "--consent", "testlijst").exit_code == 0
    return project


def statuses(project: Path) -> dict[str, str]:
    return {s.email: s.status for s in select(database(project), status=None)}


def call(project: Path, service: str, data: object, headers: dict[str, str] | None = None) -> tuple[int, str]:
    return handle(
        open_project(project), service, basic(WEBHOOK_SECRET) if headers is None else headers, body(data)
    )


def test_ses_bounce_and_complaint_through_sns(filled: Path) -> None:
    assert call(filled, "ses", ses_bounce("Anna@Example.nl")) == (200, "ok: 1 bounced")
    assert call(filled, "ses", ses_complaint("gerda@example.nl")) == (200, "ok: 1 complained")
    assert statuses(filled) == {
        "anna@example.nl": "bounced",
        "bert@example.nl": "active",
        "gerda@example.nl": "complained",
    }
    sources = [(c.email, c.source) for c in history(database(filled)) if c.old_status is not None]
    assert sources == [("anna@example.nl", "webhook:ses"), ("gerda@example.nl", "webhook:ses")]


def test_a_retried_notification_is_applied_once_and_transient_ones_count(filled: Path) -> None:
    first = ses_bounce("bert@example.nl", "Transient", feedback_id="t1")
    assert call(filled, "ses", first) == (200, "ok: 1 soft bounce counted")
    assert call(filled, "ses", first) == (200, "ok: 1 already received")
    assert call(filled, "ses", ses_bounce("bert@example.nl", "Transient", feedback_id="t2"))[0] == 200
    assert statuses(filled)["bert@example.nl"] == "active"
    assert call(filled, "ses", ses_bounce("bert@example.nl", "Transient", feedback_id="t3")) == (
        200,
        "ok: 1 bounced",
    )


def test_postmark_bounce_and_spam_complaint(filled: Path) -> None:
    assert call(filled, "postmark", postmark_bounce("anna@example.nl", "HardBounce")) == (
        200,
        "ok: 1 bounced",
    )
    assert call(filled, "postmark", postmark_bounce("bert@example.nl", "SoftBounce", 7)) == (
        200,
        "ok: 1 soft bounce counted",
    )
    assert call(filled, "postmark", postmark_bounce("bert@example.nl", "AutoResponder", 8)) == (
        200,
        "ok: 1 ignored",
    )
    assert call(filled, "postmark", postmark_complaint("gerda@example.nl")) == (200, "ok: 1 complained")
    assert call(filled, "postmark", postmark_bounce("zoe@example.nl", "HardBounce", 9)) == (
        200,
        "ok: 1 unknown",
    )
    assert statuses(filled)["bert@example.nl"] == "active"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("wrong-secret-0123456789"),
        basic(WEBHOOK_SECRET[:-1]),
        {"authorization": "Basic !!!not-base64"},
        {"authorization": "Bearer " + WEBHOOK_SECRET},
        {"x-newsletter-secret": WEBHOOK_SECRET + "x"},
    ],
    ids=["none", "wrong", "prefix", "broken", "bearer", "header-wrong"],
)
def test_a_missing_or_wrong_secret_is_refused(filled: Path, headers: dict[str, str]) -> None:
    assert call(filled, "postmark", postmark_bounce("anna@example.nl", "HardBounce"), headers) == (
        401,
        "unauthorized",
    )
    assert statuses(filled)["anna@example.nl"] == "active"


def test_the_secret_may_come_as_a_header_or_in_the_query(filled: Path) -> None:
    project = open_project(filled)
    data = body(postmark_bounce("anna@example.nl", "HardBounce"))
    assert handle(project, "postmark", {"X-Newsletter-Secret": WEBHOOK_SECRET}, data)[0] == 200
    data = body(ses_bounce("bert@example.nl"))
    assert handle(project, "ses", {}, data, query=f"secret={WEBHOOK_SECRET}")[0] == 200
    assert handle(project, "ses", {}, data, query="secret=nope") == (401, "unauthorized")


def test_without_a_configured_secret_webhooks_are_off(filled: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV)
    status, text = call(filled, "ses", ses_bounce("anna@example.nl"))
    assert status == 503 and SECRET_ENV in text
    monkeypatch.setenv(SECRET_ENV, "short")
    assert call(filled, "ses", ses_bounce("anna@example.nl"))[0] == 503


def test_sns_subscription_confirmation_is_logged_not_fetched(
    filled: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = (
        "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
        + TOPIC
        + "&Token=2336412f37"
    )
    confirmation = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic " + TOPIC + ".",
        "SubscribeURL": url,
        "Timestamp": "2026-12-02T09:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem",
    }
    with caplog.at_level(logging.WARNING, logger="newsletter.webhooks"):
        status, _ = call(filled, "ses", confirmation)
    assert status == 200
    assert url in caplog.text


@pytest.mark.parametrize(
    ("service", "payload", "expected"),
    [
        ("ses", b"not json", 400),
        ("ses", b"\xff\xfe\x00", 400),
        ("ses", body([1, 2, 3]), 400),
        ("ses", body(postmark_bounce("anna@example.nl", "HardBounce")), 400),
        ("postmark", body(ses_bounce("anna@example.nl")), 400),
        ("ses", body({"Type": "Notification", "TopicArn": TOPIC, "Message": "{not json"}), 400),
        ("ses", body({"Type": "Notification", "TopicArn": TOPIC, "Message": json.dumps({"x": 1})}), 400),
        ("postmark", body({"RecordType": "Bounce", "Type": "HardBounce"}), 400),
        ("mailgun", body({}), 404),
    ],
    ids=[
        "text",
        "bytes",
        "list",
        "postmark-as-ses",
        "ses-as-postmark",
        "bad-message",
        "odd",
        "no-email",
        "unknown",
    ],
)
def test_bad_payloads_get_a_4xx_and_change_nothing(
    filled: Path, service: str, payload: bytes, expected: int
) -> None:
    status, _ = handle(open_project(filled), service, basic(WEBHOOK_SECRET), payload)
    assert status == expected
    assert set(statuses(filled).values()) == {"active"}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (
            '{"Type": "Notification", "Message": "{\\"notificationType\\": \\"Bounce\\"}"}',
            "'bounce' is missing",
        ),
        ('{"RecordType": "Bounce", "Type": "HardBounce", "ID": 1, "Email": ["a@b.nl"]}', "the wrong kind"),
    ],
)
def test_a_notification_of_the_wrong_shape_is_named_plainly(payload: str, reason: str) -> None:
    from newsletter.bounces.formats import Report
    from newsletter.bounces.notifications import read

    service = "ses" if "Notification" in payload else "postmark"
    report = read(json.loads(payload), service)
    assert isinstance(report, Report)
    assert reason in report.problem and "Error" not in report.problem


# -- over HTTP, as `newsletter serve` answers -------------------------------------------------------


@pytest.fixture
def served(filled: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """`newsletter serve` for the filled project, its webhook secret set."""
    monkeypatch.setenv(UNSUBSCRIBE_SECRET_ENV, "an-unsubscribe-secret-0123456789")
    running = Server(open_project(filled))
    yield running
    running.stop()


def post(server: Server, path: str, data: object) -> Answer:
    return server.request("POST", path, body(data), basic(WEBHOOK_SECRET))


def deeply_nested(levels: int = 100_000) -> dict[str, Any]:
    """An SNS notification whose Message is JSON nested far deeper than Python's stack."""
    return {**ses_bounce("anna@example.nl"), "Message": "[" * levels + "]" * levels}


def test_a_message_nested_too_deeply_is_a_400_and_the_next_notification_is_applied(
    served: Server, filled: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        refused = post(served, "/webhooks/ses", deeply_nested())
    assert refused.status == 400
    assert refused.text == "an SNS notification whose Message is not valid JSON: nested too deeply\n"
    assert_safe_headers(refused)
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text
    assert post(served, "/webhooks/ses", ses_bounce("bert@example.nl")).status == 200
    assert statuses(filled) == {
        "anna@example.nl": "active",
        "bert@example.nl": "bounced",
        "gerda@example.nl": "active",
    }


def test_a_query_of_too_many_fields_is_a_400_not_a_500(
    served: Server, filled: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        refused = post(served, "/webhooks/ses?" + "&".join(["a=1"] * 21), ses_bounce("anna@example.nl"))
        also_with_the_secret = served.request(
            "POST", f"/webhooks/postmark?secret={WEBHOOK_SECRET}" + "&a=1" * 20, body({})
        )
    for answer in (refused, also_with_the_secret):
        assert (answer.status, answer.text) == (400, "more than 20 query fields\n")
        assert_safe_headers(answer)
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelno >= logging.ERROR]
    twenty = f"/webhooks/ses?secret={WEBHOOK_SECRET}" + "&a=1" * 19
    assert served.request("POST", twenty, body(ses_bounce("anna@example.nl"))).status == 200
    assert statuses(filled)["anna@example.nl"] == "bounced"


FORGED = "\r\n2026-12-02 09:00:00,000 newsletter.webhooks: open https://evil.example/ to confirm it"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("TopicArn", TOPIC + FORGED),
        ("SubscribeURL", "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription" + FORGED),
        ("SubscribeURL", "https://sns.eu-west-1.amazonaws.com/\u2028forged\x1b[2K"),
    ],
    ids=["topic-crlf", "url-crlf", "url-separator-and-escape"],
)
def test_a_confirmation_with_control_characters_forges_no_log_line(
    served: Server, caplog: pytest.LogCaptureFixture, field: str, value: str
) -> None:
    confirmation = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37",
        "TopicArn": TOPIC,
        "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37",
        field: value,
    }
    with caplog.at_level(logging.INFO):
        answer = post(served, "/webhooks/ses", confirmation)
    assert answer.status == 400
    assert "holds control characters" in answer.text
    for record in caplog.records:
        assert record.getMessage().isprintable(), record.getMessage()
    assert "evil.example" not in caplog.text and "forged" not in caplog.text
