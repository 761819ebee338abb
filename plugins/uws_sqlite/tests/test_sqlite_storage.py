"""uws-sqlite passes the shared Storage contract, on a real SQLite file in WAL mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from uws_pyramid.api import ConfigurationError
from uws_pyramid.testing import AccountsContract, StorageContract
from uws_sqlite.storage import SQLiteStorage


class TestSQLiteStorage(StorageContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> Iterator[SQLiteStorage]:
        store = SQLiteStorage.from_settings({"path": "uws.sqlite"}, str(tmp_path))
        yield store
        store.close()


class TestSQLiteAccounts(AccountsContract):
    storage = TestSQLiteStorage.storage


def test_wal_mode_and_schema_on_first_start(tmp_path: Path) -> None:
    store = SQLiteStorage.from_settings({"path": "sub/dir/uws.sqlite"}, str(tmp_path))
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        indexes = {r[1] for r in conn.execute(text("PRAGMA index_list(uws_jobs)"))}
    assert {"ix_uws_jobs_type_created", "ix_uws_jobs_phase_created"} <= indexes
    assert (tmp_path / "sub/dir/uws.sqlite").is_file()
    store.close()


def test_bad_busy_timeout_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="uws.storage.busy_timeout"):
        SQLiteStorage.from_settings({"busy_timeout": "soon"}, str(tmp_path))


def test_writers_of_two_storages_on_one_file_queue_and_time_out(tmp_path: Path) -> None:
    # Two storages on one file stand for two server processes (flock locks of two open
    # files exclude each other in one process too).
    import threading
    import time

    from uws_pyramid.api import JobQuery, ServiceUnavailable
    from uws_pyramid.testing import make_job

    first = SQLiteStorage.from_settings({"path": "uws.sqlite"}, str(tmp_path))
    second = SQLiteStorage.from_settings(
        {"path": "uws.sqlite", "busy_timeout": "0.3"}, str(tmp_path)
    )
    job = make_job()
    with first.writer():
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match="busy for 0.3 s"):
            second.create(job)
        assert 0.25 < time.monotonic() - started < 2
    second.create(job)  # the lock is free again
    assert first.get(job.job_id) == job

    def create_many() -> None:
        for _ in range(20):
            (first if threading.get_ident() % 2 else second).create(make_job())

    threads = [threading.Thread(target=create_many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(first.list(JobQuery())) == 161
    first.close()
    second.close()


def test_writes_after_close_of_the_write_lock_still_work(tmp_path: Path) -> None:
    # A manager thread may still record a phase while the server stops and closes storage.
    from uws_pyramid.testing import make_job

    store = SQLiteStorage.from_settings({"path": "uws.sqlite"}, str(tmp_path))
    store._write_lock.close()
    job = make_job()
    store.create(job)
    assert store.get(job.job_id) == job
    store.close()
