"""How fast is `newsletter`, and how big is what it makes? A report, not a test: it always exits 0.

Run: `.venv/bin/python bench/bench_build.py [--quick] [--json FILE]`.

Fresh processes are timed because that is what an editor feels when running `newsletter build`
(start-up and imports included); the 50-campaign run is timed in one process because that is where
a slow renderer would show. The official MJML CLI (Node) is the yardstick: if ours is not clearly
faster than `mjml`, the Rust engine is not earning its place. Only errors of the tool itself (a
failing build) stop the report with a traceback; a missing or broken Node/MJML is merely skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from newsletter.pipeline import build
from newsletter.project.campaign import load_campaigns
from newsletter.project.settings import open_project
from newsletter.render.renderer import Renderer

REPO = Path(__file__).resolve().parent.parent
NEWSLETTER = Path(sys.executable).parent / "newsletter"  # the console script, as users run it
MJML_DIR = REPO / "bench" / ".mjml"
MJML_BIN = MJML_DIR / "node_modules" / ".bin" / "mjml"
SAMPLE = "2026-12-schrijven"
PROJECT_PARTS = ("newsletter.toml", "authors.yaml", "books", "columns", "campaigns", "templates")
SITE = "https://www.uitgeverijlindenhof.nl"
TEASERS: tuple[dict[str, Any], ...] = (
    {
        "column": "de-kunst-van-het-weglaten.txt",
        "url": f"{SITE}/columns/de-kunst-van-het-weglaten",
        "author": "marieke-de-wit",
    },
    {"column": "why-we-still-read-on-paper.md"},
    {
        "title": "Lezen bij lamplicht",
        "url": f"{SITE}/agenda",
        "author": "thomas-verbeek",
        "excerpt": "Een avond over trage aandacht, met voorlezen, koffie en een stapel boeken.",
    },
)
BOOKS = ("schrijven-is-schrappen", "the-quiet-page")


@dataclass(frozen=True)
class Row:
    """One line of the report; `goal` is an upper bound in `unit` (None: shown for context only)."""

    name: str
    value: float
    unit: str
    reps: int
    goal: float | None = None
    note: str = ""

    @property
    def status(self) -> str:
        return "" if self.goal is None else ("ok" if self.value < self.goal else "MISSED")


def median_time(run: Callable[[], object], reps: int, *, warm_up: bool = True) -> float:
    """Median wall time in ms; one untimed run first so disk caches and .pyc files are not measured."""
    if warm_up:
        run()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run_process(cmd: Sequence[str | Path]) -> Callable[[], object]:
    """A fresh process to time; a non-zero exit is an error of the thing measured, so it raises."""
    return lambda: subprocess.run(cmd, check=True, capture_output=True)


def copy_project(dest: Path) -> Path:
    """The sample project (the repo itself) without build/, .git or .venv, so builds do not touch the repo."""
    dest.mkdir(parents=True)
    for part in PROJECT_PARTS:
        src = REPO / part
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / part)
    return dest


def campaign_data(i: int) -> dict[str, Any]:
    """Campaign number `i`: the existing columns and books in a different mix, locale and length."""
    locale = ("nl", "en")[i % 2]
    teasers = [
        dict(TEASERS[(i + k) % len(TEASERS)], excerpt_words=30 + 10 * ((i + k) % 5)) for k in range(1 + i % 3)
    ]
    books = (BOOKS[i % 2 :] + BOOKS[: i % 2])[: 1 + (i // 2) % 2]
    return {
        "subject": f"Nieuwsbrief {i + 1}: {'schrappen en lezen' if locale == 'nl' else 'reading slowly'}",
        "preheader": f"Issue {i + 1}, with {len(teasers)} column(s) and {len(books)} book(s).",
        "locale": locale,
        "intro": "Beste lezer,\n\nDeze keer iets anders.\n" if locale == "nl" else "Dear reader,\n",
        "teasers": teasers,
        "books": list(books),
        "sign_off": "Tot de volgende keer.\n" * (1 + i % 2),
    }


def write_campaigns(root: Path, count: int) -> None:
    """Replace the sample campaigns by `count` generated ones, so exactly `count` are built."""
    campaigns = root / "campaigns"
    shutil.rmtree(campaigns)
    campaigns.mkdir()
    for i in range(count):
        text = yaml.safe_dump(campaign_data(i), allow_unicode=True, sort_keys=False)
        (campaigns / f"bench-{i + 1:03d}.yaml").write_text(text, encoding="utf-8")


def build_in_process(root: Path, out: Path) -> int:
    """`build()` as the CLI calls it; any error means the tool is broken, so it raises."""
    report = build(open_project(root), out=out)
    if report.errors:
        raise RuntimeError("build failed: " + "; ".join(e.format(root) for e in report.errors))
    return len(report.built)


def html_sizes(root: Path, out: Path) -> list[Row]:
    """Sizes of the built sample emails (Gmail clips at 102 KB; we want headroom). Also warms up imports."""
    build_in_process(root, out)
    return [
        Row(f"HTML size {p.parent.name}", p.stat().st_size / 1024, "KB", 1, 60)
        for p in sorted(out.glob("*/email.html"))
    ]


def bench_cli(root: Path, out: Path, reps: int) -> list[Row]:
    """Start-up and a one-campaign build, each in a fresh process like an editor runs them."""
    help_ms = median_time(run_process([NEWSLETTER, "--help"]), reps)
    build_cmd: list[str | Path] = [NEWSLETTER, "--project", root, "build", SAMPLE, "--out", out]
    build_ms = median_time(run_process(build_cmd), reps)
    return [
        Row("newsletter --help (fresh process)", help_ms, "ms", reps, 150),
        Row(f"build {SAMPLE} (fresh process)", build_ms, "ms", reps),
    ]


def bench_locked_rebuild(tmp: Path, plain_ms: float, reps: int) -> list[Row]:
    """A campaign whose Payment Links are all in the lock file: no key, no Stripe server, no SDK import.

    STRIPE_API_BASE points at a closed port, so a single request would fail the build.
    """
    root = copy_project(tmp / "locked")
    link = {"currency": "eur", "mode": "test", "product": "prod_B", "price": "price_B", "active": True}
    links = [
        {
            **link,
            "campaign": SAMPLE,
            "sku": "schrijven-is-schrappen",
            "amount": 3495,
            "payment_link": "plink_B",
            "url": "https://buy.stripe.com/test_bench",
        },
    ]
    (root / "payments.lock.json").write_text(json.dumps({"version": 1, "links": links}))
    env = {k: v for k, v in os.environ.items() if k != "STRIPE_API_KEY"} | {
        "STRIPE_API_BASE": "http://127.0.0.1:9"
    }
    cmd = [str(NEWSLETTER), "--project", str(root), "build", SAMPLE, "--out", str(tmp / "locked-out")]
    locked_ms = median_time(lambda: subprocess.run(cmd, check=True, capture_output=True, env=env), reps)
    return [
        Row(f"build {SAMPLE}, links locked (fresh process)", locked_ms, "ms", reps),
        Row("locked-links build / plain build", locked_ms / plain_ms, "x", reps, 1.1),
    ]


def bench_many(tmp: Path, count: int, reps: int) -> list[Row]:
    """Many campaigns in one process: open_project + build, no start-up cost."""
    root = copy_project(tmp / "many")
    write_campaigns(root, count)
    built: list[int] = []
    total = median_time(lambda: built.append(build_in_process(root, tmp / "many-out")), reps, warm_up=False)
    if set(built) != {count}:
        raise RuntimeError(f"expected {count} campaigns built, got {built}")
    return [
        Row(f"build {count} campaigns in-process, total", total, "ms", reps),
        Row(f"build {count} campaigns in-process, each", total / count, "ms", reps),
    ]


def sample_render(root: Path, reps: int) -> tuple[str, float]:
    """The MJML our pipeline feeds its engine for the sample, and the warm in-process render time."""
    project = open_project(root)
    campaigns, errors = load_campaigns(project, [SAMPLE])
    if errors:
        raise RuntimeError("; ".join(e.format(root) for e in errors))
    renderer = Renderer(project)
    mjml = renderer.render(campaigns[0]).mjml
    return mjml, median_time(lambda: renderer.render(campaigns[0]), reps)


def ensure_mjml_cli() -> str | None:
    """Install MJML 4 into bench/.mjml on first use; returns why it cannot run, or None."""
    if not (shutil.which("node") and shutil.which("npm")):
        return "skipped: node/npm not found"
    if not MJML_BIN.exists():
        cmd = ["npm", "install", "--prefix", str(MJML_DIR), "mjml@4", "--no-audit", "--no-fund"]
        print("installing the MJML CLI:", " ".join(cmd), file=sys.stderr)
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not MJML_BIN.exists():
            return f"skipped: npm install failed: {done.stderr.strip()[-300:]}"
    return None


def bench_mjml_cli(tmp: Path, mjml: str, ours_ms: float, reps: int) -> list[Row]:
    """The official MJML CLI on the same MJML, fresh process each time, against our full build."""
    reason = ensure_mjml_cli()
    if reason:
        return [Row(f"MJML CLI {SAMPLE} ({reason})", float("nan"), "ms", 0)]
    source = tmp / f"{SAMPLE}.mjml"
    source.write_text(mjml, encoding="utf-8")
    cmd: list[str | Path] = ["node", MJML_BIN, source, "-s"]
    try:
        cli_ms = median_time(run_process(cmd), reps)
    except subprocess.CalledProcessError as error:
        return [Row(f"MJML CLI {SAMPLE} (skipped: exit {error.returncode})", float("nan"), "ms", 0)]
    html = subprocess.run(cmd, check=True, capture_output=True).stdout
    version = subprocess.run(["node", MJML_BIN, "--version"], capture_output=True, text=True).stdout
    note = f"{len(html) / 1024:.1f} KB HTML; {' '.join(version.split())}"
    return [
        Row(f"MJML CLI {SAMPLE} (fresh process)", cli_ms, "ms", reps, note=note),
        Row("ours / MJML CLI (fresh processes)", ours_ms / cli_ms, "x", reps, 0.5),
    ]


def print_table(rows: Sequence[Row]) -> None:
    """A table a person can read at a glance: figure, goal, verdict."""
    width = max(len(r.name) for r in rows)
    print(f"{'measure':<{width}}  {'median':>10}  {'n':>2}  {'goal':>10}  status")
    for r in rows:
        goal = "" if r.goal is None else f"< {r.goal:g} {r.unit}"
        figure = f"{r.value:.2f} {r.unit}" if r.unit == "x" else f"{r.value:.1f} {r.unit}"
        line = f"{r.name:<{width}}  {figure:>10}  {r.reps:>2}  {goal:>10}  {r.status:<6}"
        print((line + ("  " + r.note if r.note else "")).rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    """Run everything, print the table, optionally write JSON; 0 unless the tool itself failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 process repetitions, 1 for the 50-run")
    parser.add_argument("--reps", type=int, help="repetitions for process timings (default 7)")
    parser.add_argument("--many-reps", type=int, help="repetitions for the 50-campaign run (default 3)")
    parser.add_argument("--count", type=int, default=50, help="campaigns in the in-process run")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    reps = args.reps or (3 if args.quick else 7)
    many_reps = args.many_reps or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory(prefix="newsletter-bench-") as name:
        tmp = Path(name)
        root = copy_project(tmp / "sample")
        sizes = html_sizes(root, tmp / "sizes-out")
        cli = bench_cli(root, tmp / "cli-out", reps)
        locked = bench_locked_rebuild(tmp, cli[1].value, reps)
        many = bench_many(tmp, args.count, many_reps)
        mjml, render_ms = sample_render(root, reps)
        render = Row(f"render {SAMPLE} in-process (warm)", render_ms, "ms", reps)
        node = bench_mjml_cli(tmp, mjml, cli[1].value, reps)
    rows = [*cli, *locked, *many, *node, render, *sizes]
    print_table(rows)
    if args.json:
        figures = [asdict(r) | {"value": None if r.reps == 0 else r.value, "status": r.status} for r in rows]
        args.json.write_text(json.dumps(figures, indent=2) + "\n")  # skipped: null, not NaN
    return 0


if __name__ == "__main__":
    sys.exit(main())
