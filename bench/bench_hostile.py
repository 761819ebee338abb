"""Hostile load on one server process (pserve, development.ini's waitress settings): multipart
bombs without credentials, 200 idle connections, wrong passwords in parallel. Prints the
server's open descriptors, memory (RSS), CPU and a normal client's latency before, during and
after each.

Usage: python bench/bench_hostile.py [--seconds 5] [--threads 8]
"""

from __future__ import annotations

import argparse
import base64
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hostile import (  # noqa: E402
    Server,
    basic,
    idle_connections,
    multipart_bomb,
    pserve,
    request,
)


class Prober:
    """A normal client (alice, HTTP Basic, already verified) listing her jobs every 0.1 s."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.times: list[float] = []
        self.failures: Counter[int] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            try:
                status, _ = request(
                    self.server.port, "GET", "/rest/echo?LAST=10", None, basic(), timeout=60
                )
            except OSError:
                status = 0
            if status == 200:
                self.times.append(time.perf_counter() - t0)
            else:
                self.failures[status] += 1
            self._stop.wait(0.1)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        if not self.times:
            return f"no answer ({dict(self.failures)})"
        median = statistics.median(self.times) * 1000
        worst = max(self.times) * 1000
        failed = f", failed {dict(self.failures)}" if self.failures else ""
        return f"median {median:6.1f} ms, max {worst:7.1f} ms ({len(self.times)} requests{failed})"


def state(server: Server) -> str:
    return f"fds {server.fds():5d}  RSS {server.rss_mb():6.1f} MB"


def phase(
    server: Server, name: str, attack: Callable[[threading.Event], str], seconds: float
) -> None:
    cpu = server.cpu_seconds()
    stop = threading.Event()
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(attack(stop)), daemon=True)
    with Prober(server) as probe:
        worker.start()
        time.sleep(seconds)
        during = state(server)
        stop.set()
        worker.join()
    used = server.cpu_seconds() - cpu
    print(f"during {name:24s} {during}  CPU {used:5.1f} s  client {probe.summary()}")
    print(f"       {'':24s} attack: {result[0] if result else '?'}")
    time.sleep(1.0)
    with Prober(server) as probe:
        time.sleep(2.0)
    print(f"after  {name:24s} {state(server)}  {'':12s} client {probe.summary()}")


def in_parallel(threads: int, stop: threading.Event, send: Callable[[int], int]) -> str:
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def loop(n: int) -> None:
        while not stop.is_set():
            try:
                status = send(n)
            except OSError:
                status = 0
            with lock:
                statuses[status] += 1

    pool = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return "responses " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    bomb, bomb_headers = multipart_bomb(10_000)
    targets = ["/login", "/rest/echo", "/events/x"]

    def bombs(stop: threading.Event) -> str:
        return in_parallel(
            args.threads,
            stop,
            lambda n: request(server.port, "POST", targets[n % 3], bomb, bomb_headers)[0],
        )

    def idle(stop: threading.Event) -> str:
        held = idle_connections(server.port, 200)
        stop.wait()
        for s in held:
            s.close()
        return "200 connections held open, each with half a request"

    def passwords(stop: threading.Event) -> str:
        # Each thread from its own loopback address, each request a new user name: the
        # throttle per address and per user lets the first attempts through, so Argon2 runs
        # as often as the verification slots allow.
        def guess(n: int) -> int:
            user = f"user{secrets.token_hex(3)}"
            auth = base64.b64encode(f"{user}:wrong-password".encode()).decode()
            return request(
                server.port,
                "GET",
                "/rest/echo",
                None,
                {"Authorization": f"Basic {auth}"},
                source=f"127.0.0.{10 + n}",
            )[0]

        return in_parallel(args.threads * 2, stop, guess)

    with tempfile.TemporaryDirectory() as tmp, pserve(Path(tmp)) as server:
        status, _ = request(server.port, "GET", "/rest/echo?LAST=10", None, basic())
        assert status == 200, status
        time.sleep(0.5)
        with Prober(server) as probe:
            time.sleep(2.0)
        print(f"before {'':24s} {state(server)}  {'':12s} client {probe.summary()}")
        phase(server, "multipart bombs", bombs, args.seconds)
        phase(server, "200 idle connections", idle, args.seconds)
        phase(server, "wrong passwords", passwords, args.seconds)
        time.sleep(5.0)
        with Prober(server) as probe:
            time.sleep(2.0)
        print(f"end    {'(5 s later)':24s} {state(server)}  {'':12s} client {probe.summary()}")


if __name__ == "__main__":
    main()
