"""The ``uws.*`` settings, parsed and checked once at start-up."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pyramid.config import Configurator
from pyramid.settings import asbool

from .errors import ConfigurationError

T = TypeVar("T")

DAY = 86400


@dataclass(frozen=True)
class UWSSettings:
    """Every ``uws.*`` setting with its default (README documents each of them)."""

    here: Path
    storage: str = "sqlite"
    manager: str = "local"
    storage_options: Mapping[str, str] = field(default_factory=dict)
    manager_options: Mapping[str, str] = field(default_factory=dict)
    jdl_dir: Path = Path("jdl")
    workdir: Path = Path("var/jobs")
    execution_duration_default: int = 3600
    execution_duration_max: int = DAY
    destruction_default: int = 7 * DAY
    destruction_max: int = 30 * DAY
    destruction_archive: bool = False
    destruction_interval: float = 60.0
    reconcile_interval: float = 10.0
    wait_max: int = 600
    max_waiters: int = 16
    debug: bool = False
    editor: bool = False
    background: bool = True
    secret_file: Path = Path("var/secret")
    base_url: str = ""


def _get(
    settings: Mapping[str, Any], key: str, default: T, parse: Callable[[str], T], expected: str
) -> T:
    raw = settings.get(key)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        return parse(str(raw).strip())
    except (ValueError, TypeError):
        raise ConfigurationError(f"{key} = {raw!r}: expected {expected}") from None


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def _bool(text: str) -> bool:
    if text.lower() not in {"true", "false", "yes", "no", "on", "off", "1", "0"}:
        raise ValueError(text)
    return asbool(text)


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError(text)
    return text


def _prefixed(settings: Mapping[str, Any], prefix: str) -> dict[str, str]:
    return {k[len(prefix) :]: str(v) for k, v in settings.items() if k.startswith(prefix)}


def parse_settings(settings: Mapping[str, Any]) -> UWSSettings:
    """Parse the ``uws.*`` keys; raise ConfigurationError naming the key of a bad value."""
    here = Path(str(settings.get("here") or os.getcwd()))
    known = {f"uws.{name}" for name in _KEYS} | {"uws.storage", "uws.manager"}
    for key in settings:
        if (
            key.startswith("uws.")
            and key not in known
            and not key.startswith(("uws.storage.", "uws.manager."))
        ):
            raise ConfigurationError(f"{key}: unknown setting (see README, 'Settings')")

    def path(key: str, default: str) -> Path:
        return here / _get(settings, key, default, str, "a path")

    nn, pf = _non_negative_int, _positive_float
    parsed = UWSSettings(
        here=here,
        storage=_get(settings, "uws.storage", "sqlite", str, "a storage name"),
        manager=_get(settings, "uws.manager", "local", str, "a manager name"),
        storage_options=_prefixed(settings, "uws.storage."),
        manager_options=_prefixed(settings, "uws.manager."),
        jdl_dir=path("uws.jdl_dir", "jdl"),
        workdir=path("uws.workdir", "var/jobs"),
        execution_duration_default=_get(
            settings, "uws.execution_duration.default", 3600, nn, "seconds (an integer >= 0)"
        ),
        execution_duration_max=_get(
            settings, "uws.execution_duration.max", DAY, nn, "seconds (an integer >= 0)"
        ),
        destruction_default=_get(
            settings, "uws.destruction.default", 7 * DAY, nn, "seconds (an integer >= 0)"
        ),
        destruction_max=_get(
            settings, "uws.destruction.max", 30 * DAY, nn, "seconds (an integer >= 0)"
        ),
        destruction_archive=_get(settings, "uws.destruction.archive", False, _bool, "a boolean"),
        destruction_interval=_get(
            settings, "uws.destruction.interval", 60.0, pf, "seconds (a number > 0)"
        ),
        reconcile_interval=_get(
            settings, "uws.reconcile_interval", 10.0, pf, "seconds (a number > 0)"
        ),
        wait_max=_get(settings, "uws.wait.max", 600, nn, "seconds (an integer >= 0)"),
        max_waiters=_get(settings, "uws.wait.max_waiters", 16, nn, "an integer >= 0"),
        debug=_get(settings, "uws.debug", False, _bool, "a boolean"),
        editor=_get(settings, "uws.editor", False, _bool, "a boolean"),
        background=_get(settings, "uws.background", True, _bool, "a boolean"),
        secret_file=path("uws.secret_file", "var/secret"),
        base_url=_get(settings, "uws.base_url", "", _url, "an http(s) URL").rstrip("/"),
    )
    if parsed.execution_duration_max and (
        parsed.execution_duration_default > parsed.execution_duration_max
        or parsed.execution_duration_default == 0
    ):
        raise ConfigurationError(
            "uws.execution_duration.default: must be between 1 and uws.execution_duration.max"
        )
    if parsed.destruction_max and parsed.destruction_default > parsed.destruction_max:
        raise ConfigurationError("uws.destruction.default: must not exceed uws.destruction.max")
    return parsed


_KEYS = (
    "jdl_dir workdir execution_duration.default execution_duration.max destruction.default "
    "destruction.max destruction.archive destruction.interval reconcile_interval wait.max "
    "wait.max_waiters debug editor background secret_file base_url"
).split()


def includeme(config: Configurator) -> None:
    config.registry.uws_settings = parse_settings(config.get_settings())
