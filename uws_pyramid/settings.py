"""The ``uws.*`` settings, declared once each (options.py), parsed and checked at start-up.

To add a setting: one ``Option`` line in ``CORE`` or ``ACCESS`` below and its typed field in
``UWSSettings``; ``make docs`` then writes it into README's table (a test checks both).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError
from .options import (
    BOOLEAN,
    COUNT,
    INTERVAL,
    MAPPING,
    NETWORKS,
    PATH,
    POSITIVE,
    SECONDS,
    SIZE,
    Kind,
    Network,
    Option,
    choice,
    markdown_table,
    matching,
    read_all,
)

if TYPE_CHECKING:
    from pyramid.config import Configurator

__all__ = ["ACCESS", "CORE", "Network", "UWSSettings", "parse_settings", "readme_tables"]

DAY = 86400
MB = 1 << 20


@dataclass(frozen=True)
class UWSSettings:
    """Every ``uws.*`` setting, parsed (defaults and meanings: ``CORE`` and ``ACCESS``)."""

    here: Path
    storage: str
    manager: str
    storage_options: Mapping[str, str]  # uws.storage.*, prefix removed: the plugin's own
    manager_options: Mapping[str, str]  # uws.manager.*, likewise
    jdl_dir: Path
    jdl_refresh: int
    workdir: Path
    execution_duration_default: int
    execution_duration_max: int
    destruction_default: int
    destruction_max: int
    destruction_archive: bool
    destruction_interval: float
    reconcile_interval: float
    wait_max: int
    max_waiters: int
    sync_timeout: int
    debug: bool
    editor: bool
    background: bool
    secret_file: Path
    base_url: str
    # Accounts and access (README, "Accounts and access").
    anonymous: bool
    realm: str
    proxy_header: str
    proxy_networks: tuple[Network, ...]
    type_roles: Mapping[str, str]
    session_max_age: int
    auth_verifications: int
    auth_failures: int
    events_allow: tuple[Network, ...]
    cors_origins: frozenset[str]  # "*": any origin
    # Per-user quotas (0: none) and request limits.
    quota_active_jobs: int
    quota_running_jobs: int
    limit_body: int
    limit_unauthenticated_body: int
    limit_upload: int
    limit_parameters: int
    limit_parameter_length: int
    # Operability (README, "Metrics and logs").
    metrics_allow: tuple[Network, ...]
    log_format: str


def _origins(text: str) -> frozenset[str]:
    origins = frozenset(item.rstrip("/") for item in text.replace(",", " ").split())
    if not all(_ORIGIN.fullmatch(origin) for origin in origins):
        raise ValueError(text)
    return origins


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|\*")
URL = matching(r"https?://\S+", "an http(s) URL")
REALM = matching(r'[^"\\]*', "text without quotes")
ORIGINS = Kind(_origins, "origins such as https://portal.example.org (space-separated), or *")

#: README's main settings table, in its order.
CORE: tuple[Option[Any], ...] = (
    Option(
        "storage",
        matching("[A-Za-z0-9_.-]+", "a storage name"),
        "sqlite",
        "storage plugin by name (`sqlite`, `postgres`)",
    ),
    Option(
        "manager",
        matching("[A-Za-z0-9_.-]+", "a manager name"),
        "local",
        "manager plugin by name (`local`, `slurm`)",
    ),
    Option(
        "jdl_dir",
        PATH,
        Path("jdl"),
        "folder of job descriptions and `scripts/` (relative to the ini file)",
    ),
    Option(
        "jdl_refresh",
        SECONDS,
        2,
        "seconds between looks for changed, added and removed descriptions and scripts (each "
        "server process looks for itself; 0: only at start-up). A removed type's jobs stay "
        "readable, abortable and deletable; only creating (404), changing and running them need"
        " the description",
    ),
    Option(
        "workdir",
        PATH,
        Path("var/jobs"),
        "root of the jobs' working directories (shared with the compute nodes for SLURM)",
    ),
    Option(
        "execution_duration.default",
        SECONDS,
        3600,
        "seconds a job may run when neither client nor job type says (job types may set their own)",
    ),
    Option(
        "execution_duration.max",
        SECONDS,
        DAY,
        "the most a client may ask; more, or 0 (unlimited), gets this. 0: no maximum",
    ),
    Option(
        "destruction.default",
        SECONDS,
        7 * DAY,
        "seconds from creation to destruction (7 days); 0: never",
    ),
    Option(
        "destruction.max",
        SECONDS,
        30 * DAY,
        "latest destruction a client may ask, from creation (30 days); 0: no limit",
    ),
    Option(
        "destruction.archive",
        BOOLEAN,
        False,
        "at destruction, keep the job's metadata as ARCHIVED instead of deleting it",
    ),
    Option(
        "destruction.interval",
        INTERVAL,
        60.0,
        "seconds between passes of the destruction sweeper",
        shown="`60`",
    ),
    Option(
        "reconcile_interval",
        INTERVAL,
        10.0,
        "seconds between the manager's checks of active jobs against reality",
        shown="`10`",
    ),
    Option(
        "wait.max", SECONDS, 600, "longest a `WAIT` request blocks (also the cap for `WAIT=-1`)"
    ),
    Option(
        "wait.max_waiters",
        COUNT,
        16,
        "most requests blocked in `WAIT` at once; beyond, `WAIT` answers at once. Keep it below"
        " the server's `threads`",
        name="max_waiters",
    ),
    Option(
        "sync.timeout",
        SECONDS,
        60,
        "longest a `/sync/<type>` request waits for its job before it answers with a 303 to"
        " the job. Keep it below the proxy's timeout",
    ),
    Option("debug", BOOLEAN, False, "show tracebacks in 500 responses"),
    Option("editor", BOOLEAN, False, "enable the job description editor of the browser client"),
    Option("background", BOOLEAN, True, "run the sweeper and reconciliation in this process"),
    Option(
        "secret_file",
        PATH,
        Path("var/secret"),
        "the server's secret (created with 256 random bits, mode 600, if absent); jobs sign "
        "their events with secrets derived from it. Share it between the processes of one "
        "deployment",
    ),
    Option(
        "base_url",
        URL,
        "",
        "the service's public URL, for managers whose jobs call back (`POST /events/<job id>`, "
        "signed)",
    ),
    Option(
        "metrics.allow",
        NETWORKS,
        (),
        "networks whose callers may read `/metrics` without logging in (`127.0.0.1 "
        "10.0.0.0/8`); administrators always may, others get 403",
    ),
    Option(
        "log.format",
        choice("text", "json"),
        "text",
        "`json`: every log line one JSON object (requests, phase changes, background passes); "
        "`text`: the ini's own format. Credentials are taken out of lines in both",
    ),
)

#: README's table of "Accounts and access": authentication, quotas, request limits.
ACCESS: tuple[Option[Any], ...] = (
    Option(
        "auth.anonymous",
        BOOLEAN,
        False,
        "allow requests without credentials (their jobs have no owner)",
        name="anonymous",
    ),
    Option("auth.realm", REALM, "UWS", "realm of the `WWW-Authenticate` challenge", name="realm"),
    Option(
        "auth.proxy_header",
        matching("[A-Za-z0-9_-]+", "a header name"),
        "",
        "header (or `REMOTE_USER`) naming the user, set by a trusted proxy",
        name="proxy_header",
    ),
    Option(
        "auth.proxy_networks",
        NETWORKS,
        (),
        "networks of the proxies allowed to send it (`10.0.0.0/8 ::1`); required with "
        "`proxy_header`",
        name="proxy_networks",
    ),
    Option(
        "auth.type_roles",
        MAPPING,
        {},
        "lines of `job type = role`: only holders of the role may create jobs of that type",
        name="type_roles",
    ),
    Option(
        "auth.session_max_age",
        POSITIVE,
        8 * 3600,
        "seconds a browser login lasts; logging out, a new password, new roles, disabling (and "
        "enabling) end every session of the user, in every process",
        name="session_max_age",
    ),
    Option(
        "auth.verifications",
        POSITIVE,
        2,
        "password or token verifications (Argon2, ~64 MB each) at once per process; others wait"
        " up to 5 s, then 503 with `Retry-After`; requests with the same credentials at once "
        "share one verification",
    ),
    Option(
        "auth.failures",
        POSITIVE,
        5,
        "failed logins per user name and per client address before each further attempt waits "
        "(429 with `Retry-After`: 1 s, then doubling up to 60 s)",
    ),
    Option(
        "events.allow",
        NETWORKS,
        (),
        "networks from which job events (`POST /events/<id>`) are accepted",
        shown="(any)",
    ),
    Option(
        "cors.origins",
        ORIGINS,
        frozenset(),
        "origins of web applications that may use the REST API from their pages "
        "(`https://portal.example.org`, space-separated, or `*`): preflights answered, "
        "`Location` and `Retry-After` exposed. Credentials are never allowed to them: such "
        "pages send Basic or Bearer credentials of their own, and a session cookie sent along "
        "gains nothing",
        shown="(none: off)",
    ),
    Option(
        "quota.active_jobs",
        COUNT,
        0,
        "most unfinished jobs (PENDING to EXECUTING, HELD, SUSPENDED) per user; 0: no limit",
    ),
    Option(
        "quota.running_jobs",
        COUNT,
        0,
        "most QUEUED, EXECUTING, HELD or SUSPENDED jobs per user; 0: no limit",
    ),
    Option(
        "limits.body",
        SIZE,
        128 * MB,
        "largest request body (413)",
        shown="`128M`",
        name="limit_body",
    ),
    Option(
        "limits.unauthenticated_body",
        SIZE,
        8 * 1024,
        "largest body of `POST /login`, `/logout` and `/events/<id>`, which serve callers "
        "before they are authenticated (413)",
        shown="`8K`",
        name="limit_unauthenticated_body",
    ),
    Option(
        "limits.upload",
        SIZE,
        100 * MB,
        "largest uploaded file (413)",
        shown="`100M`",
        name="limit_upload",
    ),
    Option(
        "limits.parameters",
        POSITIVE,
        100,
        "most parameters in one request (400); a form body is counted as it is read, and "
        "reading stops at the limit",
        name="limit_parameters",
    ),
    Option(
        "limits.parameter_length",
        POSITIVE,
        64 * 1024,
        "longest parameter value, in characters (400)",
        name="limit_parameter_length",
    ),
)


#: The plugins' own keys: uws.storage.* and uws.manager.* (each plugin checks its own).
PLUGIN_PREFIXES = ("uws.storage.", "uws.manager.")


def parse_settings(settings: Mapping[str, Any]) -> UWSSettings:
    """Parse the ``uws.*`` keys; raise ConfigurationError naming the key of a bad value."""
    here = Path(str(settings.get("here") or Path.cwd()))
    core = {k: v for k, v in settings.items() if not k.startswith(PLUGIN_PREFIXES)}
    values = read_all((*CORE, *ACCESS), core, "uws.")
    values.update({name: here / value for name, value in values.items() if isinstance(value, Path)})
    values["base_url"] = values["base_url"].rstrip("/")
    parsed = UWSSettings(
        here=here,
        storage_options=_prefixed(settings, "uws.storage."),
        manager_options=_prefixed(settings, "uws.manager."),
        **values,
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


def _prefixed(settings: Mapping[str, Any], prefix: str) -> dict[str, str]:
    return {k[len(prefix) :]: str(v) for k, v in settings.items() if k.startswith(prefix)}


def readme_tables() -> dict[str, str]:
    """README's settings tables by section name, as ``make docs`` writes them."""
    core = markdown_table(CORE, "uws.").splitlines(keepends=True)
    plugin_rows = {
        "`uws.storage`": "| `uws.storage.*` | | options of the storage (below) |\n",
        "`uws.manager`": "| `uws.manager.*` | | options of the manager (below) |\n",
    }
    with_prefixes = []
    for row in core:
        with_prefixes.append(row)
        with_prefixes += [
            extra for key, extra in plugin_rows.items() if row.startswith(f"| {key} ")
        ]
    return {"core": "".join(with_prefixes), "access": markdown_table(ACCESS, "uws.")}


def _check_declarations() -> None:
    """Every declared option has its field and every field its option (checked at import)."""
    declared = {option.field for option in (*CORE, *ACCESS)}
    typed = {f.name for f in fields(UWSSettings)} - {"here", "storage_options", "manager_options"}
    if declared != typed:
        raise AssertionError(
            f"settings declared without a field or the reverse: {sorted(declared ^ typed)}"
        )


_check_declarations()


def includeme(config: Configurator) -> None:
    config.registry.uws_settings = parse_settings(config.get_settings())
