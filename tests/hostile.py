"""Helpers for hostile-client tests and the hostile-load bench: a ``pserve`` process with the
shipped ini's waitress settings, raw HTTP requests, and what the server process holds."""

from __future__ import annotations

import base64
import configparser
import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from uws_pyramid.testing import write_ini

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "alice-secret-1"


def shipped_server_options(ini: str = "development.ini") -> dict[str, str]:
    """The server options of a shipped ini file (waitress's, for the shipped runner), but
    where it listens."""
    parser = configparser.RawConfigParser()
    parser.read(ROOT / ini)
    return {k: v for k, v in parser.items("server:main") if k not in ("use", "listen")}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base: str
    port: int
    pid: int

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def add_alice(here: Path) -> None:
    """The account "alice" in the SQLite database the server will open."""
    from uws_pyramid.accounts import Account
    from uws_pyramid.auth import Authenticator
    from uws_sqlite.storage import SQLiteStorage

    storage = SQLiteStorage.from_settings({"path": "uws.sqlite"}, str(here))
    try:
        accounts = storage.accounts()
        accounts.add(Account("alice", Authenticator(accounts).hash_password(PASSWORD)))
    finally:
        storage.close()


@contextmanager
def pserve(
    here: Path, app: Mapping[str, str] = {}, server: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """``pserve`` in its own process on a free port, with the account alice; the waitress
    options of development.ini unless ``server`` says otherwise."""
    add_alice(here)
    settings = {
        "uws.storage": "sqlite",
        "uws.storage.path": "uws.sqlite",
        "uws.manager": "local",
        "uws.jdl_dir": str(ROOT / "jdl"),
        "uws.workdir": "jobs",
        "uws.auth.anonymous": "false",
        **app,
    }
    options = shipped_server_options() if server is None else server
    port = free_port()
    ini = write_ini(here / "server.ini", settings, port, server=options)
    proc = subprocess.Popen([str(BIN / "pserve"), str(ini)], cwd=here)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("pserve did not start") from None
                time.sleep(0.05)
        yield Server(f"http://127.0.0.1:{port}", port, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def basic(user: str = "alice", password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    source: str | None = None,
) -> tuple[int, bytes]:
    """One request on its own connection, closed after."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0) if source else None
    )
    try:
        conn.request(method, path, body=body, headers={"Connection": "close", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


BOUNDARY = "hostile-boundary-1"


def multipart_bomb(parts: int, size: int = 1) -> tuple[bytes, dict[str, str]]:
    """A multipart body of ``parts`` file parts of ``size`` bytes each, and its header."""
    content = b"x" * size
    chunks = []
    for n in range(parts):
        chunks.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f{n}"; filename="f{n}"'
            f"\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
        )
        chunks.append(content + b"\r\n")
    chunks.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(chunks), {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def idle_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that send half a request and then nothing (slowloris)."""
    held = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        held.append(s)
    return held


def latency(port: int, path: str = "/availability", timeout: float = 30.0) -> float:
    """Seconds for a normal client's GET (an error if it is not 200)."""
    t0 = time.perf_counter()
    status, _ = request(port, "GET", path, timeout=timeout)
    assert status == 200, status
    return time.perf_counter() - t0
