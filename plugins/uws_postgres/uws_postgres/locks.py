"""PostgreSQL advisory locks: session locks for background tasks, and the keys of quota locks."""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable

import psycopg

from .closing import close_quietly

log = logging.getLogger(__name__)

#: First half of every lock key of a background task ("UWS1"): keeps clear of other
#: applications' advisory locks.
NAMESPACE = 0x55575331
#: First half of every lock key of an owner's quota checks ("UWSQ").
OWNER_NAMESPACE = 0x55575351


def _int4(text: str) -> int:
    crc = zlib.crc32(text.encode())
    return crc - 2**32 if crc >= 2**31 else crc


def lock_key(task: str) -> tuple[int, int]:
    """The two int4 halves of the advisory lock key of ``task``."""
    return NAMESPACE, _int4(task)


def owner_lock_key(owner_id: str | None) -> tuple[int, int]:
    """The two int4 halves of the transaction lock key of an owner's quota checks. Owners
    whose keys collide merely wait for each other; anonymous jobs have one key of their own."""
    return OWNER_NAMESPACE, _int4("\0anonymous" if owner_id is None else owner_id)


class AdvisoryLocks:
    """The first process to ask for a task's lock keeps it, and runs the task, until it
    stops or its connection drops; PostgreSQL then releases the lock and the next process
    that asks takes the task over. No lease to renew, no clock to trust."""

    def __init__(self, connect: Callable[[], psycopg.Connection]) -> None:
        self._connect = connect
        self._conn: psycopg.Connection | None = None
        self._held: set[str] = set()
        self._mutex = threading.Lock()

    def holds(self, task: str) -> bool:
        """True if this process runs ``task`` (taking the lock if it is free)."""
        with self._mutex:
            try:
                if self._conn is None:
                    self._conn = self._connect()
                if task in self._held:
                    # The lock lives as long as the session: a round trip proves both.
                    self._conn.execute("SELECT 1")
                    return True
                row = self._conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", lock_key(task)
                ).fetchone()
            except psycopg.Error as exc:
                if self._held:
                    log.warning("lost the locks of %s: %s", ", ".join(sorted(self._held)), exc)
                else:
                    log.warning("advisory lock of %s: %s", task, exc)
                self._discard()
                return False
            if row is not None and row[0]:
                log.info("this process now runs background task %s", task)
                self._held.add(task)
                return True
            return False

    @property
    def backend_pid(self) -> int | None:
        conn = self._conn
        return None if conn is None or conn.closed else conn.info.backend_pid

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        self._held.clear()
        close_quietly(conn)

    def close(self) -> None:
        """Release every lock (closing the session does): another process takes over."""
        with self._mutex:
            self._discard()
