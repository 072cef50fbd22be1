"""Stopping a send from outside, as a clean pause: Ctrl-C or SIGTERM (a shutdown, a service manager).

The first request stops the run taking new recipients and lets the SMTP transactions in flight end
(each within the SMTP timeout), so every reader is recorded as what the server said: a message the
server has is `sent`, not "maybe sent". Killing the threads instead would leave those readers
`unknown`, and `--retry-unknown` would mail them twice. A second request cuts the transactions off:
for someone who cannot wait, at the price of `unknown` rows.

The run (run.py) only reads a `Stop`; who requests it is the caller's business: the CLI through
`signals_stop`, a test by calling `request()`. Signal handlers can only be installed in the main
thread, and they are Python's own for as short as possible: for the run, then the old ones return.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop:
    """How often the run was asked to stop: once finishes what is in flight, twice cuts it off.

    Only plain attributes, no locks: it is written from a signal handler, which must never wait for
    a lock its own (main) thread might hold, and read by the sending threads.
    """

    def __init__(self) -> None:
        self.requests = 0
        self.signal: int | None = None  # the latest signal that asked, if a signal did
        self.in_flight = 0  # SMTP transactions under way now (the run keeps count), for what is said
        self.finished = False  # the run is over: a request now only decides the exit code
        self.cut_off = 0  # transactions in flight when the second request came

    def request(self, signum: int | None = None) -> None:
        self.requests += 1
        self.signal = signum if signum is not None else self.signal
        if self.requests == 2 and not self.finished:
            self.cut_off = self.in_flight

    @property
    def requested(self) -> bool:
        return self.requests >= 1

    @property
    def aborted(self) -> bool:
        return self.requests >= 2

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signal).name if self.signal is not None else "request"


@contextmanager
def signals_stop(stop: Stop, on_signal: Callable[[Stop], None] = lambda stop: None) -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM request `stop` (and call `on_signal`, to tell the
    user) instead of raising KeyboardInterrupt or ending the process; the previous handlers are back
    afterwards. Outside the main thread (a test running the CLI in a thread) nothing is installed,
    and a signal the process was told to ignore (`nohup`, a background job's SIGINT) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.request(signum)
        on_signal(stop)

    previous = {
        number: signal.signal(number, handle)
        for number in SIGNALS
        if signal.getsignal(number) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
