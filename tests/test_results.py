"""Results end to end with the local manager: sizes, digests and ETags, glob results, the
script's manifest, required results, and the streamed zip of all results."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from uws_pyramid.jdl.model import ParameterSpec, ResultSpec
from uws_pyramid.testing import write_job_type
from uws_pyramid.web.xml import CUSTOM_NS, UWS_NS

from .conftest import UWSTestApp

TILES = """\
for i in 1 2 3; do printf "tile $i" > "tile_$i.fits"; done
printf '{"n": 3}' > summary.json
printf 'a note' > note.txt
mkdir -p plots && printf 'PNG' > plots/p1.png
printf 'note\\tnote.txt\\ttext/plain\\tWhat the run noticed\\n' > uws_results.tsv
printf '# a comment, then a blank line\\n\\nplot1\\tplots/p1.png\\n' >> uws_results.tsv
"""


@pytest.fixture
def jdl(tmp_path: Path) -> Path:
    directory = tmp_path / "jdl"
    write_job_type(
        directory,
        "tiles",
        TILES,
        results=[
            ResultSpec("tiles", "image/fits", "tile_*.fits", "One tile", required=True),
            ResultSpec("summary", "application/json", "summary.json", required=True),
            ResultSpec("extra", "text/plain", "extra.txt"),  # optional, never written
        ],
    )
    write_job_type(
        directory,
        "lazy",
        "printf x > other.txt\n",
        results=[
            ResultSpec("tiles", "image/fits", "tile_*.fits", required=True),
            ResultSpec("summary", "application/json", "summary.json", required=True),
        ],
    )
    write_job_type(
        directory,
        "manifest",
        'printf "$lines" > uws_results.tsv\nprintf data > data.txt; ln -s /etc/hostname link.txt\n',
        parameters=[ParameterSpec("lines", required=True)],
        results=[ResultSpec("data", "text/plain", "data.txt")],
    )
    write_job_type(
        directory,
        "late",  # its report under another name, listed in the manifest by its declared id
        "printf '<p>done</p>' > other.html\nprintf 'report\\tother.html\\n' > uws_results.tsv\n",
        results=[ResultSpec("report", "text/html", "report.html", "The report", required=True)],
    )
    write_job_type(
        directory,
        "big",
        'head -c "$size" /dev/urandom > big.bin\n',
        parameters=[ParameterSpec("size", "xs:int", required=True)],
        results=[ResultSpec("big", "application/octet-stream", "big.bin")],
    )
    return directory


@pytest.fixture
def settings(settings: dict[str, Any], jdl: Path) -> dict[str, Any]:
    settings.update({"uws.jdl_dir": str(jdl), "uws.manager.poll_interval": "0.1"})
    return settings


def run(testapp: UWSTestApp, job_type: str, **parameters: str) -> tuple[str, dict[str, Any]]:
    """Create and run a job, wait for its end; its URL and JSON form."""
    response = testapp.post(f"/rest/{job_type}", {"PHASE": "RUN", **parameters}, status=303)
    url = response.location.replace("http://localhost", "")
    for _ in range(60):
        job = testapp.get(url + "?WAIT=5", headers={"Accept": "application/json"}).json
        if job["phase"] in ("COMPLETED", "ERROR", "ABORTED"):
            return url, job
    raise AssertionError(f"job {url} did not end: {job}")


def test_results_carry_size_type_digest_and_stable_glob_ids(testapp: UWSTestApp) -> None:
    url, job = run(testapp, "tiles")
    assert job["phase"] == "COMPLETED", job.get("errorSummary")
    results = {r["id"]: r for r in job["results"]}
    assert list(results) == [
        "tiles_tile_1.fits",
        "tiles_tile_2.fits",
        "tiles_tile_3.fits",
        "summary",
        "note",
        "plot1",
        "stdout",
        "stderr",
    ]
    tile = results["tiles_tile_2.fits"]
    assert (tile["size"], tile["mimeType"]) == (6, "image/fits")
    assert tile["sha256"] == hashlib.sha256(b"tile 2").hexdigest()
    assert tile["description"] == "One tile"
    # The manifest's results: type given or guessed from the name, description kept.
    assert (results["note"]["mimeType"], results["note"]["description"]) == (
        "text/plain",
        "What the run noticed",
    )
    assert (results["plot1"]["mimeType"], results["plot1"]["size"]) == ("image/png", 3)
    # The XML document (validated against the XSD by UWSTestApp) has size and mime-type.
    xml = testapp.get(url + "/results").text
    assert 'id="tiles_tile_2.fits"' in xml and 'size="6" mime-type="image/fits"' in xml
    # Each file of the pattern shows its declaration's description, in the one namespace
    # UWS 1.1 lets a result's attributes come from.
    descriptions = {
        element.get("id"): element.get(f"{{{CUSTOM_NS}}}description")
        for element in etree.fromstring(xml.encode()).iter(f"{{{UWS_NS}}}result")
    }
    assert descriptions["tiles_tile_1.fits"] == descriptions["tiles_tile_3.fits"] == "One tile"
    assert descriptions["note"] == "What the run noticed" and descriptions["stdout"] is None


def test_a_manifest_line_with_a_declared_id_is_that_result(testapp: UWSTestApp) -> None:
    """The script made the required result under another name and listed it by its id: the
    job is COMPLETED and the result has its declaration's type and description."""
    url, job = run(testapp, "late")
    assert job["phase"] == "COMPLETED", job.get("errorSummary")
    report = next(r for r in job["results"] if r["id"] == "report")
    assert (report["mimeType"], report["description"]) == ("text/html", "The report")
    assert testapp.get(url + "/results/report").content_type == "text/html"
    assert 'uwsc:description="The report"' in testapp.get(url + "/results").text


