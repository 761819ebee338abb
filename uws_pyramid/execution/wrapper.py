"""The job wrapper: runs a job's script with a clean environment and records its exit status."""
# This module is run as a file (``python -I -S wrapper.py``) or with ``python -m``; it uses
# the standard library only, so it starts fast and runs on a batch node without the server's
# packages. It also defines the file protocol that the server side (``contract``) reads.
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

META = ".uws"  # the contract's folder inside the job directory
JOB_FILE = "job.json"  # written by the manager: job id, parameters, PATH
WRAPPER_FILE = "wrapper.json"  # written by the wrapper at start: pid, pgid, start ticks, host
EXIT_FILE = "exit.json"  # written by the wrapper when the script ended: returncode, time
STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"
TMP_DIR = "tmp"  # the script's TMPDIR, inside META
PARAMETERS_FILE = "parameters.json"  # in the working directory, for scripts
PROGRESS_FILE = "progress"  # in the working directory, written by scripts: a fraction 0..1

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
BASH = "/bin/bash"

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Variables that the contract sets, or that change how bash, the dynamic linker or common
# interpreters behave before the script's first line (BASH_ENV is sourced by bash itself).
RESERVED = frozenset(
    "PATH HOME LANG TMPDIR PWD OLDPWD SHELL IFS ENV CDPATH GLOBIGNORE PS4 SHELLOPTS BASHOPTS "
    "PROMPT_COMMAND POSIXLY_CORRECT TZ PERL5LIB PERL5OPT RUBYOPT NODE_OPTIONS".split()
)
RESERVED_PREFIXES = ("UWS_", "BASH", "LD_", "LC_", "PYTHON")


def check_name(name: str) -> None:
    """Raise ValueError unless ``name`` can be a parameter's environment variable."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"parameter name {name!r} is not an identifier")
    if name in RESERVED or name.upper().startswith(RESERVED_PREFIXES):
        raise ValueError(f"parameter name {name!r} is reserved for the job's environment")


def check_value(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise ValueError(f"parameter {name}: value {value!r} is not a string")
    if "\x00" in value:
        raise ValueError(f"parameter {name}: a NUL character cannot reach the script")


def base_environment(job_id: str, job_dir: str, path: str = DEFAULT_PATH) -> dict[str, str]:
    """The whole environment of a job's processes, parameters excepted: nothing inherited."""
    return {
        "PATH": path,
        "HOME": job_dir,
        "LANG": "C.UTF-8",
        "TMPDIR": os.path.join(job_dir, META, TMP_DIR),
        "UWS_JOB_ID": job_id,
        "UWS_JOB_DIR": job_dir,
    }


def script_environment(
    job_id: str, job_dir: str, parameters: dict[str, str], path: str = DEFAULT_PATH
) -> dict[str, str]:
    """The script's environment: the base one plus one variable per parameter, as data."""
    env = base_environment(job_id, job_dir, path)
    for name, value in parameters.items():
        check_name(name)
        check_value(name, value)
        env[name] = value
    return env


def write_json(path: Path, data: Any, sync: bool = False) -> None:
    """Write ``path`` atomically (a temporary file, then a rename), so readers never see half;
    ``sync`` also makes it survive a crash of the host."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as stream:
        json.dump(data, stream)
        if sync:
            stream.flush()
            os.fsync(stream.fileno())
    os.replace(temporary, path)


def start_ticks(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks after boot (/proc/<pid>/stat field 22),
    or None if there is no such live process (zombies count as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            stat = stream.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces and parentheses.
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
        return None
    return int(fields[19])


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def run(job_dir: Path, script: str) -> int:
    """Run ``script`` in ``job_dir`` as the contract says; return its Popen-style returncode."""
    meta = job_dir / META
    me = os.getpid()
    write_json(meta / WRAPPER_FILE, {
        "pid": me, "pgid": os.getpgrp(), "start_ticks": start_ticks(me),
        "host": socket.gethostname(), "started": _now(), "script": script,
    })
    with open(meta / STDOUT_FILE, "ab") as out, open(meta / STDERR_FILE, "ab") as err:
        try:
            spec = json.loads((meta / JOB_FILE).read_text(encoding="utf-8"))
            env = script_environment(
                str(spec["job_id"]), str(job_dir), dict(spec.get("parameters", {})),
                str(spec.get("path") or DEFAULT_PATH),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            err.write(f"uws wrapper: cannot prepare the job: {exc}\n".encode())
            return 1
        tmp = meta / TMP_DIR
        tmp.mkdir(exist_ok=True)
        child: subprocess.Popen[bytes] | None = None
        stopping = False

        def on_term(signum: int, _frame: object) -> None:
            # Stay alive to record the exit status: pass the signal to the script, whose
            # process group (ours) usually received it as well.
            nonlocal stopping
            stopping = True
            if child is not None and child.returncode is None:
                os.kill(child.pid, signum)

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        signal.signal(signal.SIGHUP, on_term)
        if stopping:
            return -signal.SIGTERM
        child = subprocess.Popen(
            [BASH, script], cwd=job_dir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        if stopping and child.returncode is None:
            os.kill(child.pid, signal.SIGTERM)
        returncode = child.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        return returncode


def main(argv: list[str]) -> int:
    """``wrapper.py <job_dir> <script>``: exits with the script's status (128+N for signal N)."""
    if len(argv) != 2:
        print("usage: wrapper.py <job_dir> <script>", file=sys.stderr)
        return 2
    job_dir = Path(argv[0]).absolute()
    os.chdir(job_dir)
    try:
        returncode = run(job_dir, argv[1])
    except Exception as exc:  # the server must learn of any failure through the exit file
        try:
            with open(job_dir / META / STDERR_FILE, "a", encoding="utf-8") as err:
                err.write(f"uws wrapper: {type(exc).__name__}: {exc}\n")
        except OSError:
            print(f"uws wrapper: {type(exc).__name__}: {exc}", file=sys.stderr)
        returncode = 1
    write_json(job_dir / META / EXIT_FILE, {"returncode": returncode, "ended": _now()}, sync=True)
    return returncode if returncode >= 0 else 128 - returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
