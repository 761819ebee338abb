"""The browser client: static pages and the JavaScript UWS library, served under /client/."""

from __future__ import annotations

from collections.abc import Callable

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED as PUBLIC
from pyramid.tweens import INGRESS

from ..web.resources import EDIT
from .editor import get_script, put_description

#: No inline script or style, nothing from other origins; images may be blobs and data URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def client_home(request: Request) -> HTTPFound:
    return HTTPFound(location=request.static_url("uws_pyramid.client:static/index.html"))


def secure_client_responses(
    handler: Callable[[Request], Response], registry: Registry
) -> Callable[..., Response]:
    """Every response under /client/ forbids inline scripts and framing. The outermost
    tween (not a NewResponse subscriber, see web/security.py's screen_tween): it sees every
    response, errors included."""

    def secured(request: Request) -> Response:
        response = handler(request)
        # The raw PATH_INFO: a path that is not UTF-8 (answered 400) must not fail here.
        if request.environ.get("PATH_INFO", "").startswith("/client/"):
            headers = response.headers
            headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            headers["X-Content-Type-Options"] = "nosniff"
            headers["Referrer-Policy"] = "same-origin"
        return response

    return secured


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
    config.add_tween(f"{__name__}.secure_client_responses", under=INGRESS)
