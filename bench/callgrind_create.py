"""Instructions per create over HTTP (valgrind's callgrind): uws-pyramid beside bare Pyramid.

Each server runs under callgrind with 4 waitress threads; after a warm-up, callgrind's
counters are dumped (``callgrind_control -d``), ``--count`` creates are sent one after
another on one connection, and the counters are dumped again: the second dump's total,
divided by the count, is the server's instructions per create (its idle threads included;
the local manager's monitor is set to sleep). Figures that no other load on the machine
disturbs, unlike requests/s or CPU time.
Usage: python bench/callgrind_create.py [--count 300] [--app uws|bare|both]
    [--auth anonymous|basic|bearer]

--auth basic or bearer: uws-pyramid's client sends HTTP Basic credentials (verified on the
first request, then cached) or an API token.
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import sqlite_settings  # noqa: E402
from callers import KINDS, caller_headers  # noqa: E402
from loadgen import BIN, ROOT, callgrind, callgrind_total, free_port, wait_until_up  # noqa: E402

from uws_pyramid.testing import write_ini  # noqa: E402


def creates(port: int, count: int, auth: dict[str, str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **auth}
    for _ in range(count):
        conn.request("POST", "/rest/echo", body=b"message=bench", headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 303:
            raise RuntimeError(f"create answered {response.status}")
    conn.close()


def dumped_total(pid: int, out: Path, before: set[Path]) -> int:
    """Dump callgrind's counters now; the total instructions of that dump."""
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
    for _ in range(600):
        fresh = set(out.parent.glob(out.name + "*")) - before
        for path in fresh:
            total = callgrind_total(path)
            if total is not None:
                before.add(path)
                return total
        time.sleep(0.2)
    raise RuntimeError("callgrind wrote no dump")


def per_create(app: str, count: int, tmp: str, kind: str = "anonymous") -> float:
    port = free_port()
    auth: dict[str, str] = {}
    out = Path(tmp) / f"callgrind.{app}"
    env = dict(os.environ)
    if app == "bare":
        env["PYTHONPATH"] = str(ROOT / "bench")
        server = [str(BIN / "waitress-serve"), f"--listen=127.0.0.1:{port}", "--threads=4"]
        command = callgrind(out, sys.executable, *server, "barepyramid:app")
    else:
        settings = {**sqlite_settings(tmp), "uws.manager.poll_interval": "3600"}
        if kind != "anonymous":
            from uws_sqlite.storage import SQLiteStorage

            storage = SQLiteStorage.from_settings({"path": settings["uws.storage.path"]}, tmp)
            auth = caller_headers(storage, kind)
            storage.close()
        ini = write_ini(Path(tmp) / "bench.ini", settings, port, 4)
        command = callgrind(out, sys.executable, str(BIN / "pserve"), str(ini))
    proc = subprocess.Popen(command, cwd=tmp, env=env, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(port, timeout=900)  # valgrind starts slowly on a loaded machine
        creates(port, 20, auth)  # warm-up: imports, caches, the first compilations
        seen: set[Path] = set()
        dumped_total(proc.pid, out, seen)
        creates(port, count, auth)
        return dumped_total(proc.pid, out, seen) / count
    finally:
        proc.terminate()
        proc.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--app", choices=["uws", "bare", "both"], default="both")
    parser.add_argument("--auth", choices=KINDS, default="anonymous")
    args = parser.parse_args()
    apps = ["uws", "bare"] if args.app == "both" else [args.app]
    figures = {}
    for app in apps:
        with tempfile.TemporaryDirectory() as tmp:
            figures[app] = per_create(app, args.count, tmp, args.auth)
        print(f"{app}: {figures[app] / 1000:.0f} k instructions per create", flush=True)
    if len(figures) == 2:
        print(f"bare Pyramid / uws-pyramid: {figures['bare'] / figures['uws']:.1%}")


if __name__ == "__main__":
    main()
