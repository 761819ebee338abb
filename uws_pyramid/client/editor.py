"""The job description editor's endpoints: PUT /jdl/{jobtype}, GET /jdl/{jobtype}/script."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from pyramid.request import Request
from pyramid.response import Response

from ..errors import BadRequest, Forbidden, NotFound
from ..jdl import JDLError, JobDescription, ParameterSpec, ResultSpec, write_wadl
from ..jdl.model import JOB_NAME, UsedSpec

log = logging.getLogger(__name__)

DISABLED = "the job description editor is disabled on this service (setting uws.editor)"


def json_response(value: object) -> Response:
    body = json.dumps(value, ensure_ascii=False).encode("utf-8")
    return Response(body=body, content_type="application/json", charset="utf-8")


def require_editor(request: Request) -> None:
    if not request.registry.uws_settings.editor:
        raise Forbidden(DISABLED)


def _text(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where}: {key} must be text")
    return value


def _optional(item: Mapping[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    text = _text({key: value}, key, where).strip()
    return text or None


def _seconds(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"{key} must be a whole number of seconds, not {value!r}")


def _objects(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise ValueError(f"{key} must be a list of objects")
    return items


def _parameter(item: Mapping[str, Any]) -> ParameterSpec:
    name = _text(item, "name", "a parameter").strip()
    where = f"parameter {name or '(no name)'}"
    choices = item.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise ValueError(f"{where}: choices must be a list of texts")
    return ParameterSpec(
        name=name,
        type=_optional(item, "type", where) or "xs:string",
        required=bool(item.get("required")),
        default=_optional(item, "default", where),
        description=_text(item, "description", where),
        min=_optional(item, "min", where),
        max=_optional(item, "max", where),
        choices=tuple(c.strip() for c in choices if c.strip()),
        unit=_text(item, "unit", where).strip(),
        ucd=_text(item, "ucd", where).strip(),
    )


def _result(item: Mapping[str, Any]) -> ResultSpec:
    rid = _text(item, "id", "a result").strip()
    where = f"result {rid or '(no id)'}"
    return ResultSpec(
        id=rid,
        mime_type=_optional(item, "mime_type", where) or "text/plain",
        default=_text(item, "default", where).strip(),
        description=_text(item, "description", where),
        required=bool(item.get("required")),
        role=_text(item, "role", where),
    )


def _used(item: Mapping[str, Any]) -> UsedSpec:
    name = _text(item, "name", "a used entity").strip()
    where = f"used entity {name or '(no name)'}"
    return UsedSpec(
        name,
        **{
            key: _text(item, key, where)
            for key in (
                "ref",
                "description",
                "role",
                "multiplicity",
                "default",
                "content_type",
                "url",
            )
        },
    )


def _texts(data: Mapping[str, Any], key: str) -> dict[str, str]:
    value = data.get(key) or {}
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"{key} must be an object of texts")
    return {str(k): v for k, v in value.items()}


def description_from_json(data: Any) -> JobDescription:
    """The inverse of JobDescription.to_json(); ValueError names the faulty field."""
    if not isinstance(data, Mapping):
        raise ValueError("the description must be a JSON object")
    return JobDescription(
        name=_text(data, "name", "the job type").strip(),
        description=_text(data, "description", "the job type"),
        version=_text(data, "version", "the job type"),
        parameters=tuple(_parameter(p) for p in _objects(data, "parameters")),
        results=tuple(_result(r) for r in _objects(data, "results")),
        execution_duration=_seconds(data, "execution_duration"),
        max_execution_duration=_seconds(data, "max_execution_duration"),
        quote=_seconds(data, "quote"),
        destruction=_seconds(data, "destruction"),
        options=_texts(data, "options"),
        used=tuple(_used(u) for u in _objects(data, "used")),
        info=_texts(data, "info"),
    )


def _read_body(request: Request, name: str) -> tuple[JobDescription, str | None]:
    """A JSON body ``{"description": {...}, "script": "..." | null}`` or a WADL document."""
    content_type = request.content_type or ""
    try:
        if content_type == "application/json":
            try:
                body = json.loads(request.body or b"null")
            except ValueError as exc:
                raise ValueError(f"the body is not JSON: {exc}") from None
            if not isinstance(body, Mapping):
                raise ValueError('the body must be {"description": {...}, "script": "..."}')
            script = body.get("script")
            if script is not None and not isinstance(script, str):
                raise ValueError("script must be text or null")
            jd = description_from_json(body.get("description"))
        elif content_type in ("application/xml", "text/xml", "application/x-votable+xml"):
            kind = request.jobs.descriptions.format(
                "votable" if b"<VOTABLE" in request.body[:4096] else "wadl"
            )
            jd, script = kind.read(request.body, f"{name}{kind.suffix}"), None
        else:
            raise BadRequest(
                "send the description as application/json, or as a WADL or "
                "VOTable document (application/xml)"
            )
    except JDLError as exc:
        raise BadRequest(f"invalid job description: {exc.reason}") from None
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"invalid job description: {exc}") from None
    if jd.name != name:
        raise BadRequest(f"the description's name {jd.name!r} differs from {name!r} in the URL")
    return jd, script


def put_description(request: Request) -> Response:
    """Check (``?check=1``) or save and activate a job description; the previous one is kept."""
    require_editor(request)
    name = request.matchdict["jobtype"]
    if not JOB_NAME.match(name):
        raise BadRequest(f"{name!r} is not a valid job type name")
    jd, script = _read_body(request, name)
    wadl = write_wadl(jd)
    kind = request.jobs.descriptions.format_of(name)
    check = request.GET.get("check", "").lower() in ("1", "true", "yes")
    if not check:
        if script is not None and not script.strip():
            raise BadRequest("invalid job description: the script is empty")
        try:
            request.jobs.descriptions.save(jd, script)
        except JDLError as exc:
            raise BadRequest(f"invalid job description: {exc.reason}") from None
        log.info("job description %s saved through the editor", name)
    # "wadl": the description as WADL (what the editor shows); "document": as it is saved.
    return json_response(
        {
            "name": name,
            "wadl": wadl.decode("utf-8"),
            "format": kind.name,
            "document": kind.write(jd).decode("utf-8"),
            "saved": not check,
        }
    )


def get_script(request: Request) -> Response:
    """A job type's script, for the editor (403 when the editor is off)."""
    require_editor(request)
    name = request.matchdict["jobtype"]
    descriptions = request.jobs.descriptions
    if name not in descriptions.names() and name not in descriptions.broken:
        raise NotFound(f"unknown job type '{name}'")
    path = descriptions.directory / "scripts" / f"{name}.sh"
    if not path.is_file():
        raise NotFound(f"job type '{name}' has no script")
    return Response(body=path.read_bytes(), content_type="text/plain", charset="utf-8")


__all__ = ["description_from_json", "get_script", "json_response", "put_description"]
