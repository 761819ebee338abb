"""Core benchmark: create and get job beside two references, in interleaved rounds.

The references: a trivial WSGI app (bench/trivial.py) and the same answers routed by a bare
Pyramid app (bench/barepyramid.py), each under the same waitress; every figure of
uws-pyramid (SQLite, local manager, anonymous) is given as a share of both, the median of
--rounds rounds that each measure all three servers. ``measure`` (used by bench_postgres.py)
adds LAST=10 and the full list. Job lists at scale: bench/bench_lists.py.
Usage: python bench/bench_core.py [--jobs 100] [--clients 8] [--seconds 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import (  # noqa: E402
    ROOT,
    context_switches,
    cpu_seconds,
    latencies,
    loop_cpu_seconds,
    throughput,
    timed,
    trivial_server,
    uws_server,
)

from uws_pyramid.jobs import Job, Phase, new_job_id, utcnow  # noqa: E402
from uws_pyramid.sql.rows import job_to_row  # noqa: E402
from uws_pyramid.sql.storage import SQLStorage  # noqa: E402
from uws_pyramid.sql.tables import jobs  # noqa: E402


def prefill(
    storage: SQLStorage, count: int, job_type: str = "echo", owner: str | None = None
) -> list[str]:
    """Insert ``count`` finished jobs of ``owner`` in one transaction; return their ids."""
    start = utcnow() - timedelta(days=1)
    rows = [
        job_to_row(
            Job(
                job_id=new_job_id(),
                job_type=job_type,
                phase=Phase.COMPLETED,
                creation_time=start + timedelta(seconds=i),
                run_id=f"run{i}",
                owner_id=owner,
                parameters={"message": f"job {i}"},
                execution_duration=60,
                destruction=start + timedelta(days=7),
            )
        )
        for i in range(count)
    ]
    with storage.engine.begin() as conn:
        conn.execute(insert(jobs), rows)
    return [r["job_id"] for r in rows]


def measure(
    settings: dict[str, str], ids: list[str], clients: int, seconds: float
) -> dict[str, float]:
    """Requests/s of create, get and LAST=10, and the full list's time, on one running server."""
    with uws_server(settings) as base:
        figures = {
            "get job": throughput(
                base, lambda i: ("GET", f"/rest/echo/{random.choice(ids)}", None), clients, seconds
            ),
            "list LAST=10": throughput(
                base, lambda i: ("GET", "/rest/echo?LAST=10", None), clients, seconds
            ),
            "create": throughput(
                base, lambda i: ("POST", "/rest/echo", b"message=bench"), clients, seconds
            ),
        }
        figures["full list (ms)"] = timed(base, "/rest/echo") * 1000
    return figures


def sqlite_settings(tmp: str) -> dict[str, str]:
    return {
        "uws.storage": "sqlite",
        "uws.storage.path": f"{tmp}/uws.sqlite",
        "uws.manager": "local",
        "uws.jdl_dir": str(ROOT / "jdl"),
        "uws.auth.anonymous": "true",
        "uws.workdir": f"{tmp}/jobs",
        "uws.background": "false",
    }


#: What each operation asks of a server (the references answer it with no work).
OPERATIONS = {
    "get job": lambda ids: lambda i: ("GET", f"/rest/echo/{random.choice(ids)}", None),
    "create": lambda ids: lambda i: ("POST", "/rest/echo", b"message=bench"),
}


def figures(servers: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Operation -> server -> one figure per round."""
    return {op: {name: [] for name in servers} for op in OPERATIONS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from uws_sqlite.storage import SQLiteStorage

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        settings = sqlite_settings(tmp)
        storage = SQLiteStorage.from_settings({"path": f"{tmp}/uws.sqlite"}, tmp)
        ids = prefill(storage, args.jobs)
        storage.close()
        servers = {
            "trivial": stack.enter_context(trivial_server(with_pid=True)),
            "bare Pyramid": stack.enter_context(
                trivial_server(app="barepyramid:app", with_pid=True)
            ),
            "uws-pyramid": stack.enter_context(uws_server(settings, with_pid=True)),
        }
        rates = figures(servers)
        # Per request: the server's CPU time, its loop thread's, its context switches.
        cpu, loop, switches = (figures(servers) for _ in range(3))
        for _ in range(args.rounds):  # interleaved: each round measures every server
            for op, make in OPERATIONS.items():
                for name, (base, pid) in servers.items():
                    before = cpu_seconds(pid), loop_cpu_seconds(pid), context_switches(pid)
                    done = len(latencies(base, make(ids), args.clients, args.seconds))
                    cpu[op][name].append((cpu_seconds(pid) - before[0]) / done)
                    loop[op][name].append((loop_cpu_seconds(pid) - before[1]) / done)
                    switches[op][name].append((context_switches(pid) - before[2]) / done)
                    rates[op][name].append(done / args.seconds)
    print(
        f"SQLite, {args.jobs} jobs, {args.clients} clients, median of {args.rounds} "
        f"interleaved rounds of {args.seconds} s; load average {load_average()}"
    )
    print(
        f"  {'':10s} {'trivial':>9s} {'bare Pyramid':>13s} {'uws-pyramid':>12s}"
        f" {'% of trivial':>13s} {'% of bare':>10s} target"
    )
    for op in OPERATIONS:
        trivial, bare, uws = (statistics.median(rates[op][n]) for n in servers)
        target = TARGETS[op]
        verdict = "met" if uws >= target * bare else "MISSED"
        print(
            f"  {op:10s} {trivial:9.0f} {bare:13.0f} {uws:12.0f} {100 * uws / trivial:12.1f}"
            f"% {100 * uws / bare:9.1f}% >= {100 * target:.0f} % of bare: {verdict}  (requests/s)"
        )
        trivial, bare, uws = (1e6 * statistics.median(cpu[op][n]) for n in servers)
        print(
            f"  {op:10s} {trivial:9.0f} {bare:13.0f} {uws:12.0f} {100 * trivial / uws:12.1f}"
            f"% {100 * bare / uws:9.1f}%   (server CPU us/request; shares: reference / uws)"
        )
        trivial, bare, uws = (1e6 * statistics.median(loop[op][n]) for n in servers)
        print(
            f"  {'':10s} {trivial:9.0f} {bare:13.0f} {uws:12.0f}   (of which waitress's loop thread)"
        )
        trivial, bare, uws = (statistics.median(switches[op][n]) for n in servers)
        print(f"  {'':10s} {trivial:9.1f} {bare:13.1f} {uws:12.1f}   (context switches/request)")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


#: The shares of bare Pyramid to reach (issue 14).
TARGETS = {"get job": 0.60, "create": 0.45}


if __name__ == "__main__":
    main()
