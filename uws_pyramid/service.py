"""JobService: every UWS use case, and the phase rules applied to what managers report."""

from __future__ import annotations

import builtins
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from . import submission, transitions
from .errors import BadRequest, Forbidden, InvalidValue, NotFound, ServiceUnavailable
from .execution import jobfiles
from .execution.results import error_detail
from .execution.workdir import JobDir
from .jdl.registry import JobDescriptions
from .jobs import (
    ABORTABLE,
    ACTIVE,
    FINAL,
    WAITABLE,
    ErrorSummary,
    Job,
    JobQuery,
    JobRef,
    Phase,
    Quota,
    Result,
    new_job_id,
    utcnow,
)
from .manager import Manager
from .notify import NEW_JOB
from .settings import UWSSettings
from .storage import Storage
from .submission import Submission, Upload  # noqa: F401  (Upload: re-exported for testing.py)
from .transitions import RULES, Event, Rule

log = logging.getLogger(__name__)


def per_owner(quota: Callable[[int], Quota], maximum: int) -> tuple[Quota, ...]:
    """The quotas to check: none when ``maximum`` is 0 (no limit)."""
    return (quota(maximum),) if maximum else ()


class JobService:
    """The use cases of the REST API, and what managers call to record a job's progress."""

    def __init__(
        self,
        storage: Storage,
        manager: Manager,
        descriptions: JobDescriptions,
        settings: UWSSettings,
        hook: Any,
    ) -> None:
        self.storage = storage
        self.manager = manager
        self.descriptions = descriptions
        self.settings = settings
        self.hook = hook
        # Waiting requests hold a server thread each: cap them so they never starve the others.
        self._waiters = threading.BoundedSemaphore(max(settings.max_waiters, 1))
        self._wait_enabled = settings.max_waiters > 0
        #: Set when the server stops: WAIT requests return at once.
        self.stopping = threading.Event()
        # A quota of 0 means no limit: no Quota for storage to check.
        self._active_quota = per_owner(Quota.active_jobs, settings.quota_active_jobs)
        self._running_quota = per_owner(Quota.running_jobs, settings.quota_running_jobs)
        #: uploads(): job type -> (its description, its file parameters); a reloaded
        #: description is a new object, and its entry is made anew.
        self._uploads: dict[str, tuple[Any, frozenset[str]]] = {}

    # -- reading ------------------------------------------------------------------------

    # A job outlives its type: when a description is removed, its jobs stay readable,
    # abortable and deletable; only creating, changing and running them need the type.

    def get(self, job_type: str, job_id: str) -> Job:
        job = self.storage.get(job_id)
        if job.job_type != job_type:
            raise NotFound(f"no job {job_id!r} of type {job_type!r}")
        return self.shown(job)

    def shown(self, job: Job) -> Job:
        """``job`` as a client reads it: a QUEUED one with the manager's jobInfo of the
        moment (hookspecs.uws_queued_job_info), never stored."""
        if job.phase != Phase.QUEUED:
            return job
        extra: dict[str, Any] = {}
        for impl in self.hook.uws_queued_job_info.get_hookimpls():
            try:
                extra.update(impl.function(manager=self.manager, job=job) or {})
            except Exception:
                log.exception("plugin %s failed in uws_queued_job_info", impl.plugin_name)
        return job.changed(job_info={**job.job_info, **extra}) if extra else job

    def list(self, query: JobQuery) -> list[JobRef]:
        refs = self.storage.list(query)
        if not refs and query.job_type is not None:
            self.descriptions.get(
                query.job_type
            )  # 404 for a type with neither jobs nor description
        return refs

    def batches(self, query: JobQuery, size: int) -> Iterator[builtins.list[JobRef]]:
        """``list`` in batches (a streamed response); the first is read now, for the 404."""
        batches = self.storage.batches(query, size)
        first = next(batches)
        if not first and query.job_type is not None:
            self.descriptions.get(query.job_type)
        return itertools.chain([first], batches)

    def uploads(self, job: Job) -> frozenset[str]:
        """Names of the job's parameters that are uploaded files."""
        try:
            jd = self.descriptions.get(job.job_type)
        except NotFound:
            return frozenset()  # its type is gone: values are shown as they were stored
        known = self._uploads.get(job.job_type)
        if known is not None and known[0] is jd:
            return known[1]
        names = frozenset(p.name for p in jd.parameters if p.type == "file")
        self._uploads[job.job_type] = (jd, names)
        return names

    def job_dir(self, job_id: str) -> JobDir:
        return JobDir(self.settings.workdir, job_id)

    def open_file(self, job: Job, relative: str, what: str) -> tuple[BinaryIO, os.stat_result]:
        """Open a file of the job's directory as ``jobfiles`` allows (never a link, a FIFO or
        a file with several links); NotFound, naming ``what``, for anything else."""
        try:
            return jobfiles.open_file(self.job_dir(job.job_id).path, relative)
        except FileNotFoundError:
            raise NotFound(f"the file of {what} is gone") from None
        except (jobfiles.Refused, OSError) as exc:
            log.warning("job %s: %s not served: %s", job.job_id, what, exc)
            raise NotFound(f"the file of {what} cannot be served: {exc}") from None

    def open_result(self, job: Job, result_id: str) -> tuple[Result, BinaryIO, os.stat_result]:
        result = job.result(result_id)
        if result is None:
            raise NotFound(f"job {job.job_id} has no result {result_id!r}")
        stream, st = self.open_file(job, result.path, f"result {result_id!r}")
        return result, stream, st

    def result_file(self, job: Job, result_id: str) -> tuple[Result, Path]:
        """A result and its path, once checked as ``open_result`` does (for tests and tools)."""
        result, stream, _ = self.open_result(job, result_id)
        stream.close()
        return result, self.job_dir(job.job_id).path / result.path

    def error_text(self, job: Job) -> str:
        """The text of ``/error``: the job's stderr when it tells something, else the summary."""
        if job.error is None:
            raise NotFound(f"job {job.job_id} has no error")
        if job.error.has_detail:
            detail = error_detail(self.job_dir(job.job_id))
            if detail:
                return detail
        return job.error.message

    def wait(self, job: Job, timeout: int, phase: Phase | None) -> Job:
        """UWS blocking GET: return when the phase changes or after ``timeout`` seconds."""
        seconds = self.settings.wait_max if timeout < 0 else min(timeout, self.settings.wait_max)
        if seconds == 0:
            return job

        def settled(current: Job) -> bool:
            return current.phase not in WAITABLE or (phase is not None and current.phase != phase)

        return self.shown(self._wait(job.job_id, seconds, settled, once=True) or job)

    def wait_final(self, job: Job, seconds: float) -> Job:
        """Synchronous execution: return when the job has ended, or after ``seconds``."""
        found = self._wait(job.job_id, seconds, lambda current: current.phase in FINAL, once=False)
        return found or job

    def _wait(
        self, job_id: str, seconds: float, settled: Callable[[Job], bool], once: bool
    ) -> Job | None:
        """Sleep on the notifier until ``settled(job)`` (after one change if ``once``) or
        ``seconds``; None, at once, when no waiting slot is free or the server stops."""
        deadline = time.monotonic() + seconds
        with self._waiting_slot() as free:
            if not free:
                return None
            with self.storage.notifier.subscribe(job_id) as changed:
                while True:
                    changed.clear()
                    job = self.storage.get(job_id)  # fresh, now that changes wake us
                    left = deadline - time.monotonic()
                    if settled(job) or left <= 0 or self.stopping.is_set():
                        return job
                    changed.wait(left)
                    if once:
                        return self.storage.get(job_id)

    @contextmanager
    def _waiting_slot(self) -> Iterator[bool]:
        """One of the ``uws.wait.max_waiters`` slots, or False (answer at once): under load
        the Recommendation lets the server return early, rather than let waiters occupy
        every thread."""
        if not self._wait_enabled or self.stopping.is_set():
            yield False
        elif not self._waiters.acquire(blocking=False):
            yield False
        else:
            try:
                yield True
            finally:
                self._waiters.release()

    def wait_list(
        self, query: JobQuery, timeout: int, unchanged: Callable[[builtins.list[JobRef]], bool]
    ) -> builtins.list[JobRef]:
        """A job list's change feed: the list once a job in it changes or a job is created,
        or after ``timeout`` seconds; at once if it is not ``unchanged`` (what the client
        holds) already. Bounded and ended as ``wait``."""
        refs = self.list(query)
        seconds = self.settings.wait_max if timeout < 0 else min(timeout, self.settings.wait_max)
        if not unchanged(refs) or seconds == 0:
            return refs
        with self._waiting_slot() as free:
            if not free:
                return refs
            with self.storage.notifier.subscribe(NEW_JOB, *(r.job_id for r in refs)) as changed:
                fresh = self.list(query)  # a change before subscribing shows here
                if fresh != refs or self.stopping.is_set():
                    return fresh
                changed.wait(seconds)
            return self.list(query)

    def stop_waiting(self) -> None:
        """The server stops: answer every waiting request now (UWS lets WAIT return early)."""
        self.stopping.set()
        self.storage.notifier.publish_all()

    # -- creating and changing ------------------------------------------------------------

    def create(self, job_type: str, sub: Submission, owner_id: str | None) -> Job:
        jd = self.descriptions.get(job_type)
        submission.check_limits(sub, self.settings)
        if "ACTION" in sub.control:
            raise BadRequest("ACTION is not accepted when creating a job")
        run = submission.phase_request(sub, allowed=("RUN",))
        now = utcnow()
        job = Job(
            job_id=new_job_id(),
            job_type=job_type,
            run_id=sub.control.get("RUNID"),
            owner_id=owner_id,
            creation_time=now,
            execution_duration=submission.execution_duration(
                jd, sub.control.get("EXECUTIONDURATION"), self.settings
            ),
            destruction=submission.destruction(
                now, sub.control.get("DESTRUCTION"), jd, self.settings
            ),
            quote=now + timedelta(seconds=jd.quote) if jd.quote else None,
            parameters=submission.parameters(jd, sub, complete=True),
        )
        if run:
            # Inserted QUEUED, in one transaction with the running quota's check: no outage
            # can leave a PENDING job behind that the client asked to run and never heard of.
            # The manager's claim too: one write less than an ``accepted`` report after.
            job = job.changed(
                phase=Phase.QUEUED, job_info={**job.job_info, **self.manager.claim(job)}
            )
        quotas = self._active_quota + (self._running_quota if run else ())
        try:
            self._store_uploads(job.job_id, sub)
            self.storage.create(job, quotas=quotas)
        except BaseException:  # a refused creation leaves no directory, nor the uploads in it
            self.job_dir(job.job_id).remove()
            raise
        log.info("created job %s of type %s", job.job_id, job_type)
        if not run:
            return job
        self._call_hook(self.hook.uws_job_phase_changed, job=job, previous=Phase.PENDING)
        return self._submit(job)

    def modify(self, job: Job, sub: Submission) -> Job | None:
        """POST to a job: ACTION=DELETE, parameter and control changes, then PHASE. Every
        value is checked before anything is changed, so a bad request changes nothing."""
        submission.check_limits(sub, self.settings)
        action = sub.control.get("ACTION")
        if action is not None:
            if action.strip().upper() != "DELETE":
                raise InvalidValue("ACTION", "DELETE", action)
            self.delete(job)
            return None
        phase = submission.phase_request(sub, allowed=("RUN", "ABORT"))
        changes: dict[str, Any] = {}
        pending_only = sub.touches_parameters or "EXECUTIONDURATION" in sub.control
        if pending_only or "DESTRUCTION" in sub.control:
            jd = self.descriptions.get(job.job_type)
        if sub.touches_parameters:
            changes["parameters"] = {
                **job.parameters,
                **submission.parameters(jd, sub, complete=False),
            }
        if "EXECUTIONDURATION" in sub.control:
            changes["execution_duration"] = submission.execution_duration(
                jd, sub.control["EXECUTIONDURATION"], self.settings
            )
        if "DESTRUCTION" in sub.control:
            changes["destruction"] = submission.destruction(
                job.creation_time, sub.control["DESTRUCTION"], jd, self.settings
            )
        if "RUNID" in sub.control:
            changes["run_id"] = sub.control["RUNID"]
        if pending_only and job.phase != Phase.PENDING:
            raise Forbidden(f"job {job.job_id} is {job.phase}: only a PENDING job can be changed")
        if changes:
            self._store_uploads(job.job_id, sub)
            if pending_only:
                done = self.apply(Event.EDITED, job.job_id, changes)
            else:  # DESTRUCTION and RUNID alone may change in any phase
                done = self.record(job.job_id, None, **changes)
            if done is None:
                raise Forbidden(f"job {job.job_id} left PENDING: it can no longer be changed")
            job = done
        if phase == "RUN":
            return self.run(job)
        if phase == "ABORT":
            return self.abort(job)
        return job

    def run(self, job: Job) -> Job:
        queued = self.apply(Event.RUN, job.job_id, {}, quotas=self._running_quota)
        if queued is None:
            current = self.storage.get(job.job_id)
            if current.phase in (Phase.QUEUED, Phase.EXECUTING):
                return current  # already started: RUN is idempotent
            raise Forbidden(f"job {job.job_id} is {current.phase}: only a PENDING job can be run")
        return self._submit(queued)

    def _submit(self, queued: Job, failure: str = "the job could not be submitted") -> Job:
        """Hand a job recorded QUEUED to the manager (after a RUN, or again when a manager's
        reconciliation finds it never reached the manager). A database outage leaves it
        QUEUED: the RUN was accepted, and reconciliation submits a QUEUED job no manager
        knows. Any other failure puts it in ERROR."""
        try:
            self.manager.submit(queued)
        except ServiceUnavailable as exc:
            log.warning("job %s stays QUEUED until it can be submitted: %s", queued.job_id, exc)
            return queued
        except Exception as exc:  # the manager's fault must not lose the job: record it
            log.exception("submission of job %s failed", queued.job_id)
            self.apply(
                Event.FAILED_TO_START,
                queued.job_id,
                {"end_time": utcnow(), "error": ErrorSummary(f"{failure}: {exc}")},
            )
        try:
            return self.storage.get(queued.job_id)
        except ServiceUnavailable:
            return queued

    def abort(self, job: Job) -> Job:
        changed = self._apply_full(RULES[Event.ABORTED], job.job_id, {"end_time": utcnow()})
        if changed is None:
            current = self.storage.get(job.job_id)
            if current.phase == Phase.ABORTED:
                return current
            raise Forbidden(f"job {job.job_id} is {current.phase}: it cannot be aborted")
        before, after = changed
        if before.phase in ACTIVE:
            try:
                self.manager.abort(after)
            except Exception:
                log.exception("abort of job %s failed in the manager", job.job_id)
        return self.storage.get(job.job_id)

    def delete(self, job: Job) -> None:
        if job.phase in ABORTABLE:
            # Record ABORTED first, so that a completion racing with us cannot revive the job.
            self.apply(Event.ABORTED, job.job_id, {"end_time": utcnow()})
        try:
            self.manager.delete(job)
        except Exception:
            log.exception("the manager failed to delete job %s; removing its records", job.job_id)
        self.job_dir(job.job_id).remove()
        if self.storage.delete(job.job_id):
            self._call_hook(self.hook.uws_job_deleted, job=job)
            log.info("deleted job %s", job.job_id)

    # -- what managers and background tasks call --------------------------------------

    def apply(
        self,
        event: Event,
        job_id: str,
        facts: Mapping[str, Any],
        *,
        outcome: Phase | None = None,
        phase: Phase | None = None,
        quotas: Collection[Quota] = (),
    ) -> Job | None:
        """Record ``facts`` by the rule of ``event`` (``transitions.RULES``) in one
        compare-and-set, then fire the hooks; None if the rule did not let it apply. If the
        event has a fallback (an end after an abort keeps its results), that is tried then."""
        changed = self._apply_full(transitions.rule(event, outcome, phase), job_id, facts, quotas)
        if changed is None and event in transitions.FALLBACK:
            fallback = RULES[transitions.FALLBACK[event]]
            kept = {k: v for k, v in facts.items() if k in fallback.fields and v is not None}
            if kept:
                self.record(job_id, fallback.sources, **kept)
        return None if changed is None else changed[1]

    def _apply_full(
        self, found: Rule, job_id: str, facts: Mapping[str, Any], quotas: Collection[Quota] = ()
    ) -> tuple[Job, Job] | None:
        return self._record_full(
            job_id, found.sources, quotas=quotas, **transitions.changes(found, facts)
        )

    def resubmit(self, job: Job, failure: str = "the job could not be submitted") -> Job:
        """A QUEUED job that never reached a manager, handed to it again (reconciliation);
        if that fails, the job is in ERROR with ``failure: <why>``."""
        try:
            return self._submit(job, failure)
        except NotFound:  # deleted meanwhile
            return job

    def record(
        self,
        job_id: str,
        when: Collection[Phase] | None,
        *,
        quotas: Collection[Quota] = (),
        **changes: Any,
    ) -> Job | None:
        """Store changes if the job's phase is in ``when``; None if it was not (or is gone).
        QuotaExceeded if one of ``quotas`` refuses them. Only for what no phase rule covers
        (DESTRUCTION and RUNID changes, archiving, tests): the rest goes through ``apply``."""
        changed = self._record_full(job_id, when, quotas=quotas, **changes)
        return None if changed is None else changed[1]

    def _record_full(
        self,
        job_id: str,
        when: Collection[Phase] | None,
        *,
        quotas: Collection[Quota] = (),
        **changes: Any,
    ) -> tuple[Job, Job] | None:
        try:
            changed = self.storage.update(job_id, when, quotas=quotas, **changes)
        except NotFound:
            return None
        if changed is not None and changed[0].phase != changed[1].phase:
            self._call_hook(
                self.hook.uws_job_phase_changed, job=changed[1], previous=changed[0].phase
            )
        return changed

    def _call_hook(self, hook: Any, **kwargs: Any) -> None:
        # Each implementation on its own: one plugin's bug must neither break the phase
        # change nor keep the other plugins from hearing of it.
        for impl in hook.get_hookimpls():
            try:
                impl.function(*(kwargs[name] for name in impl.argnames))
            except Exception:
                log.exception("plugin %s failed in %s", impl.plugin_name, hook.name)

    def destroy_expired(self, now: datetime | None = None) -> int:
        """Destroy (or archive) the jobs whose destruction time has passed."""
        count = 0
        for job in self.storage.expired(now or utcnow()):
            try:
                if self.settings.destruction_archive:
                    self.archive(job)
                else:
                    self.delete(job)
                count += 1
            except Exception:
                log.exception("destruction of job %s failed", job.job_id)
        if count:
            log.info(
                "destruction pass: %d job(s) %s",
                count,
                "archived" if self.settings.destruction_archive else "deleted",
            )
        return count

    def archive(self, job: Job) -> None:
        if job.phase in ABORTABLE:
            self.abort(job)
        try:
            self.manager.delete(job)
        except Exception:
            log.exception("the manager failed to clean job %s", job.job_id)
        self.job_dir(job.job_id).remove()
        self.record(job.job_id, None, phase=Phase.ARCHIVED, results=[])

    def _store_uploads(self, job_id: str, sub: Submission) -> None:
        if sub.uploads:
            job_dir = self.job_dir(job_id)
            for upload in sub.uploads:
                job_dir.store_upload(
                    upload.name, upload.filename, upload.stream, self.settings.limit_upload
                )
