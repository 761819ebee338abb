"""Group commit: the writes of callers that queue up run in one transaction.

SQLite lets one transaction write at a time. With one transaction per caller, 16 clients
queued on the write lock (bench/bench_sqlite_load.py: waits p50 36 ms, p99 210 ms), because
each holder, a thread among many, also waits for the GIL between its statements while the
others wait for it. Here a caller that finds nobody writing leads: it takes every caller's
work queued so far (up to MAX_BATCH), runs each in a savepoint of one transaction, commits
once, and wakes them; the callers that came meanwhile wait, and one of them leads the next
batch. A lone caller commits its own work in its own thread, as before (no hand-over to
another thread). A caller returns only after the commit that holds its changes: nothing is
acknowledged that is not committed. If the commit fails, every caller of the batch gets the
error (nothing of theirs was written); a caller whose own work fails gets its error, its
savepoint undone, and the others go on."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from uws_pyramid.api import ServiceUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The most callers' work in one transaction (keeps each hold of the write lock short for
#: the other processes on the same file).
MAX_BATCH = 64


class Work(Generic[T]):
    """One caller's work, and what came of it once its transaction ended."""

    def __init__(self, work: Callable[[Connection], T], deadline: float) -> None:
        self.work = work
        self.deadline = deadline
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None
        self.batch_error: BaseException | None = None  # shared by the whole batch

    def outcome(self) -> T:
        if self.batch_error is not None:
            # A fresh exception per caller: the batch's own is shared between threads.
            raise ServiceUnavailable(str(self.batch_error)) from self.batch_error
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommit:
    """The write queue of one SQLite storage. ``transaction`` opens a write transaction
    (it takes the write lock of the database file); work that waited ``timeout`` seconds
    for its turn fails as ``busy`` (and is then never run)."""

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Connection]],
        timeout: float,
        busy: Callable[[], ServiceUnavailable],
    ) -> None:
        self._transaction = transaction
        self._timeout = timeout
        self._busy = busy
        self._queue: deque[Work[Any]] = deque()
        self._turn = threading.Condition()
        self._writing = False  # a leader runs a batch

    def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in the next transaction; its result once committed."""
        pending = Work(work, time.monotonic() + self._timeout)
        with self._turn:
            self._queue.append(pending)
            while not pending.done:
                if self._writing:
                    self._turn.wait()
                    continue
                self._writing = True
                count = min(len(self._queue), MAX_BATCH)
                batch = [self._queue.popleft() for _ in range(count)]
                self._turn.release()
                try:
                    self._commit(batch)
                finally:
                    self._turn.acquire()
                    self._writing = False
                    self._turn.notify_all()
        return pending.outcome()

    def _commit(self, batch: list[Work[Any]]) -> None:
        now = time.monotonic()
        late = [w for w in batch if w.deadline < now]
        for pending in late:  # its caller has waited long enough: never run it now
            pending.error = self._busy()
            pending.done = True
        batch = [w for w in batch if w.deadline >= now]
        if not batch:
            return
        try:
            with self._transaction() as conn:
                if len(batch) == 1:
                    self._alone(conn, batch[0])
                else:
                    for pending in batch:
                        self._one(conn, pending)
        except _Undone:
            pass  # the only work failed: its error is set, the transaction rolled back
        except BaseException as exc:  # nothing of the batch is written
            if not isinstance(exc, ServiceUnavailable):
                log.exception("group commit of %d write(s) failed", len(batch))
            for pending in batch:
                pending.batch_error = exc
        finally:
            for pending in batch:
                pending.done = True

    @staticmethod
    def _alone(conn: Connection, pending: Work[Any]) -> None:
        # No savepoint: its failure rolls the whole transaction back.
        try:
            pending.result = pending.work(conn)
        except Exception as exc:
            pending.error = exc
            raise _Undone from exc

    @staticmethod
    def _one(conn: Connection, pending: Work[Any]) -> None:
        # A savepoint on the driver: SQLAlchemy's begin_nested costs more than the INSERT.
        driver = conn.connection.dbapi_connection
        assert driver is not None
        driver.execute("SAVEPOINT uws_work")
        try:
            pending.result = pending.work(conn)
        except Exception as exc:
            pending.error = exc
            if not _in_transaction(conn):
                # SQLite rolled the whole transaction back (a full disk, an I/O error):
                # the others' work is gone too.
                raise
            driver.execute("ROLLBACK TO uws_work")
        driver.execute("RELEASE uws_work")


class _Undone(Exception):
    """Rolls back the transaction of a batch whose only work failed."""


def _in_transaction(conn: Connection) -> bool:
    dbapi = conn.connection.dbapi_connection
    return bool(getattr(dbapi, "in_transaction", True))
