"""Start-up: plugin selection by name, settings checked with messages naming the key, broken JDL."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import webtest

from uws_pyramid import main, plugins
from uws_pyramid.errors import ConfigurationError
from uws_pyramid.settings import parse_settings

from .conftest import ROOT
from .fakes import FakesPlugin, HoldingManager


def start(settings: dict[str, Any], **changes: Any) -> Any:
    return main({"here": settings["here"]}, **{**settings, **changes})


def test_unknown_backend_names_list_the_installed_ones(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as info:
        start(settings, **{"uws.storage": "oracle"})
    assert "uws.storage = oracle" in str(info.value)
    assert "sqlite" in str(info.value) and "uws-oracle" in str(info.value)
    with pytest.raises(ConfigurationError, match="uws.manager = nomad.*installed:.*holding"):
        start(settings, **{"uws.manager": "nomad", "testing.plugins": [FakesPlugin()]})


def test_a_plugin_that_fails_to_import_is_reported_by_its_entry_point(
    settings: dict[str, Any], monkeypatch: Any
) -> None:
    class BrokenEntryPoint:
        name = "cloud"
        value = "uws_cloud"

        def load(self) -> None:
            raise ImportError("No module named 'boto3'")

    real = plugins.entry_points
    monkeypatch.setattr(
        plugins, "entry_points", lambda group: [*real(group=group), BrokenEntryPoint()]
    )
    with pytest.raises(ConfigurationError, match="uws.manager = cloud: the plugin failed.*boto3"):
        start(settings, **{"uws.manager": "cloud"})


def test_two_classes_with_one_name_stop_start_up(settings: dict[str, Any]) -> None:
    class Twin(HoldingManager):
        name = "holding"

    class TwinPlugin:
        @plugins.hookimpl
        def uws_manager_classes(self) -> list[type]:
            return [Twin]

    with pytest.raises(ConfigurationError, match="two manager classes are named 'holding'"):
        start(
            settings, **{"uws.manager": "holding", "testing.plugins": [FakesPlugin(), TwinPlugin()]}
        )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("uws.wait.max", "forever"),
        ("uws.execution_duration.max", "-1"),
        ("uws.destruction.archive", "maybe"),
        ("uws.reconcile_interval", "0"),
        ("uws.storage.busy_timeout", "soon"),
        ("uws.manager.max_running", "many"),
        ("uws.wiat.max", "10"),
    ],
)
def test_bad_settings_name_their_key(settings: dict[str, Any], key: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=key.replace(".", r"\.")):
        start(settings, **{key: value})


def test_defaults_and_limits_are_consistent(tmp_path: Path) -> None:
    parsed = parse_settings({"here": str(tmp_path)})
    assert (parsed.storage, parsed.manager, parsed.jdl_dir) == ("sqlite", "local", tmp_path / "jdl")
    with pytest.raises(ConfigurationError, match="uws.execution_duration.default"):
        parse_settings(
            {"uws.execution_duration.default": "100", "uws.execution_duration.max": "10"}
        )


def test_an_invalid_job_description_disables_only_its_type(
    settings: dict[str, Any], tmp_path: Path
) -> None:
    jdl = tmp_path / "jdl"
    shutil.copytree(ROOT / "jdl", jdl)
    (jdl / "sleep.wadl").write_text("<application><oops")
    app = start(
        settings,
        **{"uws.jdl_dir": str(jdl), "uws.manager": "holding", "testing.plugins": [FakesPlugin()]},
    )
    try:
        testapp = webtest.TestApp(app)
        response = testapp.get("/rest/sleep", status=404)
        assert "sleep.wadl" in response.text
        testapp.post("/rest/sleep", {}, status=404)
        testapp.post("/rest/echo", {"message": "still works"}, status=303)
        assert "sleep" in testapp.get("/jdl").json["invalid"]
        assert "sleep" in testapp.get("/").text
    finally:
        app.registry.uws.close()
