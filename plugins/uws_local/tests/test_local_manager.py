"""uws-local passes the Manager contract, and keeps its own promises (limits, restarts)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from uws_local.manager import LocalManager
from uws_local.options import LocalOptions
from uws_pyramid.api import (
    VANISHED,
    ConfigurationError,
    Job,
    JobDir,
    Phase,
    ServiceUnavailable,
    contract,
    new_job_id,
    utcnow,
)
from uws_pyramid.execution import wrapper
from uws_pyramid.testing import (
    EXAMPLE_JDL,
    ManagerContract,
    ManagerHarness,
    build_harness,
    group_alive,
    wait_for,
    write_job_type,
)

FAST = {"uws.manager.kill_grace": "1", "uws.manager.poll_interval": "0.1"}


class TestLocalManager(ManagerContract):
    @pytest.fixture
    def manager_settings(self) -> dict[str, str]:
        return {"uws.manager": "local", "uws.manager.max_running": "2", **FAST}


Factory = Callable[..., ManagerHarness]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Factory]:
    """Build a runtime with the local manager on ``tmp_path``; each call is a "restart"."""
    built: list[ManagerHarness] = []

    def factory(max_running: int = 2, jdl: Path = EXAMPLE_JDL) -> ManagerHarness:
        harness = build_harness(
            tmp_path,
            {
                "uws.storage": "sqlite",
                "uws.storage.path": "uws.sqlite",
                "uws.manager": "local",
                "uws.manager.max_running": str(max_running),
                "uws.jdl_dir": str(jdl),
                "uws.auth.anonymous": "true",
                **FAST,
            },
        )
        built.append(harness)
        return harness

    yield factory
    for harness in reversed(built):
        if not harness.closed:
            for job in harness.runtime.storage.in_phases({Phase.QUEUED, Phase.EXECUTING}):
                harness.service.abort(job)
            harness.close()


def test_options_default_and_bad_values_name_their_key() -> None:
    assert LocalOptions.parse({}).max_running == (os.cpu_count() or 1)
    assert LocalOptions.parse({"max_running": "3", "kill_grace": "0"}).max_running == 3
    for key, value in [
        ("max_running", "0"),
        ("max_running", "two"),
        ("kill_grace", "-1"),
        ("poll_interval", "nan"),
    ]:
        with pytest.raises(ConfigurationError, match=f"uws.manager.{key}"):
            LocalManager.from_settings({key: value}, ".")
    with pytest.raises(ConfigurationError, match="uws.manager.max_runing: unknown"):
        LocalManager.from_settings({"max_runing": "2"}, ".")


def test_run_to_executing_is_fast(make: Factory) -> None:
    harness = make()
    best = 1.0
    for _ in range(3):
        started = time.monotonic()
        job = harness.run("echo")
        best = min(best, time.monotonic() - started)
        assert job.phase in (Phase.EXECUTING, Phase.COMPLETED)
        harness.wait(job.job_id)  # idle again
    assert best < 0.1


def test_jobs_beyond_max_running_wait_in_submission_order(make: Factory) -> None:
    harness = make(max_running=1)
    blocker = harness.wait(harness.run("sleep", duration="30").job_id, {Phase.EXECUTING})
    queued = [harness.run("echo", message=str(n)) for n in range(3)]
    assert [job.phase for job in queued] == [Phase.QUEUED] * 3
    harness.service.abort(harness.job(queued[1].job_id))  # a QUEUED job leaves the queue
    harness.service.abort(blocker)
    first, third = (harness.wait(job.job_id) for job in (queued[0], queued[2]))
    assert first.phase == third.phase == Phase.COMPLETED
    assert first.start_time and third.start_time and first.start_time <= third.start_time
    assert harness.job(queued[1].job_id).phase == Phase.ABORTED


def test_two_hundred_jobs_at_once_none_lost(make: Factory) -> None:
    harness = make(max_running=4)
    storage, most = harness.runtime.storage, [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            most[0] = max(most[0], len(storage.in_phases({Phase.EXECUTING})))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    ids: list[str] = []
    lock = threading.Lock()

    def submit(offset: int) -> None:
        for n in range(offset, 200, 8):
            job = harness.run("echo", message=f"job {n}")
            with lock:
                ids.append(job.job_id)

    submitters = [threading.Thread(target=submit, args=(k,)) for k in range(8)]
    for thread in submitters:
        thread.start()
    for thread in submitters:
        thread.join()
    try:
        jobs = [harness.wait(job_id, timeout=60) for job_id in ids]
    finally:
        done.set()
        sampler.join()
    assert len(jobs) == 200
    assert {job.phase for job in jobs} == {Phase.COMPLETED}
    assert all(job.result("output") for job in jobs)
    assert 1 <= most[0] <= 4


def test_job_killed_while_the_server_was_down_ends_in_error(make: Factory) -> None:
    first = make()
    job = first.wait(first.run("sleep", duration="30").job_id, {Phase.EXECUTING})
    pgid, _ = first.running_group(job.job_id)
    first.close()
    os.killpg(pgid, signal.SIGKILL)
    wait_for(lambda: not group_alive(pgid))
    second = make()
    job = second.wait(job.job_id, timeout=2)
    assert job.phase == Phase.ERROR
    assert job.error is not None and job.error.message == VANISHED
    assert job.result("stdout") is not None


def test_job_that_ended_while_the_server_was_down_gets_its_outcome(make: Factory) -> None:
    first = make()
    job = first.wait(first.run("fail", message="late failure").job_id, {Phase.EXECUTING})
    first.close()
    wait_for(lambda: first.job_dir(job.job_id).exit_file.exists())
    job = make().wait(job.job_id, timeout=2)
    assert job.phase == Phase.ERROR
    assert job.error is not None and job.error.message == "late failure"


def test_restart_adopts_running_jobs_and_starts_queued_ones(make: Factory) -> None:
    first = make(max_running=1)
    sleeper = first.wait(first.run("sleep", duration="30").job_id, {Phase.EXECUTING})
    pgid, _ = first.running_group(sleeper.job_id)
    waiting = first.run("echo", message="after the restart")
    assert waiting.phase == Phase.QUEUED
    first.close()
    second = make(max_running=1)
    time.sleep(0.3)  # the adopted job holds the only slot
    assert second.job(waiting.job_id).phase == Phase.QUEUED
    assert second.job(sleeper.job_id).phase == Phase.EXECUTING
    second.service.abort(second.job(sleeper.job_id))
    wait_for(lambda: not group_alive(pgid))
    assert second.wait(waiting.job_id).phase == Phase.COMPLETED
    assert second.wait_result(sleeper.job_id).phase == Phase.ABORTED


def test_a_reused_pid_is_not_taken_for_the_job(make: Factory, tmp_path: Path) -> None:
    harness = make()
    job = Job(
        new_job_id(),
        "sleep",
        phase=Phase.EXECUTING,
        start_time=utcnow(),
        process_id=str(os.getpid()),
    )
    harness.runtime.storage.create(job)
    meta = harness.job_dir(job.job_id).create() / ".uws"
    ticks = wrapper.start_ticks(os.getpid())
    assert ticks is not None
    # A group whose leader has exited, of processes that are not the job's: its id is what
    # the job's group was once (ids are reused once a group is empty).
    stranger = subprocess.run(
        ["setsid", "sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"],
        capture_output=True,
        text=True,
        check=True,
    )
    sleeper = int(stranger.stdout)
    pgid = os.getpgid(sleeper)
    try:
        assert pgid != sleeper  # the group's leader, sh, has exited
        # Our own process, alive, but not started when the record says: a PID reused.
        wrapper.write_record(
            str(meta / wrapper.WRAPPER_FILE),
            {"pid": os.getpid(), "pgid": pgid, "start_ticks": ticks - 1},
        )
        harness.runtime.manager.reconcile()
        done = harness.wait(job.job_id, timeout=2)
        assert done.phase == Phase.ERROR and done.error is not None
        assert done.error.message == VANISHED
        # Recovery killed nothing of the stranger's group (a killed one would be a zombie).
        time.sleep(0.5)
        assert group_alive(pgid)
    finally:
        os.kill(sleeper, signal.SIGKILL)


def _processes_running(command: bytes) -> list[int]:
    """PIDs of this host's live processes whose command line is ``command`` (NUL-separated)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as stream:
                if stream.read().rstrip(b"\0") == command and wrapper.start_ticks(int(entry)):
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def test_background_processes_die_with_the_job(make: Factory, tmp_path: Path) -> None:
    # Found by their command line: in the sandbox, the script's $! is a PID of its own
    # process namespace, not of the host.
    duration = f"30.{os.getpid()}"
    jdl = write_job_type(tmp_path / "jdl", "spawner", f"sleep {duration} &\ntouch started\n")
    harness = make(jdl=jdl)
    job = harness.wait(harness.run("spawner").job_id)
    assert job.phase == Phase.COMPLETED
    assert (harness.job_dir(job.job_id).path / "started").exists()
    wait_for(lambda: not _processes_running(b"sleep\0" + duration.encode()), timeout=3)


