"""SLURM manager benchmark: RUN-to-COMPLETED of echo beside ``sbatch --wait``; jobs/s of a burst.

Usage: python bench/bench_slurm.py [--runs 50] [--burst 200] [--clients 16]
Needs the SLURM cluster of tests/slurm (``bash tests/slurm/start-slurm.sh``).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import BIN, ROOT, free_port, wait_until_up  # noqa: E402

from uws_pyramid.testing import write_ini  # noqa: E402

log = logging.getLogger(__name__)
ACTIVE = ("QUEUED", "EXECUTING")
FINAL = ("COMPLETED", "ERROR", "ABORTED")


@contextmanager
def slurm_server(tmp: Path, threads: int) -> Iterator[str]:
    """``pserve`` with the SLURM manager and callbacks to itself; yields the base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = {
        "uws.storage": "sqlite",
        "uws.storage.path": str(tmp / "uws.sqlite"),
        "uws.manager": "slurm",
        "uws.jdl_dir": str(ROOT / "jdl"),
        "uws.auth.anonymous": "true",
        "uws.workdir": str(tmp / "jobs"),
        "uws.secret_file": str(tmp / "secret"),
        "uws.base_url": base,
        "uws.wait.max": "120",
        "uws.wait.max_waiters": "64",
        "uws.destruction.default": "3600",
    }
    ini = write_ini(tmp / "bench.ini", settings, port, threads)
    proc = subprocess.Popen([str(BIN / "pserve"), str(ini)], cwd=tmp)
    try:
        wait_until_up(port)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def phase_after(session: requests.Session, url: str, phase: str) -> str:
    """Block (UWS WAIT) until the job leaves ``phase``; return the new phase."""
    while True:
        now = session.get(f"{url}/phase", timeout=10).text.strip()
        if now != phase:
            return now
        session.get(url, params={"WAIT": "60", "PHASE": phase}, timeout=90)


def run_to_completed(session: requests.Session, base: str) -> float:
    """Seconds from POST PHASE=RUN to the WAIT that sees COMPLETED."""
    url = session.post(
        f"{base}/rest/echo", data={"message": "bench"}, allow_redirects=False, timeout=10
    ).headers["Location"]
    began = time.perf_counter()
    session.post(f"{url}/phase", data={"PHASE": "RUN"}, allow_redirects=False, timeout=10)
    phase = "QUEUED"
    while phase not in FINAL:
        phase = phase_after(session, url, phase)
    elapsed = time.perf_counter() - began
    if phase != "COMPLETED":
        raise RuntimeError(f"{url} ended {phase}")
    return elapsed


#: The plain jobs' environment, which sbatch hands on (as for the service's jobs): a small one,
#: and the parameter as a variable.
PLAIN_ENV = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), "message": "bench"}
ECHO = ROOT / "jdl" / "scripts" / "echo.sh"


def submit_echo(workdir: Path) -> str:
    """Submit the echo job script with plain sbatch; its SLURM job id."""
    return subprocess.run(
        ["sbatch", "--parsable", f"--chdir={workdir}", "--output=/dev/null", str(ECHO)],
        check=True,
        capture_output=True,
        text=True,
        env=PLAIN_ENV,
    ).stdout.strip()


def sbatch_wait(workdir: Path) -> float:
    """The same job script, submitted by hand: ``sbatch --wait`` (what a user would time)."""
    began = time.perf_counter()
    subprocess.run(
        [
            "sbatch",
            "--wait",
            "--quiet",
            f"--chdir={workdir}",
            "--output=/dev/null",
            str(ECHO),
        ],
        check=True,
        env=PLAIN_ENV,
    )
    return time.perf_counter() - began


def sbatch_poll(workdir: Path) -> float:
    """The cluster's own floor: sbatch, then squeue every 50 ms until COMPLETED."""
    began = time.perf_counter()
    slurm_id = submit_echo(workdir)
    while True:
        state = subprocess.run(
            ["squeue", "-h", "-t", "all", "-o", "%T", "-j", slurm_id],
            capture_output=True,
            text=True,
        ).stdout.strip()
        if state == "COMPLETED":
            return time.perf_counter() - began
        if state in ("FAILED", "CANCELLED", "TIMEOUT"):
            raise RuntimeError(f"SLURM job {slurm_id} ended {state}")
        time.sleep(0.05)


