"""Every job list the client asks for reads its page from an index, on both databases.

For each combination of the filters (job type, owner or anonymous or an admin's all, phases,
AFTER, BEFORE) with LAST, on SQLite the plan must read uws_jobs through the index made for
that combination (migration 0005) with every equality filter in the index condition, and
sort nothing but the few rows of the per-phase sub-selects; on PostgreSQL (whose planner
chooses by cost) it must scan no table and sort no more than a page's worth of rows."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text

from uws_postgres.storage import PostgresStorage
from uws_postgres.testing import postgres_admin_url, temporary_database  # noqa: F401  (fixtures)
from uws_pyramid.jobs import Job, JobQuery, Phase, utcnow
from uws_pyramid.sql import listing
from uws_pyramid.sql.rows import job_to_row
from uws_pyramid.sql.storage import SQLStorage
from uws_pyramid.sql.tables import jobs
from uws_sqlite.storage import SQLiteStorage

T0 = utcnow() - timedelta(days=30)
N_JOBS = 30000
FINISHED = (Phase.COMPLETED, Phase.ARCHIVED)


def rows() -> list[dict[str, Any]]:
    """Most jobs are one robot's finished fits jobs: what the tests ask for (alice's, the
    anonymous ones, echo jobs, unfinished ones) is rare, so that only the index made for
    the combination is cheap and a planner weighing costs (PostgreSQL's) must choose it."""

    def job(i: int) -> Job:
        rare = i % 50 == 0
        job = Job(
            job_id=f"j{i:08d}",
            job_type=["echo", "sleep"][i // 50 % 2] if rare else "fits",
            phase=[Phase.EXECUTING, Phase.QUEUED, Phase.PENDING, Phase.ARCHIVED, Phase.COMPLETED][
                i // 20 % 5
            ]
            if i % 20 == 0
            else Phase.COMPLETED,
            owner_id=["alice", None, "bob"][i // 100 % 3] if rare else "robot",
            run_id=f"run-{i % 50}",
            creation_time=T0 + timedelta(seconds=i // 2),  # pairs share a time: ties by id
        )
        # Started in another order than created (pairs share a time); ended if finished.
        start = T0 + timedelta(seconds=(N_JOBS - i) // 2)
        return job.changed(
            start_time=None if job.phase in (Phase.PENDING, Phase.QUEUED) else start,
            end_time=start + timedelta(seconds=60) if job.phase in FINISHED else None,
        )

    return [job_to_row(job(i)) for i in range(N_JOBS)]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SQLStorage]:
    here = str(tmp_path_factory.mktemp("plans"))
    if request.param == "sqlite":
        storage: SQLStorage = SQLiteStorage.from_settings({"path": "uws.sqlite"}, here)
        with storage._write() as conn:
            conn.execute(insert(jobs), rows())
        yield storage
        storage.close()
        return
    with temporary_database(request.getfixturevalue("postgres_admin_url")) as url:
        storage = PostgresStorage.from_settings({"url": url, "auto_migrate": "true"}, here)
        with storage._write() as conn:
            conn.execute(insert(jobs), rows())
        with storage.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE uws_jobs"))  # what autovacuum does on a live server
        yield storage
        storage.close()


def plan(storage: SQLStorage, query: JobQuery) -> list[tuple[int, int, str]]:
    """(id, parent id, text) of each node of the plan the database chooses for ``query``."""
    stmt = listing.list_statement(listing.shape(query))
    compiled = stmt.compile(dialect=storage.engine.dialect)
    values = compiled.construct_params(listing.params(query))
    processors = compiled._bind_processors
    values = {k: processors[k](v) if k in processors else v for k, v in values.items()}
    raw = storage.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if storage.engine.dialect.name == "sqlite":
            args = tuple(values[k] for k in compiled.positiontup or ())
            cursor.execute("EXPLAIN QUERY PLAN " + str(compiled), args)
            return [(r[0], r[1], r[3]) for r in cursor.fetchall()]
        cursor.execute("EXPLAIN " + str(compiled), values)
        return [(i, 0, r[0]) for i, r in enumerate(cursor.fetchall())]
    finally:
        raw.close()


def expected_index(query: JobQuery) -> str:
    parts = ["owner"] * (query.owner_id is not None or query.anonymous)
    parts += ["type"] * (query.job_type is not None) + ["phase"] * bool(query.phases)
    return "_".join(["ix_uws_jobs", *parts, "created"])


AFTER = T0 + timedelta(seconds=100)  # most jobs are newer
BEFORE = (T0 + timedelta(seconds=12000), "j00024001")
COMBINATIONS = list(
    itertools.product(
        [None, "echo"],  # job type (None: the list of all types)
        ["alice", None, "anonymous"],  # owner filter (None: an admin's list of everyone's jobs)
        [None, {Phase.EXECUTING}, {Phase.QUEUED, Phase.EXECUTING, Phase.PENDING}],
        [None, AFTER],
        [None, BEFORE],
    )
)


def page_query(
    job_type: str | None, owner: str | None, phases: set[Phase] | None, **more: Any
) -> JobQuery:
    """A page of 10 jobs with these filters, as the client asks for one."""
    return JobQuery(
        job_type=job_type,
        owner_id=None if owner == "anonymous" else owner,
        anonymous=owner == "anonymous",
        phases=frozenset(phases) if phases else None,
        last=10,
        **more,
    )


@pytest.mark.parametrize(("job_type", "owner", "phases", "after", "before"), COMBINATIONS)
def test_list_page_reads_its_index_and_sorts_no_table(
    store: SQLStorage,
    job_type: str | None,
    owner: str | None,
    phases: set[Phase] | None,
    after: Any,
    before: Any,
) -> None:
    query = page_query(job_type, owner, phases, after=after, before=before)
    nodes = plan(store, query)
    lines = [n[2] for n in nodes]
    index = expected_index(query)
    if store.engine.dialect.name == "sqlite":
        reads = [line for line in lines if "uws_jobs" in line]
        equalities = (
            ["owner_id=?"] * ("owner" in index)
            + ["job_type=?"] * ("type" in index)
            + ["phase=?"] * ("phase" in index)
        )
        # An ordered walk of the whole index (SCAN) only when nothing filters by equality
        # (an admin's list of all jobs): LIMIT then stops it after the page.
        access = "SEARCH" if equalities else "(SEARCH|SCAN)"
        assert reads and all(
            re.match(rf"{access} uws_jobs USING (COVERING )?INDEX {index}\b", line)
            for line in reads
        ), lines
        # Equality filters in the index condition, not checked row by row afterwards.
        assert all(all(e in line for e in equalities) for line in reads), lines
        # A sort only of a per-phase sub-select's rows (at most LAST), never of the table.
        for _node_id, parent, line in nodes:
            if "TEMP B-TREE" in line:
                siblings = [n[2] for n in nodes if n[1] == parent]
                assert any(re.fullmatch(r"SCAN p\d+", s) for s in siblings), lines
    else:
        # PostgreSQL weighs costs on its statistics: it may walk another list index in
        # order, or sort the few rows an index finds (an owner_id IS NULL condition never
        # gives it the index's order). Never a table scan, never a sort of more than a page.
        assert not any("Seq Scan" in line for line in lines), lines
        for line in lines:
            sort = re.search(r"(Incremental )?Sort\s+\(cost=\S+ rows=(\d+)", line)
            assert sort is None or int(sort.group(2)) <= 100, lines
        scans = [line for line in lines if " on uws_jobs" in line]
        assert scans and all(
            re.search(r"using ix_uws_jobs_(\w+_)?created on", line) for line in scans
        ), lines
    # The rows are the right ones, newest first.
    refs = store.list(query)
    assert len(refs) <= 10
    keys = [(r.creation_time, r.job_id) for r in refs]
    assert keys == sorted(keys, reverse=True)
    if before is not None:
        assert all(k < BEFORE for k in keys)


SORTED = list(
    itertools.product(
        [None, "echo"],
        ["alice", None, "anonymous"],
        [None, {Phase.EXECUTING, Phase.COMPLETED}],
        ["start_time", "end_time"],
        [False, True],  # descending
        [None, BEFORE],
    )
)


@pytest.mark.parametrize(("job_type", "owner", "phases", "sort", "descending", "key"), SORTED)
def test_sorted_page_reads_its_time_index_in_order(
    store: SQLStorage,
    job_type: str | None,
    owner: str | None,
    phases: set[Phase] | None,
    sort: str,
    descending: bool,
    key: Any,
) -> None:
    query = page_query(job_type, owner, phases, before=key, sort=sort, descending=descending)
    lines = [n[2] for n in plan(store, query)]
    parts = ["owner"] * (owner is not None) + ["type"] * (job_type is not None)
    index = "_".join(["ix_uws_jobs", *parts, {"start_time": "started", "end_time": "ended"}[sort]])
    if store.engine.dialect.name == "sqlite":
        reads = [line for line in lines if "uws_jobs" in line]
        access = "SEARCH" if parts else "(SEARCH|SCAN)"
        assert reads and all(
            re.match(rf"{access} uws_jobs USING (COVERING )?INDEX {index}\b", line)
            for line in reads
        ), lines
        assert not any("TEMP B-TREE" in line for line in lines), lines  # read in order
    else:
        assert not any("Seq Scan" in line for line in lines), lines
        for line in lines:
            sort_node = re.search(r"(Incremental )?Sort\s+\(cost=\S+ rows=(\d+)", line)
            assert sort_node is None or int(sort_node.group(2)) <= 100, lines
        scans = [line for line in lines if " on uws_jobs" in line]
        assert scans and all(
            re.search(r"using ix_uws_jobs_(\w+_)?(created|started|ended) on", line)
            for line in scans
        ), lines
    refs = store.list(query)
    assert len(refs) <= 10 and all(r.sort_time is not None for r in refs)
    keys = [(r.sort_time, r.job_id) for r in refs]
    assert keys == sorted(keys, reverse=descending)
    if key is not None:
        assert all((k < key) == descending and k != key for k in keys)
