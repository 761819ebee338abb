"""LocalManager: jobs run as process groups on the server host, a bounded number at a time."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from uws_pyramid.api import (
    Ending,
    Job,
    JobDir,
    Manager,
    ManagerContext,
    NotFound,
    Phase,
    ServiceUnavailable,
    Worker,
    contract,
    ended_at,
    job_ending,
    timeout_error,
    utcnow,
)

from . import owner, sandbox
from .options import LocalOptions
from .processes import Running, kill_strays, signal_elsewhere, spawn, wait_for_exit
from .recovery import Recovery
from .runs import RETRY_FIRST, RunTable, Unrecorded

log = logging.getLogger(__name__)


class LocalManager(Manager):
    """Runs each job as ``wrapper -> bash script`` in its own process group on this host.

    Jobs beyond ``max_running`` wait, QUEUED, in submission order. One thread per job waits
    for its process; one monitor thread enforces execution durations, records progress and
    watches processes adopted after a restart (which are not our children).

    Several server processes of one host may share a database and a workdir: each job names
    the manager instance that owns it (``job_info["server"]``), and the others leave it alone
    while that owner lives."""

    name = "local"
    _recovery: Recovery  # built at ``bind``, from the context

    def __init__(self, options: LocalOptions) -> None:
        self.options = options
        self.runs = RunTable()
        self._own_reconcile_at = 0.0
        self._closed = False
        self._pause = options.poll_interval
        self._monitor = Worker("uws-local-monitor", self._step, 0.0)
        self.sandbox = sandbox.resolve(
            options.sandbox, options.sandbox_bind, options.sandbox_network
        )
        contract.compile_wrapper(options.python)  # or each job compiles its wrapper
        self.identity = owner.claim()

    @classmethod
    def from_settings(cls, options: Mapping[str, str], here: str) -> LocalManager:
        return cls(LocalOptions.parse(options))

    # -- the Manager interface -------------------------------------------------------------

    def bind(self, context: ManagerContext) -> None:
        super().bind(context)
        self._recovery = Recovery(self.runs, context, self.identity, self.finish, self.job_info)
        with context.storage.exclusive("reconcile") as mine:
            if mine:
                self._recovery.reconcile(first=True)
        self._monitor.start()

    def claim(self, job: Job) -> dict[str, Any]:
        return {owner.KEY: self.identity}

    def submit(self, job: Job) -> None:
        # Owned before it waits or starts, so that the reconciliation of another server
        # process never takes it for a lost job: since its creation (``claim``), or now.
        mine = job.job_info.get(owner.KEY) == self.identity
        if (
            not mine
            and self.context.accepted(job.job_id, {**job.job_info, owner.KEY: self.identity})
            is None
        ):
            log.info("job %s left QUEUED before it was accepted", job.job_id)
            return
        runs = self.runs
        with runs.lock:
            if self._closed:
                # Stays QUEUED: the next start-up (or another server process) runs it.
                raise ServiceUnavailable("the server is stopping")
            if runs.knows(job.job_id):
                return
            start_now = self._free_slots() > 0 and not runs.queue
            if start_now:
                runs.starting.add(job.job_id)
            else:
                runs.queue.append(job.job_id)
                log.info("job %s queued (%d waiting)", job.job_id, len(runs.queue))
        if start_now:
            try:
                self._start(job)
            except BaseException:
                self._start_queued()  # the slot it held is free again
                raise

    def abort(self, job: Job) -> None:
        with self.runs.lock:
            if job.job_id in self.runs.queue:
                self.runs.queue.remove(job.job_id)
                return
            run = self.runs.running.get(job.job_id)
        if run is not None:
            self._terminate(run)
        elif self._signal_elsewhere(job, signal.SIGTERM):
            timer = threading.Timer(
                self.options.kill_grace, self._signal_elsewhere, (job, signal.SIGKILL)
            )
            timer.daemon = True
            timer.start()

    def delete(self, job: Job) -> None:
        with self.runs.lock:
            if job.job_id in self.runs.queue:
                self.runs.queue.remove(job.job_id)
            run = self.runs.running.get(job.job_id)
            if run is not None:
                run.deleted = True
                run.signal(signal.SIGKILL)
        if run is None:
            self._signal_elsewhere(job, signal.SIGKILL)
        elif not run.finished.wait(max(5.0, 3 * self.options.poll_interval)):
            log.warning("job %s: its process did not end after SIGKILL", job.job_id)
        JobDir(self.context.workdir_root, job.job_id).remove()

    def problems(self) -> list[str]:
        return sandbox.problems(
            self.options.sandbox, self.options.sandbox_bind, self.options.sandbox_network
        )

    def reconcile(self) -> None:
        if not self._closed:
            self._recovery.reconcile(first=False)

    def close(self) -> None:
        with self.runs.lock:
            self._closed = True
            owner.release(self.identity)  # from now on, other managers may take our jobs
        self._monitor.stop()
        log.info("local manager closed; %d job(s) keep running", len(self.runs.running))

    # -- slots and starting ----------------------------------------------------------------

    def knows(self, job_id: str) -> bool:
        """Whether the job is queued, starting or running here."""
        with self.runs.lock:
            return self.runs.knows(job_id)

    def _free_slots(self) -> int:
        return self.options.max_running - len(self.runs.running) - len(self.runs.starting)

    def _start(self, job: Job) -> None:
        """Spawn a job that holds a slot (in ``runs.starting``) and record it EXECUTING."""
        job_dir = JobDir(self.context.workdir_root, job.job_id)
        try:
            script = self.context.descriptions.script_path(job.job_type)
            run = spawn(job, job_dir, script, self.options.python, self.options.path, self.sandbox)
        except BaseException:
            with self.runs.lock:
                self.runs.starting.discard(job.job_id)
            raise
        with self.runs.lock:
            self.runs.starting.discard(job.job_id)
            self.runs.running[job.job_id] = run
        started = utcnow()
        recorded = None
        try:
            recorded = run.job = self._record_start(run, started)
        except ServiceUnavailable as exc:
            # It runs, and its end will be recorded: the monitor records the start later.
            log.warning("job %s started; recording it waits for storage: %s", job.job_id, exc)
            with self.runs.lock:
                self.runs.starts[job.job_id] = Unrecorded(run, start_time=started)
            recorded = job
        except BaseException:
            self._terminate(run)  # a job we could not record must not run unseen
            raise
        finally:
            # Started only now, so that the end is never recorded before EXECUTING.
            threading.Thread(
                target=self._wait, args=(run,), name=f"uws-local-{job.job_id[:8]}", daemon=True
            ).start()
        if recorded is None:
            log.info("job %s left QUEUED while it started: stopping it", job.job_id)
            self._terminate(run)
        else:
            log.info("job %s started: process group %d", job.job_id, run.pgid)

    def _record_start(self, run: Running, started: datetime) -> Job | None:
        return self.context.started(
            run.job_id, start_time=started, process_id=str(run.pid), job_info=self.job_info(run)
        )

    def _start_queued(self) -> None:
        """Start queued jobs, oldest first, while slots are free. Never raises: it runs in
        ``finally`` paths and in the monitor; a job it cannot read now waits at the head of
        the queue for the monitor's next try."""
        runs = self.runs
        while True:
            with runs.lock:
                if self._closed or not runs.queue or self._free_slots() <= 0:
                    return
                job_id = runs.queue.popleft()
                runs.starting.add(job_id)
            try:
                job: Job | None = self.context.storage.get(job_id)
            except NotFound:
                job = None
            except Exception as exc:
                with runs.lock:
                    runs.starting.discard(job_id)
                    runs.queue.appendleft(job_id)
                log.warning("queued job %s cannot start now (%s): trying again later", job_id, exc)
                return
            if job is None or job.phase != Phase.QUEUED:
                with runs.lock:
                    runs.starting.discard(job_id)
                continue
            try:
                self._start(job)
            except Exception as exc:
                log.exception("job %s could not be started", job_id)
                try:
                    self.context.failed_to_start(job_id, f"the job could not be started: {exc}")
                except Exception:
                    log.exception("job %s: recording its failed start failed", job_id)

    # -- ending ----------------------------------------------------------------------------

    def _wait(self, run: Running) -> None:
        """Thread body: wait for our child wrapper, then record how the job ended."""
        wait_for_exit(run)
        with self.runs.lock:
            kill_strays(run)
            run.done = True
        assert run.process is not None
        returncode = run.process.wait()
        if self._closed:
            return  # a later server learns the outcome from the exit status file
        self.finish(run, returncode)

    def finish(self, run: Running, returncode: int | None) -> None:
        """Record the end of a job whose process is gone: collect results, free its slot.
        If storage cannot record it now, the monitor tries again until it can."""
        supervisor = None
        ended: str | None = None
        try:
            status = contract.read_exit(run.job_dir)
            # Without an exit record, ``returncode`` is the wrapper's own: it died, or it
            # could not write the record (a full disk).
            supervisor = None if status is not None or run.adopted else returncode
            returncode = status.returncode if status is not None else None
            ended = status.ended if status is not None else None
            if not run.deleted:
                self._record_end(run, returncode, supervisor, ended)
        except Exception as exc:
            log.warning(
                "job %s ended; recording its end failed (%s): trying again later", run.job_id, exc
            )
            with self.runs.lock:
                self.runs.ends[run.job_id] = Unrecorded(
                    run, returncode, supervisor=supervisor, ended=ended
                )
        finally:
            run.finished.set()
            with self.runs.lock:
                self.runs.running.pop(run.job_id, None)
            self._start_queued()

    def _record_end(
        self,
        run: Running,
        returncode: int | None,
        supervisor: int | None = None,
        ended: str | None = None,
    ) -> None:
        """Record the end; ``ended``: its time in the wrapper's exit record."""
        job = run.job
        if job is None:  # adopted, or its start is not recorded yet
            try:
                job = self.context.storage.get(run.job_id)
            except NotFound:
                return
        with self.runs.lock:
            start = self.runs.starts.pop(run.job_id, None)
        started = job.start_time or (start.start_time if start is not None else None)
        ending = job_ending(
            run.job_dir,
            self.context.description(job.job_type),
            job.parameters,
            returncode,
            ended_at(ended, started),
            supervisor=supervisor,
        )
        # (Aborted meanwhile, by a user or for its duration: the results are kept.)
        if self.context.ended(
            run.job_id,
            ending,
            start_time=started if job.start_time is None else None,
            job_info={**job.job_info, **self.job_info(run)},
        ):
            log.info("job %s ended: %s", run.job_id, ending.outcome)

    def _retry_unrecorded(self) -> None:
        """Record the starts and ends that storage missed, each with its own backoff."""
        now = time.monotonic()
        runs = self.runs
        with runs.lock:
            starts = [u for u in runs.starts.values() if u.next_try <= now]
            ends = [u for u in runs.ends.values() if u.next_try <= now]
        for start in starts:
            run = start.run
            try:
                self._record_start(run, start.start_time or utcnow())
            except Exception as exc:
                start.later()
                log.debug("job %s: start still not recorded: %s", run.job_id, exc)
                continue
            with runs.lock:
                runs.starts.pop(run.job_id, None)
            log.info("job %s: its start is recorded now", run.job_id)
        for end in ends:
            run = end.run
            try:
                if not run.deleted:
                    self._record_end(run, end.returncode, end.supervisor, end.ended)
            except Exception as exc:
                end.later()
                log.debug("job %s: end still not recorded: %s", run.job_id, exc)
                continue
            with runs.lock:
                runs.ends.pop(run.job_id, None)
            log.info("job %s: its end is recorded now", run.job_id)

    def job_info(self, run: Running) -> dict[str, Any]:
        """The jobInfo of a job we run: its process, host, progress and us as its owner."""
        return contract.job_info(str(run.pid), run.job_dir, **{owner.KEY: self.identity})

    def _signal_elsewhere(self, job: Job, signum: int) -> bool:
        """Signal a job that another server process of this host runs: its owner's monitor
        then sees it end."""
        done = signal_elsewhere(JobDir(self.context.workdir_root, job.job_id), signum)
        if done:
            log.info("job %s runs in another server process: sent it signal %d", job.job_id, signum)
        return done

    def _terminate(self, run: Running) -> None:
        """SIGTERM to the job's process group now, SIGKILL after the grace period."""
        with self.runs.lock:
            if run.signal(signal.SIGTERM) and run.kill_at is None:
                run.kill_at = time.monotonic() + self.options.kill_grace

    # -- the monitor thread ----------------------------------------------------------------

    def _step(self) -> float:
        try:
            self._pause = self._tick()
        except Exception:
            log.exception("local manager monitor pass failed")
            self._pause = min(max(self._pause * 2, self.options.poll_interval), 10.0)
        return self._pause

    def _tick(self) -> float:
        """Enforce durations and kill deadlines, record progress, watch adopted processes,
        retry what storage missed; return how long to sleep before the next pass."""
        with self.runs.lock:
            runs = list(self.runs.running.values())
        for run in runs:
            try:
                self._check(run)
            except Exception as exc:  # storage down, say: the next pass tries again
                log.warning("job %s: monitor pass failed: %s", run.job_id, exc)
        self._retry_unrecorded()
        self._start_queued()
        self._reconcile_own()
        now = time.monotonic()
        pause = self.options.poll_interval
        for run in runs:
            for moment in (run.deadline if not run.expired else None, run.kill_at):
                if moment is not None:
                    pause = min(pause, moment - now)
        with self.runs.lock:
            if self.runs.starts or self.runs.ends:
                pause = min(pause, RETRY_FIRST)
        return max(pause, 0.01)

    def _check(self, run: Running) -> None:
        if run.deadline is not None and not run.expired and time.monotonic() >= run.deadline:
            self._expire(run)
        if run.kill_at is not None and time.monotonic() >= run.kill_at:
            with self.runs.lock:
                if run.signal(signal.SIGKILL):
                    log.info("job %s: SIGKILL after the grace period", run.job_id)
                run.kill_at = None
        if run.done or (run.adopted and self._recovery.poll(run)):
            return
        self._record_progress(run)

    def _reconcile_own(self) -> None:
        """Every ``uws.reconcile_interval``: this process's own jobs that no thread of it
        watches (their end was lost in an outage, say), whoever holds the reconciliation."""
        interval = float(self.context.settings.get("reconcile_interval", 10.0))
        now = time.monotonic()
        if now < self._own_reconcile_at:
            return
        self._own_reconcile_at = now + interval
        try:
            self._recovery.reconcile(first=False, own_only=True)
        except Exception as exc:
            log.warning("reconciliation of this process's jobs failed: %s", exc)

    def _expire(self, run: Running) -> None:
        # Stopped first: if storage cannot record ABORTED now, the next pass tries again.
        self._terminate(run)
        # The results follow when the process has ended: an end after an abort keeps them.
        self.context.ended(
            run.job_id, Ending(Phase.ABORTED, utcnow(), error=timeout_error(run.duration))
        )
        run.expired = True
        log.info("job %s exceeded its execution duration of %d s", run.job_id, run.duration)

    def _record_progress(self, run: Running) -> None:
        progress = contract.read_progress(run.job_dir)
        if progress is not None and progress != run.progress:
            run.progress = progress
            self.context.progress(run.job_id, self.job_info(run))
