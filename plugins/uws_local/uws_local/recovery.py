"""Reconciliation of the local manager: active jobs in storage that no thread of ours watches."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from uws_pyramid.api import (
    Job,
    JobDir,
    ManagerContext,
    Phase,
    contract,
    ended_at,
    job_ending,
    start_ticks,
    utcnow,
)

from . import owner
from .processes import Running
from .runs import RunTable

log = logging.getLogger(__name__)


def _group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group ``pgid`` on this host (/proc)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                # The command may contain spaces and parentheses: fields follow the last ")".
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # A zombie (a killed wrapper nobody reaped yet) runs nothing, but keeps the id.
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            members.append(int(entry))
    return members


def _of_job(pid: int, job_id: str) -> bool:
    """Whether process ``pid`` is one of the job's: every job process inherits UWS_JOB_ID."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f"UWS_JOB_ID={job_id}".encode() in f.read().split(b"\0")
    except OSError:
        return False


def kill_orphans(pgid: int, job_id: str) -> None:
    """SIGKILL what is left of a job's process group once its wrapper (the group's leader) is
    gone: an ended job's script must not keep running.

    The group id comes from a record written long ago: once the job's processes are all gone
    it may name another group whose leader has exited too (a shell pipeline's, this server's
    own). So only processes whose environment names the job are killed, one by one."""
    members = _group_members(pgid)
    if not members or pgid in members:
        return  # nothing left, or the leader's pid names a live process: not ours to kill
    ours = [pid for pid in members if _of_job(pid, job_id)]
    for pid in ours:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if ours:
        log.warning("job %s: killed %d process(es) its dead wrapper left behind", job_id, len(ours))
    if len(ours) < len(members):
        log.warning(
            "job %s: left %d process(es) of group %d alone: not the job's",
            job_id,
            len(members) - len(ours),
            pgid,
        )


def _pid(process_id: str | None) -> int | None:
    return int(process_id) if process_id and process_id.isdigit() else None


class Recovery:
    """After a restart (or a lost thread): track running jobs again, end the ones whose process
    vanished, start the QUEUED ones that have none. Jobs owned by another live manager (another
    server process sharing the database) are theirs: left alone."""

    def __init__(
        self,
        runs: RunTable,
        context: ManagerContext,
        identity: str,
        finish: Callable[[Running, int | None], None],
        job_info: Callable[[Running], dict[str, Any]],
    ) -> None:
        self.runs = runs
        self.context = context
        self.identity = identity  # the manager's, as jobs name their owner
        self.finish = finish  # records the end of a job whose process is gone
        self.job_info = job_info
        # QUEUED jobs unknown at the last pass: the service records QUEUED just before it calls
        # submit, so one sighting may be a job on its way to us; two are a lost one.
        # (One set for the deployment-wide pass, one for the pass over our own jobs.)
        self._suspects: dict[bool, set[str]] = {False: set(), True: set()}

    def reconcile(self, first: bool, own_only: bool = False) -> None:
        """``own_only``: only the jobs this manager owns (every server process runs that
        pass for itself; the deployment-wide one runs in the process holding its lock)."""
        for run in self.runs.adopted():
            self.poll(run)
        # Read storage before looking at what we know: a job that moves on in between is
        # then known (or already final), never taken for a lost one.
        jobs = self.context.storage.in_phases({Phase.QUEUED, Phase.EXECUTING})
        with self.runs.lock:
            unknown = [job for job in jobs if not self.runs.knows(job.job_id)]
        if own_only:
            unknown = [job for job in unknown if job.job_info.get(owner.KEY) == self.identity]
        else:
            unknown = [job for job in unknown if not self._owned_elsewhere(job)]
        suspects: set[str] = set()
        for job in unknown:
            try:
                if self._recover(job):
                    continue
            except Exception:
                log.exception("job %s: reconciliation failed", job.job_id)
                continue
            if first or job.job_id in self._suspects[own_only]:
                self._restart(job)
            else:
                suspects.add(job.job_id)
        self._suspects[own_only] = suspects

    def _owned_elsewhere(self, job: Job) -> bool:
        identity = job.job_info.get(owner.KEY)
        return isinstance(identity, str) and identity != self.identity and owner.alive(identity)

    def poll(self, run: Running) -> bool:
        """End an adopted job whose wrapper is gone; True if it has ended."""
        if run.alive():
            return False
        if self.runs.mark_done(run):
            kill_orphans(run.pgid, run.job_id)
            self.finish(run, None)
        return True

    def _recover(self, job: Job) -> bool:
        """Adopt or end a job we do not track; False for a QUEUED job that never started."""
        job_dir = JobDir(self.context.workdir_root, job.job_id)
        record = contract.read_wrapper(job_dir)
        if record is not None and record.host and record.host != contract.HOST:
            log.warning(
                "job %s runs on host %s, not on this one: left alone", job.job_id, record.host
            )
            return True
        pid = record.pid if record is not None else _pid(job.process_id)
        ticks = record.start_ticks if record is not None else None
        if pid is not None and contract.is_running(pid, ticks, job_dir):
            pgid = record.pgid if record is not None else pid
            self._adopt(job, job_dir, pid, pgid, ticks if ticks is not None else start_ticks(pid))
            return True
        if record is not None:
            kill_orphans(record.pgid, job.job_id)
        status = contract.read_exit(job_dir)
        if status is None and job.phase == Phase.QUEUED:
            return False
        ending = job_ending(
            job_dir,
            self.context.description(job.job_type),
            job.parameters,
            None if status is None else status.returncode,
            ended_at(status.ended if status else None, job.start_time),
        )
        info = {**job.job_info, **contract.job_info(str(pid or ""), job_dir)}
        if self.context.ended(job.job_id, ending, job_info=info):
            log.warning(
                "job %s: its process is gone; recorded %s (%s)",
                job.job_id,
                ending.outcome,
                "exit status file" if status else "no exit status",
            )
        return True

    def _adopt(self, job: Job, job_dir: JobDir, pid: int, pgid: int, ticks: int | None) -> None:
        deadline = None
        if job.execution_duration > 0:
            started = job.start_time or utcnow()
            end = started + timedelta(seconds=job.execution_duration)
            deadline = time.monotonic() + (end - utcnow()).total_seconds()
        run = Running(
            job_id=job.job_id,
            job_dir=job_dir,
            pid=pid,
            pgid=pgid,
            start_ticks=ticks,
            process=None,
            duration=job.execution_duration,
            deadline=deadline,
        )
        self.runs.adopt(run)
        log.info("job %s: process %d still runs; watching it again", job.job_id, pid)
        if job.phase == Phase.QUEUED:
            self.context.started(
                job.job_id, start_time=utcnow(), process_id=str(pid), job_info=self.job_info(run)
            )
        else:
            self.context.progress(job.job_id, {**job.job_info, **self.job_info(run)})

    def _restart(self, job: Job) -> None:
        log.info("job %s is QUEUED without a process: submitting it", job.job_id)
        # Storage down, or this server stopping: still QUEUED, the next pass tries again.
        self.context.resubmit(job)
