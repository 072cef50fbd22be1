"""Sending: `send` (dry run, test send, real send), `status` of a send, `unsubscribe verify`."""

from __future__ import annotations

import contextlib
import shlex
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from newsletter.cli.common import (
    EXIT_WARNINGS,
    Context,
    table,
)
from newsletter.errors import NewsletterError, display_path
from newsletter.review.counts import plural
from newsletter.vocabulary import SEND_STATES

if TYPE_CHECKING:
    from newsletter.api import Newsletter
    from newsletter.sending.send import Prepared
    from newsletter.sending.stopping import Stop


SHOWN = 20  # recipients and exclusions printed by a dry run before "... and N more"


@click.command()
@click.argument("campaign_id")
@click.option("--dry-run", is_flag=True, help="Show what would go out and write it to build/<id>/outbox/.")
@click.option("--limit", type=click.IntRange(min=0), help="With --dry-run: write only the first N messages.")
@click.option(
    "--to",
    "to_addresses",
    metavar="ADDRESS",
    multiple=True,
    help="A test send ([TEST] subject) to this address; repeat it, or separate addresses with commas.",
)
@click.option(
    "--test", "to_seeds", is_flag=True, help="A test send to [sender] test_recipients in newsletter.toml."
)
@click.option("--force", is_flag=True, help="Send although the checks that guard a send fail.")
@click.option(
    "--new-subscribers-only", is_flag=True, help="Send a finished campaign to those who subscribed since."
)
@click.option("--retry-unknown", is_flag=True, help="Also resend to recipients whose delivery is unknown.")
@click.option(
    "--test-share",
    metavar="PERCENT",
    help="An A/B test: send the campaign's variants to equal random parts of this share of its audience.",
)
@click.option(
    "--winner",
    type=click.Choice(["auto", "A", "B", "C", "D"]),
    help="End an A/B test: send the rest this variant, or (auto) the one most likely to sell best.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=1,
    show_default=True,
    help="Sender processes on this machine, each with [smtp] connections of its own.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation before a real send.")
@click.pass_obj
def send(
    obj: Context,
    campaign_id: str,
    dry_run: bool,
    limit: int | None,
    to_addresses: tuple[str, ...],
    to_seeds: bool,
    force: bool,
    new_subscribers_only: bool,
    retry_unknown: bool,
    test_share: str | None,
    winner: str | None,
    workers: int,
    yes: bool,
) -> None:
    """Send a campaign to its audience over SMTP, or show what would go out (--dry-run).

    A real send records every recipient in the send log, so running it again resumes: it sends to
    everyone still pending or deferred and to nobody else. The SMTP password comes from
    NEWSLETTER_SMTP_PASSWORD, the unsubscribe signing secret from NEWSLETTER_UNSUBSCRIBE_SECRET.

    Ctrl-C or SIGTERM stops a real send cleanly: it takes no new recipients, lets the messages in
    flight finish, records them and prints the command that resumes. A second one stops at once
    (exit code 130, or 143 for SIGTERM); the messages it cuts off are recorded as unknown.

    A campaign with variants is an A/B test: --test-share 20% sends them to a fifth of its
    audience, `newsletter report` shows which sold more, and --winner auto sends the rest the best
    one once it is likely enough (95 %; --force takes it anyway).

    Several senders share one campaign: --workers N starts N processes here, and the same command
    started on other machines against the same PostgreSQL store joins them. Each reader is taken by
    exactly one; [smtp] rate is their total.

    Exit code 0 when the run went through, 1 when it paused, was stopped or left recipients deferred
    or unknown, or the server refused some, 2 when it could not start or lost its connection to the
    server.
    """
    if limit is not None and not dry_run:
        raise click.UsageError("--limit goes with --dry-run")
    testing = bool(to_addresses) or to_seeds
    if dry_run and testing:
        raise click.UsageError("--to and --test send real test messages; leave out --dry-run")
    project = obj.open()
    prepared = project.prepare(campaign_id)
    if dry_run:
        _report_dry_run(
            project.dry_run(
                prepared,
                limit=limit,
                new_subscribers_only=new_subscribers_only,
                retry_unknown=retry_unknown,
                test_share=test_share,
                winner=winner,
            ),
            project.root,
        )
        return
    if testing:  # even `--to ""` (an unset variable in a script) is never a real send
        addresses = project.test_send(prepared, to_addresses, seeds=to_seeds)
        click.echo(f"sent a test of {campaign_id} to {', '.join(addresses)}")
        return
    flags = [flag for flag, given in (("--retry-unknown", retry_unknown), ("--force", force)) if given]
    _real_send(
        project,
        prepared,
        force=force,
        new_only=new_subscribers_only,
        retry_unknown=retry_unknown,
        yes=yes,
        commands=Commands(obj.project_dir, campaign_id, flags),
        ab=(test_share, winner),
        workers=workers,
    )


