"""Schema migrations: empty database to head, older revisions with jobs to head, uws-admin."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.types import TypeEngine

from uws_postgres.storage import PostgresStorage
from uws_postgres.testing import postgres_admin_url, postgres_url  # noqa: F401  (fixtures)
from uws_pyramid.accounts import Account
from uws_pyramid.accounts_contract import make_token
from uws_pyramid.errors import ConfigurationError
from uws_pyramid.jobs import Phase, utcnow
from uws_pyramid.scripts import admin
from uws_pyramid.sql import migrations
from uws_pyramid.sql.storage import SQLStorage
from uws_pyramid.sql.tables import jobs, metadata
from uws_pyramid.testing import make_job
from uws_sqlite.storage import SQLiteStorage, sqlite_engine

BOTH = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BOTH)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLStorage]:
    """A storage on an empty database, its schema left to the test."""
    storage: SQLStorage
    if request.param == "sqlite":
        storage = SQLiteStorage(sqlite_engine(str(tmp_path / "uws.sqlite"), 30))
    else:
        storage = PostgresStorage(create_engine(request.getfixturevalue("postgres_url")))
    yield storage
    storage.close()


def upgrade(storage: SQLStorage, revision: str = "head") -> tuple[str | None, str | None]:
    with storage._write() as conn:
        return migrations.upgrade(conn, revision)


def revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return migrations.current(conn)


def differ(
    context: MigrationContext,
    inspected: Any,
    column: Any,
    found: TypeEngine[Any],
    wanted: TypeEngine[Any],
) -> bool:
    """Types differ when their DDL does (tables.py's TypeDecorator resolved for the dialect)."""
    dialect = context.dialect
    return found.compile(dialect=dialect) != dialect.type_compiler_instance.process(wanted)


def test_head_names_the_newest_migration_script() -> None:
    # Start-up compares the database with HEAD without importing Alembic: keep it true.
    assert migrations.head() == migrations.scripts_head()


def test_empty_database_to_head_matches_the_tables(store: SQLStorage) -> None:
    assert upgrade(store) == (None, migrations.head())
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": migrations.VERSION_TABLE, "compare_type": differ}
        )
        assert compare_metadata(context, metadata) == []
    assert upgrade(store) == (migrations.head(), migrations.head())  # idempotent


def test_first_revision_with_jobs_to_head_keeps_them(store: SQLStorage) -> None:
    assert upgrade(store, migrations.BASELINE) == (None, "0001")
    jobs = [
        make_job(
            phase=phase,
            destruction=utcnow() - timedelta(minutes=1),
            parameters={"message": "ü"},
            job_info={"n": 1},
        )
        for phase in (Phase.PENDING, Phase.EXECUTING, Phase.ARCHIVED)
    ]
    for job in jobs:
        store.create(job)
    assert upgrade(store) == ("0001", migrations.head())
    assert [store.get(job.job_id) for job in jobs] == jobs
    assert {j.job_id for j in store.expired(utcnow())} == {jobs[0].job_id, jobs[1].job_id}


def test_downgrade_to_base_and_up_again(store: SQLStorage) -> None:
    upgrade(store)
    with store._write() as conn:
        assert migrations.downgrade(conn, "base") == (migrations.head(), None)
    assert not inspect(store.engine).has_table("uws_jobs")
    assert upgrade(store) == (None, migrations.head())


def test_second_revision_with_jobs_to_head_adds_the_account_tables(store: SQLStorage) -> None:
    assert upgrade(store, "0002") == (None, "0002")
    job = make_job(parameters={"message": "ü"})
    store.create(job)
    assert not inspect(store.engine).has_table("uws_users")
    assert upgrade(store) == ("0002", migrations.head())
    assert store.get(job.job_id) == job
    tables = set(inspect(store.engine).get_table_names())
    assert {"uws_jobs", "uws_users", "uws_tokens"} <= tables
    accounts = store.accounts()
    accounts.add(Account("alice", roles=frozenset({"astro"}), created=utcnow()))
    token = make_token("alice", note="after the upgrade")
    accounts.add_token(token)
    assert accounts.tokens("alice") == [token]


def test_schema_made_before_migrations_is_adopted(store: SQLStorage) -> None:
    # What start-up did before Alembic: create_all of the one table there was then.
    metadata.create_all(store.engine, tables=[jobs])
    job = make_job()
    store.create(job)
    assert upgrade(store) == (migrations.BASELINE, migrations.head())
    assert store.get(job.job_id) == job


