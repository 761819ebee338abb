"""Who is calling (HTTP Basic, API tokens, a trusted proxy, the client's session cookie) and
which ACL principals they hold: the application's one Pyramid security policy."""

from __future__ import annotations

import base64
import hmac
import ipaddress
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.config import Configurator
from pyramid.interfaces import ICSRFStoragePolicy
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.tweens import MAIN
from webob.cookies import make_cookie
from zope.interface import implementer

from ..accounts import ADMIN, NAME
from ..auth import Authenticator, is_token
from ..errors import Forbidden, Unauthorized, UWSError
from ..settings import Network, UWSSettings
from .cors import allowed_origin
from .sessions import COOKIE, Session, SessionCodec

log = logging.getLogger(__name__)

#: The principal of callers without credentials, held only when ``uws.auth.anonymous`` is on.
ANONYMOUS = "uws:anonymous"
#: Methods that change nothing: no CSRF token and no same-origin check for them.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: Where a request's identity is kept once found (Pyramid asks the policy again each time).
IDENTITY_KEY = "uws.identity"
_NOT_YET = object()


class Identity(NamedTuple):
    """An authenticated caller; ``session`` is set when the session cookie said who it is.
    A named tuple: made on every authenticated request, at a third of a frozen dataclass's
    cost."""

    name: str
    roles: frozenset[str] = frozenset()
    session: Session | None = None

    @property
    def admin(self) -> bool:
        return ADMIN in self.roles


class SecurityPolicy:
    """Pyramid security policy: identity from the request, permissions from ACLs."""

    def __init__(
        self, settings: UWSSettings, authenticator: Authenticator | None, codec: SessionCodec
    ) -> None:
        self.settings = settings
        self.authenticator = authenticator
        self.codec = codec
        self.acl = ACLHelper()

    # -- identity ------------------------------------------------------------------------

    def identity(self, request: Request) -> Identity | None:
        """The caller, or None for an anonymous one; Unauthorized for bad credentials (a
        wrong password never falls back to anonymous access), TooManyRequests or
        ServiceUnavailable when the password could not be checked now. Found once per
        request (an error too: it is raised again, never checked twice)."""
        found = request.environ.get(IDENTITY_KEY, _NOT_YET)
        if found is _NOT_YET:
            try:
                found = self._find(request)
            except UWSError as exc:
                found = exc
            request.environ[IDENTITY_KEY] = found
        if isinstance(found, UWSError):
            raise found
        return found  # type: ignore[return-value]

    def _find(self, request: Request) -> Identity | None:
        # The environ itself: WebOb's headers view translates the name on every lookup.
        header = request.environ.get("HTTP_AUTHORIZATION")
        if header is not None and not (self.settings.anonymous and _empty_basic(header)):
            return self._from_authorization(header, request.remote_addr)
        proxied = self._from_proxy(request)
        if proxied is not None:
            return proxied
        cookie = request.cookies.get(COOKIE)
        return self._from_session(cookie) if cookie else None

    def _from_authorization(self, header: str, client: str | None) -> Identity:
        if self.authenticator is None:
            raise Unauthorized("this service keeps no accounts: send no credentials")
        scheme, _, value = header.strip().partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if scheme == "bearer":
            account = self.authenticator.check_token(value, client)
        elif scheme == "basic":
            try:
                user, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
            # binascii.Error, UnicodeDecodeError, and the ValueError of a header beyond ASCII
            # (WSGI's Latin-1), which b64decode refuses before decoding.
            except ValueError:
                sep = ""
            if not sep:
                raise Unauthorized("malformed Basic credentials: expected base64 of user:password")
            # An API token may stand in for the password, whatever the user name says.
            if is_token(secret):
                account = self.authenticator.check_token(secret, client)
            else:
                account = self.authenticator.check_password(user, secret, client)
        else:
            raise Unauthorized(f"unsupported authorization scheme {scheme!r}: use Basic or Bearer")
        if account is None:
            raise Unauthorized("wrong user name, password or token, or the account is disabled")
        return Identity(account.name, account.roles)

    def _from_proxy(self, request: Request) -> Identity | None:
        header = self.settings.proxy_header
        if not header:
            return None
        if header.upper() == "REMOTE_USER":
            name = request.environ.get("REMOTE_USER")
        else:
            name = request.headers.get(header)
        if not name:
            return None
        peer = peer_address(request)
        if not in_networks(peer, self.settings.proxy_networks):
            # Anybody can send the header; only the configured proxies are believed.
            log.warning("ignored %s from %s: not a proxy of uws.auth.proxy_networks", header, peer)
            return None
        if not NAME.match(name):
            raise Unauthorized(f"the proxy's {header} is not a valid user name")
        account = self.authenticator.accounts.get(name) if self.authenticator else None
        if account is not None and account.disabled:
            raise Unauthorized(f"the account {name!r} is disabled")
        return Identity(name, account.roles if account else frozenset())

    def _from_session(self, cookie: str) -> Identity | None:
        session = self.codec.decode(cookie)
        if session is None or self.authenticator is None:
            return None
        account = self.authenticator.accounts.get(session.user)
        if account is None or account.disabled or account.session_epoch != session.epoch:
            return None
        return Identity(account.name, account.roles, session)

    def authenticated_userid(self, request: Request) -> str | None:
        identity = request.identity
        return identity.name if identity is not None else None

    # -- permissions ---------------------------------------------------------------------

    def principals(self, request: Request) -> list[str]:
        identity: Identity | None = request.identity
        if identity is None:
            return [Everyone, ANONYMOUS] if self.settings.anonymous else [Everyone]
        found = [Everyone, Authenticated, "user:" + identity.name]
        if identity.roles:
            found.extend(sorted("role:" + role for role in identity.roles))
        return found

    def permits(self, request: Request, context: Any, permission: str) -> Any:
        return self.acl.permits(context, self.principals(request), permission)

    # -- the browser client's session ----------------------------------------------------

    def remember(self, request: Request, userid: str, **kw: Any) -> list[tuple[str, str]]:
        """Log ``userid`` in: a session cookie (HttpOnly, SameSite, Secure over HTTPS)."""
        assert self.authenticator is not None
        account = self.authenticator.accounts.get(userid)
        if account is None:
            return []
        value = self.codec.encode(self.codec.new(account))
        return [("Set-Cookie", self._cookie(request, value, self.codec.max_age))]

    def forget(self, request: Request, **kw: Any) -> list[tuple[str, str]]:
        return [("Set-Cookie", self._cookie(request, "", 0))]

    @staticmethod
    def _cookie(request: Request, value: str, max_age: int) -> str:
        cookie = make_cookie(
            COOKIE,
            value,
            max_age=max_age,
            path="/",
            secure=request.scheme == "https",
            httponly=True,
            samesite="Lax",
        )
        return cookie.decode("latin-1") if isinstance(cookie, bytes) else str(cookie)


