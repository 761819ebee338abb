"""The ``uws.*`` settings, parsed and checked once at start-up."""
from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pyramid.settings import asbool

from .errors import ConfigurationError

if TYPE_CHECKING:
    from pyramid.config import Configurator

T = TypeVar("T")

DAY = 86400
MB = 1 << 20
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class UWSSettings:
    """Every ``uws.*`` setting with its default (README documents each of them)."""

    here: Path
    storage: str = "sqlite"
    manager: str = "local"
    storage_options: Mapping[str, str] = field(default_factory=dict)
    manager_options: Mapping[str, str] = field(default_factory=dict)
    jdl_dir: Path = Path("jdl")
    jdl_refresh: int = 2
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
    sync_timeout: int = 60
    debug: bool = False
    editor: bool = False
    background: bool = True
    secret_file: Path = Path("var/secret")
    base_url: str = ""
    # Accounts and access (README, "Accounts and access").
    anonymous: bool = False
    realm: str = "UWS"
    proxy_header: str = ""
    proxy_networks: tuple[Network, ...] = ()
    type_roles: Mapping[str, str] = field(default_factory=dict)
    session_max_age: int = 8 * 3600
    auth_verifications: int = 2
    auth_failures: int = 5
    events_allow: tuple[Network, ...] = ()
    cors_origins: frozenset[str] = frozenset()  # "*": any origin
    # Per-user quotas (0: none) and request limits.
    quota_active_jobs: int = 0
    quota_running_jobs: int = 0
    limit_body: int = 128 * MB
    limit_unauthenticated_body: int = 8 * 1024
    limit_upload: int = 100 * MB
    limit_parameters: int = 100
    limit_parameter_length: int = 64 * 1024
    # Operability (README, "Metrics and logs").
    metrics_allow: tuple[Network, ...] = ()
    log_format: str = "text"


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


def _realm(text: str) -> str:
    if '"' in text or "\\" in text:
        raise ValueError(text)
    return text


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError(text)
    return text


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?\Z|\*\Z")


def _origins(text: str) -> frozenset[str]:
    origins = frozenset(item.rstrip("/") for item in text.replace(",", " ").split())
    if not all(_ORIGIN.match(origin) for origin in origins):
        raise ValueError(text)
    return origins


def _networks(text: str) -> tuple[Network, ...]:
    """Networks and addresses separated by spaces or commas (an address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(item, strict=False) for item in text.replace(",", " ").split())


def _size(text: str) -> int:
    """Bytes, with an optional K, M or G suffix (powers of 1024)."""
    factor = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
    value = int(text[:-1] if factor > 1 else text) * factor
    if value <= 0:
        raise ValueError(text)
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(text)
    return value


def _mapping(text: str) -> dict[str, str]:
    """Lines of ``key = value`` (or ``key: value``)."""
    pairs = {}
    for line in text.splitlines():
        if line.strip():
            key, sep, value = line.replace(":", "=", 1).partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ValueError(line)
            pairs[key.strip()] = value.strip()
    return pairs


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
        jdl_refresh=_get(settings, "uws.jdl_refresh", 2, nn, "seconds (an integer >= 0)"),
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
        sync_timeout=_get(settings, "uws.sync.timeout", 60, nn, "seconds (an integer >= 0)"),
        debug=_get(settings, "uws.debug", False, _bool, "a boolean"),
        editor=_get(settings, "uws.editor", False, _bool, "a boolean"),
        background=_get(settings, "uws.background", True, _bool, "a boolean"),
        secret_file=path("uws.secret_file", "var/secret"),
        base_url=_get(settings, "uws.base_url", "", _url, "an http(s) URL").rstrip("/"),
        anonymous=_get(settings, "uws.auth.anonymous", False, _bool, "a boolean"),
        realm=_get(settings, "uws.auth.realm", "UWS", _realm, "text without quotes"),
        proxy_header=_get(settings, "uws.auth.proxy_header", "", str, "a header name"),
        proxy_networks=_get(
            settings, "uws.auth.proxy_networks", (), _networks, "IP networks (10.0.0.0/8 ::1)"
        ),
        type_roles=_get(
            settings, "uws.auth.type_roles", {}, _mapping, "lines of 'job type = role'"
        ),
        session_max_age=_get(
            settings, "uws.auth.session_max_age", 8 * 3600, _positive_int, "seconds (> 0)"
        ),
        auth_verifications=_get(
            settings, "uws.auth.verifications", 2, _positive_int, "an integer > 0"
        ),
        auth_failures=_get(settings, "uws.auth.failures", 5, _positive_int, "an integer > 0"),
        events_allow=_get(
            settings, "uws.events.allow", (), _networks, "IP networks (10.0.0.0/8 ::1)"
        ),
        cors_origins=_get(
            settings, "uws.cors.origins", frozenset(), _origins,
            "origins such as https://portal.example.org (space-separated), or *",
        ),
        quota_active_jobs=_get(settings, "uws.quota.active_jobs", 0, nn, "an integer >= 0"),
        quota_running_jobs=_get(settings, "uws.quota.running_jobs", 0, nn, "an integer >= 0"),
        limit_body=_get(settings, "uws.limits.body", 128 * MB, _size, "bytes (e.g. 128M)"),
        limit_unauthenticated_body=_get(
            settings, "uws.limits.unauthenticated_body", 8 * 1024, _size, "bytes (e.g. 8K)"
        ),
        limit_upload=_get(settings, "uws.limits.upload", 100 * MB, _size, "bytes (e.g. 100M)"),
        limit_parameters=_get(
            settings, "uws.limits.parameters", 100, _positive_int, "an integer > 0"
        ),
        limit_parameter_length=_get(
            settings, "uws.limits.parameter_length", 64 * 1024, _positive_int, "an integer > 0"
        ),
        metrics_allow=_get(
            settings, "uws.metrics.allow", (), _networks, "IP networks (10.0.0.0/8 ::1)"
        ),
        log_format=_get(settings, "uws.log.format", "text", _log_format, "text or json"),
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
    if parsed.proxy_header and not parsed.proxy_networks:
        raise ConfigurationError(
            "uws.auth.proxy_header: set uws.auth.proxy_networks to the addresses of the "
            "proxies allowed to send it"
        )
    return parsed


_KEYS = (
    "jdl_dir jdl_refresh workdir execution_duration.default execution_duration.max destruction.default "
    "destruction.max destruction.archive destruction.interval reconcile_interval wait.max "
    "wait.max_waiters sync.timeout debug editor background secret_file base_url auth.anonymous auth.realm "
    "auth.proxy_header auth.proxy_networks auth.type_roles auth.session_max_age events.allow "
    "cors.origins "
    "quota.active_jobs quota.running_jobs limits.body limits.upload limits.parameters "
    "limits.unauthenticated_body auth.verifications auth.failures "
    "limits.parameter_length "
    "metrics.allow log.format"
).split()


def _log_format(text: str) -> str:
    if text not in ("text", "json"):
        raise ValueError(text)
    return text


def includeme(config: Configurator) -> None:
    config.registry.uws_settings = parse_settings(config.get_settings())
