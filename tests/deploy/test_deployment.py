"""A production deployment across hosts, built from the shipped files and README's steps.

Network namespaces on one bridge stand for the hosts: nginx (docs/deploy/nginx-uws.conf) on a
proxy host, two waitress processes started as the systemd unit (docs/deploy/uws@.service)
says, from the shipped production.ini, on an application host; PostgreSQL and the SLURM login
node (sshd, key only) on a third. Jobs are submitted through ssh and call back through the
proxy. Everything goes over the private network: nothing reaches another machine."""

from __future__ import annotations

import base64
import configparser
import http.client
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree

from uws_pyramid.testing import wait_for

from ..conftest import ROOT, require_services
from . import hosts
from .hosts import APP_HOST, LOGIN_HOST, PROXY_HOST

pytestmark = [pytest.mark.slow, pytest.mark.live, pytest.mark.slurm, pytest.mark.postgres]

PUBLIC = "uws.example.org"
SSO = "sso.uws.example.org"
PASSWORD = "operator-password-1"
NS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0", "xlink": "http://www.w3.org/1999/xlink"}
PORTS = (6543, 6544)


@dataclass
class Deployment:
    folder: Path
    app_ns: str
    proxy_ns: str
    access_log: Path

    def request(
        self,
        method: str,
        path: str,
        body: str | None = None,
        host: str = PUBLIC,
        auth: tuple[str, str] | None = ("operator", PASSWORD),
        timeout: float = 60,
    ) -> http.client.HTTPResponse:
        """One request to the proxy's public address, as a client outside would send it."""
        headers = {"Host": host}
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection(PROXY_HOST, 80, timeout=timeout)
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.text = response.read().decode()  # type: ignore[attr-defined]
        connection.close()
        return response


def problem() -> str | None:
    lacking = hosts.missing_tools()
    if lacking:
        return "missing for the deployment test: " + ", ".join(lacking)
    if subprocess.run(["sinfo", "-h"], capture_output=True, check=False).returncode != 0:
        return "no SLURM cluster (tests/slurm/start-slurm.sh)"
    return None


def server_ini(folder: Path, db: str, key: Path, ssh_port: int) -> Path:
    """The shipped production.ini with this deployment's addresses and folders."""
    ini = configparser.RawConfigParser()  # keeps %(http_port)s for pserve to fill in
    ini.optionxform = str  # type: ignore[assignment,method-assign]
    ini.read(ROOT / "production.ini")
    ssh = (
        f"ssh -o BatchMode=yes -i {key} -p {ssh_port} -o StrictHostKeyChecking=no "
        f"-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
    )
    ini["app:main"].update(
        {
            "uws.storage.url": f"postgresql+psycopg://uws@{db}/uws",
            "uws.manager.ssh_host": f"root@{LOGIN_HOST}",
            "uws.manager.ssh_command": ssh,
            "uws.manager.poll_interval": "1",
            "uws.jdl_dir": str(folder / "srv/jdl"),
            "uws.workdir": str(folder / "shared/jobs"),
            "uws.secret_file": str(folder / "srv/var/secret"),
            # Where jobs running on the cluster report their start and end: through the proxy.
            "uws.base_url": f"http://{PROXY_HOST}",
            "uws.auth.proxy_header": "X-Remote-User",
            "uws.auth.proxy_networks": PROXY_HOST,
            "uws.wait.max": "60",
        }
    )
    ini["server:main"]["listen"] = f"{APP_HOST}:%(http_port)s"
    ini["server:main"]["trusted_proxy"] = PROXY_HOST
    path = folder / "srv/app/production.ini"
    path.parent.mkdir(parents=True)
    with path.open("w") as out:
        ini.write(out)
    return path


