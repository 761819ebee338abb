"""Test helpers: temporary PostgreSQL databases, and the one rule for a missing server."""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url

#: The server the tests use (trust auth on this machine; CI starts it in .ci/run).
ADMIN_URL = os.environ.get(
    "UWS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def require_services() -> bool:
    """In CI a missing service is a failure, never a skip (same rule as tests/conftest.py)."""
    return os.environ.get("UWS_REQUIRE_SERVICES") == "1"


def libpq_params(url: URL) -> dict[str, Any]:
    params = {"host": url.host, "port": url.port, "user": url.username,
              "password": url.password, "dbname": url.database}
    return {k: v for k, v in params.items() if v is not None}


def admin_connection(url: URL, timeout: int = 5) -> psycopg.Connection:
    return psycopg.connect(**libpq_params(url), autocommit=True, connect_timeout=timeout)


@contextmanager
def temporary_database(admin_url: str | URL = ADMIN_URL) -> Iterator[str]:
    """Create an empty database with a random name; yield its URL; drop it afterwards."""
    admin = make_url(admin_url)
    name = f"uws_test_{secrets.token_hex(6)}"
    with admin_connection(admin) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin_connection(admin) as conn:
            # FORCE: a server process killed by a test may have left a session behind.
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The URL of a reachable server. Without one: skip, or fail when UWS_REQUIRE_SERVICES=1.
    Every PostgreSQL test depends on this fixture, so the rule lives here only."""
    url = make_url(ADMIN_URL)
    try:
        with admin_connection(url, timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        message = (
            f"PostgreSQL unreachable at {url.render_as_string(hide_password=True)} "
            f"(set UWS_TEST_POSTGRES_URL): {str(exc).strip()}"
        )
        if require_services():
            pytest.fail(message)
        pytest.skip(message)
    return ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test (no schema: the test migrates it)."""
    with temporary_database(postgres_admin_url) as url:
        yield url
