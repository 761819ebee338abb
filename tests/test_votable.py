"""OPUS VOTable job descriptions: the reader and writer, pluggable formats, GET /jdl/<type>?format=,
the editor, and the OPUS example run unchanged by the local manager."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid import main
from uws_pyramid.errors import ConfigurationError
from uws_pyramid.jdl import JDLError, JobDescriptions, read_wadl
from uws_pyramid.jdl.entities import generated_entities, used_entities
from uws_pyramid.jdl.formats import DescriptionFormat, merge_formats
from uws_pyramid.jdl.votable import read_votable, write_votable
from uws_pyramid.plugins import hookimpl

from .conftest import ROOT, UWSTestApp
from .test_results import run

OPUS = Path(__file__).parent / "data" / "opus"
EXAMPLE = (OPUS / "lightcurve_vot.xml").read_bytes()


@pytest.fixture
def jdl(tmp_path: Path) -> Path:
    """The repository's WADL examples and the OPUS example, side by side."""
    directory = tmp_path / "jdl"
    shutil.copytree(ROOT / "jdl", directory)
    shutil.copy(OPUS / "lightcurve_vot.xml", directory)
    shutil.copy(OPUS / "scripts" / "lightcurve.sh", directory / "scripts")
    return directory


@pytest.fixture
def settings(settings: dict[str, Any], jdl: Path) -> dict[str, Any]:
    settings.update(
        {"uws.jdl_dir": str(jdl), "uws.manager.poll_interval": "0.1", "uws.editor": "true"}
    )
    return settings


def test_the_opus_example_reads_into_the_model() -> None:
    jd = read_votable(EXAMPLE, "lightcurve_vot.xml")
    assert (jd.name, jd.version, jd.execution_duration, jd.quote) == ("lightcurve", "1.2", 120, 10)
    assert jd.description.startswith("Fold a light curve")
    params = {p.name: p for p in jd.parameters}
    assert (params["infile"].type, params["infile"].required) == ("file", True)
    period = params["period"]
    assert (period.type, period.default, period.unit, period.min, period.max, period.required) == (
        "xs:double",
        "1.5",
        "d",
        "0.01",
        "1000",
        True,
    )
    assert (params["bins"].type, params["bins"].required, params["bins"].default) == (
        "xs:int",
        False,
        "50",
    )  # type="no_query": optional
    assert params["method"].choices == ("mean", "median")
    assert (params["normalise"].type, params["normalise"].default) == ("xs:boolean", "no")
    results = {r.id: r for r in jd.results}
    assert (results["folded"].default, results["folded"].mime_type) == ("folded.csv", "text/csv")
    assert (results["plots"].default, results["plots"].mime_type, results["plots"].role) == (
        "plot_*.png",
        "image/png",
        "plot",
    )
    (used,) = jd.used
    assert (used.name, used.ref, used.role, used.content_type, used.url) == (
        "infile",
        "infile",
        "light curve",
        "text/csv",
        "file://",
    )
    assert dict(jd.info) == {
        "type": "analysis",
        "subtype": "timing",
        "contact_name": "Pipeline team",
        "contact_email": "pipeline@example.org",
    }


@pytest.mark.parametrize("name", ["echo", "fail", "sleep", "wordcount"])
def test_every_wadl_example_survives_votable_and_back(name: str) -> None:
    jd = read_wadl((ROOT / "jdl" / f"{name}.wadl").read_bytes())
    assert read_votable(write_votable(jd)) == jd


def test_the_example_survives_its_own_writer() -> None:
    jd = read_votable(EXAMPLE)
    assert read_votable(write_votable(jd)) == jd


def _votable(inner: str, resource: str = 'name="bad"') -> bytes:
    return (
        f'<VOTABLE xmlns="http://www.ivoa.net/xml/VOTable/v1.3" version="1.3">'
        f'<RESOURCE {resource} type="meta">{inner}</RESOURCE></VOTABLE>'
    ).encode()


def _param(attributes: str, inner: str = "") -> bytes:
    return _votable(f'<GROUP name="InputParams"><PARAM {attributes}>{inner}</PARAM></GROUP>')


def _generated(inner: str, name: str = "out") -> bytes:
    return _votable(f'<GROUP name="Generated"><GROUP name="{name}">{inner}</GROUP></GROUP>')


