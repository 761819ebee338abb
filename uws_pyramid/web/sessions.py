"""The browser client's login session: a signed, expiring cookie, and its CSRF token."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from ..accounts import Account

COOKIE = "uws_session"


@dataclass(frozen=True)
class Session:
    """What the cookie says: who logged in, until when, and a random nonce (the CSRF seed)."""

    user: str
    nonce: str
    expires: int
    fingerprint: str  # of the password hash at login: a new password ends every session


def fingerprint(account: Account) -> str:
    return hashlib.sha256((account.password_hash or "").encode()).hexdigest()[:16]


class SessionCodec:
    """Signs and reads session cookies with a key derived from the server's secret."""

    def __init__(self, server_secret: bytes, max_age: int) -> None:
        self._key = hmac.new(server_secret, b"uws-session", hashlib.sha256).digest()
        self.max_age = max_age

    def new(self, account: Account) -> Session:
        expires = int(time.time()) + self.max_age
        return Session(account.name, secrets.token_hex(16), expires, fingerprint(account))

    def encode(self, session: Session) -> str:
        payload = base64.urlsafe_b64encode(
            json.dumps([session.user, session.nonce, session.expires, session.fingerprint]).encode()
        ).decode()
        return f"{payload}.{self._sign(payload)}"

    def decode(self, value: str) -> Session | None:
        """The session of a well-signed, unexpired cookie, else None."""
        payload, _, signature = value.partition(".")
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            user, nonce, expires, print_ = json.loads(base64.urlsafe_b64decode(payload))
        except (ValueError, TypeError):
            return None
        if not isinstance(expires, int) or expires < time.time():
            return None
        return Session(str(user), str(nonce), expires, str(print_))

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._key, b"csrf:" + session.nonce.encode(), hashlib.sha256).hexdigest()

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
