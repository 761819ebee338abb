"""Domain model of UWS jobs: phases, jobs, results, error summaries (no Pyramid, no SQL)."""

from __future__ import annotations

import base64
import dataclasses
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, NamedTuple

from .errors import QuotaExceeded


class Phase(StrEnum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    UNKNOWN = "UNKNOWN"
    HELD = "HELD"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"

    @classmethod
    def parse(cls, text: str) -> Phase | None:
        """The phase named by ``text`` in any case, or None."""
        try:
            return cls(text.strip().upper())
        except ValueError:
            return None


#: Phases in which the job is in the hands of a manager.
ACTIVE = frozenset({Phase.QUEUED, Phase.EXECUTING, Phase.HELD, Phase.SUSPENDED})
#: Phases a job never leaves (except towards ARCHIVED or deletion).
FINAL = frozenset({Phase.COMPLETED, Phase.ERROR, Phase.ABORTED, Phase.ARCHIVED})
#: Phases in which a WAIT request blocks (UWS 1.1 section 2.2.1.2).
WAITABLE = frozenset({Phase.PENDING, Phase.QUEUED, Phase.EXECUTING})
#: Phases from which a job may be aborted.
ABORTABLE = frozenset({Phase.PENDING, Phase.QUEUED, Phase.EXECUTING, Phase.HELD, Phase.SUSPENDED})
#: Phases of a job that has not finished (what the active-jobs quota counts).
UNFINISHED = ACTIVE | {Phase.PENDING}

#: Characters of job ids; the alphabet leaves out h, t, p and s so that no id starts with one
#: of them (a popular Python client strips those characters from the start of redirect paths).
ID_ALPHABET = "abcdefgijklmnoqruvwxyz0123456789"


#: Base 32's symbols to ours, symbol for symbol.
_TO_ID = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ID_ALPHABET.encode("ascii"))


def new_job_id() -> str:
    """An unguessable, URL-safe job id: 24 characters of 32 symbols, i.e. 120 random bits."""
    # 15 random bytes are 24 groups of 5 bits: base 32 cuts them in C (a loop in Python
    # was a tenth of an uncontended create's own work), then each symbol becomes ours.
    return base64.b32encode(secrets.token_bytes(15)).translate(_TO_ID).decode("ascii")


def utcnow() -> datetime:
    """Now in UTC, to the millisecond (what every storage keeps)."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Quota:
    """A per-owner limit: at most ``maximum`` of one owner's jobs in ``phases``.

    Anonymous jobs (owner None) count together, as the jobs of one owner."""

    phases: frozenset[Phase]
    maximum: int
    what: str  # what is counted, as the message names it: "running jobs"
    setting: str  # the ini key that sets ``maximum``

    @classmethod
    def active_jobs(cls, maximum: int) -> Quota:
        """Jobs not finished yet, PENDING included."""
        return cls(UNFINISHED, maximum, "active jobs", "uws.quota.active_jobs")

    @classmethod
    def running_jobs(cls, maximum: int) -> Quota:
        """Jobs in the hands of a manager."""
        return cls(ACTIVE, maximum, "running jobs", "uws.quota.running_jobs")

    def check(self, count: int) -> None:
        """Raise QuotaExceeded if an owner who has ``count`` such jobs may not have one more."""
        if count >= self.maximum:
            raise QuotaExceeded(
                f"quota reached: at most {self.maximum} {self.what} per user ({self.setting}); "
                f"this user has {count}"
            )


@dataclass(frozen=True)
class ErrorSummary:
    """UWS errorSummary: a short message; the full text, if any, is served at /error."""

    message: str
    type: str = "fatal"  # "fatal" or "transient"
    has_detail: bool = False


@dataclass(frozen=True)
class Result:
    """One result of a job: ``path`` is relative to the job's working directory; ``digest``
    the hex SHA-256 of its content when the job ended (None: not known); ``declared`` the id
    of the description's result it comes from (None: the script's manifest, stdout, stderr)."""

    id: str
    path: str
    mime_type: str | None = None
    size: int | None = None
    digest: str | None = None
    description: str | None = None
    declared: str | None = None


@dataclass
class Job:
    """A UWS job as stored; every time is an aware UTC datetime."""

    job_id: str
    job_type: str
    phase: Phase = Phase.PENDING
    run_id: str | None = None
    owner_id: str | None = None
    creation_time: datetime = field(default_factory=utcnow)
    start_time: datetime | None = None
    end_time: datetime | None = None
    execution_duration: int = 0  # seconds, 0 means unlimited
    destruction: datetime | None = None
    quote: datetime | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    error: ErrorSummary | None = None
    job_info: dict[str, Any] = field(default_factory=dict)
    process_id: str | None = None  # the manager's id (PID, SLURM job id)

    def changed(self, **changes: Any) -> Job:
        return dataclasses.replace(self, **changes)

    def result(self, result_id: str) -> Result | None:
        return next((r for r in self.results if r.id == result_id), None)


class JobRef(NamedTuple):
    """What a job list shows of a job (a tuple: a list of 10,000 is built several times
    faster than of dataclasses)."""

    job_id: str
    job_type: str
    phase: Phase
    run_id: str | None
    owner_id: str | None
    creation_time: datetime
    #: The start or end time of a list sorted by it (JobQuery.sort): its next page's key.
    sort_time: datetime | None = None


#: The times a job list may be sorted by (JobQuery.sort).
SORTS = ("creation_time", "start_time", "end_time")


@dataclass(frozen=True)
class JobQuery:
    """Job list filters (UWS 1.1 section 2.2.2.1); the filters combine with AND."""

    job_type: str | None = None
    owner_id: str | None = None  # only this user's jobs
    anonymous: bool = False  # only jobs without an owner
    phases: frozenset[Phase] | None = None  # None: every phase but ARCHIVED
    after: datetime | None = None
    last: int | None = None  # newest first when set
    # Extensions of the list (README, "Job lists at scale"):
    # keyset: the jobs after (sort time, id) in the list's order (older ones when newest first)
    before: tuple[datetime, str] | None = None
    run_id: str | None = None  # exact runId, or its start when ``run_id_prefix``
    run_id_prefix: bool = False
    sort: str = "creation_time"  # one of SORTS; by start or end time: only jobs that have it
    descending: bool | None = None  # None: newest first with LAST or BEFORE, else oldest first

    @property
    def newest_first(self) -> bool:
        if self.descending is not None:
            return self.descending
        return self.last is not None or self.before is not None
