"""The framework's floor: the trivial app's answers, routed by Pyramid with no work behind.

Two routes as the service has them: POST /rest/{jobtype} answers 303 to a job, GET
/rest/{jobtype}/{job_id} answers a short body. uws-pyramid's figures are shares of this."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response


def create(request: Request) -> HTTPSeeOther:
    return HTTPSeeOther(location=request.route_url("job", jobtype="echo", job_id="x"))


def get(request: Request) -> Response:
    return Response(body=b"ok", content_type="text/plain")


def make_app() -> Any:
    with Configurator() as config:
        config.add_route("jobs", "/rest/{jobtype}")
        config.add_route("job", "/rest/{jobtype}/{job_id}")
        config.add_view(create, route_name="jobs", request_method="POST")
        config.add_view(get, route_name="job", request_method="GET")
        return config.make_wsgi_app()


app = make_app()
