"""uws-postgres: the PostgreSQL storage plugin of uws-pyramid."""
from __future__ import annotations

from collections.abc import Sequence

from uws_pyramid.plugins import hookimpl
from uws_pyramid.storage import Storage

from .storage import PostgresStorage


@hookimpl
def uws_storage_classes() -> Sequence[type[Storage]]:
    return [PostgresStorage]
