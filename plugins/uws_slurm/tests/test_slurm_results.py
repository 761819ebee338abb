"""Results made on the SLURM cluster: glob results with stable ids, the script's manifest, digests,
a missing required result (the job's ERROR), the zip of all results."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from conftest import AppFactory, UWSTestApp, start, wait_phase

from uws_pyramid.api import ResultSpec
from uws_pyramid.testing import write_job_type

NIGHTS = """\
for n in 01 02; do printf "night $n" > "night_$n.csv"; done
printf 'log\\trun.log\\ttext/plain\\tThe run log\\n' > uws_results.tsv
printf 'done' > run.log
"""


@pytest.fixture
def jdl(tmp_path: Path) -> Path:
    directory = tmp_path / "jdl"
    results = [
        ResultSpec("nights", "text/csv", "night_*.csv", "One night", required=True),
        ResultSpec("summary", "application/json", "summary.json", required=True),
    ]
    write_job_type(directory, "nights", NIGHTS + "printf '{}' > summary.json\n", results=results)
    write_job_type(directory, "short", NIGHTS, results=results)  # no summary.json
    return directory


def test_glob_and_manifest_results_on_slurm(make_app: AppFactory, jdl: Path) -> None:
    testapp = UWSTestApp(make_app(**{"uws.jdl_dir": str(jdl)}))
    job_id = start(testapp, "nights")
    job = wait_phase(testapp, "nights", job_id, {"COMPLETED", "ERROR"})
    assert job["phase"] == "COMPLETED", job["errorSummary"]
    assert "slurm_job_id" in job["jobInfo"]
    results = {r["id"]: r for r in job["results"]}
    assert list(results) == [
        "nights_night_01.csv",
        "nights_night_02.csv",
        "summary",
        "log",
        "stdout",
        "stderr",
    ]
    assert results["nights_night_02.csv"]["sha256"] == hashlib.sha256(b"night 02").hexdigest()
    assert results["log"]["description"] == "The run log"
    assert results["nights_night_01.csv"]["description"] == "One night"  # its declaration's
    url = f"/rest/nights/{job_id}"
    xml = testapp.get(url + "/results").text  # validated against UWS 1.1 by UWSTestApp
    assert 'id="nights_night_02.csv"' in xml and 'uwsc:description="One night"' in xml
    response = testapp.get(url + "/results/nights_night_01.csv")
    expected = hashlib.sha256(b"night 01").hexdigest()
    assert response.headers["ETag"] == f'"{expected}"'
    archive = zipfile.ZipFile(io.BytesIO(testapp.get(url + "/results.zip").body))
    assert archive.read("nights_night_02.csv") == b"night 02"


def test_a_manifest_line_with_a_declared_id_stands_for_it_on_slurm(
    make_app: AppFactory, jdl: Path
) -> None:
    write_job_type(
        jdl,
        "renamed",  # summary.json written as totals.json, listed under the declared id
        "printf '{}' > totals.json\nprintf 'summary\\ttotals.json\\n' > uws_results.tsv\n",
        results=[ResultSpec("summary", "application/json", "summary.json", "Sums", required=True)],
    )
    testapp = UWSTestApp(make_app(**{"uws.jdl_dir": str(jdl)}))
    job_id = start(testapp, "renamed")
    job = wait_phase(testapp, "renamed", job_id, {"COMPLETED", "ERROR"})
    assert job["phase"] == "COMPLETED", job["errorSummary"]
    summary = next(r for r in job["results"] if r["id"] == "summary")
    assert (summary["mimeType"], summary["description"]) == ("application/json", "Sums")


def test_a_missing_required_result_is_an_error_on_slurm(make_app: AppFactory, jdl: Path) -> None:
    testapp = UWSTestApp(make_app(**{"uws.jdl_dir": str(jdl)}))
    job_id = start(testapp, "short")
    job = wait_phase(testapp, "short", job_id, {"COMPLETED", "ERROR"})
    assert job["phase"] == "ERROR"
    assert job["errorSummary"]["message"] == (
        "required result 'summary' was not produced (no file 'summary.json')"
    )
    assert "nights_night_01.csv" in [r["id"] for r in job["results"]]
