"""Local manager benchmark: echo jobs through the REST API with max_running = 2 and 8.

Target (issue 14): 1,000 echo jobs at max_running = 8, create to COMPLETED, >= 100 jobs/s:
``--jobs 1000 --max-running 8 --no-idle``.

Reports jobs/s completed and the median and p99 of RUN-to-EXECUTING and RUN-to-COMPLETED
(RUN is sent with the creation POST; start and end times are the server's own), and the
CPU time per job of the server and of the job processes (figures that resist the machine's
other load better than jobs/s): those the server waited for, and those orphaned on the way
(bubblewrap's namespace init, reaped here: this process is their subreaper).
Usage: python bench/bench_local.py [--jobs 500] [--clients 8] [--sandbox bwrap|none] [--tmp DIR]
"""

from __future__ import annotations

import argparse
import ctypes
import http.client
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import ROOT, uws_server  # noqa: E402

#: One kept-alive connection per client thread: a connection per request would cost the
#: server an accept and a close each time, and the benchmark would measure them.
_connections = threading.local()


def request(base: str, method: str, path: str, body: bytes | None = None) -> tuple[int, Any, bytes]:
    """Send one request on this thread's connection; return status, headers and body."""
    netloc = urlsplit(base).netloc
    if getattr(_connections, "netloc", None) != netloc:  # a new server (the last one stopped)
        _connections.connection = http.client.HTTPConnection(netloc)
        _connections.netloc = netloc
    connection = _connections.connection
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.headers, response.read()


def submit(base: str) -> tuple[str, float]:
    sent = time.time()
    status, headers, _ = request(base, "POST", "/rest/echo", b"message=bench&PHASE=RUN")
    if status != 303:
        raise RuntimeError(f"no redirect after creation: {status}")
    return urlsplit(headers["Location"]).path, sent


FINAL = ("COMPLETED", "ERROR", "ABORTED")


def final(base: str, path: str) -> dict[str, Any]:
    """The job once it has ended. A WAIT answers at once for a job that has ended already
    (UWS 1.1), else at its next phase change: one request for most jobs."""
    while True:
        _, _, body = request(base, "GET", f"{path}?WAIT=30")
        doc: dict[str, Any] = json.loads(body)
        if doc["phase"] in FINAL:
            return doc


def seconds(text: object) -> float:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


SANDBOX = ""  # uws.manager.sandbox: "" (auto), bwrap or none
#: Where the database and the jobs' directories go (None: the system's temporary folder).
#: Each job creates about ten files and folders: a file system whose creations are slow
#: (busy with others' files) shows in both CPU figures.
TMP: str | None = None


def run(max_running: int, count: int, clients: int) -> None:
    with tempfile.TemporaryDirectory(dir=TMP) as tmp:
        settings = {
            "uws.storage.path": f"{tmp}/uws.sqlite",
            "uws.manager": "local",
            "uws.manager.max_running": str(max_running),
            "uws.jdl_dir": str(ROOT / "jdl"),
            "uws.auth.anonymous": "true",
            "uws.workdir": f"{tmp}/jobs",
            "uws.background": "false",
            "uws.manager.sandbox": SANDBOX,
        }
        become_subreaper()
        with uws_server(settings, threads=16, with_pid=True) as (base, pid):
            threading.Thread(target=reap_orphans, args=(pid,), daemon=True).start()
            cpu0, orphans0 = cpu_seconds(pid), orphans_cpu()
            t0 = time.time()
            with ThreadPoolExecutor(clients) as pool:
                submitted = list(pool.map(lambda _: submit(base), range(count)))
            # One blocking WAIT per unfinished job, oldest first (jobs start in that order):
            # a poll of every job several times a second would load the server it measures.
            done = {url: final(base, url) for url, _ in submitted}
            sent = dict(submitted)
            bad = [d for d in done.values() if d["phase"] != "COMPLETED"]
            ends = [seconds(d["endTime"]) for d in done.values()]
            to_exec = [seconds(d["startTime"]) - sent[u] for u, d in done.items()]
            to_done = [seconds(d["endTime"]) - sent[u] for u, d in done.items()]
            rate = count / (max(ends) - t0)
            server, jobs = (b - a for a, b in zip(cpu0, cpu_seconds(pid)))
            orphans = orphans_cpu() - orphans0
            print(
                f"max_running={max_running}: {count} jobs, {len(bad)} not COMPLETED, "
                f"{rate:.1f} jobs/s; RUN->EXECUTING median {statistics.median(to_exec) * 1000:.0f} ms "
                f"p99 {percentile(to_exec, 99) * 1000:.0f} ms; RUN->COMPLETED median "
                f"{statistics.median(to_done) * 1000:.0f} ms p99 {percentile(to_done, 99) * 1000:.0f} ms"
            )
            print(
                f"  CPU per job: server {server / count * 1000:.1f} ms, job processes (wrapper, "
                f"sandbox, script) {(jobs + orphans) / count * 1000:.1f} ms, of which "
                f"{orphans / count * 1000:.1f} ms in processes the server did not wait for "
                f"(bubblewrap's namespace init); load average {load_average()}"
            )


