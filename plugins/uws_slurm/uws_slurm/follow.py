"""Following SLURM jobs: a watcher thread polls squeue, falls back on sacct and the exit file."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from uws_pyramid.errors import NotFound
from uws_pyramid.execution import contract
from uws_pyramid.jobs import ACTIVE, FINAL, ErrorSummary, Job, Phase, utcnow
from uws_pyramid.timeparse import ended_at

from .slurm import SlurmError, SlurmJob
from .states import ending, phase_of

if TYPE_CHECKING:
    from .manager import SlurmManager

log = logging.getLogger(__name__)

#: After an "ended" event or a cancel, SLURM needs some tens of milliseconds to settle the
#: job's final state: look at such jobs this often, for at most HURRY seconds.
HURRY_INTERVAL = 0.05
HURRY = 15.0
#: A QUEUED job with no SLURM id this long after its submitter gave up (``submit_retry``) was
#: never submitted (its server stopped meanwhile): it is submitted again.
UNSUBMITTED_GRACE = 60.0
#: Seconds between two scancel of a job that the service aborted and SLURM still runs.
CANCEL_AGAIN = 5.0
NEVER_SUBMITTED = "the job was never submitted to SLURM (the server stopped while submitting it)"


@dataclass
class Followed:
    slurm_id: str
    hurry_until: float = 0.0
    cancelled_at: float = 0.0


class Follower:
    """The jobs this server process follows, and the thread that polls them."""

    def __init__(self, manager: SlurmManager) -> None:
        self.manager = manager
        self._lock = threading.Lock()
        self._jobs: dict[str, Followed] = {}
        self._suspects: dict[str, float] = {}
        self._events: dict[str, str] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the manager tells us ---------------------------------------------------------

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

    def hurry(self, job_id: str, cancelled: bool = False) -> None:
        """Look at the job often for a while (it is ending); ``cancelled``: we just asked
        SLURM to cancel it."""
        now = time.monotonic()
        with self._lock:
            followed = self._jobs.get(job_id)
            if followed is not None:
                followed.hurry_until = now + HURRY
                if cancelled:
                    followed.cancelled_at = now
        self._wake.set()

    def notify(self, job_id: str, event: str) -> None:
        """A job's verified event: handled by the watcher thread, so that the job's request
        returns at once and a burst of events makes one squeue call, not one each."""
        with self._lock:
            if self._events.get(job_id) != "ended":
                self._events[job_id] = event
        self._wake.set()

    # -- the watcher thread ----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="uws-slurm-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _hurried(self) -> set[str]:
        now = time.monotonic()
        with self._lock:
            return {j for j, f in self._jobs.items() if f.hurry_until > now}

    def _loop(self) -> None:
        due = time.monotonic() + self.manager.options.poll_interval
        while not self._stop.is_set():
            pause = due - time.monotonic()
            if self._hurried():
                pause = min(pause, HURRY_INTERVAL)
            self._wake.wait(max(0.0, pause))
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._lock:
                events, self._events = self._events, {}
            try:
                if events:
                    self.handle(events)
                if time.monotonic() >= due:
                    due = time.monotonic() + self.manager.options.poll_interval
                    self.poll()
                elif hurried := self._hurried():
                    self.poll(hurried)
            except Exception:
                log.exception("SLURM watcher pass failed")

    def handle(self, events: dict[str, str]) -> None:
        started: list[Job] = []
        for job_id, event in events.items():
            try:
                job = self.manager.context.storage.get(job_id)
            except NotFound:
                continue
            if job.phase not in ACTIVE or not job.process_id:
                continue  # not submitted yet: the poll will see it
            self.follow(job_id, job.process_id)
            if event == "started":
                started.append(job)
                continue
            status = contract.read_exit(self.manager.job_dir(job_id))
            if status is not None and status.returncode == 0:
                # The script succeeded: no need to wait for SLURM to tidy up the batch job.
                self.complete(job)
            else:
                # SLURM's word decides (a cancel or a time limit also ends the script); the
                # batch job is still finishing, so look again at short intervals.
                self.hurry(job_id)
        if started:
            self.check(started)

    def poll(self, only: set[str] | None = None) -> None:
        """Check the followed jobs (or ``only`` those of them) against SLURM."""
        with self._lock:
            job_ids = [j for j in self._jobs if only is None or j in only]
        jobs: list[Job] = []
        for job_id in job_ids:
            try:
                jobs.append(self.manager.context.storage.get(job_id))
            except NotFound:
                self.unfollow(job_id)
        self.check(jobs)

    # -- comparing with SLURM --------------------------------------------------------------

    def check(self, jobs: list[Job]) -> None:
        """Bring ``jobs`` up to date with what SLURM (or, for the jobs it forgot, accounting and
        the wrapper's exit file) says; a SLURM failure changes nothing."""
        ids = {job.job_id: job.process_id or self.slurm_id(job.job_id) or "" for job in jobs}
        jobs = [job for job in jobs if ids[job.job_id]]
        if not jobs:
            return
        slurm = self.manager.slurm
        try:
            found = slurm.squeue(ids[job.job_id] for job in jobs)
        except SlurmError as exc:
            log.warning("cannot follow SLURM jobs now: %s", exc)
            return
        gone = [ids[job.job_id] for job in jobs if ids[job.job_id] not in found]
        accounted: dict[str, SlurmJob] = {}
        if gone:
            try:
                accounted = slurm.sacct(gone)
            except SlurmError as exc:
                # No accounting on this cluster, say: the exit file is the last word.
                log.warning("sacct failed (%s): deciding from the exit files", exc)
        for job in jobs:
            slurm_id = ids[job.job_id]
            try:
                if slurm_id in found:
                    self.apply(job, found[slurm_id])
                elif slurm_id in accounted:
                    self.apply(job, accounted[slurm_id], final=True)
                else:
                    self.vanished(job, slurm_id)
            except Exception:
                log.exception("job %s (SLURM job %s): update failed", job.job_id, slurm_id)

    def info(self, job: Job, slurm_id: str, partition: str = "", node: str = "",
             state: str = "", reason: str = "") -> dict[str, Any]:
        """jobInfo: SLURM's job id, partition and node (kept from earlier when not given)."""
        old = job.job_info
        extra = {
            "slurm_job_id": slurm_id,
            "partition": partition or old.get("partition", ""),
            "node": node or old.get("node", ""),
            "slurm_state": state or old.get("slurm_state", ""),
        }
        if reason and reason != "None":
            extra["slurm_reason"] = reason
        return contract.job_info(slurm_id, self.manager.job_dir(job.job_id),
                                 host=extra["node"], **extra)

    def apply(self, job: Job, sj: SlurmJob, final: bool = False) -> None:
        phase = phase_of(sj, final)
        if phase is None:
            return
        info = self.info(job, sj.job_id, sj.partition, sj.node, sj.state, sj.reason)
        if phase in FINAL:
            self.finish(job, sj, phase, info)
            return
        if job.phase not in ACTIVE:
            # Aborted by the service: SLURM is ending it, or the scancel got lost.
            if sj.state != "COMPLETING":
                self._cancel_again(job.job_id, sj.job_id)
            return
        record = self.manager.context.record
        if phase != job.phase:
            changes: dict[str, Any] = {"phase": phase, "job_info": info}
            if phase == Phase.EXECUTING and job.start_time is None:
                changes["start_time"] = utcnow()
            if record(job.job_id, ACTIVE - {phase}, **changes):
                log.info("job %s (SLURM %s %s): %s", job.job_id, sj.job_id, sj.state, phase)
        elif info != job.job_info:
            record(job.job_id, {phase}, job_info=info)  # progress, node, pending reason

    def _cancel_again(self, job_id: str, slurm_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            followed = self._jobs.get(job_id)
            if followed is None or now - followed.cancelled_at < CANCEL_AGAIN:
                return
            followed.cancelled_at = now
        log.info("job %s was aborted but SLURM job %s still runs: scancel again", job_id,
                 slurm_id)
        try:
            self.manager.slurm.scancel([slurm_id])
        except SlurmError as exc:
            log.warning("scancel of SLURM job %s failed again: %s", slurm_id, exc)

    def complete(self, job: Job) -> None:
        """The script exited 0 (its exit file says so): the job is COMPLETED."""
        slurm_id = job.process_id or self.slurm_id(job.job_id) or ""
        sj = SlurmJob(slurm_id, "COMPLETED")
        self.finish(job, sj, Phase.COMPLETED, self.info(job, slurm_id, state="COMPLETED"))

    def finish(self, job: Job, sj: SlurmJob, phase: Phase, info: dict[str, Any]) -> None:
        job_dir = self.manager.job_dir(job.job_id)
        status = contract.read_exit(job_dir)
        # Noticed late (a restart, an outage): the end is when the script's exit record says.
        now = ended_at(status.ended if status else None, job.start_time)
        changes = ending(job, job_dir, self.manager.description(job.job_type), sj, phase, now)
        changes["job_info"] = info
        if job.start_time is None and contract.read_wrapper(job_dir) is not None:
            changes["start_time"] = changes["end_time"]  # it ran, between two looks
        record = self.manager.context.record
        if record(job.job_id, ACTIVE, **changes):
            log.info("job %s (SLURM %s %s) ended: %s", job.job_id, sj.job_id, sj.state,
                     changes["phase"])
        else:
            # Aborted by the service meanwhile: keep the results made so far.
            record(job.job_id, {Phase.ABORTED}, results=changes["results"], job_info=info)
        self.unfollow(job.job_id)

    def vanished(self, job: Job, slurm_id: str) -> None:
        """SLURM forgot the job and accounting has no record: the exit file decides."""
        status = contract.read_exit(self.manager.job_dir(job.job_id))
        if status is not None:
            state = "COMPLETED" if status.returncode == 0 else "FAILED"
            sj = SlurmJob(slurm_id, state, exit_code=f"{max(status.returncode, 0)}:0")
            self.apply(job, sj, final=True)
            return
        log.warning("job %s: SLURM job %s is unknown and left no exit status", job.job_id,
                    slurm_id)
        message = f"SLURM no longer knows job {slurm_id}, and its script left no exit status"
        self.manager.context.record(
            job.job_id, ACTIVE, phase=Phase.ERROR, end_time=utcnow(),
            error=ErrorSummary(message),
        )
        self.unfollow(job.job_id)

    def check_unsubmitted(self, jobs: list[Job]) -> None:
        """Active jobs without a SLURM id: submitted by a server that stopped before recording
        the id (find the job by its name), or never submitted (ERROR after a grace period)."""
        now = time.monotonic()
        with self._lock:
            self._suspects = {j.job_id: self._suspects.get(j.job_id, now) for j in jobs}
            suspects = dict(self._suspects)
        grace = UNSUBMITTED_GRACE + self.manager.options.submit_retry
        for job in jobs:
            try:
                found = self.manager.slurm.find(self.manager.job_name(job))
            except SlurmError as exc:
                log.warning("cannot look for SLURM job of %s: %s", job.job_id, exc)
                continue
            if found:
                slurm_id = max(found, key=int)
                log.info("job %s: found its SLURM job %s by name", job.job_id, slurm_id)
                self.manager.context.record(job.job_id, ACTIVE, process_id=slurm_id)
                self.follow(job.job_id, slurm_id)
            elif now - suspects[job.job_id] >= grace:
                # No live submitter still tries (each gives up after submit_retry): the RUN
                # was accepted, so submit it ourselves.
                log.warning("job %s: QUEUED and never submitted; submitting it", job.job_id)
                try:
                    self.manager.submit(job)
                except Exception as exc:
                    self.manager.context.record(
                        job.job_id, {Phase.QUEUED}, phase=Phase.ERROR, end_time=utcnow(),
                        error=ErrorSummary(f"{NEVER_SUBMITTED}; submitting it again failed: "
                                           f"{exc}"),
                    )
