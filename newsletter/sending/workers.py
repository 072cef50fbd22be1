"""`send --workers N`: one campaign sent by N processes of this machine at once, each a run of its
own (run.py) with its own lease, its own `[smtp] connections` and its share of `[smtp] rate`.

Processes, not threads: composing a message (the reader's links, the MIME tree, a DKIM signature)
is Python work, and one process composes on one core. The first process forks the others once the
campaign is queued, then sends beside them; the rows are shared through the send log's claims, so
more senders, on this machine or on others, can join at any time with a plain `send ID`.

The children ignore Ctrl-C: the parent alone hears the user and passes each stop request on as a
SIGTERM, so that a Ctrl-C from the terminal (which reaches the whole process group) counts once,
not once for the parent and once more for each child. A child whose parent is gone (killed with
SIGKILL, say) stops as if asked. What each child sends, and its report, come back over a queue
that never blocks a sending thread, so the parent's progress bar and summary speak for all.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import FrameType
from typing import Any

from newsletter.errors import NewsletterError
from newsletter.sending.run import JOIN_SLICE, RunReport
from newsletter.sending.stopping import Stop
from newsletter.store import Entry

Work = Callable[[Stop, Callable[[Entry, str], None]], RunReport]


def run_workers(
    count: int,
    campaign: str,
    work: Work,
    stop: Stop,
    on_result: Callable[[Entry, str], None],
) -> RunReport:
    """`work` in this process and in `count - 1` forked ones; their reports summed."""
    context = multiprocessing.get_context("fork")
    channel = context.Queue()
    parent = os.getpid()
    children = [
        context.Process(target=_child, args=(work, channel, parent), name=f"sender-{number}", daemon=False)
        for number in range(1, count)
    ]
    for child in children:
        child.start()
    reports: list[RunReport] = []
    problems: list[str] = []
    drain = threading.Thread(target=_drain, args=(channel, on_result, reports, problems), daemon=True)
    drain.start()
    forwarding = threading.Event()
    forward = threading.Thread(target=_forward, args=(stop, children, forwarding), daemon=True)
    forward.start()
    try:
        own = work(stop, on_result)
    except NewsletterError as problem:  # this process could not send; the others may have
        own = RunReport(campaign, stopped=problem)
    finally:
        for child in children:
            child.join()
        forwarding.set()
        channel.put(None)  # the drain ends even when a child died without its report
        drain.join()
    for child in children:
        if child.exitcode != 0:
            problems.append(f"worker {child.name} ended with exit code {child.exitcode}")
    total = merge(campaign, [own, *reports])
    if problems and total.stopped is None:
        total = replace(
            total,
            stopped=NewsletterError(
                "; ".join(problems),
                hint="its rows in flight are unknown and the rest go on with the others; run the "
                "same command again to send what is left",
            ),
        )
    return total


def merge(campaign: str, reports: list[RunReport]) -> RunReport:
    """The reports of several runs of one campaign as one."""
    total = RunReport(campaign)
    for report in reports:
        total.attempted += report.attempted
        total.outcomes.update(report.outcomes)
        total.bounced += report.bounced
        total.skipped += report.skipped
        total.recovered_unknown += report.recovered_unknown
        total.paused = total.paused or report.paused
        total.stopped = total.stopped or report.stopped
        total.interrupted = total.interrupted or report.interrupted
        total.aborted = total.aborted or report.aborted
        total.finished_after_stop += report.finished_after_stop
        total.cut_off += report.cut_off
        total.seconds = max(total.seconds, report.seconds)
    return total


def _child(work: Work, channel: Any, parent: int) -> None:
    """A forked sender: its own stop, asked by the parent's SIGTERM, or by the parent's death."""
    stop = Stop()
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.request(signum)

    signal.signal(signal.SIGTERM, handle)
    channel.cancel_join_thread()  # with nobody reading any more, exiting must not wait to write
    threading.Thread(target=_orphaned, args=(parent, stop), daemon=True).start()
    try:
        report = work(stop, lambda entry, state: channel.put(("result", entry, state)))
    except NewsletterError as problem:
        channel.put(("problem", f"worker {os.getpid()}: {problem.format()}"))
        raise SystemExit(2) from None
    if report.stopped is not None:  # plain text: an error's own attributes need not pickle
        report = replace(report, stopped=NewsletterError(report.stopped.format()))
    channel.put(("report", report))


def _orphaned(parent: int, stop: Stop) -> None:
    """Asks the child to stop, once, when its parent is gone: nobody would read its results or pass
    the user's stop on."""
    while os.getppid() == parent:
        time.sleep(JOIN_SLICE)
    stop.request(signal.SIGTERM)


def _drain(
    channel: Any,
    on_result: Callable[[Entry, str], None],
    reports: list[RunReport],
    problems: list[str],
) -> None:
    while (message := channel.get()) is not None:
        kind = message[0]
        if kind == "result":
            on_result(message[1], message[2])
        elif kind == "report":
            reports.append(message[1])
        else:
            problems.append(message[1])


def _forward(stop: Stop, children: list[multiprocessing.process.BaseProcess], done: threading.Event) -> None:
    """Each stop request of the parent, passed on to the children as a SIGTERM."""
    passed = 0
    while not done.wait(JOIN_SLICE):
        while passed < stop.requests:
            passed += 1
            for child in children:
                if child.pid is not None and child.exitcode is None:
                    os.kill(child.pid, signal.SIGTERM)