@pytest.mark.parametrize(
    "data, fault",
    [
        (b"<VOTABLE", "not well-formed XML"),
        (b"<application/>", "the root element must be <VOTABLE>"),
        (
            b'<VOTABLE xmlns="http://www.ivoa.net/xml/VOTable/v1.3"/>',
            "expected one RESOURCE (the job type), found 0",
        ),
        (_votable("", "utype='x'"), "the RESOURCE has no name"),
        (_votable("", 'name="a b"'), "job name 'a b' must be a letter"),
        (_param('name="x" datatype="complex"'), "parameter x: unknown datatype 'complex'"),
        (_param('datatype="int"'), "parameter name '' is not an identifier"),
        (
            _param('name="x" datatype="int"', "<VALUES><OPTION/></VALUES>"),
            "parameter x: an OPTION has no value",
        ),
        (
            _param('name="x" datatype="int"', '<VALUES><MIN value="ten"/></VALUES>'),
            "parameter x: min 'ten' is not an integer",
        ),
        (
            _param('name="x" datatype="int" value="7"', '<VALUES><MAX value="5"/></VALUES>'),
            "parameter x: default '7' is not valid",
        ),
        (_param('name="PHASE" datatype="char"'), "reserved UWS name"),
        (_votable('<GROUP name="Outputs"/>'), "unknown GROUP 'Outputs'"),
        (
            _votable('<PARAM name="executionDuration" value="1h" datatype="int"/>'),
            "executionDuration '1h' is not a whole number of seconds",
        ),
        (_votable('<PARAM value="1"/>'), "a PARAM of bad has no name"),
        (
            _generated('<PARAM name="default" value="../../etc/passwd"/>'),
            "result out: default '../../etc/passwd' must be a relative file name or glob",
        ),
        (
            _generated('<PARAM name="content_type" value="csv"/>'),
            "result out: 'csv' is not a media type",
        ),
        (_generated('<PARAM name="required" value="maybe"/>'), "result out: required='maybe'"),
        (_generated("", name="1st"), "result id '1st' is not a valid name"),
        (
            _votable('<GROUP name="Used"><GROUP name="a-b"/></GROUP>'),
            "used entity name 'a-b' is not an identifier",
        ),
    ],
)
def test_a_bad_votable_is_refused_naming_the_fault(data: bytes, fault: str) -> None:
    with pytest.raises(JDLError) as info:
        read_votable(data, "bad_vot.xml")
    assert info.value.source == "bad_vot.xml"
    assert fault in info.value.reason


def test_external_entities_are_never_read() -> None:
    data = b'<!DOCTYPE VOTABLE [<!ENTITY e SYSTEM "file:///etc/hostname">]>' + _votable(
        "<DESCRIPTION>&e;</DESCRIPTION>", 'name="x"'
    )
    jd = read_votable(data)
    assert jd.description == "&e;"  # the entity is left unresolved, its file unread


def test_the_registry_reads_both_formats_and_refuses_two_files_for_one_type(jdl: Path) -> None:
    registry = JobDescriptions(jdl)
    assert registry.names() == ["echo", "fail", "lightcurve", "sleep", "wordcount"]
    kind, data = registry.document("lightcurve")
    assert (kind.name, data) == ("votable", EXAMPLE)
    # The same type in two files: neither is used, and the reason says why.
    (jdl / "echo_vot.xml").write_bytes(write_votable(registry.get("echo")))
    registry.reload()
    assert "echo" not in registry.names()
    assert registry.broken["echo"] == "echo.wadl and echo_vot.xml both describe job type echo"
    # A broken VOTable is reported like a broken WADL.
    (jdl / "echo_vot.xml").unlink()
    (jdl / "lightcurve_vot.xml").write_bytes(EXAMPLE.replace(b'datatype="double"', b'datatype="x"'))
    registry.reload()
    assert registry.broken["lightcurve"].startswith(
        "lightcurve_vot.xml: parameter period: unknown datatype 'x'"
    )


def test_get_jdl_serves_either_format(testapp: UWSTestApp) -> None:
    native = testapp.get("/jdl/lightcurve")
    assert native.content_type == "application/x-votable+xml" and native.body == EXAMPLE
    assert testapp.get("/jdl/lightcurve?format=votable").body == EXAMPLE
    wadl = testapp.get("/jdl/lightcurve?format=wadl")
    assert wadl.content_type == "application/xml"
    as_wadl = read_wadl(wadl.body)
    assert [p.name for p in as_wadl.parameters] == [
        "infile",
        "period",
        "bins",
        "method",
        "normalise",
    ]
    votable = testapp.get("/jdl/echo?format=votable")
    assert read_votable(votable.body) == read_wadl(testapp.get("/jdl/echo").body)
    missing = testapp.get("/jdl/echo?format=cwl", status=404)
    assert "unknown job description format 'cwl' (formats: wadl, votable)" in missing.text
    listed = testapp.get("/jdl").json
    assert "lightcurve" in [t["name"] for t in listed["jobTypes"]]


