"""Alembic environment: migrations run on the connection the caller lends (uws-admin, start-up)."""

from __future__ import annotations

from alembic import context

from uws_pyramid.sql.migrations import VERSION_TABLE
from uws_pyramid.sql.tables import metadata

config = context.config

if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
else:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through uws_pyramid.sql.migrations, with a connection")
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)

with context.begin_transaction():
    context.run_migrations()
