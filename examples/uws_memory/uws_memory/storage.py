"""Jobs and accounts in dictionaries, behind one lock: every method is one transaction."""

from __future__ import annotations

import builtins
import copy
import threading
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from typing import Any

from uws_pyramid.api import (
    POSITIVE,
    Account,
    Accounts,
    Conflict,
    Job,
    JobQuery,
    JobRef,
    NotFound,
    Option,
    Phase,
    Quota,
    ServiceUnavailable,
    Storage,
    Token,
    changed,
    read_all,
)

#: The ``uws.storage.*`` options of this storage.
OPTIONS = (Option("max_jobs", POSITIVE, 10_000, "the most jobs kept (then 503)"),)


class MemoryStorage(Storage):
    """Jobs in this process's memory; gone when it stops."""

    name = "memory"

    def __init__(self, max_jobs: int = OPTIONS[0].default) -> None:
        super().__init__()
        self.max_jobs = max_jobs
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._accounts = MemoryAccounts()

    @classmethod
    def from_settings(cls, options: Mapping[str, str], here: str) -> MemoryStorage:
        return cls(**read_all(OPTIONS, options, section="uws.storage."))

    # Jobs are mutable dataclasses: callers get copies, so that changing one changes nothing
    # stored (as with a database).

    def create(self, job: Job, *, quotas: Collection[Quota] = ()) -> None:
        with self._lock:
            if job.job_id in self._jobs:
                raise Conflict(f"job {job.job_id!r} exists already")
            if len(self._jobs) >= self.max_jobs:
                raise ServiceUnavailable(f"the memory storage is full ({self.max_jobs} jobs)")
            self._check(job, quotas)
            self._jobs[job.job_id] = copy.deepcopy(job)

    def get(self, job_id: str) -> Job:
        with self._lock:
            return copy.deepcopy(self._stored(job_id))

    def list(self, query: JobQuery) -> builtins.list[JobRef]:
        newest = query.newest_first

        def key(job: Job) -> tuple[Any, str]:
            return getattr(job, query.sort), job.job_id

        def follows(job: Job) -> bool:  # after the BEFORE key in the list's order
            if query.before is None:
                return True
            return key(job) != query.before and (key(job) < query.before) == newest

        with self._lock:
            found = [
                job
                for job in self._jobs.values()
                if getattr(job, query.sort) is not None and _matches(job, query) and follows(job)
            ]
        found.sort(key=key, reverse=newest)
        if query.last is not None:
            found = found[: query.last]
        timed = query.sort != "creation_time"
        return [
            JobRef(
                j.job_id,
                j.job_type,
                j.phase,
                j.run_id,
                j.owner_id,
                j.creation_time,
                getattr(j, query.sort) if timed else None,
            )
            for j in found
        ]

    def batches(self, query: JobQuery, size: int) -> Iterator[builtins.list[JobRef]]:
        refs = self.list(query)
        for start in range(0, len(refs), size):
            yield refs[start : start + size]
        yield []  # the last batch may be empty (Storage.batches)

    def update(
        self,
        job_id: str,
        when: Collection[Phase] | None = None,
        *,
        quotas: Collection[Quota] = (),
        **changes: Any,
    ) -> tuple[Job, Job] | None:
        with self._lock:
            before = self._stored(job_id)
            if when is not None and before.phase not in when:
                return None
            after = copy.deepcopy(before.changed(**changes))
            self._check(after, quotas)
            self._jobs[job_id] = after
        if before.phase != after.phase:
            self.notifier.publish(job_id)
        return copy.deepcopy(before), copy.deepcopy(after)

    def delete(self, job_id: str) -> bool:
        with self._lock:
            existed = self._jobs.pop(job_id, None) is not None
        if existed:
            self.notifier.publish(job_id)
        return existed

    def in_phases(self, phases: Collection[Phase], limit: int = 1000) -> builtins.list[Job]:
        with self._lock:
            found = [copy.deepcopy(j) for j in self._jobs.values() if j.phase in phases]
        return sorted(found, key=lambda j: j.creation_time)[:limit]

    def expired(self, now: datetime, limit: int = 1000) -> builtins.list[Job]:
        with self._lock:
            found = [
                copy.deepcopy(j)
                for j in self._jobs.values()
                if j.destruction is not None and j.destruction <= now and j.phase != Phase.ARCHIVED
            ]
        return sorted(found, key=lambda j: j.destruction or now)[:limit]

    def accounts(self) -> Accounts:
        return self._accounts

    def _stored(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        return job

    def _check(self, job: Job, quotas: Collection[Quota]) -> None:
        """Each quota against the owner's other jobs, under the lock the write holds."""
        for quota in quotas:
            quota.check(
                sum(
                    1
                    for other in self._jobs.values()
                    if other.owner_id == job.owner_id
                    and other.job_id != job.job_id
                    and other.phase in quota.phases
                )
            )


def _matches(job: Job, query: JobQuery) -> bool:
    phases = query.phases if query.phases is not None else set(Phase) - {Phase.ARCHIVED}
    return (
        job.phase in phases
        and (query.job_type is None or job.job_type == query.job_type)
        and (query.owner_id is None or job.owner_id == query.owner_id)
        and (not query.anonymous or job.owner_id is None)
        and (query.after is None or job.creation_time > query.after)
        and (query.run_id is None or _run_id_matches(job.run_id, query))
    )


def _run_id_matches(run_id: str | None, query: JobQuery) -> bool:
    if run_id is None or query.run_id is None:
        return False
    return run_id.startswith(query.run_id) if query.run_id_prefix else run_id == query.run_id


class MemoryAccounts(Accounts):
    """Users and API tokens in dictionaries (Account and Token are frozen: no copies)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, Account] = {}
        self._tokens: dict[str, Token] = {}

    def add(self, account: Account) -> None:
        with self._lock:
            if account.name in self._users:
                raise Conflict(f"user {account.name!r} exists already")
            self._users[account.name] = account

    def get(self, name: str) -> Account | None:
        return self._users.get(name)

    def list(self) -> builtins.list[Account]:
        with self._lock:
            return sorted(self._users.values(), key=lambda a: a.name)

    def update(self, name: str, **changes: Any) -> Account:
        with self._lock:
            if name not in self._users:
                raise NotFound(f"no user {name!r}")
            after = self._users[name] = changed(self._users[name], **changes)
            return after

    def remove(self, name: str) -> bool:
        with self._lock:
            self._tokens = {k: t for k, t in self._tokens.items() if t.user != name}
            return self._users.pop(name, None) is not None

    def add_token(self, token: Token) -> None:
        with self._lock:
            if token.user not in self._users:
                raise NotFound(f"no user {token.user!r}")
            self._tokens[token.token_id] = token

    def get_token(self, token_id: str) -> Token | None:
        return self._tokens.get(token_id)

    def tokens(self, user: str) -> builtins.list[Token]:
        with self._lock:
            found = [t for t in self._tokens.values() if t.user == user]
        return sorted(found, key=lambda t: t.created)

    def remove_token(self, token_id: str) -> bool:
        with self._lock:
            return self._tokens.pop(token_id, None) is not None
