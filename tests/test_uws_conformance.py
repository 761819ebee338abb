"""UWS 1.1 Recommendation, statement by statement, checked over HTTP (section numbers in names)."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree

from uws_postgres.testing import postgres_admin_url, temporary_database  # noqa: F401
from uws_pyramid.jobs import ErrorSummary, Phase, Result, new_job_id
from uws_pyramid.testing import serve, write_job_type
from uws_pyramid.transitions import Ending
from uws_pyramid.xsdcheck import UWS_NS

from .conftest import UWSTestApp, add_user
from .fakes import HoldingManager
from .holding import manager, settings  # noqa: F401  (fixtures)

NS = {"uws": UWS_NS}
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
#: UWS 1.1 section 2.2.1: instants are ISO 8601 with "T" and the "Z" designator.
INSTANT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"


def doc(response: Any) -> etree._Element:
    return etree.fromstring(response.body)


def create(testapp: UWSTestApp, job_type: str = "echo", **params: str) -> str:
    return testapp.post(f"/rest/{job_type}", params, status=303).location


def job_id(url: str) -> str:
    return url.rsplit("/", 1)[1]


def phase(testapp: UWSTestApp, url: str) -> str:
    return testapp.get(url + "/phase").text


def listed(testapp: UWSTestApp, query: str = "", job_type: str = "echo") -> list[str]:
    refs = doc(testapp.get(f"/rest/{job_type}{query}")).iterfind("uws:jobref", NS)
    return [r.get("id") for r in refs]


def parse_instant(text: str) -> datetime:
    assert re.match(INSTANT, text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def set_phase(app: Any, url: str, new: Phase) -> None:
    """Put a job in a phase only the server makes (HELD, SUSPENDED, UNKNOWN, ARCHIVED)."""
    assert app.registry.uws.service.record(job_id(url), None, phase=new) is not None


# -- 2.1.3 Execution Phase: the state machine ------------------------------------------------


def test_2_1_3_a_job_is_pending_when_first_created(testapp: UWSTestApp) -> None:
    """2.1.3: PENDING "is the state into which a job enters when it is first created"."""
    assert phase(testapp, create(testapp)) == "PENDING"


def test_2_1_3_a_successful_job_goes_pending_queued_executing_completed(
    testapp: UWSTestApp, manager: HoldingManager
) -> None:
    """2.1.3: "PENDING, QUEUED, EXECUTING, COMPLETED phases in that order"."""
    url = create(testapp)
    seen = [phase(testapp, url)]
    testapp.post(url + "/phase", {"PHASE": "RUN"}, status=303)
    seen.append(phase(testapp, url))
    manager.context.started(job_id(url), start_time=datetime.now(timezone.utc))
    seen.append(phase(testapp, url))
    manager.finish(job_id(url))
    seen.append(phase(testapp, url))
    assert seen == ["PENDING", "QUEUED", "EXECUTING", "COMPLETED"]


@pytest.mark.parametrize("before", ["PENDING", "QUEUED", "EXECUTING", "HELD", "SUSPENDED"])
def test_2_1_3_a_job_may_be_aborted_at_any_time_before_completed(
    app: Any, testapp: UWSTestApp, before: str
) -> None:
    """2.1.3: "At any time before the COMPLETED phase a job may either be ABORTED"."""
    url = create(testapp)
    if before != "PENDING":
        set_phase(app, url, Phase(before))
    assert testapp.post(url + "/phase", {"PHASE": "ABORT"}, status=303).location == url
    assert phase(testapp, url) == "ABORTED"


def test_2_1_3_a_held_job_runs_when_the_client_asks_again(
    app: Any, testapp: UWSTestApp, manager: HoldingManager
) -> None:
    """2.1.3: from HELD "it is the responsibility of the client to request PHASE=RUN again"."""
    url = create(testapp)
    set_phase(app, url, Phase.HELD)
    assert phase(testapp, url) == "HELD"
    testapp.post(url + "/phase", {"PHASE": "RUN"}, status=303)
    assert phase(testapp, url) == "QUEUED"
    assert manager.submitted == [job_id(url)]


def test_2_1_3_a_suspended_job_resumes_executing_by_itself(
    testapp: UWSTestApp, manager: HoldingManager
) -> None:
    """2.1.3 SUSPENDED: "The UWS will automatically resume the job into the EXECUTING phase
    without any intervention"; its startTime stays the first start."""
    url = create(testapp, PHASE="RUN")
    manager.context.started(job_id(url), start_time=datetime.now(timezone.utc))
    first_start = doc(testapp.get(url)).findtext("uws:startTime", namespaces=NS)
    manager.context.suspended(job_id(url), {"reason": "preempted"})
    assert phase(testapp, url) == "SUSPENDED"
    manager.context.started(job_id(url))
    job = doc(testapp.get(url))
    assert job.findtext("uws:phase", namespaces=NS) == "EXECUTING"
    assert job.findtext("uws:startTime", namespaces=NS) == first_start


@pytest.mark.parametrize("shown", ["UNKNOWN", "HELD", "SUSPENDED", "ARCHIVED"])
def test_2_1_3_every_phase_of_the_recommendation_is_shown(
    app: Any, testapp: UWSTestApp, shown: str
) -> None:
    """2.1.3: the ten phases; the job document (schema-checked by the test app) and /phase."""
    url = create(testapp)
    set_phase(app, url, Phase(shown))
    assert phase(testapp, url) == shown
    assert doc(testapp.get(url)).findtext("uws:phase", namespaces=NS) == shown


@pytest.mark.parametrize("final", ["COMPLETED", "ERROR", "ABORTED", "ARCHIVED"])
def test_2_2_a_run_or_abort_of_a_finished_job_is_403(
    app: Any, testapp: UWSTestApp, final: str
) -> None:
    """2.2: "a request ... that is illegal for the current state of the UWS then a 403"."""
    url = create(testapp)
    set_phase(app, url, Phase(final))
    testapp.post(url + "/phase", {"PHASE": "RUN"}, status=403)
    if final != "ABORTED":  # ABORT of an aborted job is a no-op, answered 303 (test_api)
        testapp.post(url + "/phase", {"PHASE": "ABORT"}, status=403)
    assert phase(testapp, url) == final


def test_2_1_3_an_unknown_job_can_only_be_requeried(app: Any, testapp: UWSTestApp) -> None:
    """2.1.3: UNKNOWN: "all the client can do is re-query the phase". The service's choice:
    RUN and ABORT are refused (403) rather than guessed at."""
    url = create(testapp)
    set_phase(app, url, Phase.UNKNOWN)
    testapp.post(url + "/phase", {"PHASE": "RUN"}, status=403)
    testapp.post(url + "/phase", {"PHASE": "ABORT"}, status=403)
    assert phase(testapp, url) == "UNKNOWN"


# -- 2.1.4 Execution Duration ----------------------------------------------------------------