@implementer(ICSRFStoragePolicy)
class SessionCSRF:
    """CSRF tokens derived from the session's nonce: nothing to store on the server."""

    def __init__(self, codec: SessionCodec) -> None:
        self.codec = codec

    def new_csrf_token(self, request: Request) -> str:
        return self.get_csrf_token(request)

    def get_csrf_token(self, request: Request) -> str:
        identity: Identity | None = request.identity
        if identity is None or identity.session is None:
            return ""
        return self.codec.csrf_token(identity.session)

    def check_csrf_token(self, request: Request, supplied_token: str) -> bool:
        expected = self.get_csrf_token(request)
        return bool(expected) and hmac.compare_digest(expected, supplied_token or "")


def _empty_basic(header: str) -> bool:
    """``Basic`` with an empty user and password (``curl -u :``): what some clients, a UWS
    validator among them, send when they mean "no credentials"."""
    scheme, _, value = header.strip().partition(" ")
    return scheme.lower() == "basic" and value.strip() in ("Og==", "Og")


def in_networks(address: str | None, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in networks)


def from_networks(request: Request, networks: tuple[Network, ...]) -> bool:
    """Whether the client's address (``REMOTE_ADDR``) is in one of ``networks``."""
    return in_networks(request.remote_addr, networks)


def peer_address(request: Request) -> str | None:
    """The address of the connection's other end: the proxy, when there is one.

    Behind waitress's ``trusted_proxy``, ``REMOTE_ADDR`` is the client's address taken from
    ``X-Forwarded-For``, so it cannot tell whether the proxy sent a request: the socket's
    peer, kept by waitress's channel (reached through the ``waitress.client_disconnected``
    callable bound to it), can. Other servers leave ``REMOTE_ADDR`` as the peer."""
    channel = getattr(request.environ.get("waitress.client_disconnected"), "__self__", None)
    addr = getattr(channel, "addr", None)
    if isinstance(addr, tuple) and addr and isinstance(addr[0], str):
        return addr[0]
    return request.remote_addr  # type: ignore[no-any-return]


def via_session(request: Request) -> bool:
    """CSRF tokens are required where a cookie authenticates the request: elsewhere the
    credentials are sent by the client's code, which another site cannot make it do."""
    identity: Identity | None = request.identity
    return identity is not None and identity.session is not None


def screen_tween(
    handler: Callable[[Request], Response], registry: Registry
) -> Callable[..., Response]:
    """Before any view: refuse bad credentials (401) and cross-site writes (403). A tween, not
    a NewRequest subscriber: with no subscriber at all Pyramid skips its four notifications
    of every request (6 % of a get's instructions, bench/README.md)."""

    def screened(request: Request) -> Response:
        screen(request)
        return handler(request)

    return screened


def screen(request: Request) -> None:
    request.identity  # noqa: B018  (raises Unauthorized for wrong credentials)
    origin = request.headers.get("Origin")
    if request.method not in SAFE_METHODS and origin is not None:
        if allowed_origin(request) and not via_session(request):
            return  # a web application the operator trusts, sending credentials of its own
        # A browser that cached Basic credentials would send them with another site's form.
        allowed = {request.host_url, request.registry.uws_settings.base_url}
        if origin.rstrip("/") not in {a.rstrip("/") for a in allowed if a}:
            raise Forbidden(f"cross-site request from {origin} refused")


def visible_jobs(request: Request) -> dict[str, Any]:
    """JobQuery filters of the jobs the caller may list: their own (all for admins)."""
    identity: Identity | None = request.identity
    if identity is None:
        return {"anonymous": True}
    return {} if identity.admin else {"owner_id": identity.name}


def owner_of_new_jobs(request: Request) -> str | None:
    identity: Identity | None = request.identity
    return identity.name if identity is not None else None


def includeme(config: Configurator) -> None:
    runtime = config.registry.uws
    codec = SessionCodec(runtime.server_secret, runtime.settings.session_max_age)
    config.set_security_policy(SecurityPolicy(runtime.settings, runtime.authenticator, codec))
    config.set_csrf_storage_policy(SessionCSRF(codec))
    config.set_default_csrf_options(require_csrf=True, callback=via_session)
    config.add_tween(f"{__name__}.screen_tween", over=MAIN)
