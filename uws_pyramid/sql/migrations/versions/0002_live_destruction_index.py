"""The destruction index covers live jobs only (ARCHIVED rows are never swept again).

With ``uws.destruction.archive = true`` archived jobs stay in the table for good and keep
their (past) destruction time, so the sweeper's query ``destruction <= now AND phase <>
'ARCHIVED'`` walked the whole archive through the old index every minute. The partial
index holds live jobs only: the sweep costs what is due, however large the archive grows.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LIVE = "phase <> 'ARCHIVED'"


def upgrade() -> None:
    op.drop_index("ix_uws_jobs_destruction", table_name="uws_jobs")
    op.create_index(
        "ix_uws_jobs_destruction",
        "uws_jobs",
        ["destruction"],
        postgresql_where=sa.text(LIVE),
        sqlite_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("ix_uws_jobs_destruction", table_name="uws_jobs")
    op.create_index("ix_uws_jobs_destruction", "uws_jobs", ["destruction"])
