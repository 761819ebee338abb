"""Provenance of jobs through the REST API with the local manager: documents parsed back with
the prov library, the SVG graph, a script's own file, and the ProvSAP-like chain query."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from prov.model import (
    PROV_ROLE,
    PROV_VALUE,
    ProvActivity,
    ProvAgent,
    ProvDocument,
    ProvEntity,
    ProvGeneration,
    ProvUsage,
)

from uws_pyramid.jdl.model import JobDescription, ParameterSpec, ResultSpec, UsedSpec
from uws_pyramid.jobs import Job, Phase, Result
from uws_pyramid.provenance import formats
from uws_pyramid.provenance.document import JobFacts, Service, add_job, new_document
from uws_pyramid.testing import EXAMPLE_JDL, write_job_type
from uws_pyramid.web import provenance as provenance_views

from .conftest import UWSTestApp, add_user, require_services

BASE = "http://localhost/"
OPUS = Path(__file__).parent / "data" / "opus"
GOOD = (
    '{"prefix": {"ex": "http://example.org/"}, "entity": {"ex:catalogue": {"ex:version": "1.2"}}}'
)
BUNDLE = '{"bundle": {"ex:b": {"prefix": {"ex": "http://e/"}}}, "prefix": {"ex": "http://e/"}}'
CONTROL = '{"prefix": {"ex": "http://e/"}, "entity": {"ex:x": {"ex:v": "a\\u0001b"}}}'
SCRIPT = f"""
case "$mode" in
    good) printf '%s' '{GOOD}' > provenance.json ;;
    bad) printf '{{not json' > provenance.json ;;
    big) head -c 1100000 /dev/zero | tr '\\0' ' ' > provenance.json ;;
    link) ln -s /etc/passwd provenance.json ;;
    bundle) printf '%s' '{BUNDLE}' > provenance.json ;;
    control) printf '%s' '{CONTROL}' > provenance.json ;;
esac
printf 'made\\n' > out.txt
"""


@pytest.fixture
def settings(settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The example job types, a type whose script writes provenance.json, one without
    provenance."""
    jdl = tmp_path / "jdl"
    shutil.copytree(EXAMPLE_JDL, jdl)
    shutil.copy(OPUS / "lightcurve_vot.xml", jdl)
    shutil.copy(OPUS / "scripts" / "lightcurve.sh", jdl / "scripts")
    modes = ("none", "good", "bad", "big", "link", "bundle", "control")
    write_job_type(
        jdl,
        "scripted",
        SCRIPT,
        [ParameterSpec("mode", default="none", choices=modes)],
        [ResultSpec("out", "text/plain", "out.txt")],
    )
    write_job_type(
        jdl,
        "noprov",
        "echo x > out.txt\n",
        (),
        [ResultSpec("out", "text/plain", "out.txt")],
        options={"provenance": "false"},
    )
    return {**settings, "uws.jdl_dir": str(jdl)}


def run(testapp: UWSTestApp, job_type: str, upload_files: Any = None, **params: Any) -> str:
    """Create and run a job, wait until it has ended; its id."""
    location = testapp.post(
        f"/rest/{job_type}", {"PHASE": "RUN", **params}, upload_files=upload_files, status=303
    ).location
    job_id = location.rsplit("/", 1)[1]
    for _ in range(20):
        phase = testapp.get(f"/rest/{job_type}/{job_id}/phase").text
        if phase in ("COMPLETED", "ERROR", "ABORTED"):
            return job_id
        testapp.get(f"/rest/{job_type}/{job_id}?WAIT=5&PHASE={phase}")
    raise AssertionError(f"job {job_id} did not end")


def need_graphviz() -> None:
    """SVG graphs need Graphviz's dot: a skip without it, a failure in CI."""
    if shutil.which("dot") is None:
        if require_services():
            pytest.fail("Graphviz's dot is required (UWS_REQUIRE_SERVICES=1)")
        pytest.skip("Graphviz's dot is not installed")


