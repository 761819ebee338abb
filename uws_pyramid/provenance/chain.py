"""The chain of jobs across results (ProvSAP's DEPTH and DIRECTION): job A's result given as a
parameter of job B links B back to A, and A forward to B."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import InvalidValue, NotFound
from ..jobs import Job
from .document import JOB_PATH, RESULT_PATH, Service

#: Most job hops one request walks (DEPTH=ALL means this many).
MAX_DEPTH = 10
BACK, FORWARD = "BACK", "FORWARD"
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_BARE = re.compile(r"([a-z0-9]+)(?:/([A-Za-z_][A-Za-z0-9_.-]*))?\Z")


@dataclass(frozen=True)
class Start:
    """Where a walk starts: a job, or one of its results (``result_id``)."""

    job_id: str
    job_type: str | None = None
    result_id: str | None = None


def parse_id(value: str, service: Service) -> Start:
    """ProvSAP's ID: a job id, ``<job id>/<result id>``, or the URL (or ``service:`` name)
    of a job or a result of this service. A URL that names neither: NotFound."""
    path = service.local(value)
    if path is not None:
        found = RESULT_PATH.match(path) or JOB_PATH.match(path)
        if found:
            return Start(found.group(2), found.group(1), *found.groups()[2:])
        raise NotFound(f"no job or result of this service at {value.strip()[:200]!r}")
    if URL.match(value.strip()):
        raise NotFound(f"{value.strip()[:200]!r} is not a URL of this service")
    found = _BARE.match(value.strip())
    if found:
        return Start(found.group(1), None, found.group(2))
    raise InvalidValue(
        "ID",
        "a job id, <job id>/<result id>, or the URL of a job or of a result of this service",
        value,
    )


def parse_depth(value: str | None) -> int:
    if value is None:
        return 1
    if value.strip().upper() == "ALL":
        return MAX_DEPTH
    text = value.strip()
    if not text.isdigit() or int(text) > MAX_DEPTH:
        raise InvalidValue("DEPTH", f"an integer from 0 to {MAX_DEPTH}, or ALL", value)
    return int(text)


def parse_direction(value: str | None) -> str:
    if value is None:
        return BACK
    direction = value.strip().upper()
    if direction not in (BACK, FORWARD):
        raise InvalidValue("DIRECTION", "BACK or FORWARD", value)
    return direction


#: One step of a walk: the jobs next to a job (only those using ``result_id`` when given).
Step = Callable[[Job, "str | None"], Iterable[Job]]


def walk(start: Job, depth: int, step: Step, result_id: str | None = None) -> list[Job]:
    """``start`` then the jobs up to ``depth`` steps away, each once, nearest first."""
    found = [start]
    seen = {start.job_id}
    frontier: list[tuple[Job, str | None]] = [(start, result_id)]
    for _ in range(depth):
        following: list[tuple[Job, str | None]] = []
        for job, only in frontier:
            for other in step(job, only):
                if other.job_id not in seen:
                    seen.add(other.job_id)
                    found.append(other)
                    following.append((other, None))
        frontier = following
    return found


def inputs(job: Job, service: Service) -> list[tuple[str, str]]:
    """(job id, result id) of each result of this service that ``job`` has as a parameter."""
    refs = (service.result_ref(value) for value in job.parameters.values())
    return sorted({(r.job_id, r.result_id) for r in refs if r is not None})


def uses(job: Job, producer: Job, result_id: str | None, service: Service) -> bool:
    """Whether ``job`` has a result of ``producer`` (``result_id`` if given) as a parameter."""
    return any(
        j == producer.job_id and (result_id is None or r == result_id)
        for j, r in inputs(job, service)
    )
