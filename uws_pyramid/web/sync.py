"""DALI synchronous execution: ``/sync/<type>`` creates a job, runs it and waits for it.

The answer is a 303 to the job's primary result, not the result's body: the result is then
served by the one view that serves files (checked opening, ETag, ranges, the sandbox headers),
the request's thread is free while a large result downloads, and the client can come back to
the job (its other results, its provenance). Clients of DALI services follow the redirect
(``curl -L``, pyvo, astropy). When the job has not ended within ``uws.sync.timeout``, or
every waiting slot (``uws.wait.max_waiters``) is taken, the answer is a 303 to the job itself,
which goes on: nothing is lost. A job that ends in ERROR (or ABORTED) answers with its error
document (``{job}/error``) and status 500, or 503 for a transient error (DALI: 4xx for what the
client sent, checked before the job is created; 5xx for the execution's failure).
"""

from __future__ import annotations

from pyramid.csrf import check_csrf_token
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ..errors import Forbidden, NotFound
from ..jobs import Job, Phase, Result
from .requests import submission
from .resources import CREATE
from .security import owner_of_new_jobs, via_session
from .views import job_url, see_job

#: The results a script's streams give, offered last.
STREAMS = ("stdout", "stderr")


@view_config(route_name="sync", request_method=("GET", "POST"), permission=CREATE)
def sync(request: Request) -> Response:
    if request.method == "HEAD":  # Pyramid lets HEAD in with GET: it must not create a job
        return Response(
            status=405,
            body=b"HEAD is not allowed on /sync: it would run a job\n",
            content_type="text/plain",
            charset="utf-8",
            headers={"Allow": "GET, POST"},
        )
    if (
        request.method == "GET"
        and via_session(request)
        and not check_csrf_token(request, raises=False)
    ):
        # A link on another site opens with the session cookie: a GET that creates a job
        # needs the browser client's token (POSTs are checked for every view).
        raise Forbidden("a GET of /sync with the session cookie needs the X-CSRF-Token header")
    sub = submission(request)
    sub.control.setdefault("PHASE", "RUN")  # create() refuses any other PHASE
    jobs = request.jobs
    job = jobs.create(request.matchdict["jobtype"], sub, owner_id=owner_of_new_jobs(request))
    job = jobs.wait_final(job, request.registry.uws_settings.sync_timeout)
    if job.phase == Phase.COMPLETED:
        result = primary_result(request, job)
        if result is None:
            return see_job(request, job)
        location = request.route_url(
            "job_result", jobtype=job.job_type, job_id=job.job_id, result_id=result.id
        )
        return HTTPSeeOther(location=location)
    if job.phase in (Phase.ERROR, Phase.ABORTED):
        return error_response(request, job)
    return see_job(request, job)  # still running: the client follows the job


def primary_result(request: Request, job: Job) -> Result | None:
    """The first result the job type declares that the job made; else its first other
    result; else stdout."""
    try:
        declared = [r.id for r in request.jobs.descriptions.get(job.job_type).results]
    except NotFound:
        declared = []
    ranked = sorted(
        job.results,
        key=lambda r: (
            r.id not in declared,
            declared.index(r.id) if r.id in declared else 0,
            r.id in STREAMS,
            STREAMS.index(r.id) if r.id in STREAMS else 0,
        ),
    )
    return ranked[0] if ranked else None


def error_response(request: Request, job: Job) -> Response:
    """The job's error document, as ``{job}/error`` serves it."""
    try:
        message = request.jobs.error_text(job)
    except NotFound:  # aborted without a reason
        message = f"job {job.job_id} was {job.phase}"
    transient = job.error is not None and job.error.type == "transient"
    response = Response(
        status=503 if transient else 500,
        body=(message.rstrip("\n") + "\n").encode("utf-8"),
        content_type="text/plain",
        charset="utf-8",
    )
    response.headers["Content-Location"] = f"{job_url(request, job)}/error"
    return response
