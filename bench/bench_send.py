"""How fast does `newsletter send` go, and how much memory does it take? A report, not a test: exits 0.

Run: `.venv/bin/python bench/bench_send.py [--quick] [--tmp DIR] [--json FILE]` (about 3 minutes;
--quick leaves out the 100,000-recipient real send, --tmp /dev/shm takes the disk out of the dry run).

Three questions, each with a goal from the sending issue:

- delivery: messages per second through the real send path (`sending.send`: audit, send log, worker
  threads, one SMTP transaction per recipient) to a local SMTP sink, rendering left out. The sink is a
  minimal asyncio server in its own process, so it does not compete for our GIL: we measure our side.
- assembly: messages per second built by `Composer.compose` alone, and by the dry run, which also
  writes each one as an .eml file, for 100,000 recipients.
- memory: the peak resident size of a dry run and a real send at 10,000 and 100,000 recipients. A
  list ten times longer may cost its rows (the goal: under a kilobyte each), nothing per message.

Every measurement runs in a fresh process, so each peak (VmHWM) is that measurement's own and no
cache or import of one run helps the next. Only errors of the tool itself stop the report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from bench_build import copy_project  # the same sample-project copy as the build benchmark

from newsletter.audience.importing import import_csv
from newsletter.project.settings import open_project
from newsletter.sending import send as sending
from newsletter.sending.message import Recipient
from newsletter.store import database_location

SAMPLE = "2026-12-schrijven"
SECRET = "a-bench-secret-of-enough-length"
SPAWN = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited threads or memory
T = TypeVar("T")


@dataclass(frozen=True)
class Row:
    """One line of the report. `goal` is a bound in `unit`: a floor when `at_least`, else a ceiling."""

    name: str
    value: float
    unit: str
    goal: float | None = None
    at_least: bool = False
    note: str = ""

    @property
    def status(self) -> str:
        if self.goal is None:
            return ""
        met = self.value >= self.goal if self.at_least else self.value < self.goal
        return "ok" if met else "MISSED"


# -- the SMTP sink (its own process) -------------------------------------------------------------------


class CountingSink(asyncio.Protocol):
    """Just enough SMTP for smtplib, every command accepted, every message counted and thrown
    away, every RCPT address counted (who they were for is kept).

    Hand-rolled rather than aiosmtpd so the sink is never the bottleneck: it only scans for the end of
    the data, without parsing or copying a message."""

    def __init__(self, rcpts: Counter[str], messages: list[int]) -> None:
        self.rcpts = rcpts
        self.messages = messages
        self.buffer = b""
        self.in_data = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    self.buffer = self.buffer[-4:]  # the end marker may straddle two chunks
                    return
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                self.messages[0] += 1
                self.transport.write(b"250 2.0.0 OK\r\n")
            else:
                end = self.buffer.find(b"\r\n")
                if end < 0:
                    return
                line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
                self.command(line)

    def command(self, line: bytes) -> None:
        assert self.transport is not None
        verb = line[:4].upper()
        if verb == b"EHLO":
            self.transport.write(b"250-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 52428800\r\n")
        elif verb == b"RCPT":
            address = line.partition(b"<")[2].partition(b">")[0]
            self.rcpts[address.decode("utf-8", "replace").lower()] += 1
            self.transport.write(b"250 OK\r\n")
        elif verb in (b"HELO", b"MAIL", b"RSET", b"NOOP"):
            self.transport.write(b"250 OK\r\n")
        elif verb == b"DATA":
            self.transport.write(b"354 go ahead\r\n")
            self.in_data = True
            self.buffer = b"\r\n" + self.buffer  # so an empty message's lone "." line is found too
        elif verb == b"QUIT":
            self.transport.write(b"221 bye\r\n")
            self.transport.close()
            self.transport = None
        else:
            self.transport.write(b"502 not implemented\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def serve_sink(control: Connection) -> None:
    """The sink process: sends its port, serves until told to stop, then sends what it received."""

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        rcpts: Counter[str] = Counter()
        messages = [0]
        stop = asyncio.Event()
        server = await loop.create_server(lambda: CountingSink(rcpts, messages), "127.0.0.1", 0)
        control.send(server.sockets[0].getsockname()[1])
        threading.Thread(
            target=lambda: (control.recv(), loop.call_soon_threadsafe(stop.set)), daemon=True
        ).start()
        async with server:
            await stop.wait()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        control.send((messages[0], dict(rcpts), usage.ru_utime + usage.ru_stime))

    asyncio.run(serve())


class Sink:
    """The sink process from the parent's side: `with Sink() as sink:` ... `sink.port`, `sink.received()`."""

    def __init__(self) -> None:
        self.control, child = SPAWN.Pipe()
        self.process = SPAWN.Process(target=serve_sink, args=(child,), daemon=True)
        self.process.start()
        self.port = int(self.control.recv())

    def received(self) -> tuple[int, Counter[str], float]:
        """Stop the sink; the messages it accepted, how often each address was a recipient, and the
        CPU seconds it used."""
        self.control.send("stop")
        count, rcpts, cpu = self.control.recv()
        self.process.join(timeout=5)
        return int(count), Counter(rcpts), float(cpu)

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


