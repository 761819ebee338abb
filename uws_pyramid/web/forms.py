"""Reading form bodies (urlencoded and multipart) while they stream, within fixed limits.

WebOb parses a whole body before anybody can count what it holds, and leaves the temporary
files of its file parts to the garbage collector. Here every field is counted as it is read,
parsing stops at the first limit passed, small files stay in memory, and every file made is
closed when the request ends (``close_files``), whatever happened in between."""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from webob.multidict import MultiDict

from ..errors import BadRequest, PayloadTooLarge

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
#: Files up to this size stay in memory: a body of many small files holds no descriptor.
SPOOL = 256 * 1024
#: The header block of one multipart part (Content-Disposition, Content-Type).
PART_HEADERS = 8 * 1024
_BOUNDARY = re.compile(r"^[ -~]{0,69}[!-~]$")
_PARAM = re.compile(r';\s*([A-Za-z0-9_*.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


@dataclass(frozen=True)
class Limits:
    """What one form may hold: fields (files included), characters of a value (bounded while
    reading by the 4 bytes UTF-8 may take per character), bytes of a file."""

    fields: int
    value: int
    file: int
    fields_setting: str = "uws.limits.parameters"


@dataclass
class FilePart:
    """A file sent in a multipart body (what views test with ``filename`` and ``file``)."""

    name: str
    filename: str
    file: IO[bytes]
    type: str = "application/octet-stream"

    def __repr__(self) -> str:
        return f"FilePart({self.name!r}, {self.filename!r})"


@dataclass
class Form:
    """The parsed fields in order, and every file opened for them (closed by ``close``)."""

    fields: MultiDict = field(default_factory=MultiDict)
    files: list[IO[bytes]] = field(default_factory=list)

    def room(self, limits: Limits) -> None:
        """BadRequest when the form holds as many fields as it may already."""
        if len(self.fields) >= limits.fields:
            raise BadRequest(
                f"too many parameters: more than {limits.fields} in the request body "
                f"({limits.fields_setting})"
            )

    def add(self, name: str, value: Any, limits: Limits) -> None:
        self.room(limits)
        self.fields.add(name, value)

    def close(self) -> None:
        for file in self.files:
            try:
                file.close()
            except OSError:  # closing never fails the request
                log.warning("could not close a temporary file of a form", exc_info=True)
        self.files.clear()


def _too_long(name: str, limits: Limits) -> BadRequest:
    return BadRequest(
        f"the value of {name[:80]!r} has more than {limits.value} characters "
        "(uws.limits.parameter_length)"
    )


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"the {what} is not UTF-8 text") from None


class _Reader:
    """At most ``length`` bytes of ``stream``, in chunks."""

    def __init__(self, stream: IO[bytes], length: int) -> None:
        self.stream = stream
        self.left = length

    def read(self) -> bytes:
        if self.left <= 0:
            return b""
        chunk = self.stream.read(min(_CHUNK, self.left))
        if not chunk:
            raise BadRequest("the request body ended before its Content-Length")
        self.left -= len(chunk)
        return chunk


def parse_urlencoded(stream: IO[bytes], length: int, limits: Limits, form: Form) -> None:
    """``name=value&...`` read chunk by chunk; a field is checked as soon as it is complete."""
    reader = _Reader(stream, length)
    # A value's percent-encoding may triple its size; a name is no longer than a value.
    longest = 3 * 4 * limits.value * 2 + 1
    pending = b""
    while chunk := reader.read():
        *complete, pending = (pending + chunk).split(b"&")
        for piece in complete:
            _add_pair(piece, limits, form)
        if len(pending) > longest:
            name = pending.partition(b"=")[0][:80].decode("utf-8", "replace")
            raise _too_long(name, limits)
    _add_pair(pending, limits, form)


def _add_pair(piece: bytes, limits: Limits, form: Form) -> None:
    if not piece:
        return
    name, _, value = piece.partition(b"=")
    name_text = _text(unquote_to_bytes(name.replace(b"+", b" ")), "name of a field")
    value_bytes = unquote_to_bytes(value.replace(b"+", b" "))
    if len(value_bytes) > 4 * limits.value:
        raise _too_long(name_text, limits)
    form.add(name_text, _text(value_bytes, f"value of {name_text[:80]!r}"), limits)


def boundary_of(content_type: str) -> bytes:
    params = dict((k.lower(), v.strip().strip('"')) for k, v in _PARAM.findall(content_type))
    boundary = params.get("boundary", "")
    if not _BOUNDARY.match(boundary):
        raise BadRequest("a multipart/form-data body needs a valid boundary in its Content-Type")
    return boundary.encode("ascii")


