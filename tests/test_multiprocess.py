"""Several server processes, one PostgreSQL database: WAIT, visibility and background work."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from lxml import etree
from sqlalchemy.engine import make_url

from uws_postgres.locks import NAMESPACE
from uws_postgres.testing import (  # noqa: F401  (fixtures)
    admin_connection,
    postgres_admin_url,
    temporary_database,
)
from uws_pyramid.scripts import admin

ROOT = Path(__file__).resolve().parents[1]
NS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0"}
FINAL = {"COMPLETED", "ERROR", "ABORTED", "ARCHIVED"}

INI = """[app:main]
use = egg:uws-pyramid
{settings}

[server:main]
use = egg:waitress#main
listen = 127.0.0.1:{port}
threads = 16

[loggers]
keys = root
[handlers]
keys = file
[formatters]
keys = generic
[logger_root]
level = WARN
handlers = file
[handler_file]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic
[formatter_generic]
format = %(asctime)s %(levelname)s [%(name)s] %(message)s
"""


@dataclass
class Server:
    """One pserve process; ``call`` makes one request and never follows redirects."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def call(
        self, method: str, path: str, form: dict[str, str] | None = None, timeout: float = 60
    ) -> tuple[int, str, bytes]:
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
    port = free_port()
    ini = tmp / f"{name}.ini"
    ini.write_text(INI.format(settings="\n".join(f"{k} = {v}" for k, v in settings.items()),
                              port=port))
    log = tmp / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "pserve"), str(ini)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp)
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
        yield Server(proc, port, log)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@contextmanager
def two_servers(admin_url: str, tmp: Path, **extra: str) -> Iterator[tuple[Server, Server]]:
    """Processes A and B on one new database and one job directory, as in production."""
    with temporary_database(admin_url) as url:
        settings = {
            "uws.storage": "postgres",
            "uws.storage.url": url,
            "uws.manager": "local",
            "uws.manager.max_running": "8",
            "uws.jdl_dir": str(ROOT / "jdl"),
            "uws.workdir": str(tmp / "jobs"),
            "uws.wait.max": "60",
            "uws.wait.max_waiters": "12",
            **extra,
        }
        (tmp / "migrate.ini").write_text(INI.format(
            settings="\n".join(f"{k} = {v}" for k, v in settings.items()), port=0))
        assert admin.main(["migrate", str(tmp / "migrate.ini")]) == 0  # what operators run
        with ExitStack() as stack:
            a = stack.enter_context(server("a", settings, tmp))
            b = stack.enter_context(server("b", settings, tmp))
            yield a, b


@pytest.fixture(scope="module")
def servers(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[Server, Server]]:
    with two_servers(postgres_admin_url, tmp_path_factory.mktemp("multiprocess")) as pair:
        yield pair


def phase_of(body: bytes) -> str:
    node = etree.fromstring(body).find("uws:phase", NS)
    assert node is not None and node.text
    return node.text


def create(srv: Server, **form: str) -> str:
    status, location, body = srv.call("POST", "/rest/echo", form)
    assert status == 303, body
    return location.rsplit("/", 1)[1]


def wait_for_abort(waiter: Server, changer: Server) -> float:
    """Seconds from sending ABORT to process ``changer`` until a WAIT in ``waiter`` returns."""
    job_id = create(changer)
    woken: list[tuple[float, str]] = []

    def wait() -> None:
        status, _, body = waiter.call("GET", f"/rest/echo/{job_id}?WAIT=30")
        woken.append((time.monotonic(), phase_of(body) if status == 200 else str(status)))

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.3)  # let the WAIT reach the server and block
    sent = time.monotonic()
    assert changer.call("POST", f"/rest/echo/{job_id}", {"PHASE": "ABORT"})[0] == 303
    thread.join(35)
    assert woken and woken[0][1] == "ABORTED"
    return woken[0][0] - sent


def test_wait_in_one_process_wakes_on_a_change_in_the_other(servers: tuple[Server, ...]) -> None:
    a, b = servers
    latencies = [wait_for_abort(*((a, b) if n % 2 else (b, a))) for n in range(6)]
    # Polling once a second would show up as hundreds of milliseconds.
    assert max(latencies) < 0.1, latencies


def test_job_created_in_a_is_visible_runnable_deletable_in_b(servers: tuple[Server, ...]) -> None:
    a, b = servers
    job_id = create(a, message="across processes")
    status, _, body = b.call("GET", f"/rest/echo/{job_id}")
    assert status == 200 and phase_of(body) == "PENDING"
    assert b.call("POST", f"/rest/echo/{job_id}", {"PHASE": "RUN"})[0] == 303
    phase = "QUEUED"
    deadline = time.monotonic() + 30
    while phase not in FINAL and time.monotonic() < deadline:
        status, _, body = a.call("GET", f"/rest/echo/{job_id}?WAIT=10&PHASE={phase}")
        phase = phase_of(body)
    assert phase == "COMPLETED"
    assert a.call("GET", f"/rest/echo/{job_id}/results/output")[2] == b"across processes\n"
    assert b.call("DELETE", f"/rest/echo/{job_id}")[0] == 303
    assert a.call("GET", f"/rest/echo/{job_id}")[0] == 404
    assert job_id.encode() not in a.call("GET", "/rest/echo")[2]


