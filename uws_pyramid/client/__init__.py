"""The browser client: static pages and the JavaScript UWS library, served under /client/."""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.events import NewResponse
from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request
from pyramid.security import NO_PERMISSION_REQUIRED as PUBLIC

from ..web.resources import EDIT
from .editor import get_script, put_description

#: No inline script or style, nothing from other origins; images may be blobs and data URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def client_home(request: Request) -> HTTPFound:
    return HTTPFound(location=request.static_url("uws_pyramid.client:static/index.html"))


def secure_client_responses(event: NewResponse) -> None:
    """Every response under /client/ forbids inline scripts and framing."""
    # The raw PATH_INFO: a path that is not UTF-8 (answered 400) must not fail here.
    if event.request.environ.get("PATH_INFO", "").startswith("/client/"):
        headers = event.response.headers
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"


def includeme(config: Configurator) -> None:
    config.add_static_view("client/static", "uws_pyramid.client:static", cache_max_age=3600)
    config.add_route("client_home", "/client/")
    config.add_view(client_home, route_name="client_home", permission=PUBLIC)
    config.include(".login")
    config.include(".history")
    config.add_route("jdl_script", "/jdl/{jobtype}/script")
    config.add_view(
        get_script, route_name="jdl_script", request_method=("GET", "HEAD"), permission=EDIT
    )
    # The "jdl" route (GET: the WADL) belongs to the web package; the editor adds PUT.
    config.add_view(put_description, route_name="jdl", request_method="PUT", permission=EDIT)
    config.add_subscriber(secure_client_responses, NewResponse)
