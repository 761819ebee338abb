"""The ``uws.storage.*`` settings of the PostgreSQL storage, checked once at start-up."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from uws_pyramid.errors import ConfigurationError

log = logging.getLogger(__name__)

T = TypeVar("T")

DRIVER = "postgresql+psycopg"
KNOWN = (
    "url password_env password_file pool_size max_overflow pool_timeout connect_timeout "
    "auto_migrate"
).split()
BOOLEANS = {"true": True, "yes": True, "on": True, "1": True,
            "false": False, "no": False, "off": False, "0": False}


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

    def connect_args(self) -> dict[str, Any]:
        """Extra libpq parameters of every connection, the pool's and the dedicated ones."""
        args: dict[str, Any] = {"connect_timeout": self.connect_timeout}
        if "application_name" not in self.url.query:
            # pg_stat_activity then tells which server process holds a connection (or a lock).
            args["application_name"] = f"uws-pyramid:{os.getpid()}"
        return args


def _option(
    options: Mapping[str, str], key: str, default: T, parse: Callable[[str], T], expected: str
) -> T:
    raw = options.get(key, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except (ValueError, KeyError):
        raise ConfigurationError(f"uws.storage.{key} = {raw!r}: expected {expected}") from None


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise ValueError(text)
        return value

    return parse


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


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
    given = [k for k, v in (("url", url.password), ("password_env", env),
                            ("password_file", file)) if v]
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
    for key in options:
        if key not in KNOWN:
            raise ConfigurationError(
                f"uws.storage.{key}: unknown setting of the postgres storage "
                f"(known: {', '.join(KNOWN)})"
            )
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
        pool_size=_option(options, "pool_size", 8, _at_least(1), "an integer >= 1"),
        max_overflow=_option(options, "max_overflow", 8, _at_least(0), "an integer >= 0"),
        pool_timeout=_option(options, "pool_timeout", 30.0, _positive, "seconds (a number > 0)"),
        connect_timeout=_option(
            options, "connect_timeout", 10, _at_least(1), "seconds (an integer >= 1)"
        ),
        auto_migrate=_option(
            options, "auto_migrate", False, lambda t: BOOLEANS[t.lower()], "true or false"
        ),
    )
