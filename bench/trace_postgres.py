"""What a get job and a create send to PostgreSQL: statements, round trips, backend CPU.

The app is built in-process (as profile_app.py does) on a temporary database whose
``log_min_duration_statement`` is 0 (ALTER DATABASE: that database only); the server log's
lines of this process's backends are then counted per request. The backends' CPU time comes
from /proc/<pid>/stat (the server must run on this machine; reading its log needs root).
Usage: python bench/trace_postgres.py [--count 200] [--show 2] [--log PATH]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg  # noqa: E402
import webtest  # noqa: E402
from bench_core import prefill  # noqa: E402
from bench_postgres import postgres_settings  # noqa: E402
from loadgen import cpu_seconds  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from uws_postgres.storage import PostgresStorage  # noqa: E402
from uws_postgres.testing import ADMIN_URL, admin_connection, temporary_database  # noqa: E402
from uws_pyramid import main as make_app  # noqa: E402

LOG = "/var/log/postgresql/postgresql-15-main.log"
LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (?:\S+ )?LOG:\s+(.*)$")


def backends(url: str) -> list[int]:
    """The server processes connected to the database of ``url`` (ours only: a new one)."""
    with admin_connection(make_url(ADMIN_URL)) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (make_url(url).database,),
        ).fetchall()
    return [r[0] for r in rows]


def backend_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass  # a backend that exited meanwhile
    return total


def logged(log: Path, start: int, pids: set[int]) -> list[str]:
    """The statements our backends logged after byte ``start`` of the server's log."""
    time.sleep(0.3)  # the server writes its log lines asynchronously to us
    with open(log, "rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    found = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m and int(m.group(1)) in pids and m.group(2).startswith("duration"):
            found.append(re.sub(r"^duration: [\d.]+ ms\s+", "", m.group(2)))
    return found


def kind(statement: str) -> str:
    """``parse``, ``bind``, ``execute`` or ``statement`` and the SQL's first words."""
    head, _, sql = statement.partition(": ")
    words = " ".join(sql.split()[:3])
    return f"{head.split()[0]:9s} {words}"


def trace(
    name: str, run: Callable[[int], None], count: int, url: str, log: Path, show: int
) -> None:
    run(0)  # warm: connections open, statements compiled
    pids = backends(url)
    start = log.stat().st_size
    before = {pid: backend_cpu([pid]) for pid in pids}
    t0 = time.process_time()
    for i in range(count):
        run(i + 1)
    app_cpu = time.process_time() - t0
    each = {pid: backend_cpu([pid]) - before[pid] for pid in pids}
    cpu = sum(each.values())
    pids_after = set(backends(url))
    lines = logged(log, start, set(pids) | pids_after)
    counts = collections.Counter(kind(s) for s in lines)
    messages = sum(n for k, n in counts.items() if not k.startswith(("parse", "bind")))
    print(f"\n{name}: {count} requests; backends {sorted(pids)} -> {sorted(pids_after)}")
    print(
        f"  logged lines per request {len(lines) / count:.2f}, executions (round trips) "
        f"{messages / count:.2f}; backend CPU {1e6 * cpu / count:.0f} us, this process "
        f"(app, in-process) {1e6 * app_cpu / count:.0f} us per request"
    )
    shown = ", ".join(f"{pid} {1e6 * c / count:.0f}" for pid, c in each.items())
    print(f"  backend CPU by backend (us per request): {shown}")
    for k, n in counts.most_common():
        print(f"    {n / count:5.2f}  {k}")
    per = len(lines) // count if count else 0
    for line in lines[: show * per]:
        print(f"      | {line[:150]}")


def log_statements(url: str) -> None:
    """Every statement run in the database of ``url`` goes to the server's log."""
    with admin_connection(make_url(ADMIN_URL)) as conn:
        name = psycopg.sql.Identifier(make_url(url).database or "")
        conn.execute(
            psycopg.sql.SQL("ALTER DATABASE {} SET log_min_duration_statement = 0").format(name)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--show", type=int, default=1, help="requests whose lines to print")
    parser.add_argument("--log", default=LOG)
    parser.add_argument(
        "--no-log", action="store_true", help="backend CPU without the log lines' own cost"
    )
    args = parser.parse_args()
    log = Path(args.log)
    with tempfile.TemporaryDirectory() as tmp, temporary_database(ADMIN_URL) as url:
        if not args.no_log:
            log_statements(url)
        store = PostgresStorage.from_settings({"url": url, "auto_migrate": "true"}, tmp)
        ids = prefill(store, 100)
        store.close()
        settings = {"here": tmp, **postgres_settings(tmp, url)}
        wsgi = make_app({"here": tmp}, **settings)
        app = webtest.TestApp(wsgi)
        try:
            trace(
                "get job",
                lambda i: app.get(f"/rest/echo/{ids[i % len(ids)]}", status=200),
                args.count,
                url,
                log,
                args.show,
            )
            trace(
                "create",
                lambda i: app.post("/rest/echo", {"message": "bench"}, status=303),
                args.count,
                url,
                log,
                args.show,
            )
        finally:
            wsgi.registry.uws.close()
    print(f"\n(pid {os.getpid()})")


if __name__ == "__main__":
    main()