def parse(body: bytes | str, fmt: str = "json") -> ProvDocument:
    return ProvDocument.deserialize(content=body, format=fmt)


def records(doc: ProvDocument, kind: type) -> dict[str, Any]:
    return {str(r.identifier): r for r in doc.get_records(kind) if r.identifier is not None}


def attribute(record: Any, name: str) -> Any:
    values = {str(k): v for k, v in record.attributes}
    return values.get(name)


def roles(doc: ProvDocument, kind: type) -> dict[str, set[str]]:
    """The roles of the used (ProvUsage) or generated (ProvGeneration) entities, by entity."""
    position = 1 if kind is ProvUsage else 0
    return {
        str(r.formal_attributes[position][1]): {str(v) for v in r.get_attribute(PROV_ROLE)}
        for r in doc.get_records(kind)
    }


def test_a_finished_job_is_an_activity_with_its_inputs_results_and_agents(
    testapp: UWSTestApp,
) -> None:
    job_id = run(testapp, "echo", message="hello provenance", RUNID="r1")
    response = testapp.get(f"/rest/echo/{job_id}/provenance")
    assert response.content_type == "application/json"
    doc = parse(response.body)
    activity = records(doc, ProvActivity)[f"service:rest/echo/{job_id}"]
    job = testapp.get(f"/rest/echo/{job_id}", headers={"Accept": "application/json"}).json
    assert activity.get_startTime() is not None and activity.get_endTime() is not None
    assert attribute(activity, "uws:phase") == "COMPLETED"
    assert attribute(activity, "uws:runId") == "r1"
    assert attribute(activity, "voprov:name") == "echo"
    assert job["phase"] == "COMPLETED"
    entities = records(doc, ProvEntity)
    message = entities[f"service:rest/echo/{job_id}/parameters/message"]
    assert attribute(message, "prov:value") == "hello provenance"
    assert attribute(message, "voprov:description") == "The text to write"
    output = entities[f"service:rest/echo/{job_id}/results/output"]
    assert attribute(output, "voprov:content_type") == "text/plain"
    streams = {f"service:rest/echo/{job_id}/results/{r}" for r in ("stdout", "stderr")}
    assert streams <= set(entities)
    description = entities["service:jdl/echo"]
    assert "Write a message" in attribute(description, "voprov:description")
    # The relations, with the roles named after the description's parameters and results.
    used = [
        (str(u.formal_attributes[1][1]), u.get_attribute(PROV_ROLE))
        for u in doc.get_records(ProvUsage)
    ]
    assert (f"service:rest/echo/{job_id}/parameters/message", {"message"}) in used
    text = doc.get_provn()
    assert (
        f"wasGeneratedBy(service:rest/echo/{job_id}/results/output, "
        f"service:rest/echo/{job_id}" in text
    )
    assert "wasAssociatedWith(service:rest/echo/" in text and "service:users/anonymous" in text
    assert "service:capabilities" in text
    namespaces = {ns.prefix: ns.uri for ns in doc.get_registered_namespaces()}
    assert namespaces["service"] == BASE


def test_formats_by_query_and_by_accept(testapp: UWSTestApp) -> None:
    need_graphviz()
    job_id = run(testapp, "echo", message='<&> "quoted"')
    url = f"/rest/echo/{job_id}/provenance"
    from_json = parse(testapp.get(url).body)
    xml = testapp.get(url + "?format=xml")
    assert xml.content_type == "application/xml"
    assert parse(xml.body, "xml") == from_json
    assert (
        parse(testapp.get(url, headers={"Accept": "application/prov+xml"}).body, "xml") == from_json
    )
    for asked in ("?format=provn", "?format=PROV-N"):
        provn = testapp.get(url + asked)
        assert provn.content_type == "text/provenance-notation"
        assert (
            provn.text.startswith("document")
            and f"activity(service:rest/echo/{job_id}" in provn.text
        )
    accepted = testapp.get(url, headers={"Accept": "text/provenance-notation"})
    assert accepted.text == provn.text
    svg = testapp.get(url + "?format=svg")
    assert svg.content_type == "image/svg+xml"
    assert svg.headers["Content-Security-Policy"] == "sandbox"
    root = etree.fromstring(svg.body)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    labels = "".join(root.itertext())
    assert 'message = <&> "quoted"' in labels and f"echo job {job_id}" in labels
    # A browser's Accept (HTML first, */* last) gets the default, PROV-JSON.
    browser = testapp.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.content_type == "application/json"


