"""/openapi.json and /docs; schemathesis run against a live server from that document."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid import main
from uws_pyramid.testing import serve

from .conftest import ADMIN_PASSWORD, ROOT, UWSTestApp, add_user


class Tally:
    """WSGI middleware counting the requests the server answered, by status."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        def counted(status: str, headers: Any, exc_info: Any = None) -> Any:
            code = int(status[:3])
            # /sync answers a job's own failure with 500 and its /error (DALI): not a fault.
            if code == 500 and any(
                k == "Content-Location" and v.endswith("/error") for k, v in headers
            ):
                code = 0
            with self.lock:
                self.statuses[code] += 1
            return start(status, headers, exc_info)

        return self.app(environ, counted)


def fuzz_settings(tmp_path: Path) -> dict[str, str]:
    return {
        "here": str(tmp_path),
        "uws.storage": "sqlite",
        "uws.storage.path": "uws.sqlite",
        "uws.manager": "local",
        "uws.manager.max_running": "2",
        "uws.jdl_dir": str(ROOT / "jdl"),
        "uws.workdir": "jobs",
        "uws.background": "false",
        "uws.wait.max": "5",
        "uws.execution_duration.max": "5",
        "uws.execution_duration.default": "5",
        "uws.auth.failures": "1000000",
        "uws.sync.timeout": "2",
    }


#: /sync answers a failed job with 500 and its error (DALI), which schemathesis counts as a
#: server error, and a GET of a type with a file parameter cannot be valid (the file goes in
#: a POST): those two are left out (/rest/fail and /rest/wordcount are fuzzed).
SYNC_LEFT_OUT = "^/sync/(fail|wordcount)$"


@pytest.mark.live
@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_nonconformance(tmp_path: Path) -> None:
    app = main({"here": str(tmp_path)}, **fuzz_settings(tmp_path))
    add_user(app, "root", ADMIN_PASSWORD, "admin")
    tally = Tally(app)
    examples = os.environ.get("UWS_FUZZ_EXAMPLES", "30")
    try:
        # One worker: schemathesis's threads call ast.parse concurrently, which CPython 3.11.7
        # (this machine's) can fail with "AST constructor recursion depth mismatch".
        with serve(tally, threads=8) as base:
            report = tmp_path / "junit.xml"
            run = subprocess.run(
                [
                    str(Path(sys.executable).with_name("st")),
                    "run",
                    f"{base}/openapi.json",
                    "--exclude-path-regex",
                    SYNC_LEFT_OUT,
                    "--auth",
                    f"root:{ADMIN_PASSWORD}",
                    "--checks",
                    "all",
                    "--max-examples",
                    examples,
                    "--seed",
                    "16",
                    "--workers",
                    "1",
                    "--max-redirects",
                    "0",
                    "--request-timeout",
                    "20",
                    "--report",
                    "junit",
                    "--report-junit-path",
                    str(report),
                    "--suppress-health-check",
                    "all",
                    "--no-color",
                ],
                capture_output=True,
                text=True,
                timeout=900,
                cwd=tmp_path,
            )
    finally:
        app.registry.uws.close()
    print(run.stdout[-20000:], run.stderr[-3000:])
    total = sum(tally.statuses.values())
    print("requests by status:", dict(sorted(tally.statuses.items())), "total", total)
    assert run.returncode == 0, run.stdout[-6000:]
    assert not [s for s in tally.statuses if s >= 500]
    assert total >= 2000


