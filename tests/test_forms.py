"""Form bodies parsed while they stream (web/forms.py), and client mistakes that were 500s."""

from __future__ import annotations

import io
from typing import Any

import pytest

from uws_pyramid.errors import BadRequest, PayloadTooLarge
from uws_pyramid.web.forms import FilePart, Form, Limits, parse_multipart, parse_urlencoded

from .conftest import UWSTestApp, add_user

LIMITS = Limits(fields=5, value=10, file=100)
BOUNDARY = "xYz-123"
CONTENT_TYPE = f'multipart/form-data; boundary="{BOUNDARY}"'


def multipart(*parts: tuple[str, str | None, bytes], boundary: str = BOUNDARY) -> bytes:
    out = b"preamble\r\n"
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content
        out += b"\r\n"
    return out + f"--{boundary}--\r\nepilogue".encode()


class Trickle(io.RawIOBase):
    """A stream that gives ``step`` bytes per read: delimiters straddle every chunk border."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step = data, step

    def read(self, size: int = -1) -> bytes:
        chunk, self.data = self.data[: self.step], self.data[self.step :]
        return chunk


def parse(body: bytes, step: int = 1 << 20, limits: Limits = LIMITS) -> Form:
    form = Form()
    try:
        parse_multipart(Trickle(body, step), len(body), CONTENT_TYPE, limits, form)  # type: ignore[arg-type]
    except Exception:
        form.close()
        raise
    return form


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64, 1 << 20])
def test_multipart_fields_and_files_whatever_the_chunks(step: int) -> None:
    body = multipart(
        ("a", None, "é=1".encode()), ("f", "x.txt", b"--xYz-12\r\n\r\nfile"), ("a", None, b"")
    )
    form = parse(body, step)
    assert form.fields.getall("a") == ["é=1", ""]
    part = form.fields["f"]
    assert isinstance(part, FilePart) and part.filename == "x.txt"
    assert part.file.read() == b"--xYz-12\r\n\r\nfile"
    form.close()
    assert part.file.closed and form.files == []


@pytest.mark.parametrize(
    "body, message",
    [
        (multipart(*[("p", None, b"1")] * 6), "too many parameters: more than 5"),
        (multipart(("p", None, b"x" * 41)), "'p' has more than 10 characters"),
        (multipart(("p", None, b"\xff")), "not UTF-8"),
        (multipart(("p", None, b"1")).replace(b"form-data;", b"inline;"), "Content-Disposition"),
        (multipart(("p", None, b"1"))[:-12], "ended"),
        (b"no delimiter at all", "no part"),
        (b"--" + BOUNDARY.encode() + b"\r\n" + b"X: y\r\n" * 2000, "headers of a multipart part"),
    ],
)
def test_multipart_refusals_are_400(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse(body, 100)


def test_a_file_over_the_limit_is_413_and_closed() -> None:
    files: list[Any] = []
    form = Form()
    body = multipart(("small", "a", b"1"), ("big", "b", b"x" * 101))
    with pytest.raises(PayloadTooLarge, match="parameter big .* 100 bytes"):
        parse_multipart(io.BytesIO(body), len(body), CONTENT_TYPE, LIMITS, form)
    files = list(form.files)
    form.close()
    assert len(files) == 2 and all(f.closed for f in files)


def test_counting_stops_reading_at_the_limit() -> None:
    body = multipart(*[("p", "f", b"1")] * 10_000)
    stream = io.BytesIO(body)
    with pytest.raises(BadRequest, match="too many"):
        parse_multipart(stream, len(body), CONTENT_TYPE, LIMITS, Form())
    assert stream.tell() < 70_000  # one chunk, not the whole body


@pytest.mark.parametrize("step", [1, 5, 1 << 20])
def test_urlencoded(step: int) -> None:
    body = b"a=1&b=%C3%A9+x&&c&a="
    form = Form()
    parse_urlencoded(Trickle(body, step), len(body), LIMITS, form)  # type: ignore[arg-type]
    assert list(form.fields.items()) == [("a", "1"), ("b", "é x"), ("c", ""), ("a", "")]


@pytest.mark.parametrize(
    "body, message",
    [
        (b"&".join([b"p=1"] * 6), "too many parameters"),
        (b"p=" + b"x" * 41, "more than 10 characters"),
        (b"p=" + b"x" * 1000, "more than 10 characters"),
        (b"p=%FF", "not UTF-8"),
    ],
)
def test_urlencoded_refusals(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_urlencoded(Trickle(body, 7), len(body), LIMITS, Form())  # type: ignore[arg-type]


def test_a_body_shorter_than_announced_is_400() -> None:
    with pytest.raises(BadRequest, match="Content-Length"):
        parse_urlencoded(io.BytesIO(b"a=1"), 10, LIMITS, Form())


# -- through the application --------------------------------------------------------------


def test_login_and_events_take_small_bodies_only(testapp: UWSTestApp, app: Any) -> None:
    add_user(app, "alice", "alice-secret-1")
    padding = "x" * 9000
    refused = testapp.post("/login", {"username": "alice", "password": padding}, status=413)
    assert "uws.limits.unauthenticated_body" in refused.text
    testapp.post("/events/abc", {"event": padding}, status=413)
    # A job's creation takes the ordinary limits.
    testapp.post("/rest/echo", {"message": "x" * 9000}, status=303)


def test_a_16_mb_login_is_refused_unread(testapp: UWSTestApp) -> None:
    body = b"a=1&" * (4 << 20)
    refused = testapp.post(
        "/login", body, status=413, content_type="application/x-www-form-urlencoded"
    )
    assert f"has {len(body)} bytes" in refused.text


def test_too_many_fields_in_a_multipart_job_creation(testapp: UWSTestApp, app: Any) -> None:
    files = [("f", "f.txt", b"1")] * 500
    refused = testapp.post("/rest/echo", upload_files=files, status=400)
    assert "uws.limits.parameters" in refused.text
    assert testapp.get("/rest/echo").text.count("<uws:jobref") == 0


def test_last_beyond_an_sql_integer_is_400(testapp: UWSTestApp) -> None:
    refused = testapp.get("/rest/echo?LAST=99999999999999999999999", status=400)
    assert "LAST" in refused.text and "at most 2147483647" in refused.text
    testapp.get("/rest/echo?LAST=2147483647", status=200)


def test_destruction_past_the_year_9999_is_400(testapp: UWSTestApp) -> None:
    url = testapp.post("/rest/echo", {"message": "hi"}, status=303).location
    refused = testapp.post(
        url + "/destruction", {"DESTRUCTION": "9999-12-31T23:59:59-01:00"}, status=400
    )
    assert "DESTRUCTION" in refused.text and "year 10000" in refused.text
    testapp.post("/rest/echo", {"DESTRUCTION": "9999-12-31T23:59:59-01:00"}, status=400)


def test_destruction_before_the_year_1_is_400_saying_so(testapp: UWSTestApp) -> None:
    """0001-01-01T00:00:00+14:00 is in the year 0 in UTC: the answer spoke of the year 10000."""
    url = testapp.post("/rest/echo", {"message": "hi"}, status=303).location
    refused = testapp.post(
        url + "/destruction", {"DESTRUCTION": "0001-01-01T00:00:00+14:00"}, status=400
    )
    assert "DESTRUCTION" in refused.text and "from the year 1 on" in refused.text
    assert "10000" not in refused.text


def test_login_next_beyond_latin_1_is_percent_encoded(testapp: UWSTestApp, app: Any) -> None:
    add_user(app, "alice", "alice-secret-1")
    form = {"username": "alice", "password": "alice-secret-1", "next": "/client/job.html?n=ā b"}
    done = testapp.post("/login", form, status=303)
    assert done.location.endswith("/client/job.html?n=%C4%81%20b")


@pytest.mark.parametrize("path", ["/jdl/%80", "/client/%FF", "/rest/echo/%C3"])
def test_a_path_that_is_not_utf8_is_400(testapp: UWSTestApp, path: str) -> None:
    # Found by tests/test_hostile_inputs.py: the fault view and the client's response
    # headers decoded the path again, and the error escaped as a bare 500.
    refused = testapp.get(path, status=400)
    assert "not UTF-8" in refused.text
