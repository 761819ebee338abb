"""The ``uws.storage.*`` settings of the PostgreSQL storage, checked once at start-up."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from uws_pyramid.api import (
    BOOLEAN,
    INTERVAL,
    TEXT,
    ConfigurationError,
    Option,
    at_least,
    read_all,
)

log = logging.getLogger(__name__)

DRIVER = "postgresql+psycopg"
#: The ``uws.storage.*`` options of this storage (README, "Settings"); ``url`` and the
#: password are checked by ``parse_url`` and ``read_password``.
OPTIONS = (
    Option("url", TEXT, "", "postgresql+psycopg://user@host:port/database (required)"),
    Option("password_env", TEXT, "", "environment variable holding the password"),
    Option("password_file", TEXT, "", "file holding the password (relative to the ini file)"),
    Option("pool_size", at_least(1), 8, "connections kept open per server process"),
    Option("max_overflow", at_least(0), 8, "connections opened beyond pool_size under load"),
    Option("pool_timeout", INTERVAL, 30.0, "seconds a request waits for a free connection"),
    Option("connect_timeout", at_least(1), 10, "seconds to wait for a new connection"),
    Option("auto_migrate", BOOLEAN, False, "create or upgrade the schema at start-up"),
)


@dataclass(frozen=True)
class PostgresSettings:
    """Every option with its default (README, 'Settings', documents them)."""

    url: URL
    pool_size: int = 8
    max_overflow: int = 8
    pool_timeout: float = 30.0
    connect_timeout: int = 10
    # Off: in production the schema changes when an operator runs `uws-admin migrate`
    # (often as a role the service does not have), not when a process happens to start.
    auto_migrate: bool = False

    def kept_connections(self) -> int:
        """Connections kept out of the pool for one-row reads and creates (sql/fastread.py):
        as many as the pool keeps, each read or create the kept ones cannot serve costing a
        checkout, a ping and a reset; but at most half of all the pool may open, since a
        kept connection sits idle between reads and transactions need the rest."""
        return max(1, min(self.pool_size, (self.pool_size + self.max_overflow) // 2))

    def connect_args(self) -> dict[str, Any]:
        """Extra libpq parameters of every connection, the pool's and the dedicated ones."""
        args: dict[str, Any] = {"connect_timeout": self.connect_timeout}
        if "application_name" not in self.url.query:
            # pg_stat_activity then tells which server process holds a connection (or a lock).
            args["application_name"] = f"uws-pyramid:{os.getpid()}"
        return args


def parse_url(raw: str) -> URL:
    """A SQLAlchemy URL on the psycopg 3 driver; ``postgres://`` and ``postgresql://`` too."""
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise ConfigurationError(
            f"uws.storage.url = {raw!r}: expected postgresql+psycopg://user@host:port/database"
        ) from None
    backend, _, driver = url.drivername.partition("+")
    if backend not in ("postgresql", "postgres") or driver not in ("", "psycopg"):
        raise ConfigurationError(
            f"uws.storage.url: {url.drivername}:// is not supported; the postgres storage "
            f"uses psycopg 3: postgresql+psycopg://user@host:port/database"
        )
    if not url.database:
        raise ConfigurationError("uws.storage.url: the URL names no database")
    return url.set(drivername=DRIVER)


def read_password(options: Mapping[str, str], here: str, url: URL) -> str | None:
    """The password from the environment or a file, so that the ini needs none."""
    env = options.get("password_env", "").strip()
    file = options.get("password_file", "").strip()
    given = [
        k for k, v in (("url", url.password), ("password_env", env), ("password_file", file)) if v
    ]
    if len(given) > 1:
        raise ConfigurationError(
            f"uws.storage.{given[1]}: the password is also given by uws.storage.{given[0]}; "
            f"give it once"
        )
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigurationError(
                f"uws.storage.password_env: the environment variable {env} is not set"
            )
        return value
    if file:
        path = Path(here, file)
        try:
            value = path.read_text().rstrip("\r\n")
            if path.stat().st_mode & 0o077:
                log.warning("%s is readable by group or others; chmod 600 it", path)
        except OSError as exc:
            raise ConfigurationError(
                f"uws.storage.password_file: cannot read {path}: {exc.strerror}"
            ) from None
        if not value:
            raise ConfigurationError(f"uws.storage.password_file: {path} is empty")
        return value
    return None


def parse_options(options: Mapping[str, str], here: str) -> PostgresSettings:
    """Parse the options; ConfigurationError naming the key of a bad or unknown one."""
    values = read_all(OPTIONS, options, section="uws.storage.")
    raw = options.get("url", "").strip()
    if not raw:
        raise ConfigurationError(
            "uws.storage.url: required, e.g. postgresql+psycopg://uws@127.0.0.1:5432/uws"
        )
    url = parse_url(raw)
    password = read_password(options, here, url)
    if password is not None:
        url = url.set(password=password)
    return PostgresSettings(
        url=url,
        pool_size=values["pool_size"],
        max_overflow=values["max_overflow"],
        pool_timeout=values["pool_timeout"],
        connect_timeout=values["connect_timeout"],
        auto_migrate=values["auto_migrate"],
    )