def test_sigterm_is_followed_by_sigkill(make: Factory, tmp_path: Path) -> None:
    jdl = write_job_type(
        tmp_path / "jdl", "stubborn", "trap '' TERM\ntouch ready\nwhile :; do sleep 0.1; done\n"
    )
    harness = make(jdl=jdl)
    job = harness.wait(harness.run("stubborn").job_id, {Phase.EXECUTING})
    pgid, _ = harness.running_group(job.job_id)
    wait_for(lambda: (harness.job_dir(job.job_id).path / "ready").exists())
    started = time.monotonic()
    harness.service.abort(job)
    time.sleep(0.5)
    assert group_alive(pgid)  # SIGTERM ignored: still there during the grace period
    wait_for(lambda: not group_alive(pgid), timeout=3)
    assert time.monotonic() - started >= 1.0
    assert harness.wait_result(job.job_id).phase == Phase.ABORTED


def test_a_job_run_at_creation_is_claimed_in_its_insert_with_no_accepted_write(
    make: Factory,
) -> None:
    harness = make(max_running=1)
    storage = harness.runtime.storage
    blocker = harness.wait(harness.run("sleep", duration="30").job_id, {Phase.EXECUTING})
    updates: list[tuple[str, frozenset[str]]] = []
    update = storage.update

    def counted(job_id: str, *args: object, **changes: object) -> object:
        updates.append((job_id, frozenset(changes)))
        return update(job_id, *args, **changes)  # type: ignore[arg-type]

    storage.update = counted  # type: ignore[method-assign]
    queued = harness.run("echo", message="waits")
    assert queued.phase == Phase.QUEUED
    # Owned from its insert: another server's reconciliation leaves it alone.
    manager = harness.runtime.manager
    assert isinstance(manager, LocalManager)
    assert queued.job_info["server"] == manager.identity
    assert [u for u in updates if u[0] == queued.job_id] == []
    harness.service.abort(blocker)
    done = harness.wait(queued.job_id)
    assert done.phase == Phase.COMPLETED
    # Its manager's writes: started, then ended; no separate "accepted".
    phases = [u for u in updates if u[0] == queued.job_id]
    assert len(phases) == 2, phases
    assert "start_time" in phases[0][1] and "end_time" in phases[1][1]


