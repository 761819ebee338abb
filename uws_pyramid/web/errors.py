"""Every error response is rendered here: UWSError, Pyramid's HTTP errors, and real faults."""

from __future__ import annotations

import logging
import traceback
import uuid

from pyramid.exceptions import BadCSRFOrigin, BadCSRFToken, PredicateMismatch, URLDecodeError
from pyramid.httpexceptions import HTTPException, HTTPForbidden
from pyramid.interfaces import IRoutesMapper
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config

from ..errors import (
    MethodNotAllowed,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UWSError,
)

log = logging.getLogger(__name__)


def _text(status: int, message: str) -> Response:
    return Response(
        status=status,
        body=(message.rstrip("\n") + "\n").encode("utf-8"),
        content_type="text/plain",
        charset="utf-8",
    )


def _unauthorized(request: Request, message: str) -> Response:
    response = _text(401, message)
    # Not to the browser client's scripts: a challenge would make the browser pop up its own
    # login dialog (and then send the cached password with every form, from any site).
    if request.headers.get("X-Requested-With") != "XMLHttpRequest":
        realm = request.registry.uws_settings.realm
        response.headers["WWW-Authenticate"] = f'Basic realm="{realm}", charset="UTF-8"'
    return response


def allowed_methods(request: Request) -> str:
    """The methods the matched route has views for (the ``Allow`` header of a 405)."""
    route = request.matched_route.name if request.matched_route is not None else None
    known: dict[str | None, str] = request.registry.__dict__.setdefault("uws_allowed", {})
    if route not in known:
        methods: set[str] = set()
        for item in request.registry.introspector.get_category("views"):
            view = item["introspectable"]
            if view["route_name"] == route and view["request_methods"]:
                found = view["request_methods"]
                methods.update([found] if isinstance(found, str) else found)
        if "GET" in methods:
            methods.add("HEAD")
        known[route] = ", ".join(sorted(methods))
    return known[route]


def _not_allowed(request: Request, message: str, allow: str | None = None) -> Response:
    response = _text(405, message)
    response.headers["Allow"] = allow or allowed_methods(request)
    return response


@exception_view_config(UWSError)
def uws_error(exc: UWSError, request: Request) -> Response:
    if isinstance(exc, Unauthorized):
        return _unauthorized(request, exc.message)
    if isinstance(exc, MethodNotAllowed):
        return _not_allowed(request, exc.message, exc.allow)
    response = _text(exc.status, exc.message)
    if isinstance(exc, ServiceUnavailable):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@exception_view_config(PredicateMismatch)
def no_view_for_method(exc: PredicateMismatch, request: Request) -> Response:
    """The path is known but has no view for this request (its method): 405, with ``Allow``."""
    if request.matched_route is None or request.method in allowed_methods(request).split(", "):
        return not_found(request)  # another predicate than the method did not match
    return _not_allowed(request, f"{request.method} is not allowed on {request.path}")


@forbidden_view_config()
def forbidden(exc: HTTPForbidden, request: Request) -> Response:
    """A permission denied by an ACL: 401 to anonymous callers, 403 to the others."""
    if request.identity is None:
        return _unauthorized(request, "log in to do this")
    permission = getattr(exc.result, "permission", "")
    denial = getattr(request.context, "denial", None)
    return _text(403, denial(permission) if denial else f"permission {permission!r} denied")


@exception_view_config(BadCSRFToken)
@exception_view_config(BadCSRFOrigin)
def bad_csrf(exc: HTTPException, request: Request) -> Response:
    return _text(
        403,
        f"{exc.explanation or exc.title} (the browser client's session needs the "
        "X-CSRF-Token header from /client/config on every change)",
    )


@notfound_view_config()
def not_found(request: Request) -> Response:
    stripped = request.path_info.rstrip("/")
    if stripped and stripped != request.path_info and _routed(request, stripped):
        # A client handed an access URL ending in "/" (``/rest/echo/``) means the resource
        # without it: served as that, not refused and not redirected (a POST would be lost
        # by clients that follow a redirect with a GET).
        inner = request.copy()
        inner.path_info = stripped
        try:  # without the tweens (already run for this request), so errors render here
            return request.invoke_subrequest(inner, use_tweens=False)
        except Exception:
            return inner.invoke_exception_view(reraise=True)
    return _text(404, f"not found: {request.path}")


def _routed(request: Request, path: str) -> bool:
    mapper = request.registry.queryUtility(IRoutesMapper)
    return any(route.match(path) is not None for route in mapper.get_routes())


@exception_view_config(HTTPException)
def http_error(exc: HTTPException, request: Request) -> Response:
    if exc.code is not None and exc.code < 400:
        return exc  # type: ignore[return-value]
    return _text(exc.code or 500, exc.explanation or exc.title)


@exception_view_config(Exception)
def fault(exc: Exception, request: Request) -> Response:
    incident = uuid.uuid4().hex[:12]
    # The raw PATH_INFO: decoding it is what may have failed.
    where = request.environ.get("PATH_INFO", "") + "?" + request.environ.get("QUERY_STRING", "")
    log.exception("incident %s: %s %s", incident, request.method, where)
    message = f"internal server error (incident {incident}; the operators have it in the log)"
    if request.registry.uws_settings.debug:
        message += "\n\n" + traceback.format_exc()
    return _text(500, message)


@exception_view_config(TooManyRequests)
def too_many(exc: TooManyRequests, request: Request) -> Response:
    response = _text(exc.status, exc.message)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@exception_view_config(URLDecodeError)
def undecodable_url(exc: URLDecodeError, request: Request) -> Response:
    return _text(400, "the URL's path is not UTF-8 text (percent-encode UTF-8 bytes only)")
