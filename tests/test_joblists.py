"""The job list extensions: keyset pages, count, runId search, owner filter, change feed."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from lxml import etree

from uws_pyramid.jobs import utcnow
from uws_pyramid.xsdcheck import UWS_NS

from .conftest import ADMIN_PASSWORD, UWSTestApp, add_user
from .holding import settings  # noqa: F401  (fixture)

NS = {"uws": UWS_NS}


def create(testapp: UWSTestApp, job_type: str = "echo", **params: str) -> str:
    location: str = testapp.post(f"/rest/{job_type}", params, status=303).location
    return location.rsplit("/", 1)[-1]


def ids(response: Any) -> list[str]:
    return [e.get("id") for e in etree.fromstring(response.body).findall("uws:jobref", NS)]


def links(response: Any) -> dict[str, str]:
    """The Link header's URLs by relation."""
    found = {}
    for part in response.headers.get("Link", "").split(", "):
        if part:
            url, rel = re.fullmatch(r'<http://localhost([^>]*)>; rel="(\w+)"', part).groups()
            found[rel] = url
    return found


def next_url(response: Any) -> str | None:
    return links(response).get("next")


def test_pages_by_keyset_walk_every_job_once_newest_first(testapp: UWSTestApp) -> None:
    made = [create(testapp) for _ in range(7)]
    newest_first = ids(testapp.get("/rest/echo"))[::-1]
    assert sorted(newest_first) == sorted(made)
    seen: list[str] = []
    url: str | None = "/rest/echo?LAST=3"
    pages = 0
    while url is not None:
        response = testapp.get(url)  # each page validates against the UWS schema
        seen += ids(response)
        url = next_url(response)
        pages += 1
    assert seen == newest_first
    assert pages == 3  # 3 + 3 + 1: the short last page has no next link


def test_pages_keep_the_other_filters_and_json_has_the_link(testapp: UWSTestApp) -> None:
    for _ in range(3):
        create(testapp)
    create(testapp, "sleep")
    first = testapp.get("/rest/echo?LAST=2&PHASE=PENDING", headers={"Accept": "application/json"})
    url = next_url(first)
    assert url is not None and "PHASE=PENDING" in url and "PAGE=next" in url
    second = testapp.get(url, headers={"Accept": "application/json"})
    assert [j["id"] for j in first.json["jobs"] + second.json["jobs"]] == ids(
        testapp.get("/rest/echo?PHASE=PENDING")
    )[::-1]


@pytest.mark.parametrize(
    "value", ["2026-01-01T00:00:00Z", ",abc", "yesterday,abc", "2026-01-01T00:00:00Z,"]
)
def test_bad_before_is_a_400_naming_it(testapp: UWSTestApp, value: str) -> None:
    response = testapp.get("/rest/echo", {"BEFORE": value}, status=400)
    assert "BEFORE" in response.text and "comma" in response.text


def test_count_is_exact_and_ignores_the_page(testapp: UWSTestApp) -> None:
    for _ in range(5):
        create(testapp)
    response = testapp.get("/rest/echo?LAST=2&COUNT=true")
    assert response.headers["X-Total-Count"] == "5"
    assert "X-Total-Count" not in testapp.get("/rest/echo?LAST=2").headers
    page2 = testapp.get(next_url(response) + "&COUNT=true")
    assert page2.headers["X-Total-Count"] == "5"


