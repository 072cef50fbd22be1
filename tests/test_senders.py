"""Several senders of one campaign (leases.py, sendlog.py's claims, workers.py), on both engines.

Each reader is taken by exactly one sender: rows are claimed in batches and marked `sending` only
while they still name their sender. A sender's lease tells a row in flight from one left by a sender
that died: on this machine at once (its process is gone), elsewhere when its heartbeat is too old.
The last test is the issue's: three senders of 5,000 readers, two SIGKILLed at random points and
restarted, every reader mailed once or reported `unknown`, never twice.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsletter.store import INTERRUPTED, TAKEN, Location, PostgresDatabase, Result, Store, connect, timestamp
from newsletter.store.leases import LEASE_SECONDS, Lease, this_machine
from tests.conftest import Run, write
from tests.smtp_fake import FakeSMTP, configure
from tests.store_util import query, select

CAMPAIGN = "2026-12-schrijven"
SECRET = "a-test-secret-of-enough-length"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BOUND = 60.0  # seconds any wait here may take before the test gives up
POLL = 0.005


@pytest.fixture
def location(tmp_path: Path, engine_url: str | None) -> Location:
    return tmp_path / "db.sqlite3" if engine_url is None else PostgresDatabase(engine_url)


def readers(store: Store, count: int) -> None:
    with store.transaction():
        for n in range(count):
            store.add_subscriber(
                f"lezer{n:04d}@example.org",
                name="",
                locale="nl",
                tags=(),
                status="active",
                source="t",
                stamp="x",
            )
    store.enqueue("c", select(store), NOW)


def elsewhere(store: Store, lease_id: str, silent: float = 0) -> None:
    """A lease of a sender on another machine, last heard of `silent` seconds ago by the database's
    clock (which every heartbeat is written and judged by)."""
    heartbeat = timestamp(store.database_now() - timedelta(seconds=silent))
    with store.transaction():
        store.connection.execute(
            "INSERT INTO senders (id, campaign, host, pid, process_start, started_at, heartbeat_at)"
            " VALUES (?, 'c', 'other-host/boot/ns', 1, '', ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            (lease_id, heartbeat, heartbeat),
        )


# -- claims and leases, in the store ----------------------------------------------------------------


def test_two_senders_claim_disjoint_batches_until_none_is_left(location: Location) -> None:
    with connect(location) as store:
        readers(store, 7)
        store.take_lease("a", "c")
        store.take_lease("b", "c")
        first, _ = store.claim("c", "a", NOW, 3)
        second, _ = store.claim("c", "b", NOW, 3)
        third, _ = store.claim("c", "a", NOW, 3)
        fourth, _ = store.claim("c", "b", NOW, 3)
    ids = [[e.subscriber_id for e in batch] for batch in (first, second, third, fourth)]
    assert [len(batch) for batch in ids] == [3, 3, 1, 0]
    flat = [i for batch in ids for i in batch]
    assert len(set(flat)) == 7
    assert {e.sender for e in first + third} == {"a"} and {e.sender for e in second} == {"b"}


def test_a_row_another_sender_took_back_is_not_marked_sending(location: Location) -> None:
    """The claim is checked in the transaction that marks the row: a sender taken for dead (a pause
    longer than the lease) finds its rows gone and sends nothing of them."""
    with connect(location) as store:
        readers(store, 1)
        elsewhere(store, "slow")
        [entry], _ = store.claim("c", "slow", NOW, 10)
        elsewhere(store, "slow", silent=LEASE_SECONDS + 1)  # a frozen laptop
        store.take_lease("b", "c")
        [taken], _ = store.claim("c", "b", NOW, 10)  # "slow" is silent too long: its row goes to b
        assert taken.subscriber_id == entry.subscriber_id
        assert store.mark_sending(entry, "<slow>", NOW) == TAKEN
        assert store.mark_sending(taken, "<b>", NOW) is None
        [row] = store.send_rows("c", ["sending"])
    assert row.message_id == "<b>"


def test_a_dead_senders_rows_in_flight_become_unknown_and_its_claims_go_back(location: Location) -> None:
    with connect(location) as store:
        readers(store, 4)
        elsewhere(store, "dead")
        claimed, _ = store.claim("c", "dead", NOW, 4)
        assert store.mark_sending(claimed[0], "<m>", NOW) is None
        elsewhere(store, "dead", silent=LEASE_SECONDS + 1)
        store.take_lease("alive", "c")
        taken, recovered = store.claim("c", "alive", NOW, 10)
        [unknown] = store.send_rows("c", ["unknown"])
        leases = [lease.id for lease in store.leases("c")]
    assert recovered == 1 and unknown.smtp_response == INTERRUPTED
    assert [e.subscriber_id for e in taken] == [e.subscriber_id for e in claimed[1:]]
    assert leases == ["alive"]


def test_a_sender_elsewhere_that_keeps_its_heartbeat_keeps_its_rows(location: Location) -> None:
    with connect(location) as store:
        readers(store, 2)
        elsewhere(store, "busy")
        store.claim("c", "busy", NOW, 1)
        elsewhere(store, "busy", silent=LEASE_SECONDS - 5)
        store.take_lease("b", "c")
        taken, recovered = store.claim("c", "b", NOW, 10)
        assert sorted(lease.id for lease in store.live_senders("c")) == ["b", "busy"]
    assert (len(taken), recovered) == (1, 0)


def test_a_row_sent_meanwhile_by_another_way_is_not_marked_again(location: Location) -> None:
    """The welcome mailer of `serve` and a `send` of the welcome campaign may hold the same row: the
    row is marked `sending` only in the state it was taken in."""
    with connect(location) as store:
        readers(store, 1)
        [entry] = store.due("c", NOW)
        assert store.mark_sending(entry, "<first>", NOW) is None
        store.record_result(entry, Result("sent", 250, "ok"), NOW, retry_after=60, max_attempts=3)
        assert store.mark_sending(entry, "<again>", NOW) == TAKEN
        [row] = store.send_rows("c", ["sent"])
    assert row.message_id == "<first>"


def test_on_this_machine_a_sender_whose_process_is_gone_is_dead_at_once(location: Location) -> None:
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    gone = int(process.stdout)
    lease = Lease("x", "c", this_machine(), gone, "1", timestamp(NOW), timestamp(datetime.now(UTC)))
    assert not lease.alive(datetime.now(UTC))
    with connect(location) as store:
        store.take_lease("me", "c")  # this process: alive however old its heartbeat
        [me] = store.leases("c")
    assert me.host == this_machine() and me.alive(datetime.now(UTC) + timedelta(days=1))
    elsewhere_without_proc = Lease("y", "c", this_machine(), gone, "", "", timestamp(datetime.now(UTC)))
    assert elsewhere_without_proc.alive(datetime.now(UTC))  # no process start known: the heartbeat decides
    assert not elsewhere_without_proc.alive(datetime.now(UTC) + timedelta(seconds=LEASE_SECONDS + 1))


# -- senders through the command line ----------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        yield server


def project_with(project: Path, run: Run, fake: FakeSMTP, count: int, **smtp: object) -> Path:
    configure(project, fake.port, rate=0, max_errors=1000, **smtp)
    rows = "".join(f"lezer{n:04d}@example.org,Lezer {n},nl\n" for n in range(count))
    write(project / "readers.csv", "email,name,locale\n" + rows)
    result = run("audience", "import", str(project / "readers.csv"), "--consent", "testlijst")
    assert result.exit_code == 0, result.output
    return project


def received(fake: FakeSMTP) -> Counter[str]:
    return Counter(address for message in fake.messages for address in message.rcpt_tos)


def log_states(project: Path) -> Counter[str]:
    return Counter(
        str(state) for (state,) in query(project, "SELECT state FROM sends WHERE campaign = ?", (CAMPAIGN,))
    )


@pytest.mark.usefixtures("both_engines")
def test_workers_share_the_list_and_mail_each_reader_once(
    project: Path, run: Run, fake: FakeSMTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    project_with(project, run, fake, 300, connections=2)
    result = run("send", CAMPAIGN, "--yes", "--workers", "3")
    assert result.exit_code == 0, result.output
    assert received(fake) == Counter({f"lezer{n:04d}@example.org": 1 for n in range(300)})
    assert log_states(project) == {"sent": 300}
    assert "300 sent" in result.output
    assert query(project, "SELECT COUNT(*) FROM senders") == [(0,)]  # every lease ended
    senders = {message.peer for message in fake.messages}
    assert len(senders) >= 3, "three processes, two connections each: more than one connection"


@pytest.mark.usefixtures("both_engines")
def test_a_second_sender_joins_a_running_send(project: Path, run: Run, fake: FakeSMTP) -> None:
    """The same command started twice (on two machines, say) shares the list instead of refusing."""
    project_with(project, run, fake, 120, connections=1)
    fake.data_delay = 0.03  # 120 messages take about 4 s: the second sender starts in the middle
    first = start_sender(project)
    deadline = time.monotonic() + BOUND
    while len(fake.messages) < 5:
        assert first.poll() is None and time.monotonic() < deadline, output_of(first)
        time.sleep(POLL)
    status = run("status", CAMPAIGN)
    assert f"{CAMPAIGN} is being sent now, by 1 sender" in status.output
    second = start_sender(project)
    outputs = [output_of(process) for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert received(fake) == Counter({f"lezer{n:04d}@example.org": 1 for n in range(120)})
    assert log_states(project) == {"sent": 120}


@pytest.mark.usefixtures("both_engines")
def test_a_stop_reaches_every_worker_and_the_resume_mails_everyone_once(
    project: Path, run: Run, fake: FakeSMTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM to the command reaches its workers as one request: each finishes what is in flight."""
    project_with(project, run, fake, 80, connections=1)
    fake.data_delay = 0.05
    process = start_sender(project, "--workers", "2")
    deadline = time.monotonic() + BOUND
    while len(fake.messages) < 4:
        assert process.poll() is None and time.monotonic() < deadline, output_of(process)
        time.sleep(POLL)
    process.send_signal(signal.SIGTERM)
    output = output_of(process)
    assert process.returncode == 1, output
    assert "stopped (SIGTERM)" in output and "Traceback" not in output
    states = log_states(project)
    assert states["sending"] == states["unknown"] == 0 and states["pending"] > 0, states
    sent = {str(email) for (email,) in query(project, "SELECT email FROM sends WHERE state = 'sent'")}
    assert received(fake) == Counter(sent)  # every message the server has is recorded sent
    fake.data_delay = 0
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)
    resumed = run("send", CAMPAIGN, "--yes", "--workers", "2")
    assert resumed.exit_code == 0, resumed.output
    assert received(fake) == Counter({f"lezer{n:04d}@example.org": 1 for n in range(80)})


