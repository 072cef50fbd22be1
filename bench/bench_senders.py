"""How fast do 1, 2 and 4 senders send one campaign, on SQLite and on PostgreSQL, and how long does a
one-click unsubscribe wait meanwhile? A report, not a test: exits 0.

Run: `.venv/bin/python bench/bench_senders.py [--readers N] [--senders 1,2,4] [--rounds R]
[--engines sqlite,postgresql] [--postgres-url URL] [--tmp DIR] [--json FILE]`. On 2 cores the default
(100,000 readers, one round) would take about 25 minutes; `--readers 20000 --rounds 3`, the figures in
docs/performance.md, takes 17; `--readers 5000` two. With `--rounds` every send runs that many times,
in turn (all of round 1, then round 2, ...), and the report gives medians with their min-max and
each ratio to the round's own 1-sender SQLite send.

For each engine the sample project gets `--readers` Dutch readers, imported once with `newsletter
audience import --consent` (timed), into `audience.sqlite3` or into a PostgreSQL database: a throw-away
cluster started as tests/postgres_server.py starts one for the tests, but durable (fsync, synchronous
commit and full-page writes on, as a real server has them; `--no-fsync` keeps the tests' settings off),
or `--postgres-url` (default: NEWSLETTER_TEST_POSTGRES), a server already running, where the databases
made are dropped at the end. Every send then starts from a fresh copy of that store (a copy of the file;
`CREATE DATABASE ... TEMPLATE`), so each has an empty send log and the whole list active.

Each send is the command a publisher runs, `newsletter send ID --workers N --yes`, timed whole (start-up,
rendering, queueing the list and the run: msg/s is the readers over that wall time), to a loopback SMTP
sink in a process of its own that accepts everything and counts every RCPT, so a reader mailed twice
or never shows. `[smtp]` points at it with `security = "none"`, `rate = 0` (no limit) and the default
2 connections per sender. Meanwhile `newsletter serve` runs on the same store and a client POSTs one-click
unsubscribes (RFC 8058, as Gmail sends them: a new connection each) at `--post-rate` a second, each for
another reader of the campaign picked at random: their latency is the p50/p99 printed. Readers who leave
before their turn are not mailed, so the check after each send is: every reader in the log exactly once,
as `sent` (received exactly once by the sink) or as `failed` (a reader who unsubscribed), nothing else.
The same POSTs with nothing else running are the `alone` row, and `newsletter send ID --dry-run` of the
whole list (every message written to the outbox as an .eml file, then deleted) is timed once per engine.

Where the CPU goes is printed for each send: the send command with its workers (wait4), `newsletter
serve`, the sink, and the throw-away cluster's processes; and the machine's busy share from /proc/stat.
On a 2-core machine the senders, the sink, the server and PostgreSQL share two cores, so more senders
cannot be more than two cores' worth.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench_build import copy_project  # the same sample-project copy as the build benchmark
from bench_send import Sink  # the same SMTP sink, which counts every recipient
from bench_serve import CAMPAIGN, SECRET, serving_port  # the same server start as the serve benchmark
from bench_unsubscribe import figures, post  # the same one-click POST and percentiles

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests/postgres_server.py
from newsletter.audience.unsubscribe import make_token
from newsletter.store import Location, PostgresDatabase, connect
from newsletter.vocabulary import SEND_STATES
from tests import postgres_server

SPAWN = multiprocessing.get_context("spawn")  # the sink: a clean interpreter, no inherited threads
ENGINES = ("sqlite", "postgresql")
SEND_TIMEOUT = 3600.0  # seconds: a send that takes longer is killed and reported
ALONE_POSTS = 100
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
RESULT_LINE = re.compile(r"in ([\d.]+) s \((\d+) messages/s\)")


# -- the stores -----------------------------------------------------------------------------------------


def base_env() -> dict[str, str]:
    """What every command of the bench runs with: the signing secret, no SMTP password, no store URL."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NEWSLETTER_SMTP_PASSWORD", "NEWSLETTER_DATABASE_URL")
    }
    return env | {"NEWSLETTER_UNSUBSCRIBE_SECRET": SECRET}


