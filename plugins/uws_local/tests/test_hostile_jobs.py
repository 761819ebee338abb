"""Hostile jobs: what a job plants in its directory is never trusted, and in the sandbox a job
reaches nothing of the server (secret, database, other jobs, its processes)."""

from __future__ import annotations

import io
import os
import shlex
import shutil
import signal
import socket
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from uws_local import sandbox
from uws_local.manager import LocalManager
from uws_pyramid.api import ConfigurationError, NotFound, ParameterSpec, Phase, ResultSpec, contract
from uws_pyramid.submission import Submission, Upload
from uws_pyramid.testing import ManagerHarness, build_harness, wait_for, write_job_type

SECRET_TEXT = "the server's secret"
Make = Callable[..., ManagerHarness]


def bwrap_works() -> bool:
    found = shutil.which("bwrap")
    return bool(found) and sandbox.probe(found, ()) is None


def require_bwrap() -> None:
    if not bwrap_works():
        if os.environ.get("UWS_REQUIRE_SERVICES") == "1":
            pytest.fail("bubblewrap (bwrap) is required: apt-get install bubblewrap")
        pytest.skip("bubblewrap (bwrap) cannot run here")


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Make]:
    """A runtime on ``tmp_path`` (database, var/secret, jobs/, jdl/) with the given sandbox."""
    built: list[ManagerHarness] = []
    (tmp_path / "jdl").mkdir()

    def factory(box: str, max_running: int = 2, **settings: str) -> ManagerHarness:
        harness = build_harness(
            tmp_path,
            {
                "uws.storage": "sqlite",
                "uws.storage.path": "uws.sqlite",
                "uws.manager": "local",
                "uws.manager.max_running": str(max_running),
                "uws.manager.sandbox": box,
                "uws.manager.poll_interval": "0.1",
                "uws.manager.kill_grace": "1",
                "uws.jdl_dir": str(tmp_path / "jdl"),
                "uws.secret_file": "var/secret",
                **settings,
            },
        )
        built.append(harness)
        return harness

    yield factory
    for harness in built:
        for job in harness.runtime.storage.in_phases({Phase.QUEUED, Phase.EXECUTING}):
            harness.service.abort(job)
        harness.close()


def job_type(tmp_path: Path, name: str, script: str, **fields: object) -> None:
    write_job_type(tmp_path / "jdl", name, script, **fields)  # type: ignore[arg-type]


def secret(tmp_path: Path) -> Path:
    path = tmp_path / "var" / "secret"
    assert path.is_file()
    return path


# -- without the sandbox: the server's reading alone must hold --------------------------------


def test_a_stderr_planted_as_a_link_is_not_read(make: Make, tmp_path: Path) -> None:
    key = shlex.quote(str(tmp_path / "var" / "secret"))
    job_type(tmp_path, "plant", f"rm -f .uws/stderr.txt\nln -s {key} .uws/stderr.txt\nexit 1\n")
    harness = make("none")
    job = harness.wait(harness.run("plant").job_id)
    assert job.phase == Phase.ERROR and job.error is not None
    assert job.error.message == (
        "the job's script exited with status 1; its stderr was not read: "
        ".uws/stderr.txt is a symbolic link, not a regular file"
    )
    text = harness.service.error_text(job)
    assert text == job.error.message and secret(tmp_path).read_text() not in text
    assert job.result("stderr") is None and job.result("stdout") is not None


def test_a_hard_link_is_neither_a_result_nor_served(make: Make, tmp_path: Path) -> None:
    key = shlex.quote(str(tmp_path / "var" / "secret"))
    job_type(
        tmp_path,
        "linker",
        f"ln {key} out.txt\nprintf ok > good.txt\n",
        results=[ResultSpec("out", default="out.txt"), ResultSpec("good", default="good.txt")],
    )
    harness = make("none")
    job = harness.wait(harness.run("linker").job_id)
    assert job.phase == Phase.COMPLETED, job.error
    assert job.result("out") is None and job.result("good") is not None
    # A process of the job left behind swaps the listed result for a link: never served.
    good = harness.job_dir(job.job_id).path / "good.txt"
    good.unlink()
    os.link(secret(tmp_path), good)
    with pytest.raises(NotFound, match="hard links"):
        harness.service.open_result(job, "good")
    good.unlink()
    good.symlink_to(secret(tmp_path))
    with pytest.raises(NotFound, match="symbolic link"):
        harness.service.open_result(job, "good")


