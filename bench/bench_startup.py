"""How fast does the `newsletter` command start? A report, not a test: exits 0.

Run: `.venv/bin/python bench/bench_startup.py [--pairs N]` (about a minute).

Whole processes, in pairs (A B A B ...) after a warm-up, with their bytecode cache warm as an
installed tool has it; each figure is a median, each ratio the median of the pair-by-pair ratios
(with their min-max). Goals from the performance issue:

- `newsletter --help` against `python -c pass`: at most 1.5x;
- `newsletter status ID` and `newsletter report ID` on a copy of the sample project whose send log
  holds 100,000 rows for the campaign, against a bare `python -c` that opens the database with sqlite3
  and counts the campaign's rows per state (GROUP BY): at most 2x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench_build import copy_project  # the same sample-project copy as the build benchmark

from newsletter.project.settings import open_project
from newsletter.store import database_location, open_store

SAMPLE = "2026-12-schrijven"
ROWS = 100_000
PYTHON = sys.executable
NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
GROUP_BY = (
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(c.execute("
    "'SELECT state, COUNT(*) FROM sends WHERE campaign = ? GROUP BY state', (sys.argv[2],)).fetchall())"
)


def make_project(root: Path) -> Path:
    """The sample project with ROWS readers imported and all of them in SAMPLE's send log (pending)."""
    copy_project(root)
    readers = "".join(f"lezer{n}@example.org,Lezer {n},nl\n" for n in range(ROWS))
    (root / "readers.csv").write_text("email,name,locale\n" + readers, encoding="utf-8")
    subprocess.run(
        [NEWSLETTER, "--project", str(root), "audience", "import", "readers.csv", "--consent", "bench"],
        check=True,
        cwd=root,
        capture_output=True,
    )
    project = open_project(root)
    with open_store(project) as store:
        added = store.enqueue(SAMPLE, store.select(), datetime.now(UTC))
    assert added == ROWS, added
    location = database_location(project)
    assert isinstance(location, Path), location  # the sample's SQLite file
    return location


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def paired(name: str, ours: list[str], base: list[str], cwd: Path, pairs: int) -> None:
    for _ in range(2):  # warm-up: bytecode written, files in the page cache
        timed(ours, cwd)
        timed(base, cwd)
    a, b = [], []
    for _ in range(pairs):
        a.append(timed(ours, cwd))
        b.append(timed(base, cwd))
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    print(
        f"{name:<28} {statistics.median(a):7.1f} ms  baseline {statistics.median(b):6.1f} ms  "
        f"ratio {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=11)
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        database = make_project(root)
        print(f"{ROWS:,} send-log rows for {SAMPLE}; {args.pairs} pairs each, after 2 warm-ups")
        paired("newsletter --help", [NEWSLETTER, "--help"], [PYTHON, "-c", "pass"], root, args.pairs)
        count = [PYTHON, "-c", GROUP_BY, str(database), SAMPLE]
        paired(f"newsletter status {SAMPLE[:4]}…", [NEWSLETTER, "status", SAMPLE], count, root, args.pairs)
        paired(f"newsletter report {SAMPLE[:4]}…", [NEWSLETTER, "report", SAMPLE], count, root, args.pairs)


if __name__ == "__main__":
    main()