def test_2_1_4_an_aborted_job_keeps_its_results(
    app: Any, testapp: UWSTestApp, manager: HoldingManager
) -> None:
    """2.1.4: when a job is aborted "any previously generated results ... are retained"."""
    url = create(testapp, PHASE="RUN")
    job_dir = app.registry.uws.service.job_dir(job_id(url))
    job_dir.create()
    (job_dir.path / "part.txt").write_text("partial")
    testapp.post(url + "/phase", {"PHASE": "ABORT"}, status=303)
    manager.context.ended(
        job_id(url),
        _ending(Phase.ABORTED, [Result("part", "part.txt", "text/plain", 7)]),
    )
    refs = doc(testapp.get(url + "/results")).findall("uws:result", NS)
    assert [r.get("id") for r in refs] == ["part"]
    assert testapp.get(refs[0].get(XLINK_HREF)).text == "partial"
    assert phase(testapp, url) == "ABORTED"


def test_2_1_4_exceeding_the_execution_duration_aborts_the_job(
    settings: dict[str, Any],
) -> None:
    """2.1.4: "When the execution duration has been exceeded the service should
    automatically abort the job": a real 30 s sleep with EXECUTIONDURATION=1 (local manager)."""
    from uws_pyramid import main

    app = main({}, **{**settings, "uws.manager": "local", "testing.plugins": []})
    try:
        testapp = UWSTestApp(app)
        url = create(testapp, "sleep", duration="30", EXECUTIONDURATION="1", PHASE="RUN")
        started = time.monotonic()
        job = doc(testapp.get(url, {"WAIT": "20"}))
        while job.findtext("uws:phase", namespaces=NS) in ("QUEUED", "EXECUTING"):
            assert time.monotonic() - started < 20
            job = doc(testapp.get(url, {"WAIT": "5"}))
        assert job.findtext("uws:phase", namespaces=NS) == "ABORTED"
        assert time.monotonic() - started < 20
    finally:
        app.registry.uws.close()


def _ending(outcome: Phase, results: list[Result] | None = None) -> Ending:
    return Ending(outcome, datetime.now(timezone.utc), results)


def test_2_1_4_execution_duration_is_whole_seconds_as_text(testapp: UWSTestApp) -> None:
    """2.2.1: /executionduration is an "Integer number of seconds" (text/plain, 2.2.2)."""
    url = create(testapp, EXECUTIONDURATION="42")
    response = testapp.get(url + "/executionduration")
    assert response.content_type == "text/plain"
    assert response.text == "42"
    assert doc(testapp.get(url)).findtext("uws:executionDuration", namespaces=NS) == "42"


# -- 2.1.5 / 2.2.3.3 Destruction Time --------------------------------------------------------


def test_2_2_3_3_destruction_post_is_303_to_the_job_with_the_value_set(
    testapp: UWSTestApp,
) -> None:
    """2.2.3.3: POST DESTRUCTION: "must have code 303" to /{jobs}/{job-id}, whose document
    holds the value the service actually set."""
    url = create(testapp)
    wanted = (datetime.now(timezone.utc) + timedelta(hours=5)).replace(microsecond=0)
    text = wanted.strftime("%Y-%m-%dT%H:%M:%SZ")
    response = testapp.post(url + "/destruction", {"DESTRUCTION": text}, status=303)
    assert response.location == url
    assert doc(response.follow()).findtext("uws:destruction", namespaces=NS) == text
    assert testapp.get(url + "/destruction").text == text


def test_2_2_3_3_destruction_may_be_overridden_by_the_service(testapp: UWSTestApp) -> None:
    """2.2.3.3: "The service may override the requested Destruction Time": capped at
    uws.destruction.max (30 days), still a 303."""
    url = create(testapp)
    testapp.post(url + "/destruction", {"DESTRUCTION": "2999-01-01T00:00:00Z"}, status=303)
    text = testapp.get(url + "/destruction").text
    assert parse_instant(text) <= datetime.now(timezone.utc) + timedelta(days=30)


def test_2_1_5_destroyed_jobs_are_forgotten(app: Any, testapp: UWSTestApp) -> None:
    """2.1.5: destroying a job means "the service forgets that the job existed"."""
    url = create(testapp)
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    app.registry.uws.service.record(job_id(url), None, destruction=past)
    assert app.registry.uws.service.destroy_expired() == 1
    testapp.get(url, status=404)
    assert job_id(url) not in listed(testapp)
    assert job_id(url) not in listed(testapp, "?PHASE=ARCHIVED")


def test_2_1_5_destruction_aborts_an_executing_job(
    app: Any, testapp: UWSTestApp, manager: HoldingManager
) -> None:
    """2.1.5: destroying a job: "if the job is still executing, the execution is aborted"."""
    url = create(testapp, PHASE="RUN")
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    app.registry.uws.service.record(job_id(url), None, destruction=past)
    app.registry.uws.service.destroy_expired()
    assert job_id(url) in manager.deleted
    testapp.get(url, status=404)


def test_2_1_3_archived_jobs_keep_metadata_without_results(settings: dict[str, Any]) -> None:
    """2.1.3 ARCHIVED: "the results associated with a job have been deleted ... but the
    metadata associated with the job have been retained" (uws.destruction.archive)."""
    from uws_pyramid import main

    app = main({}, **{**settings, "uws.destruction.archive": "true"})
    try:
        testapp = UWSTestApp(app)
        url = create(testapp, RUNID="kept")
        manager = app.registry.uws.manager
        testapp.post(url, {"PHASE": "RUN"}, status=303)
        job_dir = app.registry.uws.service.job_dir(job_id(url))
        job_dir.create()
        (job_dir.path / "out.txt").write_text("x")
        manager.finish(job_id(url), results=[Result("out", "out.txt", "text/plain", 1)])
        past = datetime.now(timezone.utc) - timedelta(seconds=1)
        app.registry.uws.service.record(job_id(url), None, destruction=past)
        app.registry.uws.service.destroy_expired()
        job = doc(testapp.get(url))
        assert job.findtext("uws:phase", namespaces=NS) == "ARCHIVED"
        assert job.findtext("uws:runId", namespaces=NS) == "kept"
        assert job.findall("uws:results/uws:result", NS) == []
        testapp.get(url + "/results/out", status=404)
        # 2.2.2.1: listed only when asked for by PHASE=ARCHIVED
        assert listed(testapp) == []
        assert listed(testapp, "?PHASE=ARCHIVED") == [job_id(url)]
        assert app.registry.uws.service.destroy_expired() == 0  # archived once, then left
        # 2.2.3.2: the client may still destroy it altogether.
        testapp.delete(url, status=303)
        testapp.get(url, status=404)
    finally:
        app.registry.uws.close()


def test_2_1_5_no_destruction_time_is_nil_and_an_empty_string(
    settings: dict[str, Any], tmp_path: Path
) -> None:
    """2.1.5: "If there is no destruction time set by the service then this should be
    indicated in the job XML as an xsi:nil element and as a null string" (2.2.1: "If no
    destruction time then return empty string"): a job type without a lifetime, on a
    service without a default."""
    from uws_pyramid import main

    jdl = write_job_type(tmp_path / "jdl", "forever", "true\n")
    app = main(
        {},
        **{
            **settings,
            "uws.jdl_dir": str(jdl),
            "uws.destruction.default": "0",
            "uws.destruction.max": "0",
        },
    )
    try:
        testapp = UWSTestApp(app)
        url = create(testapp, "forever")
        element = doc(testapp.get(url)).find("uws:destruction", NS)
        assert element.get(XSI_NIL) == "true" and element.text is None
        assert testapp.get(url + "/destruction").text == ""
    finally:
        app.registry.uws.close()


