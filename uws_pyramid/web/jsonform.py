"""JSON form of the UWS documents: the XML's content with UWS's camelCase names, None as null."""
from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from uws_pyramid.jobs import ErrorSummary, Job, JobRef, Result
from uws_pyramid.web.xml import UWS_VERSION, format_time, type_segment, url_segment

log = logging.getLogger(__name__)

__all__ = ["job_json", "job_list_json", "results_json", "parameters_json"]


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
    """``{"version", "jobs": [{id, href, phase, runId, ownerId, creationTime}]}``."""
    base = list_url.rstrip("/") + "/"
    return {
        "version": UWS_VERSION,
        "jobs": [
            {
                "id": ref.job_id,
                "href": base + (type_segment(ref) if by_type else "") + url_segment(ref.job_id),
                "phase": str(ref.phase),
                "runId": ref.run_id,
                "ownerId": ref.owner_id,
                "creationTime": format_time(ref.creation_time),
            }
            for ref in refs
        ],
    }


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
