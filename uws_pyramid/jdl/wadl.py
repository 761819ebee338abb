"""Job descriptions as WADL files, in the layout of the original UWS Server (mservillat/uws-server).

The format, every element and attribute read here and what is refused, is documented for the
people who write job types in docs/job-types.md. In short: the first ``resources/resource`` is
the job list (``path``: the job type name); ``request id="create_job_parameters"`` holds the
job parameters (``param``: name, type, required, default, min, max, ``option`` and ``doc``
children); ``param name="EXECUTIONDURATION"`` (default, max) and ``param name="DESTRUCTION"``
(lifetime) give durations; ``representation id="quote"`` the quote; the ``representation``
elements of ``resource id="job_result_name"`` the results (id, mediaType, default file name);
``param style="plain"`` children of the job list the manager options (name, fixed).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from lxml import etree

from .datatypes import STRING
from .formats import JDLError
from .model import CONTROL_NAMES, JobDescription, ParameterSpec, ResultSpec

log = logging.getLogger(__name__)

WADL_NS = "http://wadl.dev.java.net/2009/02"
XS_NS = "http://www.w3.org/2001/XMLSchema"


def _parser() -> etree.XMLParser:
    # Descriptions may come from an admin's browser: no entities, no network, no DTD tricks.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True
    )


def _text(element: etree._Element | None) -> str:
    return "" if element is None else "".join(str(t) for t in element.itertext()).strip()


def _seconds(element: etree._Element | None, attribute: str) -> int | None:
    value = None if element is None else element.get(attribute)
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]+", value.strip()):
        name = element.get("name") or element.get("id")  # type: ignore[union-attr]
        raise ValueError(f"{name} {attribute} {value!r} is not a whole number of seconds")
    return int(value)


def _boolean(value: str | None, what: str) -> bool:
    # The original server wrote "True"/"False" (and some of its descriptions "yes"/"no");
    # XML Schema also allows 1 and 0.
    if value is None or value.lower() in ("false", "0", "no"):
        return False
    if value.lower() in ("true", "1", "yes"):
        return True
    raise ValueError(f"{what}: required={value!r} is not true or false")


def parse_description(
    data: bytes, source: str, read: Callable[[etree._Element], JobDescription]
) -> JobDescription:
    """Parse XML safely and ``read`` it; any fault raises JDLError naming ``source``."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise JDLError(source, f"not well-formed XML: {exc}") from None
    try:
        return read(root)
    except ValueError as exc:
        raise JDLError(source, str(exc)) from None


def read_wadl(data: bytes, source: str = "<string>") -> JobDescription:
    """Parse a WADL job description; any fault raises JDLError naming ``source``."""
    return parse_description(data, source, _read)


def _read(root: etree._Element) -> JobDescription:
    ns = etree.QName(root).namespace
    if etree.QName(root).localname != "application" or ns not in (None, WADL_NS):
        raise ValueError(f"the root element must be <application> in namespace {WADL_NS}")
    prefix = f"{{{ns}}}" if ns else ""

    def find(path: str, where: etree._Element = root) -> etree._Element | None:
        return where.find(path.replace("W:", prefix))

    def findall(path: str, where: etree._Element = root) -> list[etree._Element]:
        return where.findall(path.replace("W:", prefix))

    joblist = find("W:resources/W:resource")
    if joblist is None:
        raise ValueError("no <resources><resource> element (the job list)")
    name = joblist.get("path", "").strip("/")
    if not name:
        raise ValueError("the job list <resource> has no path (the job type name)")
    request = find(".//W:request[@id='create_job_parameters']")
    if request is None:
        raise ValueError("no <request id='create_job_parameters'> element")
    parameters = [
        _parameter(p, find)
        for p in findall("W:param", request)
        if p.get("name") not in CONTROL_NAMES
    ]
    options: dict[str, str] = {}
    for param in findall("W:param[@style='plain']", joblist):
        key, value = param.get("name"), param.get("fixed")
        if key is None or value is None:
            raise ValueError("a manager option <param style='plain'> needs name and fixed")
        if key in options:
            raise ValueError(f"duplicate manager option {key!r}")
        options[key] = value
    duration = find(".//W:param[@name='EXECUTIONDURATION']")
    return JobDescription(
        name=name,
        description=_text(find(".//W:doc[@title='description']")),
        parameters=tuple(parameters),
        results=tuple(_results(find, findall)),
        execution_duration=_seconds(duration, "default"),
        max_execution_duration=_seconds(duration, "max"),
        quote=_seconds(find(".//W:representation[@id='quote']"), "default"),
        destruction=_seconds(find(".//W:param[@name='DESTRUCTION']"), "lifetime"),
        options=options,
        version=joblist.get("version", ""),
    )


