"""Reading UWS requests: case-insensitive names, control values, uploads, content negotiation."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from pyramid.request import Request
from webob.multidict import GetDict, MultiDict, NoVars

from ..errors import BadRequest, InvalidValue, PayloadTooLarge, UWSError
from ..jdl.datatypes import NOT_XML
from ..jobs import Phase
from ..service import JobService
from ..submission import CONTROL, Submission, Upload, resolve_inline
from .forms import Form, Limits, parse_multipart, parse_urlencoded

#: Routes that serve callers before (or without) authentication: small bodies only.
PRE_AUTH_ROUTES = frozenset({"login", "logout", "job_event"})
_FORM = "uws.form"


class UWSRequest(Request):
    """Pyramid's request, with the job service and a form parser that counts and bounds
    what it reads."""

    @property
    def jobs(self) -> JobService:
        """The job service (a property of the class: Pyramid's ``add_request_method`` with
        ``reify`` would build a new request class for every request, 20 us each)."""
        return self.registry.uws.service  # type: ignore[no-any-return]

    @property
    def GET(self) -> GetDict:  # type: ignore[override]
        """The query's fields (WebOb's), or a 400 naming the field that is not UTF-8 (WebOb
        raised UnicodeDecodeError: a 500)."""
        try:
            return super().GET
        except UnicodeDecodeError:
            raise BadRequest(_not_utf8(self.environ.get("QUERY_STRING", ""))) from None

    @property
    def POST(self) -> MultiDict | NoVars:  # type: ignore[override]
        """The body's fields (WebOb's interface), parsed once, within the limits: at most
        ``uws.limits.parameters`` fields, values and files within their own limits, and the
        small ``uws.limits.unauthenticated_body`` on the routes that serve callers before
        authentication. Files are closed when the request ends."""
        found = self.environ.get(_FORM)
        if isinstance(found, UWSError):
            raise found  # the body is read once: asked again, the same answer
        if found is not None:
            return found  # type: ignore[no-any-return]
        content_type = (self.content_type or "").lower()
        multipart = content_type == "multipart/form-data"
        urlencoded = content_type == "application/x-www-form-urlencoded" or (
            content_type == "" and self.method == "POST"
        )
        if not (multipart or urlencoded):
            return NoVars(f"not an HTML form submission (Content-Type: {content_type})")
        settings = self.registry.uws_settings
        route = self.matched_route.name if self.matched_route is not None else None
        if route in PRE_AUTH_ROUTES:
            most, setting = settings.limit_unauthenticated_body, "uws.limits.unauthenticated_body"
        else:
            most, setting = settings.limit_body, "uws.limits.body"
        length = self.content_length or 0
        if length > most:
            raise PayloadTooLarge(
                f"the request body has {length} bytes; at most {most} are accepted here ({setting})"
            )
        limits = Limits(
            settings.limit_parameters, settings.limit_parameter_length, settings.limit_upload
        )
        form = Form()
        # Registered first: the files are closed whatever happens from here on.
        self.add_finished_callback(lambda request: form.close())
        stream = self.body_file_raw
        if self.is_body_seekable:
            stream.seek(0)
        try:
            if multipart:
                content_type = self.headers.get("Content-Type", "")
                parse_multipart(stream, length, content_type, limits, form)
            else:
                parse_urlencoded(stream, length, limits, form)
        except UWSError as exc:
            self.environ[_FORM] = exc
            raise
        self.environ[_FORM] = form.fields
        # Whatever else asks WebOb for the form (request.params) gets this one.
        self.environ["webob._parsed_post_vars"] = (form.fields, self.body_file_raw)
        return form.fields


_NOT_UTF8 = "is not UTF-8 text (percent-encode UTF-8 bytes)"


def _not_utf8(query: str) -> str:
    """What of the query (a WSGI string: its bytes as Latin-1) is not UTF-8."""
    for piece in query.encode("latin-1").split(b"&"):
        name, _, value = (unquote_to_bytes(p.replace(b"+", b" ")) for p in piece.partition(b"="))
        try:
            text = name.decode("utf-8")
        except UnicodeDecodeError:
            return f"the name of a query parameter {_NOT_UTF8}"
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return f"the value of query parameter {text[:80]!r} {_NOT_UTF8}"
    return f"the query {_NOT_UTF8}"


def _fields(request: Request) -> list[tuple[str, Any]]:
    """Query string then body fields, in order (the body wins when a name repeats)."""
    fields = list(request.GET.items())
    if request.method == "POST":
        fields += list(request.POST.items())
    return fields


def submission(request: Request) -> Submission:
    """Split a POST into UWS control values (upper-case names) and job parameters."""
    sub = Submission()
    for name, value in _fields(request):
        upper = name.upper()
        if hasattr(value, "filename") and hasattr(value, "file"):
            sub.uploads.append(Upload(name, value.filename or name, value.file))
        elif upper in CONTROL:
            _set_once(sub.control, upper, value)
        else:
            _set_once(sub.parameters, name, value)
    resolve_inline(sub)
    run_id = sub.control.get("RUNID")
    if run_id is not None and NOT_XML.search(run_id):
        # It is shown in UWS XML documents, which cannot carry these characters.
        raise InvalidValue("RUNID", "text without control characters", run_id)
    return sub


def _set_once(values: dict[str, str], name: str, value: str) -> None:
    """Every parameter has one value: a name repeated with another value is ambiguous."""
    previous = values.setdefault(name, value)
    if previous != value:
        raise BadRequest(
            f"parameter {name} is given twice ({previous!r} and {value!r}): give it once"
        )


def query_values(request: Request, name: str) -> list[str]:
    """Every value of a query parameter, whatever the case of its name."""
    if not request.environ.get("QUERY_STRING"):
        return []  # most requests: no parsing (WebOb's GET is a tenth of a job's GET)
    upper = name.upper()
    return [v for k, v in request.GET.items() if k.upper() == upper]


def query_value(request: Request, name: str) -> str | None:
    values = query_values(request, name)
    return values[-1] if values else None


def parse_phase(name: str, text: str) -> Phase:
    phase = Phase.parse(text)
    if phase is None:
        expected = "one of " + ", ".join(p.value for p in Phase)
        raise InvalidValue(name, expected, text)
    return phase


#: Application URLs by what WebOb builds them from (see application_url); a client choosing
#: its Host header could make many, so the cache is emptied when it fills.
_APP_URLS: dict[tuple[str | None, ...], str] = {}
_APP_URLS_MOST = 64


def application_url(request: Request) -> str:
    """``request.application_url``, kept by the environ's values it is built from: WebOb
    builds it anew for every request, in a tenth of a job GET's Python calls."""
    environ = request.environ
    key = (
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_HOST"),
        environ.get("SERVER_NAME"),
        environ.get("SERVER_PORT"),
        environ.get("SCRIPT_NAME"),
    )
    url = _APP_URLS.get(key)
    if url is None:
        url = request.application_url
        if len(_APP_URLS) >= _APP_URLS_MOST:
            _APP_URLS.clear()
        _APP_URLS[key] = url
    return url


def wants_json(request: Request) -> bool:
    # Without "json" in Accept, XML wins or ties (and comes first): skip WebOb's parser,
    # a tenth of a job's GET (and its header mapping: the environ has the header).
    if "json" not in request.environ.get("HTTP_ACCEPT", ""):
        return False
    offers = request.accept.acceptable_offers(["application/xml", "application/json"])
    return bool(offers) and offers[0][0] == "application/json"
