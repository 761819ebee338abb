"""Fake managers for unit tests of the service's error paths (never the only test of a feature)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from uws_pyramid.jobs import ErrorSummary, Job, Phase, Result, utcnow
from uws_pyramid.manager import Manager
from uws_pyramid.plugins import hookimpl
from uws_pyramid.transitions import Ending


class HoldingManager(Manager):
    """Keeps every submitted job QUEUED and remembers what it was asked to do."""

    name = "holding"

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.aborted: list[str] = []
        self.deleted: list[str] = []
        self.events: list[tuple[str, str]] = []

    @classmethod
    def from_settings(cls, options: Mapping[str, str], here: str) -> HoldingManager:
        return cls()

    def submit(self, job: Job) -> None:
        self.submitted.append(job.job_id)

    def abort(self, job: Job) -> None:
        self.aborted.append(job.job_id)

    def delete(self, job: Job) -> None:
        self.deleted.append(job.job_id)

    def event(self, job: Job, event: str) -> None:
        self.events.append((job.job_id, event))

    def finish(
        self,
        job_id: str,
        phase: Phase = Phase.COMPLETED,
        results: list[Result] | None = None,
        error: ErrorSummary | None = None,
    ) -> Job | None:
        """Play the part of a job's process reporting its start, then its end."""
        self.context.started(job_id, start_time=utcnow())
        return self.context.ended(job_id, Ending(phase, utcnow(), results, error))


class BrokenManager(HoldingManager):
    """A manager whose cluster refuses every submission."""

    name = "broken"

    def submit(self, job: Job) -> None:
        raise RuntimeError("sbatch: error: Batch job submission failed")


class FakesPlugin:
    @hookimpl
    def uws_manager_classes(self) -> Sequence[type[Manager]]:
        return [HoldingManager, BrokenManager]
