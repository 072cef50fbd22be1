"""How fast is `newsletter build`, and how big is what it makes? A report, not a test: it always exits 0.

Run: `.venv/bin/python bench/bench_build.py [--rounds N] [--quick] [--json FILE]`.

Fresh processes are timed because that is what an editor feels when running `newsletter build`
(start-up and imports included). The yardstick is the official MJML CLI (Node), installed with npm
into bench/.mjml/ on first use, compiling the MJML our templates make for the same email: ours and
`mjml` run in turn, A B A B ..., and each pair gives a ratio, so that a machine whose speed drifts
during the run (these are shared) moves both sides of a pair alike; the median of the ratios is the
figure, min and max say how noisy the machine was. Three builds are compared: a fresh one (an empty
output folder), an unchanged rebuild (nothing changed since the last build: the campaign is skipped),
and, where Node is there, the same against MJML 4. `-X importtime` then shows where a fresh build's
start-up goes. The 50-campaign run is timed in one process because that is where a slow renderer
would show.

Child processes get their bytecode cached (PYTHONPYCACHEPREFIX, a folder of this run), as an installed
tool has, whatever PYTHONDONTWRITEBYTECODE says; the rounds not counted at the start fill the cache.
Only errors of the tool itself (a failing build) stop the report with a traceback; a missing or
broken Node/MJML is merely skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from newsletter.build import build
from newsletter.pipeline import load_one, make_renderer, render_one
from newsletter.project.settings import open_project

REPO = Path(__file__).resolve().parent.parent
NEWSLETTER = Path(sys.executable).parent / "newsletter"  # the console script, as users run it
MJML_ROOT = REPO / "bench" / ".mjml"
MJML_VERSIONS = ("5", "4")  # npm version ranges, each installed into bench/.mjml/<range>/
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
FRESH_GOAL = 0.8  # a fresh one-campaign build, against the MJML 5 CLI on the same email
UNCHANGED_GOAL = 0.25  # a rebuild with nothing changed, against the same


@dataclass(frozen=True)
class Row:
    """One line of the report: a median with its min and max; `goal` an upper bound (None: context)."""

    name: str
    value: float
    unit: str
    reps: int
    goal: float | None = None
    low: float | None = None
    high: float | None = None
    note: str = ""

    @property
    def status(self) -> str:
        return "" if self.goal is None or self.reps == 0 else ("ok" if self.value <= self.goal else "MISSED")


@dataclass(frozen=True)
class Timing:
    wall_ms: float
    cpu_ms: float  # user + system of the child


def child_env(pycache: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a timed process: bytecode cached in `pycache`, like an installed tool."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return env | {"PYTHONPYCACHEPREFIX": str(pycache)} | dict(extra or {})


def timed(
    cmd: Sequence[str | Path], env: Mapping[str, str], before: Callable[[], object] | None = None
) -> Timing:
    """One fresh process, wall and CPU time; a non-zero exit is an error of the thing measured."""
    if before:
        before()  # preparing the round (emptying an output folder) is not timed
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    wall = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime) * 1000
    return Timing(wall, cpu)


@dataclass(frozen=True)
class Command:
    cmd: Sequence[str | Path]
    env: Mapping[str, str]
    before: Callable[[], object] | None = None

    def run(self) -> Timing:
        return timed(self.cmd, self.env, self.before)


def paired(a: Command, b: Command, rounds: int, warmup: int = 2) -> tuple[list[Timing], list[Timing]]:
    """A and B in turn, A B A B ..., after `warmup` uncounted pairs."""
    times_a: list[Timing] = []
    times_b: list[Timing] = []
    for i in range(warmup + rounds):
        ta, tb = a.run(), b.run()
        if i >= warmup:
            times_a.append(ta)
            times_b.append(tb)
    return times_a, times_b


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def pair_rows(
    sides: tuple[tuple[str, str], tuple[str, str]], a: list[Timing], b: list[Timing], goal: float | None
) -> list[Row]:
    """Each side's wall time (`sides`: label and note of A, of B), and the ratio A/B pair by pair:
    wall time, which the goal is about, and CPU time for context."""
    n = len(a)
    (label_a, note_a), (label_b, note_b) = sides
    rows = []
    for (label, note), times in (((label_a, note_a), a), ((label_b, note_b), b)):
        low, mid, high = spread([t.wall_ms for t in times])
        rows.append(Row(label, mid, "ms", n, low=low, high=high, note=note))
    low, mid, high = spread([x.wall_ms / y.wall_ms for x, y in zip(a, b, strict=True)])
    rows.append(Row(f"  {label_a.split(' (')[0]} / {label_b.split(' (')[0]}", mid, "x", n, goal, low, high))
    low, mid, high = spread([x.cpu_ms / y.cpu_ms for x, y in zip(a, b, strict=True)])
    rows.append(Row("  the same, CPU time", mid, "x", n, low=low, high=high))
    return rows


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
    """`newsletter build --force` as the CLI calls it; any error means the tool is broken, so it raises."""
    report = build(open_project(root), out=out, force=True, site=False)
    if report.errors:
        raise RuntimeError("build failed: " + "; ".join(e.format(root) for e in report.errors))
    return len(report.built)


def median_time(run: Callable[[], object], reps: int) -> float:
    """Median wall time in ms of `run` in this process, after one untimed run."""
    run()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def ensure_mjml_cli(version: str) -> Path | str:
    """The MJML CLI of `version` (an npm range) under bench/.mjml/, installed on first use; or why not."""
    if not (shutil.which("node") and shutil.which("npm")):
        return "skipped: node/npm not found"
    prefix = MJML_ROOT / version
    binary = prefix / "node_modules" / ".bin" / "mjml"
    if not binary.exists():
        cmd = ["npm", "install", "--prefix", str(prefix), f"mjml@{version}", "--no-audit", "--no-fund"]
        print("installing the MJML CLI:", " ".join(cmd), file=sys.stderr)
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not binary.exists():
            return f"skipped: npm install failed: {done.stderr.strip()[-300:]}"
    return binary


def mjml_command(version: str, source: Path) -> tuple[Command, str] | str:
    """`mjml FILE -s` of that version and a note on what it made; or why it cannot run."""
    binary = ensure_mjml_cli(version)
    if isinstance(binary, str):
        return binary
    cmd: list[str | Path] = ["node", binary, source, "-s"]
    done = subprocess.run(cmd, capture_output=True, check=False)
    if done.returncode != 0:
        return f"skipped: exit {done.returncode}"
    found = subprocess.run(["node", binary, "--version"], capture_output=True, text=True, check=False)
    cli = re.search(r"mjml-cli: (\S+)", found.stdout)
    note = f"MJML {cli.group(1) if cli else version}, Node {subprocess.getoutput('node --version')}"
    return Command(cmd, dict(os.environ)), f"{note}; {len(done.stdout) / 1024:.1f} KB HTML"


def bench_against_mjml(tmp: Path, root: Path, rounds: int) -> list[Row]:
    """Fresh and unchanged one-campaign builds, paired with the MJML CLI on the same email."""
    source = tmp / f"{SAMPLE}.mjml"
    source.write_text(render_one(open_project(root), SAMPLE).mjml, encoding="utf-8")
    env = child_env(tmp / "pycache")
    fresh_out = tmp / "fresh-out"
    fresh = Command(
        [NEWSLETTER, "--project", root, "build", SAMPLE, "--out", fresh_out],
        env,
        before=lambda: shutil.rmtree(fresh_out, ignore_errors=True),
    )
    kept_out = tmp / "kept-out"
    unchanged = Command([NEWSLETTER, "--project", root, "build", SAMPLE, "--out", kept_out], env)
    unchanged.run()  # the build whose output the unchanged rounds find
    rows: list[Row] = []
    for version in MJML_VERSIONS:
        found = mjml_command(version, source)
        if isinstance(found, str):
            rows.append(Row(f"MJML {version} CLI ({found})", float("nan"), "ms", 0))
            continue
        mjml, note = found
        yardstick = (f"mjml {version} -s (same email)", note)
        a, b = paired(fresh, mjml, rounds)
        sides = ((f"build {SAMPLE} (fresh)", "render, checks, review pages"), yardstick)
        rows += pair_rows(sides, a, b, FRESH_GOAL if version == "5" else None)
        if version == "5":
            a, b = paired(unchanged, mjml, rounds)
            sides = ((f"build {SAMPLE} (unchanged)", "nothing rendered: the stored hash matches"), yardstick)
            rows += pair_rows(sides, a, b, UNCHANGED_GOAL)
    if not any(r.reps and r.unit == "x" for r in rows):  # no Node: ours alone
        for name, command in (("fresh", fresh), ("unchanged", unchanged)):
            low, mid, high = spread([command.run().wall_ms for _ in range(rounds)])
            rows.append(Row(f"build {SAMPLE} ({name})", mid, "ms", rounds, low=low, high=high))
    return rows


def bench_help(tmp: Path, rounds: int) -> Row:
    command = Command([NEWSLETTER, "--help"], child_env(tmp / "pycache"))
    for _ in range(2):
        command.run()
    low, mid, high = spread([command.run().wall_ms for _ in range(rounds)])
    return Row("newsletter --help", mid, "ms", rounds, 150, low, high)


def bench_locked(tmp: Path, plain_root: Path, rounds: int) -> list[Row]:
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
    base = {k: v for k, v in child_env(tmp / "pycache").items() if k != "STRIPE_API_KEY"}
    out_a, out_b = tmp / "locked-out", tmp / "plain-out"
    locked = Command(
        [NEWSLETTER, "--project", root, "build", SAMPLE, "--out", out_a],
        base | {"STRIPE_API_BASE": "http://127.0.0.1:9"},
        before=lambda: shutil.rmtree(out_a, ignore_errors=True),
    )
    plain = Command(
        [NEWSLETTER, "--project", plain_root, "build", SAMPLE, "--out", out_b],
        base,
        before=lambda: shutil.rmtree(out_b, ignore_errors=True),
    )
    a, b = paired(locked, plain, rounds)
    low, mid, high = spread([x.wall_ms / y.wall_ms for x, y in zip(a, b, strict=True)])
    return [Row("links locked / plain build (fresh)", mid, "x", rounds, 1.1, low, high)]


def bench_many(tmp: Path, count: int, reps: int) -> list[Row]:
    """Many campaigns in one process: open_project + build with review pages, no start-up cost."""
    root = copy_project(tmp / "many")
    write_campaigns(root, count)
    built: list[int] = []
    total = median_time(lambda: built.append(build_in_process(root, tmp / "many-out")), reps)
    if set(built) != {count}:
        raise RuntimeError(f"expected {count} campaigns built, got {built}")
    return [
        Row(f"build {count} campaigns in one process, total", total, "ms", reps),
        Row(f"build {count} campaigns in one process, each", total / count, "ms", reps),
    ]


def bench_render(root: Path, reps: int) -> Row:
    """Jinja2, MRML, premailer and the text part for a loaded campaign, everything warmed up."""
    project = open_project(root)
    campaign, renderer = load_one(project, SAMPLE), make_renderer(project)
    return Row(
        f"render {SAMPLE} in a warm process",
        median_time(lambda: renderer.render(campaign), reps),
        "ms",
        reps,
    )


def html_sizes(root: Path, out: Path) -> list[Row]:
    """Sizes of the built sample emails (Gmail clips at 102 KB; we want headroom)."""
    build_in_process(root, out)
    return [
        Row(f"HTML size {p.parent.name}", p.stat().st_size / 1024, "KB", 1, 60)
        for p in sorted(out.glob("*/email.html"))
    ]


# -- where start-up goes -------------------------------------------------------------------------

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def import_profile(stderr: str) -> tuple[dict[str, float], dict[str, float]]:
    """From `-X importtime`: the cumulative ms of each import made at the top (the outermost ones,
    which add up to all import time), and the own ms of each top-level package (`pydantic` holds
    pydantic_core too: a distribution's modules under the name users know)."""
    roots: dict[str, float] = defaultdict(float)
    packages: dict[str, float] = defaultdict(float)
    for own, cumulative, indent, name in _IMPORT_LINE.findall(stderr):
        if not indent:
            roots[name] += int(cumulative) / 1000
        top = name.split(".")[0].removesuffix("_core")
        packages["newsletter (this tool)" if top == "newsletter" else top] += int(own) / 1000
    return dict(roots), dict(packages)


def bench_imports(tmp: Path, root: Path, runs: int, top: int) -> list[str]:
    """Medians over `runs` fresh builds under `-X importtime`: total, top roots, top packages."""
    env = child_env(tmp / "pycache")
    out = tmp / "imports-out"
    cmd = [sys.executable, "-X", "importtime", "-m", "newsletter", "--project", str(root)]
    walls: list[float] = []
    profiles: list[tuple[dict[str, float], dict[str, float]]] = []
    for i in range(runs + 1):
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        done = subprocess.run(
            [*cmd, "build", SAMPLE, "--out", str(out)], capture_output=True, text=True, env=env, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        if i:  # the first run fills the bytecode cache
            walls.append((time.perf_counter() - start) * 1000)
            profiles.append(import_profile(done.stderr))
    wall = statistics.median(walls)
    total = statistics.median(sum(roots.values()) for roots, _ in profiles)

    def medians(found: list[dict[str, float]]) -> list[tuple[str, float]]:
        names = {name for one in found for name in one}
        ms = {name: statistics.median(one.get(name, 0.0) for one in found) for name in names}
        return sorted(ms.items(), key=lambda item: -item[1])[:top]

    lines = [
        f"Imports of a fresh build (-X importtime, median of {runs}): {total:.0f} ms of {wall:.0f} ms "
        f"wall ({100 * total / wall:.0f} %; importtime itself slows imports down)",
        "  top imports by cumulative time (the outermost, as the code asks for them):",
        *(f"    {ms:7.1f} ms  {name}" for name, ms in medians([roots for roots, _ in profiles])),
        "  by package, own time of all its modules:",
        *(f"    {ms:7.1f} ms  {name}" for name, ms in medians([packages for _, packages in profiles])),
    ]
    return lines


def print_table(rows: Sequence[Row]) -> None:
    """A table a person can read at a glance: figure, spread, goal, verdict."""
    width = max(len(r.name) for r in rows)

    def figure(value: float | None, unit: str) -> str:
        if value is None:
            return ""
        return f"{value:.2f}" if unit == "x" else f"{value:.1f}" if unit == "KB" else f"{value:.0f}"

    print(f"{'measure':<{width}}  {'median':>8}  {'min':>6}  {'max':>6}  unit  {'n':>2}  {'goal':>7}  status")
    for r in rows:
        goal = "" if r.goal is None else f"<= {r.goal:g}"
        line = (
            f"{r.name:<{width}}  {figure(r.value, r.unit):>8}  {figure(r.low, r.unit):>6}  "
            f"{figure(r.high, r.unit):>6}  {r.unit:<4}  {r.reps:>2}  {goal:>7}  {r.status:<6}"
        )
        print((line + ("  " + r.note if r.note else "")).rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    """Run everything, print the table, optionally write JSON; 0 unless the tool itself failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=11, help="counted pairs per comparison (default 11)")
    parser.add_argument("--quick", action="store_true", help="5 rounds, 1 repetition for the 50-run")
    parser.add_argument("--many-reps", type=int, help="repetitions for the 50-campaign run (default 3)")
    parser.add_argument("--count", type=int, default=50, help="campaigns in the in-process run")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    rounds = 5 if args.quick else args.rounds
    many_reps = args.many_reps or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory(prefix="newsletter-bench-") as name:
        tmp = Path(name)
        root = copy_project(tmp / "sample")
        rows = [bench_help(tmp, rounds)]
        rows += bench_against_mjml(tmp, root, rounds)
        rows += bench_locked(tmp, root, rounds)
        rows += bench_many(tmp, args.count, many_reps)
        rows.append(bench_render(root, 20))
        rows += html_sizes(root, tmp / "sizes-out")
        imports = bench_imports(tmp, root, 5 if args.quick else 7, 10)
    print_table(rows)
    print()
    print("\n".join(imports))
    if args.json:
        figures = [asdict(r) | {"value": None if r.reps == 0 else r.value, "status": r.status} for r in rows]
        args.json.write_text(json.dumps({"rows": figures, "imports": imports}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
