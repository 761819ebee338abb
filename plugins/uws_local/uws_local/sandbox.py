"""Isolation of local jobs: each script runs in a bubblewrap sandbox that sees only what it needs.

Inside, a job sees the system's programs and libraries (read-only), a few files of /etc, its
own directory (read-write, its ``.uws/`` read-only), an empty /tmp in memory, /proc of its own
process namespace; nothing else: not the server's secret, database or ini file, not the other
jobs' directories, not the server's processes. It has no capabilities, shares the host's
network, and dies when its wrapper dies.

The wrapper stays outside and runs ``env --ignore-signal ... bwrap ... -- env
--default-signal ... bash script``: bwrap's outer process ignores the SIGTERM sent to the
job's process group (its death would otherwise kill the script at once, without the grace
period), while the script gets the usual signal dispositions back.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from uws_pyramid.api import BASH, TMP_DIR, ConfigurationError, JobDir

log = logging.getLogger(__name__)

BWRAP, NONE = "bwrap", "none"
ENV = "/usr/bin/env"
SIGNALS = "HUP,INT,TERM"
#: System folders bound read-only (a symbolic link such as /bin -> usr/bin is recreated).
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: What of /etc programs commonly need: users, name resolution, the dynamic linker,
#: alternatives, certificates, time zone. Not /etc as a whole: it may hold the service's ini
#: file and passwords, the munge key, SSH host keys.
ETC = (
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "host.conf",
    "resolv.conf",
    "gai.conf",
    "services",
    "protocols",
    "localtime",
    "timezone",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "ssl/certs",
    "ssl/openssl.cnf",
    "ca-certificates",
    "ca-certificates.conf",
    "mime.types",
    "magic",
    "bash.bashrc",
    "profile",
    "inputrc",
    "locale.alias",
    "fonts",
    "os-release",
    "debian_version",
)
UNAVAILABLE = (
    "jobs are NOT isolated from the server's files (secret, database, other jobs): "
    "bubblewrap cannot run here ({reason}); install it (apt-get install bubblewrap) "
    "or set uws.manager.sandbox = none to accept this"
)


def problems(setting: str, extra: tuple[str, ...]) -> list[str]:
    """For ``uws-admin check``: unisolated jobs that no setting asked for."""
    reason = None if setting == NONE else why_not(extra)
    return [] if reason is None else [UNAVAILABLE.format(reason=reason)]


@dataclass(frozen=True)
class Sandbox:
    """How to run a job's script in bubblewrap; ``extra``: more folders bound read-only."""

    bwrap: str
    extra: tuple[str, ...] = ()

    def launcher(self, job_dir: JobDir, script: Path) -> list[str]:
        """The command before ``bash <script>`` (the wrapper appends those two)."""
        work, meta = str(job_dir.path), str(job_dir.meta)
        tmp = os.path.join(meta, TMP_DIR)
        args = list(_system_part(self.bwrap, self.extra))
        args += [
            # A private /tmp first: the folders below may lie under the host's /tmp.
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "--ro-bind",
            str(script.parent),
            str(script.parent),
            "--bind",
            work,
            work,
            "--ro-bind",
            meta,
            meta,  # the contract's files: the script cannot forge them
            "--bind",
            tmp,
            tmp,  # TMPDIR
            "--chdir",
            work,
            "--remount-ro",
            "/",
            "--",
            ENV,
            f"--default-signal={SIGNALS}",
        ]
        return args


@functools.lru_cache(maxsize=8)
def _system_part(bwrap: str, extra: tuple[str, ...]) -> tuple[str, ...]:
    """The arguments that are the same for every job: bwrap and what of the host it shows.
    Looked at once (up to 14 stat calls a job otherwise): a system folder that appears or
    goes while the server runs (/lib32) is seen at its next start."""
    args = [
        ENV,
        f"--ignore-signal={SIGNALS}",
        bwrap,
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--cap-drop",
        "ALL",
    ]
    for folder in SYSTEM:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for folder in extra:
        args += ["--ro-bind", folder, folder]
    return tuple(args)


def resolve(setting: str, extra: tuple[str, ...]) -> Sandbox | None:
    """The sandbox of ``uws.manager.sandbox``: ``bwrap`` (refuse to start without it),
    ``none``, or empty: bubblewrap wherever it works, else a warning and none."""
    if setting == NONE:
        log.warning("uws.manager.sandbox = none: jobs run unisolated, as the server's user")
        return None
    bwrap = shutil.which(BWRAP) or ""
    reason = why_not(extra)
    if reason is None:
        log.info("local jobs run in a bubblewrap sandbox (%s)", bwrap)
        return Sandbox(bwrap, extra)
    if setting == BWRAP:
        raise ConfigurationError(
            f"uws.manager.sandbox = bwrap: bubblewrap cannot run here ({reason}); install it "
            f"(apt-get install bubblewrap) or set uws.manager.sandbox = none"
        )
    log.warning(UNAVAILABLE.format(reason=reason))
    return None


def why_not(extra: tuple[str, ...] = ()) -> str | None:
    """Why bubblewrap cannot isolate jobs here, or None if it can."""
    bwrap = shutil.which(BWRAP)
    return probe(bwrap, extra) if bwrap else "bwrap is not installed"


@functools.lru_cache(maxsize=8)
def probe(bwrap: str, extra: tuple[str, ...]) -> str | None:
    """Run a trivial job in the sandbox, as a real one runs; None if it worked, else why not."""
    with tempfile.TemporaryDirectory(prefix="uws-sandbox-probe-") as folder:
        job_dir = JobDir(Path(folder), "job")
        os.makedirs(os.path.join(job_dir.meta, TMP_DIR))
        script = Path(folder, "probe.sh")
        script.write_text("touch ran\n")
        command = Sandbox(bwrap, extra).launcher(job_dir, script) + [BASH, str(script)]
        try:
            done = subprocess.run(
                command, cwd=job_dir.path, capture_output=True, timeout=10, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        if done.returncode != 0 or not (job_dir.path / "ran").exists():
            message = done.stderr.decode(errors="replace").strip().splitlines()
            return message[-1] if message else f"status {done.returncode}"
    return None


def check_extra(paths: str) -> tuple[str, ...]:
    """The folders of ``uws.manager.sandbox_bind``: absolute, existing."""
    folders = tuple(paths.split())
    for folder in folders:
        if not os.path.isabs(folder) or not os.path.exists(folder):
            raise ConfigurationError(
                f"uws.manager.sandbox_bind: {folder!r} is not an existing absolute path"
            )
    return folders
