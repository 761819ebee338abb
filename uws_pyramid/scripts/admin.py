"""uws-admin: operator commands on a deployment's ini file (schema, users, roles, tokens)."""

from __future__ import annotations

import argparse
import configparser
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import ConfigurationError, UWSError
from ..plugins import make_plugin_manager, select
from ..settings import UWSSettings, parse_settings
from . import check, jobs, plugins, users

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ..sql.storage import SQLStorage

log = logging.getLogger(__name__)

#: The URI schemes plaster_pastedeploy registers (a deploy.cfg is refused as pserve refuses it).
PASTEDEPLOY_SCHEMES = {"file+ini", "egg", "pastedeploy", "pastedeploy+ini", "pastedeploy+egg"}


def load(ini: str) -> UWSSettings:
    """The parsed ``uws.*`` settings of the ini's [app:main] section."""
    if not os.path.isfile(ini):
        raise ConfigurationError(f"{ini}: no such file")
    # PasteDeploy's loader itself: plaster's lookup of it by URI scans every installed
    # distribution (~0.1 s of a command meant to answer in under 0.5 s).
    from plaster import parse_uri
    from plaster.exceptions import LoaderNotFound
    from plaster_pastedeploy import Loader

    try:
        uri = parse_uri(ini)
        if uri.scheme not in PASTEDEPLOY_SCHEMES:
            raise LoaderNotFound(uri.scheme)
        # Not the ini's logging: its log file may not exist yet, and operators want answers
        # here, not library chatter (--debug shows it).
        settings = dict(Loader(uri).get_wsgi_app_settings("main"))
    except (configparser.Error, LookupError, ValueError) as exc:
        # Not parseable, no [app:main], or not an .ini: the first line of the message says which.
        raise ConfigurationError(f"{ini}: {str(exc).strip().splitlines()[0]}") from None
    settings.setdefault("here", os.path.dirname(os.path.abspath(ini)))
    return parse_settings(settings)


def sql_storage(settings: UWSSettings) -> type[SQLStorage] | None:
    from ..sql.storage import SQLStorage

    cls = select(make_plugin_manager(only={settings.storage}), "storage", settings.storage)
    return cls if issubclass(cls, SQLStorage) else None


def engine_of(cls: type[SQLStorage], settings: UWSSettings) -> Engine:
    return cls.engine_from_settings(settings.storage_options, str(settings.here))


def migrate(args: argparse.Namespace, settings: UWSSettings) -> int:
    from ..sql import migrations

    cls = sql_storage(settings)
    if cls is None:
        print(f"storage {settings.storage!r} keeps no SQL schema: nothing to migrate")
        return 0
    engine = engine_of(cls, settings)
    try:
        if args.sql:
            migrations.upgrade_sql(engine.url.render_as_string(hide_password=True), args.revision)
            return 0
        with engine.connect().execution_options(**cls.write_options) as conn, conn.begin():
            before, after = migrations.upgrade(conn, args.revision)
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        print(f"{where}: schema already at revision {after}")
    else:
        print(f"{where}: schema upgraded from {before or 'an empty database'} to {after}")
    return 0


def status(args: argparse.Namespace, settings: UWSSettings) -> int:
    from ..sql import migrations

    cls = sql_storage(settings)
    if cls is None:
        print(f"storage {settings.storage!r} keeps no SQL schema")
        return 0
    engine = engine_of(cls, settings)
    try:
        with engine.connect() as conn:
            found = migrations.current(conn)
    finally:
        engine.dispose()
    head = migrations.head()
    state = "up to date" if found == head else "needs `uws-admin migrate`"
    print(f"storage {settings.storage}: schema at {found or 'none'}, code needs {head}: {state}")
    return 0 if found == head else 3


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="uws-admin", description=__doc__)
    top.add_argument(
        "--debug", action="store_true", help="show library logging and the traceback of an error"
    )
    commands = top.add_subparsers(dest="command", required=True)
    check.add_parser(commands)
    up = commands.add_parser("migrate", help="upgrade the storage's schema (Alembic)")
    up.add_argument("ini", help="the deployment's ini file, e.g. production.ini")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.add_argument(
        "--sql",
        action="store_true",
        help="print the SQL instead of running it (from an empty database)",
    )
    up.set_defaults(run=migrate)
    st = commands.add_parser("status", help="show the schema revision; exit 3 if behind")
    st.add_argument("ini")
    st.set_defaults(run=status)
    users.add_parsers(commands)
    jobs.add_parsers(commands)
    plugins.add_parser(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s [%(name)s] %(message)s",
    )
    try:
        ini = getattr(args, "ini", None)
        return int(args.run(args, load(ini) if ini else None))
    except (ConfigurationError, UWSError) as exc:
        if args.debug:
            raise
        print(f"uws-admin: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug or not _is_database_error(exc):
            raise
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"uws-admin: database error: {reason}", file=sys.stderr)
        return 1


def _is_database_error(exc: Exception) -> bool:
    """An SQLAlchemy error, without importing SQLAlchemy for commands that never load it."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    return sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.SQLAlchemyError)


if __name__ == "__main__":
    sys.exit(main())
