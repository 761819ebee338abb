"""Core benchmark: create, get job, LAST=10 and the full list at 10,000 jobs, beside a trivial app.

Usage: python bench/bench_core.py [--jobs 10000] [--clients 8] [--seconds 5]
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import ROOT, throughput, timed, trivial_server, uws_server  # noqa: E402

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
        job_to_row(Job(
            job_id=new_job_id(), job_type=job_type, phase=Phase.COMPLETED,
            creation_time=start + timedelta(seconds=i), run_id=f"run{i}", owner_id=owner,
            parameters={"message": f"job {i}"}, execution_duration=60,
            destruction=start + timedelta(days=7),
        ))
        for i in range(count)
    ]
    with storage.engine.begin() as conn:
        conn.execute(insert(jobs), rows)
    return [r["job_id"] for r in rows]


def measure(settings: dict[str, str], ids: list[str], clients: int, seconds: float) -> dict[str, float]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    from uws_sqlite.storage import SQLiteStorage

    with trivial_server() as base:
        ceiling = throughput(base, lambda i: ("GET", "/", None), args.clients, args.seconds)
    print(f"trivial waitress app: {ceiling:8.0f} req/s")
    for count in (100, args.jobs):
        with tempfile.TemporaryDirectory() as tmp:
            settings = sqlite_settings(tmp)
            storage = SQLiteStorage.from_settings({"path": f"{tmp}/uws.sqlite"}, tmp)
            ids = prefill(storage, count)
            storage.close()
            figures = measure(settings, ids, args.clients, args.seconds)
        print(f"SQLite, {count} jobs:")
        for name, value in figures.items():
            share = "" if "ms" in name else f"  ({100 * value / ceiling:5.1f} % of trivial)"
            print(f"  {name:16s} {value:8.1f}{share}")


if __name__ == "__main__":
    main()
