"""Instructions per get-job request of whole server processes (waitress included), by callgrind.

Each server runs under ``valgrind --tool=callgrind`` twice, serving --few then --many get-job
requests on one keep-alive connection before a SIGTERM stops it; the difference of the two
runs' instruction totals divided by the difference of the counts is one request's cost
(start-up, the first requests and the shutdown cancel out). Instruction counts do not depend
on the machine's load: this is the figure to compare servers by, to a fraction of a per cent.

Servers: ``uws`` (uws-pyramid as bench_core.py runs it: SQLite, local manager, anonymous,
8 waitress threads), ``untweened`` (the same without the request tween of web/observe.py:
metrics, access line, request id) and ``bare`` (bench/barepyramid.py under the same runner).
The uws servers write access lines at INFO to a file, as production logging would
(--no-access-log: at WARNING, as bench_core.py's servers).

Usage: python bench/callgrind_get.py [--servers uws,untweened,bare] [--few 100] [--many 500]
    [--no-access-log] [--parallel 2] [--auth anonymous|basic|bearer] [--keep DIR]

--keep DIR: the callgrind outputs are copied there (callgrind.<server>.<requests>), for
``callgrind_annotate --inclusive=yes`` of two runs: where a server's instructions differ.

--auth basic or bearer: the client sends HTTP Basic credentials (verified on the first
request, then cached) or an API token, and gets jobs of that account.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from callers import KINDS  # noqa: E402
from loadgen import callgrind, callgrind_total  # noqa: E402

#: The request tween whose cost issue 16 bounds.
TWEEN = "uws_pyramid.web.observe.tween"


def settings(tmp: str) -> dict[str, str]:
    from bench_core import sqlite_settings

    # The local manager's monitor wakes every poll_interval: under valgrind a run lasts
    # minutes, and its passes would be counted as the requests'.
    return {**sqlite_settings(tmp), "uws.manager.poll_interval": "100000"}


def serve(kind: str, tmp: str, access_log: bool) -> None:
    """The server process (run under valgrind): build the app, serve until SIGTERM. Waitress
    logs its port ("Serving on ...") to stdout once it listens: the parent waits for it."""
    import logging

    from waitress.server import create_server

    from uws_pyramid.server import GracefulStop, serve_paste

    waitress = logging.getLogger("waitress")
    waitress.addHandler(logging.StreamHandler(sys.stdout))
    waitress.setLevel(logging.INFO)
    if kind == "bare":
        # As bench_core.py serves it (waitress-serve), with a stop that lets valgrind write.
        from barepyramid import app

        server = create_server(app, listen="127.0.0.1:0", threads=8)
        GracefulStop(server, app, 1.0).install()
        server.print_listen("Serving on http://{}:{}")
        server.run()
        return
    from pyramid.interfaces import ITweens

    from uws_pyramid import main

    handler = logging.FileHandler(f"{tmp}/access.log")
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO if access_log else logging.WARNING)
    app = main({"here": tmp}, **settings(tmp))
    if kind == "untweened":
        # The same chain of tweens without this one (as bench_metrics.py does).
        chain = app.orig_handle_request
        for name, factory in reversed(app.registry.getUtility(ITweens).implicit()):
            if name != TWEEN:
                chain = factory(chain, app.registry)
        app.handle_request = chain
    serve_paste(app, {}, listen="127.0.0.1:0", threads="8")


def instructions(
    kind: str, count: int, ids: list[str], tmp: str, access_log: bool, headers: dict[str, str]
) -> int:
    """Total instructions of a server process of ``kind`` that served ``count`` requests."""
    out = Path(tmp) / f"callgrind.{kind}.{count}"
    command = callgrind(out, sys.executable, __file__, "--serve", kind, "--tmp", tmp)
    if not access_log:
        command.append("--no-access-log")
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp
    )
    try:
        assert server.stdout is not None
        # Waitress names its port once it listens; no connection is tried before.
        line = server.stdout.readline()
        port = int(line.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        for i in range(count):
            connection.request("GET", f"/rest/echo/{ids[i % len(ids)]}", headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
        connection.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=600)
    total = callgrind_total(out)
    assert total is not None, f"no total in {out}"
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="uws,untweened,bare")
    parser.add_argument("--few", type=int, default=100)
    parser.add_argument("--many", type=int, default=500)
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument("--parallel", type=int, default=2, help="valgrind runs at once")
    parser.add_argument("--auth", choices=KINDS, default="anonymous")
    parser.add_argument("--keep", help="copy the callgrind outputs to this directory")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    access_log = not args.no_access_log
    if args.serve:
        serve(args.serve, args.tmp, access_log)
        return
    from bench_core import prefill
    from callers import caller_headers

    from uws_sqlite.storage import SQLiteStorage

    kinds = args.servers.split(",")
    runs = [(kind, count) for kind in kinds for count in (args.few, args.many)]
    with tempfile.TemporaryDirectory() as top:
        # One database, copied for each run (each run's server writes its own files).
        storage = SQLiteStorage.from_settings({"path": f"{top}/uws.sqlite"}, top)
        headers = caller_headers(storage, args.auth)
        ids = prefill(storage, 100, owner=None if args.auth == "anonymous" else "bench")
        storage.close()
        dirs: dict[tuple[str, int], str] = {}
        for run in runs:
            dirs[run] = tempfile.mkdtemp(dir=top)
            shutil.copy(f"{top}/uws.sqlite", dirs[run])

        def one(run: tuple[str, int]) -> int:
            return instructions(run[0], run[1], ids, dirs[run], access_log, headers)

        with ThreadPoolExecutor(args.parallel) as pool:
            totals = dict(zip(runs, pool.map(one, runs)))
        if args.keep:
            Path(args.keep).mkdir(parents=True, exist_ok=True)
            for (kind, count), tmp in dirs.items():
                shutil.copy(f"{tmp}/callgrind.{kind}.{count}", args.keep)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(
        f"get job over HTTP (waitress, 8 threads, one keep-alive client): instructions per "
        f"request, ({args.many} - {args.few} requests); access lines "
        f"{'on (file, INFO)' if access_log else 'off'}; caller {args.auth}; load average {load}"
    )
    per: dict[str, float] = {}
    for kind in kinds:
        few, many = totals[(kind, args.few)], totals[(kind, args.many)]
        per[kind] = (many - few) / (args.many - args.few)
        print(f"  {kind:10s} {per[kind] / 1e6:9.3f} M Ir/request   (totals {few:,} / {many:,})")
    if "uws" in per and "untweened" in per:
        overhead = per["uws"] / per["untweened"] - 1
        verdict = "met" if overhead < 0.03 else "MISSED"
        print(f"  tween: {100 * overhead:+.2f} % of the request without it (< 3 %: {verdict})")
    if "uws" in per and "bare" in per:
        print(f"  bare Pyramid / uws: {100 * per['bare'] / per['uws']:.1f} %")


if __name__ == "__main__":
    main()
