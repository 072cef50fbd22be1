"""Ctrl-C and SIGTERM during a real send: a clean pause, never a duplicate.

The sender is a real `python -m newsletter send` process and the signals are real signals, sent by
the kernel; the SMTP server lives in this (the test) process and answers each message slowly (it
records the message, then waits before its 250), so every signal finds transactions in flight whose
messages the server already has. Its `messages` are the ground truth: after a stop and a resume,
every reader has received exactly one message.

Nothing here waits with a fixed sleep: the test polls the send log and reads the sender's output,
each with a bound, and fails with what it saw when the bound passes.
"""

from __future__ import annotations

import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from newsletter.sending.stopping import Stop, signals_stop
from newsletter.store import connect
from tests.conftest import Run, write
from tests.smtp_fake import FakeSMTP, configure
from tests.test_sending_run import received, states

CAMPAIGN = "2026-12-schrijven"
SECRET = "a-test-secret-of-enough-length"
READERS = [f"lezer{n:02d}@example.org" for n in range(1, 13)]
CONNECTIONS = 2
SLOW_REPLY = 0.3  # seconds the server takes to answer each message: the window for the signal
POLL = 0.01
BOUND = 15.0  # seconds any wait here may take before the test gives up


@pytest.fixture
def fake() -> Iterator[FakeSMTP]:
    with FakeSMTP(data_delay=SLOW_REPLY) as server:
        yield server


