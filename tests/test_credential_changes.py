"""Basic and Bearer credentials meet the database on every request: a token revoked, an
account disabled, a password or roles changed by another server process count at the very
next request, however recently the credentials were verified (and cached) here."""

from __future__ import annotations

import base64
from typing import Any

from uws_pyramid.accounts import ADMIN
from uws_pyramid.auth import Authenticator
from uws_pyramid.submission import Submission

from .conftest import UWSTestApp
from .test_sessions import PASSWORD, two_apps  # noqa: F401  (a fixture)

NEW_PASSWORD = "alice-secret-2"


def basic(password: str, user: str = "alice") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def authenticator(app: Any) -> Authenticator:
    found = app.registry.uws.authenticator
    assert found is not None
    return found


def bearer(app: Any) -> dict[str, str]:
    """A new API token of alice, stored through ``app``."""
    issued = authenticator(app).new_token("alice")
    authenticator(app).accounts.add_token(issued.token)
    return {"Authorization": f"Bearer {issued.text}"}


def test_a_token_revoked_in_another_process_is_refused_at_once(
    two_apps: tuple[Any, Any],
) -> None:
    first, second = two_apps
    client = UWSTestApp(first)
    headers, other = bearer(second), bearer(second)
    for _ in range(2):  # the second time from the cache of good answers
        client.get("/rest/echo", headers=headers, status=200)
    token_id = headers["Authorization"].split("_")[1]
    assert authenticator(second).accounts.remove_token(token_id) is True
    client.get("/rest/echo", headers=headers, status=401)
    # As the token inside Basic credentials too; the user's other token still works.
    secret = headers["Authorization"].removeprefix("Bearer ")
    client.get("/rest/echo", headers=basic(secret), status=401)
    client.get("/rest/echo", headers=other, status=200)


def test_an_account_disabled_in_another_process_is_refused_at_once(
    two_apps: tuple[Any, Any],
) -> None:
    first, second = two_apps
    client = UWSTestApp(first)
    token = bearer(first)
    for headers in (basic(PASSWORD), token):
        client.get("/rest/echo", headers=headers, status=200)
    authenticator(second).accounts.update("alice", disabled=True)
    for headers in (basic(PASSWORD), token):
        client.get("/rest/echo", headers=headers, status=401)
    authenticator(second).accounts.update("alice", disabled=False)
    for headers in (basic(PASSWORD), token):
        client.get("/rest/echo", headers=headers, status=200)


def test_a_password_changed_in_another_process_counts_at_once(
    two_apps: tuple[Any, Any],
) -> None:
    first, second = two_apps
    client = UWSTestApp(first)
    client.get("/rest/echo", headers=basic(PASSWORD), status=200)
    hashed = authenticator(second).hash_password(NEW_PASSWORD)
    authenticator(second).accounts.update("alice", password_hash=hashed)
    client.get("/rest/echo", headers=basic(PASSWORD), status=401)
    client.get("/rest/echo", headers=basic(NEW_PASSWORD), status=200)
    # And back: the old password's good answer, cached before, does not come back to life
    # for another hash of the same password (each hash is salted anew).
    hashed = authenticator(second).hash_password(PASSWORD)
    authenticator(second).accounts.update("alice", password_hash=hashed)
    client.get("/rest/echo", headers=basic(NEW_PASSWORD), status=401)
    client.get("/rest/echo", headers=basic(PASSWORD), status=200)


def test_roles_changed_in_another_process_count_at_once(two_apps: tuple[Any, Any]) -> None:
    first, second = two_apps
    job = first.registry.uws.service.create("echo", Submission(parameters={}), "bob")
    url = f"/rest/echo/{job.job_id}"
    client = UWSTestApp(first)
    token = bearer(first)
    for headers in (basic(PASSWORD), token):
        client.get(url, headers=headers, status=403)  # bob's job
    authenticator(second).accounts.update("alice", roles=frozenset({ADMIN}))
    for headers in (basic(PASSWORD), token):
        client.get(url, headers=headers, status=200)  # an administrator sees every job
    authenticator(second).accounts.update("alice", roles=frozenset())
    for headers in (basic(PASSWORD), token):
        client.get(url, headers=headers, status=403)
