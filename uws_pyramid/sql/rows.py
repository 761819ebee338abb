"""Rows of the jobs table to domain Jobs and back (one mapping for both SQL storages)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..jobs import ErrorSummary, Job, Phase, Result


def job_to_row(job: Job) -> dict[str, Any]:
    row = {
        "job_id": job.job_id,
        "job_type": job.job_type,
        "phase": str(job.phase),
        "run_id": job.run_id,
        "owner_id": job.owner_id,
        "creation_time": job.creation_time,
        "start_time": job.start_time,
        "end_time": job.end_time,
        "execution_duration": job.execution_duration,
        "destruction": job.destruction,
        "quote": job.quote,
        "process_id": job.process_id,
        "parameters": dict(job.parameters),
        "results": [
            {
                "id": r.id,
                "path": r.path,
                "mime_type": r.mime_type,
                "size": r.size,
                "digest": r.digest,
                "description": r.description,
                "declared": r.declared,
            }
            for r in job.results
        ],
        "job_info": dict(job.job_info),
    }
    row.update(error_columns(job.error))
    return row


def error_columns(error: ErrorSummary | None) -> dict[str, Any]:
    if error is None:
        return {"error_type": None, "error_message": None, "error_has_detail": None}
    return {
        "error_type": error.type,
        "error_message": error.message,
        "error_has_detail": error.has_detail,
    }


def row_to_job(m: Mapping[str, Any]) -> Job:
    error = None
    if m["error_message"] is not None:
        error = ErrorSummary(m["error_message"], m["error_type"], bool(m["error_has_detail"]))
    return Job(
        job_id=m["job_id"],
        job_type=m["job_type"],
        phase=Phase(m["phase"]),
        run_id=m["run_id"],
        owner_id=m["owner_id"],
        creation_time=m["creation_time"],
        start_time=m["start_time"],
        end_time=m["end_time"],
        execution_duration=m["execution_duration"],
        destruction=m["destruction"],
        quote=m["quote"],
        parameters=dict(m["parameters"]),
        results=[Result(**r) for r in m["results"]],
        error=error,
        job_info=dict(m["job_info"]),
        process_id=m["process_id"],
    )