def test_what_the_wrapper_interpreter_prints_lands_in_the_job_stderr(tmp_path: Path) -> None:
    from uws_local.processes import spawn
    from uws_pyramid.api import JobDir

    job = Job(new_job_id(), "t")
    job_dir = JobDir(tmp_path / "jobs", job.job_id)
    script = tmp_path / "job.sh"
    script.write_text("exit 0\n")
    fake = tmp_path / "python"  # an interpreter that fails before the wrapper runs
    fake.write_text("#!/bin/sh\necho 'interpreter trouble' >&2\nexit 3\n")
    fake.chmod(0o700)
    run = spawn(job, job_dir, script, str(fake), wrapper.DEFAULT_PATH)
    assert run.process is not None and run.process.wait(timeout=20) == 3
    assert job_dir.stderr.read_text() == "interpreter trouble\n"
    assert sorted(p.name for p in job_dir.meta.iterdir()) == ["job.env", "stderr.txt"]


def test_the_end_of_a_job_started_here_is_recorded_without_reading_the_job(
    make: Factory,
) -> None:
    harness = make()
    storage = harness.runtime.storage
    reads: list[str] = []
    get = storage.get

    def counted(job_id: str, *args: object, **kwargs: object) -> Job:
        if threading.current_thread().name.startswith("uws-local-"):
            reads.append(job_id)  # the thread that waits for the job, then records its end
        return get(job_id, *args, **kwargs)  # type: ignore[arg-type]

    storage.get = counted  # type: ignore[method-assign]
    job = harness.wait(harness.run("echo", message="kept").job_id)
    assert job.phase == Phase.COMPLETED and job.start_time is not None
    assert job.job_info["server"] == harness.runtime.manager.identity  # type: ignore[attr-defined]
    assert {r.id for r in job.results} >= {"output", "stdout", "stderr"}
    assert reads == []


def test_an_end_recorded_late_keeps_the_time_the_wrapper_recorded(make: Factory) -> None:
    harness = make()
    manager = harness.runtime.manager
    assert isinstance(manager, LocalManager)
    failures = [1, 1, 1]  # retried after 0.5, 1 and 2 s: the end time is seconds old then
    ended = manager.context.ended

    def outage(*args: object, **kwargs: object) -> object:
        if failures:
            failures.pop()
            raise ServiceUnavailable("storage is down")
        return ended(*args, **kwargs)  # type: ignore[arg-type]

    manager.context.ended = outage  # type: ignore[method-assign]
    job = harness.run("sleep", duration="1")
    done = harness.wait(job.job_id, timeout=30)
    assert done.phase == Phase.COMPLETED and not failures
    status = contract.read_exit(harness.job_dir(job.job_id))
    assert status is not None and status.ended is not None and done.end_time is not None
    assert done.end_time.strftime("%Y-%m-%dT%H:%M:%SZ") == status.ended


def test_the_sandbox_looks_at_the_system_folders_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uws_local import sandbox

    looked: list[str] = []
    islink = os.path.islink
    monkeypatch.setattr(os.path, "islink", lambda path: looked.append(path) or islink(path))
    sandbox._system_part.cache_clear()
    box = sandbox.Sandbox("/usr/bin/bwrap", (str(tmp_path),))
    script = tmp_path / "job.sh"
    first, second = (box.launcher(JobDir(tmp_path, name), script) for name in ("a", "b"))
    assert looked == list(sandbox.SYSTEM)  # for the first job only
    assert first[: first.index("--proc")] == second[: second.index("--proc")]
    assert ["--ro-bind", str(tmp_path), str(tmp_path)] == first[
        first.index("--proc") - 3 : first.index("--proc")
    ]
    assert str(tmp_path / "a") in first and str(tmp_path / "b") in second
    sandbox._system_part.cache_clear()
