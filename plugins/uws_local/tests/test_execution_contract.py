"""The execution contract (uws_pyramid.execution) as the local manager runs it: environment,
wrapper protocol, result collection and error summaries."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from uws_pyramid.api import (
    Job,
    JobDir,
    ParameterSpec,
    Phase,
    ResultSpec,
    contract,
    new_job_id,
    stderr_tail,
)
from uws_pyramid.execution import wrapper
from uws_pyramid.testing import ManagerHarness, build_harness, write_job_type

NOISE = "x" * 45


@pytest.fixture
def jdl(tmp_path: Path) -> Path:
    directory = tmp_path / "jdl"
    write_job_type(
        directory,
        "envdump",
        'env > env.txt\n[ -d "$TMPDIR" ] && echo tmp-ok\n',
        parameters=[ParameterSpec("message", default="hi")],
    )
    write_job_type(
        directory,
        "files",
        "printf a > a.fits; printf bb > b.fits; printf ccc > c.fits; printf x > .hidden.fits\n"
        "ln -s /etc/hostname leak.fits; ln -s a.fits alias.fits\n"
        "mkdir sub; printf dddd > sub/d.txt; printf one > one.txt\n",
        parameters=[ParameterSpec("single")],
        results=[
            ResultSpec("image", "image/fits", "*.fits"),
            ResultSpec("single", "text/plain", "one.txt"),
            ResultSpec("missing", "text/plain", "nothing.txt"),
            ResultSpec("other", "text/plain", "sub/*.txt"),
        ],
    )
    write_job_type(
        directory,
        "noisy",
        f"for i in $(seq 1 100); do printf 'line %03d {NOISE}\\n' $i >&2; done\n"
        "printf '\\n  \\n' >&2\nexit 3\n",
    )
    write_job_type(directory, "silent", "exit 3\n")
    return directory


@pytest.fixture
def harness(tmp_path: Path, jdl: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ManagerHarness]:
    monkeypatch.setenv("UWS_TEST_SECRET", "s3cret")  # a server secret no job may see
    harness = build_harness(
        tmp_path,
        {
            "uws.storage": "sqlite",
            "uws.storage.path": "uws.sqlite",
            "uws.manager": "local",
            "uws.manager.poll_interval": "0.1",
            "uws.jdl_dir": str(jdl),
            "uws.auth.anonymous": "true",
        },
    )
    yield harness
    harness.close()


def test_the_environment_is_minimal(harness: ManagerHarness) -> None:
    job = harness.wait(harness.run("envdump", message="a b\nc").job_id)
    assert job.phase == Phase.COMPLETED, job.error
    job_dir = harness.job_dir(job.job_id).path
    lines = (job_dir / "env.txt").read_text().split("\n")
    env = dict(line.split("=", 1) for line in lines if "=" in line and line.split("=")[0].isupper())
    assert set(env) - {"PWD", "SHLVL", "_"} == {
        "PATH",
        "HOME",
        "LANG",
        "TMPDIR",
        "UWS_JOB_ID",
        "UWS_JOB_DIR",
    }
    assert "message=a b" in lines and "c" in lines
    assert env["HOME"] == env["UWS_JOB_DIR"] == str(job_dir)
    assert env["UWS_JOB_ID"] == job.job_id and env["LANG"] == "C.UTF-8"
    assert "s3cret" not in (job_dir / "env.txt").read_text()
    assert harness.service.result_file(job, "stdout")[1].read_text() == "tmp-ok\n"


def test_a_reserved_parameter_name_is_refused(tmp_path: Path) -> None:
    # At load time, so no such job type is ever offered ...
    with pytest.raises(ValueError, match="reserved"):
        ParameterSpec("LD_PRELOAD")
    # ... and again when a job is prepared, whatever its parameters came from.
    job = Job(job_id=new_job_id(), job_type="x", parameters={"LD_PRELOAD": "/tmp/evil.so"})
    with pytest.raises(ValueError, match="LD_PRELOAD"):
        contract.prepare(job, JobDir(tmp_path, job.job_id))


def test_results_are_collected_by_name_and_glob(harness: ManagerHarness) -> None:
    job = harness.wait(harness.run("files").job_id)
    assert job.phase == Phase.COMPLETED, job.error
    found = [(r.id, r.path, r.mime_type, r.size) for r in job.results]
    assert found == [
        # A glob gives each file an id of its own name: links (leak, alias) are never results.
        ("image_a.fits", "a.fits", "image/fits", 1),
        ("image_b.fits", "b.fits", "image/fits", 2),
        ("image_c.fits", "c.fits", "image/fits", 3),
        ("single", "one.txt", "text/plain", 3),
        ("other_d.txt", "sub/d.txt", "text/plain", 4),  # below the glob's fixed directory
        ("stdout", ".uws/stdout.txt", "text/plain", 0),
        ("stderr", ".uws/stderr.txt", "text/plain", 0),
    ]
    # Each result's SHA-256 is computed once, when the job ends.
    assert job.result("image_b.fits").digest == hashlib.sha256(b"bb").hexdigest()
    assert job.result("stdout").digest == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize(
    "value, path",
    [
        ("sub/d.txt", "sub/d.txt"),
        ("../../../../etc/hostname", None),
        ("/etc/hostname", None),
        (".uws/job.env", None),
        ("leak.fits", None),
    ],
)
def test_a_parameter_names_the_result_file(
    harness: ManagerHarness, value: str, path: str | None
) -> None:
    job = harness.wait(harness.run("files", single=value).job_id)
    result = job.result("single")
    assert (result.path if result else None) == path


def test_the_error_summary_is_the_end_of_stderr(harness: ManagerHarness) -> None:
    job = harness.wait(harness.run("noisy").job_id)
    assert job.phase == Phase.ERROR and job.error is not None and job.error.has_detail
    lines = job.error.message.split("\n")
    assert len(job.error.message) <= 500 and lines[-1] == f"line 100 {NOISE}"
    assert len(lines) == 500 // (len(lines[-1]) + 1) and lines[0].startswith("line 0")
    assert harness.service.error_text(job).count("\n") == 102
    silent = harness.wait(harness.run("silent").job_id)
    assert silent.error is not None
    # Nothing on stderr: the summary and /error say how the script ended (never empty).
    assert silent.error.message == "the job's script exited with status 3 (nothing on stderr)"
    assert not silent.error.has_detail
    assert harness.service.error_text(silent) == silent.error.message


def test_stderr_tail_cuts_a_long_line(tmp_path: Path) -> None:
    job_dir = JobDir(tmp_path, "job")
    job_dir.create()
    job_dir.stderr.write_text("first\n" + "y" * 2000 + "z\n\n")
    tail = stderr_tail(job_dir)
    assert len(tail) == 500 and tail.startswith("…y") and tail.endswith("yz")


def _prepared(tmp_path: Path, script: str, **parameters: str) -> tuple[JobDir, Path]:
    job_dir = JobDir(tmp_path / "jobs", new_job_id())
    contract.prepare(Job(job_dir.path.name, "t", parameters=parameters), job_dir)
    (tmp_path / "job.sh").write_text(script)
    return job_dir, tmp_path / "job.sh"


@pytest.mark.parametrize("as_module", [False, True])
def test_the_wrapper_protocol(tmp_path: Path, as_module: bool) -> None:
    job_dir, script = _prepared(
        tmp_path, 'printf %s "$word"; printf oops >&2; exit 7\n', word="$(id)"
    )
    command = contract.wrapper_command(job_dir, script)
    if as_module:
        command = [sys.executable, "-m", "uws_pyramid.execution.wrapper", *command[-2:]]
    done = subprocess.run(command, env={}, timeout=20)
    assert done.returncode == 7
    status, record = contract.read_exit(job_dir), contract.read_wrapper(job_dir)
    assert status is not None and status.returncode == 7 and status.ended
    assert record is not None and record.host == contract.HOST and record.start_ticks
    assert record.pgid == os.getpgid(0)  # run here without a session of its own
    assert json.loads(job_dir.parameters_file.read_text()) == {"word": "$(id)"}
    assert (job_dir.stdout.read_text(), job_dir.stderr.read_text()) == ("$(id)", "oops")
    assert not (job_dir.meta / wrapper.TMP_DIR).exists()


def test_the_wrapper_records_a_killing_signal(tmp_path: Path) -> None:
    job_dir, script = _prepared(tmp_path, "kill -9 $$\n")
    done = subprocess.run(contract.wrapper_command(job_dir, script), env={}, timeout=20)
    assert done.returncode == 128 + 9
    status = contract.read_exit(job_dir)
    assert status is not None and status.returncode == -9


def test_the_wrapper_refuses_an_unsafe_job_file(tmp_path: Path) -> None:
    job_dir, script = _prepared(tmp_path, "echo ran\n")
    job_dir.job_file.write_bytes(b"UWS_JOB_ID=x\0BASH_ENV=/tmp/evil\0")
    assert subprocess.run(contract.wrapper_command(job_dir, script), timeout=20).returncode == 1
    assert "cannot be an environment variable" in job_dir.stderr.read_text()
    assert job_dir.stdout.read_text() == ""


def test_the_wrapper_leaves_without_finalization_but_flushed(tmp_path: Path) -> None:
    # It exits through posix._exit: what sys.stdout and sys.stderr buffered is written first.
    command = contract.wrapper_command(JobDir(tmp_path, "x"), tmp_path / "s.sh")[:-2]
    done = subprocess.run(command, capture_output=True, text=True, timeout=20)
    usage = "usage: wrapper.py <job_dir> <script> [<launcher> ...]\n"
    assert (done.returncode, done.stderr) == (2, usage)
    boot = "import sys;sys.path.insert(0, sys.argv[1]);import wrapper;print(1, end='');wrapper.leave(3)"
    folder = str(contract.WRAPPER_SCRIPT.parent)
    command = [sys.executable, "-I", "-S", "-B", "-c", boot, folder]
    done = subprocess.run(command, capture_output=True, text=True, timeout=20)
    assert (done.returncode, done.stdout) == (3, "1")


def test_the_wrapper_imports_nothing_the_interpreter_has_not_loaded(tmp_path: Path) -> None:
    # Every job pays its imports: not even os (posix instead) nor __future__.
    boot = contract.BOOT.replace("wrapper.leave(wrapper.main(sys.argv[2:]))", "print(*sys.modules)")
    command = [sys.executable, "-I", "-S", "-B", "-c", boot, str(contract.WRAPPER_SCRIPT)]
    loaded = set(subprocess.run(command, capture_output=True, text=True, check=True).stdout.split())
    assert "wrapper" in loaded
    assert not loaded & {"os", "posixpath", "__future__", "signal", "enum", "json", "logging"}


@pytest.mark.parametrize(
    "given, expected",
    [("/a//b/./c/../d/", "/a/b/d"), ("/..", "/"), ("x/../y", os.path.abspath("y"))],
)
def test_the_wrapper_makes_paths_absolute_like_os_path(given: str, expected: str) -> None:
    assert wrapper._absolute(given) == expected == os.path.abspath(given)
    assert wrapper._join("/a/", "b", "c") == os.path.join("/a/", "b", "c")


def test_the_wrapper_bytecode_is_cached_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "wrapper.py"
    source.write_text(contract.WRAPPER_SCRIPT.read_text())
    monkeypatch.setattr(contract, "WRAPPER_SCRIPT", source)
    cached = tmp_path / "__pycache__" / f"wrapper.{sys.implementation.cache_tag}.pyc"
    assert contract.compile_wrapper() and cached.is_file()
    written = cached.stat().st_mtime_ns
    assert contract.compile_wrapper() and cached.stat().st_mtime_ns == written  # current: kept
    source.write_text(source.read_text() + "# changed\n")
    os.utime(source, ns=(written + 10**9, written + 10**9))
    assert contract.compile_wrapper() and contract._bytecode_current(source, cached)


def test_an_unwritable_wrapper_cache_is_only_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "wrapper.py"
    source.write_text("X = 1\n")
    (tmp_path / "__pycache__").write_text("a file, not a folder")
    monkeypatch.setattr(contract, "WRAPPER_SCRIPT", source)
    assert not contract.compile_wrapper()
    assert "each job compiles it" in caplog.text


def test_the_wrapper_bytecode_of_another_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "wrapper.py"
    source.write_text("X = 1\n")
    monkeypatch.setattr(contract, "WRAPPER_SCRIPT", source)
    other = tmp_path / "python"  # another interpreter: it compiles the wrapper itself
    other.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    other.chmod(0o700)
    assert contract.compile_wrapper(str(other))
    assert (tmp_path / "__pycache__" / f"wrapper.{sys.implementation.cache_tag}.pyc").is_file()
    assert not contract.compile_wrapper(str(tmp_path / "missing-python"))


def test_record_json_escapes_everything(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    text = 'a"b\\c\nd\x01é😀\udcff'
    wrapper.write_record(str(path), {"s": text, "n": -3, "none": None})
    assert json.loads(path.read_text()) == {"s": text[:-1] + "\ufffd", "n": -3, "none": None}


@pytest.mark.parametrize(
    "content, expected",
    [
        ("0.25\n", 0.25),
        ("2", 1.0),
        ("-1", 0.0),
        ("abc", None),
        ("nan", None),
        (None, None),
    ],
)
def test_progress_is_read_and_clamped(
    tmp_path: Path, content: str | None, expected: float | None
) -> None:
    job_dir = JobDir(tmp_path, "job")
    job_dir.create()
    if content is not None:
        job_dir.progress_file.write_text(content)
    assert contract.read_progress(job_dir) == expected
    info = contract.job_info("42", job_dir)
    assert info["process_id"] == "42" and info["host"] == os.uname().nodename
    assert info.get("progress") == expected
