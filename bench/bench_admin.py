"""How fast uws-admin answers: wall time of simple commands, each run as a fresh process.

The target (issue 13) is under 0.5 s for simple commands. Runs against a throwaway SQLite
deployment (an ini in a temporary folder) so that it measures the tool, not a database.

Usage: python bench/bench_admin.py [--runs 10]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INI = """[app:main]
use = egg:uws-pyramid
uws.storage = sqlite
uws.storage.path = {here}/uws.sqlite
uws.manager = local
uws.jdl_dir = {jdl}
uws.workdir = {here}/jobs
uws.secret_file = {here}/secret
"""
COMMANDS = (
    ("users list", ["users", "list"]),
    ("tokens list", ["tokens", "list", "{ini}", "bench"]),
    ("status", ["status"]),
    ("plugins", ["plugins"]),
    ("--help", ["--help"]),
)


def admin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uws_pyramid.scripts.admin", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(argv: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each run (CPU time varies less on a shared machine)."""
    walls, cpus = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), cpu()
        done = admin(*argv)
        walls.append(time.perf_counter() - start)
        cpus.append(cpu() - start_cpu)
        if done.returncode not in (0, 3):
            raise SystemExit(f"uws-admin {' '.join(argv)} failed: {done.stderr.strip()}")
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as here:
        ini = Path(here) / "bench.ini"
        ini.write_text(INI.format(here=here, jdl=ROOT / "jdl"))
        setup = subprocess.run(
            [
                sys.executable,
                "-m",
                "uws_pyramid.scripts.admin",
                "users",
                "add",
                "--no-password",
                str(ini),
                "bench",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if setup.returncode:
            raise SystemExit(f"could not add the bench user: {setup.stderr.strip()}")
        print(f"uws-admin, {args.runs} runs of each command (wall time of a fresh process):")
        print(f"{'command':<14} {'median':>8} {'min':>8} {'max':>8} {'cpu median':>11}")
        for label, argv in COMMANDS:
            argv = [a.replace("{ini}", str(ini)) for a in argv]
            if argv[0] in ("users", "status"):
                argv.append(str(ini))
            times, cpus = timed(argv, args.runs)
            print(
                f"{label:<14} {statistics.median(times):8.3f} {min(times):8.3f} "
                f"{max(times):8.3f} {statistics.median(cpus):11.3f}"
            )


if __name__ == "__main__":
    main()
