"""Accounts: users with roles and password hashes, and their API tokens (issue 7)."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copies of the types of tables.py (see 0001).
UTC = sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "uws_users",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("password_hash", sa.Text),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created", UTC, nullable=False),
    )
    op.create_table(
        "uws_tokens",
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("user_name", sa.String(128), nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created", UTC, nullable=False),
    )
    op.create_index("ix_uws_tokens_user_name", "uws_tokens", ["user_name"])


def downgrade() -> None:
    op.drop_index("ix_uws_tokens_user_name", table_name="uws_tokens")
    op.drop_table("uws_tokens")
    op.drop_table("uws_users")
