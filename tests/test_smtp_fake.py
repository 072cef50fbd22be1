"""The local SMTP fake, driven through the stdlib ``smtplib`` exactly as the product will drive it."""

from __future__ import annotations

import smtplib
import ssl
import threading
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from tests.smtp_fake import FakeSMTP

SENDER = "news@example.org"


@pytest.fixture
def fake() -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        yield server


def make_message(to: str = "ada@example.org", subject: str = "Spring issue") -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"The Newsletter <{SENDER}>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Plain text body.\n")
    message.add_alternative("<p>HTML body, <b>ünïcode</b>.</p>\n", subtype="html")
    return message


def connect(fake: FakeSMTP) -> smtplib.SMTP:
    return smtplib.SMTP(fake.host, fake.port, timeout=2)


def test_delivers_a_multipart_message_with_its_headers(fake: FakeSMTP) -> None:
    with connect(fake) as client:
        refused = client.send_message(make_message())
    assert refused == {}
    [delivered] = fake.messages
    assert delivered.mail_from == SENDER
    assert delivered.rcpt_tos == ["ada@example.org"]
    assert delivered.peer[0] == "127.0.0.1"
    assert delivered.session == 1
    assert delivered.tls is False and delivered.authenticated_as is None
    assert delivered.data.startswith(b"From: The Newsletter <news@example.org>\r\n")
    parsed = delivered.message
    assert parsed["Subject"] == "Spring issue"
    assert parsed["To"].addresses[0].addr_spec == "ada@example.org"
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None and plain.get_content() == "Plain text body.\n"
    assert html is not None and "ünïcode" in html.get_content()
    assert fake.sessions == 1
    assert fake.verbs() == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]


def test_several_messages_over_one_connection_with_rset_between(fake: FakeSMTP) -> None:
    with connect(fake) as client:
        for number in range(3):
            client.send_message(make_message(to=f"reader{number}@example.org"))
            client.rset()
    assert [m.rcpt_tos for m in fake.messages] == [[f"reader{n}@example.org"] for n in range(3)]
    assert fake.sessions == 1
    assert {session for session, _ in fake.commands} == {1}
    assert fake.verbs(1) == ["EHLO"] + ["MAIL", "RCPT", "DATA", "RSET"] * 3 + ["QUIT"]


def test_counts_sessions_separately_and_ignores_its_own_readiness_probe(fake: FakeSMTP) -> None:
    for _ in range(2):
        with connect(fake) as client:
            client.noop()
    assert fake.sessions == 2
    assert fake.commands == [(1, "NOOP"), (1, "QUIT"), (2, "NOOP"), (2, "QUIT")]


def test_wait_for_is_bounded() -> None:
    with FakeSMTP() as fake:

        def send() -> None:
            with connect(fake) as client:
                client.sendmail(SENDER, ["a@example.org"], "Subject: x\r\n\r\nx\r\n")

        sender = threading.Thread(target=send)
        sender.start()
        assert len(fake.wait_for(1, timeout=2)) == 1
        sender.join()
        with pytest.raises(TimeoutError, match="expected 2"):
            fake.wait_for(2, timeout=0.05)


def test_auth_success_and_535_on_wrong_password() -> None:
    with FakeSMTP(auth={"mailer": "s3cret"}) as fake:
        with connect(fake) as client:
            client.ehlo()
            assert "PLAIN" in client.esmtp_features["auth"] and "LOGIN" in client.esmtp_features["auth"]
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail(SENDER, ["a@example.org"], "Subject: x\r\n\r\nx\r\n")
            assert refused.value.smtp_code == 530
            assert client.login("mailer", "s3cret")[0] == 235
            client.sendmail(SENDER, ["a@example.org"], "Subject: x\r\n\r\nx\r\n")
        with connect(fake) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError) as error:
                client.login("mailer", "wrong")
            assert error.value.smtp_code == 535
        [delivered] = fake.messages
        assert delivered.authenticated_as == "mailer"
        # smtplib tries PLAIN, then LOGIN, before giving up.
        assert fake.verbs(2) == ["EHLO", "AUTH", "AUTH", "QUIT"]


