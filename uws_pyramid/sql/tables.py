"""SQLAlchemy Core tables shared by the SQL storages (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes: TIMESTAMPTZ on PostgreSQL; elsewhere naive UTC as fixed-width ISO
    text ("2026-01-02 03:04:05.123000"), which sorts like time and parses with the fast
    ``datetime.fromisoformat`` (SQLAlchemy's own SQLite parser, a regex, costs more than the
    query itself on a 10,000-job list)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(String(26))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        if dialect.name == "postgresql":
            return value
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name == "postgresql":
            return super().result_processor(dialect, coltype)
        # SQLite's text, parsed without TypeDecorator's layers: a job list converts thousands.
        parse = datetime.fromisoformat

        def process(value: str | None) -> datetime | None:
            return None if value is None else parse(value + "+00:00")

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value + "+00:00")
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


JSONType = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData()

jobs = Table(
    "uws_jobs",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("job_type", String(64), nullable=False),
    Column("phase", String(16), nullable=False),
    Column("run_id", Text),
    Column("owner_id", String(255)),
    Column("creation_time", UTCDateTime, nullable=False),
    Column("start_time", UTCDateTime),
    Column("end_time", UTCDateTime),
    Column("execution_duration", Integer, nullable=False, default=0),
    Column("destruction", UTCDateTime),
    Column("quote", UTCDateTime),
    Column("error_type", String(16)),
    Column("error_message", Text),
    Column("error_has_detail", Boolean),
    Column("process_id", String(255)),
    # Parameters, results and jobInfo are read and written with the job, never queried
    # on their own: JSON columns keep a job to one row and one round trip.
    Column("parameters", JSONType, nullable=False),
    Column("results", JSONType, nullable=False),
    Column("job_info", JSONType, nullable=False),
)

# The list queries (migration 0005): the equality filters of one combination, then the list
# order (creation_time, job_id), so that LAST=n and keyset pages read n entries and sort none.
_c = jobs.c
Index(
    "ix_uws_jobs_owner_type_phase_created",
    _c.owner_id,
    _c.job_type,
    _c.phase,
    _c.creation_time,
    _c.job_id,
)
Index("ix_uws_jobs_owner_type_created", _c.owner_id, _c.job_type, _c.creation_time, _c.job_id)
Index("ix_uws_jobs_owner_phase_created", _c.owner_id, _c.phase, _c.creation_time, _c.job_id)
Index("ix_uws_jobs_owner_created", _c.owner_id, _c.creation_time, _c.job_id)
Index("ix_uws_jobs_type_phase_created", _c.job_type, _c.phase, _c.creation_time, _c.job_id)
Index("ix_uws_jobs_type_created", _c.job_type, _c.creation_time, _c.job_id)
Index("ix_uws_jobs_phase_created", _c.phase, _c.creation_time, _c.job_id)
Index("ix_uws_jobs_created", _c.creation_time, _c.job_id)
# Lists sorted by start or end time (migration 0006): partial, only jobs that have the time.
for _name, _time in (("started", _c.start_time), ("ended", _c.end_time)):
    for _middle, _filters in (
        ("owner_type_", (_c.owner_id, _c.job_type)),
        ("owner_", (_c.owner_id,)),
        ("type_", (_c.job_type,)),
        ("", ()),
    ):
        Index(
            f"ix_uws_jobs_{_middle}{_name}",
            *_filters,
            _time,
            _c.job_id,
            sqlite_where=_time.isnot(None),
            postgresql_where=_time.isnot(None),
        )
# The destruction sweep (partial in the database: live jobs only, migration 0002).
Index("ix_uws_jobs_destruction", jobs.c.destruction)

# Accounts (see uws_pyramid.accounts): looked up by primary key only.
users = Table(
    "uws_users",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("password_hash", Text),
    Column("roles", JSONType, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created", UTCDateTime, nullable=False),
    # Written into session cookies: bumped to end them all (logout, disable, new password).
    Column("session_epoch", Integer, nullable=False, default=0, server_default="0"),
)

tokens = Table(
    "uws_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("user_name", String(128), nullable=False, index=True),
    Column("token_hash", Text, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("created", UTCDateTime, nullable=False),
)
