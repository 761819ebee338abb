"""A job's batch files on the shared file system, and the sbatch arguments that submit them."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from uws_pyramid.api import Job, JobDescription, JobDir, contract

from . import launch
from .options import SlurmOptions, job_resources, resource_args, time_limit

log = logging.getLogger(__name__)

LAUNCH_SOURCE = Path(launch.__file__).resolve()
BATCH_FILE = "batch.sh"
SCRIPT_FILE = "script.sh"  # the job type's script as it was at submission
WRAPPER_COPY = "wrapper.py"
LAUNCH_COPY = "launch.py"
OUTPUT_FILE = "slurm.out"  # the batch job's own output (launcher and wrapper messages)
ERROR_FILE = "slurm.err"


@dataclass(frozen=True)
class BatchJob:
    """What ``sbatch`` gets: its arguments and the batch script's path, both as the nodes
    (or the login node) see them."""

    args: list[str]
    script: str
    partition: str = ""


def job_name(job: Job) -> str:
    return f"uws-{job.job_type}-{job.job_id}"


def _copy(source: Path, target: Path, mode: int) -> None:
    shutil.copyfile(source, target)
    os.chmod(target, mode)


def _write_entries(path: Path, entries: list[str]) -> None:
    """NUL-separated entries: what the launcher reads without importing json."""
    if any("\0" in entry for entry in entries):
        raise ValueError(f"{path.name}: an entry holds a NUL character")
    path.write_bytes(b"".join(e.encode("utf-8", "surrogateescape") + b"\0" for e in entries))


def prepare(
    job: Job,
    job_dir: JobDir,
    remote: JobDir,
    jd: JobDescription,
    script: Path,
    options: SlurmOptions,
    events_url: str,
    secret: str,
) -> BatchJob:
    """Write the job's files (the contract's, then ours) and return how to submit it.

    The job directory is self-contained: the nodes need Python 3 and the shared file system,
    not the server's packages nor its job description folder; and a job type edited while the
    job waits in the queue does not change what it runs. ValueError for invalid resources."""
    resources = job_resources(jd, job.parameters, options)  # before writing anything
    contract.prepare(job, job_dir, options.path)
    meta = job_dir.meta
    _copy(script, meta / SCRIPT_FILE, 0o755)
    _copy(contract.WRAPPER_SCRIPT, meta / WRAPPER_COPY, 0o644)
    _copy(LAUNCH_SOURCE, meta / LAUNCH_COPY, 0o644)
    for stale in (OUTPUT_FILE, ERROR_FILE):
        (meta / stale).unlink(missing_ok=True)
    command = contract.wrapper_command(remote, remote.meta / SCRIPT_FILE, options.python)
    # The contract's command with the wrapper copy in place of the server's own file.
    command = [
        str(remote.meta / WRAPPER_COPY) if arg == str(contract.WRAPPER_SCRIPT) else arg
        for arg in command
    ]
    key = meta / launch.KEY_FILE
    key.unlink(missing_ok=True)
    if events_url:
        with open(key, "x", opener=lambda p, f: os.open(p, f, 0o600)) as out:
            out.write(secret)
    env = contract.environment(job, remote, options.path)
    _write_entries(meta / launch.ARGS_FILE, [job.job_id, events_url or "-", *command])
    _write_entries(meta / launch.ENV_FILE, [f"{k}={v}" for k, v in env.items()])
    # No job data in the batch script: paths of the server's choosing (job ids are
    # server-made, [a-z0-9]), quoted all the same.
    body = (
        "#!/bin/sh\n"
        f"# uws-slurm: UWS job {job.job_id} ({job.job_type}); its parameters are data in the "
        "files of its directory\n"
        f"exec {shlex.quote(options.python)} -I -S {shlex.quote(str(remote.meta / LAUNCH_COPY))} "
        f"{shlex.quote(str(remote.path))}\n"
    )
    batch = meta / BATCH_FILE
    batch.write_text(body, encoding="utf-8")
    os.chmod(batch, 0o755)
    args = [
        f"--job-name={job_name(job)}",
        f"--chdir={remote.path}",
        # sbatch expands %j and the like in these two: a literal % is written %%.
        f"--output={str(remote.meta / OUTPUT_FILE).replace('%', '%%')}",
        f"--error={str(remote.meta / ERROR_FILE).replace('%', '%%')}",
        *resource_args(resources),
    ]
    minutes = time_limit(job.execution_duration)
    if minutes is not None:
        args.append(f"--time={minutes}")
    args.extend(options.sbatch_options)
    return BatchJob(args, str(remote.meta / BATCH_FILE), resources.get("partition", ""))
