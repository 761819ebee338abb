"""Fault-injection helpers: a private PostgreSQL, client load, and the audit of every job."""

from __future__ import annotations

import glob
import http.client
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode

import psycopg

from uws_postgres.testing import Server, free_port

JDL = Path(__file__).resolve().parent / "jdl"
FINAL = {"COMPLETED", "ERROR", "ABORTED", "ARCHIVED"}


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"{name}: no /usr/lib/postgresql/*/bin/{name}")
    return found[-1]


class PrivatePostgres:
    """A PostgreSQL instance of our own (initdb + pg_ctl in a temporary folder on a free
    port), so that stopping it hurts no one else."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="uws-faults-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.getuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.dir, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.as_user, *argv], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(
            _pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
        )

    def start(self) -> None:
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            f"-c fsync=off -c max_connections=200",
            "start",
        )

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def phases(self, database: str) -> dict[str, str]:
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True
        ) as conn:
            return dict(conn.execute("SELECT job_id, phase FROM uws_jobs").fetchall())

    def destroy(self) -> None:
        try:
            self.stop()
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.destroy()


class Endpoint(Protocol):
    port: int


@dataclass
class Load:
    """Clients that create jobs with PHASE=RUN and WAIT on them, against several servers;
    every answer is counted by status (``refused``: no server listened; ``cut``: the
    connection broke during the request)."""

    servers: list[Server] | list[Endpoint]
    seconds: int = 1
    clients: int = 3
    statuses: Counter[str] = field(default_factory=Counter)
    created: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: Statuses counted only while ``window`` is set (the outage itself).
    window: threading.Event = field(default_factory=threading.Event)
    during: Counter[str] = field(default_factory=Counter)
    #: The longest time a creation (POST) took, in seconds.
    slowest: float = 0.0
    stopped: float = 0.0

    def _call(
        self, srv: Endpoint, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        try:
            body = urlencode(form).encode() if form is not None else None
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status, response.getheader("Location") or ""
        finally:
            conn.close()

    def _count(self, status: str) -> None:
        with self._lock:
            self.statuses[status] += 1
            if self.window.is_set():
                self.during[status] += 1

    def _client(self, n: int) -> None:
        rng = random.Random(n)
        while not self._stop.is_set():
            srv = rng.choice(self.servers)
            started = time.monotonic()
            try:
                if self.created and rng.random() < 0.4:
                    job_id = rng.choice(sorted(self.created))
                    status, _ = self._call(srv, "GET", f"/rest/audit/{job_id}?WAIT=2")
                    started = time.monotonic()  # a WAIT is slow on purpose: not counted
                else:
                    status, location = self._call(
                        srv, "POST", "/rest/audit", {"PHASE": "RUN", "seconds": str(self.seconds)}
                    )
                    if status == 303:
                        with self._lock:
                            self.created.add(location.rsplit("/", 1)[1])
                self._count(str(status))
                with self._lock:
                    self.slowest = max(self.slowest, time.monotonic() - started)
            except ConnectionRefusedError:
                self._count("refused")  # no server listens (killed, or restarting)
                time.sleep(0.1)
            except (OSError, http.client.HTTPException):
                self._count("cut")  # the connection broke during the request
                time.sleep(0.1)
            time.sleep(rng.uniform(0.02, 0.1))

    def start(self) -> None:
        for n in range(self.clients * len(self.servers)):
            thread = threading.Thread(target=self._client, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=40)
        self.stopped = time.monotonic()


@dataclass
class Audit:
    """What happened to every job, after recovery."""

    scenario: str
    lost: list[str]
    stuck: dict[str, str]
    duplicated: list[str]
    pending: list[str]
    recovery: float
    after_load: float
    statuses: Counter[str]
    during: Counter[str]
    jobs: int

    def figures(self) -> str:
        return (
            f"FAULTS {self.scenario}: jobs {self.jobs}, requests {dict(self.statuses)}, "
            f"during the fault {dict(self.during)}; 503: {self.statuses['503']}, "
            f"500: {self.statuses['500']}; lost {len(self.lost)}, stuck {len(self.stuck)}, "
            f"duplicated {len(self.duplicated)}, pending {len(self.pending)}; "
            f"every job final {self.recovery:.1f} s after the fault ended "
            f"({self.after_load:.1f} s after the load stopped)"
        )

    def check(self) -> None:
        print(self.figures())
        assert self.statuses["500"] == 0, self.figures()
        assert not self.lost, f"lost: {self.lost}"
        assert not self.stuck, f"stuck: {self.stuck}"
        assert not self.duplicated, f"run twice: {self.duplicated}"
        assert not self.pending, f"PENDING though created with PHASE=RUN: {self.pending}"


def runs(workdir: Path, job_id: str) -> int:
    """How many times the job's script started (its audit log)."""
    try:
        return (workdir / job_id / "runs.log").read_text().count("start ")
    except FileNotFoundError:
        return 0


def settle(
    scenario: str,
    phases_of: Callable[[], dict[str, str]],
    workdir: Path,
    load: Load,
    fault_ended: float,
    timeout: float = 90,
) -> Audit:
    """Wait until every job is final (or ``timeout``), then audit them all; ``phases_of``
    reads every job's phase from the storage itself."""
    deadline = time.monotonic() + timeout
    phases: dict[str, str] = {}
    while time.monotonic() < deadline:
        try:
            phases = phases_of()
        except Exception:  # the database may still be coming back
            time.sleep(0.5)
            continue
        if all(p in FINAL for p in phases.values()) and load.created <= set(phases):
            break
        time.sleep(0.2)
    now = time.monotonic()
    recovery, after_load = now - fault_ended, now - load.stopped
    return Audit(
        scenario=scenario,
        lost=sorted(load.created - set(phases)),
        stuck={j: p for j, p in phases.items() if p not in FINAL},
        duplicated=[j for j in phases if runs(workdir, j) > 1],
        pending=[j for j, p in phases.items() if p == "PENDING"],
        recovery=recovery,
        after_load=after_load,
        statuses=load.statuses,
        during=load.during,
        jobs=len(phases),
    )
