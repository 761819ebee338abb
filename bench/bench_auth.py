"""What authentication costs: get job, LAST=10 and create as anonymous, with HTTP Basic (the
password verified once, then cached) and with a Bearer API token; and one cold login.

Interleaved rounds; each figure is a median, with the server's CPU time per request.
Usage: python bench/bench_auth.py [--jobs 1000] [--clients 8] [--seconds 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import load_average, prefill, sqlite_settings  # noqa: E402
from loadgen import cpu_seconds, latencies, uws_server  # noqa: E402

from uws_pyramid.accounts import Account  # noqa: E402
from uws_pyramid.auth import Authenticator  # noqa: E402

PASSWORD = "bench-password-1"


def cold_login(base: str, user: str) -> float:
    """Seconds of one request whose password the server has not verified yet (Argon2)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    auth = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
    t0 = time.perf_counter()
    conn.request("GET", "/rest/echo?LAST=1", headers={"Authorization": f"Basic {auth}"})
    status = conn.getresponse().status
    assert status == 200, status
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from uws_sqlite.storage import SQLiteStorage

    with tempfile.TemporaryDirectory() as tmp:
        storage = SQLiteStorage.from_settings({"path": f"{tmp}/uws.sqlite"}, tmp)
        ids = prefill(storage, args.jobs, owner="bench")
        anonymous_ids = prefill(storage, args.jobs)
        auth = Authenticator(storage.accounts())
        for user in ("bench", "cold"):
            storage.accounts().add(Account(user, auth.hash_password(PASSWORD)))
        token = auth.new_token("bench")
        storage.accounts().add_token(token.token)
        storage.close()
        basic = base64.b64encode(f"bench:{PASSWORD}".encode()).decode()
        callers = {
            "anonymous": ({}, anonymous_ids),
            "Basic": ({"Authorization": f"Basic {basic}"}, ids),
            "Bearer token": ({"Authorization": f"Bearer {token.text}"}, ids),
        }
        with uws_server(sqlite_settings(tmp), with_pid=True) as (base, pid):
            print(f"cold login (one Argon2 verification): {cold_login(base, 'cold') * 1000:.0f} ms")
            operations = {
                "get job": lambda o: lambda i: ("GET", f"/rest/echo/{random.choice(o)}", None),
                "list LAST=10": lambda o: lambda i: ("GET", "/rest/echo?LAST=10", None),
                "create": lambda o: lambda i: ("POST", "/rest/echo", b"message=bench"),
            }
            rates: dict[tuple[str, str], list[float]] = {}
            cpu: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.rounds):  # interleaved: each round measures every caller
                for what, make in operations.items():
                    for name, (headers, owned) in callers.items():
                        before = cpu_seconds(pid)
                        done = len(
                            latencies(base, make(owned), args.clients, args.seconds, headers)
                        )
                        cpu.setdefault((what, name), []).append((cpu_seconds(pid) - before) / done)
                        rates.setdefault((what, name), []).append(done / args.seconds)
    print(
        f"median of {args.rounds} interleaved rounds of {args.seconds} s, {args.clients} clients; "
        f"load average {load_average()}; target: at most 10 % below anonymous"
    )
    for what in operations:
        print(f"{what}:")
        rate0 = statistics.median(rates[(what, "anonymous")])
        cpu0 = statistics.median(cpu[(what, "anonymous")])
        for name in callers:
            rate, used = (
                statistics.median(rates[(what, name)]),
                statistics.median(cpu[(what, name)]),
            )
            print(
                f"  {name:13s} {rate:8.1f} req/s ({100 * rate / rate0:5.1f} % of anonymous), "
                f"server CPU {used * 1e6:6.0f} us/request ({100 * cpu0 / used:5.1f} % of anonymous)"
            )


if __name__ == "__main__":
    main()