def _parameter(param: etree._Element, find: Callable[..., etree._Element | None]) -> ParameterSpec:
    name = param.get("name")
    if not name:
        raise ValueError("a <param> of create_job_parameters has no name")
    choices = [o.get("value") for o in param if etree.QName(o).localname == "option"]
    if None in choices:
        raise ValueError(f"parameter {name}: an <option> has no value")
    return ParameterSpec(
        name=name,
        type=param.get("type", STRING),
        required=_boolean(param.get("required"), f"parameter {name}"),
        default=param.get("default"),
        description=_text(find("W:doc", param)),
        min=param.get("min"),
        max=param.get("max"),
        choices=tuple(choices),  # type: ignore[arg-type]
    )


def _results(
    find: Callable[..., etree._Element | None], findall: Callable[..., list[etree._Element]]
) -> list[ResultSpec]:
    results = [
        ResultSpec(
            r.get("id", ""),
            r.get("mediaType", "text/plain"),
            r.get("default", ""),
            _text(find("W:doc", r)),
            required=_boolean(r.get("required"), f"result {r.get('id')}"),
        )
        for r in findall(".//W:resource[@id='job_result_name']//W:representation[@id]")
    ]
    if results:
        return results
    # The original server's own files list results as options of the result-id parameter.
    return [
        ResultSpec(
            o.get("value", ""),
            o.get("mediaType") or o.get("content_type") or "text/plain",
            o.get("default", ""),
            _text(find("W:doc", o)),
        )
        for o in findall(".//W:param[@name='result-id']/W:option")
    ]


def write_wadl(jd: JobDescription) -> bytes:
    """Serialise ``jd`` in the format that read_wadl reads (see the module docstring)."""
    application = etree.Element(_tag("application"), nsmap={None: WADL_NS, "xs": XS_NS})  # type: ignore[dict-item]
    _add(application, "doc", f"UWS job type {jd.name} (uws-pyramid job description)")
    joblist = _add(_add(application, "resources"), "resource", id="joblist", path=jd.name)
    if jd.version:
        joblist.set("version", jd.version)
    _add(joblist, "doc", jd.description, title="description")
    for key, value in jd.options.items():
        _add(joblist, "param", style="plain", name=key, fixed=value)
    create = _add(joblist, "method", id="create_job", name="POST")
    request = _add(create, "request", id="create_job_parameters")
    _add(
        request,
        "param",
        style="query",
        name="PHASE",
        type="xs:string",
        required="false",
        fixed="RUN",
    )
    if jd.execution_duration is not None or jd.max_execution_duration is not None:
        _add(
            request,
            "param",
            style="query",
            name="EXECUTIONDURATION",
            type="xs:int",
            required="false",
            default=jd.execution_duration,
            max=jd.max_execution_duration,
        )
    if jd.destruction is not None:
        _add(
            request,
            "param",
            style="query",
            name="DESTRUCTION",
            type="xs:dateTime",
            required="false",
            lifetime=jd.destruction,
        )
    for spec in jd.parameters:
        param = _add(
            request,
            "param",
            style="query",
            name=spec.name,
            type=spec.type,
            required="true" if spec.required else "false",
            default=spec.default,
            min=spec.min,
            max=spec.max,
        )
        if spec.description:
            _add(param, "doc", spec.description)
        for choice in spec.choices:
            _add(param, "option", value=choice)
    _add(create, "response", status="303")
    if jd.quote is not None:
        response = _get_response(joblist, "job_quote", "{job-id}/quote")
        _add(response, "representation", id="quote", mediaType="text/plain", default=jd.quote)
    response = _get_response(joblist, "job_result_name", "{job-id}/results/{result-id}")
    for result in jd.results:
        representation = _add(
            response,
            "representation",
            id=result.id,
            mediaType=result.mime_type,
            default=result.default,
            required="true" if result.required else None,
        )
        if result.description:
            _add(representation, "doc", result.description)
    return etree.tostring(application, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _tag(name: str) -> str:
    return f"{{{WADL_NS}}}{name}"


def _add(parent: etree._Element, tag: str, text: str = "", **attributes: object) -> etree._Element:
    """Append a WADL element; attributes whose value is None are left out."""
    element = etree.SubElement(parent, _tag(tag))
    for key, value in attributes.items():
        if value is not None:
            element.set(key, str(value))
    if text:
        element.text = text
    return element


def _get_response(joblist: etree._Element, id_: str, path: str) -> etree._Element:
    """The 200 response of a GET method on a sub-resource of the job list."""
    resource = _add(joblist, "resource", id=id_, path=path)
    return _add(_add(resource, "method", name="GET"), "response", status="200")
