"""One-row reads on the bare connection (sql/fastread.py): converted rows kept by their raw
values stay right when another process changes the row, and the kept connections are few
and all closed with the storage (as is the connection kept for SQLite's group commits)."""

from __future__ import annotations

from pathlib import Path

from uws_pyramid.jobs import Phase
from uws_pyramid.storage_contract import make_job, race
from uws_sqlite.storage import SQLiteStorage


def open_storage(tmp_path: Path) -> SQLiteStorage:
    return SQLiteStorage.from_settings({"path": "uws.sqlite"}, str(tmp_path))


def test_a_change_made_by_another_process_is_read(tmp_path: Path) -> None:
    # Two storages on one file stand for two server processes.
    reader, writer = open_storage(tmp_path), open_storage(tmp_path)
    try:
        job = make_job(parameters={"message": "one"})
        writer.create(job)
        assert reader.get(job.job_id).parameters == {"message": "one"}
        assert reader.get(job.job_id).phase == Phase.PENDING  # read again: from memory
        writer.update(job.job_id, phase=Phase.QUEUED, parameters={"message": "two"})
        again = reader.get(job.job_id)
        assert (again.phase, again.parameters) == (Phase.QUEUED, {"message": "two"})
    finally:
        reader.close()
        writer.close()


def test_jobs_read_from_one_row_are_independent(tmp_path: Path) -> None:
    storage = open_storage(tmp_path)
    try:
        job = make_job(parameters={"message": "one"}, job_info={"k": "v"})
        storage.create(job)
        first = storage.get(job.job_id)
        first.parameters["message"] = "changed by a caller"
        first.job_info.clear()
        second = storage.get(job.job_id)
        assert (second.parameters, second.job_info) == ({"message": "one"}, {"k": "v"})
    finally:
        storage.close()


def test_read_connections_are_bounded_and_closed(tmp_path: Path) -> None:
    storage = open_storage(tmp_path)
    job = make_job()
    storage.create(job)
    connections = storage._read_connections
    outcomes = race([lambda: storage.get(job.job_id) for _ in range(16)])
    assert outcomes == [None] * 16
    kept = len(connections._idle)
    assert 1 <= kept <= connections.keep
    pool = storage.engine.pool
    assert storage._writer is not None  # and the one SQLite keeps for its group commits
    assert pool.checkedout() == kept + 1  # type: ignore[attr-defined]
    storage.close()
    assert connections._idle == []
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
