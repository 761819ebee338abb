"""LISTEN on a dedicated connection in one thread; every NOTIFY wakes this process's waiters."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg import sql

from .closing import close_quietly

log = logging.getLogger(__name__)

#: How long one wait for notifications lasts; also how often a quiet connection is checked.
POLL = 5.0
RETRY_FIRST, RETRY_MAX = 0.2, 10.0


class Listener:
    """Hands each notification's payload to ``on_notify``; reconnects when the connection
    drops and then calls ``on_reconnect`` (changes sent meanwhile were lost)."""

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection],
        channel: str,
        on_notify: Callable[[str], None],
        on_reconnect: Callable[[], None],
    ) -> None:
        self._connect = connect
        self.channel = channel
        self._on_notify = on_notify
        self._on_reconnect = on_reconnect
        self._conn: psycopg.Connection | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uws-listen", daemon=True)
        self.reconnects = 0

    def start(self) -> None:
        # Connect in the caller's thread: once start-up is over, no change can be missed.
        self._conn = self._open()
        self._thread.start()

    @property
    def backend_pid(self) -> int | None:
        """The server process of the LISTEN connection (tests terminate it)."""
        conn = self._conn
        return None if conn is None or conn.closed else conn.info.backend_pid

    def _open(self) -> psycopg.Connection:
        conn = self._connect()
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        return conn

    def _run(self) -> None:
        delay = RETRY_FIRST
        while not self._stop.is_set():
            try:
                if self._conn is None:
                    self._conn = self._open()
                    self.reconnects += 1
                    log.info("LISTEN %s: connected again", self.channel)
                    self._on_reconnect()
                    delay = RETRY_FIRST
                self._receive(self._conn)
            except Exception as exc:  # psycopg's errors, and any bug of a callback: never die
                if self._stop.is_set():
                    break
                log.warning("LISTEN %s: %s; reconnecting in %.1f s", self.channel, exc, delay)
                self._discard()
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
        self._discard()

    def _receive(self, conn: psycopg.Connection) -> None:
        started = time.monotonic()
        for note in conn.notifies(timeout=POLL):
            if self._stop.is_set():
                return
            if note.payload:
                self._on_notify(note.payload)
        if time.monotonic() - started >= POLL:
            # A quiet connection may be a dead one: a round trip finds out (and raises).
            conn.execute("SELECT 1")

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        close_quietly(conn)

    def stop(self, wake: Callable[[], None] | None = None) -> None:
        """Stop the thread; ``wake`` sends an empty notification so that it notices at once."""
        self._stop.set()
        if wake is not None and self._thread.is_alive():
            try:
                wake()
            except Exception as exc:  # the database may be gone: the poll timeout then does
                log.debug("could not wake the listener: %s", exc)
        if self._thread.is_alive():
            self._thread.join(timeout=POLL + 1)
        else:
            self._discard()
