"""A real send puts the web version online before the first message leaves (sending/publishing.py)."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from tests.conftest import Run
from tests.smtp_fake import FakeSMTP
from tests.test_sending_run import CAMPAIGN, READERS, fake, send, sender, states

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
