"""Accounts: users, their roles and API tokens, and the Accounts interface storages provide."""

from __future__ import annotations

import builtins
import dataclasses
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import InvalidValue
from .jobs import utcnow

#: The role that sees and manages every job, edits job descriptions and manages users.
ADMIN = "admin"

#: User names and roles: they appear in ownerId, in URLs and in ACL principals.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")


def check_name(kind: str, value: str) -> str:
    if not NAME.match(value):
        raise InvalidValue(
            kind, "1 to 128 letters, digits or . _ @ - (starting with a letter or digit)", value
        )
    return value


@dataclass(frozen=True)
class Account:
    """A user of the service. ``password_hash`` is an Argon2 hash, or None (tokens only).
    ``session_epoch`` is written into every session cookie; bumping it ends them all."""

    name: str
    password_hash: str | None = None
    roles: frozenset[str] = frozenset()
    disabled: bool = False
    created: datetime = field(default_factory=utcnow)
    session_epoch: int = 0

    @property
    def admin(self) -> bool:
        return ADMIN in self.roles


#: A change of any of these ends the account's sessions (cookies made before it are refused).
SESSION_FIELDS = ("password_hash", "roles", "disabled")


def changed(before: Account, **changes: Any) -> Account:
    """``before`` with ``changes``; a new session epoch when a field of SESSION_FIELDS really
    changes (and the changes do not set the epoch themselves)."""
    after = dataclasses.replace(before, **changes)
    if "session_epoch" not in changes and any(
        getattr(after, name) != getattr(before, name) for name in SESSION_FIELDS
    ):
        after = dataclasses.replace(after, session_epoch=before.session_epoch + 1)
    return after


@dataclass(frozen=True)
class Token:
    """An API token of a user. The token itself is shown once; only its hash is kept."""

    token_id: str
    user: str
    token_hash: str
    note: str = ""
    created: datetime = field(default_factory=utcnow)


class Accounts(ABC):
    """Where accounts live (provided by a Storage: ``storage.accounts()``). Each method is
    one transaction; names are compared exactly."""

    @abstractmethod
    def add(self, account: Account) -> None:
        """Store a new account; ``errors.Conflict`` if the name is taken."""

    @abstractmethod
    def get(self, name: str) -> Account | None:
        """The account of that name, or None."""

    @abstractmethod
    def list(self) -> list[Account]:
        """Every account, by name."""

    @abstractmethod
    def update(self, name: str, **changes: Any) -> Account:
        """Change fields of an account (``password_hash``, ``roles``, ``disabled``), as
        ``changed()`` does (a change of those ends the account's sessions); ``errors.NotFound``
        if there is none."""

    def end_sessions(self, name: str) -> None:
        """End every session of the account (log out everywhere); nothing if there is none.
        Storages may do it in one statement; this default reads then writes."""
        account = self.get(name)
        if account is not None:
            self.update(name, session_epoch=account.session_epoch + 1)

    @abstractmethod
    def remove(self, name: str) -> bool:
        """Remove the account and its tokens; False if there was none."""

    @abstractmethod
    def add_token(self, token: Token) -> None:
        """Store a new token of an existing user (``errors.NotFound`` otherwise)."""

    @abstractmethod
    def get_token(self, token_id: str) -> Token | None:
        """The token with that id, or None."""

    def token_owner(self, token_id: str) -> tuple[str, Account] | None:
        """The token's hash and its owner's account, or None if either is missing: what
        checking a token needs, read at once (one query where the storage can). This
        default reads the token, then the account."""
        token = self.get_token(token_id)
        account = self.get(token.user) if token is not None else None
        return None if token is None or account is None else (token.token_hash, account)

    @abstractmethod
    def tokens(self, user: str) -> builtins.list[Token]:
        """The user's tokens, oldest first."""

    @abstractmethod
    def remove_token(self, token_id: str) -> bool:
        """Revoke a token; False if there was none."""
