"""Whatever else runs, a reader who leaves is answered at once and never mailed afterwards.

`newsletter serve`, a real send to a slow SMTP server on loopback and a large `audience import` run at
the same time, each in a process of its own, as they would on a publisher's machine. Readers far down
the send's queue unsubscribe by one-click POST while both others hold the database by turns: every
POST must be answered 200, and no reader whose unsubscribe was answered may be marked `sending` (and
so mailed) after it. How fast the answers come is measured in bench/bench_unsubscribe.py, not here.
"""

from __future__ import annotations

import http.client
import os
import selectors
import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.audience.unsubscribe import make_token
from tests.conftest import Run, write
from tests.smtp_fake import FakeSMTP, configure
from tests.store_util import database, query, select

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("both_engines")

CAMPAIGN = "2026-12-schrijven"
SECRET = "a-test-secret-of-enough-length"
READERS = [f"lezer{n:03d}@example.org" for n in range(300)]
LEAVING = READERS[200:250]  # reached by the sender seconds after they have left
IMPORTED = 30_000
BOUNDED = 120.0  # seconds any process may take before the test gives up on it


def _newsletter(project: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """A command in its own process, its output to files (a pipe nobody reads could fill and stop it)."""
    command = [sys.executable, "-m", "newsletter", "--project", str(project), *args]
    name = project / f"{args[0]}.out"
    with name.open("w") as out, name.with_suffix(".err").open("w") as err:
        return subprocess.Popen(
            command, env=env, stdout=out if args[0] != "serve" else subprocess.PIPE, stderr=err, text=True
        )


def _output(project: Path, command: str) -> str:
    return (project / f"{command}.out").read_text() + (project / f"{command}.err").read_text()


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first line the process prints, waited for at most `timeout` seconds."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError("the server printed nothing")
    return process.stdout.readline()


def _post(port: int, token: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            f"/nieuwsbrief/afmelden?token={token}",
            body=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_readers_who_leave_during_a_send_and_an_import_are_answered_and_not_mailed(
    project: Path, run: Run
) -> None:
    write(project / "readers.csv", "email,name\n" + "\n".join(f"{r},Lezer" for r in READERS) + "\n")
    assert run("audience", "import", str(project / "readers.csv"), "--consent", "testlijst").exit_code == 0
    ids = {s.email: s.id for s in select(database(project))}
    rows = "\n".join(f"nieuw{n}@example.com,Nieuw {n},en" for n in range(IMPORTED))
    big = write(project / "big.csv", "email,name,locale\n" + rows + "\n")
    env = {**os.environ, "NEWSLETTER_UNSUBSCRIBE_SECRET": SECRET}
    env.pop("NEWSLETTER_SMTP_PASSWORD", None)
    with FakeSMTP(data_delay=0.02) as smtp:
        configure(project, smtp.port)
        server = _newsletter(project, "serve", "--port", "0", env=env)
        try:
            port = int(_first_line(server, BOUNDED).split("http://127.0.0.1:")[1].split("/")[0])
            sender = _newsletter(project, "send", CAMPAIGN, "--yes", "--force", env=env)
            smtp.wait_for(20, timeout=BOUNDED)
            importer = _newsletter(project, "audience", "import", str(big), "--consent", "testlijst", env=env)
            answered: dict[str, int] = {}
            mailed_before: set[str] = set()
            for reader in LEAVING:
                answered[reader] = _post(port, make_token(reader, CAMPAIGN, SECRET.encode(), ids[reader]))
                mailed_before |= {to for message in smtp.messages for to in message.rcpt_tos}
            assert importer.wait(BOUNDED) == 0, _output(project, "audience")
            assert sender.wait(BOUNDED) == 0, _output(project, "send")
        finally:
            server.terminate()
            server.wait(BOUNDED)
    assert answered == dict.fromkeys(LEAVING, 200), "every one-click POST is answered, none refused"
    assert not mailed_before & set(LEAVING), "the test must unsubscribe readers the sender has not reached"
    mailed = {to for message in smtp.messages for to in message.rcpt_tos}
    assert mailed == set(READERS) - set(LEAVING)
    failed = query(project, "SELECT email, smtp_response FROM sends WHERE state = 'failed'")
    states = {str(email): str(response) for email, response in failed}
    [(imported,)] = query(project, "SELECT COUNT(*) FROM subscribers WHERE locale = 'en'")
    assert states == dict.fromkeys(LEAVING, "not sent: the subscriber is unsubscribed now")
    assert imported == IMPORTED