def nginx_conf(folder: Path) -> Path:
    """The shipped site configuration, with this deployment's addresses and paths."""
    etc = folder / "nginx"
    etc.mkdir()
    shipped = ROOT / "docs/deploy"
    for name in ("uws-proxy-headers.conf", "uws-limits.conf"):
        shutil.copy(shipped / name, etc / name)
    site = (shipped / "nginx-uws.conf").read_text().replace("/etc/nginx/", f"{etc}/")
    site = site.replace("127.0.0.1:6543", f"{APP_HOST}:6543")
    site = site.replace("127.0.0.1:6544", f"{APP_HOST}:6544")
    site = site.replace("listen 80;", f"listen {PROXY_HOST}:80;")
    (etc / "uws.htpasswd").write_text(f"operator:{{PLAIN}}{PASSWORD}\n")
    (etc / "site.conf").write_text(site)
    main = etc / "nginx.conf"
    main.write_text(
        # Workers as root: pytest's folders, where the password file is, are root's only.
        f"user root;\nworker_processes 1;\npid {etc}/nginx.pid;\nerror_log {etc}/error.log info;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"  access_log {etc}/access.log;\n"
        f"  client_body_temp_path {etc}/body; proxy_temp_path {etc}/proxy;\n"
        f"  fastcgi_temp_path {etc}/fcgi; uwsgi_temp_path {etc}/uwsgi; scgi_temp_path {etc}/scgi;\n"
        f"  include {etc}/site.conf;\n"
        "}\n"
    )
    return main


def unit_command(port: int) -> list[str]:
    """ExecStart of the shipped systemd unit, for instance ``port`` (run in the folder that
    stands for its WorkingDirectory)."""
    unit = configparser.RawConfigParser(strict=False)
    unit.read(ROOT / "docs/deploy/uws@.service")
    argv = shlex.split(unit["Service"]["ExecStart"].replace("%i", str(port)))
    assert argv[0] == "/srv/uws/app/.venv/bin/pserve"
    return [str(Path(sys.executable).parent / "pserve"), *argv[1:]]


