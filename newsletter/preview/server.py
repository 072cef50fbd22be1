"""The live preview: the review pages served on 127.0.0.1, rebuilt as the project's files change.

`PreviewServer` serves the review pages of build/, watches the project's files, rebuilds what changed
(through `newsletter.build`, so a served page and a built one are the same file) and makes open pages
reload (Server-Sent Events on `/__reload`; the little script that listens is added to pages as they
are served, never to the files). A build error shows as an overlay naming file and line, and the
server keeps running until the file is fixed. What is served, and to whom, is `handler`'s part:
only the review pages, never the rest of build/ (the dry run's outbox among it).
"""

from __future__ import annotations

import html as html_lib
import logging
import os
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from newsletter.build import build
from newsletter.errors import NewsletterError, flatten
from newsletter.payments.lock import lock_path
from newsletter.preview.handler import HOST, RELOAD_PATH, PreviewHTTPServer, bind
from newsletter.project.settings import SETTINGS_FILE, Project, open_project
from newsletter.review.counts import plural
from newsletter.review.pages import stylesheet

log = logging.getLogger(__name__)

SETTLE_SECONDS = 0.03  # a change is built once the files have stayed the same this long


@dataclass(frozen=True)
class Rebuild:
    """What one rebuild did, for whoever started the server (the CLI prints it)."""

    changed: tuple[Path, ...]  # empty for the first build
    campaigns: tuple[str, ...]  # the campaigns built
    errors: tuple[NewsletterError, ...]
    seconds: float
    crash: str | None = None  # a bug in the tool: its traceback


@dataclass
class _State:
    version: int = 0
    errors: tuple[NewsletterError, ...] = ()
    crash: str | None = None
    stopping: bool = False
    condition: threading.Condition = field(default_factory=threading.Condition)


class PreviewServer:
    """Serve the review pages of build/ on 127.0.0.1, rebuild on change, reload open pages.

    `start()` builds every campaign, then serves and watches in background threads; `stop()` ends
    both. `port=0` takes a free port; a taken port falls back to a free one (see `url`).
    """

    def __init__(
        self,
        project: Project,
        *,
        port: int = 8000,
        out: Path | None = None,
        interval: float = 0.1,
        on_rebuild: Callable[[Rebuild], None] | None = None,
    ) -> None:
        self.project = project
        self.out = out or project.root / "build"
        self.requested_port = port
        self.interval = interval
        self.on_rebuild = on_rebuild
        self._state = _State()
        self._httpd: PreviewHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the preview server is not running")
        return f"http://{HOST}:{self._httpd.port}/"

    @cached_property
    def watched(self) -> tuple[Path, ...]:
        p = self.project
        return (
            p.campaigns_dir,
            p.columns_dir,
            p.books_dir,
            p.authors_file,
            p.templates_dir,
            p.root / SETTINGS_FILE,
            lock_path(p),
        )

    def start(self) -> PreviewServer:
        snapshot = watch_snapshot(self.watched)
        self._rebuild(())
        self._httpd = bind(self.requested_port, self)
        self.out.mkdir(parents=True, exist_ok=True)
        serve = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="preview-http", daemon=True
        )
        watch = threading.Thread(target=self._watch, args=(snapshot,), name="preview-watch", daemon=True)
        self._threads = [serve, watch]
        for thread in self._threads:
            thread.start()
        return self

    def wait(self) -> None:
        """Block until `stop()` (the CLI stops on Ctrl-C)."""
        while not self._stopped.wait(0.5):
            pass

    def stop(self) -> None:
        with self._state.condition:
            self._state.stopping = True
            self._state.condition.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._stopped.set()

    def __enter__(self) -> PreviewServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- watching and rebuilding

    def _watch(self, snapshot: dict[Path, tuple[int, int]]) -> None:
        while not self._state.stopping:
            time.sleep(self.interval)
            current = watch_snapshot(self.watched)
            if current != snapshot:
                current = self._settled(current)
                changed = tuple(
                    sorted(p for p in current.keys() | snapshot.keys() if current.get(p) != snapshot.get(p))
                )
                snapshot = current
                self._rebuild(changed)

    def _settled(self, current: dict[Path, tuple[int, int]]) -> dict[Path, tuple[int, int]]:
        """Wait until the files stop changing (a save is often a truncate, then writes), up to a second:
        building a half-written file would flash an error that was never really there."""
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            time.sleep(SETTLE_SECONDS)
            again = watch_snapshot(self.watched)
            if again == current:
                break
            current = again
        return current

    def _rebuild(self, changed: tuple[Path, ...]) -> None:
        started = time.perf_counter()
        ids: tuple[str, ...] = ()
        errors: tuple[NewsletterError, ...] = ()
        crash = None
        try:
            if changed:  # settings are read afresh: a broken newsletter.toml stays an error until fixed
                self.project = open_project(self.project.root)
            ids = self._campaigns_to_build(changed)
            # force: every campaign asked for is rendered, as it always was here; build's skipping
            # of unchanged campaigns is for `newsletter build`.
            report = build(self.project, ids, out=self.out, force=True, site=False)
            ids = tuple(b.rendered.campaign.id for b in report.built)
            errors = tuple(flatten(report.errors))
        except NewsletterError as error:
            errors = tuple(flatten([error]))
        except Exception:  # a bug in the tool must not take the preview down with it
            crash = traceback.format_exc()
            log.exception("rebuild failed")
        with self._state.condition:
            self._state.version += 1
            self._state.errors = errors
            self._state.crash = crash
            self._state.condition.notify_all()
        if self.on_rebuild:
            self.on_rebuild(Rebuild(changed, ids, errors, time.perf_counter() - started, crash))

    def _campaigns_to_build(self, changed: Sequence[Path]) -> tuple[str, ...]:
        """Only the changed campaigns when nothing else changed and all was well; else everything
        (a shared file, a deleted campaign, or errors that a full build must confirm or clear)."""
        if not changed or self._state.errors or self._state.crash:
            return ()
        campaigns = self.project.campaigns_dir
        ids = []
        for path in changed:
            if path.parent != campaigns or path.suffix not in {".yaml", ".yml"} or not path.exists():
                return ()
            ids.append(path.stem)
        return tuple(sorted(set(ids)))

    # -- what the HTTP handlers need

    def current(self) -> tuple[int, tuple[NewsletterError, ...], str | None]:
        with self._state.condition:
            return self._state.version, self._state.errors, self._state.crash

    def wait_for_change(self, since: int, timeout: float) -> int | None:
        """The new version once there is one; None when stopping; `since` again on timeout."""
        with self._state.condition:
            self._state.condition.wait_for(
                lambda: self._state.version != since or self._state.stopping, timeout=timeout
            )
            return None if self._state.stopping else self._state.version

    def decorate(self, page: str) -> str:
        """A served page: the build errors on top of it, and the script that reloads it on change."""
        version, errors, crash = self.current()
        extra = error_overlay(errors, crash, self.project.root) + _RELOAD_SCRIPT.replace(
            "__VERSION__", str(version)
        )
        found = list(re.finditer(r"</body\s*>", page, re.IGNORECASE))
        if found:
            at = found[-1].start()
            return page[:at] + extra + page[at:]
        return page + extra

    def error_page(self) -> str:
        return self.decorate(
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
            f"<title>Build failed</title><style>\n{stylesheet()}</style></head>"
            "<body><main></main></body></html>"
        )


