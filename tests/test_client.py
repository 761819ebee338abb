"""The browser client's server side: /client/ headers, static files, logging in and out, CSRF
and the job description editor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import webtest

from .conftest import ADMIN_PASSWORD, ROOT, UWSTestApp, add_user
from .editable import anonymous, settings  # noqa: F401  (fixtures)

PASSWORD = "alice-secret-1"
LOGIN_PAGE = "/client/static/login.html"


@pytest.fixture
def alice(app: Any) -> str:
    add_user(app, "alice", PASSWORD)
    return "alice"


def log_in(testapp: UWSTestApp, status: int = 303, **form: str) -> webtest.TestResponse:
    """POST /login as the browser client's form does (alice, unless ``form`` says otherwise)."""
    fields = {"username": "alice", "password": PASSWORD, **form}
    return testapp.post("/login", fields, status=status)


def cookie_attributes(response: webtest.TestResponse) -> dict[str, str]:
    """The session cookie's value (key "uws_session") and attributes, attribute names lowercased."""
    (header,) = response.headers.getall("Set-Cookie")
    name, _, value = header.split(";")[0].partition("=")
    assert name == "uws_session"
    attributes = {"uws_session": value}
    for part in header.split(";")[1:]:
        key, _, val = part.strip().partition("=")
        attributes[key.lower()] = val
    return attributes


def csrf_token(testapp: UWSTestApp) -> str:
    return str(testapp.get("/client/config").json["csrf_token"])


def test_client_responses_forbid_inline_scripts(testapp: UWSTestApp) -> None:
    for path in (
        "/client/",
        "/client/static/index.html",
        "/client/static/uws.js",
        "/client/config",
    ):
        response = testapp.get(path, status="*")
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "object-src 'none'" in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert testapp.get("/client/static/uws.js").content_type == "text/javascript"
    assert "Content-Security-Policy" not in testapp.get("/rest/echo").headers
    assert "/client/" in testapp.get("/").text


def test_no_page_or_script_uses_inline_code_or_html_injection() -> None:
    static = ROOT / "uws_pyramid" / "client" / "static"
    for page in static.glob("*.html"):
        text = page.read_text()
        assert "<script>" not in text and " on" + "click=" not in text and "style=" not in text, (
            page
        )
    for script in static.rglob("*.js"):
        text = script.read_text()
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert banned not in text, f"{script.name} uses {banned}"


def description(name: str = "greet", **changes: Any) -> dict[str, Any]:
    jd = {
        "name": name,
        "description": "Greet.",
        "version": "1",
        "parameters": [
            {
                "name": "who",
                "type": "xs:string",
                "default": "world",
                "required": False,
                "description": "",
                "min": None,
                "max": None,
                "choices": [],
            }
        ],
        "results": [
            {"id": "out", "mime_type": "text/plain", "default": "out.txt", "description": ""}
        ],
        "execution_duration": 60,
        "max_execution_duration": 600,
        "quote": None,
        "destruction": 86400,
        "options": {},
    }
    jd.update(changes)
    return jd


SCRIPT = '#!/bin/bash\nprintf "hi %s\\n" "$who" > out.txt\n'