def test_a_result_has_a_strong_etag_and_digest_and_answers_304(testapp: UWSTestApp) -> None:
    url, job = run(testapp, "tiles")
    digest = hashlib.sha256(b'{"n": 3}').digest()
    response = testapp.get(url + "/results/summary")
    assert response.body == b'{"n": 3}'
    assert response.headers["ETag"] == f'"{digest.hex()}"'  # strong: no W/
    encoded = base64.b64encode(digest).decode()
    assert response.headers["Digest"] == f"sha-256={encoded}"
    assert response.headers["Repr-Digest"] == f"sha-256=:{encoded}:"
    again = testapp.get(
        url + "/results/summary", headers={"If-None-Match": response.headers["ETag"]}, status=304
    )
    assert again.body == b""
    other = testapp.get(url + "/results/summary", headers={"If-None-Match": '"other"'})
    assert other.status_int == 200
    head = testapp.head(url + "/results/summary")
    assert head.headers["Repr-Digest"] == f"sha-256=:{encoded}:"


def test_a_changed_file_is_not_served_with_the_old_digest(testapp: UWSTestApp, app: Any) -> None:
    url, job = run(testapp, "tiles")
    service = app.registry.uws.service
    stored = service.storage.get(job["jobId"])
    path = service.job_dir(stored.job_id).path / "summary.json"
    path.write_bytes(b'{"n": 30000}')  # an operator edited it on the server
    response = testapp.get(url + "/results/summary")
    assert response.body == b'{"n": 30000}'
    assert "Digest" not in response.headers and "Repr-Digest" not in response.headers
    original = hashlib.sha256(b'{"n": 3}').hexdigest()
    assert response.headers["ETag"] != f'"{original}"'


def test_a_missing_required_result_makes_the_job_an_error_naming_it(testapp: UWSTestApp) -> None:
    url, job = run(testapp, "lazy")
    assert job["phase"] == "ERROR"
    message = job["errorSummary"]["message"]
    assert "required result 'tiles' was not produced (no file 'tile_*.fits')" in message
    assert "required result 'summary' was not produced" in message
    # Its other results stay available.
    assert [r["id"] for r in job["results"]] == ["stdout", "stderr"]
    assert testapp.get(url + "/error").text == message


@pytest.mark.parametrize(
    "lines, fault",
    [
        (
            "onlyone\n",
            "line 1: expected id, file, media type and description separated by tabs "
            "(2 to 4 fields), found 1",
        ),
        ("a\tdata.txt\ttext/plain\td\textra\n", "(2 to 4 fields), found 5"),
        ("# fine\n1bad\tdata.txt\n", "line 2: result id '1bad' is not valid"),
        ("up\t../../etc/hostname\n", "line 1: file '../../etc/hostname' must be a file name"),
        ("abs\t/etc/hostname\n", "line 1: file '/etc/hostname' must be a file name"),
        ("meta\t.uws/job.env\n", "line 1: file '.uws/job.env' must be a file name"),
        ("glob\t*.txt\n", "line 1: file '*.txt' must be a file name"),
        ("self\tuws_results.tsv\n", "line 1: file 'uws_results.tsv' must be a file name"),
        ("link\tlink.txt\n", "line 1: file 'link.txt' refused: link.txt is a symbolic link"),
        ("gone\tnothing.txt\n", "line 1: file 'nothing.txt' not found"),
        ("kind\tdata.txt\tnot a type\n", "line 1: 'not a type' is not a media type"),
        ("data\tdata.txt\n", "uws_results.tsv: result id 'data' is taken already"),
        ("\\xff\\xfe\n", "uws_results.tsv is not UTF-8 text"),  # printf makes the bytes
        ("stdout\tdata.txt\n", "uws_results.tsv: result id 'stdout' is taken already"),
    ],
)
def test_a_bad_manifest_line_makes_the_job_an_error_naming_it(
    testapp: UWSTestApp, lines: str, fault: str
) -> None:
    url, job = run(testapp, "manifest", lines=lines)
    assert job["phase"] == "ERROR"
    assert fault in job["errorSummary"]["message"]
    assert "uws_results.tsv" in job["errorSummary"]["message"]
    # The declared result is still offered; nothing of the manifest's.
    ids = [r["id"] for r in job["results"]]
    assert "data" in ids and "link" not in ids and "up" not in ids


