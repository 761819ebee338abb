"""Fixtures of the tests that drive phases by hand: the holding manager instead of real jobs
(``from .holding import manager, settings  # noqa: F401``)."""

from __future__ import annotations

from typing import Any

import pytest

from .fakes import FakesPlugin, HoldingManager


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    settings["uws.manager"] = "holding"
    settings["testing.plugins"] = [FakesPlugin()]
    return settings


@pytest.fixture
def manager(app: Any) -> HoldingManager:
    return app.registry.uws.manager