def test_editor_saves_activates_and_keeps_the_previous_version(
    admin_app: UWSTestApp, settings: dict[str, Any]
) -> None:
    testapp = admin_app
    jdl = Path(settings["uws.jdl_dir"])
    checked = testapp.put_json(
        "/jdl/greet?check=1", {"description": description(), "script": SCRIPT}
    )
    assert checked.json["saved"] is False and 'path="greet"' in checked.json["wadl"]
    assert not (jdl / "greet.wadl").exists()
    testapp.put_json("/jdl/greet", {"description": description(), "script": SCRIPT})
    assert testapp.get("/jdl/greet/json").json["parameters"][0]["default"] == "world"
    assert testapp.get("/jdl/greet/script").text == SCRIPT
    changed = description(parameters=[{"name": "who", "type": "xs:string", "default": "you"}])
    testapp.put_json("/jdl/greet", {"description": changed, "script": None})
    assert testapp.get("/jdl/greet/json").json["parameters"][0]["default"] == "you"
    assert len(list((jdl / ".history").glob("greet.*.wadl"))) == 1
    assert testapp.get("/jdl/greet/script").text == SCRIPT  # kept
    wadl = testapp.get("/jdl/greet").body
    testapp.put("/jdl/greet", wadl, headers={"Content-Type": "application/xml"})


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            {
                "description": description(
                    parameters=[{"name": "x", "type": "xs:int", "min": "5", "max": "1"}]
                ),
                "script": SCRIPT,
            },
            ["min 5 is greater than max 1"],
        ),
        (
            {"description": description(parameters=[{"name": "PHASE"}]), "script": SCRIPT},
            ["reserved"],
        ),
        ({"description": description(name="other"), "script": SCRIPT}, ["differs"]),
        (
            {
                "description": description(results=[{"id": "r", "default": "../x"}]),
                "script": SCRIPT,
            },
            ["relative"],
        ),
        (
            {"description": description(execution_duration="soon"), "script": SCRIPT},
            ["execution_duration"],
        ),
        ({"description": description()}, ["no script"]),
        ({"description": description(), "script": "  "}, ["script is empty"]),
        ({"description": "nope"}, ["JSON object"]),
    ],
)
def test_editor_refuses_an_invalid_description_with_its_fault(
    admin_app: UWSTestApp, body: dict[str, Any], words: list[str]
) -> None:
    response = admin_app.put_json("/jdl/greet", body, status=400)
    for word in words:
        assert word in response.text
    admin_app.get("/jdl/greet/json", status=404)


def test_editor_is_forbidden_when_the_setting_is_off(settings: dict[str, Any]) -> None:
    from uws_pyramid import main

    settings["uws.editor"] = "false"
    app = main({"here": settings["here"]}, **settings)
    try:
        add_user(app, "root", ADMIN_PASSWORD, "admin")
        testapp = UWSTestApp(app)
        testapp.authorization = ("Basic", ("root", ADMIN_PASSWORD))
        body = {"description": description(), "script": SCRIPT}
        assert "uws.editor" in testapp.put_json("/jdl/greet", body, status=403).text
        testapp.get("/jdl/echo/script", status=403)
        testapp.get("/jdl/echo/history", status=403)
        config = testapp.get("/client/config").json
        assert config["admin"] is True and config["editor"] is False
    finally:
        app.registry.uws.close()


def test_editor_is_for_administrators_only(app: Any, testapp: UWSTestApp, alice: str) -> None:
    body = {"description": description(), "script": SCRIPT}
    assert "log in" in testapp.put_json("/jdl/greet", body, status=401).text
    testapp.get("/jdl/echo/script", status=401)
    user = UWSTestApp(app)
    user.authorization = ("Basic", (alice, PASSWORD))
    assert "only administrators" in user.put_json("/jdl/greet", body, status=403).text
    user.get("/jdl/echo/script", status=403)
    user.get("/jdl/echo/history", status=403)
    testapp.get("/jdl/echo/history", status=401)
    testapp.get("/jdl/greet/json", status=404)


def test_editor_wants_json_or_wadl_and_a_valid_name(admin_app: UWSTestApp) -> None:
    testapp = admin_app
    testapp.put("/jdl/greet", "x", headers={"Content-Type": "text/plain"}, status=400)
    testapp.put("/jdl/greet", "{", headers={"Content-Type": "application/json"}, status=400)
    testapp.put("/jdl/greet", "<nope", headers={"Content-Type": "application/xml"}, status=400)
    testapp.put_json(
        "/jdl/1bad", {"description": description("1bad"), "script": SCRIPT}, status=400
    )
    testapp.get("/jdl/nosuch/script", status=404)


# -- logging in and out --------------------------------------------------------------------------


