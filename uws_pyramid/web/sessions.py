"""The browser client's login session: a signed, expiring cookie, and its CSRF token.

The cookie is signed, not stored: it is ended on the server by its account's session epoch
(``Account.session_epoch``), which logout, a new password, new roles or disabling bump."""

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
    """What the cookie says: who logged in, until when, a random nonce (the CSRF seed) and
    the account's session epoch at login (the session ends when the account's moves on)."""

    user: str
    nonce: str
    expires: int
    epoch: int


class SessionCodec:
    """Signs and reads session cookies with a key derived from the server's secret."""

    def __init__(self, server_secret: bytes, max_age: int) -> None:
        self._key = hmac.new(server_secret, b"uws-session", hashlib.sha256).digest()
        self.max_age = max_age

    def new(self, account: Account) -> Session:
        expires = int(time.time()) + self.max_age
        return Session(account.name, secrets.token_hex(16), expires, account.session_epoch)

    def encode(self, session: Session) -> str:
        payload = base64.urlsafe_b64encode(
            json.dumps([session.user, session.nonce, session.expires, session.epoch]).encode()
        ).decode()
        return f"{payload}.{self._sign(payload)}"

    def decode(self, value: str) -> Session | None:
        """The session of a well-signed, unexpired cookie, else None."""
        payload, _, signature = value.partition(".")
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            user, nonce, expires, epoch = json.loads(base64.urlsafe_b64decode(payload))
        except (ValueError, TypeError):
            return None
        if not isinstance(expires, int) or expires < time.time() or not isinstance(epoch, int):
            return None
        return Session(str(user), str(nonce), expires, epoch)

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._key, b"csrf:" + session.nonce.encode(), hashlib.sha256).hexdigest()

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
