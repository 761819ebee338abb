"""Reading UWS requests: case-insensitive names, control values, uploads, content negotiation."""
from __future__ import annotations

from typing import Any

from pyramid.request import Request

from ..errors import BadRequest, InvalidValue
from ..jobs import Phase
from ..service import CONTROL, Submission, Upload


def _fields(request: Request) -> list[tuple[str, Any]]:
    """Query string then body fields, in order (the body wins when a name repeats)."""
    fields = list(request.GET.items())
    if request.method == "POST":
        try:
            fields += list(request.POST.items())
        except Exception as exc:  # a malformed multipart or urlencoded body
            raise BadRequest(f"the request body could not be read as a form: {exc}") from None
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


def wants_json(request: Request) -> bool:
    offers = request.accept.acceptable_offers(["application/xml", "application/json"])
    return bool(offers) and offers[0][0] == "application/json"