def test_login_sets_an_httponly_samesite_cookie_and_goes_to_next(
    testapp: UWSTestApp, alice: str
) -> None:
    response = log_in(testapp, next="/client/static/job.html?type=echo&id=j1")
    assert response.location.endswith("/client/static/job.html?type=echo&id=j1")
    assert response.headers["Cache-Control"] == "no-store"
    cookie = cookie_attributes(response)
    assert cookie["uws_session"] and "httponly" in cookie and cookie["samesite"] == "Lax"
    assert cookie["path"] == "/" and "secure" not in cookie
    assert testapp.get("/client/config").json["user"] == alice
    assert log_in(testapp).location.endswith("/client/")  # the default


def test_login_over_https_sets_a_secure_cookie(testapp: UWSTestApp, alice: str) -> None:
    form = {"username": alice, "password": PASSWORD}
    response = testapp.post("/login", form, extra_environ={"wsgi.url_scheme": "https"}, status=303)
    cookie = cookie_attributes(response)
    assert "secure" in cookie and "httponly" in cookie and cookie["samesite"] == "Lax"
    assert response.location.startswith("https://")


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "not-the-password"),
        ("nobody", PASSWORD),
        ("disabled", PASSWORD),
        ("pipeline", ""),
    ],
)
def test_a_refused_login_says_why_and_sets_nothing(
    app: Any, testapp: UWSTestApp, alice: str, username: str, password: str
) -> None:
    add_user(app, "disabled", PASSWORD)
    app.registry.uws.authenticator.accounts.update("disabled", disabled=True)
    add_user(app, "pipeline")  # API tokens only
    response = log_in(testapp, status=401, username=username, password=password)
    assert "wrong user name or password" in response.text
    assert "Set-Cookie" not in response.headers
    assert "WWW-Authenticate" not in response.headers  # no password dialog over the form
    assert testapp.get("/client/config").json["user"] is None


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "client/static/index.html",
        "/\t/evil.example",
        "http:/client/",
    ],
)
def test_login_goes_only_to_a_path_on_this_service(
    testapp: UWSTestApp, alice: str, target: str
) -> None:
    response = log_in(testapp, status=400, next=target)
    assert "next must be a path on this service" in response.text
    assert "Set-Cookie" not in response.headers


def test_login_without_accounts_is_forbidden(
    app: Any, testapp: UWSTestApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.registry.uws, "authenticator", None)
    assert "keeps no accounts" in log_in(testapp, status=403).text
    assert testapp.get("/client/config").json["login"] is None


def test_logout_needs_the_csrf_token_then_clears_the_cookie(
    testapp: UWSTestApp, alice: str
) -> None:
    log_in(testapp)
    token = csrf_token(testapp)
    assert "X-CSRF-Token" in testapp.post("/logout", status=403).text
    testapp.post("/logout", headers={"X-CSRF-Token": token[::-1]}, status=403)
    assert testapp.get("/client/config").json["user"] == alice  # still logged in
    response = testapp.post("/logout", {"csrf_token": token}, status=303)  # the page's form
    assert response.location.endswith(LOGIN_PAGE)
    cookie = cookie_attributes(response)
    assert cookie["uws_session"] == "" and cookie["max-age"] == "0"
    assert response.headers["Cache-Control"] == "no-store"
    assert testapp.get("/client/config").json["user"] is None
    log_in(testapp)
    testapp.post("/logout", headers={"X-CSRF-Token": csrf_token(testapp)}, status=303)


def test_session_writes_need_the_csrf_token(testapp: UWSTestApp, alice: str) -> None:
    log_in(testapp)
    testapp.post("/rest/echo", {"message": "forged"}, status=403)
    created = testapp.post(
        "/rest/echo", {"message": "hi"}, headers={"X-CSRF-Token": csrf_token(testapp)}, status=303
    )
    assert f"<uws:ownerId>{alice}</uws:ownerId>" in testapp.get(created.location).text
    testapp.delete(created.location, status=403)
    testapp.get(created.location, status=200)


def test_cross_site_writes_and_logins_are_refused(testapp: UWSTestApp, alice: str) -> None:
    evil = {"Origin": "https://evil.example"}
    assert (
        "cross-site" in testapp.post("/rest/echo", {"message": "x"}, headers=evil, status=403).text
    )
    testapp.post("/login", {"username": alice, "password": PASSWORD}, headers=evil, status=403)
    testapp.post("/rest/echo", {"message": "x"}, headers={"Origin": "http://localhost"}, status=303)


