"""UWS 1.1 XML documents (job, job list, results, parameters), built as escaped UTF-8 text."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote as _quote

from uws_pyramid.jobs import ErrorSummary, Job, JobRef, Result

log = logging.getLogger(__name__)

__all__ = [
    "UWS_NS",
    "XLINK_NS",
    "XSI_NS",
    "UWS_VERSION",
    "format_time",
    "url_safe",
    "url_segment",
    "job_xml",
    "job_list_xml",
    "job_list_xml_parts",
    "results_xml",
    "parameters_xml",
]

UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
#: The only namespace whose attributes UWS 1.1 lets a result carry besides its own (not xlink's
#: title): a result's description goes there.
CUSTOM_NS = "urn:uwscustom"
UWS_VERSION = "1.1"

# Why text and not an lxml tree: for a list of 10,000 job refs, lxml's SubElement builder took
# 180-300 ms and xmlfile 85 ms on the development host, joined strings about a fifth of that.
# Every value goes through _text() or _attr(); tests parse and schema-validate every document.

#: No ``encoding`` pseudo-attribute: some parsers refuse it on already decoded text.
_DECLARATION = '<?xml version="1.0"?>\n'
_NAMESPACES = f'xmlns:uws="{UWS_NS}" xmlns:xlink="{XLINK_NS}" xmlns:xsi="{XSI_NS}"'
_NIL = ' xsi:nil="true"/>'

#: Characters that XML 1.0 cannot carry at all (C0 controls but tab/LF/CR, lone surrogates,
#: U+FFFE and U+FFFF); they are replaced by U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: Anything that makes a string need work before it goes into element text.
_TEXT_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: ... or into a double-quoted attribute value (where tab, LF and CR would be normalised away).
_ATTR_SPECIAL = re.compile('[&<>"\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
_ATTR_REFS = re.compile('[\t\n\r"]')
_ATTR_ESCAPES = {"\t": "&#9;", "\n": "&#10;", "\r": "&#13;", '"': "&quot;"}
#: A path segment that needs no percent-encoding (the job id alphabet is a subset).
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")
#: jobInfo keys that can be element names as they are (ASCII NCNames not starting with "xml").
_ELEMENT_NAME = re.compile(r"(?!(?i:xml))[A-Za-z_][A-Za-z0-9._-]*")


def format_time(dt: datetime) -> str:
    """``dt`` as UWS wants instants: UTC, ISO 8601 with ``T`` and ``Z``, milliseconds if non-zero.

    ``2026-11-23T09:15:35.123Z`` or ``2026-11-23T09:15:35Z``; finer digits are dropped.
    A naive datetime is a programming error (the domain keeps aware UTC times): ValueError.
    """
    if dt.tzinfo is not timezone.utc:
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError(f"naive datetime {dt!r}: UWS times must be timezone-aware")
        dt = dt.astimezone(timezone.utc)
    # isoformat() of an aware time: "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00"; slicing is the fast way.
    text = dt.isoformat()
    return text[:23] + "Z" if dt.microsecond >= 1000 else text[:19] + "Z"


def _text(value: str) -> str:
    """``value`` escaped for element content; characters XML cannot carry become U+FFFD."""
    if _TEXT_SPECIAL.search(value) is None:
        return value
    value = _NOT_XML.sub("\ufffd", value)
    # CR as a reference, or parsers turn it (and CRLF) into LF.
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace("\r", "&#13;")


def _attr(value: str) -> str:
    """``value`` escaped for a double-quoted attribute value; same replacement as _text()."""
    if _ATTR_SPECIAL.search(value) is None:
        return value
    value = _NOT_XML.sub("\ufffd", value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _ATTR_REFS.sub(lambda m: _ATTR_ESCAPES[m.group()], value)


def url_safe(value: str) -> bool:
    """Whether ``value`` is a URL path segment as it is (no percent-encoding needed)."""
    return _URL_SAFE.fullmatch(value) is not None


def url_segment(value: str) -> str:
    """``value`` as one URL path segment, percent-encoded only when it must be (so XML-safe)."""
    return value if _URL_SAFE.fullmatch(value) else _quote(value, safe="")


def _time_element(name: str, dt: datetime | None) -> str:
    """``<uws:name>time</uws:name>``, or ``<uws:name xsi:nil="true"/>`` for None."""
    if dt is None:
        return f"<uws:{name}{_NIL}"
    return f"<uws:{name}>{format_time(dt)}</uws:{name}>"


def _document(body: Iterable[str]) -> bytes:
    return (_DECLARATION + "".join(body)).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Job list


def type_segment(ref: JobRef) -> str:
    """``<type>/`` for links of a list that mixes job types (/rest)."""
    return url_segment(ref.job_type) + "/"


def job_list_xml(refs: Sequence[JobRef], list_url: str, by_type: bool = False) -> bytes:
    """The ``uws:jobs`` document of /{jobs}: one ``uws:jobref`` per job, in the given order."""
    return b"".join(job_list_xml_parts([refs], list_url, by_type))


def job_list_xml_parts(
    batches: Iterable[Sequence[JobRef]], list_url: str, by_type: bool = False
) -> Iterator[bytes]:
    """``job_list_xml`` of the jobs of every batch, one piece of UTF-8 per batch (a streamed
    response holds one batch at a time)."""
    base = _attr(list_url.rstrip("/")) + "/"
    url_safe = _URL_SAFE.fullmatch
    head = f'{_DECLARATION}<uws:jobs {_NAMESPACES} version="{UWS_VERSION}">'
    types: dict[str, str] = {}  # the link segment of each job type (a list has few)
    for refs in batches:
        parts = [head]
        head = ""
        append = parts.append
        for ref in refs:
            if by_type:
                segment = types.get(ref.job_type)
                if segment is None:
                    segment = types[ref.job_type] = type_segment(ref)
            else:
                segment = ""
            job_id = ref.job_id
            # Generated ids are URL-safe, hence XML-safe: one check instead of two escapes.
            if url_safe(job_id):
                id_attr = id_segment = job_id
            else:
                id_attr, id_segment = _attr(job_id), url_segment(job_id)
            run = "" if ref.run_id is None else f"<uws:runId>{_text(ref.run_id)}</uws:runId>"
            owner = (
                f"<uws:ownerId{_NIL}"
                if ref.owner_id is None
                else f"<uws:ownerId>{_text(ref.owner_id)}</uws:ownerId>"
            )
            append(
                f'<uws:jobref id="{id_attr}" xlink:href="{base}{segment}{id_segment}">'
                f"<uws:phase>{ref.phase}</uws:phase>{run}{owner}"
                f"<uws:creationTime>{format_time(ref.creation_time)}</uws:creationTime></uws:jobref>"
            )
        yield "".join(parts).encode("utf-8")
    yield (head + "</uws:jobs>").encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Parameters and results (each also a part of the job document)


def _parameters(
    job: Job, job_url: str | None, head: str = "", uploads: Collection[str] = ()
) -> list[str]:
    """``uws:parameters``; ``head`` goes into its start tag (namespaces when it is the root).

    Uploaded files (``uploads``: parameter names) are given by reference, as UWS 1.1 section
    2.2.3.1.1 asks: the value is the URL where the file's content is served."""
    if not job.parameters:
        return [f"<uws:parameters{head}/>"]
    parts = [f"<uws:parameters{head}>"]
    append = parts.append
    for name, value in job.parameters.items():
        if name not in uploads and _TEXT_SPECIAL.search(value) is None:
            # Most values: text as it is (what XML cannot carry is among the specials).
            append(f'<uws:parameter id="{_attr(name)}">{value}</uws:parameter>')
        elif job_url is not None and (name in uploads or _NOT_XML.search(value)):
            # UWS 1.1 section 2.2.2.4: a value that XML cannot carry is given by reference.
            href = f"{job_url.rstrip('/')}/parameters/{url_segment(name)}"
            append(
                f'<uws:parameter id="{_attr(name)}" byReference="true">'
                f"{_text(href)}</uws:parameter>"
            )
        else:
            append(f'<uws:parameter id="{_attr(name)}">{_text(value)}</uws:parameter>')
    append("</uws:parameters>")
    return parts


