"""Test kit: validate documents against the shipped UWS 1.1 schema, tell UWS XML from other XML."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    import xmlschema

UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
#: The schema shipped in the package (with its licence and attribution); UWS_XSD overrides it.
DEFAULT_XSD = Path(__file__).resolve().parent / "schemas/UWS-1.1.xsd"

_XML_TYPES = ("application/xml", "text/xml")
# A parser that never fetches anything and never expands entities.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def xsd_path() -> Path:
    return Path(os.environ.get("UWS_XSD") or DEFAULT_XSD)


@functools.cache
def _schema(path: Path) -> xmlschema.XMLSchema:
    import xmlschema  # the testing extra: only the test kit needs it

    if not path.is_file():
        raise FileNotFoundError(f"UWS schema not found at {path} (set UWS_XSD to its path)")
    return xmlschema.XMLSchema(str(path))


def schema() -> xmlschema.XMLSchema:
    """The UWS 1.1 schema, loaded once per path."""
    return _schema(xsd_path())


def parse(xml: bytes) -> etree._Element:
    """The root of ``xml``; AssertionError if it is not well-formed."""
    try:
        return etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise AssertionError(f"not well-formed XML: {exc}") from None


def validate(xml: bytes) -> None:
    """Raise AssertionError naming every fault's path and reason unless ``xml`` is valid UWS."""
    root = parse(xml)
    faults = [
        f"{error.path}: {error.reason}" for error in schema().iter_errors(etree.ElementTree(root))
    ]
    if faults:
        raise AssertionError("invalid UWS document:\n  " + "\n  ".join(faults))


def is_uws_xml(content_type: str, body: bytes) -> bool:
    """Whether ``body`` is an XML document whose root is in the UWS namespace."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in _XML_TYPES and not media.endswith("+xml"):
        return False
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        return False
    return etree.QName(root).namespace == UWS_NS
