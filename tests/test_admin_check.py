"""uws-admin check lists every problem of a deployment; start-up and CLI errors are one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from uws_pyramid.scripts import admin

from .conftest import ROOT

GOOD = """[app:main]
use = egg:uws-pyramid
uws.storage = sqlite
uws.storage.path = var/uws.sqlite
uws.manager = local
uws.jdl_dir = {jdl}
uws.workdir = var/jobs
"""

#: Logging into a folder that does not exist, as a fresh production.ini might.
LOGGING = """
[server:main]
use = egg:waitress#main
listen = 127.0.0.1:0

[loggers]
keys = root
[handlers]
keys = file
[formatters]
keys = plain
[logger_root]
level = DEBUG
handlers = file
[handler_file]
class = FileHandler
args = ('{missing}/uws.log',)
formatter = plain
[formatter_plain]
format = %(message)s
"""


def write(tmp_path: Path, text: str) -> Path:
    ini = tmp_path / "deploy.ini"
    ini.write_text(text)
    return ini


def test_a_good_deployment_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ini = write(tmp_path, GOOD.format(jdl=ROOT / "jdl"))
    assert admin.main(["check", str(ini)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "all checks passed"
    assert [line.split()[0] for line in out.splitlines()[:-1]] == ["ok"] * 5


def test_every_problem_is_listed_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jdl = tmp_path / "jdl"
    (jdl / "scripts").mkdir(parents=True)
    (jdl / "broken.wadl").write_text("<application>")
    secret = tmp_path / "var" / "secret"
    secret.parent.mkdir()
    secret.write_text("x" * 64)
    secret.chmod(0o644)
    ini = write(
        tmp_path,
        GOOD.format(jdl=jdl)
        .replace(
            "uws.storage = sqlite\nuws.storage.path = var/uws.sqlite",
            "uws.storage = postgres\n"
            "uws.storage.url = postgresql+psycopg://nobody@127.0.0.1:1/none\n"
            "uws.storage.connect_timeout = 2",
        )
        .replace("uws.manager = local", "uws.manager = nomad"),
    )
    assert admin.main(["check", str(ini)]) == 1
    out = capsys.readouterr().out
    assert "job type broken cannot be used: broken.wadl: not well-formed XML" in out
    assert "holds no usable job description" in out
    assert f"chmod 600 {secret}" in out
    assert "uws.storage.url: cannot connect to" in out and "Production deployment" in out
    assert "uws.manager = nomad: no such manager" in out
    assert out.splitlines()[-1] == "5 problem(s) to fix"


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=cwd)


def test_uws_admin_ignores_the_ini_logging_and_prints_no_library_logging(tmp_path: Path) -> None:
    ini = write(tmp_path, GOOD.format(jdl=ROOT / "jdl") + LOGGING.format(missing=tmp_path / "no"))
    admin_script = Path(sys.executable).parent / "uws-admin"
    quiet = ini.with_name("quiet.ini")
    quiet.write_text(ini.read_text().replace("var/uws.sqlite", "var/quiet.sqlite"))
    for argv in (["migrate", str(quiet)], ["users", "list", str(quiet)], ["status", str(quiet)]):
        done = run(str(admin_script), *argv, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""  # no alembic lines, no traceback about the log folder
    debug = run(str(admin_script), "--debug", "migrate", str(ini), cwd=tmp_path)
    assert debug.returncode == 0 and "alembic" in debug.stderr


def test_pserve_start_up_errors_are_one_line(tmp_path: Path) -> None:
    ini = write(tmp_path, GOOD.format(jdl=tmp_path / "nowhere") + LOGGING.format(missing=tmp_path))
    pserve = Path(sys.executable).parent / "pserve"
    done = run(str(pserve), str(ini), cwd=tmp_path)
    assert done.returncode != 0
    assert done.stderr.splitlines() == [
        f"uws-pyramid: cannot start: {tmp_path / 'nowhere'}: job description directory not found",
        "  (set UWS_DEBUG=1 to see where it happened)",
    ]
    assert "Traceback" in run("env", "UWS_DEBUG=1", str(pserve), str(ini), cwd=tmp_path).stderr
