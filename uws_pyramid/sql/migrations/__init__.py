"""Schema migrations of the SQL storages (Alembic), run from code: no alembic.ini at run time."""

from __future__ import annotations

import logging
from pathlib import Path

from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, inspect, select, text

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported only where a migration runs: finding the schema at HEAD, what every
# start-up and uws-admin command does, takes one query (and uws-admin answers faster).

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
#: Our own name, so that a database shared with another Alembic-managed application works.
VERSION_TABLE = "uws_alembic_version"
#: The revision whose schema ``metadata.create_all`` made before migrations existed.
BASELINE = "0001"
#: Key of the PostgreSQL advisory lock that serialises processes migrating at start-up.
MIGRATION_LOCK = 0x55575330
#: The newest revision in versions/ (a test checks it against Alembic's own answer).
HEAD = "0007"


def config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic configuration built in code; env.py runs on ``connection`` (or offline on
    ``url``)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision of this code."""
    return HEAD


def scripts_head() -> str | None:
    """The newest revision as Alembic finds it in versions/."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config()).get_current_head()


def current(conn: Connection) -> str | None:
    """The database's revision; None for an empty database (or one older than migrations)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    # One row: the history is linear (no branches).
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def upgrade(conn: Connection, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the database of ``conn`` (inside the caller's transaction) to ``revision``;
    return the revisions before and after."""
    if conn.dialect.name == "postgresql":
        # Several server processes may start at once with auto_migrate: one migrates, the
        # others wait here and then find the schema at head. Released at commit.
        conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
    before = current(conn)
    if before is None and inspect(conn).has_table("uws_jobs"):
        # A database made by create_all before migrations existed has the baseline schema.
        log.info("schema without a revision: recording it as the baseline %s", BASELINE)
        from alembic import command

        command.stamp(config(conn), BASELINE)
        before = BASELINE
    if revision == "head" and before == head():
        return before, before
    from alembic import command

    command.upgrade(config(conn), revision)
    after = current(conn)
    log.info("database schema upgraded from %s to %s", before or "empty", after)
    return before, after


def downgrade(conn: Connection, revision: str) -> tuple[str | None, str | None]:
    """Downgrade (inside the caller's transaction) to ``revision`` ("base": drop everything)."""
    from alembic import command

    before = current(conn)
    command.downgrade(config(conn), revision)
    return before, current(conn)


def upgrade_sql(url: str, revision: str = "head") -> None:
    """Print the SQL of an upgrade without touching a database (for a DBA to review)."""
    from alembic import command

    command.upgrade(config(url=url), revision, sql=True)