def test_count_above_the_limit_says_so(
    testapp: UWSTestApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uws_pyramid.web import joblists

    monkeypatch.setattr(joblists, "COUNT_LIMIT", 3)
    for _ in range(4):
        create(testapp)
    assert testapp.get("/rest/echo?COUNT=true").headers["X-Total-Count"] == "3+"


def test_runid_exact_and_prefix(testapp: UWSTestApp) -> None:
    a = create(testapp, RUNID="survey-2026-a")
    b = create(testapp, RUNID="survey-2026-b")
    create(testapp, RUNID="Survey-2026-c")  # another case: not a match
    create(testapp, RUNID="other")
    assert ids(testapp.get("/rest/echo?RUNID=survey-2026-a")) == [a]
    assert sorted(ids(testapp.get("/rest/echo?RUNID=survey-2026*"))) == sorted([a, b])
    assert ids(testapp.get("/rest/echo?RUNID=survey-2026")) == []
    assert ids(testapp.get("/rest/echo?RUNID=%25")) == []  # no wildcard but the final *
    response = testapp.get("/rest/echo?RUNID=*", status=400)
    assert "RUNID" in response.text


def test_owner_filter_is_for_admins(app: Any, testapp: UWSTestApp) -> None:
    add_user(app, "root", ADMIN_PASSWORD, "admin")
    add_user(app, "alice", "alice-secret-1")
    alice = UWSTestApp(app)
    alice.authorization = ("Basic", ("alice", "alice-secret-1"))
    admin = UWSTestApp(app)
    admin.authorization = ("Basic", ("root", ADMIN_PASSWORD))
    mine = create(alice)
    create(admin)
    assert ids(admin.get("/rest/echo?OWNER=alice")) == [mine]
    assert ids(alice.get("/rest/echo?OWNER=alice")) == [mine]
    response = alice.get("/rest/echo?OWNER=root", status=403)
    assert "OWNER" in response.text
    testapp.get("/rest/echo?OWNER=alice", status=403)  # anonymous


def test_wait_returns_when_a_listed_job_changes(testapp: UWSTestApp) -> None:
    job = create(testapp)
    etag = testapp.get("/rest/echo?LAST=10").headers["ETag"]

    def abort() -> None:
        time.sleep(0.5)
        testapp.post(f"/rest/echo/{job}/phase", {"PHASE": "ABORT"})

    threading.Thread(target=abort).start()
    started = time.monotonic()
    changed = testapp.get("/rest/echo?LAST=10&WAIT=10", headers={"If-None-Match": etag})
    assert 0.3 < time.monotonic() - started < 8
    assert changed.status_int == 200 and changed.headers["ETag"] != etag
    assert (
        etree.fromstring(changed.body).findtext("uws:jobref/uws:phase", namespaces=NS) == "ABORTED"
    )


def test_wait_returns_when_a_job_is_created(testapp: UWSTestApp) -> None:
    create(testapp)
    etag = testapp.get("/rest/echo?LAST=10").headers["ETag"]
    threading.Timer(0.5, lambda: create(testapp)).start()
    started = time.monotonic()
    changed = testapp.get("/rest/echo?LAST=10&WAIT=10", headers={"If-None-Match": etag})
    assert time.monotonic() - started < 8
    assert len(ids(changed)) == 2


def test_wait_answers_at_once_when_the_client_holds_an_old_list(testapp: UWSTestApp) -> None:
    create(testapp)
    started = time.monotonic()
    response = testapp.get("/rest/echo?WAIT=10", headers={"If-None-Match": '"stale"'})
    assert time.monotonic() - started < 2 and len(ids(response)) == 1


def test_unchanged_list_is_a_304_with_or_without_wait(testapp: UWSTestApp) -> None:
    create(testapp)
    etag = testapp.get("/rest/echo?LAST=5").headers["ETag"]
    testapp.get("/rest/echo?LAST=5", headers={"If-None-Match": etag}, status=304)
    testapp.get("/rest/echo", headers={"If-None-Match": etag}, status=304)  # the same jobs
    started = time.monotonic()
    testapp.get("/rest/echo?WAIT=1", headers={"If-None-Match": etag}, status=304)
    assert time.monotonic() - started >= 0.9
    json_tag = testapp.get("/rest/echo?LAST=5", headers={"Accept": "application/json"}).headers[
        "ETag"
    ]
    assert json_tag != etag


def test_bad_wait_on_a_list_is_a_400(testapp: UWSTestApp) -> None:
    assert "WAIT" in testapp.get("/rest/echo?WAIT=soon", status=400).text


@pytest.mark.parametrize(
    "query", ["", "?PHASE=PENDING", "?PHASE=PENDING&PHASE=ABORTED", "?RUNID=r*"]
)
def test_whole_list_streams_in_batches_as_one_document(
    testapp: UWSTestApp, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    from uws_pyramid.web import joblists

    made = [create(testapp, RUNID=f"r{i}") for i in range(8)]
    for job in made[::3]:
        testapp.post(f"/rest/echo/{job}/phase", {"PHASE": "ABORT"})
    monkeypatch.setattr(joblists, "BATCH", 3)
    expected = ids(testapp.get("/rest/echo" + query + ("&" if query else "?") + "LAST=100"))
    for path in ("/rest/echo", "/rest"):
        streamed = testapp.get(path + query)  # validated against the schema, as every list
        assert "ETag" not in streamed.headers  # the streamed path: no version known before
        assert ids(streamed) == expected[::-1]
        json = testapp.get(path + query, headers={"Accept": "application/json"}).json
        assert [j["id"] for j in json["jobs"]] == expected[::-1]


def test_streamed_list_of_an_unknown_type_is_a_404(testapp: UWSTestApp) -> None:
    testapp.get("/rest/nosuchtype", status=404)


def test_json_list_text_carries_any_runid_and_owner() -> None:
    import json
    from datetime import datetime, timezone

    from uws_pyramid.jobs import JobRef, Phase
    from uws_pyramid.web.jsonform import job_list_json_parts

    when = datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=timezone.utc)
    refs = [
        JobRef("a b", "t/x", Phase.PENDING, 'q"\\ü\n\x01\u2028', "ö'<", when),
        JobRef("id2", "echo", Phase.ERROR, None, None, when),
    ]
    text = b"".join(job_list_json_parts([refs[:1], [], refs[1:]], "http://h/rest", True))
    assert json.loads(text) == {
        "version": "1.1",
        "jobs": [
            {
                "id": "a b",
                "href": "http://h/rest/t%2Fx/a%20b",
                "phase": "PENDING",
                "runId": 'q"\\ü\n\x01\u2028',
                "ownerId": "ö'<",
                "creationTime": "2026-01-02T03:04:05.120Z",
            },
            {
                "id": "id2",
                "href": "http://h/rest/echo/id2",
                "phase": "ERROR",
                "runId": None,
                "ownerId": None,
                "creationTime": "2026-01-02T03:04:05.120Z",
            },
        ],
    }


def test_head_of_a_streamed_list_has_no_body(testapp: UWSTestApp) -> None:
    create(testapp)
    response = testapp.head("/rest/echo")
    assert response.status_int == 200 and response.body == b""
    assert response.content_type == "application/xml"


def timed_jobs(app: Any, testapp: UWSTestApp, n: int) -> list[str]:
    """``n`` jobs started in the reverse order of their creation, the odd ones ended (in
    creation order); the last one never started."""
    for _ in range(n):
        create(testapp)
    made = ids(testapp.get("/rest/echo"))  # in creation order (ties of a millisecond by id)
    storage = app.registry.uws.storage
    t0 = utcnow()
    for i, job_id in enumerate(made[:-1]):
        start = t0 - timedelta(minutes=i)
        end = t0 + timedelta(minutes=i) if i % 2 else None
        storage.update(job_id, start_time=start, end_time=end)
    return made


def walk(testapp: UWSTestApp, url: str, rel: str = "next") -> list[list[str]]:
    """The pages from ``url`` on, following ``rel``."""
    pages: list[list[str]] = []
    next_page: str | None = url
    while next_page is not None:
        response = testapp.get(next_page)
        pages.append(ids(response))
        next_page = links(response).get(rel)
    return pages


@pytest.mark.parametrize("descending", [False, True])
def test_sorted_pages_by_start_and_end_time_in_both_directions(
    app: Any, testapp: UWSTestApp, descending: bool
) -> None:
    made = timed_jobs(app, testapp, 8)
    started = made[:-1][::-1]  # the last started first
    ended = made[1:-1:2]
    sign = "-" if descending else ""
    for sort, expected in (("startTime", started), ("endTime", ended)):
        expected = expected[::-1] if descending else expected
        assert ids(testapp.get(f"/rest/echo?SORT={sign}{sort}")) == expected  # streamed
        pages = walk(testapp, f"/rest/echo?SORT={sign}{sort}&LAST=3")
        assert [i for page in pages for i in page] == expected
        assert all(len(page) == 3 for page in pages[:-1])
        count = testapp.get(f"/rest/echo?SORT={sign}{sort}&LAST=3&COUNT=true")
        assert count.headers["X-Total-Count"] == str(len(expected))
    by_creation = ids(testapp.get(f"/rest/echo?SORT={sign}creationTime&LAST=3"))
    assert by_creation == (made[::-1][:3] if descending else made[:3])


def test_last_and_prev_pages_walk_back_to_the_first(app: Any, testapp: UWSTestApp) -> None:
    for _ in range(7):
        create(testapp)
    made = ids(testapp.get("/rest/echo"))  # in creation order (ties of a millisecond by id)
    first = testapp.get("/rest/echo?SORT=creationTime&LAST=3")
    assert set(links(first)) == {"first", "last", "next"}
    last = testapp.get(links(first)["last"])
    assert ids(last) == made[4:]  # the last 3, oldest first as the list
    assert "next" not in links(last)
    back = walk(testapp, links(last)["prev"], "prev")
    # 3 before the last page, then fewer than 3 are left: the first page, a full one,
    # without a prev link (the walk stops there).
    assert back == [made[1:4], made[:3]]
    # UWS's LAST (newest first): its last page is the oldest jobs, newest first.
    assert ids(testapp.get("/rest/echo?LAST=3&PAGE=last")) == made[:3][::-1]
    # Without LAST: the whole list, from the key on.
    assert ids(testapp.get("/rest/echo?SORT=creationTime&PAGE=last")) == made
    assert ids(testapp.get(links(last)["prev"].replace("LAST=3&", ""))) == made[:4]
    # A list shorter than a page: one page, no next or prev.
    assert set(links(testapp.get("/rest/echo?LAST=10&PAGE=last"))) == {"first", "last"}


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("SORT=size", "SORT"),
        ("SORT=-", "SORT"),
        ("LAST=3&PAGE=up:2026-01-01T00:00:00Z,a", "PAGE"),
        ("LAST=3&PAGE=next:yesterday,a", "PAGE"),
        ("LAST=3&PAGE=next:2026-01-01T00:00:00Z,a&BEFORE=2026-01-01T00:00:00Z,a", "PAGE"),
    ],
)
def test_bad_sort_or_page_is_a_400_naming_it(testapp: UWSTestApp, query: str, named: str) -> None:
    response = testapp.get(f"/rest/echo?{query}", status=400)
    assert named in response.text
