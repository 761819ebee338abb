"""The Storage contract: tests every storage plugin runs (through ``uws_pyramid.testing``)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from .errors import NotFound
from .jobs import ErrorSummary, Job, JobQuery, Phase, Result, new_job_id, utcnow
from .storage import Storage

T0 = datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=timezone.utc)


def make_job(job_type: str = "echo", created: datetime | None = None, **fields: object) -> Job:
    return Job(job_id=new_job_id(), job_type=job_type, creation_time=created or utcnow(), **fields)  # type: ignore[arg-type]


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
            results=[Result("output", "output.txt", "text/plain", 12), Result("x", "x.bin")],
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
            echo[1], echo[2], echo[4]]
        assert ids(job_type="echo", last=2) == [echo[4], echo[2]]  # newest first
        assert ids(job_type="echo", after=T0 + timedelta(minutes=1)) == [echo[2], echo[4]]
        assert ids(job_type="echo", after=T0, phases=frozenset({Phase.COMPLETED}), last=1) == [
            echo[4]]
        assert len(ids()) == 5
        ref = storage.list(JobQuery(job_type="sleep"))[0]
        assert (ref.phase, ref.creation_time) == (Phase.PENDING, jobs[5].creation_time)

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
            barrier = threading.Barrier(2)

            def finish(phase: Phase) -> None:
                barrier.wait()
                if storage.update(job.job_id, {Phase.EXECUTING}, phase=phase):
                    wins.append(phase)

            threads = [
                threading.Thread(target=finish, args=(p,))
                for p in (Phase.ABORTED, Phase.COMPLETED)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
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
            threading.Timer(0.05, storage.update, (job.job_id, None), {"phase": Phase.QUEUED}).start()
            assert changed.wait(5)
