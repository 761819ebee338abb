"""Closing a dedicated connection that may be dead already."""

from __future__ import annotations

import psycopg


def close_quietly(conn: psycopg.Connection | None) -> None:
    """Close ``conn`` (if any), ignoring the errors of a connection the server dropped."""
    if conn is not None:
        try:
            conn.close()
        except psycopg.Error:
            pass
