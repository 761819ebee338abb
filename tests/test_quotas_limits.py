"""Per-user quotas (403) and request limits (400, 413): refused requests store nothing."""

from __future__ import annotations

import base64
import http.client
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import webtest

from uws_pyramid import main
from uws_pyramid.jobs import ACTIVE, FINAL, Job, JobQuery, Phase
from uws_pyramid.storage_contract import race
from uws_pyramid.testing import serve, wait_for

from .conftest import UWSTestApp, add_user

ACTIVE_MESSAGE = (
    "quota reached: at most 3 active jobs per user (uws.quota.active_jobs); this user has 3"
)
RUNNING_MESSAGE = (
    "quota reached: at most 2 running jobs per user (uws.quota.running_jobs); this user has 2"
)


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    settings.update(
        {
            "uws.quota.active_jobs": "3",
            "uws.quota.running_jobs": "2",
            "uws.limits.parameters": "4",
            "uws.limits.parameter_length": "20",
            "uws.limits.upload": "100",
            "uws.limits.body": "1K",
        }
    )
    return settings


def stored(app: Any) -> list[Job]:
    """Every job in storage, whoever owns it (the API shows a user only theirs)."""
    storage = app.registry.uws.storage
    return [storage.get(ref.job_id) for ref in storage.list(JobQuery())]


def job_dirs(app: Any) -> list[Path]:
    """The job directories under the working directory."""
    root = Path(app.registry.uws_settings.workdir)
    return sorted(root.iterdir()) if root.is_dir() else []


def create(testapp: UWSTestApp, job_type: str = "sleep", **params: str) -> str:
    """A new job's URL; a sleep lasts long enough to stay running through the test."""
    if job_type == "sleep":
        params.setdefault("duration", "30")
    return testapp.post(f"/rest/{job_type}", params, status=303).location


def phase(testapp: UWSTestApp, url: str) -> str:
    return testapp.get(url + "/phase").text


@pytest.fixture
def jobs_left(app: Any, testapp: UWSTestApp) -> Iterator[None]:
    """Abort what a test left running, so that no sleep outlives it."""
    yield
    for job in stored(app):
        if job.phase not in FINAL:
            testapp.post(f"/rest/{job.job_type}/{job.job_id}", {"PHASE": "ABORT"}, status=303)


# -- quotas ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("jobs_left")
def test_active_quota_refuses_creation_until_a_job_finishes_or_goes(
    app: Any, testapp: UWSTestApp
) -> None:
    echo = create(testapp, "echo")
    pending = create(testapp)
    create(testapp, PHASE="RUN")
    refused = testapp.post("/rest/sleep", {"duration": "1"}, status=403)
    assert refused.content_type == "text/plain"
    assert refused.text.strip() == ACTIVE_MESSAGE
    assert len(stored(app)) == 3
    testapp.post(echo, {"PHASE": "RUN"}, status=303)
    wait_for(lambda: phase(testapp, echo) == "COMPLETED")
    finished_made_room = create(testapp)
    testapp.post("/rest/echo", status=403)
    testapp.delete(pending, status=303)
    create(testapp, "echo")
    assert len(stored(app)) == 4  # the finished echo and three active jobs
    assert phase(testapp, finished_made_room) == "PENDING"


@pytest.mark.usefixtures("jobs_left")
def test_running_quota_refuses_run_and_the_job_stays_pending(app: Any, testapp: UWSTestApp) -> None:
    first, second, third = (create(testapp) for _ in range(3))
    testapp.post(first, {"PHASE": "RUN"}, status=303)
    testapp.post(second + "/phase", {"PHASE": "RUN"}, status=303)
    refused = testapp.post(third, {"PHASE": "RUN"}, status=403)
    assert refused.text.strip() == RUNNING_MESSAGE
    assert phase(testapp, third) == "PENDING"
    testapp.post(third + "/phase", {"PHASE": "RUN"}, status=403)
    testapp.post(first, {"PHASE": "RUN"}, status=303)  # already running: RUN stays idempotent
    testapp.post(first, {"PHASE": "ABORT"}, status=303)
    testapp.post(third, {"PHASE": "RUN"}, status=303)
    assert phase(testapp, third) in ("QUEUED", "EXECUTING")


