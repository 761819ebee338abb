"""One-row reads on the bare DBAPI connection, for the hottest lookups (a job, an account).

SQLAlchemy's execution machinery costs more than SQLite's own lookup by primary key; these
reads compile their statement once and convert the row with the columns' own result
processors, so the values are what SQLAlchemy would have returned."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.pool import PoolProxiedConnection


class ReadConnections:
    """A few connections kept out of the engine's pool for one-row reads, reused last in,
    first out: no pool checkout, ping, reset or events per read, and no lock (``list.pop``
    and ``append`` are atomic). As many as the reads running at once, at most ``keep`` kept
    (more go back to the pool); all given back by ``close``. With ``autocommit`` (PostgreSQL)
    they read outside transactions while kept: no BEGIN and ROLLBACK around one SELECT."""

    def __init__(self, engine: Engine, keep: int = 4, autocommit: bool = False) -> None:
        self.engine = engine
        self.keep = keep
        self.autocommit = autocommit
        dbapi = engine.dialect.dbapi
        #: What a connection the server dropped raises (a kept one is never pinged).
        self.lost: tuple[type[BaseException], ...] = (
            (dbapi.OperationalError, dbapi.InterfaceError) if dbapi is not None else ()
        )
        self._idle: list[PoolProxiedConnection] = []

    def take(self) -> PoolProxiedConnection:
        try:
            return self._idle.pop()
        except IndexError:
            return self.fresh()

    def fresh(self) -> PoolProxiedConnection:
        """A connection from the pool (which pings it where the engine asks for that)."""
        conn = self.engine.raw_connection()
        if self.autocommit:
            conn.driver_connection.autocommit = True  # type: ignore[union-attr]
        return conn

    def give(self, conn: PoolProxiedConnection) -> None:
        if len(self._idle) < self.keep:
            self._idle.append(conn)
        else:
            self._back_to_pool(conn)

    def drop(self, conn: PoolProxiedConnection) -> None:
        """After an error: the connection is closed, not reused."""
        conn.invalidate()
        conn.close()

    def _back_to_pool(self, conn: PoolProxiedConnection) -> None:
        if self.autocommit:
            conn.driver_connection.autocommit = False  # type: ignore[union-attr]
        conn.close()

    def close(self) -> None:
        while self._idle:
            self._back_to_pool(self._idle.pop())


class RowReader:
    """Runs one SELECT that yields at most one row; gives it as a column-name mapping."""

    #: Converted rows kept, by their raw values (a job polled again converts nothing).
    KEEP = 2000

    def __init__(self, connections: ReadConnections, stmt: Select[Any]) -> None:
        dialect = connections.engine.dialect
        compiled = stmt.compile(dialect=dialect)
        self.connections = connections
        self.sql = str(compiled)
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if compiled.positional else None
        )
        columns = list(stmt.selected_columns)
        self.names = [c.name for c in columns]
        self.processors: list[Callable[[Any], Any] | None] = [
            c.type._cached_result_processor(dialect, None) for c in columns
        ]
        # Raw row -> converted values. The key is what the database returned now, so a row
        # changed by any process is converted afresh; the values are shared, never changed.
        self._converted: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def one(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        args = tuple(params[k] for k in self.order) if self.order is not None else params
        try:
            row = self._fetch(self.connections.take(), args)
        except self.connections.lost:
            # A kept connection the server closed (a restart, an idle timeout): one retry on
            # a connection of the pool, as the pool's own ping would have done.
            row = self._fetch(self.connections.fresh(), args)
        if row is None:
            return None
        return dict(zip(self.names, self._convert(tuple(row))))

    def _fetch(self, conn: PoolProxiedConnection, args: Any) -> Any:
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(self.sql, args)
                row = cursor.fetchone()
            finally:
                cursor.close()
        except BaseException:
            self.connections.drop(conn)
            raise
        self.connections.give(conn)
        return row

    def _convert(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        try:
            return self._converted[row]
        except KeyError:
            pass
        except TypeError:  # a value the driver gave is not hashable: nothing kept
            return self._process(row)
        found = self._process(row)
        if len(self._converted) >= self.KEEP:
            self._converted.clear()  # bounded; the next reads fill it again
        self._converted[row] = found
        return found

    def _process(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            process(value) if process is not None and value is not None else value
            for process, value in zip(self.processors, row)
        )
