"""Fault injection under load: PostgreSQL outages, servers killed or stopped, job processes killed.

Real parts only: a private PostgreSQL instance that the tests stop and start, two ``pserve``
processes sharing it, the local manager running real job processes. Each scenario prints one
``FAULTS`` line of figures (requests answered 503/500, jobs lost/stuck/duplicated, recovery
time)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree

from uws_local.recovery import _group_members
from uws_postgres.testing import Server, require_services, server, temporary_database
from uws_pyramid.scripts import admin
from uws_pyramid.testing import wait_for, write_ini

from .harness import FINAL, JDL, Load, PrivatePostgres, private_postgres, settle

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.live]

NS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0"}


@pytest.fixture(scope="module")
def pg() -> Iterator[PrivatePostgres]:
    try:
        with private_postgres() as instance:
            yield instance
    except FileNotFoundError as exc:
        if require_services():
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@contextmanager
def deployment(
    pg: PrivatePostgres, tmp: Path, count: int = 2, **extra: str
) -> Iterator[tuple[list[Server], dict[str, str], str]]:
    """``count`` server processes on one new database of ``pg``; yields them, their settings
    and the database's name."""
    with temporary_database(pg.admin_url) as url:
        settings = {
            "uws.storage": "postgres",
            "uws.storage.url": url,
            "uws.storage.connect_timeout": "2",
            "uws.storage.pool_timeout": "5",
            "uws.manager": "local",
            "uws.manager.max_running": "4",
            "uws.jdl_dir": str(JDL),
            "uws.auth.anonymous": "true",
            "uws.workdir": str(tmp / "jobs"),
            "uws.reconcile_interval": "2",
            "uws.wait.max": "10",
            "uws.wait.max_waiters": "12",
            **extra,
        }
        assert admin.main(["migrate", str(write_ini(tmp / "migrate.ini", settings))]) == 0
        with ExitStack() as stack:
            servers = [stack.enter_context(server(name, settings, tmp)) for name in "ab"[:count]]
            yield servers, settings, url.rsplit("/", 1)[1]


def job_xml(srv: Server, job_id: str) -> etree._Element:
    status, _, body = srv.call("GET", f"/rest/audit/{job_id}")
    assert status == 200, body
    return etree.fromstring(body)


def phase(srv: Server, job_id: str) -> str:
    return str(job_xml(srv, job_id).findtext("uws:phase", namespaces=NS))


def create(srv: Server, seconds: int) -> str:
    status, location, body = srv.call(
        "POST", "/rest/audit", {"PHASE": "RUN", "seconds": str(seconds)}
    )
    assert status == 303, body
    return location.rsplit("/", 1)[1]


def wrapper_of(workdir: Path, job_id: str) -> dict[str, int]:
    path = workdir / job_id / ".uws" / "wrapper.json"
    return wait_for(lambda: path.exists() and json.loads(path.read_text()), 10)


def test_an_outage_frees_no_slot_and_loses_no_end(pg: PrivatePostgres, tmp_path: Path) -> None:
    """Issue 12, item 1: one slot, a 4 s job running and one queued, the database down for
    6 s across the first job's end: both complete once it is back, none waits forever."""
    with deployment(pg, tmp_path, count=1, **{"uws.manager.max_running": "1"}) as (
        servers,
        _,
        database,
    ):
        srv = servers[0]
        running, queued = create(srv, 4), create(srv, 0)
        wait_for(lambda: phase(srv, running) == "EXECUTING", 10)
        pg.stop()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            conn.request("GET", f"/rest/audit/{running}")
            response = conn.getresponse()
            body = response.read()
            assert response.status == 503, body
            assert response.getheader("Retry-After") == "5"
            assert b"cannot be reached" in body
            time.sleep(6)
        finally:
            back = time.monotonic()
            pg.start()
        wait_for(lambda: pg.phases(database) == {running: "COMPLETED", queued: "COMPLETED"}, 20)
        print(
            f"FAULTS one slot, postgres down 6 s: both jobs COMPLETED "
            f"{time.monotonic() - back:.1f} s after its restart began"
        )
        assert "recording its end failed" in srv.log.read_text()  # the fault did hit the end


@pytest.mark.parametrize("seconds", [2, 10])
def test_postgres_outage_under_load(pg: PrivatePostgres, tmp_path: Path, seconds: int) -> None:
    with deployment(pg, tmp_path) as (servers, _, database):
        load = Load(servers)
        load.start()
        time.sleep(3)
        load.window.set()
        pg.stop()
        time.sleep(seconds)
        pg.start()
        ended = time.monotonic()
        time.sleep(1)
        load.window.clear()
        time.sleep(2)
        load.stop()
        audit = settle(
            f"postgres down {seconds} s",
            lambda: pg.phases(database),
            tmp_path / "jobs",
            load,
            ended,
        )
        audit.check()
        assert load.during["503"] > 0  # the outage was seen, as 503
        for srv in servers:  # both processes still serve, and still run jobs
            job_id = create(srv, 0)
            wait_for(lambda: phase(srv, job_id) in FINAL, 15)
            assert phase(srv, job_id) == "COMPLETED"


