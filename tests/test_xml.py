"""UWS XML and JSON documents: schema validity, escaping, times, element order, speed."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree

from uws_pyramid.jobs import ErrorSummary, Job, JobRef, Phase, Result
from uws_pyramid.web.jsonform import job_json, job_list_json, parameters_json, results_json
from uws_pyramid.web.xml import (
    UWS_NS,
    XLINK_NS,
    XSI_NS,
    format_time,
    job_list_xml,
    job_xml,
    parameters_xml,
    results_xml,
)
from uws_pyramid.xsdcheck import is_uws_xml, parse, validate

LIST_URL = "https://uws.example.org/uws/jobs"
JOB_URL = f"{LIST_URL}/abc123"
T0 = datetime(2026, 11, 23, 9, 15, 35, 123000, tzinfo=timezone.utc)
NS = {"uws": UWS_NS, "xlink": XLINK_NS, "xsi": XSI_NS}
NIL = f"{{{XSI_NS}}}nil"
HREF = f"{{{XLINK_NS}}}href"
TRICKY = {
    "lt": "a < b",
    "amp": "R&D && more",
    "quotes": "say \"hi\" and 'bye'",
    "unicode": "Ångström ε – 東京 🚀",
    "newline": "line one\nline two\r\nline three",
    "spaces": "  \tpadded\t  ",
    "markup": "<![CDATA[x]]> </uws:parameter> &amp;",
}
JOB_ORDER = [
    "jobId",
    "runId",
    "ownerId",
    "phase",
    "quote",
    "creationTime",
    "startTime",
    "endTime",
    "executionDuration",
    "destruction",
    "parameters",
    "results",
    "errorSummary",
    "jobInfo",
]


def pending_job() -> Job:
    return Job(job_id="abc123", job_type="echo", creation_time=T0)


def completed_job() -> Job:
    return Job(
        job_id="abc123",
        job_type="echo",
        phase=Phase.COMPLETED,
        run_id="my run <1> & co",
        owner_id="CN=Ada Lovelace, O=Example",
        creation_time=T0,
        start_time=T0 + timedelta(seconds=2),
        end_time=T0 + timedelta(minutes=5, milliseconds=877),
        execution_duration=3600,
        destruction=T0 + timedelta(days=7),
        quote=T0 + timedelta(minutes=6),
        parameters={"size": "10", **TRICKY},
        results=[
            Result(
                "image",
                "out/image.fits",
                mime_type="image/fits",
                size=3000960,
                digest="ab" * 32,
                description="the image",
            ),
            Result("log", "stdout.txt"),
            Result("table", "t.vot", mime_type='application/x-votable+xml;content="datalink"'),
            Result("counts", "c.txt", size=0),
        ],
        job_info={
            "host": "node-7",
            "exitCode": 0,
            "cpuSeconds": 12.5,
            "retried": False,
            "finished": T0,
            "nothing": None,
            "nodes": ["n1", "n2"],
            "limits": {"mem": "4G", "when": T0},
            "note": "a < b & c",
        },
    )


def error_job() -> Job:
    return Job(
        job_id="abc123",
        job_type="echo",
        phase=Phase.ERROR,
        owner_id="bob",
        creation_time=T0,
        start_time=T0,
        end_time=T0 + timedelta(seconds=1),
        error=ErrorSummary(
            'exit status 2: <stderr> says "no" & \x1b[31mfails', "transient", has_detail=True
        ),
    )


def children(root: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in root]


def child(root: etree._Element, name: str) -> etree._Element:
    found = root.find(f"uws:{name}", NS)
    assert found is not None, f"no uws:{name}"
    return found


# ---------------------------------------------------------------------------------------------
# format_time


def test_format_time_milliseconds_and_z() -> None:
    assert format_time(T0) == "2026-11-23T09:15:35.123Z"
    assert format_time(T0.replace(microsecond=0)) == "2026-11-23T09:15:35Z"
    assert format_time(T0.replace(microsecond=7000)) == "2026-11-23T09:15:35.007Z"
    assert format_time(T0.replace(microsecond=123999)) == "2026-11-23T09:15:35.123Z"
    assert format_time(T0.replace(microsecond=999)) == "2026-11-23T09:15:35Z"


def test_format_time_converts_other_zones_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert format_time(datetime(2026, 11, 23, 10, 15, 35, tzinfo=paris)) == "2026-11-23T09:15:35Z"


def test_format_time_refuses_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2026, 11, 23, 9, 15, 35))


# ---------------------------------------------------------------------------------------------
# Job document


@pytest.mark.parametrize("make", [pending_job, completed_job, error_job])
def test_job_documents_are_valid(make) -> None:
    doc = job_xml(make(), JOB_URL)
    validate(doc)
    assert is_uws_xml("application/xml", doc)


@pytest.mark.parametrize("phase", list(Phase))
def test_every_phase_is_valid(phase: Phase) -> None:
    doc = job_xml(pending_job().changed(phase=phase), JOB_URL)
    validate(doc)
    assert child(parse(doc), "phase").text == phase.value


@pytest.mark.parametrize("make", [pending_job, completed_job, error_job])
def test_declaration_has_no_encoding_and_body_is_utf8(make) -> None:
    doc = job_xml(make(), JOB_URL)
    first_line = doc.split(b"\n", 1)[0]
    assert first_line == b'<?xml version="1.0"?>'
    # lxml refuses a decoded str that declares an encoding; ours parses either way.
    text = doc.decode("utf-8")
    assert etree.fromstring(text).tag == f"{{{UWS_NS}}}job"


def test_pending_job_without_parameters() -> None:
    root = parse(job_xml(pending_job(), JOB_URL))
    assert root.get("version") == "1.1"
    assert children(root) == [n for n in JOB_ORDER if n not in ("runId", "errorSummary", "jobInfo")]
    assert child(root, "jobId").text == "abc123"
    assert root.find("uws:runId", NS) is None  # optional, not nillable in the schema
    for name in ("ownerId", "quote", "startTime", "endTime", "destruction"):
        assert child(root, name).get(NIL) == "true", name
        assert child(root, name).text is None
    assert child(root, "executionDuration").text == "0"
    assert len(child(root, "parameters")) == 0
    assert len(child(root, "results")) == 0


def test_completed_job_full_order_and_values() -> None:
    job = completed_job()
    root = parse(job_xml(job, JOB_URL))
    assert children(root) == [n for n in JOB_ORDER if n != "errorSummary"]
    assert child(root, "runId").text == job.run_id
    assert child(root, "ownerId").text == job.owner_id
    assert child(root, "ownerId").get(NIL) is None
    assert child(root, "phase").text == "COMPLETED"
    assert child(root, "creationTime").text == "2026-11-23T09:15:35.123Z"
    assert child(root, "startTime").text == "2026-11-23T09:15:37.123Z"
    assert child(root, "endTime").text == "2026-11-23T09:20:36Z"
    assert child(root, "quote").text == "2026-11-23T09:21:35.123Z"
    assert child(root, "executionDuration").text == "3600"


def test_all_times_end_in_z() -> None:
    for make in (pending_job, completed_job, error_job):
        root = parse(job_xml(make(), JOB_URL))
        for name in ("quote", "creationTime", "startTime", "endTime", "destruction"):
            element = child(root, name)
            if element.get(NIL) != "true":
                assert element.text and element.text.endswith("Z"), (name, element.text)
                assert "+" not in element.text


def test_parameters_round_trip_exactly() -> None:
    job = completed_job()
    for doc in (job_xml(job, JOB_URL), parameters_xml(job)):
        validate(doc)
        root = parse(doc)
        params = root if etree.QName(root).localname == "parameters" else child(root, "parameters")
        got = {p.get("id"): p.text or "" for p in params.findall("uws:parameter", NS)}
        assert got == job.parameters
        assert all(p.get("byReference") is None for p in params)


def test_parameter_names_with_special_characters() -> None:
    job = pending_job().changed(parameters={'a"b<c>&\n': "v", "Größe": "1"})
    doc = parameters_xml(job)
    validate(doc)
    assert [p.get("id") for p in parse(doc)] == ['a"b<c>&\n', "Größe"]


def test_value_xml_cannot_carry_goes_by_reference() -> None:
    job = pending_job().changed(parameters={"bin": "a\x00b\x01", "ok": "fine"})
    doc = job_xml(job, JOB_URL)
    validate(doc)
    params = {p.get("id"): p for p in child(parse(doc), "parameters")}
    assert params["bin"].get("byReference") == "true"
    assert params["bin"].text == f"{JOB_URL}/parameters/bin"
    assert params["ok"].get("byReference") is None
    # Without a job URL the standalone list replaces what XML cannot carry.
    standalone = parameters_xml(job)
    validate(standalone)
    assert parse(standalone)[0].text == "a\ufffdb\ufffd"
    assert parse(parameters_xml(job, JOB_URL))[0].get("byReference") == "true"


def test_parameters_and_results_always_present() -> None:
    for make in (pending_job, error_job):
        doc = job_xml(make(), JOB_URL)
        assert b"<uws:parameters/>" in doc
        assert b"<uws:results/>" in doc
    assert b"<uws:parameters " in parameters_xml(pending_job())
    assert parse(parameters_xml(pending_job())).tag == f"{{{UWS_NS}}}parameters"
    assert parse(results_xml(pending_job(), JOB_URL)).tag == f"{{{UWS_NS}}}results"


def test_results_with_and_without_size_and_mime_type() -> None:
    job = completed_job()
    for doc in (job_xml(job, JOB_URL), results_xml(job, JOB_URL)):
        validate(doc)
        root = parse(doc)
        results = root if etree.QName(root).localname == "results" else child(root, "results")
        got = {r.get("id"): r for r in results.findall("uws:result", NS)}
        assert list(got) == ["image", "log", "table", "counts"]
        assert got["image"].get(HREF) == f"{JOB_URL}/results/image"
        assert got["image"].get("size") == "3000960"
        assert got["image"].get("mime-type") == "image/fits"
        assert got["log"].get("size") is None and got["log"].get("mime-type") is None
        assert got["table"].get("mime-type") == 'application/x-votable+xml;content="datalink"'
        assert got["counts"].get("size") == "0"


def test_result_links_are_url_safe() -> None:
    job = pending_job().changed(results=[Result("my result/1", "x")])
    root = parse(results_xml(job, JOB_URL + "/"))
    assert root[0].get(HREF) == f"{JOB_URL}/results/my%20result%2F1"
    href = child(parse(job_xml(job, JOB_URL)), "results")[0].get(HREF)
    assert href == f"{JOB_URL}/results/my%20result%2F1"


def test_uploaded_parameters_are_given_by_reference() -> None:
    job = pending_job().changed(parameters={"infile": "data.txt", "n": "1"})
    for doc in (job_xml(job, JOB_URL, {"infile"}), parameters_xml(job, JOB_URL, {"infile"})):
        validate(doc)
        root = parse(doc)
        params = root if etree.QName(root).localname == "parameters" else child(root, "parameters")
        infile, n = params.findall("uws:parameter", NS)
        assert infile.get("byReference") == "true"
        assert infile.text == f"{JOB_URL}/parameters/infile"
        assert (n.get("byReference"), n.text) == (None, "1")


def test_error_summary() -> None:
    doc = job_xml(error_job(), JOB_URL)
    validate(doc)
    root = parse(doc)
    assert children(root)[-1] == "errorSummary"
    summary = child(root, "errorSummary")
    assert summary.get("type") == "transient"
    assert summary.get("hasDetail") == "true"
    # ESC cannot be carried by XML 1.0: replaced, the rest kept as it was.
    assert child(summary, "message").text == 'exit status 2: <stderr> says "no" & \ufffd[31mfails'
    plain = parse(job_xml(error_job().changed(error=ErrorSummary("x")), JOB_URL))
    assert child(plain, "errorSummary").attrib == {"type": "fatal", "hasDetail": "false"}


def test_job_info() -> None:
    root = parse(job_xml(completed_job(), JOB_URL))
    info = {e.tag: e.text for e in child(root, "jobInfo")}
    assert info == {
        "host": "node-7",
        "exitCode": "0",
        "cpuSeconds": "12.5",
        "retried": "false",
        "finished": "2026-11-23T09:15:35.123Z",
        "nothing": None,
        "nodes": '["n1", "n2"]',
        "limits": '{"mem": "4G", "when": "2026-11-23T09:15:35.123Z"}',
        "note": "a < b & c",
    }
    assert root.find("uws:jobInfo", NS) is not None
    assert parse(job_xml(pending_job(), JOB_URL)).find("uws:jobInfo", NS) is None


def test_job_info_key_that_is_no_element_name() -> None:
    doc = job_xml(pending_job().changed(job_info={"two words": 1, "xmlish": 2, "1st": 3}), JOB_URL)
    validate(doc)
    items = child(parse(doc), "jobInfo")
    assert [(e.tag, e.get("key"), e.text) for e in items] == [
        ("item", "two words", "1"),
        ("item", "xmlish", "2"),
        ("item", "1st", "3"),
    ]


def test_schema_helper_rejects_what_the_schema_forbids() -> None:
    good = job_xml(completed_job(), JOB_URL)
    nil_run = good.replace(
        b"<uws:runId>my run &lt;1&gt; &amp; co</uws:runId>", b'<uws:runId xsi:nil="true"/>'
    )
    assert nil_run != good
    with pytest.raises(AssertionError, match="runId"):
        validate(nil_run)
    with pytest.raises(AssertionError, match="results|errorSummary|jobInfo"):
        validate(good.replace(b"uws:results>", b"uws:resultz>"))
    with pytest.raises(AssertionError, match="well-formed"):
        validate(b"<uws:job")


def test_is_uws_xml() -> None:
    doc = job_list_xml([], LIST_URL)
    assert is_uws_xml("application/xml; charset=utf-8", doc)
    assert is_uws_xml("text/xml", doc)
    assert not is_uws_xml("text/plain", doc)
    assert not is_uws_xml("application/xml", b"<html/>")
    assert not is_uws_xml("application/xml", b"not xml")
    assert not is_uws_xml("application/xml", b'<x:job xmlns:x="urn:other"/>')


# ---------------------------------------------------------------------------------------------
# Job list


def refs(count: int) -> list[JobRef]:
    phases = list(Phase)
    return [
        JobRef(
            job_id=f"job{i:021d}",
            job_type="echo",
            phase=phases[i % len(phases)],
            run_id=None if i % 2 else f"run & <{i}>",
            owner_id=None if i % 3 == 0 else f"user{i % 7}",
            creation_time=T0 + timedelta(milliseconds=i),
        )
        for i in range(count)
    ]


def test_empty_job_list() -> None:
    doc = job_list_xml([], LIST_URL)
    validate(doc)
    root = parse(doc)
    assert root.tag == f"{{{UWS_NS}}}jobs" and root.get("version") == "1.1" and len(root) == 0


def test_job_list_refs() -> None:
    doc = job_list_xml(refs(6), LIST_URL + "/")
    validate(doc)
    jobrefs = parse(doc).findall("uws:jobref", NS)
    assert len(jobrefs) == 6
    first, second = jobrefs[0], jobrefs[1]
    assert first.get("id") == "job" + "0" * 21
    assert first.get(HREF) == f"{LIST_URL}/job{0:021d}"
    assert children(first) == ["phase", "runId", "ownerId", "creationTime"]
    assert child(first, "runId").text == "run & <0>"
    assert child(first, "ownerId").get(NIL) == "true"
    assert child(first, "creationTime").text == "2026-11-23T09:15:35.123Z"
    assert children(second) == ["phase", "ownerId", "creationTime"]
    assert child(second, "ownerId").text == "user1"
    assert child(second, "phase").text == "QUEUED"


def test_ten_thousand_job_refs() -> None:
    many = refs(10_000)
    job_list_xml(many[:100], LIST_URL)  # warm up
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        doc = job_list_xml(many, LIST_URL)
        timings.append((time.perf_counter() - start) * 1000)
        json_start = time.perf_counter()
        listing = job_list_json(many, LIST_URL)
        timings.append((time.perf_counter() - json_start) * 1000)
    xml_ms, json_ms = timings[0::2], timings[1::2]
    print(
        f"\n10,000 jobrefs: XML best {min(xml_ms):.1f} ms, median {sorted(xml_ms)[2]:.1f} ms,"
        f" {len(doc) / 1e6:.2f} MB; JSON dict best {min(json_ms):.1f} ms"
    )
    root = parse(doc)
    assert len(root) == 10_000 and len(listing["jobs"]) == 10_000
    validate(job_list_xml(many[:500], LIST_URL))


# ---------------------------------------------------------------------------------------------
# JSON form

#: The JSON form has the XML's elements, and its version.
JOB_KEYS = {"version", *JOB_ORDER}


def test_job_json_pending() -> None:
    data = job_json(pending_job(), JOB_URL)
    assert set(data) == JOB_KEYS
    assert data["jobId"] == "abc123" and data["phase"] == "PENDING" and data["version"] == "1.1"
    for key in (
        "runId",
        "ownerId",
        "quote",
        "startTime",
        "endTime",
        "destruction",
        "errorSummary",
        "jobInfo",
    ):
        assert data[key] is None, key
    assert data["creationTime"] == "2026-11-23T09:15:35.123Z"
    assert data["parameters"] == {} and data["results"] == []
    assert data["executionDuration"] == 0
    json.dumps(data)


def test_job_json_completed_mirrors_xml() -> None:
    job = completed_job()
    data = job_json(job, JOB_URL)
    assert json.loads(json.dumps(data)) == data
    root = parse(job_xml(job, JOB_URL))
    for key in (
        "runId",
        "ownerId",
        "phase",
        "quote",
        "creationTime",
        "startTime",
        "endTime",
        "destruction",
    ):
        assert data[key] == child(root, key).text, key
    assert data["executionDuration"] == 3600
    assert data["parameters"] == job.parameters
    assert data["results"][0] == {
        "id": "image",
        "href": f"{JOB_URL}/results/image",
        "size": 3000960,
        "mimeType": "image/fits",
        "sha256": "ab" * 32,
        "description": "the image",
    }
    assert data["results"][1] == {
        "id": "log",
        "href": f"{JOB_URL}/results/log",
        "size": None,
        "mimeType": None,
        "sha256": None,
        "description": None,
    }
    assert data["jobInfo"]["finished"] == "2026-11-23T09:15:35.123Z"
    assert data["jobInfo"]["limits"] == {"mem": "4G", "when": "2026-11-23T09:15:35.123Z"}
    assert data["jobInfo"]["nothing"] is None and data["jobInfo"]["retried"] is False


def test_job_json_error() -> None:
    data = job_json(error_job(), JOB_URL)
    assert data["errorSummary"] == {
        "type": "transient",
        "hasDetail": True,
        "message": error_job().error.message,
    }


def test_list_results_parameters_json() -> None:
    listing = job_list_json(refs(2), LIST_URL)
    assert set(listing) == {"version", "jobs"}
    assert listing["jobs"][0] == {
        "id": f"job{0:021d}",
        "href": f"{LIST_URL}/job{0:021d}",
        "phase": "PENDING",
        "runId": "run & <0>",
        "ownerId": None,
        "creationTime": "2026-11-23T09:15:35.123Z",
    }
    assert listing["jobs"][1]["runId"] is None and listing["jobs"][1]["ownerId"] == "user1"
    job = completed_job()
    ids = [r["id"] for r in results_json(job, JOB_URL)["results"]]
    assert ids == ["image", "log", "table", "counts"]
    assert results_json(pending_job(), JOB_URL) == {"results": []}
    assert parameters_json(job) == {"parameters": job.parameters}
    assert parameters_json(pending_job()) == {"parameters": {}}
