"""The Accounts contract: tests every storage that keeps accounts runs (``uws_pyramid.testing``)."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from .accounts import ADMIN, Account, Accounts, Token
from .auth import Authenticator
from .errors import Conflict, NotFound
from .jobs import utcnow
from .storage import Storage

#: Argon2 at its cheapest: these tests check what the storage keeps, not what hashing costs.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def make_token(user: str, age: timedelta = timedelta(0), note: str = "") -> Token:
    """A token of ``user`` created ``age`` ago, with a made-up hash (nobody checks it)."""
    return Token(secrets.token_hex(6), user, f"hash-{secrets.token_hex(4)}", note, utcnow() - age)


class AccountsContract:
    """Subclass in a plugin's tests with the ``storage`` fixture of its StorageContract
    (an empty store); the tests work on ``storage.accounts()``."""

    @pytest.fixture
    def storage(self) -> Storage:
        raise NotImplementedError("a storage plugin's tests override the storage fixture")

    @pytest.fixture
    def accounts(self, storage: Storage) -> Accounts:
        return storage.accounts()

    @pytest.fixture
    def authenticator(self, accounts: Accounts) -> Authenticator:
        return Authenticator(accounts, FAST_HASHER)

    def test_round_trip_keeps_every_field(self, accounts: Accounts) -> None:
        full = Account(
            name="ann.lee@obs-1",
            password_hash="$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
            roles=frozenset({ADMIN, "astro_team"}),
            disabled=True,
            created=utcnow() - timedelta(days=3),
        )
        bare = Account(name="Pipeline_2", created=utcnow())
        for account in (full, bare):
            accounts.add(account)
        assert accounts.get(full.name) == full
        assert accounts.get(bare.name) == bare
        found = accounts.get(full.name)
        assert found is not None and found.created.utcoffset() == timedelta(0)
        assert isinstance(found.roles, frozenset) and found.admin
        assert accounts.list() == sorted([full, bare], key=lambda a: a.name)

    def test_duplicate_name_is_a_conflict(self, accounts: Accounts) -> None:
        first = Account("alice", roles=frozenset({"astro"}), created=utcnow())
        accounts.add(first)
        with pytest.raises(Conflict):
            accounts.add(Account("alice", password_hash="other", created=utcnow()))
        assert accounts.get("alice") == first
        assert accounts.list() == [first]

    def test_update_changes_the_given_fields_only(self, accounts: Accounts) -> None:
        before = Account("alice", password_hash="old", created=utcnow())
        accounts.add(before)
        after = accounts.update(
            "alice", password_hash="new", roles=frozenset({"a", "b"}), disabled=True
        )
        assert (after.password_hash, after.roles, after.disabled) == (
            "new",
            frozenset({"a", "b"}),
            True,
        )
        assert (after.name, after.created) == (before.name, before.created)
        assert accounts.get("alice") == after
        again = accounts.update("alice", disabled=False, password_hash=None)
        assert accounts.get("alice") == again
        assert (again.roles, again.disabled, again.password_hash) == (after.roles, False, None)

    def test_unknown_user(self, accounts: Accounts) -> None:
        assert accounts.get("nobody") is None
        with pytest.raises(NotFound):
            accounts.update("nobody", disabled=True)
        assert accounts.remove("nobody") is False
        assert accounts.tokens("nobody") == []
        assert accounts.list() == []

    def test_remove_removes_the_users_tokens(self, accounts: Accounts) -> None:
        for name in ("alice", "bob"):
            accounts.add(Account(name, created=utcnow()))
        gone = [make_token("alice"), make_token("alice")]
        kept = make_token("bob")
        for token in (*gone, kept):
            accounts.add_token(token)
        assert accounts.remove("alice") is True
        assert accounts.get("alice") is None
        assert accounts.tokens("alice") == []
        assert [accounts.get_token(t.token_id) for t in gone] == [None, None]
        assert accounts.remove("alice") is False
        assert accounts.get_token(kept.token_id) == kept
        # A new account of the same name does not inherit the old one's tokens.
        accounts.add(Account("alice", created=utcnow()))
        assert accounts.tokens("alice") == []

    def test_tokens_are_listed_per_user_oldest_first(self, accounts: Accounts) -> None:
        for name in ("alice", "bob"):
            accounts.add(Account(name, created=utcnow()))
        middle = make_token("alice", timedelta(minutes=5), "laptop ü")
        newest = make_token("alice", timedelta(seconds=1), "CI")
        oldest = make_token("alice", timedelta(days=1))
        bobs = make_token("bob", timedelta(days=2))
        for token in (middle, bobs, newest, oldest):
            accounts.add_token(token)
        assert accounts.tokens("alice") == [oldest, middle, newest]
        assert accounts.tokens("bob") == [bobs]
        assert accounts.get_token(middle.token_id) == middle
        assert accounts.get_token("nosuchtoken") is None

    def test_token_owner_reads_the_token_and_its_account_as_they_are_now(
        self, accounts: Accounts
    ) -> None:
        def owner(token_id: str) -> tuple[str, Account] | None:
            found = accounts.token_owner(token_id)
            # The storage's own read answers as the interface's default (two reads) does.
            assert Accounts.token_owner(accounts, token_id) == found
            return found

        alice = Account("alice", "hash", frozenset({"astro"}), created=utcnow())
        accounts.add(alice)
        accounts.add(Account("bob", created=utcnow()))
        token, bobs = make_token("alice"), make_token("bob")
        accounts.add_token(token)
        accounts.add_token(bobs)
        assert owner(token.token_id) == (token.token_hash, alice)
        assert owner(bobs.token_id) == (bobs.token_hash, accounts.get("bob"))
        assert owner("nosuchtoken") is None
        # Each read sees the account's last change, and a revoked token is gone at once.
        changed = accounts.update("alice", disabled=True, roles=frozenset())
        assert owner(token.token_id) == (token.token_hash, changed)
        assert accounts.remove_token(token.token_id) is True
        assert owner(token.token_id) is None
        assert accounts.remove("bob") is True
        assert owner(bobs.token_id) is None

    def test_token_of_an_unknown_user_is_not_found(self, accounts: Accounts) -> None:
        token = make_token("nobody")
        with pytest.raises(NotFound):
            accounts.add_token(token)
        assert accounts.get_token(token.token_id) is None

    def test_remove_token_twice(self, accounts: Accounts) -> None:
        accounts.add(Account("alice", created=utcnow()))
        first, second = make_token("alice"), make_token("alice")
        accounts.add_token(first)
        accounts.add_token(second)
        assert accounts.remove_token(first.token_id) is True
        assert accounts.remove_token(first.token_id) is False
        assert accounts.tokens("alice") == [second]

    def test_authenticator_checks_passwords(
        self, accounts: Accounts, authenticator: Authenticator
    ) -> None:
        account = Account("alice", authenticator.hash_password("correct horse"), created=utcnow())
        accounts.add(account)
        accounts.add(Account("robot", created=utcnow()))  # tokens only: no password works
        assert authenticator.check_password("alice", "correct horse") == account
        assert authenticator.check_password("alice", "wrong horse!") is None
        assert authenticator.check_password("bob", "correct horse") is None
        assert authenticator.check_password("robot", "correct horse") is None
        assert authenticator.check_password("", "correct horse") is None
        accounts.update("alice", disabled=True)
        # Remembered as a good password a moment ago, and still refused.
        assert authenticator.check_password("alice", "correct horse") is None

    def test_authenticator_checks_tokens(
        self, accounts: Accounts, authenticator: Authenticator
    ) -> None:
        account = Account("alice", created=utcnow())
        accounts.add(account)
        issued = authenticator.new_token("alice", "CI")
        accounts.add_token(issued.token)
        assert accounts.get_token(issued.token.token_id) == issued.token
        assert authenticator.check_token(issued.text) == account
        assert authenticator.check_token(issued.text + "x") is None
        assert authenticator.check_token("uws_nosuchid_secret") is None
        assert authenticator.check_token("not a token") is None
        accounts.update("alice", disabled=True)
        assert authenticator.check_token(issued.text) is None
        accounts.update("alice", disabled=False)
        assert authenticator.check_token(issued.text) == accounts.get("alice")
        assert accounts.remove_token(issued.token.token_id) is True
        assert authenticator.check_token(issued.text) is None

    def test_session_epoch_moves_on_with_what_ends_sessions(self, accounts: Accounts) -> None:
        accounts.add(
            Account("alice", password_hash="one", roles=frozenset({"a"}), created=utcnow())
        )
        epochs = [accounts.get("alice").session_epoch]  # type: ignore[union-attr]
        steps: list[dict[str, object]] = [
            {"password_hash": "two"},
            {"roles": frozenset({"a", "b"})},
            {"disabled": True},
            {"disabled": False},
        ]
        for change in steps:
            after = accounts.update("alice", **change)
            assert after == accounts.get("alice")
            epochs.append(after.session_epoch)
        # A change that changes nothing ends nothing.
        same = accounts.update("alice", disabled=False, roles=frozenset({"b", "a"}))
        epochs.append(same.session_epoch)
        accounts.end_sessions("alice")
        accounts.end_sessions("alice")
        epochs.append(accounts.get("alice").session_epoch)  # type: ignore[union-attr]
        assert epochs == [0, 1, 2, 3, 4, 4, 6]
        accounts.end_sessions("nobody")  # nothing to end, no error
        assert accounts.get("nobody") is None
