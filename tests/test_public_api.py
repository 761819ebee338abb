"""The plugins of this repository use the core only through its public API (uws_pyramid.api)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from uws_pyramid import api

from .conftest import ROOT

#: What a plugin's modules may import from the core; its tests and test helpers may also use
#: the shipped test kit and build the application (``uws_pyramid.main``, as PasteDeploy does).
PUBLIC = {"uws_pyramid.api"}
TEST_KIT = {"uws_pyramid.testing", "uws_pyramid.pytest_plugin", "uws_pyramid.main"}
#: Tests that exercise core internals on purpose (the job wrapper's records through `from uws_pyramid.execution import wrapper`, the submission
#: parser, a jdl datatype), not through the API a plugin's code uses.
INTERNALS = {
    "test_execution_contract.py": {"uws_pyramid.execution"},
    "test_local_manager.py": {"uws_pyramid.execution"},
    "test_hostile_jobs.py": {"uws_pyramid.submission"},
    "test_slurm_resources.py": {"uws_pyramid.jdl.datatypes"},
}


def core_imports(path: Path) -> set[str]:
    """The ``uws_pyramid`` modules ``path`` imports (``from uws_pyramid import x`` counts
    as the module ``uws_pyramid.x`` when x is one)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "uws_pyramid"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "uws_pyramid":
                found |= {f"uws_pyramid.{a.name}" for a in node.names}
            elif node.module.startswith("uws_pyramid."):
                found.add(node.module)
    return found


def plugin_files() -> list[Path]:
    roots = [*sorted((ROOT / "plugins").glob("uws_*")), *sorted((ROOT / "examples").glob("*"))]
    return [
        path
        for root in roots
        for path in sorted(root.rglob("*.py"))
        if ".egg-info" not in str(path)
    ]


@pytest.mark.parametrize("path", plugin_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_import_only_the_public_api(path: Path) -> None:
    testing = "tests" in path.parts or path.stem in ("testing", "conftest")
    allowed = PUBLIC | TEST_KIT | INTERNALS.get(path.name, set()) if testing else PUBLIC
    assert core_imports(path) <= allowed, f"{path}: import these from uws_pyramid.api"


def test_the_checker_finds_a_private_import(tmp_path: Path) -> None:
    module = tmp_path / "plugin.py"
    module.write_text(
        "from uws_pyramid.jobs import Job\nfrom uws_pyramid import notify\n"
        "import uws_pyramid.sql.storage\nfrom uws_pyramid.api import Job\n"
    )
    assert core_imports(module) == {
        "uws_pyramid.jobs",
        "uws_pyramid.notify",
        "uws_pyramid.sql.storage",
        "uws_pyramid.api",
    }


def test_the_api_exports_exactly_its_names() -> None:
    assert len(set(api.__all__)) == len(api.__all__)
    for name in api.__all__:
        assert hasattr(api, name), name
    # "@py_..." names: pytest rewrites the asserts of its plugins' distributions, ours too.
    public = {n for n in vars(api) if not n.startswith(("_", "@"))} - {"annotations"}
    assert public == set(api.__all__), sorted(public ^ set(api.__all__))


def test_a_plugin_for_another_api_version_is_refused() -> None:
    api.require_api("1.0")
    major, minor = (int(p) for p in api.PLUGIN_API_VERSION.split("."))
    with pytest.raises(ImportError, match="written for uws-pyramid plugin API"):
        api.require_api(f"{major + 1}.0")
    with pytest.raises(ImportError, match="written for uws-pyramid plugin API"):
        api.require_api(f"{major}.{minor + 1}")


def test_every_hook_says_when_it_was_added() -> None:
    from uws_pyramid import hookspecs

    hooks = [v for n, v in vars(hookspecs).items() if n.startswith("uws_")]
    assert hooks and all(getattr(h, "added_in", None) for h in hooks)
