"""Profile one operation of the real app in-process (pyinstrument, or cProfile without it).

The app is built from the same settings as bench_core's server (SQLite, local manager,
anonymous) and driven through WebTest, so the profile shows the service's own code with no
client or waitress in between; see bench/README.md for profiling the live server.
With --wsgi the app is called straight through WSGI (no WebTest: what remains is the app's
own), and --cprofile forces cProfile, which also prints the Python calls per request (a
figure the machine's load does not change; each call costs a few hundred instructions).
Usage: python bench/profile_app.py create|get|list [--count 2000] [--jobs 100] [--wsgi]
    [--cprofile]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webtest  # noqa: E402
from bench_core import prefill, sqlite_settings  # noqa: E402

from uws_pyramid import main as make_app  # noqa: E402


def direct_get(wsgi: Any, path: str, query: str = "") -> None:
    """One GET straight through WSGI, as waitress would call the app."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8080",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    statuses: list[str] = []
    body = b"".join(wsgi(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert statuses[0].startswith("200") and body, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("operation", choices=["create", "get", "list"])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--wsgi", action="store_true", help="GETs straight through WSGI")
    parser.add_argument("--cprofile", action="store_true", help="cProfile even with pyinstrument")
    args = parser.parse_args()
    if args.wsgi and args.operation == "create":
        parser.error("--wsgi drives GETs only (get, list)")
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
                if args.wsgi and args.operation == "get":
                    direct_get(wsgi, f"/rest/echo/{ids[i % len(ids)]}")
                elif args.wsgi:
                    direct_get(wsgi, "/rest/echo", "LAST=10")
                elif args.operation == "create":
                    app.post("/rest/echo", {"message": "bench"}, status=303)
                elif args.operation == "get":
                    app.get(f"/rest/echo/{ids[i % len(ids)]}")
                else:
                    app.get("/rest/echo?LAST=10")

        try:
            if args.cprofile:
                raise ImportError("cProfile asked for")
            from pyinstrument import Profiler
        except ImportError:
            import cProfile
            import pstats

            profile = cProfile.Profile()
            profile.runcall(run)
            stats = pstats.Stats(profile)
            stats.sort_stats("cumulative").print_stats(60)
            calls = stats.total_calls  # type: ignore[attr-defined]
            print(f"{calls / args.count:.0f} Python calls per request")
        else:
            with Profiler(interval=0.0005) as profiler:
                run()
            profiler.print(show_all=False)
        wsgi.registry.uws.close()


if __name__ == "__main__":
    main()
