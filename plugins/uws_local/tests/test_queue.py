"""A QUEUED local job says why it waits and how many jobs are ahead, in its jobInfo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from uws_pyramid import main
from uws_pyramid.api import ACTIVE
from uws_pyramid.testing import EXAMPLE_JDL, UWSTestApp, wait_for

NS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Any]:
    settings = {
        "uws.storage": "sqlite",
        "uws.storage.path": "uws.sqlite",
        "uws.manager": "local",
        "uws.manager.max_running": "1",
        "uws.manager.poll_interval": "0.1",
        "uws.jdl_dir": str(EXAMPLE_JDL),
        "uws.auth.anonymous": "true",
        "uws.workdir": "jobs",
        "uws.background": "false",
    }
    wsgi = main({"here": str(tmp_path)}, **settings)
    yield wsgi
    runtime = wsgi.registry.uws
    for job in runtime.storage.in_phases(ACTIVE):
        runtime.service.abort(job)
    runtime.close()


def run(testapp: UWSTestApp, job_type: str, **params: str) -> str:
    response = testapp.post(f"/rest/{job_type}", {"PHASE": "RUN", **params}, status=303)
    return str(response.location.rsplit("/", 1)[-1])


def job_info(testapp: UWSTestApp, job_type: str, job_id: str) -> dict[str, str]:
    """The jobInfo of the job's UWS document (validated by the test app) and its phase."""
    doc = etree.fromstring(testapp.get(f"/rest/{job_type}/{job_id}").body)
    info = {e.tag: e.text or "" for e in doc.findall("uws:jobInfo/*", NS)}
    return {**info, "phase": doc.findtext("uws:phase", namespaces=NS) or ""}


def test_queued_jobs_show_the_reason_and_how_many_are_ahead(app: Any) -> None:
    testapp = UWSTestApp(app)
    blocker = run(testapp, "sleep", duration="30")
    wait_for(lambda: job_info(testapp, "sleep", blocker)["phase"] == "EXECUTING", 10)
    queued = [run(testapp, "echo", message=str(n)) for n in range(3)]
    infos = [job_info(testapp, "echo", job_id) for job_id in queued]
    assert [i["phase"] for i in infos] == ["QUEUED"] * 3
    assert [i["jobsAhead"] for i in infos] == ["0", "1", "2"]
    assert all(i["queueReason"] == "waiting for a free slot (max_running = 1)" for i in infos)
    json = testapp.get(f"/rest/echo/{queued[2]}", headers={"Accept": "application/json"}).json
    assert json["jobInfo"]["jobsAhead"] == 2
    # The first queued job leaves the queue: the others move up, with no write of theirs.
    testapp.post(f"/rest/echo/{queued[0]}", {"PHASE": "ABORT"}, status=303)
    assert [job_info(testapp, "echo", j)["jobsAhead"] for j in queued[1:]] == ["0", "1"]
    assert "jobsAhead" not in app.registry.uws.storage.get(queued[1]).job_info  # not stored
    # The running job ends: the next one starts, and a job that runs says nothing of a queue.
    testapp.post(f"/rest/sleep/{blocker}", {"PHASE": "ABORT"}, status=303)
    started = wait_for(
        lambda: (i := job_info(testapp, "echo", queued[1]))["phase"] != "QUEUED" and i, 10
    )
    assert "jobsAhead" not in started and "queueReason" not in started
