"""/openapi.json and /docs; schemathesis run against a live server from that document."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid import main

from .conftest import ADMIN_PASSWORD, ROOT, UWSTestApp, add_user
from .live import serve


class Tally:
    """WSGI middleware counting the requests the server answered, by status."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        def counted(status: str, headers: Any, exc_info: Any = None) -> Any:
            with self.lock:
                self.statuses[int(status[:3])] += 1
            return start(status, headers, exc_info)

        return self.app(environ, counted)


def fuzz_settings(tmp_path: Path) -> dict[str, str]:
    return {
        "here": str(tmp_path), "uws.storage": "sqlite", "uws.storage.path": "uws.sqlite",
        "uws.manager": "local", "uws.manager.max_running": "2",
        "uws.jdl_dir": str(ROOT / "jdl"), "uws.workdir": "jobs", "uws.background": "false",
        "uws.wait.max": "5", "uws.execution_duration.max": "5",
        "uws.execution_duration.default": "5",
        "uws.auth.failures": "1000000",
    }


@pytest.mark.live
@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_nonconformance(tmp_path: Path) -> None:
    app = main({"here": str(tmp_path)}, **fuzz_settings(tmp_path))
    add_user(app, "root", ADMIN_PASSWORD, "admin")
    tally = Tally(app)
    examples = os.environ.get("UWS_FUZZ_EXAMPLES", "25")
    try:
        with serve(tally, threads=8) as base:
            report = tmp_path / "junit.xml"
            run = subprocess.run(
                [str(Path(sys.executable).with_name("st")), "run", f"{base}/openapi.json",
                 "--auth", f"root:{ADMIN_PASSWORD}", "--checks", "all",
                 "--max-examples", examples, "--seed", "16", "--workers", "2",
                 "--max-redirects", "0", "--request-timeout", "20",
                 "--report", "junit", "--report-junit-path", str(report),
                 "--suppress-health-check", "all", "--no-color"],
                capture_output=True, text=True, timeout=900, cwd=tmp_path,
            )
    finally:
        app.registry.uws.close()
    print(run.stdout[-20000:], run.stderr[-3000:])
    total = sum(tally.statuses.values())
    print("requests by status:", dict(sorted(tally.statuses.items())), "total", total)
    assert run.returncode == 0, run.stdout[-6000:]
    assert not [s for s in tally.statuses if s >= 500]
    assert total >= 2000