@pytest.mark.usefixtures("jobs_left")
def test_creation_with_phase_run_is_refused_whole(app: Any, testapp: UWSTestApp) -> None:
    for _ in range(2):
        create(testapp, PHASE="RUN")
    refused = testapp.post("/rest/sleep?PHASE=RUN", {"duration": "30"}, status=403)
    assert refused.text.strip() == RUNNING_MESSAGE
    jobs = stored(app)
    assert len(jobs) == 2  # no PENDING job left behind, nor its directory
    assert {d.name for d in job_dirs(app)} <= {job.job_id for job in jobs}


# -- request limits ---------------------------------------------------------------------------


def test_too_many_parameters_is_400_and_stores_nothing(app: Any, testapp: UWSTestApp) -> None:
    params = {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
    refused = testapp.post("/rest/echo", params, status=400)
    assert refused.text.strip() == (
        "too many parameters: more than 4 in the request body (uws.limits.parameters)"
    )
    assert stored(app) == []
    url = create(testapp, "echo", message="kept")
    testapp.post(url, {**params, "message": "changed"}, status=400)
    assert testapp.get(url + "/parameters/message").text == "kept"


@pytest.mark.parametrize("name", ["message", "RUNID"])
def test_too_long_a_value_is_400_naming_the_parameter(
    app: Any, testapp: UWSTestApp, name: str
) -> None:
    refused = testapp.post("/rest/echo", {name: "x" * 21}, status=400)
    assert refused.text.startswith(f"Invalid value for parameter {name} ")
    assert "at most 20 characters (uws.limits.parameter_length)" in refused.text
    assert stored(app) == []
    testapp.post("/rest/echo", {name: "x" * 20}, status=303)


def test_too_large_an_upload_is_413_and_leaves_nothing(app: Any, testapp: UWSTestApp) -> None:
    refused = testapp.post(
        "/rest/wordcount", upload_files=[("infile", "data.txt", b"x" * 101)], status=413
    )
    assert refused.text.strip() == (
        "the file of parameter infile is larger than the limit of 100 bytes (uws.limits.upload)"
    )
    assert stored(app) == []
    assert job_dirs(app) == []


def test_a_refused_upload_keeps_the_earlier_file(app: Any, testapp: UWSTestApp) -> None:
    url = testapp.post(
        "/rest/wordcount", upload_files=[("infile", "data.txt", b"y" * 100)], status=303
    ).location
    testapp.post(url, upload_files=[("infile", "data.txt", b"z" * 101)], status=413)
    (job_dir,) = job_dirs(app)
    assert (job_dir / "uploads/infile/data.txt").read_bytes() == b"y" * 100
    assert sorted(p.name for p in job_dir.iterdir()) == [".uws", "uploads"]
    assert [p.name for p in (job_dir / "uploads/infile").iterdir()] == ["data.txt"]
    assert not any(p.name.startswith("upload") for p in (job_dir / ".uws").iterdir())
    # Users see the file's name: in the parameter's value and when they download it.
    assert testapp.get(url, headers={"Accept": "application/json"}).json["parameters"] == {
        "infile": "uploads/infile/data.txt"
    }
    served = testapp.get(f"{url}/parameters/infile")
    assert served.body == b"y" * 100
    assert served.headers["Content-Disposition"] == 'inline; filename="data.txt"'


class Unreadable(io.RawIOBase):
    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body of a refused request was read")


def test_too_large_a_body_is_413_before_it_is_read(app: Any, testapp: UWSTestApp) -> None:
    refused = testapp.post("/rest/echo", {"message": "x" * 1100}, status=413)
    assert refused.text.strip().endswith("at most 1024 are accepted (uws.limits.body)")
    request = webtest.TestRequest.blank(
        "/rest/echo",
        method="POST",
        content_type="application/x-www-form-urlencoded",
        environ={"wsgi.input": Unreadable(), "CONTENT_LENGTH": str(10**9)},
    )
    response = request.get_response(app)
    assert response.status_code == 413
    assert response.text.strip() == (
        "the request body has 1000000000 bytes; at most 1024 are accepted (uws.limits.body)"
    )
    assert stored(app) == []


# -- concurrent clients against a real server --------------------------------------------------


@contextmanager
def live_app(settings: dict[str, Any], **overrides: str) -> Iterator[Any]:
    app = main({"here": settings["here"]}, **{**settings, **overrides})
    try:
        yield app
    finally:
        app.registry.uws.close()


def post(url: str, auth: str = "", **form: str) -> tuple[int, str, str | None]:
    """POST a form without following the redirect (as ``auth``, "user:password", if given):
    status, body, Location."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=30)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    try:
        conn.request("POST", parts.path, urlencode(form), headers)
        response = conn.getresponse()
        return response.status, response.read().decode(), response.getheader("Location")
    finally:
        conn.close()


class RunningWatch:
    """Samples, while clients race, how many jobs are in a manager's hands."""

    def __init__(self, app: Any) -> None:
        self.storage = app.registry.uws.storage
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self._count()

    def _count(self) -> None:
        self.most = max(self.most, len(self.storage.in_phases(ACTIVE)))

    def __enter__(self) -> RunningWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._count()


def race_posts(posts: list[tuple[str, dict[str, str]]]) -> list[tuple[int, str, str | None]]:
    """Send the POSTs from one thread each, all released at once."""
    answers: list[tuple[int, str, str | None]] = [(0, "", None)] * len(posts)

    def client(i: int) -> None:
        url, form = posts[i]
        answers[i] = post(url, **form)

    assert race([lambda i=i: client(i) for i in range(len(posts))]) == [None] * len(posts)
    return answers


def assert_two_ran(answers: list[tuple[int, str, str | None]]) -> list[str]:
    """Two started, every other client got the running quota's 403; the started jobs' URLs."""
    assert sorted(status for status, _, _ in answers) == [303] * 2 + [403] * 6
    assert {text.strip() for status, text, _ in answers if status == 403} == {RUNNING_MESSAGE}
    return [location for status, _, location in answers if location and status == 303]


@pytest.mark.live
def test_concurrent_clients_never_pass_the_running_quota(settings: dict[str, Any]) -> None:
    with live_app(settings, **{"uws.quota.active_jobs": "0"}) as app, serve(app, threads=8) as base:
        new_job = (f"{base}/rest/sleep", {"duration": "30", "PHASE": "RUN"})
        with RunningWatch(app) as watch:
            started = assert_two_ran(race_posts([new_job] * 8))
        assert watch.most == 2
        assert len(stored(app)) == 2  # the refused creations left no job behind
        for url in started:
            assert post(url, PHASE="ABORT")[0] == 303

        pending = [post(f"{base}/rest/sleep", duration="30")[2] for _ in range(8)]
        with RunningWatch(app) as watch:
            started = assert_two_ran(race_posts([(str(url), {"PHASE": "RUN"}) for url in pending]))
        assert watch.most == 2
        phases = sorted(job.phase for job in stored(app) if job.phase not in FINAL)
        assert phases.count(Phase.PENDING) == 6 and len(phases) == 8
        for url in started:
            assert post(url, PHASE="ABORT")[0] == 303


@pytest.mark.live
def test_each_user_has_their_own_quota_under_concurrent_clients(settings: dict[str, Any]) -> None:
    """Eight clients, four as alice and four as bob, each creating and starting a job at once:
    two of each user's run, the others get the quota's 403, and nobody's jobs count for the
    other."""
    overrides = {"uws.quota.active_jobs": "0", "uws.auth.anonymous": "false"}
    with live_app(settings, **overrides) as app, serve(app, threads=8) as base:
        logins = {"alice": "alice:alice-secret-1", "bob": "bob:bob-secret-22"}
        for login in logins.values():
            add_user(app, *login.split(":"))
        new_job = {"duration": "30", "PHASE": "RUN"}
        users = ["alice", "bob"] * 4
        answers: list[tuple[int, str, str | None]] = [(0, "", None)] * len(users)

        def client(i: int) -> None:
            answers[i] = post(f"{base}/rest/sleep", logins[users[i]], **new_job)

        with RunningWatch(app) as watch:
            assert race([lambda i=i: client(i) for i in range(len(users))]) == [None] * 8
        assert watch.most == 4
        for user in logins:
            mine = [answers[i] for i, u in enumerate(users) if u == user]
            assert sorted(status for status, _, _ in mine) == [303, 303, 403, 403], mine
        owners = sorted(job.owner_id or "" for job in stored(app))
        assert owners == ["alice", "alice", "bob", "bob"]
        for (status, _, location), user in zip(answers, users):
            if status == 303:
                assert post(str(location), logins[user], PHASE="ABORT")[0] == 303
