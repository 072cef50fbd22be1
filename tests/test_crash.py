"""The sender killed with SIGKILL at random points of a 500-recipient send, several times, then resumed.

The promise the send log makes (sendlog.py, run.py): however the sender dies, a resumed send
mails nobody twice and loses nobody; the only cost of a crash is a few `unknown` rows (the message
was going out when the process died), which are reported and never resent without being asked.

The sender is a real `python -m newsletter send` process, so the kill is a real SIGKILL with no
chance to clean up: no `finally`, no rollback, the SQLite file and the flock left as the kernel
leaves them. The SMTP server lives in this (the test) process, so it outlives every sender and its
`messages` are the ground truth of who received what. Kills are not timed with sleeps, which would
make the test slow on a fast machine and flaky on a slow one: each kill waits until the server has
received a (seeded) random number of messages, so it lands mid-run wherever the sender happens to be
(composing, committing `sending`, in the SMTP transaction, or committing the outcome).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Run, write
from tests.smtp_fake import FakeSMTP
from tests.store_util import query

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("both_engines")

CAMPAIGN = "2026-12-schrijven"
SECRET = "a-test-secret-of-enough-length"
RECIPIENTS = 500
KILLS = 4
CONNECTIONS = 2
SEED = 20261201
POLL = 0.005  # seconds between looks at the server's message count while waiting to kill
KILL_WITHIN = 10.0  # seconds a run may take to reach its kill point before the test gives up
RUN_TIMEOUT = 30.0  # seconds the final (unkilled) run may take
READERS = [f"lezer{n:03d}@example.org" for n in range(1, RECIPIENTS + 1)]


@pytest.fixture
def fake() -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        yield server


@pytest.fixture
def sender(project: Path, fake: FakeSMTP, run: Run) -> Path:
    """The sample project with 500 Dutch readers and [smtp] pointing at the fake, without a rate limit.

    Two connections, so a kill can catch two transactions in flight at once; a high max_errors, so a
    slow moment never pauses the run and hides what the kills did.
    """
    settings = project / "newsletter.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8")
        + f'\n[smtp]\nhost = "127.0.0.1"\nport = {fake.port}\nsecurity = "none"\n'
        f"connections = {CONNECTIONS}\nrate = 0\nretry_after = 0\nmax_errors = 1000\n",
        encoding="utf-8",
    )
    rows = [f"{address},Lezer {n},nl," for n, address in enumerate(READERS, start=1)]
    write(project / "readers.csv", "email,name,locale,tags\n" + "\n".join(rows) + "\n")
    result = run("audience", "import", str(project / "readers.csv"), "--consent", "testlijst")
    assert result.exit_code == 0, result.output
    return project


def start_sender(project: Path) -> subprocess.Popen[bytes]:
    """`newsletter send --yes` in its own process, as a user (or cron) would run it."""
    env = {key: value for key, value in os.environ.items() if key != "NEWSLETTER_SMTP_PASSWORD"}
    env["NEWSLETTER_UNSUBSCRIBE_SECRET"] = SECRET
    command = [sys.executable, "-m", "newsletter", "--project", str(project), "send", CAMPAIGN, "--yes"]
    return subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def kill_when_received(
    process: subprocess.Popen[bytes], fake: FakeSMTP, threshold: int, jitter: float
) -> int:
    """SIGKILL the sender `jitter` seconds after the server holds `threshold` messages; returns the
    count at the kill.

    The server records a message just before its 250 reply, so killing at once would nearly always
    catch the sender between that reply and its `sent` commit; the jitter (0-10 ms, a few messages at
    most against this server) moves the kill to other points of the loop.
    Fails the test if the sender exits on its own first: a kill that never happened tests nothing.
    """
    deadline = time.monotonic() + KILL_WITHIN
    while len(fake.messages) < threshold:
        if process.poll() is not None:
            output = process.stdout.read().decode("utf-8", "replace") if process.stdout else ""
            pytest.fail(f"the sender exited ({process.returncode}) before message {threshold}:\n{output}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(
                f"no kill point: {len(fake.messages)} messages after {KILL_WITHIN} s, not {threshold}"
            )
        time.sleep(POLL)
    time.sleep(jitter)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=5) == -signal.SIGKILL
    if process.stdout is not None:
        process.stdout.close()
    return len(fake.messages)


def finish(project: Path) -> list[tuple[int, str]]:
    """Resume without kills until nothing is left pending; returns each run's exit code and output.

    Exit 1 is expected while unknown rows remain (the CLI reports them); 2 or a crash is a failure.
    """
    runs: list[tuple[int, str]] = []
    for _ in range(3):
        process = start_sender(project)
        output, _ = process.communicate(timeout=RUN_TIMEOUT)
        text = output.decode("utf-8", "replace")
        runs.append((process.returncode, text))
        assert process.returncode in (0, 1), text
        if not open_rows(project):
            return runs
    pytest.fail(f"still open after {len(runs)} uninterrupted runs: {open_rows(project)}\n{runs[-1][1]}")


def log_rows(project: Path) -> dict[str, tuple[str, str | None]]:
    """address -> (state, message id) from the campaign's send log."""
    found = query(project, "SELECT email, state, message_id FROM sends WHERE campaign = ?", (CAMPAIGN,))
    return {str(email): (str(state), None if mid is None else str(mid)) for email, state, mid in found}


