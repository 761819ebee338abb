"""One-row reads on the bare DBAPI connection, for the hottest lookups (a job, an account).

SQLAlchemy's execution machinery costs more than SQLite's own lookup by primary key; these
reads compile their statement once and convert the row with the columns' own result
processors, so the values are what SQLAlchemy would have returned. Each thread keeps one
connection of its own for them (taken out of the pool once): checking a connection out of
the pool and back cost half of such a read."""
from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, Select


class _Held:
    """A thread's connection: closed when the thread ends (its thread-local goes) or at
    ``ThreadConnections.close``, whichever comes first."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()

    def __del__(self) -> None:
        self.close()


class ThreadConnections:
    """One DBAPI connection per thread, made by the engine's pool (its connect events run)
    and detached from it; all closed by ``close``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._held: weakref.WeakSet[_Held] = weakref.WeakSet()

    def get(self) -> Any:
        held = getattr(self._local, "held", None)
        if held is None or held.conn is None:
            fairy = self.engine.raw_connection()
            fairy.detach()  # ours from now on: the pool makes another when it needs one
            held = self._local.held = _Held(fairy.dbapi_connection)
            self._held.add(held)
        return held.conn

    def drop(self) -> None:
        """Close this thread's connection (after an error: the next read makes a new one)."""
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None:
            held.close()

    def close(self) -> None:
        for held in list(self._held):
            held.close()


class RowReader:
    """Runs one SELECT that yields at most one row; gives it as a column-name mapping."""

    def __init__(self, connections: ThreadConnections, stmt: Select[Any]) -> None:
        engine = connections.engine
        dialect = engine.dialect
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

    def one(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        args = tuple(params[k] for k in self.order) if self.order is not None else params
        try:
            cursor = self.connections.get().cursor()
            try:
                cursor.execute(self.sql, args)
                row = cursor.fetchone()
            finally:
                cursor.close()
        except Exception:
            self.connections.drop()
            raise
        if row is None:
            return None
        return {
            name: process(value) if process is not None and value is not None else value
            for name, process, value in zip(self.names, self.processors, row)
        }
