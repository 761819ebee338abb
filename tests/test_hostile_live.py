"""Hostile clients against a real server process (pserve with the shipped waitress settings):
multipart bombs leave no descriptor behind, idle connections lock nobody out, and a real
reverse proxy (nginx) is believed while a direct client is not."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from uws_pyramid.testing import wait_for

from .conftest import require_services
from .hostile import (
    basic,
    free_port,
    idle_connections,
    latency,
    multipart_bomb,
    pserve,
    request,
    shipped_server_options,
)

pytestmark = [pytest.mark.live, pytest.mark.slow]


@pytest.mark.parametrize("ini", ["development.ini", "production.ini"])
def test_shipped_ini_files_use_poll_and_bounded_connections(ini: str) -> None:
    options = shipped_server_options(ini)
    assert options["asyncore_use_poll"] == "true"
    assert int(options["channel_timeout"]) <= 120
    assert int(options["connection_limit"]) >= 400


def test_multipart_bombs_leave_no_descriptor_open(tmp_path: Path) -> None:
    with pserve(tmp_path) as server:
        port = server.port
        # Warm up what a server opens once (database connections, job directory).
        status, _ = request(
            port,
            "POST",
            "/rest/echo",
            b"message=hi",
            {**basic(), "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 303
        job = f"/rest/echo/{_job_id(port)}"
        time.sleep(0.5)
        baseline = server.fds()
        bomb, headers = multipart_bomb(10_000)
        answers = {
            "/login": request(port, "POST", "/login", bomb, headers),
            "/events/x": request(port, "POST", "/events/x", bomb, headers),
            "/rest/echo anonymous": request(port, "POST", "/rest/echo", bomb, headers),
            "/logout": request(port, "POST", "/logout", bomb, headers),
            "/rest/echo": request(port, "POST", "/rest/echo", bomb, {**headers, **basic()}),
            "job": request(port, "POST", job, bomb, {**headers, **basic()}),
            "job/phase": request(port, "POST", job + "/phase", bomb, {**headers, **basic()}),
        }
        assert {path: status for path, (status, _) in answers.items()} == {
            "/login": 413,
            "/events/x": 413,
            "/rest/echo anonymous": 401,
            "/logout": 303,
            "/rest/echo": 400,
            "job": 400,
            "job/phase": 400,
        }
        assert b"uws.limits.parameters" in answers["/rest/echo"][1]
        # Files big enough to be spooled to disk, more than may be sent: 100 temporary files
        # are open when parsing stops; all are closed when the request ends.
        big, headers = multipart_bomb(120, 300 * 1024)
        status, body = request(port, "POST", "/rest/echo", big, {**headers, **basic()})
        assert status == 400 and b"too many parameters" in body
        # Under the limit, refused later by the job type (no such parameter): closed too.
        some, headers = multipart_bomb(20, 300 * 1024)
        status, body = request(port, "POST", "/rest/echo", some, {**headers, **basic()})
        assert 400 <= status < 500, body
        wait_for(lambda: server.fds() <= baseline, timeout=10)
        assert latency(port) < 5


def _job_id(port: int) -> str:
    status, body = request(port, "GET", "/rest/echo?LAST=1", headers=basic())
    assert status == 200
    return body.split(b'<uws:jobref id="', 1)[1].split(b'"', 1)[0].decode()


def test_two_hundred_idle_connections_do_not_lock_out_a_client(tmp_path: Path) -> None:
    with pserve(tmp_path) as server:
        latency(server.port)
        time.sleep(0.5)  # the server has closed the connections of the start-up checks
        baseline = server.fds()
        held = idle_connections(server.port, 200)
        try:
            wait_for(lambda: server.fds() >= baseline + 200, timeout=10)
            seconds = latency(server.port, timeout=10)
            assert seconds < 3, f"a normal client waited {seconds:.1f} s"
        finally:
            for s in held:
                s.close()
        wait_for(lambda: server.fds() <= baseline, timeout=10)


# -- through a real reverse proxy ---------------------------------------------------------

NGINX = """daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            # The proxy talks to the service from its own address (as another host would).
            proxy_bind 127.0.0.2;
            # The proxy authenticated the user (say, by single sign-on): it is alice.
            proxy_set_header X-Remote-User alice;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Host $host;
        }}
    }}
}}
"""


@pytest.fixture
def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        if require_services():
            pytest.fail("nginx is not installed (apt-get install nginx-light)")
        pytest.skip("nginx is not installed")
    return found


@pytest.fixture
def proxied(tmp_path: Path, nginx_binary: str) -> Iterator[tuple[int, int]]:
    """(proxy port, service port): nginx in front of pserve with production.ini's proxy
    settings, the proxy's address being 127.0.0.2."""
    options = {**shipped_server_options("production.ini"), "trusted_proxy": "127.0.0.2"}
    app = {
        "uws.auth.proxy_header": "X-Remote-User",
        "uws.auth.proxy_networks": "127.0.0.2",
        "uws.events.allow": "10.9.9.9",
    }
    here = tmp_path / "service"
    here.mkdir()
    with pserve(here, app, options) as server:
        port = free_port()
        conf = tmp_path / "nginx.conf"
        conf.write_text(NGINX.format(tmp=tmp_path, port=port, upstream=server.port))
        proc = subprocess.Popen(
            [nginx_binary, "-c", str(conf), "-p", str(tmp_path)], stderr=subprocess.DEVNULL
        )
        try:
            wait_for(lambda: _listening(port), timeout=10)
            yield port, server.port
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _listening(port: int) -> bool:
    try:
        request(port, "GET", "/availability", timeout=1)
        return True
    except OSError:
        return False


def test_the_proxy_is_believed_and_a_direct_client_is_not(proxied: tuple[int, int]) -> None:
    proxy, service = proxied
    status, _ = request(proxy, "GET", "/client/config", source="127.0.0.3")
    assert status == 200
    status, body = request(
        proxy,
        "POST",
        "/rest/echo",
        b"message=hi",
        {"Content-Type": "application/x-www-form-urlencoded"},
        source="127.0.0.3",
    )
    assert status == 303, body
    status, body = request(proxy, "GET", "/rest/echo", source="127.0.0.3")
    assert status == 200 and b"<uws:ownerId>alice</uws:ownerId>" in body
    # The service still sees the client's address (login throttling, logs, events.allow).
    status, body = request(
        proxy,
        "POST",
        "/events/x",
        b"event=x",
        {"Content-Type": "application/x-www-form-urlencoded"},
        source="127.0.0.3",
    )
    assert status == 403 and b"not accepted from 127.0.0.3" in body
    # Straight to the service, the header is anybody's: not believed, whatever else is sent.
    for source, extra in (("127.0.0.1", {}), ("127.0.0.3", {"X-Forwarded-For": "127.0.0.2"})):
        status, _ = request(
            service, "GET", "/rest/echo", headers={"X-Remote-User": "alice", **extra}, source=source
        )
        assert status == 401, (source, extra)