class Commands:
    """The commands to print for what comes next, to copy as they are: with --project when this one
    had it, and the resume with the flags that this send needs again."""

    def __init__(self, project_dir: Path | None, campaign_id: str, flags: Sequence[str] = ()) -> None:
        self.prefix = ["newsletter", *(["--project", str(project_dir)] if project_dir is not None else [])]
        self.campaign_id = campaign_id
        self.flags = list(flags)

    def command(self, *words: str) -> str:
        return shlex.join([*self.prefix, *words])

    @property
    def resume(self) -> str:
        return self.command("send", self.campaign_id, *self.flags)

    def unknown_hint(self, unknown: int) -> str:
        """The same words wherever unknown readers are reported: after a run, and by `status`."""
        listing = self.command("status", self.campaign_id, "--list", "unknown")
        retry = self.command("send", self.campaign_id, "--retry-unknown")
        said = f"{unknown} unknown: the server may have accepted them"
        return f"{said}; `{listing}` lists them, `{retry}` resends them"


def _report_dry_run(result: Any, root: Path) -> None:
    from newsletter.sending.send import DryRun

    assert isinstance(result, DryRun)
    rendered = result.prepared.rendered
    found = result.audit
    click.echo(f"dry run of {rendered.campaign.id}: nothing was sent and nothing recorded")
    click.echo(f"subject: {rendered.campaign.subject}")
    click.echo(f"message size: {result.message_bytes / 1024:.1f} KB")
    if found.started:
        counts = ", ".join(f"{n} {state}" for state, n in found.counts.items() if n)
        click.echo(f"send log: {counts}" + (" (finished)" if found.finished else ""))
    variants = found.variants
    shown = found.recipients
    click.echo(f"\nrecipients: {len(shown)}")
    for recipient in shown[:SHOWN]:
        marked = f"  [{variants[recipient.subscriber_id or 0]}]" if variants is not None else ""
        click.echo(f"  {recipient.email}" + (f"  ({recipient.name})" if recipient.name else "") + marked)
    _more(len(shown))
    if variants is not None:
        per_variant = Counter(variants.values())
        for arm in rendered.campaign.variants:
            if arm.name in per_variant:
                readers = plural(per_variant[arm.name], "reader")
                click.echo(f"variant {arm.name}: {readers}, subject {arm.subject!r}")
    excluded = found.plan.excluded
    others = found.plan.other_locales
    click.echo(f"excluded: {len(excluded)}" + (f" (and {others} of other locales)" if others else ""))
    for address, why in excluded[:SHOWN]:
        click.echo(f"  {address}: {why}")
    _more(len(excluded))
    click.echo("\nlinks:")
    click.echo(table(["block", "kind", "url"], [[ln.block, str(ln.kind), ln.url] for ln in rendered.links]))
    blockers = result.prepared.blockers
    click.echo(f"\nchecks that would stop a real send: {len(blockers) or 'none'}")
    for blocker in blockers:
        click.echo(f"  - {blocker}")
    if result.temporary_secret:
        click.echo("(the unsubscribe tokens in the outbox are signed with a throw-away secret)")
    assert result.outbox is not None  # the command's dry run writes the outbox
    where = display_path(result.outbox, root)
    click.echo(f"\nwrote {result.written} of {len(shown)} messages to {where}/")


def _more(total: int) -> None:
    if total > SHOWN:
        click.echo(f"  ... and {total - SHOWN} more")


