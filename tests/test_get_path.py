"""The job GET's shortcuts (issue 14) answer what Pyramid's and WebOb's general paths answer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pyramid.request import Request

from uws_pyramid.jdl.model import ParameterSpec
from uws_pyramid.jobs import Job
from uws_pyramid.web import requests
from uws_pyramid.web.requests import application_url
from uws_pyramid.web.views import document_response, job_url

from .conftest import UWSTestApp


def create(testapp: UWSTestApp, **extra: Any) -> str:
    location: str = testapp.post("/rest/echo", {"message": "hi"}, status=303, **extra).location
    return location


def test_job_urls_follow_the_host_scheme_and_script_name(app: Any) -> None:
    hosts = ["example.org", "example.org:8080", "other.example:443", "[::1]:6543"]
    for scheme in ("http", "https"):
        for host in hosts:
            for script in ("", "/uws", "/a b"):
                environ = {"wsgi.url_scheme": scheme, "HTTP_HOST": host, "SCRIPT_NAME": script}
                request = Request.blank("/rest/echo/x", environ)
                request.registry = app.registry
                job = Job(job_id="abc123", job_type="echo")
                # Twice: the second answer comes from the cache.
                for _ in range(2):
                    assert application_url(request) == request.application_url
                    assert job_url(request, job) == request.route_url(
                        "job", jobtype="echo", job_id="abc123"
                    )


def test_job_urls_without_a_host_header_use_the_server_name(app: Any) -> None:
    request = Request.blank("/", {"SERVER_NAME": "srv", "SERVER_PORT": "81"})
    del request.environ["HTTP_HOST"]
    request.registry = app.registry
    job = Job(job_id="abc", job_type="echo")
    assert job_url(request, job) == "http://srv:81/rest/echo/abc"


def test_segments_that_need_quoting_are_quoted_as_pyramid_does(app: Any) -> None:
    request = Request.blank("/")
    request.registry = app.registry
    for job_type, job_id in [("my type", "abc"), ("echo", "a/b?c"), ("é", "x"), ("echo", "")]:
        job = Job(job_id=job_id, job_type=job_type)
        expected = request.route_url("job", jobtype=job_type, job_id=job_id)
        assert job_url(request, job) == expected


def test_the_application_url_cache_stays_small(app: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(requests, "_APP_URLS", {})
    for i in range(3 * requests._APP_URLS_MOST):
        request = Request.blank("/", {"HTTP_HOST": f"host{i}.example"})
        assert application_url(request) == f"http://host{i}.example"
        assert len(requests._APP_URLS) <= requests._APP_URLS_MOST


def test_job_document_headers_and_location(testapp: UWSTestApp) -> None:
    url = create(testapp, extra_environ={"HTTP_HOST": "uws.example:8080"})
    assert url.startswith("http://uws.example:8080/rest/echo/")
    response = testapp.get(url)
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert response.headers["Content-Length"] == str(len(response.body))
    assert response.body.startswith(b'<?xml version="1.0"?>\n<uws:job ')
    head = testapp.head(url)
    assert head.headers["Content-Length"] == str(len(response.body)) and head.body == b""
    json = testapp.get(url, headers={"Accept": "application/json"})
    assert json.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.json["jobId"] == url.rsplit("/", 1)[1]


def test_document_response_is_a_plain_200() -> None:
    response = document_response(b"<x/>", "application/xml; charset=utf-8")
    assert response.status == "200 OK"
    assert response.body == b"<x/>" and response.content_length == 4
    assert response.charset == "utf-8"
    assert response.headerlist == [
        ("Content-Type", "application/xml; charset=utf-8"),
        ("Content-Length", "4"),
    ]


def test_uploads_are_found_again_after_a_description_changes(app: Any) -> None:
    service = app.registry.uws.service
    job = Job(job_id="abc", job_type="echo")
    first = service.uploads(job)
    assert service.uploads(job) is first  # kept while the description is the same object
    descriptions = service.descriptions
    jd = descriptions.get("echo")
    infile = ParameterSpec(name="infile", type="file")
    changed = replace(jd, parameters=(*jd.parameters, infile))
    original_get = descriptions.get
    descriptions.get = lambda name: changed if name == "echo" else original_get(name)
    try:
        assert "infile" in service.uploads(job)
    finally:
        descriptions.get = original_get
    assert "infile" not in service.uploads(job)
    assert service.uploads(Job(job_id="abc", job_type="no-such-type")) == frozenset()


def test_a_get_with_an_announced_body_over_the_limit_is_413(testapp: UWSTestApp) -> None:
    url = create(testapp)
    limit = testapp.app.registry.uws_settings.limit_body
    testapp.get(url, extra_environ={"CONTENT_LENGTH": str(limit + 1)}, status=413)
    testapp.get(url, extra_environ={"CONTENT_LENGTH": "0"}, status=200)
    testapp.get(url, extra_environ={"CONTENT_LENGTH": ""}, status=200)
