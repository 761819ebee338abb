"""CORS (uws.cors.origins): web applications of listed origins use the REST API, never with cookies."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from uws_pyramid import main
from uws_pyramid.errors import ConfigurationError

from .conftest import UWSTestApp, add_user

PORTAL = "https://portal.example.org"
PASSWORD = "alice-secret-1"


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    settings["uws.cors.origins"] = f"{PORTAL} http://localhost:8080"
    return settings


def test_preflight_of_a_listed_origin(testapp: UWSTestApp) -> None:
    preflight = testapp.options(
        "/rest/echo",
        headers={
            "Origin": PORTAL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
        status=204,
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    # Another origin gets no preflight answer, and no CORS header on anything.
    other = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    assert (
        "Access-Control-Allow-Origin"
        not in testapp.options("/rest/echo", headers=other, status=405).headers
    )


def test_a_listed_origin_creates_and_reads_jobs(testapp: UWSTestApp) -> None:
    created = testapp.post("/rest/echo", {"message": "hi"}, headers={"Origin": PORTAL}, status=303)
    assert created.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "Location" in created.headers["Access-Control-Expose-Headers"]
    assert "Origin" in created.headers["Vary"]
    job = testapp.get(created.location, headers={"Origin": PORTAL})
    assert job.headers["Access-Control-Allow-Origin"] == PORTAL
    # Errors are readable too, so the application can show the message.
    error = testapp.post("/rest/sleep", {"duration": "x"}, headers={"Origin": PORTAL}, status=400)
    assert error.headers["Access-Control-Allow-Origin"] == PORTAL
    refused = testapp.post("/rest/echo", {}, headers={"Origin": "https://evil.example"}, status=403)
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_cookie_sessions_keep_their_cross_site_rules(app: Any, testapp: UWSTestApp) -> None:
    add_user(app, "alice", PASSWORD)
    testapp.post("/login", {"username": "alice", "password": PASSWORD}, status=303)
    # A listed origin's page whose browser sends the user's cookie gains nothing by it.
    testapp.post("/rest/echo", {"message": "x"}, headers={"Origin": PORTAL}, status=403)
    # Its own credentials are fine.
    testapp.reset()
    basic = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    testapp.post("/rest/echo", {}, headers={"Origin": PORTAL, "Authorization": basic}, status=303)


def test_cors_is_off_by_default(settings: dict[str, Any]) -> None:
    del settings["uws.cors.origins"]
    app = main({"here": settings["here"]}, **settings)
    try:
        response = UWSTestApp(app).get("/rest/echo", headers={"Origin": PORTAL})
        assert "Access-Control-Allow-Origin" not in response.headers
    finally:
        app.registry.uws.close()


def test_bad_origins_stop_start_up(settings: dict[str, Any]) -> None:
    settings["uws.cors.origins"] = "portal.example.org"
    with pytest.raises(ConfigurationError, match="uws.cors.origins"):
        main({"here": settings["here"]}, **settings)
