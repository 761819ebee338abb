"""The initial schema: one row per job (what metadata.create_all made before migrations)."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the types of tables.py as they were: a migration must not change
# when the model does. Times: TIMESTAMPTZ, or ISO text on SQLite.
UTC = sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

INDEXES = {
    "ix_uws_jobs_type_created": ["job_type", "creation_time"],
    "ix_uws_jobs_owner_created": ["owner_id", "creation_time"],
    "ix_uws_jobs_created": ["creation_time"],
    "ix_uws_jobs_phase": ["phase"],
    "ix_uws_jobs_destruction": ["destruction"],
}


def upgrade() -> None:
    op.create_table(
        "uws_jobs",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("job_type", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("run_id", sa.Text),
        sa.Column("owner_id", sa.String(255)),
        sa.Column("creation_time", UTC, nullable=False),
        sa.Column("start_time", UTC),
        sa.Column("end_time", UTC),
        sa.Column("execution_duration", sa.Integer, nullable=False),
        sa.Column("destruction", UTC),
        sa.Column("quote", UTC),
        sa.Column("error_type", sa.String(16)),
        sa.Column("error_message", sa.Text),
        sa.Column("error_has_detail", sa.Boolean),
        sa.Column("process_id", sa.String(255)),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("results", JSON, nullable=False),
        sa.Column("job_info", JSON, nullable=False),
    )
    for name, columns in INDEXES.items():
        op.create_index(name, "uws_jobs", columns)


def downgrade() -> None:
    op.drop_table("uws_jobs")