def parse_multipart(
    stream: IO[bytes], length: int, content_type: str, limits: Limits, form: Form
) -> None:
    """RFC 7578 parts, read as they arrive: each part's headers, then its content, which goes
    to a str (fields) or a spooled temporary file (parts with a filename)."""
    boundary = boundary_of(content_type)
    reader = _Reader(stream, length)
    delimiter = b"\r\n--" + boundary
    # The body is taken to start with CRLF so that the first delimiter looks like the others.
    buffer = b"\r\n"
    # Skip the preamble up to the first delimiter.
    buffer = _skip_to(reader, buffer, delimiter)
    while True:
        # After a delimiter: "--" ends the body, else CRLF then the part's headers.
        buffer = _fill(reader, buffer, 2)
        if buffer.startswith(b"--"):
            return
        end = buffer.find(b"\r\n\r\n")
        while end < 0:
            if len(buffer) > PART_HEADERS:
                raise BadRequest(f"the headers of a multipart part exceed {PART_HEADERS} bytes")
            more = reader.read()
            if not more:
                raise BadRequest("the multipart body ended inside the headers of a part")
            buffer += more
            end = buffer.find(b"\r\n\r\n")
        headers, buffer = buffer[:end], buffer[end + 4 :]
        name, filename, part_type = _part_headers(headers)
        form.room(limits)  # before reading the part
        if filename is None:
            content, buffer = _read_value(reader, buffer, delimiter, limits, name)
            form.add(name, _text(content, f"value of {name[:80]!r}"), limits)
        else:
            file = tempfile.SpooledTemporaryFile(SPOOL)
            form.files.append(file)  # type: ignore[arg-type]
            buffer = _copy_file(reader, buffer, delimiter, limits, name, file)  # type: ignore[arg-type]
            file.seek(0)
            form.add(name, FilePart(name, filename, file, part_type), limits)  # type: ignore[arg-type]


def _fill(reader: _Reader, buffer: bytes, size: int) -> bytes:
    while len(buffer) < size:
        more = reader.read()
        if not more:
            raise BadRequest("the multipart body ended without its closing delimiter")
        buffer += more
    return buffer


def _skip_to(reader: _Reader, buffer: bytes, delimiter: bytes) -> bytes:
    while True:
        at = buffer.find(delimiter)
        if at >= 0:
            return buffer[at + len(delimiter) :]
        buffer = buffer[-len(delimiter) :]
        more = reader.read()
        if not more:
            raise BadRequest("the multipart body holds no part (no delimiter found)")
        buffer += more


def _part_headers(block: bytes) -> tuple[str, str | None, str]:
    """The field name, the filename (None for a field) and the type of one part."""
    disposition, part_type = "", "application/octet-stream"
    for line in _text(block, "header block of a multipart part").split("\r\n")[1:] or []:
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-disposition":
            disposition = value.strip()
        elif key.strip().lower() == "content-type":
            part_type = value.strip()[:200] or part_type
    if not disposition.lower().startswith("form-data"):
        raise BadRequest("a multipart part has no 'Content-Disposition: form-data' header")
    params: dict[str, str] = {}
    for key, raw in _PARAM.findall(disposition):
        value = raw.strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[key.lower()] = value
    if "name" not in params:
        raise BadRequest("a multipart part has no name in its Content-Disposition")
    return params["name"], params.get("filename"), part_type


def _read_value(
    reader: _Reader, buffer: bytes, delimiter: bytes, limits: Limits, name: str
) -> tuple[bytes, bytes]:
    content = bytearray()

    def sink(data: bytes) -> None:
        content.extend(data)
        if len(content) > 4 * limits.value:
            raise _too_long(name, limits)

    rest = _until(reader, buffer, delimiter, sink)
    return bytes(content), rest


def _copy_file(
    reader: _Reader, buffer: bytes, delimiter: bytes, limits: Limits, name: str, file: IO[bytes]
) -> bytes:
    size = 0

    def sink(data: bytes) -> None:
        nonlocal size
        size += len(data)
        if size > limits.file:
            raise PayloadTooLarge(
                f"the file of parameter {name[:80]} is larger than the limit of {limits.file} "
                "bytes (uws.limits.upload)"
            )
        file.write(data)

    return _until(reader, buffer, delimiter, sink)


def _until(reader: _Reader, buffer: bytes, delimiter: bytes, sink: Any) -> bytes:
    """Give ``sink`` the content up to the next delimiter; return what follows it."""
    keep = len(delimiter) - 1  # a delimiter may straddle two chunks
    while True:
        at = buffer.find(delimiter)
        if at >= 0:
            sink(buffer[:at])
            return buffer[at + len(delimiter) :]
        if len(buffer) > keep:
            sink(buffer[:-keep])
            buffer = buffer[-keep:]
        more = reader.read()
        if not more:
            raise BadRequest("the multipart body ended inside a part")
        buffer += more
