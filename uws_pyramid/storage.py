"""The Storage interface: where jobs live. Every method is one atomic transaction."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar

from .jobs import Job, JobQuery, JobRef, Phase
from .notify import Notifier


class Storage(ABC):
    """Abstract job storage. Plugins subclass it and set ``name``.

    Implementations raise ``errors.NotFound`` for unknown jobs, publish every change of a job
    on ``self.notifier`` after it is committed, and apply ``update`` as compare-and-set.
    """

    name: ClassVar[str]

    def __init__(self) -> None:
        self.notifier = Notifier()

    @classmethod
    @abstractmethod
    def from_settings(cls, options: Mapping[str, str], here: str) -> Storage:
        """Build from the ``uws.storage.*`` keys (prefix removed); ``here`` is the ini's folder.
        Raise ``errors.ConfigurationError`` naming the key for a bad value."""

    @abstractmethod
    def create(self, job: Job) -> None:
        """Store a new job."""

    @abstractmethod
    def get(self, job_id: str) -> Job:
        """The job with this id; ``NotFound`` if there is none."""

    @abstractmethod
    def list(self, query: JobQuery) -> list[JobRef]:
        """Jobs matching the query: newest first when ``query.last`` is set, else oldest first."""

    @abstractmethod
    def update(
        self, job_id: str, when: Collection[Phase] | None = None, **changes: Any
    ) -> tuple[Job, Job] | None:
        """Set the given Job fields if the job's phase is in ``when`` (any phase if None).

        Returns the job before and after the change, or None when the phase condition
        failed (compare-and-set: a user's ABORT and a job's COMPLETED cannot overwrite
        each other). ``NotFound`` if
        the job does not exist. ``parameters``, ``results`` and ``job_info`` replace the
        stored values whole.
        """

    @abstractmethod
    def delete(self, job_id: str) -> bool:
        """Remove the job; False if it did not exist."""

    @abstractmethod
    def in_phases(self, phases: Collection[Phase], limit: int = 1000) -> list[Job]:
        """Jobs in these phases, oldest first (for managers' reconciliation and queues)."""

    @abstractmethod
    def expired(self, now: datetime, limit: int = 1000) -> list[Job]:
        """Jobs, ARCHIVED excepted, whose destruction time is at or before ``now``."""

    @contextmanager
    def exclusive(self, task: str) -> Iterator[bool]:
        """Yield True if this process may run background ``task`` now. A storage shared by
        several processes yields True in one of them only (so the sweeper and the manager's
        reconciliation run once per deployment); a single-process storage always does."""
        yield True

    def close(self) -> None:
        """Release connections."""