def _real_send(
    project: Newsletter,
    prepared: Prepared,
    *,
    force: bool,
    new_only: bool,
    retry_unknown: bool,
    yes: bool,
    commands: Commands,
    ab: tuple[str | None, str | None] = (None, None),
    workers: int = 1,
) -> None:
    from newsletter.sending.stopping import Stop, signals_stop

    campaign = prepared.rendered.campaign
    test_share, winner = ab
    if prepared.blockers and force:
        click.secho(
            f"sending despite {plural(len(prepared.blockers), 'failed check')} (--force)",
            fg="yellow",
            err=True,
        )
    if not yes:
        from newsletter.sending.send import subject_for

        readers = project.recipients(prepared, new_subscribers_only=new_only or winner is not None)
        example = (
            f", subject for {readers[0].email}: {subject_for(prepared, readers[0])!r}" if readers else ""
        )
        count = len(readers)
        if test_share is not None:
            from newsletter.sending.ab_test import parse_share

            count = round(count * parse_share(test_share))
            example = f", an A/B test of {len(campaign.variants)} variants"
        elif winner is not None:
            example = f", variant {winner}"
        click.confirm(f"Send {campaign.id} to {plural(count, 'reader')} now{example}?", abort=True, err=True)
    bar: Any = None
    started = time.monotonic()
    drawing = threading.Lock()

    def start(total: int) -> None:
        nonlocal bar, started
        bar = click.progressbar(
            length=total,
            label=f"sending {campaign.id}",
            show_eta=True,
            item_show_func=lambda rate: rate,
            file=sys.stderr,
        )
        bar.__enter__()
        started = time.monotonic()

    def advance(entry: Any, state: str) -> None:
        with drawing:  # called from every sending thread
            if bar is not None:
                rate = (bar.pos + 1) / max(time.monotonic() - started, 1e-6)
                bar.update(1, f"{rate:.0f} messages/s")

    stop = Stop()
    smtp = project.settings.smtp
    # The signals stay the run's until the summary is printed: a second one while it prints still
    # ends the command with the exit code of a second signal, after the summary, not halfway.
    with signals_stop(stop, _signal_note(smtp.timeout if smtp is not None else 0)):
        try:
            report = project.send(
                prepared,
                force=force,
                new_subscribers_only=new_only,
                retry_unknown=retry_unknown,
                on_start=start,
                on_result=advance,
                stop=stop,
                test_share=test_share,
                winner=winner,
                workers=workers,
            )
        finally:
            stop.finished = True
            if bar is not None:
                bar.__exit__(None, None, None)
        _summarise(report, project, commands, stop)


def _signal_note(timeout: float) -> Callable[[Stop], None]:
    """What the user sees the moment a signal arrives, before the run has stopped."""

    def tell(stop: Stop) -> None:
        if stop.finished:  # the run is over: nothing left to stop, the exit code says what was asked
            return
        if stop.aborted:
            text = "stopping at once" + (
                f": cutting off the {plural(stop.in_flight, 'message')} in flight" if stop.in_flight else ""
            )
        else:
            text = (
                "stopping: no new recipients; finishing the messages in flight (each within the SMTP "
                f"timeout, {timeout:g} s); a second Ctrl-C or SIGTERM stops at once"
            )
        with contextlib.suppress(RuntimeError):  # stderr was mid-write in this thread: skip the note
            click.echo(f"\n{text}", err=True)

    return tell


