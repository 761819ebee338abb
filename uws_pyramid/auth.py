"""Checking credentials: Argon2 password and token hashes, with a short cache of good ones,
a bound on verifications at once, and a growing wait after failed ones."""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .accounts import Account, Accounts, Token, check_name
from .errors import ServiceUnavailable, TooManyRequests
from .throttle import Throttle, address_key

log = logging.getLogger(__name__)

#: API tokens read "uws_<id>_<secret>": the id finds the stored hash, the secret is checked.
TOKEN_PREFIX = "uws_"
#: Seconds a verified password or token is remembered (Argon2 costs ~0.1 s on purpose; a
#: client sending Basic credentials with every request must not pay it every time).
CACHE_SECONDS = 300
CACHE_SIZE = 10_000
#: Seconds a verification waits for a free slot before the request is refused (503).
SLOT_WAIT = 5.0


@dataclass(frozen=True)
class NewToken:
    """A token just issued: ``text`` is shown to the user once and never stored."""

    token: Token
    text: str


class Authenticator:
    """Verifies user names with passwords, and API tokens, against the stored accounts."""

    def __init__(
        self,
        accounts: Accounts,
        hasher: PasswordHasher | None = None,
        *,
        verifications: int = 2,
        throttle: Throttle | None = None,
        slot_wait: float = SLOT_WAIT,
    ) -> None:
        self.accounts = accounts
        self.hasher = hasher or PasswordHasher()
        self.throttle = throttle or Throttle()
        self.slot_wait = slot_wait
        # Each Argon2 verification costs ~64 MB and a core for ~0.1 s: a few at a time.
        self._slots = threading.BoundedSemaphore(verifications)
        self._cache_key = secrets.token_bytes(32)
        self._cache: dict[bytes, float] = {}
        self._flights: dict[bytes, _Flight] = {}
        self._lock = threading.Lock()

    @functools.cached_property
    def _dummy(self) -> str:
        """Verified for a user who does not exist, so that a wrong user name takes as long
        to refuse as a wrong password (made on first use: it costs as much as a login)."""
        return self.hasher.hash(secrets.token_hex(16))

    # -- making hashes -------------------------------------------------------------------

    def hash_password(self, password: str) -> str:
        if len(password) < 8:
            raise ValueError("a password needs at least 8 characters")
        return self.hasher.hash(password)

    def new_token(self, user: str, note: str = "") -> NewToken:
        check_name("user", user)
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        token = Token(token_id, user, self.hasher.hash(secret), note)
        return NewToken(token, f"{TOKEN_PREFIX}{token_id}_{secret}")

    # -- checking ------------------------------------------------------------------------

    def check_password(self, name: str, password: str, client: str | None = None) -> Account | None:
        """The enabled account with this name and password, or None. ``client`` is the
        caller's address: failures are throttled per user name and per address
        (TooManyRequests), verifications at once are bounded (ServiceUnavailable)."""
        account = self.accounts.get(name) if name else None
        stored = account.password_hash if account is not None else None
        if not self._verify(stored, password, "user", name, client):
            return None
        assert account is not None
        return None if account.disabled else account

    def check_token(self, text: str, client: str | None = None) -> Account | None:
        """The enabled account owning this API token, or None (throttled like passwords)."""
        token_id, secret = _split_token(text)
        if not token_id:
            # Not a token's form: nothing secret to compare, so no Argon2 to pay.
            keys = (None, address_key(client))
            self._check_throttle(keys)
            self.throttle.failed(keys)
            return None
        # The token and its account in one read, every time: a revoked token, a disabled
        # account or a change made by another process shows at the next request.
        found = self.accounts.token_owner(token_id)
        if not self._verify(found[0] if found else None, secret, "token", token_id, client):
            return None
        assert found is not None
        return None if found[1].disabled else found[1]

    def _check_throttle(self, keys: Sequence[str | None]) -> None:
        wait = self.throttle.wait(keys)
        if wait > 0:
            raise TooManyRequests(
                "too many failed logins for this user or from this address: try again in "
                f"{math.ceil(wait)} s",
                math.ceil(wait),
            )

    def _verify(
        self, stored: str | None, secret: str, kind: str, who: str, client: str | None
    ) -> bool:
        """Constant-time in the secret (Argon2), cached for good answers only. A cached good
        answer skips the throttle: it proves the caller knew the secret already. Requests
        with the same credentials at once share one verification (a script's parallel
        first requests cost one Argon2, not one each). ``kind`` and ``who`` (user and name,
        or token and id) with ``client`` name the throttle's keys."""
        # Keyed BLAKE2b: a MAC like HMAC-SHA256, at a fraction of its cost per request. The
        # stored hash is in the key, so a new password or token hash misses the cache.
        key = hashlib.blake2b(
            f"{who}\0{secret}\0{stored}".encode(), key=self._cache_key, digest_size=32
        ).digest()
        # Without the lock first: one dict read (atomic), the path of nearly every request.
        expires = self._cache.get(key)
        if expires is not None and expires > time.monotonic():
            return True
        # The throttle's keys only when the cache did not answer (parsing the address costs).
        keys = _throttle_keys(kind, who, client)
        while True:
            with self._lock:
                expires = self._cache.get(key)
                if expires is not None and expires > time.monotonic():
                    return True
                flight = self._flights.get(key)
                if flight is None:
                    flight = self._flights[key] = _Flight()
                    break
            # Another request verifies these very credentials: its answer is this one's.
            flight.done.wait(self.slot_wait + 60)
            if flight.good is not None:
                if not flight.good:
                    self.throttle.failed(keys)
                return flight.good
            # It got no answer (throttled, no free slot): try on our own.
        try:
            flight.good = self._verify_now(stored, secret, keys)
        finally:
            with self._lock:
                del self._flights[key]
                if flight.good:
                    self._remember(key)
            flight.done.set()
        return flight.good

    def _verify_now(self, stored: str | None, secret: str, keys: Sequence[str | None]) -> bool:
        self._check_throttle(keys)
        if not self._slots.acquire(timeout=self.slot_wait):
            log.warning("password verifications at their limit: a request refused (503)")
            raise ServiceUnavailable("too many logins at once: try again in a moment", 1)
        try:
            self.hasher.verify(stored or self._dummy, secret)
            good = stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            good = False
        finally:
            self._slots.release()
        if not good:
            self.throttle.failed(keys)
            return False
        # Only the user's (or token's) count: an attacker's own good login must not clear
        # the failures of the address it guesses other passwords from.
        self.throttle.succeeded(keys[:1])
        return True

    def _remember(self, key: bytes) -> None:
        """Cache a good answer (the caller holds the lock)."""
        now = time.monotonic()
        if len(self._cache) >= CACHE_SIZE:
            self._cache = {k: v for k, v in self._cache.items() if v > now}
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
        self._cache[key] = now + CACHE_SECONDS


@dataclass
class _Flight:
    """A verification in progress; ``good`` is None until it answered (or if it could not)."""

    done: threading.Event = field(default_factory=threading.Event)
    good: bool | None = None


def _throttle_keys(kind: str, who: str, client: str | None) -> tuple[str, str | None]:
    """Failures are counted per user name (or token id) and per client address."""
    return (f"{kind}:{who[:128]}", address_key(client))


def _split_token(text: str) -> tuple[str, str]:
    if not text.startswith(TOKEN_PREFIX):
        return "", text
    token_id, _, secret = text[len(TOKEN_PREFIX) :].partition("_")
    return (token_id, secret) if secret else ("", text)


def is_token(text: str) -> bool:
    return bool(_split_token(text)[0])