def test_a_fifo_named_progress_does_not_stop_the_monitor(make: Make, tmp_path: Path) -> None:
    job_type(tmp_path, "fifo", "mkfifo progress\nsleep 3\n")
    job_type(tmp_path, "long", "sleep 30\n")
    harness = make("none")
    fifo = harness.run("fifo")
    harness.wait(fifo.job_id, {Phase.EXECUTING})
    wait_for(lambda: (harness.job_dir(fifo.job_id).path / "progress").exists())
    started = time.monotonic()
    long = harness.wait(harness.run("long", execution_duration=1).job_id, {Phase.ABORTED})
    assert time.monotonic() - started < 3  # its duration was still enforced
    assert long.error is not None and "execution duration exceeded" in long.error.message
    assert harness.wait(fifo.job_id).phase == Phase.COMPLETED


def test_a_fifo_at_stderr_does_not_hold_the_job_or_its_slot(make: Make, tmp_path: Path) -> None:
    job_type(tmp_path, "fifo", "rm -f .uws/stderr.txt\nmkfifo .uws/stderr.txt\nexit 2\n")
    job_type(tmp_path, "after", "echo next\n")
    harness = make("none", max_running=1)
    blocked = harness.run("fifo")
    after = harness.run("after")
    done = harness.wait(blocked.job_id, timeout=5)
    assert done.phase == Phase.ERROR and done.error is not None
    assert done.error.message.endswith(".uws/stderr.txt is a FIFO, not a regular file")
    assert harness.service.error_text(done) == done.error.message
    assert harness.wait(after.job_id, timeout=5).phase == Phase.COMPLETED  # the slot is free


def test_a_spoiled_exit_record_is_named(make: Make, tmp_path: Path) -> None:
    job_type(tmp_path, "spoil", "mkdir .uws/exit.json\nexit 0\n")
    harness = make("none")
    job = harness.wait(harness.run("spoil").job_id)
    assert job.phase == Phase.ERROR and job.error is not None
    assert job.error.message == (
        "the job's exit record was not read: .uws/exit.json is a directory, not a regular file "
        "(its supervisor exited with status 1)"
    )


# -- the sandbox --------------------------------------------------------------------------------


def test_a_hostile_job_reaches_nothing_of_the_server(make: Make, tmp_path: Path) -> None:
    require_bwrap()
    job_type(
        tmp_path,
        "other",
        "printf private > mine.txt\n",
        results=[ResultSpec("mine", default="mine.txt")],
    )
    q = {
        name: shlex.quote(str(path))
        for name, path in {
            "secret": tmp_path / "var" / "secret",
            "db": tmp_path / "uws.sqlite",
            "here": tmp_path,
            "scripts": tmp_path / "jdl" / "scripts",
            "jobs": tmp_path / "jobs",
        }.items()
    }
    attempts = {
        "read the secret": f"cat {q['secret']}",
        "read the database": f"cat {q['db']}",
        "read another job's result": 'cat "$other"',
        "list the other jobs": f'ls {q["jobs"]} | grep -q "$otherid"',
        "write beside the database": f"touch {q['here']}/planted",
        "write into the database": f"echo x >> {q['db']}",
        "write a job script": f"touch {q['scripts']}/planted",
        "plant a link in .uws": f"ln -sf {q['secret']} .uws/stderr.txt",
        "signal the server": f"kill -0 {os.getpid()}",
        "read the server's environment": f"cat /proc/{os.getpid()}/environ",
        "read the munge key": "cat /etc/munge/munge.key",
        "read /etc/shadow": "cat /etc/shadow",
        "mount a file system": "mount -t tmpfs none /mnt",
    }
    script = (
        "".join(
            f"if ( {command} ) >/dev/null 2>&1; then echo {shlex.quote(what)}: DONE; "
            f"else echo {shlex.quote(what)}: refused; fi >> report.txt\n"
            for what, command in attempts.items()
        )
        + "printf finished > out.txt\n"
    )
    job_type(
        tmp_path,
        "hostile",
        script,
        results=[ResultSpec("out", default="out.txt")],
        parameters=[ParameterSpec("other"), ParameterSpec("otherid")],
    )
    harness = make("bwrap")
    other = harness.wait(harness.run("other").job_id)
    assert other.phase == Phase.COMPLETED
    mine = harness.job_dir(other.job_id).path / "mine.txt"
    before = secret(tmp_path).read_bytes()
    job = harness.wait(harness.run("hostile", other=str(mine), otherid=other.job_id).job_id)
    assert job.phase == Phase.COMPLETED, job.error  # otherwise an ordinary job
    assert harness.service.result_file(job, "out")[1].read_text() == "finished"
    report = (harness.job_dir(job.job_id).path / "report.txt").read_text().splitlines()
    # Here the server's folder lies under /tmp, which is the job's own in-memory /tmp: a
    # write there succeeds without reaching the host (checked below).
    inside_only = {"write beside the database", "write into the database"}
    assert report == [
        f"{what}: {'DONE' if what in inside_only else 'refused'}" for what in attempts
    ]
    assert secret(tmp_path).read_bytes() == before and mine.read_text() == "private"
    assert not (tmp_path / "planted").exists()
    assert not (tmp_path / "uws.sqlite").read_bytes().endswith(b"x\n")
    assert not (tmp_path / "jdl" / "scripts" / "planted").exists()
    assert harness.job(job.job_id).result("stderr") is not None


