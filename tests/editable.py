"""Fixtures of the client tests: a copy of the example job types the editor may write, and
anonymous access as a parameter (``@pytest.mark.parametrize("anonymous", ["false"])``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT


@pytest.fixture
def anonymous() -> str:
    """uws.auth.anonymous; a test changes it with ``@pytest.mark.parametrize("anonymous", ...)``."""
    return "true"


@pytest.fixture
def settings(settings: dict[str, Any], tmp_path: Path, anonymous: str) -> dict[str, Any]:
    """The example job types, copied: the editor writes descriptions."""
    shutil.copytree(ROOT / "jdl", tmp_path / "jdl")
    settings["uws.jdl_dir"] = str(tmp_path / "jdl")
    settings["uws.editor"] = "true"
    settings["uws.auth.anonymous"] = anonymous
    return settings
