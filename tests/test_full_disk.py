"""A full disk (a real, small tmpfs as the work directory): uploads answer 507 and leave nothing;
a job that fills the disk ends in ERROR, says so, and offers no truncated result."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid.execution import contract, wrapper
from uws_pyramid.execution.workdir import JobDir
from uws_pyramid.jdl.model import ResultSpec
from uws_pyramid.jobs import FINAL, Job, new_job_id
from uws_pyramid.testing import wait_for, write_job_type

from .conftest import ROOT, UWSTestApp, require_services


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, unmounted at the end."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=700", "uws-test", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        message = f"cannot mount a tmpfs (root needed): {done.stderr.strip()}"
        if require_services():
            pytest.fail(message)
        pytest.skip(message)
    yield mount
    subprocess.run(["umount", "--lazy", str(mount)], check=True)


@pytest.fixture
def settings(settings: dict[str, Any], disk: Path, tmp_path: Path) -> dict[str, Any]:
    jdl = tmp_path / "jdl"
    for name in ("wordcount", "echo"):
        (jdl / "scripts").mkdir(parents=True, exist_ok=True)
        (jdl / f"{name}.wadl").write_bytes((ROOT / "jdl" / f"{name}.wadl").read_bytes())
        (jdl / "scripts" / f"{name}.sh").write_bytes(
            (ROOT / "jdl/scripts" / f"{name}.sh").read_bytes()
        )
    write_job_type(
        jdl,
        "fill",
        "head -c 5000000 /dev/zero > big.out\necho written\n",
        results=[ResultSpec("big", "application/octet-stream", "big.out")],
    )
    settings.update(
        {
            "uws.workdir": str(disk / "jobs"),
            "uws.jdl_dir": str(jdl),
            "uws.limits.upload": "10M",
            "uws.limits.body": "10M",
        }
    )
    return settings


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def test_an_upload_larger_than_the_free_space_is_507_and_leaves_nothing(
    testapp: UWSTestApp, disk: Path
) -> None:
    refused = testapp.post(
        "/rest/wordcount", upload_files=[("infile", "big.txt", b"x" * 2_000_000)], status=507
    )
    assert refused.text.strip() == (
        "no space left on the server's disk for the file of parameter "
        "infile; try again later or send a smaller file"
    )
    assert files_under(disk) == [] and list((disk / "jobs").iterdir()) == []
    assert testapp.get("/rest/wordcount").xml.findall(".//{*}jobref") == []
    # The disk is usable again at once: a small upload goes through.
    testapp.post(
        "/rest/wordcount", upload_files=[("infile", "small.txt", b"one two\n")], status=303
    )


def test_a_job_that_fills_the_disk_is_an_error_without_its_results(
    testapp: UWSTestApp, disk: Path
) -> None:
    url = testapp.post("/rest/fill", {"PHASE": "RUN"}, status=303).location
    wait_for(
        lambda: testapp.get(f"{url}/phase").text.strip() in {str(p) for p in FINAL}, timeout=20
    )
    assert testapp.get(f"{url}/phase").text.strip() == "ERROR"
    summary = testapp.get(url).xml.find(".//{*}errorSummary/{*}message").text
    assert summary.startswith("no space left on device"), summary
    assert testapp.get(f"{url}/error").text.startswith("no space left on device")
    results = [r.get("id") for r in testapp.get(f"{url}/results").xml.findall("{*}result")]
    assert "big" not in results  # cut short: not offered
    job_id = url.rstrip("/").rsplit("/", 1)[-1]
    meta = disk / "jobs" / job_id / ".uws"
    assert [p.name for p in meta.iterdir() if p.name.endswith(".tmp")] == []
    # Once the job is gone, so is the space it took.
    testapp.delete(url, status=303)
    assert os.statvfs(disk).f_bfree * os.statvfs(disk).f_frsize > 900_000


def test_the_wrapper_on_a_full_disk_says_so_and_leaves_no_temporary_file(disk: Path) -> None:
    job_dir = JobDir(disk / "jobs", new_job_id())
    contract.prepare(Job(job_dir.path.name, "t"), job_dir)
    script = disk / "job.sh"
    script.write_text("echo hi\n")
    with open(disk / "filler", "wb", buffering=0) as filler:  # the disk is full from now on
        with pytest.raises(OSError, match="No space left"):
            while True:
                filler.write(b"\0" * 65536)
    done = subprocess.run(contract.wrapper_command(job_dir, script), env={}, timeout=20)
    assert done.returncode == wrapper.NO_SPACE_STATUS
    assert contract.read_exit(job_dir) is None
    assert [p.name for p in job_dir.meta.iterdir() if p.name.endswith(".tmp")] == []