def test_servers_killed_and_stopped_under_load(pg: PrivatePostgres, tmp_path: Path) -> None:
    with deployment(pg, tmp_path) as (servers, settings, database), ExitStack() as later:
        a, b = servers
        load = Load(servers, seconds=1)
        load.start()
        time.sleep(3)
        # kill -9 of A: its jobs keep running; B takes them over.
        load.window.set()
        a.proc.kill()
        a.proc.wait()
        time.sleep(1)
        a2 = later.enter_context(server("a2", settings, tmp_path))
        load.servers[0] = a2
        # SIGTERM of B: graceful, bounded, logged.
        stopping = time.monotonic()
        b.proc.send_signal(signal.SIGTERM)
        b.proc.wait(timeout=30)
        took = time.monotonic() - stopping
        assert "SIGTERM: stopping" in b.log.read_text()
        assert "stopped in" in b.log.read_text()
        b2 = later.enter_context(server("b2", settings, tmp_path))
        load.servers[1] = b2
        ended = time.monotonic()
        time.sleep(1)
        load.window.clear()
        time.sleep(2)
        load.stop()
        audit = settle(
            "server kill -9 and SIGTERM",
            lambda: pg.phases(database),
            tmp_path / "jobs",
            load,
            ended,
        )
        print(f"FAULTS SIGTERM: server exited {took:.2f} s after the signal")
        audit.check()
        assert took < 12


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_job_processes_killed(pg: PrivatePostgres, tmp_path: Path, sandbox: str) -> None:
    workdir = tmp_path / "jobs"
    with (
        deployment(pg, tmp_path, count=1, **{"uws.manager.sandbox": sandbox}) as (
            servers,
            settings,
            _,
        ),
        ExitStack() as later,
    ):
        srv = servers[0]
        # kill -9 of a script: ERROR, and what it left in its group is killed.
        job_id = create(srv, 60)
        wrapper = wrapper_of(workdir, job_id)
        script = wait_for(
            lambda: [p for p in _group_members(wrapper["pgid"]) if p != wrapper["pid"]], 10
        )
        os.kill(script[0], signal.SIGKILL)
        wait_for(lambda: phase(srv, job_id) in FINAL, 10)
        assert phase(srv, job_id) == "ERROR"
        wait_for(lambda: not _group_members(wrapper["pgid"]), 5)
        # kill -9 of the wrapper (the server's child): ERROR, its script killed too.
        job_id = create(srv, 60)
        wrapper = wrapper_of(workdir, job_id)
        wait_for(lambda: len(_group_members(wrapper["pgid"])) > 1, 10)
        os.kill(wrapper["pid"], signal.SIGKILL)
        wait_for(lambda: phase(srv, job_id) in FINAL, 10)
        assert phase(srv, job_id) == "ERROR"
        wait_for(lambda: not _group_members(wrapper["pgid"]), 5)
        # After a restart: a job that ended meanwhile keeps its own endTime; a re-adopted
        # job whose wrapper is killed ends, and its script with it.
        short, adopted = create(srv, 1), create(srv, 60)
        wrapper = wrapper_of(workdir, adopted)
        wrapper_of(workdir, short)
        srv.proc.kill()
        srv.proc.wait()
        time.sleep(3)  # the short job ends while no server runs
        restarted = datetime.now().astimezone()
        srv = later.enter_context(server("a2", settings, tmp_path))
        wait_for(lambda: phase(srv, short) in FINAL, 10)
        end = job_xml(srv, short).findtext("uws:endTime", namespaces=NS)
        assert end is not None
        assert (
            restarted - datetime.fromisoformat(end.replace("Z", "+00:00"))
        ).total_seconds() > 1.5, end
        time.sleep(1)  # adopted by now
        assert phase(srv, adopted) == "EXECUTING"
        os.kill(wrapper["pid"], signal.SIGKILL)
        wait_for(lambda: phase(srv, adopted) in FINAL, 10)
        assert phase(srv, adopted) == "ERROR"
        wait_for(lambda: not _group_members(wrapper["pgid"]), 5)
        if sandbox == "none":
            # Recovery killed what the wrapper left. In the sandbox there is nothing left to
            # kill: bubblewrap takes the script down with the wrapper (--die-with-parent).
            assert "dead wrapper left behind" in srv.log.read_text()
        print(
            "FAULTS job processes: script and wrapper kill -9, re-adopted wrapper kill -9: "
            "ERROR, no process left; endTime from exit.json after a restart"
        )
