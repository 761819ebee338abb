"""Fault injection: SLURM's controller out of reach for 30 s while jobs are submitted.

Two ways: the controller really stopped (SIGTERM to slurmctld, started again afterwards by
tests/slurm/start-slurm.sh, as CI started it), and the controller unreachable from this server
only: its SLURM commands read a private copy of slurm.conf (``SLURM_CONF``) pointed at a closed
port, so the real sbatch and squeue fail as when the controller is down ("Unable to contact
slurm controller (connect failure)") while jobs already on the node run on."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid import main
from uws_pyramid.testing import serve

from .harness import JDL, Load, settle

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugins" / "uws_slurm" / "tests"))
from conftest import cluster, cluster_problem, stop  # noqa: E402,F401  (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.slurm, pytest.mark.live]

SLURM_CONF = Path("/etc/slurm/slurm.conf")
OUTAGE = 30.0


def closed_port() -> int:
    """A port on which nothing listens (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def private_conf(cluster: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    conf = tmp_path / "slurm.conf"
    conf.write_text(SLURM_CONF.read_text())
    monkeypatch.setenv("SLURM_CONF", str(conf))
    return conf


@pytest.fixture
def slurm_server(private_conf: Path, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    holder: dict[str, Any] = {}

    def wsgi(environ: Any, start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    with serve(wsgi, threads=16) as url:
        holder["app"] = main(
            {"here": str(tmp_path)},
            **{
                "uws.storage": "sqlite",
                "uws.storage.path": "uws.sqlite",
                "uws.manager": "slurm",
                "uws.manager.poll_interval": "0.5",
                "uws.manager.submit_retry": "120",
                "uws.jdl_dir": str(JDL),
                "uws.auth.anonymous": "true",
                "uws.workdir": "jobs",
                "uws.wait.max": "10",
                "uws.base_url": url,
            },
        )
        try:
            yield holder["app"], url
        finally:
            stop(holder["app"])


class Endpoint:
    def __init__(self, url: str) -> None:
        self.port = int(url.rsplit(":", 1)[1])


CTLD_PID = Path("/run/slurmctld.pid")


def stop_controller() -> None:
    """SIGTERM to the test cluster's slurmctld; returns once it is gone."""
    pid = int(CTLD_PID.read_text().strip())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, "slurmctld did not stop"
        time.sleep(0.2)


def start_controller() -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "tests/slurm/start-slurm.sh")],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("fault", ["stopped", "unreachable"])
def test_controller_out_of_reach_for_30_s_while_jobs_are_submitted(
    slurm_server: tuple[Any, str],
    private_conf: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    app, url = slurm_server

    def phases() -> dict[str, str]:
        with sqlite3.connect(tmp_path / "uws.sqlite") as conn:
            return dict(conn.execute("SELECT job_id, phase FROM uws_jobs").fetchall())

    def unsubmitted() -> int:
        with sqlite3.connect(tmp_path / "uws.sqlite") as conn:
            return int(
                conn.execute(
                    "SELECT count(*) FROM uws_jobs WHERE phase = 'QUEUED' AND process_id IS NULL"
                ).fetchone()[0]
            )

    original = private_conf.read_text()
    load = Load([Endpoint(url)], clients=2)
    load.start()
    try:
        time.sleep(3)
        load.window.set()
        if fault == "stopped":
            stop_controller()
        else:
            private_conf.write_text(original + f"SlurmctldPort={closed_port()}\n")
        time.sleep(OUTAGE)
        waiting = unsubmitted()
    finally:
        private_conf.write_text(original)
        if fault == "stopped":
            start_controller()
    ended = time.monotonic()
    load.window.clear()
    time.sleep(2)
    load.stop()

    audit = settle(
        f"SLURM controller {fault} {OUTAGE:.0f} s",
        phases,
        tmp_path / "jobs",
        load,
        ended,
        timeout=120,
    )
    print(
        f"FAULTS SLURM: slowest creation {load.slowest:.2f} s; {waiting} job(s) QUEUED "
        "unsubmitted when the controller came back"
    )
    audit.check()
    final = phases()
    failed = {j: p for j, p in final.items() if p != "COMPLETED"}
    assert not failed, f"a manager outage is not a job failure: {failed}"
    assert load.during["303"] > 0 and waiting > 0  # accepted during the outage, kept QUEUED
    assert "Unable to contact slurm controller" in caplog.text  # the fault was real
    assert load.slowest < 3.0  # no request waited for sbatch
    assert cluster_problem() is None  # the cluster is healthy again
