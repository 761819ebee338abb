"""A real waitress server: WAIT requests never starve the others, even when they outnumber threads."""

from __future__ import annotations

import threading
import time
import urllib.request
from typing import Any

import pytest

from uws_pyramid.testing import serve

from .fakes import FakesPlugin

pytestmark = pytest.mark.live


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    settings.update(
        {"uws.manager": "holding", "testing.plugins": [FakesPlugin()], "uws.wait.max_waiters": "2"}
    )
    return settings


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_more_waiters_than_threads_do_not_block_other_requests(app: Any) -> None:
    opener = urllib.request.build_opener(NoRedirect)
    with serve(app, threads=4) as base:
        try:
            opener.open(urllib.request.Request(base + "/rest/sleep", data=b"duration=5"))
        except urllib.error.HTTPError as redirect:
            assert redirect.code == 303
            job_url = redirect.headers["Location"]
        returned: list[float] = []
        started = time.monotonic()

        def wait() -> None:
            with urllib.request.urlopen(job_url + "?WAIT=8", timeout=30) as response:
                assert b"<uws:phase>" in response.read()
            returned.append(time.monotonic() - started)

        waiters = [threading.Thread(target=wait) for _ in range(10)]
        for t in waiters:
            t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        with urllib.request.urlopen(base + "/rest/sleep", timeout=30) as response:
            assert response.status == 200
        with urllib.request.urlopen(job_url + "/phase", timeout=30) as response:
            assert response.read() == b"PENDING"
        elapsed = time.monotonic() - t0
        assert elapsed < 0.5, f"an unrelated request took {elapsed:.2f} s with 10 waiters"
        # Two waiters block (the cap); the eight others were answered at once.
        assert len(returned) == 8 and max(returned) < 1.0
        # A phase change releases the blocked ones promptly.
        try:
            opener.open(urllib.request.Request(job_url, data=b"PHASE=ABORT"))
        except urllib.error.HTTPError as redirect:
            assert redirect.code == 303
        for t in waiters:
            t.join(timeout=10)
        assert len(returned) == 10 and max(returned) < 3.0
