"""Group commit of the SQLite storage: several callers' writes in one transaction, each
caller answered only after the commit that holds its changes, failures kept apart."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from uws_pyramid.api import Job, NotFound, Phase, ServiceUnavailable, new_job_id, utcnow
from uws_sqlite.storage import SQLiteStorage


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[SQLiteStorage]:
    store = SQLiteStorage.from_settings({"path": "uws.sqlite", "busy_timeout": "2"}, str(tmp_path))
    yield store
    store.close()


def a_job() -> Job:
    return Job(job_id=new_job_id(), job_type="echo", creation_time=utcnow())


def in_threads(calls: list[Callable[[], Any]]) -> tuple[list[Any], list[threading.Thread]]:
    """Start each call in a thread; its outcome (result or exception) lands in the list."""
    outcomes: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            outcomes[i] = calls[i]()
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    return outcomes, threads


def on_commit(
    storage: SQLiteStorage, monkeypatch: pytest.MonkeyPatch, before: Callable[[], None]
) -> None:
    """Call ``before`` ahead of each group commit's COMMIT (it may raise, as a full disk)."""
    commit = storage._commit

    def hooked(conn: Connection) -> None:
        before()
        commit(conn)

    monkeypatch.setattr(storage, "_commit", hooked)


def commits(storage: SQLiteStorage, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    counted = [0]
    on_commit(storage, monkeypatch, lambda: counted.__setitem__(0, counted[0] + 1))
    return counted


def held_while(storage: SQLiteStorage, seconds: float) -> threading.Thread:
    """Hold the database's write lock from another thread for ``seconds``; writers queue."""
    taken = threading.Event()

    def hold() -> None:
        with storage._write_lock.held():
            taken.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait()
    return thread


def test_writes_that_queue_up_are_committed_together(
    storage: SQLiteStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = commits(storage, monkeypatch)
    jobs = [a_job() for _ in range(20)]
    holder = held_while(storage, 0.5)
    outcomes, threads = in_threads([lambda j=j: storage.create(j) for j in jobs])
    for thread in threads:
        thread.join()
    holder.join()
    assert outcomes == [None] * 20
    assert all(storage.get(j.job_id).job_id == j.job_id for j in jobs)
    # 20 creations in at most 3 transactions (the first may go alone before the others queue).
    assert 1 <= counted[0] <= 3


def test_a_failing_write_fails_alone_and_the_others_are_committed(
    storage: SQLiteStorage,
) -> None:
    kept = a_job()
    storage.create(kept)
    jobs = [a_job() for _ in range(5)]
    holder = held_while(storage, 0.3)
    calls: list[Callable[[], Any]] = [lambda j=j: storage.create(j) for j in jobs]
    calls.append(lambda: storage.update("no-such-job", None, run_id="x"))
    calls.append(lambda: storage.create(kept))  # a duplicate key: an error of its own
    calls.append(lambda: storage.update(kept.job_id, None, run_id="changed"))
    outcomes, threads = in_threads(calls)
    for thread in threads:
        thread.join()
    holder.join()
    assert outcomes[:5] == [None] * 5
    assert isinstance(outcomes[5], NotFound)
    assert isinstance(outcomes[6], Exception) and not isinstance(outcomes[6], ServiceUnavailable)
    assert outcomes[7] is not None and outcomes[7][1].run_id == "changed"
    assert all(storage.get(j.job_id) for j in jobs)
    assert storage.get(kept.job_id).run_id == "changed"


def test_a_failed_commit_fails_every_caller_of_the_batch_and_writes_none(
    storage: SQLiteStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = threading.Event()

    def fail() -> None:
        if failing.is_set():
            raise sqlite3.OperationalError("disk I/O error")

    on_commit(storage, monkeypatch, fail)

    jobs = [a_job() for _ in range(6)]
    holder = held_while(storage, 0.3)
    failing.set()
    outcomes, threads = in_threads([lambda j=j: storage.create(j) for j in jobs])
    time.sleep(0.1)
    holder.join()
    for thread in threads:
        thread.join()
    failing.clear()
    assert all(isinstance(o, ServiceUnavailable) for o in outcomes), outcomes
    for job in jobs:
        with pytest.raises(NotFound):
            storage.get(job.job_id)
    # Nothing lost: the writer goes on, the same jobs can be stored now.
    for job in jobs:
        storage.create(job)
    assert all(storage.get(j.job_id) for j in jobs)


def test_no_caller_returns_before_its_commit(storage: SQLiteStorage) -> None:
    job = a_job()
    holder = held_while(storage, 0.5)
    outcomes, threads = in_threads([lambda: storage.create(job)])
    time.sleep(0.3)
    assert threads[0].is_alive()  # no answer (no 303) while nothing is committed
    with pytest.raises(NotFound):
        storage.get(job.job_id)
    holder.join()
    threads[0].join()
    assert outcomes == [None]
    assert storage.get(job.job_id).phase == Phase.PENDING


def test_a_write_that_waited_past_the_busy_timeout_fails_and_is_never_run(
    tmp_path: Path,
) -> None:
    store = SQLiteStorage.from_settings(
        {"path": "uws.sqlite", "busy_timeout": "0.2"}, str(tmp_path)
    )
    try:
        job = a_job()
        holder = held_while(store, 0.6)
        outcomes, threads = in_threads([lambda: store.create(job)])
        threads[0].join()
        holder.join()
        assert isinstance(outcomes[0], ServiceUnavailable)
        assert "busy" in str(outcomes[0])
        time.sleep(0.1)
        with pytest.raises(NotFound):
            store.get(job.job_id)
    finally:
        store.close()


def test_writes_after_close_still_work(tmp_path: Path) -> None:
    store = SQLiteStorage.from_settings({"path": "uws.sqlite"}, str(tmp_path))
    store.create(a_job())
    store.close()
    job = a_job()
    store.create(job)  # a manager thread that records an end as the server stops
    assert store.get(job.job_id).job_id == job.job_id
    store.close()


def test_a_lone_write_whose_commit_fails_is_undone_and_the_next_one_works(
    storage: SQLiteStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A lone write commits on the driver, not through SQLAlchemy: its failure too is a 503,
    # nothing of it stays, and the writer's connection is replaced.
    def fail() -> None:
        raise sqlite3.OperationalError("disk I/O error")

    on_commit(storage, monkeypatch, fail)
    job = a_job()
    with pytest.raises(ServiceUnavailable):
        storage.create(job)
    monkeypatch.undo()
    with pytest.raises(NotFound):
        storage.get(job.job_id)
    storage.create(job)
    assert storage.get(job.job_id).job_id == job.job_id
