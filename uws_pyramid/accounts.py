"""Accounts: users, their roles and API tokens, and the Accounts interface storages provide."""
from __future__ import annotations

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
    """A user of the service. ``password_hash`` is an Argon2 hash, or None (tokens only)."""

    name: str
    password_hash: str | None = None
    roles: frozenset[str] = frozenset()
    disabled: bool = False
    created: datetime = field(default_factory=utcnow)

    @property
    def admin(self) -> bool:
        return ADMIN in self.roles


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
        """Change fields of an account (``password_hash``, ``roles``, ``disabled``);
        ``errors.NotFound`` if there is none."""

    @abstractmethod
    def remove(self, name: str) -> bool:
        """Remove the account and its tokens; False if there was none."""

    @abstractmethod
    def add_token(self, token: Token) -> None:
        """Store a new token of an existing user (``errors.NotFound`` otherwise)."""

    @abstractmethod
    def get_token(self, token_id: str) -> Token | None:
        """The token with that id, or None."""

    @abstractmethod
    def tokens(self, user: str) -> list[Token]:
        """The user's tokens, oldest first."""

    @abstractmethod
    def remove_token(self, token_id: str) -> bool:
        """Revoke a token; False if there was none."""