@pytest.fixture
def sender(project: Path, fake: FakeSMTP, run: Run, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Twelve Dutch readers, sent over two connections to the slow server."""
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    configure(project, fake.port, connections=CONNECTIONS, max_errors=50)
    write(project / "readers.csv", "email,locale\n" + "".join(f"{a},nl\n" for a in READERS))
    assert run("audience", "import", str(project / "readers.csv"), "--consent", "testlijst").exit_code == 0
    return project


class Sender:
    """`newsletter send --yes` in its own process, its output (stdout and stderr) read as it comes."""

    def __init__(self, project: Path, *args: str) -> None:
        env = {key: value for key, value in os.environ.items() if key != "NEWSLETTER_SMTP_PASSWORD"}
        env["NEWSLETTER_UNSUBSCRIBE_SECRET"] = SECRET
        command = [sys.executable, "-m", "newsletter", "--project", str(project), "send", CAMPAIGN, "--yes"]
        self.project = project
        self.process = subprocess.Popen(
            [*command, *args],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()

    @property
    def output(self) -> str:
        with self.changed:
            return "".join(self.lines)

    def wait_for_line(self, text: str) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: any(text in line for line in self.lines), BOUND):
                self.kill()
                pytest.fail(f"no line with {text!r} after {BOUND} s:\n{''.join(self.lines)}")

    def wait_for_sent(self, count: int) -> None:
        """Until the send log has `count` readers sent; fails if the sender ends first."""
        deadline = time.monotonic() + BOUND
        while list(states(self.project).values()).count("sent") < count:
            if self.process.poll() is not None:
                pytest.fail(f"the sender exited ({self.process.returncode}) first:\n{self.output}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"not {count} sent after {BOUND} s: {Counter(states(self.project).values())}")
            time.sleep(POLL)

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def wait(self, timeout: float = BOUND) -> int:
        code = self.process.wait(timeout=timeout)
        self.reader.join(BOUND)
        return code

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def resume_command(project: Path, *flags: str) -> str:
    return shlex.join(["newsletter", "--project", str(project), "send", CAMPAIGN, *flags])


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_pauses_the_send_cleanly_and_the_resume_mails_everyone_once(
    sender: Path, fake: FakeSMTP, run: Run, number: signal.Signals
) -> None:
    process = Sender(sender)
    process.wait_for_sent(2)
    process.signal(number)
    code = process.wait()
    output = process.output

    assert code == 1, output
    assert "stopping: no new recipients; finishing the messages in flight" in output
    assert f"stopped ({number.name}): no new recipients taken;" in output
    assert f"resume with: {resume_command(sender)}\n" in output
    assert "Traceback" not in output
    log = Counter(states(sender).values())
    assert log["unknown"] == log["sending"] == 0, log
    assert log["pending"] > 0, log  # it did stop before the end
    sent = [address for address, state in states(sender).items() if state == "sent"]
    # Every message the server has is recorded `sent`: the transactions in flight were finished.
    assert received(fake) == Counter(sent)

    fake.data_delay = 0
    resumed = run("send", CAMPAIGN, "--yes")
    assert resumed.exit_code == 0, resumed.output
    assert received(fake) == Counter(READERS)  # everyone exactly once
    assert set(states(sender).values()) == {"sent"}


def test_a_second_signal_stops_at_once_and_records_what_was_cut_off(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    """The server would take far longer than the test waits to answer; the second Ctrl-C does not wait."""
    fake.data_delay = 10 * BOUND
    process = Sender(sender)
    fake.wait_for(CONNECTIONS, timeout=BOUND)  # a message in flight on each connection
    process.signal(signal.SIGINT)
    process.wait_for_line("stopping: no new recipients")
    cut_at = time.monotonic()
    process.signal(signal.SIGINT)
    code = process.wait()
    output = process.output

    assert code == 128 + signal.SIGINT, output
    assert time.monotonic() - cut_at < BOUND / 2
    assert f"stopping at once: cutting off the {CONNECTIONS} messages in flight" in output
    assert f"resume with: {resume_command(sender)}\n" in output
    log = states(sender)
    in_flight = {message.rcpt_tos[0] for message in fake.messages}
    assert {address for address, state in log.items() if state == "unknown"} == in_flight
    assert Counter(log.values()) == {"unknown": CONNECTIONS, "pending": len(READERS) - CONNECTIONS}
    assert f"{CONNECTIONS} unknown: the server may have accepted them" in output

    fake.data_delay = 0
    assert run("send", CAMPAIGN, "--yes").exit_code == 1  # done, but for the unknown readers
    assert received(fake) == Counter(READERS)  # the cut-off readers were not sent again


def test_status_shows_a_dead_senders_rows_as_unknown_and_a_live_ones_as_sending(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    fake.data_delay = 0
    assert run("send", CAMPAIGN, "--yes").exit_code == 0
    with sqlite3.connect(sender / "audience.sqlite3") as db:  # what a SIGKILL mid-transaction leaves
        db.execute("UPDATE sends SET state = 'sending' WHERE email IN (?, ?)", READERS[:2])

    after_crash = run("status", CAMPAIGN, "--list", "unknown")
    assert after_crash.exit_code == 0, after_crash.output
    lines = after_crash.output.splitlines()
    assert "unknown   2" in lines and "sending   0" in lines
    assert (
        f"2 unknown: the server may have accepted them; `newsletter --project {sender} status {CAMPAIGN} "
        f"--list unknown` lists them, `newsletter --project {sender} send {CAMPAIGN} --retry-unknown` "
        "resends them"
    ) in lines
    listed = [line.split()[:2] for line in lines if line.startswith(READERS[0][:5])]
    assert listed == [[READERS[0], "unknown"], [READERS[1], "unknown"]]
    assert "the sender stopped during the SMTP transaction" in after_crash.output

    with connect(sender / "audience.sqlite3") as store:  # a sender at work right now: this process
        store.take_lease("live", CAMPAIGN)
        live = run("status", CAMPAIGN)
        store.end_lease(CAMPAIGN, "live", datetime.now(UTC))
    assert "sending   2" in live.output.splitlines()
    assert f"{CAMPAIGN} is being sent now, by 1 sender" in live.output


def test_signals_request_the_stop_only_while_installed() -> None:
    """The handlers are the run's for its duration; the previous ones are back afterwards."""
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    stop = Stop()
    told: list[int] = []
    with signals_stop(stop, lambda stop: told.append(stop.requests)):
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGINT)
    assert (stop.requested, stop.aborted, stop.signal_name, told) == (True, True, "SIGINT", [1, 2])
    assert {number: signal.getsignal(number) for number in before} == before


def test_a_signal_the_process_was_told_to_ignore_stays_ignored() -> None:
    """A background job started with SIGTERM ignored (as `nohup` does for SIGHUP) keeps sending."""
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        stop = Stop()
        with signals_stop(stop):
            signal.raise_signal(signal.SIGTERM)
        assert not stop.requested
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_second_request_when_nothing_is_in_flight_exits_as_documented(
    sender: Path, fake: FakeSMTP, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The two signals come after the last message finished, as the run winds down: no message is cut
    off, none is said to be, and the exit code is still the second signal's (143 for SIGTERM)."""
    from newsletter.api import Newsletter

    sent = Newsletter.send

    def signalled_twice_at_the_end(self: Newsletter, *args: Any, **kwargs: Any) -> Any:
        report = sent(self, *args, **kwargs)
        kwargs["stop"].request(signal.SIGTERM)
        kwargs["stop"].request(signal.SIGTERM)
        return report

    monkeypatch.setattr(Newsletter, "send", signalled_twice_at_the_end)
    result = run("send", CAMPAIGN, "--yes")
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert "cutting off" not in result.output
    assert received(fake) == Counter(READERS)
