"""Job lists cost what they show: one index per filter combination, in list order.

A list is newest first by (creation_time, job_id) under equality filters on owner, job type
and phase. Each index below has the equality columns of one combination the views build,
then creation_time and job_id: ``LAST=n`` reads n entries and sorts nothing, and a keyset
page (``BEFORE=<time>,<id>``) starts inside the index. The old single-column phase index and
the type/owner/creation indexes without job_id are replaced.
"""
from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: Name and columns of each list index (the same as tables.py's).
LIST_INDEXES = {
    "ix_uws_jobs_owner_type_phase_created": ["owner_id", "job_type", "phase", "creation_time",
                                             "job_id"],
    "ix_uws_jobs_owner_type_created": ["owner_id", "job_type", "creation_time", "job_id"],
    "ix_uws_jobs_owner_phase_created": ["owner_id", "phase", "creation_time", "job_id"],
    "ix_uws_jobs_owner_created": ["owner_id", "creation_time", "job_id"],
    "ix_uws_jobs_type_phase_created": ["job_type", "phase", "creation_time", "job_id"],
    "ix_uws_jobs_type_created": ["job_type", "creation_time", "job_id"],
    "ix_uws_jobs_phase_created": ["phase", "creation_time", "job_id"],
    "ix_uws_jobs_created": ["creation_time", "job_id"],
}
#: The indexes of 0001 that these replace, with their columns.
OLD_INDEXES = {
    "ix_uws_jobs_type_created": ["job_type", "creation_time"],
    "ix_uws_jobs_owner_created": ["owner_id", "creation_time"],
    "ix_uws_jobs_created": ["creation_time"],
    "ix_uws_jobs_phase": ["phase"],
}


def upgrade() -> None:
    # "If (not) exists": a schema adopted from create_all (migrations.BASELINE) already has
    # the indexes of the tables.py it was made with.
    for name in OLD_INDEXES:
        op.drop_index(name, table_name="uws_jobs", if_exists=True)
    for name, columns in LIST_INDEXES.items():
        op.create_index(name, "uws_jobs", columns, if_not_exists=True)


def downgrade() -> None:
    for name in LIST_INDEXES:
        op.drop_index(name, table_name="uws_jobs")
    for name, columns in OLD_INDEXES.items():
        op.create_index(name, "uws_jobs", columns)
