"""What a get and a create send (libpq's trace of every connection of the engine), and how
they recover from connections the server dropped; new jobs are announced after commit."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest
from psycopg import pq
from sqlalchemy import event
from sqlalchemy.engine import make_url

from uws_postgres.announce import Announcer
from uws_postgres.storage import NEW_JOB, PostgresStorage
from uws_postgres.testing import (  # noqa: F401  (fixtures)
    admin_connection,
    libpq_params,
    postgres_admin_url,
    postgres_url,
)
from uws_pyramid.api import Phase, Quota, QuotaExceeded
from uws_pyramid.testing import make_job, race

pytestmark = pytest.mark.postgres


@pytest.fixture
def storage(postgres_url: str, tmp_path: Path) -> Iterator[PostgresStorage]:
    store = PostgresStorage.from_settings({"url": postgres_url, "auto_migrate": "true"}, "")
    yield store
    store.close()


@pytest.fixture
def other(postgres_url: str) -> Iterator[PostgresStorage]:
    """A second storage on the database: what another server process has."""
    store = PostgresStorage.from_settings({"url": postgres_url}, "")
    yield store
    store.close()


class Traffic:
    """The messages every new connection of the engine sends (not the dedicated ones)."""

    def __init__(self, storage: PostgresStorage) -> None:
        self.out: IO[str] = tempfile.TemporaryFile("w+")
        storage.engine.dispose()  # the connections opened so far are not traced
        event.listen(storage.engine, "connect", self._trace)

    def _trace(self, dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.pgconn.trace(self.out.fileno())
        dbapi_connection.pgconn.set_trace_flags(
            pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE
        )

    def since(self, position: int) -> list[str]:
        """The messages sent (not received) after ``position``, by name."""
        time.sleep(0.05)  # libpq writes its trace unbuffered; the kernel has it already
        self.out.seek(position)
        lines = self.out.read().splitlines()
        # A statement's own lines continue a Parse message: they do not start with "F\t".
        return [line.split("\t")[2] for line in lines if line.startswith("F\t")]

    def position(self) -> int:
        return self.out.seek(0, 2)


def test_a_get_and_a_create_are_one_round_trip_each(storage: PostgresStorage) -> None:
    traffic = Traffic(storage)
    for _ in range(8):  # psycopg prepares a statement at its 5th run
        job = make_job()
        storage.create(job)
        storage.get(job.job_id)
    job = make_job()
    start = traffic.position()
    storage.create(job)
    # One extended-protocol exchange: no BEGIN, COMMIT, ping or reset around the INSERT.
    assert traffic.since(start) == ["Bind", "Describe", "Execute", "Sync"]
    start = traffic.position()
    assert storage.get(job.job_id).job_id == job.job_id
    assert traffic.since(start) == ["Bind", "Describe", "Execute", "Sync"]


def test_a_create_with_a_quota_checks_it_in_a_transaction(storage: PostgresStorage) -> None:
    traffic = Traffic(storage)
    quota = Quota.active_jobs(1)
    storage.create(make_job(owner_id="ann"), quotas=[quota])
    start = traffic.position()
    with pytest.raises(QuotaExceeded):
        storage.create(make_job(owner_id="ann"), quotas=[quota])
    sent = traffic.since(start)
    assert sent[0] == "Query" and "Query" in sent[1:]  # BEGIN, the lock and count, ROLLBACK


def terminate_all(admin_url: str, storage: PostgresStorage) -> int:
    """End every server process of the storage's database but ours, as a restart would."""
    database = make_url(storage.engine.url).database
    with admin_connection(make_url(admin_url)) as conn:
        pids = [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
        ]
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
    return len(pids)


def test_kept_connections_dropped_by_the_server_cost_no_error(
    storage: PostgresStorage, postgres_admin_url: str
) -> None:
    job = make_job(parameters={"message": "before"})
    storage.create(job)
    storage.get(job.job_id)
    assert storage._read_connections._idle  # a kept connection, never pinged
    assert terminate_all(postgres_admin_url, storage) >= 2
    # Each goes once more through the pool, which pings (and replaces) its connections.
    assert storage.get(job.job_id).parameters == {"message": "before"}
    assert terminate_all(postgres_admin_url, storage) >= 1
    again = make_job()
    storage.create(again)
    assert storage.get(again.job_id).job_id == again.job_id


def test_an_insert_committed_before_its_connection_dropped_is_not_done_twice(
    storage: PostgresStorage, postgres_admin_url: str
) -> None:
    job = make_job()
    storage.create(job)  # stands for an INSERT committed whose reply the connection lost
    assert storage._read_connections._idle
    terminate_all(postgres_admin_url, storage)
    storage.create(job)  # the retry finds the job's id taken: its own row, no error
    assert storage.get(job.job_id).job_id == job.job_id


def test_a_duplicate_id_on_a_live_connection_is_an_error(storage: PostgresStorage) -> None:
    job = make_job()
    storage.create(job)
    with pytest.raises(psycopg.IntegrityError):
        storage.create(job)


