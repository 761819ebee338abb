"""On PostgreSQL, new jobs are announced by the storage after commit, no longer by a trigger.

The trigger of 0006 sent NOTIFY inside each create's transaction. PostgreSQL serializes the
commits of every transaction that notifies (a cluster-wide lock held through the WAL flush),
so concurrent creates committed one at a time (8 threads: ~600 creates/s with it, ~1,800
without). uws_postgres's storage now sends one NOTIFY for any number of creates committed
meanwhile, from a connection of its own (announce.py).
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: 0006's function and trigger, for the downgrade (a migration imports no other).
NEW_JOB_NOTIFY = """
CREATE OR REPLACE FUNCTION uws_notify_new_job() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('uws_job_changed', 'uws:new-job');
    RETURN NULL;
END $$ LANGUAGE plpgsql
"""
NEW_JOB_TRIGGER = """
CREATE TRIGGER uws_jobs_notify_new AFTER INSERT ON uws_jobs
FOR EACH STATEMENT EXECUTE FUNCTION uws_notify_new_job()
"""


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS uws_jobs_notify_new ON uws_jobs")
        op.execute("DROP FUNCTION IF EXISTS uws_notify_new_job()")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(NEW_JOB_NOTIFY)
        op.execute("DROP TRIGGER IF EXISTS uws_jobs_notify_new ON uws_jobs")
        op.execute(NEW_JOB_TRIGGER)
