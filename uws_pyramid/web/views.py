"""The UWS REST resources under /rest/{jobtype}: thin views over JobService."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from typing import Any, BinaryIO

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config, view_defaults
from webob.static import FileIter

from .. import metrics
from ..errors import BadRequest, InvalidValue, MethodNotAllowed, NotFound
from ..jobs import Job
from ..submission import Submission, Upload
from ..timeparse import parse_int
from . import joblists, jsonform, xml, zipstream
from .resources import CHANGE, CREATE, JOB_PREFIX, READ
from .security import owner_of_new_jobs
from .requests import application_url, parse_phase, query_value, submission, wants_json

#: How many jobs the job list shows after a DELETE redirects there (UWS 1.1 section 2.2.2.1).
LAST_AFTER_DELETE = 100


def uws_document(
    request: Request,
    xml_form: Callable[..., bytes],
    json_form: Callable[..., dict[str, Any]],
    *args: Any,
) -> Response:
    """The XML form of a UWS document, or its JSON form when the client prefers JSON."""
    if wants_json(request):
        body = json.dumps(json_form(*args), ensure_ascii=False).encode("utf-8")
        return document_response(body, "application/json; charset=utf-8")
    return document_response(xml_form(*args), "application/xml; charset=utf-8")


def document_response(body: bytes, content_type: str) -> Response:
    """A 200 with ``body``, its headers given whole: WebOb then skips working out the
    Content-Type's charset and the Content-Length (a twentieth of a job GET's calls)."""
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    return Response(headerlist=headers, app_iter=[body])


def text(value: str) -> Response:
    return Response(body=value.encode("utf-8"), content_type="text/plain", charset="utf-8")


def not_allowed(request: Request) -> Response:
    raise MethodNotAllowed(f"{request.method} is not allowed on {request.path}")


def job_url(request: Request, job: Job) -> str:
    """The URL of the ``job`` route for ``job``: what ``route_url`` makes, without its
    generality (a sixth of a job GET's Python calls) when neither segment needs quoting."""
    job_type, job_id = job.job_type, job.job_id
    if xml.url_safe(job_type) and xml.url_safe(job_id):
        return f"{application_url(request)}{JOB_PREFIX}{job_type}/{job_id}"
    return request.route_url("job", jobtype=job_type, job_id=job_id)


def see_job(request: Request, job: Job) -> HTTPSeeOther:
    return HTTPSeeOther(location=job_url(request, job))


LIST_TYPES = {True: "application/json", False: "application/xml"}


def job_list(request: Request, job_type: str | None, url: str, by_type: bool) -> Response:
    """A job list, with the extensions of joblists.py; a whole list is streamed."""
    query = joblists.job_list_query(request, job_type)
    json = wants_json(request)
    write = jsonform.job_list_json_parts if json else xml.job_list_xml_parts
    if joblists.streamed(request, query):
        response = Response(content_type=LIST_TYPES[json], charset="utf-8")
        response.app_iter = write(request.jobs.batches(query, joblists.BATCH), url, by_type)
        return joblists.decorate(request, response, query, None, json)
    refs, held = joblists.list_jobs(request, query, json)
    if held:
        response = Response(status=304)
    else:
        body = b"".join(write([refs], url, by_type))
        response = Response(body=body, content_type=LIST_TYPES[json], charset="utf-8")
    return joblists.decorate(request, response, query, refs, json)


@view_defaults(route_name="jobs")
class JobListView:
    def __init__(self, request: Request) -> None:
        self.request = request
        self.job_type = request.matchdict["jobtype"]

    @view_config(request_method=("GET", "HEAD"))
    def get(self) -> Response:
        url = self.request.route_url("jobs", jobtype=self.job_type)
        return job_list(self.request, self.job_type, url, False)

    @view_config(request_method="POST", permission=CREATE)
    def create(self) -> Response:
        owner = owner_of_new_jobs(self.request)
        job = self.request.jobs.create(self.job_type, submission(self.request), owner_id=owner)
        # A plain 303, no body: HTTPSeeOther renders one from a template (40 us a create).
        return Response(status=303, location=job_url(self.request, job))

    @view_config()
    def other(self) -> Response:
        return not_allowed(self.request)


@view_config(route_name="all_jobs", request_method=("GET", "HEAD"))
def all_jobs(request: Request) -> Response:
    """Every job of every type, as one job list (for the browser client and operators)."""
    return job_list(request, None, request.route_url("all_jobs"), True)


class JobResource:
    """Base of the views of one job (the JobContext found it, or answered 404)."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.job: Job = request.context.job

    @property
    def url(self) -> str:
        return job_url(self.request, self.job)


@view_defaults(route_name="job", permission=READ)
class JobView(JobResource):
    @view_config(request_method=("GET", "HEAD"))
    def get(self) -> Response:
        job = self.job
        wait = query_value(self.request, "WAIT")
        if wait is not None:
            timeout = parse_int("WAIT", wait, -1, "an integer number of seconds, or -1")
            phase = query_value(self.request, "PHASE")
            expected = parse_phase("PHASE", phase) if phase is not None else None
            most = self.request.registry.uws_settings.wait_max
            job = metrics.timed_wait(
                lambda: self.request.jobs.wait(job, timeout, expected), job, timeout, expected, most
            )
        uploads = self.request.jobs.uploads(job)
        return uws_document(self.request, xml.job_xml, jsonform.job_json, job, self.url, uploads)

    @view_config(request_method="POST", permission=CHANGE)
    def post(self) -> HTTPSeeOther:
        job = self.request.jobs.modify(self.job, submission(self.request))
        if job is None:
            return self._see_list()
        return see_job(self.request, job)

    @view_config(request_method="DELETE", permission=CHANGE)
    def delete(self) -> HTTPSeeOther:
        self.request.jobs.delete(self.job)
        return self._see_list()

    def _see_list(self) -> HTTPSeeOther:
        url = self.request.route_url(
            "jobs", jobtype=self.job.job_type, _query={"LAST": LAST_AFTER_DELETE}
        )
        return HTTPSeeOther(location=url)

    @view_config()
    def other(self) -> Response:
        return not_allowed(self.request)


#: Job properties served as text/plain, by lower-case resource name (UWS 1.1 section 2.2).
PROPERTIES: dict[str, Callable[[Job], str]] = {
    "phase": lambda job: str(job.phase),
    "executionduration": lambda job: str(job.execution_duration),
    "destruction": lambda job: xml.format_time(job.destruction) if job.destruction else "",
    "quote": lambda job: xml.format_time(job.quote) if job.quote else "",
    "owner": lambda job: job.owner_id or "",
    "runid": lambda job: job.run_id or "",
}
#: What a POST to a property resource sets (the name of the control parameter it carries).
POSTABLE = {
    "phase": "PHASE",
    "executionduration": "EXECUTIONDURATION",
    "destruction": "DESTRUCTION",
}


@view_defaults(route_name="job_property", permission=READ)
class JobPropertyView(JobResource):
    @property
    def prop(self) -> str:
        return self.request.matchdict["prop"].lower()

    @view_config(request_method=("GET", "HEAD"))
    def get(self) -> Response:
        prop = self.prop
        if prop == "parameters":
            uploads = self.request.jobs.uploads(self.job)
            return uws_document(
                self.request,
                xml.parameters_xml,
                jsonform.parameters_json,
                self.job,
                self.url,
                uploads,
            )
        if prop == "results":
            return uws_document(
                self.request, xml.results_xml, jsonform.results_json, self.job, self.url
            )
        if prop == "error":
            return text(self.request.jobs.error_text(self.job))
        if prop in PROPERTIES:
            return text(PROPERTIES[prop](self.job))
        raise NotFound(f"no resource {self.request.matchdict['prop']!r} in a job")

    @view_config(request_method="POST", permission=CHANGE)
    def post(self) -> HTTPSeeOther:
        prop = self.prop
        if prop == "parameters":
            return self._post_parameters()
        if prop not in POSTABLE:
            if prop in PROPERTIES or prop in ("results", "error"):
                # Read-only (UWS 1.1 section 2.1.10): not the route's POST in Allow.
                raise MethodNotAllowed(f"POST is not allowed on {self.request.path}", "GET, HEAD")
            raise NotFound(f"no resource {self.request.matchdict['prop']!r} in a job")
        sub = submission(self.request)
        name = POSTABLE[prop]
        if name not in sub.control:
            raise BadRequest(f"{name} is required when posting to /{prop}")
        if set(sub.control) != {name} or sub.touches_parameters:
            raise BadRequest(f"only {name} may be posted to /{prop}")
        job = self.request.jobs.modify(self.job, sub)
        assert job is not None  # only ACTION=DELETE deletes
        return see_job(self.request, job)

    def _post_parameters(self) -> HTTPSeeOther:
        """Name=value pairs (and files) for a PENDING job (UWS 1.1 section 2.1.11)."""
        sub = submission(self.request)
        if sub.control:
            names = ", ".join(sorted(sub.control))
            raise BadRequest(f"only job parameters may be posted to /parameters, not {names}")
        if not sub.touches_parameters:
            raise BadRequest("no parameter given: post name=value pairs to /parameters")
        job = self.request.jobs.modify(self.job, sub)
        assert job is not None
        return see_job(self.request, job)

    @view_config()
    def other(self) -> Response:
        writable = self.prop in POSTABLE or self.prop == "parameters"
        allow = "GET, HEAD, POST" if writable else "GET, HEAD"
        raise MethodNotAllowed(
            f"{self.request.method} is not allowed on {self.request.path}", allow
        )


@view_config(route_name="job_parameter", request_method=("GET", "HEAD"), permission=READ)
def job_parameter(request: Request) -> Response:
    job = request.context.job
    name = request.matchdict["name"]
    matches = [k for k in job.parameters if k.lower() == name.lower()]
    if not matches:
        raise NotFound(f"job {job.job_id} has no parameter {name!r}")
    value = job.parameters[matches[0]]
    if matches[0] in request.jobs.uploads(job):
        try:
            stream, st = request.jobs.open_file(job, value, f"parameter {matches[0]}")
        except NotFound:
            return text(value)
        response = _file_response(request, stream, st, "application/octet-stream")
        # The file's name as it was stored (letters, digits, "._-" only: safe in a header).
        response.content_disposition = f'inline; filename="{value.rsplit("/", 1)[-1]}"'
        return response
    return text(value)


@view_config(route_name="job_parameter", request_method="PUT", permission=CHANGE)
def put_job_parameter(request: Request) -> HTTPSeeOther:
    """The request body is the new value of one parameter of a PENDING job (UWS 1.1 section
    2.1.11); for a file parameter, the file's content."""
    job = request.context.job
    name = request.matchdict["name"]
    if name.lower() in {n.lower() for n in request.jobs.uploads(job)}:
        sub = Submission(uploads=[Upload(name, name, request.body_file_seekable)])
    else:
        try:
            value = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidValue(name, "text in UTF-8 as the request body") from None
        sub = Submission(parameters={name: value})
    done = request.jobs.modify(job, sub)
    assert done is not None
    return see_job(request, done)


@view_config(route_name="job_result", request_method=("GET", "HEAD"), permission=READ)
def job_result(request: Request) -> Response:
    job = request.context.job
    result, stream, st = request.jobs.open_result(job, request.matchdict["result_id"])
    response = _file_response(request, stream, st, result.mime_type or "application/octet-stream")
    if result.digest is not None and result.size == st.st_size:
        # Computed when the job ended (the file cannot change after, unless someone edits
        # it on the server: then its size tells, and the file's own ETag is kept).
        response.etag = (result.digest, True)
        encoded = base64.b64encode(bytes.fromhex(result.digest)).decode("ascii")
        response.headers["Digest"] = f"sha-256={encoded}"
        response.headers["Repr-Digest"] = f"sha-256=:{encoded}:"
    return response


@view_config(route_name="job_results_zip", request_method=("GET", "HEAD"), permission=READ)
def job_results_zip(request: Request) -> Response:
    """Every result of the job in one zip, written while it is sent (``zipstream``)."""
    job = request.context.job
    response = Response(content_type="application/zip")
    response.app_iter = zipstream.results_zip(request.jobs, job)
    response.content_disposition = f'attachment; filename="{job.job_id}_results.zip"'
    response.headers.update(FILE_HEADERS)
    return response


#: Files a job wrote or a user sent are served from the service's own origin: whatever they
#: hold (HTML, SVG with scripts), the browser runs nothing of them there, so they cannot act
#: with a logged-in user's session.
FILE_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}


def _file_response(
    request: Request, stream: BinaryIO, st: os.stat_result, mime_type: str
) -> Response:
    """Serve a file the service opened (``jobfiles``): never reopened by its path, which a
    job could have changed into a link since."""
    wrapper = request.environ.get("wsgi.file_wrapper")
    response = Response(content_type=mime_type, conditional_response=True)
    response.app_iter = wrapper(stream, 1 << 16) if wrapper is not None else FileIter(stream)
    response.content_length = st.st_size
    response.last_modified = st.st_mtime
    response.headers.update(FILE_HEADERS)
    response.etag = f"{st.st_mtime_ns:x}-{st.st_size:x}"
    response.headers["Accept-Ranges"] = "bytes"
    return response


@view_config(route_name="job_parameter", permission=READ)
@view_config(route_name="job_result", permission=READ)
@view_config(route_name="job_results_zip", permission=READ)
@view_config(route_name="all_jobs")
def read_only(request: Request) -> Response:
    return not_allowed(request)
