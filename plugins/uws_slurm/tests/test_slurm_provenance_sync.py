"""Provenance and synchronous execution with the SLURM manager, on the real cluster."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import AppFactory, UWSTestApp, start, wait_phase
from prov.model import ProvActivity, ProvDocument, ProvEntity

from uws_pyramid.api import ResultSpec
from uws_pyramid.testing import EXAMPLE_JDL, write_job_type

BASE = "http://localhost/"
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
