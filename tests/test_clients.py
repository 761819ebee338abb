"""Independent UWS clients against a live server: pyvo drives a job's whole life, httpie-style forms."""

from __future__ import annotations

import io
from typing import Any

import pytest
import requests

from uws_pyramid.testing import serve

pyvo = pytest.importorskip("pyvo")
from pyvo.dal.tap import AsyncTAPJob  # noqa: E402
from pyvo.io.uws import parse_job, parse_job_list  # noqa: E402

pytestmark = pytest.mark.live


@pytest.fixture
def base(app: Any) -> Any:
    with serve(app, threads=8) as url:
        yield url


def test_pyvo_runs_waits_reads_and_deletes_a_job(base: str) -> None:
    created = requests.post(
        f"{base}/rest/echo", data={"message": "from pyvo"}, allow_redirects=False
    )
    assert created.status_code == 303
    job = AsyncTAPJob(created.headers["Location"])
    assert job.phase == "PENDING"
    assert job.uws_version == "1.1"
    job.execution_duration = 30
    assert job.execution_duration.to_value("s") == 30
    job.run()
    job.wait(timeout=30)
    assert job.phase == "COMPLETED"
    job.raise_if_error()
    uris = job.result_uris
    assert any(u.endswith("/results/output") for u in uris)
    output = next(u for u in uris if u.endswith("/results/output"))
    assert requests.get(output).text == "from pyvo\n"
    job.delete()
    assert requests.get(created.headers["Location"]).status_code == 404


def test_pyvo_reports_a_failed_job(base: str) -> None:
    url = requests.post(
        f"{base}/rest/fail", data={"message": "no luck", "PHASE": "RUN"}, allow_redirects=False
    ).headers["Location"]
    job = AsyncTAPJob(url)
    job.wait(timeout=30)
    assert job.phase == "ERROR"
    with pytest.raises(pyvo.dal.DALQueryError, match="no luck"):
        job.raise_if_error()


def test_pyvo_parses_job_lists_and_jobs(base: str) -> None:
    url = requests.post(
        f"{base}/rest/sleep", data={"duration": "1", "RUNID": "parsed"}, allow_redirects=False
    ).headers["Location"]
    job = parse_job(io.BytesIO(requests.get(url).content))
    assert (job.phase, job.runid, job.version) == ("PENDING", "parsed", "1.1")
    refs = parse_job_list(io.BytesIO(requests.get(f"{base}/rest/sleep").content))
    assert [r.jobid for r in refs] == [url.rsplit("/", 1)[1]]


def test_httpie_style_form_posts_with_redirects_followed(base: str) -> None:
    """The Daiquiri guide's workflow: every POST followed to the job document."""
    session = requests.Session()
    job = session.post(f"{base}/rest/sleep", data={"duration": "30"})
    assert job.status_code == 200 and "<uws:phase>PENDING</uws:phase>" in job.text
    url = job.url
    job = session.post(f"{url}/executionduration", data={"executionduration": "20"})
    assert "<uws:executionDuration>20</uws:executionDuration>" in job.text
    job = session.post(url, data={"phase": "run"})
    assert any(f"<uws:phase>{p}</uws:phase>" in job.text for p in ("QUEUED", "EXECUTING"))
    job = session.post(url, data={"phase": "abort"})
    assert "<uws:phase>ABORTED</uws:phase>" in job.text
    listing = session.delete(url)
    assert listing.status_code == 200 and "<uws:jobs" in listing.text


def test_pyvo_with_basic_credentials_and_an_api_token(settings: dict[str, Any]) -> None:
    """A service without anonymous access, as pyvo users meet it: requests sessions with auth."""
    from uws_pyramid import main

    from .conftest import add_user

    app = main({}, **{**settings, "uws.auth.anonymous": "false"})
    try:
        add_user(app, "alice", "alice-secret-1")
        add_user(app, "bob", "bob-secret-22")
        auth = app.registry.uws.authenticator
        issued = auth.new_token("alice", "pyvo")
        auth.accounts.add_token(issued.token)
        with serve(app, threads=8) as base:
            alice = requests.Session()
            alice.auth = ("alice", "alice-secret-1")
            url = alice.post(
                f"{base}/rest/echo", data={"message": "mine"}, allow_redirects=False
            ).headers["Location"]
            job = AsyncTAPJob(url, session=alice)
            assert job.owner == "alice"
            job.run()
            job.wait(timeout=30)
            assert job.phase == "COMPLETED"
            with_token = requests.Session()
            with_token.auth = ("token", issued.text)
            assert AsyncTAPJob(url, session=with_token).phase == "COMPLETED"
            bob = requests.Session()
            bob.auth = ("bob", "bob-secret-22")
            assert bob.get(url).status_code == 403
            with pytest.raises(pyvo.dal.DALServiceError):
                AsyncTAPJob(url, session=bob)
            assert requests.get(url).status_code == 401
    finally:
        app.registry.uws.close()
