"""Where a short job's server CPU goes: echo jobs through the local manager, in-process.

The real app (SQLite, local manager, the sandbox this host has) is driven through WebTest:
N echo jobs are created with PHASE=RUN and waited for. The steps of a job are wrapped for
this run only and timed where they happen, in CPU time of the calling thread (which the
machine's other load disturbs little) and in wall time: the creation request, the storage
writes, notifications, the spawn of each wrapper (its files, the fork and exec), the record
of the start, and, in the thread that waits for each job, the record of its end (results,
storage). The whole process's CPU time per job is printed beside them; ``--profile``
prints a cProfile (in CPU time) of the manager's threads (those that wait for a job, then
record it and start the next).
Usage: python bench/bench_jobcost.py [--jobs 300] [--max-running 8] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webtest  # noqa: E402
from bench_core import sqlite_settings  # noqa: E402

from uws_pyramid import main as make_app  # noqa: E402

#: name -> [(CPU seconds, wall seconds)] of each call
TIMES: dict[str, list[tuple[float, float]]] = defaultdict(list)
PROFILES: list[cProfile.Profile] = []
_profiles_lock = threading.Lock()


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        c0, t0 = time.thread_time(), time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            TIMES[name].append((time.thread_time() - c0, time.perf_counter() - t0))

    return wrapper


def profiled(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``function`` under a profile of its own (cProfile profiles one thread)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # CPU time of the thread: the waits (for the process, locks, the GIL) are left out.
        profile = cProfile.Profile(time.thread_time)
        with _profiles_lock:
            PROFILES.append(profile)
        return profile.runcall(function, *args, **kwargs)

    return wrapper


def instrument(runtime: Any, profile: bool) -> None:
    """Wrap the steps of a job where they happen (objects of this run only, and modules)."""
    from uws_local import manager as local_manager
    from uws_local import processes
    from uws_pyramid.execution import contract

    storage = runtime.storage
    storage.create = timed("storage.create", storage.create)
    storage.update = timed("storage.update", storage.update)
    storage.get = timed("storage.get", storage.get)
    storage.notifier.publish = timed("notify", storage.notifier.publish)
    manager = runtime.manager
    processes.subprocess.Popen = timed("  Popen", processes.subprocess.Popen)  # type: ignore[misc]
    processes.contract.prepare = timed("  prepare (files)", contract.prepare)  # type: ignore[attr-defined]
    local_manager.spawn = timed("spawn (all)", local_manager.spawn)  # type: ignore[attr-defined]
    manager._record_start = timed("record start", manager._record_start)
    manager._record_end = timed("record end (all)", manager._record_end)
    local_manager.job_ending = timed("  job_ending (results)", local_manager.job_ending)  # type: ignore[attr-defined]
    manager.context.ended = timed("  context.ended", manager.context.ended)
    wait = manager._wait

    def waiting(run: Any) -> None:
        wait(run)
        # The thread's whole CPU time: it did nothing else.
        TIMES["wait thread (all)"].append((time.thread_time(), 0.0))

    manager._wait = profiled(waiting) if profile else waiting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--max-running", type=int, default=8)
    parser.add_argument("--profile", action="store_true", help="cProfile the manager's threads")
    parser.add_argument("--top", type=int, default=40, help="profile lines printed")
    args = parser.parse_args()
    from uws_local import processes

    saved = (processes.subprocess.Popen, processes.contract.prepare)
    with tempfile.TemporaryDirectory() as tmp:
        settings = {
            "here": tmp,
            **sqlite_settings(tmp),
            "uws.manager.max_running": str(args.max_running),
        }
        wsgi = make_app({"here": tmp}, **settings)
        runtime = wsgi.registry.uws
        instrument(runtime, args.profile)
        app = webtest.TestApp(wsgi)
        post = timed("POST create (request)", app.post)
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        urls = [
            post("/rest/echo", {"message": "x", "PHASE": "RUN"}, status=303).location
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
        usage = resource.getrusage(resource.RUSAGE_SELF)
        processes.subprocess.Popen, processes.contract.prepare = saved  # type: ignore[misc]
        runtime.close()
    report(args, docs, wall, created, usage0, usage)


def report(
    args: Any, docs: list[dict[str, Any]], wall: float, created: float, u0: Any, u: Any
) -> None:
    def at(text: str) -> float:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    executing = [at(d["endTime"]) - at(d["startTime"]) for d in docs]
    n = args.jobs
    cpu = (u.ru_utime - u0.ru_utime + u.ru_stime - u0.ru_stime) / n
    print(
        f"{n} echo jobs, max_running = {args.max_running}: {n / wall:.1f} jobs/s "
        f"({wall:.2f} s; the creations alone {created:.2f} s), "
        f"{sum(d['phase'] != 'COMPLETED' for d in docs)} not COMPLETED"
    )
    print(f"process CPU per job (all threads, WebTest client included): {cpu * 1000:.2f} ms")
    print("per job: calls, median CPU and wall time of a call; CPU per job = all calls / jobs")
    for name, values in TIMES.items():
        cpus = [c for c, _ in values]
        walls = [w for _, w in values]
        print(
            f"  {name:24s} {len(values) / n:4.1f} calls/job, CPU median "
            f"{statistics.median(cpus) * 1000:6.2f} ms (wall {statistics.median(walls) * 1000:6.2f}), "
            f"CPU {sum(cpus) / n * 1000:6.2f} ms/job"
        )
    print(
        f"  EXECUTING (wrapper + sandbox + script): median "
        f"{statistics.median(executing) * 1000:.0f} ms, over {args.max_running} slots: "
        f"{statistics.median(executing) / args.max_running * 1000:.1f} ms/job of wall time"
    )
    if PROFILES:
        stats = pstats.Stats(PROFILES[0])
        for profile in PROFILES[1:]:
            stats.add(profile)
        stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