# -- the measurements (each in a fresh process) ------------------------------------------------------


def in_fresh_process(function: Callable[..., T], *args: Any) -> T:
    """Run `function(*args)` in a new interpreter and return its result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=SPAWN) as pool:
        return pool.submit(function, *args).result()


def peak_mb() -> float:
    """This process's peak resident size so far, in MiB.

    VmHWM, not ru_maxrss, where Linux has it: the kernel carries ru_maxrss across fork and exec, so a
    spawned child would report at least the parent's size at the fork (here: the parent that imported
    100,000 subscribers), hiding the child's own, smaller peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux; bytes on macOS


def make_project(dest: Path, recipients: int, smtp_port: int | None = None) -> tuple[Path, float]:
    """A copy of the sample project with `recipients` Dutch subscribers imported from a CSV file; returns
    it and the import time in seconds (context: a big list must not take long to load either)."""
    root = copy_project(dest)
    if smtp_port is not None:
        configure_smtp(root, smtp_port)
    csv = root / "subscribers.csv"
    with csv.open("w", encoding="utf-8") as out:
        out.write("email,name,locale,tags\n")
        out.writelines(f"lezer{n:06d}@example.org,Lezer {n},nl,\n" for n in range(recipients))
    project = open_project(root)
    started = time.perf_counter()
    database = database_location(project)
    report = import_csv(database, csv, default_locale="nl", source="bench", consent="testlijst")
    seconds = time.perf_counter() - started
    if report.added != recipients or report.bad:
        raise RuntimeError(f"import added {report.added} of {recipients}; bad rows: {report.bad[:3]}")
    return root, seconds


def configure_smtp(root: Path, port: int) -> None:
    settings = root / "newsletter.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8")
        + f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nrate = 0\nmax_errors = 1000\n',
        encoding="utf-8",
    )


def measure_send(root: Path) -> dict[str, float]:
    """A real send of the whole list, as `newsletter send --yes` does it (render and checks included)."""
    os.environ["NEWSLETTER_UNSUBSCRIBE_SECRET"] = SECRET
    os.environ.pop("NEWSLETTER_SMTP_PASSWORD", None)
    started = time.perf_counter()
    prepared = sending.prepare(open_project(root), SAMPLE)
    prepared_at = time.perf_counter()
    baseline = peak_mb()
    report = sending.send(prepared)
    ended = time.perf_counter()
    if report.stopped or report.paused or set(report.outcomes) != {"sent"}:
        raise RuntimeError(f"the send did not go through: {report}")
    return {
        "sent": report.outcomes["sent"],
        "run_seconds": report.seconds,  # run.run: the worker threads at work
        "send_seconds": ended - prepared_at,  # sending.send: audit, send log and the run
        "total_seconds": ended - started,  # with rendering the campaign
        "baseline_mb": baseline,
        "peak_mb": peak_mb(),
    }


def measure_compose(root: Path, recipients: int) -> dict[str, float]:
    """`Composer.compose` alone for `recipients` made-up readers: the CPU cost of one message."""
    os.environ["NEWSLETTER_UNSUBSCRIBE_SECRET"] = SECRET
    prepared = sending.prepare(open_project(root), SAMPLE)
    composer = sending.make_composer(prepared, SECRET.encode())
    readers = [Recipient(f"lezer{n:06d}@example.org", f"Lezer {n}", n) for n in range(recipients)]
    size = 0
    started = time.perf_counter()
    for reader in readers:
        size = len(composer.compose(reader).data)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "bytes": size, "peak_mb": peak_mb()}


def measure_dry_run(root: Path) -> dict[str, float]:
    """`newsletter send --dry-run` twice: every message built and written to the outbox, nothing sent.

    The second run is the usual one after an edit: it also replaces the first run's outbox. Dirty pages
    are flushed before each run, so one run's disk writes are not charged to the next.
    """
    os.environ["NEWSLETTER_UNSUBSCRIBE_SECRET"] = SECRET
    prepared = sending.prepare(open_project(root), SAMPLE)
    baseline = peak_mb()
    figures = {"baseline_mb": baseline}
    for run in ("first", "again"):
        os.sync()
        started = time.perf_counter()
        result = sending.dry_run(prepared)
        figures[f"{run}_seconds"] = time.perf_counter() - started
        figures.setdefault("peak_mb", peak_mb())  # the first run's, from a heap the list never grew
        figures["written"] = result.written
        assert result.outbox is not None
        outbox: Path = result.outbox
        del result
    shutil.rmtree(outbox)  # a 100,000-file outbox is gigabytes
    return figures