def test_a_job_changed_by_another_process_is_read_afresh(
    storage: PostgresStorage, other: PostgresStorage
) -> None:
    job = make_job(parameters={"message": "one"}, job_info={"k": "v"})
    other.create(job)
    first = storage.get(job.job_id)
    assert (first.parameters, first.job_info) == ({"message": "one"}, {"k": "v"})
    first.parameters["message"] = "changed by a caller"  # converted rows are shared: copies
    assert storage.get(job.job_id).parameters == {"message": "one"}
    other.update(job.job_id, phase=Phase.QUEUED, parameters={"message": "two"})
    again = storage.get(job.job_id)
    assert (again.phase, again.parameters) == (Phase.QUEUED, {"message": "two"})


def test_a_create_wakes_job_lists_of_another_process(
    storage: PostgresStorage, other: PostgresStorage, postgres_admin_url: str
) -> None:
    with other.notifier.subscribe(NEW_JOB) as created:
        storage.create(make_job())
        assert created.wait(5)
    # Its connection dropped: the next announcement goes on a new one.
    with admin_connection(make_url(postgres_admin_url)) as conn:
        conn.execute("SELECT pg_terminate_backend(%s, 10000)", (storage.announcer.backend_pid,))
    with other.notifier.subscribe(NEW_JOB) as created:
        storage.create(make_job(), quotas=[Quota.active_jobs(10)])
        assert created.wait(5)


def test_announcements_made_meanwhile_share_one_notification(postgres_url: str) -> None:
    received: list[str] = []
    with psycopg.connect(**libpq_params(make_url(postgres_url)), autocommit=True) as listen:
        listen.execute("LISTEN uws_job_changed")
        connect = partial(psycopg.connect, **libpq_params(make_url(postgres_url)))
        announcer = Announcer(connect, "uws_job_changed")
        announcer.announce(NEW_JOB)  # before start: sent once started
        announcer.start()
        for _ in range(100):
            announcer.announce(NEW_JOB)
        announcer.stop()  # sends what is pending first
        received += [n.payload for n in listen.notifies(timeout=1, stop_after=100)]
    assert announcer.sent == len(received) and 1 <= announcer.sent <= 2
    assert set(received) == {NEW_JOB}
    announcer.announce(NEW_JOB)  # after stop: dropped, no error


def test_each_payload_announced_meanwhile_is_sent_once(postgres_url: str) -> None:
    with psycopg.connect(**libpq_params(make_url(postgres_url)), autocommit=True) as listen:
        listen.execute("LISTEN uws_job_changed")
        connect = partial(psycopg.connect, **libpq_params(make_url(postgres_url)))
        announcer = Announcer(connect, "uws_job_changed")
        for payload in ("job-a", NEW_JOB, "job-b", "job-a", NEW_JOB, "job-a"):
            announcer.announce(payload)  # before start: one transaction sends them all
        announcer.start()
        announcer.stop()
        received = [n.payload for n in listen.notifies(timeout=1, stop_after=10)]
    assert sorted(received) == sorted(["job-a", "job-b", NEW_JOB]) and announcer.sent == 3


def test_what_could_not_be_announced_is_sent_once_the_database_is_reached(
    postgres_url: str,
) -> None:
    reachable = threading.Event()
    params = libpq_params(make_url(postgres_url))

    def connect() -> psycopg.Connection:
        if reachable.is_set():
            return psycopg.connect(**params)
        return psycopg.connect(**{**params, "port": 1})  # nothing listens there: refused

    with psycopg.connect(**params, autocommit=True) as listen:
        listen.execute("LISTEN uws_job_changed")
        announcer = Announcer(connect, "uws_job_changed")
        announcer.start()
        try:
            announcer.announce("job-a")
            assert not list(listen.notifies(timeout=0.8))  # tried (and failed) a few times
            announcer.announce("job-b")
            reachable.set()
            received = [n.payload for n in listen.notifies(timeout=5, stop_after=2)]
        finally:
            announcer.stop()
    assert sorted(received) == ["job-a", "job-b"]


def test_no_write_transaction_notifies(storage: PostgresStorage) -> None:
    """A NOTIFY at commit would serialize the commits of every writer (announce.py)."""
    traffic = Traffic(storage)
    job = make_job()
    storage.create(job, quotas=[Quota.active_jobs(10)])
    storage.update(job.job_id, None, phase=Phase.QUEUED)
    storage.update(job.job_id, [Phase.QUEUED], phase=Phase.EXECUTING, run_id="r")
    assert storage.delete(job.job_id)
    traffic.out.seek(0)
    sent = traffic.out.read()
    assert "UPDATE uws_jobs" in sent and "DELETE FROM uws_jobs" in sent
    assert "notify" not in sent.lower()


@pytest.mark.parametrize(
    ("pool_size", "max_overflow", "kept"), [("8", "8", 8), ("2", "0", 1), ("4", "1", 2)]
)
def test_kept_connections_leave_the_pool_room_for_transactions(
    postgres_url: str, pool_size: str, max_overflow: str, kept: int
) -> None:
    options = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": "2"}
    store = PostgresStorage.from_settings(
        {"url": postgres_url, "auto_migrate": "true", **options}, ""
    )
    try:
        job = make_job()
        store.create(job)
        assert race([lambda: store.get(job.job_id) for _ in range(16)]) == [None] * 16
        idle = store._read_connections._idle
        assert store._read_connections.keep == kept and 1 <= len(idle) <= kept
        # Kept connections sit idle between reads: an update still gets one of the pool.
        assert store.update(job.job_id, phase=Phase.QUEUED) is not None
    finally:
        store.close()