# -- 2.1.6 Quote -----------------------------------------------------------------------------


def test_2_1_6_quote_is_an_instant(testapp: UWSTestApp) -> None:
    """2.1.6 and 2.2.1: /quote is text/plain ISO 8601, the job's <quote> the same instant
    (the shipped job types declare a quote)."""
    url = create(testapp)
    response = testapp.get(url + "/quote")
    assert response.content_type == "text/plain"
    assert parse_instant(response.text) > datetime.now(timezone.utc) - timedelta(minutes=5)
    assert doc(testapp.get(url)).findtext("uws:quote", namespaces=NS) == response.text


def test_2_1_6_no_quote_is_nil_and_an_empty_string(
    settings: dict[str, Any], tmp_path: Path
) -> None:
    """2.1.6: a "don't know" quote is "an XML xsi:nil element"; 2.2.1: "If no quote
    available then return empty string" (a job type that declares no quote)."""
    from uws_pyramid import main

    jdl = write_job_type(tmp_path / "jdl", "unquoted", "true\n")
    app = main({}, **{**settings, "uws.jdl_dir": str(jdl)})
    try:
        testapp = UWSTestApp(app)
        url = create(testapp, "unquoted")
        assert doc(testapp.get(url)).find("uws:quote", NS).get(XSI_NIL) == "true"
        assert testapp.get(url + "/quote").text == ""
    finally:
        app.registry.uws.close()


# -- 2.1.7 / 2.2.2.5 Error -------------------------------------------------------------------


def test_2_2_2_5_an_error_sets_the_phase_summary_and_error_resource(
    testapp: UWSTestApp, manager: HoldingManager
) -> None:
    """2.2.2.5: "must signal this at a minimum by setting the PHASE to error"; the
    errorSummary "should be included"; detail at /error. 2.2: the job itself is still a 200."""
    url = create(testapp, PHASE="RUN")
    manager.finish(job_id(url), Phase.ERROR, error=ErrorSummary("disk full", "fatal", False))
    job = testapp.get(url, status=200)
    assert doc(job).findtext("uws:phase", namespaces=NS) == "ERROR"
    summary = doc(job).find("uws:errorSummary", NS)
    assert summary.findtext("uws:message", namespaces=NS) == "disk full"
    error = testapp.get(url + "/error")
    assert error.content_type == "text/plain" and "disk full" in error.text


def test_2_2_2_5_an_error_without_a_message_still_has_a_summary(
    testapp: UWSTestApp, manager: HoldingManager
) -> None:
    """2.2.2.5: the errorSummary "should be included" even when the manager reported the
    failure without a message: the service supplies one (and /error serves it)."""
    url = create(testapp, PHASE="RUN")
    manager.finish(job_id(url), Phase.ERROR)
    summary = doc(testapp.get(url)).find("uws:errorSummary", NS)
    assert summary is not None and summary.get("type") == "fatal"
    assert summary.findtext("uws:message", namespaces=NS)
    assert testapp.get(url + "/error").text == summary.findtext("uws:message", namespaces=NS)


def test_2_1_7_error_of_a_job_without_error_is_404(testapp: UWSTestApp) -> None:
    """2.1.7: a job has "Zero or one Error". The service's choice for zero: /error is 404
    (the resource does not exist), not an empty 200."""
    url = create(testapp)
    testapp.get(url + "/error", status=404)


# -- 2.1.8 Owner, 3 Security -------------------------------------------------------------------


@pytest.fixture
def private_app(settings: dict[str, Any]) -> Any:
    from uws_pyramid import main

    app = main({}, **{**settings, "uws.auth.anonymous": "false"})
    add_user(app, "alice", "alice-secret-1")
    add_user(app, "bob", "bob-secret-22")
    yield app
    app.registry.uws.close()


def login(app: Any, name: str, password: str) -> UWSTestApp:
    testapp = UWSTestApp(app)
    testapp.authorization = ("Basic", (name, password))
    return testapp


def test_2_1_8_owner_is_the_authenticated_creator(private_app: Any) -> None:
    """2.1.8: "the identifier for the creator of the job" when access is authenticated;
    2.2.2.1: the job list's ownerId."""
    alice = login(private_app, "alice", "alice-secret-1")
    url = create(alice, RUNID="a")
    assert alice.get(url + "/owner").text == "alice"
    assert alice.get(url + "/owner").content_type == "text/plain"
    assert doc(alice.get(url)).findtext("uws:ownerId", namespaces=NS) == "alice"
    ref = doc(alice.get("/rest/echo")).find("uws:jobref", NS)
    assert ref.findtext("uws:ownerId", namespaces=NS) == "alice"


def test_2_1_8_anonymous_jobs_have_a_nil_owner(testapp: UWSTestApp) -> None:
    """2.1.8: the owner "will not exist for all invocations": xsi:nil, and /owner empty."""
    url = create(testapp)
    assert doc(testapp.get(url)).find("uws:ownerId", NS).get(XSI_NIL) == "true"
    assert testapp.get(url + "/owner").text == ""


def test_3_another_users_job_is_403_and_not_listed(private_app: Any) -> None:
    """3: "Any attempt to retrieve a job for which the user does not have sufficient
    privilege should result in a 403"; the list shows only what the user may see."""
    alice = login(private_app, "alice", "alice-secret-1")
    bob = login(private_app, "bob", "bob-secret-22")
    url = create(alice)
    bob.get(url, status=403)
    bob.get(url + "/phase", status=403)
    bob.post(url + "/phase", {"PHASE": "RUN"}, status=403)
    bob.delete(url, status=403)
    assert listed(bob) == []
    assert listed(alice) == [job_id(url)]


def test_2_2_3_1_a_refused_creation_is_403(settings: dict[str, Any]) -> None:
    """2.2.3.1: "The response when the job is rejected should be a HTTP 403": a type that
    needs a role the (logged-in) caller lacks. The service's choice for malformed
    parameters is 400 naming the parameter, as DALI asks (test_api)."""
    from uws_pyramid import main

    app = main(
        {},
        **{**settings, "uws.auth.anonymous": "false", "uws.auth.type_roles": "echo = astro"},
    )
    try:
        add_user(app, "carol", "carol-secret-1")
        testapp = login(app, "carol", "carol-secret-1")
        assert "astro" in testapp.post("/rest/echo", {"message": "x"}, status=403).text
        assert listed(testapp) == []
    finally:
        app.registry.uws.close()


def test_2_2_3_1_a_creation_over_the_quota_is_403(settings: dict[str, Any]) -> None:
    """2.2.3.1: a job the service rejects for want of resources (uws.quota.active_jobs) is
    a 403, and no job is left behind."""
    from uws_pyramid import main

    app = main({}, **{**settings, "uws.quota.active_jobs": "1"})
    try:
        testapp = UWSTestApp(app)
        first = create(testapp)
        assert "quota" in testapp.post("/rest/echo", {}, status=403).text.lower()
        assert listed(testapp) == [job_id(first)]
    finally:
        app.registry.uws.close()


