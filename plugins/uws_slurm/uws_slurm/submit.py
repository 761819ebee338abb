"""Submission in the background: sbatch off the request path, retried while SLURM is unreachable."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from uws_pyramid.api import ACTIVE, Job, ManagerContext, NotFound, Worker

from .batch import BatchJob, job_name
from .follow import FollowTable
from .reconcile import Reconciler
from .slurm import Slurm, SlurmError, SlurmUnreachable

log = logging.getLogger(__name__)

#: Pauses between two tries while the controller cannot be reached: first and longest.
RETRY_FIRST, RETRY_MAX = 1.0, 5.0
#: Pause of the submitter thread when nothing is due (a new job wakes it at once).
IDLE = 1.0


@dataclass
class Pending:
    """A job recorded QUEUED, on its way to SLURM."""

    job: Job
    batch: BatchJob
    since: float
    slurm_id: str = ""  # set once sbatch accepted it (recording the id may still fail)
    tries: int = 0


class Submitter:
    """One thread submits the jobs in order. "Cannot contact the controller" (or a command
    that timed out) keeps the job QUEUED and is tried again with backoff, for at most
    ``submit_retry`` seconds; a refusal by sbatch (bad partition, over a limit) is an ERROR
    with sbatch's own message."""

    def __init__(
        self,
        context: ManagerContext,
        slurm: Slurm,
        table: FollowTable,
        reconciler: Reconciler,
        submit_retry: float,
    ) -> None:
        self.context = context
        self.slurm = slurm
        self.table = table  # a submitted job is followed at once
        self.reconciler = reconciler  # for the jobInfo of a submitted job
        self.submit_retry = submit_retry
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}
        self._delay = RETRY_FIRST
        self._next_try = 0.0
        self._worker = Worker("uws-slurm-submit", self._step, IDLE)

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def add(self, job: Job, batch: BatchJob) -> None:
        with self._lock:
            self._pending.setdefault(job.job_id, Pending(job, batch, time.monotonic()))
        self._worker.wake()

    def knows(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._pending

    def slurm_id(self, job_id: str) -> str:
        with self._lock:
            pending = self._pending.get(job_id)
        return pending.slurm_id if pending is not None else ""

    def _step(self) -> float:
        """One pass, unless the backoff after a failed one still holds; the next pause."""
        if time.monotonic() >= self._next_try:
            try:
                self._pass()
            except Exception:
                log.exception("SLURM submission pass failed")
                self._later()
        return self._next_try - time.monotonic() if self._next_try else IDLE

    def _later(self) -> None:
        self._next_try = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, RETRY_MAX)

    def _pass(self) -> None:
        with self._lock:
            pending = list(self._pending.values())
        for item in pending:
            if self._worker.stopping:
                return
            if not self._submit(item):
                self._later()  # the controller (or storage) is down: every job waits
                return
        self._delay, self._next_try = RETRY_FIRST, 0.0

    def _done(self, job_id: str) -> None:
        with self._lock:
            self._pending.pop(job_id, None)

    def _submit(self, item: Pending) -> bool:
        """One try; False if the controller or storage cannot be reached now."""
        job_id = item.job.job_id
        if not item.slurm_id:
            try:
                if self.context.storage.get(job_id).phase not in ACTIVE:
                    self._done(job_id)  # aborted or deleted before it reached SLURM
                    return True
            except NotFound:
                self._done(job_id)
                return True
            except Exception as exc:
                log.warning("job %s: cannot check it before submitting: %s", job_id, exc)
            try:
                item.slurm_id = self._sbatch(item)
            except SlurmUnreachable as exc:
                waited = time.monotonic() - item.since
                if waited < self.submit_retry:
                    log.warning(
                        "job %s stays QUEUED, SLURM is unreachable (%s): trying again in %.0f s",
                        job_id,
                        exc,
                        self._delay,
                    )
                    return False
                self._fail(
                    item,
                    f"the job could not be submitted: SLURM could not be reached "
                    f"for {waited:.0f} s: {exc}",
                )
                return True
            except SlurmError as exc:
                self._fail(item, f"the job could not be submitted: {exc}")
                return True
            self.table.follow(job_id, item.slurm_id)
            log.info("job %s submitted as SLURM job %s", job_id, item.slurm_id)
        info = self.reconciler.info(item.job, item.slurm_id, partition=item.batch.partition)
        try:
            recorded = self.context.submitted(job_id, item.slurm_id, info)
        except Exception as exc:
            log.warning("job %s: SLURM job %s not recorded yet: %s", job_id, item.slurm_id, exc)
            return False
        self._done(job_id)
        if recorded is None:
            # Aborted (or deleted) while sbatch ran: the abort had no SLURM id to cancel.
            log.info("job %s left QUEUED during its submission: cancelling it", job_id)
            try:
                self.slurm.scancel([item.slurm_id])
            except SlurmError as exc:
                log.warning("scancel of SLURM job %s failed: %s", item.slurm_id, exc)
        return True

    def _sbatch(self, item: Pending) -> str:
        item.tries += 1
        if item.tries > 1:
            # A try that timed out may have reached the controller: never submit twice.
            try:
                found = self.slurm.find(job_name(item.job))
            except SlurmError as exc:
                raise SlurmUnreachable(str(exc)) from None
            if found:
                return max(found, key=int)
        return self.slurm.sbatch(item.batch.args, item.batch.script)

    def _fail(self, item: Pending, message: str) -> None:
        log.warning("job %s: %s", item.job.job_id, message)
        try:
            self.context.failed_to_start(item.job.job_id, message)
        except Exception as exc:
            # Still QUEUED without a SLURM id: reconciliation submits it again later.
            log.warning("job %s: recording its failed submission failed: %s", item.job.job_id, exc)
        self._done(item.job.job_id)
