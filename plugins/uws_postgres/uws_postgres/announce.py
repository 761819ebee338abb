"""NOTIFY other server processes after commit: new jobs and phase changes, many at a time.

A NOTIFY inside a write transaction would serialize the commits of all writers (PostgreSQL
holds a cluster-wide lock from a notifying transaction's pre-commit until its WAL flush is
done). Here a thread of its own sends, in one transaction, one notification for each payload
(a job's id, or NEW_JOB) announced since its last one, on a connection of its own whose
commits do not wait for the flush (a notification lost in a crash is harmless: the listeners
reconnect and wake every waiter). Payloads it could not send are kept (at most one per job
changed meanwhile) and sent again later, so that a waiter in another process is woken late
rather than at its WAIT's end. What a server process killed between a commit and its
announcement (~5 ms) had to send is lost with it: waiters elsewhere answer at their WAIT's
end, which UWS allows (the price of commits that do not queue behind each other)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from .closing import close_quietly

log = logging.getLogger(__name__)

#: How long ``stop`` waits for a notification in flight.
STOP_WAIT = 5.0
#: Seconds the thread waits, once woken, for more payloads to send with the first: at most
#: so many NOTIFY transactions a second (each wakes the listener of every server process).
GATHER = 0.005
#: Seconds between tries while the database cannot be reached (doubled up to the second).
RETRY_FIRST, RETRY_MAX = 0.2, 10.0
#: One notification per payload; PostgreSQL folds duplicates of one transaction into one.
NOTIFY = "SELECT pg_notify(%s, payload) FROM unnest(%s::text[]) AS payload"


class Announcer:
    """``announce`` returns at once; the thread sends each payload on ``channel`` once for
    all the calls made with it while it was idle or sending. Calls made before ``start``
    are sent once it started; calls made after ``stop`` are dropped."""

    def __init__(self, connect: Callable[[], psycopg.Connection], channel: str) -> None:
        self._connect = connect
        self.channel = channel
        self._conn: psycopg.Connection | None = None
        self._pending: set[str] = set()
        self._lock = threading.Lock()  # swapping the pending set must lose no payload
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uws-announce", daemon=True)
        #: Notifications sent so far (tests, benchmarks).
        self.sent = 0

    def start(self) -> None:
        self._thread.start()

    def announce(self, payload: str) -> None:
        with self._lock:
            self._pending.add(payload)
        self._wake.set()

    @property
    def backend_pid(self) -> int | None:
        """The server process of the announcing connection (tests terminate it)."""
        conn = self._conn
        return None if conn is None or conn.closed else conn.info.backend_pid

    def _run(self) -> None:
        delay = RETRY_FIRST
        while not self._stop.is_set():
            self._wake.wait()
            self._stop.wait(GATHER)
            self._wake.clear()
            with self._lock:
                # Taken before sending: what is announced meanwhile goes with the next one.
                payloads, self._pending = self._pending, set()
            if not payloads or self._send(list(payloads)):
                delay = RETRY_FIRST
                continue
            with self._lock:
                self._pending |= payloads
            self._wake.set()
            self._stop.wait(delay)
            delay = min(delay * 2, RETRY_MAX)
        self._discard()

    def _send(self, payloads: list[str]) -> bool:
        """One transaction for all ``payloads``; False if it could not be sent."""
        for attempt in range(2):
            try:
                if self._conn is None:
                    self._conn = self._open()
                self._conn.execute(NOTIFY, (self.channel, payloads))
                self.sent += len(payloads)
                return True
            except psycopg.Error as exc:
                # Sent twice at worst (the reply lost): a woken waiter merely reads again.
                self._discard()
                if attempt or self._stop.is_set():
                    log.warning("NOTIFY %s of %d changes: %s", self.channel, len(payloads), exc)
                    return False
        return False

    def _open(self) -> psycopg.Connection:
        conn = self._connect()
        conn.autocommit = True  # each NOTIFY its own transaction, sent at once
        # This session's commits only notify: none needs to wait for the WAL flush.
        conn.execute("SET synchronous_commit = off")
        return conn

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        close_quietly(conn)

    def stop(self) -> None:
        """Send what is pending, then end the thread and close its connection."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_WAIT)
