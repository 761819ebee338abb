"""uws-postgres passes the shared Storage contract on a real server, and works across processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from uws_postgres.storage import PostgresStorage
from uws_postgres.testing import (  # noqa: F401  (fixtures)
    admin_connection,
    postgres_admin_url,
    postgres_url,
)
from uws_pyramid.api import ConfigurationError, Job, Phase
from uws_pyramid.testing import AccountsContract, StorageContract, make_job, race

pytestmark = pytest.mark.postgres


def open_storage(url: str, here: Path, **options: str) -> PostgresStorage:
    return PostgresStorage.from_settings({"url": url, "auto_migrate": "true", **options}, str(here))


class TestPostgresStorage(StorageContract):
    @pytest.fixture
    def storage(self, postgres_url: str, tmp_path: Path) -> Iterator[PostgresStorage]:
        store = open_storage(postgres_url, tmp_path)
        yield store
        store.close()


class TestPostgresAccounts(AccountsContract):
    storage = TestPostgresStorage.storage


@pytest.fixture
def pair(postgres_url: str, tmp_path: Path) -> Iterator[tuple[PostgresStorage, PostgresStorage]]:
    """Two storages on one database: what two server processes have."""
    first = open_storage(postgres_url, tmp_path)
    second = open_storage(postgres_url, tmp_path)
    yield first, second
    first.close()
    second.close()


def terminate(admin_url: str, pid: int | None) -> None:
    assert pid is not None
    with admin_connection(make_url(admin_url)) as conn:
        # With a timeout it returns once the backend has exited (and its locks are released),
        # not merely signalled: the next assertion must not race the backend's exit.
        assert conn.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone() == (True,)


def test_columns_use_timestamptz_and_jsonb(postgres_url: str, tmp_path: Path) -> None:
    store = open_storage(postgres_url, tmp_path)
    with store.engine.connect() as conn:
        types = dict(
            conn.execute(
                text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = 'uws_jobs'"
                )
            ).all()
        )
    store.close()
    assert types["creation_time"] == "timestamp with time zone"
    assert types["parameters"] == types["results"] == "jsonb"


def test_change_in_one_process_wakes_waiters_in_another(pair: tuple[PostgresStorage, ...]) -> None:
    first, second = pair
    job = make_job()
    first.create(job)
    with second.notifier.subscribe(job.job_id) as changed:
        first.update(job.job_id, None, run_id="not a phase change")
        assert not changed.wait(0.3)
        started = time.monotonic()
        first.update(job.job_id, None, phase=Phase.QUEUED)
        assert changed.wait(5)
        assert time.monotonic() - started < 0.1
    assert second.get(job.job_id).phase == Phase.QUEUED
    with second.notifier.subscribe(job.job_id) as changed:
        first.delete(job.job_id)
        assert changed.wait(5)


def test_a_rolled_back_change_wakes_nobody(
    pair: tuple[PostgresStorage, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = pair
    job = make_job()
    first.create(job)
    hook = first.on_changed

    def fail_in_transaction(conn: Connection, before: Job, after: Job) -> None:
        hook(conn, before, after)
        raise RuntimeError("the transaction fails after the change was written")

    # The announcement comes after commit: a transaction rolled back announces nothing.
    monkeypatch.setattr(first, "on_changed", fail_in_transaction)
    with second.notifier.subscribe(job.job_id) as changed:
        with pytest.raises(RuntimeError):
            first.update(job.job_id, None, phase=Phase.QUEUED)
        assert not changed.wait(0.3)
    assert first.get(job.job_id).phase == Phase.PENDING


def test_changes_wake_waiters_in_another_process_after_the_announcer_was_cut(
    pair: tuple[PostgresStorage, ...], postgres_admin_url: str
) -> None:
    first, second = pair
    job = make_job()
    first.create(job)
    with second.notifier.subscribe(job.job_id) as changed:
        first.update(job.job_id, None, phase=Phase.QUEUED)
        assert changed.wait(5)
    # The announcer's connection dropped: the phase change goes on a new one.
    terminate(postgres_admin_url, first.announcer.backend_pid)
    with second.notifier.subscribe(job.job_id) as changed:
        started = time.monotonic()
        first.update(job.job_id, None, phase=Phase.EXECUTING)
        assert changed.wait(5)
        assert time.monotonic() - started < 1.0
    assert second.get(job.job_id).phase == Phase.EXECUTING
    terminate(postgres_admin_url, first.announcer.backend_pid)
    with second.notifier.subscribe(job.job_id) as changed:
        first.delete(job.job_id)
        assert changed.wait(5)


def test_listener_reconnects_and_wakes_everyone(
    pair: tuple[PostgresStorage, ...], postgres_admin_url: str
) -> None:
    first, second = pair
    job = make_job()
    first.create(job)
    with second.notifier.subscribe(job.job_id) as changed:
        terminate(postgres_admin_url, second.listener.backend_pid)
        # Changes made while it was down are lost: every waiter is woken to read again.
        assert changed.wait(10)
    assert second.listener.reconnects == 1
    with second.notifier.subscribe(job.job_id) as changed:
        first.update(job.job_id, None, phase=Phase.QUEUED)
        assert changed.wait(5)


def test_background_tasks_run_in_one_process(
    pair: tuple[PostgresStorage, ...], postgres_admin_url: str
) -> None:
    first, second = pair
    with first.exclusive("destruction") as mine:
        assert mine
    for _ in range(2):  # the holder keeps the task; the other process never gets it
        with second.exclusive("destruction") as mine:
            assert not mine
        with first.exclusive("destruction") as mine:
            assert mine
    with second.exclusive("reconcile") as mine:
        assert mine  # one lock per task
    first.locks.close()  # the process stops: the next to ask takes over
    # Its backend exits just after the close returns: the others ask on each pass, as here.
    deadline = time.monotonic() + 10
    while True:
        with second.exclusive("destruction") as mine:
            if mine or time.monotonic() > deadline:
                break
        time.sleep(0.05)
    assert mine
    terminate(postgres_admin_url, second.locks.backend_pid)  # its connection dies
    with second.exclusive("destruction") as mine:
        assert not mine  # it notices, and does not run the task on a lock it lost
    with first.exclusive("destruction") as mine:
        assert mine


def test_concurrent_exclusive_yields_one_holder(pair: tuple[PostgresStorage, ...]) -> None:
    holders: list[int] = []

    def ask(n: int) -> None:
        with pair[n].exclusive("sweep") as mine:
            if mine:
                holders.append(n)

    assert race([lambda: ask(0), lambda: ask(1)]) == [None, None]
    assert len(holders) == 1


def test_schema_is_not_migrated_unless_asked(postgres_url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="uws-admin migrate"):
        PostgresStorage.from_settings({"url": postgres_url}, str(tmp_path))


@pytest.mark.parametrize(
    "options, key",
    [
        ({}, "uws.storage.url"),
        ({"url": "mysql://u@h/db"}, "uws.storage.url"),
        ({"url": "postgresql+psycopg2://u@h/db"}, "uws.storage.url"),
        ({"url": "postgresql://u@h"}, "uws.storage.url"),
        ({"url": "postgresql://u@h/db", "pool_size": "0"}, "uws.storage.pool_size"),
        ({"url": "postgresql://u@h/db", "pool_timeout": "soon"}, "uws.storage.pool_timeout"),
        ({"url": "postgresql://u@h/db", "auto_migrate": "perhaps"}, "uws.storage.auto_migrate"),
        ({"url": "postgresql://u@h/db", "pasword_file": "x"}, "uws.storage.pasword_file"),
        (
            {"url": "postgresql://u@h/db", "password_env": "UWS_NO_SUCH_VARIABLE"},
            "uws.storage.password_env",
        ),
        ({"url": "postgresql://u@h/db", "password_file": "missing"}, "uws.storage.password_file"),
        ({"url": "postgresql://u:pw@h/db", "password_env": "HOME"}, "uws.storage.password_env"),
        ({"url": "postgresql://u@127.0.0.1:1/db", "connect_timeout": "2"}, "uws.storage.url"),
    ],
)
def test_bad_settings_name_the_key(options: dict[str, str], key: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=key.replace(".", r"\.")):
        PostgresStorage.from_settings(options, str(tmp_path))


def test_password_from_environment_or_file(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UWS_TEST_DB_PASSWORD", "from env")
    store = open_storage(postgres_url, tmp_path, password_env="UWS_TEST_DB_PASSWORD")
    assert store.engine.url.password == "from env"
    store.close()
    (tmp_path / "secret").write_text("from file\n")
    (tmp_path / "secret").chmod(0o600)
    store = open_storage(postgres_url, tmp_path, password_file="secret")
    assert store.engine.url.password == "from file"
    with store.engine.connect() as conn:  # trust auth here: the password is sent, not needed
        assert conn.execute(text("SELECT 1")).scalar() == 1
    store.close()
