"""What authentication costs: get job, LAST=10 and create as anonymous, with HTTP Basic (the
password verified once, then cached) and with a Bearer API token; and one cold login.

Usage: python bench/bench_auth.py [--jobs 1000] [--clients 8] [--seconds 5]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import prefill, sqlite_settings  # noqa: E402
from loadgen import throughput, uws_server  # noqa: E402

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
    parser.add_argument("--seconds", type=float, default=5.0)
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
        with uws_server(sqlite_settings(tmp)) as base:
            print(f"cold login (one Argon2 verification): {cold_login(base, 'cold') * 1000:.0f} ms")
            for name, (headers, owned) in callers.items():
                print(f"{name}:")
                for what, make in (
                    ("get job", lambda i, o=owned: ("GET", f"/rest/echo/{random.choice(o)}", None)),
                    ("list LAST=10", lambda i: ("GET", "/rest/echo?LAST=10", None)),
                    ("create", lambda i: ("POST", "/rest/echo", b"message=bench")),
                ):
                    rate = throughput(base, make, args.clients, args.seconds, headers)
                    print(f"  {what:14s} {rate:8.1f} req/s")


if __name__ == "__main__":
    main()
