"""The job list queries: one statement per filter combination, each served by an index.

A list is ordered by (creation_time, job_id), newest first when paged (LAST, BEFORE), unless
it asks for another order (JobQuery.sort, descending). Migration 0005 made one index per
combination of the equality filters (owner, job type, phase) followed by those two columns,
so a page reads its own rows and sorts nothing. Several phases are one sub-select per phase,
each reading at most a page from its index, merged by UNION ALL: the only sort is of those
few rows, never of the table. Lists by start or end time hold the jobs that have one and
read the partial indexes of migration 0006 (owner, job type, then the time and job_id); a
phase filter there is checked on the entries walked in order.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    union_all,
)

from sqlalchemy.ext.compiler import compiles

from ..jobs import JobQuery, Phase
from .tables import UTCDateTime, jobs

REF_COLUMNS = (
    jobs.c.job_id,
    jobs.c.job_type,
    jobs.c.phase,
    jobs.c.run_id,
    jobs.c.owner_id,
    jobs.c.creation_time,
)

#: Inline, not a bound parameter: the planners then know the value when choosing an index.
NOT_ARCHIVED = jobs.c.phase != literal_column(f"'{Phase.ARCHIVED}'")


class Unindexed(ColumnElement[str]):
    """A column no index may serve on SQLite (``+phase``): without statistics its planner
    takes ``phase IN (...)`` for selective, reads a phase index and sorts every match,
    where the time index read in order stops after a page. PostgreSQL weighs its costs."""

    inherit_cache = True

    def __init__(self, column: ColumnElement[str]) -> None:
        self.column = column
        self.type = column.type


@compiles(Unindexed)
def _unindexed(element: Unindexed, compiler: Any, **kw: Any) -> str:
    text = compiler.process(element.column, **kw)
    return f"+{text}" if compiler.dialect.name == "sqlite" else str(text)


def shape(query: JobQuery) -> tuple[Any, ...]:
    """Which filters ``query`` sets: the key of its cached statement."""
    return (
        query.job_type is not None,
        query.owner_id is not None,
        query.anonymous,
        len(query.phases) if query.phases is not None else 0,
        query.after is not None,
        query.before is not None,
        None if query.run_id is None else query.run_id_prefix,
        query.last is not None,
        query.sort,
        query.newest_first,
    )


def params(query: JobQuery) -> dict[str, Any]:
    """The bound values of the statement of ``query``'s shape."""
    values: dict[str, Any] = {
        "job_type": query.job_type,
        "owner_id": query.owner_id,
        "after": query.after,
        "last": query.last,
        "run_id": query.run_id,
    }
    if query.run_id is not None and query.run_id_prefix:
        values["run_id_length"] = len(query.run_id)
    if query.before is not None:
        values["before_time"], values["before_id"] = query.before
    for i, phase in enumerate(sorted(query.phases or ())):
        values[f"phase_{i}"] = str(phase)
    return {k: v for k, v in values.items() if v is not None}


def _keyset(time: Any, newest: bool, prefix: str) -> list[ColumnElement[bool]]:
    """The jobs after the bound (``prefix``_time, ``prefix``_id) in the list's order."""
    key_time = bindparam(f"{prefix}_time", type_=UTCDateTime)
    key_id = bindparam(f"{prefix}_id")
    # The first term bounds the index range; the second breaks ties of equal times by id.
    if newest:
        return [time <= key_time, or_(time < key_time, jobs.c.job_id < key_id)]
    return [time >= key_time, or_(time > key_time, jobs.c.job_id > key_id)]


def _conditions(
    job_type: bool,
    owner_id: bool,
    anonymous: bool,
    after: bool,
    before: bool,
    run_id: bool | None,
    sort: str,
    newest: bool,
) -> list[ColumnElement[bool]]:
    c = jobs.c
    conditions: list[ColumnElement[bool]] = []
    if job_type:
        conditions.append(c.job_type == bindparam("job_type"))
    if owner_id:
        conditions.append(c.owner_id == bindparam("owner_id"))
    if anonymous:
        conditions.append(c.owner_id.is_(None))
    if after:
        conditions.append(c.creation_time > bindparam("after", type_=UTCDateTime))
    if sort != "creation_time":
        conditions.append(c[sort].isnot(None))  # also what makes the partial index usable
    if before:
        conditions += _keyset(c[sort], newest, "before")
    if run_id is False:
        conditions.append(c.run_id == bindparam("run_id"))
    elif run_id:
        # substr, not LIKE: exact case and no wildcard characters to escape, in both databases.
        conditions.append(
            func.substr(c.run_id, 1, bindparam("run_id_length")) == bindparam("run_id")
        )
    return conditions


