"""Who may do what: every resource as the owner, another user, an administrator, an anonymous
caller and a wrong password, in one table; then listing, tokens and proxy identities."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid import main
from uws_pyramid.jobs import ErrorSummary, Job, Phase, Result
from uws_pyramid.submission import Submission

from .conftest import ROOT, UWSTestApp, add_user
from .fakes import FakesPlugin

PASSWORDS = {"alice": "alice-secret-1", "bob": "bob-secret-22", "root": "root-secret-333"}
CALLERS = ("owner", "other", "admin", "anonymous", "wrong password")
LOGINS: dict[str, tuple[str, str] | None] = {
    "owner": ("alice", PASSWORDS["alice"]),
    "other": ("bob", PASSWORDS["bob"]),
    "admin": ("root", PASSWORDS["root"]),
    "anonymous": None,
    "wrong password": ("alice", "not-her-password"),
}


def build(tmp: Path, **extra: str) -> Any:
    # A copy of the job descriptions: the administrator's PUT saves one.
    shutil.copytree(ROOT / "jdl", tmp / "jdl", ignore=shutil.ignore_patterns(".history"))
    settings = {
        "here": str(tmp),
        "uws.storage": "sqlite",
        "uws.storage.path": "uws.sqlite",
        "uws.manager": "holding",
        "uws.jdl_dir": str(tmp / "jdl"),
        "uws.workdir": "jobs",
        "uws.background": "false",
        "uws.editor": "true",
        # Only holders of the role "astro" may create sleep jobs.
        "uws.auth.type_roles": "sleep = astro",
        # The table tries a wrong password on every resource: no throttling here (see
        # tests/test_throttle.py for that).
        "uws.auth.failures": "1000000",
        "testing.plugins": [FakesPlugin()],
        **extra,
    }
    app = main({"here": str(tmp)}, **settings)
    add_user(app, "alice", PASSWORDS["alice"], "astro")
    add_user(app, "bob", PASSWORDS["bob"])
    add_user(app, "root", PASSWORDS["root"], "admin")
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    wsgi = build(tmp_path_factory.mktemp("access"))
    yield wsgi
    wsgi.registry.uws.close()


def client(app: Any, caller: str) -> UWSTestApp:
    testapp = UWSTestApp(app)
    login = LOGINS[caller]
    if login is not None:
        testapp.authorization = ("Basic", login)
    return testapp


def job_of(app: Any, owner: str | None, phase: Phase = Phase.PENDING) -> Job:
    """A job of ``owner``: PENDING, or finished with a result file (COMPLETED) or an error."""
    runtime = app.registry.uws
    job = runtime.service.create("echo", Submission(parameters={"message": "hi"}), owner)
    if phase == Phase.PENDING:
        return job
    runtime.service.run(job)
    job_dir = runtime.service.job_dir(job.job_id)
    job_dir.create()
    (job_dir.path / "output.txt").write_text("hi\n")
    result = [Result("output", "output.txt", "text/plain", 3)]
    error = ErrorSummary("it failed") if phase == Phase.ERROR else None
    runtime.manager.finish(job.job_id, phase, results=result, error=error)
    return runtime.storage.get(job.job_id)


def description(testapp: UWSTestApp) -> dict[str, Any]:
    return {"description": client_json(testapp, "/jdl/echo/json"), "script": None}


def client_json(testapp: UWSTestApp, path: str) -> Any:
    admin = UWSTestApp(testapp.app)
    admin.authorization = ("Basic", LOGINS["admin"])
    return admin.get(path).json


J = "/rest/echo/{job}"
# method, path ({job}: a fresh job of alice), form or JSON body, job kind, and the expected
# status for: owner, other user, administrator, anonymous, wrong password.
TABLE: list[tuple[str, str, Any, Phase, tuple[int, int, int, int, int]]] = [
    ("GET", "/", None, Phase.PENDING, (200, 200, 200, 200, 401)),
    ("GET", "/capabilities", None, Phase.PENDING, (200, 200, 200, 200, 401)),
    ("GET", "/availability", None, Phase.PENDING, (200, 200, 200, 200, 401)),
    ("GET", "/client/", None, Phase.PENDING, (302, 302, 302, 302, 401)),
    ("GET", "/client/config", None, Phase.PENDING, (200, 200, 200, 200, 401)),
    ("GET", "/jdl", None, Phase.PENDING, (200, 200, 200, 401, 401)),
    ("GET", "/jdl/echo", None, Phase.PENDING, (200, 200, 200, 401, 401)),
    ("GET", "/jdl/echo/json", None, Phase.PENDING, (200, 200, 200, 401, 401)),
    ("GET", "/jdl/echo/script", None, Phase.PENDING, (403, 403, 200, 401, 401)),
    ("PUT", "/jdl/echo", description, Phase.PENDING, (403, 403, 200, 401, 401)),
    ("GET", "/rest", None, Phase.PENDING, (200, 200, 200, 401, 401)),
    ("GET", "/rest/echo", None, Phase.PENDING, (200, 200, 200, 401, 401)),
    ("POST", "/rest/echo", {"message": "x"}, Phase.PENDING, (303, 303, 303, 401, 401)),
    ("POST", "/rest/sleep", {}, Phase.PENDING, (303, 403, 303, 401, 401)),
    ("GET", "/rest/nosuchtype", None, Phase.PENDING, (404, 404, 404, 401, 401)),
    ("GET", "/rest/echo/nosuchjob", None, Phase.PENDING, (404, 404, 404, 401, 401)),
    ("GET", J, None, Phase.PENDING, (200, 403, 200, 401, 401)),
    ("GET", J + "?WAIT=0", None, Phase.PENDING, (200, 403, 200, 401, 401)),
    ("GET", J + "/phase", None, Phase.PENDING, (200, 403, 200, 401, 401)),
    ("GET", J + "/executionduration", None, Phase.PENDING, (200, 403, 200, 401, 401)),
    ("GET", J + "/destruction", None, Phase.PENDING, (200, 403, 200, 401, 401)),
    ("GET", J + "/quote", None, Phase.PENDING, (200, 403, 200, 401, 401)),
    ("GET", J + "/owner", None, Phase.PENDING, (200, 403, 200, 401, 401)),
    ("GET", J + "/runId", None, Phase.PENDING, (200, 403, 200, 401, 401)),
    ("GET", J + "/parameters", None, Phase.PENDING, (200, 403, 200, 401, 401)),
    ("GET", J + "/parameters/message", None, Phase.PENDING, (200, 403, 200, 401, 401)),
    ("GET", J + "/results", None, Phase.COMPLETED, (200, 403, 200, 401, 401)),
    ("GET", J + "/results/output", None, Phase.COMPLETED, (200, 403, 200, 401, 401)),
    ("GET", J + "/error", None, Phase.ERROR, (200, 403, 200, 401, 401)),
    ("POST", J, {"message": "changed"}, Phase.PENDING, (303, 403, 303, 401, 401)),
    ("POST", J + "/phase", {"PHASE": "RUN"}, Phase.PENDING, (303, 403, 303, 401, 401)),
    ("POST", J + "/phase", {"PHASE": "ABORT"}, Phase.PENDING, (303, 403, 303, 401, 401)),
    (
        "POST",
        J + "/executionduration",
        {"EXECUTIONDURATION": "30"},
        Phase.PENDING,
        (303, 403, 303, 401, 401),
    ),
    (
        "POST",
        J + "/destruction",
        {"DESTRUCTION": "2099-01-01T00:00:00Z"},
        Phase.PENDING,
        (303, 403, 303, 401, 401),
    ),
    ("POST", J, {"ACTION": "DELETE"}, Phase.PENDING, (303, 403, 303, 401, 401)),
    ("DELETE", J, None, Phase.PENDING, (303, 403, 303, 401, 401)),
    ("PUT", J, None, Phase.PENDING, (405, 403, 405, 401, 401)),
    ("POST", "/events/{job}", {"event": "ended"}, Phase.PENDING, (403, 403, 403, 403, 401)),
    (
        "POST",
        "/login",
        {"username": "bob", "password": "nope"},
        Phase.PENDING,
        (401, 401, 401, 401, 401),
    ),
    ("POST", "/logout", {}, Phase.PENDING, (303, 303, 303, 303, 401)),
]
STATIC_PAGES = sorted(
    p.name for p in (ROOT / "uws_pyramid/client/static").iterdir() if p.suffix == ".html"
)
TABLE += [
    ("GET", f"/client/static/{page}", None, Phase.PENDING, (200, 200, 200, 200, 401))
    for page in STATIC_PAGES
]


@pytest.mark.parametrize(
    ("method", "path", "body", "kind", "expected"),
    TABLE,
    ids=[f"{m} {p}" + ("" if k == Phase.PENDING else f" ({k})") for m, p, _, k, _ in TABLE],
)
def test_every_resource_answers_each_caller_as_expected(
    app: Any, method: str, path: str, body: Any, kind: Phase, expected: tuple[int, ...]
) -> None:
    storage = app.registry.uws.storage
    for caller, status in zip(CALLERS, expected, strict=True):
        job = job_of(app, "alice", kind)
        testapp = client(app, caller)
        url = path.format(job=job.job_id)
        data = body(testapp) if callable(body) else body
        if method == "PUT" and data:
            response = testapp.put_json(url, data, status="*")
        elif method == "GET":
            response = testapp.get(url, status="*")
        else:
            response = getattr(testapp, method.lower())(url, data or "", status="*")
        assert response.status_int == status, f"{caller}: {response.status} {response.text}"
        if status == 401 and path != "/login":  # the login form's refusal asks for no dialog
            assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
        if status in (401, 403) and method != "GET":
            assert storage.get(job.job_id) == job, f"{caller}'s refused {method} changed the job"


def test_messages_say_why(app: Any) -> None:
    job = job_of(app, "alice")
    bob, anonymous = client(app, "other"), client(app, "anonymous")
    assert "belongs to another user" in bob.get(f"/rest/echo/{job.job_id}", status=403).text
    assert "role 'astro'" in bob.post("/rest/sleep", status=403).text
    assert "administrators" in bob.put_json("/jdl/echo", {}, status=403).text
    assert "log in" in anonymous.get(f"/rest/echo/{job.job_id}", status=401).text
    wrong = client(app, "wrong password").get("/", status=401).text
    assert "wrong user name, password or token" in wrong


def test_each_user_lists_their_own_jobs_and_admins_all(app: Any) -> None:
    mine, theirs = job_of(app, "alice"), job_of(app, "bob")

    def listed(caller: str, path: str) -> set[str]:
        return {j["id"] for j in client(app, caller).get(path, headers=JSON).json["jobs"]}

    for path in ("/rest/echo", "/rest"):
        assert mine.job_id in listed("owner", path) and theirs.job_id not in listed("owner", path)
        assert theirs.job_id in listed("other", path) and mine.job_id not in listed("other", path)
        assert {mine.job_id, theirs.job_id} <= listed("admin", path)
    created = client(app, "owner").post("/rest/echo", {}).location
    assert client(app, "owner").get(created + "/owner").text == "alice"


JSON = {"Accept": "application/json"}


# -- anonymous access on (development) ------------------------------------------------------


@pytest.fixture(scope="module")
def open_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    wsgi = build(tmp_path_factory.mktemp("open"), **{"uws.auth.anonymous": "true"})
    yield wsgi
    wsgi.registry.uws.close()


def test_anonymous_jobs_belong_to_anonymous_callers_only(open_app: Any) -> None:
    anonymous, alice, root = (client(open_app, c) for c in ("anonymous", "owner", "admin"))
    url = anonymous.post("/rest/echo", {"message": "x"}).location
    assert anonymous.get(url + "/owner").text == ""
    anonymous.post(url + "/phase", {"PHASE": "RUN"}, status=303)
    assert "belongs to another user" in alice.get(url, status=403).text
    root.get(url, status=200)
    job_id = url.rsplit("/", 1)[1]
    assert [j["id"] for j in anonymous.get("/rest/echo", headers=JSON).json["jobs"]] == [job_id]
    assert job_id not in alice.get("/rest/echo", headers=JSON).text
    hers = job_of(open_app, "alice")
    anonymous.get(f"/rest/echo/{hers.job_id}", status=401)
    assert hers.job_id not in anonymous.get("/rest", headers=JSON).text
    # A wrong password is an error, never a quiet fall-back to anonymous access.
    client(open_app, "wrong password").get("/rest/echo", status=401)


def test_empty_basic_credentials_mean_anonymous_only_where_anonymous_is_on(
    open_app: Any, app: Any
) -> None:
    # `curl -u :` and a widely used UWS validator send these when they mean "no credentials".
    empty = {"Authorization": "Basic Og=="}
    open_client = UWSTestApp(open_app)
    url = open_client.post("/rest/echo", {"message": "x"}, headers=empty).location
    assert open_client.get(url + "/owner", headers=empty).text == ""
    assert UWSTestApp(app).get("/rest/echo", headers=empty, status=401).text
    # A user name with an empty password is still a wrong password.
    open_client.get("/rest/echo", headers=basic("alice", ""), status=401)


# -- tokens, disabled accounts, proxies -------------------------------------------------------


def basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def test_api_tokens_work_until_revoked(app: Any) -> None:
    auth = app.registry.uws.authenticator
    issued = auth.new_token("bob", "pipeline")
    auth.accounts.add_token(issued.token)
    testapp = UWSTestApp(app)
    bearer = {"Authorization": f"Bearer {issued.text}"}
    url = testapp.post("/rest/echo", {}, headers=bearer).location
    assert testapp.get(url + "/owner", headers=basic("anything", issued.text)).text == "bob"
    assert issued.text not in str(auth.accounts.tokens("bob"))  # only the hash is kept
    auth.accounts.remove_token(issued.token.token_id)
    testapp.get(url, headers=bearer, status=401)
    testapp.get("/rest/echo", headers={"Authorization": "Bearer uws_nope_nope"}, status=401)
    for header in ("Basic !!!", "Basic " + base64.b64encode(b"no colon").decode(), "Digest x"):
        assert testapp.get("/", headers={"Authorization": header}, status=401).text


def test_a_disabled_account_is_refused(tmp_path: Path) -> None:
    app = build(tmp_path)
    try:
        auth = app.registry.uws.authenticator
        issued = auth.new_token("bob")
        auth.accounts.add_token(issued.token)
        testapp = UWSTestApp(app)
        testapp.get("/rest/echo", headers=basic("bob", PASSWORDS["bob"]), status=200)
        auth.accounts.update("bob", disabled=True)
        testapp.get("/rest/echo", headers=basic("bob", PASSWORDS["bob"]), status=401)
        testapp.get("/rest/echo", headers={"Authorization": f"Bearer {issued.text}"}, status=401)
    finally:
        app.registry.uws.close()


@pytest.mark.parametrize(
    ("header", "peer", "user", "status"),
    [
        ("X-Remote-User", "127.0.0.1", "alice", 200),
        ("X-Remote-User", "10.9.8.7", "alice", 401),  # not from a proxy: the header is ignored
        ("X-Remote-User", "127.0.0.1", "bad name!", 401),
        ("X-Remote-User", "127.0.0.1", "carol", 200),  # known to the proxy, not to us
        ("REMOTE_USER", "127.0.0.1", "alice", 200),
    ],
)
def test_identity_from_a_trusted_proxy(
    tmp_path: Path, header: str, peer: str, user: str, status: int
) -> None:
    app = build(
        tmp_path, **{"uws.auth.proxy_header": header, "uws.auth.proxy_networks": "127.0.0.0/8, ::1"}
    )
    try:
        environ = {"REMOTE_ADDR": peer}
        if header == "REMOTE_USER":
            environ["REMOTE_USER"] = user
        testapp = UWSTestApp(app, extra_environ=environ)
        headers = {header: user} if header != "REMOTE_USER" else {}
        response = testapp.post("/rest/echo", {}, headers=headers, status="*")
        assert response.status_int == (303 if status == 200 else status), response.text
        if status == 200:
            assert testapp.get(response.location + "/owner", headers=headers).text == user
    finally:
        app.registry.uws.close()


def test_proxy_identities_keep_their_roles_and_disabled_accounts_stay_out(tmp_path: Path) -> None:
    app = build(
        tmp_path,
        **{"uws.auth.proxy_header": "X-Remote-User", "uws.auth.proxy_networks": "127.0.0.1"},
    )
    try:
        testapp = UWSTestApp(app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})
        testapp.get("/jdl/echo/script", headers={"X-Remote-User": "root"}, status=200)
        testapp.get("/jdl/echo/script", headers={"X-Remote-User": "carol"}, status=403)
        app.registry.uws.authenticator.accounts.update("alice", disabled=True)
        testapp.get("/rest/echo", headers={"X-Remote-User": "alice"}, status=401)
    finally:
        app.registry.uws.close()


def test_cross_site_writes_are_refused_even_with_good_credentials(app: Any) -> None:
    alice = client(app, "owner")
    evil = {"Origin": "https://evil.example"}
    assert "cross-site" in alice.post("/rest/echo", {}, headers=evil, status=403).text
    alice.post("/rest/echo", {}, headers={"Origin": "http://localhost"}, status=303)


def test_files_of_jobs_run_no_scripts_in_the_service_origin(app: Any) -> None:
    """A result (or uploaded file) holding HTML must not act with a logged-in user's session."""
    runtime = app.registry.uws
    job = runtime.service.create("echo", Submission(), "alice")
    runtime.service.run(job)
    job_dir = runtime.service.job_dir(job.job_id)
    job_dir.create()
    (job_dir.path / "page.html").write_text(
        "<script>fetch('/rest/echo', {method: 'POST'})</script>"
    )
    runtime.manager.finish(job.job_id, results=[Result("page", "page.html", "text/html")])
    page = client(app, "owner").get(f"/rest/echo/{job.job_id}/results/page")
    assert page.content_type == "text/html"
    assert page.headers["Content-Security-Policy"] == "sandbox"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
