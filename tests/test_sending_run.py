"""Real sends through `newsletter send`, against a real SMTP server on loopback that fails on request,
and the run (run.py) driving a transport in memory.

Every test ends by asking the two questions that matter: what state is each recipient in, and did
anyone receive the campaign twice.
"""

from __future__ import annotations

import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result as CliResult

from newsletter.project.settings import open_project
from newsletter.sending import send as sending
from newsletter.sending.message import Outgoing
from newsletter.sending.run import RateLimiter, RunReport, run, utc_now
from newsletter.sending.transport import ConnectionProblem, Memory
from newsletter.store import Entry, Result, connect
from tests import store_util
from tests.conftest import Run, write
from tests.smtp_fake import FakeSMTP, configure
from tests.store_util import query, select

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("both_engines")

CAMPAIGN = "2026-12-schrijven"
SECRET = "a-test-secret-of-enough-length"
READERS = [f"lezer{n}@example.org" for n in range(1, 7)]


@pytest.fixture
def fake() -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        yield server


@pytest.fixture
def sender(project: Path, fake: FakeSMTP, run: Run, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sample project with six Dutch readers, one English one, and [smtp] pointing at the fake."""
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.delenv("NEWSLETTER_SMTP_PASSWORD", raising=False)
    configure(project, fake.port)
    rows = [f"{address},Lezer {n},nl," for n, address in enumerate(READERS, start=1)]
    write(
        project / "readers.csv",
        "email,name,locale,tags\n" + "\n".join(rows) + "\nreader@example.org,Ann,en,\n",
    )
    assert run("audience", "import", str(project / "readers.csv"), "--consent", "testlijst").exit_code == 0
    return project


def send(run: Run, *args: str) -> CliResult:
    return run("send", CAMPAIGN, "--yes", *args)


def states(project: Path) -> dict[str, str]:
    rows = query(project, "SELECT email, state FROM sends WHERE campaign = ?", (CAMPAIGN,))
    return {str(email): str(state) for email, state in rows}


def received(fake: FakeSMTP) -> Counter[str]:
    return Counter(address for message in fake.messages for address in message.rcpt_tos)


def subscriber_status(project: Path, address: str) -> str:
    [(status,)] = query(project, "SELECT status FROM subscribers WHERE email = ?", (address,))
    return str(status)


# -- the good path ---------------------------------------------------------------------------------


def test_each_reader_of_the_locale_gets_one_personal_message_over_one_reused_connection(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    result = send(run)
    assert result.exit_code == 0, result.output
    assert received(fake) == Counter(READERS)  # the English reader is not in a Dutch campaign's audience
    assert all(len(message.rcpt_tos) == 1 for message in fake.messages)
    assert states(sender) == dict.fromkeys(READERS, "sent")
    assert "6 sent" in result.output
    first = fake.messages[0].message
    assert first["To"].addresses[0].display_name == "Lezer 1"
    plain = first.get_body(("plain",))
    assert plain is not None and "Beste Lezer," in plain.get_content()
    [(logged,)] = query(sender, "SELECT message_id FROM sends WHERE email = ?", (READERS[0],))
    assert logged == first["Message-ID"]
    assert fake.sessions == 1
    assert fake.verbs().count("RSET") == len(READERS) - 1  # the connection is reset between messages


def test_several_connections_share_the_list_without_sending_anyone_twice(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    configure(sender, fake.port, connections=3, messages_per_connection=2)
    result = send(run)
    assert result.exit_code == 0, result.output
    assert received(fake) == Counter(READERS)
    assert fake.sessions >= 3  # three connections, each renewed after two messages


def test_a_finished_campaign_is_not_sent_again_but_reaches_new_subscribers_on_request(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    assert send(run).exit_code == 0
    again = send(run)
    assert again.exit_code == 2
    assert f"campaign {CAMPAIGN} was already sent (6 sent" in again.output
    assert "--new-subscribers-only" in again.output
    assert len(fake.messages) == 6
    write(sender / "new.csv", "email,name\nnieuw@example.org,Nieuw\n")
    run("audience", "import", str(sender / "new.csv"), "--consent", "testlijst")
    later = send(run, "--new-subscribers-only")
    assert later.exit_code == 0, later.output
    assert received(fake) == Counter([*READERS, "nieuw@example.org"])


def test_status_shows_the_counts_and_lists_recipients(sender: Path, fake: FakeSMTP, run: Run) -> None:
    assert "has not been sent" in run("status", CAMPAIGN).output
    fake.fail_rcpt(READERS[2], 550)
    send(run)
    result = run("status", CAMPAIGN, "--list", "failed")
    assert result.exit_code == 0
    assert "sent      5" in result.output and "failed    1" in result.output
    assert READERS[2] in result.output and "550" in result.output


def test_status_of_a_campaign_that_does_not_exist_is_an_error_and_creates_nothing(
    project: Path, run: Run
) -> None:
    result = run("status", "2026-12-schrijve")
    assert result.exit_code == 2
    assert "no campaign '2026-12-schrijve' in campaigns/" in result.output
    assert "did you mean '2026-12-schrijven'" in result.output
    assert not (project / "audience.sqlite3").exists()
    assert "has not been sent" in run("status", CAMPAIGN).output


# -- replies that fail ------------------------------------------------------------------------------


def test_a_451_defers_that_reader_and_the_next_run_delivers_only_to_them(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    fake.fail_rcpt(READERS[1], 451, times=1)
    first = send(run)
    assert first.exit_code == 1
    assert "1 deferred" in first.output
    assert states(sender)[READERS[1]] == "deferred"
    second = send(run)
    assert second.exit_code == 0, second.output
    assert received(fake) == Counter(READERS)  # once each: the resume sent to the deferred reader only
    assert set(states(sender).values()) == {"sent"}


def test_a_deferral_waits_for_its_retry_time(sender: Path, fake: FakeSMTP, run: Run) -> None:
    configure(sender, fake.port, retry_after=3600)
    fake.fail_rcpt(READERS[1], 451, times=1)
    send(run)
    second = send(run)
    assert "nothing to send" in second.output
    assert states(sender)[READERS[1]] == "deferred"
    assert len(fake.messages) == 5


def test_deferred_too_often_becomes_failed(sender: Path, fake: FakeSMTP, run: Run) -> None:
    configure(sender, fake.port, max_attempts=2)
    fake.fail_rcpt(READERS[0], 452)
    send(run)
    send(run)
    [(state, response)] = query(
        sender, "SELECT state, smtp_response FROM sends WHERE email = ?", (READERS[0],)
    )
    assert state == "failed"
    assert str(response).startswith("gave up after 2 attempts")


def test_a_550_user_unknown_fails_that_reader_and_marks_the_address_bounced(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    fake.fail_rcpt(READERS[3], 550, "5.1.1 <lezer4@example.org>: Recipient address rejected: User unknown")
    result = send(run)
    assert result.exit_code == 1
    assert "1 address does not exist" in result.output
    assert states(sender)[READERS[3]] == "failed"
    assert subscriber_status(sender, READERS[3]) == "bounced"
    assert received(fake) == Counter(r for r in READERS if r != READERS[3])
    listed = run("audience", "list", "--status", "bounced", "--history")
    assert re.search(
        rf"{READERS[3]}\s+\S+\s+active\s+bounced\s+send\s+{CAMPAIGN}: .*User unknown", listed.output
    )


def test_a_policy_554_fails_without_bouncing_and_a_552_only_defers(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    fake.fail_rcpt(READERS[0], 554, "5.7.1 Message rejected by policy")
    fake.fail_rcpt(READERS[1], 552, "5.2.2 Mailbox full", times=1)
    send(run)
    assert states(sender)[READERS[0]] == "failed"
    assert subscriber_status(sender, READERS[0]) == "active"
    assert states(sender)[READERS[1]] == "deferred"


def test_a_421_greeting_stops_the_run_with_everyone_left_pending(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    fake.fail_connect(421)
    result = send(run)
    assert result.exit_code == 2
    assert "refused the connection: 421" in result.output
    assert "6 recipients are still pending" in result.output
    assert "Traceback" not in result.output
    assert set(states(sender).values()) == {"pending"}
    assert send(run).exit_code == 0
    assert received(fake) == Counter(READERS)


def test_connection_refused_stops_the_run(sender: Path, fake: FakeSMTP, run: Run) -> None:
    fake.stop()
    result = send(run)
    assert result.exit_code == 2
    assert "cannot talk to the SMTP server 127.0.0.1" in result.output
    assert set(states(sender).values()) == {"pending"}


def test_a_connection_dropped_before_data_is_retried_in_the_same_run(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    fake.drop_before_data(times=1)
    result = send(run)
    assert result.exit_code == 0, result.output
    assert received(fake) == Counter(READERS)
    assert fake.sessions == 2


def test_a_connection_dropped_after_data_leaves_that_reader_unknown_and_unsent_again(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    fake.drop_after_data(times=1)
    result = send(run)
    assert result.exit_code == 1
    assert "1 unknown" in result.output
    assert states(sender)[READERS[0]] == "unknown"
    assert received(fake) == Counter(READERS)  # the server did take it, without saying so
    again = send(run)
    assert again.exit_code == 2  # finished: the unknown one is not resent by itself
    assert f"campaign {CAMPAIGN} was already sent (5 sent, 1 unknown, last activity" in again.stderr
    assert f"`newsletter send {CAMPAIGN} --retry-unknown` sends them again" in again.stderr
    assert f"`newsletter status {CAMPAIGN} --list unknown` lists them" in again.stderr
    assert len(fake.messages) == 6
    retry = send(run, "--retry-unknown")
    assert retry.exit_code == 0, retry.output
    assert received(fake)[READERS[0]] == 2  # the user asked for the possible duplicate


def test_a_reply_without_a_code_after_the_data_leaves_that_reader_unknown(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    """smtplib reads such a reply as code -1; the message went out, so it must not be sent again."""
    fake.garble_after_data(times=1)
    result = send(run)
    assert result.exit_code == 1
    assert states(sender)[READERS[0]] == "unknown"
    assert received(fake) == Counter(READERS)


def test_a_failed_retry_of_unknown_readers_leaves_them_unknown(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    fake.drop_after_data(times=1)
    send(run)
    assert states(sender)[READERS[0]] == "unknown"
    configure(sender, fake.port, max_errors=1)
    fake.drop_before_data(times=1)
    assert send(run, "--retry-unknown").exit_code == 1  # paused after that one error
    assert states(sender)[READERS[0]] == "unknown"  # not `pending`, which a plain run would send
    assert send(run).exit_code == 2  # finished
    assert received(fake)[READERS[0]] == 1


def test_an_unknown_reader_whose_retry_keeps_breaking_off_stays_unknown(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    """Deferred would mean "not delivered", and a plain run would then send a possible duplicate."""
    fake.drop_after_data(times=1)
    send(run)
    fake.drop_before_data(times=2)
    send(run, "--retry-unknown")
    assert states(sender)[READERS[0]] == "unknown"
    send(run)
    assert received(fake)[READERS[0]] == 1


def test_a_reader_whose_transaction_keeps_breaking_off_is_deferred_and_the_rest_get_it(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    """A server that hangs up on one address every time must not hold up the campaign."""
    fake.drop_at_rcpt(READERS[1])
    result = send(run)
    assert result.exit_code == 1
    assert states(sender) == {**dict.fromkeys(READERS, "sent"), READERS[1]: "deferred"}
    assert received(fake) == Counter(READERS) - Counter([READERS[1]])
    assert fake.verbs().count("RCPT") == len(READERS) + 1  # tried once more in the run, then left


def test_no_reader_is_marked_sending_while_the_connection_is_still_being_opened(
    sender: Path, run: Run
) -> None:
    """A sender killed while a slow server greets must leave readers pending, not "maybe sent"."""
    seen: list[dict[str, str]] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)

        def greet_never() -> None:
            connection, _ = listener.accept()
            seen.append(states(sender))  # the sender waits for a greeting now
            connection.close()

        thread = threading.Thread(target=greet_never)
        thread.start()
        configure(sender, listener.getsockname()[1])
        result = send(run)
        thread.join(10)
    assert result.exit_code == 2
    assert seen == [dict.fromkeys(READERS, "pending")]
    assert states(sender) == dict.fromkeys(READERS, "pending")


def test_authentication_failure_stops_the_run(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeSMTP(auth={"nieuwsbrief": "juist"}) as server:
        configure(project, server.port, user="nieuwsbrief")
        monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
        write(project / "one.csv", "email\nlezer@example.org\n")
        run("audience", "import", str(project / "one.csv"), "--consent", "testlijst")
        monkeypatch.delenv("NEWSLETTER_SMTP_PASSWORD", raising=False)
        missing = send(run)
        assert missing.exit_code == 2 and "NEWSLETTER_SMTP_PASSWORD is not set" in missing.output
        monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", "fout")
        wrong = send(run)
        assert wrong.exit_code == 2
        assert "did not accept the user name and password: 535" in wrong.output
        assert "fout" not in wrong.output
        assert states(project) == {"lezer@example.org": "pending"}
        monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", "juist")
        assert send(run).exit_code == 0
        assert server.messages[0].authenticated_as == "nieuwsbrief"


def test_starttls_is_used_and_a_certificate_that_does_not_verify_stops_the_run(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeSMTP(starttls=True) as server:
        configure(project, server.port, security="starttls")
        monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
        write(project / "one.csv", "email\nlezer@example.org\n")
        run("audience", "import", str(project / "one.csv"), "--consent", "testlijst")
        monkeypatch.setenv("SSL_CERT_FILE", str(project / "no-such-ca.pem"))  # trusts nothing
        untrusted = send(run)
        assert untrusted.exit_code == 2
        assert (
            "TLS with the SMTP server" in untrusted.output and "CERTIFICATE_VERIFY_FAILED" in untrusted.output
        )
        assert server.messages == []
        assert server.cafile is not None
        monkeypatch.setenv("SSL_CERT_FILE", server.cafile)
        assert send(run).exit_code == 0
        assert server.messages[0].tls is True


def test_the_server_stopped_mid_run_stops_it_and_a_resume_sends_the_rest_once(
    sender: Path, fake: FakeSMTP
) -> None:
    project = open_project(sender)
    prepared = sending.prepare(project, CAMPAIGN)
    done: list[str] = []

    def stop_after_three(entry: Entry, state: str) -> None:
        done.append(state)
        if len(done) == 3:
            fake.stop()

    report = sending.send(prepared, on_result=stop_after_three)
    assert report.stopped is not None
    assert "cannot talk to the SMTP server" in report.stopped.message
    assert list(states(sender).values()).count("sent") == 3
    assert set(states(sender).values()) == {"sent", "pending"}
    fake.start()
    again = sending.send(prepared)
    assert again.stopped is None
    assert received(fake) == Counter(READERS)


@pytest.mark.parametrize(
    ("code", "state"),
    [(554, "failed"), (421, "deferred")],
    ids=["refused", "server-closing"],
)
def test_repeated_errors_pause_the_run(sender: Path, fake: FakeSMTP, run: Run, code: int, state: str) -> None:
    """Refusals, and a server that closes the connection on every message (421), stop burning the list."""
    configure(sender, fake.port, max_errors=2)
    fake.fail_rcpt(None, code)
    result = send(run)
    assert result.exit_code == 1
    assert "paused: 2 failures in a row" in result.output
    assert Counter(states(sender).values()) == {state: 2, "pending": 4}


def test_deferrals_do_not_pause_the_run_so_a_retry_of_greylisted_readers_reaches_them_all(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    """A 4xx is the reader's mailbox saying "later" (greylisting, full), not a sign the run is broken."""
    configure(sender, fake.port, max_errors=2)
    fake.fail_rcpt(None, 450)
    first = send(run)
    assert first.exit_code == 1
    assert "paused" not in first.output
    assert states(sender) == dict.fromkeys(READERS, "deferred")
    retry = send(run)  # retry_after = 0: all due again, and all greylisted again
    assert "paused" not in retry.output and f"{len(READERS)} deferred" in retry.output
    assert fake.verbs().count("RCPT") == 2 * len(READERS)
    fake.clear_faults()
    assert send(run).exit_code == 0
    assert received(fake) == Counter(READERS)


def test_a_reader_who_unsubscribes_during_a_send_is_skipped(sender: Path, fake: FakeSMTP, run: Run) -> None:
    fake.fail_rcpt(READERS[4], 451, times=1)
    send(run)
    write(sender / "gone.txt", READERS[4] + "\n")
    run("audience", "suppress", str(sender / "gone.txt"))
    result = send(run)
    assert "1 skipped" in result.output
    assert states(sender)[READERS[4]] == "failed"
    assert READERS[4] not in received(fake)


def test_an_internationalised_address_goes_out_with_smtputf8(sender: Path, fake: FakeSMTP, run: Run) -> None:
    write(sender / "idn.csv", "email,name\njörg@bücher.de,Jörg Müller\n")
    run("audience", "import", str(sender / "idn.csv"), "--consent", "testlijst")
    assert send(run).exit_code == 0
    [message] = [m for m in fake.messages if m.rcpt_tos == ["jörg@xn--bcher-kva.de"]]
    assert "SMTPUTF8" in message.mail_options
    assert message.message["To"].addresses[0].display_name == "Jörg Müller"


def test_an_internationalised_domain_is_encoded_as_email_validator_checked_it(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    """IDNA 2008: Python's own codec (IDNA 2003) would send fuß.de's mail to fuss.de."""
    write(sender / "idn.csv", "email,name\njan@fuß.de,Jan\n")
    run("audience", "import", str(sender / "idn.csv"), "--consent", "testlijst")
    assert send(run).exit_code == 0
    [message] = [m for m in fake.messages if m.rcpt_tos == ["jan@xn--fu-hia.de"]]
    assert "SMTPUTF8" not in message.mail_options


# -- what stops a send before it starts ------------------------------------------------------------


def test_failing_checks_stop_a_real_send_unless_forced(sender: Path, fake: FakeSMTP, run: Run) -> None:
    settings = sender / "newsletter.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("\n[smtp]\n", "\n[stripe]\n\n[smtp]\n"))
    result = send(run)
    assert result.exit_code == 2
    assert "is not ready to send: 1 check fails" in result.output
    assert "order-link-fallback (book-1)" in result.output
    assert fake.messages == []
    assert send(run, "--force").exit_code == 0
    assert len(fake.messages) == 6


def test_without_the_unsubscribe_secret_nothing_is_sent_even_when_forced(
    sender: Path, fake: FakeSMTP, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSLETTER_UNSUBSCRIBE_SECRET")
    blocked = send(run)
    assert blocked.exit_code == 2 and "NEWSLETTER_UNSUBSCRIBE_SECRET" in blocked.output
    forced = send(run, "--force")
    assert forced.exit_code == 2 and "NEWSLETTER_UNSUBSCRIBE_SECRET is not set" in forced.output
    assert fake.messages == []


def test_a_real_send_without_smtp_settings_says_what_to_add(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    result = send(run)
    assert result.exit_code == 2
    assert "newsletter.toml: smtp: no [smtp] section" in result.output


def test_a_real_send_asks_for_confirmation(sender: Path, fake: FakeSMTP, run: Run) -> None:
    result = run("send", CAMPAIGN)  # no --yes, and no answer on stdin
    assert result.exit_code != 0
    assert "Send 2026-12-schrijven" in result.output
    assert fake.messages == []


# -- the test send ------------------------------------------------------------------------------------


def test_a_test_send_goes_to_one_address_with_test_in_the_subject_and_is_not_logged(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    result = run("send", CAMPAIGN, "--to", READERS[0])
    assert result.exit_code == 0, result.output
    [message] = fake.messages
    assert message.rcpt_tos == [READERS[0]]
    assert message.message["Subject"].startswith("[TEST] De kunst van het weglaten")
    plain = message.message.get_body(("plain",))
    assert plain is not None and "Beste Lezer," in plain.get_content()  # personalised as that reader
    assert states(sender) == {}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("not-an-address", "--to: invalid address 'not-an-address'"),
        ("", "--to: empty address"),  # `--to "$TESTADDR" --yes` with the variable unset
        ("a@example.org, not-an-address", "--to: invalid address 'not-an-address'"),
    ],
    ids=["invalid", "empty", "one-of-two"],
)
def test_a_test_send_to_a_bad_address_is_refused_and_never_becomes_a_real_send(
    sender: Path, fake: FakeSMTP, run: Run, value: str, reason: str
) -> None:
    result = run("send", CAMPAIGN, "--to", value, "--yes")
    assert result.exit_code == 2
    assert reason in result.output
    assert "--to: --to" not in result.output
    assert fake.messages == []
    assert states(sender) == {}


def test_a_test_send_goes_to_every_address_given_and_to_the_seed_list(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    settings = sender / "newsletter.toml"
    text = settings.read_text(encoding="utf-8").replace(
        "[sender]\n", '[sender]\ntest_recipients = ["redactie@example.org", "Anna@Example.org"]\n', 1
    )
    settings.write_text(text, encoding="utf-8")
    result = run("send", CAMPAIGN, "--to", "anna@example.org, bert@example.org;carla@example.org", "--test")
    assert result.exit_code == 0, result.output
    expected = ["anna@example.org", "bert@example.org", "carla@example.org", "redactie@example.org"]
    assert sorted(to for message in fake.messages for to in message.rcpt_tos) == expected
    assert all(m.message["Subject"].startswith("[TEST] ") for m in fake.messages)
    assert f"sent a test of {CAMPAIGN} to {', '.join(expected)}" in result.output
    assert states(sender) == {}


def test_a_test_send_to_the_seed_list_needs_one(sender: Path, fake: FakeSMTP, run: Run) -> None:
    result = run("send", CAMPAIGN, "--test")
    assert result.exit_code == 2
    assert "--test sends to [sender] test_recipients, and newsletter.toml has none" in result.stderr
    assert fake.messages == []


# -- the rate limiter --------------------------------------------------------------------------------


def test_the_rate_limiter_spaces_messages_evenly() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert slept == [0.25, 0.25, 0.25, 0.25]
    unlimited = RateLimiter(0, clock=lambda: now[0], sleep=sleep)
    unlimited.wait()
    assert len(slept) == 4


def test_a_server_that_always_drops_the_connection_pauses_the_run_instead_of_looping(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    configure(sender, fake.port, max_errors=3)
    fake.drop_before_data(times=None)
    result = send(run)
    assert result.exit_code == 1
    assert "paused: 3 failures in a row" in result.output
    assert set(states(sender).values()) <= {"pending", "deferred"}  # deferred: broke off twice
    assert fake.messages == []


def test_a_451_after_the_data_defers_and_the_message_is_not_counted_as_sent(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    fake.fail_data(451, times=1)
    assert send(run).exit_code == 1
    assert states(sender)[READERS[0]] == "deferred"
    assert send(run).exit_code == 0
    assert received(fake) == Counter(READERS)


def test_a_sender_address_the_server_refuses_stops_the_run_without_failing_readers(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    fake.fail_mail_from(550, "5.7.1 Sender address rejected: not owned by user", times=1)
    result = send(run)
    assert result.exit_code == 2
    assert "sender.address: the SMTP server refused the sender address nieuwsbrief@" in result.output
    assert set(states(sender).values()) == {"pending"}
    assert send(run).exit_code == 0
    assert received(fake) == Counter(READERS)


# -- the run over any transport ----------------------------------------------------------------------


def run_in_memory(project: Path, memory: Memory) -> RunReport:
    """The run of a first send of the campaign, every thread's transport the one `memory`."""
    prepared = sending.prepare(open_project(project), CAMPAIGN)
    database = store_util.database(project)
    with connect(database) as store:
        store.enqueue(CAMPAIGN, select(store, locale="nl"), utc_now())
    composer = sending.make_composer(prepared, SECRET.encode())
    return run(database, CAMPAIGN, composer, sending.smtp_settings(prepared.project), lambda: memory)


def test_the_run_drives_any_transport_here_one_in_memory(sender: Path, fake: FakeSMTP) -> None:
    memory = Memory()
    report = run_in_memory(sender, memory)
    assert report.outcomes == {"sent": len(READERS)}
    assert [message.envelope_to for message in memory.messages] == READERS
    assert states(sender) == dict.fromkeys(READERS, "sent")
    assert fake.messages == []


def test_a_delivery_that_never_reached_the_server_is_retried_once_then_deferred(
    sender: Path, fake: FakeSMTP
) -> None:
    def reply(message: Outgoing) -> Result:
        if message.envelope_to == READERS[1]:
            return Result("pending", None, "broke off", connection_lost=True)
        return Result("sent", 250, "ok")

    memory = Memory(reply)
    run_in_memory(sender, memory)
    assert states(sender) == {**dict.fromkeys(READERS, "sent"), READERS[1]: "deferred"}
    assert [m.envelope_to for m in memory.messages].count(READERS[1]) == 2


def test_a_refused_sender_stops_the_run_with_everyone_pending(sender: Path, fake: FakeSMTP) -> None:
    memory = Memory(lambda message: Result("pending", 550, "MAIL: 550 not yours", sender_refused=True))
    report = run_in_memory(sender, memory)
    assert report.stopped is not None and "refused the sender address" in report.stopped.message
    assert states(sender) == dict.fromkeys(READERS, "pending")
    assert len(memory.messages) == 1


class Unready(Memory):
    def ready(self) -> None:
        raise ConnectionProblem("no connection")


def test_a_transport_that_cannot_get_ready_stops_the_run_before_a_row_says_sending(
    sender: Path, fake: FakeSMTP
) -> None:
    memory = Unready()
    report = run_in_memory(sender, memory)
    assert report.stopped is not None and report.stopped.message == "no connection"
    assert states(sender) == dict.fromkeys(READERS, "pending")
    assert memory.messages == []


def test_a_reader_who_unsubscribes_while_the_run_is_under_way_is_not_mailed(sender: Path) -> None:
    """The run took its rows at the start; the one-click unsubscribe of the last reader arrives while
    the first message is being delivered. The status is read as each row is marked `sending`."""
    import newsletter
    from newsletter.sending.transport import Memory
    from newsletter.store import Result

    project = newsletter.open_project(sender)
    last = READERS[-1]

    def reply(outgoing: Outgoing) -> Result:
        if outgoing.envelope_to == READERS[0]:
            project.suppress([last])  # another connection, as `serve` would
        return Result("sent", 250, "ok")

    memory = Memory(reply)
    report = project.send(CAMPAIGN, transport=lambda: memory, force=True)
    assert report.skipped == 1 and report.outcomes["sent"] == len(READERS) - 1
    assert last not in [outgoing.envelope_to for outgoing in memory.messages]
    assert states(sender)[last] == "failed"


def test_with_a_bounce_address_each_message_has_its_own_verp_envelope_sender(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    settings = sender / "newsletter.toml"
    text = settings.read_text(encoding="utf-8").replace(
        "\n[smtp]\n", '\n[bounces]\naddress = "retour@uitgeverijlindenhof.nl"\n\n[smtp]\n'
    )
    settings.write_text(text, encoding="utf-8")
    assert send(run).exit_code == 0
    logged = {str(m): str(t) for m, t in query(sender, "SELECT message_id, return_token FROM sends")}
    envelopes = {message.message["Message-ID"]: message.mail_from for message in fake.messages}
    assert len(envelopes) == len(READERS) and len(set(envelopes.values())) == len(READERS)
    for message_id, envelope in envelopes.items():
        assert envelope == f"retour+{logged[message_id]}@uitgeverijlindenhof.nl"
        assert re.fullmatch(r"[0-9a-f]{16}", logged[message_id])
    assert all("Return-Path" not in message.message for message in fake.messages)


def test_without_a_bounce_address_the_envelope_sender_is_the_sender(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    assert send(run).exit_code == 0
    assert {message.mail_from for message in fake.messages} == {"nieuwsbrief@uitgeverijlindenhof.nl"}


def test_the_confirmation_says_how_many_readers_and_the_subject_they_get(
    sender: Path, fake: FakeSMTP
) -> None:
    from click.testing import CliRunner

    from newsletter.cli import main

    campaign = sender / "campaigns" / f"{CAMPAIGN}.yaml"
    text = campaign.read_text(encoding="utf-8")
    campaign.write_text(re.sub(r"(?m)^subject: .*$", 'subject: "{first_name}, schrappen is een kunst"', text))
    result = CliRunner().invoke(main, ["--project", str(sender), "send", CAMPAIGN], input="n\n")
    assert result.exit_code == 1  # aborted
    prompt = f"Send {CAMPAIGN} to 6 readers now, subject for {READERS[0]}: 'Lezer, schrappen is een kunst'?"
    assert prompt in result.output
    assert fake.messages == [] and set(states(sender).values()) <= set()