# -- 2.1.9 RunId -------------------------------------------------------------------------------


def test_2_1_9_run_id_is_passed_back_as_given_and_may_repeat(testapp: UWSTestApp) -> None:
    """2.1.9: "do no parsing or processing of the RunId, but merely pass back the value";
    "multiple jobs have the same RunId"."""
    odd = "  Group <7> & 'x'  "
    first, second = create(testapp, RUNID=odd), create(testapp, RUNID=odd)
    for url in (first, second):
        assert doc(testapp.get(url)).findtext("uws:runId", namespaces=NS) == odd
    refs = doc(testapp.get("/rest/echo")).findall("uws:jobref", NS)
    assert [r.findtext("uws:runId", namespaces=NS) for r in refs] == [odd, odd]


# -- 2.1.10 / 2.2.2.3 Results ------------------------------------------------------------------


def test_2_2_2_3_results_list_is_valid_even_when_empty(testapp: UWSTestApp) -> None:
    """2.2.2.3: "the UWS must still return a valid Results List at /results"."""
    response = testapp.get(create(testapp) + "/results")
    assert response.content_type == "application/xml"
    root = doc(response)
    assert root.tag == f"{{{UWS_NS}}}results" and len(root) == 0


def test_2_2_2_3_results_have_unique_ids_links_size_and_type(
    app: Any, testapp: UWSTestApp, manager: HoldingManager
) -> None:
    """2.2.2.3: "Each result in a result list must be given a unique identifier"; links,
    with the optional size and mime-type."""
    url = create(testapp, PHASE="RUN")
    job_dir = app.registry.uws.service.job_dir(job_id(url))
    job_dir.create()
    (job_dir.path / "a.txt").write_text("aa")
    (job_dir.path / "b.csv").write_text("b,b,b")
    manager.finish(
        job_id(url),
        results=[Result("a", "a.txt", "text/plain", 2), Result("b", "b.csv", "text/csv", 5)],
    )
    refs = doc(testapp.get(url + "/results")).findall("uws:result", NS)
    assert sorted(r.get("id") for r in refs) == ["a", "b"]
    for ref in refs:
        body = testapp.get(ref.get(XLINK_HREF))
        assert body.content_type == ref.get("mime-type")
        assert len(body.body) == int(ref.get("size"))


def test_2_1_10_the_client_cannot_add_update_or_delete_results(testapp: UWSTestApp) -> None:
    """2.1.10: results "may be read but not updated or deleted. The client cannot add
    anything to the Results List"; 2.2.3.2: "No other resource ... may be directly deleted"."""
    url = create(testapp)
    # 405 with the resource's own methods in Allow (RFC 9110): no POST on read-only ones.
    for method in ("post", "put", "delete"):
        for prop in ("results", "owner", "quote", "error"):
            response = getattr(testapp, method)(f"{url}/{prop}", status=405)
            assert response.headers["Allow"] == "GET, HEAD"
    assert testapp.delete(url + "/results/output", status=405).headers["Allow"] == "GET, HEAD"
    for prop in ("parameters", "executionduration", "destruction", "phase"):
        response = testapp.delete(f"{url}/{prop}", status=405)
        assert response.headers["Allow"] == "GET, HEAD, POST"


# -- 2.1.11 / 2.2.2.4 / 2.2.3.1.1 Parameters ---------------------------------------------------


def test_2_1_11_parameters_updated_by_post_to_the_job_while_pending(testapp: UWSTestApp) -> None:
    """2.1.11: "HTTP POST an application/x-www-form-urlencoded parameter name, value pair
    to /{jobs}/{job-id}"."""
    url = create(testapp, message="one")
    assert testapp.post(url, {"message": "two"}, status=303).location == url
    assert testapp.get(url + "/parameters/message").text == "two"


def test_2_1_11_parameters_updated_by_post_to_the_parameter_list(testapp: UWSTestApp) -> None:
    """2.1.11: "... or /{jobs}/{job-id}/parameters"."""
    url = create(testapp, message="one")
    assert testapp.post(url + "/parameters", {"message": "two"}, status=303).location == url
    params = doc(testapp.get(url + "/parameters")).findall("uws:parameter", NS)
    assert {p.get("id"): p.text for p in params} == {"message": "two"}


def test_2_1_11_parameter_put_one_by_one(testapp: UWSTestApp) -> None:
    """2.1.11: "HTTP PUT the parameter value to /{jobs}/{job-id}/parameters/(name)"."""
    url = create(testapp, message="one")
    assert testapp.put(url + "/parameters/message", "three", status=303).location == url
    assert testapp.get(url + "/parameters/message").text == "three"


def test_2_1_11_post_to_one_parameter_is_not_a_uws_binding(testapp: UWSTestApp) -> None:
    """2.1.11 names POST to the job or to /parameters, and PUT to /parameters/(name). The
    service's choice: a POST to /parameters/(name) is 405 (its Allow names GET and PUT)."""
    url = create(testapp, message="one")
    response = testapp.post(url + "/parameters/message", {"message": "two"}, status=405)
    assert response.headers["Allow"] == "GET, HEAD, PUT"
    assert testapp.get(url + "/parameters/message").text == "one"


def test_2_1_11_parameters_are_updated_but_not_created(testapp: UWSTestApp) -> None:
    """2.1.11: parameters "updated (but not created) after the initial job creation step":
    a name the job type does not declare is refused (400, naming it) on every binding."""
    url = create(testapp)
    assert "colour" in testapp.post(url, {"colour": "red"}, status=400).text
    testapp.post(url + "/parameters", {"colour": "red"}, status=400)
    testapp.put(url + "/parameters/colour", "red", status=400)
    testapp.get(url + "/parameters/colour", status=404)


@pytest.mark.parametrize(
    "phase_now",
    ["QUEUED", "EXECUTING", "COMPLETED", "ERROR", "ABORTED", "HELD", "SUSPENDED", "ARCHIVED"],
)
def test_2_1_11_parameters_change_only_while_pending(
    app: Any, testapp: UWSTestApp, phase_now: str
) -> None:
    """2.1.11: updates "whilst the PHASE is in the PENDING state"; elsewhere illegal for
    the state (2.2: 403), on every binding, and the value stays."""
    url = create(testapp, message="one")
    set_phase(app, url, Phase(phase_now))
    testapp.post(url, {"message": "two"}, status=403)
    testapp.post(url + "/parameters", {"message": "two"}, status=403)
    testapp.put(url + "/parameters/message", "two", status=403)
    testapp.post(url + "/executionduration", {"EXECUTIONDURATION": "5"}, status=403)
    assert testapp.get(url + "/parameters/message").text == "one"


def test_2_2_3_1_1_inline_upload_is_by_reference_and_served(testapp: UWSTestApp) -> None:
    """2.2.3.1.1: multipart content "made available ... at /{jobs}/{job-id}/parameters/
    {parameter-name}, and then described as a byReference parameter"."""
    url = testapp.post(
        "/rest/wordcount", upload_files=[("infile", "a.txt", b"one two\n")], status=303
    ).location
    param = doc(testapp.get(url)).find("uws:parameters/uws:parameter[@id='infile']", NS)
    assert param.get("byReference") == "true"
    assert param.text == url + "/parameters/infile"
    assert testapp.get(param.text).body == b"one two\n"


