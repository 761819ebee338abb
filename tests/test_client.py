"""The browser client's server side: /client/ headers, static files, the job description editor."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, UWSTestApp


@pytest.fixture
def settings(settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The example job types, copied: the editor writes descriptions."""
    shutil.copytree(ROOT / "jdl", tmp_path / "jdl")
    settings["uws.jdl_dir"] = str(tmp_path / "jdl")
    settings["uws.editor"] = "true"
    return settings


def test_client_responses_forbid_inline_scripts(testapp: UWSTestApp) -> None:
    for path in ("/client/", "/client/static/index.html", "/client/static/uws.js", "/client/config"):
        response = testapp.get(path, status="*")
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "object-src 'none'" in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert testapp.get("/client/static/uws.js").content_type == "text/javascript"
    assert "Content-Security-Policy" not in testapp.get("/rest/echo").headers
    assert testapp.get("/client/config").json == {"editor": True}
    assert "/client/" in testapp.get("/").text


def test_no_page_or_script_uses_inline_code_or_html_injection() -> None:
    static = ROOT / "uws_pyramid" / "client" / "static"
    for page in static.glob("*.html"):
        text = page.read_text()
        assert "<script>" not in text and " on" + "click=" not in text and "style=" not in text, page
    for script in static.rglob("*.js"):
        text = script.read_text()
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert banned not in text, f"{script.name} uses {banned}"


def description(name: str = "greet", **changes: Any) -> dict[str, Any]:
    jd = {"name": name, "description": "Greet.", "version": "1",
          "parameters": [{"name": "who", "type": "xs:string", "default": "world", "required": False,
                          "description": "", "min": None, "max": None, "choices": []}],
          "results": [{"id": "out", "mime_type": "text/plain", "default": "out.txt", "description": ""}],
          "execution_duration": 60, "max_execution_duration": 600, "quote": None, "destruction": 86400,
          "options": {}}
    jd.update(changes)
    return jd


SCRIPT = '#!/bin/bash\nprintf "hi %s\\n" "$who" > out.txt\n'


def test_editor_saves_activates_and_keeps_the_previous_version(testapp: UWSTestApp, settings: dict[str, Any]) -> None:
    jdl = Path(settings["uws.jdl_dir"])
    checked = testapp.put_json("/jdl/greet?check=1", {"description": description(), "script": SCRIPT})
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
        ({"description": description(parameters=[{"name": "x", "type": "xs:int", "min": "5", "max": "1"}]),
          "script": SCRIPT}, ["min 5 is greater than max 1"]),
        ({"description": description(parameters=[{"name": "PHASE"}]), "script": SCRIPT}, ["reserved"]),
        ({"description": description(name="other"), "script": SCRIPT}, ["differs"]),
        ({"description": description(results=[{"id": "r", "default": "../x"}]), "script": SCRIPT}, ["relative"]),
        ({"description": description(execution_duration="soon"), "script": SCRIPT}, ["execution_duration"]),
        ({"description": description()}, ["no script"]),
        ({"description": description(), "script": "  "}, ["script is empty"]),
        ({"description": "nope"}, ["JSON object"]),
    ],
)
def test_editor_refuses_an_invalid_description_with_its_fault(
    testapp: UWSTestApp, body: dict[str, Any], words: list[str]
) -> None:
    response = testapp.put_json("/jdl/greet", body, status=400)
    for word in words:
        assert word in response.text
    testapp.get("/jdl/greet/json", status=404)


def test_editor_is_forbidden_when_the_setting_is_off(settings: dict[str, Any]) -> None:
    from uws_pyramid import main

    settings["uws.editor"] = "false"
    app = main({"here": settings["here"]}, **settings)
    try:
        testapp = UWSTestApp(app)
        body = {"description": description(), "script": SCRIPT}
        assert "uws.editor" in testapp.put_json("/jdl/greet", body, status=403).text
        testapp.get("/jdl/echo/script", status=403)
        assert testapp.get("/client/config").json == {"editor": False}
    finally:
        app.registry.uws.close()


def test_editor_wants_json_or_wadl_and_a_valid_name(testapp: UWSTestApp) -> None:
    testapp.put("/jdl/greet", "x", headers={"Content-Type": "text/plain"}, status=400)
    testapp.put("/jdl/greet", "{", headers={"Content-Type": "application/json"}, status=400)
    testapp.put("/jdl/greet", "<nope", headers={"Content-Type": "application/xml"}, status=400)
    testapp.put_json("/jdl/1bad", {"description": description("1bad"), "script": SCRIPT}, status=400)
    testapp.get("/jdl/nosuch/script", status=404)
