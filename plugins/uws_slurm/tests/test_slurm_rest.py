"""The SLURM manager through the REST API, on the real cluster, with and without callbacks."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import AppFactory, UWSTestApp, job_json, start, wait_phase

from uws_pyramid.testing import wait_for

#: A poll interval so long that only callbacks can explain a prompt phase change.
NO_POLLING = {"uws.manager.poll_interval": "120"}
Live = Callable[..., tuple[Any, str]]


def slurm_state(slurm_id: str) -> str:
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%T", "-j", slurm_id],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip()


def test_echo_completes_and_its_result_downloads(testapp: UWSTestApp) -> None:
    job_id = start(testapp, "echo", message="hello SLURM")
    job = wait_phase(testapp, "echo", job_id, {"COMPLETED", "ERROR"})
    assert job["phase"] == "COMPLETED", job["errorSummary"]
    assert testapp.get(f"/rest/echo/{job_id}/results/output").text == "hello SLURM\n"
    info = job["jobInfo"]
    assert info["partition"] == "debug" and info["node"] == socket.gethostname().split(".")[0]
    assert info["slurm_job_id"] == info["process_id"] and slurm_state(info["slurm_job_id"])
    show = subprocess.run(
        ["scontrol", "show", "job", "-o", info["slurm_job_id"]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"JobName=uws-echo-{job_id} " in show and f"/{job_id}/.uws/slurm.out" in show


def test_sleep_is_aborted_and_slurm_shows_cancelled(testapp: UWSTestApp, tmp_path: Path) -> None:
    job_id = start(testapp, "sleep", duration="60")
    job = wait_phase(testapp, "sleep", job_id, {"EXECUTING"})
    # Abort a script that runs (SLURM says RUNNING as soon as the batch job starts).
    wait_for(lambda: (tmp_path / "jobs" / job_id / "progress").exists(), 15)
    testapp.post(f"/rest/sleep/{job_id}/phase", {"PHASE": "ABORT"}, status=303)
    assert testapp.get(f"/rest/sleep/{job_id}/phase").text == "ABORTED"
    slurm_id = job["jobInfo"]["slurm_job_id"]
    wait_for(lambda: slurm_state(slurm_id) == "CANCELLED", 15)
    # The results made so far are kept once SLURM has ended the job.
    job = wait_for(lambda: (j := job_json(testapp, "sleep", job_id))["results"] and j, 15)
    assert job["phase"] == "ABORTED" and job["jobInfo"]["slurm_state"] == "CANCELLED"
    assert [r["id"] for r in job["results"]] == ["stdout", "stderr"]


def test_fail_ends_in_error_with_its_message(testapp: UWSTestApp) -> None:
    job_id = start(testapp, "fail", message="no such galaxy")
    job = wait_phase(testapp, "fail", job_id, {"COMPLETED", "ERROR"})
    assert job["phase"] == "ERROR"
    assert job["errorSummary"]["message"] == "no such galaxy"
    assert testapp.get(f"/rest/fail/{job_id}/error").text == "no such galaxy\n"
    assert job["jobInfo"]["slurm_state"] == "FAILED"


@pytest.mark.parametrize("mode", ["polling", "callbacks"])
def test_wait_returns_on_each_phase_change(make_app: AppFactory, live: Live, mode: str) -> None:
    app = live(**NO_POLLING)[0] if mode == "callbacks" else make_app()
    testapp = UWSTestApp(app)
    job_id = testapp.post("/rest/sleep", {"duration": "2"}).location.rsplit("/", 1)[1]
    seen = [job_json(testapp, "sleep", job_id)["phase"]]
    testapp.post(f"/rest/sleep/{job_id}/phase", {"PHASE": "RUN"}, status=303)
    seen.append(job_json(testapp, "sleep", job_id)["phase"])
    waits = []
    while seen[-1] not in ("COMPLETED", "ERROR", "ABORTED"):
        began = time.monotonic()
        seen.append(job_json(testapp, "sleep", job_id, f"?WAIT=30&PHASE={seen[-1]}")["phase"])
        waits.append((seen[-1], time.monotonic() - began))
    assert [p for i, p in enumerate(seen) if i == 0 or p != seen[i - 1]] == [
        "PENDING",
        "QUEUED",
        "EXECUTING",
        "COMPLETED",
    ]
    # Each WAIT returned at the change, long before its 30 s: EXECUTING to COMPLETED is the
    # script's 2 s plus the manager's latency.
    assert all(seconds < 5 for _, seconds in waits), waits
    assert waits[-1][0] == "COMPLETED" and waits[-1][1] > 1.0


def test_scancel_behind_the_service_s_back_ends_aborted(testapp: UWSTestApp) -> None:
    job_id = start(testapp, "sleep", duration="60")
    job = wait_phase(testapp, "sleep", job_id, {"EXECUTING"})
    subprocess.run(["scancel", job["jobInfo"]["slurm_job_id"]], check=True)
    job = wait_phase(testapp, "sleep", job_id, {"ABORTED", "ERROR", "COMPLETED"}, 15)
    assert job["phase"] == "ABORTED"
    assert "cancelled in SLURM" in job["errorSummary"]["message"]


def test_a_restarted_server_picks_up_a_job_whose_callback_was_lost(
    make_app: AppFactory, live: Live
) -> None:
    first, _ = live(**NO_POLLING)
    testapp = UWSTestApp(first)
    job_id = start(testapp, "sleep", duration="3")
    wait_phase(testapp, "sleep", job_id, {"EXECUTING"}, 10)  # by the "started" callback
    stop_without_abort = first.registry.uws.close
    stop_without_abort()
    first.closed_by_test = True  # its "ended" callback now fails: the server is "down"
    second = UWSTestApp(make_app())
    job = wait_phase(second, "sleep", job_id, {"COMPLETED", "ERROR", "ABORTED"}, 20)
    assert job["phase"] == "COMPLETED", job["errorSummary"]
    assert second.get(f"/rest/sleep/{job_id}/results/output").text == "slept 3 s\n"


def test_fifty_jobs_submitted_at_once_all_complete(live: Live) -> None:
    app, url = live()
    with requests.Session() as session, ThreadPoolExecutor(10) as pool:

        def submit(n: int) -> str:
            response = session.post(
                f"{url}/rest/echo",
                data={"PHASE": "RUN", "message": f"job {n}"},
                allow_redirects=False,
                timeout=30,
            )
            assert response.status_code == 303, response.text
            return response.headers["Location"].rsplit("/", 1)[1]

        job_ids = list(pool.map(submit, range(50)))
    testapp = UWSTestApp(app)
    for n, job_id in enumerate(job_ids):
        job = wait_phase(testapp, "echo", job_id, {"COMPLETED", "ERROR", "ABORTED"}, 60)
        assert job["phase"] == "COMPLETED", job["errorSummary"]
        assert testapp.get(f"/rest/echo/{job_id}/results/output").text == f"job {n}\n"


def test_shell_metacharacters_reach_the_script_unchanged(
    testapp: UWSTestApp, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    value = (
        f"$(touch {marker}) `touch {marker}` '; touch {marker}; ' \"; touch {marker}\" "
        f"| & ; < > * ~ $HOME ${{IFS}} $((6*7)) \\ %j %x"
    )
    job_id = start(testapp, "echo", message=value)
    job = wait_phase(testapp, "echo", job_id, {"COMPLETED", "ERROR"})
    assert job["phase"] == "COMPLETED", job["errorSummary"]
    assert testapp.get(f"/rest/echo/{job_id}/results/output").text == value + "\n"
    assert not marker.exists()
    meta = tmp_path / "jobs" / job_id / ".uws"
    # The value is data in the contract's files, never in what sbatch or the shell read.
    for name in ("batch.sh", "launch.args", "launch.env"):
        assert "touch" not in (meta / name).read_text()
    assert json.loads((tmp_path / "jobs" / job_id / "parameters.json").read_text()) == {
        "message": value
    }


def test_deleting_a_running_job_cancels_it_and_removes_its_files(
    testapp: UWSTestApp, tmp_path: Path
) -> None:
    job_id = start(testapp, "sleep", duration="60")
    job = wait_phase(testapp, "sleep", job_id, {"EXECUTING"})
    testapp.delete(f"/rest/sleep/{job_id}", status=303)
    assert slurm_state(job["jobInfo"]["slurm_job_id"]) == "CANCELLED"
    assert not (tmp_path / "jobs" / job_id).exists()
    testapp.get(f"/rest/sleep/{job_id}", status=404)


def test_callbacks_alone_follow_a_job(live: Live) -> None:
    app, _ = live(**NO_POLLING)
    testapp = UWSTestApp(app)
    began = time.monotonic()
    job_id = start(testapp, "echo", message="called back")
    job = wait_phase(testapp, "echo", job_id, {"COMPLETED", "ERROR"}, 10)
    assert job["phase"] == "COMPLETED" and time.monotonic() - began < 5


def test_a_job_that_ended_while_no_server_ran_keeps_its_own_end_time(
    make_app: AppFactory, testapp: UWSTestApp, tmp_path: Path
) -> None:
    """Issue 12, item 7: endTime comes from the job's exit record, not from when a server
    noticed the end."""
    job_id = start(testapp, "sleep", duration="1")
    wait_phase(testapp, "sleep", job_id, {"EXECUTING"}, 20)
    first = testapp.app
    first.registry.uws.close()
    first.closed_by_test = True
    wait_for(lambda: (tmp_path / "jobs" / job_id / ".uws" / "exit.json").exists(), 20)
    time.sleep(3)  # the end is well in the past when the next server starts
    restarted = datetime.now(timezone.utc)
    second = UWSTestApp(make_app())
    job = wait_phase(second, "sleep", job_id, {"COMPLETED", "ERROR", "ABORTED"}, 20)
    assert job["phase"] == "COMPLETED", job["errorSummary"]
    ended = datetime.fromisoformat(job["endTime"].replace("Z", "+00:00"))
    assert (restarted - ended).total_seconds() > 2.0, job["endTime"]
    assert ended >= datetime.fromisoformat(job["startTime"].replace("Z", "+00:00"))
