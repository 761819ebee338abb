"""The REST API: every resource, every status code, phase rules (with a holding manager)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from lxml import etree

from uws_pyramid.jobs import ID_ALPHABET, Phase, Result, new_job_id
from uws_pyramid.xsdcheck import UWS_NS

from .conftest import UWSTestApp
from .fakes import HoldingManager
from .holding import manager, settings  # noqa: F401  (fixtures)

NS = {"uws": UWS_NS}


def xml(response: Any) -> etree._Element:
    return etree.fromstring(response.body)


def text_of(response: Any, name: str) -> str | None:
    node = xml(response).find(f"uws:{name}", NS)
    return None if node is None else node.text


def create(testapp: UWSTestApp, job_type: str = "echo", **params: str) -> str:
    response = testapp.post(f"/rest/{job_type}", params, status=303)
    assert response.location.startswith("http://localhost/rest/")
    return response.location


def phase(testapp: UWSTestApp, url: str) -> str:
    return testapp.get(url + "/phase").text


# -- creation -------------------------------------------------------------------------------


def test_create_redirects_to_a_pending_job_with_defaults(testapp: UWSTestApp) -> None:
    url = create(testapp, RUNID="my run")
    job = testapp.get(url)
    assert job.content_type == "application/xml" and job.charset.lower() == "utf-8"
    assert job.body.startswith(b'<?xml version="1.0"?>')
    root = xml(job)
    assert root.get("version") == "1.1"
    assert text_of(job, "phase") == "PENDING"
    assert text_of(job, "runId") == "my run"
    assert text_of(job, "creationTime").endswith("Z")
    params = {p.get("id"): p.text for p in root.iterfind("uws:parameters/uws:parameter", NS)}
    assert params == {"message": "hello"}  # the default, visible
    assert root.find("uws:results", NS) is not None


def test_the_create_redirect_is_empty_and_claims_no_content_type(testapp: UWSTestApp) -> None:
    created = testapp.post("/rest/echo", {"message": "x"}, status=303)
    assert created.location.startswith("http://localhost/rest/echo/")
    assert created.body == b"" and created.headers["Content-Length"] == "0"
    assert "Content-Type" not in created.headers


def test_names_and_phase_values_are_case_insensitive(
    testapp: UWSTestApp, manager: HoldingManager
) -> None:
    url = testapp.post("/rest/echo", {"MeSsAgE": "hi", "phase": "run"}, status=303).location
    assert phase(testapp, url) == "QUEUED"
    assert testapp.get(url + "/parameters/MESSAGE").text == "hi"
    assert manager.submitted == [url.rsplit("/", 1)[1]]


def test_phase_run_in_query_string_of_creation(testapp: UWSTestApp) -> None:
    url = testapp.post("/rest/echo?PHASE=RUN", {"message": "x"}, status=303).location
    assert phase(testapp, url) == "QUEUED"


@pytest.mark.parametrize(
    ("job_type", "params", "words"),
    [
        ("echo", {"colour": "red"}, ["colour", "message"]),
        ("sleep", {"duration": "soon"}, ["duration", "integer"]),
        ("sleep", {"duration": "99999"}, ["duration", "3600"]),
        ("echo", {"PHASE": "EXECUTING"}, ["PHASE", "RUN"]),
        ("echo", {"EXECUTIONDURATION": "-5"}, ["EXECUTIONDURATION", "seconds"]),
        ("echo", {"DESTRUCTION": "tomorrow"}, ["DESTRUCTION", "ISO 8601"]),
        ("echo", {"ACTION": "DELETE"}, ["ACTION"]),
        ("wordcount", {}, ["infile"]),
        ("wordcount", {"infile": "/etc/passwd"}, ["infile", "multipart"]),
    ],
)
def test_bad_creation_is_400_naming_the_parameter_and_stores_nothing(
    testapp: UWSTestApp, job_type: str, params: dict[str, str], words: list[str]
) -> None:
    response = testapp.post(f"/rest/{job_type}", params, status=400)
    assert response.content_type == "text/plain"
    for word in words:
        assert word in response.text
    assert xml(testapp.get(f"/rest/{job_type}")).findall("uws:jobref", NS) == []


def test_access_urls_ending_in_a_slash_are_the_resources_without_it(testapp: UWSTestApp) -> None:
    created = testapp.post("/rest/echo/", {"message": "slash", "PHASE": "RUN"}, status=303)
    url = created.location
    assert xml(testapp.get(url + "/")).find("uws:jobId", NS).text == url.rsplit("/", 1)[1]
    assert url in testapp.get("/rest/echo/").text
    assert testapp.get(url + "/phase/").text in {"QUEUED", "EXECUTING", "COMPLETED"}
    testapp.get("/rest/nosuch/", status=404)  # nothing behind it without the slash either
    testapp.get(f"/rest/echo/{new_job_id()}/", status=404)
    assert "/no/such/route/" in testapp.get("/no/such/route/", status=404).text


def test_unknown_job_type_and_job_are_404(testapp: UWSTestApp) -> None:
    assert "nosuch" in testapp.get("/rest/nosuch", status=404).text
    testapp.post("/rest/nosuch", {}, status=404)
    testapp.get("/rest/echo/" + new_job_id(), status=404)
    testapp.get("/rest/echo/" + new_job_id() + "/phase", status=404)
    url = create(testapp)
    testapp.get(url.replace("/echo/", "/sleep/"), status=404)  # a job is found under its type
    testapp.get(url + "/nosuchproperty", status=404)
    testapp.get(url + "/parameters/nosuch", status=404)
    testapp.get(url + "/results/nosuch", status=404)
    testapp.get("/no/such/route", status=404)


def test_job_ids_are_unguessable_and_safe_for_clients() -> None:
    ids = {new_job_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 24 and i[0] not in "htps" for i in ids)
    assert set("".join(ids)) <= set(ID_ALPHABET) and not set("htps") & set(ID_ALPHABET)


# -- atomic properties -----------------------------------------------------------------------


def test_atomic_properties_are_text(testapp: UWSTestApp) -> None:
    url = create(testapp)
    assert testapp.get(url + "/phase").content_type == "text/plain"
    assert testapp.get(url + "/executionduration").text == "60"
    destruction = testapp.get(url + "/destruction").text
    assert destruction.endswith("Z")
    assert testapp.get(url + "/owner").text == ""
    assert testapp.get(url + "/quote").text.endswith("Z")
    assert testapp.get(url + "/executionDuration").text == "60"  # any case
    assert testapp.get(url + "/error", status=404).text.startswith("job")


def test_execution_duration_is_set_and_capped(testapp: UWSTestApp) -> None:
    url = create(testapp)
    response = testapp.post(url + "/executionduration", {"EXECUTIONDURATION": "30"}, status=303)
    assert response.location == url
    assert testapp.get(url + "/executionduration").text == "30"
    testapp.post(url + "/executionduration", {"executionduration": "999999"}, status=303)
    assert testapp.get(url + "/executionduration").text == "600"  # echo.wadl sets max="600"
    testapp.post(url + "/executionduration", {"EXECUTIONDURATION": "0"}, status=303)
    assert testapp.get(url + "/executionduration").text == "600"  # "no limit" gets the max
    bad = testapp.post(url + "/executionduration", {"EXECUTIONDURATION": "1.5"}, status=400)
    assert "EXECUTIONDURATION" in bad.text
    testapp.post(url + "/executionduration", {}, status=400)
    testapp.post(url + "/executionduration", {"PHASE": "RUN"}, status=400)
    # sleep declares its own maximum of 7200 s
    sleep = create(testapp, "sleep", EXECUTIONDURATION="100000")
    assert testapp.get(sleep + "/executionduration").text == "7200"


def test_destruction_is_set_capped_and_checked(testapp: UWSTestApp) -> None:
    url = create(testapp)
    soon = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0)
    testapp.post(
        url + "/destruction", {"DESTRUCTION": soon.strftime("%Y-%m-%dT%H:%M:%SZ")}, status=303
    )
    assert testapp.get(url + "/destruction").text == soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    testapp.post(url + "/destruction", {"DESTRUCTION": "2999-01-01T00:00:00Z"}, status=303)
    capped = datetime.fromisoformat(testapp.get(url + "/destruction").text.replace("Z", "+00:00"))
    assert capped < datetime.now(timezone.utc) + timedelta(days=31)
    assert (
        "future"
        in testapp.post(url + "/destruction", {"DESTRUCTION": "2001-01-01"}, status=400).text
    )
    assert (
        "DESTRUCTION"
        in testapp.post(url + "/destruction", {"DESTRUCTION": "next week"}, status=400).text
    )


def test_post_to_read_only_properties_is_405(testapp: UWSTestApp) -> None:
    url = create(testapp)
    for prop in ("quote", "owner", "error", "results"):
        testapp.post(url + "/" + prop, {"x": "1"}, status=405)
    testapp.put(url, "x", status=405)
    testapp.delete("/rest/echo", status=405)
    testapp.delete(url + "/phase", status=405)
    testapp.post(url + "/results/output", {}, status=405)


# -- phases -----------------------------------------------------------------------------------


def test_run_and_abort_through_phase_resource(testapp: UWSTestApp, manager: HoldingManager) -> None:
    url = create(testapp)
    assert testapp.post(url + "/phase", {"PHASE": "RUN"}, status=303).location == url
    assert phase(testapp, url) == "QUEUED"
    testapp.post(url + "/phase", {"PHASE": "RUN"}, status=303)  # idempotent while active
    assert len(manager.submitted) == 1
    testapp.post(url + "/phase?PHASE=ABORT", status=303)
    assert phase(testapp, url) == "ABORTED"
    assert manager.aborted == [url.rsplit("/", 1)[1]]
    testapp.post(url + "/phase", {"PHASE": "ABORT"}, status=303)  # already aborted: fine
    assert "ABORTED" in testapp.post(url + "/phase", {"PHASE": "RUN"}, status=403).text


def test_phase_value_errors(testapp: UWSTestApp) -> None:
    url = create(testapp)
    response = testapp.post(url, {"PHASE": "SUSPEND"}, status=400)
    assert "PHASE" in response.text and "RUN or ABORT" in response.text
    testapp.post(url + "/phase", {"PHASE": "COMPLETED"}, status=400)
    assert phase(testapp, url) == "PENDING"


def test_final_jobs_refuse_run_and_abort(testapp: UWSTestApp, manager: HoldingManager) -> None:
    url = create(testapp, PHASE="RUN")
    job_id = url.rsplit("/", 1)[1]
    manager.finish(job_id)
    assert phase(testapp, url) == "COMPLETED"
    assert "COMPLETED" in testapp.post(url, {"PHASE": "ABORT"}, status=403).text
    testapp.post(url + "/phase", {"PHASE": "RUN"}, status=403)


def test_parameters_change_only_while_pending(testapp: UWSTestApp) -> None:
    url = create(testapp, "sleep")
    testapp.post(url, {"DURATION": "5", "runid": "r2"}, status=303)
    assert testapp.get(url + "/parameters/duration").text == "5"
    assert text_of(testapp.get(url), "runId") == "r2"
    testapp.post(url, {"duration": "x"}, status=400)
    testapp.post(url, {"nosuch": "1"}, status=400)
    assert testapp.get(url + "/parameters/duration").text == "5"
    testapp.post(url, {"PHASE": "RUN"}, status=303)
    assert "PENDING" in testapp.post(url, {"duration": "7"}, status=403).text
    testapp.post(url + "/executionduration", {"EXECUTIONDURATION": "10"}, status=403)
    assert testapp.get(url + "/parameters/duration").text == "5"
    testapp.post(url, {"RUNID": "renamed"}, status=303)  # runId is not an execution parameter


def test_parameters_posted_to_the_parameter_list_or_put_one_by_one(testapp: UWSTestApp) -> None:
    # UWS 1.1 section 2.1.11: as pyvo's upload() and other clients do.
    url = create(testapp, "sleep")
    assert testapp.post(url + "/parameters", {"duration": "4"}, status=303).location == url
    assert testapp.get(url + "/parameters/duration").text == "4"
    assert testapp.put(url + "/parameters/DURATION", "6", status=303).location == url
    assert testapp.get(url + "/parameters/duration").text == "6"
    # The same checks as a POST to the job; a bad request changes nothing.
    assert "duration" in testapp.put(url + "/parameters/duration", "x", status=400).text
    testapp.put(url + "/parameters/nosuch", "1", status=400)
    testapp.put(url + "/parameters/duration", b"\xff", status=400)
    assert "PHASE" in testapp.post(url + "/parameters", {"PHASE": "RUN"}, status=400).text
    testapp.post(url + "/parameters", {}, status=400)
    assert testapp.get(url + "/parameters/duration").text == "6"
    assert phase(testapp, url) == "PENDING"
    testapp.post(url + "/phase", {"PHASE": "RUN"}, status=303)
    testapp.put(url + "/parameters/duration", "7", status=403)
    testapp.post(url + "/parameters", {"duration": "7"}, status=403)
    assert testapp.get(url + "/parameters/duration").text == "6"


def test_put_of_a_file_parameter_replaces_the_file(testapp: UWSTestApp) -> None:
    url = testapp.post(
        "/rest/wordcount", upload_files=[("infile", "a.txt", b"one two\n")], status=303
    ).location
    testapp.put(url + "/parameters/infile", b"three four five\n", status=303)
    assert testapp.get(url + "/parameters/infile").body == b"three four five\n"


def test_a_parameter_repeated_with_another_value_is_400(testapp: UWSTestApp) -> None:
    response = testapp.post("/rest/sleep", [("duration", "5"), ("duration", "6")], status=400)
    assert "duration" in response.text and "twice" in response.text
    testapp.post("/rest/sleep", [("PHASE", "RUN"), ("phase", "ABORT")], status=400)
    assert testapp.get("/rest/sleep", headers={"Accept": "application/json"}).json["jobs"] == []
    # The same value twice is not ambiguous.
    testapp.post("/rest/sleep", [("duration", "5"), ("duration", "5")], status=303)


def test_submission_failure_puts_the_job_in_error(
    app: Any, testapp: UWSTestApp, monkeypatch: Any
) -> None:
    def refuse(job: Any) -> None:
        raise RuntimeError("sbatch: error: invalid partition")

    monkeypatch.setattr(app.registry.uws.manager, "submit", refuse)
    url = create(testapp, PHASE="RUN")
    job = testapp.get(url)
    assert text_of(job, "phase") == "ERROR"
    summary = xml(job).find("uws:errorSummary", NS)
    assert summary.get("type") == "fatal" and summary.get("hasDetail") == "false"
    assert "invalid partition" in summary.findtext("uws:message", namespaces=NS)
    assert "invalid partition" in testapp.get(url + "/error").text


def test_results_and_error_documents(
    app: Any, testapp: UWSTestApp, manager: HoldingManager
) -> None:
    url = create(testapp, PHASE="RUN")
    job_id = url.rsplit("/", 1)[1]
    job_dir = app.registry.uws.service.job_dir(job_id)
    job_dir.create()
    (job_dir.path / "output.txt").write_text("0123456789")
    manager.finish(job_id, results=[Result("output", "output.txt", "text/plain", 10)])
    results = xml(testapp.get(url + "/results"))
    ref = results.find("uws:result", NS)
    href = ref.get("{http://www.w3.org/1999/xlink}href")
    assert (ref.get("id"), ref.get("size"), href) == ("output", "10", url + "/results/output")
    body = testapp.get(href)
    assert (body.text, body.content_type, body.content_length) == ("0123456789", "text/plain", 10)
    assert body.etag
    part = testapp.get(href, headers={"Range": "bytes=2-4"}, status=206)
    assert part.text == "234"
    testapp.get(href, headers={"If-None-Match": f'"{body.etag}"'}, status=304)


def test_result_paths_cannot_leave_the_job_directory(
    app: Any, testapp: UWSTestApp, manager: HoldingManager
) -> None:
    url = create(testapp, PHASE="RUN")
    job_id = url.rsplit("/", 1)[1]
    manager.finish(job_id, results=[Result("evil", "../../../../etc/passwd", "text/plain")])
    testapp.get(url + "/results/evil", status=404)
    testapp.get(url + "/results/..%2F..%2Fetc%2Fpasswd", status=404)


# -- deletion ---------------------------------------------------------------------------------


def test_delete_and_action_delete(testapp: UWSTestApp, manager: HoldingManager) -> None:
    url = create(testapp, PHASE="RUN")
    response = testapp.delete(url, status=303)
    assert response.location == "http://localhost/rest/echo?LAST=100"
    testapp.get(url, status=404)
    assert manager.deleted == [url.rsplit("/", 1)[1]]
    url = create(testapp)
    assert "ACTION" in testapp.post(url, {"ACTION": "REMOVE"}, status=400).text
    testapp.post(url, {"action": "delete"}, status=303)
    testapp.get(url, status=404)
    testapp.delete(url, status=404)


# -- job list ----------------------------------------------------------------------------------


def test_job_list_filters(app: Any, testapp: UWSTestApp, manager: HoldingManager) -> None:
    urls = []
    for i in range(5):
        urls.append(create(testapp, RUNID=str(i)))
        time.sleep(0.002)  # creation times are kept to the millisecond: keep the order known
    ids = [u.rsplit("/", 1)[1] for u in urls]
    testapp.post(urls[1], {"PHASE": "RUN"})
    manager.finish(ids[1])
    testapp.post(urls[2], {"PHASE": "ABORT"})
    app.registry.uws.service.record(ids[4], None, phase=Phase.ARCHIVED)

    def listed(query: str) -> list[str]:
        return [
            r.get("id") for r in xml(testapp.get("/rest/echo" + query)).iterfind("uws:jobref", NS)
        ]

    assert listed("") == ids[:4]
    assert listed("?PHASE=COMPLETED&phase=aborted") == [ids[1], ids[2]]
    assert listed("?PHASE=ARCHIVED") == [ids[4]]
    assert listed("?LAST=2") == [ids[3], ids[2]]
    assert listed("?last=1&PHASE=PENDING") == [ids[3]]
    assert listed("?AFTER=2015") == ids[:4]
    assert listed("?AFTER=2999-01-01T00:00:00Z") == []
    ref = xml(testapp.get("/rest/echo?LAST=1")).find("uws:jobref", NS)
    assert ref.findtext("uws:runId", namespaces=NS) == "3"
    assert ref.findtext("uws:creationTime", namespaces=NS).endswith("Z")
    assert listed("?PHASE=PENDING&PHASE=ARCHIVED") == [ids[0], ids[3], ids[4]]


@pytest.mark.parametrize(
    "after",
    [
        "2015",
        "20151026",
        "2015-10-26",
        "2015-10-26 09:00",
        "2015-10-26T09:15:35",
        "2015-10-26T09:15:35.123",
        "2015-10-26T09:15:35.123456Z",
        "2015-10-26T09:15Z",
    ],
)
def test_after_accepts_the_usual_forms(testapp: UWSTestApp, after: str) -> None:
    create(testapp)
    assert len(xml(testapp.get("/rest/echo", {"AFTER": after})).findall("uws:jobref", NS)) == 1


def test_after_with_an_offset_is_the_same_instant_in_utc(testapp: UWSTestApp) -> None:
    create(testapp)
    created = xml(testapp.get("/rest/echo")).find("uws:jobref/uws:creationTime", NS).text
    instant = datetime.fromisoformat(created.replace("Z", "+00:00"))
    before = (instant - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=2)))
    later = (instant + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-5)))
    listed = [
        len(xml(testapp.get("/rest/echo", {"AFTER": t.isoformat()})).findall("uws:jobref", NS))
        for t in (before, later)
    ]
    assert listed == [1, 0]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("AFTER=2015-10-26T09:00:00+02:00", "AFTER"),  # an unescaped "+" is a space
        ("AFTER=yesterday", "AFTER"),
        ("AFTER=2015-13-45", "AFTER"),
        ("LAST=0", "LAST"),
        ("LAST=ten", "LAST"),
        ("PHASE=RUNNING", "PHASE"),
    ],
)
def test_job_list_filter_errors(testapp: UWSTestApp, query: str, name: str) -> None:
    response = testapp.get("/rest/echo?" + query, status=400)
    assert name in response.text and "expected" in response.text


def test_all_jobs_list_and_json_forms(testapp: UWSTestApp) -> None:
    create(testapp)
    url = create(testapp, "sleep")
    refs = xml(testapp.get("/rest")).findall("uws:jobref", NS)
    hrefs = {r.get("{http://www.w3.org/1999/xlink}href") for r in refs}
    assert url in hrefs and len(hrefs) == 2
    for href in hrefs:
        testapp.get(href)  # every link of the mixed list leads to its job
    headers = {"Accept": "application/json"}
    assert len(testapp.get("/rest/echo", headers=headers).json["jobs"]) == 1
    job = testapp.get(url, headers=headers).json
    assert job["phase"] == "PENDING" and job["parameters"] == {"duration": "10"}
    assert testapp.get(url + "/parameters", headers=headers).json["parameters"] == {
        "duration": "10"
    }
    assert testapp.get(url + "/results", headers=headers).json == {"results": []}
    assert testapp.get(url, headers={"Accept": "*/*"}).content_type == "application/xml"


# -- WAIT ----------------------------------------------------------------------------------------


def test_wait_returns_on_phase_change(testapp: UWSTestApp) -> None:
    url = create(testapp)
    threading.Timer(0.3, lambda: testapp.post(url, {"PHASE": "RUN"})).start()
    started = time.monotonic()
    job = testapp.get(url + "?WAIT=10")
    assert time.monotonic() - started < 5
    assert text_of(job, "phase") == "QUEUED"


def test_wait_times_out_and_respects_phase(testapp: UWSTestApp) -> None:
    url = create(testapp)
    started = time.monotonic()
    assert text_of(testapp.get(url + "?WAIT=1"), "phase") == "PENDING"
    assert 0.9 < time.monotonic() - started < 3
    started = time.monotonic()
    testapp.get(url + "?WAIT=20&PHASE=QUEUED")  # not QUEUED: at once
    testapp.post(url, {"PHASE": "ABORT"})
    testapp.get(url + "?WAIT=20")  # ABORTED is not a waiting phase: at once
    assert time.monotonic() - started < 1
    assert "WAIT" in testapp.get(url + "?WAIT=soon", status=400).text
    testapp.get(url + "?WAIT=-2", status=400)
    testapp.get(url + "?WAIT=1&PHASE=NOPE", status=400)


# -- service resources -------------------------------------------------------------------------


def test_home_capabilities_availability_and_descriptions(testapp: UWSTestApp) -> None:
    home = testapp.get("/", headers={"Accept": "text/html,*/*;q=0.8"})
    assert home.content_type == "text/html"
    assert "echo" in home.text and "/rest/echo" in home.text
    assert "/client/static/style.css" in home.text  # the browser client's look
    data = testapp.get("/", headers={"Accept": "application/json"}).json
    assert [t["name"] for t in data["job_types"]] == ["echo", "fail", "sleep", "wordcount"]
    assert data["job_types"][0]["jobs"] == "http://localhost/rest/echo"
    assert data["capabilities"] == "http://localhost/capabilities"
    caps = testapp.get("/capabilities")
    assert "ivo://ivoa.net/std/UWS#rest-1.1" in caps.text
    assert "<vosi:available>true</vosi:available>" in testapp.get("/availability").text
    names = [t["name"] for t in testapp.get("/jdl").json["jobTypes"]]
    assert names == ["echo", "fail", "sleep", "wordcount"]
    assert b"<application" in testapp.get("/jdl/echo").body
    assert testapp.get("/jdl/echo/json").json["name"] == "echo"
    testapp.get("/jdl/nosuch", status=404)


def test_internal_faults_are_500_with_an_incident_id_and_no_traceback(
    app: Any, testapp: UWSTestApp, monkeypatch: Any
) -> None:
    def explode(*args: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.registry.uws.storage, "list", explode)
    response = testapp.get("/rest/echo?LAST=5", status=500)  # a page: read before answering
    assert "incident" in response.text
    assert "secret internals" not in response.text and "Traceback" not in response.text
