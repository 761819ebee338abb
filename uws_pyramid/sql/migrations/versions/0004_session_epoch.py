"""Session epochs: sessions end on the server (logout, disable, new password, new roles).

A session cookie carries its account's epoch at login; bumping the epoch refuses every
cookie made before, in every server process sharing the database (issue 11)."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uws_users") as batch:
        batch.add_column(
            sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("uws_users") as batch:
        batch.drop_column("session_epoch")
