"""Accounts kept in the SQL storages' database (tables uws_users and uws_tokens)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Select, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..accounts import Account, Accounts, Token, changed
from ..errors import Conflict, NotFound
from .fastread import ReadConnections, RowReader, kept
from .tables import tokens, users

T = TypeVar("T")


# Built once: looked up on every authenticated request, and building a statement costs more
# than running it.
GET_USER = select(users).where(users.c.name == bindparam("name"))
GET_TOKEN = select(tokens).where(tokens.c.token_id == bindparam("token_id"))
# A token's hash and its owner in one read: each request with a token needs both.
GET_TOKEN_OWNER = (
    select(tokens.c.token_hash, *users.c)
    .join_from(tokens, users, users.c.name == tokens.c.user_name)
    .where(tokens.c.token_id == bindparam("token_id"))
)


def _account(m: Mapping[str, Any]) -> Account:
    # Filled in without the frozen dataclass's __init__, whose object.__setattr__ per field
    # made a fifth of each authenticated request's account read: the same frozen object,
    # every field set (the accounts contract compares whole accounts read back).
    account: Account = object.__new__(Account)
    account.__dict__.update(
        name=m["name"],
        password_hash=m["password_hash"],
        roles=frozenset(m["roles"]),
        disabled=bool(m["disabled"]),
        created=m["created"],
        session_epoch=m["session_epoch"],
    )
    return account


def _token(m: Mapping[str, Any]) -> Token:
    return Token(m["token_id"], m["user_name"], m["token_hash"], m["note"], m["created"])


def _user_row(account: Account) -> dict[str, Any]:
    return {
        "name": account.name,
        "password_hash": account.password_hash,
        "roles": sorted(account.roles),
        "disabled": account.disabled,
        "created": account.created,
        "session_epoch": account.session_epoch,
    }


class MadeRowReader(RowReader, Generic[T]):
    """A RowReader that gives what ``make`` builds of the row (an Account): the row is read
    from the database every time, and what was built of it is kept by its raw values, as
    RowReader keeps converted rows, so an account read again builds nothing (a row another
    process changed is built afresh). Driver errors become ServiceUnavailable."""

    def __init__(
        self, connections: ReadConnections, stmt: Select[Any], make: Callable[[dict[str, Any]], T]
    ) -> None:
        super().__init__(connections, stmt)
        self._make = make
        self._made: dict[tuple[Any, ...], T] = {}

    def read(self, params: Mapping[str, Any]) -> T | None:
        row = self._raw(params)
        if row is None:
            return None
        return kept(self._made, tuple(row), self._build, self.KEEP)

    def _raw(self, params: Mapping[str, Any]) -> Any:
        args = tuple(params[k] for k in self.order) if self.order is not None else params
        connections = self.connections
        try:
            try:
                return connections.run(connections.take(), self.sql, args)
            except connections.lost:
                # A kept connection the server closed: one retry on one of the pool's.
                return connections.run(connections.fresh(), self.sql, args)
        except connections.lost as exc:
            from .storage import unavailable  # (storage.py imports this module)

            raise unavailable(exc) from exc

    def _build(self, raw: tuple[Any, ...]) -> T:
        return self._make(dict(zip(self.names, self._process(raw))))


def _token_owner(m: Mapping[str, Any]) -> tuple[str, Account]:
    return m["token_hash"], _account(m)


class SQLAccounts(Accounts):
    """Accounts on the connections of an SQL storage (its read and write transactions)."""

    def __init__(
        self,
        one: Callable[[Select[Any], Mapping[str, Any]], Mapping[str, Any] | None],
        read: Callable[[], AbstractContextManager[Connection]],
        write: Callable[[], AbstractContextManager[Connection]],
        connections: ReadConnections | None = None,
    ) -> None:
        self._one = one
        self._read = read
        self._write = write
        # With the storage's kept read connections: the two reads of every request with
        # credentials, each a third cheaper than through ``one``.
        self._users: MadeRowReader[Account] | None = None
        self._owners: MadeRowReader[tuple[str, Account]] | None = None
        if connections is not None:
            self._users = MadeRowReader(connections, GET_USER, _account)
            self._owners = MadeRowReader(connections, GET_TOKEN_OWNER, _token_owner)

    def add(self, account: Account) -> None:
        try:
            with self._write() as conn:
                conn.execute(insert(users), _user_row(account))
        except IntegrityError:
            raise Conflict(f"user {account.name!r} exists already") from None

    def get(self, name: str) -> Account | None:
        if self._users is not None:
            return self._users.read({"name": name})
        row = self._one(GET_USER, {"name": name})
        return None if row is None else _account(row)

    def list(self) -> list[Account]:
        with self._read() as conn:
            rows = conn.execute(select(users).order_by(users.c.name))
            return [_account(r._mapping) for r in rows]

    def update(self, name: str, **changes: Any) -> Account:
        with self._write() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
            if row is None:
                raise NotFound(f"no user {name!r}")
            after = changed(_account(row._mapping), **changes)
            conn.execute(update(users).where(users.c.name == name).values(**_user_row(after)))
        return after

    def end_sessions(self, name: str) -> None:
        # One statement: two processes ending sessions at once both take effect.
        with self._write() as conn:
            conn.execute(
                update(users)
                .where(users.c.name == name)
                .values(session_epoch=users.c.session_epoch + 1)
            )

    def remove(self, name: str) -> bool:
        with self._write() as conn:
            conn.execute(delete(tokens).where(tokens.c.user_name == name))
            return bool(conn.execute(delete(users).where(users.c.name == name)).rowcount)

    def add_token(self, token: Token) -> None:
        with self._write() as conn:
            if conn.execute(select(users.c.name).where(users.c.name == token.user)).first() is None:
                raise NotFound(f"no user {token.user!r}")
            conn.execute(
                insert(tokens),
                {
                    "token_id": token.token_id,
                    "user_name": token.user,
                    "token_hash": token.token_hash,
                    "note": token.note,
                    "created": token.created,
                },
            )

    def get_token(self, token_id: str) -> Token | None:
        row = self._one(GET_TOKEN, {"token_id": token_id})
        return None if row is None else _token(row)

    def token_owner(self, token_id: str) -> tuple[str, Account] | None:
        if self._owners is not None:
            return self._owners.read({"token_id": token_id})
        row = self._one(GET_TOKEN_OWNER, {"token_id": token_id})
        return None if row is None else _token_owner(row)

    def tokens(self, user: str) -> list[Token]:
        stmt = select(tokens).where(tokens.c.user_name == user).order_by(tokens.c.created)
        with self._read() as conn:
            return [_token(r._mapping) for r in conn.execute(stmt)]

    def remove_token(self, token_id: str) -> bool:
        with self._write() as conn:
            return bool(conn.execute(delete(tokens).where(tokens.c.token_id == token_id)).rowcount)
