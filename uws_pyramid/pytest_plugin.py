"""The uws-pyramid test kit as a pytest plugin (entry point ``pytest11``): fixtures for
plugin authors. The kit's helpers live in ``uws_pyramid.testing``; this module imports them
only when a fixture is used, so installing uws-pyramid costs other projects' tests nothing."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    for marker in ("live: starts a real waitress server", "postgres: needs a PostgreSQL server",
                   "slurm: needs a SLURM cluster"):
        config.addinivalue_line("markers", marker)


@pytest.fixture
def uws_example_jdl() -> Path:
    """The shipped example job types (echo, sleep, fail, wordcount) and their scripts."""
    from .testing import EXAMPLE_JDL

    return EXAMPLE_JDL


@pytest.fixture
def uws_testapp() -> Callable[[Any], Any]:
    """``uws_testapp(wsgi_app)``: a WebTest app validating every UWS document it receives
    against the shipped UWS 1.1 schema."""
    from .testing import UWSTestApp

    return UWSTestApp


@pytest.fixture
def uws_live() -> Iterator[Callable[..., str]]:
    """``uws_live(wsgi_app, threads=4)``: the base URL of a real waitress server serving the
    app on a free localhost port until the test ends."""
    from .testing import serve

    with ExitStack() as stack:
        yield lambda app, threads=4: stack.enter_context(serve(app, threads))


@pytest.fixture
def uws_require_services() -> bool:
    """True where a missing PostgreSQL or SLURM must fail the test instead of skipping it
    (``UWS_REQUIRE_SERVICES=1``, as CI sets)."""
    from .testing import require_services

    return require_services()