def _result(result: Result, base: str) -> str:
    extra = "" if result.size is None else f' size="{int(result.size)}"'
    if result.mime_type is not None:
        extra += f' mime-type="{_attr(result.mime_type)}"'
    if result.description:
        extra += f' xmlns:uwsc="{CUSTOM_NS}" uwsc:description="{_attr(result.description)}"'
    href = base + url_segment(result.id)
    return f'<uws:result id="{_attr(result.id)}" xlink:href="{href}"{extra}/>'


def _results(job: Job, results_base: str, head: str = "") -> list[str]:
    """``uws:results`` with links ``{results_base}/{id}``."""
    if not job.results:
        return [f"<uws:results{head}/>"]
    base = _attr(results_base.rstrip("/")) + "/"
    return [
        f"<uws:results{head}>",
        *(_result(result, base) for result in job.results),
        "</uws:results>",
    ]


def parameters_xml(job: Job, job_url: str | None = None, uploads: Collection[str] = ()) -> bytes:
    """The ``uws:parameters`` document of /{jobs}/{job-id}/parameters.

    A value with characters that XML 1.0 cannot carry (NUL, most C0 controls) is shown
    ``byReference="true"`` as ``{job_url}/parameters/{name}`` when ``job_url`` is given;
    without it those characters are replaced by U+FFFD.
    """
    return _document(_parameters(job, job_url, " " + _NAMESPACES, uploads))


