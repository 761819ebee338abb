"""Log lines: JSON on request, one object per line for requests, phase changes and background
passes; credentials never in them, in either format."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyramid.request import Request

from uws_pyramid import logs, main
from uws_pyramid.errors import ConfigurationError
from uws_pyramid.jobs import FINAL
from uws_pyramid.logs import redact
from uws_pyramid.settings import parse_settings
from uws_pyramid.testing import wait_for
from uws_pyramid.web import observe

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


def test_request_ids_of_a_forked_process_have_their_own_prefix() -> None:
    """Server processes forked from one that imported the app (one per core, say) make
    ids of their own: the prefix is drawn again in the child."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its prefix to the parent, and out
        os.write(write, observe._prefix.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        theirs = pipe.read()
    os.waitpid(pid, 0)
    assert re.fullmatch(r"[0-9a-f]{12}-", theirs) and theirs != observe._prefix


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


FIELDS = {
    "method": "GET",
    "route": "job",
    "path": "/rest/echo/abc",
    "status": 200,
    "duration_ms": 1.25,
    "user": None,
    "job_id": "abc",
    "request_id": "r-1",
    "client": "127.0.0.1",
}


@pytest.fixture
def access() -> Iterator[tuple[logging.Logger, logging.Handler, io.StringIO]]:
    """The access logger with a handler of its own that shows what logging's records hold."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        logging.Formatter(
            "%(name)s %(levelname)s %(process)d %(threadName)s %(thread)d %(funcName)s "
            "%(module)s %(created)f %(message)s"
        )
    )
    logger = logging.getLogger("uws_pyramid.access")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, handler, out
    logger.removeHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


def test_access_lines_hold_what_a_logged_record_holds(
    access: tuple[logging.Logger, logging.Handler, io.StringIO],
) -> None:
    logger, _, out = access
    before = time.time()
    thread = threading.Thread(target=logs.request_line, args=(FIELDS,), name="waitress-7")
    thread.start()
    thread.join()
    after = time.time()
    logger.info("%s %s", "by", "logger")  # the logger's own record, to compare with
    ours, theirs = (line.split(" ") for line in out.getvalue().splitlines())
    assert ours[:3] == theirs[:3] == ["uws_pyramid.access", "INFO", str(os.getpid())]
    assert ours[3:8] == ["waitress-7", str(thread.ident), "request_line", "logs", ours[7]]
    assert before <= float(ours[7]) <= after
    assert " ".join(ours[8:]) == "GET /rest/echo/abc 200 1.2 ms user=- job=abc request=r-1"


def test_access_lines_go_where_levels_handlers_and_filters_say(
    access: tuple[logging.Logger, logging.Handler, io.StringIO],
) -> None:
    logger, handler, out = access
    handler.setLevel(logging.WARNING)
    logs.request_line(FIELDS)
    handler.setLevel(logging.NOTSET)
    logger.setLevel(logging.WARNING)
    logs.request_line(FIELDS)
    logger.setLevel(logging.INFO)
    refuse = logging.Filter("nothing.of.ours")
    logger.addFilter(refuse)
    logs.request_line(FIELDS)
    logger.removeFilter(refuse)
    assert out.getvalue() == ""
    # Propagated: the parents' handlers have it too, once each.
    parent = io.StringIO()
    above = logging.StreamHandler(parent)
    logging.getLogger("uws_pyramid").addHandler(above)
    logger.propagate = True
    try:
        logs.request_line(FIELDS)
    finally:
        logging.getLogger("uws_pyramid").removeHandler(above)
    assert len(out.getvalue().splitlines()) == len(parent.getvalue().splitlines()) == 1


def test_access_lines_of_a_forked_child_name_its_process(
    access: tuple[logging.Logger, logging.Handler, io.StringIO],
) -> None:
    logs.request_line(FIELDS)  # the parent's record state is made
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        try:
            os.write(writer, str(logs._access_record(FIELDS).process).encode())
        finally:
            os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader) as pipe:
        assert pipe.read() == str(child)


def test_access_lines_with_a_record_factory_of_the_deployment(
    access: tuple[logging.Logger, logging.Handler, io.StringIO],
) -> None:
    logger, handler, out = access
    handler.setFormatter(logging.Formatter("%(site)s %(message)s"))
    factory = logging.getLogRecordFactory()

    def made(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.site = "site-a"
        return record

    logging.setLogRecordFactory(made)
    try:
        logs.request_line(FIELDS)
    finally:
        logging.setLogRecordFactory(factory)
    assert out.getvalue().startswith("site-a GET /rest/echo/abc 200")


@pytest.mark.parametrize(
    "path", ["/rest/echo/abc", "/a b", "/caf\xc3\xa9", "/x%2Fy", "/~!$&'()*+,;=:@-._", "/a^b?c"]
)
def test_access_line_paths_are_webobs_quoted_paths(path: str) -> None:
    request = Request.blank("/")
    request.environ.update({"SCRIPT_NAME": "/uws", "PATH_INFO": path})
    assert observe._path(request, request.environ) == request.path


def test_json_access_lines_keep_their_fields(
    access: tuple[logging.Logger, logging.Handler, io.StringIO],
) -> None:
    logger, handler, out = access
    handler.setFormatter(logs.JsonFormatter())
    logs.request_line(FIELDS)
    line = json.loads(out.getvalue())
    assert line.pop("time").endswith("Z")
    assert line == {
        "level": "INFO",
        "logger": "uws_pyramid.access",
        "message": "GET /rest/echo/abc 200 1.2 ms user=- job=abc request=r-1",
        "event": "request",
        **FIELDS,
    }
