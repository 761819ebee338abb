"""What a SLURM job's state means for its UWS job: the facts reported to the service."""

from __future__ import annotations

import logging
import time
from typing import Any

from uws_pyramid.api import (
    ACTIVE,
    FINAL,
    Ending,
    ErrorSummary,
    Job,
    JobDir,
    ManagerContext,
    Phase,
    contract,
    ended_at,
    utcnow,
)

from .batch import job_name
from .follow import FollowTable
from .slurm import Slurm, SlurmError, SlurmJob
from .states import ending, phase_of

log = logging.getLogger(__name__)

#: A QUEUED job with no SLURM id this long after its submitter gave up (``submit_retry``) was
#: never submitted (its server stopped meanwhile): it is submitted again.
UNSUBMITTED_GRACE = 60.0
NEVER_SUBMITTED = "the job was never submitted to SLURM (the server stopped while submitting it)"


class Reconciler:
    """Compares a job with what SLURM (or accounting, or the wrapper's exit file) says of it
    and reports the difference through the context; knows nothing of threads or polling."""

    def __init__(
        self, context: ManagerContext, slurm: Slurm, table: FollowTable, submit_retry: float
    ) -> None:
        self.context = context
        self.slurm = slurm
        self.table = table
        self.submit_retry = submit_retry
        self._suspects: dict[str, float] = {}  # job id: when first seen without a SLURM id

    def job_dir(self, job_id: str) -> JobDir:
        return JobDir(self.context.workdir_root, job_id)

    def info(
        self,
        job: Job,
        slurm_id: str,
        partition: str = "",
        node: str = "",
        state: str = "",
        reason: str = "",
    ) -> dict[str, Any]:
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
        return contract.job_info(slurm_id, self.job_dir(job.job_id), host=extra["node"], **extra)

    def apply(self, job: Job, sj: SlurmJob, final: bool = False) -> None:
        """SLURM's word on the job: ``final`` when it comes from accounting."""
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
        if phase != job.phase:
            if phase == Phase.EXECUTING:
                start = utcnow() if job.start_time is None else None
                done = self.context.started(job.job_id, start_time=start, job_info=info)
            elif phase == Phase.QUEUED:
                done = self.context.requeued(job.job_id, info)
            else:
                done = self.context.suspended(job.job_id, info)
            if done:
                log.info("job %s (SLURM %s %s): %s", job.job_id, sj.job_id, sj.state, phase)
        elif info != job.job_info:
            self.context.progress(job.job_id, info, phase)  # progress, node, pending reason

    def _cancel_again(self, job_id: str, slurm_id: str) -> None:
        if not self.table.cancel_again(job_id):
            return
        log.info("job %s was aborted but SLURM job %s still runs: scancel again", job_id, slurm_id)
        try:
            self.slurm.scancel([slurm_id])
        except SlurmError as exc:
            log.warning("scancel of SLURM job %s failed again: %s", slurm_id, exc)

    def ended_event(self, job: Job) -> bool:
        """The job's "ended" event: True if its exit file says the script succeeded (then
        it is COMPLETED, with no need to wait for SLURM to tidy up the batch job); else
        SLURM's word decides (a cancel or a time limit also ends the script)."""
        status = contract.read_exit(self.job_dir(job.job_id))
        if status is None or status.returncode != 0:
            return False
        slurm_id = job.process_id or self.table.slurm_id(job.job_id) or ""
        sj = SlurmJob(slurm_id, "COMPLETED")
        self.finish(job, sj, Phase.COMPLETED, self.info(job, slurm_id, state="COMPLETED"))
        return True

    def finish(self, job: Job, sj: SlurmJob, phase: Phase, info: dict[str, Any]) -> None:
        job_dir = self.job_dir(job.job_id)
        status = contract.read_exit(job_dir)
        # Noticed late (a restart, an outage): the end is when the script's exit record says.
        now = ended_at(status.ended if status else None, job.start_time)
        end = ending(job, job_dir, self.context.description(job.job_type), sj, phase, now)
        # It ran between two looks if the wrapper left its record.
        started = (
            end.end_time
            if job.start_time is None and contract.read_wrapper(job_dir) is not None
            else None
        )
        # (Aborted by the service meanwhile: the results made so far are kept.)
        if self.context.ended(job.job_id, end, start_time=started, job_info=info):
            log.info("job %s (SLURM %s %s) ended: %s", job.job_id, sj.job_id, sj.state, end.outcome)
        self.table.unfollow(job.job_id)

    def vanished(self, job: Job, slurm_id: str) -> None:
        """SLURM forgot the job and accounting has no record: the exit file decides."""
        status = contract.read_exit(self.job_dir(job.job_id))
        if status is not None:
            state = "COMPLETED" if status.returncode == 0 else "FAILED"
            sj = SlurmJob(slurm_id, state, exit_code=f"{max(status.returncode, 0)}:0")
            self.apply(job, sj, final=True)
            return
        log.warning("job %s: SLURM job %s is unknown and left no exit status", job.job_id, slurm_id)
        message = f"SLURM no longer knows job {slurm_id}, and its script left no exit status"
        self.context.ended(job.job_id, Ending(Phase.ERROR, utcnow(), error=ErrorSummary(message)))
        self.table.unfollow(job.job_id)

    def check_unsubmitted(self, jobs: list[Job]) -> None:
        """Active jobs without a SLURM id: submitted by a server that stopped before recording
        the id (find the job by its name), or never submitted (ERROR after a grace period)."""
        now = time.monotonic()
        self._suspects = {j.job_id: self._suspects.get(j.job_id, now) for j in jobs}
        grace = UNSUBMITTED_GRACE + self.submit_retry
        for job in jobs:
            try:
                found = self.slurm.find(job_name(job))
            except SlurmError as exc:
                log.warning("cannot look for SLURM job of %s: %s", job.job_id, exc)
                continue
            if found:
                slurm_id = max(found, key=int)
                log.info("job %s: found its SLURM job %s by name", job.job_id, slurm_id)
                self.context.submitted(job.job_id, slurm_id)
                self.table.follow(job.job_id, slurm_id)
            elif now - self._suspects[job.job_id] >= grace:
                # No live submitter still tries (each gives up after submit_retry): the RUN
                # was accepted, so submit it ourselves.
                log.warning("job %s: QUEUED and never submitted; submitting it", job.job_id)
                self.context.resubmit(job, f"{NEVER_SUBMITTED}; submitting it again failed")