def test_2_2_3_1_1_inline_upload_named_by_the_param_uri_scheme(testapp: UWSTestApp) -> None:
    """2.2.3.1.1: "the formal value of the parameter being a byReference type using the
    special URI scheme "param" with the path part of the URI matching the name attribute of
    the multipart/form-data encoding content part": infile=param:data with a part "data"."""
    url = testapp.post(
        "/rest/wordcount",
        {"infile": "param:data"},
        upload_files=[("data", "a.txt", b"one two\n")],
        status=303,
    ).location
    params = doc(testapp.get(url)).findall("uws:parameters/uws:parameter", NS)
    assert [(p.get("id"), p.get("byReference")) for p in params] == [("infile", "true")]
    assert testapp.get(url + "/parameters/infile").body == b"one two\n"
    # The same in a later POST to the job's parameters, while it is PENDING (2.1.11).
    testapp.post(
        url + "/parameters",
        {"infile": "PARAM:other"},
        upload_files=[("other", "b.txt", b"three\n")],
        status=303,
    )
    assert testapp.get(url + "/parameters/infile").body == b"three\n"
    # A reference to no part is still a value that is not a file: 400 naming the parameter.
    bad = testapp.post("/rest/wordcount", {"infile": "param:nosuch"}, status=400)
    assert "infile" in bad.text


def test_2_2_3_1_job_control_parameters_in_the_creation_post(testapp: UWSTestApp) -> None:
    """2.2.3.1: the initial POST "may contain job control parameters"; "?PHASE=RUN query
    part to the job creation URL"."""
    future = (datetime.now(timezone.utc) + timedelta(days=2)).replace(microsecond=0)
    url = testapp.post(
        "/rest/echo?PHASE=RUN",
        {
            "EXECUTIONDURATION": "30",
            "DESTRUCTION": future.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "RUNID": "r",
        },
        status=303,
    ).location
    job = doc(testapp.get(url))
    assert job.findtext("uws:phase", namespaces=NS) == "QUEUED"
    assert job.findtext("uws:executionDuration", namespaces=NS) == "30"
    assert job.findtext("uws:destruction", namespaces=NS) == future.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- 2.2 REST binding: status codes ------------------------------------------------------------


def test_2_2_a_nonexistent_job_is_404_on_every_resource(testapp: UWSTestApp) -> None:
    """2.2: "a request is made to a resource that does not exist (e.g. an non-existent
    job-id) then a 404 error should be returned"."""
    url = "/rest/echo/" + new_job_id()
    for path in ("", "/phase", "/executionduration", "/destruction", "/error", "/quote"):
        testapp.get(url + path, status=404)
    for path in ("/results", "/parameters", "/owner", "/results/x", "/parameters/message"):
        testapp.get(url + path, status=404)
    testapp.post(url, {"PHASE": "RUN"}, status=404)
    testapp.post(url + "/phase", {"PHASE": "RUN"}, status=404)
    testapp.delete(url, status=404)


# -- 2.2.1 Resources and URIs, 2.2.2 representations --------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("", "application/xml"),
        ("/phase", "text/plain"),
        ("/executionduration", "text/plain"),
        ("/destruction", "text/plain"),
        ("/quote", "text/plain"),
        ("/owner", "text/plain"),
        ("/results", "application/xml"),
        ("/parameters", "application/xml"),
    ],
)
def test_2_2_2_containers_are_xml_and_atomic_values_text(
    testapp: UWSTestApp, path: str, content_type: str
) -> None:
    """2.2.1 table and 2.2.2: "where an object is a container ... an XML representation ...
    for simple atomic types ... a textual (mime type "text/plain") representation"."""
    url = create(testapp)
    assert testapp.get(url + path).content_type == content_type


def test_2_2_1_the_job_list_is_a_jobs_document(testapp: UWSTestApp) -> None:
    """2.2.1: /{jobs} is "the <jobs> element in the UWS schema"."""
    create(testapp)
    response = testapp.get("/rest/echo")
    assert response.content_type == "application/xml"
    assert doc(response).tag == f"{{{UWS_NS}}}jobs"


def test_2_2_1_instants_use_t_and_z(testapp: UWSTestApp, manager: HoldingManager) -> None:
    """2.2.1: "A character 'T' must be used to separate the date and the time. Times must be
    expressed in the UTC timezone ... 'Z'": every instant of a job, its list and /destruction."""
    url = create(testapp, PHASE="RUN")
    manager.finish(job_id(url))
    job = doc(testapp.get(url))
    for name in ("creationTime", "startTime", "endTime", "destruction", "quote"):
        assert job.findtext(f"uws:{name}", namespaces=NS) is not None
        assert job.findtext(f"uws:{name}", namespaces=NS)[10] == "T"
        assert job.findtext(f"uws:{name}", namespaces=NS).endswith("Z")
    ref = doc(testapp.get("/rest/echo")).find("uws:jobref", NS)
    assert re.match(INSTANT, ref.findtext("uws:creationTime", namespaces=NS))
    assert re.match(INSTANT, testapp.get(url + "/destruction").text)
    assert re.match(INSTANT, testapp.get(url + "/quote").text)


def test_2_2_1_1_version_attribute_is_1_1(testapp: UWSTestApp) -> None:
    """2.2.1.1: "a UWS 1.1 compliant server must set the attribute value to "1.1"" on the
    topmost element at /{jobs} and /{jobs}/{job-id}."""
    url = create(testapp)
    assert doc(testapp.get(url)).get("version") == "1.1"
    assert doc(testapp.get("/rest/echo")).get("version") == "1.1"
    assert doc(testapp.get("/rest/echo?PHASE=PENDING&LAST=1")).get("version") == "1.1"


def test_2_2_1_1_vosi_capabilities_name_uws_1_1_and_the_job_lists(testapp: UWSTestApp) -> None:
    """2.2.1.1: the standardID "ivo://ivoa.net/std/UWS#rest-1.1" in VOSI capabilities;
    2.2.1: the job list's absolute URI "should be given as the access URL"."""
    caps = doc(testapp.get("/capabilities"))
    urls = [
        c.findtext("interface/accessURL")
        for c in caps.iterfind("capability")
        if c.get("standardID") == "ivo://ivoa.net/std/UWS#rest-1.1"
    ]
    assert urls == [f"http://localhost/rest/{t}" for t in ("echo", "fail", "sleep", "wordcount")]
    for url in urls:
        assert doc(testapp.get(url)).tag == f"{{{UWS_NS}}}jobs"


@pytest.mark.parametrize(
    "accept", ["application/xml,text/plain", "text/html,application/xml;q=0.9,*/*;q=0.8", "*/*"]
)
def test_2_2_2_xml_is_returned_in_preference_to_html(testapp: UWSTestApp, accept: str) -> None:
    """2.2.2: clients "should accept only application/xml,text/plain. A UWS must therefore
    return XML representations of the resources in preference to the HTML representation".
    The service has no HTML form of UWS resources (its browser client is elsewhere): always XML."""
    url = create(testapp)
    for path in (url, url + "/results", url + "/parameters", "/rest/echo"):
        assert testapp.get(path, headers={"Accept": accept}).content_type == "application/xml"
    assert testapp.get(url + "/phase", headers={"Accept": accept}).content_type == "text/plain"


