"""Benchmark helpers: start servers in their own processes, drive them with N client processes."""

from __future__ import annotations

import http.client
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from uws_pyramid.testing import write_ini

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def callgrind(out: Path, *command: str) -> list[str]:
    """``command`` run under valgrind's callgrind, which writes its counts to ``out``."""
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command]


def callgrind_total(out: Path) -> int | None:
    """The total instructions of a callgrind output (None: not written yet)."""
    found = re.search(r"^(?:summary|totals): (\d+)", out.read_text(errors="replace"), re.MULTILINE)
    return int(found.group(1)) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"no server on port {port} after {timeout} s")


@contextmanager
def running(command: list[str], port: int, with_pid: bool = False, **popen: Any) -> Iterator[Any]:
    """Run a server process listening on ``port``; yield its base URL (and process id);
    stop it after."""
    proc = subprocess.Popen(command, **popen)
    try:
        wait_until_up(port)
        base = f"http://127.0.0.1:{port}"
        yield (base, proc.pid) if with_pid else base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def uws_server(settings: dict[str, str], threads: int = 8, with_pid: bool = False) -> Iterator[Any]:
    """``pserve`` on a temporary ini with these ``uws.*`` settings; yields the base URL
    (and the server's process id)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        ini = write_ini(Path(tmp) / "bench.ini", settings, port, threads)
        with running([str(BIN / "pserve"), str(ini)], port, with_pid, cwd=tmp) as started:
            yield started


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux: /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loop_cpu_seconds(pid: int) -> float:
    """CPU time of a server's main thread, which runs waitress's socket loop (the workers
    run the app)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def context_switches(pid: int) -> int:
    """Context switches of all a process's threads so far, voluntary or not: each wait for
    the GIL that blocks is one (Linux: /proc/<pid>/task/*/status)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            lines = (task / "status").read_text().splitlines()
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
        total += sum(int(line.split()[1]) for line in lines if "ctxt_switches:" in line)
    return total


def server_memory(pid: int) -> int:
    """Peak resident memory of a server process, in bytes (Linux: VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


@contextmanager
def trivial_server(
    threads: int = 8, app: str = "trivial:app", with_pid: bool = False
) -> Iterator[Any]:
    """The ceiling: a WSGI app that answers "ok" at once, under the same waitress (or
    ``barepyramid:app``, the same answers routed by Pyramid); yields the base URL (and the
    server's process id)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "bench")}
    command = [
        str(BIN / "waitress-serve"),
        f"--listen=127.0.0.1:{port}",
        f"--threads={threads}",
        app,
    ]
    with running(command, port, with_pid, env=env, stderr=subprocess.DEVNULL) as started:
        yield started


Request = Callable[[int], tuple[str, str, bytes | None]]  # i -> (method, path, body)


def _client(
    base: str,
    make: Request,
    seconds: float,
    seed: int,
    extra: dict[str, str],
    out: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **extra}
    times: list[float] = []
    failed, i = 0, seed * 1_000_000
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        method, path, body = make(i)
        i += 1
        t0 = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        times.append(time.perf_counter() - t0)
        if response.status >= 400:
            failed += 1
    out.put((times, failed))


def latencies(
    bases: str | list[str],
    make: Request,
    clients: int = 8,
    seconds: float = 5.0,
    headers: dict[str, str] | None = None,
) -> list[float]:
    """Seconds of every request of ``clients`` processes, each on one keep-alive connection
    (to the servers of ``bases`` in turn)."""
    targets = [bases] if isinstance(bases, str) else bases
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    procs = [
        multiprocessing.Process(
            target=_client,
            args=(targets[n % len(targets)], make, seconds, n, headers or {}, queue),
        )
        for n in range(clients)
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    times = [t for r in results for t in r[0]]
    failed = sum(r[1] for r in results)
    if failed:
        raise RuntimeError(f"{failed} of {len(times)} requests failed")
    return times


def throughput(
    base: str,
    make: Request,
    clients: int = 8,
    seconds: float = 5.0,
    headers: dict[str, str] | None = None,
) -> float:
    """Requests per second of ``clients`` processes, each on one keep-alive connection."""
    return len(latencies(base, make, clients, seconds, headers)) / seconds


def timed(base: str, path: str, repeat: int = 5) -> float:
    """Median seconds of one GET of ``path`` (one client)."""
    url = urlsplit(base)
    times = []
    for _ in range(repeat):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        t0 = time.perf_counter()
        conn.request("GET", path)
        body = conn.getresponse().read()
        times.append(time.perf_counter() - t0)
        conn.close()
        assert body
    return statistics.median(times)
