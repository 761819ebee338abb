"""/openapi.json (OpenAPI 3.1) built from the routes and the job descriptions as they are now,
and /docs, a plain page that shows it."""

from __future__ import annotations

import json
from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED as PUBLIC
from pyramid.view import view_config

from ..jdl import JobDescription
from ..jdl.datatypes import BOOLEAN, FILE, INTEGERS, NUMERIC, URI
from ..jdl.model import ParameterSpec
from ..jobs import Phase

JSON, XML, TEXT, FORM = (
    "application/json",
    "application/xml",
    "text/plain",
    ("application/x-www-form-urlencoded"),
)
MULTIPART = "multipart/form-data"
#: Characters no value may hold (they cannot go into a UWS XML document).
PRINTABLE = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ufffe\\uffff]*$"
_BOUNDS = {"xs:int": 2**31, "xs:long": 2**63}
PUBLIC_OP: dict[str, Any] = {"security": []}
STRING: dict[str, Any] = {"type": "string"}
#: A path on this service (where the login page goes next).
LOCAL_PATH = "^/([^/\\\\\\x00-\\x1f\\x7f][^\\\\\\x00-\\x1f\\x7f]*)?$"
#: UTC times as AFTER and DESTRUCTION take them (a subset: days up to 28 are valid in every
#: month); DESTRUCTION must also be in the future.
UTC_TIME: dict[str, Any] = {
    "type": "string",
    "pattern": "^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?Z$",
    "examples": ["2030-01-01T00:00:00Z"],
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def content(*pairs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {media: {"schema": schema} for media, schema in pairs}


def errors(*codes: int) -> dict[str, Any]:
    """Error responses: a text/plain message (errors.py renders every one of them)."""
    text = {"description": "the reason, in words", "content": content((TEXT, {"type": "string"}))}
    found = {"4XX": text, "503": {**text, "description": "the storage is unavailable; retry"}}
    for code in codes:
        found[str(code)] = text
    return found


def ok(description: str, *pairs: tuple[str, dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {"200": {"description": description, "content": content(*pairs)}, **more}


def uws(name: str) -> tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]:
    """A UWS document: its XML form (the default) and its JSON form (Accept: application/json)."""
    text = f"uws:{name} (UWS 1.1 schema)"
    if name in ("job", "results"):
        text += "; a result may carry uwsc:description (urn:uwscustom), its declared description"
    xml = {"type": "string", "description": text}
    return (XML, xml), (JSON, ref(name))


def path_param(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or STRING}


def query_param(name: str, schema: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, **more}


def form(properties: dict[str, Any] | None = None, **schema: Any) -> dict[str, Any]:
    """A required form body: an object of these properties (or of this schema)."""
    if properties is not None:
        schema = {"type": "object", "properties": properties, **schema}
    return {"required": True, "content": {FORM: {"schema": schema}}}


def operation(op_id: str, tag: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"operationId": op_id, "tags": [tag], **more, "responses": responses}


def answers(description: str, *pairs: tuple[str, dict[str, Any]], **more: Any) -> dict[str, Any]:
    """A 200 of these representations, and the errors every route may answer."""
    return {**ok(description, *pairs, **more), **errors()}


def changed(**more: Any) -> dict[str, Any]:
    """A 303 to the job (or the list) after a change, and the errors."""
    return {"303": SEE_OTHER, **errors(), **more}


SEE_OTHER = {
    "description": "done: see the job (or the job list after a deletion)",
    "headers": {"Location": {"schema": {"type": "string"}, "required": True}},
}


def parameter_schema(spec: ParameterSpec, longest: int) -> dict[str, Any]:
    """The JSON schema of one job parameter, from its description."""
    schema: dict[str, Any]
    if spec.type == FILE:
        schema = {"type": "string", "format": "binary"}
    elif spec.choices:
        schema = {"type": "string", "enum": list(spec.choices)}
    elif spec.type in INTEGERS:
        bound = _BOUNDS[spec.type]
        schema = {
            "type": "integer",
            "minimum": int(spec.min) if spec.min is not None else -bound,
            "maximum": int(spec.max) if spec.max is not None else bound - 1,
        }
    elif spec.type in NUMERIC:
        schema = {"type": "number"}
        if spec.min is not None:
            schema["minimum"] = float(spec.min)
        if spec.max is not None:
            schema["maximum"] = float(spec.max)
    elif spec.type == BOOLEAN:
        schema = {"type": "boolean"}
    elif spec.type == URI:
        schema = {
            "type": "string",
            "pattern": "^[A-Za-z][A-Za-z0-9+.-]*:[^\\s]+$",
            "maxLength": longest,
        }
    else:
        schema = {"type": "string", "pattern": PRINTABLE, "maxLength": longest}
    if spec.description:
        schema["description"] = spec.description
    if spec.default is not None and spec.type != FILE:
        schema["default"] = typed(spec, spec.default)
    return schema


def typed(spec: ParameterSpec, text: str) -> Any:
    """A value of the description (text) as the JSON value its schema declares."""
    if spec.choices:
        return text
    if spec.type in INTEGERS:
        return int(text)
    if spec.type in NUMERIC:
        return float(text)
    if spec.type == BOOLEAN:
        return text.lower() in ("true", "1", "yes")
    return text


CONTROL: dict[str, dict[str, Any]] = {
    "PHASE": {"type": "string", "enum": ["RUN"], "description": "RUN: start the job at once"},
    "RUNID": {"type": "string", "pattern": PRINTABLE},
    "EXECUTIONDURATION": {
        "type": "integer",
        "minimum": 0,
        "maximum": 2**31 - 1,
        "description": "seconds; 0 asks for no limit (capped)",
    },
    # A schema cannot say "in the future": its pattern gives years from 2100 on, a subset
    # of what is accepted (any future time; later than the maximum is capped).
    "DESTRUCTION": {
        **UTC_TIME,
        "pattern": UTC_TIME["pattern"].replace("[1-9][0-9]{3}", "(2[1-9]|[3-9][0-9])[0-9]{2}"),
        "examples": ["2100-01-01T00:00:00Z"],
        "description": "a time in the future (capped at the service's maximum)",
    },
}


def create_body(jd: JobDescription, longest: int) -> dict[str, Any]:
    properties = {p.name: parameter_schema(p, longest) for p in jd.parameters}
    control = {name: {"maxLength": longest, **schema} for name, schema in CONTROL.items()}
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {**properties, **control},
        "required": [p.name for p in jd.parameters if p.required],
    }
    files = any(p.type == FILE for p in jd.parameters)
    return {"required": files, "content": {MULTIPART if files else FORM: {"schema": schema}}}


def job_type_paths(jd: JobDescription, longest: int) -> dict[str, Any]:
    name = jd.name
    link = {"job_id": f"$response.header.Location#regex:/{name}/([^/?#]+)$"}
    links = {
        "GetJob": {"operationId": "getJob", "parameters": {**link, "jobtype": name}},
        "RunJob": {
            "operationId": "postJobPhase",
            "parameters": {**link, "jobtype": name},
            "requestBody": {"PHASE": "RUN"},
        },
        "WaitJob": {"operationId": "getJob", "parameters": {**link, "jobtype": name, "WAIT": 5}},
        "DeleteJob": {"operationId": "deleteJob", "parameters": {**link, "jobtype": name}},
    }
    return {
        f"/sync/{name}": sync_path(jd, longest),
        f"/rest/{name}": {
            "get": operation(
                f"listJobs_{name}",
                f"jobs: {name}",
                answers("the job list", *uws("jobs")),
                summary=f"The caller's jobs of type {name}",
                parameters=LIST_FILTERS,
            ),
            "post": operation(
                f"createJob_{name}",
                f"jobs: {name}",
                {"303": {**SEE_OTHER, "links": links}, **errors()},
                summary=f"Create a job of type {name}: {jd.description.strip()[:200]}",
                requestBody=create_body(jd, longest),
            ),
        },
    }


def sync_path(jd: JobDescription, longest: int) -> dict[str, Any]:
    """DALI sync (web/sync.py): the parameters of a new job, as a query or a form."""
    body = create_body(jd, longest)
    schema = next(iter(body["content"].values()))["schema"]
    query = [
        {"name": key, "in": "query", "required": key in schema["required"], "schema": value}
        for key, value in schema["properties"].items()
        if value.get("format") != "binary"
    ]
    responses = {
        "303": {
            "description": "the job's primary result; or the job itself, when it has not "
            "ended within uws.sync.timeout",
            "headers": {"Location": {"schema": {"type": "string"}, "required": True}},
        },
        "500": {
            "description": "the job failed: its error document",
            "content": content((TEXT, {"type": "string"})),
        },
        **errors(),
    }
    summary = f"Run a job of type {jd.name} and wait for its result"
    operation = {"tags": [f"jobs: {jd.name}"], "summary": summary, "responses": responses}
    get = {**operation, "operationId": f"syncGet_{jd.name}", "parameters": query}
    if body["required"]:
        get["description"] = "A file cannot go into a query: use POST (a GET is a 400)."
    return {
        "post": {**operation, "operationId": f"sync_{jd.name}", "requestBody": body},
        "get": get,
    }


PROVENANCE_FORMATS = {
    "application/json": {"type": "object", "description": "PROV-JSON"},
    "application/xml": {"type": "string", "description": "PROV-XML"},
    "text/provenance-notation": {"type": "string", "description": "PROV-N"},
    "image/svg+xml": {"type": "string", "description": "the graph (Graphviz)"},
}


def provenance_ok() -> dict[str, Any]:
    return ok("the provenance document (W3C PROV)", *PROVENANCE_FORMATS.items())


LIST_FILTERS = [
    query_param("PHASE", {"type": "array", "items": ref("Phase")}, style="form", explode=True),
    query_param("AFTER", UTC_TIME),
    query_param("LAST", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}),
    # Extensions (README, "Job lists at scale"); UWS clients do not send them.
    query_param(
        "SORT",
        {
            "type": "string",
            "enum": [
                f"{d}{t}" for t in ("creationTime", "startTime", "endTime") for d in ("", "-")
            ],
        },
        description="the list's order (newest first with -); by start or end time, only "
        "the jobs that have one; with LAST, the first LAST jobs in that order",
    ),
    query_param(
        "PAGE",
        {
            "type": "string",
            "pattern": f"^(last|(next|prev):{UTC_TIME['pattern'][1:-1]},[A-Za-z0-9_-]{{1,64}})$",
            "examples": ["last", "next:2030-01-01T00:00:00Z,abc123"],
        },
        description="a page of a list with LAST, as the Link header's first, prev, next "
        "and last relations give it: next:<time>,<id>, prev:<time>,<id> or last",
    ),
]


def job_type_param(types: list[str]) -> dict[str, Any]:
    return path_param("jobtype", {"type": "string", "enum": types} if types else None)


def job_paths(types: list[str]) -> dict[str, Any]:
    """The resources of one job, for every type (``jobtype`` is one of them)."""
    base = [job_type_param(types), path_param("job_id")]
    properties: dict[str, tuple[str, dict[str, Any]]] = {
        "phase": ("The phase", {"type": "string", "enum": [str(p) for p in Phase]}),
        "executionduration": ("Seconds the job may run (0: no limit)", STRING),
        "destruction": ("When the job will be destroyed (empty: never)", STRING),
        "quote": ("When the job is expected to end (empty: unknown)", STRING),
        "owner": ("The job's owner (empty: anonymous)", STRING),
        "runid": ("The client's run id (empty: none)", STRING),
        "error": ("The error's text", STRING),
    }
    postable = {
        "phase": {"type": "string", "enum": ["RUN", "ABORT"]},
        "executionduration": CONTROL["EXECUTIONDURATION"],
        "destruction": CONTROL["DESTRUCTION"],
    }
    results_link = {
        "operationId": "getJobResults",
        "parameters": {"jobtype": "$request.path.jobtype", "job_id": "$request.path.job_id"},
    }
    wait = {"type": "integer", "minimum": -1, "maximum": 5}
    paths: dict[str, Any] = {
        "/rest/{jobtype}/{job_id}": {
            "parameters": base,
            "get": operation(
                "getJob",
                "job",
                answers("the job", *uws("job"), links={"Results": results_link}),
                summary="The job",
                parameters=[
                    query_param(
                        "WAIT",
                        wait,
                        description="block up to this many seconds (-1: the longest allowed) "
                        "while the job is PENDING, QUEUED or EXECUTING",
                    ),
                    query_param(
                        "PHASE",
                        ref("Phase"),
                        description="with WAIT: block only while the job is in this phase",
                    ),
                ],
            ),
            "post": operation(
                "postJob",
                "job",
                changed(),
                summary="Change the job: PHASE=RUN or ABORT, ACTION=DELETE, or its values",
                requestBody=form(
                    {
                        "PHASE": postable["phase"],
                        "ACTION": {"enum": ["DELETE"]},
                        "EXECUTIONDURATION": CONTROL["EXECUTIONDURATION"],
                        "DESTRUCTION": CONTROL["DESTRUCTION"],
                        "RUNID": CONTROL["RUNID"],
                    },
                    additionalProperties=False,
                ),
            ),
            "delete": operation("deleteJob", "job", changed(), summary="Delete the job"),
        },
        "/rest/{jobtype}/{job_id}/parameters": {
            "parameters": base,
            "get": operation(
                "getJobParameters", "job", answers("the parameters", *uws("parameters"))
            ),
            "post": operation(
                "postJobParameters",
                "job",
                changed(),
                summary="Set parameters of a PENDING job",
                requestBody=form(
                    type="object",
                    additionalProperties={"type": "string", "pattern": PRINTABLE},
                ),
            ),
        },
        "/rest/{jobtype}/{job_id}/parameters/{name}": {
            "parameters": [*base, path_param("name")],
            "get": operation(
                "getJobParameter",
                "job",
                answers(
                    "the value (or the uploaded file)",
                    (TEXT, STRING),
                    ("application/octet-stream", STRING),
                ),
            ),
            "put": operation(
                "putJobParameter",
                "job",
                changed(),
                summary="Set one parameter of a PENDING job (the body is its value)",
                requestBody={
                    "required": True,
                    "content": {TEXT: {"schema": {"type": "string", "pattern": PRINTABLE}}},
                },
            ),
        },
        "/rest/{jobtype}/{job_id}/provenance": {
            "parameters": base,
            "get": operation(
                "getJobProvenance",
                "provenance",
                {**provenance_ok(), **errors()},
                summary="The finished job's provenance (409 before it has finished)",
                parameters=[
                    query_param(
                        "format", {"type": "string", "enum": ["json", "xml", "provn", "svg"]}
                    )
                ],
            ),
        },
        "/rest/{jobtype}/{job_id}/results": {
            "parameters": base,
            "get": operation("getJobResults", "job", answers("the results", *uws("results"))),
        },
        "/rest/{jobtype}/{job_id}/results/{result_id}": {
            "parameters": [*base, path_param("result_id")],
            "get": operation(
                "getJobResult",
                "job",
                {
                    "200": {
                        "description": "the result's file (its own type; "
                        "ETag and Repr-Digest: its SHA-256)",
                        "content": {"*/*": {"schema": {}}},
                    },
                    "206": {
                        "description": "the bytes asked for (Range; If-Range)",
                        "content": {"*/*": {"schema": {}}},
                    },
                    "304": {"description": "not modified (If-None-Match, If-Modified-Since)"},
                    **errors(),
                },
            ),
        },
        "/rest/{jobtype}/{job_id}/results.zip": {
            "parameters": base,
            "get": operation(
                "getJobResultsZip",
                "job",
                answers("the archive", ("application/zip", {"type": "string", "format": "binary"})),
                summary="Every result in one zip archive, streamed",
            ),
        },
    }
    for prop, (summary, schema) in properties.items():
        get = operation(f"getJob_{prop}", "job", answers(summary, (TEXT, schema)), summary=summary)
        item: dict[str, Any] = {"parameters": base, "get": get}
        if prop in postable:
            name = prop.upper()
            item["post"] = operation(
                "postJobPhase" if prop == "phase" else f"postJob_{prop}",
                "job",
                changed(),
                summary=f"Set {name}",
                requestBody=form(
                    {name: postable[prop]}, required=[name], additionalProperties=False
                ),
            )
        paths[f"/rest/{{jobtype}}/{{job_id}}/{prop}"] = item
    return paths


def public(op_id: str, tag: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    """An operation open to anyone, whatever the service's authentication. Credentials sent
    all the same are checked: wrong ones are a 401, so the errors are declared too."""
    return {**PUBLIC_OP, **operation(op_id, tag, {**responses, **errors()}, **more)}


def service_paths(types: list[str]) -> dict[str, Any]:
    jobtype = job_type_param(types)
    html = ("text/html", STRING)
    obj = {"type": "object"}
    provenance_id = {
        "type": "string",
        "pattern": "^\\s*([a-z0-9]+(/[A-Za-z_][A-Za-z0-9_.-]*)?|[A-Za-z][A-Za-z0-9+.-]*:\\S*)\\s*$",
        "description": "a job id, <job id>/<result id>, or the URL of a job or of a result",
    }
    return {
        "/": {
            "get": public(
                "home",
                "service",
                ok("the page", html, (JSON, obj)),
                summary="The service's page (JSON: its links)",
            )
        },
        "/capabilities": {
            "get": public(
                "capabilities",
                "service",
                ok("capabilities", (XML, STRING)),
                summary="VOSI capabilities",
            )
        },
        "/availability": {
            "get": public(
                "availability",
                "service",
                ok("availability", (XML, STRING)),
                summary="VOSI availability",
            )
        },
        "/openapi.json": {"get": public("openapi", "service", ok("this document", (JSON, obj)))},
        "/docs": {"get": public("docs", "service", ok("a page showing this document", html))},
        "/metrics": {
            "get": operation(
                "metrics",
                "admin",
                answers("metrics", (TEXT, STRING)),
                summary="Prometheus metrics (administrators, uws.metrics.allow)",
            )
        },
        "/rest": {
            "get": operation(
                "allJobs",
                "service",
                answers("the job list", *uws("jobs")),
                summary="The caller's jobs of every type",
                parameters=LIST_FILTERS,
            )
        },
        "/provenance": {
            "get": operation(
                "provenance",
                "provenance",
                {**provenance_ok(), **errors()},
                summary="The provenance of a chain of jobs (in the spirit of IVOA ProvSAP)",
                parameters=[
                    {**query_param("ID", provenance_id), "required": True},
                    query_param(
                        "DEPTH", {"type": "string", "pattern": "^([0-9]|10|ALL)$", "default": "1"}
                    ),
                    query_param(
                        "DIRECTION",
                        {"type": "string", "enum": ["BACK", "FORWARD"], "default": "BACK"},
                    ),
                    query_param(
                        "RESPONSEFORMAT",
                        {"type": "string", "enum": ["PROV-JSON", "PROV-XML", "PROV-N", "SVG"]},
                    ),
                ],
            )
        },
        "/jdl": {
            "get": operation("jobTypes", "job descriptions", answers("the job types", (JSON, obj)))
        },
        "/jdl/{jobtype}": {
            "parameters": [jobtype],
            "get": operation(
                "getWadl",
                "job descriptions",
                answers(
                    "the job description (WADL or VOTable)",
                    (XML, STRING),
                    ("application/x-votable+xml", STRING),
                ),
                summary="The description's file, or it in another format",
                parameters=[query_param("format", {"type": "string", "enum": ["wadl", "votable"]})],
            ),
            "put": operation(
                "putDescription",
                "admin",
                answers("saved (or checked)", (JSON, obj)),
                summary="Save a job description (administrators, uws.editor on)",
                parameters=[query_param("check", {"type": "string", "enum": ["1"]})],
                requestBody={"required": True, "content": content((JSON, obj))},
            ),
        },
        "/jdl/{jobtype}/json": {
            "parameters": [jobtype],
            "get": operation(
                "getDescriptionJson",
                "job descriptions",
                answers("the job description", (JSON, obj)),
            ),
        },
        "/jdl/{jobtype}/script": {
            "parameters": [jobtype],
            "get": operation(
                "getScript", "admin", answers("the job type's script", (TEXT, STRING))
            ),
        },
        "/jdl/{jobtype}/history": {
            "parameters": [jobtype],
            "get": operation(
                "listDescriptionVersions",
                "admin",
                answers("their stamps and replacement times", (JSON, obj)),
                summary="The saved earlier versions of a job type, newest first (editor)",
            ),
        },
        "/jdl/{jobtype}/history/{stamp}": {
            "parameters": [jobtype, path_param("stamp")],
            "get": operation(
                "getDescriptionVersion",
                "admin",
                answers("the version", (JSON, obj)),
                summary="One saved version: description, WADL and script (editor)",
            ),
        },
        "/events/{job_id}": {
            "post": public(
                "jobEvent",
                "internal",
                {"204": {"description": "taken"}, **errors()},
                summary="A signed event from a job's own process",
                parameters=[path_param("job_id")],
                requestBody=form({"event": STRING, "time": STRING, "signature": STRING}),
            )
        },
        "/login": {
            "post": public(
                "login",
                "browser client",
                {"303": {"description": "logged in: a session cookie"}, **errors()},
                requestBody=form(
                    {
                        "username": STRING,
                        "password": STRING,
                        "next": {
                            "type": "string",
                            "description": "a path on this service",
                            "pattern": LOCAL_PATH,
                        },
                    }
                ),
            )
        },
        "/logout": {
            "post": public(
                "logout",
                "browser client",
                {"303": {"description": "the session ended"}, **errors()},
            )
        },
        "/client/config": {
            "get": public(
                "clientConfig",
                "browser client",
                answers("what the browser client may offer", (JSON, obj)),
            )
        },
    }


NULLABLE_TIME = {"type": ["string", "null"]}
SCHEMAS: dict[str, Any] = {
    "Phase": {"type": "string", "enum": [str(p) for p in Phase]},
    "Result": {
        "type": "object",
        "required": ["id", "href"],
        "properties": {
            "id": {"type": "string"},
            "href": {"type": "string"},
            "size": {"type": ["integer", "null"]},
            "mimeType": {"type": ["string", "null"]},
            "sha256": {"type": ["string", "null"]},
            "description": {"type": ["string", "null"]},
        },
    },
    "job": {
        "type": "object",
        "required": ["jobId", "phase", "creationTime", "parameters"],
        "properties": {
            "version": {"type": "string"},
            "jobId": {"type": "string"},
            "runId": {"type": ["string", "null"]},
            "ownerId": {"type": ["string", "null"]},
            "phase": {"$ref": "#/components/schemas/Phase"},
            "quote": NULLABLE_TIME,
            "creationTime": {"type": "string"},
            "startTime": NULLABLE_TIME,
            "endTime": NULLABLE_TIME,
            "executionDuration": {"type": "integer"},
            "destruction": NULLABLE_TIME,
            "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
            "errorSummary": {
                "type": ["object", "null"],
                "properties": {
                    "type": {"enum": ["fatal", "transient"]},
                    "hasDetail": {"type": "boolean"},
                    "message": {"type": "string"},
                },
            },
            "jobInfo": {"type": ["object", "null"]},
        },
    },
    "jobs": {
        "type": "object",
        "required": ["jobs"],
        "properties": {
            "version": {"type": "string"},
            "jobs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "phase"],
                    "properties": {
                        "id": {"type": "string"},
                        "href": {"type": "string"},
                        "phase": {"$ref": "#/components/schemas/Phase"},
                        "runId": {"type": ["string", "null"]},
                        "ownerId": {"type": ["string", "null"]},
                        "creationTime": {"type": "string"},
                    },
                },
            },
        },
    },
    "results": {
        "type": "object",
        "required": ["results"],
        "properties": {
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}}
        },
    },
    "parameters": {
        "type": "object",
        "required": ["parameters"],
        "properties": {
            "parameters": {"type": "object", "additionalProperties": {"type": "string"}}
        },
    },
}


