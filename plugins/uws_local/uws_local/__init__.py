"""uws-local: the local-process job manager plugin of uws-pyramid."""

from __future__ import annotations

from collections.abc import Sequence

from uws_pyramid.api import Manager, hookimpl, require_api

require_api("1.0")  # before importing the rest: a clear reason if the core does not fit

from .manager import LocalManager  # noqa: E402
from .queue import uws_queued_job_info  # noqa: E402, F401  (a hook of this plugin)

__version__ = "0.1.0"


@hookimpl
def uws_manager_classes() -> Sequence[type[Manager]]:
    return [LocalManager]
