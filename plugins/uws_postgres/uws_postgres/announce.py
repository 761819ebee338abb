"""NOTIFY other server processes of new jobs after commit: one notification for many creates.

A NOTIFY inside a create's transaction would serialize the commits of all creates (PostgreSQL
holds a cluster-wide lock from a notifying transaction's pre-commit until its WAL flush is
done). Here a thread of its own sends one NOTIFY for every create committed since the last
one, on a connection of its own whose commits do not wait for the flush (a notification lost
in a crash is harmless: the listeners reconnect and wake every waiter)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

log = logging.getLogger(__name__)

#: How long ``stop`` waits for a notification in flight.
STOP_WAIT = 5.0
#: Seconds the thread waits, once woken, for more creates to announce with the first: at
#: most so many NOTIFYs a second (each wakes the listener of every server process).
GATHER = 0.005


class Announcer:
    """``announce`` returns at once; the thread sends ``payload`` on ``channel`` once for all
    the calls made while it was idle or sending. Calls made before ``start`` are sent once
    it started; calls made after ``stop`` are dropped."""

    def __init__(
        self, connect: Callable[[], psycopg.Connection], channel: str, payload: str
    ) -> None:
        self._connect = connect
        self.channel = channel
        self.payload = payload
        self._conn: psycopg.Connection | None = None
        self._pending = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uws-announce", daemon=True)
        #: Notifications sent so far (tests, benchmarks).
        self.sent = 0

    def start(self) -> None:
        self._thread.start()

    def announce(self) -> None:
        self._pending = True
        self._wake.set()

    @property
    def backend_pid(self) -> int | None:
        """The server process of the announcing connection (tests terminate it)."""
        conn = self._conn
        return None if conn is None or conn.closed else conn.info.backend_pid

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._stop.wait(GATHER)
            self._wake.clear()
            if self._pending:
                # Reset before sending: what commits meanwhile is announced by the next one.
                self._pending = False
                self._send()
        self._discard()

    def _send(self) -> None:
        for attempt in range(2):
            try:
                if self._conn is None:
                    self._conn = self._open()
                self._conn.execute("SELECT pg_notify(%s, %s)", (self.channel, self.payload))
                self.sent += 1
                return
            except psycopg.Error as exc:
                self._discard()
                if attempt or self._stop.is_set():
                    # The database is down: the listeners of the other processes lose their
                    # connection too, and wake all their waiters once they have it back.
                    log.warning("NOTIFY %s of new jobs: %s", self.channel, exc)
                    return

    def _open(self) -> psycopg.Connection:
        conn = self._connect()
        conn.autocommit = True  # each NOTIFY its own transaction, sent at once
        # This session's commits only notify: none needs to wait for the WAL flush.
        conn.execute("SET synchronous_commit = off")
        return conn

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass

    def stop(self) -> None:
        """Send what is pending, then end the thread and close its connection."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_WAIT)