def test_sweep_uses_the_partial_destruction_index(store: SQLStorage) -> None:
    upgrade(store)
    sql = (
        "SELECT job_id FROM uws_jobs WHERE destruction <= :now AND phase != 'ARCHIVED' "
        "ORDER BY destruction"
    )
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = conn.execute(text("EXPLAIN QUERY PLAN " + sql), {"now": "2030-01-01"}).all()
        else:
            conn.execute(text("SET enable_seqscan = off"))  # a tiny table: force the choice
            plan = conn.execute(text("EXPLAIN " + sql), {"now": utcnow()}).all()
    assert "ix_uws_jobs_destruction" in str(plan)


def test_sqlite_refuses_an_old_schema_without_auto_migrate(tmp_path: Path) -> None:
    storage = SQLiteStorage(sqlite_engine(str(tmp_path / "uws.sqlite"), 30))
    upgrade(storage, migrations.BASELINE)
    storage.close()
    with pytest.raises(ConfigurationError, match="at revision 0001.*uws-admin migrate"):
        SQLiteStorage.from_settings({"path": "uws.sqlite", "auto_migrate": "false"}, str(tmp_path))
    SQLiteStorage.from_settings({"path": "uws.sqlite"}, str(tmp_path)).close()  # default: on
    with pytest.raises(ConfigurationError, match="uws.storage.auto_migrate"):
        SQLiteStorage.from_settings({"path": "uws.sqlite", "auto_migrate": "maybe"}, str(tmp_path))


INI = """[app:main]
use = egg:uws-pyramid
{storage}
uws.manager = local
"""


@pytest.mark.parametrize("kind", BOTH)
def test_uws_admin_migrate_and_status(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    if kind == "sqlite":
        storage = "uws.storage = sqlite\nuws.storage.path = var/uws.sqlite"
    else:
        url = request.getfixturevalue("postgres_url")
        storage = f"uws.storage = postgres\nuws.storage.url = {url}"
    ini = tmp_path / "deploy.ini"
    ini.write_text(INI.format(storage=storage))
    assert admin.main(["status", str(ini)]) == 3
    assert admin.main(["migrate", str(ini)]) == 0
    assert f"to {migrations.head()}" in capsys.readouterr().out
    assert admin.main(["migrate", str(ini)]) == 0
    assert "already at" in capsys.readouterr().out
    assert admin.main(["status", str(ini)]) == 0


def test_uws_admin_reports_bad_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ini = tmp_path / "bad.ini"
    ini.write_text(INI.format(storage="uws.storage = postgres\nuws.storage.url = mysql://x/y"))
    assert admin.main(["migrate", str(ini)]) == 2
    assert "uws.storage.url" in capsys.readouterr().err
    assert admin.main(["migrate", str(tmp_path / "missing.ini")]) == 2


def test_third_revision_with_accounts_to_head_gives_them_session_epoch_0(store: SQLStorage) -> None:
    assert upgrade(store, "0003") == (None, "0003")
    with store._write() as conn:
        conn.execute(
            text(
                "INSERT INTO uws_users (name, password_hash, roles, disabled, created) "
                "VALUES ('alice', 'h', '[\"astro\"]', false, '2026-01-02 03:04:05.000000')"
            )
            if store.engine.dialect.name == "sqlite"
            else text(
                "INSERT INTO uws_users (name, password_hash, roles, disabled, created) "
                "VALUES ('alice', 'h', '[\"astro\"]'::jsonb, false, '2026-01-02 03:04:05+00')"
            )
        )
    assert upgrade(store) == ("0003", migrations.head())
    accounts = store.accounts()
    account = accounts.get("alice")
    assert account is not None and account.session_epoch == 0 and account.roles == {"astro"}
    accounts.end_sessions("alice")
    assert accounts.get("alice").session_epoch == 1  # type: ignore[union-attr]


@pytest.mark.postgres
def test_the_new_job_trigger_of_0006_is_dropped_by_0007(postgres_url: str) -> None:
    storage = PostgresStorage(create_engine(postgres_url))

    def triggers() -> list[str]:
        with storage.engine.connect() as conn:
            rows = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
            return [r[0] for r in rows]

    try:
        assert upgrade(storage, "0006") == (None, "0006")
        assert triggers() == ["uws_jobs_notify_new"]
        assert upgrade(storage) == ("0006", "0007")
        assert triggers() == []  # uws_postgres announces new jobs after commit instead
        with storage._write() as conn:
            assert migrations.downgrade(conn, "0006") == ("0007", "0006")
        assert triggers() == ["uws_jobs_notify_new"]
    finally:
        storage.close()
