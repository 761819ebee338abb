"""Local job processes: spawning the wrapper as its own process group, watching and signalling it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from uws_pyramid.api import Job, JobDir, contract, start_ticks

from .sandbox import Sandbox

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Running:
    """A job whose process group runs on this host, started by us or adopted after a restart."""

    job_id: str
    job_dir: JobDir
    pid: int
    pgid: int
    start_ticks: int | None
    process: subprocess.Popen[bytes] | None  # None: adopted, not our child
    duration: int = 0  # the job's executionDuration, 0 for no limit
    deadline: float | None = None  # time.monotonic() at which the duration is exceeded
    kill_at: float | None = None  # when SIGKILL follows the SIGTERM already sent
    expired: bool = False
    deleted: bool = False
    progress: float | None = None
    # The job as its start was recorded (None for an adopted one): what its end needs to
    # know of it (type, parameters, start) without reading it again.
    job: Job | None = None
    # Set once the wrapper has exited (under the manager's lock): from then on its PID and
    # process group id may name a stranger, so the group is never signalled again.
    done: bool = False
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def adopted(self) -> bool:
        return self.process is None

    def alive(self) -> bool:
        """Whether the wrapper still runs (for adopted processes, which we cannot wait for)."""
        if self.process is not None:
            return not self.done  # never poll(): that would reap it behind the waiting thread
        return contract.is_running(self.pid, self.start_ticks, self.job_dir)

    def signal(self, signum: int) -> bool:
        """Send ``signum`` to the job's whole process group; call with the manager's lock held."""
        if self.done or (self.adopted and not self.alive()):
            return False
        return contract.signal_group(self.pgid, signum)


def deadline_after(seconds: int) -> float | None:
    return time.monotonic() + seconds if seconds > 0 else None


def spawn(
    job: Job, job_dir: JobDir, script: Path, python: str, path: str, sandbox: Sandbox | None = None
) -> Running:
    """Prepare the job's files and start its wrapper in a new session (its own process group,
    no controlling terminal, not killed with the server) and a controlled environment; the
    wrapper runs the script in ``sandbox`` if given."""
    contract.prepare(job, job_dir, path)
    launcher = sandbox.launcher(job_dir, script) if sandbox is not None else []
    # What the wrapper's interpreter itself prints (a traceback) goes to the job's stderr,
    # which the wrapper appends to as well: no file more to create per job.
    fd = os.open(job_dir.stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    with open(fd, "ab") as wrapper_log:
        process = subprocess.Popen(
            contract.wrapper_command(job_dir, script, python) + launcher,
            cwd=job_dir.path,
            env=contract.environment(job, job_dir, path),
            stdin=subprocess.DEVNULL,
            stdout=wrapper_log,
            stderr=wrapper_log,
            start_new_session=True,
        )
    return Running(
        job_id=job.job_id,
        job_dir=job_dir,
        pid=process.pid,
        pgid=process.pid,
        start_ticks=start_ticks(process.pid),
        process=process,
        duration=job.execution_duration,
        deadline=deadline_after(job.execution_duration),
    )


def wait_for_exit(run: Running) -> None:
    """Block until our child wrapper has exited, without reaping it: while it is a zombie its
    PID cannot be reused, so its process group can still be signalled safely."""
    assert run.process is not None
    try:
        os.waitid(os.P_PID, run.pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:
        pass  # reaped elsewhere already


def kill_strays(run: Running) -> None:
    """Kill what the script left running in its process group (background processes): the job
    is over, and they would escape the limit on running jobs. Call with the lock held."""
    if not run.done:
        contract.signal_group(run.pgid, signal.SIGKILL)


def signal_elsewhere(job_dir: JobDir, signum: int) -> bool:
    """Signal the process group of a job that another server process of this host runs; False
    unless its wrapper record names this host and that wrapper still runs (its pid and start
    time: a reused pid is never signalled)."""
    record = contract.read_wrapper(job_dir)
    if record is None or record.host != contract.HOST:
        return False
    if not contract.is_running(record.pid, record.start_ticks, job_dir):
        return False
    return contract.signal_group(record.pgid, signum)
