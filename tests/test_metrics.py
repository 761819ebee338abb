"""/metrics: who may read it, what it counts, and one view of several processes."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from uws_pyramid import main, metrics
from uws_pyramid.errors import ServiceUnavailable
from uws_pyramid.jobs import FINAL, Job, Phase
from uws_pyramid.storage import Storage
from uws_pyramid.testing import wait_for

from .conftest import ADMIN_PASSWORD, ROOT, UWSTestApp, add_user

LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series of a scrape (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"([a-zA-Z_:]+)(\{.*\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return 0.0


def scrape(testapp: UWSTestApp) -> str:
    response = testapp.get("/metrics", extra_environ=LOCAL)
    assert response.content_type == "text/plain"
    return str(response.text)


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {**settings, "uws.metrics.allow": "127.0.0.1/32"}


def run_echo(testapp: UWSTestApp) -> str:
    response = testapp.post("/rest/echo", {"message": "hi", "PHASE": "RUN"}, status=303)
    job_id = response.location.rsplit("/", 1)[-1]
    wait_for(lambda: testapp.get(f"/rest/echo/{job_id}/phase").text in {str(p) for p in FINAL})
    return job_id


def test_metrics_refused_to_other_networks_and_to_users(app: Any) -> None:
    add_user(app, "alice", "alice-secret-1")
    add_user(app, "root", ADMIN_PASSWORD, "admin")
    testapp = UWSTestApp(app)
    outside = {"REMOTE_ADDR": "192.0.2.7"}
    response = testapp.get("/metrics", extra_environ=outside, status=403)
    assert "uws.metrics.allow" in response.text
    testapp.authorization = ("Basic", ("alice", "alice-secret-1"))
    testapp.get("/metrics", extra_environ=outside, status=403)
    testapp.authorization = ("Basic", ("alice", "wrong"))
    testapp.get("/metrics", extra_environ=outside, status=401)
    testapp.authorization = ("Basic", ("root", ADMIN_PASSWORD))
    assert "uws_jobs" in testapp.get("/metrics", extra_environ=outside).text
    testapp.authorization = None
    assert "uws_http_request_duration_seconds" in testapp.get("/metrics", extra_environ=LOCAL).text
    testapp.post("/metrics", extra_environ=LOCAL, status=405)


def test_metrics_without_allowed_networks_are_for_admins(
    tmp_path: Path, settings: dict[str, Any]
) -> None:
    del settings["uws.metrics.allow"]
    app = main({"here": str(tmp_path)}, **settings)
    try:
        UWSTestApp(app).get("/metrics", extra_environ=LOCAL, status=403)
    finally:
        app.registry.uws.close()


def test_jobs_requests_and_runs_are_counted(testapp: UWSTestApp) -> None:
    before = scrape(testapp)
    job_id = run_echo(testapp)
    testapp.get(f"/rest/echo/{job_id}", status=200)
    testapp.get("/rest/echo/nosuchjob", status=404)
    testapp.app.registry.uws_job_counts.every = 0  # no cached figures in this test
    after = scrape(testapp)

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert sample(after, "uws_jobs", job_type="echo", phase="COMPLETED") == 1
    assert grew("uws_jobs_started_total", job_type="echo") == 1
    assert grew("uws_jobs_finished_total", job_type="echo", phase="COMPLETED") == 1
    assert grew("uws_job_queue_seconds_count", job_type="echo") == 1
    assert grew("uws_job_run_seconds_count", job_type="echo") == 1
    requests = "uws_http_request_duration_seconds_count"
    assert grew(requests, route="jobs", method="POST", status="303") == 1
    assert grew(requests, route="job", method="GET", status="200") == 1
    assert grew(requests, route="job", method="GET", status="404") == 1
    assert (
        sample(
            after,
            "uws_http_request_duration_seconds_bucket",
            route="job",
            method="GET",
            status="200",
            le="+Inf",
        )
        >= 1
    )


def test_failed_submission_is_counted(testapp: UWSTestApp) -> None:
    manager = testapp.app.registry.uws.manager

    def refuse(job: Job) -> None:
        raise RuntimeError("no room")

    before = scrape(testapp)
    manager.submit = refuse
    testapp.post("/rest/echo", {"PHASE": "RUN"}, status=303)
    after = scrape(testapp)
    for name, labels in (
        ("uws_job_submissions_failed_total", {"job_type": "echo"}),
        ("uws_errors_total", {"component": "manager"}),
    ):
        assert sample(after, name, **labels) - sample(before, name, **labels) >= 1


def test_wait_in_progress_and_returned_early(testapp: UWSTestApp, app: Any) -> None:
    job_id = testapp.post("/rest/echo", {}, status=303).location.rsplit("/", 1)[-1]
    before = scrape(testapp)
    waiter = threading.Thread(target=lambda: testapp.get(f"/rest/echo/{job_id}?WAIT=20"))
    waiter.start()
    wait_for(lambda: sample(scrape(testapp), "uws_wait_requests_in_progress") == 1)
    app.registry.uws.service.stop_waiting()  # the server stops: WAIT returns at once
    waiter.join(timeout=10)
    after = scrape(testapp)
    assert sample(after, "uws_wait_requests_in_progress") == 0
    assert (
        sample(after, "uws_wait_returned_early_total")
        - sample(before, "uws_wait_returned_early_total")
        == 1
    )


def test_storage_and_manager_errors_are_counted(testapp: UWSTestApp) -> None:
    before = scrape(testapp)
    logging.getLogger("uws_local.manager").error("a fault of the manager")
    logging.getLogger("uws_pyramid.sql.storage").error("a fault of the storage")
    logging.getLogger("uws_local.manager").warning("not an error")
    after = scrape(testapp)
    for component in ("manager", "storage"):
        grew = sample(after, "uws_errors_total", component=component) - sample(
            before, "uws_errors_total", component=component
        )
        assert grew == 1


def test_background_passes_leave_their_time(tmp_path: Path, settings: dict[str, Any]) -> None:
    settings = {**settings, "uws.background": "true", "uws.destruction.interval": "0.1"}
    app = main({"here": str(tmp_path)}, **settings)
    try:
        testapp = UWSTestApp(app)
        wait_for(
            lambda: (
                sample(
                    scrape(testapp),
                    "uws_background_last_success_timestamp_seconds",
                    task="destruction",
                )
                > 0
            )
        )
    finally:
        app.registry.uws.close()


def test_the_first_background_pass_is_counted(tmp_path: Path, settings: dict[str, Any]) -> None:
    # Passes an hour apart: only the first one, made as soon as the thread starts, can count.
    hourly = {"uws.destruction.interval": "3600", "uws.reconcile_interval": "3600"}
    settings = {**settings, "uws.background": "true", **hourly}
    began = time.time()
    app = main({"here": str(tmp_path)}, **settings)
    try:
        testapp = UWSTestApp(app)
        for task in ("destruction", "reconcile"):
            name = "uws_background_last_success_timestamp_seconds"
            wait_for(lambda: sample(scrape(testapp), name, task=task) >= began, timeout=5)
    finally:
        app.registry.uws.close()


def test_grouped_counts_match_a_listing(app: Any) -> None:
    storage = app.registry.uws.storage
    for phase in (Phase.PENDING, Phase.PENDING, Phase.COMPLETED):
        job = Job(job_id=os.urandom(6).hex(), job_type="echo", phase=phase)
        storage.create(job)
    storage.create(Job(job_id=os.urandom(6).hex(), job_type="sleep", phase=Phase.ARCHIVED))
    grouped = storage.counts()
    assert grouped == Storage.counts(storage)  # the default lists every job
    assert grouped == {
        ("echo", Phase.PENDING): 2,
        ("echo", Phase.COMPLETED): 1,
        ("sleep", Phase.ARCHIVED): 1,
    }


SERVER = """
import sys
from uws_pyramid import main
import webtest
here, jdl, requests = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = {"here": here, "uws.storage": "sqlite", "uws.storage.path": "uws.sqlite",
            "uws.jdl_dir": jdl, "uws.auth.anonymous": "true", "uws.workdir": "jobs",
            "uws.background": "false", "uws.metrics.allow": "127.0.0.1"}
