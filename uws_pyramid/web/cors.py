"""Cross-origin use of the REST API by web applications of the origins in ``uws.cors.origins``."""

from __future__ import annotations

from collections.abc import Callable

from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.tweens import EXCVIEW

Handler = Callable[[Request], Response]

METHODS = "GET, HEAD, POST, PUT, DELETE"
#: What a UWS client's code sends; cookies are never among them (no Allow-Credentials).
HEADERS = "Authorization, Content-Type, Accept, X-Requested-With"
#: Read by UWS clients: where a new job is, when to retry, what the challenge is.
EXPOSED = "Location, Retry-After, WWW-Authenticate, ETag, Content-Disposition"


def allowed_origin(request: Request) -> str | None:
    """The value of Access-Control-Allow-Origin for this request, or None."""
    origin = request.headers.get("Origin")
    origins: frozenset[str] = request.registry.uws_settings.cors_origins
    if origin is None or not origins:
        return None
    if "*" in origins:
        return "*"
    return origin if origin.rstrip("/") in origins else None


def cors_tween(handler: Handler, registry: Registry) -> Handler:
    """Answer preflights, and let allowed origins read every answer (errors included).
    Credentials are never allowed: a browser sends no cookie to another origin's API on
    their behalf, so the session cookie and CSRF rules stay as they are."""

    def cors(request: Request) -> Response:
        origin = allowed_origin(request)
        if origin is None:
            return handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response = Response(status=204)
            response.headers.update(
                {
                    "Access-Control-Allow-Methods": METHODS,
                    "Access-Control-Allow-Headers": HEADERS,
                    "Access-Control-Max-Age": "600",
                }
            )
        else:
            response = handler(request)
            response.headers["Access-Control-Expose-Headers"] = EXPOSED
        response.headers["Access-Control-Allow-Origin"] = origin
        response.vary = tuple({*(response.vary or ()), "Origin"})
        return response

    return cors


def includeme(config: Configurator) -> None:
    if config.registry.uws_settings.cors_origins:
        config.add_tween(f"{__name__}.cors_tween", over=EXCVIEW)