def test_the_opus_example_runs_unchanged_with_its_pattern_result(
    testapp: UWSTestApp, app: Any
) -> None:
    rows = "time,flux\n" + "".join(f"{t * 0.1:.1f},{1 + (t % 15) / 10}\n" for t in range(300))
    response = testapp.post(
        "/rest/lightcurve",
        {"PHASE": "RUN", "period": "1.5", "bins": "10", "method": "median"},
        upload_files=[("infile", "lc.csv", rows.encode())],
        status=303,
    )
    url = response.location.replace("http://localhost", "")
    for _ in range(60):
        job = testapp.get(url + "?WAIT=5", headers={"Accept": "application/json"}).json
        if job["phase"] in ("COMPLETED", "ERROR"):
            break
    assert job["phase"] == "COMPLETED", job.get("errorSummary")
    ids = [r["id"] for r in job["results"]]
    assert ids == ["folded", "plots_plot_folded.png", "plots_plot_raw.png", "stdout", "stderr"]
    folded = list(csv.reader(io.StringIO(testapp.get(url + "/results/folded").text)))
    assert folded[0] == ["phase", "flux"] and len(folded) == 11
    plot = testapp.get(url + "/results/plots_plot_raw.png")
    assert plot.content_type == "image/png" and plot.body.startswith(b"\x89PNG")
    # What provenance gets: the used file with its value, each result with its declaration.
    service = app.registry.uws.service
    stored = service.storage.get(job["jobId"])
    jd = service.descriptions.get("lightcurve")
    (used,) = used_entities(stored, jd)
    assert (used.spec.role, used.value) == ("light curve", stored.parameters["infile"])
    roles = [(g.result.id, g.spec.role if g.spec else None) for g in generated_entities(stored, jd)]
    assert roles == [
        ("folded", "folded light curve"),
        ("plots_plot_folded.png", "plot"),
        ("plots_plot_raw.png", "plot"),
        ("stdout", None),
        ("stderr", None),
    ]


def test_an_out_of_range_value_is_refused_as_for_wadl(testapp: UWSTestApp) -> None:
    response = testapp.post(
        "/rest/lightcurve",
        {"period": "0", "bins": "5"},
        upload_files=[("infile", "lc.csv", b"1,2\n")],
        status=400,
    )
    assert "period" in response.text and "between 0.01 and 1000" in response.text


def test_the_editor_saves_a_votable_type_as_votable(admin_app: UWSTestApp, jdl: Path) -> None:
    jd = admin_app.get("/jdl/lightcurve/json").json
    jd["description"] = "Fold it."
    jd["results"][0]["required"] = True
    answer = admin_app.put_json("/jdl/lightcurve", {"description": jd, "script": None}).json
    assert answer["saved"] and answer["format"] == "votable"
    assert not (jdl / "lightcurve.wadl").exists()
    saved = read_votable((jdl / "lightcurve_vot.xml").read_bytes())
    assert saved.description == "Fold it." and saved.results[0].required
    assert saved.used == read_votable(EXAMPLE).used  # kept through the JSON form
    assert answer["document"].encode() == (jdl / "lightcurve_vot.xml").read_bytes()
    assert list((jdl / ".history").glob("lightcurve.*_vot.xml"))
    # A VOTable document may be sent as is, too; a bad one is a 400 naming the fault.
    admin_app.put(
        "/jdl/lightcurve?check=1", EXAMPLE, headers={"Content-Type": "application/x-votable+xml"}
    )
    bad = admin_app.put(
        "/jdl/lightcurve",
        EXAMPLE.replace(b'"int"', b'"int128"'),
        headers={"Content-Type": "application/xml"},
        status=400,
    )
    assert "unknown datatype 'int128'" in bad.text


class JsonFormat:
    """A plugin adding descriptions as JSON files (the service's own JSON form)."""

    @hookimpl
    def uws_description_formats(self) -> list[DescriptionFormat]:
        import json

        from uws_pyramid.client.editor import description_from_json

        def read(data: bytes, source: str) -> Any:
            try:
                return description_from_json(json.loads(data))
            except ValueError as exc:
                raise JDLError(source, str(exc)) from None

        return [
            DescriptionFormat(
                "json",
                ".jdl.json",
                "application/json",
                read,
                lambda jd: json.dumps(jd.to_json()).encode(),
            )
        ]


def test_a_plugin_adds_a_description_format(settings: dict[str, Any], jdl: Path) -> None:
    jd = read_wadl((jdl / "echo.wadl").read_bytes())
    (jdl / "echo.wadl").unlink()
    (jdl / "echo.jdl.json").write_text(__import__("json").dumps(jd.to_json()))
    settings["testing.plugins"] = [JsonFormat()]
    app = main({"here": settings["here"]}, **settings)
    try:
        testapp = UWSTestApp(app)
        assert testapp.get("/jdl/echo").content_type == "application/json"
        assert read_wadl(testapp.get("/jdl/echo?format=wadl").body) == jd
        _, job = run(testapp, "echo", message="hi")
        assert job["phase"] == "COMPLETED"
    finally:
        app.registry.uws.close()


def test_two_formats_with_one_suffix_stop_start_up(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="two job description formats have the name 'wadl'"):
        merge_formats([[DescriptionFormat("wadl", ".w", "x/y", read_wadl, write_votable)]])

    class Clash:
        @hookimpl
        def uws_description_formats(self) -> list[DescriptionFormat]:
            return [DescriptionFormat("opus", "_vot.xml", "x/y", read_votable, write_votable)]

    settings["testing.plugins"] = [Clash()]
    with pytest.raises(ConfigurationError, match="have the suffix '_vot.xml'"):
        main({"here": settings["here"]}, **settings)
