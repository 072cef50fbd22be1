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
import tempfile
from datetime import datetime
from typing import IO, TYPE_CHECKING

from newsletter.errors import NewsletterError, NewsletterErrors
from newsletter.project.validation import printable
from newsletter.store import timestamp

if TYPE_CHECKING:
    from newsletter.project.settings import Project
    from newsletter.site.writer import SiteReport

_SHOWN_OUTPUT = 600  # characters of a failed command's output in the error
_READ_OUTPUT = 64 * 1024  # bytes of the output's end read to find them (the rest is never in memory)


def publish_web_version(project: Project, campaign_id: str, now: datetime) -> SiteReport:
    """Build the campaign, publish it in build/site/ as of `now`, and run the publish command."""
    from newsletter.build import build
    from newsletter.site.writer import CampaignProblems, update_site

    report = build(project, [campaign_id], site=False)
    if report.errors:
        raise report.errors[0]
    try:
        site = update_site(project.root, None, project, going_out={campaign_id: timestamp(now)})
    except CampaignProblems as problems:  # the site lists every published campaign: it needs them all
        summary = NewsletterError(
            f"the web version could not be published: {len(problems.errors)} problem(s) in other "
            "campaign files, and the site shows every published campaign",
            hint="fix them (`newsletter build` lists them), then run the same send again; nothing was sent",
        )
        raise NewsletterErrors([summary, *problems.errors]) from None
    run_publish_command(project)
    return site


def run_publish_command(project: Project) -> None:
    """The command's output goes to a temporary file, not a pipe: a pipe is read until every process
    holding it closes it, so a child the command leaves running (ssh's ControlPersist master behind
    rsync) would hold up the send until the timeout and fail it, and a command that prints without
    end would fill the memory. The wait is for the command alone."""
    settings = project.settings.site
    command = settings.publish_command
    if command is None:
        return
    with tempfile.TemporaryFile() as output:
        try:
            done = subprocess.run(
                command,
                cwd=project.root,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
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
            shown = _output_end(output, project)
            raise _failed(project, f"it exited with {done.returncode}" + (f": {shown}" if shown else ""))


def _output_end(output: IO[bytes], project: Project) -> str:
    """The end of what the command printed, as one line: the project's secrets (in the command's
    environment, which a script run with `set -x` or `env` prints) hidden, and control characters
    escaped, so that binary junk can neither garble the terminal nor forge a line of the error."""
    size = output.seek(0, 2)
    output.seek(max(0, size - _READ_OUTPUT))
    text = output.read().decode("utf-8", "replace")
    secrets = project.secrets
    for secret in (secrets.unsubscribe, secrets.smtp_password, secrets.webhook, secrets.stripe_api_key):
        if secret.strip():
            text = text.replace(secret, "[secret]")
    return printable(" ".join(text.split())[-_SHOWN_OUTPUT:])


def _failed(project: Project, why: str) -> NewsletterError:
    return NewsletterError(
        f"the web version could not be published: {why}",
        path=project.root / "newsletter.toml",
        field="site.publish_command",
        hint="nothing was sent; fix the command (or remove it) and run the same send again",
    )