@dataclass
class Engine:
    """One engine's list, imported once into `template` (a project; for PostgreSQL its store is the
    database `template_db`), and fresh copies of it for each send."""

    name: str
    template: Path
    server: postgres_server.PostgresServer | None = None
    template_db: str = ""
    copies: int = 0

    def env(self, url: str | None = None) -> dict[str, str]:
        return base_env() | ({"NEWSLETTER_DATABASE_URL": url} if url else {})

    def template_env(self) -> dict[str, str]:
        return self.env(self.server.database_url(self.template_db) if self.server else None)

    def location(self, root: Path, env: dict[str, str]) -> Location:
        url = env.get("NEWSLETTER_DATABASE_URL")
        return PostgresDatabase(url) if url else root / "audience.sqlite3"

    def cpu(self) -> float:
        """CPU seconds of the throw-away cluster so far: the postmaster's with its ended backends,
        and its live processes' (0 for a server this did not start)."""
        if self.server is None or self.server.root is None:
            return 0.0
        pid_file = self.server.root / "data" / "postmaster.pid"
        postmaster = int(pid_file.read_text(encoding="ascii").split()[0])
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text(encoding="ascii", errors="replace").rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:  # a live backend or background process
                ticks += int(fields[11]) + int(fields[12])
            elif stat.parent.name == str(postmaster):  # itself, and the backends it reaped
                ticks += sum(int(x) for x in fields[11:15])
        return ticks / os.sysconf("SC_CLK_TCK")

    def fresh(self, root: Path) -> dict[str, str]:
        """A copy of the sample project at `root` with a copy of the imported store; its env."""
        copy_project(root)
        self.copies += 1
        if self.server is None:
            for suffix in ("", "-wal"):  # the import's process closed it: no -wal is left, normally
                source = self.template / f"audience.sqlite3{suffix}"
                if source.exists():
                    shutil.copy2(source, root / source.name)
            return self.env()
        from psycopg import errors, sql

        name = f"{self.template_db}_{self.copies}"
        command = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
        for attempt in range(50):  # the last session on the template may still be ending
            try:
                self.server.admin().execute(
                    command.format(sql.Identifier(name), sql.Identifier(self.template_db))
                )
                break
            except errors.ObjectInUse:
                if attempt == 49:
                    raise
                time.sleep(0.1)
        self.server.created.append(name)
        return self.env(self.server.database_url(name))


def newsletter(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "newsletter", "--project", str(root), *args]