def test_the_sandbox_keeps_the_contract(make: Make, tmp_path: Path) -> None:
    """Parameters, TMPDIR, progress, a private /tmp, results; a signal-killed script."""
    require_bwrap()
    job_type(
        tmp_path,
        "inside",
        'printf "%s" "$word" > out.txt\ntouch "$TMPDIR/t" "/tmp/$UWS_JOB_ID"\necho 0.5 > progress\n'
        "python3 -c \"import json; print(json.load(open('parameters.json'))['word'])\"\n",
        parameters=[ParameterSpec("word")],
        results=[ResultSpec("out", default="out.txt")],
    )
    job_type(tmp_path, "killed", "kill -9 $$\n")
    harness = make("bwrap")
    job = harness.wait(harness.run("inside", word="$(id) x").job_id)
    assert job.phase == Phase.COMPLETED, job.error
    assert harness.service.result_file(job, "out")[1].read_text() == "$(id) x"
    assert harness.service.result_file(job, "stdout")[1].read_text() == "$(id) x\n"
    assert not Path("/tmp", job.job_id).exists()  # the job's /tmp was its own
    killed = harness.wait(harness.run("killed").job_id)
    assert killed.error is not None
    assert (
        killed.error.message == "the job's script was killed by signal SIGKILL (nothing on stderr)"
    )


@pytest.mark.parametrize(("network", "expected"), [("", "unreachable"), ("host", "reached")])
def test_in_the_sandbox_a_job_reaches_no_port_of_this_host_unless_given_the_network(
    make: Make, tmp_path: Path, network: str, expected: str
) -> None:
    """A database server or the service itself listening on this host (here: a socket on
    127.0.0.1) is out of a job's reach, unless uws.manager.sandbox_network = host."""
    require_bwrap()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        job_type(
            tmp_path,
            "dial",
            f"if (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null\n"
            "then echo reached; else echo unreachable; fi > out.txt\n",
            results=[ResultSpec("out", default="out.txt")],
        )
        harness = make("bwrap", **{"uws.manager.sandbox_network": network})
        job = harness.wait(harness.run("dial").job_id)
    assert job.phase == Phase.COMPLETED, job.error
    assert harness.service.result_file(job, "out")[1].read_text() == expected + "\n"


def test_a_killed_supervisor_is_named_and_its_job_ends(make: Make, tmp_path: Path) -> None:
    job_type(tmp_path, "hold", "sleep 30\n")
    harness = make("")
    job = harness.wait(harness.run("hold").job_id, {Phase.EXECUTING})
    record = wait_for(lambda: contract.read_wrapper(harness.job_dir(job.job_id)))
    os.kill(record.pid, signal.SIGKILL)
    done = harness.wait(job.job_id)
    assert done.phase == Phase.ERROR and done.error is not None
    assert done.error.message == (
        "the job's supervisor died (it was killed by signal SIGKILL) "
        "before it recorded how the job's script ended"
    )
    assert harness.service.error_text(done) == done.error.message