@pytest.mark.usefixtures("both_engines")
def test_workers_whose_parent_is_killed_stop_cleanly(project: Path, run: Run, fake: FakeSMTP) -> None:
    """SIGKILL of `send --workers` (the OOM killer, kill -9): its workers notice, finish what is in
    flight, end their leases and exit, and a resume mails the rest once."""
    project_with(project, run, fake, 80, connections=1)
    fake.data_delay = 0.05
    process = start_sender(project, "--workers", "3")
    deadline = time.monotonic() + BOUND
    while len(fake.messages) < 6:
        assert process.poll() is None and time.monotonic() < deadline, output_of(process)
        time.sleep(POLL)
    process.kill()
    process.wait(timeout=BOUND)
    while query(project, "SELECT COUNT(*) FROM senders") != [(1,)]:  # the parent's own lease stays
        assert time.monotonic() < deadline + BOUND, query(project, "SELECT id, pid FROM senders")
        time.sleep(POLL)
    fake.data_delay = 0
    resumed = start_sender(project)
    assert output_of(resumed) and resumed.returncode in (0, 1)
    got = received(fake)
    assert max(got.values()) == 1 and query(project, "SELECT COUNT(*) FROM senders") == [(0,)]
    assert set(log_states(project)) <= {"sent", "unknown"}


