"""Signed job events: how a job running elsewhere tells the server it started or ended.

Each job gets its own secret, derived from the server's secret and the job id, so no secret is
stored per job and one job's secret says nothing about another's. An event is signed with an
HMAC over the job id, the event name and a Unix time; the server refuses bad signatures and
times outside a short window (against replays). The event is only a wake-up call: the manager
then reads the job's real state (exit-status file, scheduler), so even a valid event cannot
forge a job's outcome.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from pathlib import Path

from .errors import ConfigurationError, Forbidden
from .privatefiles import private_dir

EVENTS = frozenset({"started", "ended"})
#: Seconds an event stays valid (clocks of the server and the nodes may differ a little).
WINDOW = 300


def job_secret(server_secret: bytes, job_id: str) -> str:
    return hmac.new(server_secret, b"uws-job:" + job_id.encode(), hashlib.sha256).hexdigest()


def sign(secret: str, job_id: str, event: str, timestamp: int) -> str:
    message = f"{job_id}\n{event}\n{timestamp}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    server_secret: bytes,
    job_id: str,
    event: str,
    timestamp: str,
    signature: str,
    now: float | None = None,
) -> None:
    """Raise Forbidden unless the event is well signed and recent."""
    if event not in EVENTS:
        raise Forbidden("unknown job event")
    try:
        when = int(timestamp)
    except ValueError:
        raise Forbidden("job event refused: bad time") from None
    if abs((time.time() if now is None else now) - when) > WINDOW:
        raise Forbidden("job event refused: too old or from the future")
    expected = sign(job_secret(server_secret, job_id), job_id, event, when)
    if not hmac.compare_digest(expected, signature):
        raise Forbidden("job event refused: bad signature")


class ReplayGuard:
    """Remembers the signatures accepted within the window: each event is taken once.

    Per process: with several server processes a replay to another one is not caught here,
    but it still cannot change anything, since an event only makes the manager look at the
    job's real state."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_time(self, signature: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {s: t for s, t in self._seen.items() if t > now}
            if self._seen.get(signature, 0) > now:
                return False
            self._seen[signature] = now + 2 * WINDOW
            return True


def load_secret(path: Path) -> bytes:
    """The server's secret from ``path``, created (mode 600) with 256 random bits if absent."""
    try:
        if not path.exists():
            private_dir(path.parent)
            with open(path, "x", opener=lambda p, f: os.open(p, f, 0o600)) as out:
                out.write(secrets.token_hex(32))
        secret = path.read_text().strip()
    except OSError as exc:
        raise ConfigurationError(f"uws.secret_file: cannot read or create {path}: {exc}") from None
    if len(secret) < 32:
        raise ConfigurationError(f"uws.secret_file: {path} holds fewer than 32 characters")
    return secret.encode()