def test_bad_format_is_a_400_naming_the_parameter(testapp: UWSTestApp) -> None:
    job_id = run(testapp, "echo")
    response = testapp.get(f"/rest/echo/{job_id}/provenance?format=pdf", status=400)
    assert "parameter format" in response.text and "json, xml, provn, svg" in response.text


def test_an_unfinished_job_has_no_provenance_yet(testapp: UWSTestApp) -> None:
    pending = testapp.post("/rest/echo", {"message": "x"}, status=303).location
    response = testapp.get(pending + "/provenance", status=409)
    assert "PENDING" in response.text and "once it has finished" in response.text
    running = testapp.post("/rest/sleep", {"duration": "30", "PHASE": "RUN"}, status=303).location
    testapp.get(running + "/provenance", status=409)
    testapp.post(running + "/phase", {"PHASE": "ABORT"}, status=303)
    doc = parse(testapp.get(running + "/provenance").body)
    activity = next(iter(records(doc, ProvActivity).values()))
    assert attribute(activity, "uws:phase") == "ABORTED"


def test_unknown_job_and_other_methods(testapp: UWSTestApp) -> None:
    testapp.get("/rest/echo/aaaaaaaaaaaaaaaaaaaaaaaa/provenance", status=404)
    job_id = run(testapp, "echo")
    testapp.get(f"/rest/sleep/{job_id}/provenance", status=404)  # another type's URL
    testapp.post(f"/rest/echo/{job_id}/provenance", {}, status=405)
    testapp.delete(f"/rest/echo/{job_id}/provenance", status=405)


def test_another_users_job_is_not_shown(app: Any) -> None:
    add_user(app, "alice", "alice-secret-1")
    add_user(app, "bob", "bob-secret-12")
    alice, bob, nobody = UWSTestApp(app), UWSTestApp(app), UWSTestApp(app)
    alice.authorization = ("Basic", ("alice", "alice-secret-1"))
    bob.authorization = ("Basic", ("bob", "bob-secret-12"))
    job_id = run(alice, "echo", message="alice's")
    doc = parse(alice.get(f"/rest/echo/{job_id}/provenance").body)
    assert "service:users/alice" in records(doc, ProvAgent)
    response = bob.get(f"/rest/echo/{job_id}/provenance", status=403)
    assert "another user" in response.text and "alice's" not in response.text
    nobody.get(f"/rest/echo/{job_id}/provenance", status=401)
    bob.get(f"/provenance?ID={job_id}", status=403)
    nobody.get(f"/provenance?ID={job_id}", status=401)


def test_an_uploaded_file_is_an_entity_with_its_name_and_size(testapp: UWSTestApp) -> None:
    job_id = run(testapp, "wordcount", [("infile", "data.txt", b"one two\nthree\n")])
    doc = parse(testapp.get(f"/rest/wordcount/{job_id}/provenance").body)
    upload = records(doc, ProvEntity)[f"service:rest/wordcount/{job_id}/parameters/infile"]
    assert attribute(upload, "prov:location") == "data.txt"
    assert attribute(upload, "voprov:content_size") == 14
    assert upload.get_attribute(PROV_VALUE) == set()  # the file's content is not in it


