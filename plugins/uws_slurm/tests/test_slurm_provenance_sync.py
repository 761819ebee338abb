"""Provenance and synchronous execution with the SLURM manager, on the real cluster."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import AppFactory, UWSTestApp, start, wait_phase
from prov.model import PROV_ROLE, ProvActivity, ProvDocument, ProvEntity, ProvGeneration, ProvUsage

from uws_pyramid.api import ResultSpec
from uws_pyramid.testing import EXAMPLE_JDL, write_job_type

BASE = "http://localhost/"
OPUS = Path(__file__).resolve().parents[3] / "tests" / "data" / "opus"
TOOL = '{"prefix": {"ex": "http://example.org/"}, "entity": {"ex:tool": {"ex:version": "2.0"}}}'
SCRIPT = f"""printf '%s' '{TOOL}' > provenance.json
printf 'made on %s\\n' "$(hostname)" > out.txt
"""


def ids(doc: ProvDocument, kind: type) -> set[str]:
    return {str(r.identifier) for r in doc.get_records(kind)}


def test_sync_on_slurm_redirects_to_the_result_and_the_job_has_provenance(
    testapp: UWSTestApp,
) -> None:
    response = testapp.get("/sync/echo?message=synchronous+SLURM", status=303)
    assert response.location.endswith("/results/output")
    assert response.follow().text == "synchronous SLURM\n"
    job_id = response.location.split("/")[-3]
    job = testapp.get(f"/rest/echo/{job_id}", headers={"Accept": "application/json"}).json
    assert job["jobInfo"]["slurm_job_id"]
    doc = ProvDocument.deserialize(
        content=testapp.get(f"/rest/echo/{job_id}/provenance").body, format="json"
    )
    activity = next(iter(doc.get_records(ProvActivity)))
    assert str(activity.identifier) == f"service:rest/echo/{job_id}"
    assert activity.get_startTime() is not None and activity.get_endTime() is not None
    assert f"service:rest/echo/{job_id}/results/output" in ids(doc, ProvEntity)


def test_sync_on_slurm_answers_a_failure_with_its_error(testapp: UWSTestApp) -> None:
    response = testapp.get("/sync/fail?message=no+such+galaxy", status=500)
    assert response.text == "no such galaxy\n"
    assert response.headers["Content-Location"].endswith("/error")


def test_sync_post_with_a_file_on_slurm(testapp: UWSTestApp) -> None:
    response = testapp.post(
        "/sync/wordcount", upload_files=[("infile", "a.txt", b"a b c\nd\n")], status=303
    )
    assert response.location.endswith("/results/counts")
    assert response.follow().json == {"lines": 2, "words": 4, "bytes": 8}


def test_a_slurm_job_past_the_sync_timeout_is_left_running(make_app: AppFactory) -> None:
    testapp = UWSTestApp(make_app(**{"uws.sync.timeout": "1"}))
    response = testapp.get("/sync/sleep?duration=30", status=303)
    job_url = response.location
    assert "/rest/sleep/" in job_url and "/results/" not in job_url
    job_id = job_url.rsplit("/", 1)[1]
    assert wait_phase(testapp, "sleep", job_id, {"EXECUTING"})["jobInfo"]["slurm_job_id"]
    testapp.post(job_url + "/phase", {"PHASE": "ABORT"}, status=303)
    assert wait_phase(testapp, "sleep", job_id, {"ABORTED"})["phase"] == "ABORTED"


def test_the_chain_of_slurm_jobs(testapp: UWSTestApp) -> None:
    first = start(testapp, "echo", message="first")
    assert wait_phase(testapp, "echo", first, {"COMPLETED", "ERROR"})["phase"] == "COMPLETED"
    second = start(testapp, "echo", message=f"{BASE}rest/echo/{first}/results/output")
    assert wait_phase(testapp, "echo", second, {"COMPLETED", "ERROR"})["phase"] == "COMPLETED"
    back = ProvDocument.deserialize(
        content=testapp.get(f"/provenance?ID={second}&RESPONSEFORMAT=PROV-XML").body, format="xml"
    )
    assert ids(back, ProvActivity) == {f"service:rest/echo/{first}", f"service:rest/echo/{second}"}
    forward = testapp.get(f"/provenance?ID={first}/output&DIRECTION=FORWARD").json
    assert set(forward["activity"]) == {f"service:rest/echo/{first}", f"service:rest/echo/{second}"}


def test_a_slurm_jobs_own_provenance_file_is_merged(make_app: AppFactory, tmp_path: Path) -> None:
    jdl = tmp_path / "jdl"
    shutil.copytree(EXAMPLE_JDL, jdl)
    write_job_type(jdl, "tooled", SCRIPT, (), [ResultSpec("out", "text/plain", "out.txt")])
    testapp = UWSTestApp(make_app(**{"uws.jdl_dir": str(jdl)}))
    response = testapp.get("/sync/tooled", status=303)
    assert response.follow().text.startswith("made on ")
    job_id = response.location.split("/")[-3]
    doc = ProvDocument.deserialize(
        content=testapp.get(f"/rest/tooled/{job_id}/provenance").body, format="json"
    )
    (bundle,) = doc.bundles
    assert ids(bundle, ProvEntity) == {"ex:tool"}


def roles(doc: ProvDocument, kind: type) -> dict[str, set[str]]:
    position = 1 if kind is ProvUsage else 0
    return {
        str(r.formal_attributes[position][1]): {str(v) for v in r.get_attribute(PROV_ROLE)}
        for r in doc.get_records(kind)
    }


def value(record: ProvEntity, name: str) -> object:
    return {str(k): v for k, v in record.attributes}.get(name)


def test_an_opus_job_on_slurm_and_the_job_using_its_result(
    make_app: AppFactory, tmp_path: Path
) -> None:
    """The OPUS example run by SLURM: its document takes the roles from the VOTable's Used and
    Generated groups and each result's URL, size, type and SHA-256 from the job's end; a job
    using one of its results describes that result the same way."""
    jdl = tmp_path / "jdl"
    shutil.copytree(EXAMPLE_JDL, jdl)
    shutil.copy(OPUS / "lightcurve_vot.xml", jdl)
    shutil.copy(OPUS / "scripts" / "lightcurve.sh", jdl / "scripts")
    testapp = UWSTestApp(make_app(**{"uws.jdl_dir": str(jdl)}))
    rows = "time,flux\n" + "".join(f"{t * 0.1:.1f},{1 + (t % 9) / 10}\n" for t in range(90))
    response = testapp.post(
        "/rest/lightcurve",
        {"PHASE": "RUN", "period": "0.9"},
        upload_files=[("infile", "lc.csv", rows.encode())],
        status=303,
    )
    job_id = response.location.rsplit("/", 1)[1]
    job = wait_phase(testapp, "lightcurve", job_id, {"COMPLETED", "ERROR"}, timeout=60)
    assert job["phase"] == "COMPLETED", job["errorSummary"]
    assert job["jobInfo"]["slurm_job_id"]
    here = f"service:rest/lightcurve/{job_id}"
    doc = ProvDocument.deserialize(
        content=testapp.get(f"/rest/lightcurve/{job_id}/provenance?format=xml").body, format="xml"
    )
    assert roles(doc, ProvUsage)[f"{here}/parameters/infile"] == {"light curve"}
    generated, entities = (
        roles(doc, ProvGeneration),
        {str(r.identifier): r for r in doc.get_records(ProvEntity)},
    )
    for result in job["results"]:
        name = f"{here}/results/{result['id']}"
        assert value(entities[name], "uws:sha256") == result["sha256"]
        assert value(entities[name], "voprov:content_size") == result["size"]
        assert value(entities[name], "prov:location") == BASE + name.split(":", 1)[1]
    assert generated[f"{here}/results/plots_plot_raw.png"] == {"plot"}
    assert generated[f"{here}/results/folded"] == {"folded light curve"}
    folded = next(r for r in job["results"] if r["id"] == "folded")
    user = start(testapp, "echo", message=f"{BASE}rest/lightcurve/{job_id}/results/folded")
    assert wait_phase(testapp, "echo", user, {"COMPLETED", "ERROR"})["phase"] == "COMPLETED"
    used = ProvDocument.deserialize(
        content=testapp.get(f"/rest/echo/{user}/provenance").body, format="json"
    )
    entity = next(
        r for r in used.get_records(ProvEntity) if str(r.identifier) == (f"{here}/results/folded")
    )
    assert value(entity, "uws:sha256") == folded["sha256"]
    assert value(entity, "voprov:content_type") == "text/csv"
