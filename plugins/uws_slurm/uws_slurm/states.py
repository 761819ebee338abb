"""SLURM job states as UWS phases, and the changes that end a job for each final state."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from uws_pyramid.api import (
    Ending,
    ErrorSummary,
    Job,
    JobDescription,
    JobDir,
    Phase,
    contract,
    job_ending,
    timeout_error,
)

from .slurm import SlurmJob

log = logging.getLogger(__name__)

PHASES: dict[str, Phase] = {
    "PENDING": Phase.QUEUED,
    "CONFIGURING": Phase.QUEUED,  # nodes allocated, still booting
    "PREEMPTED": Phase.QUEUED,  # requeued after preemption; final only if SLURM forgets it so
    "REQUEUED": Phase.QUEUED,
    "REQUEUE_FED": Phase.QUEUED,
    "REQUEUE_HOLD": Phase.QUEUED,
    "RESV_DEL_HOLD": Phase.QUEUED,
    "RUNNING": Phase.EXECUTING,
    "COMPLETING": Phase.EXECUTING,
    "SIGNALING": Phase.EXECUTING,
    "STAGE_OUT": Phase.EXECUTING,
    "RESIZING": Phase.EXECUTING,
    "SUSPENDED": Phase.SUSPENDED,
    "STOPPED": Phase.SUSPENDED,
    "COMPLETED": Phase.COMPLETED,
    "FAILED": Phase.ERROR,
    "NODE_FAIL": Phase.ERROR,
    "OUT_OF_MEMORY": Phase.ERROR,
    "BOOT_FAIL": Phase.ERROR,
    "SPECIAL_EXIT": Phase.ERROR,
    "TIMEOUT": Phase.ABORTED,
    "CANCELLED": Phase.ABORTED,
    "DEADLINE": Phase.ABORTED,
    "REVOKED": Phase.ABORTED,  # a federated sibling ran it: this copy never will
}

WHY = {
    "NODE_FAIL": "the job's node failed (SLURM state NODE_FAIL)",
    "OUT_OF_MEMORY": "the job ran out of memory (SLURM state OUT_OF_MEMORY)",
    "BOOT_FAIL": "the job's node failed to boot (SLURM state BOOT_FAIL)",
    "SPECIAL_EXIT": "the job ended in SLURM state SPECIAL_EXIT",
    "CANCELLED": "the job was cancelled in SLURM (scancel) outside the service",
    "DEADLINE": "the job could not run before its SLURM deadline",
    "REVOKED": "SLURM revoked the job (it ran on another cluster of the federation)",
    "PREEMPTED": "SLURM preempted the job and did not requeue it",
}
ACTIVE_SLURM = frozenset(
    s for s, p in PHASES.items() if p not in (Phase.COMPLETED, Phase.ERROR, Phase.ABORTED)
)


def phase_of(job: SlurmJob, final: bool = False) -> Phase | None:
    """The UWS phase of a SLURM job; None for a state we do not know. ``final``: the job left
    the controller (accounting), so a state that could come back (PREEMPTED) is an end."""
    if final and job.state == "PREEMPTED":
        return Phase.ABORTED
    phase = PHASES.get(job.state)
    if phase is None:
        log.warning("SLURM job %s: unknown state %r", job.job_id, job.state)
    return phase


def returncode(exit_code: str) -> int | None:
    """SLURM's ``exit:signal`` as a Popen returncode (negative for a signal); None if unknown."""
    status, _, signum = exit_code.partition(":")
    try:
        code, sig = int(status), int(signum or 0)
    except ValueError:
        return None
    return -sig if sig else code


def ending(
    job: Job,
    job_dir: JobDir,
    jd: JobDescription | None,
    sj: SlurmJob,
    phase: Phase,
    now: datetime | None = None,
) -> Ending:
    """How ``job`` ended in ``phase`` (a final one): results, error and time.

    The wrapper's exit-status file tells how the script ended; SLURM's state tells why the
    batch job ended, which is what counts for a node failure, a timeout or a cancellation."""
    status = contract.read_exit(job_dir)
    if phase == Phase.COMPLETED:
        code = status.returncode if status is not None else 0
        return job_ending(job_dir, jd, job.parameters, code, now)
    if phase == Phase.ERROR and sj.state == "FAILED":
        exit_code = status.returncode if status is not None else returncode(sj.exit_code)
        end = job_ending(job_dir, jd, job.parameters, exit_code or 1, now)
        if status is None:
            # The wrapper never ran or never finished: the script has nothing to say.
            end = replace(
                end,
                error=ErrorSummary(
                    f"SLURM job {sj.job_id} FAILED before the job's script ended "
                    f"(exit code {sj.exit_code or 'unknown'}, reason {sj.reason or 'unknown'}); "
                    "see the batch job's output in .uws/slurm.err"
                ),
            )
        return end
    end = job_ending(job_dir, jd, job.parameters, 1, now)
    if sj.state == "TIMEOUT":
        error = timeout_error(job.execution_duration)
    else:
        message = WHY.get(sj.state, f"the job ended in SLURM state {sj.state}")
        detail = phase == Phase.ERROR and job_dir.stderr.is_file()
        error = ErrorSummary(message, has_detail=detail)
    return replace(end, outcome=phase, error=error)
