"""How long does a one-click unsubscribe wait while a large import runs? A report, not a test: exits 0.

Run: `.venv/bin/python bench/bench_unsubscribe.py [--rows N] [--posts N] [--tmp DIR]` (about a minute
for the default 300,000 rows).

`newsletter serve` runs as a publisher runs it, in a process of its own; one-click POSTs (RFC 8058, as
Gmail sends them) go to it over loopback one after the other, each for another reader, first with
nothing else running (the floor), then for as long as `newsletter audience import` of `--rows` new
readers runs in a third process (a reader already unsubscribed is asked again: the answer still takes
the write lock). Printed: the answers' latency, median, p99 and maximum, alone and during the
import, their ratio, and every status that was not 200. The goal, from the list-integrity issue:
every POST answered 2xx, within 1 s, whatever else runs.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_build import copy_project  # the same sample-project copy as the build benchmark
from bench_serve import CAMPAIGN, SECRET, serving_port  # the same server start as the serve benchmark

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from newsletter.audience.unsubscribe import make_token
from newsletter.store import connect

GOAL_SECONDS = 1.0


def newsletter(root: Path, *args: str) -> subprocess.Popen[str]:
    """A command in its own process; what it logs on stderr (a line per unsubscribe) is dropped, so a
    full pipe never stops it."""
    command = [sys.executable, "-m", "newsletter", "--project", str(root), *args]
    env = {**os.environ, "NEWSLETTER_UNSUBSCRIBE_SECRET": SECRET}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def post(port: int, token: str) -> tuple[float, int]:
    started = time.perf_counter()
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
        return time.perf_counter() - started, response.status
    finally:
        connection.close()


def readers(root: Path, count: int) -> list[str]:
    """`count` active readers to unsubscribe, and their tokens."""
    lines = "".join(f"blijver{n}@example.org,Lezer {n},nl\n" for n in range(count))
    (root / "readers.csv").write_text("email,name,locale\n" + lines, encoding="utf-8")
    imported = newsletter(root, "audience", "import", str(root / "readers.csv"), "--consent", "bench")
    imported.communicate()
    with connect(root / "audience.sqlite3") as store:
        return [
            make_token(s.email, CAMPAIGN, SECRET.encode(), s.id)
            for s in store.select(locale="nl")
            if s.email.startswith("blijver")
        ]


def figures(latencies: Sequence[float]) -> tuple[float, float, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99, ordered[-1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=300_000, help="rows in the concurrent import")
    parser.add_argument(
        "--posts", type=int, default=400, help="one-click POSTs alone, and readers for the rest"
    )
    parser.add_argument("--tmp", type=Path, default=None, help="folder for the project copy")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=options.tmp) as tmp:
        root = copy_project(Path(tmp) / "project")
        tokens = readers(root, 2 * options.posts)
        rows = "".join(f"nieuw{n:07d}@example.com,Nieuw {n},en\n" for n in range(options.rows))
        (root / "big.csv").write_text("email,name,locale\n" + rows, encoding="utf-8")
        server = newsletter(root, "serve", "--port", "0")
        try:
            port = serving_port(server)
            alone = [post(port, token) for token in tokens[: options.posts]]
            importer = newsletter(root, "audience", "import", str(root / "big.csv"), "--consent", "bench")
            during: list[tuple[float, int]] = []
            while importer.poll() is None:  # to its end: its write transactions come last
                during.append(post(port, tokens[options.posts + len(during) % options.posts]))
            import_output, _ = importer.communicate()
        finally:
            server.terminate()
            server.wait(30)
    print(f"one-click POSTs to newsletter serve, {options.rows:,} rows imported meanwhile")
    print("phase            posts  median ms  p99 ms  max ms  not 200")
    for name, results in (("alone", alone), ("during import", during)):
        median, p99, worst = figures([seconds for seconds, _ in results])
        refused = sum(status != 200 for _, status in results)
        milliseconds = f"{median * 1000:9.1f}  {p99 * 1000:6.1f}  {worst * 1000:6.1f}"
        print(f"{name:15}  {len(results):5}  {milliseconds}  {refused:7}")
    ratio = figures([s for s, _ in during])[1] / figures([s for s, _ in alone])[1]
    print(f"p99 during the import / p99 alone: {ratio:.2f}x")
    worst = max(seconds for seconds, _ in during)
    verdict = "met" if worst < GOAL_SECONDS and all(status == 200 for _, status in during) else "NOT met"
    print(f"goal (every POST 2xx within {GOAL_SECONDS:g} s during the import): {verdict}")
    print(f"import: {import_output.strip().splitlines()[-1] if import_output.strip() else '?'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