@functools.cache
def list_statement(shape: tuple[Any, ...]) -> Select[Any]:
    """The list query of one shape, built once (building costs more than running it)."""
    job_type, owner_id, anonymous, n_phases, after, before, run_id, last, sort, newest = shape
    conditions = _conditions(job_type, owner_id, anonymous, after, before, run_id, sort, newest)
    return _ordered(conditions, n_phases, sort, newest, limit="last" if last else None)


@functools.cache
def batch_statement(shape: tuple[Any, ...], keyed: bool) -> Select[Any]:
    """One batch of a full list streamed in its order: at most ``batch`` jobs, after the
    job (``key_time``, ``key_id``) that ended the previous batch when ``keyed``. Each batch
    is a range of the same index, so a list of any length streams in flat memory and
    without a transaction held open while the client reads."""
    job_type, owner_id, anonymous, n_phases, after, before, run_id, _, sort, newest = shape
    conditions = _conditions(job_type, owner_id, anonymous, after, before, run_id, sort, newest)
    if keyed:
        conditions += _keyset(jobs.c[sort], newest, "key")
    return _ordered(conditions, n_phases, sort, newest, limit="batch")


def _ordered(
    conditions: list[ColumnElement[bool]],
    n_phases: int,
    sort: str,
    newest: bool,
    limit: str | None,
) -> Select[Any]:
    """SELECT the refs matching ``conditions`` and the phases in list order, ``limit`` rows
    (a bound parameter's name) if any; then the sort time unless it is the creation time."""
    c = jobs.c

    def ordered(stmt: Select[Any], time: Any, job_id: Any) -> Select[Any]:
        if newest:
            stmt = stmt.order_by(time.desc(), job_id.desc())
        else:
            stmt = stmt.order_by(time, job_id)
        return stmt if limit is None else stmt.limit(bindparam(limit))

    if sort != "creation_time":
        # The time's indexes have no phase: phases are checked on the entries, in order.
        phases = (
            [NOT_ARCHIVED]
            if n_phases == 0
            else [Unindexed(c.phase).in_([bindparam(f"phase_{i}") for i in range(n_phases)])]
        )
        stmt = select(*REF_COLUMNS, c[sort]).where(and_(*conditions, *phases))
        return ordered(stmt, c[sort], c.job_id)
    if n_phases == 0:  # ARCHIVED jobs only when asked for (UWS 1.1 section 2.2.2.1)
        return ordered(
            select(*REF_COLUMNS).where(and_(*conditions, NOT_ARCHIVED)), c.creation_time, c.job_id
        )
    if n_phases == 1:
        stmt = select(*REF_COLUMNS).where(and_(*conditions, c.phase == bindparam("phase_0")))
        return ordered(stmt, c.creation_time, c.job_id)
    parts = []
    for i in range(n_phases):
        part = select(*REF_COLUMNS).where(and_(*conditions, c.phase == bindparam(f"phase_{i}")))
        if limit is not None:
            part = ordered(part, c.creation_time, c.job_id)
        sub = part.subquery(f"p{i}")
        parts.append(select(*sub.c))
    merged = union_all(*parts).subquery("merged")
    return ordered(select(*merged.c), merged.c.creation_time, merged.c.job_id)


@functools.cache
def count_statement(shape: tuple[Any, ...]) -> Select[Any]:
    """How many jobs the list of this shape (without LAST) holds, counted up to
    ``limit``: the cost of a count stays bounded however many jobs match."""
    job_type, owner_id, anonymous, n_phases, after, before, run_id, _, sort, newest = shape
    conditions = _conditions(job_type, owner_id, anonymous, after, before, run_id, sort, newest)
    if n_phases == 0:
        conditions.append(NOT_ARCHIVED)
    else:
        phases = [bindparam(f"phase_{i}") for i in range(n_phases)]
        conditions.append(jobs.c.phase.in_(phases))
    counted = select(literal_column("1")).where(and_(*conditions)).limit(bindparam("limit"))
    return select(func.count()).select_from(counted.subquery())
