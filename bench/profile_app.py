"""Profile one operation of the real app in-process (pyinstrument, or cProfile without it).

The app is built from the same settings as bench_core's server (SQLite, local manager,
anonymous) and driven through WebTest, so the profile shows the service's own code with no
client or waitress in between; see bench/README.md for profiling the live server.
Usage: python bench/profile_app.py create|get|list [--count 2000] [--jobs 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webtest  # noqa: E402
from bench_core import prefill, sqlite_settings  # noqa: E402

from uws_pyramid import main as make_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("operation", choices=["create", "get", "list"])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=100)
    args = parser.parse_args()
    from uws_sqlite.storage import SQLiteStorage

    with tempfile.TemporaryDirectory() as tmp:
        storage = SQLiteStorage.from_settings({"path": f"{tmp}/uws.sqlite"}, tmp)
        ids = prefill(storage, args.jobs)
        storage.close()
        settings = {"here": tmp, **sqlite_settings(tmp)}
        wsgi = make_app({"here": tmp}, **settings)
        app = webtest.TestApp(wsgi)

        def run() -> None:
            for i in range(args.count):
                if args.operation == "create":
                    app.post("/rest/echo", {"message": "bench"}, status=303)
                elif args.operation == "get":
                    app.get(f"/rest/echo/{ids[i % len(ids)]}")
                else:
                    app.get("/rest/echo?LAST=10")

        try:
            from pyinstrument import Profiler
        except ImportError:
            import cProfile

            cProfile.runctx("run()", globals(), {"run": run}, sort="cumulative")
        else:
            with Profiler(interval=0.0005) as profiler:
                run()
            profiler.print(show_all=False)
        wsgi.registry.uws.close()


if __name__ == "__main__":
    main()