def start_sender(project: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if key != "NEWSLETTER_SMTP_PASSWORD"}
    env["NEWSLETTER_UNSUBSCRIBE_SECRET"] = SECRET
    command = [
        sys.executable,
        "-m",
        "newsletter",
        "--project",
        str(project),
        "send",
        CAMPAIGN,
        "--yes",
        *args,
    ]
    return subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def output_of(process: subprocess.Popen[bytes]) -> str:
    output, _ = process.communicate(timeout=BOUND)
    return output.decode("utf-8", "replace")


# -- the crash test of the issue ---------------------------------------------------------------------

CRASH_READERS = 5_000
SENDERS = 3
KILLED = 2
SEED = 20261208


def test_three_senders_two_killed_and_restarted_mail_everyone_once_or_unknown(
    project: Path, run: Run, fake: FakeSMTP, postgres_url: str
) -> None:
    """On PostgreSQL: three `send` processes on 5,000 readers, two SIGKILLed when the server holds
    a (seeded) random number of messages and started again; then whatever is left is sent by a last
    run. The server in this process is the truth of who received what. (One sender killed again
    and again is test_crash.py, on both engines.)"""
    settings = project / "newsletter.toml"
    settings.write_text(f'{settings.read_text()}\n[audience]\ndatabase = "{postgres_url}"\n')
    project_with(project, run, fake, CRASH_READERS, connections=2)
    rng = random.Random(SEED)
    senders = [start_sender(project) for _ in range(SENDERS)]
    kill_at = sorted(rng.randrange(300, CRASH_READERS - 1_500) for _ in range(KILLED))
    restarted = []
    for number, threshold in enumerate(kill_at):
        deadline = time.monotonic() + BOUND
        while len(fake.messages) < threshold:
            assert time.monotonic() < deadline, f"{len(fake.messages)} messages after {BOUND} s"
            time.sleep(POLL)
        time.sleep(rng.uniform(0, 0.01))
        victim = senders[number]
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(timeout=BOUND) == -signal.SIGKILL
        restarted.append(start_sender(project))
    survivors = [*senders[KILLED:], *restarted]
    outputs = [output_of(process) for process in survivors]
    assert all(process.returncode in (0, 1) for process in survivors), outputs
    if {"pending", "deferred", "sending"} & set(log_states(project)):  # a dead sender's claims, if
        last = start_sender(project)  # the others had finished before they could take them back
        outputs.append(output_of(last))
        assert last.returncode in (0, 1), outputs[-1]

    got = received(fake)
    twice = {address: n for address, n in got.items() if n > 1}
    assert not twice, f"received more than once: {twice}"
    rows = {
        str(email): (str(state), message_id)
        for email, state, message_id in query(
            project, "SELECT email, state, message_id FROM sends WHERE campaign = ?", (CAMPAIGN,)
        )
    }
    states = Counter(state for state, _ in rows.values())
    assert len(rows) == CRASH_READERS and set(states) <= {"sent", "unknown"}, states
    assert states["unknown"] <= KILLED * 2, states  # at most the transactions in flight at each kill
    assert all(got[address] == 1 for address, (state, _) in rows.items() if state == "sent")
    for message in fake.messages:  # what arrived is the message the log names
        assert message.message["Message-ID"] == rows[message.rcpt_tos[0]][1]
    assert query(project, "SELECT COUNT(*) FROM senders") == [(0,)]
