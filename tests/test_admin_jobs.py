"""uws-admin jobs and stats, on a real ini file and SQLite database, beside a running app."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid import main
from uws_pyramid.scripts import admin

from .conftest import ROOT, UWSTestApp

INI = """[app:main]
use = egg:uws-pyramid
uws.storage = sqlite
uws.storage.path = uws.sqlite
uws.manager = local
uws.jdl_dir = {jdl}
uws.workdir = jobs
uws.auth.anonymous = true
uws.background = false
"""


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    path = tmp_path / "deploy.ini"
    path.write_text(INI.format(jdl=ROOT / "jdl"))
    return path


@pytest.fixture
def server(ini: Path) -> Iterator[UWSTestApp]:
    """The deployment's application, running while the commands run."""
    here = str(ini.parent)
    settings = {
        "here": here,
        "uws.storage": "sqlite",
        "uws.storage.path": "uws.sqlite",
        "uws.manager": "local",
        "uws.jdl_dir": str(ROOT / "jdl"),
        "uws.workdir": "jobs",
        "uws.auth.anonymous": "true",
        "uws.background": "false",
    }
    app = main({"here": here}, **settings)
    yield UWSTestApp(app)
    app.registry.uws.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = admin.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def create(server: UWSTestApp, job_type: str = "echo", **fields: str) -> str:
    return str(server.post(f"/rest/{job_type}", fields, status=303).location.rsplit("/", 1)[-1])


def test_list_filters_and_show(
    server: UWSTestApp, ini: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = create(server, RUNID="one")
    second = create(server, "sleep", duration="60")
    status, out, _ = run(capsys, "jobs", "list", str(ini), "--json")
    assert status == 0
    assert [row["id"] for row in json.loads(out)] == [first, second]
    status, out, _ = run(capsys, "jobs", "list", str(ini), "--type", "sleep")
    assert second in out and first not in out and "1 job(s)" in out
    _, out, _ = run(capsys, "jobs", "list", str(ini), "--phase", "COMPLETED")
    assert "0 job(s)" in out
    _, out, _ = run(capsys, "jobs", "list", str(ini), "--older-than", "1h")
    assert "0 job(s)" in out
    _, out, _ = run(capsys, "jobs", "list", str(ini), "--owner", "nobody")
    assert "0 job(s)" in out
    status, out, _ = run(capsys, "jobs", "show", str(ini), first)
    assert status == 0 and json.loads(out)["runId"] == "one"
    status, _, err = run(capsys, "jobs", "show", str(ini), "nosuchjob")
    assert status == 2 and "nosuchjob" in err


def test_bad_filters_are_refused(ini: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for bad in (["--phase", "DONE"], ["--older-than", "soon"]):
        with pytest.raises(SystemExit):
            admin.main(["jobs", "list", str(ini), *bad])
        assert "expected" in capsys.readouterr().err


def test_abort_delete_requeue_follow_the_phase_rules(
    server: UWSTestApp,
    ini: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="uws_pyramid.phase")
    pending = create(server, message="again")
    status, out, _ = run(capsys, "jobs", "abort", str(ini), pending)
    assert status == 0 and "ABORTED" in out
    assert server.get(f"/rest/echo/{pending}/phase").text == "ABORTED"
    assert any("PENDING -> ABORTED" in r.getMessage() for r in caplog.records)  # hooks ran
    status, _, err = run(capsys, "jobs", "abort", str(ini), pending)
    assert status == 0  # aborting an aborted job changes nothing, as in the REST API
    status, out, _ = run(capsys, "jobs", "requeue", str(ini), pending)
    new = out.split("requeued as ")[1].split()[0]
    assert status == 0 and new != pending
    copy = server.get(f"/rest/echo/{new}", headers={"Accept": "application/json"}).json
    assert copy["parameters"]["message"] == "again" and copy["phase"] != "PENDING"
    status, out, _ = run(capsys, "jobs", "delete", str(ini), pending)
    assert status == 0 and "deleted" in out
    server.get(f"/rest/echo/{pending}", status=404)
    status, _, err = run(capsys, "jobs", "delete", str(ini))
    assert status == 2 and "--all" in err


def test_abort_all_with_filters(
    server: UWSTestApp, ini: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sleeps = [create(server, "sleep", duration="60") for _ in range(2)]
    echo = create(server)
    status, out, _ = run(capsys, "jobs", "abort", str(ini), "--all", "--type", "sleep")
    assert status == 0 and out.count("ABORTED") == 2
    for job_id in sleeps:
        assert server.get(f"/rest/sleep/{job_id}/phase").text == "ABORTED"
    assert server.get(f"/rest/echo/{echo}/phase").text == "PENDING"


def test_stats(server: UWSTestApp, ini: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = create(server)
    create(server)
    create(server, "sleep", duration="1")
    status, out, _ = run(capsys, "stats", str(ini), "--json")
    report: dict[str, Any] = json.loads(out)
    assert status == 0 and report["total"] == 3
    assert report["jobs"] == {"echo/PENDING": 2, "sleep/PENDING": 1}
    assert report["queue_depth"] == 0 and report["oldest_active"] is None
    server.post(f"/rest/echo/{first}/phase", {"PHASE": "RUN"}, status=303)
    status, out, _ = run(capsys, "stats", str(ini))
    assert status == 0 and "echo" in out and "total 3 job(s)" in out
