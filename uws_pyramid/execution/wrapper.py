"""The job wrapper: runs a job's script with a clean environment and records its exit status.

Usage: ``python -I -S wrapper.py <job_dir> <script> [<launcher> ...]`` (or ``python -m
uws_pyramid.execution.wrapper``); a launcher (a sandbox such as bubblewrap) runs the
script: ``<launcher> ... /bin/bash <script>``, and its status 128+N means signal N. Every job pays this program's start-up, so it imports
only what the interpreter has loaded anyway; it needs no package of the server, and so
runs unchanged on a batch node. Protocol, all files in ``<job_dir>/.uws/``:

- ``job.env`` (manager, before the start): ``NAME=value`` entries each ended by a NUL byte,
  like /proc/<pid>/environ: ``UWS_JOB_ID``, ``PATH``, then one entry per job parameter.
- ``wrapper.json`` (wrapper, at its start): pid, pgid, start_ticks (field 22 of
  /proc/<pid>/stat, against PID reuse), host, started (UTC, ISO 8601), script.
- ``stdout.txt``, ``stderr.txt``: the script's output; the wrapper's own complaints go to
  stderr.txt too, prefixed with "uws wrapper:".
- ``exit.json`` (wrapper, when the script ended): returncode (negative: killed by that
  signal, as in subprocess), ended. Written to a temporary file, synced, then renamed.
  A manager that finds the wrapper gone and no exit.json knows the job was killed.

Every file is created for the server's user alone (umask 077, inherited by the script), never
through a symbolic link. If the disk is full, the wrapper removes its temporary file and
exits with NO_SPACE_STATUS without an exit.json.
"""

# ``posix`` is the built-in module behind ``os``: the same functions without importing ``os``
# and ``posixpath`` (``-S`` spares the interpreter that import; ~1 ms of every job's CPU).
# Nor ``from __future__ import annotations``: the annotations below are valid at run time
# (quoted where they would not be on the Python 3.9 of a batch node).
import posix
import sys
import time

try:  # the C module behind ``signal``: the same functions, without importing enum (~10 ms)
    import _signal as signal
except ImportError:  # pragma: no cover - other Python implementations
    import signal  # type: ignore[no-redef]

# No ``logging`` here (its import would double the start-up): this program reports through
# the files of the protocol; the server logs what it reads from them.

META = ".uws"
JOB_FILE = "job.env"
WRAPPER_FILE = "wrapper.json"
EXIT_FILE = "exit.json"
STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"
TMP_DIR = "tmp"  # the script's TMPDIR, inside META
PARAMETERS_FILE = "parameters.json"  # in the working directory, for scripts
PROGRESS_FILE = "progress"  # in the working directory, written by scripts: a fraction 0..1

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
BASH = "/bin/bash"
#: The wrapper's status when the disk was full (ENOSPC's errno number), without an exit.json.
NO_SPACE_STATUS = 28
_FULL = (28, 122)  # ENOSPC, EDQUOT (no ``errno`` import: start-up time)

# Variables that the contract sets, or that change how bash, the dynamic linker or common
# interpreters behave before the script's first line (bash itself sources $BASH_ENV).
RESERVED = frozenset(
    "PATH HOME LANG TMPDIR PWD OLDPWD SHELL IFS ENV CDPATH GLOBIGNORE PS4 SHELLOPTS BASHOPTS "
    "PROMPT_COMMAND POSIXLY_CORRECT TZ PERL5LIB PERL5OPT RUBYOPT NODE_OPTIONS".split()
)
RESERVED_PREFIXES = ("UWS_", "BASH", "LD_", "LC_", "PYTHON")


DEVNULL = "/dev/null"


def _join(*parts: str) -> str:
    """``os.path.join`` for the wrapper's own relative names."""
    return "/".join(part.rstrip("/") if i == 0 else part for i, part in enumerate(parts)) or "/"


def _absolute(path: str) -> str:
    """``os.path.abspath``: absolute, without ``.``, ``..`` or repeated slashes."""
    if not path.startswith("/"):
        path = posix.getcwd() + "/" + path
    kept: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if kept:
                kept.pop()
        elif part and part != ".":
            kept.append(part)
    return "/" + "/".join(kept)


def _make_dir(path: str) -> None:
    """``os.makedirs(path, exist_ok=True)`` for a folder whose parent exists."""
    try:
        posix.mkdir(path, 0o777)
    except FileExistsError:
        if posix.stat(path).st_mode & 0o170000 != 0o040000:  # not a folder
            raise


def reserved(name: str) -> bool:
    return name in RESERVED or name.upper().startswith(RESERVED_PREFIXES)


def host() -> str:
    return posix.uname().nodename


def base_environment(job_id: str, job_dir: str, path: str = DEFAULT_PATH) -> dict[str, str]:
    """The whole environment of a job's processes, parameters excepted: nothing inherited."""
    return {
        "PATH": path,
        "HOME": job_dir,
        "LANG": "C.UTF-8",
        "TMPDIR": _join(job_dir, META, TMP_DIR),
        "UWS_JOB_ID": job_id,
        "UWS_JOB_DIR": job_dir,
    }


def script_environment(job_dir: str, entries: bytes) -> dict[str, str]:
    """The script's environment from the manager's ``job.env``; ValueError if it is unsafe."""
    given: dict[str, str] = {}
    for entry in entries.split(b"\0"):
        if entry:
            name, sep, value = entry.decode("utf-8", "surrogateescape").partition("=")
            if not sep:
                raise ValueError(f"malformed entry in {JOB_FILE}")
            given[name] = value
    env = base_environment(given.pop("UWS_JOB_ID", ""), job_dir, given.pop("PATH", DEFAULT_PATH))
    for name, value in given.items():
        if not (name.isidentifier() and name.isascii()) or reserved(name):
            raise ValueError(f"parameter name {name!r} cannot be an environment variable")
        env[name] = value
    return env


