"""The SQL accounts' own reads (sql/accounts.py): every read meets the database, what was
built of an unchanged row is reused, and a lost connection is retried, then a 503."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid.accounts import Account
from uws_pyramid.accounts_contract import make_token
from uws_pyramid.errors import ServiceUnavailable
from uws_pyramid.jobs import utcnow
from uws_pyramid.sql.accounts import GET_USER, MadeRowReader
from uws_pyramid.sql.fastread import Kept, ReadConnections
from uws_sqlite.storage import SQLiteStorage


@pytest.fixture
def storage(tmp_path: Path) -> Any:
    found = SQLiteStorage.from_settings({"path": str(tmp_path / "uws.sqlite")}, str(tmp_path))
    yield found
    found.close()


def test_an_unchanged_row_is_built_once_and_a_changed_one_afresh(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    accounts = storage.accounts()
    accounts.add(Account("alice", "hash", frozenset({"a"}), created=utcnow()))
    token = make_token("alice")
    accounts.add_token(token)
    first = accounts.get("alice")
    assert first is not None and accounts.get("alice") is first
    owner = accounts.token_owner(token.token_id)
    assert owner is not None and accounts.token_owner(token.token_id) is owner
    # Changed by another storage on the same database (another process): seen at once.
    other = SQLiteStorage.from_settings({"path": str(tmp_path / "uws.sqlite")}, str(tmp_path))
    try:
        other.accounts().update("alice", disabled=True)
        other.accounts().remove_token(token.token_id)
    finally:
        other.close()
    after = accounts.get("alice")
    assert after is not None and after.disabled and not first.disabled
    assert accounts.token_owner(token.token_id) is None


class DroppedConnection:
    """A kept connection the database server closed."""

    closed = False

    def invalidate(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class DeadCursor:
    def execute(self, sql: str, args: Any) -> None:
        raise sqlite3.OperationalError("server closed the connection")


def dropped() -> Kept:
    return Kept(DroppedConnection(), DeadCursor())  # type: ignore[arg-type]


def reader(storage: SQLiteStorage) -> tuple[MadeRowReader[Account], ReadConnections]:
    connections = ReadConnections(storage.engine)
    return MadeRowReader(connections, GET_USER, lambda m: Account(m["name"])), connections


def test_a_dropped_kept_connection_is_retried_on_one_of_the_pool(
    storage: SQLiteStorage,
) -> None:
    storage.accounts().add(Account("alice", created=utcnow()))
    read, connections = reader(storage)
    kept = dropped()
    connections._idle.append(kept)
    assert read.read({"name": "alice"}) == Account("alice")
    assert kept.conn.closed and kept not in connections._idle  # type: ignore[attr-defined]
    connections.close()


def test_a_database_out_of_reach_is_a_503(
    storage: SQLiteStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    read, connections = reader(storage)
    connections._idle.append(dropped())
    monkeypatch.setattr(connections, "fresh", dropped)
    with pytest.raises(ServiceUnavailable):
        read.read({"name": "alice"})


def test_rows_with_unhashable_values_are_built_every_time(
    storage: SQLiteStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    read, connections = reader(storage)
    row = ("alice", None, "[]", 0, None, [0])  # a list: as some drivers give JSON values
    monkeypatch.setattr(connections, "take", dropped)
    monkeypatch.setattr(connections, "run", lambda kept, sql, args: row)
    first, second = read.read({"name": "alice"}), read.read({"name": "alice"})
    assert first == second == Account("alice") and first is not second
