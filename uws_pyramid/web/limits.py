"""Request limits: a body larger than ``uws.limits.body`` is refused before it is read, and
conditional dates beyond what Python's datetime holds are ignored."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.tweens import EXCVIEW
from webob.datetime_utils import parse_date

from ..errors import PayloadTooLarge

log = logging.getLogger(__name__)

Handler = Callable[[Request], Response]

#: Date headers WebOb reads when the response answers a conditional request: that happens
#: after every tween and view, so its ValueError (year 10000) would be waitress's bare 500.
DATE_HEADERS = ("HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE", "HTTP_IF_RANGE")


def drop_unreadable_dates(environ: dict[str, object]) -> None:
    """Remove a conditional date header Python cannot hold: RFC 9110 13.1.3 has a recipient
    ignore an invalid date (as WebOb itself ignores one it cannot parse at all). Such an
    If-Range matches nothing, so its Range goes too: the whole file is sent (13.1.5)."""
    for key in DATE_HEADERS:
        value = environ.get(key)
        if not isinstance(value, str) or value.startswith(('"', "W/")):
            continue  # absent, or an If-Range ETag
        try:
            parse_date(value)
        except (ValueError, OverflowError):
            del environ[key]
            if key == "HTTP_IF_RANGE":
                environ.pop("HTTP_RANGE", None)


def body_limit_tween(handler: Handler, registry: Registry) -> Handler:
    """Refuse (413) a request that announces a body larger than the limit, and ignore
    unreadable conditional dates (``drop_unreadable_dates``).

    Under the exception view tween, so the PayloadTooLarge is rendered like every other
    UWSError. Only the announced length is checked: waitress reads a chunked body whole
    and sets CONTENT_LENGTH before the application sees it (and caps it itself)."""
    limit: int = registry.uws_settings.limit_body

    def check(request: Request) -> Response:
        # Most requests (GETs) announce no body: no parsing of the header then.
        drop_unreadable_dates(request.environ)
        length = request.content_length if request.environ.get("CONTENT_LENGTH") else None
        if length is not None and length > limit:
            raise PayloadTooLarge(
                f"the request body has {length} bytes; at most {limit} are accepted "
                f"(uws.limits.body)"
            )
        return handler(request)

    return check


def includeme(config: Configurator) -> None:
    config.add_tween(f"{__name__}.body_limit_tween", under=EXCVIEW)
