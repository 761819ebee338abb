"""Instructions per get job and per create on PostgreSQL (valgrind's callgrind), in-process.

The app is built from bench_postgres's settings on a database prepared beforehand (schema,
100 jobs) and called straight through WSGI (no client, no waitress). Three runs under
callgrind: (few gets, few creates), (many gets, few creates), (few gets, many creates); the
differences of their totals over the differences of the counts are the instructions of one
get and of one create, every thread of the process included (the LISTEN thread, uws_postgres's
own), start-up cancelled out. The PostgreSQL server's own work is not counted: see
trace_postgres.py for its CPU time. Load-independent, unlike requests/s.
Usage: python bench/callgrind_postgres.py [--few 50] [--many 250]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import prefill  # noqa: E402
from bench_postgres import postgres_settings  # noqa: E402
from loadgen import callgrind, callgrind_total  # noqa: E402

from uws_postgres.storage import PostgresStorage  # noqa: E402
from uws_postgres.testing import ADMIN_URL, temporary_database  # noqa: E402


def serve(spec: str) -> None:
    """In the process under callgrind: warm up, then the gets and creates of ``spec``."""
    from webob import Request

    from uws_pyramid import main as make_app

    args = json.loads(spec)
    settings = {"here": args["tmp"], **postgres_settings(args["tmp"], args["url"])}
    # The local manager's monitor would wake every second of a run that lasts minutes.
    settings["uws.manager.poll_interval"] = "100000"
    app = make_app({"here": args["tmp"]}, **settings)
    ids = args["ids"]

    def get(i: int) -> None:
        assert Request.blank(f"/rest/echo/{ids[i % len(ids)]}").get_response(app).status_int == 200

    def create() -> None:
        request = Request.blank("/rest/echo", method="POST", POST={"message": "bench"})
        assert request.get_response(app).status_int == 303

    for i in range(20):
        get(i)
        create()
    for i in range(args["gets"]):
        get(i)
    for _ in range(args["creates"]):
        create()
    app.registry.uws.close()


def instructions(base: dict[str, object], gets: int, creates: int, tmp: str) -> int:
    out = Path(tmp, f"callgrind.{gets}.{creates}.out")
    spec = json.dumps({**base, "gets": gets, "creates": creates})
    command = callgrind(out, sys.executable, __file__, "--serve", spec)
    subprocess.run(command, check=True, capture_output=True, env={**os.environ})
    total = callgrind_total(out)
    assert total is not None, f"no total in {out}"
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--few", type=int, default=50)
    parser.add_argument("--many", type=int, default=250)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    with tempfile.TemporaryDirectory() as tmp, temporary_database(ADMIN_URL) as url:
        store = PostgresStorage.from_settings({"url": url, "auto_migrate": "true"}, tmp)
        ids = prefill(store, 100)
        store.close()
        base = {"url": url, "tmp": tmp, "ids": ids}
        few, many = args.few, args.many
        runs = [(few, few), (many, few), (few, many)]
        with ThreadPoolExecutor(2) as pool:
            found = list(pool.map(lambda r: instructions(base, *r, tmp), runs))
    per_get = (found[1] - found[0]) / (many - few)
    per_create = (found[2] - found[0]) / (many - few)
    print(
        f"PostgreSQL, in-process WSGI, instructions per request: get job {per_get / 1e3:,.0f} k, "
        f"create {per_create / 1e3:,.0f} k ({few} and {many} of each)"
    )


if __name__ == "__main__":
    main()