def start_ticks(pid: int) -> "int | None":  # noqa: UP037
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


def _json(value: object) -> str:
    """JSON for None, int and str (the json module's import costs more than this program)."""
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    out = []
    for char in str(value).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace"):
        if " " <= char < "\x7f" and char not in '"\\':
            out.append(char)
        else:
            units = char.encode("utf-16-be", "surrogatepass")
            out.extend(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))
    return '"' + "".join(out) + '"'


def write_record(path: str, record: dict[str, object], sync: bool = False) -> None:
    """Write a JSON object atomically (temporary file, then rename); ``sync`` makes it
    survive a crash of the host as well."""
    text = "{" + ", ".join(f"{_json(k)}: {_json(v)}" for k, v in record.items()) + "}\n"
    temporary = f"{path}.{posix.getpid()}.tmp"
    try:
        posix.unlink(temporary)  # left by a crash of a process with our pid
    except FileNotFoundError:
        pass
    flags = posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_NOFOLLOW
    fd = posix.open(temporary, flags, 0o600)
    try:
        try:
            data = text.encode("ascii")
            while data:
                data = data[posix.write(fd, data) :]
            if sync:
                posix.fsync(fd)
        finally:
            posix.close(fd)
        posix.replace(temporary, path)
    except BaseException:
        posix.unlink(temporary)
        raise


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def run(job_dir: str, script: str, launcher: "list[str] | None" = None) -> int:  # noqa: UP037
    """Run ``script`` in ``job_dir`` as the protocol says (through ``launcher`` if given);
    return its returncode."""
    meta = _join(job_dir, META)
    me = posix.getpid()
    write_record(
        _join(meta, WRAPPER_FILE),
        {
            "pid": me,
            "pgid": posix.getpgrp(),
            "start_ticks": start_ticks(me),
            "host": host(),
            "started": _now(),
            "script": script,
        },
    )
    flags = posix.O_WRONLY | posix.O_CREAT | posix.O_APPEND | posix.O_NOFOLLOW
    out = posix.open(_join(meta, STDOUT_FILE), flags, 0o600)
    err = posix.open(_join(meta, STDERR_FILE), flags, 0o600)
    try:
        with open(_join(meta, JOB_FILE), "rb") as stream:
            env = script_environment(job_dir, stream.read())
    except (OSError, ValueError) as exc:
        posix.write(err, f"uws wrapper: cannot prepare the job: {exc}\n".encode())
        return 1
    _make_dir(env["TMPDIR"])
    child = 0
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        # Stay alive to record the exit status: pass the signal on to the script (its process
        # group, ours, usually received it as well).
        nonlocal stopping
        stopping = True
        if child:
            posix.kill(child, signum)

    stopped = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    for signum in stopped:
        signal.signal(signum, on_signal)
    devnull = posix.open(DEVNULL, posix.O_RDONLY)
    command = [*(launcher or ()), BASH, script]
    child = posix.posix_spawn(
        command[0],
        command,
        env,
        file_actions=[
            (posix.POSIX_SPAWN_DUP2, devnull, 0),
            (posix.POSIX_SPAWN_DUP2, out, 1),
            (posix.POSIX_SPAWN_DUP2, err, 2),
        ],
        setsigdef=stopped,
    )
    if stopping:
        posix.kill(child, signal.SIGTERM)
    _, status = posix.waitpid(child, 0)
    try:
        posix.rmdir(env["TMPDIR"])
    except OSError:
        pass  # not empty: the job directory's removal takes it
    returncode = posix.waitstatus_to_exitcode(status)
    if launcher and 128 < returncode < 128 + signal.NSIG:
        returncode = 128 - returncode  # the launcher's "killed by signal N"
    return returncode


def _full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _FULL


def main(argv: list[str]) -> int:
    """Exit with the script's status (128+N when signal N killed it)."""
    if len(argv) < 2:
        sys.stderr.write("usage: wrapper.py <job_dir> <script> [<launcher> ...]\n")
        return 2
    posix.umask(0o077)
    job_dir = _absolute(argv[0])
    posix.chdir(job_dir)
    try:
        try:
            returncode = run(job_dir, argv[1], argv[2:])
        except Exception as exc:  # the server must learn of any failure through the exit file
            if _full(exc):
                return NO_SPACE_STATUS
            flags = posix.O_WRONLY | posix.O_CREAT | posix.O_APPEND | posix.O_NOFOLLOW
            err = posix.open(_join(job_dir, META, STDERR_FILE), flags, 0o600)
            try:
                posix.write(err, f"uws wrapper: {type(exc).__name__}: {exc}\n".encode())
            finally:
                posix.close(err)
            returncode = 1
        write_record(
            _join(job_dir, META, EXIT_FILE),
            {"returncode": returncode, "ended": _now()},
            sync=True,
        )
    except OSError as exc:
        if _full(exc):
            return NO_SPACE_STATUS  # no exit.json: the server reads this status
        raise
    return returncode if returncode >= 0 else 128 - returncode


def leave(status: int) -> None:
    """Exit with ``status`` at once: the interpreter's finalization (a garbage collection,
    every module torn down) is work for nothing here, ~1 ms of every job's CPU. This
    program writes through file descriptors; only sys.stdout and sys.stderr buffer."""
    sys.stdout.flush()
    sys.stderr.flush()
    posix._exit(status)


if __name__ == "__main__":
    leave(main(sys.argv[1:]))
