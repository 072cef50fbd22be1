"""Delivering the sign-up's mails on a thread of their own.

A sign-up's answer must take as long for an address on the list as for one that is not: a form that
answered faster when no mail went out would tell anyone who is subscribed. So the request only puts
the mail in a queue and answers; this thread delivers it, each mail over a connection of its own
(they are few). A job is what to do with that connection: make a mail and send it, and record its
Message-ID (service.py), or send the welcome email through the send log (welcome.py). A mail that
cannot be sent is logged: the reader can sign up again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from newsletter.errors import NewsletterError
from newsletter.sending.transport import Transport

log = logging.getLogger("newsletter.signup")

# Work done with a connection not yet made: `ready()` it, deliver a mail, or more (the welcome).
Job = Callable[[Transport], object]


class Mailer:
    def __init__(self, transport: Callable[[], Transport]) -> None:
        self.transport = transport
        self.jobs: queue.Queue[Job | threading.Event] = queue.Queue(maxsize=10_000)
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def submit(self, job: Job) -> None:
        """Run `job` with a connection of its own, on this thread, after the jobs before it."""
        self._start()
        try:
            self.jobs.put_nowait(job)
        except queue.Full:  # a flood the limits let through: the reader can sign up again
            log.error("sign-up mail dropped: %d mails are waiting already", self.jobs.maxsize)

    def drain(self, timeout: float = 30) -> bool:
        """Wait until every mail submitted so far was handled (tests, a server that stops)."""
        self._start()
        finished = threading.Event()
        self.jobs.put(finished, timeout=timeout)
        return finished.wait(timeout)

    def _start(self) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._work, name="signup-mailer", daemon=True)
                self.thread.start()

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if isinstance(job, threading.Event):
                job.set()
            else:
                self._deliver(job)

    def _deliver(self, job: Job) -> None:
        try:
            with self.transport() as transport:
                job(transport)  # the job calls `ready()`: a connection that fails is its failure too
        except NewsletterError as error:
            log.error("sign-up mail not sent: %s", error.message)
        except Exception:
            log.exception("sign-up mail not sent")
