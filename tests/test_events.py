"""Signed job events: good ones reach the manager; forged, stale and replayed ones change nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest

from uws_pyramid.events import job_secret, sign

from .conftest import UWSTestApp
from .fakes import HoldingManager
from .holding import manager, settings  # noqa: F401  (fixtures)


def event_form(secret: str, job_id: str, event: str, when: int | None = None) -> dict[str, str]:
    when = int(time.time()) if when is None else when
    return {"event": event, "time": str(when), "signature": sign(secret, job_id, event, when)}


def running_job(testapp: UWSTestApp) -> str:
    return testapp.post("/rest/sleep", {"PHASE": "RUN"}).location.rsplit("/", 1)[1]


def test_a_well_signed_event_reaches_the_manager(
    testapp: UWSTestApp, manager: HoldingManager
) -> None:
    job_id = running_job(testapp)
    secret = manager.context.job_secret(job_id)
    assert secret == job_secret(manager.context.server_secret, job_id)
    testapp.post(f"/events/{job_id}", event_form(secret, job_id, "started"), status=204)
    assert manager.events == [(job_id, "started")]


@pytest.mark.parametrize(
    "fault", ["other job's secret", "stale", "future", "unknown event", "no signature", "bad time"]
)
def test_forged_and_stale_events_are_refused(
    testapp: UWSTestApp, manager: HoldingManager, fault: str
) -> None:
    job_id, other = running_job(testapp), running_job(testapp)
    secret = manager.context.job_secret(job_id)
    form = {
        "other job's secret": event_form(manager.context.job_secret(other), job_id, "ended"),
        "stale": event_form(secret, job_id, "ended", int(time.time()) - 3600),
        "future": event_form(secret, job_id, "ended", int(time.time()) + 3600),
        "unknown event": event_form(secret, job_id, "COMPLETED"),
        "no signature": {"event": "ended", "time": str(int(time.time()))},
        "bad time": {**event_form(secret, job_id, "ended"), "time": "now"},
    }[fault]
    testapp.post(f"/events/{job_id}", form, status=403)
    assert manager.events == []
    assert testapp.get(f"/rest/sleep/{job_id}/phase").text == "QUEUED"


def test_events_of_finished_or_unknown_jobs_change_nothing(
    testapp: UWSTestApp, manager: HoldingManager
) -> None:
    job_id = running_job(testapp)
    form = event_form(manager.context.job_secret(job_id), job_id, "ended")
    manager.finish(job_id)
    testapp.post(f"/events/{job_id}", form, status=204)  # a replay after the end: ignored
    assert manager.events == []
    testapp.delete(f"/rest/sleep/{job_id}")
    later = event_form(manager.context.job_secret(job_id), job_id, "ended", int(time.time()) + 1)
    testapp.post(f"/events/{job_id}", later, status=404)
    # Only POST is served there: another method is told so (405 with Allow), job or not.
    assert testapp.get(f"/events/{job_id}", status=405).headers["Allow"] == "POST"


def test_the_server_secret_is_created_once_and_private(app: Any, settings: dict[str, Any]) -> None:
    path = app.registry.uws.settings.secret_file
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(path.read_text()) == 64


def test_a_replayed_event_is_refused(testapp: UWSTestApp, manager: HoldingManager) -> None:
    job_id = running_job(testapp)
    form = event_form(manager.context.job_secret(job_id), job_id, "started")
    testapp.post(f"/events/{job_id}", form, status=204)
    assert "replayed" in testapp.post(f"/events/{job_id}", form, status=403).text
    assert manager.events == [(job_id, "started")]


@pytest.mark.parametrize(
    ("allow", "peer", "status"),
    [
        ("10.0.0.0/8, 192.168.1.7", "10.1.2.3", 204),
        ("10.0.0.0/8 192.168.1.7", "192.168.1.7", 204),
        # Networks, not text: "192.168.1.7" is a prefix of "192.168.1.70" but not its network.
        ("192.168.1.7", "192.168.1.70", 403),
        ("10.0.0.0/8", "110.0.0.1", 403),
        ("::1", "::1", 204),
        ("::1", "127.0.0.1", 403),
    ],
)
def test_the_event_allow_list_holds_networks(
    settings: dict[str, Any], allow: str, peer: str, status: int
) -> None:
    from uws_pyramid import main

    app = main({}, **{**settings, "uws.events.allow": allow})
    try:
        testapp = UWSTestApp(app, extra_environ={"REMOTE_ADDR": peer})
        job_id = running_job(testapp)
        manager = app.registry.uws.manager
        form = event_form(manager.context.job_secret(job_id), job_id, "started")
        response = testapp.post(f"/events/{job_id}", form, status=status)
        assert manager.events == ([(job_id, "started")] if status == 204 else [])
        if status == 403:
            assert peer in response.text
    finally:
        app.registry.uws.close()
