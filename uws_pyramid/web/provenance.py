"""Provenance views: ``{job}/provenance`` and ``/provenance`` (in the spirit of IVOA ProvSAP),
documents built on request from what is stored (``provenance/``), never cached."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from prov.model import ProvDocument
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ..errors import BadRequest, Forbidden, NotFound, Unauthorized
from ..jobs import FINAL, Job, JobQuery
from ..provenance import chain
from ..provenance.document import Service
from ..provenance.formats import OFFERS, Format, parse_format, render
from ..provenance.source import Provenance, enabled
from .requests import query_value
from .resources import READ, may_read, require_login
from .security import visible_jobs
from .views import FILE_HEADERS

#: Jobs a FORWARD step reads at most, looking for those that used a result.
FORWARD_SCAN = 2000


def provenance(request: Request) -> Provenance:
    """The builder, naming things by this service's URL (``uws.base_url`` when set, which
    jobs also know, else the URL the request came to)."""
    bases = [request.registry.uws_settings.base_url, request.application_url]
    service = Service(tuple(dict.fromkeys(b.rstrip("/") + "/" for b in bases if b)))
    return Provenance(request.jobs, service, lambda job: may_read(request, job))


def response_format(request: Request, parameter: str) -> Format:
    """The format asked by the query parameter, else by ``Accept`` (PROV-JSON by default)."""
    asked = query_value(request, parameter)
    if asked is not None:
        return parse_format(parameter, asked)
    offers = request.accept.acceptable_offers(OFFERS)
    return parse_format(parameter, offers[0][0] if offers else OFFERS[0])


def document_response(doc: ProvDocument, fmt: Format) -> Response:
    response = Response(body=render(doc, fmt), content_type=fmt.media_type)
    if fmt.media_type.startswith("text/") or fmt.name in ("json", "xml"):
        response.charset = "utf-8"
    # Job parameters and a script's file end up in it: nothing of it may run here.
    response.headers.update(FILE_HEADERS)
    response.vary = ("Accept",)
    return response


@view_config(route_name="job_provenance", request_method=("GET", "HEAD"), permission=READ)
def job_provenance(request: Request) -> Response:
    job: Job = request.context.job
    fmt = response_format(request, "format")
    builder = provenance(request)
    builder.check(job)
    return document_response(builder.document([job]), fmt)


@view_config(route_name="provenance", request_method=("GET", "HEAD"))
def provenance_query(request: Request) -> Response:
    """ID (a job or a result), DEPTH (0 to chain.MAX_DEPTH, or ALL; 1 by default),
    DIRECTION (BACK, the default, or FORWARD), RESPONSEFORMAT."""
    require_login(request)
    builder = provenance(request)
    given = query_value(request, "ID")
    if given is None or not given.strip():
        raise BadRequest("ID is required: the id or URL of a job or of a result")
    start = chain.parse_id(given, builder.service)
    depth = chain.parse_depth(query_value(request, "DEPTH"))
    direction = chain.parse_direction(query_value(request, "DIRECTION"))
    fmt = response_format(request, "RESPONSEFORMAT")
    start_job = job = _start_job(request, start)
    builder.check(job)

    def readable(candidate: Job) -> bool:
        return (
            candidate.phase in FINAL
            and may_read(request, candidate)
            and enabled(builder.description(candidate))
        )

    def back(job: Job, _: str | None) -> Iterator[Job]:
        for job_id, _result in chain.inputs(job, builder.service):
            try:
                producer = request.jobs.storage.get(job_id)
            except NotFound:
                continue  # deleted since: the entity stays, as the URL the job was given
            if readable(producer):
                yield producer

    users: dict[str, list[Job]] = {}  # producer id -> the jobs that used its results

    def forward(job: Job, result_id: str | None) -> Iterator[Job]:
        if not users:
            users.update(_users_after(request, start_job, builder.service))
        for user in users.get(job.job_id, ()):
            if chain.uses(user, job, result_id, builder.service) and readable(user):
                yield user

    jobs = chain.walk(job, depth, back if direction == chain.BACK else forward, start.result_id)
    return document_response(builder.document(jobs), fmt)


def _users_after(request: Request, first: Job, service: Service) -> dict[str, list[Job]]:
    """The caller's jobs created since ``first`` (a job can only name a result of a job made
    before it), at most FORWARD_SCAN of them, by the jobs whose results they used."""
    query = JobQuery(after=first.creation_time - timedelta(milliseconds=1), **visible_jobs(request))
    found: dict[str, list[Job]] = {"": []}  # never empty: read once
    for ref in request.jobs.storage.list(query)[:FORWARD_SCAN]:
        try:
            user: Job = request.jobs.storage.get(ref.job_id)
        except NotFound:
            continue  # deleted meanwhile
        for producer in {job_id for job_id, _ in chain.inputs(user, service)}:
            found.setdefault(producer, []).append(user)
    return found


def _start_job(request: Request, start: chain.Start) -> Job:
    job: Job = request.jobs.storage.get(start.job_id)
    if start.job_type is not None and job.job_type != start.job_type:
        raise NotFound(f"no job {start.job_id!r} of type {start.job_type!r}")
    if not may_read(request, job):  # as the job's own URL answers (web/errors.forbidden)
        if request.identity is None:
            raise Unauthorized("log in to do this")
        raise Forbidden(f"job {job.job_id} belongs to another user")
    if start.result_id is not None and job.result(start.result_id) is None:
        raise NotFound(f"job {job.job_id} has no result {start.result_id!r}")
    return job
