"""Job lists at scale: LAST=10 at 100,000 jobs against 100 jobs, and the whole list streamed.

For every filter combination the browser client uses (job type, phases, the caller's own
jobs, AFTER, the next page by BEFORE, the last page, the sorts by creation, start and end
time), requests/s of LAST=10 on two servers running side by
side, one with 100 jobs and one with 100,000, measured in interleaved rounds (median of
--rounds); the target is the big one within 10 % of the small one. Then the whole list of
10,000 jobs over HTTP, XML and JSON: time to the first byte, total time, and the server's
peak memory after lists of 10,000 and of 100,000 jobs (flat: it does not grow with the list).
Usage: python bench/bench_lists.py [--big 100000] [--rounds 3] [--seconds 2] [--clients 4]
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import sqlite_settings  # noqa: E402
from loadgen import server_memory, throughput, uws_server  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from uws_pyramid.jobs import Job, Phase, new_job_id, utcnow  # noqa: E402
from uws_pyramid.sql.rows import job_to_row  # noqa: E402
from uws_pyramid.sql.tables import jobs  # noqa: E402
from uws_pyramid.web.xml import format_time  # noqa: E402

START = utcnow() - timedelta(days=60)
#: Mostly finished jobs, a few live ones, two types in a cycle of 3 (prime to 20: every type
#: meets every phase): what a service looks like after a while.
#: The live ones are PENDING and HELD, phases no manager acts on: QUEUED or EXECUTING jobs
#: without a process would be started or ended by the local manager's recovery while the
#: benchmark runs (5,000 echo jobs running beside the 100,000-job server, not a list cost).
PHASES = [Phase.COMPLETED] * 16 + [Phase.ERROR, Phase.ABORTED, Phase.PENDING, Phase.HELD]
TYPES = ["echo", "sleep", "echo"]
#: The newest jobs of both servers: every filtered page finds its 10 jobs among them, so
#: a page of the big server holds the same jobs as the small one's (same bytes, same work).
DENSE_PHASES = [Phase.COMPLETED, Phase.ERROR, Phase.PENDING, Phase.HELD, Phase.ABORTED]
DENSE = 100


def job_at(i: int, count: int) -> Job:
    """The ``i``-th oldest of ``count`` jobs: the last DENSE are the same on every server."""
    dense = i >= count - DENSE
    job = Job(
        job_id=new_job_id(),
        job_type=["echo", "sleep"][i % 2] if dense else TYPES[i % 3],
        phase=DENSE_PHASES[i // 2 % 5] if dense else PHASES[i % 20],
        creation_time=START + timedelta(seconds=i * 50),
        run_id=f"run{i}",
        parameters={"message": f"job {i}"},
        execution_duration=60,
    )
    if job.phase not in (Phase.ERROR, Phase.ABORTED, Phase.COMPLETED):
        return job
    start = job.creation_time + timedelta(seconds=5)  # lists by start or end time
    return job.changed(start_time=start, end_time=start + timedelta(seconds=20))


def prefill(path: str, count: int, here: str) -> list[tuple[str, str]]:
    """``count`` anonymous jobs in one transaction; the (creation time, id) of every tenth."""
    from uws_sqlite.storage import SQLiteStorage

    storage = SQLiteStorage.from_settings({"path": path}, here)
    keys = []
    for first in range(0, count, 20_000):
        rows = []
        for i in range(first, min(count, first + 20_000)):
            job = job_at(i, count)
            rows.append(job_to_row(job))
            if i % 10 == 0:
                keys.append((format_time(job.creation_time), job.job_id))
        with storage._write() as conn:
            conn.execute(insert(jobs), rows)
    storage.close()
    return keys


def combinations(keys: list[tuple[str, str]]) -> dict[str, str]:
    """The LAST=10 queries of the client, by name (anonymous: the caller's own jobs)."""
    middle_time, middle_id = keys[len(keys) // 2]
    after = format_time(START + timedelta(seconds=len(keys) * 10 * 25))
    return {
        "type": "/rest/echo?LAST=10",
        "type+phase": "/rest/echo?LAST=10&PHASE=PENDING",
        "type+phases": "/rest/echo?LAST=10&PHASE=PENDING&PHASE=HELD&PHASE=ERROR",
        "all types": "/rest?LAST=10",
        "all+phases": "/rest?LAST=10&PHASE=PENDING&PHASE=HELD",
        "type+AFTER": f"/rest/echo?LAST=10&AFTER={after}",
        "next page": f"/rest/echo?LAST=10&BEFORE={quote(middle_time)},{middle_id}",
        "phases+page": "/rest/echo?LAST=10&PHASE=PENDING&PHASE=HELD"
        f"&BEFORE={quote(middle_time)},{middle_id}",
        "last page": "/rest/echo?LAST=10&PAGE=last",
        "oldest first": "/rest/echo?LAST=10&SORT=creationTime",
        "by end time": "/rest/echo?LAST=10&SORT=-endTime",
        "started asc": "/rest?LAST=10&SORT=startTime",
    }


def first_byte_and_total(base: str, path: str, accept: str) -> tuple[float, float, int]:
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Accept": accept})
    response = conn.getresponse()
    response.read(1)
    first = time.perf_counter() - t0
    size = 1 + len(response.read())
    total = time.perf_counter() - t0
    conn.close()
    assert response.status == 200, response.status
    return first, total, size


def server_cpu(pid: int) -> float:
    """Seconds of CPU the server process used so far (user and system): a figure that the
    other processes of a loaded machine disturb less than the wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def whole_lists(base: str, pid: int, rounds: int, type_path: str) -> None:
    for accept in ("application/xml", "application/json"):
        n = max(rounds, 3) * 3
        cpu = server_cpu(pid)
        runs = [first_byte_and_total(base, type_path, accept) for _ in range(n)]
        cpu = (server_cpu(pid) - cpu) / n * 1000
        first = statistics.median(r[0] for r in runs) * 1000
        total = statistics.median(r[1] for r in runs) * 1000
        print(
            f"  whole list {type_path} as {accept}: first byte {first:6.1f} ms, "
            f"total {total:6.1f} ms (median of {n}), server CPU {cpu:6.1f} ms per list, "
            f"{runs[0][2] / 1e6:5.2f} MB"
        )
    print(f"  server peak memory (VmHWM) after these lists: {server_memory(pid) / 1e6:6.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with ExitStack() as stack:
        servers = {}
        for count in (args.small, args.big, 10_000):
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            t0 = time.perf_counter()
            keys = prefill(f"{tmp}/uws.sqlite", count, tmp)
            print(f"prefilled {count} jobs in {time.perf_counter() - t0:.1f} s")
            base, pid = stack.enter_context(uws_server(sqlite_settings(tmp), with_pid=True))
            servers[count] = (base, pid, keys)
        small, big = servers[args.small], servers[args.big]
        queries = combinations(big[2])
        small_queries = combinations(small[2])
        rates: dict[str, dict[int, list[float]]] = {
            q: {args.small: [], args.big: []} for q in queries
        }
        for _ in range(args.rounds):
            for name in queries:
                for count, (base, _pid, _keys), paths in (
                    (args.small, small, small_queries),
                    (args.big, big, queries),
                ):
                    path = paths[name]
                    rates[name][count].append(
                        throughput(
                            base, lambda i, p=path: ("GET", p, None), args.clients, args.seconds
                        )
                    )
        print(
            f"LAST=10, requests/s, median of {args.rounds} interleaved rounds, "
            f"{args.clients} clients:"
        )
        for name, by_count in rates.items():
            a, b = (statistics.median(by_count[c]) for c in (args.small, args.big))
            verdict = "met" if b >= 0.9 * a else "MISSED"
            print(
                f"  {name:12s} {args.small:>7} jobs {a:7.0f}/s   {args.big:>7} jobs {b:7.0f}/s"
                f"   {100 * b / a:5.1f} %  ({verdict}: >= 90 %)"
            )
        base, pid, _ = servers[10_000]
        print("10,000 jobs (about 6,700 of them echo):")
        whole_lists(base, pid, args.rounds, "/rest")
        base, pid, _ = servers[args.big]
        print(f"{args.big} jobs:")
        whole_lists(base, pid, 1, "/rest")


if __name__ == "__main__":
    main()
