"""Options of the local manager: the ``uws.manager.*`` keys, checked once at start-up."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from uws_pyramid.api import DEFAULT_PATH, ConfigurationError

from .sandbox import BWRAP, HOST, NONE, check_extra


@dataclass(frozen=True)
class LocalOptions:
    """The ``uws.manager.*`` options of the local manager."""

    max_running: int
    kill_grace: float = 5.0
    poll_interval: float = 1.0
    path: str = DEFAULT_PATH
    python: str = sys.executable
    sandbox: str = ""  # "bwrap", "none", or "": bubblewrap where it works
    sandbox_bind: tuple[str, ...] = ()
    sandbox_network: bool = False  # "host": jobs in the sandbox share the host's network

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> LocalOptions:
        known = {
            "max_running",
            "kill_grace",
            "poll_interval",
            "path",
            "python",
            "sandbox",
            "sandbox_bind",
            "sandbox_network",
        }
        for key in options:
            if key not in known:
                raise ConfigurationError(
                    f"uws.manager.{key}: unknown option of the local manager "
                    f"(known: {', '.join(sorted(known))})"
                )

        def number(key: str, default: float, kind: type, minimum: float, expected: str) -> Any:
            raw = str(options.get(key, "")).strip()
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                value = None
            if value is None or value < minimum or value != value:
                raise ConfigurationError(f"uws.manager.{key} = {raw!r}: expected {expected}")
            return value

        return cls(
            max_running=number("max_running", os.cpu_count() or 1, int, 1, "an integer >= 1"),
            kill_grace=number("kill_grace", 5.0, float, 0, "seconds (a number >= 0)"),
            poll_interval=number("poll_interval", 1.0, float, 0.01, "seconds (a number >= 0.01)"),
            path=str(options.get("path") or DEFAULT_PATH),
            python=str(options.get("python") or sys.executable),
            sandbox=_sandbox(str(options.get("sandbox", "")).strip().lower()),
            sandbox_bind=check_extra(str(options.get("sandbox_bind", ""))),
            sandbox_network=_network(str(options.get("sandbox_network", "")).strip().lower()),
        )


def _sandbox(value: str) -> str:
    if value not in ("", BWRAP, NONE):
        raise ConfigurationError(
            f"uws.manager.sandbox = {value!r}: expected {BWRAP} (jobs isolated; start-up fails "
            f"without bubblewrap) or {NONE} (jobs run unisolated)"
        )
    return value


def _network(value: str) -> bool:
    if value not in ("", NONE, HOST):
        raise ConfigurationError(
            f"uws.manager.sandbox_network = {value!r}: expected {NONE} (jobs in the sandbox "
            f"have no network; the default) or {HOST} (they share the host's network)"
        )
    return value == HOST