# -- the report ----------------------------------------------------------------------------------------


Peak = tuple[int, float, float]  # recipients, peak MB, MB before the first recipient was read


def bench_send(tmp: Path, recipients: int) -> tuple[list[Row], Peak]:
    """Rows for a real send of `recipients`, and its memory."""
    with Sink() as sink:
        root, import_s = make_project(tmp / f"send-{recipients}", recipients, sink.port)
        figures = in_fresh_process(measure_send, root)
        received, _, sink_cpu = sink.received()
    if received != recipients or figures["sent"] != recipients:
        raise RuntimeError(f"{recipients} to send, {figures['sent']} logged sent, {received} received")
    rate = recipients / figures["send_seconds"]
    note = (
        f"run only {recipients / figures['run_seconds']:,.0f}/s; with rendering "
        f"{recipients / figures['total_seconds']:,.0f}/s; sink CPU "
        f"{100 * sink_cpu / figures['run_seconds']:.0f}% of one core; import {import_s:.1f} s"
    )
    rows = [Row(f"send {recipients:,} to the SMTP sink", rate, "msg/s", 1000, at_least=True, note=note)]
    return rows, (recipients, figures["peak_mb"], figures["baseline_mb"])


def bench_assembly(tmp: Path, recipients: int) -> tuple[list[Row], Peak]:
    """Rows for building `recipients` messages, alone and in the dry run, and the dry run's memory."""
    root, import_s = make_project(tmp / f"dry-{recipients}", recipients)
    compose = in_fresh_process(measure_compose, root, recipients)
    dry = in_fresh_process(measure_dry_run, root)
    if dry["written"] != recipients:
        raise RuntimeError(f"the dry run wrote {dry['written']} of {recipients} messages")
    size = f"{compose['bytes'] / 1024:.1f} KB a message"
    rows = [
        Row(
            f"compose {recipients:,} (Composer.compose)",
            recipients / compose["seconds"],
            "msg/s",
            5000,
            True,
            size,
        ),
        Row(f"dry run {recipients:,}, new outbox", recipients / dry["first_seconds"], "msg/s", 5000, True),
        Row(
            f"dry run {recipients:,}, replacing the outbox",
            recipients / dry["again_seconds"],
            "msg/s",
            5000,
            True,
            f"import {import_s:.1f} s",
        ),
    ]
    return rows, (recipients, dry["peak_mb"], dry["baseline_mb"])


def memory_rows(kind: str, small: Peak, large: Peak) -> list[Row]:
    """Peak at the large list against the goal, and how much of it the extra recipients cost."""
    (n_small, mb_small, base_small), (n_large, mb_large, base_large) = small, large
    per_recipient = (mb_large - mb_small) * 1024 * 1024 / (n_large - n_small)
    return [
        Row(f"peak memory, {kind} {n_small:,}", mb_small, "MB", note=f"{base_small:.0f} MB before the list"),
        Row(
            f"peak memory, {kind} {n_large:,}",
            mb_large,
            "MB",
            200,
            note=f"{base_large:.0f} MB before the list",
        ),
        Row(f"  growth {n_small:,} -> {n_large:,} per recipient", per_recipient, "bytes", 1024),
    ]


def print_table(rows: Sequence[Row]) -> None:
    width = max(len(r.name) for r in rows)
    print(f"{'measure':<{width}}  {'measured':>14}  {'goal':>16}  status")
    for r in rows:
        goal = "" if r.goal is None else f"{'>=' if r.at_least else '<'} {r.goal:,g} {r.unit}"
        line = f"{r.name:<{width}}  {f'{r.value:,.1f} {r.unit}':>14}  {goal:>16}  {r.status:<6}"
        print((line + ("  " + r.note if r.note else "")).rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="leave out the 100,000-recipient real send")
    parser.add_argument("--small", type=int, default=10_000, help="the short list (default 10,000)")
    parser.add_argument("--large", type=int, default=100_000, help="the long list (default 100,000)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    parser.add_argument(
        "--tmp",
        type=Path,
        metavar="DIR",
        help="where the project copies (and the dry runs' outboxes, gigabytes) go; /dev/shm separates "
        "the cost of building messages from the disk's (default: the system's temporary folder)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsletter-bench-send-", dir=args.tmp) as name:
        tmp = Path(name)
        send_small, send_small_peak = bench_send(tmp, args.small)
        assembly, dry_large_peak = bench_assembly(tmp, args.large)
        _, dry_small_peak = bench_assembly(tmp, args.small)
        rows = [*send_small, *assembly, *memory_rows("dry run", dry_small_peak, dry_large_peak)]
        if not args.quick:
            send_large, send_large_peak = bench_send(tmp, args.large)
            rows += [*send_large, *memory_rows("send", send_small_peak, send_large_peak)]
    print_table(rows)
    if args.json:
        figures = [asdict(r) | {"status": r.status} for r in rows]
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
