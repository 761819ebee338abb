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
    xml = {"type": "string", "description": f"uws:{name} (UWS 1.1 schema)"}
    return (XML, xml), (JSON, ref(name))


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
            "get": {
                "operationId": f"listJobs_{name}",
                "tags": [f"jobs: {name}"],
                "summary": f"The caller's jobs of type {name}",
                "parameters": LIST_FILTERS,
                "responses": {**ok("the job list", *uws("jobs")), **errors()},
            },
            "post": {
                "operationId": f"createJob_{name}",
                "tags": [f"jobs: {name}"],
                "summary": f"Create a job of type {name}: {jd.description.strip()[:200]}",
                "requestBody": create_body(jd, longest),
                "responses": {"303": {**SEE_OTHER, "links": links}, **errors()},
            },
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
    {
        "name": "PHASE",
        "in": "query",
        "required": False,
        "schema": {"type": "array", "items": ref("Phase")},
        "style": "form",
        "explode": True,
    },
    {"name": "AFTER", "in": "query", "required": False, "schema": UTC_TIME},
    {
        "name": "LAST",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    },
    # Extensions (README, "Job lists at scale"); UWS clients do not send them.
    {
        "name": "SORT",
        "in": "query",
        "required": False,
        "description": "the list's order (newest first with -); by start or end time, only "
        "the jobs that have one; with LAST, the first LAST jobs in that order",
        "schema": {
            "type": "string",
            "enum": [
                f"{d}{t}" for t in ("creationTime", "startTime", "endTime") for d in ("", "-")
            ],
        },
    },
    {
        "name": "PAGE",
        "in": "query",
        "required": False,
        "description": "a page of a list with LAST, as the Link header's first, prev, next "
        "and last relations give it: next:<time>,<id>, prev:<time>,<id> or last",
        "schema": {
            "type": "string",
            "pattern": f"^(last|(next|prev):{UTC_TIME['pattern'][1:-1]},[A-Za-z0-9_-]{{1,64}})$",
            "examples": ["last", "next:2030-01-01T00:00:00Z,abc123"],
        },
    },
]


