"""Request size limit: a body larger than ``uws.limits.body`` is refused before it is read."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.tweens import EXCVIEW

from ..errors import PayloadTooLarge

log = logging.getLogger(__name__)

Handler = Callable[[Request], Response]


def body_limit_tween(handler: Handler, registry: Registry) -> Handler:
    """Refuse (413) a request that announces a body larger than the limit.

    Under the exception view tween, so the PayloadTooLarge is rendered like every other
    UWSError. Only the announced length is checked: waitress reads a chunked body whole
    and sets CONTENT_LENGTH before the application sees it (and caps it itself)."""
    limit: int = registry.uws_settings.limit_body

    def check(request: Request) -> Response:
        # Most requests (GETs) announce no body: no parsing of the header then.
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
