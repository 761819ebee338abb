"""Fixtures of the uws-slurm tests: the real SLURM cluster (or a skip), apps and live servers."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid import main
from uws_pyramid.api import ACTIVE
from uws_pyramid.testing import EXAMPLE_JDL, UWSTestApp, require_services, serve

#: Fast polling, so that tests without callbacks do not wait for the default 2 s.
FAST = {"uws.manager.poll_interval": "0.2"}


def start(testapp: UWSTestApp, job_type: str, **params: str) -> str:
    response = testapp.post(f"/rest/{job_type}", {"PHASE": "RUN", **params}, status=303)
    return response.location.rsplit("/", 1)[1]


def job_json(testapp: UWSTestApp, job_type: str, job_id: str, query: str = "") -> Any:
    return testapp.get(
        f"/rest/{job_type}/{job_id}{query}", headers={"Accept": "application/json"}
    ).json


def wait_phase(
    testapp: UWSTestApp, job_type: str, job_id: str, phases: set[str], timeout: float = 30.0
) -> Any:
    """Block with UWS WAIT until the job is in one of ``phases``."""
    deadline = time.monotonic() + timeout
    while True:
        job = job_json(testapp, job_type, job_id)
        if job["phase"] in phases:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['phase']}, not in {phases}")
        job_json(testapp, job_type, job_id, f"?WAIT=5&PHASE={job['phase']}")


def cluster_problem() -> str | None:
    """Why the SLURM cluster cannot be used, or None when it answers."""
    if shutil.which("sbatch") is None:
        return "sbatch is not installed"
    try:
        done = subprocess.run(
            ["sinfo", "-h", "-o", "%a"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    if done.returncode != 0 or "up" not in done.stdout.split():
        return f"no SLURM partition is up: {(done.stderr or done.stdout).strip()[:200]}"
    return None


@pytest.fixture(scope="session")
def cluster() -> None:
    """The one-node test cluster (tests/slurm/start-slurm.sh): a skip when it is missing,
    a failure when UWS_REQUIRE_SERVICES=1 (CI)."""
    problem = cluster_problem()
    if problem is None:
        return
    if require_services():
        pytest.fail(f"SLURM is required (UWS_REQUIRE_SERVICES=1): {problem}")
    pytest.skip(f"no SLURM cluster: {problem} (see tests/slurm/README.md)")


def slurm_settings(here: Path, **extra: str) -> dict[str, Any]:
    return {
        "here": str(here),
        "uws.storage": "sqlite",
        "uws.storage.path": "uws.sqlite",
        "uws.manager": "slurm",
        "uws.jdl_dir": str(EXAMPLE_JDL),
        "uws.auth.anonymous": "true",
        "uws.workdir": "jobs",
        "uws.wait.max": "60",
        "uws.background": "false",
        **FAST,
        **extra,
    }


def stop(app: Any) -> None:
    """Abort what is still active (no job is left in the cluster), then close the app."""
    runtime = app.registry.uws
    for job in runtime.storage.in_phases(ACTIVE):
        runtime.service.abort(job)
    runtime.close()


AppFactory = Callable[..., Any]


@pytest.fixture
def make_app(cluster: None, tmp_path: Path) -> Iterator[AppFactory]:
    """Build the WSGI app on ``tmp_path`` (each call on the same database: a "restart")."""
    apps: list[Any] = []

    def factory(**extra: str) -> Any:
        app = main({"here": str(tmp_path)}, **slurm_settings(tmp_path, **extra))
        apps.append(app)
        return app

    yield factory
    for app in reversed(apps):
        if not getattr(app, "closed_by_test", False):
            stop(app)


@pytest.fixture
def testapp(make_app: AppFactory) -> UWSTestApp:
    """The app without callbacks: the manager's polling alone follows the jobs."""
    return UWSTestApp(make_app())


@pytest.fixture
def live(make_app: AppFactory, tmp_path: Path) -> Iterator[Callable[..., tuple[Any, str]]]:
    """Start a live server whose jobs call back; returns (app, base URL)."""
    with ExitStack() as stack:

        def start(**extra: str) -> tuple[Any, str]:
            holder: dict[str, Any] = {}

            def wsgi(environ: Any, start_response: Any) -> Any:
                return holder["app"](environ, start_response)

            url = stack.enter_context(serve(wsgi, threads=8))
            holder["app"] = make_app(**{"uws.base_url": url, **extra})
            return holder["app"], url

        yield start
