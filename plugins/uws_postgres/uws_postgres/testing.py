"""Test helpers: temporary databases, the one rule for a missing server, server processes."""

from __future__ import annotations

import http.client
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from uws_pyramid.testing import require_services, write_ini

#: The server the tests use (trust auth on this machine; CI starts it in .ci/run).
ADMIN_URL = os.environ.get(
    "UWS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def libpq_params(url: URL) -> dict[str, Any]:
    params = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
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


@dataclass
class Server:
    """One ``pserve`` process; ``call`` makes one request and never follows redirects."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    settings: dict[str, str] = field(default_factory=dict)

    def call(
        self, method: str, path: str, form: dict[str, str] | None = None, timeout: float = 60
    ) -> tuple[int, str, bytes]:
        """Status, Location header and body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            body = urlencode(form).encode() if form is not None else None
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheader("Location") or "", response.read()
        finally:
            conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(name: str, settings: dict[str, str], tmp: Path) -> Iterator[Server]:
    """``pserve`` on an ini with these settings, on a free port; its output in ``name.log``."""
    port = free_port()
    ini = write_ini(tmp / f"{name}.ini", settings, port)
    log = tmp / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "pserve"), str(ini)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server {name} did not start:\n{log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        yield Server(proc, port, log, settings)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@contextmanager
def two_servers(
    admin_url: str, jdl_dir: Path, tmp: Path, **extra: str
) -> Iterator[tuple[Server, Server]]:
    """Processes A and B on one new database and one job directory, as in production, the
    schema made first by ``uws-admin migrate`` as an operator would."""
    with temporary_database(admin_url) as url:
        settings = {
            "uws.storage": "postgres",
            "uws.storage.url": url,
            "uws.manager": "local",
            "uws.manager.max_running": "8",
            "uws.jdl_dir": str(jdl_dir),
            "uws.auth.anonymous": "true",
            "uws.workdir": str(tmp / "jobs"),
            "uws.wait.max": "60",
            "uws.wait.max_waiters": "12",
            **extra,
        }
        ini = write_ini(tmp / "migrate.ini", settings)
        migrate = [sys.executable, "-m", "uws_pyramid.scripts.admin", "migrate", str(ini)]
        if subprocess.run(migrate, check=False).returncode != 0:
            raise RuntimeError("uws-admin migrate failed")
        with ExitStack() as stack:
            a = stack.enter_context(server("a", settings, tmp))
            b = stack.enter_context(server("b", settings, tmp))
            yield a, b
