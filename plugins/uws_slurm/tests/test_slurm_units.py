"""Error paths and parsing, with stand-ins for SLURM's commands (the cluster tests do the rest)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import UWSTestApp, job_json, slurm_settings, stop

from uws_pyramid import main
from uws_pyramid.api import ConfigurationError, JobDescription, ParameterSpec, Phase
from uws_pyramid.testing import wait_for
from uws_slurm.launch import _split
from uws_slurm.options import SlurmOptions, job_resources, time_limit
from uws_slurm.slurm import Slurm, SlurmError, SlurmJob
from uws_slurm.states import phase_of, returncode

#: The issue's table, verbatim.
MAPPING = {
    "PENDING": Phase.QUEUED,
    "RUNNING": Phase.EXECUTING,
    "COMPLETING": Phase.EXECUTING,
    "COMPLETED": Phase.COMPLETED,
    "FAILED": Phase.ERROR,
    "NODE_FAIL": Phase.ERROR,
    "OUT_OF_MEMORY": Phase.ERROR,
    "BOOT_FAIL": Phase.ERROR,
    "TIMEOUT": Phase.ABORTED,
    "CANCELLED": Phase.ABORTED,
    "SUSPENDED": Phase.SUSPENDED,
    "PREEMPTED": Phase.QUEUED,
    "REQUEUED": Phase.QUEUED,
}


@pytest.mark.parametrize(("state", "phase"), MAPPING.items())
def test_slurm_states_map_to_uws_phases(state: str, phase: Phase) -> None:
    assert phase_of(SlurmJob("1", state)) == phase


def test_a_preempted_job_that_slurm_forgot_is_aborted() -> None:
    assert phase_of(SlurmJob("1", "PREEMPTED"), final=True) == Phase.ABORTED
    assert phase_of(SlurmJob("1", "SOMETHING_NEW")) is None


@pytest.mark.parametrize(("text", "code"), [("0:0", 0), ("3:0", 3), ("0:15", -15), ("", None)])
def test_exit_codes(text: str, code: int | None) -> None:
    assert returncode(text) == code


@pytest.mark.parametrize(("seconds", "minutes"), [(0, None), (1, "1"), (60, "1"), (61, "2")])
def test_time_limits_are_whole_minutes_rounded_up(seconds: int, minutes: str | None) -> None:
    assert time_limit(seconds) == minutes


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("cpus", "0"),
        ("mem", "lots"),
        ("partition", "-x"),
        ("ssh_host", "-oProxyCommand=id"),
        ("poll_interval", "0"),
        ("callbacks", "maybe"),
        ("queue", "debug"),
    ],
)
def test_bad_settings_name_their_key(key: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"uws.manager.{key}"):
        SlurmOptions.parse({key: value})


def test_job_resources_layers_and_checks() -> None:
    ncpus = ParameterSpec("ncpus")
    jd = JobDescription(
        "pick",
        parameters=(ncpus,),
        options={"cpus": "2", "cpus.param": "ncpus", "cpus.choices": "2,4", "account": "astro"},
    )
    defaults = SlurmOptions(partition="debug", cpus="1")
    assert job_resources(jd, {}, defaults) == {
        "partition": "debug",
        "account": "astro",
        "cpus": "2",
    }
    assert job_resources(jd, {"ncpus": "4"}, defaults)["cpus"] == "4"
    with pytest.raises(ValueError, match="not one of 2, 4"):
        job_resources(jd, {"ncpus": "8"}, defaults)
    bad = JobDescription("bad", options={"mem": "1M; rm -rf /"})
    with pytest.raises(ValueError, match="option mem"):
        job_resources(bad, {}, defaults)
    orphan = JobDescription("orphan", options={"partition.param": "queue"})
    with pytest.raises(ValueError, match="names no parameter"):
        job_resources(orphan, {}, defaults)


def test_ssh_quotes_each_argument_for_the_remote_shell() -> None:
    slurm = Slurm("login1", ("ssh", "-o", "BatchMode=yes"))
    assert slurm.command("sbatch", ["--chdir=/a b/$(x)", "s.sh"]) == [
        "ssh",
        "-o",
        "BatchMode=yes",
        "--",
        "login1",
        "sbatch '--chdir=/a b/$(x)' s.sh",
    ]
    assert Slurm().command("squeue", ["-j", "1"]) == ["squeue", "-j", "1"]


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("http://127.0.0.1:6543/events/x", (False, "127.0.0.1", 6543, "/events/x")),
        ("https://uws.example.org/uws/events/x", (True, "uws.example.org", 443, "/uws/events/x")),
        ("http://[::1]:8080/events/x", (False, "::1", 8080, "/events/x")),
    ],
)
def test_the_launcher_reads_event_urls(url: str, parts: tuple[Any, ...]) -> None:
    assert _split(url) == parts


# -- stand-ins for SLURM's commands -------------------------------------------------------

FakeApp = Callable[..., UWSTestApp]


@pytest.fixture
def fake_slurm(tmp_path: Path) -> Iterator[FakeApp]:
    """An app whose SLURM commands are shell scripts given by the test (no cluster)."""
    apps: list[Any] = []

    def factory(settings: dict[str, str] | None = None, **scripts: str) -> UWSTestApp:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        for name in ("sbatch", "squeue", "scontrol", "sacct", "scancel"):
            path = bin_dir / name
            path.write_text("#!/bin/sh\n" + scripts.get(name, "exit 0\n"))
            path.chmod(0o755)
        all_settings = slurm_settings(
            tmp_path, **{"uws.manager.bin_dir": str(bin_dir), **(settings or {})}
        )
        app = main({"here": str(tmp_path)}, **all_settings)
        apps.append(app)
        return UWSTestApp(app)

    yield factory
    for app in apps:
        stop(app)


@pytest.mark.parametrize(
    ("sbatch", "message"),
    [
        (
            "echo 'sbatch: error: Invalid account or account/partition combination' >&2; exit 1",
            "sbatch failed (status 1): sbatch: error: Invalid account",
        ),
        ("echo 'Submitted batch job twelve'", "sbatch: unexpected output 'Submitted batch job"),
    ],
)
def test_a_failed_submission_ends_in_error(fake_slurm: FakeApp, sbatch: str, message: str) -> None:
    testapp = fake_slurm(sbatch=sbatch)
    job_id = testapp.post("/rest/echo", {"PHASE": "RUN"}).location.rsplit("/", 1)[1]
    # Submitted in the background: the request answered at once, the job was QUEUED.
    job = wait_for(lambda: (j := job_json(testapp, "echo", job_id))["phase"] != "QUEUED" and j)
    assert job["phase"] == "ERROR"
    assert message in job["errorSummary"]["message"]


UNREACHABLE = (
    "echo 'sbatch: error: Batch job submission failed: Unable to contact slurm "
    "controller (connect failure)' >&2; exit 1\n"
)


def test_an_unreachable_controller_keeps_the_job_queued_then_it_is_submitted(
    fake_slurm: FakeApp, tmp_path: Path
) -> None:
    down = tmp_path / "down"
    down.touch()
    while_down = f"[ -e '{down}' ] && {{ {UNREACHABLE.strip()}; }}\n"
    testapp = fake_slurm(
        sbatch=while_down + "echo 42\n", squeue=while_down + "echo '42|RUNNING|vm|debug|None'\n"
    )
    started = time.monotonic()
    job_id = testapp.post("/rest/echo", {"PHASE": "RUN"}).location.rsplit("/", 1)[1]
    assert time.monotonic() - started < 1.0  # no request waits for sbatch
    time.sleep(1.5)  # a few tries
    job = job_json(testapp, "echo", job_id)
    assert job["phase"] == "QUEUED" and "slurm_job_id" not in (job["jobInfo"] or {})
    down.unlink()  # the controller is back

    def submitted() -> Any:
        job = job_json(testapp, "echo", job_id)
        return (job["jobInfo"] or {}).get("slurm_job_id") and job

    job = wait_for(submitted, 15)
    assert job["jobInfo"]["slurm_job_id"] == "42" and job["phase"] in ("QUEUED", "EXECUTING")


def test_a_controller_unreachable_longer_than_submit_retry_is_an_error(fake_slurm: FakeApp) -> None:
    testapp = fake_slurm({"uws.manager.submit_retry": "1"}, sbatch=UNREACHABLE)
    job_id = testapp.post("/rest/echo", {"PHASE": "RUN"}).location.rsplit("/", 1)[1]
    job = wait_for(lambda: (j := job_json(testapp, "echo", job_id))["phase"] != "QUEUED" and j, 20)
    assert job["phase"] == "ERROR"
    message = job["errorSummary"]["message"]
    assert "SLURM could not be reached" in message and "Unable to contact" in message


def test_a_silent_controller_changes_nothing(fake_slurm: FakeApp) -> None:
    testapp = fake_slurm(
        sbatch="echo 42\n",
        squeue="echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2; exit 1\n",
    )
    job_id = testapp.post("/rest/echo", {"PHASE": "RUN"}).location.rsplit("/", 1)[1]
    wait_for(lambda: (job_json(testapp, "echo", job_id)["jobInfo"] or {}).get("slurm_job_id"))
    manager = testapp.app.registry.uws.manager
    manager.reconcile()  # the squeue failure is logged, the job stays as it was
    job = job_json(testapp, "echo", job_id)
    assert job["phase"] == "QUEUED" and job["jobInfo"]["slurm_job_id"] == "42"


def test_a_job_slurm_forgot_is_decided_by_accounting(fake_slurm: FakeApp) -> None:
    testapp = fake_slurm(
        sbatch="echo 42\n",
        squeue="echo 'Invalid job id specified' >&2; exit 1\n",
        sacct="echo '42|NODE_FAIL|0:0|node7|debug'\n",
    )
    job_id = testapp.post("/rest/echo", {"PHASE": "RUN"}).location.rsplit("/", 1)[1]
    wait_for(lambda: job_json(testapp, "echo", job_id)["phase"] != "QUEUED", 10)
    testapp.app.registry.uws.manager.reconcile()
    job = job_json(testapp, "echo", job_id)
    assert job["phase"] == "ERROR" and "node failed" in job["errorSummary"]["message"]
    assert job["jobInfo"]["node"] == "node7"


def test_parsing_squeue_and_sacct(tmp_path: Path) -> None:
    (tmp_path / "squeue").write_text(
        "#!/bin/sh\necho '7|RUNNING|vm|debug|None'\necho '8|PENDING||long|(Resources)'\n"
    )
    (tmp_path / "sacct").write_text(
        "#!/bin/sh\necho '9|CANCELLED by 0|0:0|(null)|debug'\necho '9.batch|CANCELLED|0:15|vm|'\n"
    )
    for path in tmp_path.iterdir():
        path.chmod(0o755)
    slurm = Slurm(bin_dir=str(tmp_path))
    assert slurm.squeue(["7", "8"]) == {
        "7": SlurmJob("7", "RUNNING", "vm", "debug", "None"),
        "8": SlurmJob("8", "PENDING", "", "long", "(Resources)"),
    }
    assert slurm.sacct(["9"]) == {"9": SlurmJob("9", "CANCELLED", "", "debug", exit_code="0:0")}
    with pytest.raises(SlurmError, match="scancel"):
        Slurm(bin_dir=str(tmp_path / "nowhere")).scancel(["1"])


def test_a_lost_scancel_is_sent_again(
    fake_slurm: FakeApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("uws_slurm.follow.CANCEL_AGAIN", 0.3)
    calls = tmp_path / "scancel.log"
    testapp = fake_slurm(
        sbatch="echo 42\n",
        squeue="echo '42|RUNNING|vm|debug|None'\n",
        scancel=f"echo \"$@\" >> '{calls}'\n[ $(wc -l < '{calls}') -gt 1 ] || exit 1\n",
    )
    job_id = testapp.post("/rest/echo", {"PHASE": "RUN"}).location.rsplit("/", 1)[1]
    wait_for(lambda: (job_json(testapp, "echo", job_id)["jobInfo"] or {}).get("slurm_job_id"))
    testapp.post(f"/rest/echo/{job_id}/phase", {"PHASE": "ABORT"}, status=303)
    assert job_json(testapp, "echo", job_id)["phase"] == "ABORTED"  # though scancel failed
    wait_for(lambda: calls.read_text().count("42") >= 2, 5)
