"""uws-postgres: the PostgreSQL storage plugin of uws-pyramid."""

from __future__ import annotations

from collections.abc import Sequence

from uws_pyramid.api import Storage, hookimpl, require_api

require_api("1.0")  # before importing the rest: a clear reason if the core does not fit

from .storage import PostgresStorage  # noqa: E402

__version__ = "0.1.0"


@hookimpl
def uws_storage_classes() -> Sequence[type[Storage]]:
    return [PostgresStorage]
