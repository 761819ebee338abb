"""The browser client's login session: POST /login, POST /logout and GET /client/config."""

from __future__ import annotations

import logging
import string
from urllib.parse import quote, urlsplit

from pyramid.config import Configurator
from pyramid.csrf import get_csrf_token
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED as PUBLIC
from pyramid.security import forget, remember

from ..errors import BadRequest, Forbidden
from ..web.security import Identity
from .editor import json_response

log = logging.getLogger(__name__)

LOGIN_PAGE = "uws_pyramid.client:static/login.html"
NO_ACCOUNTS = "this service keeps no accounts: there is nobody to log in as"
REFUSED = "wrong user name or password, or the account is disabled"
#: What stays as it is in a redirect's path: ASCII punctuation a URL may hold (and "%").
_URL_SAFE = "".join(c for c in string.punctuation if c not in '\\"<>^`{|}')


def no_store(response: Response) -> Response:
    """Responses that carry a session or its CSRF token must stay out of every cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


def local_path(target: str) -> str:
    """``target`` if it is a path on this site, else BadRequest: no open redirects."""
    parts = urlsplit(target)
    # "//host" and "/\host" are other sites to browsers; urlsplit drops tabs and newlines
    # that browsers drop too, so control characters are refused before it sees them.
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)
    ):
        raise BadRequest(f"next must be a path on this service, such as /client/, not {target!r}")
    # A Location header is ASCII: other characters (and spaces) go percent-encoded in UTF-8.
    return quote(target, safe=_URL_SAFE)


def refused(message: str) -> Response:
    """401 without a ``WWW-Authenticate`` challenge, which would make the browser open its own
    password dialog over the login form (and then send that password to every page)."""
    response = Response(status=401, content_type="text/plain", charset="utf-8")
    response.text = message + "\n"
    return no_store(response)


def log_in(request: Request) -> Response:
    """Check the form's user name and password; start a session and go to ``next``."""
    authenticator = request.registry.uws.authenticator
    if authenticator is None:
        raise Forbidden(NO_ACCOUNTS)
    target = local_path(request.POST.get("next") or request.route_path("client_home"))
    name = request.POST.get("username", "").strip()
    password = request.POST.get("password", "")
    account = authenticator.check_password(name, password, request.remote_addr)
    if account is None:
        log.info("browser login refused for %r from %s", name[:128], request.remote_addr)
        return refused(REFUSED)
    log.info("%s logged in from %s", account.name, request.remote_addr)
    return no_store(HTTPSeeOther(location=target, headers=remember(request, account.name)))


def log_out(request: Request) -> Response:
    """End the session (Pyramid has checked its CSRF token) and go to the login page. Without
    a session there is nothing to end: the cookie is cleared all the same.

    The account's session epoch moves on: this cookie, replayed, is refused, and so are the
    user's other sessions (in other browsers too), in every server process."""
    identity: Identity | None = request.identity
    authenticator = request.registry.uws.authenticator
    if identity is not None and identity.session is not None and authenticator is not None:
        authenticator.accounts.end_sessions(identity.name)
        log.info("%s logged out", identity.name)
    location = request.static_url(LOGIN_PAGE)
    return no_store(HTTPSeeOther(location=location, headers=forget(request)))


def client_config(request: Request) -> Response:
    """What the browser client may offer this caller, and their session's CSRF token."""
    identity: Identity | None = request.identity
    settings = request.registry.uws_settings
    admin = identity is not None and identity.admin
    has_session = identity is not None and identity.session is not None
    accounts = request.registry.uws.authenticator is not None
    return no_store(
        json_response(
            {
                "user": identity.name if identity is not None else None,
                "admin": admin,
                "anonymous": settings.anonymous,
                "editor": settings.editor and admin,
                "csrf_token": get_csrf_token(request),
                # null: the service keeps no accounts, or there is no session to end (HTTP Basic,
                # a proxy's header): the pages then offer no "Log in" or no "Log out".
                "login": request.static_path(LOGIN_PAGE) if accounts else None,
                "logout": request.route_path("logout") if has_session else None,
            }
        )
    )


def includeme(config: Configurator) -> None:
    config.add_route("login", "/login")
    # No CSRF token here: the caller has no session yet. A login forged by another site
    # (logging the victim in as the attacker) is stopped by the Origin check of every write.
    config.add_view(
        log_in, route_name="login", request_method="POST", permission=PUBLIC, require_csrf=False
    )
    config.add_route("logout", "/logout")
    config.add_view(log_out, route_name="logout", request_method="POST", permission=PUBLIC)
    config.add_route("client_config", "/client/config")
    config.add_view(
        client_config,
        route_name="client_config",
        request_method=("GET", "HEAD"),
        permission=PUBLIC,
    )
