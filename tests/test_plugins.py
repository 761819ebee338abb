"""Plugin loading: only what the ini names, hook wrappers refused, ``uws-admin plugins``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid import plugins
from uws_pyramid.errors import ConfigurationError
from uws_pyramid.scripts import admin

from .conftest import ROOT


class BrokenEntryPoint:
    """An installed plugin whose import fails (a dependency missing)."""

    name = "cloud"
    value = "uws_cloud"
    dist = None

    def load(self) -> None:
        raise ImportError("No module named 'boto3'")


@pytest.fixture
def broken_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = plugins.entry_points
    monkeypatch.setattr(
        plugins, "entry_points", lambda group: [*real(group=group), BrokenEntryPoint()]
    )


def test_hook_wrappers_are_refused_at_load() -> None:
    class Wrapping:
        @plugins.hookimpl(wrapper=True)
        def uws_storage_classes(self) -> Any:
            return (yield)

    pm = plugins.make_plugin_manager(only=())
    with pytest.raises(ConfigurationError, match="hook wrappers are not supported.*storage"):
        pm.register(Wrapping(), name="wrapping")
    assert not pm.has_plugin("wrapping")


def test_only_the_named_entry_points_are_loaded() -> None:
    pm = plugins.make_plugin_manager(only={"sqlite"})
    assert pm.has_plugin("sqlite") and not pm.has_plugin("postgres")
    assert plugins.select(pm, "storage", "sqlite").name == "sqlite"


def test_a_class_of_another_plugins_name_is_still_found() -> None:
    # Nothing requires a plugin's entry point to be named like its class: select loads the
    # other entry points before it gives up.
    pm = plugins.make_plugin_manager(only={"postgres"})
    assert not pm.has_plugin("local")
    assert plugins.select(pm, "manager", "local").name == "local"


def test_a_broken_plugin_is_reported_by_name(broken_installed: None) -> None:
    pm = plugins.make_plugin_manager(only={"cloud"})
    with pytest.raises(ConfigurationError, match="uws.storage = cloud: the plugin failed.*boto3"):
        plugins.select(pm, "storage", "cloud")


def test_admin_plugins_lists_versions_and_failures(
    broken_installed: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ini = tmp_path / "deploy.ini"
    ini.write_text(
        f"[app:main]\nuse = egg:uws-pyramid\nuws.storage = sqlite\nuws.jdl_dir = {ROOT / 'jdl'}\n"
    )
    assert admin.main(["plugins", str(ini)]) == 1
    lines = capsys.readouterr().out.splitlines()
    sqlite = next(line for line in lines if line.startswith("sqlite "))
    assert "uws-sqlite 0.1.0" in sqlite and "the ini's storage" in sqlite and sqlite.endswith("ok")
    cloud = next(line for line in lines if line.startswith("cloud "))
    assert "FAILED: ImportError: No module named 'boto3'" in cloud
    assert any(line.startswith("local ") and "the ini's manager" in line for line in lines)


def test_admin_plugins_without_ini_passes_when_all_load(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert admin.main(["plugins"]) == 0
    names = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert {"sqlite", "local", "postgres", "slurm"} <= names


def test_simple_admin_commands_import_only_what_they_use(tmp_path: Path) -> None:
    """What keeps ``uws-admin users list`` under 0.5 s (bench/bench_admin.py measures it)."""
    ini = tmp_path / "deploy.ini"
    ini.write_text(
        "[app:main]\nuse = egg:uws-pyramid\nuws.storage = sqlite\n"
        f"uws.storage.path = {tmp_path}/uws.sqlite\nuws.jdl_dir = {ROOT / 'jdl'}\n"
    )
    probe = (
        "import sys\nfrom uws_pyramid.scripts import admin\n"
        f"assert admin.main(['users', 'list', {str(ini)!r}]) == 0\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('uws_postgres', 'psycopg', 'uws_slurm', 'uws_local', 'lxml', 'argon2', 'pyramid'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert done.stdout.split() == [], done.stdout