def become_subreaper() -> None:
    """Have the processes orphaned below us reparented to this process (Linux), so that
    their CPU time is counted: bubblewrap's outer process exits without waiting for the
    namespace's init, which did the sandbox's mounts (most of the sandbox's CPU)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


PR_SET_CHILD_SUBREAPER = 36


def reap_orphans(server: int) -> None:
    """Thread body: reap the orphans reparented to us, until the server itself has exited
    (its own Popen reaps it)."""
    while True:
        try:
            found = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            return
        if found is None or found.si_pid == server:
            return
        os.waitpid(found.si_pid, 0)


def orphans_cpu() -> float:
    """CPU seconds of the children this process reaped: the orphans, while the server runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds of a process and of its children it has waited for (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = [int(v) / os.sysconf("SC_CLK_TCK") for v in fields[11:15]]
    return ticks[0] + ticks[1], ticks[2] + ticks[3]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def idle(count: int = 20) -> None:
    """One job at a time on an idle server: the latency a lone user sees."""
    with tempfile.TemporaryDirectory(dir=TMP) as tmp:
        settings = {
            "uws.storage.path": f"{tmp}/uws.sqlite",
            "uws.manager": "local",
            "uws.jdl_dir": str(ROOT / "jdl"),
            "uws.auth.anonymous": "true",
            "uws.workdir": f"{tmp}/jobs",
            "uws.background": "false",
            "uws.manager.sandbox": SANDBOX,
        }
        with uws_server(settings) as base:
            to_exec, to_done = [], []
            for _ in range(count):
                url, sent = submit(base)
                doc = final(base, url)
                to_exec.append(seconds(doc["startTime"]) - sent)
                to_done.append(seconds(doc["endTime"]) - sent)
            print(
                f"idle, one job at a time ({count} jobs): RUN->EXECUTING median "
                f"{statistics.median(to_exec) * 1000:.0f} ms p99 {percentile(to_exec, 99) * 1000:.0f} ms; "
                f"RUN->COMPLETED median {statistics.median(to_done) * 1000:.0f} ms "
                f"p99 {percentile(to_done, 99) * 1000:.0f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--sandbox", default="", choices=("", "bwrap", "none"))
    parser.add_argument("--tmp", help="folder for the database and the job directories")
    parser.add_argument(
        "--max-running",
        default="2,8",
        help="the uws.manager.max_running values to run, comma-separated",
    )
    parser.add_argument("--no-idle", action="store_true", help="skip the one-at-a-time run")
    args = parser.parse_args()
    global SANDBOX, TMP
    SANDBOX, TMP = args.sandbox, args.tmp
    print(f"uws.manager.sandbox = {SANDBOX or '(auto)'}")
    if not args.no_idle:
        idle()
    for max_running in (int(n) for n in args.max_running.split(",")):
        run(max_running, args.jobs, args.clients)


if __name__ == "__main__":
    main()
