"""Job descriptions in OPUS's VOTable format (``<name>_vot.xml``), read into the same model as WADL.

Structure (docs/job-types.md has the details): a VOTable 1.3 root with one ``RESOURCE``
(``name``: the job type, ``type="meta"``) holding a ``DESCRIPTION``, ``PARAM``s for the job's
attributes (``version``, ``executionDuration``, ``quote``, ``doculink``, ``type``, ``subtype``,
``contact_name``, ``contact_email``), ``GROUP name="InputParams"`` (one ``PARAM`` per job
parameter: datatype, value = default, unit, ucd, ``type="no_query"`` = optional, ``VALUES``
with ``MIN``/``MAX``/``OPTION``, ``xtype="application/octet-stream"`` = a file),
``GROUP name="Used"`` (entities used) and ``GROUP name="Generated"`` (the results: ``name`` =
id, PARAMs ``default`` = file name or glob, ``content_type``, ``role``, and this service's
``required``). Manager options are ``PARAM``s named ``option.<name>``.
"""

from __future__ import annotations

from lxml import etree

from .datatypes import BOOLEAN, DOUBLE, FILE, FLOAT, INT, LONG, STRING
from .model import JobDescription, ParameterSpec, ResultSpec, UsedSpec, is_pattern
from .wadl import _boolean, parse_description

VOTABLE_NS = "http://www.ivoa.net/xml/VOTable/v1.3"
SUFFIX = "_vot.xml"

#: VOTable datatypes -> this service's types (short and unsignedByte fit in xs:int).
_TYPES = {
    "boolean": BOOLEAN,
    "unsignedByte": INT,
    "short": INT,
    "int": INT,
    "long": LONG,
    "char": STRING,
    "float": FLOAT,
    "double": DOUBLE,
}
_DATATYPES = {
    BOOLEAN: "boolean",
    INT: "int",
    LONG: "long",
    FLOAT: "float",
    DOUBLE: "double",
    STRING: "char",
    FILE: "char",
    "xs:anyURI": "char",
}
#: Job attributes kept as the activity's description (provenance), with their utypes.
INFO = {
    "doculink": "voprov:ActivityDescription.doculink",
    "type": "voprov:ActivityDescription.type",
    "subtype": "voprov:ActivityDescription.subtype",
    "contact_name": "voprov:Agent.name",
    "contact_email": "voprov:Agent.email",
}
_USED_FIELDS = ("role", "multiplicity", "default", "content_type", "url")
_OPTION = "option."


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if _local(child) == name]


def _description(element: etree._Element) -> str:
    found = _children(element, "DESCRIPTION")
    return "".join(found[0].itertext()).strip() if found else ""


def _params(element: etree._Element) -> dict[str, str]:
    values: dict[str, str] = {}
    for param in _children(element, "PARAM"):
        name = param.get("name")
        if not name:
            raise ValueError(f"a PARAM of {element.get('name') or _local(element)} has no name")
        values[name] = param.get("value", "")
    return values


