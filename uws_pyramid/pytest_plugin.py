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
    _let_pkg_resources_read_rewritten_modules()
    for marker in (
        "live: starts a real waitress server",
        "postgres: needs a PostgreSQL server",
        "slurm: needs a SLURM cluster",
    ):
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


def _let_pkg_resources_read_rewritten_modules() -> None:
    """pytest imports every module of a ``pytest11`` plugin's distribution (here: all of
    uws_pyramid) through its assertion-rewriting loader, and Pyramid's static views find files
    through pkg_resources, which refuses a loader type it does not know (500 on every static
    file under test). Register that loader as a plain file provider, as pytest once did."""
    try:
        import pkg_resources
        from _pytest.assertion.rewrite import AssertionRewritingHook
    except ImportError:  # no setuptools, or a pytest without that loader: nothing to do
        return
    pkg_resources.register_loader_type(AssertionRewritingHook, pkg_resources.DefaultProvider)