def _summarise(report: Any, project: Newsletter, commands: Commands, stop: Stop) -> None:
    outcomes = ", ".join(f"{n} {state}" for state, n in sorted(report.outcomes.items())) or "nothing to send"
    click.echo(f"{report.campaign}: {outcomes} in {report.seconds:.1f} s ({report.rate:.0f} messages/s)")
    if report.bounced:
        click.echo(f"{plural(report.bounced, 'address does', 'addresses do')} not exist: marked bounced")
    if report.skipped:
        click.echo(f"{report.skipped} skipped: unsubscribed or bounced since the send began")
    if report.recovered_unknown:
        being = plural(report.recovered_unknown, "was", "were")
        click.echo(f"{being} being sent when an earlier run stopped: delivery unknown")
    after = project.status(report.campaign)
    counts, retry = after.counts, after.next_retry
    click.echo("send log: " + ", ".join(f"{n} {state}" for state, n in counts.items() if n))
    if report.interrupted:
        _report_stop(report, stop, counts, commands.resume)
    elif report.stopped is not None:
        stopped = report.stopped
        hint = f"{counts['pending']} recipients are still pending; run `{commands.resume}` again to resume"
        raise NewsletterError(
            stopped.message,
            path=stopped.path,
            field=stopped.field,
            hint="; ".join(filter(None, [stopped.hint, hint])),
        )
    if report.paused and not report.interrupted:
        click.secho(f"paused: {report.paused}", fg="yellow", err=True)
        click.echo(f"run `{commands.resume}` again to resume", err=True)
    if counts["deferred"]:
        click.echo(f"{counts['deferred']} deferred; they are retried by a run after {retry}", err=True)
    if counts["unknown"]:
        click.echo(commands.unknown_hint(counts["unknown"]), err=True)
    if stop.aborted and stop.signal is not None:
        sys.exit(128 + stop.signal)  # as a shell reports a process that signal ended, as the docs say
    if after.needs_attention(report):
        sys.exit(EXIT_WARNINGS)


def _report_stop(report: Any, stop: Stop, counts: dict[str, int], resume: str) -> None:
    """Say what a stopped run did with the messages in flight, and how to go on."""
    if report.aborted and stop.cut_off:
        what = "the messages in flight were cut off; those the server may have are recorded as unknown"
    elif report.aborted:
        what = "no message was in flight"
    else:
        finished = plural(report.finished_after_stop, "message")
        what = f"no new recipients taken; the {finished} in flight finished and recorded"
    how = f"{report.interrupted} again" if report.aborted else report.interrupted
    click.secho(f"stopped ({how}): {what}", fg="yellow", err=True)
    if report.stopped is not None:
        click.echo(f"and: {report.stopped.message}", err=True)
    left = counts["pending"] + counts["deferred"]
    click.echo(f"{plural(left, 'recipient')} still to send; resume with: {resume}", err=True)


@click.command()
@click.argument("campaign_id")
@click.option(
    "--list",
    "list_states",
    multiple=True,
    type=click.Choice(SEND_STATES),
    help="Also list the recipients in this state. Repeatable.",
)
@click.pass_obj
def status(obj: Context, campaign_id: str, list_states: tuple[str, ...]) -> None:
    """How far the sending of a campaign got: recipients per state in the send log.

    Recipients whose transaction a stopped or crashed sender left unfinished are unknown.
    """
    found = obj.open().status(campaign_id, list_states)
    counts = found.counts
    if not any(counts.values()):
        click.echo(f"{campaign_id} has not been sent")
        return
    click.echo(table(["state", "recipients"], [[state, str(n)] for state, n in counts.items()]))
    if found.sending_now:
        click.echo(f"{campaign_id} is being sent now, by {plural(found.senders, 'sender')}")
    if counts["unknown"]:
        click.echo(Commands(obj.project_dir, campaign_id).unknown_hint(counts["unknown"]))
    if found.rows:
        click.echo("")
        rows = [[r.email, r.state, str(r.attempts), r.smtp_response, r.updated_at] for r in found.rows]
        click.echo(table(["email", "state", "attempts", "last reply", "updated"], rows))


@click.group()
def unsubscribe() -> None:
    """One-click unsubscribe tokens (the links in List-Unsubscribe and the footer)."""


@unsubscribe.command("verify")
@click.argument("token")
@click.option("--apply", is_flag=True, help="Also unsubscribe the address, as the website would.")
@click.pass_obj
def unsubscribe_verify(obj: Context, token: str, apply: bool) -> None:
    """Check a token from an unsubscribe URL and show whom it unsubscribes.

    Needs NEWSLETTER_UNSUBSCRIBE_SECRET, the secret the token was signed with. Exit code 2 when the
    token is damaged or forged.
    """
    project = obj.open()
    if apply:
        done = project.unsubscribe(token)
        state = "unsubscribed" if done.changed else "already unsubscribed"
        click.echo(f"{done.token.email}: {state} (campaign {done.token.campaign_id})")
        return
    checked = project.read_token(token)
    click.echo(f"valid token for {checked.email}, from campaign {checked.campaign_id}")
