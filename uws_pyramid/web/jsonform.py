"""JSON form of the UWS documents: the XML's content with UWS's camelCase names, None as null."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from uws_pyramid.jobs import ErrorSummary, Job, JobRef, Result
from uws_pyramid.web.xml import UWS_VERSION, format_time, type_segment, url_segment

log = logging.getLogger(__name__)

#: A JSON string literal of a str, non-ASCII kept (json.dumps with ensure_ascii=False).
_json_string = json.encoder.encode_basestring  # type: ignore[attr-defined]

__all__ = ["job_json", "job_list_json", "job_list_json_parts", "results_json", "parameters_json"]


def _time(dt: datetime | None) -> str | None:
    return None if dt is None else format_time(dt)


def _jsonable(value: Any) -> Any:
    """``value`` with datetimes as UWS time strings and tuples/sets as lists, recursively."""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return value


def job_list_json(refs: Sequence[JobRef], list_url: str, by_type: bool = False) -> dict[str, Any]:
    """``{"version", "jobs": [{id, href, phase, runId, ownerId, creationTime}]}`` (what the
    text of ``job_list_json_parts`` says: one writer of the list's JSON)."""
    return json.loads(b"".join(job_list_json_parts([refs], list_url, by_type)))  # type: ignore[no-any-return]


def job_list_json_parts(
    batches: Iterable[Sequence[JobRef]], list_url: str, by_type: bool = False
) -> Iterator[bytes]:
    """The JSON text of a job list, one piece of UTF-8 per batch (a streamed response holds
    one batch at a time)."""
    base = list_url.rstrip("/") + "/"
    head = f'{{"version": "{UWS_VERSION}", "jobs": ['
    separator = ""
    string = _json_string
    types: dict[str, str] = {}  # the link segment of each job type (a list has few)
    for refs in batches:
        # Text as json.dumps writes it, built like the XML: a dict and a dumps per job
        # cost three times as much on a list of 10,000.
        parts = [head]
        head = ""
        for ref in refs:
            segment = ""
            if by_type:
                segment = types.get(ref.job_type) or types.setdefault(
                    ref.job_type, type_segment(ref)
                )
            run = "null" if ref.run_id is None else string(ref.run_id)
            owner = "null" if ref.owner_id is None else string(ref.owner_id)
            parts.append(
                f'{separator}{{"id": {string(ref.job_id)}, '
                f'"href": {string(base + segment + url_segment(ref.job_id))}, '
                f'"phase": "{ref.phase}", "runId": {run}, "ownerId": {owner}, '
                f'"creationTime": "{format_time(ref.creation_time)}"}}'
            )
            separator = ", "
        yield "".join(parts).encode("utf-8")
    yield (head + "]}").encode("utf-8")


def _result(result: Result, base: str) -> dict[str, Any]:
    return {
        "id": result.id,
        "href": base + url_segment(result.id),
        "size": result.size,
        "mimeType": result.mime_type,
        "sha256": result.digest,
        "description": result.description,
    }


def _results(job: Job, results_base: str) -> list[dict[str, Any]]:
    base = results_base.rstrip("/") + "/"
    return [_result(result, base) for result in job.results]


def results_json(job: Job, job_url: str) -> dict[str, Any]:
    """``{"results": [{id, href, size, mimeType, sha256, description}]}``, links as in the
    XML (``sha256``: hex digest of the content, null when unknown)."""
    return {"results": _results(job, job_url.rstrip("/") + "/results")}


def parameters_json(
    job: Job, job_url: str | None = None, uploads: Collection[str] = ()
) -> dict[str, Any]:
    """``{"parameters": {name: value}}`` (JSON carries every value as it is)."""
    return {"parameters": dict(job.parameters)}


def _error_summary(error: ErrorSummary) -> dict[str, Any]:
    return {"type": error.type, "hasDetail": error.has_detail, "message": error.message}


def job_json(job: Job, job_url: str, uploads: Collection[str] = ()) -> dict[str, Any]:
    """The job with the keys of ``uws:job``; errorSummary and jobInfo are null when absent.
    (Uploaded parameters keep their file name as value: JSON needs no by-reference form.)"""
    base = job_url.rstrip("/") + "/results"
    return {
        "version": UWS_VERSION,
        "jobId": job.job_id,
        "runId": job.run_id,
        "ownerId": job.owner_id,
        "phase": str(job.phase),
        "quote": _time(job.quote),
        "creationTime": format_time(job.creation_time),
        "startTime": _time(job.start_time),
        "endTime": _time(job.end_time),
        "executionDuration": int(job.execution_duration),
        "destruction": _time(job.destruction),
        "parameters": dict(job.parameters),
        "results": _results(job, base),
        "errorSummary": None if job.error is None else _error_summary(job.error),
        "jobInfo": _jsonable(job.job_info) if job.job_info else None,
    }
