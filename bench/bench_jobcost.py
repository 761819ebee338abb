"""Where a short job's time goes: echo jobs through the local manager, in-process.

The real app (SQLite, local manager, the sandbox this host has) is driven through WebTest:
N echo jobs are created with PHASE=RUN and waited for. Storage writes, notifications and
process starts are timed where they happen (wrapped for this run only), so the per-job
figures are measured, not estimated: database writes per job and their time, notifications,
the spawn of each wrapper (fork and exec), and the job's own EXECUTING time (startTime to
endTime: the wrapper, the sandbox and the script).
Usage: python bench/bench_jobcost.py [--jobs 300] [--max-running 8]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webtest  # noqa: E402
from bench_core import sqlite_settings  # noqa: E402

from uws_pyramid import main as make_app  # noqa: E402

TIMES: dict[str, list[float]] = defaultdict(list)


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            TIMES[name].append(time.perf_counter() - t0)

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--max-running", type=int, default=8)
    args = parser.parse_args()
    from uws_local import processes

    with tempfile.TemporaryDirectory() as tmp:
        settings = {
            "here": tmp,
            **sqlite_settings(tmp),
            "uws.manager.max_running": str(args.max_running),
        }
        wsgi = make_app({"here": tmp}, **settings)
        runtime = wsgi.registry.uws
        storage = runtime.storage
        storage.create = timed("storage.create", storage.create)
        storage.update = timed("storage.update", storage.update)
        storage.notifier.publish = timed("notify", storage.notifier.publish)
        popen = subprocess.Popen
        processes.subprocess.Popen = timed("spawn", popen)  # type: ignore[misc]
        app = webtest.TestApp(wsgi)
        t0 = time.perf_counter()
        urls = [
            app.post("/rest/echo", {"message": "x", "PHASE": "RUN"}, status=303).location
            for _ in range(args.jobs)
        ]
        created = time.perf_counter() - t0
        docs = []
        for url in urls:
            doc = app.get(url, headers={"Accept": "application/json"}).json
            while doc["phase"] not in ("COMPLETED", "ERROR", "ABORTED"):
                doc = app.get(url + "?WAIT=10", headers={"Accept": "application/json"}).json
            docs.append(doc)
        wall = time.perf_counter() - t0
        processes.subprocess.Popen = popen  # type: ignore[misc]
        runtime.close()
    from datetime import datetime

    def at(text: str) -> float:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    executing = [at(d["endTime"]) - at(d["startTime"]) for d in docs]
    n = args.jobs
    print(
        f"{n} echo jobs, max_running = {args.max_running}: {n / wall:.1f} jobs/s "
        f"({wall:.2f} s; the creations alone {created:.2f} s), "
        f"{sum(d['phase'] != 'COMPLETED' for d in docs)} not COMPLETED"
    )
    print("per job (medians of each call; totals per job = calls x time / jobs):")
    for name, values in TIMES.items():
        print(
            f"  {name:15s} {len(values) / n:4.1f} calls/job, median "
            f"{statistics.median(values) * 1000:7.2f} ms, total {sum(values) / n * 1000:7.2f} ms/job"
        )
    print(
        f"  EXECUTING (wrapper + sandbox + script): median "
        f"{statistics.median(executing) * 1000:.0f} ms, over {args.max_running} slots: "
        f"{statistics.median(executing) / args.max_running * 1000:.1f} ms/job of wall time"
    )


if __name__ == "__main__":
    main()
