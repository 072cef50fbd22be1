"""Before the first message of a real send leaves, its web version is online.

Most readers who click "Bekijk deze e-mail in je browser" do so minutes after the email arrives; the
web version must not be a 404 then, nor wait for someone to run `newsletter build`. So a real send
first builds the campaign (as `newsletter build ID` would, skipped when unchanged), writes the static
site with the campaign published as of now, and runs `[site] publish_command` (an `rsync` to the web
server, say): without a shell, in the project folder, within `[site] publish_timeout`. When the command
fails, nothing is sent: the send can be run again once it works.
"""

from __future__ import annotations

import subprocess
from datetime import datetime
from typing import TYPE_CHECKING

from newsletter.errors import NewsletterError
from newsletter.store import timestamp

if TYPE_CHECKING:
    from newsletter.project.settings import Project
    from newsletter.site.writer import SiteReport

_SHOWN_OUTPUT = 600  # characters of a failed command's output in the error


def publish_web_version(project: Project, campaign_id: str, now: datetime) -> SiteReport:
    """Build the campaign, publish it in build/site/ as of `now`, and run the publish command."""
    from newsletter.build import build
    from newsletter.site.writer import update_site

    report = build(project, [campaign_id], site=False)
    if report.errors:
        raise report.errors[0]
    site = update_site(project.root, None, project, going_out={campaign_id: timestamp(now)})
    run_publish_command(project)
    return site


def run_publish_command(project: Project) -> None:
    settings = project.settings.site
    command = settings.publish_command
    if command is None:
        return
    try:
        done = subprocess.run(
            command,
            cwd=project.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=settings.publish_timeout,
            check=False,
        )
    except FileNotFoundError:
        raise _failed(project, f"there is no program {command[0]!r}") from None
    except PermissionError:
        raise _failed(project, f"{command[0]!r} may not be run") from None
    except subprocess.TimeoutExpired:
        raise _failed(
            project, f"it took longer than {settings.publish_timeout:g} s (publish_timeout)"
        ) from None
    if done.returncode != 0:
        output = " ".join((done.stderr or done.stdout).split())[-_SHOWN_OUTPUT:]
        raise _failed(project, f"it exited with {done.returncode}" + (f": {output}" if output else ""))


def _failed(project: Project, why: str) -> NewsletterError:
    return NewsletterError(
        f"the web version could not be published: {why}",
        path=project.root / "newsletter.toml",
        field="site.publish_command",
        hint="nothing was sent; fix the command (or remove it) and run the same send again",
    )
