"""A real send puts the web version online before the first message leaves (sending/publishing.py)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Run
from tests.smtp_fake import FakeSMTP
from tests.test_sending_run import CAMPAIGN, READERS, SECRET, fake, send, sender, states

__all__ = ["fake", "sender"]  # the fixtures, used by name

WEB_VERSION = Path("build/site/nieuwsbrief") / CAMPAIGN / "index.html"


def publish_with(project: Path, *command: str, timeout: float | None = None) -> None:
    settings = project / "newsletter.toml"
    lines = [f"publish_command = {json.dumps(list(command))}"]
    if timeout is not None:
        lines.append(f"publish_timeout = {timeout}")
    section = "\n[site]\n" + "\n".join(lines) + "\n\n[smtp]\n"
    settings.write_text(settings.read_text(encoding="utf-8").replace("\n[smtp]\n", section), encoding="utf-8")


def test_the_web_version_is_online_before_the_first_message(sender: Path, fake: FakeSMTP, run: Run) -> None:
    """No `newsletter build` ran: the send builds and publishes the campaign, then the command copies
    the site (here: lists what it finds), and only then do messages go out."""
    script = (
        "import pathlib; "
        "pathlib.Path('published.txt').write_text(str(sorted(pathlib.Path('build/site').rglob('*.html'))))"
    )
    publish_with(sender, sys.executable, "-c", script)
    assert not (sender / "build").exists()
    result = send(run)
    assert result.exit_code == 0, result.output
    published = (sender / "published.txt").read_text()
    assert repr(WEB_VERSION) in published
    assert len(fake.messages) == len(READERS)
    page = (sender / WEB_VERSION).read_text(encoding="utf-8")
    assert "<title>De kunst van het weglaten" in page


def test_a_failing_publish_command_sends_nothing(sender: Path, fake: FakeSMTP, run: Run) -> None:
    settings = sender / "newsletter.toml"
    without = settings.read_text(encoding="utf-8")
    publish_with(sender, sys.executable, "-c", "import sys; sys.exit('rsync: connection refused')")
    result = send(run)
    assert result.exit_code == 2
    assert (
        "error: newsletter.toml: site.publish_command: the web version could not be published: "
        "it exited with 1" in result.stderr
    )
    assert "rsync: connection refused" in result.stderr and "nothing was sent" in result.stderr
    assert fake.messages == []
    assert set(states(sender).values()) == {"pending"}
    settings.write_text(without, encoding="utf-8")
    again = send(run)
    assert again.exit_code == 0, again.output
    assert len(fake.messages) == len(READERS)


def test_a_publish_command_that_hangs_or_is_missing_sends_nothing(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    publish_with(sender, sys.executable, "-c", "import time; time.sleep(30)", timeout=0.5)
    slow = send(run)
    assert slow.exit_code == 2 and "it took longer than 0.5 s (publish_timeout)" in slow.stderr
    assert fake.messages == []
    with sqlite3.connect(sender / "audience.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM sends WHERE state != 'pending'").fetchone()[0] == 0


def test_a_publish_command_that_leaves_a_child_running_is_not_waited_for(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    """rsync over ssh with ControlPersist leaves ssh's master running, its output still open: the
    command is done when it exits, not when every process it started has closed the output."""
    script = (
        "import subprocess, sys, pathlib; "
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "pathlib.Path('child.pid').write_text(str(child.pid)); print('published')"
    )
    publish_with(sender, sys.executable, "-c", script, timeout=20)
    try:
        started = time.monotonic()
        result = send(run)
        assert result.exit_code == 0, result.output
        assert time.monotonic() - started < 15
        assert len(fake.messages) == len(READERS)
    finally:
        os.kill(int((sender / "child.pid").read_text()), signal.SIGKILL)


def test_a_failed_publish_command_shows_no_secret_and_no_control_characters(
    sender: Path, fake: FakeSMTP, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deploy script run with `set -x`, or one that prints its environment, shows the project's
    secrets: the error hides them. Binary junk is escaped, and a huge output is never held whole."""
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", "smtp password of the list")
    script = (
        "import os, sys; sys.stdout.write('x' * 50_000_000); sys.stdout.flush(); "
        "sys.stderr.buffer.write(b'\\x1b[2J\\x07' + bytes(range(256))); "
        "print(os.environ['NEWSLETTER_SMTP_PASSWORD'], os.environ['NEWSLETTER_UNSUBSCRIBE_SECRET'],"
        " file=sys.stderr); sys.exit(5)"
    )
    publish_with(sender, sys.executable, "-c", script)
    result = send(run)
    assert result.exit_code == 2 and "it exited with 5" in result.stderr
    assert "smtp password of the list" not in result.stderr and SECRET not in result.stderr
    assert "[secret] [secret]" in result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr and "\\x1b" in result.stderr
    assert fake.messages == []
    assert set(states(sender).values()) == {"pending"}


def test_a_broken_campaign_file_elsewhere_keeps_the_site_and_the_send_back(
    sender: Path, fake: FakeSMTP, run: Run
) -> None:
    """The site lists every published campaign, so it cannot be written past a broken file: the send
    says so, names the file, and sends nothing."""
    (sender / "campaigns" / "2027-01-kapot.yaml").write_text("subject: [\n", encoding="utf-8")
    result = send(run)
    assert result.exit_code == 2
    assert "the web version could not be published: 1 problem(s) in other campaign files" in result.stderr
    assert "2027-01-kapot.yaml" in result.stderr
    assert fake.messages == []