def test_document_describes_every_route(testapp: UWSTestApp, app: Any) -> None:
    doc = testapp.get("/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    templates = set(doc["paths"])
    mapper = app.routes_mapper
    for route in mapper.get_routes():
        if route.name.startswith("__") or route.name in ("client_home",):
            continue  # static files and the browser client's page
        pattern = route.pattern if route.pattern.startswith("/") else "/" + route.pattern
        if pattern in ("/rest/{jobtype}", "/sync/{jobtype}"):  # one path per job type
            types = ("echo", "fail", "sleep", "wordcount")
            assert {pattern.replace("{jobtype}", t) for t in types} <= templates
        elif pattern == "/rest/{jobtype}/{job_id}/{prop}":
            assert "/rest/{jobtype}/{job_id}/phase" in templates
        else:
            assert pattern in templates, route.name
    assert set(doc["components"]["securitySchemes"]) == {"basic", "bearer", "session"}
    job = doc["paths"]["/rest/{jobtype}/{job_id}"]["get"]["responses"]["200"]["content"]
    assert set(job) == {"application/xml", "application/json"}
    assert "4XX" in doc["paths"]["/rest/echo"]["post"]["responses"]


def test_job_type_parameters_come_from_its_description(
    tmp_path: Path, settings: dict[str, Any]
) -> None:
    jdl = tmp_path / "jdl"
    shutil.copytree(ROOT / "jdl", jdl)
    app = main(
        {"here": str(tmp_path)}, **{**settings, "uws.jdl_dir": str(jdl), "uws.jdl_refresh": "0"}
    )
    try:
        testapp = UWSTestApp(app)
        paths = testapp.get("/openapi.json").json["paths"]
        sleep = paths["/rest/sleep"]["post"]["requestBody"]["content"][
            "application/x-www-form-urlencoded"
        ]["schema"]
        duration = sleep["properties"]["duration"]
        assert (duration["type"], duration["minimum"], duration["maximum"]) == ("integer", 0, 3600)
        assert duration["default"] == 10
        assert sleep["additionalProperties"] is False
        wordcount = paths["/rest/wordcount"]["post"]["requestBody"]
        assert wordcount["required"] is True
        form = wordcount["content"]["multipart/form-data"]["schema"]
        assert form["required"] == ["infile"]
        assert form["properties"]["infile"]["format"] == "binary"
        # A new job type, with choices: the document follows.
        text = (ROOT / "jdl" / "echo.wadl").read_text().replace('path="echo"', 'path="shout"')
        text = text.replace(
            'name="message" type="xs:string" required="false" default="hello">',
            'name="message" type="xs:string" required="true">'
            '<option value="hi"/><option value="ho"/>',
        )
        (jdl / "shout.wadl").write_text(text)
        shutil.copy(jdl / "scripts" / "echo.sh", jdl / "scripts" / "shout.sh")
        app.registry.uws.descriptions.reload()
        paths = testapp.get("/openapi.json").json["paths"]
        shout = paths["/rest/shout"]["post"]["requestBody"]["content"][
            "application/x-www-form-urlencoded"
        ]["schema"]
        assert shout["properties"]["message"]["enum"] == ["hi", "ho"]
        assert shout["required"] == ["message"]
        assert "shout" in paths["/rest/{jobtype}/{job_id}"]["parameters"][0]["schema"]["enum"]
    finally:
        app.registry.uws.close()


def test_docs_page_loads_nothing_from_elsewhere(testapp: UWSTestApp) -> None:
    page = testapp.get("/docs")
    assert "openapi.json" in page.text and "docs.js" in page.text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for url in (page.html.find("script")["src"], page.html.find("link", rel="stylesheet")["href"]):
        assert url.startswith("http://localhost/")
        testapp.get(url.replace("http://localhost", ""), status=200)
    script = testapp.get("/client/static/docs.js").text
    assert "http" not in script.replace("openapi.json", "")


# Regression tests of what schemathesis found.


def test_wrong_method_on_a_known_path_is_405_with_allow(testapp: UWSTestApp) -> None:
    response = testapp.request("/rest/echo", method="TRACE", status=405)
    assert response.headers["Allow"] == "GET, HEAD, POST"
    response = testapp.request("/capabilities", method="PATCH", status=405)
    assert response.headers["Allow"] == "GET, HEAD"
    job = testapp.post("/rest/echo", {}, status=303).location
    response = testapp.request(job.replace("http://localhost", ""), method="PUT", status=405)
    assert response.headers["Allow"] == "DELETE, GET, HEAD, POST"
    testapp.request("/nowhere", method="TRACE", status=404)


def test_run_id_with_control_characters_is_refused(testapp: UWSTestApp) -> None:
    response = testapp.post("/rest/echo", {"RUNID": "a\x0fb"}, status=400)
    assert "RUNID" in response.text
    job = testapp.post("/rest/echo", {"RUNID": "fine"}, status=303).location
    testapp.post(job.replace("http://localhost", ""), {"RUNID": "\x01"}, status=400)


# Regression tests of what hand-made hostile requests found (beyond schemathesis).

#: Dates the email parser reads but Python's datetime cannot hold.
UNREADABLE_DATES = [
    "Sat, 01 Jan 10000 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 -1200",
    "Sat, 01 Jan 99999999999999999999 00:00:00 GMT",
]


def test_an_unreadable_date_in_a_conditional_header_is_ignored(testapp: UWSTestApp) -> None:
    """WebOb parsed these when it answered the conditional request, after every tween and
    view: the ValueError became waitress's bare 500. RFC 9110 13.1.3: an invalid date is
    ignored, so the whole file is served."""
    url = testapp.post("/rest/echo", {"message": "hi", "PHASE": "RUN"}).location
    url = url.replace("http://localhost", "")
    job = testapp.get(url + "?WAIT=10", headers={"Accept": "application/json"}).json
    assert job["phase"] == "COMPLETED", job
    output = url + "/results/output"
    for date in UNREADABLE_DATES:
        for name in ("If-Modified-Since", "If-Unmodified-Since"):
            assert testapp.get(output, headers={name: date}, status=200).body == b"hi\n"
        ranged = testapp.get(output, headers={"Range": "bytes=0-0", "If-Range": date})
        assert ranged.status_int == 200 and ranged.body == b"hi\n"
    # A readable date still works, and so does an ETag in If-Range.
    stamp = testapp.get(output).headers["Last-Modified"]
    testapp.get(output, headers={"If-Modified-Since": stamp}, status=304)
    etag = testapp.get(output).headers["ETag"]
    ranged = testapp.get(output, headers={"Range": "bytes=0-0", "If-Range": etag}, status=206)
    assert ranged.body == b"h"


def test_a_query_that_is_not_utf8_is_400_naming_the_parameter(testapp: UWSTestApp) -> None:
    """WebOb's GET raised UnicodeDecodeError on a percent-encoded byte that is not UTF-8:
    a 500 on every list and on /sync."""
    for path in ("/rest", "/rest/echo", "/sync/echo", "/provenance"):
        response = testapp.get(path + "?LAST=2&cursor=%ff", status=400)
        assert "cursor" in response.text and "UTF-8" in response.text, response.text
        response = testapp.get(path + "?%ff=1", status=400)
        assert "name of a query parameter" in response.text and "UTF-8" in response.text
    assert testapp.get("/rest/echo?cursor=%ff", status=400).content_type == "text/plain"
    testapp.get("/rest/echo?RUNID=%C3%A9", status=200)  # UTF-8 itself is fine


def test_a_range_of_a_result_is_a_declared_206(testapp: UWSTestApp) -> None:
    """A result answers a Range with 206 (and a conditional GET with 304): the document
    declared the 304 only."""
    url = testapp.post("/rest/echo", {"message": "hi", "PHASE": "RUN"}).location
    url = url.replace("http://localhost", "")
    testapp.get(url + "?WAIT=10")
    ranged = testapp.get(url + "/results/output", headers={"Range": "bytes=1-"}, status=206)
    assert ranged.body == b"i\n" and ranged.headers["Content-Range"] == "bytes 1-2/3"
    document = testapp.get("/openapi.json").json
    responses = document["paths"]["/rest/{jobtype}/{job_id}/results/{result_id}"]["get"]
    assert {"200", "206", "304"} <= set(responses["responses"])
    # An unsatisfiable range is a 416, which 4XX covers.
    testapp.get(url + "/results/output", headers={"Range": "bytes=9-"}, status=416)
    assert "4XX" in responses["responses"]


def test_public_routes_declare_the_401_of_bad_credentials(testapp: UWSTestApp) -> None:
    """Open to anyone, yet credentials sent are checked: the document declared a 200 only."""
    document = testapp.get("/openapi.json").json
    for path in ("/", "/capabilities", "/availability", "/openapi.json", "/docs"):
        refused = testapp.get(path, headers={"Authorization": "Basic !!!"}, status=401)
        assert "Basic" in refused.text
        assert "4XX" in document["paths"][path]["get"]["responses"], path


def test_basic_credentials_beyond_ascii_are_401(testapp: UWSTestApp) -> None:
    """base64 of a non-ASCII string raised ValueError, not binascii.Error: a 500."""
    for value in ("Basic \xff", "Basic \xe9t\xe9==", "Bearer \xff"):
        refused = testapp.get("/rest/echo", headers={"Authorization": value}, status=401)
        assert "credentials" in refused.text or "token" in refused.text, refused.text
