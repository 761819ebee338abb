"""The Manager interface: where jobs run (local processes, a SLURM cluster, ...)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .errors import NotFound
from .events import job_secret
from .jobs import ErrorSummary, Job, Phase, utcnow
from .storage import Storage
from .transitions import Ending, Event

if TYPE_CHECKING:
    from .jdl.model import JobDescription
    from .jdl.registry import JobDescriptions

log = logging.getLogger(__name__)


class Apply(Protocol):
    def __call__(
        self,
        event: Event,
        job_id: str,
        facts: Mapping[str, Any],
        *,
        outcome: Phase | None = None,
        phase: Phase | None = None,
    ) -> Job | None:
        """Record a fact by the rule of ``event`` (``transitions``), then fire the hooks."""


class Resubmit(Protocol):
    def __call__(self, job: Job, failure: str = ...) -> Job:
        """Hand a QUEUED job to the manager again, as a RUN does: a failure puts it in ERROR
        with ``failure: <why>``, a storage outage leaves it QUEUED."""


def _given(**facts: Any) -> dict[str, Any]:
    """The facts a manager knows: an unknown one (None) never erases a recorded one."""
    return {name: value for name, value in facts.items() if value is not None}


@dataclass
class ManagerContext:
    """What the service lends a manager at start-up: its collaborators, and the facts a
    manager reports about its jobs (``accepted`` ... ``failed_to_start``). Each report is
    one compare-and-set by the service's phase rules (``uws_pyramid.transitions``) and
    returns the job as recorded, or None when the rules did not let it apply (the user
    aborted the job meanwhile, say): the manager then drops what it was doing for it."""

    storage: Storage
    descriptions: JobDescriptions
    workdir_root: Path  # each job runs in workdir_root / job_id
    apply: Apply
    #: Hand a QUEUED job that never reached the manager to it again (reconciliation).
    resubmit: Resubmit
    settings: Mapping[str, Any]  # the parsed uws.* settings of the service
    server_secret: bytes = b""  # derive a job's secret with events.job_secret(...)
    base_url: str = ""  # uws.base_url: where jobs running elsewhere send their events

    # -- what managers report --------------------------------------------------------------

    def accepted(self, job_id: str, job_info: Mapping[str, Any]) -> Job | None:
        """The manager took a QUEUED job in hand (``job_info`` names it)."""
        return self.apply(Event.ACCEPTED, job_id, {"job_info": job_info})

    def submitted(
        self, job_id: str, process_id: str, job_info: Mapping[str, Any] | None = None
    ) -> Job | None:
        """The scheduler knows the job under ``process_id``."""
        return self.apply(Event.SUBMITTED, job_id, _given(process_id=process_id, job_info=job_info))

    def started(
        self,
        job_id: str,
        start_time: datetime | None = None,
        process_id: str | None = None,
        job_info: Mapping[str, Any] | None = None,
    ) -> Job | None:
        """The job runs now. ``start_time``: when, unless its start was recorded before
        (a resumed job). None if it ran already, or left the active phases: stop it."""
        return self.apply(
            Event.STARTED,
            job_id,
            _given(start_time=start_time, process_id=process_id, job_info=job_info),
        )

    def requeued(self, job_id: str, job_info: Mapping[str, Any]) -> Job | None:
        """The scheduler put the job back in its queue."""
        return self.apply(Event.REQUEUED, job_id, {"job_info": job_info})

    def suspended(self, job_id: str, job_info: Mapping[str, Any]) -> Job | None:
        """The scheduler suspended the job."""
        return self.apply(Event.SUSPENDED, job_id, {"job_info": job_info})

    def progress(
        self, job_id: str, job_info: Mapping[str, Any], phase: Phase = Phase.EXECUTING
    ) -> Job | None:
        """New jobInfo (progress, node, the reason a job waits) of a job still in ``phase``,
        the active phase the manager saw it in."""
        return self.apply(Event.PROGRESS, job_id, {"job_info": job_info}, phase=phase)

    def ended(
        self,
        job_id: str,
        ending: Ending,
        start_time: datetime | None = None,
        job_info: Mapping[str, Any] | None = None,
    ) -> Job | None:
        """The job is over. ``start_time``: when it started, if that was never recorded.
        None if it had left the active phases already; if the service aborted it, its
        results (and ``job_info``) are kept all the same."""
        facts = _given(
            end_time=ending.end_time,
            results=ending.results,
            start_time=start_time,
            job_info=job_info,
        )
        error = ending.error  # a COMPLETED job has none
        if error is None and ending.outcome == Phase.ERROR:
            # UWS 1.1 section 2.2.2.5: an ERROR job should carry an errorSummary (and /error).
            error = ErrorSummary("the job failed without saying why")
        facts["error"] = error
        return self.apply(Event.ENDED, job_id, facts, outcome=ending.outcome)

    def failed_to_start(self, job_id: str, reason: str) -> Job | None:
        """A QUEUED job could not be started (or submitted): it is in ERROR, saying why."""
        return self.apply(
            Event.FAILED_TO_START, job_id, {"end_time": utcnow(), "error": ErrorSummary(reason)}
        )

    # -- what managers read ----------------------------------------------------------------

    def description(self, job_type: str) -> JobDescription | None:
        """The job's description, None if its type is gone (the results of such a job are
        only its stdout and stderr)."""
        try:
            return self.descriptions.get(job_type)
        except NotFound:
            log.warning("job type %s is gone: only stdout and stderr are kept", job_type)
            return None

    def job_dir(self, job_id: str) -> Path:
        return self.workdir_root / job_id

    def job_secret(self, job_id: str) -> str:
        """The secret a job signs its events with (see uws_pyramid.events)."""
        return job_secret(self.server_secret, job_id)

    def events_url(self, job_id: str) -> str:
        """Where the job POSTs its signed events (``uws.base_url`` must be set)."""
        return f"{self.base_url}/events/{job_id}"


class Manager(ABC):
    """Abstract job manager. Plugins subclass it and set ``name``.

    The service records QUEUED before ``submit`` and ABORTED before ``abort``; the manager
    reports what happens to the job later (it started, made progress, ended with an outcome,
    could not start) through the context's reports (``context.started`` ...), and the
    service decides the phases. A manager must never leave a job in an active phase.
    """

    name: ClassVar[str]
    context: ManagerContext

    @classmethod
    @abstractmethod
    def from_settings(cls, options: Mapping[str, str], here: str) -> Manager:
        """Build from the ``uws.manager.*`` keys (prefix removed); ``here`` is the ini's folder.
        Raise ``errors.ConfigurationError`` naming the key for a bad value."""

    def bind(self, context: ManagerContext) -> None:
        """Called once at start-up, before any request; may start background threads."""
        self.context = context

    def claim(self, job: Job) -> Mapping[str, Any]:
        """jobInfo to store with a job about to be recorded QUEUED for this manager, in
        the creation's own transaction: a manager that takes a job in hand by naming
        itself in its jobInfo (an ``accepted`` report) can then skip that write."""
        return {}

    @abstractmethod
    def submit(self, job: Job) -> None:
        """Start or queue a job that was just recorded QUEUED. Raise to have it put in ERROR."""

    @abstractmethod
    def abort(self, job: Job) -> None:
        """Stop the job's processes (already recorded ABORTED); keep the results made so far."""

    @abstractmethod
    def delete(self, job: Job) -> None:
        """Stop the job if it runs, then remove its files. Storage records are the caller's."""

    def event(self, job: Job, event: str) -> None:
        """A verified event ("started" or "ended") from the job's own process: look at the
        job now rather than at the next reconciliation. The event is a wake-up call only:
        read the job's real state, never trust the event for its outcome."""

    def problems(self) -> list[str]:
        """What keeps this manager from working here (unreachable scheduler, missing tools),
        each naming the fix; found without starting anything (``uws-admin check``)."""
        return []

    def reconcile(self) -> None:
        """Compare active jobs with reality and fix what drifted (called periodically)."""

    def close(self) -> None:
        """Stop background threads; running jobs keep running."""
