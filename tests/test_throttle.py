"""Password verifications are bounded, and failed logins throttled per user and per address,
through HTTP Basic, API tokens and the login form."""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import pytest
from argon2 import PasswordHasher

from uws_pyramid.accounts import Account
from uws_pyramid.auth import Authenticator
from uws_pyramid.errors import ServiceUnavailable
from uws_pyramid.storage_contract import race
from uws_pyramid.throttle import Throttle, address_key

from .conftest import UWSTestApp, add_user

PASSWORD = "alice-secret-1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_waits_grow_after_the_free_failures_and_forget() -> None:
    clock = Clock()
    throttle = Throttle(free=3, cap=8, clock=clock)
    keys = ("user:alice", "address:10.0.0.1")
    waits = []
    for _ in range(8):
        waits.append(throttle.wait(keys))
        throttle.failed(keys)
    assert waits == [0, 0, 0, 1, 2, 4, 8, 8]
    assert throttle.wait(["address:10.0.0.1"]) == 8
    assert throttle.wait(["user:bob", "address:10.0.0.2"]) == 0
    clock.now += 5
    assert throttle.wait(keys) == 3
    throttle.succeeded(["user:alice"])
    assert throttle.wait(["user:alice"]) == 0 and throttle.wait(keys) == 3


def test_throttle_table_stays_bounded() -> None:
    clock = Clock()
    throttle = Throttle(free=1, size=100, clock=clock)
    for n in range(1000):
        throttle.failed([f"user:u{n}"])
    assert len(throttle._failures) <= 100
    assert throttle.wait(["user:u999"]) == 1  # the newest are kept


def test_address_keys_group_an_ipv6_host() -> None:
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff") == "address:2001:db8::/64"
    assert address_key("::ffff:10.0.0.1") == address_key("10.0.0.1") == "address:10.0.0.1"
    assert address_key(None) is None and address_key("unix") == "address:unix"


class CountingHasher(PasswordHasher):
    """Argon2 (small, real) that records how many verifications run at once."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(time_cost=2, memory_cost=16 * 1024, parallelism=1)
        self.delay = delay  # a machine under load
        self.running = 0
        self.most = 0
        self.calls = 0
        self.lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.delay)
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1


def test_at_most_two_verifications_at_once(app: Any) -> None:
    hasher = CountingHasher()
    auth = Authenticator(
        app.registry.uws.authenticator.accounts, hasher, verifications=2, slot_wait=30
    )
    for n in range(12):
        auth.accounts.add(Account(f"user{n}", hasher.hash(PASSWORD)))
    answers: list[object] = []

    def guess(n: int) -> None:
        answers.append(auth.check_password(f"user{n}", "wrong-password", f"10.0.0.{n}"))

    assert race([lambda n=n: guess(n) for n in range(12)]) == [None] * 12
    assert answers == [None] * 12
    assert hasher.most == 2


@pytest.mark.parametrize("password", [PASSWORD, "wrong-password"])
def test_the_same_credentials_at_once_share_one_verification(app: Any, password: str) -> None:
    hasher = CountingHasher(delay=0.5)
    auth = Authenticator(
        app.registry.uws.authenticator.accounts,
        hasher,
        verifications=1,
        slot_wait=0.01,
        throttle=Throttle(free=100),
    )
    auth.accounts.add(Account("alice", hasher.hash(PASSWORD)))
    answers: list[object] = []

    def login() -> None:
        answers.append(auth.check_password("alice", password, "10.0.0.1"))

    assert race([login] * 8) == [None] * 8
    # One slot, no waiting for it: without sharing, seven of the eight would be refused.
    assert hasher.calls == 1
    expected = auth.accounts.get("alice") if password == PASSWORD else None
    assert answers == [expected] * 8


def test_a_verification_without_a_free_slot_is_503(app: Any) -> None:
    auth = Authenticator(app.registry.uws.authenticator.accounts, verifications=1, slot_wait=0.05)
    auth._slots.acquire()  # another request's verification, still running
    try:
        with pytest.raises(ServiceUnavailable) as refused:
            auth.check_password("alice", PASSWORD, "10.0.0.1")
        assert refused.value.retry_after == 1
    finally:
        auth._slots.release()


def basic(user: str, password: str) -> dict[str, str]:
    text = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {text}"}


def at(address: str) -> dict[str, str]:
    return {"REMOTE_ADDR": address}


def test_wrong_basic_passwords_are_throttled_per_user_and_address(
    app: Any, testapp: UWSTestApp
) -> None:
    add_user(app, "alice", PASSWORD)
    add_user(app, "bob", PASSWORD)
    testapp.get("/rest/echo", headers=basic("alice", PASSWORD), extra_environ=at("10.0.0.9"))
    for _ in range(5):
        testapp.get(
            "/rest/echo",
            headers=basic("alice", "guess-guess"),
            extra_environ=at("10.0.0.1"),
            status=401,
        )
    refused = testapp.get(
        "/rest/echo",
        headers=basic("alice", "guess-guess"),
        extra_environ=at("10.0.0.1"),
        status=429,
    )
    assert refused.headers["Retry-After"] == "1"
    # Per user: alice from elsewhere waits too, even with her password (unless it was
    # verified before: a cached good password is no guess).
    testapp.get(
        "/rest/echo",
        headers=basic("alice", "other-guess"),
        extra_environ=at("10.0.0.2"),
        status=429,
    )
    testapp.get("/rest/echo", headers=basic("alice", PASSWORD), extra_environ=at("10.0.0.9"))
    # Per address: another user from the guessing address waits; from elsewhere not.
    testapp.get(
        "/rest/echo", headers=basic("bob", PASSWORD), extra_environ=at("10.0.0.1"), status=429
    )
    testapp.get("/rest/echo", headers=basic("bob", PASSWORD), extra_environ=at("10.0.0.3"))


def test_the_login_form_and_tokens_are_throttled_too(app: Any, testapp: UWSTestApp) -> None:
    add_user(app, "alice", PASSWORD)
    for _ in range(5):
        testapp.post(
            "/login",
            {"username": "alice", "password": "guess-guess"},
            extra_environ=at("10.0.1.1"),
            status=401,
        )
    refused = testapp.post(
        "/login",
        {"username": "alice", "password": PASSWORD},
        extra_environ=at("10.0.1.1"),
        status=429,
    )
    assert int(refused.headers["Retry-After"]) >= 1
    for _ in range(5):
        testapp.get(
            "/rest/echo",
            headers={"Authorization": "Bearer uws_abcdef_guess"},
            extra_environ=at("10.0.2.1"),
            status=401,
        )
    testapp.get(
        "/rest/echo",
        headers={"Authorization": "Bearer uws_abcdef_guess"},
        extra_environ=at("10.0.2.1"),
        status=429,
    )
    testapp.get(
        "/rest/echo",
        headers={"Authorization": "Bearer not-a-token"},
        extra_environ=at("10.0.2.1"),
        status=429,
    )


def test_no_free_slot_is_503_with_retry_after(app: Any, testapp: UWSTestApp) -> None:
    add_user(app, "alice", PASSWORD)
    auth = app.registry.uws.authenticator
    auth.slot_wait = 0.05
    for _ in range(2):
        auth._slots.acquire()
    try:
        busy = testapp.get("/rest/echo", headers=basic("alice", PASSWORD), status=503)
        assert busy.headers["Retry-After"] == "1"
    finally:
        for _ in range(2):
            auth._slots.release()
    testapp.get("/rest/echo", headers=basic("alice", PASSWORD), status=200)
