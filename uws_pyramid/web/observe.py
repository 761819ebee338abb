"""What operators see of requests: a tween that counts and logs each one (with its request
id), and the /metrics view for Prometheus."""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED as PUBLIC
from pyramid.tweens import INGRESS
from pyramid.view import view_config

from .. import logs, metrics
from ..errors import Forbidden, ServiceUnavailable
from .security import IDENTITY_KEY, Identity, from_networks

#: A caller's own request id is echoed if it is this tame (it goes into log lines).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}\Z")
#: Paths that WebOb's quoting leaves as they are (its safe characters, ASCII letters and digits).
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~/!$&'()*+,;=:@-]*\Z")
#: Routes whose last path segment is a job id.
_JOB_ROUTES = frozenset({"job", "job_property", "job_parameter", "job_result", "job_event"})
_error_counter: metrics.ErrorCounter | None = None


#: Request ids made here: a random prefix of 48 bits per process (processes of a deployment,
#: restarts and forked children each draw their own) and a count. Unique, not secrets: an id
#: only ties a response to its log lines, and guessing one gains nothing. The count's next()
#: is atomic under the GIL; prefix + str(count) costs 1.5k instructions (hex: 2.2k).
_prefix = secrets.token_hex(6) + "-"
_count = itertools.count(1)


def _renew_prefix() -> None:
    global _prefix
    _prefix = secrets.token_hex(6) + "-"


os.register_at_fork(after_in_child=_renew_prefix)


def _path(request: Request, environ: dict[str, Any]) -> str:
    """``request.path`` (quoted): the raw path when quoting would not change it (WebOb's
    quoting costs a tenth of a get-job request)."""
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return path if _UNQUOTED.match(path) else str(request.path)


def _job_id(request: Request, route: str, status: int, response: Response | None) -> str | None:
    if route in _JOB_ROUTES and request.matchdict:
        found = request.matchdict.get("job_id")
        return str(found) if found else None
    if route == "jobs" and response is not None and status == 303:
        # A job was created: the redirect names it.
        return (response.location or "").rstrip("/").rsplit("/", 1)[-1] or None
    return None


def tween(handler: Callable[[Request], Response], registry: Registry) -> Callable[..., Response]:
    """Time, count and log every request (outermost: the status is the one sent). On every
    request's path: each step here is the cheapest form of itself (bench/bench_metrics.py)."""
    # Looked up once, not at each request.
    observe_request, access, perf_counter = metrics.observe_request, logs.ACCESS, time.perf_counter
    tame = _REQUEST_ID.match

    def observe(request: Request) -> Response:
        started = perf_counter()
        environ = request.environ
        rid = environ.get("HTTP_X_REQUEST_ID")
        if not (rid and tame(rid)):
            rid = _prefix + str(next(_count))  # the module's: a forked child renews it
        response: Response | None = None
        try:
            response = handler(request)
            # Appended, not set through WebOb's case-insensitive headers view (3 times the
            # cost): no view of ours sets this header.
            response.headerlist.append(("X-Request-ID", rid))
            return response
        finally:
            seconds = perf_counter() - started
            # The status line ("200 OK"): the histogram reads its code at scrape time
            # (status_code parses the line: a fifth of this tween's cost).
            status = response.status if response is not None else "500 Internal Server Error"
            matched = request.matched_route
            route = matched.name if matched is not None else "unmatched"
            observe_request(route, environ["REQUEST_METHOD"], status, seconds)
            # An outage's 503 (or an error past the exception views): only then the cause.
            if status[0] == "5" and isinstance(
                getattr(request, "exception", None), ServiceUnavailable
            ):
                metrics.ERRORS.labels("storage").inc()
            if access.isEnabledFor(logging.INFO):
                identity = environ.get(IDENTITY_KEY)
                code = int(status.partition(" ")[0])
                logs.request_line(
                    {
                        "method": environ["REQUEST_METHOD"],
                        "route": route,
                        "path": _path(request, environ),
                        "status": code,
                        # Rounded to 10 us (round() costs three times as much).
                        "duration_ms": int(seconds * 100000 + 0.5) / 100,
                        "user": identity.name if isinstance(identity, Identity) else None,
                        "job_id": _job_id(request, route, code, response),
                        "request_id": rid,
                        "client": environ.get("REMOTE_ADDR"),
                    }
                )

    return observe


@view_config(route_name="metrics", request_method=("GET", "HEAD"), permission=PUBLIC)
def metrics_view(request: Request) -> Response:
    """The Prometheus text: to the networks of ``uws.metrics.allow`` and administrators."""
    allowed = request.registry.uws_settings.metrics_allow
    if not (allowed and from_networks(request, allowed)):
        identity = request.identity  # 401 for wrong credentials
        if not (isinstance(identity, Identity) and identity.admin):
            raise Forbidden("metrics are served to administrators and uws.metrics.allow networks")
    body, content_type = metrics.scrape(request.registry.uws_job_counts)
    response = Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


def _count_errors(runtime: Any) -> None:
    """Count what the storage's and the manager's code log at ERROR (one handler per process)."""
    global _error_counter
    components = {
        "uws_pyramid.sql": "storage",
        type(runtime.storage).__module__.split(".")[0]: "storage",
        type(runtime.manager).__module__.split(".")[0]: "manager",
    }
    components.pop("uws_pyramid", None)  # a storage or manager of the core counts as above
    if _error_counter is None:
        _error_counter = metrics.ErrorCounter(components)
        logging.getLogger().addHandler(_error_counter)
    else:
        _error_counter.components.update(components)


def includeme(config: Configurator) -> None:
    runtime = config.registry.uws
    runtime.plugins.register(metrics.JobObserver())
    runtime.plugins.register(logs.PhaseLogger())
    runtime.background.on_pass.extend([metrics.background_pass, logs.background_pass])
    _count_errors(runtime)
    config.registry.uws_job_counts = metrics.JobCounts(runtime.storage)
    config.add_tween("uws_pyramid.web.observe.tween", under=INGRESS)
    config.add_route("metrics", "/metrics")
    config.scan(".observe")
