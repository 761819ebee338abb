"""Every error response is rendered here: UWSError, Pyramid's HTTP errors, and real faults."""
from __future__ import annotations

import logging
import traceback
import uuid

from pyramid.httpexceptions import HTTPException
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import exception_view_config, notfound_view_config

from ..errors import UWSError

log = logging.getLogger(__name__)


def _text(status: int, message: str) -> Response:
    return Response(
        status=status,
        body=(message.rstrip("\n") + "\n").encode("utf-8"),
        content_type="text/plain",
        charset="utf-8",
    )


@exception_view_config(UWSError)
def uws_error(exc: UWSError, request: Request) -> Response:
    return _text(exc.status, exc.message)


@notfound_view_config()
def not_found(request: Request) -> Response:
    return _text(404, f"not found: {request.path}")


@exception_view_config(HTTPException)
def http_error(exc: HTTPException, request: Request) -> Response:
    if exc.code is not None and exc.code < 400:
        return exc  # type: ignore[return-value]
    return _text(exc.code or 500, exc.explanation or exc.title)


@exception_view_config(Exception)
def fault(exc: Exception, request: Request) -> Response:
    incident = uuid.uuid4().hex[:12]
    log.exception("incident %s: %s %s", incident, request.method, request.path_qs)
    message = f"internal server error (incident {incident}; the operators have it in the log)"
    if request.registry.uws_settings.debug:
        message += "\n\n" + traceback.format_exc()
    return _text(500, message)
