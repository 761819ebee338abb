"""The SQL storage shared by the SQLite and PostgreSQL plugins (SQLAlchemy Core)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy import exc as sa_exc

from ..errors import ConfigurationError, NotFound, ServiceUnavailable
from ..jobs import Job, JobQuery, JobRef, Phase, Quota
from ..notify import NEW_JOB
from ..storage import Storage
from . import listing, migrations
from .accounts import SQLAccounts
from .fastread import ReadConnections, RowReader
from .rows import job_to_row, row_to_job
from .tables import jobs

log = logging.getLogger(__name__)
T = TypeVar("T")

# Inline, not a bound parameter: the planners of both databases can then match it to the
# predicate of the partial index ix_uws_jobs_destruction (migration 0002).
LIVE = jobs.c.phase != literal_column("'ARCHIVED'")


#: Seconds a client is asked to wait (Retry-After) when the database cannot be reached.
RETRY_AFTER = 5


def unavailable(exc: BaseException) -> ServiceUnavailable:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    log.warning("job database unavailable: %s", reason[0] if reason else type(exc).__name__)
    return ServiceUnavailable(
        "the job database cannot be reached now; nothing was lost, try again shortly",
        retry_after=RETRY_AFTER,
    )


@contextmanager
def reachable(dbapi: Any = None) -> Iterator[None]:
    """Turn a failure of the database connection (down, restarting, pool exhausted, locked)
    into ServiceUnavailable: a 503 to clients, a retry for background threads. Errors of a
    statement itself (constraints, ...) go through unchanged."""
    try:
        yield
    except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
        raise unavailable(exc) from exc
    except sa_exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise unavailable(exc) from exc
        raise
    except Exception as exc:
        # Reads on the bare DBAPI connection (fastread) raise the driver's own errors.
        if dbapi is not None and isinstance(exc, (dbapi.OperationalError, dbapi.InterfaceError)):
            raise unavailable(exc) from exc
        raise


PHASES = {str(p): p for p in Phase}
GET_JOB = select(jobs).where(jobs.c.job_id == bindparam("job_id"))
# Built once: a statement built per call costs its cache key on every write. The columns to
# set come with the parameters (one compiled form per set of columns).
LOCK_JOB = GET_JOB.with_for_update()
UPDATE_JOB = update(jobs).where(jobs.c.job_id == bindparam("updated_job_id"))
DELETE_JOB = delete(jobs).where(jobs.c.job_id == bindparam("job_id"))


class RowInserter:
    """Inserts one row of ``table`` on the driver's own cursor, inside the caller's
    transaction: SQLAlchemy's execution of an INSERT costs several times SQLite's own.
    The statement is compiled once; values go through the columns' bind processors, so the
    database gets what SQLAlchemy would have sent."""

    def __init__(self, dialect: Dialect, table: Table) -> None:
        compiled = insert(table).compile(dialect=dialect)
        self.sql = str(compiled)
        names = compiled.positiontup if compiled.positional else None
        self.order: tuple[str, ...] | None = tuple(names) if names is not None else None
        self.processors = [(c.name, c.type._cached_bind_processor(dialect)) for c in table.columns]

    def args(self, row: Mapping[str, Any]) -> Any:
        """The driver's parameters of ``row``."""
        values = {name: (p(row[name]) if p else row[name]) for name, p in self.processors}
        return tuple(values[k] for k in self.order) if self.order is not None else values

    def insert(self, conn: Connection, row: Mapping[str, Any]) -> None:
        args = self.args(row)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self.sql, args)
        finally:
            cursor.close()


@functools.cache
def owned_count_statement(anonymous: bool) -> Select[Any]:
    """How many jobs of one owner are in some phases, one job left out (for quotas)."""
    owner = jobs.c.owner_id.is_(None) if anonymous else jobs.c.owner_id == bindparam("owner_id")
    return select(func.count()).where(
        owner,
        jobs.c.phase.in_(bindparam("phases", expanding=True)),
        jobs.c.job_id != bindparam("job_id"),
    )