def admin(ini: Path, *argv: str, stdin: str = "") -> str:
    """``uws-admin <command> [<action>] <ini> ...`` as README writes it."""
    split = 2 if argv[0] in ("users", "roles", "tokens") else 1
    command = [*argv[:split], str(ini), *argv[split:]]
    done = subprocess.run(
        [str(Path(sys.executable).parent / "uws-admin"), *command],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    reason = problem()
    if reason:
        if require_services():
            pytest.fail(reason)
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("deploy")
    network = hosts.Network()
    with ExitStack() as stack:
        stack.callback(network.down)
        network.up()
        app_ns = network.add_host("app", APP_HOST)
        proxy_ns = network.add_host("proxy", PROXY_HOST)
        pg_port = hosts.free_port()
        stack.enter_context(hosts.postgres(["127.0.0.1", LOGIN_HOST], pg_port))
        key = folder / "ssh/client_key"
        ssh_port = hosts.free_port()
        stack.enter_context(hosts.sshd(folder / "sshd", LOGIN_HOST, ssh_port, key))
        # README's steps: role and database, folders, job descriptions, migrate, check, admin.
        psql = ("psql", "-h", "127.0.0.1", "-p", str(pg_port), "-U", "postgres", "-qc")
        hosts.run(*psql, "CREATE ROLE uws LOGIN")
        hosts.run(*psql, "CREATE DATABASE uws OWNER uws")
        shutil.copytree(ROOT / "jdl", folder / "srv/jdl", ignore=shutil.ignore_patterns(".history"))
        (folder / "shared/jobs").mkdir(parents=True)
        ini = server_ini(folder, f"{LOGIN_HOST}:{pg_port}", key, ssh_port)
        admin(ini, "migrate")
        assert admin(ini, "check").endswith("all checks passed\n")
        admin(ini, "users", "add", "operator", "--role", "admin", stdin=f"{PASSWORD}\n")
        servers = {
            port: stack.enter_context(
                hosts.daemon(
                    unit_command(port), folder / f"server-{port}.log", netns=app_ns, cwd=ini.parent
                )
            )
            for port in PORTS
        }
        main = nginx_conf(folder)
        proxy = stack.enter_context(
            hosts.daemon(
                ["nginx", "-c", str(main), "-g", "daemon off;"],
                folder / "nginx.log",
                netns=proxy_ns,
            )
        )
        for port, server in servers.items():
            hosts.wait_port(APP_HOST, port, server, folder / f"server-{port}.log", timeout=60)
        hosts.wait_port(PROXY_HOST, 80, proxy, folder / "nginx.log")
        yield Deployment(folder, app_ns, proxy_ns, folder / "nginx/access.log")


def job_phase(deployment: Deployment, url: str) -> str:
    return deployment.request("GET", urlsplit(url).path + "/phase").text  # type: ignore[attr-defined]


def test_a_job_through_the_proxy_on_the_cluster(deployment: Deployment) -> None:
    created = deployment.request("POST", "/rest/sleep", "duration=8&PHASE=RUN&RUNID=deploy")
    assert created.status == 303, created.text  # type: ignore[attr-defined]
    url = created.headers["Location"]
    # The service's URLs show the proxy's public name (X-Forwarded-Host), not its own.
    assert url.startswith(f"http://{PUBLIC}/rest/sleep/"), url
    path = urlsplit(url).path
    # WAIT is held open through the proxy, and answers when the phase changes.
    wait_for(lambda: job_phase(deployment, url) == "EXECUTING", timeout=60, interval=0.3)
    started = time.monotonic()
    waited = deployment.request("GET", path + "?WAIT=50&PHASE=EXECUTING", timeout=90)
    held = time.monotonic() - started
    root = etree.fromstring(waited.text.encode())  # type: ignore[attr-defined]
    assert root.findtext("uws:phase", namespaces=NS) == "COMPLETED"
    # It blocked (the job had seconds left to run) and it answered at the change, long before
    # its own timeout.
    assert 1.0 < held < 45, held
    # The job's result, its links, and the job list: public addresses everywhere.
    href = root.find("uws:results/uws:result", NS).get(f"{{{NS['xlink']}}}href")
    assert href == f"http://{PUBLIC}{path}/results/output"
    assert deployment.request("GET", path + "/results/output").text == "slept 8 s\n"  # type: ignore[attr-defined]
    listing = deployment.request("GET", "/rest/sleep").text  # type: ignore[attr-defined]
    assert f'xlink:href="http://{PUBLIC}{path}"' in listing
    # The job called back through the proxy (signed events), from the cluster's node.
    job_id = path.rsplit("/", 1)[1]
    log = deployment.access_log.read_text()
    assert re.search(
        rf'^{re.escape(LOGIN_HOST)} .*"POST /events/{job_id} HTTP/1.1" 20\d', log, re.M
    ), log[-2000:]
    deleted = deployment.request("DELETE", path)
    assert deleted.status == 303
    assert deleted.headers["Location"] == f"http://{PUBLIC}/rest/sleep?LAST=100"
    assert deployment.request("GET", path).status == 404


def test_both_servers_answer_and_share_the_jobs(deployment: Deployment) -> None:
    created = deployment.request("POST", "/rest/echo", "message=shared")
    path = urlsplit(created.headers["Location"]).path
    for port in PORTS:
        direct = http.client.HTTPConnection(APP_HOST, port, timeout=10)
        direct.request(
            "GET",
            path + "/parameters/message",
            headers={
                "Authorization": "Basic "
                + base64.b64encode(f"operator:{PASSWORD}".encode()).decode()
            },
        )
        answer = direct.getresponse()
        assert (answer.status, answer.read()) == (200, b"shared")
        direct.close()


def test_single_sign_on_through_the_proxys_user_header(deployment: Deployment) -> None:
    created = deployment.request("POST", "/rest/echo", "message=sso", host=SSO)
    assert created.status == 303, created.text  # type: ignore[attr-defined]
    path = urlsplit(created.headers["Location"]).path
    assert created.headers["Location"].startswith(f"http://{SSO}/")
    assert deployment.request("GET", path + "/owner", host=SSO).text == "operator"  # type: ignore[attr-defined]
    # Wrong password at the proxy: refused there.
    assert deployment.request("GET", "/rest/echo", host=SSO, auth=("operator", "x")).status == 401
    # On the API name, a client cannot pass itself off as someone with the header.
    spoof = http.client.HTTPConnection(PROXY_HOST, 80, timeout=10)
    spoof.request("GET", path + "/owner", headers={"Host": PUBLIC, "X-Remote-User": "operator"})
    assert spoof.getresponse().status == 401
    spoof.close()
    # Straight to a server (not through the proxy), the header is not believed either.
    direct = http.client.HTTPConnection(APP_HOST, PORTS[0], timeout=10)
    direct.request("GET", path + "/owner", headers={"X-Remote-User": "operator"})
    assert direct.getresponse().status == 401
    direct.close()
