"""Job lists sorted by start or end time (SORT=startTime, SORT=endTime) read their indexes.

A list sorted by a job's start (end) time holds the jobs that have one. Each index below is
partial on that time being set, with the equality columns of one filter combination (owner,
job type), then the time and job_id: ``LAST=n`` and keyset pages read n entries and sort
none, in both directions. Partial indexes cost nothing when a job is created (it has neither
time yet); a phase filter is checked on the index's entries, in order.

On PostgreSQL, a trigger also NOTIFYs each new job, at commit, on the channel of
uws_postgres's listener: job lists waiting for a change (WAIT) in other server processes
wake up, with no round trip more than the INSERT.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: The equality columns of each index, by its name's middle part (the same as tables.py's).
FILTERS = {
    "owner_type_": ["owner_id", "job_type"],
    "owner_": ["owner_id"],
    "type_": ["job_type"],
    "": [],
}
TIMES = {"started": "start_time", "ended": "end_time"}


def indexes() -> dict[str, tuple[list[str], str]]:
    """Name: (columns, time column) of every index of this revision."""
    return {
        f"ix_uws_jobs_{middle}{suffix}": ([*columns, time, "job_id"], time)
        for suffix, time in TIMES.items()
        for middle, columns in FILTERS.items()
    }


#: uws_postgres's NOTIFY channel and uws_pyramid.notify.NEW_JOB (a migration imports neither).
NEW_JOB_NOTIFY = """
CREATE OR REPLACE FUNCTION uws_notify_new_job() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('uws_job_changed', 'uws:new-job');
    RETURN NULL;
END $$ LANGUAGE plpgsql
"""
#: Once per INSERT statement, sent at commit (never on rollback).
NEW_JOB_TRIGGER = """
CREATE TRIGGER uws_jobs_notify_new AFTER INSERT ON uws_jobs
FOR EACH STATEMENT EXECUTE FUNCTION uws_notify_new_job()
"""


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(NEW_JOB_NOTIFY)
        op.execute("DROP TRIGGER IF EXISTS uws_jobs_notify_new ON uws_jobs")
        op.execute(NEW_JOB_TRIGGER)
    for name, (columns, time) in indexes().items():
        where = sa.text(f"{time} IS NOT NULL")
        op.create_index(
            name,
            "uws_jobs",
            columns,
            postgresql_where=where,
            sqlite_where=where,
            if_not_exists=True,
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS uws_jobs_notify_new ON uws_jobs")
        op.execute("DROP FUNCTION IF EXISTS uws_notify_new_job()")
    for name in indexes():
        op.drop_index(name, table_name="uws_jobs")
