"""Hosts for the deployment test: network namespaces on one bridge, and the daemons on them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

#: The private network: the bridge (this namespace: database, SLURM login node) and two hosts.
SUBNET = "10.77.0"
LOGIN_HOST, APP_HOST, PROXY_HOST = f"{SUBNET}.1", f"{SUBNET}.2", f"{SUBNET}.3"


def run(*argv: str, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60, **kwargs)  # type: ignore[call-overload]


def missing_tools() -> list[str]:
    need = ("ip", "nginx", "sshd", "ssh", "ssh-keygen", "sbatch", "runuser")
    lacking = [tool for tool in need if shutil.which(tool) is None]
    if os.getuid() != 0:
        lacking.append("root (for network namespaces)")
    return lacking


@dataclass
class Network:
    """A bridge in this namespace and one namespace (a "host") per address on it."""

    tag: str = field(default_factory=lambda: f"{os.getpid() % 100000}")
    hosts: dict[str, str] = field(default_factory=dict)  # namespace -> address

    @property
    def bridge(self) -> str:
        return f"uwsbr{self.tag}"

    def up(self) -> None:
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{LOGIN_HOST}/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")

    def add_host(self, name: str, address: str) -> str:
        netns, outside, inside = f"uws-{name}-{self.tag}", f"uws{name[0]}o{self.tag}", "eth0"
        run("ip", "netns", "add", netns)
        self.hosts[netns] = address
        run(
            "ip", "link", "add", outside, "type", "veth", "peer", "name", f"uws{name[0]}i{self.tag}"
        )
        run("ip", "link", "set", f"uws{name[0]}i{self.tag}", "netns", netns)
        run("ip", "link", "set", outside, "master", self.bridge)
        run("ip", "link", "set", outside, "up")
        ns = ("ip", "netns", "exec", netns)
        run(*ns, "ip", "link", "set", f"uws{name[0]}i{self.tag}", "name", inside)
        run(*ns, "ip", "addr", "add", f"{address}/24", "dev", inside)
        run(*ns, "ip", "link", "set", inside, "up")
        run(*ns, "ip", "link", "set", "lo", "up")
        return netns

    def down(self) -> None:
        for netns in self.hosts:
            # Whatever still runs there (a server a test failed to stop) goes with it.
            pids = run("ip", "netns", "pids", netns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            run("ip", "netns", "del", netns, check=False)
        run("ip", "link", "del", self.bridge, check=False)


def wait_port(
    host: str,
    port: int,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    timeout: float = 30.0,
) -> None:
    """Until ``host:port`` accepts connections (seen from this namespace); an error with the
    end of ``log`` if ``process`` ends first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            ended = process is not None and process.poll() is not None
            if ended or time.monotonic() > deadline:
                tail = log.read_text()[-2000:] if log and log.exists() else ""
                raise TimeoutError(f"nothing listens on {host}:{port}\n{tail}") from None
            time.sleep(0.2)


@contextmanager
def daemon(
    argv: Sequence[str], log: Path, netns: str | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A process in the background (in ``netns``), stopped with SIGTERM (then SIGKILL)."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*prefix, *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pg_bin(name: str) -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not versions:
        raise FileNotFoundError(f"PostgreSQL's {name} is not installed")
    return str(versions[-1])


@contextmanager
def postgres(listen: Sequence[str], port: int) -> Iterator[str]:
    """A PostgreSQL instance of the test's own on ``listen`` addresses (trust auth, also for
    the private network); yields the admin URL's host part."""
    # Not under pytest's folders: those are private to root, and PostgreSQL runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="uws-deploy-pg-"))
    data = folder / "data"
    shutil.chown(folder, "postgres")
    as_postgres = ("runuser", "-u", "postgres", "--")  # initdb refuses root
    run(*as_postgres, pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {SUBNET}.0/24 trust\n")
    run(
        *as_postgres,
        pg_bin("pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(folder / "log"),
        "-w",
        "-o",
        f"-p {port} -k {folder} -c listen_addresses='{','.join(listen)}'",
        "start",
    )
    try:
        yield f"postgres@{listen[-1]}:{port}"
    finally:
        run(
            *as_postgres,
            pg_bin("pg_ctl"),
            "-D",
            str(data),
            "-m",
            "immediate",
            "-w",
            "stop",
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def sshd(folder: Path, address: str, port: int, client_key: Path) -> Iterator[None]:
    """An ssh server for root, by key only, on ``address:port``: the SLURM login node."""
    folder.mkdir(parents=True)
    host_key = folder / "host_key"
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key))
    client_key.parent.mkdir(parents=True, exist_ok=True)
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(client_key))
    authorized = folder / "authorized_keys"
    authorized.write_text(Path(f"{client_key}.pub").read_text())
    config = folder / "sshd_config"
    config.write_text(
        f"ListenAddress {address}\nPort {port}\nHostKey {host_key}\n"
        f"PidFile {folder / 'sshd.pid'}\nAuthorizedKeysFile {authorized}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # its privilege separation folder
    with daemon(
        [shutil.which("sshd") or "sshd", "-D", "-e", "-f", str(config)], folder / "sshd.log"
    ) as process:
        wait_port(address, port, process, folder / "sshd.log")
        yield


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
