"""PostgreSQL beside SQLite: the core benchmark on both, and cross-process WAIT wake-up latency.

Usage: python bench/bench_postgres.py [--jobs 10000] [--clients 8] [--seconds 5] [--wakeups 100]
    [--rounds 3] [--side-by-side] [--phase-changes]
Needs a PostgreSQL server (UWS_TEST_POSTGRES_URL, default postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import collections
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import OPERATIONS, load_average, measure, prefill, sqlite_settings  # noqa: E402
from loadgen import cpu_seconds, latencies, throughput, trivial_server, uws_server  # noqa: E402

from uws_postgres.storage import PostgresStorage  # noqa: E402
from uws_postgres.testing import ADMIN_URL, libpq_params, temporary_database  # noqa: E402
from uws_pyramid.api import Phase  # noqa: E402
from uws_sqlite.storage import SQLiteStorage  # noqa: E402


def postgres_settings(tmp: str, url: str) -> dict[str, str]:
    settings = {k: v for k, v in sqlite_settings(tmp).items() if not k.startswith("uws.storage")}
    return {**settings, "uws.storage": "postgres", "uws.storage.url": url}


def call(base: str, method: str, path: str, body: bytes | None = None) -> tuple[int, str]:
    """One request on a new connection; the status and the Location header."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, response.getheader("Location") or ""


def wakeup(waiter: str, changer: str) -> float:
    """Seconds from sending ABORT of a PENDING job to ``changer`` until the WAIT on it in
    ``waiter`` returns (an upper bound: it includes the ABORT request itself)."""
    status, location = call(changer, "POST", "/rest/echo", b"message=wake")
    assert status == 303, status
    path = urlsplit(location).path
    returned: list[float] = []
    thread = threading.Thread(
        target=lambda: (call(waiter, "GET", f"{path}?WAIT=30"), returned.append(time.monotonic()))
    )
    thread.start()
    time.sleep(0.2)  # the WAIT is blocked in the server by now
    sent = time.monotonic()
    assert call(changer, "POST", path, b"PHASE=ABORT")[0] == 303
    thread.join(35)
    return returned[0] - sent


def wakeup_latency(url: str, count: int) -> list[float]:
    """WAIT in one process, ABORT through the other, alternating; ``count`` samples."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = postgres_settings(tmp, url)
        with uws_server(settings) as a, uws_server(settings) as b:
            return [wakeup(*((a, b) if n % 2 else (b, a))) for n in range(count)]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def side_by_side(clients: int, seconds: float, rounds: int) -> None:
    """Get job and create on SQLite and PostgreSQL (100 jobs each), in interleaved rounds:
    the medians of requests/s and of the server's CPU time per request."""
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        store = SQLiteStorage.from_settings({"path": f"{tmp}/uws.sqlite"}, tmp)
        servers = {"SQLite": (sqlite_settings(tmp), prefill(store, 100))}
        store.close()
        url = stack.enter_context(temporary_database(ADMIN_URL))
        pg = PostgresStorage.from_settings({"url": url, "auto_migrate": "true"}, tmp)
        servers["PostgreSQL"] = (postgres_settings(tmp, url), prefill(pg, 100))
        pg.close()
        running = {
            name: (stack.enter_context(uws_server(settings, with_pid=True)), ids)
            for name, (settings, ids) in servers.items()
        }
        rates: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}
        for _ in range(rounds):
            for op, make in OPERATIONS.items():
                for name, ((base, pid), ids) in running.items():
                    before = cpu_seconds(pid)
                    done = len(latencies(base, make(ids), clients, seconds))
                    cpu.setdefault((op, name), []).append((cpu_seconds(pid) - before) / done)
                    rates.setdefault((op, name), []).append(done / seconds)
    print(
        f"SQLite and PostgreSQL side by side, median of {rounds} interleaved rounds of "
        f"{seconds} s, {clients} clients; load average {load_average()}"
    )
    for op in OPERATIONS:
        lite, post = (statistics.median(rates[(op, n)]) for n in running)
        lite_cpu, post_cpu = (1e6 * statistics.median(cpu[(op, n)]) for n in running)
        verdict = "met" if post >= 0.8 * lite else "MISSED"
        print(
            f"  {op:8s} SQLite {lite:7.0f} req/s {lite_cpu:5.0f} us CPU; PostgreSQL {post:7.0f} "
            f"req/s {post_cpu:5.0f} us CPU: {100 * post / lite:5.1f} % of SQLite's rate, "
            f"{100 * lite_cpu / post_cpu:5.1f} % of its CPU figure (target >= 80 %: {verdict})"
        )