def test_each_result_entity_carries_its_url_size_type_and_digest(testapp: UWSTestApp) -> None:
    job_id = run(testapp, "echo", message="measured")
    url = f"/rest/echo/{job_id}"
    listed = testapp.get(url + "/results", headers={"Accept": "application/json"}).json
    body = testapp.get(url + "/provenance").body
    for doc in (parse(body), parse(testapp.get(url + "/provenance?format=xml").body, "xml")):
        entities = records(doc, ProvEntity)
        for result in listed["results"]:
            entity = entities[f"service:rest/echo/{job_id}/results/{result['id']}"]
            assert (
                attribute(entity, "prov:location")
                == f"{BASE}rest/echo/{job_id}/results/" + (result["id"])
            )
            assert attribute(entity, "voprov:content_size") == result["size"]
            assert attribute(entity, "voprov:content_type") == result["mimeType"]
            assert attribute(entity, "uws:sha256") == result["sha256"]
            assert len(result["sha256"]) == 64
    # As computed when the job ended: the file's SHA-256 now is the same.
    output = testapp.get(url + "/results/output").body
    entity = records(parse(body), ProvEntity)[f"service:rest/echo/{job_id}/results/output"]
    assert attribute(entity, "uws:sha256") == hashlib.sha256(output).hexdigest()


def test_a_votable_description_gives_the_roles_and_the_pattern_results_declarations(
    testapp: UWSTestApp,
) -> None:
    """OPUS's Used and Generated groups: the used file in its declared role and content type,
    each file of the ``plot_*.png`` pattern in the role and description of its declaration."""
    rows = "time,flux\n" + "".join(f"{t * 0.1:.1f},{1 + (t % 7) / 10}\n" for t in range(100))
    job_id = run(testapp, "lightcurve", [("infile", "lc.csv", rows.encode())], period="0.7")
    url = f"/rest/lightcurve/{job_id}"
    job = testapp.get(url, headers={"Accept": "application/json"}).json
    assert job["phase"] == "COMPLETED", job.get("errorSummary")
    doc = parse(testapp.get(url + "/provenance").body)
    here = f"service:rest/lightcurve/{job_id}"
    entities = records(doc, ProvEntity)
    used = roles(doc, ProvUsage)
    assert used[f"{here}/parameters/infile"] == {"light curve"}
    infile = entities[f"{here}/parameters/infile"]
    assert attribute(infile, "voprov:content_type") == "text/csv"
    assert attribute(infile, "voprov:description") == "The light curve that was folded"
    assert attribute(infile, "voprov:content_size") == len(rows)
    # Parameters outside the Used group are still used, each in the role of its name.
    assert used[f"{here}/parameters/period"] == {"period"}
    assert attribute(entities[f"{here}/parameters/period"], "prov:value") == "0.7"
    generated = roles(doc, ProvGeneration)
    plots = [r for r in job["results"] if r["id"].startswith("plots_")]
    assert [r["id"] for r in plots] == ["plots_plot_folded.png", "plots_plot_raw.png"]
    for result in plots:
        name = f"{here}/results/{result['id']}"
        assert generated[name] == {"plot"}
        entity = entities[name]
        assert attribute(entity, "voprov:description") == "One plot per requested view"
        assert attribute(entity, "voprov:content_type") == "image/png" == result["mimeType"]
        assert attribute(entity, "uws:sha256") == result["sha256"]
        assert result["description"] == "One plot per requested view"
    assert generated[f"{here}/results/folded"] == {"folded light curve"}
    assert generated[f"{here}/results/stdout"] == {"stdout"}
    # The same in PROV-XML, read back.
    xml = parse(testapp.get(url + "/provenance?format=xml").body, "xml")
    assert roles(xml, ProvGeneration)[f"{here}/results/plots_plot_raw.png"] == {"plot"}


def test_the_scripts_file_is_merged_in_a_bundle(testapp: UWSTestApp) -> None:
    need_graphviz()
    job_id = run(testapp, "scripted", mode="good")
    doc = parse(testapp.get(f"/rest/scripted/{job_id}/provenance").body)
    name = f"service:rest/scripted/{job_id}/provenance/script"
    bundle = next(b for b in doc.bundles if str(b.identifier) == name)
    catalogue = records(bundle, ProvEntity)["ex:catalogue"]
    assert attribute(catalogue, "ex:version") == "1.2"
    assert name in records(doc, ProvEntity)  # the bundle is an entity the job generated
    # The XML form and the graph carry it too.
    assert parse(testapp.get(f"/rest/scripted/{job_id}/provenance?format=xml").body, "xml") == doc
    assert b"ex:catalogue" in testapp.get(f"/rest/scripted/{job_id}/provenance?format=svg").body