def test_sandbox_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="uws.manager.sandbox = 'jail': expected bwrap"):
        LocalManager.from_settings({"sandbox": "jail"}, ".")
    with pytest.raises(
        ConfigurationError, match="uws.manager.sandbox_network = 'lan': expected none .* or host"
    ):
        LocalManager.from_settings({"sandbox_network": "lan"}, ".")
    with pytest.raises(ConfigurationError, match="uws.manager.sandbox_bind: 'rel' is not"):
        LocalManager.from_settings({"sandbox_bind": "rel"}, ".")
    assert LocalManager.from_settings({"sandbox": "none"}, ".").sandbox is None
    assert LocalManager.from_settings({"sandbox": "none"}, ".").problems() == []
    monkeypatch.setenv("PATH", "/nonexistent")  # bwrap cannot be found
    unisolated = LocalManager.from_settings({}, ".")
    assert unisolated.sandbox is None  # a warning, no isolation; uws-admin check says so
    assert unisolated.problems() == [
        "jobs are NOT isolated from the server's files (secret, database, other jobs): bubblewrap "
        "cannot run here (bwrap is not installed); install it (apt-get install bubblewrap) or "
        "set uws.manager.sandbox = none to accept this"
    ]
    with pytest.raises(ConfigurationError) as refused:
        LocalManager.from_settings({"sandbox": "bwrap"}, ".")
    assert str(refused.value) == (
        "uws.manager.sandbox = bwrap: bubblewrap cannot run here (bwrap is not installed); "
        "install it (apt-get install bubblewrap) or set uws.manager.sandbox = none"
    )


# -- files the server creates, uploads ------------------------------------------------------------


def test_files_of_the_server_are_private(make: Make, tmp_path: Path) -> None:
    job_type(
        tmp_path,
        "copy",
        'cp "$data" copy.txt\n',
        parameters=[ParameterSpec("data", type="file")],
        results=[ResultSpec("copy", default="copy.txt")],
    )
    harness = make("")
    upload = Upload("data", "d.txt", io.BytesIO(b"data"))
    job = harness.service.create("copy", Submission({"PHASE": "RUN"}, {}, [upload]), None)
    job = harness.wait(job.job_id)
    assert job.phase == Phase.COMPLETED, job.error
    work = harness.job_dir(job.job_id).path

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    for folder in (tmp_path / "var", tmp_path / "jobs", work, work / ".uws"):
        assert mode(folder) == 0o700, folder
    for path in (
        secret(tmp_path),
        tmp_path / "uws.sqlite",
        work / "copy.txt",
        work / "uploads/data/d.txt",
        work / "parameters.json",
        work / ".uws/stdout.txt",
        work / ".uws/exit.json",
        work / ".uws/job.env",
    ):
        assert mode(path) == 0o600, path


def test_uploads_never_collide(make: Make, tmp_path: Path) -> None:
    job_type(
        tmp_path,
        "two",
        'cat "$a" "$b" > both.txt\ncat parameters.json\nprintf "%s %s" "$a" "$b" > names.txt\n',
        parameters=[ParameterSpec("a", type="file"), ParameterSpec("b", type="file")],
    )
    harness = make("")
    uploads = [
        Upload("a", "parameters.json", io.BytesIO(b"A\n")),
        Upload("b", "../parameters.json", io.BytesIO(b"B\n")),
    ]
    job = harness.service.create("two", Submission({"PHASE": "RUN"}, {}, uploads), None)
    assert job.parameters == {"a": "uploads/a/parameters.json", "b": "uploads/b/parameters.json"}
    done = harness.wait(job.job_id)
    assert done.phase == Phase.COMPLETED, done.error
    work = harness.job_dir(job.job_id).path
    assert (work / "both.txt").read_text() == "A\nB\n"
    assert (work / "names.txt").read_text() == "uploads/a/parameters.json uploads/b/parameters.json"
    assert harness.service.result_file(done, "stdout")[1].read_text() == (
        '{"a": "uploads/a/parameters.json", "b": "uploads/b/parameters.json"}'
    )


