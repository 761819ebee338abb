"""The one way the server reads a job's files: links, FIFOs, devices and huge files are refused."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from uws_pyramid.execution import jobfiles
from uws_pyramid.execution.results import error_detail, walk_pattern
from uws_pyramid.execution.workdir import JobDir


@pytest.fixture
def job(tmp_path: Path) -> JobDir:
    job_dir = JobDir(tmp_path / "jobs", "job")
    job_dir.create()
    (tmp_path / "secret").write_text("the server's secret\n")
    return job_dir


def refusal(root: Path, relative: str) -> str:
    with pytest.raises(jobfiles.Refused) as refused:
        jobfiles.read_file(root, relative, 1000)
    return str(refused.value)


def test_a_plain_file_is_read_and_capped(job: JobDir) -> None:
    (job.path / "out.txt").write_bytes(b"0123456789")
    assert jobfiles.read_file(job.path, "out.txt", 4) == (b"0123", 10)
    assert jobfiles.read_file(job.path, "out.txt", 4, tail=True) == (b"6789", 10)
    assert jobfiles.read_or_none(job.path, "out.txt", 9) is None  # more than expected
    assert jobfiles.read_or_none(job.path, "out.txt", 10) == b"0123456789"
    with pytest.raises(FileNotFoundError):
        jobfiles.read_file(job.path, "absent", 10)


def test_links_are_refused(job: JobDir, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    job.stderr.symlink_to(secret)
    assert refusal(job.path, ".uws/stderr.txt") == (
        ".uws/stderr.txt is a symbolic link, not a regular file"
    )
    os.link(secret, job.path / "hard.txt")
    assert refusal(job.path, "hard.txt") == "hard.txt has 2 hard links (a job's file has one)"
    (job.path / "up").symlink_to(tmp_path)  # a linked folder on the way
    assert refusal(job.path, "up/secret") == "up/secret: up is a symbolic link, not a directory"
    for path in ("../secret", "/etc/passwd", "a/../../secret", ""):
        assert "not a path inside" in refusal(job.path, path)
    assert jobfiles.read_or_none(job.path, ".uws/stderr.txt", 100) is None
    assert error_detail(job) == ""


def test_a_fifo_or_a_device_is_never_opened(job: JobDir) -> None:
    os.mkfifo(job.path / "progress")
    result: list[str] = []
    # A blocking open would hang this thread forever: give it a second.
    reader = threading.Thread(
        target=lambda: result.append(refusal(job.path, "progress")), daemon=True
    )
    reader.start()
    reader.join(timeout=1)
    assert result == ["progress is a FIFO, not a regular file"]
    os.mknod(job.path / "null", 0o600 | 0o020000, os.makedev(1, 3))  # character device
    assert refusal(job.path, "null") == "null is a device, not a regular file"
    (job.path / "folder").mkdir()
    assert refusal(job.path, "folder") == "folder is a directory, not a regular file"


def test_a_job_directory_that_is_a_link_is_refused(job: JobDir, tmp_path: Path) -> None:
    (tmp_path / "jobs" / "other").symlink_to(tmp_path)
    assert "cannot be opened" in refusal(tmp_path / "jobs" / "other", "secret")


def test_error_text_is_the_end_of_a_huge_stderr(job: JobDir) -> None:
    job.stderr.write_bytes(b"x" * (3 << 20) + b"\nthe end\n")
    text = error_detail(job)
    assert text.startswith("[the first ") and text.endswith("the end\n")
    assert len(text) < (1 << 20) + 100


def test_result_patterns_never_walk_through_links(job: JobDir, tmp_path: Path) -> None:
    (job.path / "sub").mkdir()
    (job.path / "sub" / "a.txt").write_text("a")
    (job.path / ".hidden.txt").write_text("h")
    (job.path / "root").symlink_to("/")
    (job.path / "loop").symlink_to(job.path)
    assert walk_pattern(job.path, "**/*.txt") == {"sub/a.txt"}
    assert walk_pattern(job.path, "*") == {"sub", "root", "loop"}
    assert walk_pattern(job.path, "root/etc/*") == set()
    assert walk_pattern(job.path, "sub/a.txt") == {"sub/a.txt"}
    assert walk_pattern(job.path, ".*.txt") == {".hidden.txt"}
