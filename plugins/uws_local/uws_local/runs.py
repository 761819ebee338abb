"""The local manager's run table: the jobs it queues, starts and runs, under one lock."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from .processes import Running

#: Retries of what could not be recorded (a database outage): first and longest pause.
RETRY_FIRST, RETRY_MAX = 0.5, 5.0


@dataclass
class Unrecorded:
    """A job's start or end that storage could not record yet; retried by the monitor."""

    run: Running
    returncode: int | None = None
    start_time: datetime | None = None  # set for a start, None for an end
    supervisor: int | None = None  # an end's wrapper status, when it left no exit record
    ended: str | None = None  # an end's time, as the wrapper recorded it
    delay: float = RETRY_FIRST
    next_try: float = 0.0

    def later(self) -> None:
        self.next_try = time.monotonic() + self.delay
        self.delay = min(self.delay * 2, RETRY_MAX)


@dataclass
class RunTable:
    """What one local manager holds; shared with its recovery. Read and change the
    collections only with ``lock`` held (``Running.signal`` and ``done`` too)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    queue: deque[str] = field(default_factory=deque)  # waiting for a slot, oldest first
    starting: set[str] = field(default_factory=set)  # holding a slot, being spawned
    running: dict[str, Running] = field(default_factory=dict)
    # Starts and ends that storage could not record (it was down): retried until it can.
    starts: dict[str, Unrecorded] = field(default_factory=dict)
    ends: dict[str, Unrecorded] = field(default_factory=dict)

    def knows(self, job_id: str) -> bool:
        """Whether the job is queued, starting, running or ending here (lock held)."""
        return (
            job_id in self.running
            or job_id in self.starting
            or job_id in self.queue
            or job_id in self.ends
        )

    def adopt(self, run: Running) -> None:
        with self.lock:
            self.running[run.job_id] = run

    def adopted(self) -> list[Running]:
        """The running jobs that are not our children (adopted after a restart)."""
        with self.lock:
            return [run for run in self.running.values() if run.adopted and not run.done]

    def mark_done(self, run: Running) -> bool:
        """Note that the job's wrapper has exited; False if it was noted already."""
        with self.lock:
            if run.done:
                return False
            run.done = True
            return True
