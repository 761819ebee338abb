"""One-row reads on the bare connection (sql/fastread.py): converted rows kept by their raw
values stay right when another process changes the row, and the kept connections are few
and all closed with the storage (as is the connection kept for SQLite's group commits)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Float, Integer, MetaData, Table, bindparam, insert, select

from uws_pyramid.jobs import ErrorSummary, Phase, Result
from uws_pyramid.sql.fastread import ReadConnections, RowReader
from uws_pyramid.sql.rows import row_to_job
from uws_pyramid.sql.storage import GET_JOB
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


def test_packed_rows_read_as_the_columns_do(tmp_path: Path) -> None:
    # SQLite reads a row as one JSON array (fewer calls into the driver): every value must
    # come back as reading the columns one by one gives it.
    storage = open_storage(tmp_path)
    odd = 'quote " backslash \\ newline \n tab \t nul \x00 bell \x07 é 漢 😀 \u2028'
    jobs = [
        make_job(),
        make_job(
            run_id=odd,
            owner_id="ünïcode",
            phase=Phase.ERROR,
            execution_duration=2**62,
            error=ErrorSummary(odd, "transient", has_detail=True),
            parameters={"message": odd, "n": "-0"},
            results=[Result("r", "file:///tmp/x")],
            job_info={"nested": [1, -2, 2**53 + 1, None, True, "ok"]},
        ),
    ]
    try:
        for job in jobs:
            storage.create(job)
        plain = ReadConnections(storage.engine)
        packed = ReadConnections(storage.engine, packed=True)
        try:
            for job in jobs:
                key = {"job_id": job.job_id}
                reader = RowReader(packed, GET_JOB)
                assert reader.packed  # every column of a job can be packed
                assert reader.one(key) == RowReader(plain, GET_JOB).one(key)
                assert row_to_job(reader.one(key) or {}) == job
            assert RowReader(packed, GET_JOB).one({"job_id": "none"}) is None
        finally:
            plain.close()
            packed.close()
        assert storage._read_connections.packed  # SQLite's storage reads packed rows
    finally:
        storage.close()


def test_rows_with_values_json_would_change_are_not_packed(tmp_path: Path) -> None:
    # A REAL would come back rounded to 15 digits and a BLOB is refused: read as columns.
    storage = open_storage(tmp_path)
    table = Table("t", MetaData(), Column("k", Integer, primary_key=True), Column("x", Float))
    try:
        table.create(storage.engine)
        with storage.engine.begin() as conn:
            conn.execute(insert(table), [{"k": 1, "x": 0.1 + 0.2}])
        packed = ReadConnections(storage.engine, packed=True)
        reader = RowReader(packed, select(table).where(table.c.k == bindparam("k")))
        assert not reader.packed
        assert reader.one({"k": 1}) == {"k": 1, "x": 0.1 + 0.2}
        packed.close()
    finally:
        storage.close()
