"""Provenance documents as PROV-JSON, PROV-XML, PROV-N (the prov library's serialisers) and an
SVG graph drawn by Graphviz's ``dot`` (run without a shell, with a timeout, two at a time)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from dataclasses import dataclass

from prov.model import (
    ProvActivity,
    ProvAgent,
    ProvBundle,
    ProvDocument,
    ProvElement,
    ProvRelation,
)

from ..errors import InvalidValue, ServiceUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Format:
    name: str  # the ``format`` value, and the prov library's serialiser for text formats
    media_type: str
    aliases: tuple[str, ...]


FORMATS = (
    Format("json", "application/json", ("prov-json", "application/prov+json")),
    Format("xml", "application/xml", ("prov-xml", "application/prov+xml", "text/xml")),
    Format("provn", "text/provenance-notation", ("prov-n", "text/prov-n")),
    Format("svg", "image/svg+xml", ("prov-svg", "graph")),
)
BY_NAME = {key: f for f in FORMATS for key in (f.name, f.media_type, *f.aliases)}
#: What content negotiation offers, the default (PROV-JSON) first.
OFFERS = [f.media_type for f in FORMATS] + [a for f in FORMATS for a in f.aliases if "/" in a]

#: Seconds ``dot`` may take; most records drawn (a bigger graph is cut, and says so).
DOT_TIMEOUT = 10.0
MAX_NODES = 300
_DOT_RUNS = threading.BoundedSemaphore(2)


def parse_format(parameter: str, value: str) -> Format:
    found = BY_NAME.get(value.strip().lower())
    if found is None:
        names = ", ".join(f.name for f in FORMATS)
        raise InvalidValue(parameter, f"one of {names} (or their media types)", value)
    return found


def render(doc: ProvDocument, fmt: Format) -> bytes:
    if fmt.name == "svg":
        return svg(doc)
    return str(doc.serialize(format=fmt.name)).encode("utf-8")


def svg(doc: ProvDocument) -> bytes:
    """The graph of ``doc`` as SVG. ServiceUnavailable when Graphviz cannot draw it now."""
    dot = shutil.which("dot")
    if dot is None:
        raise ServiceUnavailable(
            "the provenance graph needs Graphviz's dot, which is not "
            "installed on this server: ask for format=json, xml or provn"
        )
    if not _DOT_RUNS.acquire(blocking=False):
        raise ServiceUnavailable("the server is drawing other provenance graphs: try again", 2)
    try:
        done = subprocess.run(
            [dot, "-Tsvg"],
            input=to_dot(doc).encode("utf-8"),
            capture_output=True,
            timeout=DOT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        log.warning("dot took more than %s s: graph not drawn", DOT_TIMEOUT)
        raise ServiceUnavailable("drawing the provenance graph took too long") from None
    finally:
        _DOT_RUNS.release()
    if done.returncode != 0:
        log.warning("dot failed (%d): %s", done.returncode, done.stderr[:500])
        raise ServiceUnavailable("Graphviz failed to draw the provenance graph")
    return done.stdout


# -- the graph, as DOT text written here: every label is escaped by ``quote`` ------------

#: Shapes and colours of the PROV specification's diagrams.
STYLE = {
    "entity": 'shape=ellipse style=filled fillcolor="#fffc87"',
    "activity": 'shape=box style=filled fillcolor="#9fb1fc"',
    "agent": 'shape=house style=filled fillcolor="#fed37f"',
}


def quote(text: str, limit: int = 60) -> str:
    """``text`` as a DOT string: control characters dropped, quotes and backslashes escaped,
    cut to ``limit`` characters (whatever a job or its script wrote, it stays one label)."""
    clean = "".join(c for c in text if c.isprintable())
    if len(clean) > limit:
        clean = clean[: limit - 1] + "…"
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _kind(record: ProvElement) -> str:
    if isinstance(record, ProvActivity):
        return "activity"
    return "agent" if isinstance(record, ProvAgent) else "entity"


def _label(record: ProvElement) -> str:
    """A parameter as ``name = value``, else the record's label, else its id's end."""
    values = {str(key): value for key, value in record.attributes}
    if "prov:value" in values and "voprov:name" in values:
        return f"{values['voprov:name']} = {values['prov:value']}"
    if "prov:label" in values:
        return str(values["prov:label"])
    return str(record.identifier).rsplit("/", 2)[-1]


def _relation_label(record: ProvRelation) -> str:
    """The relation's kind, with its role if it has one (``used (input)``)."""
    roles = [str(value) for key, value in record.attributes if str(key) == "prov:role"]
    kind = record.get_type().localpart
    return f"{kind} ({', '.join(roles)})" if roles else kind


def to_dot(doc: ProvDocument) -> str:
    """The DOT text of ``doc``: its elements as nodes, its relations as edges, a bundle as a
    cluster; at most MAX_NODES nodes."""
    nodes: dict[str, str] = {}
    lines = [
        "digraph provenance {",
        "rankdir=BT",
        'node [fontname="sans-serif" fontsize=10]',
        'edge [fontname="sans-serif" fontsize=8]',
    ]
    left = [0]

    def node(identifier: str, record: ProvElement | None, out: list[str]) -> str | None:
        if identifier in nodes:
            return nodes[identifier]
        if len(nodes) >= MAX_NODES:
            left[0] += 1
            return None
        name = nodes[identifier] = f"n{len(nodes)}"
        if record is None:
            out.append(f"{name} [label={quote(identifier.rsplit('/', 2)[-1])} style=dashed]")
        else:
            out.append(f"{name} [label={quote(_label(record))} {STYLE[_kind(record)]}]")
        return name

    def draw(bundle: ProvBundle, out: list[str]) -> None:
        records = bundle.get_records()
        for record in records:
            if isinstance(record, ProvElement):
                node(str(record.identifier), record, out)
        for record in records:
            if isinstance(record, ProvRelation):
                ends = [str(v) for _, v in list(record.formal_attributes)[:2] if v is not None]
                if len(ends) == 2:
                    a, b = node(ends[0], None, out), node(ends[1], None, out)
                    if a and b:
                        out.append(f"{a} -> {b} [label={quote(_relation_label(record))}]")

    draw(doc, lines)
    for number, bundle in enumerate(doc.bundles):
        cluster = [
            f"subgraph cluster_{number} {{",
            f"label={quote(str(bundle.identifier).rsplit('/', 3)[-1])} style=dashed",
        ]
        draw(bundle, cluster)
        lines += [*cluster, "}"]
    if left[0]:
        lines.append(f'more [label="{left[0]} more records not drawn" shape=note]')
    lines.append("}")
    return "\n".join(lines) + "\n"