def test_a_good_manifest_adds_its_results(testapp: UWSTestApp) -> None:
    url, job = run(testapp, "manifest", lines="more\tdata.txt\ttext/csv\tThe same data\n")
    assert job["phase"] == "COMPLETED", job.get("errorSummary")
    more = next(r for r in job["results"] if r["id"] == "more")
    assert (more["mimeType"], more["description"], more["size"]) == ("text/csv", "The same data", 4)
    assert testapp.get(url + "/results/more").body == b"data"


def test_the_zip_holds_every_result(testapp: UWSTestApp) -> None:
    url, job = run(testapp, "tiles")
    response = testapp.get(url + "/results.zip")
    assert response.content_type == "application/zip"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{job["jobId"]}_results.zip"'
    )
    with zipfile.ZipFile(io.BytesIO(response.body)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names == [
            "tiles_tile_1.fits",
            "tiles_tile_2.fits",
            "tiles_tile_3.fits",
            "summary.json",
            "note.txt",
            "plot1.png",
            "stdout.txt",
            "stderr.txt",
        ]
        assert archive.read("summary.json") == b'{"n": 3}'


def test_the_zip_of_a_large_result_is_streamed(
    app: Any, testapp: UWSTestApp, tmp_path: Path
) -> None:
    size = 64 * 1024 * 1024
    url, job = run(testapp, "big", size=str(size))
    assert job["phase"] == "COMPLETED", job.get("errorSummary")
    expected = next(r for r in job["results"] if r["id"] == "big")["sha256"]
    # Straight through WSGI: the body comes as an iterator of small pieces, never whole.
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": url + "/results.zip",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
    }
    started: list[str] = []
    body = app(environ, lambda status, headers, *args: started.append(status))
    assert not isinstance(body, (list, tuple, bytes))
    largest = 0
    with open(tmp_path / "out.zip", "wb") as out:
        for piece in body:
            largest = max(largest, len(piece))
            out.write(piece)
    getattr(body, "close", lambda: None)()
    assert started == ["200 OK"]
    assert largest <= 1 << 17, f"a piece of {largest} bytes: the archive was not streamed"
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        assert archive.getinfo("big.bin").file_size == size
        digest = hashlib.sha256()
        with archive.open("big.bin") as entry:
            for chunk in iter(lambda: entry.read(1 << 20), b""):
                digest.update(chunk)
    assert digest.hexdigest() == expected


def test_the_zip_of_an_unknown_job_is_404_and_post_is_405(testapp: UWSTestApp) -> None:
    testapp.get("/rest/tiles/nosuchjob/results.zip", status=404)
    url, _ = run(testapp, "tiles")
    testapp.post(url + "/results.zip", status=405)


def test_the_json_form_of_a_results_list(testapp: UWSTestApp) -> None:
    url, _ = run(testapp, "tiles")
    data = json.loads(testapp.get(url + "/results", headers={"Accept": "application/json"}).text)
    assert all(r["sha256"] and len(r["sha256"]) == 64 for r in data["results"])


def test_glob_ids_are_stable_safe_and_unique() -> None:
    from uws_pyramid.execution.results import pattern_id
    from uws_pyramid.jdl.model import RESULT_ID

    assert pattern_id("tiles", "tile_*.fits", "tile_1.fits") == "tiles_tile_1.fits"
    assert pattern_id("t", "out/*/x_*.fits", "out/a/x_1.fits").startswith("t_a_x_1.fits-")
    spaced = pattern_id("t", "*.fits", "a b.fits")
    underscored = pattern_id("t", "*.fits", "a_b.fits")
    assert spaced != underscored and underscored == "t_a_b.fits"
    assert spaced == pattern_id("t", "*.fits", "a b.fits")  # the same file, the same id
    for name in ("a b.fits", "é.fits", "x;rm -rf.fits", "a\\b.fits"):
        assert RESULT_ID.match(pattern_id("t", "*.fits", name)), name
