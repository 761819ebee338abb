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
  already differs from the one the client holds, and 304 if it is still that one;
- ``SORT=creationTime``, ``startTime`` or ``endTime``, ``-`` first for newest first: the
  list's order (by start or end time: only the jobs that have one). With SORT, LAST=n is
  the page size: the first n jobs in that order;
- ``PAGE``: a page of a paged list (LAST=n), as the ``Link`` header's ``rel="next"``,
  ``rel="prev"``, ``rel="first"`` and ``rel="last"`` give it: ``next:<time>,<id>`` (the
  jobs after that one in the list's order, as BEFORE), ``prev:<time>,<id>`` (those before
  it; fewer than n: the first page instead) or ``last`` (the list's last n jobs, still in
  its order). Without LAST, all of them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any
from urllib.parse import urlencode

from pyramid.request import Request
from pyramid.response import Response

from ..errors import Forbidden, InvalidValue
from ..jobs import SORTS, JobQuery, JobRef
from ..timeparse import parse_after, parse_datetime, parse_int
from .requests import parse_phase, query_value, query_values
from .security import visible_jobs
from .xml import format_time

#: Counts stop here: a count costs at most this many index entries.
COUNT_LIMIT = 10_000
BEFORE_FORM = "a job's creation time and id separated by a comma, as in the next-page link"
RUNID_FORM = "a runId, or the start of one followed by *"
#: What a job id in a page's key may be (never sent to the database otherwise).
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Jobs per database read of a streamed list: the first piece goes out after one such read.
BATCH = 1000
#: Parameters that select a page or wait, left out of the pages' links.
NOT_CARRIED = {"BEFORE", "PAGE", "WAIT"}
#: SORT's names of the times a list may be sorted by.
SORT_NAMES = dict(zip(("creationTime", "startTime", "endTime"), SORTS, strict=True))
SORT_FORM = "creationTime, startTime or endTime, with - first for newest first"
PAGE_FORM = "next:<time>,<id>, prev:<time>,<id> or last, as in the list's links"
#: Where a page's kind is kept between the query and the links (see page_kind).
PAGE_KIND = "uws.list_page"


def _key(name: str, text: str, form: str) -> tuple[Any, str]:
    time, sep, job_id = text.rpartition(",")
    try:
        if sep and JOB_ID.fullmatch(job_id):
            return parse_after(name, time), job_id
    except InvalidValue:
        pass
    raise InvalidValue(name, form, text)


def _sort(text: str | None) -> tuple[str, bool | None]:
    """The time a list is sorted by and its direction (None: UWS's default)."""
    if text is None:
        return "creation_time", None
    sort = SORT_NAMES.get(text.removeprefix("-"))
    if sort is None:
        raise InvalidValue("SORT", SORT_FORM, text)
    return sort, text.startswith("-")


def _page(request: Request) -> tuple[str, tuple[Any, str] | None]:
    """The page asked for: first, next, prev or last, and its key."""
    page = query_value(request, "PAGE")
    before = query_value(request, "BEFORE")
    if page is None:
        return ("first", None) if before is None else ("next", _key("BEFORE", before, BEFORE_FORM))
    if before is not None:
        raise InvalidValue("PAGE", "PAGE or BEFORE, not both", page)
    if page == "last":
        return "last", None
    kind, _, key = page.partition(":")
    if kind not in ("next", "prev"):
        raise InvalidValue("PAGE", PAGE_FORM, page)
    return kind, _key("PAGE", key, PAGE_FORM)


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
    sort, descending = _sort(query_value(request, "SORT"))
    kind, key = _page(request)
    request.environ[PAGE_KIND] = kind
    if descending is None and (last is not None or key is not None):
        descending = True  # UWS: LAST lists the newest; a page of it continues it
    if kind in ("prev", "last"):
        # Read backwards from the key (or the end), then shown the right way (list_jobs).
        descending = not descending
    run_id = query_value(request, "RUNID")
    prefix = run_id is not None and run_id.endswith("*")
    if run_id is not None and prefix:
        run_id = run_id[:-1]
        if not run_id:
            raise InvalidValue("RUNID", RUNID_FORM, "*")
    return JobQuery(
        job_type=job_type,
        phases=phases or None,
        # UWS asks for UTC; a time with another offset is one instant all the same (as for
        # DESTRUCTION): converted, not refused.
        after=parse_datetime("AFTER", after) if after is not None else None,
        last=parse_int("LAST", last, 1, "an integer > 0") if last is not None else None,
        before=key,
        run_id=run_id,
        run_id_prefix=prefix,
        sort=sort,
        descending=descending,
        **_owner(request),
    )


