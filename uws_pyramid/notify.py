"""Wake-ups for WAIT requests: a storage publishes a job's change, waiting requests wake up."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

#: The channel published when a job is created (job ids never hold a colon): job lists that
#: wait for a change (``WAIT`` on a list) listen to it besides their own jobs.
NEW_JOB = "uws:new-job"


class Notifier:
    """In-process notifier; storages shared by several processes feed it from their own channel.

    A waiter subscribes *before* it reads the job, so a change recorded between the read and
    the wait still wakes it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[threading.Event]] = defaultdict(set)

    @contextmanager
    def subscribe(self, job_id: str, *more: str) -> Iterator[threading.Event]:
        """One event, set when any of the given jobs (or channels) is published."""
        event = threading.Event()
        keys = (job_id, *more)
        with self._lock:
            for key in keys:
                self._waiters[key].add(event)
        try:
            yield event
        finally:
            with self._lock:
                for key in keys:
                    waiters = self._waiters.get(key)
                    if waiters is not None:
                        waiters.discard(event)
                        if not waiters:
                            del self._waiters[key]

    def publish(self, job_id: str) -> None:
        with self._lock:
            events = list(self._waiters.get(job_id, ()))
        for event in events:
            event.set()

    def publish_all(self) -> None:
        """Wake every waiter (changes may have been missed, or the server is stopping)."""
        with self._lock:
            events = [event for waiters in self._waiters.values() for event in waiters]
        for event in events:
            event.set()

    def waiting(self) -> int:
        """How many requests wait now (for tests and metrics)."""
        with self._lock:
            return len({event for waiters in self._waiters.values() for event in waiters})
