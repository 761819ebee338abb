"""The `uws` users' client against our live server: with its extensions and with UWS 1.1 alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid import cli, main
from uws_pyramid.testing import serve

from .conftest import ROOT, add_user

PASSWORD = "cli-password-1"


class Accepts:
    """WSGI middleware keeping the Accept header of every GET (what the client asked for)."""

    def __init__(self, app: Any) -> None:
        self.app, self.seen = app, []  # type: ignore[var-annotated]

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "GET":
            self.seen.append(environ.get("HTTP_ACCEPT", ""))
        return self.app(environ, start)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Accepts]]:
    settings = {
        "here": str(tmp_path),
        "uws.storage": "sqlite",
        "uws.storage.path": "uws.sqlite",
        "uws.manager": "local",
        "uws.jdl_dir": str(ROOT / "jdl"),
        "uws.workdir": "jobs",
        "uws.background": "false",
        "uws.wait.max": "30",
    }
    app = main({"here": str(tmp_path)}, **settings)
    add_user(app, "carol", PASSWORD)
    accepts = Accepts(app)
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login carol password {PASSWORD}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.delenv("UWS_TOKEN", raising=False)
    monkeypatch.delenv("UWS_NO_EXTENSIONS", raising=False)
    try:
        with serve(accepts, threads=8) as base:
            yield base, accepts
    finally:
        app.registry.uws.close()


def uws(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.live
@pytest.mark.parametrize("extensions", [True, False], ids=["extensions", "uws-1.1-only"])
def test_run_wait_download_and_exit_status(
    server: tuple[str, Accepts],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extensions: bool,
) -> None:
    base, accepts = server
    flags = [] if extensions else ["--no-extensions"]
    status, out, _ = uws(
        capsys,
        *flags,
        "--json",
        "run",
        f"{base}/rest/echo",
        "message=hi there",
        "--download",
        str(tmp_path / "out"),
    )
    job = json.loads(out)
    assert status == 0 and job["phase"] == "COMPLETED"
    assert [p.read_text() for p in (tmp_path / "out").iterdir() if p.name == "output"] == [
        "hi there\n"
    ]
    if extensions:
        assert any(a.startswith("application/json") for a in accepts.seen)
    else:
        asked = [a for a in accepts.seen if a]  # downloads of results ask for nothing
        assert asked and all(a == "application/xml" for a in asked)
    status, out, _ = uws(capsys, *flags, "run", f"{base}/rest/fail", "--wait")
    assert status == 1 and "ERROR" in out and "error:" in out
    status, out, _ = uws(capsys, *flags, "run", f"{base}/rest/sleep", "duration=30")
    assert status == 0 and ("EXECUTING" in out or "QUEUED" in out)
    url = out.split("url: ")[1].split()[0]
    status, out, _ = uws(capsys, *flags, "abort", url)
    assert status == 2 and "ABORTED" in out
    status, out, _ = uws(capsys, *flags, "watch", url)
    assert status == 2
    status, out, _ = uws(capsys, *flags, "--json", "list", f"{base}/rest/sleep")
    assert [j["phase"] for j in json.loads(out)] == ["ABORTED"]
    status, out, _ = uws(capsys, *flags, "delete", url)
    assert status == 0
    status, _, err = uws(capsys, *flags, "show", url)
    assert status == 3 and "404" in err


@pytest.mark.live
def test_upload_results_and_show(
    server: tuple[str, Accepts], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = server
    text = tmp_path / "words.txt"
    text.write_text("one two three\n")
    status, out, _ = uws(
        capsys, "run", f"{base}/rest/wordcount", "--file", f"infile={text}", "--wait"
    )
    assert status == 0, out
    url = out.split("url: ")[1].split()[0]
    status, out, _ = uws(capsys, "--json", "results", url)
    results = json.loads(out)
    assert "counts" in results
    status, out, _ = uws(capsys, "show", url)
    assert status == 0 and "parameter infile" in out
    status, _, err = uws(capsys, "run", f"{base}/rest/echo", "nonsense")
    assert status == 3 and "name=value" in err


@pytest.mark.live
def test_credentials_token_netrc_prompt_and_refusal(
    server: tuple[str, Accepts],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, _ = server
    assert uws(capsys, "list", f"{base}/rest/echo")[0] == 0  # netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    status, _, err = uws(capsys, "list", f"{base}/rest/echo")
    assert status == 3 and "401" in err
    monkeypatch.setattr("builtins.input", lambda prompt: "carol")
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: PASSWORD)
    assert uws(capsys, "--login", "list", f"{base}/rest/echo")[0] == 0
    monkeypatch.setenv("UWS_TOKEN", "uws_0000_wrongwrongwrong")
    status, _, err = uws(capsys, "list", f"{base}/rest/echo")
    assert status == 3 and "401" in err


@pytest.mark.live
def test_console_script_runs(server: tuple[str, Accepts]) -> None:
    base, _ = server
    done = subprocess.run(
        [str(Path(sys.executable).with_name("uws")), "run", f"{base}/rest/echo", "--wait"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert done.returncode == 0, done.stderr
    assert "COMPLETED" in done.stdout
