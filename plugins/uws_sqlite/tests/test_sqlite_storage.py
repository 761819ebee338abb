"""uws-sqlite passes the shared Storage contract, on a real SQLite file in WAL mode."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from uws_pyramid.api import ConfigurationError
from uws_pyramid.testing import AccountsContract, StorageContract
from uws_sqlite.storage import SQLiteStorage


class TestSQLiteStorage(StorageContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> Iterator[SQLiteStorage]:
        store = SQLiteStorage.from_settings({"path": "uws.sqlite"}, str(tmp_path))
        yield store
        store.close()


class TestSQLiteAccounts(AccountsContract):
    storage = TestSQLiteStorage.storage


def test_wal_mode_and_schema_on_first_start(tmp_path: Path) -> None:
    store = SQLiteStorage.from_settings({"path": "sub/dir/uws.sqlite"}, str(tmp_path))
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        indexes = {r[1] for r in conn.execute(text("PRAGMA index_list(uws_jobs)"))}
    assert {"ix_uws_jobs_type_created", "ix_uws_jobs_phase"} <= indexes
    assert (tmp_path / "sub/dir/uws.sqlite").is_file()
    store.close()


def test_bad_busy_timeout_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="uws.storage.busy_timeout"):
        SQLiteStorage.from_settings({"busy_timeout": "soon"}, str(tmp_path))