def test_the_sandbox_etc_is_the_hosts_in_one_mount(make: Make, tmp_path: Path) -> None:
    """The files of /etc a job sees are copies of the host's, which the job cannot change;
    its folders are the host's."""
    require_bwrap()
    listing = "ls /etc/ssl/certs | head -3"
    job_type(
        tmp_path,
        "etc",
        f"cat /etc/passwd /etc/hosts > etc.txt\n{listing} > certs.txt\n"
        "ls -a /etc | sort > names.txt\n"
        "echo x >> /etc/passwd 2>/dev/null && echo written > write.txt || true\n",
    )
    harness = make("bwrap")
    job = harness.wait(harness.run("etc").job_id)
    assert job.phase == Phase.COMPLETED, job.error
    work = harness.job_dir(job.job_id).path
    host = Path("/etc/passwd").read_bytes() + Path("/etc/hosts").read_bytes()
    assert (work / "etc.txt").read_bytes() == host
    certs = os.popen(listing).read()
    assert (work / "certs.txt").read_text() == certs
    expected = {".", ".."} | {n.split("/")[0] for n in sandbox.ETC if Path("/etc", n).exists()}
    assert set((work / "names.txt").read_text().split()) == expected
    assert not (work / "write.txt").exists()
    view = sandbox.etc_view().path
    assert (view / "passwd").read_bytes() == Path("/etc/passwd").read_bytes()
    assert stat.S_IMODE(view.stat().st_mode) == 0o700
    assert not (work.parent / view.name).exists()  # not in the jobs' space


def test_the_etc_view_follows_the_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "etc"
    (source / "ssl" / "certs").mkdir(parents=True)
    (source / "ssl" / "openssl.cnf").write_text("conf")
    (source / "passwd").write_text("root:x:0:0\n")
    (source / "zone").write_text("UTC\n")
    (source / "localtime").symlink_to(source / "zone")
    view = sandbox.EtcView(tmp_path / "view", source).current()
    assert view.folders == ("ssl/certs",)
    assert (view.path / "passwd").read_text() == "root:x:0:0\n"
    assert (view.path / "localtime").read_text() == "UTC\n"  # a link's target, copied
    assert (view.path / "ssl" / "openssl.cnf").read_text() == "conf"
    assert (view.path / "ssl" / "certs").is_dir() and not (view.path / "group").exists()
    (source / "passwd").write_text("root:x:0:0\nuws:x:1000:1000\n")
    (source / "group").write_text("uws:x:1000:\n")
    (source / "ssl" / "openssl.cnf").unlink()
    view.current()  # within ETC_REFRESH: as it was
    assert (view.path / "passwd").read_text() == "root:x:0:0\n"
    monkeypatch.setattr(sandbox, "ETC_REFRESH", 0.0)
    view.current()
    assert (view.path / "passwd").read_text() == "root:x:0:0\nuws:x:1000:1000\n"
    assert (view.path / "group").read_text() == "uws:x:1000:\n"
    assert not (view.path / "ssl" / "openssl.cnf").exists()
    monkeypatch.setattr(sandbox, "ETC_REFRESH", 3600.0)
    shutil.rmtree(view.path)  # a cleaner of old files took it: made again at once
    view.current()
    assert (view.path / "passwd").read_text() == "root:x:0:0\nuws:x:1000:1000\n"
    assert (view.path / "ssl" / "certs").is_dir()


def test_one_etc_view_per_process_or_each_file_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    view = sandbox.etc_view()
    assert sandbox.etc_view() is view and view.path.is_dir()
    assert sandbox.etc_binds()[:3] == ["--ro-bind", str(view.path), "/etc"]

    def full(self: sandbox.EtcView) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sandbox, "ETC_REFRESH", 0.0)
    monkeypatch.setattr(sandbox.EtcView, "_refresh", full)
    view._checked = float("-inf")
    binds = sandbox.etc_binds()
    assert binds[:3] == ["--ro-bind-try", "/etc/passwd", "/etc/passwd"]
    assert len(binds) == 3 * len(sandbox.ETC)


def test_an_etc_view_folder_not_ours_alone_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "view"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)  # another user could have put files there: never bound
    with pytest.raises(PermissionError, match="not a private folder"):
        sandbox.EtcView(folder).current()
    assert list(folder.iterdir()) == []
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PermissionError):
        sandbox.EtcView(link).current()
    assert not (tmp_path / "elsewhere").exists()