def write_readers(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,locale\n")
        out.writelines(f"lezer{n:06d}@example.org,Lezer {n},nl\n" for n in range(count))


def import_list(engine: Engine, readers_csv: Path, count: int) -> float:
    """`newsletter audience import` of the list into the engine's template; its wall seconds."""
    command = newsletter(engine.template, "audience", "import", str(readers_csv), "--consent", "bench")
    started = time.perf_counter()
    done = subprocess.run(command, env=engine.template_env(), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or f"{count} added" not in done.stdout:
        raise RuntimeError(f"import into {engine.name} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return seconds


def tokens_of(engine: Engine) -> list[tuple[str, str]]:
    """Every reader's (address, one-click token), in a random order that is the same for every run."""
    location = engine.location(engine.template, engine.template_env())
    with connect(location) as store:
        readers = [(s.email, make_token(s.email, CAMPAIGN, SECRET.encode(), s.id)) for s in store.select()]
    random.Random(8058).shuffle(readers)
    return readers


def configure_smtp(root: Path, port: int, connections: int) -> None:
    settings = root / "newsletter.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8")
        + f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nrate = 0\n'
        f"connections = {connections}\nmax_errors = 1000\n",
        encoding="utf-8",
    )


# -- the unsubscribing client ---------------------------------------------------------------------------


class Unsubscriber:
    """One-click POSTs at a steady `rate` a second, one reader after the other, until stopped: a
    POST that takes longer than the interval delays the next (no burst to catch up)."""

    def __init__(self, port: int, readers: Sequence[tuple[str, str]], rate: float) -> None:
        self.port = port
        self.readers = readers
        self.interval = 1 / rate
        self.results: list[tuple[float, int]] = []  # seconds, status (0: no answer)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="unsubscriber", daemon=True)

    def run(self) -> None:
        due = time.perf_counter()
        for _, token in self.readers:
            if self.stopping.wait(max(0.0, due - time.perf_counter())):
                return
            try:
                self.results.append(post(self.port, token))
            except (OSError, http.client.HTTPException):
                self.results.append((float("nan"), 0))
            due = max(due + self.interval, time.perf_counter())

    def start(self) -> Unsubscriber:
        self.thread.start()
        return self

    def stop(self) -> list[tuple[float, int]]:
        self.stopping.set()
        self.thread.join()
        return self.results

    def unsubscribed(self) -> set[str]:
        """The readers whose POST was answered 200."""
        return {self.readers[i][0] for i, (_, status) in enumerate(self.results) if status == 200}


def start_server(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    """`newsletter serve` on the project's store; what it logs on stderr (a line per unsubscribe) is
    dropped, so a full pipe never stops it."""
    command = newsletter(root, "serve", "--port", "0")
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        return server, serving_port(server)
    except BaseException:
        server.kill()
        raise


def stop_server(server: subprocess.Popen[str]) -> float:
    """Stop it; the CPU seconds it used."""
    server.terminate()
    cpu = wait_for(server, 30)[1]
    if server.stdout is not None:
        server.stdout.close()
    return cpu


# -- the measurements -------------------------------------------------------------------------------------


def cpu_ticks() -> tuple[int, int]:
    """The machine's (busy, total) CPU ticks so far, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


@dataclass
class Measured:
    """One row of the report."""

    engine: str
    senders: int  # 0: the unsubscribes alone, nothing sent
    readers: int
    wall: float = 0.0  # seconds of the send command
    run_seconds: float = 0.0  # what the command itself reports for the run
    send_cpu: float = 0.0  # user + system seconds of the send and its workers
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of each process over the send
    busy: float = 0.0  # machine-wide CPU busy, 0..1
    latencies: list[float] = field(default_factory=list)
    refused: int = 0  # POSTs not answered 200
    checks: list[str] = field(default_factory=list)  # what was wrong; empty: nothing
    note: str = ""
    round: int = 0
    code: int = 0  # the send command's exit code

    @property
    def rate(self) -> float:
        return self.readers / self.wall if self.wall else 0.0

    @property
    def percentiles(self) -> tuple[float, float]:
        if not self.latencies:
            return float("nan"), float("nan")
        median, p99, _ = figures(self.latencies)
        return median, p99


def alone(engine: Engine, base: Path, readers: Sequence[tuple[str, str]], rate: float) -> Measured:
    """The unsubscribes with nothing else running: the floor."""
    root = base / f"{engine.name}-alone"
    env = engine.fresh(root)
    server, port = start_server(root, env)
    try:
        client = Unsubscriber(port, readers[:ALONE_POSTS], rate).start()
        client.thread.join()
        results = client.stop()
    finally:
        stop_server(server)
    shutil.rmtree(root, ignore_errors=True)
    latencies = [seconds for seconds, status in results if status]
    return Measured(engine.name, 0, 0, latencies=latencies, refused=sum(s != 200 for _, s in results))


def one_send(
    engine: Engine,
    base: Path,
    senders: int,
    count: int,
    readers: Sequence[tuple[str, str]],
    rate: float,
    connections: int,
) -> Measured:
    """`newsletter send ID --workers N --yes` of the whole list to the sink, with the POSTs meanwhile."""
    root = base / f"{engine.name}-{senders}-{engine.copies}"
    env = engine.fresh(root)
    measured = Measured(engine.name, senders, count)
    log = root / "send.log"
    with Sink() as sink:
        configure_smtp(root, sink.port, connections)
        server, port = start_server(root, env)
        serve_cpu = 0.0
        try:
            with log.open("w", encoding="utf-8") as output:
                began_pg = engine.cpu()
                began_ticks = cpu_ticks()
                began = time.perf_counter()
                command = newsletter(root, "send", CAMPAIGN, "--workers", str(senders), "--yes")
                send = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
                client = Unsubscriber(port, readers, rate).start()
                code = wait_for(send, SEND_TIMEOUT)
                measured.wall = time.perf_counter() - began
                ended_ticks = cpu_ticks()
                results = client.stop()
        finally:
            serve_cpu = stop_server(server)
        time.sleep(0.5)  # the backends of the send and the server end, and are reaped
        pg_cpu = engine.cpu() - began_pg
        messages, rcpts, sink_cpu = sink.received()
    measured.cpu = {"send": code[1], "serve": serve_cpu, "sink": sink_cpu, "postgres": pg_cpu}
    measured.code, measured.send_cpu = code
    measured.busy = (ended_ticks[0] - began_ticks[0]) / max(1, ended_ticks[1] - began_ticks[1])
    measured.latencies = [seconds for seconds, status in results if status]
    measured.refused = sum(status != 200 for _, status in results)
    text = log.read_text(encoding="utf-8", errors="replace")
    found = RESULT_LINE.search(text)
    measured.run_seconds = float(found.group(1)) if found else 0.0
    if code[0] not in (0, 1):
        measured.checks.append(f"exit code {code[0]}; its output ends:\n{tail(text)}")
    problems, note = verify(engine.location(root, env), count, messages, rcpts, client.unsubscribed())
    measured.checks += problems
    if measured.checks and code[0] in (0, 1):
        measured.checks.append(f"its output ends:\n{tail(text)}")
    spent = ", ".join(f"{name} {seconds:.1f}" for name, seconds in measured.cpu.items() if seconds)
    measured.note = f"the sink got {messages:,} messages; {note}; CPU s: {spent}"
    engine_cleanup(engine, root, env)
    return measured


def wait_for(process: subprocess.Popen[Any], timeout: float) -> tuple[int, float]:
    """The process's exit code and the CPU seconds of it and its reaped children (wait4); killed
    after `timeout` seconds."""
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        killer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_utime + usage.ru_stime


def verify(
    location: Location, count: int, messages: int, rcpts: Counter[str], left: set[str]
) -> tuple[list[str], str]:
    """Everything that says a reader was mailed twice, or not at all, or the log is not finished; and
    what became of the readers who unsubscribed during the send."""
    problems: list[str] = []
    twice = {address: n for address, n in rcpts.items() if n > 1}
    if twice:
        sample = ", ".join(f"{a} x{n}" for a, n in sorted(twice.items())[:5])
        problems.append(
            f"{len(twice)} readers received more than once ({sum(twice.values())} RCPTs): {sample}"
        )
    if messages != sum(rcpts.values()):
        problems.append(f"the sink got {messages} messages for {sum(rcpts.values())} RCPTs")
    with connect(location) as store:
        counts = store.send_counts(CAMPAIGN)
        sent = {row.email.lower() for row in store.send_rows(CAMPAIGN, ["sent"])}
        failed = {row.email.lower() for row in store.send_rows(CAMPAIGN, ["failed"])}
        logged = {row.email.lower() for row in store.send_rows(CAMPAIGN, SEND_STATES)}
        everyone = {s.email.lower() for s in store.select(status=None)}
        leases = store.leases(CAMPAIGN)
    others = {state: n for state, n in counts.items() if n and state not in ("sent", "failed")}
    if others:
        problems.append(f"the send log is not finished: {counts}")
    if len(everyone) != count:
        problems.append(f"the store has {len(everyone)} readers, not {count}")
    left = {address.lower() for address in left}
    if everyone - logged - left:  # who left before the list was queued is not in the log
        missing = sorted(everyone - logged - left)
        problems.append(f"{len(missing)} readers missing from the send log: {missing[:5]}")
    received = set(rcpts)
    if received != sent:
        problems.append(
            f"the log says {len(sent)} sent, the sink got {len(received)} readers: "
            f"{len(sent - received)} logged sent and not received, {len(received - sent)} received "
            "and not logged sent"
        )
    if failed - left:
        problems.append(f"{len(failed - left)} failed who did not unsubscribe: {sorted(failed - left)[:5]}")
    if leases:
        problems.append(f"{len(leases)} leases left in the senders table: {leases[:2]}")
    note = (
        f"of the {len(left)} who unsubscribed meanwhile, {len(left - logged)} left before the list was "
        f"queued, {len(left & failed)} were skipped, {len(left & sent)} had been mailed"
    )
    return problems, note


def engine_cleanup(engine: Engine, root: Path, env: dict[str, str]) -> None:
    """The copy and its store are not needed once checked."""
    shutil.rmtree(root, ignore_errors=True)
    url = env.get("NEWSLETTER_DATABASE_URL")
    if engine.server is not None and url:
        from psycopg import sql

        name = url.rsplit("/", 1)[1]
        engine.server.admin().execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        engine.server.created.remove(name)


def dry_run(engine: Engine, count: int, limit: int | None) -> tuple[float, int, str]:
    """`newsletter send ID --dry-run` on the imported list: wall seconds, messages written, and what
    went wrong ("" when nothing). The outbox (gigabytes at 100,000) is deleted after."""
    args = ["send", CAMPAIGN, "--dry-run", *(["--limit", str(limit)] if limit is not None else [])]
    os.sync()  # the sends' dirty pages are not charged to the dry run
    started = time.perf_counter()
    done = subprocess.run(
        newsletter(engine.template, *args),
        env=engine.template_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    shutil.rmtree(engine.template / "build" / CAMPAIGN / "outbox", ignore_errors=True)
    found = re.search(r"wrote (\d+) of (\d+) messages", done.stdout)
    written = int(found.group(1)) if found else 0
    expected = min(count, limit) if limit is not None else count
    problem = (
        ""
        if done.returncode == 0 and written == expected
        else f"exit {done.returncode}: {tail(done.stdout + done.stderr)}"
    )
    return seconds, written, problem


def tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


# -- the report ------------------------------------------------------------------------------------------


def spread(values: Sequence[float], form: str, unit: str = "") -> str:
    """The median of `values`, with their min-max when there are several."""
    median = format(statistics.median(values), form) + unit
    if len(values) < 2:
        return median
    return f"{median} ({format(min(values), form)}-{format(max(values), form)})"


def print_report(
    rows: Sequence[Measured], dry: dict[str, tuple[float, int, str]], imports: dict[str, float]
) -> None:
    """One line per engine and sender count: medians over the rounds (min-max), the POSTs' latencies
    pooled, and each ratio to the first send of the round (1 sender on SQLite) taken round by round."""
    sends = [r for r in rows if r.senders]
    configs = sorted({(r.engine, r.senders) for r in rows}, key=lambda c: (ENGINES.index(c[0]), c[1]))
    first = configs[0] if not sends else (sends[0].engine, sends[0].senders)
    print()
    print(
        "engine       senders  msg/s             send s  run s  CPU s  busy  p50 ms  p99 ms  posts  not 200"
        f"  against {first[0]} x{first[1]}: msg/s, p50, p99"
    )
    for engine, senders in configs:
        mine = [r for r in rows if (r.engine, r.senders) == (engine, senders)]
        latencies = [seconds for r in mine for seconds in r.latencies]
        median, p99, _ = figures(latencies) if latencies else (float("nan"),) * 3
        posts = len(latencies) + sum(r.refused for r in mine)
        refused = sum(r.refused for r in mine)
        if senders == 0:
            print(
                f"{engine:11}  {'alone':>7}  {'':16}  {'':>6}  {'':>5}  {'':>5}  {'':>4}  "
                f"{median * 1000:6.1f}  {p99 * 1000:6.1f}  {posts:5}  {refused:7}"
            )
            continue
        paired = [
            (r.rate / ref.rate, r.percentiles[0] / ref.percentiles[0], r.percentiles[1] / ref.percentiles[1])
            for r in mine
            for ref in sends
            if (ref.engine, ref.senders) == first and ref.round == r.round
        ]
        ratios = ", ".join(spread([p[k] for p in paired], ".2f", "x") for k in range(3))
        print(
            f"{engine:11}  {senders:7}  {spread([r.rate for r in mine], ',.0f'):16}  "
            f"{statistics.median(r.wall for r in mine):6.1f}  "
            f"{statistics.median(r.run_seconds for r in mine):5.1f}  "
            f"{statistics.median(r.send_cpu for r in mine):5.1f}  "
            f"{statistics.median(r.busy for r in mine):4.0%}  {median * 1000:6.1f}  {p99 * 1000:6.1f}  "
            f"{posts:5}  {refused:7}  {ratios}"
        )
    print()
    for r in sends:
        status = "ok: every reader exactly once" if not r.checks else "PROBLEM"
        print(f"round {r.round + 1}, {r.engine} x{r.senders}: exit {r.code}, {status}; {r.note}")
        for problem in r.checks:
            print(f"  - {problem}")
    for name, seconds in imports.items():
        print(f"import into {name}: {seconds:.1f} s")
    for name, (seconds, written, problem) in dry.items():
        rate = written / seconds if seconds else 0.0
        said = f"dry run on {name}: {written:,} messages in {seconds:.1f} s, {rate:,.0f} msg/s"
        print(f"{said}; {problem}" if problem else said)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--readers", type=int, default=100_000, help="readers in the list (default 100,000)")
    parser.add_argument("--senders", default="1,2,4", help="sender counts, --workers of each send")
    parser.add_argument("--engines", default=",".join(ENGINES), help="sqlite, postgresql or both")
    parser.add_argument("--rounds", type=int, default=1, help="every send this many times, in turn")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(postgres_server.URL_VARIABLE, ""),
        help="a running PostgreSQL server to make the databases in (default: NEWSLETTER_TEST_POSTGRES, "
        "else a throw-away cluster)",
    )
    parser.add_argument("--no-fsync", action="store_true", help="the throw-away cluster as the tests run it")
    parser.add_argument("--post-rate", type=float, default=20.0, help="one-click POSTs a second (default 20)")
    parser.add_argument("--connections", type=int, default=2, help="[smtp] connections of each sender")
    parser.add_argument("--dry-run-limit", type=int, default=None, help="--limit of the timed dry run")
    parser.add_argument("--no-dry-run", action="store_true", help="leave out the timed dry run")
    parser.add_argument("--tmp", type=Path, metavar="DIR", help="where the project copies go")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.senders.split(",")]
    names = [name.strip() for name in args.engines.split(",")]
    if unknown := set(names) - set(ENGINES):
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
    rows: list[Measured] = []
    dry: dict[str, tuple[float, int, str]] = {}
    imports: dict[str, float] = {}
    print(
        f"{args.readers:,} readers, senders {counts}, {args.rounds} round(s), {os.cpu_count()} CPUs, "
        f"{args.post_rate:g} POSTs/s; load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()),
        flush=True,
    )
    engines: list[Engine] = []
    with tempfile.TemporaryDirectory(prefix="newsletter-bench-senders-", dir=args.tmp) as name:
        base = Path(name)
        # The commands keep their bytecode, as an installed tool does, whatever the environment says
        # (the first command fills the cache): not recompiling the tool at each start.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
        readers_csv = base / "readers.csv"
        write_readers(readers_csv, args.readers)
        try:
            readers: dict[str, list[tuple[str, str]]] = {}
            for engine_name in names:
                engine = Engine(engine_name, copy_project(base / f"{engine_name}-template"))
                engines.append(engine)
                if engine_name == "postgresql":
                    engine.server = start_postgres(args.postgres_url, durable=not args.no_fsync)
                    engine.template_db = f"bench_senders_{os.getpid()}"
                    engine.server.new_database(engine.template_db)
                imports[engine_name] = import_list(engine, readers_csv, args.readers)
                print(f"{engine_name}: imported in {imports[engine_name]:.1f} s", flush=True)
                readers[engine_name] = tokens_of(engine)
                rows.append(alone(engine, base, readers[engine_name], args.post_rate))
            for number in range(args.rounds):  # in turn, so a machine that drifts moves them all
                for engine in engines:
                    for senders in counts:
                        measured = one_send(
                            engine,
                            base,
                            senders,
                            args.readers,
                            readers[engine.name],
                            args.post_rate,
                            args.connections,
                        )
                        measured.round = number
                        rows.append(measured)
                        p50, p99 = measured.percentiles
                        print(
                            f"round {number + 1}, {engine.name} x{senders}: {measured.rate:,.0f} msg/s in "
                            f"{measured.wall:.1f} s, p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
                            + ("" if not measured.checks else f"; {len(measured.checks)} problems"),
                            flush=True,
                        )
            for engine in engines:
                if not args.no_dry_run:
                    dry[engine.name] = dry_run(engine, args.readers, args.dry_run_limit)
                    print(f"{engine.name}: dry run in {dry[engine.name][0]:.1f} s", flush=True)
        finally:
            for engine in engines:
                if engine.server is not None:
                    engine.server.stop()
    print_report(rows, dry, imports)
    print("load average at the end (1, 5, 15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    if args.json:
        figures_json: list[dict[str, Any]] = []
        for r in rows:
            p50, p99 = r.percentiles
            record = asdict(r) | {"rate": r.rate, "p50": p50, "p99": p99}
            del record["latencies"]
            figures_json.append(record)
        args.json.write_text(
            json.dumps({"rows": figures_json, "dry_runs": dry, "imports": imports}, indent=2) + "\n"
        )
    return 0


def start_postgres(url: str, *, durable: bool) -> postgres_server.PostgresServer:
    """A running server's, or a throw-away cluster of tests/postgres_server.py, durable unless asked."""
    if url:
        return postgres_server.PostgresServer.existing(url)
    bin_dir = postgres_server.find_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed (no initdb); give --postgres-url or --engines sqlite")
    if durable:  # the command line of the cluster it starts: the tests' settings, with durability back on
        postgres_server.SETTINGS.update(DURABLE)
    return postgres_server.PostgresServer.start(bin_dir)


if __name__ == "__main__":
    raise SystemExit(main())
