"""Server side of the execution contract: preparing a job's files and reading what its wrapper left."""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import py_compile
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..jobs import Job
from . import jobfiles, wrapper
from .workdir import JobDir

log = logging.getLogger(__name__)

WRAPPER_SCRIPT = Path(wrapper.__file__).resolve()
HOST = wrapper.host()
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: Largest exit or wrapper record read (a few hundred bytes when the wrapper wrote it).
RECORD_MAX = 64 * 1024


@dataclass(frozen=True)
class ExitStatus:
    """What the wrapper wrote when the script ended: Popen style, negative for a signal."""

    returncode: int
    ended: str | None = None


@dataclass(frozen=True)
class WrapperRecord:
    """What the wrapper wrote when it started."""

    pid: int
    pgid: int
    start_ticks: int | None
    host: str


def check_parameter(name: str, value: object) -> None:
    """Raise ValueError unless a parameter can reach the script as an environment variable."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"parameter name {name!r} is not an identifier")
    if wrapper.reserved(name):
        raise ValueError(f"parameter name {name!r} is reserved for the job's environment")
    if not isinstance(value, str):
        raise ValueError(f"parameter {name}: value {value!r} is not a string")
    if "\x00" in value:
        raise ValueError(f"parameter {name}: a NUL character cannot reach the script")


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` atomically (temporary file, then rename): readers never see half of it.
    Readable by the server's user alone; a failure (a full disk) leaves no temporary file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with open(fd, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    write_private(path, json.dumps(data, ensure_ascii=False).encode("utf-8"))


def prepare(job: Job, job_dir: JobDir, path: str = wrapper.DEFAULT_PATH) -> None:
    """Write ``parameters.json`` (for scripts) and ``.uws/job.env`` (for the wrapper); clear what
    an earlier start left. ValueError for a parameter that cannot become a variable."""
    for name, value in job.parameters.items():
        check_parameter(name, value)
    job_dir.create()
    for stale in (job_dir.exit_file, job_dir.wrapper_file, job_dir.stdout, job_dir.stderr):
        stale.unlink(missing_ok=True)
    write_json(job_dir.parameters_file, dict(job.parameters))
    entries = {"UWS_JOB_ID": job.job_id, "PATH": path, **job.parameters}
    data = b"".join(f"{name}={value}".encode() + b"\0" for name, value in entries.items())
    write_private(job_dir.job_file, data)


#: Imports the wrapper from the folder of the file given as first argument and runs it: an
#: imported module's bytecode is cached (``__pycache__``, written by ``compile_wrapper`` when a
#: manager starts), a script given as a file is compiled at every start (~4 ms of CPU).
#: -B: never writes a cache itself (a copy beside a batch job's files stays alone).
#: ``wrapper.leave`` exits without the interpreter's finalization (see there).
BOOT = (
    "import sys;sys.path.append(sys.argv[1].rpartition('/')[0]);"
    "import wrapper;wrapper.leave(wrapper.main(sys.argv[2:]))"
)


def wrapper_command(job_dir: JobDir, script: Path, python: str = sys.executable) -> list[str]:
    """The command that runs the job: an argument list, never a shell string.

    The wrapper runs in isolated mode without site packages: it needs only the standard
    library, so it starts in milliseconds and does not import the server. Its file stays
    on the command line (``is_running`` looks for it there)."""
    return [
        python,
        "-I",
        "-S",
        "-B",
        "-c",
        BOOT,
        str(WRAPPER_SCRIPT),
        str(job_dir.path),
        str(script),
    ]


def _bytecode_current(source: Path, cached: Path) -> bool:
    """Whether ``cached`` is this interpreter's valid bytecode of ``source`` (the header the
    import system checks: magic number, timestamp validation, source mtime and size)."""
    try:
        with open(cached, "rb") as stream:
            header = stream.read(16)
        info = source.stat()
    except OSError:
        return False
    return (
        header[:4] == importlib.util.MAGIC_NUMBER
        and int.from_bytes(header[4:8], "little") == 0
        and int.from_bytes(header[8:12], "little") == int(info.st_mtime) & 0xFFFFFFFF
        and int.from_bytes(header[12:16], "little") == info.st_size & 0xFFFFFFFF
    )


def compile_wrapper(python: str = sys.executable) -> bool:
    """Make sure the wrapper's bytecode is cached beside it for ``python``; False if it
    cannot be written (a read-only installation: each job then compiles the wrapper).

    Every job imports the wrapper with ``-B``, which reads a cache but never writes one, and
    a server run with PYTHONDONTWRITEBYTECODE (or from a fresh checkout) leaves none: each
    job then compiles it, ~4 ms of CPU, more than half of the wrapper's own work."""
    source = WRAPPER_SCRIPT
    if os.path.realpath(python) != os.path.realpath(sys.executable):
        # Another interpreter has its own cache name and format: it compiles for itself.
        command = [python, "-I", "-S", "-c", COMPILE, str(source)]
        try:
            done = subprocess.run(command, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("the wrapper's bytecode was not written for %s: %s", python, exc)
            return False
        return done.returncode == 0
    cached = Path(importlib.util.cache_from_source(str(source)))
    if _bytecode_current(source, cached):
        return True
    try:
        mode = py_compile.PycInvalidationMode.TIMESTAMP  # what _bytecode_current checks
        py_compile.compile(str(source), str(cached), doraise=True, invalidation_mode=mode)
    except (OSError, py_compile.PyCompileError) as exc:
        log.warning("the wrapper's bytecode was not written (%s): each job compiles it", exc)
        return False
    return True


#: Compiles the file given as first argument for the interpreter that runs it.
COMPILE = "import py_compile,sys;py_compile.compile(sys.argv[1],doraise=True)"


def environment(job: Job, job_dir: JobDir, path: str = wrapper.DEFAULT_PATH) -> dict[str, str]:
    """The wrapper's own environment: the job's base environment, no server variable."""
    return wrapper.base_environment(job.job_id, str(job_dir.path), path)


def _read_json(job_dir: JobDir, path: Path) -> dict[str, Any] | None:
    raw = jobfiles.read_or_none(job_dir.path, path.relative_to(job_dir.path), RECORD_MAX)
    try:
        data = json.loads(raw.decode("utf-8")) if raw is not None else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def read_exit(job_dir: JobDir) -> ExitStatus | None:
    """The script's exit status, or None if the wrapper has not written one (yet)."""
    data = _read_json(job_dir, job_dir.exit_file)
    if data is None or not isinstance(data.get("returncode"), int):
        return None
    ended = data.get("ended")
    return ExitStatus(data["returncode"], ended if isinstance(ended, str) else None)


def read_wrapper(job_dir: JobDir) -> WrapperRecord | None:
    """The wrapper's record of itself, or None if it has not started (yet)."""
    data = _read_json(job_dir, job_dir.wrapper_file)
    if data is None or not isinstance(data.get("pid"), int):
        return None
    ticks = data.get("start_ticks")
    pgid = data.get("pgid")
    return WrapperRecord(
        pid=data["pid"],
        pgid=pgid if isinstance(pgid, int) else data["pid"],
        start_ticks=ticks if isinstance(ticks, int) else None,
        host=str(data.get("host", "")),
    )


def is_running(pid: int, start_ticks: int | None, job_dir: JobDir | None = None) -> bool:
    """Whether ``pid`` is still the process we started (on this host).

    The start time guards against a PID reused by another process; without one, the process
    must be a wrapper of ``job_dir`` (its command line names the directory)."""
    ticks = wrapper.start_ticks(pid)
    if ticks is None:
        return False
    if start_ticks is not None:
        return ticks == start_ticks
    if job_dir is None:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            args = stream.read().split(b"\0")
    except OSError:
        return False
    return str(WRAPPER_SCRIPT).encode() in args and str(job_dir.path).encode() in args


def read_progress(job_dir: JobDir) -> float | None:
    """The fraction done that the script wrote to ``progress`` (clamped to 0..1), or None."""
    raw = jobfiles.read_or_none(job_dir.path, wrapper.PROGRESS_FILE, 64)
    try:
        value = float(raw.decode("ascii").strip()) if raw is not None else math.nan
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return min(max(value, 0.0), 1.0)


def job_info(process_id: str, job_dir: JobDir, host: str = HOST, **extra: Any) -> dict[str, Any]:
    """A job's jobInfo: the manager's process id, the host and, once written, ``progress``."""
    info: dict[str, Any] = {"process_id": process_id, "host": host, **extra}
    progress = read_progress(job_dir)
    if progress is not None:
        info["progress"] = progress
    return info


def signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to a process group; False if the group is gone."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        log.warning("not allowed to signal process group %d", pgid)
        return False
    return True
