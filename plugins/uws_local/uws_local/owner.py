"""Which local manager owns a job: an identity per manager instance, and whether it is alive."""

from __future__ import annotations

import itertools
import os
import threading

from uws_pyramid.api import contract, start_ticks

# The job_info key that names the manager instance which queued, started or adopted the job.
KEY = "server"

_counter = itertools.count(1)
_live: set[str] = set()  # identities of this process's managers that are not closed
_lock = threading.Lock()


def claim() -> str:
    """A new identity ``host:pid:start ticks:counter``, alive until ``release``.

    The start ticks tell a reused pid from ours; the counter tells apart two managers of one
    Python process (as in the tests)."""
    identity = f"{contract.HOST}:{os.getpid()}:{start_ticks(os.getpid())}:{next(_counter)}"
    with _lock:
        _live.add(identity)
    return identity


def release(identity: str) -> None:
    with _lock:
        _live.discard(identity)


def alive(identity: str) -> bool:
    """Whether the owner may still be running its jobs.

    Another host's server cannot be checked from here: it counts as alive, so that its jobs
    are never run twice (as its running jobs were already left alone)."""
    parts = identity.rsplit(":", 3)
    if len(parts) != 4 or not parts[1].isdigit():
        return False  # not written by us: treat as no owner
    host, pid, ticks, _ = parts
    if host != contract.HOST:
        return True
    if int(pid) == os.getpid():
        with _lock:
            return identity in _live
    now = start_ticks(int(pid))
    return now is not None and str(now) == ticks
