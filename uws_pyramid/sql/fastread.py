"""One-row reads on the bare DBAPI connection, for the hottest lookups (a job, an account).

SQLAlchemy's execution machinery costs more than SQLite's own lookup by primary key; these
reads compile their statement once and convert the row with the columns' own result
processors, so the values are what SQLAlchemy would have returned."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, Select


class RowReader:
    """Runs one SELECT that yields at most one row; gives it as a column-name mapping."""

    def __init__(self, engine: Engine, stmt: Select[Any]) -> None:
        dialect = engine.dialect
        compiled = stmt.compile(dialect=dialect)
        self.engine = engine
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
        conn = self.engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(self.sql, args)
                row = cursor.fetchone()
            finally:
                cursor.close()
        finally:
            conn.close()
        if row is None:
            return None
        return {
            name: process(value) if process is not None and value is not None else value
            for name, process, value in zip(self.names, self.processors, row)
        }
