"""Job descriptions are reloaded without a restart; a removed type's jobs stay manageable."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid import main

from .conftest import ROOT, UWSTestApp
from .fakes import FakesPlugin

JSON = {"Accept": "application/json"}


@pytest.fixture
def jdl(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "jdl", tmp_path / "jdl", ignore=shutil.ignore_patterns(".history"))
    return tmp_path / "jdl"


@pytest.fixture
def testapp(settings: dict[str, Any], jdl: Path) -> Any:
    settings.update(
        {
            "uws.jdl_dir": str(jdl),
            "uws.jdl_refresh": "1",
            "uws.manager": "holding",
            "testing.plugins": [FakesPlugin()],
        }
    )
    app = main({"here": settings["here"]}, **settings)
    yield UWSTestApp(app)
    app.registry.uws.close()


def eventually(check: Any, timeout: float = 5.0) -> Any:
    """``check()``'s first true answer; the test fails if none comes within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer or time.monotonic() > deadline:
            assert answer
            return answer
        time.sleep(0.2)


def test_added_changed_and_removed_descriptions_are_seen_within_seconds(
    testapp: UWSTestApp, jdl: Path
) -> None:
    testapp.post("/rest/greet", {}, status=404)
    shutil.copy(jdl / "scripts/echo.sh", jdl / "scripts/greet.sh")
    (jdl / "greet.wadl").write_text(
        (jdl / "echo.wadl").read_text().replace('path="echo"', 'path="greet"')
    )
    eventually(lambda: testapp.post("/rest/greet", {}, expect_errors=True).status_int == 303)
    assert "greet" in testapp.get("/jdl", headers=JSON).text

    changed = (jdl / "greet.wadl").read_text().replace('default="hello"', 'default="bonjour"')
    (jdl / "greet.wadl").write_text(changed)

    def default_message() -> str:
        url = testapp.post("/rest/greet", {}, status=303).location
        return testapp.get(url + "/parameters/message").text

    eventually(lambda: default_message() == "bonjour")

    (jdl / "greet.wadl").unlink()
    eventually(lambda: testapp.post("/rest/greet", {}, expect_errors=True).status_int == 404)


def test_a_removed_types_jobs_stay_readable_abortable_and_deletable(
    testapp: UWSTestApp, jdl: Path
) -> None:
    running = testapp.post("/rest/echo", {"PHASE": "RUN"}, status=303).location
    pending = testapp.post("/rest/echo", {"message": "x"}, status=303).location
    (jdl / "echo.wadl").unlink()
    eventually(lambda: testapp.post("/rest/echo", {}, expect_errors=True).status_int == 404)
    assert "unknown job type 'echo'" in testapp.post("/rest/echo", {}, status=404).text
    assert testapp.get(running + "/phase").text == "QUEUED"
    assert testapp.get(pending + "/parameters/message").text == "x"
    # (Creations answered 303 until the removal was seen: more echo jobs than these two.)
    listed = {job["href"] for job in testapp.get("/rest/echo", headers=JSON).json["jobs"]}
    assert {running, pending} <= listed
    assert running.rsplit("/", 1)[1] in testapp.get("/rest", headers=JSON).text
    # Changing what the description governs needs the description.
    testapp.post(pending, {"message": "y"}, status=404)
    testapp.post(running, {"PHASE": "ABORT"}, status=303)
    assert testapp.get(running + "/phase").text == "ABORTED"
    testapp.delete(running, status=303)
    testapp.post(pending, {"ACTION": "DELETE"}, status=303)
    testapp.get(pending, status=404)
    for href in listed - {running, pending}:
        testapp.delete(href, status=303)
    # With neither jobs nor a description the type is unknown again.
    testapp.get("/rest/echo", status=404)
