"""Parameter value types: parsing one value of a declared type, and saying what was expected."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence

log = logging.getLogger(__name__)

STRING, INT, LONG, FLOAT, DOUBLE = "xs:string", "xs:int", "xs:long", "xs:float", "xs:double"
BOOLEAN, URI, FILE = "xs:boolean", "xs:anyURI", "file"
TYPES: tuple[str, ...] = (STRING, INT, LONG, FLOAT, DOUBLE, BOOLEAN, URI, FILE)
INTEGERS = frozenset({INT, LONG})
NUMERIC = frozenset({INT, LONG, FLOAT, DOUBLE})

# Strict forms rather than int()/float(): those accept " 5", "1_000", "inf" and "nan", and job
# scripts receive the value exactly as the client sent it.
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+\Z")
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# "yes"/"no" as the original server's job descriptions and clients write them.
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_BOUNDS = {INT: 2**31, LONG: 2**63}


def parse(type_: str, text: str) -> object:
    """Return ``text`` as a Python value of ``type_``; raise ValueError if it is not one."""
    # Job XML documents cannot carry these characters, and environment variables cannot hold NUL.
    if NOT_XML.search(text):
        raise ValueError("control character in value")
    if type_ in INTEGERS:
        if not _INTEGER.match(text):
            raise ValueError("not an integer")
        number = int(text)
        if not -_BOUNDS[type_] <= number < _BOUNDS[type_]:
            raise ValueError(f"out of range for {type_}")
        return number
    if type_ in NUMERIC:
        if not _DECIMAL.match(text):
            raise ValueError("not a number")
        real = float(text)
        if not math.isfinite(real):
            raise ValueError("not a finite number")
        return real
    if type_ == BOOLEAN:
        try:
            return _BOOLEANS[text.lower()]
        except KeyError:
            raise ValueError("not a boolean") from None
    if type_ == URI:
        if not _URI.match(text):
            raise ValueError("not a URI with a scheme")
        return text
    if type_ == FILE:
        if not text:
            raise ValueError("empty file name")
        return text
    if type_ == STRING:
        return text
    raise ValueError(f"unknown type {type_!r}")


def describe(
    type_: str, minimum: str | None = None, maximum: str | None = None, choices: Sequence[str] = ()
) -> str:
    """The expected form of a value in words, e.g. "an integer between 1 and 60"."""
    if choices:
        return "one of: " + ", ".join(choices)
    if type_ in NUMERIC:
        base = "an integer" if type_ in INTEGERS else "a number"
        if minimum is not None and maximum is not None:
            return f"{base} between {minimum} and {maximum}"
        if minimum is not None:
            return f"{base} >= {minimum}"
        if maximum is not None:
            return f"{base} <= {maximum}"
        return base
    return {
        BOOLEAN: "true or false (or yes or no, 1 or 0)",
        URI: "a URI with a scheme, such as https://example.org/data",
        FILE: "a non-empty file name",
    }.get(type_, "text without control characters other than tab and line ends")
