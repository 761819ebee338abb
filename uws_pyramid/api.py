"""The public plugin API: everything a storage or manager plugin may import from the core.

Plugins import from this module only (a test of the core checks its own plugins do). What is
not listed in ``__all__`` may change in any release; what is listed changes only with
``PLUGIN_API_VERSION``: a new minor version adds names or hooks, a new major version may
remove or change them (after one minor version that warns). A plugin states the versions it
supports twice: a bounded requirement on the ``uws-pyramid`` distribution in its metadata,
and ``require_api("1.0")`` at import, which fails with a clear reason (reported by
``uws-admin plugins``) if the installed core has another major version or too old a minor.
"""

from __future__ import annotations

from .accounts import Account, Accounts, Token, changed
from .errors import (
    BadRequest,
    ConfigurationError,
    Conflict,
    Forbidden,
    InsufficientStorage,
    InvalidValue,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    ServiceUnavailable,
    UWSError,
)
from .execution import contract
from .execution.results import VANISHED, job_ending, stderr_tail, timeout_error
from .execution.workdir import JobDir
from .execution.worker import Worker
from .execution.wrapper import BASH, DEFAULT_PATH, TMP_DIR, start_ticks
from .jdl.formats import DescriptionFormat, JDLError
from .jdl.model import JobDescription, ParameterSpec, ResultSpec, UsedSpec
from .jobs import (
    ACTIVE,
    FINAL,
    ErrorSummary,
    Job,
    JobQuery,
    JobRef,
    Phase,
    Quota,
    Result,
    new_job_id,
    utcnow,
)
from .manager import Manager, ManagerContext
from .notify import Notifier
from .options import (
    BOOLEAN,
    BOOLEANS,
    COUNT,
    INTERVAL,
    MAPPING,
    NETWORKS,
    PATH,
    POSITIVE,
    SECONDS,
    SIZE,
    TEXT,
    Kind,
    Option,
    at_least,
    choice,
    matching,
    read_all,
)
from .plugins import hookimpl
from .privatefiles import private_dir, private_file
from .sql.storage import SQLStorage
from .storage import Storage
from .timeparse import ended_at
from .transitions import Ending

#: The version of this API: ``major.minor`` (see the module's docstring).
PLUGIN_API_VERSION = "1.0"

__all__ = [
    # declared options (options.py): a plugin's uws.storage.* / uws.manager.* keys
    "BOOLEAN",
    "BOOLEANS",
    "COUNT",
    "INTERVAL",
    "MAPPING",
    "NETWORKS",
    "PATH",
    "POSITIVE",
    "SECONDS",
    "SIZE",
    "TEXT",
    "Kind",
    "Option",
    "at_least",
    "choice",
    "matching",
    "read_all",
    # user accounts, kept by a storage (Storage.accounts)
    "Account",
    "Accounts",
    "Token",
    "changed",
    # managers report facts through ManagerContext (started, progress, ended, ...)
    "Ending",
    "Worker",
    # job description formats (hook uws_description_formats)
    "DescriptionFormat",
    "JDLError",
    "UsedSpec",
    # the rest
    "ACTIVE",
    "BASH",
    "DEFAULT_PATH",
    "FINAL",
    "PLUGIN_API_VERSION",
    "TMP_DIR",
    "VANISHED",
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "ErrorSummary",
    "Forbidden",
    "InsufficientStorage",
    "InvalidValue",
    "Job",
    "JobDescription",
    "JobDir",
    "JobQuery",
    "JobRef",
    "Manager",
    "ManagerContext",
    "NotFound",
    "Notifier",
    "ParameterSpec",
    "PayloadTooLarge",
    "Phase",
    "Quota",
    "QuotaExceeded",
    "Result",
    "ResultSpec",
    "SQLStorage",
    "ServiceUnavailable",
    "Storage",
    "UWSError",
    "contract",
    "ended_at",
    "job_ending",
    "hookimpl",
    "new_job_id",
    "private_dir",
    "private_file",
    "require_api",
    "start_ticks",
    "stderr_tail",
    "timeout_error",
    "utcnow",
]


def _parse(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


def require_api(version: str) -> None:
    """Refuse to load a plugin written for API ``version`` if this core cannot serve it: same
    major version, and a minor version at least as new (names are only added within one)."""
    wanted, have = _parse(version), _parse(PLUGIN_API_VERSION)
    if wanted[0] != have[0] or wanted[1] > have[1]:
        raise ImportError(
            f"written for uws-pyramid plugin API {version}; this uws-pyramid provides "
            f"{PLUGIN_API_VERSION}: install a matching version of the plugin or of uws-pyramid"
        )
