"""DALI synchronous execution (/sync/<type>) with the local manager: the result, the error, the
timeout, and the same checks as asynchronous jobs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from uws_pyramid import main
from uws_pyramid.testing import wait_for

from .conftest import UWSTestApp, add_user


def job_of(location: str) -> str:
    return location.split("/rest/", 1)[1].split("/")[1]


def test_get_answers_with_a_redirect_to_the_primary_result(testapp: UWSTestApp) -> None:
    response = testapp.get("/sync/echo?message=hello+sync", status=303)
    assert response.location.startswith("http://localhost/rest/echo/")
    assert response.location.endswith("/results/output")
    assert response.follow().text == "hello sync\n"
    # The job stays, as any job: COMPLETED, with its results and its provenance.
    job_id = job_of(response.location)
    assert testapp.get(f"/rest/echo/{job_id}/phase").text == "COMPLETED"
    testapp.get(f"/rest/echo/{job_id}/provenance", status=200)


def test_post_with_a_file(testapp: UWSTestApp) -> None:
    response = testapp.post(
        "/sync/wordcount", upload_files=[("infile", "a.txt", b"a b c\n")], status=303
    )
    assert response.location.endswith("/results/counts")
    assert response.follow().json == {"lines": 1, "words": 3, "bytes": 6}
    posted = testapp.post("/sync/echo", {"message": "posted"}, status=303)
    assert posted.follow().text == "posted\n"


def test_the_wait_is_woken_by_the_end_not_polled(testapp: UWSTestApp) -> None:
    started = time.monotonic()
    response = testapp.get("/sync/sleep?duration=1", status=303)
    took = time.monotonic() - started
    assert response.location.endswith("/results/output") and 1 <= took < 5, took
    assert response.follow().text == "slept 1 s\n"


def test_a_failed_job_answers_with_its_error(testapp: UWSTestApp) -> None:
    response = testapp.get("/sync/fail?message=no+such+galaxy", status=500)
    assert response.content_type == "text/plain"
    assert response.text == "no such galaxy\n"
    error = response.headers["Content-Location"]
    assert error.endswith("/error")
    assert testapp.get(error).text == response.text


@pytest.fixture
def make(settings: dict[str, Any]) -> Iterator[Callable[..., UWSTestApp]]:
    """A test app with some settings changed."""
    apps: list[Any] = []

    def build(**changed: str) -> UWSTestApp:
        apps.append(main({"here": settings["here"]}, **{**settings, **changed}))
        return UWSTestApp(apps[-1])

    yield build
    for app in apps:
        app.registry.uws.close()


def test_a_job_longer_than_the_timeout_is_left_running_with_a_redirect(
    make: Callable[..., UWSTestApp],
) -> None:
    testapp = make(**{"uws.sync.timeout": "1"})
    started = time.monotonic()
    response = testapp.get("/sync/sleep?duration=30", status=303)
    assert 1 <= time.monotonic() - started < 4
    job_url = response.location
    assert job_url.startswith("http://localhost/rest/sleep/") and "/results/" not in job_url
    assert testapp.get(job_url + "/phase").text in ("QUEUED", "EXECUTING")
    testapp.post(job_url + "/phase", {"PHASE": "ABORT"}, status=303)


def test_no_free_waiting_slot_redirects_to_the_job_at_once(
    make: Callable[..., UWSTestApp],
) -> None:
    testapp = make(**{"uws.wait.max_waiters": "0"})
    job_url = testapp.get("/sync/echo?message=later", status=303).location
    assert "/results/" not in job_url
    # WAIT is off too (no slot): poll.
    wait_for(lambda: testapp.get(job_url + "/phase").text == "COMPLETED")
    assert testapp.get(job_url + "/results/output").text == "later\n"


def test_a_job_past_its_execution_duration_answers_with_its_error(testapp: UWSTestApp) -> None:
    response = testapp.get("/sync/sleep?duration=30&EXECUTIONDURATION=1", status=500)
    assert "execution duration exceeded" in response.text
    job_url = response.headers["Content-Location"].rsplit("/", 1)[0]
    assert testapp.get(job_url + "/phase").text in ("ABORTED", "ERROR")


@pytest.mark.parametrize(
    "query, status, says",
    [
        ("/sync/sleep?duration=abc", 400, "parameter duration"),
        ("/sync/echo?PHASE=ABORT", 400, "parameter PHASE"),
        ("/sync/echo?nosuch=1", 400, "nosuch"),
        ("/sync/echo?EXECUTIONDURATION=soon", 400, "parameter EXECUTIONDURATION"),
        ("/sync/nosuchtype", 404, "nosuchtype"),
    ],
)
def test_bad_requests_create_no_job(
    testapp: UWSTestApp, query: str, status: int, says: str
) -> None:
    assert says in testapp.get(query, status=status).text
    assert testapp.get("/rest", headers={"Accept": "application/json"}).json["jobs"] == []


def test_other_methods(testapp: UWSTestApp) -> None:
    testapp.put("/sync/echo", "x", status=405)
    testapp.delete("/sync/echo", status=405)
    assert testapp.head("/sync/echo", status=405).headers["Allow"] == "GET, POST"
    assert testapp.get("/rest", headers={"Accept": "application/json"}).json["jobs"] == []


def test_quotas_apply(make: Callable[..., UWSTestApp]) -> None:
    limited = make(**{"uws.quota.active_jobs": "1"})
    blocker = limited.post("/rest/sleep", {"duration": "30", "PHASE": "RUN"}).location
    response = limited.get("/sync/echo", status=403)
    assert "quota reached" in response.text and "uws.quota.active_jobs" in response.text
    limited.post(blocker + "/phase", {"PHASE": "ABORT"}, status=303)


def test_the_same_authentication_and_roles(make: Callable[..., UWSTestApp]) -> None:
    closed = make(**{"uws.auth.anonymous": "false", "uws.auth.type_roles": "sleep=sleepers"})
    app = closed.app
    add_user(app, "carol", "carol-secret-1")
    closed.get("/sync/echo", status=401)
    closed.authorization = ("Basic", ("carol", "wrong-password-1"))
    closed.get("/sync/echo", status=401)
    closed.authorization = ("Basic", ("carol", "carol-secret-1"))
    location = closed.get("/sync/echo?message=mine", status=303).location
    assert closed.get(f"/rest/echo/{job_of(location)}/owner").text == "carol"
    response = closed.get("/sync/sleep?duration=0", status=403)
    assert "sleepers" in response.text


def test_a_get_with_the_session_cookie_needs_the_csrf_token(
    make: Callable[..., UWSTestApp],
) -> None:
    browser = make(**{"uws.auth.anonymous": "false"})
    add_user(browser.app, "dave", "dave-secret-12")
    browser.post("/login", {"username": "dave", "password": "dave-secret-12"}, status=303)
    response = browser.get("/sync/echo?message=from+a+link", status=403)
    assert "X-CSRF-Token" in response.text
    token = browser.get("/client/config").json["csrf_token"]
    browser.get("/sync/echo?message=mine", headers={"X-CSRF-Token": token}, status=303)
    browser.post("/sync/echo", {"message": "no token"}, status=403)
    jobs = browser.get("/rest", headers={"Accept": "application/json"}).json["jobs"]
    assert len(jobs) == 1
