"""How much CPU does `newsletter audience import` take against plain sqlite3? A report, not a test: exits 0.

Run: `.venv/bin/python bench/bench_import.py [--rows N] [--pairs P] [--tmp DIR]` (default 200,000 rows,
2 pairs, about a minute; `--rows 1000000` for the figure in docs/performance.md).

Each pair runs, in child processes and in turn A B:

- A: `python -m newsletter audience import FILE` as the user runs it, into an empty copy of the
  sample project (every row added);
- B, the floor: a child that reads the same CSV with the csv module and inserts its rows with plain
  `sqlite3` `executemany` into tables shaped like `subscribers`, `status_changes` and `consents`
  (the same unique keys and indexes: each added reader gets a history row and a proof of consent),
  committing every 2,000 rows as the import does, with no address checks.

The CPU seconds are the child's user + system time from wait4, so nothing of this process counts;
the goal, from the performance issue, is a paired ratio A / B of at most 3.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench_audience import import_command, write_list
from bench_build import copy_project

GOAL_RATIO = 3.0

FLOOR = r"""
import csv, sqlite3, sys
database, path = sys.argv[1], sys.argv[2]
connection = sqlite3.connect(database, isolation_level=None)
connection.execute("PRAGMA journal_mode = WAL")
connection.executescript('''
CREATE TABLE subscribers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE,
    email_key TEXT NOT NULL UNIQUE, name TEXT NOT NULL DEFAULT '', locale TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]', status TEXT NOT NULL DEFAULT 'active',
    source TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX subscribers_status_locale ON subscribers (status, locale);
CREATE TABLE status_changes (id INTEGER PRIMARY KEY, subscriber_id INTEGER NOT NULL,
    old_status TEXT, new_status TEXT NOT NULL, source TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL);
CREATE INDEX status_changes_subscriber ON status_changes (subscriber_id, id);
CREATE TABLE consents (id INTEGER PRIMARY KEY, subscriber_id INTEGER NOT NULL, source TEXT NOT NULL,
    text_id INTEGER NOT NULL, topics TEXT NOT NULL DEFAULT '[]', name TEXT NOT NULL DEFAULT '',
    locale TEXT, given_at TEXT NOT NULL, ip TEXT NOT NULL DEFAULT '', confirmed_at TEXT,
    confirmation_message_id TEXT);
CREATE INDEX consents_subscriber ON consents (subscriber_id, id);
''')
stamp = "2026-01-01T00:00:00Z"
with open(path, encoding="utf-8", newline="") as file:
    rows = list(csv.reader(file))[1:]
for at in range(0, len(rows), 2000):
    batch = rows[at : at + 2000]
    connection.execute("BEGIN IMMEDIATE")
    first = connection.execute("SELECT coalesce(max(id), 0) + 1 FROM subscribers").fetchone()[0]
    connection.executemany(
        "INSERT INTO subscribers (email, email_key, name, locale, tags, status, source, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, 'active', '', ?, ?)",
        [(e, e.lower(), n, l, f'["{t}"]' if t else "[]", stamp, stamp) for e, n, l, t in batch],
    )
    connection.executemany(
        "INSERT INTO status_changes (subscriber_id, old_status, new_status, source, detail, at)"
        " VALUES (?, NULL, 'active', 'import', '', ?)",
        [(first + k, stamp) for k in range(len(batch))],
    )
    connection.executemany(
        "INSERT INTO consents (subscriber_id, source, text_id, given_at, confirmed_at)"
        " VALUES (?, 'import:bench', 1, ?, ?)",
        [(first + k, stamp, stamp) for k in range(len(batch))],
    )
    connection.execute("COMMIT")
connection.close()
"""


def cpu_of(command: list[str]) -> float:
    """The child's user + system CPU seconds (wait4), its output checked."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert child.stdout is not None
    output = child.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(child.pid, 0)
    child.stdout.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{command[:4]} exited {code}:\n{output}")
    return usage.ru_utime + usage.ru_stime


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the list (default 200,000)")
    parser.add_argument("--pairs", type=int, default=2, help="A B pairs (default 2)")
    parser.add_argument("--tmp", type=Path, metavar="DIR", help="where the project copies go")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsletter-bench-import-", dir=args.tmp) as name:
        base = Path(name)
        csv = base / "subscribers.csv"
        size = write_list(csv, args.rows)
        print(f"list: {args.rows:,} rows, {size / 1024 / 1024:.0f} MB")
        template = copy_project(base / "template")
        ratios: list[float] = []
        for pair in range(args.pairs):
            root = base / f"project-{pair}"
            shutil.copytree(template, root)
            a = cpu_of(import_command(root, csv))
            floor_db = base / f"floor-{pair}.sqlite3"
            b = cpu_of([sys.executable, "-c", FLOOR, str(floor_db), str(csv)])
            ratios.append(a / b)
            print(
                f"pair {pair + 1}: import {a:7.2f} s CPU   plain executemany {b:6.2f} s CPU"
                f"   ratio {a / b:5.2f}x"
            )
            shutil.rmtree(root)
            for leftover in base.glob(f"floor-{pair}.sqlite3*"):
                leftover.unlink()
        median = statistics.median(ratios)
        status = "met" if median <= GOAL_RATIO else "MISSED"
        print(
            f"paired ratio: median {median:.2f}x ({min(ratios):.2f}-{max(ratios):.2f}),"
            f" goal <= {GOAL_RATIO}x: {status}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
