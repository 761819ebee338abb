"""Isolation of local jobs: each script runs in a bubblewrap sandbox that sees only what it needs.

Inside, a job sees the system's programs and libraries (read-only), a few files of /etc, its
own directory (read-write, its ``.uws/`` read-only), an empty /tmp in memory, /proc of its own
process namespace; nothing else: not the server's secret, database or ini file, not the other
jobs' directories, not the server's processes. It has no capabilities and dies when its
wrapper dies. It has no network (a namespace of its own, loopback down): not the database
server nor the service's own port on this host. ``uws.manager.sandbox_network = host`` gives
jobs the host's network, for job types that fetch their data.

The wrapper stays outside and runs ``env --ignore-signal ... bwrap ... -- env
--default-signal ... bash script``: bwrap's outer process ignores the SIGTERM sent to the
job's process group (its death would otherwise kill the script at once, without the grace
period), while the script gets the usual signal dispositions back.

Each mount costs the sandbox's start (~0.16 ms of CPU): the files of /etc a job sees are
copies kept in one private folder of the server's user (``EtcView``), bound as /etc in one
mount, and only the folders among them are bound each on its own.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from uws_pyramid.api import BASH, TMP_DIR, ConfigurationError, JobDir, contract

log = logging.getLogger(__name__)

BWRAP, NONE, HOST = "bwrap", "none", "host"
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


def problems(setting: str, extra: tuple[str, ...], network: bool = False) -> list[str]:
    """For ``uws-admin check``: unisolated jobs that no setting asked for."""
    reason = None if setting == NONE else why_not(extra, network)
    return [] if reason is None else [UNAVAILABLE.format(reason=reason)]


@dataclass(frozen=True)
class Sandbox:
    """How to run a job's script in bubblewrap; ``extra``: more folders bound read-only."""

    bwrap: str
    extra: tuple[str, ...] = ()
    network: bool = False  # the host's network (uws.manager.sandbox_network = host)

    def launcher(self, job_dir: JobDir, script: Path) -> list[str]:
        """The command before ``bash <script>`` (the wrapper appends those two)."""
        work, meta = str(job_dir.path), str(job_dir.meta)
        tmp = os.path.join(meta, TMP_DIR)
        args = list(_system_part(self.bwrap, self.network))
        args += etc_binds()
        for folder in self.extra:
            args += ["--ro-bind", folder, folder]
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
def _system_part(bwrap: str, network: bool) -> tuple[str, ...]:
    """The first arguments, the same for every job: bwrap and the system's folders.
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
    if not network:
        args.append("--unshare-net")  # ~1.1 ms of CPU per job
    for folder in SYSTEM:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    return tuple(args)


#: Seconds between two looks at /etc for changed files (a job started in between sees the
#: copy of the file as it was at the last look).
ETC_REFRESH = 1.0


@dataclass
class EtcView:
    """The /etc of the sandbox: a copy of each file of ETC (a link's target), and an empty
    folder for each folder of ETC, which the sandbox binds from the host one by one.

    One mount for all the files instead of one each: ~3.5 ms less of CPU per job. Copies
    follow the host's files (by modification time, size, inode) within ETC_REFRESH
    seconds; a view removed meanwhile (a cleaner of old files) is made again."""

    path: Path
    source: Path = Path("/etc")
    folders: tuple[str, ...] = ()
    _copied: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    _checked: float = float("-inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self) -> EtcView:
        """The view, refreshed if ETC_REFRESH seconds have passed or it is gone;
        PermissionError if its folder is not a private folder of this user."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= ETC_REFRESH or not self._present():
                self._refresh()
                self._checked = now
        return self

    def _present(self) -> bool:
        """Whether the folder is there; PermissionError unless it is ours alone (another
        user could have made it first, to give our jobs an /etc of theirs)."""
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return False
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise PermissionError(f"{self.path} is not a private folder of this user")
        return True

    def _refresh(self) -> None:
        if not self._present():
            self._copied.clear()
            try:
                self.path.mkdir(mode=0o700)
            except FileExistsError:
                self._present()  # made meanwhile (another server process): ours?
        folders = []
        for name in ETC:
            try:
                info = os.stat(self.source / name)  # through a link: what programs read
            except OSError:
                self._forget(name)
                continue
            if stat.S_ISDIR(info.st_mode):
                (self.path / name).mkdir(mode=0o700, parents=True, exist_ok=True)
                folders.append(name)  # its mount point: bound from the host
            elif stat.S_ISREG(info.st_mode):
                self._copy(name, (info.st_mtime_ns, info.st_size, info.st_ino))
        self.folders = tuple(folders)

    def _copy(self, name: str, key: tuple[int, int, int]) -> None:
        target = self.path / name
        if self._copied.get(name) == key and target.is_file():
            return
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # A rename: a job starting meanwhile sees the old copy or the new one, whole.
        contract.write_private(target, (self.source / name).read_bytes())
        self._copied[name] = key

    def _forget(self, name: str) -> None:
        if self._copied.pop(name, None) is not None:
            (self.path / name).unlink(missing_ok=True)


_view: EtcView | None = None
_view_lock = threading.Lock()


def etc_view() -> EtcView:
    """The view of /etc (refreshed), in a private folder of the system's temporary folder
    (not in the jobs' folder: its space is the jobs'), one per user. Never removed: jobs
    outlive the server that started them, and their /etc is that folder."""
    global _view
    with _view_lock:
        if _view is None:
            _view = EtcView(Path(tempfile.gettempdir(), f"uws-sandbox-etc-{os.getuid()}"))
    return _view.current()


def etc_binds() -> list[str]:
    """The arguments that show ETC in the sandbox: the view and the folders of ETC or, if
    the view cannot be refreshed now (a full disk), each entry of ETC bound from the host."""
    try:
        view = etc_view()
    except OSError as exc:
        log.warning("the sandbox's copy of /etc was not refreshed (%s): binding each file", exc)
        return [arg for name in ETC for arg in ("--ro-bind-try", f"/etc/{name}", f"/etc/{name}")]
    args = ["--ro-bind", str(view.path), "/etc"]
    for name in view.folders:
        args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return args


def resolve(setting: str, extra: tuple[str, ...], network: bool = False) -> Sandbox | None:
    """The sandbox of ``uws.manager.sandbox``: ``bwrap`` (refuse to start without it),
    ``none``, or empty: bubblewrap wherever it works, else a warning and none."""
    if setting == NONE:
        log.warning("uws.manager.sandbox = none: jobs run unisolated, as the server's user")
        return None
    bwrap = shutil.which(BWRAP) or ""
    reason = why_not(extra, network)
    if reason is None:
        log.info(
            "local jobs run in a bubblewrap sandbox (%s), %s",
            bwrap,
            "with the host's network" if network else "without network",
        )
        return Sandbox(bwrap, extra, network)
    if setting == BWRAP:
        raise ConfigurationError(
            f"uws.manager.sandbox = bwrap: bubblewrap cannot run here ({reason}); install it "
            f"(apt-get install bubblewrap) or set uws.manager.sandbox = none"
        )
    log.warning(UNAVAILABLE.format(reason=reason))
    return None


def why_not(extra: tuple[str, ...] = (), network: bool = False) -> str | None:
    """Why bubblewrap cannot isolate jobs here, or None if it can."""
    bwrap = shutil.which(BWRAP)
    return probe(bwrap, extra, network) if bwrap else "bwrap is not installed"


@functools.lru_cache(maxsize=8)
def probe(bwrap: str, extra: tuple[str, ...], network: bool = False) -> str | None:
    """Run a trivial job in the sandbox, as a real one runs; None if it worked, else why not."""
    with tempfile.TemporaryDirectory(prefix="uws-sandbox-probe-") as folder:
        job_dir = JobDir(Path(folder), "job")
        os.makedirs(os.path.join(job_dir.meta, TMP_DIR))
        script = Path(folder, "probe.sh")
        script.write_text("touch ran\n")
        command = Sandbox(bwrap, extra, network).launcher(job_dir, script) + [BASH, str(script)]
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