@pytest.mark.parametrize(
    "mode, why",
    [
        ("bad", "it is not PROV-JSON"),
        ("big", "more than 1048576"),
        ("link", "symbolic link"),
        ("bundle", "it has bundles"),
        ("control", "cannot be serialised in every format"),
    ],
)
def test_a_bad_script_file_is_left_out_and_noted(testapp: UWSTestApp, mode: str, why: str) -> None:
    need_graphviz()
    job_id = run(testapp, "scripted", mode=mode)
    assert testapp.get(f"/rest/scripted/{job_id}/phase").text == "COMPLETED"
    for fmt in ("json", "xml"):
        body = testapp.get(f"/rest/scripted/{job_id}/provenance?format={fmt}").body
        doc = parse(body, fmt)
        assert not doc.bundles
        activity = records(doc, ProvActivity)[f"service:rest/scripted/{job_id}"]
        notes = activity.get_attribute("uws:provenanceNote")
        assert any(why in note and "provenance.json" in note for note in notes), notes
    assert testapp.get(f"/rest/scripted/{job_id}/provenance?format=svg").status_int == 200


def test_a_job_type_may_turn_provenance_off(testapp: UWSTestApp) -> None:
    job_id = run(testapp, "noprov")
    assert testapp.get(f"/rest/noprov/{job_id}/phase").text == "COMPLETED"
    response = testapp.get(f"/rest/noprov/{job_id}/provenance", status=404)
    assert "provenance = false" in response.text
    testapp.get(f"/provenance?ID={job_id}", status=404)


# -- /provenance: the chain across jobs ---------------------------------------------------


def chained(testapp: UWSTestApp) -> tuple[str, str, str]:
    """Job a (echo), job b using a's result, job c using b's: their ids."""
    a = run(testapp, "echo", message="first")
    b = run(testapp, "echo", message=f"{BASE}rest/echo/{a}/results/output")
    c = run(testapp, "echo", message=f"{BASE}rest/echo/{b}/results/output")
    return a, b, c


def activities(body: bytes, fmt: str = "json") -> set[str]:
    return {k.rsplit("/", 1)[1] for k in records(parse(body, fmt), ProvActivity)}


def test_the_chain_back_and_forward(testapp: UWSTestApp) -> None:
    a, b, c = chained(testapp)
    assert activities(testapp.get(f"/provenance?ID={c}").body) == {c, b}
    assert activities(testapp.get(f"/provenance?ID={c}&DEPTH=0").body) == {c}
    assert activities(testapp.get(f"/provenance?ID={c}&DEPTH=2").body) == {c, b, a}
    assert activities(testapp.get(f"/provenance?id={c}&depth=all").body) == {c, b, a}
    assert activities(testapp.get(f"/provenance?ID={a}&DIRECTION=FORWARD").body) == {a, b}
    forward = testapp.get(f"/provenance?ID={a}&DIRECTION=forward&DEPTH=ALL")
    assert activities(forward.body) == {a, b, c}
    # b's use of a's result is the very entity a generated: one record, two relations.
    doc = parse(testapp.get(f"/provenance?ID={b}").body)
    link = f"service:rest/echo/{a}/results/output"
    assert attribute(records(doc, ProvEntity)[link], "voprov:content_type") == "text/plain"
    # b's own document describes the result it used as a's does (one entity once merged).
    produced = testapp.get(f"/rest/echo/{a}/results", headers={"Accept": "application/json"})
    output = next(r for r in produced.json["results"] if r["id"] == "output")
    for document in (doc, parse(testapp.get(f"/rest/echo/{b}/provenance").body)):
        entity = records(document, ProvEntity)[link]
        assert attribute(entity, "uws:sha256") == output["sha256"]
        assert attribute(entity, "voprov:content_size") == output["size"]
        assert attribute(entity, "prov:location") == f"{BASE}rest/echo/{a}/results/output"
        assert roles(document, ProvUsage)[link] == {"message"}
        assert len(records(document, ProvEntity)[link].get_attribute("uws:sha256")) == 1
    provn = doc.get_provn()
    assert f"used(service:rest/echo/{b}, {link}" in provn
    assert f"wasGeneratedBy({link}, service:rest/echo/{a}" in provn