app = main({"here": here}, **settings)
t = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})
for _ in range(requests):
    t.get("/rest/echo", status=200)
if requests == 0:
    sys.stdout.write(t.get("/metrics").text)
app.registry.uws.close()
"""


def test_processes_report_one_view(tmp_path: Path) -> None:
    """Two server processes count requests; a third one's scrape shows their sum."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}

    def process(requests: int) -> str:
        done = subprocess.run(
            [sys.executable, "-c", SERVER, str(tmp_path), str(ROOT / "jdl"), str(requests)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    process(3)
    process(4)
    text = process(0)
    requests = "uws_http_request_duration_seconds_count"
    assert sample(text, requests, route="jobs", method="GET", status="200") == 7


REQUESTS = [
    ("job", "GET", 200, 0.0),
    ("job", "GET", 200, 0.002),  # on a bound: counted in its bucket (le)
    ("job", "GET", 200, 0.0021),
    ("job", "GET", 404, 0.7),
    ("jobs", "POST", 303, 600.0),
    ("jobs", "POST", 303, 601.5),  # past the last bound: +Inf only
    ("jobs", "BREW", 405, 3.0),  # an unknown method is "other"
]


def test_request_histogram_scrapes_as_prometheus_clients_own() -> None:
    ours = metrics.RequestHistogram(metrics.HTTP_BUCKETS, shared=False)
    theirs = Histogram(
        ours.NAME, ours.HELP, ours.LABELS, buckets=metrics.HTTP_BUCKETS, registry=None
    )
    for route, method, status, seconds in REQUESTS:
        ours.observe(route, method, status, seconds)
        method = method if method in metrics.METHODS else "other"
        theirs.labels(route, method, str(status)).observe(seconds)
    mine, reference = CollectorRegistry(), CollectorRegistry()
    mine.register(ours)
    reference.register(theirs)
    text = generate_latest(mine).decode()
    assert sorted(text.splitlines()) == sorted(generate_latest(reference).decode().splitlines())
    assert (
        sample(text, "uws_http_request_duration_seconds_count", route="jobs", method="other") == 1
    )
    assert sample(text, "uws_http_request_duration_seconds_bucket", route="job", le="0.002") == 2


def test_request_histogram_counts_status_lines_by_their_code() -> None:
    """The tween gives WebOb's status line ("200 OK"): one series per code, as if it were
    the code, in both modes."""
    ours = metrics.RequestHistogram(metrics.HTTP_BUCKETS, shared=False)
    theirs = Histogram(
        ours.NAME, ours.HELP, ours.LABELS, buckets=metrics.HTTP_BUCKETS, registry=None
    )
    shared = metrics.RequestHistogram(metrics.HTTP_BUCKETS, shared=True)
    for route, method, status, seconds in REQUESTS:
        line = f"{status} Whatever"
        for histogram in (ours, shared):
            histogram.observe(route, method, status, seconds)
            histogram.observe(route, method, line, seconds + 1)
        method = method if method in metrics.METHODS else "other"
        theirs.labels(route, method, str(status)).observe(seconds)
        theirs.labels(route, method, str(status)).observe(seconds + 1)
    assert shared.shared is not None
    mine, reference, several = CollectorRegistry(), CollectorRegistry(), CollectorRegistry()
    mine.register(ours)
    reference.register(theirs)
    several.register(shared.shared)
    expected = sorted(generate_latest(reference).decode().splitlines())
    assert sorted(generate_latest(mine).decode().splitlines()) == expected
    assert sorted(generate_latest(several).decode().splitlines()) == expected


def test_request_histogram_loses_no_request_between_threads() -> None:
    histogram = metrics.RequestHistogram(metrics.HTTP_BUCKETS, shared=False)

    def serve() -> None:
        for _ in range(5000):
            histogram.observe("job", "GET", 200, 0.001)

    threads = [threading.Thread(target=serve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    registry = CollectorRegistry()
    registry.register(histogram)
    text = generate_latest(registry).decode()
    assert sample(text, "uws_http_request_duration_seconds_count", route="job") == 40000
    assert sample(text, "uws_http_request_duration_seconds_sum", route="job") == pytest.approx(
        8 * 5000 * 0.001
    )


def test_request_histogram_of_several_processes_is_prometheus_clients_own() -> None:
    """Multiprocess mode: each update is the shared histogram's (its files are summed)."""
    histogram = metrics.RequestHistogram(metrics.HTTP_BUCKETS, shared=True)
    assert histogram.shared is not None
    for route, method, status, seconds in REQUESTS:
        histogram.observe(route, method, status, seconds)
    registry = CollectorRegistry()
    registry.register(histogram.shared)
    text = generate_latest(registry).decode()
    assert sample(text, "uws_http_request_duration_seconds_count", route="jobs", status="303") == 2
    assert sample(text, "uws_http_request_duration_seconds_count", method="other") == 1


def test_an_outage_answered_503_counts_a_storage_error(testapp: UWSTestApp) -> None:
    job_id = testapp.post("/rest/echo", {}, status=303).location.rsplit("/", 1)[-1]
    storage = testapp.app.registry.uws.storage
    before = scrape(testapp)

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ServiceUnavailable("the job database is down")

    real = storage.get
    storage.get = down
    try:
        testapp.get(f"/rest/echo/{job_id}", status=503)
    finally:
        storage.get = real
    testapp.get("/rest/echo/nosuchjob", status=404)
    after = scrape(testapp)
    grew = sample(after, "uws_errors_total", component="storage") - sample(
        before, "uws_errors_total", component="storage"
    )
    assert grew == 1
