"""Fixtures: ini-like settings -> app -> WebTest app that validates every UWS document it sees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid import main
from uws_pyramid.accounts import Account

# UWSTestApp and require_services are the shipped test kit's; imported from here by the tests.
from uws_pyramid.testing import UWSTestApp, require_services, wait_for  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def settings(tmp_path: Path) -> dict[str, Any]:
    return {
        "here": str(tmp_path),
        "uws.storage": "sqlite",
        "uws.storage.path": "uws.sqlite",
        "uws.manager": "local",
        "uws.manager.max_running": "4",
        "uws.jdl_dir": str(ROOT / "jdl"),
        "uws.auth.anonymous": "true",
        "uws.workdir": "jobs",
        "uws.wait.max": "30",
        "uws.background": "false",
    }


@pytest.fixture
def app(settings: dict[str, Any]) -> Iterator[Any]:
    wsgi = main({"here": settings["here"]}, **settings)
    yield wsgi
    wsgi.registry.uws.close()


@pytest.fixture
def testapp(app: Any) -> UWSTestApp:
    return UWSTestApp(app)


def add_user(app: Any, name: str, password: str | None = None, *roles: str) -> Account:
    """Store an account in the app's storage (what ``uws-admin users add`` does)."""
    authenticator = app.registry.uws.authenticator
    hashed = authenticator.hash_password(password) if password else None
    account = Account(name, hashed, frozenset(roles))
    authenticator.accounts.add(account)
    return account


ADMIN_PASSWORD = "admin-secret-1"


@pytest.fixture
def admin_app(app: Any) -> UWSTestApp:
    """A test app logged in (HTTP Basic) as the administrator "root"."""
    add_user(app, "root", ADMIN_PASSWORD, "admin")
    testapp = UWSTestApp(app)
    testapp.authorization = ("Basic", ("root", ADMIN_PASSWORD))
    return testapp
