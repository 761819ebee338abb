"""SQLite storage: the core SQL storage on a local file, in WAL mode."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event

from uws_pyramid.api import (
    BOOLEAN,
    INTERVAL,
    TEXT,
    ConfigurationError,
    Option,
    SQLStorage,
    private_file,
    read_all,
)

from .groupcommit import GroupCommit
from .writelock import WriteLock

T = TypeVar("T")

#: The ``uws.storage.*`` options of this storage (README, "Settings").
OPTIONS = (
    Option("path", TEXT, "var/uws.sqlite", "the database file (relative to the ini file)"),
    Option(
        "busy_timeout",
        INTERVAL,
        30.0,
        "seconds a writer waits for the database before the request gets a 503",
    ),
    # On by default: a fresh development start creates (or upgrades) the schema.
    Option("auto_migrate", BOOLEAN, True, "create or upgrade the schema at start-up"),
)


def parse_options(options: Mapping[str, str]) -> dict[str, Any]:
    return read_all(OPTIONS, options, section="uws.storage.")


def sqlite_engine(path: str, busy_timeout: float) -> Engine:
    """An engine whose connections use WAL and a busy timeout, and whose write
    transactions take the write lock at BEGIN, so that concurrent writers queue up
    instead of failing with "database is locked"."""
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": busy_timeout, "check_same_thread": False},
        pool_size=8,
        max_overflow=24,
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN, not the driver.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Writes take the write lock at once; a read is one statement, atomic without BEGIN
        # (saving a round trip per request).
        mode = conn.get_execution_options().get("sqlite_begin")
        if mode:
            conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


class SQLiteStorage(SQLStorage):
    """Jobs in one SQLite file; one server process (or several on one host)."""

    name = "sqlite"
    write_options = {"sqlite_begin": "IMMEDIATE"}
    fast_reads = True
    packed_rows = True

    def __init__(self, engine: Engine, busy_timeout: float = OPTIONS[1].default) -> None:
        super().__init__(engine)
        database = engine.url.database
        file = database if database and database != ":memory:" else None
        self._write_lock = WriteLock(file, busy_timeout)
        # Not for a database in memory: each connection would see a database of its own.
        self._group = (
            GroupCommit(self._batch, busy_timeout, self._write_lock.busy) if file else None
        )
        self._writer: Connection | None = None  # used by one group commit leader at a time

    @contextmanager
    def _batch(self) -> Iterator[Connection]:
        """The transaction of one group commit, on a connection kept for them: its page
        cache stays warm, and BEGIN IMMEDIATE and COMMIT go straight to the driver
        (SQLAlchemy's begin and commit cost more than SQLite's, see bench/README.md).
        SQLAlchemy may still begin its own transaction on it (an update's statements):
        with no ``sqlite_begin`` option that issues nothing, and its commit is the
        driver's."""
        with self.reachable(), self._write_lock.held():
            conn = self._writer or self.engine.connect()
            self._writer = None  # kept again only once this transaction ended cleanly
            driver = conn.connection.dbapi_connection
            try:
                driver.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
                yield conn
                self._commit(conn)
            except BaseException:
                conn.close()  # rolls back; a connection in any doubt is not kept
                raise
            self._writer = conn

    @contextmanager
    def writer(self) -> Iterator[None]:
        with self._write_lock.held():
            yield

    def run_write(self, work: Callable[[Connection], T]) -> T:
        if self._group is None:
            return super().run_write(work)
        return self._group.run(work)

    @staticmethod
    def _commit(conn: Connection) -> None:
        """COMMIT a group commit's transaction (SQLAlchemy's, if it began one on top)."""
        if conn.in_transaction():
            conn.commit()
        else:
            conn.connection.dbapi_connection.execute("COMMIT")  # type: ignore[union-attr]

    def close(self) -> None:
        with self._write_lock.held():
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        super().close()
        self._write_lock.close()

    @classmethod
    def engine_from_settings(cls, options: Mapping[str, str], here: str) -> Engine:
        parsed = parse_options(options)
        path = parsed["path"]
        if not path:
            raise ConfigurationError("uws.storage.path: a file path is required")
        if path != ":memory:":
            path = os.path.join(here, path)
            # Created for the server's user alone: it holds the accounts' password hashes.
            private_file(Path(path))
        return sqlite_engine(path, parsed["busy_timeout"])

    @classmethod
    def from_settings(cls, options: Mapping[str, str], here: str) -> SQLiteStorage:
        parsed = parse_options(options)
        storage = cls(cls.engine_from_settings(options, here), parsed["busy_timeout"])
        try:
            storage.prepare_schema(parsed["auto_migrate"])
        except BaseException:
            storage.close()
            raise
        return storage