def phase_changes(threads: int, seconds: float) -> None:
    """Phase changes from ``threads`` threads, each on a job of its own, through one storage
    in this process (no HTTP): commits/s, and the notifications that another process's
    listener received (each phase change wakes the waiters of other processes)."""
    with tempfile.TemporaryDirectory() as tmp, temporary_database(ADMIN_URL) as url:
        options = {"url": url, "auto_migrate": "true", "pool_size": str(threads)}
        store = PostgresStorage.from_settings(options, tmp)
        ids = prefill(store, threads)
        listen = psycopg.connect(**libpq_params(make_url(url)), autocommit=True)
        listen.execute("LISTEN uws_job_changed")
        done = [0] * threads
        stop = threading.Event()

        def change(n: int) -> None:
            phases = (Phase.QUEUED, Phase.EXECUTING)
            while not stop.is_set():
                store.update(ids[n], None, phase=phases[done[n] % 2])
                done[n] += 1

        workers = [threading.Thread(target=change, args=(n,)) for n in range(threads)]
        waits: collections.Counter[str] = collections.Counter()
        sampler = threading.Thread(target=sample_waits, args=(url, stop, waits))
        cpu = time.process_time()
        for worker in workers:
            worker.start()
        sampler.start()
        time.sleep(seconds)
        stop.set()
        for worker in [*workers, sampler]:
            worker.join()
        cpu = time.process_time() - cpu
        store.close()  # what is still to be announced is sent before it returns
        received = sum(1 for _ in listen.notifies(timeout=1.0))
        listen.close()
    commits = sum(done)
    print(
        f"phase changes, {threads} threads, {seconds} s (pid {os.getpid()}, load average "
        f"{load_average()}): {commits / seconds:.0f} commits/s, {1e6 * cpu / commits:.0f} us "
        f"CPU each in this process; {received} notifications received by another "
        f"connection's LISTEN ({received / commits:.2f} per commit)"
    )
    samples = waits.pop("samples")
    shown = ", ".join(f"{name} {n / samples:.2f}" for name, n in waits.most_common(6))
    print(f"  backends busy, mean over {samples} samples of pg_stat_activity: {shown}")


def sample_waits(url: str, stop: threading.Event, waits: collections.Counter[str]) -> None:
    """What the database's busy backends wait for, every 5 ms: counts by wait event ("CPU"
    for none), and the number of samples under "samples"."""
    query = (
        "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE datname = %s "
        "AND pid <> pg_backend_pid() AND state NOT IN ('idle', 'idle in transaction')"
    )
    with psycopg.connect(**libpq_params(make_url(url)), autocommit=True) as conn:
        while not stop.wait(0.005):
            rows = conn.execute(query, (make_url(url).database,)).fetchall()
            waits.update(f"{kind}/{event}" if kind else "CPU" for kind, event in rows)
            waits["samples"] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--wakeups", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--side-by-side", action="store_true", help="only get job and create on both databases"
    )
    parser.add_argument(
        "--phase-changes", action="store_true", help="only phase changes from --clients threads"
    )
    args = parser.parse_args()
    if args.phase_changes:
        phase_changes(args.clients, args.seconds)
        return
    side_by_side(args.clients, min(args.seconds, 3.0), args.rounds)
    if args.side_by_side:
        return
    with trivial_server() as base:
        ceiling = throughput(base, lambda i: ("GET", "/", None), args.clients, args.seconds)
    print(f"trivial waitress app: {ceiling:8.0f} req/s ({args.clients} clients)")
    for count in (100, args.jobs):
        rows: dict[str, dict[str, float]] = {}
        with tempfile.TemporaryDirectory() as tmp:
            store = SQLiteStorage.from_settings({"path": f"{tmp}/uws.sqlite"}, tmp)
            ids = prefill(store, count)
            store.close()
            rows["SQLite"] = measure(sqlite_settings(tmp), ids, args.clients, args.seconds)
        with tempfile.TemporaryDirectory() as tmp, temporary_database(ADMIN_URL) as url:
            pg = PostgresStorage.from_settings({"url": url, "auto_migrate": "true"}, tmp)
            ids = prefill(pg, count)
            pg.close()
            rows["PostgreSQL"] = measure(
                postgres_settings(tmp, url), ids, args.clients, args.seconds
            )
        print(f"\n{count} jobs          {'SQLite':>10} {'PostgreSQL':>12}")
        for name in rows["SQLite"]:
            unit = "" if "ms" in name else " req/s"
            print(
                f"  {name:16s} {rows['SQLite'][name]:10.1f} {rows['PostgreSQL'][name]:12.1f}{unit}"
            )
    with temporary_database(ADMIN_URL) as url:
        store = PostgresStorage.from_settings({"url": url, "auto_migrate": "true"}, "/tmp")
        store.close()
        samples = wakeup_latency(url, args.wakeups)
    print(
        f"\ncross-process WAIT wake-up, {len(samples)} samples (ABORT sent to one process, "
        f"WAIT returned by the other): median {statistics.median(samples) * 1000:.1f} ms, "
        f"p99 {percentile(samples, 0.99) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