def etag(refs: list[JobRef], json: bool) -> str:
    """Changes with any job's phase or runId, with the jobs listed and the format."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(b"j" if json else b"x")
    for ref in refs:
        digest.update(f"{ref.job_id} {ref.phase} {ref.run_id}\n".encode())
    return digest.hexdigest()


def page_kind(request: Request) -> str:
    """first, next, prev or last: the page job_list_query read (list_jobs may turn a short
    prev page into the first)."""
    return str(request.environ.get(PAGE_KIND, "first"))


def _key_of(ref: JobRef) -> str:
    return f"{format_time(ref.sort_time or ref.creation_time)},{ref.job_id}"


def links(request: Request, query: JobQuery, refs: list[JobRef]) -> dict[str, str]:
    """The URLs of the pages around a page (a list with LAST), by relation."""
    if query.last is None:
        return {}
    kind = page_kind(request)
    carried = [(k, v) for k, v in request.GET.items() if k.upper() not in NOT_CARRIED]

    def url(page: str | None) -> str:
        return f"{request.path_url}?{urlencode(carried + ([('PAGE', page)] if page else []))}"

    found = {"first": url(None), "last": url("last")}
    whole = len(refs) == query.last
    if refs and kind != "last" and (whole or kind == "prev"):
        found["next"] = url(f"next:{_key_of(refs[-1])}")
    if refs and kind != "first" and (whole or kind != "last"):
        found["prev"] = url(f"prev:{_key_of(refs[0])}")
    return found


def streamed(request: Request, query: JobQuery) -> bool:
    """A whole list (no LAST) goes out as it is read, in batches, unless it is read
    backwards (PAGE=prev or last), or the client waits for a change or holds a version
    (which need the whole list first)."""
    return (
        query.last is None
        and page_kind(request) in ("first", "next")
        and query_value(request, "WAIT") is None
        and not request.if_none_match
    )


def list_jobs(request: Request, query: JobQuery, json: bool) -> tuple[list[JobRef], bool]:
    """The jobs of the list, and whether the client already holds them (a 304)."""
    held = request.if_none_match
    wait = query_value(request, "WAIT")

    kind = page_kind(request)
    backwards = kind in ("prev", "last")  # read in the reverse order (job_list_query)

    def shown(refs: list[JobRef]) -> list[JobRef]:
        return refs[::-1] if backwards else refs

    def unchanged(refs: list[JobRef]) -> bool:
        return not held or etag(shown(refs), json) in held

    if wait is None:
        refs = request.jobs.list(query)
    else:
        timeout = parse_int("WAIT", wait, -1, "an integer number of seconds, or -1")
        refs = request.jobs.wait_list(query, timeout, unchanged)
    if kind == "prev" and query.last is not None and len(refs) < query.last:
        # Fewer jobs before the key than a page: the first page, a full one.
        request.environ[PAGE_KIND] = "first"
        first = dataclasses.replace(query, before=None, descending=not query.descending)
        return request.jobs.list(first), False
    return shown(refs), bool(held) and unchanged(refs)


def decorate(
    request: Request, response: Response, query: JobQuery, refs: list[JobRef] | None, json: bool
) -> Response:
    """The extensions' headers of a list response (``refs`` None: streamed, not known yet)."""
    if refs is not None:
        response.etag = etag(refs, json)
        found = links(request, query, refs)
        if found:
            response.headers["Link"] = ", ".join(f'<{u}>; rel="{r}"' for r, u in found.items())
    count = query_value(request, "COUNT")
    if count is not None and count.lower() in ("true", "1", "yes"):
        whole = dataclasses.replace(query, before=None, last=None, descending=None)
        n = request.jobs.storage.count(whole, COUNT_LIMIT)
        response.headers["X-Total-Count"] = f"{n}+" if n >= COUNT_LIMIT else str(n)
    return response
