"""Two local managers on one database and one workdir (two server processes of one host)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_local_manager import Factory, make  # noqa: F401  (make: the fixture)

from uws_local.manager import LocalManager
from uws_pyramid.api import Job, NotFound, Phase
from uws_pyramid.testing import ManagerHarness, group_alive, wait_for, write_job_type


@pytest.fixture
def jdl(tmp_path: Path) -> Path:
    """``hold`` sleeps; ``count`` appends its job id to ``starts.log`` in its directory (the
    only place a sandboxed job may write) each time it starts, so that a job run twice shows."""
    write_job_type(tmp_path / "jdl", "hold", "sleep 30\n")
    return write_job_type(tmp_path / "jdl", "count", 'echo "$UWS_JOB_ID" >> starts.log\n')


def manager(harness: ManagerHarness) -> LocalManager:
    local = harness.runtime.manager
    assert isinstance(local, LocalManager)
    return local


def knows(harness: ManagerHarness, job_id: str) -> bool:
    return manager(harness).knows(job_id)


def busy(make: Factory, jdl: Path) -> tuple[ManagerHarness, Job, int, Job]:
    """Server A with one slot, a job running there, its process group and a job queued behind."""
    a = make(max_running=1, jdl=jdl)
    running = a.wait(a.run("hold").job_id, {Phase.EXECUTING})
    pgid, _ = a.running_group(running.job_id)
    queued = a.run("count")
    assert queued.phase == Phase.QUEUED
    return a, running, pgid, queued


def starts(tmp_path: Path) -> list[str]:
    return sorted(
        word for log in (tmp_path / "jobs").glob("*/starts.log") for word in log.read_text().split()
    )


def test_jobs_of_a_live_server_are_neither_started_nor_adopted(
    make: Factory,
    jdl: Path,
    tmp_path: Path,  # noqa: F811
) -> None:
    a, running, pgid, queued = busy(make, jdl)
    b = make(max_running=1, jdl=jdl)  # its start-up reconciliation is a first pass
    for _ in range(3):
        manager(b).reconcile()
    assert not knows(b, running.job_id) and not knows(b, queued.job_id)
    assert b.job(queued.job_id).phase == Phase.QUEUED
    assert b.job(running.job_id).job_info["server"] == manager(a).identity
    assert starts(tmp_path) == [] and group_alive(pgid)


@pytest.mark.parametrize("how", ["abort", "delete"])
def test_abort_or_delete_through_another_server_stops_the_job(
    make: Factory,
    jdl: Path,
    how: str,  # noqa: F811
) -> None:
    a, running, pgid, _ = busy(make, jdl)
    b = make(max_running=1, jdl=jdl)
    job = b.job(running.job_id)
    if how == "abort":
        b.service.abort(job)
    else:
        b.service.delete(job)
    wait_for(lambda: not group_alive(pgid), timeout=3)
    if how == "abort":
        assert a.wait_result(running.job_id).phase == Phase.ABORTED
    else:
        with pytest.raises(NotFound):
            b.job(running.job_id)


def test_jobs_of_a_closed_server_are_taken_over_once(
    make: Factory,
    jdl: Path,
    tmp_path: Path,  # noqa: F811
) -> None:
    a, running, pgid, queued = busy(make, jdl)
    b = make(max_running=1, jdl=jdl)
    a.close()
    for _ in range(3):  # the queued job: a suspect first, then lost
        manager(b).reconcile()
    assert knows(b, running.job_id) and knows(b, queued.job_id)
    assert b.job(running.job_id).job_info["server"] == manager(b).identity
    b.service.abort(b.job(running.job_id))  # frees the only slot for the queued job
    wait_for(lambda: not group_alive(pgid), timeout=3)
    done = b.wait(queued.job_id)
    assert done.phase == Phase.COMPLETED
    assert done.job_info["server"] == manager(b).identity
    assert starts(tmp_path) == [queued.job_id]