def test_starttls_verified_with_cafile() -> None:
    with FakeSMTP(starttls=True) as fake:
        assert fake.cafile is not None
        context = ssl.create_default_context(cafile=fake.cafile)
        with connect(fake) as client:
            client.starttls(context=context)
            client.send_message(make_message())
        assert fake.messages[0].tls is True
        assert fake.verbs() == ["EHLO", "STARTTLS", "EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
        with connect(fake) as client, pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(context=ssl.create_default_context())  # system CAs do not know it


def test_fail_connect_421(fake: FakeSMTP) -> None:
    fake.fail_connect(421)
    with pytest.raises(smtplib.SMTPConnectError) as error:
        connect(fake)
    assert error.value.smtp_code == 421
    with connect(fake) as client:  # times=1: the next connection is greeted normally
        assert client.noop()[0] == 250
    assert fake.sessions == 2
    assert fake.commands == [(2, "NOOP"), (2, "QUIT")]


def test_fail_rcpt_for_some_recipients_while_others_succeed(fake: FakeSMTP) -> None:
    fake.fail_rcpt("busy@example.org", 451)
    fake.fail_rcpt("gone@example.org", 550, "5.1.1 No such user")
    fake.fail_rcpt("full@example.org", 552)
    recipients = ["ok@example.org", "busy@example.org", "gone@example.org", "full@example.org"]
    with connect(fake) as client:
        refused = client.sendmail(SENDER, recipients, "Subject: x\r\n\r\nx\r\n")
        assert {address: code for address, (code, _) in refused.items()} == {
            "busy@example.org": 451,
            "gone@example.org": 550,
            "full@example.org": 552,
        }
        assert refused["gone@example.org"][1] == b"5.1.1 No such user"
        # Only when every recipient is refused does smtplib raise (and RSET the transaction).
        with pytest.raises(smtplib.SMTPRecipientsRefused) as error:
            client.sendmail(SENDER, ["gone@example.org", "full@example.org"], "Subject: y\r\n\r\ny\r\n")
        assert {address: code for address, (code, _) in error.value.recipients.items()} == {
            "gone@example.org": 550,
            "full@example.org": 552,
        }
        client.sendmail(SENDER, ["ok@example.org"], "Subject: z\r\n\r\nz\r\n")  # same connection still works
    assert [m.rcpt_tos for m in fake.messages] == [["ok@example.org"], ["ok@example.org"]]
    assert fake.sessions == 1


def test_fail_rcpt_times_and_any_address(fake: FakeSMTP) -> None:
    fake.fail_rcpt(None, 451, times=1)
    with connect(fake) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail(SENDER, ["a@example.org"], "Subject: x\r\n\r\nx\r\n")
        assert client.sendmail(SENDER, ["a@example.org"], "Subject: x\r\n\r\nx\r\n") == {}
    assert len(fake.messages) == 1


def test_fail_mail_from(fake: FakeSMTP) -> None:
    fake.fail_mail_from(451)
    with connect(fake) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as error:
            client.sendmail(SENDER, ["a@example.org"], "Subject: x\r\n\r\nx\r\n")
        assert error.value.smtp_code == 451 and error.value.sender == SENDER
        client.sendmail(SENDER, ["a@example.org"], "Subject: x\r\n\r\nx\r\n")
    assert len(fake.messages) == 1


def test_fail_mail_from_421_closes_the_connection(fake: FakeSMTP) -> None:
    fake.fail_mail_from(421)
    client = connect(fake)
    with pytest.raises(smtplib.SMTPSenderRefused) as error:
        client.sendmail(SENDER, ["a@example.org"], "Subject: x\r\n\r\nx\r\n")
    assert error.value.smtp_code == 421
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.noop()


def test_fail_data_is_not_recorded(fake: FakeSMTP) -> None:
    fake.fail_data(554, "5.7.1 Rejected as spam")
    with connect(fake) as client:
        with pytest.raises(smtplib.SMTPDataError) as error:
            client.send_message(make_message())
        assert error.value.smtp_code == 554 and error.value.smtp_error == b"5.7.1 Rejected as spam"
        client.send_message(make_message(subject="retry"))
    assert [m.message["Subject"] for m in fake.messages] == ["retry"]


def test_drop_before_data(fake: FakeSMTP) -> None:
    fake.drop_before_data()
    client = connect(fake)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.send_message(make_message())
    assert fake.messages == []
    assert fake.verbs() == ["EHLO", "MAIL", "RCPT", "DATA"]


def test_drop_after_data_records_the_message_but_never_acknowledges_it(fake: FakeSMTP) -> None:
    fake.drop_after_data()
    client = connect(fake)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.send_message(make_message())
    [delivered] = fake.messages
    assert delivered.message["Subject"] == "Spring issue"
    with connect(fake) as client:  # the next connection works again
        client.send_message(make_message())
    assert len(fake.messages) == 2 and fake.sessions == 2


def test_stop_mid_run_breaks_the_open_connection() -> None:
    fake = FakeSMTP().start()
    try:
        client = connect(fake)
        client.send_message(make_message())
        fake.stop()
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.send_message(make_message())
        with pytest.raises(ConnectionRefusedError):
            connect(fake)
        fake.start()  # a restart listens on the same port again
        with connect(fake) as again:
            again.send_message(make_message())
        assert len(fake.messages) == 2
    finally:
        fake.close()


def test_fault_arguments_are_checked(fake: FakeSMTP) -> None:
    with pytest.raises(ValueError, match="4xx or 5xx"):
        fake.fail_data(250)
    with pytest.raises(ValueError, match="at least 1"):
        fake.drop_after_data(times=0)
