"""Service-level resources: home page, VOSI capabilities and availability, job descriptions."""

from __future__ import annotations

import html
import json

from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED as PUBLIC
from pyramid.view import view_config

from ..errors import Forbidden
from ..events import verify
from ..jobs import ACTIVE, JobQuery
from .requests import wants_json
from .security import from_networks
from .xml import format_time

STANDARD_ID = "ivo://ivoa.net/std/UWS#rest-1.1"


def _xml(body: str) -> Response:
    return Response(body=body.encode("utf-8"), content_type="application/xml", charset="utf-8")


def _json(value: object) -> Response:
    body = json.dumps(value, ensure_ascii=False).encode("utf-8")
    return Response(body=body, content_type="application/json", charset="utf-8")


@view_config(route_name="home", request_method=("GET", "HEAD"), permission=PUBLIC)
def home(request: Request) -> Response:
    """For people, a page in the browser client's style; for programs asking for JSON, the
    same links as data."""
    descriptions = request.jobs.descriptions
    if wants_json(request):
        return _json(
            {
                "standardID": STANDARD_ID,
                "job_types": [
                    {
                        "name": name,
                        "description": descriptions.get(name).description,
                        "jobs": request.route_url("jobs", jobtype=name),
                        "jdl": request.route_url("jdl", jobtype=name),
                    }
                    for name in descriptions.names()
                ],
                "unavailable": descriptions.broken,
                "client": request.route_url("client_home"),
                "capabilities": request.route_url("capabilities"),
                "availability": request.route_url("availability"),
            }
        )
    rows = []
    for name in descriptions.names():
        jd = descriptions.get(name)
        rows.append(
            "<li><a href='{jobs}'><code>{name}</code></a>: {desc} "
            "(<a href='{jdl}'>description</a>)</li>".format(
                jobs=html.escape(request.route_url("jobs", jobtype=name)),
                name=html.escape(name),
                desc=html.escape(jd.description.strip().splitlines()[0] if jd.description else ""),
                jdl=html.escape(request.route_url("jdl", jobtype=name)),
            )
        )
    broken = "".join(
        f"<li><code>{html.escape(n)}</code>: {html.escape(r)}</li>"
        for n, r in sorted(descriptions.broken.items())
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>UWS service</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{html.escape(request.static_url("uws_pyramid.client:static/style.css"))}">
</head>
<body>
<header><a class="brand" href="{html.escape(request.route_url("client_home"))}">UWS</a></header>
<main id="main">
<h1>UWS 1.1 job service</h1>
<p>This service runs jobs of the types below, following the IVOA
<a href="https://www.ivoa.net/documents/UWS/">Universal Worker Service</a> pattern, version 1.1.
Each job list is at <code>/rest/&lt;job type&gt;</code>; create a job with a POST there,
start it with <code>PHASE=RUN</code>, wait for it with <code>?WAIT=30</code>.</p>
<p><a class="button primary" href="{html.escape(request.route_url("client_home"))}">Open the browser client</a></p>
<h2>Job types</h2>
<ul>{"".join(rows) or "<li>none</li>"}</ul>
{f"<h2>Job types with an invalid description</h2><ul>{broken}</ul>" if broken else ""}
<h2>Service</h2>
<ul>
<li><a href="{html.escape(request.route_url("jdl_list"))}">Job descriptions (JSON)</a></li>
<li><a href="{html.escape(request.route_url("capabilities"))}">VOSI capabilities</a></li>
<li><a href="{html.escape(request.route_url("availability"))}">VOSI availability</a></li>
</ul>
</main>
</body></html>
"""
    return Response(body=page.encode("utf-8"), content_type="text/html", charset="utf-8")


@view_config(route_name="capabilities", request_method=("GET", "HEAD"), permission=PUBLIC)
def capabilities(request: Request) -> Response:
    interfaces = "".join(
        f"""
  <capability standardID="{STANDARD_ID}">
    <interface xsi:type="vs:ParamHTTP" role="std">
      <accessURL use="base">{html.escape(request.route_url("jobs", jobtype=name))}</accessURL>
    </interface>
  </capability>"""
        for name in request.jobs.descriptions.names()
    )
    return _xml(
        f"""<?xml version="1.0"?>
<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1">
  <capability standardID="ivo://ivoa.net/std/VOSI#capabilities">
    <interface xsi:type="vs:ParamHTTP">
      <accessURL use="full">{html.escape(request.route_url("capabilities"))}</accessURL>
    </interface>
  </capability>
  <capability standardID="ivo://ivoa.net/std/VOSI#availability">
    <interface xsi:type="vs:ParamHTTP">
      <accessURL use="full">{html.escape(request.route_url("availability"))}</accessURL>
    </interface>
  </capability>{interfaces}
</vosi:capabilities>
"""
    )


@view_config(route_name="availability", request_method=("GET", "HEAD"), permission=PUBLIC)
def availability(request: Request) -> Response:
    try:
        request.jobs.storage.list(JobQuery(last=1))
        available, note = True, "service is accepting jobs"
    except Exception as exc:  # any storage fault makes the service unavailable
        available, note = False, f"storage unavailable: {type(exc).__name__}"
    return _xml(
        f"""<?xml version="1.0"?>
<vosi:availability xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">
  <vosi:available>{"true" if available else "false"}</vosi:available>
  <vosi:upSince>{format_time(request.registry.uws_started)}</vosi:upSince>
  <vosi:note>{html.escape(note)}</vosi:note>
</vosi:availability>
"""
    )


@view_config(route_name="jdl_list", request_method=("GET", "HEAD"))
def jdl_list(request: Request) -> Response:
    descriptions = request.jobs.descriptions
    return _json(
        {
            "jobTypes": [
                {
                    "name": name,
                    "description": descriptions.get(name).description,
                    "jobs": request.route_url("jobs", jobtype=name),
                    "wadl": request.route_url("jdl", jobtype=name),
                    "json": request.route_url("jdl_json", jobtype=name),
                }
                for name in descriptions.names()
            ],
            "invalid": descriptions.broken,
        }
    )


@view_config(route_name="jdl", request_method=("GET", "HEAD"))
def jdl(request: Request) -> Response:
    name = request.matchdict["jobtype"]
    wanted = request.GET.get("format")
    # 404 with the reason for unknown or broken types, and for unknown formats.
    kind, body = request.jobs.descriptions.document(name, wanted)
    return Response(body=body, content_type=kind.media_type, charset="utf-8")


@view_config(route_name="jdl_json", request_method=("GET", "HEAD"))
def jdl_json(request: Request) -> Response:
    return _json(request.jobs.descriptions.get(request.matchdict["jobtype"]).to_json())


@view_config(route_name="job_event", request_method="POST", permission=PUBLIC)
def job_event(request: Request) -> Response:
    """A signed event from a job's process (see uws_pyramid.events); 204 when taken."""
    job_id = request.matchdict["job_id"]
    runtime = request.registry.uws
    allowed = runtime.settings.events_allow
    if allowed and not from_networks(request, allowed):
        raise Forbidden(f"job events are not accepted from {request.remote_addr}")
    form = request.POST
    event, signature = form.get("event", ""), form.get("signature", "")
    verify(runtime.server_secret, job_id, event, form.get("time", ""), signature)
    if not runtime.replays.first_time(signature):
        raise Forbidden("job event refused: replayed")
    job = runtime.storage.get(job_id)
    if job.phase in ACTIVE:  # events of finished jobs are ignored, not errors
        runtime.manager.event(job, event)
    return Response(status=204)
