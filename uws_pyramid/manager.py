"""The Manager interface: where jobs run (local processes, a SLURM cluster, ...)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .events import job_secret
from .jobs import Job, Phase
from .storage import Storage

if TYPE_CHECKING:
    from .jdl.registry import JobDescriptions


class RecordPhase(Protocol):
    def __call__(self, job_id: str, when: Collection[Phase], **changes: Any) -> Job | None:
        """Store changes of a job if its phase is in ``when`` (compare-and-set), then notify."""


@dataclass
class ManagerContext:
    """What the service lends a manager at start-up."""

    storage: Storage
    descriptions: JobDescriptions
    workdir_root: Path  # each job runs in workdir_root / job_id
    record: RecordPhase
    settings: Mapping[str, Any]  # the parsed uws.* settings of the service
    server_secret: bytes = b""  # derive a job's secret with events.job_secret(...)
    base_url: str = ""  # uws.base_url: where jobs running elsewhere send their events

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
    reports every later change (EXECUTING, COMPLETED, ERROR, ABORTED on timeout, results,
    jobInfo) through ``context.record`` and must never leave a job in an active phase.
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