def test_2_2_2_the_schema_is_followed_by_every_document(
    testapp: UWSTestApp, manager: HoldingManager
) -> None:
    """2.2.2: "This schema is the definitive description of the exact form of the XML":
    UWSTestApp validates every UWS document against the shipped UWS 1.1 schema; here every
    kind of document, with every optional part present, goes through it."""
    url = create(testapp, PHASE="RUN", RUNID="all parts")
    manager.finish(
        job_id(url),
        Phase.ERROR,
        results=[Result("x", "x.txt", "text/plain", 1)],
        error=ErrorSummary("bad", "transient", True),
    )
    for path in (url, url + "/results", url + "/parameters", "/rest/echo", "/rest"):
        assert testapp.get(path).content_type == "application/xml"


# -- 2.2.1.2 Blocking behaviour ----------------------------------------------------------------


def test_2_2_1_2_wait_must_return_when_the_phase_changes(testapp: UWSTestApp) -> None:
    """2.2.1.2: "at a minimum, it must return when the Job Phase changes"."""
    url = create(testapp)
    threading.Timer(0.3, lambda: testapp.post(url, {"PHASE": "RUN"})).start()
    started = time.monotonic()
    job = doc(testapp.get(url, {"WAIT": "20"}))
    assert time.monotonic() - started < 10
    assert job.findtext("uws:phase", namespaces=NS) == "QUEUED"


def test_2_2_1_2_wait_must_return_after_the_given_seconds(testapp: UWSTestApp) -> None:
    """2.2.1.2: "the server must return after the given value of seconds"."""
    url = create(testapp)
    started = time.monotonic()
    testapp.get(url, {"WAIT": "1"})
    assert 0.9 <= time.monotonic() - started < 8


@pytest.mark.parametrize(
    "inactive", ["COMPLETED", "ERROR", "ABORTED", "HELD", "SUSPENDED", "UNKNOWN", "ARCHIVED"]
)
def test_2_2_1_2_wait_returns_at_once_outside_active_phases(
    app: Any, testapp: UWSTestApp, inactive: str
) -> None:
    """2.2.1.2: the server "may block only when in one of the "active" phases (PENDING,
    QUEUED or EXECUTING), and otherwise must return immediately"."""
    url = create(testapp)
    set_phase(app, url, Phase(inactive))
    started = time.monotonic()
    testapp.get(url, {"WAIT": "20"})
    assert time.monotonic() - started < 5  # of 20: at once, with room for a loaded host


def test_2_2_1_2_wait_with_another_phase_returns_at_once(
    testapp: UWSTestApp, manager: HoldingManager
) -> None:
    """2.2.1.2: "/{jobs}/{job-id}?WAIT=30&PHASE=QUEUED then the server must return
    immediately ... if the PHASE is not in specified state"; it blocks when it is."""
    url = create(testapp, PHASE="RUN")  # QUEUED
    started = time.monotonic()
    testapp.get(url, {"WAIT": "20", "PHASE": "PENDING"})
    assert time.monotonic() - started < 5  # of 20: at once, with room for a loaded host
    threading.Timer(0.5, lambda: manager.finish(job_id(url))).start()
    started = time.monotonic()
    job = doc(testapp.get(url, {"WAIT": "20", "PHASE": "QUEUED"}))
    assert 0.3 < time.monotonic() - started < 10
    assert job.findtext("uws:phase", namespaces=NS) in ("EXECUTING", "COMPLETED")


def test_2_2_1_2_wait_minus_one_blocks_until_a_change(testapp: UWSTestApp) -> None:
    """2.2.1.2: "A ?WAIT=-1 should be interpreted as block indefinitely until Job status
    change" (bounded by uws.wait.max, which the server "may impose")."""
    url = create(testapp)
    threading.Timer(0.5, lambda: testapp.post(url, {"PHASE": "ABORT"})).start()
    started = time.monotonic()
    job = doc(testapp.get(url, {"WAIT": "-1"}))
    assert 0.3 < time.monotonic() - started < 10
    assert job.findtext("uws:phase", namespaces=NS) == "ABORTED"


def test_2_2_1_2_wait_and_phase_names_in_any_case(testapp: UWSTestApp) -> None:
    """2.2.1.2 writes ?WAIT and ?PHASE; as every UWS parameter name (DALI), in any case."""
    url = create(testapp)
    threading.Timer(0.5, lambda: testapp.post(url, {"PHASE": "RUN"})).start()
    started = time.monotonic()
    job = doc(testapp.get(url, {"wait": "20", "phase": "pending"}))
    assert 0.3 < time.monotonic() - started < 10
    assert job.findtext("uws:phase", namespaces=NS) == "QUEUED"


def test_2_2_1_2_a_job_destroyed_during_a_wait_ends_the_wait(testapp: UWSTestApp) -> None:
    """2.2.1.2 and 2.2: a blocking GET on a job destroyed meanwhile ends at once (not a 500,
    not a wait to the end). The deletion records ABORTED before it removes the job, so the
    waiter sees that phase change (200) or, if it looks later, no job (404)."""
    url = create(testapp)
    threading.Timer(0.5, lambda: testapp.delete(url)).start()
    started = time.monotonic()
    response = testapp.get(url, {"WAIT": "20"}, status=(200, 404))
    assert time.monotonic() - started < 10
    if response.status_int == 200:
        assert doc(response).findtext("uws:phase", namespaces=NS) == "ABORTED"


def test_2_2_1_2_wait_must_be_an_integer(testapp: UWSTestApp) -> None:
    """2.2.1.2: "The ?WAIT query parameter must be assigned an integer value": anything
    else is a 400 naming WAIT (DALI)."""
    url = create(testapp)
    for bad in ("1.5", "soon", "", "-2"):
        assert "WAIT" in testapp.get(url, {"WAIT": bad}, status=400).text


def test_2_2_1_2_wait_is_restricted_to_the_job_endpoint(testapp: UWSTestApp) -> None:
    """2.2.1.2: "The blocking behaviour is restricted to the /{jobs}/{job-id} endpoint":
    a WAIT on /phase is ignored (answers at once)."""
    url = create(testapp)
    started = time.monotonic()
    assert testapp.get(url + "/phase", {"WAIT": "20"}).text == "PENDING"
    assert time.monotonic() - started < 5  # of 20: at once, with room for a loaded host


# -- 2.2.2.1 Job list ----------------------------------------------------------------------------


@dataclass
class Lists:
    app: Any
    testapp: UWSTestApp


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "memory"])
def lists(request: pytest.FixtureRequest, settings: dict[str, Any]) -> Iterator[Lists]:
    """The job list on each storage (their SQL differs: sql/listing.py; the example plugin
    uws_memory filters in Python)."""
    from uws_pyramid import main

    with contextlib.ExitStack() as stack:
        if request.param == "memory":
            settings = {**settings, "uws.storage": "memory"}
            del settings["uws.storage.path"]
        if request.param == "postgres":
            admin = request.getfixturevalue("postgres_admin_url")
            url = stack.enter_context(temporary_database(admin))
            pg = {"uws.storage": "postgres", "uws.storage.url": url}
            settings = {**settings, **pg, "uws.storage.auto_migrate": "true"}
            del settings["uws.storage.path"]
        app = main({}, **settings)
        try:
            yield Lists(app, UWSTestApp(app))
        finally:
            app.registry.uws.close()


