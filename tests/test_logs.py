"""Log lines: JSON on request, one object per line for requests, phase changes and background
passes; credentials never in them, in either format."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid import main
from uws_pyramid.errors import ConfigurationError
from uws_pyramid.jobs import FINAL
from uws_pyramid.logs import redact
from uws_pyramid.settings import parse_settings
from uws_pyramid.testing import wait_for

from .conftest import UWSTestApp, add_user

PASSWORD = "pw-Sekr3t-horse"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """What the root logger's handler writes (the ini's [handler_console] in a server)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(old_level)


def build(tmp_path: Path, settings: dict[str, Any], **more: str) -> Any:
    more = {"uws.background": "true", "uws.destruction.interval": "0.1", **more}
    return main({"here": str(tmp_path)}, **{**settings, **more})


def exercise(app: Any) -> tuple[str, str]:
    """Requests carrying every kind of credential; returns (job id, API token)."""
    add_user(app, "alice", PASSWORD)
    authenticator = app.registry.uws.authenticator
    issued = authenticator.new_token("alice")
    authenticator.accounts.add_token(issued.token)
    token = issued.text
    testapp = UWSTestApp(app)
    testapp.authorization = ("Basic", ("alice", PASSWORD))
    job_id = testapp.post(
        "/rest/echo", {"PHASE": "RUN"}, status=303, headers={"X-Request-ID": "req-42"}
    ).location.rsplit("/", 1)[-1]
    wait_for(lambda: testapp.get(f"/rest/echo/{job_id}/phase").text in {str(p) for p in FINAL})
    testapp.authorization = None
    testapp.get("/rest/echo", headers={"Authorization": f"Bearer {token}"})
    testapp.get(f"/rest/echo?token={token}&password={PASSWORD}", status="*")
    testapp.get("/rest/echo", headers={"Cookie": f"uws_session={PASSWORD}"}, status="*")
    testapp.post("/login", {"username": "alice", "password": PASSWORD}, status="*")
    testapp.get("/rest/echo", headers={"Authorization": "Basic bm9ib2R5Ondyb25n"}, status=401)
    return job_id, token


def test_json_lines_for_requests_phases_and_background(
    tmp_path: Path, settings: dict[str, Any], stream: io.StringIO
) -> None:
    app = build(tmp_path, settings, **{"uws.log.format": "json", "uws.auth.anonymous": "false"})
    try:
        job_id, token = exercise(app)
        wait_for(lambda: '"event": "background"' in stream.getvalue())
    finally:
        app.registry.uws.close()
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]  # every line is one object
    created = next(
        line for line in lines if line.get("event") == "request" and line["request_id"] == "req-42"
    )
    assert created["method"] == "POST" and created["route"] == "jobs"
    assert created["status"] == 303 and created["user"] == "alice"
    assert created["job_id"] == job_id and created["duration_ms"] >= 0
    phases = [
        (line["from"], line["to"])
        for line in lines
        if line.get("event") == "phase" and line["job_id"] == job_id
    ]
    assert ("PENDING", "QUEUED") in phases and phases[-1][1] == "COMPLETED"
    phase = next(line for line in lines if line.get("event") == "phase")
    assert {"job_type", "owner", "manager_id", "reason"} <= set(phase)
    background = next(line for line in lines if line.get("event") == "background")
    assert background["task"] in ("destruction", "reconcile") and background["ok"] is True
    for secret in (PASSWORD, token, token.rsplit("_", 1)[-1], "bm9ib2R5Ondyb25n"):
        assert secret not in text


def test_request_id_is_echoed_only_when_tame(testapp: UWSTestApp) -> None:
    assert (
        testapp.get("/rest/echo", headers={"X-Request-ID": "abc-1"}).headers["X-Request-ID"]
        == "abc-1"
    )
    made = testapp.get("/rest/echo", headers={"X-Request-ID": "bad id\r\n<x>"}).headers[
        "X-Request-ID"
    ]
    assert re.fullmatch(r"[0-9a-f]{12}-[0-9a-f]+", made)
    assert testapp.get("/nowhere", status=404).headers["X-Request-ID"]


def test_default_text_lines_keep_secrets_out(
    tmp_path: Path, settings: dict[str, Any], stream: io.StringIO
) -> None:
    app = build(tmp_path, settings, **{"uws.auth.anonymous": "false"})
    try:
        _, token = exercise(app)
        logging.getLogger("uws_pyramid.test").error("connect failed: password=%s", PASSWORD)
    finally:
        app.registry.uws.close()
    text = stream.getvalue()
    assert "POST /rest/echo 303" in text and not text.lstrip().startswith("{")
    assert "password=[redacted]" in text
    for secret in (PASSWORD, token):
        assert secret not in text


def test_redact_takes_out_values_not_keys() -> None:
    assert redact("Authorization: Bearer abcdefgh12345") == "Authorization: [redacted]"
    assert redact('{"password": "x1"}') == '{"password": "[redacted]"}'
    assert redact("tok uws_abc_0123456789abcdef end") == "tok [redacted] end"
    assert redact("GET /rest/echo 200") == "GET /rest/echo 200"


def test_log_format_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="uws.log.format"):
        parse_settings({"uws.log.format": "xml"})
    assert parse_settings({}).log_format == "text"