def results_xml(job: Job, job_url: str) -> bytes:
    """The ``uws:results`` document of /{jobs}/{job-id}/results."""
    return _document(_results(job, _results_base(job_url), " " + _NAMESPACES))


def _results_base(job_url: str) -> str:
    return job_url.rstrip("/") + "/results"


# ---------------------------------------------------------------------------------------------
# Job


def _error_summary(error: ErrorSummary) -> str:
    kind = error.type
    if kind not in ("fatal", "transient"):
        log.warning("error type %r is not a UWS error type; shown as fatal", kind)
        kind = "fatal"
    detail = "true" if error.has_detail else "false"
    return (
        f'<uws:errorSummary type="{kind}" hasDetail="{detail}">'
        f"<uws:message>{_text(error.message)}</uws:message></uws:errorSummary>"
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _info_value(value: Any) -> str:
    """A jobInfo value as element text; None is an empty element (xsi:nil needs a declaration)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return json.dumps(value, ensure_ascii=False, default=_json_default, sort_keys=False)
    return str(value)


def _job_info(info: Mapping[str, Any]) -> Iterator[str]:
    """``uws:jobInfo``: one unqualified element per key (``<item key="...">`` if no XML name)."""
    yield "<uws:jobInfo>"
    for key, value in info.items():
        key = str(key)
        if _ELEMENT_NAME.fullmatch(key):
            start, end = f"<{key}", f"</{key}>"
        else:
            start, end = f'<item key="{_attr(key)}"', "</item>"
        text = _info_value(value)
        yield f"{start}/>" if not text else f"{start}>{_text(text)}{end}"
    yield "</uws:jobInfo>"


_NIL_QUOTE = f"<uws:quote{_NIL}"
_NIL_START = f"<uws:startTime{_NIL}"
_NIL_END = f"<uws:endTime{_NIL}"


def _job(job: Job, job_url: str, uploads: Collection[str]) -> list[str]:
    # One list, not a generator of a piece each: a job's GET builds this for every request.
    owner = job.owner_id
    parts = [
        f'{_DECLARATION}<uws:job {_NAMESPACES} version="{UWS_VERSION}">'
        f"<uws:jobId>{_text(job.job_id)}</uws:jobId>",
        # runId is optional but not nillable in the schema: absent when the client gave none.
        "" if job.run_id is None else f"<uws:runId>{_text(job.run_id)}</uws:runId>",
        f"<uws:ownerId{_NIL}" if owner is None else f"<uws:ownerId>{_text(owner)}</uws:ownerId>",
        f"<uws:phase>{job.phase}</uws:phase>",
        # The nil times written here: most jobs have some, each a call less.
        _NIL_QUOTE if job.quote is None else _time_element("quote", job.quote),
        _time_element("creationTime", job.creation_time),
        _NIL_START if job.start_time is None else _time_element("startTime", job.start_time),
        _NIL_END if job.end_time is None else _time_element("endTime", job.end_time),
        f"<uws:executionDuration>{int(job.execution_duration)}</uws:executionDuration>",
        _time_element("destruction", job.destruction),
    ]
    parts += _parameters(job, job_url, uploads=uploads)
    parts += _results(job, _results_base(job_url)) if job.results else ["<uws:results/>"]
    if job.error is not None:
        parts.append(_error_summary(job.error))
    if job.job_info:
        parts.extend(_job_info(job.job_info))
    parts.append("</uws:job>")
    return parts


def job_xml(job: Job, job_url: str, uploads: Collection[str] = ()) -> bytes:
    """The ``uws:job`` document of /{jobs}/{job-id}, elements in the schema's order; result
    links are ``{job_url}/results/{id}``, uploaded parameters are given by reference."""
    return "".join(_job(job, job_url, uploads)).encode("utf-8")