def _seconds(values: dict[str, str], key: str) -> int | None:
    text = values.get(key, "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"{key} {text!r} is not a whole number of seconds")
    return int(text)


def read_votable(data: bytes, source: str = "<string>") -> JobDescription:
    """Parse an OPUS VOTable job description; any fault raises JDLError naming ``source``."""
    return parse_description(data, source, _read)


def _read(root: etree._Element) -> JobDescription:
    if _local(root) != "VOTABLE" or etree.QName(root).namespace not in (None, VOTABLE_NS):
        raise ValueError(f"the root element must be <VOTABLE> in namespace {VOTABLE_NS}")
    resources = _children(root, "RESOURCE")
    if len(resources) != 1:
        raise ValueError(f"expected one RESOURCE (the job type), found {len(resources)}")
    resource = resources[0]
    name = resource.get("name") or resource.get("ID") or ""
    if not name:
        raise ValueError("the RESOURCE has no name (the job type name)")
    groups = {g.get("name"): g for g in _children(resource, "GROUP")}
    unknown = set(groups) - {"InputParams", "Used", "Generated"}
    if unknown:
        raise ValueError(
            f"unknown GROUP {sorted(map(str, unknown))[0]!r} "
            "(expected InputParams, Used, Generated)"
        )
    attributes = _params(resource)
    inputs = groups.get("InputParams")
    return JobDescription(
        name=name,
        description=_description(resource),
        version=attributes.get("version", ""),
        parameters=tuple(_parameter(p) for p in _children(inputs, "PARAM"))
        if inputs is not None
        else (),
        results=tuple(_result(g) for g in _subgroups(groups.get("Generated"))),
        used=tuple(_used(g) for g in _subgroups(groups.get("Used"))),
        execution_duration=_seconds(attributes, "executionDuration"),
        max_execution_duration=_seconds(attributes, "maxExecutionDuration"),
        quote=_seconds(attributes, "quote"),
        destruction=_seconds(attributes, "destruction"),
        options={k[len(_OPTION) :]: v for k, v in attributes.items() if k.startswith(_OPTION)},
        info={k: attributes[k] for k in INFO if attributes.get(k)},
    )


def _subgroups(group: etree._Element | None) -> list[etree._Element]:
    return [] if group is None else _children(group, "GROUP")


def _parameter(param: etree._Element) -> ParameterSpec:
    name = param.get("name") or ""
    datatype = param.get("datatype", "char")
    if datatype not in _TYPES:
        raise ValueError(
            f"parameter {name}: unknown datatype {datatype!r} (use one of {', '.join(_TYPES)})"
        )
    type_ = _TYPES[datatype]
    if param.get("xtype") == "application/octet-stream":
        type_ = FILE
    values = _children(param, "VALUES")
    bounds: dict[str, str | None] = {"MIN": None, "MAX": None}
    choices: list[str] = []
    for element in values[0] if values else ():
        tag = _local(element)
        if tag in bounds:
            bounds[tag] = element.get("value")
        elif tag == "OPTION":
            value = element.get("value")
            if value is None:
                raise ValueError(f"parameter {name}: an OPTION has no value")
            choices.append(value)
    default = param.get("value")
    return ParameterSpec(
        name=name,
        type=type_,
        required=param.get("type") != "no_query",
        # OPUS writes value="" for a parameter without default.
        default=default if default else None,
        description=_description(param),
        min=bounds["MIN"],
        max=bounds["MAX"],
        choices=tuple(choices),
        unit=param.get("unit", ""),
        ucd=param.get("ucd", ""),
    )


def _result(group: etree._Element) -> ResultSpec:
    rid = group.get("name") or ""
    values = _params(group)
    return ResultSpec(
        id=rid,
        mime_type=values.get("content_type") or "text/plain",
        default=values.get("default", ""),
        description=_description(group),
        required=_boolean(values.get("required"), f"result {rid}"),
        role=values.get("role", ""),
    )


def _used(group: etree._Element) -> UsedSpec:
    values = _params(group)
    return UsedSpec(
        name=group.get("name") or "",
        ref=group.get("ref", ""),
        description=_description(group),
        **{key: values[key] for key in _USED_FIELDS if key in values},
    )


def write_votable(jd: JobDescription) -> bytes:
    """Serialise ``jd`` in the format that read_votable reads."""
    root = etree.Element(_tag("VOTABLE"), nsmap={None: VOTABLE_NS}, version="1.3")
    resource = _add(
        root, "RESOURCE", ID=jd.name, name=jd.name, type="meta", utype="voprov:ActivityDescription"
    )
    _text(resource, jd.description)
    for key, utype in INFO.items():
        if key in jd.info:
            _char(resource, key, jd.info[key], utype)
    if jd.version:
        _char(resource, "version", jd.version, "voprov:ActivityDescription.version")
    durations: tuple[tuple[str, int | None, str | None], ...] = (
        ("executionDuration", jd.execution_duration, "uws:Job.executionDuration"),
        ("maxExecutionDuration", jd.max_execution_duration, None),
        ("quote", jd.quote, "uws:Job.quote"),
        ("destruction", jd.destruction, None),
    )
    for key, seconds, meaning in durations:
        if seconds is not None:
            _add(resource, "PARAM", name=key, value=str(seconds), datatype="int", utype=meaning)
    for key, value in jd.options.items():
        _char(resource, _OPTION + key, value)
    inputs = _add(resource, "GROUP", name="InputParams")
    for spec in jd.parameters:
        param = _add(
            inputs,
            "PARAM",
            ID=spec.name,
            name=spec.name,
            datatype=_DATATYPES[spec.type],
            arraysize="*" if _DATATYPES[spec.type] == "char" else None,
            xtype="application/octet-stream" if spec.type == FILE else None,
            value=spec.default,
            unit=spec.unit or None,
            ucd=spec.ucd or None,
            type=None if spec.required else "no_query",
        )
        _text(param, spec.description)
        if spec.min is not None or spec.max is not None or spec.choices:
            values = _add(param, "VALUES")
            if spec.min is not None:
                _add(values, "MIN", value=spec.min)
            if spec.max is not None:
                _add(values, "MAX", value=spec.max)
            for choice in spec.choices:
                _add(values, "OPTION", value=choice)
    used = _add(resource, "GROUP", name="Used")
    for entity in jd.used:
        group = _add(
            used, "GROUP", name=entity.name, ref=entity.ref or None, utype="voprov:UsedDescription"
        )
        _text(group, entity.description)
        for key in _USED_FIELDS:
            _char(group, key, getattr(entity, key))
    generated = _add(resource, "GROUP", name="Generated")
    for result in jd.results:
        group = _add(generated, "GROUP", name=result.id, utype="voprov:WasGeneratedBy")
        _text(group, result.description)
        _char(group, "role", result.role)
        _char(group, "multiplicity", "*" if is_pattern(result.default) else "1")
        _char(group, "default", result.default, "voprov:Entity.id")
        _char(group, "content_type", result.mime_type, "voprov:EntityDescription.content_type")
        if result.required:
            _char(group, "required", "true")
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def _tag(name: str) -> str:
    return f"{{{VOTABLE_NS}}}{name}"


def _add(parent: etree._Element, tag: str, **attributes: str | None) -> etree._Element:
    element = etree.SubElement(parent, _tag(tag))
    for key, value in attributes.items():
        if value is not None:
            element.set(key, value)
    return element


def _text(parent: etree._Element, text: str) -> None:
    if text:
        _add(parent, "DESCRIPTION").text = text


def _char(parent: etree._Element, name: str, value: str, utype: str | None = None) -> None:
    _add(parent, "PARAM", name=name, value=value, arraysize="*", datatype="char", utype=utype)
