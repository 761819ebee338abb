"""Graceful shutdown of a pserve process (issue 12, item 8): SIGTERM and SIGINT."""

from __future__ import annotations

import signal
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from uws_postgres.testing import server
from uws_pyramid.testing import EXAMPLE_JDL, serve

pytestmark = pytest.mark.live


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_answers_waiting_requests_and_stops_cleanly(
    tmp_path: Path, signum: signal.Signals
) -> None:
    settings = {
        "uws.storage": "sqlite",
        "uws.storage.path": str(tmp_path / "uws.sqlite"),
        "uws.manager": "local",
        "uws.jdl_dir": str(EXAMPLE_JDL),
        "uws.auth.anonymous": "true",
        "uws.workdir": str(tmp_path / "jobs"),
        "uws.wait.max": "60",
    }
    with server("a", settings, tmp_path) as srv:
        status, location, _ = srv.call("POST", "/rest/sleep", {"duration": "30", "PHASE": "RUN"})
        assert status == 303
        job_path = location.split("127.0.0.1", 1)[1].split("/", 1)[1]
        answered: list[tuple[int, float]] = []

        def wait() -> None:
            status, _, _ = srv.call("GET", f"/{job_path}?WAIT=60")
            answered.append((status, time.monotonic()))

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.5)  # the WAIT blocks in the server now
        sent = time.monotonic()
        srv.proc.send_signal(signum)
        waiter.join(10)
        assert answered and answered[0][0] == 200  # answered, not cut off
        assert answered[0][1] - sent < 2.0
        assert srv.proc.wait(timeout=15) == 0
        stopped = time.monotonic() - sent
        log = srv.log.read_text()
        assert f"{signum.name}: stopping" in log and "stopped in" in log
        assert "Traceback" not in log
    assert stopped < 8.0
    # The job kept running: its wrapper lives on for the next start-up to adopt.
    job_id = job_path.rsplit("/", 1)[1]
    assert not (tmp_path / "jobs" / job_id / ".uws" / "exit.json").exists()
    with server("b", settings, tmp_path) as srv:
        status, _, body = srv.call("GET", f"/{job_path}")
        assert status == 200 and b"EXECUTING" in body
        assert srv.call("POST", f"/{job_path}", {"PHASE": "ABORT"})[0] == 303


def test_the_test_kits_server_stops_without_killing_its_loop() -> None:
    """``uws_pyramid.testing.serve`` (for plugin authors too) closes its sockets in the loop's
    own thread: closed from outside while in select(), the loop died with EBADF (1 in 6)."""

    def app(environ: dict[str, object], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    died: list[BaseException | None] = []
    previous, threading.excepthook = threading.excepthook, lambda args: died.append(args.exc_value)
    try:
        for _ in range(30):
            with serve(app) as url, urllib.request.urlopen(url) as response:
                assert response.read() == b"ok"
    finally:
        threading.excepthook = previous
    assert died == []
    assert not [t for t in threading.enumerate() if t.name == "waitress"]