@pytest.fixture
def five_jobs(lists: Lists) -> list[str]:
    """Jobs 0..4 created in that order: 0 PENDING, 1 COMPLETED, 2 ABORTED, 3 PENDING,
    4 ARCHIVED."""
    testapp, manager = lists.testapp, lists.app.registry.uws.manager
    ids = []
    for i in range(5):
        ids.append(job_id(create(testapp, RUNID=f"run{i}")))
        time.sleep(0.003)  # creation times are kept to the millisecond
    testapp.post(f"/rest/echo/{ids[1]}", {"PHASE": "RUN"})
    manager.finish(ids[1])
    testapp.post(f"/rest/echo/{ids[2]}", {"PHASE": "ABORT"})
    set_phase(lists.app, f"/rest/echo/{ids[4]}", Phase.ARCHIVED)
    return ids


def test_2_2_2_1_the_list_holds_every_job_but_archived(lists: Lists, five_jobs: list[str]) -> None:
    """2.2.2.1: "a list ... of all the jobs (except for jobs in the "ARCHIVED" phase)"."""
    testapp = lists.testapp
    assert sorted(listed(testapp)) == sorted(five_jobs[:4])


def test_2_2_2_1_phase_filter(lists: Lists, five_jobs: list[str]) -> None:
    """2.2.2.1: "/{jobs}?PHASE=EXECUTING would list only the jobs in an EXECUTING state"."""
    testapp = lists.testapp
    assert listed(testapp, "?PHASE=COMPLETED") == [five_jobs[1]]
    assert listed(testapp, "?PHASE=EXECUTING") == []


def test_2_2_2_1_repeated_phase_is_a_union(lists: Lists, five_jobs: list[str]) -> None:
    """2.2.2.1: "If the PHASE filtering parameter is repeated ... the union"."""
    testapp = lists.testapp
    found = listed(testapp, "?PHASE=PENDING&PHASE=ABORTED")
    assert sorted(found) == sorted([five_jobs[0], five_jobs[2], five_jobs[3]])


def test_2_2_2_1_archived_jobs_only_by_phase(lists: Lists, five_jobs: list[str]) -> None:
    """2.2.2.1: "The only way to list any jobs in the ARCHIVED phase is to use this
    mechanism"."""
    testapp = lists.testapp
    assert listed(testapp, "?PHASE=ARCHIVED") == [five_jobs[4]]
    assert sorted(listed(testapp, "?PHASE=ARCHIVED&PHASE=COMPLETED")) == sorted(
        [five_jobs[1], five_jobs[4]]
    )


def test_2_2_2_1_last_and_after_leave_out_archived_jobs(lists: Lists, five_jobs: list[str]) -> None:
    """2.2.2.1: LAST and AFTER are filters of the list, which leaves out ARCHIVED jobs
    unless PHASE asks for them."""
    testapp = lists.testapp
    assert five_jobs[4] not in listed(testapp, "?LAST=10")
    assert five_jobs[4] not in listed(testapp, "?AFTER=2015-01-01T00:00:00Z")
    assert listed(testapp, "?LAST=1") == [five_jobs[3]]


def test_2_2_2_1_last_lists_the_most_recent_newest_first(
    lists: Lists, five_jobs: list[str]
) -> None:
    """2.2.2.1: "LAST=100 ... only the given number (an integer greater than 0) of most
    recent jobs ordered by descending creationTimes"."""
    testapp = lists.testapp
    assert listed(testapp, "?LAST=3") == [five_jobs[3], five_jobs[2], five_jobs[1]]
    assert listed(testapp, "?LAST=100") == [five_jobs[i] for i in (3, 2, 1, 0)]
    for bad in ("0", "-1", "x", "1.5"):
        assert "LAST" in testapp.get("/rest/echo", {"LAST": bad}, status=400).text


def test_2_2_2_1_after_is_strictly_after_the_given_instant(lists: Lists) -> None:
    """2.2.2.1: "AFTER=... only list jobs with creationTimes after the given date": a job
    created at exactly that instant is not after it."""
    testapp = lists.testapp
    first = create(testapp)
    time.sleep(0.003)
    second = create(testapp)
    created = doc(testapp.get(first)).findtext("uws:creationTime", namespaces=NS)
    assert listed(testapp, "?AFTER=" + created) == [job_id(second)]


def test_2_2_2_1_after_accepts_the_spec_example(lists: Lists) -> None:
    """2.2.2.1: the example form "AFTER=2014-09-10T10:01:02.000Z"."""
    testapp = lists.testapp
    url = create(testapp)
    assert listed(testapp, "?AFTER=2014-09-10T10:01:02.000Z") == [job_id(url)]
    assert listed(testapp, "?AFTER=2999-09-10T10:01:02.000Z") == []


def test_2_2_2_1_filters_combine_with_and(lists: Lists, five_jobs: list[str]) -> None:
    """2.2.2.1: "If multiple filters are specified ... a logical AND". For LAST with PHASE
    the service's reading: the LAST most recent jobs among those in PHASE (not the LAST
    most recent jobs, then those in PHASE), which is what clients polling for, say, their
    latest PENDING job expect."""
    testapp = lists.testapp
    assert listed(testapp, "?PHASE=PENDING&LAST=1") == [five_jobs[3]]
    assert listed(testapp, "?PHASE=COMPLETED&LAST=1") == [five_jobs[1]]
    created = doc(testapp.get(f"/rest/echo/{five_jobs[1]}")).findtext(
        "uws:creationTime", namespaces=NS
    )
    assert sorted(listed(testapp, f"?AFTER={created}&PHASE=PENDING")) == [five_jobs[3]]
    assert listed(testapp, f"?AFTER={created}&LAST=1&PHASE=ABORTED") == [five_jobs[2]]
    assert listed(testapp, f"?AFTER={created}&PHASE=COMPLETED") == []


def test_2_2_2_1_short_job_description_contents(lists: Lists, five_jobs: list[str]) -> None:
    """2.2.2.1 and appendix A.3: each jobref links to the job, with its phase and the
    optional runId, ownerId and creationTime (which UWS 1.1 requires)."""
    testapp = lists.testapp
    for ref in doc(testapp.get("/rest/echo")).iterfind("uws:jobref", NS):
        url = ref.get(XLINK_HREF)
        job = doc(testapp.get(url))
        assert job.findtext("uws:jobId", namespaces=NS) == ref.get("id")
        for name in ("phase", "runId", "creationTime"):
            assert ref.findtext(f"uws:{name}", namespaces=NS) == job.findtext(
                f"uws:{name}", namespaces=NS
            )
        assert ref.find("uws:ownerId", NS).get(XSI_NIL) == "true"


def test_2_2_2_1_an_empty_list_is_a_valid_list(lists: Lists) -> None:
    """2.2.2.1: "a list (which may be empty)"."""
    testapp = lists.testapp
    root = doc(testapp.get("/rest/echo"))
    assert root.tag == f"{{{UWS_NS}}}jobs" and len(root) == 0