#: /client/config for a caller without session or credentials, on a service open to anonymous.
NOBODY = {
    "user": None,
    "admin": False,
    "anonymous": True,
    "editor": False,
    "csrf_token": "",
    "login": LOGIN_PAGE,
    "logout": None,
}


def test_client_config_says_who_calls_and_what_they_may_do(
    app: Any, testapp: UWSTestApp, admin_app: UWSTestApp, alice: str
) -> None:
    anonymous = testapp.get("/client/config")
    assert anonymous.headers["Cache-Control"] == "no-store"
    assert anonymous.json == NOBODY
    log_in(testapp)
    user = testapp.get("/client/config").json
    user_token = user.pop("csrf_token")
    assert len(user_token) == 64
    assert user == {
        "user": alice,
        "admin": False,
        "anonymous": True,
        "editor": False,
        "login": LOGIN_PAGE,
        "logout": "/logout",
    }
    # HTTP Basic: no session, so no token and nothing to log out of.
    assert admin_app.get("/client/config").json == {
        "user": "root",
        "admin": True,
        "anonymous": True,
        "editor": True,
        "csrf_token": "",
        "login": LOGIN_PAGE,
        "logout": None,
    }
    browser = UWSTestApp(app)
    log_in(browser, username="root", password=ADMIN_PASSWORD)
    admin = browser.get("/client/config").json
    assert admin["editor"] is True and admin["logout"] == "/logout"
    assert admin["csrf_token"] and admin["csrf_token"] != user_token


def test_a_new_password_ends_every_session(app: Any, testapp: UWSTestApp, alice: str) -> None:
    log_in(testapp)
    other = UWSTestApp(app)
    log_in(other)
    assert csrf_token(testapp) != csrf_token(other)  # one token per session
    authenticator = app.registry.uws.authenticator
    authenticator.accounts.update(
        alice, password_hash=authenticator.hash_password("a-new-password")
    )
    for browser in (testapp, other):
        assert browser.get("/client/config").json == NOBODY
    log_in(testapp, status=401)
    log_in(testapp, password="a-new-password")


@pytest.mark.parametrize("anonymous", ["false"])
def test_without_anonymous_access_the_session_is_the_only_way_in(
    testapp: UWSTestApp, alice: str
) -> None:
    testapp.get("/rest/echo", status=401)
    assert testapp.get("/client/config").json["anonymous"] is False
    testapp.get(LOGIN_PAGE, status=200)  # the login page itself is public
    log_in(testapp)
    testapp.get("/rest/echo", status=200)
    testapp.post("/logout", {"csrf_token": csrf_token(testapp)}, status=303)
    unauthorized = testapp.get(
        "/rest/echo", headers={"X-Requested-With": "XMLHttpRequest"}, status=401
    )
    assert "WWW-Authenticate" not in unauthorized.headers  # the client's scripts ask for no dialog


def test_editor_lists_and_reads_back_saved_versions(
    admin_app: UWSTestApp, settings: dict[str, Any]
) -> None:
    testapp = admin_app
    assert testapp.get("/jdl/nope/history", status=404).status_code == 404
    testapp.put_json("/jdl/greet", {"description": description(), "script": SCRIPT})
    assert testapp.get("/jdl/greet/history").json == {"name": "greet", "versions": []}
    changed = description(parameters=[{"name": "who", "type": "xs:string", "default": "you"}])
    testapp.put_json(
        "/jdl/greet", {"description": changed, "script": SCRIPT.replace("hi", "hello")}
    )
    versions = testapp.get("/jdl/greet/history").json["versions"]
    assert len(versions) == 1 and versions[0]["script"] is True
    old = testapp.get(f"/jdl/greet/history/{versions[0]['stamp']}").json
    assert old["description"]["parameters"][0]["default"] == "world"
    assert old["script"] == SCRIPT and 'path="greet"' in old["wadl"]
    testapp.get("/jdl/greet/history/20990101T000000.000000Z", status=404)
    testapp.get("/jdl/greet/history/..%2Fgreet", status=404)
