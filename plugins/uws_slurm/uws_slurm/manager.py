"""SlurmManager: each job is one SLURM batch job, followed by signed callbacks and by polling."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

from uws_pyramid.api import JobDir
from uws_pyramid.api import ACTIVE, Job
from uws_pyramid.api import Manager, ManagerContext

from .batch import prepare
from .follow import FollowTable, Watcher
from .options import SlurmOptions
from .reconcile import Reconciler
from .slurm import Slurm, SlurmError
from .states import ACTIVE_SLURM
from .submit import Submitter

log = logging.getLogger(__name__)

#: How long ``delete`` waits for a cancelled job's processes to end before removing its files.
DELETE_WAIT = 10.0


class SlurmManager(Manager):
    """Submits jobs with ``sbatch`` (here or on a login node through ssh) and follows them.

    The job's ``process_id`` is its SLURM job id, so any server process can follow any job:
    the wrapper's signed events wake the server as the job starts and ends, a watcher thread
    polls the jobs this process follows, and ``reconcile`` (at start-up, then periodically,
    once per deployment) adopts every active job, so none is lost to a missed event or a
    restart."""

    name = "slurm"
    # Built at ``bind``, from the context: see there how they work together.
    reconciler: Reconciler
    watcher: Watcher
    submitter: Submitter

    def __init__(self, options: SlurmOptions) -> None:
        self.options = options
        self.slurm = Slurm(
            options.ssh_host, options.ssh_command, options.bin_dir, options.command_timeout
        )
        self.following = FollowTable()
        self.remote_root = Path(options.remote_workdir) if options.remote_workdir else None
        self.events = False

    @classmethod
    def from_settings(cls, options: Mapping[str, str], here: str) -> SlurmManager:
        return cls(SlurmOptions.parse(options))

    def problems(self) -> list[str]:
        where = f" on {self.options.ssh_host}" if self.options.ssh_host else ""
        try:
            done = self.slurm.run("sinfo", ["--noheader", "--format=%R %a"])
        except SlurmError as exc:
            return [
                f"SLURM cannot be reached{where}: {exc} (check uws.manager.ssh_host, "
                f"uws.manager.bin_dir and that slurmctld is up)"
            ]
        if done.returncode != 0:
            return [f"sinfo failed{where}: {(done.stderr or done.stdout).strip()[:300]}"]
        up = dict(line.split() for line in done.stdout.splitlines() if len(line.split()) == 2)
        wanted = [name for name in self.options.partition.split(",") if name]
        return [
            f"uws.manager.partition: partition {name!r} "
            f"{'is ' + up[name] if name in up else 'does not exist'}{where}"
            for name in wanted
            if up.get(name) != "up"
        ]

    def bind(self, context: ManagerContext) -> None:
        super().bind(context)
        # The reconciler decides what SLURM's word means for a job and reports it; the
        # watcher thread asks SLURM about the followed jobs; the submitter thread runs sbatch.
        self.reconciler = Reconciler(context, self.slurm, self.following, self.options.submit_retry)
        self.watcher = Watcher(
            self.following, self.slurm, context.storage, self.reconciler, self.options.poll_interval
        )
        self.submitter = Submitter(
            context, self.slurm, self.following, self.reconciler, self.options.submit_retry
        )
        if self.remote_root is None:
            self.remote_root = context.workdir_root
        self.events = self.options.callbacks and bool(context.base_url)
        if self.options.callbacks and not context.base_url:
            log.warning(
                "uws.base_url is not set: SLURM jobs are followed by polling only (every %s s)",
                self.options.poll_interval,
            )
        with context.storage.exclusive("reconcile") as mine:
            if mine:
                self.reconcile()
        self.watcher.start()
        self.submitter.start()

    def job_dir(self, job_id: str) -> JobDir:
        return JobDir(self.context.workdir_root, job_id)

    # -- the Manager interface ------------------------------------------------------------

    def submit(self, job: Job) -> None:
        """Write the batch job and hand it to the submitter thread: no request waits for
        sbatch, and a controller outage keeps the job QUEUED (README, "Outages")."""
        assert self.remote_root is not None
        jd = self.context.descriptions.get(job.job_type)
        script = self.context.descriptions.script_path(job.job_type)
        url = self.context.events_url(job.job_id) if self.events else ""
        batch = prepare(
            job,
            self.job_dir(job.job_id),
            JobDir(self.remote_root, job.job_id),
            jd,
            script,
            self.options,
            url,
            self.context.job_secret(job.job_id) if url else "",
        )
        self.submitter.add(job, batch)

    def abort(self, job: Job) -> None:
        slurm_id = self._slurm_id(job)
        if slurm_id:
            self._cancel([slurm_id])
            # Still followed: its results are collected when SLURM says it ended.
            self.watcher.hurry(job.job_id, cancelled=True)

    def delete(self, job: Job) -> None:
        slurm_id = self._slurm_id(job)
        followed = self.following.unfollow(job.job_id)
        if slurm_id and (job.phase in ACTIVE or followed):
            self._cancel([slurm_id])
            self._wait_gone(slurm_id)
        self.job_dir(job.job_id).remove()

    def event(self, job: Job, event: str) -> None:
        self.watcher.notify(job.job_id, event)

    def reconcile(self) -> None:
        """Adopt every active job of the storage and bring it up to date with SLURM."""
        jobs = self.context.storage.in_phases(ACTIVE, limit=100_000)
        unsubmitted = [j for j in jobs if not j.process_id and not self.submitter.knows(j.job_id)]
        for job in jobs:
            if job.process_id:
                self.following.follow(job.job_id, job.process_id)
        self.watcher.check([j for j in jobs if j.process_id])
        self.reconciler.check_unsubmitted(unsubmitted)

    def close(self) -> None:
        self.submitter.stop()  # jobs not submitted yet stay QUEUED: reconciliation resubmits
        self.watcher.stop()
        log.info("SLURM manager closed; its jobs keep running in SLURM")

    # -- helpers ---------------------------------------------------------------------------

    def _slurm_id(self, job: Job) -> str:
        if job.process_id:
            return job.process_id
        return self.submitter.slurm_id(job.job_id) or self.following.slurm_id(job.job_id) or ""

    def _cancel(self, slurm_ids: list[str]) -> None:
        try:
            self.slurm.scancel(slurm_ids)
        except SlurmError:
            log.exception("scancel of SLURM job(s) %s failed", ", ".join(slurm_ids))
            raise

    def _wait_gone(self, slurm_id: str) -> None:
        """Wait until SLURM says the cancelled job ended, so that none of its processes writes
        into the directory we are about to remove."""
        deadline = time.monotonic() + DELETE_WAIT
        while time.monotonic() < deadline:
            try:
                found = self.slurm.squeue([slurm_id]).get(slurm_id)
            except SlurmError:
                return
            if found is None or found.state not in ACTIVE_SLURM:
                return
            time.sleep(0.05)
        log.warning(
            "SLURM job %s did not end within %s s of its cancellation", slurm_id, DELETE_WAIT
        )
