"""A job created through one server process wakes job lists waiting (WAIT) in another."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from uws_postgres.testing import (  # noqa: F401  (fixtures)
    Server,
    postgres_admin_url,
    two_servers,
)

pytestmark = pytest.mark.postgres

JDL = Path(__file__).resolve().parents[3] / "jdl"
NS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0"}


@pytest.fixture
def servers(postgres_admin_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    with two_servers(postgres_admin_url, JDL, tmp_path) as pair:
        yield pair


def listed(body: bytes) -> list[str]:
    return [e.get("id") for e in etree.fromstring(body).findall("uws:jobref", NS)]


@pytest.mark.live
def test_list_wait_in_one_process_returns_when_the_other_creates(
    servers: tuple[Server, Server],
) -> None:
    a, b = servers
    answers: list[tuple[float, int, bytes]] = []

    def wait() -> None:
        status, _, body = a.call("GET", "/rest/echo?LAST=5&WAIT=30")
        answers.append((time.monotonic(), status, body))

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.5)  # the WAIT reaches A and blocks on an empty list
    assert not answers
    sent = time.monotonic()
    status, location, _ = b.call("POST", "/rest/echo", {"message": "hello"})
    assert status == 303
    thread.join(35)
    ((woken, status, body),) = answers
    assert status == 200 and listed(body) == [location.rsplit("/", 1)[1]]
    # Without the NOTIFY, A would answer after its 30 s.
    assert woken - sent < 1.0