def burst(base: str, count: int, clients: int) -> tuple[float, int]:
    """Submit ``count`` echo jobs at once; seconds until every one is COMPLETED."""
    began = time.perf_counter()

    def submit(n: int) -> str:
        with requests.post(
            f"{base}/rest/echo",
            data={"PHASE": "RUN", "message": f"job {n}"},
            allow_redirects=False,
            timeout=60,
        ) as response:
            return response.headers["Location"]

    with ThreadPoolExecutor(clients) as pool:
        urls = list(pool.map(submit, range(count)))
    submitted = time.perf_counter() - began
    log.info("%d jobs submitted in %.2f s", count, submitted)
    pending = set(urls)
    with requests.Session() as session:
        while pending:
            listing = session.get(
                f"{base}/rest/echo", params=[("PHASE", p) for p in ACTIVE], timeout=30
            ).text
            active = set(re.findall(r'jobref id="([^"]+)"', listing))
            pending = {u for u in pending if u.rsplit("/", 1)[1] in active}
            if pending:
                time.sleep(0.05)
        elapsed = time.perf_counter() - began
        done = session.get(f"{base}/rest/echo", params={"PHASE": "COMPLETED"}, timeout=30).text
    completed = len(
        set(re.findall(r'jobref id="([^"]+)"', done)) & {u.rsplit("/", 1)[1] for u in urls}
    )
    return elapsed, completed


def spaced(measure: Callable[[], float], runs: int) -> list[float]:
    """``runs`` measures, each after a random pause: SLURM starts jobs on a one-second tick,
    and back-to-back runs would lock onto one phase of it."""
    figures = []
    for _ in range(runs):
        time.sleep(random.random())
        figures.append(measure())
    return figures


def raw_burst(workdir: Path, count: int, clients: int) -> float:
    """The cluster's own floor for a burst: ``count`` sbatch of echo.sh, until all COMPLETED."""
    began = time.perf_counter()

    def submit(_: int) -> str:
        return submit_echo(workdir)

    with ThreadPoolExecutor(clients) as pool:
        ids = list(pool.map(submit, range(count)))
    while True:
        states = subprocess.run(
            ["squeue", "-h", "-t", "all", "-o", "%T", "-j", ",".join(ids)],
            capture_output=True,
            text=True,
        ).stdout.split()
        if len(states) == count and all(state == "COMPLETED" for state in states):
            return time.perf_counter() - began
        time.sleep(0.05)


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.3f} s, p99 {p99:.3f} s (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="bench-slurm-") as name:
        tmp = Path(name)
        (tmp / "plain").mkdir()
        with slurm_server(tmp, threads=max(16, args.clients)) as base:
            with requests.Session() as session:
                for _ in range(3):  # warm-up: imports, first connections, SLURM caches
                    run_to_completed(session, base)
                service = spaced(lambda: run_to_completed(session, base), args.runs)
            waited = spaced(lambda: sbatch_wait(tmp / "plain"), args.runs)
            polled = spaced(lambda: sbatch_poll(tmp / "plain"), args.runs)
            elapsed, completed = burst(base, args.burst, args.clients)
        floor = raw_burst(tmp / "plain", args.burst, args.clients)
    print(f"RUN-to-COMPLETED through the service: {percentiles(service)}")
    print(f"sbatch --wait of echo.sh:             {percentiles(waited)}")
    print(f"sbatch + squeue every 50 ms:          {percentiles(polled)}")
    overhead = statistics.median(service) - statistics.median(polled)
    print(
        f"service overhead over the cluster's floor (medians): {overhead:+.3f} s; "
        f"over sbatch --wait: {statistics.median(service) - statistics.median(waited):+.3f} s"
    )
    print(
        f"burst: {completed}/{args.burst} COMPLETED in {elapsed:.2f} s = "
        f"{args.burst / elapsed:.1f} jobs/s ({args.clients} clients); the same burst of "
        f"plain sbatch: {floor:.2f} s = {args.burst / floor:.1f} jobs/s"
    )


if __name__ == "__main__":
    main()