def open_rows(project: Path) -> Counter[str]:
    """Rows a later run still has to deal with: pending, deferred or sending."""
    return Counter(
        state for state, _ in log_rows(project).values() if state in ("pending", "deferred", "sending")
    )


def test_a_send_killed_at_random_points_and_resumed_mails_everyone_once_except_unknown(
    sender: Path, fake: FakeSMTP
) -> None:
    rng = random.Random(SEED)
    # One kill point in each of KILLS equal slices of the list, so the kills spread over the whole send
    # (early, middle, late) while each run still has to make progress before it is killed.
    slice_size = RECIPIENTS // (KILLS + 1)
    thresholds = [rng.randrange(k * slice_size + 1, (k + 1) * slice_size) for k in range(KILLS)]
    jitters = [rng.uniform(0, 0.01) for _ in thresholds]
    reached = [
        kill_when_received(start_sender(sender), fake, threshold, jitter)
        for threshold, jitter in zip(thresholds, jitters, strict=True)
    ]
    assert len(reached) == KILLS
    runs = finish(sender)

    log = log_rows(sender)
    received = Counter(address for message in fake.messages for address in message.rcpt_tos)
    states = Counter(state for state, _ in log.values())
    unknown = sorted(address for address, (state, _) in log.items() if state == "unknown")
    context = f"kills after {reached} messages; states {dict(states)}; last run:\n{runs[-1][1]}"

    assert all(len(message.rcpt_tos) == 1 for message in fake.messages)
    twice = {address: n for address, n in received.items() if n > 1}
    assert not twice, f"received more than once: {twice}; {context}"
    assert set(received) <= set(READERS)
    assert sorted(log) == sorted(READERS), context
    assert set(states) <= {"sent", "unknown"}, context  # nothing pending, deferred, failed or sending
    assert len(unknown) <= KILLS * CONNECTIONS, context  # at most the transactions in flight at each kill
    sent = [address for address, (state, _) in log.items() if state == "sent"]
    missing = [address for address in sent if received[address] != 1]
    assert not missing, f"logged sent but not received: {missing}; {context}"
    # What arrived is the message the log names: the Message-ID committed with `sending` before the
    # transaction, for a sent row and for an unknown row the server did accept.
    for message in fake.messages:
        address = message.rcpt_tos[0]
        assert message.message["Message-ID"] == log[address][1], address
    assert runs[-1][0] == (1 if unknown else 0), runs[-1][1]
    if unknown:
        assert f"{len(unknown)} unknown" in runs[-1][1]
