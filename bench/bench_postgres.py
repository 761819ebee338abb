"""PostgreSQL beside SQLite: the core benchmark on both, and cross-process WAIT wake-up latency.

Usage: python bench/bench_postgres.py [--jobs 10000] [--clients 8] [--seconds 5] [--wakeups 100]
Needs a PostgreSQL server (UWS_TEST_POSTGRES_URL, default postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import measure, prefill, sqlite_settings  # noqa: E402
from loadgen import throughput, trivial_server, uws_server  # noqa: E402

from uws_postgres.storage import PostgresStorage  # noqa: E402
from uws_postgres.testing import ADMIN_URL, temporary_database  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--wakeups", type=int, default=100)
    args = parser.parse_args()

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
