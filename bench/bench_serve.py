"""How many one-click unsubscribes a second does `newsletter serve` answer, against a bare waitress app?
A report, not a test: exits 0.

Run: `.venv/bin/python bench/bench_serve.py [--requests N] [--clients N] [--rounds N]` (about a
minute).

Both servers run as processes of their own on loopback, with waitress's 4 threads: the floor is a
hello-world WSGI app on waitress, which answers every POST with a fixed text; ours is `newsletter
serve` on a copy of the sample project with `--requests` readers, each POSTed their own one-click
unsubscribe once (RFC 8058, as Gmail sends it), so every request writes the store. `--clients`
threads send the requests over keep-alive connections. The two run in turn, A B A B, and the figures
are requests per second and the 99th percentile of the answers' latency, with their paired ratio.
The goal, from the performance issue: at least 0.5x the floor's requests per second and a p99 of at
most 25 ms.
"""

from __future__ import annotations

import argparse
import http.client
import os
import selectors
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from bench_build import copy_project  # the same sample-project copy as the build benchmark

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from newsletter.audience.unsubscribe import make_token
from newsletter.store import connect

SECRET = "a-benchmark-secret-of-enough-length"
CAMPAIGN = "2026-12-schrijven"
PATH = "/nieuwsbrief/afmelden"
HELLO = """
import sys, waitress
def app(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"unsubscribed\\n"]
server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
print(f"serving at http://127.0.0.1:{server.effective_port}/", flush=True)
server.run()
"""


def started(command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return server, serving_port(server)


def serving_port(server: subprocess.Popen[str]) -> int:
    """The port from the server's first line ("serving at http://127.0.0.1:PORT/"), waited for 30 s."""
    assert server.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(server.stdout, selectors.EVENT_READ)
        if not selector.select(30):
            raise TimeoutError(f"{server.args!r} printed nothing in 30 s")
    line = server.stdout.readline()
    return int(line.split("http://127.0.0.1:")[1].split("/")[0])


def load(port: int, paths: Sequence[str], clients: int) -> tuple[float, list[float], int]:
    """Every path POSTed once, by `clients` threads over keep-alive connections: (seconds,
    latencies, answers that were not 200)."""
    latencies: list[float] = []
    refused = 0
    lock = threading.Lock()
    queue = list(paths)

    def client() -> None:
        nonlocal refused
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        bad = 0
        while True:
            with lock:
                if not queue:
                    break
                path = queue.pop()
            began = time.perf_counter()
            connection.request(
                "POST", path, body=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )  # fmt: skip
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - began)
            bad += response.status != 200
        connection.close()
        with lock:
            latencies.extend(mine)
            refused += bad

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, latencies, refused


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=3000, help="one-click POSTs per round")
    parser.add_argument("--clients", type=int, default=32, help="concurrent client connections")
    parser.add_argument("--rounds", type=int, default=2, help="A B pairs")
    parser.add_argument("--tmp", type=Path, default=None, help="folder for the project copy")
    options = parser.parse_args(argv)
    env = {**os.environ, "NEWSLETTER_UNSUBSCRIBE_SECRET": SECRET}
    rows: list[tuple[str, float, float, int]] = []
    with tempfile.TemporaryDirectory(dir=options.tmp) as tmp:
        root = copy_project(Path(tmp) / "project")
        total = options.requests * options.rounds
        readers = "".join(f"lezer{n}@example.org,Lezer {n},nl\n" for n in range(total))
        (root / "readers.csv").write_text("email,name,locale\n" + readers, encoding="utf-8")
        newsletter = [sys.executable, "-m", "newsletter", "--project", str(root)]
        imported = [*newsletter, "audience", "import", str(root / "readers.csv"), "--consent", "bench"]
        subprocess.run(imported, env=env, check=True, capture_output=True)
        with connect(root / "audience.sqlite3") as store:
            tokens = [make_token(s.email, CAMPAIGN, SECRET.encode(), s.id) for s in store.select()]
        paths = [f"{PATH}?token={token}" for token in tokens]
        for number in range(options.rounds):
            for name, command in (
                ("hello-world waitress", [sys.executable, "-c", HELLO]),
                ("newsletter serve", [*newsletter, "serve", "--port", "0"]),
            ):
                server, port = started(command, env)
                try:
                    chunk = paths[number * options.requests : (number + 1) * options.requests]
                    seconds, latencies, refused = load(port, chunk, options.clients)
                finally:
                    server.terminate()
                    server.wait(30)
                rows.append((name, len(latencies) / seconds, p99(latencies), refused))
    print(f"{options.requests} one-click POSTs per round, {options.clients} clients, waitress 4 threads")
    print("server                 req/s    p99 ms  not 200")
    for name, rate, worst, refused in rows:
        print(f"{name:21}  {rate:7.0f}  {worst * 1000:7.1f}  {refused:7}")
    ratios = [rows[i + 1][1] / rows[i][1] for i in range(0, len(rows), 2)]
    ours_p99 = statistics.median(row[2] for row in rows if row[0] == "newsletter serve")
    print(f"req/s, ours / the floor, pair by pair: {', '.join(f'{r:.2f}x' for r in ratios)}")
    met = statistics.median(ratios) >= 0.5 and ours_p99 <= 0.025
    print(f"goal (>= 0.5x the floor's req/s, p99 <= 25 ms): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
