"""Credentials for the benchmarks: an account with a password and an API token, as headers."""

from __future__ import annotations

import base64

from uws_pyramid.accounts import Account
from uws_pyramid.auth import Authenticator
from uws_pyramid.sql.storage import SQLStorage

PASSWORD = "bench-password-1"
#: What ``--auth`` takes: how the benchmark's client says who it is.
KINDS = ("anonymous", "basic", "bearer")


def caller_headers(storage: SQLStorage, kind: str, user: str = "bench") -> dict[str, str]:
    """The headers of a client of ``kind``; for basic and bearer, the account ``user`` (with
    PASSWORD and one API token) is added to ``storage`` first."""
    if kind == "anonymous":
        return {}
    auth = Authenticator(storage.accounts())
    storage.accounts().add(Account(user, auth.hash_password(PASSWORD)))
    if kind == "basic":
        return {
            "Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
        }
    if kind == "bearer":
        token = auth.new_token(user)
        storage.accounts().add_token(token.token)
        return {"Authorization": f"Bearer {token.text}"}
    raise ValueError(f"no such kind of caller: {kind!r} (one of {', '.join(KINDS)})")
