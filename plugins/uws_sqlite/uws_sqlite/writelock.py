"""One writer at a time, queued by the operating system instead of SQLite's busy handler.

SQLite lets one transaction write at a time; the others, at BEGIN IMMEDIATE, poll with
sleeps that grow to 100 ms, and an unlucky writer loses every poll: with 16 clients the
waits reached seconds (bench/bench_sqlite_load.py: p99 of BEGIN 2.7 s). Writers of this
process now queue on a thread lock, and processes on one file on an flock of a file beside
it, which the kernel hands over as soon as it is released; SQLite's own lock is then free
whenever a writer asks for it."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from uws_pyramid.api import ServiceUnavailable

#: Seconds between tries for another process's lock (the kernel has no flock with timeout).
POLL = 0.0005


class WriteLock:
    """The write lock of one database file (``path`` None: this process only)."""

    def __init__(self, path: str | None, timeout: float) -> None:
        self.timeout = timeout
        self._thread_lock = threading.Lock()
        self._fd = -1
        if path is not None:
            self._fd = os.open(path + ".writelock", os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def held(self) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise self.busy()
        try:
            # Read under the thread lock, which close() takes too: never closed while used.
            # Closed (the server stops): SQLite's own lock still keeps writes apart.
            fd = self._fd
            if fd >= 0:
                self._lock_file(fd, deadline)
            try:
                yield
            finally:
                if fd >= 0:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def _lock_file(self, fd: int, deadline: float) -> None:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise self.busy() from None
                time.sleep(POLL)

    def busy(self) -> ServiceUnavailable:
        return ServiceUnavailable(
            f"the job database stayed busy for {self.timeout:g} s; try again shortly",
            retry_after=5,
        )

    def close(self) -> None:
        """Close the lock file once no writer of this process holds it (a writer that
        still comes, as the server stops, goes by SQLite's lock alone)."""
        got = self._thread_lock.acquire(timeout=self.timeout)
        try:
            fd, self._fd = self._fd, -1
            if fd >= 0:
                os.close(fd)
        finally:
            if got:
                self._thread_lock.release()
