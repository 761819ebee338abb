"""SQLite under concurrent clients creating and running jobs (issue 14 targets).

16 client processes POST echo jobs with PHASE=RUN for --seconds (the local manager runs
them, max_running = 8, so its own writes compete with the creations); reports the creation
POST's p50, p99 and max, first with one server process, then with two server processes on
one SQLite file (clients split between them). Targets: one process p99 < 300 ms and no
request over 1 s; two processes p99 < 500 ms.
Usage: python bench/bench_sqlite_load.py [--clients 16] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import sqlite_settings  # noqa: E402
from loadgen import latencies, uws_server  # noqa: E402


def create_and_run(i: int) -> tuple[str, str, bytes]:
    return "POST", "/rest/echo", b"message=bench&PHASE=RUN"


def cpu_seconds(pid: int) -> float:
    """CPU seconds of a server process itself (not the jobs it ran), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(what: str, times: list[float], seconds: float, p99_target: float) -> None:
    times = sorted(times)
    p50 = statistics.median(times)
    p99 = times[int(0.99 * (len(times) - 1))]
    worst = times[-1]
    verdict = "met" if p99 < p99_target and (p99_target > 0.3 or worst < 1.0) else "MISSED"
    print(
        f"  {what}: {len(times)} creations ({len(times) / seconds:.0f}/s), p50 "
        f"{p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {worst * 1000:.0f} ms "
        f"(target p99 < {p99_target * 1000:.0f} ms: {verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"SQLite, {args.clients} clients creating and running echo jobs:")
    for processes, target in ((1, 0.3), (2, 0.5)):
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            settings = {**sqlite_settings(tmp), "uws.manager.max_running": "8"}
            servers = [
                stack.enter_context(uws_server(settings, threads=16, with_pid=True))
                for _ in range(processes)
            ]
            before = [cpu_seconds(pid) for _, pid in servers]
            times = latencies(
                [base for base, _ in servers], create_and_run, args.clients, args.seconds
            )
            cpu = sum(cpu_seconds(pid) for _, pid in servers) - sum(before)
        report(
            f"{processes} server process{'es' if processes > 1 else ''}",
            times,
            args.seconds,
            target,
        )
        print(
            f"    server CPU {cpu / len(times) * 1000:.1f} ms per creation (the manager's work "
            f"included); load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
        )


if __name__ == "__main__":
    main()
