"""Declared settings: one declaration per key, README's tables generated from them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from uws_pyramid.errors import ConfigurationError
from uws_pyramid.options import BOOLEAN, SIZE, Option, read_all
from uws_pyramid.settings import ACCESS, CORE, parse_settings

from .conftest import ROOT


def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("settings_docs", ROOT / "tools/settings_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_are_the_declarations() -> None:
    text = (ROOT / "README.md").read_text()
    assert tool().regenerated(text) == text, "README's settings tables are stale: make docs"
    for option in (*CORE, *ACCESS):
        assert f"| `uws.{option.key}` |" in text


def test_a_stale_table_is_found() -> None:
    text = (
        (ROOT / "README.md")
        .read_text()
        .replace("| `uws.wait.max` | `600` |", "| `uws.wait.max` | `60` |")
    )
    assert tool().regenerated(text) != text


def test_every_default_parses_as_its_declared_kind(tmp_path: Path) -> None:
    parsed = parse_settings({"here": str(tmp_path)})
    for option in (*CORE, *ACCESS):
        value = getattr(parsed, option.field)
        default = tmp_path / option.default if isinstance(option.default, Path) else option.default
        assert value == default, option.key


@pytest.mark.parametrize("text", ["true", "Yes", "ON", "1", "false", "no", "Off", "0"])
def test_booleans_take_every_ini_spelling(text: str) -> None:
    expected = text.lower() in ("true", "yes", "on", "1")
    assert Option("flag", BOOLEAN, False, "").read({"flag": text}) is expected


def test_plugin_options_name_their_full_key() -> None:
    options = (Option("limit", SIZE, 1, "a size"),)
    assert read_all(options, {"uws.storage.limit": "2K"}, "uws.storage.") == {"limit": 2048}
    with pytest.raises(ConfigurationError, match=r"uws.storage.limit = 'lots': expected bytes"):
        read_all(options, {"uws.storage.limit": "lots"}, "uws.storage.")
    with pytest.raises(ConfigurationError, match="uws.storage.limt: unknown setting"):
        read_all(options, {"uws.storage.limt": "2K"}, "uws.storage.")
