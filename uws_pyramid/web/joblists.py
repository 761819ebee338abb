"""Job lists: the UWS filters and this service's extensions (pages, count, runId, change feed).

UWS 1.1 has PHASE, AFTER and LAST. The extensions (README, "Job lists at scale") are query
parameters a plain UWS client never sends and headers it ignores; the body stays a UWS
``jobs`` document:

- ``BEFORE=<creationTime>,<id>``: the jobs listed after that one, newest first (a keyset
  page); a full page (LAST jobs) carries ``Link: <...>; rel="next"`` to the page after it;
- ``COUNT=true``: ``X-Total-Count`` is how many jobs match (LAST and BEFORE aside), exact up
  to COUNT_LIMIT, above it ``COUNT_LIMIT+``;
- ``RUNID=x`` (exact) or ``RUNID=x*`` (runIds starting with x);
- ``OWNER=name``: an admin's list of one user's jobs (anyone may name themselves);
- ``WAIT=n``: a change feed: the list once one of its jobs changes or a job is created, or
  after n seconds; with ``If-None-Match`` (the list's ETag) it answers at once if the list
  already differs from the one the client holds, and 304 if it is still that one.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any
from urllib.parse import urlencode

from pyramid.request import Request
from pyramid.response import Response

from ..errors import Forbidden, InvalidValue
from ..jobs import JobQuery, JobRef
from ..timeparse import parse_after, parse_int
from .requests import parse_phase, query_value, query_values
from .security import visible_jobs
from .xml import format_time

#: Counts stop here: a count costs at most this many index entries.
COUNT_LIMIT = 10_000
BEFORE_FORM = "a job's creation time and id separated by a comma, as in the next-page link"
RUNID_FORM = "a runId, or the start of one followed by *"
#: Jobs per database read of a streamed list: the first piece goes out after one such read.
BATCH = 1000
#: Parameters that select a page or wait, left out of the next page's link.
NOT_CARRIED = {"BEFORE", "WAIT"}


def _before(text: str) -> tuple[Any, str]:
    time, sep, job_id = text.rpartition(",")
    try:
        if sep and job_id:
            return parse_after("BEFORE", time), job_id
    except InvalidValue:
        pass
    raise InvalidValue("BEFORE", BEFORE_FORM, text)


def _owner(request: Request) -> dict[str, Any]:
    """The visible jobs, narrowed by OWNER."""
    visible = visible_jobs(request)
    owner = query_value(request, "OWNER")
    if owner is None:
        return visible
    if visible.get("anonymous") or visible.get("owner_id", owner) != owner:
        raise Forbidden("OWNER may name another user only for admins")
    return {"owner_id": owner}


def job_list_query(request: Request, job_type: str | None) -> JobQuery:
    """The query's filters, limited to the jobs the caller may see."""
    phases = frozenset(parse_phase("PHASE", v) for v in query_values(request, "PHASE"))
    after = query_value(request, "AFTER")
    last = query_value(request, "LAST")
    before = query_value(request, "BEFORE")
    run_id = query_value(request, "RUNID")
    prefix = run_id is not None and run_id.endswith("*")
    if run_id is not None and prefix:
        run_id = run_id[:-1]
        if not run_id:
            raise InvalidValue("RUNID", RUNID_FORM, "*")
    return JobQuery(
        job_type=job_type,
        phases=phases or None,
        after=parse_after("AFTER", after) if after is not None else None,
        last=parse_int("LAST", last, 1, "an integer > 0") if last is not None else None,
        before=_before(before) if before is not None else None,
        run_id=run_id,
        run_id_prefix=prefix,
        **_owner(request),
    )


def etag(refs: list[JobRef], json: bool) -> str:
    """Changes with any job's phase or runId, with the jobs listed and the format."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(b"j" if json else b"x")
    for ref in refs:
        digest.update(f"{ref.job_id} {ref.phase} {ref.run_id}\n".encode())
    return digest.hexdigest()


def next_link(request: Request, query: JobQuery, refs: list[JobRef]) -> str | None:
    """The URL of the page after a full one."""
    if query.last is None or len(refs) < query.last:
        return None
    last = refs[-1]
    carried = [(k, v) for k, v in request.GET.items() if k.upper() not in NOT_CARRIED]
    carried.append(("BEFORE", f"{format_time(last.creation_time)},{last.job_id}"))
    return f"{request.path_url}?{urlencode(carried)}"


def streamed(request: Request, query: JobQuery) -> bool:
    """A whole list (no LAST, no BEFORE) goes out as it is read, in batches, unless the
    client waits for a change or holds a version (which need the whole list first)."""
    return (
        not query.newest_first
        and query_value(request, "WAIT") is None
        and not request.if_none_match
    )


def list_jobs(request: Request, query: JobQuery, json: bool) -> tuple[list[JobRef], bool]:
    """The jobs of the list, and whether the client already holds them (a 304)."""
    held = request.if_none_match
    wait = query_value(request, "WAIT")

    def unchanged(refs: list[JobRef]) -> bool:
        return not held or etag(refs, json) in held

    if wait is None:
        refs = request.jobs.list(query)
    else:
        timeout = parse_int("WAIT", wait, -1, "an integer number of seconds, or -1")
        refs = request.jobs.wait_list(query, timeout, unchanged)
    return refs, bool(held) and unchanged(refs)


def decorate(
    request: Request, response: Response, query: JobQuery, refs: list[JobRef] | None, json: bool
) -> Response:
    """The extensions' headers of a list response (``refs`` None: streamed, not known yet)."""
    if refs is not None:
        response.etag = etag(refs, json)
        link = next_link(request, query, refs)
        if link is not None:
            response.headers["Link"] = f'<{link}>; rel="next"'
    count = query_value(request, "COUNT")
    if count is not None and count.lower() in ("true", "1", "yes"):
        whole = dataclasses.replace(query, before=None, last=None)
        n = request.jobs.storage.count(whole, COUNT_LIMIT)
        response.headers["X-Total-Count"] = f"{n}+" if n >= COUNT_LIMIT else str(n)
    return response