def test_a_forward_walk_reads_a_bounded_number_of_jobs(
    testapp: UWSTestApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b, c = chained(testapp)
    monkeypatch.setattr(provenance_views, "FORWARD_SCAN", 2)  # a and b: c is not read
    assert activities(testapp.get(f"/provenance?ID={a}&DIRECTION=FORWARD&DEPTH=ALL").body) == {a, b}


def test_the_chain_starts_from_a_result_or_a_url(testapp: UWSTestApp) -> None:
    a, b, _ = chained(testapp)
    other = run(testapp, "echo", message=f"{BASE}rest/echo/{a}/results/stdout")
    everyone = activities(testapp.get(f"/provenance?ID={a}&DIRECTION=FORWARD").body)
    assert everyone == {a, b, other}
    by_result = testapp.get(f"/provenance?ID={a}/output&DIRECTION=FORWARD")
    assert activities(by_result.body) == {a, b}
    by_url = testapp.get(
        "/provenance", {"ID": f"{BASE}rest/echo/{a}/results/stdout", "DIRECTION": "FORWARD"}
    )
    assert activities(by_url.body) == {a, other}
    assert activities(testapp.get("/provenance", {"ID": f"{BASE}rest/echo/{b}"}).body) == {a, b}
    assert activities(testapp.get("/provenance", {"ID": f"service:rest/echo/{b}"}).body) == {a, b}


def test_the_chain_in_every_format(testapp: UWSTestApp) -> None:
    need_graphviz()
    _, b, _ = chained(testapp)
    assert (
        len(activities(testapp.get(f"/provenance?ID={b}&RESPONSEFORMAT=PROV-XML").body, "xml")) == 2
    )
    provn = testapp.get(f"/provenance?ID={b}&RESPONSEFORMAT=text/provenance-notation")
    assert provn.text.count("activity(") == 2
    svg = testapp.get(f"/provenance?ID={b}", headers={"Accept": "image/svg+xml"})
    assert svg.content_type == "image/svg+xml" and etree.fromstring(svg.body) is not None


@pytest.mark.parametrize(
    "query, status, says",
    [
        ("", 400, "ID is required"),
        ("ID=", 400, "ID is required"),
        ("ID=../../etc", 400, "parameter ID"),
        ("ID=http://elsewhere.org/rest/echo/abc", 404, "not a URL of this service"),
        ("ID=" + BASE + "rest/echo", 404, "no job or result of this service"),
        ("ID=NotAnId", 400, "parameter ID"),
        ("ID={a}&DEPTH=x", 400, "parameter DEPTH"),
        ("ID={a}&DEPTH=-1", 400, "parameter DEPTH"),
        ("ID={a}&DEPTH=11", 400, "from 0 to 10"),
        ("ID={a}&DIRECTION=SIDEWAYS", 400, "parameter DIRECTION"),
        ("ID={a}&RESPONSEFORMAT=votable", 400, "parameter RESPONSEFORMAT"),
        ("ID=aaaaaaaaaaaaaaaaaaaaaaaa", 404, "aaaaaaaaaaaaaaaaaaaaaaaa"),
        ("ID={a}/nosuch", 404, "no result 'nosuch'"),
        ("ID=" + BASE + "rest/sleep/{a}", 404, "of type 'sleep'"),
    ],
)
def test_query_errors(testapp: UWSTestApp, query: str, status: int, says: str) -> None:
    a = run(testapp, "echo")
    response = testapp.get("/provenance?" + query.replace("{a}", a), status=status)
    assert says in response.text


def test_query_of_an_unfinished_job_and_other_methods(testapp: UWSTestApp) -> None:
    job = testapp.post("/rest/echo", {"message": "x"}, status=303).location.rsplit("/", 1)[1]
    testapp.get(f"/provenance?ID={job}", status=409)
    testapp.post("/provenance", {"ID": job}, status=405)


def test_the_chain_stops_at_other_users_jobs(app: Any) -> None:
    add_user(app, "alice", "alice-secret-1")
    add_user(app, "bob", "bob-secret-12")
    alice, bob = UWSTestApp(app), UWSTestApp(app)
    alice.authorization = ("Basic", ("alice", "alice-secret-1"))
    bob.authorization = ("Basic", ("bob", "bob-secret-12"))
    a = run(alice, "echo", message="alice's secret")
    b = run(bob, "echo", message=f"{BASE}rest/echo/{a}/results/output")
    back = bob.get(f"/provenance?ID={b}&DEPTH=ALL")
    assert activities(back.body) == {b}
    assert b"alice" not in back.body  # neither a's activity, nor its owner, nor its message
    # Nor what a's job recorded of its result: bob's document names it only by its URL.
    link = records(parse(back.body), ProvEntity)[f"service:rest/echo/{a}/results/output"]
    assert attribute(link, "uws:sha256") is None and attribute(link, "voprov:content_size") is None
    assert activities(alice.get(f"/provenance?ID={a}&DIRECTION=FORWARD").body) == {a}
    admin = UWSTestApp(app)
    add_user(app, "root", "root-secret-12", "admin")
    admin.authorization = ("Basic", ("root", "root-secret-12"))
    seen = admin.get(f"/provenance?ID={b}").body
    assert activities(seen) == {a, b}
    link = records(parse(seen), ProvEntity)[f"service:rest/echo/{a}/results/output"]
    assert attribute(link, "uws:sha256") is not None
    assert json.loads(admin.get(f"/provenance?ID={a}&DIRECTION=FORWARD").body)["activity"]


# -- the graph's error paths: Graphviz missing, slow, failing; hostile labels ---------------


def fake_dot(tmp_path: Path, body: str) -> str:
    """A stand-in for Graphviz's dot (a unit test of the error paths only)."""
    dot = tmp_path / "bin" / "dot"
    dot.parent.mkdir(exist_ok=True)
    dot.write_text("#!/bin/sh\n" + body)
    dot.chmod(0o755)
    return str(dot.parent)


@pytest.mark.parametrize(
    "body, says",
    [
        (None, "not installed"),
        ("exec /bin/sleep 5\n", "took too long"),
        ("echo broken >&2; exit 3\n", "failed to draw"),
    ],
)
def test_the_graph_fails_with_503_and_the_text_formats_still_work(
    testapp: UWSTestApp,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    body: str | None,
    says: str,
) -> None:
    job_id = run(testapp, "echo")
    monkeypatch.setattr(formats, "DOT_TIMEOUT", 0.5)
    monkeypatch.setenv("PATH", fake_dot(tmp_path, body) if body else str(tmp_path / "none"))
    response = testapp.get(f"/rest/echo/{job_id}/provenance?format=svg", status=503)
    assert says in response.text and response.headers["Retry-After"]
    parse(testapp.get(f"/rest/echo/{job_id}/provenance").body)


def test_labels_cannot_break_out_of_the_dot_text() -> None:
    doc = ProvDocument()
    doc.add_namespace("ex", "http://example.org/")
    doc.entity("ex:e", {"prov:label": 'a"] ; x [image="/etc/passwd" label="\\\nb'})
    text = formats.to_dot(doc)
    label = next(line for line in text.splitlines() if line.startswith("n0 "))
    assert label.startswith('n0 [label="a\\"] ; x [image=\\"/etc/passwd\\" label=\\"\\\\b"')
    assert "\n" not in label and text.count("image=") == 1


def test_edges_carry_the_roles_of_their_relations() -> None:
    doc = ProvDocument()
    doc.add_namespace("ex", "http://example.org/")
    doc.activity("ex:run")
    doc.entity("ex:image")
    doc.entity("ex:map")
    doc.used("ex:run", "ex:image", other_attributes={"prov:role": "input"})
    doc.wasGeneratedBy("ex:map", "ex:run")
    edges = [line for line in formats.to_dot(doc).splitlines() if " -> " in line]
    assert edges == ['n0 -> n1 [label="Usage (input)"]', 'n2 -> n0 [label="Generation"]']


def test_a_big_graph_is_cut() -> None:
    doc = ProvDocument()
    doc.add_namespace("ex", "http://example.org/")
    for number in range(formats.MAX_NODES + 5):
        doc.entity(f"ex:e{number}")
    text = formats.to_dot(doc)
    assert f"n{formats.MAX_NODES - 1} " in text and f"n{formats.MAX_NODES} " not in text
    assert '"5 more records not drawn"' in text


def test_a_job_whose_type_is_gone_keeps_its_provenance(
    testapp: UWSTestApp, app: Any, settings: dict[str, Any]
) -> None:
    job_id = run(testapp, "scripted", mode="good")
    jdl = Path(settings["uws.jdl_dir"])
    (jdl / "scripted.wadl").unlink()
    app.registry.uws.service.descriptions.reload()
    doc = parse(testapp.get(f"/rest/scripted/{job_id}/provenance").body)
    activity = records(doc, ProvActivity)[f"service:rest/scripted/{job_id}"]
    (note,) = activity.get_attribute("uws:provenanceNote")
    assert "description of job type scripted is gone" in note
    assert f"service:rest/scripted/{job_id}/parameters/mode" in records(doc, ProvEntity)
    assert "service:jdl/scripted" not in records(doc, ProvEntity)
    assert len(doc.bundles) == 1  # the script's file is still there


def test_used_entities_of_a_description_without_and_with_a_parameter() -> None:
    """An entity the description names without a parameter (a calibration file) is used in its
    role with what the description says of it; a result of another job given to a parameter of
    the Used group keeps its own attributes, the declared ones go on the usage."""
    jd = JobDescription(
        "calib",
        parameters=(ParameterSpec("image"),),
        used=(
            UsedSpec("image", ref="image", role="science frame", content_type="image/fits"),
            UsedSpec(
                "flat",
                role="flat field",
                description="The night's flat",
                default="flat-2024",
                url="http://archive.example/flat.fits",
            ),
        ),
    )
    given = f"{BASE}rest/echo/p1/results/output"
    job = Job("j1", "calib", phase=Phase.COMPLETED, parameters={"image": given})
    output = Result("output", "out.txt", "text/plain", 5, "ab" * 32)
    service = Service((BASE,))
    doc = new_document(service)
    add_job(doc, JobFacts(job, jd, inputs={"rest/echo/p1/results/output": output}), service)
    doc = parse(doc.serialize(format="json"))
    entities, used = records(doc, ProvEntity), roles(doc, ProvUsage)
    flat = entities["service:rest/calib/j1/used/flat"]
    assert used["service:rest/calib/j1/used/flat"] == {"flat field"}
    assert attribute(flat, "prov:location") == "http://archive.example/flat.fits"
    assert attribute(flat, "voprov:id") == "flat-2024"
    assert attribute(flat, "voprov:description") == "The night's flat"
    result = entities["service:rest/echo/p1/results/output"]
    assert used["service:rest/echo/p1/results/output"] == {"science frame"}
    assert attribute(result, "voprov:content_type") == "text/plain"
    assert attribute(result, "uws:sha256") == "ab" * 32
    (usage,) = [u for u in doc.get_records(ProvUsage) if "p1" in str(u.formal_attributes[1][1])]
    assert attribute(usage, "voprov:content_type") == "image/fits"
