"""Following SLURM jobs: the jobs this process follows, and the watcher thread that polls
squeue (accounting and the exit file for the jobs it forgot) and reports to the reconciler."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from uws_pyramid.api import ACTIVE, Job, NotFound, Storage, Worker

from .slurm import Slurm, SlurmError, SlurmJob

if TYPE_CHECKING:
    from .reconcile import Reconciler

log = logging.getLogger(__name__)

#: After an "ended" event or a cancel, SLURM needs some tens of milliseconds to settle the
#: job's final state: look at such jobs this often, for at most HURRY seconds.
HURRY_INTERVAL = 0.05
HURRY = 15.0
#: Seconds between two scancel of a job that the service aborted and SLURM still runs.
CANCEL_AGAIN = 5.0


@dataclass
class Followed:
    slurm_id: str
    hurry_until: float = 0.0
    cancelled_at: float = 0.0


class FollowTable:
    """The jobs this server process follows, by job id; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Followed] = {}

    def follow(self, job_id: str, slurm_id: str) -> None:
        with self._lock:
            if job_id not in self._jobs:
                self._jobs[job_id] = Followed(slurm_id)

    def unfollow(self, job_id: str) -> bool:
        with self._lock:
            return self._jobs.pop(job_id, None) is not None

    def slurm_id(self, job_id: str) -> str | None:
        with self._lock:
            followed = self._jobs.get(job_id)
        return followed.slurm_id if followed else None

    def job_ids(self, only: set[str] | None = None) -> list[str]:
        with self._lock:
            return [j for j in self._jobs if only is None or j in only]

    def hurry(self, job_id: str, cancelled: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            followed = self._jobs.get(job_id)
            if followed is not None:
                followed.hurry_until = now + HURRY
                if cancelled:
                    followed.cancelled_at = now

    def hurried(self) -> set[str]:
        now = time.monotonic()
        with self._lock:
            return {j for j, f in self._jobs.items() if f.hurry_until > now}

    def cancel_again(self, job_id: str) -> bool:
        """Whether to scancel a job again (not more often than every CANCEL_AGAIN s)."""
        now = time.monotonic()
        with self._lock:
            followed = self._jobs.get(job_id)
            if followed is None or now - followed.cancelled_at < CANCEL_AGAIN:
                return False
            followed.cancelled_at = now
            return True


class Watcher:
    """The thread that looks at the followed jobs: every ``poll_interval``, often for a job
    that is ending, and at once for a job's verified event."""

    def __init__(
        self,
        table: FollowTable,
        slurm: Slurm,
        storage: Storage,
        reconciler: Reconciler,
        poll_interval: float,
    ) -> None:
        self.table = table
        self.slurm = slurm
        self.storage = storage
        self.reconciler = reconciler
        self.poll_interval = poll_interval
        self._events: dict[str, str] = {}
        self._events_lock = threading.Lock()
        self._due = 0.0
        self._worker = Worker("uws-slurm-watcher", self._step, poll_interval)

    def start(self) -> None:
        self._due = time.monotonic() + self.poll_interval
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def hurry(self, job_id: str, cancelled: bool = False) -> None:
        """Look at the job often for a while (it is ending); ``cancelled``: we just asked
        SLURM to cancel it."""
        self.table.hurry(job_id, cancelled)
        self._worker.wake()

    def notify(self, job_id: str, event: str) -> None:
        """A job's verified event: handled by the watcher thread, so that the job's request
        returns at once and a burst of events makes one squeue call, not one each."""
        with self._events_lock:
            if self._events.get(job_id) != "ended":
                self._events[job_id] = event
        self._worker.wake()

    def _step(self) -> float:
        with self._events_lock:
            events, self._events = self._events, {}
        try:
            if events:
                self.handle(events)
            if time.monotonic() >= self._due:
                self._due = time.monotonic() + self.poll_interval
                self.poll()
            elif hurried := self.table.hurried():
                self.poll(hurried)
        except Exception:
            log.exception("SLURM watcher pass failed")
        pause = self._due - time.monotonic()
        return min(pause, HURRY_INTERVAL) if self.table.hurried() else pause

    def handle(self, events: dict[str, str]) -> None:
        started: list[Job] = []
        for job_id, event in events.items():
            try:
                job = self.storage.get(job_id)
            except NotFound:
                continue
            if job.phase not in ACTIVE or not job.process_id:
                continue  # not submitted yet: the poll will see it
            self.table.follow(job_id, job.process_id)
            if event == "started":
                started.append(job)
            elif not self.reconciler.ended_event(job):
                # The batch job is still finishing: look again at short intervals.
                self.hurry(job_id)
        if started:
            self.check(started)

    def poll(self, only: set[str] | None = None) -> None:
        """Check the followed jobs (or ``only`` those of them) against SLURM."""
        jobs: list[Job] = []
        for job_id in self.table.job_ids(only):
            try:
                jobs.append(self.storage.get(job_id))
            except NotFound:
                self.table.unfollow(job_id)
        self.check(jobs)

    def check(self, jobs: list[Job]) -> None:
        """Bring ``jobs`` up to date with what SLURM (or, for the jobs it forgot, accounting and
        the wrapper's exit file) says; a SLURM failure changes nothing."""
        ids = {job.job_id: job.process_id or self.table.slurm_id(job.job_id) or "" for job in jobs}
        jobs = [job for job in jobs if ids[job.job_id]]
        if not jobs:
            return
        try:
            found = self.slurm.squeue(ids[job.job_id] for job in jobs)
        except SlurmError as exc:
            log.warning("cannot follow SLURM jobs now: %s", exc)
            return
        gone = [ids[job.job_id] for job in jobs if ids[job.job_id] not in found]
        accounted: dict[str, SlurmJob] = {}
        if gone:
            try:
                accounted = self.slurm.sacct(gone)
            except SlurmError as exc:
                # No accounting on this cluster, say: the exit file is the last word.
                log.warning("sacct failed (%s): deciding from the exit files", exc)
        for job in jobs:
            slurm_id = ids[job.job_id]
            try:
                if slurm_id in found:
                    self.reconciler.apply(job, found[slurm_id])
                elif slurm_id in accounted:
                    self.reconciler.apply(job, accounted[slurm_id], final=True)
                else:
                    self.reconciler.vanished(job, slurm_id)
            except Exception:
                log.exception("job %s (SLURM job %s): update failed", job.job_id, slurm_id)
