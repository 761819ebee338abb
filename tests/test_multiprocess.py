"""Several server processes, one PostgreSQL database: WAIT, visibility and background work."""

from __future__ import annotations

import os
import signal
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy.engine import make_url

from uws_postgres.locks import NAMESPACE
from uws_postgres.testing import (  # noqa: F401  (fixtures)
    Server,
    admin_connection,
    postgres_admin_url,
    two_servers,
)

pytestmark = [pytest.mark.postgres, pytest.mark.live]

JDL = Path(__file__).resolve().parents[1] / "jdl"
NS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0"}
FINAL = {"COMPLETED", "ERROR", "ABORTED", "ARCHIVED"}


@pytest.fixture(scope="module")
def servers(
    postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    with two_servers(postgres_admin_url, JDL, tmp_path_factory.mktemp("multiprocess")) as pair:
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
    wait_for_abort(a, b), wait_for_abort(b, a)  # warm-up: first requests, pooled connections
    # Each figure is an upper bound: it includes the ABORT request itself.
    latencies = [wait_for_abort(*((a, b) if n % 2 else (b, a))) for n in range(6)]
    # Polling once a second would put most of them in the hundreds of milliseconds; the median
    # (not the max) keeps one request delayed by a loaded machine from failing the test.
    assert sorted(latencies)[len(latencies) // 2] < 0.1, latencies


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


def leader(admin_url: str, database: str, among: set[int], timeout: float = 10) -> int:
    """The pid, one of ``among``, of the one server that holds both background tasks' locks
    (a killed server's session lingers until PostgreSQL notices: wait for it to go)."""
    deadline = time.monotonic() + timeout
    while True:
        found = holders(admin_url, database)
        if len(found) == 1 and set(found) <= among and len(next(iter(found.values()))) == 2:
            return next(iter(found))
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def test_background_tasks_run_in_one_process_and_move_when_it_dies(
    postgres_admin_url: str, tmp_path: Path
) -> None:
    fast = {"uws.destruction.interval": "0.2", "uws.reconcile_interval": "0.2"}
    with two_servers(postgres_admin_url, JDL, tmp_path, **fast) as (a, b):
        database = str(make_url(a.settings["uws.storage.url"]).database)
        first = leader(postgres_admin_url, database, {a.proc.pid, b.proc.pid})
        other = b if first == a.proc.pid else a
        os.kill(first, signal.SIGKILL)  # a crash: no clean shutdown, no unlock
        assert leader(postgres_admin_url, database, {other.proc.pid}) == other.proc.pid
        job_id = create(other)
        assert other.call("GET", f"/rest/echo/{job_id}")[0] == 200


@dataclass
class Tally:
    """What the load test's clients saw; ``add`` and ``count`` are safe from any thread."""

    statuses: Counter[int] = field(default_factory=Counter)
    finals: Counter[str] = field(default_factory=Counter)
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    woken: list[float] = field(default_factory=list)
    late: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(
        self, srv: Server, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str, bytes]:
        status, location, body = srv.call(method, path, form)
        with self.lock:
            self.statuses[status] += 1
        return status, location, body


def one_job(tally: Tally, one: Server, two: Server, message: str, keep: bool, wait: int) -> None:
    """Create and run through ``one``, WAIT through ``two`` until the end, check the result
    through ``one``, delete through ``two`` (unless kept)."""
    status, location, _ = tally.call(
        one, "POST", "/rest/echo", {"message": message, "PHASE": "RUN"}
    )
    if status != 303:
        tally.failures.append(f"create: {status}")
        return
    job_id = location.rsplit("/", 1)[1]
    tally.created.append(job_id)
    phase = "QUEUED"
    while phase not in FINAL:
        started = time.monotonic()
        status, _, body = tally.call(two, "GET", f"/rest/echo/{job_id}?WAIT={wait}&PHASE={phase}")
        took = time.monotonic() - started
        if took > wait + 1:
            tally.late.append(took)
        if status != 200:
            tally.failures.append(f"WAIT on {job_id}: {status}")
            return
        new = phase_of(body)
        if new != phase:
            tally.woken.append(took)
        phase = new
    with tally.lock:
        tally.finals[phase] += 1
    if tally.call(one, "GET", f"/rest/echo/{job_id}/results/output")[2] != f"{message}\n".encode():
        tally.failures.append(f"result of {job_id}")
    if keep:
        tally.kept.append(job_id)
    elif (
        tally.call(two, "DELETE", f"/rest/echo/{job_id}")[0] != 303
        or tally.call(one, "GET", f"/rest/echo/{job_id}")[0] != 404
    ):
        tally.failures.append(f"delete of {job_id}")


@pytest.mark.slow
def test_load_through_both_processes(servers: tuple[Server, Server]) -> None:
    """8 clients create, run, wait on and delete echo jobs through A and B alternately; every
    fifth job is kept, to find lost or duplicated jobs in the lists at the end."""
    seconds = float(os.environ.get("UWS_LOAD_SECONDS", "15"))
    clients, tally = 8, Tally()
    end = time.monotonic() + seconds

    def client(n: int) -> None:
        i = 0
        try:
            while time.monotonic() < end:
                one, two = servers if (n + i) % 2 else servers[::-1]
                one_job(tally, one, two, f"client {n} job {i}", keep=i % 5 == 0, wait=5)
                i += 1
        except Exception as exc:  # reported with the others below
            tally.failures.append(f"client {n}: {exc!r}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deleted = set(tally.created) - set(tally.kept)
    for srv in servers:
        refs = etree.fromstring(srv.call("GET", "/rest/echo")[2]).findall("uws:jobref", NS)
        ids = [r.get("id") for r in refs]
        assert len(ids) == len(set(ids)), "a job is listed twice"
        assert set(tally.kept) <= set(ids), "a job is lost"
        assert not deleted & set(ids), "a deleted job is listed"
        assert all(phase_of(etree.tostring(r)) in FINAL for r in refs), "a job is still active"
    assert len(tally.created) == len(set(tally.created))
    print(
        f"\n{seconds:.0f} s, {clients} clients, 2 processes: {len(tally.created)} jobs "
        f"({len(tally.created) / seconds:.1f}/s), {sum(tally.statuses.values())} requests, "
        f"statuses {dict(tally.statuses)}, final phases {dict(tally.finals)}; WAIT woken "
        f"after median {statistics.median(tally.woken or [0]) * 1000:.0f} ms, max "
        f"{max(tally.woken or [0]) * 1000:.0f} ms; late WAITs {len(tally.late)}"
    )
    assert not tally.failures, tally.failures[:10]
    assert not [s for s in tally.statuses if s >= 500]
    assert tally.finals.keys() <= {"COMPLETED"}, tally.finals
    assert not tally.late, tally.late