def document(request: Request) -> dict[str, Any]:
    """The whole document, for the job types described now."""
    descriptions = request.jobs.descriptions
    settings = request.registry.uws_settings
    types = list(descriptions.names())
    paths = service_paths(types)
    for name in types:
        paths.update(job_type_paths(descriptions.get(name), settings.limit_parameter_length))
    paths.update(job_paths(types))
    schemes = {
        "basic": {"type": "http", "scheme": "basic"},
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "an API token (uws-admin users token)",
        },
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": "uws_session",
            "description": "the browser client's session (POST /login)",
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "UWS 1.1 job service",
            "version": "1.1",
            "description": "IVOA Universal Worker Service 1.1. Job documents are XML by "
            "default and JSON when the request prefers application/json.",
        },
        "servers": [{"url": settings.base_url or request.application_url}],
        "security": [] if settings.anonymous else [{"basic": []}, {"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": schemes},
    }


@view_config(route_name="openapi", request_method=("GET", "HEAD"), permission=PUBLIC)
def openapi(request: Request) -> Response:
    body = json.dumps(document(request), ensure_ascii=False, indent=1).encode("utf-8")
    return Response(body=body, content_type=JSON, charset="utf-8")


DOCS_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>UWS API</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="{style}">
</head><body><header><a class="brand" href="{home}">UWS</a></header>
<main id="main"><h1>API</h1>
<p>The OpenAPI 3.1 document of this service: <a href="{spec}">openapi.json</a>.</p>
<div id="api">Loading…</div></main>
<script src="{script}"></script></body></html>
"""


@view_config(route_name="docs", request_method=("GET", "HEAD"), permission=PUBLIC)
def docs(request: Request) -> Response:
    page = DOCS_PAGE.format(
        style=request.static_url("uws_pyramid.client:static/style.css"),
        home=request.route_url("home"),
        spec=request.route_url("openapi"),
        script=request.static_url("uws_pyramid.client:static/docs.js"),
    )
    response = Response(body=page.encode("utf-8"), content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:"
    return response


def includeme(config: Configurator) -> None:
    config.add_route("openapi", "/openapi.json")
    config.add_route("docs", "/docs")
    config.scan(".openapi")
