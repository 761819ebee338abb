"""Resources, time limits, suspension and ssh submission, checked in what SLURM itself reports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import AppFactory, UWSTestApp, job_json, start, wait_phase

from uws_pyramid.api import ParameterSpec
from uws_pyramid.jdl.datatypes import INT
from uws_pyramid.testing import EXAMPLE_JDL, write_job_type

PICK_OPTIONS = {
    "partition": "debug",
    "cpus": "2",
    "mem": "1M",
    "cpus.param": "ncpus",
    "cpus.choices": "1 2 4",
}


def show(slurm_id: str) -> dict[str, str]:
    out = subprocess.run(
        ["scontrol", "show", "job", "-o", slurm_id], capture_output=True, text=True, check=True
    ).stdout
    return dict(re.findall(r"(\S+?)=(\S*)", out))


@pytest.fixture
def jdl(tmp_path: Path) -> Path:
    """The example job types plus "pick", whose description sets resources and lets the user
    choose the CPUs, and "fixed", which lets the user choose nothing."""
    directory = tmp_path / "jdl"
    shutil.copytree(EXAMPLE_JDL, directory, ignore=shutil.ignore_patterns(".history"))
    ncpus = ParameterSpec("ncpus", INT, description="CPUs")
    write_job_type(
        directory, "pick", "true\n", [ncpus], options=PICK_OPTIONS, max_execution_duration=600
    )
    write_job_type(directory, "fixed", "true\n", [ncpus], options={"cpus": "1"})
    return directory


def test_resources_and_time_limit_come_from_the_description(
    make_app: AppFactory, jdl: Path
) -> None:
    testapp = UWSTestApp(make_app(**{"uws.jdl_dir": str(jdl)}))
    job_id = start(testapp, "pick", EXECUTIONDURATION="90")
    job = wait_phase(testapp, "pick", job_id, {"COMPLETED", "ERROR"})
    assert job["phase"] == "COMPLETED", job["errorSummary"]
    fields = show(job["jobInfo"]["slurm_job_id"])
    assert fields["Partition"] == "debug" and fields["NumCPUs"] == "2"
    assert fields["MinMemoryNode"] == "1M"
    assert fields["TimeLimit"] == "00:02:00"  # 90 s, rounded up to whole minutes


def test_a_user_chooses_only_where_the_description_allows(make_app: AppFactory, jdl: Path) -> None:
    # No maximum duration anywhere, so that EXECUTIONDURATION=0 means "no limit".
    testapp = UWSTestApp(make_app(**{"uws.jdl_dir": str(jdl), "uws.execution_duration.max": "0"}))
    chosen = start(testapp, "pick", ncpus="4")
    refused = start(testapp, "pick", ncpus="3")
    ignored = start(testapp, "fixed", ncpus="4", EXECUTIONDURATION="0")
    job = wait_phase(testapp, "pick", chosen, {"COMPLETED", "ERROR"})
    assert show(job["jobInfo"]["slurm_job_id"])["NumCPUs"] == "4"
    job = job_json(testapp, "pick", refused)
    assert job["phase"] == "ERROR"
    assert "parameter ncpus: '3' is not one of 1, 2, 4" in job["errorSummary"]["message"]
    job = wait_phase(testapp, "fixed", ignored, {"COMPLETED", "ERROR"})
    fields = show(job["jobInfo"]["slurm_job_id"])
    assert fields["NumCPUs"] == "1"
    assert fields["TimeLimit"] == "UNLIMITED"  # 0: the partition's own limit


def test_suspend_and_resume_are_followed(testapp: UWSTestApp) -> None:
    job_id = start(testapp, "sleep", duration="30")
    slurm_id = wait_phase(testapp, "sleep", job_id, {"EXECUTING"})["jobInfo"]["slurm_job_id"]
    subprocess.run(["scontrol", "suspend", slurm_id], check=True)
    wait_phase(testapp, "sleep", job_id, {"SUSPENDED"}, 10)
    subprocess.run(["scontrol", "resume", slurm_id], check=True)
    wait_phase(testapp, "sleep", job_id, {"EXECUTING"}, 10)


def test_submission_through_ssh_quotes_every_argument(make_app: AppFactory, tmp_path: Path) -> None:
    # A stand-in for ssh that does what ssh does: join the arguments after the host into one
    # line and hand it to the remote user's shell.
    log = tmp_path / "ssh.log"
    fake = tmp_path / "fake-ssh"
    fake.write_text(
        "#!/bin/bash\n"
        'while [ "$1" != "--" ]; do shift; done; shift; host=$1; shift\n'
        f'printf "%s %s\\n" "$host" "$*" >> {log}\n'
        'exec bash -c "$*"\n'
    )
    fake.chmod(0o755)
    workdir = "jobs $(touch PWNED) 'dir'"  # an awkward path, to prove the quoting
    app = make_app(
        **{
            "uws.manager.ssh_host": "login1",
            "uws.manager.ssh_command": str(fake),
            "uws.workdir": workdir,
        }
    )
    testapp = UWSTestApp(app)
    job_id = start(testapp, "echo", message="via ssh")
    job = wait_phase(testapp, "echo", job_id, {"COMPLETED", "ERROR"})
    assert job["phase"] == "COMPLETED", job["errorSummary"]
    assert (tmp_path / workdir / job_id / "output.txt").read_text() == "via ssh\n"
    assert not (tmp_path / "PWNED").exists()
    calls = log.read_text().splitlines()
    assert calls[0].startswith("login1 sbatch --parsable ")
    assert any(c.startswith("login1 squeue ") for c in calls)
    assert not list(tmp_path.glob("**/PWNED"))