def test_2_2_2_1_phase_filter_values_any_case(lists: Lists, five_jobs: list[str]) -> None:
    """2.2.2.1 gives PHASE values in upper case; the service also takes them (and the names
    PHASE, LAST, AFTER) in any case, as DALI asks of parameter names."""
    testapp = lists.testapp
    assert listed(testapp, "?phase=completed") == [five_jobs[1]]
    assert listed(testapp, "?Last=1&Phase=Pending") == [five_jobs[3]]
    assert "PHASE" in testapp.get("/rest/echo?PHASE=RUNNING", status=400).text


# -- 2.2.3 State changing requests -----------------------------------------------------------


def test_2_2_3_1_creation_is_303_to_the_created_job(testapp: UWSTestApp) -> None:
    """2.2.3.1: "must have code 303 "See other" and the Location header ... must point to
    the created job"."""
    response = testapp.post("/rest/echo", {"message": "hi"}, status=303)
    job = doc(response.follow())
    assert response.location == "http://localhost/rest/echo/" + job.findtext(
        "uws:jobId", namespaces=NS
    )
    assert job.findtext("uws:parameters/uws:parameter[@id='message']", namespaces=NS) == "hi"


def test_2_2_3_2_delete_is_303_to_the_job_list(
    testapp: UWSTestApp, manager: HoldingManager
) -> None:
    """2.2.3.2: DELETE "destroys that job"; "must have code 303" to "the Job List at the
    /{jobs} URI" (with LAST, which 2.2.2.1 allows in this redirection)."""
    url = create(testapp, PHASE="RUN")
    response = testapp.delete(url, status=303)
    assert response.location.split("?")[0] == "http://localhost/rest/echo"
    assert job_id(url) not in [
        r.get("id") for r in doc(response.follow()).iterfind("uws:jobref", NS)
    ]
    testapp.get(url, status=404)
    assert manager.deleted == [job_id(url)]  # "if the job is still executing ... aborted"


@pytest.mark.parametrize("value", ["DELETE", "delete"])
def test_2_2_3_2_action_delete_is_as_for_a_deletion(testapp: UWSTestApp, value: str) -> None:
    """2.2.3.2: "Posting a request with a parameter ACTION=DELETE to the Job also destroys
    the job, the response being as for a deletion"."""
    url = create(testapp)
    deleted = testapp.delete(create(testapp), status=303)
    response = testapp.post(url, {"ACTION": value}, status=303)
    assert response.location == deleted.location
    testapp.get(url, status=404)


def test_2_2_3_4_execution_duration_post_is_303_to_the_job(testapp: UWSTestApp) -> None:
    """2.2.3.4: POST EXECUTIONDURATION: "must have code 303" to /{jobs}/{job-id}; the
    service "may override" (0, "unlimited" in 2.1.4, becomes the job type's maximum)."""
    url = create(testapp)
    response = testapp.post(url + "/executionduration", {"EXECUTIONDURATION": "17"}, status=303)
    assert response.location == url
    assert doc(response.follow()).findtext("uws:executionDuration", namespaces=NS) == "17"
    testapp.post(url + "/executionduration", {"EXECUTIONDURATION": "0"}, status=303)
    assert int(testapp.get(url + "/executionduration").text) > 0


def test_2_2_3_5_run_is_303_to_the_job_now_queued(testapp: UWSTestApp) -> None:
    """2.2.3.5: "POST contains a single parameter PHASE=RUN"; "must have code 303" to
    /{jobs}/{job-id}; "Typically a UWS will put a job into a QUEUED state"."""
    url = create(testapp)
    response = testapp.post(url + "/phase", {"PHASE": "RUN"}, status=303)
    assert response.location == url
    assert doc(response.follow()).findtext("uws:phase", namespaces=NS) == "QUEUED"


def test_2_2_3_6_abort_is_303_to_the_job_now_aborted(
    testapp: UWSTestApp, manager: HoldingManager
) -> None:
    """2.2.3.6: PHASE=ABORT: "must have code 303" to /{jobs}/{job-id}; "the resources
    associated with a job remain intact"."""
    url = create(testapp, PHASE="RUN", message="kept")
    response = testapp.post(url + "/phase", {"PHASE": "ABORT"}, status=303)
    assert response.location == url
    assert doc(response.follow()).findtext("uws:phase", namespaces=NS) == "ABORTED"
    assert manager.aborted == [job_id(url)]
    assert testapp.get(url + "/parameters/message").text == "kept"


@pytest.mark.parametrize(("name", "value"), [("phase", "RUN"), ("Phase", "run"), ("PHASE", "Run")])
def test_2_2_3_5_control_names_and_phase_values_in_any_case(
    testapp: UWSTestApp, name: str, value: str
) -> None:
    """2.2.3 gives PHASE=RUN in upper case; DALI makes parameter names case-insensitive and
    the service also takes the values RUN and ABORT in any case (a lenient reading)."""
    url = create(testapp)
    testapp.post(url + "/phase", {name: value}, status=303)
    assert phase(testapp, url) == "QUEUED"


def test_2_2_3_5_a_phase_other_than_run_or_abort_is_400(testapp: UWSTestApp) -> None:
    """2.2.3.5/2.2.3.6 define RUN and ABORT only: another value is a 400 naming PHASE."""
    url = create(testapp)
    for bad in ("SUSPEND", "COMPLETED", ""):
        assert "PHASE" in testapp.post(url + "/phase", {"PHASE": bad}, status=400).text
    assert phase(testapp, url) == "PENDING"


# -- pyvo against a live server ----------------------------------------------------------------


@pytest.mark.live
def test_pyvo_sets_destruction_and_execution_duration_and_aborts(app: Any) -> None:
    """pyvo's AsyncTAPJob (a generic UWS job client) through every control resource: its
    DESTRUCTION (astropy's ISO form, without "Z"), EXECUTIONDURATION, quote, owner, ABORT,
    and DELETE."""
    pyvo = pytest.importorskip("pyvo")
    from astropy.time import Time
    from pyvo.dal.tap import AsyncTAPJob

    with serve(app, threads=8) as base:
        created = requests.post(
            f"{base}/rest/sleep", data={"duration": "30"}, allow_redirects=False
        )
        assert created.status_code == 303
        job = AsyncTAPJob(created.headers["Location"])
        wanted = Time(datetime.now(timezone.utc) + timedelta(days=2)).replicate(format="isot")
        job.destruction = wanted
        assert abs((job.destruction - wanted).sec) < 1
        job.execution_duration = 45
        assert job.execution_duration.to_value("s") == 45
        assert job.quote is None or job.quote > Time.now()
        assert not job.owner
        job.run()
        assert job.phase in ("QUEUED", "EXECUTING")
        job.abort()
        # (pyvo's wait() refuses to wait on an ABORTED job: its own rule, not the service's.)
        assert job.phase == "ABORTED"
        with pytest.raises(pyvo.dal.DALServiceError):
            job.execution_duration = 10  # 403: no longer PENDING
        job.delete()
        assert requests.get(created.headers["Location"]).status_code == 404
