"""The Storage interface: where jobs live. Every method is one atomic transaction."""

from __future__ import annotations

import builtins
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar

from .accounts import Accounts
from .errors import ConfigurationError
from .jobs import Job, JobQuery, JobRef, Phase, Quota
from .notify import Notifier


class Storage(ABC):
    """Abstract job storage. Plugins subclass it and set ``name``.

    Implementations raise ``errors.NotFound`` for unknown jobs, publish every change of a job
    on ``self.notifier`` after it is committed, and apply ``update`` as compare-and-set.

    ``create`` and ``update`` take per-owner ``quotas``: inside the write's transaction,
    before writing anything, count the jobs of the owner of the job written (owner None
    counts as one owner) in each quota's phases, leaving that job itself out, and pass the
    count to ``Quota.check``, which raises ``errors.QuotaExceeded`` when the owner has no
    room for one more. Count and write are atomic together: however many processes and
    threads write for one owner at once, a quota is never passed.
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
    def create(self, job: Job, *, quotas: Collection[Quota] = ()) -> None:
        """Store a new job, unless a quota refuses it (then nothing is stored)."""

    @abstractmethod
    def get(self, job_id: str) -> Job:
        """The job with this id; ``NotFound`` if there is none."""

    @abstractmethod
    def list(self, query: JobQuery) -> list[JobRef]:
        """Jobs matching the query: newest first when ``query.last`` is set, else oldest first."""

    def batches(self, query: JobQuery, size: int) -> Iterator[builtins.list[JobRef]]:
        """``list(query)`` in batches of at most ``size`` (the last one may be empty), read
        one after another as a response streams them. This default reads them all at once."""
        yield self.list(query)

    def count(self, query: JobQuery, limit: int) -> int:
        """How many jobs the list of ``query`` (LAST aside) holds, or ``limit`` if at least
        that many: a cheap count for paged lists. Storages with an index do better."""
        return min(len(self.list(dataclasses.replace(query, last=None))), limit)

    @abstractmethod
    def update(
        self,
        job_id: str,
        when: Collection[Phase] | None = None,
        *,
        quotas: Collection[Quota] = (),
        **changes: Any,
    ) -> tuple[Job, Job] | None:
        """Set the given Job fields if the job's phase is in ``when`` (any phase if None).

        Returns the job before and after the change, or None when the phase condition
        failed (compare-and-set: a user's ABORT and a job's COMPLETED cannot overwrite
        each other). ``NotFound`` if
        the job does not exist. ``parameters``, ``results`` and ``job_info`` replace the
        stored values whole. The phase condition is checked first, then the ``quotas``:
        ``QuotaExceeded`` leaves the job unchanged.
        """

    @abstractmethod
    def delete(self, job_id: str) -> bool:
        """Remove the job; False if it did not exist."""

    @abstractmethod
    def in_phases(self, phases: Collection[Phase], limit: int = 1000) -> builtins.list[Job]:
        """Jobs in these phases, oldest first (for managers' reconciliation and queues)."""

    @abstractmethod
    def expired(self, now: datetime, limit: int = 1000) -> builtins.list[Job]:
        """Jobs, ARCHIVED excepted, whose destruction time is at or before ``now``."""

    def counts(self) -> dict[tuple[str, Phase], int]:
        """How many jobs of each (type, phase), ARCHIVED included (for metrics and
        ``uws-admin stats``). This default lists every job: storages count them in one
        grouped query instead."""
        found: dict[tuple[str, Phase], int] = {}
        for ref in self.list(JobQuery(phases=frozenset(Phase))):
            found[ref.job_type, ref.phase] = found.get((ref.job_type, ref.phase), 0) + 1
        return found

    @contextmanager
    def exclusive(self, task: str) -> Iterator[bool]:
        """Yield True if this process may run background ``task`` now. A storage shared by
        several processes yields True in one of them only (so the sweeper and the manager's
        reconciliation run once per deployment); a single-process storage always does."""
        yield True

    def accounts(self) -> Accounts:
        """The users, roles and API tokens kept by this storage. A storage that keeps none
        leaves this as is: the service then runs with anonymous access only."""
        raise ConfigurationError(f"storage {self.name!r} keeps no user accounts")

    def close(self) -> None:
        """Release connections."""
