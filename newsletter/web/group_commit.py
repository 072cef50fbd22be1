"""One-click unsubscribes that arrive together are written together: one transaction, one `fsync`.

Every unsubscribe must be on disk before it is answered (Gmail's one-click POST is sent once), and
SQLite writes one transaction at a time, each ending with an `fsync` of the WAL. One transaction per
request would make the server's threads queue for the write lock through SQLite's busy handler,
which sleeps up to 100 ms between tries: a few hundred answers a second, with a p99 over 100 ms.
So the server's threads hand their unsubscribes to one writer thread, which keeps a connection open,
takes all that are waiting, applies them in one transaction and answers each once it is committed
(as databases do with "group commit"). A request never waits for more than the batch in progress
and its own; a token that names nobody fails alone, a store that cannot be written fails the batch
(each request answers 503, and Gmail's next POST tries again).
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING

from newsletter.audience.unsubscribe import read_token, signing_key, unsubscribe_within
from newsletter.errors import NewsletterError
from newsletter.store import open_store
from newsletter.store.database_file import DatabaseUnavailable

if TYPE_CHECKING:
    from newsletter.audience.unsubscribe import Token, Unsubscribed
    from newsletter.project.settings import Project
    from newsletter.store import Store

BATCH = 64  # unsubscribes in one transaction at most
WAIT_SECONDS = 30.0  # for its batch to commit; far longer means the store is stuck (503)


class _Wanted:
    def __init__(self, token: Token, how: str) -> None:
        self.token = token
        self.how = how
        self.done: Future[Unsubscribed] = Future()


class GroupCommit:
    """`unsubscribe` for many threads at once, committed in batches by one writer thread."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.secret = signing_key(project.secrets)
        self.waiting: queue.SimpleQueue[_Wanted] = queue.SimpleQueue()
        self.started = threading.Lock()
        self.writer: threading.Thread | None = None

    def unsubscribe(self, token: str, *, how: str = "") -> Unsubscribed:
        """As `newsletter.audience.unsubscribe.unsubscribe`, answered once it is on disk."""
        wanted = _Wanted(read_token(token, self.secret), how)  # a forged token never gets in line
        self._start()
        self.waiting.put(wanted)
        return wanted.done.result(timeout=WAIT_SECONDS)

    def _start(self) -> None:
        with self.started:
            if self.writer is None:
                self.writer = threading.Thread(target=self._write, name="unsubscribes", daemon=True)
                self.writer.start()

    def _write(self) -> None:
        store: Store | None = None
        while True:
            batch = [self.waiting.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self.waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                store = store or open_store(self.project)
                try:
                    self._commit(store, batch)
                except DatabaseUnavailable:  # a connection kept open may have died (a database
                    store.close()  # server restarted): once more on a new one before giving up
                    store = None
                    store = open_store(self.project)
                    self._commit(store, batch)
            except BaseException as exc:  # the store cannot be written now: every request of it hears so
                for wanted in batch:
                    if not wanted.done.done():
                        wanted.done.set_exception(exc)
                if store is not None:
                    store.close()
                    store = None

    def _commit(self, store: Store, batch: list[_Wanted]) -> None:
        results: list[tuple[_Wanted, Unsubscribed | NewsletterError]] = []
        with store.transaction():
            for wanted in batch:
                try:
                    done = unsubscribe_within(store, self.project, wanted.token, self.secret, how=wanted.how)
                except NewsletterError as error:  # names nobody: this request's answer, not the batch's
                    if error.field != "token":
                        raise
                    results.append((wanted, error))
                else:
                    results.append((wanted, done))
        for wanted, result in results:  # committed: now each may be answered
            if isinstance(result, NewsletterError):
                wanted.done.set_exception(result)
            else:
                wanted.done.set_result(result)
