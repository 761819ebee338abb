"""PostgreSQL storage: the core SQL storage, plus LISTEN/NOTIFY wake-ups and advisory locks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.types.string import TextLoader
from sqlalchemy import Connection, Engine, create_engine, func, select
from sqlalchemy.exc import OperationalError

from uws_pyramid.api import ConfigurationError, Job, Phase, Quota, SQLStorage

from .announce import Announcer
from .config import PostgresSettings, parse_options
from .listener import Listener
from .locks import AdvisoryLocks, owner_lock_key

log = logging.getLogger(__name__)

#: The NOTIFY channel; the payload is the id of the job whose phase changed (or that was
#: deleted), NEW_JOB, or empty (the listener is stopping). Sent after commit (announce.py).
CHANNEL = "uws_job_changed"
#: The payload that wakes job lists waiting for a new job (uws_pyramid.notify.NEW_JOB).
NEW_JOB = "uws:new-job"
#: The dedicated connections sit idle for long: TCP keepalives find a silently dead one.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


def _json_as_text(cursor: psycopg.Cursor[Any]) -> None:
    for name in ("json", "jsonb"):
        cursor.adapters.register_loader(name, TextLoader)


def make_engine(settings: PostgresSettings) -> Engine:
    return create_engine(
        settings.url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
        # A server restart or a proxy's idle timeout must cost one retry, not a 500.
        pool_pre_ping=True,
        connect_args=settings.connect_args(),
    )


class PostgresStorage(SQLStorage):
    """Jobs in PostgreSQL, shared by any number of server processes."""

    name = "postgres"
    read_options = {"isolation_level": "AUTOCOMMIT"}
    fast_reads = True
    lone_inserts = True

    def __init__(
        self,
        engine: Engine,
        connect_args: Mapping[str, Any] | None = None,
        kept_connections: int | None = None,
    ) -> None:
        if kept_connections is not None:
            self.kept_connections = kept_connections
        super().__init__(engine)
        self._connect_args = dict(connect_args or {})
        self.listener = Listener(self.dedicated_connection, CHANNEL, self._notified, self._missed)
        self.locks = AdvisoryLocks(self.dedicated_connection)
        self.announcer = Announcer(self.dedicated_connection, CHANNEL)

    @classmethod
    def engine_from_settings(cls, options: Mapping[str, str], here: str) -> Engine:
        return make_engine(parse_options(options, here))

    @classmethod
    def from_settings(cls, options: Mapping[str, str], here: str) -> PostgresStorage:
        settings = parse_options(options, here)
        storage = cls(make_engine(settings), settings.connect_args(), settings.kept_connections())
        try:
            storage.prepare_schema(settings.auto_migrate)
            storage.listener.start()
            storage.announcer.start()
        except (OperationalError, psycopg.OperationalError) as exc:
            storage.close()
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            shown = settings.url.render_as_string(hide_password=True)
            raise ConfigurationError(
                f"uws.storage.url: cannot connect to {shown}: {reason} (is the server up, and "
                f"do its role and database exist? README, 'Production deployment')"
            ) from None
        except BaseException:
            storage.close()
            raise
        return storage

    def json_as_text(self) -> Callable[[Any], None]:
        return _json_as_text

    def dedicated_connection(self) -> psycopg.Connection:
        """A connection outside the pool, for LISTEN, NOTIFY and the advisory locks."""
        _, params = self.engine.dialect.create_connect_args(self.engine.url)
        params.pop("context", None)  # SQLAlchemy's adapters: plain psycopg types here
        params.update(self._connect_args)
        params.update(KEEPALIVES)
        return psycopg.connect(**params, autocommit=True)

    # -- quotas --------------------------------------------------------------------------

    def lock_owner(self, conn: Connection, owner_id: str | None) -> None:
        # READ COMMITTED lets two transactions count the same jobs and both write: they
        # queue here instead, and the lock goes at commit or rollback, never left behind.
        conn.execute(select(func.pg_advisory_xact_lock(*owner_lock_key(owner_id))))

    # -- wake-ups across processes: sent after commit (no write transaction NOTIFYs) ------

    def create(self, job: Job, *, quotas: Collection[Quota] = ()) -> None:
        super().create(job, quotas=quotas)
        self.announcer.announce(NEW_JOB)  # for job lists waiting in other processes

    def update(
        self,
        job_id: str,
        when: Collection[Phase] | None = None,
        *,
        quotas: Collection[Quota] = (),
        **changes: Any,
    ) -> tuple[Job, Job] | None:
        done = super().update(job_id, when, quotas=quotas, **changes)
        if done is not None and done[0].phase != done[1].phase:
            self.announcer.announce(job_id)  # what WAIT requests wait for
        return done

    def delete(self, job_id: str) -> bool:
        deleted = super().delete(job_id)
        if deleted:
            self.announcer.announce(job_id)
        return deleted

    def _notified(self, job_id: str) -> None:
        self.notifier.publish(job_id)

    def _missed(self) -> None:
        # The connection was down: any job may have changed meanwhile. A woken waiter reads
        # its job again and returns early at worst, which UWS allows.
        self.notifier.publish_all()

    # -- background tasks, once per deployment ---------------------------------------------

    @contextmanager
    def exclusive(self, task: str) -> Iterator[bool]:
        yield self.locks.holds(task)

    def close(self) -> None:
        self.announcer.stop()
        self.listener.stop(wake=self._wake_listener)
        self.locks.close()
        super().close()

    def _wake_listener(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(func.pg_notify(CHANNEL, "")))
            conn.commit()