def holders(admin_url: str, database: str) -> dict[int, set[int]]:
    """Advisory lock keys of our namespace held in ``database``, by server OS pid."""
    with admin_connection(make_url(admin_url)) as conn:
        rows = conn.execute(
            "SELECT a.application_name, l.objid FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND d.datname = %s",
            (NAMESPACE, database),
        ).fetchall()
    found: dict[int, set[int]] = {}
    for application, key in rows:
        found.setdefault(int(application.rsplit(":", 1)[1]), set()).add(key)
    return found


def test_background_tasks_run_in_one_process_and_move_when_it_dies(
    postgres_admin_url: str, tmp_path: Path
) -> None:
    with two_servers(postgres_admin_url, tmp_path, **{"uws.destruction.interval": "0.2",
                                                     "uws.reconcile_interval": "0.2"}) as (a, b):
        url = (tmp_path / "migrate.ini").read_text().split("uws.storage.url = ")[1].split()[0]
        database = str(make_url(url).database)
        deadline = time.monotonic() + 10
        while len(found := holders(postgres_admin_url, database)) != 1 or len(
                next(iter(found.values()))) != 2:
            assert time.monotonic() < deadline, found  # both tasks, in one process
            time.sleep(0.1)
        leader = next(iter(found))
        assert leader in (a.proc.pid, b.proc.pid)
        other = b if leader == a.proc.pid else a
        os.kill(leader, signal.SIGKILL)  # a crash: no clean shutdown
        while set(found := holders(postgres_admin_url, database)) != {other.proc.pid}:
            assert time.monotonic() < deadline + 10, found
            time.sleep(0.1)
        job_id = create(other)
        assert other.call("GET", f"/rest/echo/{job_id}")[0] == 200


@pytest.mark.slow
def test_load_through_both_processes(servers: tuple[Server, ...]) -> None:
    """8 clients create, run, wait on and delete echo jobs through A and B alternately."""
    seconds = float(os.environ.get("UWS_LOAD_SECONDS", "15"))
    clients, wait = 8, 5
    statuses: Counter[int] = Counter()
    created: list[str] = []
    kept: list[str] = []
    finals: Counter[str] = Counter()
    late: list[float] = []
    woken: list[float] = []
    failures: list[str] = []
    end = time.monotonic() + seconds

    def call(srv: Server, method: str, path: str, form: dict[str, str] | None = None
             ) -> tuple[int, str, bytes]:
        status, location, body = srv.call(method, path, form)
        statuses[status] += 1
        return status, location, body

    def client(n: int) -> None:
        i = 0
        while time.monotonic() < end:
            one, two = (servers[0], servers[1]) if (n + i) % 2 else (servers[1], servers[0])
            message = f"client {n} job {i}"
            status, location, _ = call(one, "POST", "/rest/echo",
                                       {"message": message, "PHASE": "RUN"})
            if status != 303:
                failures.append(f"create: {status}")
                continue
            job_id = location.rsplit("/", 1)[1]
            created.append(job_id)
            phase = "QUEUED"
            while phase not in FINAL:
                started = time.monotonic()
                status, _, body = call(two, "GET", f"/rest/echo/{job_id}?WAIT={wait}&PHASE={phase}")
                took = time.monotonic() - started
                if took > wait + 1:
                    late.append(took)
                if status != 200:
                    failures.append(f"wait on {job_id}: {status}")
                    break
                new = phase_of(body)
                if new != phase:
                    woken.append(took)
                phase = new
            finals[phase] += 1
            if call(one, "GET", f"/rest/echo/{job_id}/results/output")[2] != f"{message}\n".encode():
                failures.append(f"result of {job_id}")
            if i % 5 == 0:
                kept.append(job_id)
            elif call(two, "DELETE", f"/rest/echo/{job_id}")[0] != 303 or call(
                    one, "GET", f"/rest/echo/{job_id}")[0] != 404:
                failures.append(f"delete of {job_id}")
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for srv in servers:
        body = srv.call("GET", "/rest/echo")[2]
        refs = etree.fromstring(body).findall("uws:jobref", NS)
        ids = [r.get("id") for r in refs]
        assert len(ids) == len(set(ids)), "a job is listed twice"
        assert set(kept) <= set(ids), "a kept job is lost"
        assert not set(created) - set(kept) & set(ids), "a deleted job came back"
        assert all(phase_of(etree.tostring(r)) in FINAL for r in refs), "a job is still active"
    assert len(created) == len(set(created))
    print(f"\n{seconds:.0f} s, {clients} clients, 2 processes: {len(created)} jobs "
          f"({len(created) / seconds:.1f}/s), {sum(statuses.values())} requests, "
          f"statuses {dict(statuses)}, final phases {dict(finals)}; WAIT woken after "
          f"median {statistics.median(woken or [0]) * 1000:.0f} ms, "
          f"max {max(woken or [0]) * 1000:.0f} ms; late WAITs {len(late)}")
    assert not failures, failures[:10]
    assert not [s for s in statuses if s >= 500]
    assert finals.keys() <= {"COMPLETED"}, finals
    assert not late
