"""Destruction: the sweeper deletes or archives expired jobs; phase hooks reach plugins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from uws_pyramid.jobs import Job, Phase, Result, utcnow
from uws_pyramid.plugins import hookimpl

from .conftest import UWSTestApp, wait_for
from .fakes import FakesPlugin


class Recorder:
    def __init__(self) -> None:
        self.changes: list[tuple[str, str, str]] = []
        self.deleted: list[str] = []

    @hookimpl
    def uws_job_phase_changed(self, job: Job, previous: Phase) -> None:
        self.changes.append((job.job_id, str(previous), str(job.phase)))

    @hookimpl
    def uws_job_deleted(self, job: Job) -> None:
        self.deleted.append(job.job_id)


class Exploding:
    @hookimpl
    def uws_job_phase_changed(self, job: Job, previous: Phase) -> None:
        raise RuntimeError("a notification plugin's bug")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def settings(settings: dict[str, Any], recorder: Recorder) -> dict[str, Any]:
    settings.update(
        {"uws.manager": "holding", "testing.plugins": [FakesPlugin(), recorder, Exploding()]}
    )
    return settings


def expire(app: Any, url: str) -> str:
    job_id = url.rsplit("/", 1)[1]
    app.registry.uws.service.record(job_id, None, destruction=utcnow() - timedelta(seconds=1))
    return job_id


def test_hooks_see_every_phase_change_and_deletion(testapp: UWSTestApp, recorder: Recorder) -> None:
    url = testapp.post("/rest/echo", {"PHASE": "RUN"}).location
    job_id = url.rsplit("/", 1)[1]
    testapp.post(url, {"PHASE": "ABORT"})
    testapp.delete(url)
    assert recorder.changes == [(job_id, "PENDING", "QUEUED"), (job_id, "QUEUED", "ABORTED")]
    assert recorder.deleted == [job_id]


def test_expired_jobs_are_deleted(app: Any, testapp: UWSTestApp, recorder: Recorder) -> None:
    keep = testapp.post("/rest/echo", {}).location
    url = testapp.post("/rest/echo", {"PHASE": "RUN"}).location
    job_id = expire(app, url)
    assert app.registry.uws.service.destroy_expired() == 1
    testapp.get(url, status=404)
    testapp.get(keep, status=200)
    assert app.registry.uws.manager.deleted == [job_id]
    assert recorder.deleted == [job_id]


def test_expired_jobs_are_archived_when_configured(
    settings: dict[str, Any], testapp: UWSTestApp, app: Any
) -> None:
    app.registry.uws.service.settings = app.registry.uws.settings = type(app.registry.uws.settings)(
        **{**app.registry.uws.settings.__dict__, "destruction_archive": True}
    )
    url = testapp.post("/rest/echo", {"PHASE": "RUN"}).location
    job_id = expire(app, url)
    app.registry.uws.manager.finish(job_id, results=[Result("output", "output.txt")])
    assert app.registry.uws.service.destroy_expired() == 1
    assert testapp.get(url + "/phase").text == "ARCHIVED"
    assert "<uws:results/>" in testapp.get(url).text
    assert job_id not in testapp.get("/rest/echo").text
    assert job_id in testapp.get("/rest/echo?PHASE=ARCHIVED").text
    assert app.registry.uws.service.destroy_expired() == 0  # archived jobs stay


def test_the_background_sweeper_runs_by_itself(settings: dict[str, Any]) -> None:
    from uws_pyramid import main

    settings.update({"uws.background": "true", "uws.destruction.interval": "0.1"})
    app = main({"here": settings["here"]}, **settings)
    try:
        testapp = UWSTestApp(app)
        url = testapp.post("/rest/echo", {}).location
        expire(app, url)
        wait_for(lambda: testapp.get(url, expect_errors=True).status_int == 404, timeout=5)
    finally:
        app.registry.uws.close()
