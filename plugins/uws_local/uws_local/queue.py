"""Why a QUEUED local job waits: its place in this server process's queue, when it is read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from uws_pyramid.api import Job, Manager, hookimpl

from .manager import LocalManager

#: What the jobInfo of a job waiting for a slot says (``queueReason``).
WAITING = "waiting for a free slot"


def queue_info(manager: LocalManager, job: Job) -> dict[str, Any]:
    """``queueReason`` and ``jobsAhead`` of a job in the queue; nothing for one that is
    starting, or queued by another server process (whose queue this one cannot see)."""
    runs = manager.runs
    with runs.lock:
        try:
            ahead = runs.queue.index(job.job_id)
        except ValueError:
            return {}
    reason = f"{WAITING} (max_running = {manager.options.max_running})"
    return {"queueReason": reason, "jobsAhead": ahead}


@hookimpl
def uws_queued_job_info(manager: Manager, job: Job) -> Mapping[str, Any] | None:
    return queue_info(manager, job) if isinstance(manager, LocalManager) else None