def job_paths(types: list[str]) -> dict[str, Any]:
    """The resources of one job, for every type (``jobtype`` is one of them)."""
    jobtype = {
        "name": "jobtype",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": types} if types else {"type": "string"},
    }
    job_id = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
    base = [jobtype, job_id]
    properties: dict[str, tuple[str, dict[str, Any]]] = {
        "phase": ("The phase", {"type": "string", "enum": [str(p) for p in Phase]}),
        "executionduration": ("Seconds the job may run (0: no limit)", {"type": "string"}),
        "destruction": ("When the job will be destroyed (empty: never)", {"type": "string"}),
        "quote": ("When the job is expected to end (empty: unknown)", {"type": "string"}),
        "owner": ("The job's owner (empty: anonymous)", {"type": "string"}),
        "runid": ("The client's run id (empty: none)", {"type": "string"}),
        "error": ("The error's text", {"type": "string"}),
    }
    postable = {
        "phase": {"type": "string", "enum": ["RUN", "ABORT"]},
        "executionduration": CONTROL["EXECUTIONDURATION"],
        "destruction": CONTROL["DESTRUCTION"],
    }
    paths: dict[str, Any] = {
        "/rest/{jobtype}/{job_id}": {
            "parameters": base,
            "get": {
                "operationId": "getJob",
                "tags": ["job"],
                "summary": "The job",
                "parameters": [
                    {
                        "name": "WAIT",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": -1, "maximum": 5},
                        "description": "block up to this many seconds (-1: the longest allowed) "
                        "while the job is PENDING, QUEUED or EXECUTING",
                    },
                    {
                        "name": "PHASE",
                        "in": "query",
                        "required": False,
                        "schema": ref("Phase"),
                        "description": "with WAIT: block only while the job is in this phase",
                    },
                ],
                "responses": {
                    **ok(
                        "the job",
                        *uws("job"),
                        links={
                            "Results": {
                                "operationId": "getJobResults",
                                "parameters": {
                                    "jobtype": "$request.path.jobtype",
                                    "job_id": "$request.path.job_id",
                                },
                            },
                        },
                    ),
                    **errors(),
                },
            },
            "post": {
                "operationId": "postJob",
                "tags": ["job"],
                "summary": "Change the job: PHASE=RUN or ABORT, ACTION=DELETE, or its values",
                "requestBody": {
                    "required": True,
                    "content": {
                        FORM: {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "PHASE": postable["phase"],
                                    "ACTION": {"enum": ["DELETE"]},
                                    "EXECUTIONDURATION": CONTROL["EXECUTIONDURATION"],
                                    "DESTRUCTION": CONTROL["DESTRUCTION"],
                                    "RUNID": CONTROL["RUNID"],
                                },
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {"303": SEE_OTHER, **errors()},
            },
            "delete": {
                "operationId": "deleteJob",
                "tags": ["job"],
                "summary": "Delete the job",
                "responses": {"303": SEE_OTHER, **errors()},
            },
        },
        "/rest/{jobtype}/{job_id}/parameters": {
            "parameters": base,
            "get": {
                "operationId": "getJobParameters",
                "tags": ["job"],
                "responses": {**ok("the parameters", *uws("parameters")), **errors()},
            },
            "post": {
                "operationId": "postJobParameters",
                "tags": ["job"],
                "summary": "Set parameters of a PENDING job",
                "requestBody": {
                    "required": True,
                    "content": {
                        FORM: {
                            "schema": {
                                "type": "object",
                                "additionalProperties": {"type": "string", "pattern": PRINTABLE},
                            }
                        }
                    },
                },
                "responses": {"303": SEE_OTHER, **errors()},
            },
        },
        "/rest/{jobtype}/{job_id}/parameters/{name}": {
            "parameters": [
                *base,
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "get": {
                "operationId": "getJobParameter",
                "tags": ["job"],
                "responses": {
                    **ok(
                        "the value (or the uploaded file)",
                        (TEXT, {"type": "string"}),
                        ("application/octet-stream", {"type": "string"}),
                    ),
                    **errors(),
                },
            },
            "put": {
                "operationId": "putJobParameter",
                "tags": ["job"],
                "summary": "Set one parameter of a PENDING job (the body is its value)",
                "requestBody": {
                    "required": True,
                    "content": {TEXT: {"schema": {"type": "string", "pattern": PRINTABLE}}},
                },
                "responses": {"303": SEE_OTHER, **errors()},
            },
        },
        "/rest/{jobtype}/{job_id}/provenance": {
            "parameters": base,
            "get": {
                "operationId": "getJobProvenance",
                "tags": ["provenance"],
                "summary": "The finished job's provenance (409 before it has finished)",
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["json", "xml", "provn", "svg"]},
                    }
                ],
                "responses": {**provenance_ok(), **errors()},
            },
        },
        "/rest/{jobtype}/{job_id}/results": {
            "parameters": base,
            "get": {
                "operationId": "getJobResults",
                "tags": ["job"],
                "responses": {**ok("the results", *uws("results")), **errors()},
            },
        },
        "/rest/{jobtype}/{job_id}/results/{result_id}": {
            "parameters": [
                *base,
                {"name": "result_id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "get": {
                "operationId": "getJobResult",
                "tags": ["job"],
                "responses": {
                    "200": {
                        "description": "the result's file (its own type; "
                        "ETag and Repr-Digest: its SHA-256)",
                        "content": {"*/*": {"schema": {}}},
                    },
                    "304": {"description": "not modified (If-None-Match)"},
                    **errors(),
                },
            },
        },
        "/rest/{jobtype}/{job_id}/results.zip": {
            "parameters": base,
            "get": {
                "operationId": "getJobResultsZip",
                "tags": ["job"],
                "summary": "Every result in one zip archive, streamed",
                "responses": {
                    **ok(
                        "the archive", ("application/zip", {"type": "string", "format": "binary"})
                    ),
                    **errors(),
                },
            },
        },
    }
    for prop, (summary, schema) in properties.items():
        item: dict[str, Any] = {
            "parameters": base,
            "get": {
                "operationId": f"getJob_{prop}",
                "tags": ["job"],
                "summary": summary,
                "responses": {**ok(summary, (TEXT, schema)), **errors()},
            },
        }
        if prop in postable:
            name = prop.upper()
            item["post"] = {
                "operationId": "postJobPhase" if prop == "phase" else f"postJob_{prop}",
                "tags": ["job"],
                "summary": f"Set {name}",
                "requestBody": {
                    "required": True,
                    "content": {
                        FORM: {
                            "schema": {
                                "type": "object",
                                "properties": {name: postable[prop]},
                                "required": [name],
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {"303": SEE_OTHER, **errors()},
            }
        paths[f"/rest/{{jobtype}}/{{job_id}}/{prop}"] = item
    return paths


def service_paths(types: list[str]) -> dict[str, Any]:
    jobtype = {
        "name": "jobtype",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": types} if types else {"type": "string"},
    }
    html = ("text/html", {"type": "string"})
    return {
        "/": {
            "get": {
                **PUBLIC_OP,
                "operationId": "home",
                "tags": ["service"],
                "summary": "The service's page (JSON: its links)",
                "responses": ok("the page", html, (JSON, {"type": "object"})),
            }
        },
        "/capabilities": {
            "get": {
                **PUBLIC_OP,
                "operationId": "capabilities",
                "tags": ["service"],
                "summary": "VOSI capabilities",
                "responses": ok("capabilities", (XML, {"type": "string"})),
            }
        },
        "/availability": {
            "get": {
                **PUBLIC_OP,
                "operationId": "availability",
                "tags": ["service"],
                "summary": "VOSI availability",
                "responses": ok("availability", (XML, {"type": "string"})),
            }
        },
        "/openapi.json": {
            "get": {
                **PUBLIC_OP,
                "operationId": "openapi",
                "tags": ["service"],
                "responses": ok("this document", (JSON, {"type": "object"})),
            }
        },
        "/docs": {
            "get": {
                **PUBLIC_OP,
                "operationId": "docs",
                "tags": ["service"],
                "responses": ok("a page showing this document", html),
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "tags": ["admin"],
                "summary": "Prometheus metrics (administrators, uws.metrics.allow)",
                "responses": {**ok("metrics", (TEXT, {"type": "string"})), **errors()},
            }
        },
        "/rest": {
            "get": {
                "operationId": "allJobs",
                "tags": ["service"],
                "summary": "The caller's jobs of every type",
                "parameters": LIST_FILTERS,
                "responses": {**ok("the job list", *uws("jobs")), **errors()},
            }
        },
        "/provenance": {
            "get": {
                "operationId": "provenance",
                "tags": ["provenance"],
                "summary": "The provenance of a chain of jobs (in the spirit of IVOA ProvSAP)",
                "parameters": [
                    {
                        "name": "ID",
                        "in": "query",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "pattern": "^\\s*([a-z0-9]+(/[A-Za-z_][A-Za-z0-9_.-]*)?|"
                            "[A-Za-z][A-Za-z0-9+.-]*:\\S*)\\s*$",
                            "description": "a job id, <job id>/<result id>, or the URL of a job or of "
                            "a result",
                        },
                    },
                    {
                        "name": "DEPTH",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "pattern": "^([0-9]|10|ALL)$", "default": "1"},
                    },
                    {
                        "name": "DIRECTION",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "string",
                            "enum": ["BACK", "FORWARD"],
                            "default": "BACK",
                        },
                    },
                    {
                        "name": "RESPONSEFORMAT",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "string",
                            "enum": ["PROV-JSON", "PROV-XML", "PROV-N", "SVG"],
                        },
                    },
                ],
                "responses": {**provenance_ok(), **errors()},
            }
        },
        "/jdl": {
            "get": {
                "operationId": "jobTypes",
                "tags": ["job descriptions"],
                "responses": {**ok("the job types", (JSON, {"type": "object"})), **errors()},
            }
        },
        "/jdl/{jobtype}": {
            "parameters": [jobtype],
            "get": {
                "operationId": "getWadl",
                "tags": ["job descriptions"],
                "summary": "The description's file, or it in another format",
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["wadl", "votable"]},
                    }
                ],
                "responses": {
                    **ok(
                        "the job description (WADL or VOTable)",
                        (XML, {"type": "string"}),
                        ("application/x-votable+xml", {"type": "string"}),
                    ),
                    **errors(),
                },
            },
            "put": {
                "operationId": "putDescription",
                "tags": ["admin"],
                "summary": "Save a job description (administrators, uws.editor on)",
                "parameters": [
                    {
                        "name": "check",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["1"]},
                    }
                ],
                "requestBody": {"required": True, "content": content((JSON, {"type": "object"}))},
                "responses": {**ok("saved (or checked)", (JSON, {"type": "object"})), **errors()},
            },
        },
        "/jdl/{jobtype}/json": {
            "parameters": [jobtype],
            "get": {
                "operationId": "getDescriptionJson",
                "tags": ["job descriptions"],
                "responses": {**ok("the job description", (JSON, {"type": "object"})), **errors()},
            },
        },
        "/jdl/{jobtype}/script": {
            "parameters": [jobtype],
            "get": {
                "operationId": "getScript",
                "tags": ["admin"],
                "responses": {
                    **ok("the job type's script", (TEXT, {"type": "string"})),
                    **errors(),
                },
            },
        },
        "/jdl/{jobtype}/history": {
            "parameters": [jobtype],
            "get": {
                "operationId": "listDescriptionVersions",
                "tags": ["admin"],
                "summary": "The saved earlier versions of a job type, newest first (editor)",
                "responses": {
                    **ok("their stamps and replacement times", (JSON, {"type": "object"})),
                    **errors(),
                },
            },
        },
        "/jdl/{jobtype}/history/{stamp}": {
            "parameters": [
                jobtype,
                {"name": "stamp", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "get": {
                "operationId": "getDescriptionVersion",
                "tags": ["admin"],
                "summary": "One saved version: description, WADL and script (editor)",
                "responses": {**ok("the version", (JSON, {"type": "object"})), **errors()},
            },
        },
        "/events/{job_id}": {
            "post": {
                **PUBLIC_OP,
                "operationId": "jobEvent",
                "tags": ["internal"],
                "summary": "A signed event from a job's own process",
                "parameters": [
                    {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        FORM: {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "event": {"type": "string"},
                                    "time": {"type": "string"},
                                    "signature": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {"204": {"description": "taken"}, **errors()},
            }
        },
        "/login": {
            "post": {
                **PUBLIC_OP,
                "operationId": "login",
                "tags": ["browser client"],
                "requestBody": {
                    "required": True,
                    "content": {
                        FORM: {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "username": {"type": "string"},
                                    "password": {"type": "string"},
                                    "next": {
                                        "type": "string",
                                        "description": "a path on this service",
                                        "pattern": LOCAL_PATH,
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {"303": {"description": "logged in: a session cookie"}, **errors()},
            }
        },
        "/logout": {
            "post": {
                **PUBLIC_OP,
                "operationId": "logout",
                "tags": ["browser client"],
                "responses": {"303": {"description": "the session ended"}, **errors()},
            }
        },
        "/client/config": {
            "get": {
                **PUBLIC_OP,
                "operationId": "clientConfig",
                "tags": ["browser client"],
                "responses": {
                    **ok("what the browser client may offer", (JSON, {"type": "object"})),
                    **errors(),
                },
            }
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
