"""What the request tween (metrics, access log line, request id) costs a get-job request.

One app is built in this process; its handler is swapped between rounds for the same
tweens without this one; get-job requests are sent to it straight through WSGI (no sockets:
the tween's share is then as large as it can be), or with --http through waitress, in
alternating rounds, and the medians are compared. Times are CPU time, which other programs on
the machine disturb far less than wall-clock time: through WSGI this process's, over HTTP the
server threads' (the client's too with --client-too). Access lines go to a file at INFO, as a
production logging configuration would; --aa measures without the tween on both sides.

Usage: python bench/bench_metrics.py [--requests 3000] [--rounds 7] [--log-format text|json]
    [--http [--client-too]] [--no-access-log] [--aa]
Set PROMETHEUS_MULTIPROC_DIR (an empty directory) to measure the multiprocess mode.
"""

from __future__ import annotations

import argparse
import gc
import io
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: --client-too: over HTTP, count the client's CPU time as well as the server's.
CLIENT_TOO = False


def build(here: str, fmt: str) -> Any:
    from uws_pyramid import main

    return main(
        {"here": here},
        **{
            "here": here,
            "uws.storage": "sqlite",
            "uws.storage.path": "uws.sqlite",
            "uws.jdl_dir": str(ROOT / "jdl"),
            "uws.auth.anonymous": "true",
            "uws.workdir": "jobs",
            "uws.background": "false",
            "uws.log.format": fmt,
        },
    )


def chains(app: Any) -> dict[bool, Any]:
    """The app's request handler with the tween (True) and the same tweens without it."""
    from pyramid.interfaces import ITweens

    handler = app.orig_handle_request
    for name, factory in reversed(app.registry.getUtility(ITweens).implicit()):
        if name != "uws_pyramid.web.observe.tween":
            handler = factory(handler, app.registry)
    return {True: app.handle_request, False: handler}


def environ(path: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "QUERY_STRING": "",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(),
        "HTTP_HOST": "localhost",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }


def per_request(app: Any, path: str, count: int) -> float:
    """CPU seconds per request, body read."""

    def start(status: str, headers: Any, exc_info: Any = None) -> None:
        assert status.startswith("200"), status

    started = time.process_time()
    for _ in range(count):
        b"".join(app(environ(path), start))
    return (time.process_time() - started) / count


def server_seconds() -> float:
    """CPU seconds of this process's threads but the calling one (the server's, when the
    caller is the client): the scheduler's own nanosecond account (/proc/.../schedstat)."""
    mine = threading.get_native_id()
    total = 0
    for task in Path("/proc/self/task").iterdir():
        if int(task.name) != mine:
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except FileNotFoundError:  # a thread that just ended
                pass
    return total / 1e9


def per_http_request(app: Any, path: str, count: int) -> float:
    """CPU seconds per request through waitress, on one keep-alive connection: the server's
    threads alone, or with ``--client-too`` the whole process (both ends)."""
    import http.client

    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.effective_port)
    clock = time.process_time if CLIENT_TOO else server_seconds
    try:
        started = clock()
        for _ in range(count):
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
        return (clock() - started) / count
    finally:
        connection.close()
        server.close()
        thread.join(timeout=5)


def tween_alone(app: Any, count: int = 50000) -> float:
    """CPU seconds the tween adds around a handler that does nothing (a get-job request's
    route and job id): its own cost, without the noise of a whole request."""
    from pyramid.request import Request
    from pyramid.response import Response

    from uws_pyramid.web.observe import tween

    response = Response(b"")
    request = Request.blank("/rest/echo/bench")
    request.registry = app.registry
    request.matched_route = type("Route", (), {"name": "job"})()
    request.matchdict = {"jobtype": "echo", "job_id": "bench"}
    observed = tween(lambda r: response, app.registry)
    started = time.process_time()
    for _ in range(count):
        response.headers.pop("X-Request-ID", None)
    bare = time.process_time() - started
    started = time.process_time()
    for _ in range(count):
        observed(request)
    return (time.process_time() - started - bare) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--log-format", default="text", choices=("text", "json"))
    parser.add_argument(
        "--no-access-log",
        action="store_true",
        help="access lines off (uws_pyramid.access at WARNING): metrics alone",
    )
    parser.add_argument(
        "--http",
        action="store_true",
        help="through waitress on a socket, as clients see it (else straight WSGI)",
    )
    parser.add_argument(
        "--client-too",
        action="store_true",
        help="with --http: the CPU time of both ends (the client parses one more header)",
    )
    parser.add_argument(
        "--aa", action="store_true", help="both sides without the tween: the noise of the method"
    )
    args = parser.parse_args()
    global CLIENT_TOO
    CLIENT_TOO = args.client_too
    sys.path.insert(0, str(ROOT))
    logs = tempfile.NamedTemporaryFile(suffix=".log", delete=False)
    handler = logging.FileHandler(logs.name)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    if args.no_access_log:
        logging.getLogger("uws_pyramid.access").setLevel(logging.WARNING)
    # One app and one job, created the way clients do; the rounds with and without the
    # tween swap the app's handler (two apps differ by a few per cent between themselves).
    app = build(tempfile.mkdtemp(prefix="uws-bench-metrics-"), args.log_format)
    handlers = chains(app)
    if args.aa:
        handlers[True] = handlers[False]
    from webtest import TestApp

    path = TestApp(app).post("/rest/echo", {"message": "bench"}).location.split("localhost", 1)[1]
    per_request(app, path, 200)  # warm up
    times: dict[bool, list[float]] = {False: [], True: []}
    measure = per_http_request if args.http else per_request
    for turn in range(args.rounds):
        # ABBA: the second side of a round measures higher over HTTP even in an A/A run
        # (--aa): each side goes first in every other round.
        for observed in (False, True) if turn % 2 == 0 else (True, False):
            app.handle_request = handlers[observed]
            # A full collection falls in the same turn of every round otherwise (the rounds
            # allocate alike): 30 us a request in one of the two sides, tween or not.
            gc.collect()
            times[observed].append(measure(app, path, args.requests))
    bare, observed = statistics.median(times[False]), statistics.median(times[True])
    how = "through WSGI"
    if args.http:
        how = "over HTTP (waitress), " + ("client and server" if CLIENT_TOO else "server threads")
    access = "off" if args.no_access_log else args.log_format
    shared = "on" if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else "off"
    print(
        f"get job {how}, {args.rounds} rounds of {args.requests} requests, "
        f"access lines {access}, multiprocess {shared}"
    )
    print(f"  without the tween: {bare * 1e6:8.1f} us CPU/request")
    print(f"  with the tween:    {observed * 1e6:8.1f} us CPU/request")
    overhead = (observed / bare - 1) * 100
    print(f"  overhead:          {(observed - bare) * 1e6:8.1f} us ({overhead:.1f} %)")
    alone = tween_alone(app)
    print(
        f"  the tween alone:   {alone * 1e6:8.1f} us CPU/request "
        f"({alone / bare * 100:.1f} % of the request without it)"
    )
    app.registry.uws.close()


if __name__ == "__main__":
    main()
