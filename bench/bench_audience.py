"""How much memory does `newsletter audience import` take for a long list? A report, not a test: exits 0.

Run: `.venv/bin/python bench/bench_audience.py [--rows N] [--tmp DIR]` (about two minutes for the
default 1,000,000 rows).

The import runs as the user runs it, `python -m newsletter audience import FILE` in a child process,
twice: into an empty database (every row added) and again (every row looked up and unchanged). The
peak resident size is the child's own ru_maxrss from wait4, so nothing of this process counts; the
goal, from the refactoring issue, is a peak under 200 MB however long the file.

Linux carries ru_maxrss across fork and exec, so a child reports at least this process's size at the
fork: this process only writes the file, line by line, and stays small (its peak is printed too).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_build import copy_project  # the same sample-project copy as the build benchmark

GOAL_MB = 200


def write_list(path: Path, rows: int) -> int:
    """A subscriber list of `rows` distinct readers, a few tagged; returns its size in bytes."""
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,locale,tags\n")
        out.writelines(
            f"lezer{n:07d}@example.org,Lezer {n},{'nl' if n % 5 else 'en'},{'proza' if n % 7 == 0 else ''}\n"
            for n in range(rows)
        )
    return path.stat().st_size


def import_command(root: Path, csv: Path) -> list[str]:
    """`newsletter audience import` of the list, as a user types it."""
    newsletter = [sys.executable, "-m", "newsletter", "--project", str(root)]
    return [*newsletter, "audience", "import", str(csv), "--consent", "bench"]


def import_in_child(root: Path, csv: Path) -> tuple[float, float, str]:
    """`newsletter audience import` in its own process: its peak RSS in MB, seconds, and output."""
    command = import_command(root, csv)
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert child.stdout is not None
    output = child.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stdout.close()
    if child.returncode != 0:
        raise RuntimeError(f"the import exited {child.returncode}:\n{output}")
    return usage.ru_maxrss / 1024, seconds, output.strip()  # ru_maxrss is in KiB on Linux


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the list (default 1,000,000)")
    parser.add_argument("--tmp", type=Path, metavar="DIR", help="where the project copy goes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsletter-bench-audience-", dir=args.tmp) as name:
        root = copy_project(Path(name) / "project")
        csv = root / "subscribers.csv"
        size = write_list(csv, args.rows)
        print(f"list: {args.rows:,} rows, {size / 1024 / 1024:.0f} MB")
        for run in ("into an empty database", "again (every row unchanged)"):
            peak, seconds, output = import_in_child(root, csv)
            status = "ok" if peak < GOAL_MB else "MISSED"
            print(
                f"import {run:<28} peak {peak:7.1f} MB (goal < {GOAL_MB} MB) {status:<6} "
                f"{seconds:6.1f} s  {args.rows / seconds:,.0f} rows/s  [{output.splitlines()[0]}]"
            )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this process's own peak, a floor for the children's: {own:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
