"""The Storage contract: tests every storage plugin runs (through ``uws_pyramid.testing``)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from .errors import NotFound, QuotaExceeded
from .jobs import ErrorSummary, Job, JobQuery, Phase, Quota, Result, new_job_id, utcnow
from .storage import Storage

T0 = datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=timezone.utc)


def make_job(job_type: str = "echo", created: datetime | None = None, **fields: object) -> Job:
    return Job(job_id=new_job_id(), job_type=job_type, creation_time=created or utcnow(), **fields)  # type: ignore[arg-type]


def race(actions: list[Callable[[], object]]) -> list[BaseException | None]:
    """Run the actions in threads released together; what each raised (None: nothing).
    The one helper of every test that races threads (storage contract, quotas, logins)."""
    outcomes: list[BaseException | None] = [None] * len(actions)
    barrier = threading.Barrier(len(actions))

    def run(i: int) -> None:
        barrier.wait()
        try:
            actions[i]()
        except BaseException as exc:  # collected for the caller's assertions
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


class StorageContract:
    """Subclass in a plugin's tests and provide a ``storage`` fixture yielding an empty store."""

    @pytest.fixture
    def storage(self) -> Storage:
        raise NotImplementedError("a storage plugin's tests override the storage fixture")

    def test_round_trip_keeps_every_field(self, storage: Storage) -> None:
        job = make_job(
            created=T0,
            phase=Phase.ERROR,
            run_id="run ü 1",
            owner_id="alice",
            start_time=T0 + timedelta(seconds=1),
            end_time=T0 + timedelta(seconds=2),
            execution_duration=60,
            destruction=T0 + timedelta(days=7),
            quote=T0 + timedelta(seconds=30),
            parameters={"message": "<&> 'ünïcode' \"q\"\nline", "n": "3"},
            results=[
                Result("output", "output.txt", "text/plain", 12, "ab" * 32, "the output", "output"),
                Result("x", "x.bin"),
            ],
            error=ErrorSummary("it broke", "transient", True),
            job_info={"pid": 42, "host": "h", "progress": 0.5},
            process_id="42",
        )
        storage.create(job)
        assert storage.get(job.job_id) == job

    def test_unknown_job_is_not_found(self, storage: Storage) -> None:
        with pytest.raises(NotFound):
            storage.get("nosuchjob")
        with pytest.raises(NotFound):
            storage.update("nosuchjob", None, run_id="x")
        assert storage.delete("nosuchjob") is False

    def test_list_filters_combine(self, storage: Storage) -> None:
        jobs = [
            make_job(created=T0 + timedelta(minutes=i), phase=phase)
            for i, phase in enumerate(
                [Phase.PENDING, Phase.COMPLETED, Phase.ERROR, Phase.ARCHIVED, Phase.COMPLETED]
            )
        ]
        jobs.append(make_job("sleep", created=T0 + timedelta(minutes=9)))
        for job in jobs:
            storage.create(job)

        def ids(**query: object) -> list[str]:
            return [r.job_id for r in storage.list(JobQuery(**query))]  # type: ignore[arg-type]

        echo = [j.job_id for j in jobs[:5]]
        assert ids(job_type="echo") == [echo[0], echo[1], echo[2], echo[4]]  # no ARCHIVED
        assert ids(job_type="echo", phases=frozenset({Phase.ARCHIVED})) == [echo[3]]
        assert ids(job_type="echo", phases=frozenset({Phase.COMPLETED, Phase.ERROR})) == [
            echo[1],
            echo[2],
            echo[4],
        ]
        assert ids(job_type="echo", last=2) == [echo[4], echo[2]]  # newest first
        assert ids(job_type="echo", after=T0 + timedelta(minutes=1)) == [echo[2], echo[4]]
        assert ids(job_type="echo", after=T0, phases=frozenset({Phase.COMPLETED}), last=1) == [
            echo[4]
        ]
        assert len(ids()) == 5
        ref = storage.list(JobQuery(job_type="sleep"))[0]
        assert (ref.phase, ref.creation_time) == (Phase.PENDING, jobs[5].creation_time)

    def test_list_extensions_pages_runid_count_batches(self, storage: Storage) -> None:
        # Pairs of jobs share a creation time: pages and batches break ties by id.
        jobs = [
            make_job(
                created=T0 + timedelta(minutes=i // 2),
                run_id=f"run-{i % 3}",
                phase=Phase.COMPLETED if i % 4 else Phase.QUEUED,
            )
            for i in range(10)
        ]
        for job in jobs:
            storage.create(job)
        order = sorted(jobs, key=lambda j: (j.creation_time, j.job_id))
        newest = [j.job_id for j in reversed(order)]

        def ids(**query: object) -> list[str]:
            return [r.job_id for r in storage.list(JobQuery(**query))]  # type: ignore[arg-type]

        page, pages = ids(last=3), []
        while page:
            pages.append(page)
            last = next(j for j in jobs if j.job_id == page[-1])
            page = ids(last=3, before=(last.creation_time, last.job_id))
        assert [i for p in pages for i in p] == newest
        assert ids(run_id="run-1") == [j.job_id for j in order if j.run_id == "run-1"]
        assert ids(run_id="run-", run_id_prefix=True) == [j.job_id for j in order]
        assert ids(run_id="RUN-", run_id_prefix=True) == []
        two = frozenset({Phase.QUEUED, Phase.COMPLETED})
        assert ids(phases=two, last=4) == newest[:4]
        assert storage.count(JobQuery(), 100) == 10
        assert storage.count(JobQuery(), 4) == 4
        assert storage.count(JobQuery(phases=frozenset({Phase.QUEUED})), 100) == 3
        batches = list(storage.batches(JobQuery(phases=two), 4))
        assert [r.job_id for b in batches for r in b] == [j.job_id for j in order]
        assert max(len(b) for b in batches) <= 4

    def test_update_is_compare_and_set(self, storage: Storage) -> None:
        job = make_job()
        storage.create(job)
        changed = storage.update(job.job_id, {Phase.PENDING}, phase=Phase.QUEUED)
        assert changed is not None
        before, after = changed
        assert (before.phase, after.phase) == (Phase.PENDING, Phase.QUEUED)
        assert storage.update(job.job_id, {Phase.PENDING}, phase=Phase.EXECUTING) is None
        assert storage.get(job.job_id).phase == Phase.QUEUED
        storage.update(job.job_id, None, error=ErrorSummary("x"), results=[Result("a", "a")])
        stored = storage.get(job.job_id)
        assert stored.error == ErrorSummary("x") and stored.results == [Result("a", "a")]
        storage.update(job.job_id, None, error=None)
        assert storage.get(job.job_id).error is None

    def test_racing_abort_and_completion_one_wins(self, storage: Storage) -> None:
        for _ in range(10):
            job = make_job(phase=Phase.EXECUTING)
            storage.create(job)
            wins: list[Phase] = []

            def finish(phase: Phase) -> None:
                if storage.update(job.job_id, {Phase.EXECUTING}, phase=phase):
                    wins.append(phase)

            race([lambda p=p: finish(p) for p in (Phase.ABORTED, Phase.COMPLETED)])  # type: ignore[misc]
            assert len(wins) == 1
            assert storage.get(job.job_id).phase == wins[0]

    def test_concurrent_writers_never_fail(self, storage: Storage) -> None:
        errors: list[BaseException] = []

        def writer() -> None:
            try:
                for _ in range(25):
                    job = make_job()
                    storage.create(job)
                    storage.update(job.job_id, {Phase.PENDING}, phase=Phase.QUEUED)
            except BaseException as exc:  # collected and reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(storage.list(JobQuery(phases=frozenset({Phase.QUEUED})))) == 200

    def test_delete(self, storage: Storage) -> None:
        job = make_job()
        storage.create(job)
        assert storage.delete(job.job_id) is True
        with pytest.raises(NotFound):
            storage.get(job.job_id)

    def test_in_phases_and_expired(self, storage: Storage) -> None:
        old = make_job(created=T0, phase=Phase.EXECUTING, destruction=T0)
        new = make_job(created=T0 + timedelta(1), phase=Phase.QUEUED, destruction=T0 + timedelta(9))
        archived = make_job(phase=Phase.ARCHIVED, destruction=T0)
        for job in (new, old, archived):
            storage.create(job)
        active = [j.job_id for j in storage.in_phases({Phase.QUEUED, Phase.EXECUTING})]
        assert active == [old.job_id, new.job_id]
        assert [j.job_id for j in storage.expired(T0 + timedelta(1))] == [old.job_id]

    def test_phase_change_wakes_subscribers(self, storage: Storage) -> None:
        job = make_job()
        storage.create(job)
        with storage.notifier.subscribe(job.job_id) as changed:
            storage.update(job.job_id, None, run_id="no phase change")
            assert not changed.is_set()
            threading.Timer(
                0.05, storage.update, (job.job_id, None), {"phase": Phase.QUEUED}
            ).start()
            assert changed.wait(5)

    def test_quotas_refuse_the_write_and_change_nothing(self, storage: Storage) -> None:
        running, active = Quota.running_jobs(2), Quota.active_jobs(3)
        queued = make_job(owner_id="alice", phase=Phase.QUEUED)
        storage.create(queued, quotas=(running, active))
        storage.create(make_job(owner_id="alice", phase=Phase.EXECUTING), quotas=(running,))
        pending = make_job(owner_id="alice")
        storage.create(pending, quotas=(active,))
        storage.create(make_job(owner_id="alice", phase=Phase.COMPLETED))  # finished: not counted
        storage.create(make_job(owner_id="bob", phase=Phase.QUEUED))  # someone else's
        storage.create(make_job(phase=Phase.QUEUED))  # anonymous

        refused = make_job(owner_id="alice")
        with pytest.raises(QuotaExceeded) as info:
            storage.create(refused, quotas=(running, active))
        assert info.value.message == (
            "quota reached: at most 2 running jobs per user "
            "(uws.quota.running_jobs); this user has 2"
        )
        with pytest.raises(
            QuotaExceeded,
            match=r"at most 3 active jobs per user "
            r"\(uws\.quota\.active_jobs\); this user has 3",
        ):
            storage.create(refused, quotas=(active,))
        with pytest.raises(NotFound):
            storage.get(refused.job_id)
        with pytest.raises(QuotaExceeded, match="at most 2 running jobs"):
            storage.update(
                pending.job_id,
                {Phase.PENDING},
                quotas=(running,),
                phase=Phase.QUEUED,
                run_id="refused",
            )
        assert storage.get(pending.job_id) == pending
        # The phase condition comes first; the job written is never counted against itself.
        assert (
            storage.update(pending.job_id, {Phase.HELD}, quotas=(running,), phase=Phase.QUEUED)
            is None
        )
        assert storage.update(queued.job_id, None, quotas=(running,), run_id="kept")
        # Other owners have their own room; anonymous jobs share one.
        storage.create(make_job(owner_id="bob", phase=Phase.QUEUED), quotas=(running,))
        storage.create(make_job(phase=Phase.QUEUED), quotas=(running,))
        with pytest.raises(QuotaExceeded, match="this user has 2"):
            storage.create(make_job(), quotas=(running,))
        # A finished job makes room.
        storage.update(queued.job_id, None, phase=Phase.COMPLETED)
        assert (
            storage.update(pending.job_id, {Phase.PENDING}, quotas=(running,), phase=Phase.QUEUED)
            is not None
        )

    def test_racing_writers_never_pass_a_quota(self, storage: Storage) -> None:
        def assert_three_won(outcomes: list[BaseException | None]) -> None:
            assert [o for o in outcomes if not isinstance(o, QuotaExceeded)] == [None] * 3

        for attempt in range(3):
            owner = f"creator{attempt}"
            quotas = (Quota.active_jobs(3),)
            created = [make_job(owner_id=owner) for _ in range(8)]
            assert_three_won(
                race([functools.partial(storage.create, job, quotas=quotas) for job in created])
            )
            assert len(storage.list(JobQuery(owner_id=owner))) == 3

            owner = f"starter{attempt}"
            quotas = (Quota.running_jobs(3),)
            pending = [make_job(owner_id=owner) for _ in range(8)]
            for job in pending:
                storage.create(job)
            assert_three_won(
                race(
                    [
                        functools.partial(
                            storage.update,
                            job.job_id,
                            {Phase.PENDING},
                            quotas=quotas,
                            phase=Phase.QUEUED,
                        )
                        for job in pending
                    ]
                )
            )
            queued = storage.list(JobQuery(owner_id=owner, phases=frozenset({Phase.QUEUED})))
            assert len(queued) == 3