_RELOAD_SCRIPT = (
    "<script>(function(){var s=new EventSource('" + RELOAD_PATH + "?since=__VERSION__');"
    "s.onmessage=function(){s.close();location.reload();};})();</script>"
)


def error_overlay(errors: Sequence[NewsletterError], crash: str | None, root: Path) -> str:
    if not errors and not crash:
        return ""
    lines = [error.format(root) for error in errors]
    if crash:
        lines.append(f"internal error (a bug in newsletter):\n{crash}")
    body = html_lib.escape("\n".join(lines))
    count = len(errors) + (1 if crash else 0)
    return (
        '<div id="newsletter-build-errors" role="alert" style="position:fixed;inset:0 0 auto 0;'
        "z-index:2147483647;max-height:80vh;overflow:auto;background:#fff4f4;color:#7a0000;"
        "border-bottom:3px solid #c62828;"
        'padding:14px 24px;font:14px/1.45 system-ui,sans-serif;box-shadow:0 4px 16px rgba(0,0,0,.25)">'
        f"<strong>Build failed: {plural(count, 'problem')}.</strong> "
        "The page shows the last good build; it reloads when the files are fixed."
        '<pre style="white-space:pre-wrap;margin:8px 0 0;'
        'font:13px/1.5 ui-monospace,Menlo,Consolas,monospace">'
        f"{body}</pre></div>"
    )


def watch_snapshot(paths: Iterable[Path]) -> dict[Path, tuple[int, int]]:
    """Modification time and size of every file under `paths` (editors' backup and swap files aside)."""
    found: dict[Path, tuple[int, int]] = {}
    for path in paths:
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for name in files:
                    if not _ignored(name):
                        _stat_into(found, Path(folder, name))
        else:
            _stat_into(found, path)
    return found


def _ignored(name: str) -> bool:
    return name.startswith((".", "#")) or name.endswith(("~", ".swp", ".tmp"))


def _stat_into(found: dict[Path, tuple[int, int]], path: Path) -> None:
    try:
        stat = path.stat()
    except OSError:
        return
    found[path] = (stat.st_mtime_ns, stat.st_size)
