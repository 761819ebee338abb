"""Sessions end on the server: logout, a new password, new roles and disabling refuse the
cookies made before, in every process sharing the database, and re-enabling revives none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import webtest

from uws_pyramid import main

from .conftest import ROOT, UWSTestApp, add_user, require_services

PASSWORD = "alice-secret-1"


def build(tmp: Path, **storage: str) -> Any:
    settings = {
        "here": str(tmp),
        "uws.manager": "local",
        "uws.jdl_dir": str(ROOT / "jdl"),
        "uws.workdir": "jobs",
        "uws.background": "false",
        "uws.auth.anonymous": "false",
        **storage,
    }
    return main({"here": str(tmp)}, **settings)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_apps(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """Two applications (as two server processes would be) on one database."""
    if request.param == "sqlite":
        storage = {"uws.storage": "sqlite", "uws.storage.path": str(tmp_path / "uws.sqlite")}
        yield from _pair(tmp_path, storage)
        return
    from uws_postgres.testing import temporary_database

    try:
        database = temporary_database()
        url = database.__enter__()
    except Exception as exc:  # no PostgreSQL on this machine
        if require_services():
            raise
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield from _pair(
            tmp_path,
            {"uws.storage": "postgres", "uws.storage.url": url, "uws.storage.auto_migrate": "true"},
        )
    finally:
        database.__exit__(None, None, None)


def _pair(tmp: Path, storage: dict[str, str]) -> Iterator[tuple[Any, Any]]:
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    # One secret file, as the processes of one deployment share their ini's.
    shared = {**storage, "uws.secret_file": str(tmp / "secret")}
    first = build(tmp / "a", **shared)
    second = build(tmp / "b", **shared)
    add_user(first, "alice", PASSWORD)
    try:
        yield first, second
    finally:
        first.registry.uws.close()
        second.registry.uws.close()


def logged_in(app: Any) -> UWSTestApp:
    browser = UWSTestApp(app)
    browser.post("/login", {"username": "alice", "password": PASSWORD}, status=303)
    browser.get("/rest/echo", status=200)
    return browser


def cookie_of(browser: webtest.TestApp) -> str:
    return str(browser.cookies["uws_session"])


def replay(app: Any, cookie: str, status: int) -> webtest.TestResponse:
    """A request of another client that copied the cookie (the browser's own copy is gone)."""
    other = UWSTestApp(app)
    other.set_cookie("uws_session", cookie)
    return other.get("/rest/echo", status=status)


def test_a_cookie_replayed_after_logout_is_refused_by_every_process(
    two_apps: tuple[Any, Any],
) -> None:
    first, second = two_apps
    browser = logged_in(first)
    cookie = cookie_of(browser)
    replay(second, cookie, 200)  # the other process believes the session...
    token = browser.get("/client/config").json["csrf_token"]
    browser.post("/logout", {"csrf_token": token}, status=303)
    for app in (first, second):  # ...and no longer after the logout
        replay(app, cookie, 401)
        other = UWSTestApp(app)
        other.set_cookie("uws_session", cookie)
        other.post("/rest/echo", {"message": "x"}, status=401)
    logged_in(second)  # logging in again works


@pytest.mark.parametrize(
    "change",
    [
        {"disabled": True},
        {"roles": frozenset({"astro"})},
        {"password_hash": "new"},
    ],
)
def test_account_changes_end_the_sessions_in_every_process(
    two_apps: tuple[Any, Any], change: dict[str, Any]
) -> None:
    first, second = two_apps
    cookie = cookie_of(logged_in(first))
    first.registry.uws.authenticator.accounts.update("alice", **change)
    replay(second, cookie, 401)
    replay(first, cookie, 401)


def test_re_enabling_an_account_revives_no_cookie(two_apps: tuple[Any, Any]) -> None:
    first, second = two_apps
    cookie = cookie_of(logged_in(first))
    accounts = second.registry.uws.authenticator.accounts
    accounts.update("alice", disabled=True)
    accounts.update("alice", disabled=False)
    replay(first, cookie, 401)
    logged_in(first)