#: Jobs by type and phase: one grouped query (metrics, ``uws-admin stats``).
COUNTS = select(jobs.c.job_type, jobs.c.phase, func.count()).group_by(jobs.c.job_type, jobs.c.phase)


class SQLStorage(Storage):
    """Storage on any SQLAlchemy engine; subclasses build the engine and add what their
    database does better."""

    #: Lookups of one row skip SQLAlchemy's execution (sql/fastread.py), on connections that
    #: read outside transactions (SQLite with the driver's autocommit; read_options AUTOCOMMIT).
    fast_reads = False
    #: Execution options of write transactions (SQLite asks for BEGIN IMMEDIATE).
    write_options: Mapping[str, Any] = {}
    #: Execution options of reads, each one statement (PostgreSQL reads in autocommit: no
    #: BEGIN and ROLLBACK round trips around one SELECT).
    read_options: Mapping[str, Any] = {}
    #: A create with no quota to check is one INSERT on a kept connection in autocommit, its
    #: own transaction: one round trip, no BEGIN, COMMIT or pool checkout (PostgreSQL).
    lone_inserts = False
    #: Connections kept out of the pool for one-row reads and lone inserts.
    kept_connections = 4
    #: One-row reads fetch their row as one JSON array (sql/fastread.py: SQLite).
    packed_rows = False

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self._readers: dict[int, RowReader] = {}
        autocommit = self.read_options.get("isolation_level") == "AUTOCOMMIT"
        self._read_connections = ReadConnections(
            engine, self.kept_connections, autocommit, self.json_as_text(), self.packed_rows
        )
        fast = self._read_connections if self.fast_reads else None
        self._accounts = SQLAccounts(self.one, self._read, self._write, fast)
        self._inserter = RowInserter(engine.dialect, jobs)

    def json_as_text(self) -> Callable[[Any], None] | None:
        """What makes a cursor of the driver return JSON as text (sql/fastread.py), if the
        driver parses JSON itself; None: it returns text already (SQLite)."""
        return None

    @classmethod
    def engine_from_settings(cls, options: Mapping[str, str], here: str) -> Engine:
        """The engine ``from_settings`` would use, without touching the schema (for
        ``uws-admin migrate``)."""
        raise NotImplementedError

    def create_schema(self) -> None:
        """Bring the schema to the newest revision (Alembic migrations; idempotent)."""
        with self._write() as conn:
            migrations.upgrade(conn)

    def check_schema(self) -> None:
        """Raise ConfigurationError unless the schema is at the newest revision."""
        with self.engine.connect() as conn:
            found = migrations.current(conn)
        if found != migrations.head():
            raise ConfigurationError(
                f"uws.storage.auto_migrate = false: the database schema is at revision "
                f"{found or 'none (empty database)'}, this code needs {migrations.head()}; "
                f"run `uws-admin migrate <ini file>` (or set uws.storage.auto_migrate = true)"
            )

    def prepare_schema(self, auto_migrate: bool) -> None:
        """At start-up: migrate the schema, or check that someone did."""
        if auto_migrate:
            self.create_schema()
        else:
            self.check_schema()

    def one(self, stmt: Select[Any], params: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The one row (or None) of a statement built once at import time, by column name."""
        if not self.fast_reads:
            with self._read() as conn:
                row = conn.execute(stmt, params).first()
            return None if row is None else row._mapping
        reader = self._readers.get(id(stmt))
        if reader is None:
            reader = self._readers[id(stmt)] = RowReader(self._read_connections, stmt)
        with reachable(self.engine.dialect.dbapi):
            return reader.one(params)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with reachable(), self.engine.connect().execution_options(**self.read_options) as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        # The connection is taken before the writer's turn: the turn lasts the transaction.
        with reachable(), self.engine.connect().execution_options(**self.write_options) as conn:
            with self.writer(), conn.begin():
                yield conn

    @contextmanager
    def writer(self) -> Iterator[None]:
        """Held around each write transaction: a database that lets one writer at a time
        (SQLite) queues its writers here rather than in the database's own lock."""
        yield

    def in_write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction; return what it returned once committed (or
        raise what it raised, its changes undone)."""
        with self.reachable():  # the errors of ``work`` itself, whatever thread ran it
            return self.run_write(work)

    def reachable(self) -> AbstractContextManager[None]:
        """``reachable`` for SQLAlchemy's errors and the driver's own (statements run on
        the driver's connection: inserts, SQLite's group commits)."""
        return reachable(self.engine.dialect.dbapi)

    def run_write(self, work: Callable[[Connection], T]) -> T:
        """How ``in_write`` runs its work: in a transaction of its own here; a storage may
        run the work of several callers in one transaction (SQLite's group commit), so
        ``work`` touches nothing but ``conn``."""
        with self._write() as conn:
            return work(conn)

    def create(self, job: Job, *, quotas: Collection[Quota] = ()) -> None:
        def insert_job(conn: Connection) -> None:
            self._check_quotas(conn, job, quotas)
            self._inserter.insert(conn, job_to_row(job))

        if self.lone_inserts and not quotas:
            with self.reachable():
                self._insert_alone(job_to_row(job))
        else:
            self.in_write(insert_job)
        self.notifier.publish(NEW_JOB)  # for job lists waiting for a change (in this process)

    def _insert_alone(self, row: Mapping[str, Any]) -> None:
        """INSERT ``row`` in a transaction of its own, on a kept connection in autocommit."""
        connections = self._read_connections
        args = self._inserter.args(row)
        try:
            connections.run(connections.take(), self._inserter.sql, args, fetch=False)
            return
        except connections.lost:
            pass  # a kept connection the server closed: once more on one of the pool
        dbapi: Any = self.engine.dialect.dbapi
        try:
            connections.run(connections.fresh(), self._inserter.sql, args, fetch=False)
        except dbapi.IntegrityError:
            # The lost connection may have committed the INSERT and lost only its reply: a
            # new job's random id found taken is that INSERT's own row.
            if self.one(GET_JOB, {"job_id": row["job_id"]}) is None:
                raise

    def get(self, job_id: str) -> Job:
        row = self.one(GET_JOB, {"job_id": job_id})
        if row is None:
            raise NotFound(f"no job {job_id!r}")
        return row_to_job(row)

    def list(self, query: JobQuery) -> list[JobRef]:
        stmt = listing.list_statement(listing.shape(query))
        with self._read() as conn:
            rows = conn.execute(stmt, listing.params(query)).all()
        phase = PHASES.__getitem__
        return [JobRef(r[0], r[1], phase(r[2]), r[3], r[4], r[5], *r[6:]) for r in rows]

    def batches(self, query: JobQuery, size: int) -> Iterator[list[JobRef]]:
        if query.last is not None:
            yield self.list(query)
            return
        shape = listing.shape(query)
        # A tenth first: the response starts after a short read, then full batches.
        params = {**listing.params(query), "batch": max(size // 10, 1)}
        phase = PHASES.__getitem__
        keyed = False
        while True:
            stmt = listing.batch_statement(shape, keyed)
            with self._read() as conn:
                rows = conn.execute(stmt, params).all()
            yield [JobRef(r[0], r[1], phase(r[2]), r[3], r[4], r[5], *r[6:]) for r in rows]
            if len(rows) < params["batch"]:
                return
            keyed, params["batch"] = True, size
            # The sort time ends the row (the creation time unless sorted by another).
            params["key_time"], params["key_id"] = rows[-1][-1], rows[-1][0]

    def count(self, query: JobQuery, limit: int) -> int:
        stmt = listing.count_statement(listing.shape(query))
        with self._read() as conn:
            return int(conn.execute(stmt, {**listing.params(query), "limit": limit}).scalar_one())

    def counts(self) -> dict[tuple[str, Phase], int]:
        with self._read() as conn:
            rows = conn.execute(COUNTS).all()
        return {(job_type, PHASES[phase]): count for job_type, phase, count in rows}

    def update(
        self,
        job_id: str,
        when: Collection[Phase] | None = None,
        *,
        quotas: Collection[Quota] = (),
        **changes: Any,
    ) -> tuple[Job, Job] | None:
        def change_job(conn: Connection) -> tuple[Job, Job] | None:
            row = conn.execute(LOCK_JOB, {"job_id": job_id}).first()
            if row is None:
                raise NotFound(f"no job {job_id!r}")
            before = row_to_job(row._mapping)
            if when is not None and before.phase not in when:
                return None
            after = before.changed(**changes)
            self._check_quotas(conn, after, quotas)
            values = job_to_row(after)
            changed = {k: v for k, v in values.items() if k in self._columns_of(changes)}
            if changed:
                conn.execute(UPDATE_JOB, {**changed, "updated_job_id": job_id})
                self.on_changed(conn, before, after)
            return before, after

        done = self.in_write(change_job)
        if done is not None and done[0].phase != done[1].phase:
            self.notifier.publish(job_id)
        return done

    def _check_quotas(self, conn: Connection, job: Job, quotas: Collection[Quota]) -> None:
        """Inside the write transaction, before writing ``job``: QuotaExceeded if its owner
        has no room left."""
        if not quotas:
            return  # nor any lock: a manager's phase changes never queue behind quota checks
        self.lock_owner(conn, job.owner_id)
        stmt = owned_count_statement(job.owner_id is None)
        for quota in quotas:
            params = {
                "owner_id": job.owner_id,
                "phases": sorted(quota.phases),
                "job_id": job.job_id,
            }
            quota.check(conn.execute(stmt, params).scalar_one())

    def lock_owner(self, conn: Connection, owner_id: str | None) -> None:
        """Inside the write transaction, before counting an owner's jobs for a quota: make
        the quota checks of one owner wait for each other until commit. Nothing to do
        where write transactions already exclude each other (SQLite's BEGIN IMMEDIATE);
        a database that runs them side by side must override this."""

    def on_changed(self, conn: Connection, before: Job, after: Job) -> None:
        """Inside the write transaction, after an update."""

    def on_deleted(self, conn: Connection, job_id: str) -> None:
        """Inside the write transaction, after a delete."""

    @staticmethod
    def _columns_of(changes: Mapping[str, Any]) -> set[str]:
        columns = set(changes)
        if "error" in columns:
            columns |= {"error_type", "error_message", "error_has_detail"}
        return columns

    def delete(self, job_id: str) -> bool:
        def delete_job(conn: Connection) -> int:
            deleted: int = conn.execute(DELETE_JOB, {"job_id": job_id}).rowcount
            if deleted:
                self.on_deleted(conn, job_id)
            return deleted

        deleted = self.in_write(delete_job)
        if deleted:
            self.notifier.publish(job_id)
        return bool(deleted)

    def in_phases(self, phases: Collection[Phase], limit: int = 1000) -> list[Job]:
        stmt = (
            select(jobs)
            .where(jobs.c.phase.in_([str(p) for p in phases]))
            .order_by(jobs.c.creation_time)
            .limit(limit)
        )
        with self._read() as conn:
            return [row_to_job(r._mapping) for r in conn.execute(stmt)]

    def expired(self, now: datetime, limit: int = 1000) -> list[Job]:
        stmt = (
            select(jobs)
            .where(jobs.c.destruction <= now, LIVE)
            .order_by(jobs.c.destruction)
            .limit(limit)
        )
        with self._read() as conn:
            return [row_to_job(r._mapping) for r in conn.execute(stmt)]

    def accounts(self) -> SQLAccounts:
        return self._accounts

    def close(self) -> None:
        self._read_connections.close()
        self.engine.dispose()
