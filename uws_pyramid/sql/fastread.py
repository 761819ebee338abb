"""One-row reads on the bare DBAPI connection, for the hottest lookups (a job, an account).

SQLAlchemy's execution machinery costs more than SQLite's own lookup by primary key; these
reads compile their statement once and convert the row with the columns' own result
processors, so the values are what SQLAlchemy would have returned."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import JSON, Boolean, Engine, Integer, Select, String, func
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.elements import ColumnElement


@dataclass
class Kept:
    """A connection kept out of the pool, with the cursor that runs its statements."""

    conn: PoolProxiedConnection
    cursor: Any


class ReadConnections:
    """A few connections kept out of the engine's pool for one-row reads, reused last in,
    first out: no pool checkout, ping, reset or events per read, and no lock (``list.pop``
    and ``append`` are atomic). As many as the reads running at once, at most ``keep`` kept
    (more go back to the pool); all given back by ``close``. With ``autocommit`` (PostgreSQL)
    they read outside transactions while kept: no BEGIN and ROLLBACK around one SELECT, and
    a lone INSERT commits by itself. Each keeps its cursor; ``json_as_text``, called on each
    new cursor, makes it return JSON as text (RowReader then parses it only for a row it
    has not converted before; the driver would parse it on every read). With ``packed``
    (SQLite), RowReader asks for a row as one JSON array (``PACKABLE`` columns only)."""

    def __init__(
        self,
        engine: Engine,
        keep: int = 4,
        autocommit: bool = False,
        json_as_text: Callable[[Any], None] | None = None,
        packed: bool = False,
    ) -> None:
        self.engine = engine
        self.keep = keep
        self.autocommit = autocommit
        self.json_as_text = json_as_text
        self.packed = packed
        dbapi = engine.dialect.dbapi
        #: What a connection the server dropped raises (a kept one is never pinged).
        self.lost: tuple[type[BaseException], ...] = (
            (dbapi.OperationalError, dbapi.InterfaceError) if dbapi is not None else ()
        )
        self._idle: list[Kept] = []

    def take(self) -> Kept:
        try:
            return self._idle.pop()
        except IndexError:
            return self.fresh()

    def fresh(self) -> Kept:
        """A connection from the pool (which pings it where the engine asks for that)."""
        conn = self.engine.raw_connection()
        try:
            if self.autocommit:
                conn.driver_connection.autocommit = True  # type: ignore[union-attr]
            cursor = conn.cursor()
            if self.json_as_text is not None:
                self.json_as_text(cursor)
        except BaseException:
            conn.close()
            raise
        return Kept(conn, cursor)

    def give(self, kept: Kept) -> None:
        if len(self._idle) < self.keep:
            self._idle.append(kept)
        else:
            self._back_to_pool(kept)

    def drop(self, kept: Kept) -> None:
        """After an error: the connection is closed, not reused."""
        kept.conn.invalidate()
        kept.conn.close()

    def run(self, kept: Kept, sql: str, args: Any, fetch: bool = True) -> Any:
        """One statement on ``kept``: its first row if ``fetch``; ``kept`` is given back
        after, or dropped if the statement failed."""
        try:
            kept.cursor.execute(sql, args)
            row = kept.cursor.fetchone() if fetch else None
        except BaseException:
            self.drop(kept)
            raise
        self.give(kept)
        return row

    def _back_to_pool(self, kept: Kept) -> None:
        kept.cursor.close()
        if self.autocommit:
            kept.conn.driver_connection.autocommit = False  # type: ignore[union-attr]
        kept.conn.close()

    def close(self) -> None:
        while self._idle:
            self._back_to_pool(self._idle.pop())


K = TypeVar("K")
V = TypeVar("V")


def kept(cache: dict[K, V], key: K, make: Callable[[K], V], most: int) -> V:
    """``make(key)``, kept in ``cache`` by ``key`` (at most ``most``: emptied when full,
    the next calls fill it again); made every time for a key that is not hashable (a value
    a driver gave)."""
    try:
        return cache[key]
    except KeyError:
        pass
    except TypeError:
        return make(key)
    made = make(key)
    if len(cache) >= most:
        cache.clear()
    cache[key] = made
    return made


#: Column types whose values SQLite's json_array gives back exactly (text, integers, NULL;
#: not REAL, printed to 15 digits, nor BLOB, which it refuses).
PACKABLE = (String, Integer, Boolean, JSON)


def packable(columns: list[ColumnElement[Any]], connections: ReadConnections) -> bool:
    dialect = connections.engine.dialect
    # The affinity of the type as this dialect stores it (UTCDateTime: String on SQLite).
    return connections.packed and all(
        issubclass(c.type.dialect_impl(dialect)._type_affinity or object, PACKABLE) for c in columns
    )


class RowReader:
    """Runs one SELECT that yields at most one row; gives it as a column-name mapping.

    Packed (SQLite, ReadConnections.packed): the row comes as one column, a JSON array of
    its values, unpacked here (by json.loads, only for a row not converted before).
    Python's sqlite3 releases and takes back the GIL around each call into SQLite, one per
    column of a fetched row: a job's 18 columns made a get release it 33 times, 16 now, and
    with waitress's threads waiting for it each release may wake one of them."""

    #: Converted rows kept, by their raw values (a job polled again converts nothing).
    KEEP = 2000

    def __init__(self, connections: ReadConnections, stmt: Select[Any]) -> None:
        dialect = connections.engine.dialect
        columns = list(stmt.selected_columns)
        self.packed = packable(columns, connections)
        if self.packed:
            stmt = stmt.with_only_columns(func.json_array(*columns))
        compiled = stmt.compile(dialect=dialect)
        self.connections = connections
        self.sql = str(compiled)
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if compiled.positional else None
        )
        self.names = [c.name for c in columns]
        self.processors: list[Callable[[Any], Any] | None] = [
            c.type._cached_result_processor(dialect, None) for c in columns
        ]
        if connections.json_as_text is not None:
            # The driver parsed JSON itself (no processor): the kept cursors give it as text.
            loads = getattr(dialect, "_json_deserializer", None) or json.loads
            self.processors = [
                loads if p is None and isinstance(c.type, JSON) else p
                for c, p in zip(columns, self.processors)
            ]
        # Raw row -> converted values. The key is what the database returned now, so a row
        # changed by any process is converted afresh; the values are shared, never changed.
        self._converted: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def one(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        args = tuple(params[k] for k in self.order) if self.order is not None else params
        connections = self.connections
        try:
            row = connections.run(connections.take(), self.sql, args)
        except connections.lost:
            # A kept connection the server closed (a restart, an idle timeout): one retry on
            # a connection of the pool, as the pool's own ping would have done.
            row = connections.run(connections.fresh(), self.sql, args)
        if row is None:
            return None
        return dict(zip(self.names, self._convert(tuple(row))))

    def _convert(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        return kept(self._converted, row, self._process, self.KEEP)

    def _process(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        if self.packed:
            row = json.loads(row[0])
        return tuple(
            process(value) if process is not None and value is not None else value
            for process, value in zip(self.processors, row)
        )
